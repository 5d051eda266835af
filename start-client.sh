#!/usr/bin/env bash
# Run the chat client: ./start-client.sh [chat-client options], e.g.
#   ./start-client.sh --config ./alice.yaml
#
# The first run sets up a virtual environment in .venv beside this script
# and installs the client into it; later runs start the client at once.
# pyproject.toml is hashed into a stamp file, so a change to it (new
# dependencies) reinstalls on the next run. The client runs in the caller's
# current directory, so relative paths in the options work.
#
# PYTHON picks the interpreter for the first setup (default python3, 3.11+).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=$ROOT/.venv
STAMP=$VENV/.distchat-client.stamp
PYTHON=${PYTHON:-python3}

die() {
	printf 'start-client.sh: %s\n' "$*" >&2
	exit 1
}

file_hash() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum <"$1" | cut -d ' ' -f 1
	else
		shasum -a 256 <"$1" | cut -d ' ' -f 1 # macOS
	fi
}

WANT=$(file_hash "$ROOT/pyproject.toml")

# Fast path: installed for this pyproject.toml. -x follows the venv's python
# symlink, so a venv whose interpreter has gone away is not taken here.
ready() {
	[[ -f $STAMP && $(<"$STAMP") == "$WANT" && -x $VENV/bin/python && -x $VENV/bin/chat-client ]]
}
if ready; then
	exec "$VENV/bin/chat-client" "$@"
fi

# --- Setup -----------------------------------------------------------------

# One setup at a time, should two terminals start a client together.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$ROOT/.venv.lock"
	flock 9
	if ready; then # the other one has just finished it
		exec 9>&-
		exec "$VENV/bin/chat-client" "$@"
	fi
fi

venv_works() {
	[[ -x $VENV/bin/python ]] && "$VENV/bin/python" -m pip --version >/dev/null 2>&1
}

if [[ -e $VENV ]] && ! venv_works; then
	echo "The virtual environment in .venv is broken; recreating it."
	rm -rf "$VENV"
fi

if [[ ! -e $VENV ]]; then
	command -v "$PYTHON" >/dev/null 2>&1 ||
		die "$PYTHON not found: install Python 3.11 or newer (apt-get install python3 python3-venv, or brew install python@3.12)."
	"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
		die "distchat needs Python 3.11 or newer, but $PYTHON is $("$PYTHON" -c 'import platform; print(platform.python_version())'): install a newer one (e.g. brew install python@3.12), or set PYTHON=/path/to/python3.11."
	echo "Setting up the client in .venv (first run only) ..."
	"$PYTHON" -m venv "$VENV" >/dev/null 2>&1 || {
		rm -rf "$VENV"
		die "could not create a virtual environment with $PYTHON; on Debian or Ubuntu install python3-venv (apt-get install python3-venv)."
	}
else
	echo "Updating the client in .venv (pyproject.toml changed) ..."
fi

# pip stays quiet unless something fails.
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
	"$VENV/bin/python" -m pip install --quiet -e "$ROOT" ||
	die "installing the client into .venv failed (pip's messages are above)."
echo "$WANT" >"$STAMP"

exec 9>&- # do not hand the setup lock to the client
exec "$VENV/bin/chat-client" "$@"
