#!/usr/bin/env bash
# The project's checks: ./scripts/test.sh [pytest arguments]
#
#  1. .venv with the development tools (pip install -e '.[dev]'), reinstalled
#     only when pyproject.toml has changed since the last install;
#  2. Redis and RabbitMQ through ./start-server.sh (reused when they answer);
#  3. a virtual X display (Xvfb) for the Tk tests when DISPLAY is not set;
#  4. ruff check, ruff format --check, the generated gRPC code up to date,
#     then pytest, stopping at the first failure.
#
# Exits with pytest's status; "no tests collected" counts as a failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
VENV=$ROOT/.venv
PYTHON=${PYTHON:-python3}

die() {
	printf 'test.sh: %s\n' "$*" >&2
	exit 1
}

# Fail early, before the slow steps, when the X server is missing.
if [[ -z ${DISPLAY:-} ]] && ! command -v Xvfb >/dev/null 2>&1; then
	die "DISPLAY is not set and Xvfb is not installed: apt-get install xvfb"
fi

# --- 1. The virtual environment ----------------------------------------------

file_hash() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum <"$1" | cut -d ' ' -f 1
	else
		shasum -a 256 <"$1" | cut -d ' ' -f 1 # macOS
	fi
}

WANT=$(file_hash pyproject.toml)
DEV_STAMP=$VENV/.distchat-dev.stamp
# start-client.sh's stamp: the dev install includes the client.
CLIENT_STAMP=$VENV/.distchat-client.stamp

dev_ready() { [[ -f $DEV_STAMP && $(<"$DEV_STAMP") == "$WANT" && -x $VENV/bin/python ]]; }
venv_works() { [[ -x $VENV/bin/python ]] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1; }

if ! dev_ready; then
	# Same lock as start-client.sh: one setup of .venv at a time.
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$ROOT/.venv.lock"
		flock 9
	fi
	if ! dev_ready; then
		if [[ -e $VENV ]] && ! venv_works; then
			echo "The virtual environment in .venv is broken; recreating it."
			rm -rf "$VENV"
		fi
		if [[ ! -e $VENV ]]; then
			command -v "$PYTHON" >/dev/null 2>&1 ||
				die "$PYTHON not found: install Python 3.11 or newer (apt-get install python3 python3-venv)."
			"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
				die "distchat needs Python 3.11 or newer, but $PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'); set PYTHON=/path/to/python3.11 or newer."
			"$PYTHON" -m venv "$VENV" >/dev/null 2>&1 || {
				rm -rf "$VENV"
				die "could not create a virtual environment with $PYTHON; on Debian or Ubuntu install python3-venv."
			}
		fi
		echo "Installing distchat and its development tools into .venv ..."
		PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
			"$VENV/bin/python" -m pip install --quiet -e '.[dev]' ||
			die "pip install -e '.[dev]' failed (pip's messages are above)."
		echo "$WANT" >"$DEV_STAMP"
		echo "$WANT" >"$CLIENT_STAMP"
	fi
	exec 9>&-
fi

# --- 2. Redis and RabbitMQ ---------------------------------------------------

./start-server.sh start

# --- 3. A display for the Tk tests --------------------------------------------

XVFB_PID=""
XVFB_LOG=""
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [[ -n $XVFB_PID ]]; then
		kill "$XVFB_PID" 2>/dev/null || true
		wait "$XVFB_PID" 2>/dev/null || true
	fi
	if [[ -n $XVFB_LOG ]]; then rm -f "$XVFB_LOG"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_xvfb N: start Xvfb on display :N and wait (10 s at most) for its
# socket. Fails if Xvfb exits, e.g. when another run took :N meanwhile.
start_xvfb() {
	local i
	Xvfb ":$1" -screen 0 1280x1024x24 -nolisten tcp >"$XVFB_LOG" 2>&1 &
	XVFB_PID=$!
	for ((i = 0; i < 100; i++)); do
		[[ -S /tmp/.X11-unix/X$1 ]] && return 0
		if ! kill -0 "$XVFB_PID" 2>/dev/null; then
			XVFB_PID=""
			return 1
		fi
		sleep 0.1
	done
	die "Xvfb :$1 did not open its socket /tmp/.X11-unix/X$1 within 10 s"
}

if [[ -z ${DISPLAY:-} ]]; then
	XVFB_LOG=$(mktemp "${TMPDIR:-/tmp}/distchat-xvfb.XXXXXX")
	n=99
	for ((tries = 0; ; tries++)); do
		# Skip display numbers that an X server holds.
		while [[ -e /tmp/.X11-unix/X$n || -e /tmp/.X$n-lock ]]; do
			n=$((n + 1))
		done
		start_xvfb "$n" && break
		if ((tries == 4)); then
			cat "$XVFB_LOG" >&2
			die "Xvfb :$n exited at once (its messages are above)"
		fi
		n=$((n + 1))
	done
	export DISPLAY=:$n
	echo "Xvfb running on DISPLAY=$DISPLAY"
fi

# --- 4. The checks --------------------------------------------------------------

step() { # NAME COMMAND...
	local name=$1
	shift
	echo "==> $name"
	"$@" || die "$name failed"
}

step "ruff check" "$VENV/bin/ruff" check .
step "ruff format --check" "$VENV/bin/ruff" format --check .
step "generated gRPC code up to date" "$VENV/bin/python" scripts/gen_proto.py --check

echo "==> pytest"
status=0
"$VENV/bin/python" -m pytest "$@" || status=$?
if ((status == 5)); then
	echo "test.sh: pytest collected no tests; that counts as a failure." >&2
	exit 1
fi
exit "$status"
