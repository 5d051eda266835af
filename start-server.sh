#!/usr/bin/env bash
# Start, stop or report on the servers every distchat client shares:
# Redis (the name server) and RabbitMQ (groups and insults).
#
#   ./start-server.sh [start]   make both answer, reusing whatever already does
#   ./start-server.sh stop      stop what this script started, nothing else
#   ./start-server.sh status    say whether each answers and who started it
#   ./start-server.sh --cluster [start|stop|status]
#                               the same for a local cluster: three RabbitMQ
#                               nodes, a Redis primary and replica, three
#                               Sentinels (scripts/server-cluster.sh); ends by
#                               printing the --amqp-url and --redis-url to use.
#                               stop and status without --cluster cover it too.
#
# Where they are comes from CHAT_REDIS_URL (default redis://127.0.0.1:6379/0)
# and CHAT_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/%2F), the same
# variables the client reads.
#
# start, for each server that does not answer yet: with a running Docker
# engine, `docker compose up` (docker-compose.yml); otherwise the locally
# installed redis-server / rabbitmq-server, installed with apt-get first when
# missing and we are root on Debian or Ubuntu. Their data and logs go to
# .server-state/ in this folder (or DISTCHAT_STATE_DIR), with a record of
# what was started, which `stop` reads.
#
# A local RabbitMQ node gets a node name of its own (RABBITMQ_NODENAME,
# default distchat-PORT@localhost), so it never collides with a system node.
# RABBITMQ_NODENAME, RABBITMQ_DIST_PORT, RABBITMQ_MNESIA_BASE,
# RABBITMQ_LOG_BASE and RABBITMQ_CONFIG_FILE are honoured when set.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
STATE=${DISTCHAT_STATE_DIR:-$PWD/.server-state}
COMPOSE_PROJECT=distchat

# rabbitmq-server and rabbitmqctl live in /usr/sbin on Debian, which is not on
# a normal user's PATH.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

REDIS_URL=${CHAT_REDIS_URL:-redis://127.0.0.1:6379/0}
AMQP_URL=${CHAT_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}

# How long to wait for each server to answer after starting it, in seconds.
REDIS_WAIT=15
RABBITMQ_WAIT=90 # RabbitMQ takes several seconds to boot, more on a busy machine

say() { printf '%s\n' "$*"; }
die() {
	printf 'start-server.sh: %s\n' "$*" >&2
	exit 1
}

# ---------------------------------------------------------------------------
# Addresses

# parse_url URL DEFAULT_PORT: set URL_HOST and URL_PORT from
# scheme://[user[:password]@]host[:port][/path], host possibly [IPv6].
parse_url() {
	local rest=${1#*://}
	rest=${rest%%/*}  # drop /db or /vhost
	rest=${rest%%\?*} # and ?query
	rest=${rest##*@}  # and user:password@
	if [[ $rest == \[* ]]; then
		URL_HOST=${rest%%]*}
		URL_HOST=${URL_HOST#[}
		URL_PORT=${rest#*]}
	else
		URL_HOST=${rest%%:*}
		URL_PORT=${rest#"$URL_HOST"}
	fi
	URL_PORT=${URL_PORT#:}
	URL_HOST=${URL_HOST:-127.0.0.1}
	URL_PORT=${URL_PORT:-$2}
	local shown=$1 # the URL without user and password, for the message
	[[ $1 == *@* ]] && shown="${1%%://*}://***@${1##*@}"
	[[ $URL_PORT =~ ^[0-9]+$ ]] || die "cannot read a port number in '$shown'"
}

parse_url "$REDIS_URL" 6379
REDIS_HOST=$URL_HOST
REDIS_PORT=$URL_PORT
parse_url "$AMQP_URL" 5672
AMQP_HOST=$URL_HOST
AMQP_PORT=$URL_PORT

# host:port, with brackets around an IPv6 address.
addr() { if [[ $1 == *:* ]]; then say "[$1]:$2"; else say "$1:$2"; fi; }

# Is HOST this machine? Only then can this script start a server for it.
is_local_host() {
	local a
	case $1 in
	localhost | 127.* | ::1 | 0.0.0.0 | :: | "$(hostname 2>/dev/null || true)") return 0 ;;
	esac
	for a in $(hostname -I 2>/dev/null || true); do
		[[ $a == "$1" ]] && return 0
	done
	return 1
}

# The address to listen on for HOST: servers want an IP address, not a name.
bind_address() {
	local ip
	case $1 in
	localhost) say 127.0.0.1 ;;
	*[!0-9.]*)
		if [[ $1 == *:* ]]; then
			say "$1" # IPv6 literal
		else
			ip=$(getent ahostsv4 "$1" 2>/dev/null | awk 'NR == 1 { print $1 }' || true)
			say "${ip:-$1}"
		fi
		;;
	*) say "$1" ;;
	esac
}

# ---------------------------------------------------------------------------
# Does a server answer? Both use bash's /dev/tcp under `timeout`, so a port
# that accepts and then says nothing cannot hang us.

# Redis: PING must get +PONG (or -NOAUTH, from a Redis that wants a password:
# it is a Redis all the same).
redis_answers() {
	local reply
	# shellcheck disable=SC2016 # the inner bash expands $1 and $2
	reply=$(timeout 3 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "PING\r\n" >&3
		IFS= read -r line <&3 && printf "%s" "$line"' _ "$1" "$2" 2>/dev/null) || return 1
	[[ $reply == +PONG* || $reply == -NOAUTH* ]]
}

# RabbitMQ: send the AMQP 0-9-1 protocol header; a broker replies with a
# method frame (connection.start), whose first byte, the frame type, is 1.
amqp_answers() {
	# shellcheck disable=SC2016 # the inner bash expands $1, $2 and $'\x01'
	timeout 3 bash -c '
		exec 3<>"/dev/tcp/$1/$2" || exit 1
		printf "AMQP\x00\x00\x09\x01" >&3
		LC_ALL=C IFS= read -r -N 1 -d "" byte <&3 || exit 1
		[[ $byte == $'"'\\x01'"' ]]' _ "$1" "$2" 2>/dev/null
}

# answers redis|rabbitmq
answers() {
	case $1 in
	redis) redis_answers "$REDIS_HOST" "$REDIS_PORT" ;;
	rabbitmq) amqp_answers "$AMQP_HOST" "$AMQP_PORT" ;;
	esac
}

# Does anything at all accept connections on HOST PORT?
port_taken() {
	# shellcheck disable=SC2016 # the inner bash expands $1 and $2
	timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# ---------------------------------------------------------------------------
# Records of what this script started, in $STATE:
#   compose          services=<names started with docker compose>
#   redis.started    host, port, pidfile, log of a local redis-server
#   rabbitmq.started host, port, node, pidfile, log of a local RabbitMQ node
# Data and logs live beside them and are kept by `stop`.

record_get() { # FILE KEY
	[[ -f $STATE/$1 ]] || return 0
	sed -n "s/^$2=//p" "$STATE/$1" | head -n 1
}

# The pid in a pid file, if that process still runs.
live_pid() {
	local pid
	[[ -n $1 && -r $1 ]] || return 1
	pid=$(tr -dc 0-9 <"$1")
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && say "$pid"
}

# Did this script start SERVICE at its current address? Prints how.
started_here() {
	local service=$1 host port
	if [[ " $(record_get compose services) " == *" $service "* ]]; then
		say "docker compose"
		return 0
	fi
	[[ -f $STATE/$service.started ]] || return 1
	host=$(record_get "$service.started" host)
	port=$(record_get "$service.started" port)
	case $service in
	redis) [[ $host == "$REDIS_HOST" && $port == "$REDIS_PORT" ]] || return 1 ;;
	rabbitmq) [[ $host == "$AMQP_HOST" && $port == "$AMQP_PORT" ]] || return 1 ;;
	esac
	say "this script"
}

# ---------------------------------------------------------------------------
# Docker

docker_answers() {
	command -v docker >/dev/null 2>&1 && timeout 5 docker info >/dev/null 2>&1
}

# Sets COMPOSE to the compose command, or fails when there is none.
find_compose() {
	if docker compose version >/dev/null 2>&1; then
		COMPOSE=(docker compose)
	elif command -v docker-compose >/dev/null 2>&1; then
		COMPOSE=(docker-compose)
	else
		return 1
	fi
	COMPOSE+=(-p "$COMPOSE_PROJECT" -f docker-compose.yml)
}

compose_up() { # SERVICE...
	local wait=(--wait)
	# docker-compose 1.x has no --wait; the wait loop below covers it.
	if [[ ${COMPOSE[0]} == docker-compose && $(docker-compose version --short 2>/dev/null) == 1.* ]]; then
		wait=()
	fi
	DISTCHAT_REDIS_BIND=$(bind_address "$REDIS_HOST") DISTCHAT_REDIS_PORT=$REDIS_PORT \
		DISTCHAT_AMQP_BIND=$(bind_address "$AMQP_HOST") DISTCHAT_AMQP_PORT=$AMQP_PORT \
		"${COMPOSE[@]}" up -d "${wait[@]}" "$@" ||
		die "'${COMPOSE[*]} up' failed (its output is above)"
	local services
	services=$(record_get compose services)
	mkdir -p "$STATE"
	# shellcheck disable=SC2086 # $services is a space-separated list
	say "services=$(printf '%s\n' $services "$@" | sort -u | xargs)" >"$STATE/compose"
}

# ---------------------------------------------------------------------------
# Local servers

is_debian_root() {
	[[ $(id -u) == 0 && -f /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1
}

apt_install() { # PACKAGE
	mkdir -p "$STATE"
	local log=$STATE/apt.log
	export DEBIAN_FRONTEND=noninteractive
	# Update the package lists first when they do not know the package (a
	# fresh machine or container), and retry once after an update when the
	# lists are stale.
	if ! apt-cache show "$1" >/dev/null 2>&1; then
		apt-get update -q >>"$log" 2>&1 || true
	fi
	if ! apt-get install -y -q "$1" </dev/null >>"$log" 2>&1; then
		apt-get update -q >>"$log" 2>&1 &&
			apt-get install -y -q "$1" </dev/null >>"$log" 2>&1
	fi
}

# need_binary BINARY APT_PACKAGE BREW_FORMULA NAME HOST PORT
need_binary() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if is_debian_root; then
		say "$4: $1 is not installed; installing the Debian package $2 with apt-get ..."
		apt_install "$2" || die "apt-get install $2 failed; its output is in $STATE/apt.log"
		hash -r
		command -v "$1" >/dev/null 2>&1 || die "apt-get installed $2 but there is still no $1"
		return 0
	fi
	die "$4 does not answer at $(addr "$5" "$6") and $1 is not installed: install it (apt-get install $2, or brew install $3) or install and start Docker, then run $0 again."
}

start_redis_here() {
	local bind dir=$STATE/redis old
	need_binary redis-server redis-server redis Redis "$REDIS_HOST" "$REDIS_PORT"
	# Installing the package may have started the system's Redis.
	answers redis && return 0
	old=$(record_get redis.started port)
	if [[ -n $old && $old != "$REDIS_PORT" ]] && live_pid "$(record_get redis.started pidfile)" >/dev/null; then
		die "this script already runs a Redis at $(addr "$(record_get redis.started host)" "$old"); stop it with '$0 stop' first"
	fi
	port_taken "$REDIS_HOST" "$REDIS_PORT" &&
		die "something that is not Redis already listens on $(addr "$REDIS_HOST" "$REDIS_PORT"): choose another port in CHAT_REDIS_URL"
	bind=$(bind_address "$REDIS_HOST")
	mkdir -p "$dir"
	rm -f "$dir/redis.pid"
	redis-server --daemonize yes --bind "$bind" --port "$REDIS_PORT" \
		--dir "$dir" --appendonly yes --logfile "$dir/redis.log" \
		--pidfile "$dir/redis.pid" ||
		die "redis-server did not start; see $dir/redis.log"
	printf '%s\n' "host=$REDIS_HOST" "port=$REDIS_PORT" "pidfile=$dir/redis.pid" \
		"log=$dir/redis.log" >"$STATE/redis.started"
}

start_rabbitmq_here() {
	local bind base=$STATE/rabbitmq node mnesia logs conf pidfile old server
	need_binary rabbitmq-server rabbitmq-server rabbitmq RabbitMQ "$AMQP_HOST" "$AMQP_PORT"
	answers rabbitmq && return 0
	server=$(command -v rabbitmq-server)
	# Debian's rabbitmq-server refuses to run as anyone but root or rabbitmq.
	if [[ $(id -u) != 0 ]] && grep -q 'Only root or rabbitmq' "$server" 2>/dev/null; then
		die "RabbitMQ does not answer at $(addr "$AMQP_HOST" "$AMQP_PORT"); Debian's rabbitmq-server runs only as root: start the system one (sudo systemctl start rabbitmq-server), run this script with sudo, or install and start Docker."
	fi
	old=$(record_get rabbitmq.started port)
	if [[ -n $old && $old != "$AMQP_PORT" ]] && live_pid "$(record_get rabbitmq.started pidfile)" >/dev/null; then
		die "this script already runs a RabbitMQ at $(addr "$(record_get rabbitmq.started host)" "$old"); stop it with '$0 stop' first"
	fi

	port_taken "$AMQP_HOST" "$AMQP_PORT" &&
		die "something that is not RabbitMQ already listens on $(addr "$AMQP_HOST" "$AMQP_PORT"): choose another port in CHAT_AMQP_URL"
	bind=$(bind_address "$AMQP_HOST")
	node=${RABBITMQ_NODENAME:-distchat-$AMQP_PORT@localhost}
	mnesia=${RABBITMQ_MNESIA_BASE:-$base/mnesia}
	logs=${RABBITMQ_LOG_BASE:-$base/log}
	pidfile=${RABBITMQ_PID_FILE:-$mnesia/$node.pid}
	mkdir -p "$base" "$mnesia" "$logs"
	# A configuration file of our own: the system's may pin the listener to
	# another port (Debian's often says listeners.tcp.* = 5672), and the
	# listener is set below from CHAT_AMQP_URL. No plugins either: the
	# management plugin would want port 15672, which a system node may hold.
	conf=${RABBITMQ_CONFIG_FILE:-$base/rabbitmq.conf}
	[[ -f $base/rabbitmq.conf ]] ||
		say "# distchat's local node: the listener comes from RABBITMQ_NODE_IP_ADDRESS/PORT." >"$base/rabbitmq.conf"
	say '[].' >"$base/enabled_plugins"
	if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then
		# Debian's wrapper runs the node as the rabbitmq user.
		chown rabbitmq:rabbitmq "$mnesia" "$logs"
		chmod 644 "$base/rabbitmq.conf" "$base/enabled_plugins"
		# shellcheck disable=SC2016 # $0 and $1 are expanded by su's shell
		if command -v su >/dev/null 2>&1 &&
			! su rabbitmq -s /bin/sh -c 'test -w "$0" && test -w "$1"' "$mnesia" "$logs"; then
			die "the rabbitmq user cannot write to $mnesia or $logs (is a parent folder private?); set RABBITMQ_MNESIA_BASE and RABBITMQ_LOG_BASE to folders it can reach"
		fi
	fi
	rm -f "$pidfile"

	RABBITMQ_NODENAME=$node RABBITMQ_NODE_IP_ADDRESS=$bind RABBITMQ_NODE_PORT=$AMQP_PORT \
		RABBITMQ_MNESIA_BASE=$mnesia RABBITMQ_LOG_BASE=$logs RABBITMQ_PID_FILE=$pidfile \
		RABBITMQ_CONFIG_FILE=$conf RABBITMQ_ENABLED_PLUGINS_FILE=$base/enabled_plugins \
		RABBITMQ_ADVANCED_CONFIG_FILE=${RABBITMQ_ADVANCED_CONFIG_FILE:-$base/advanced.config} \
		rabbitmq-server -detached >>"$base/startup.log" 2>&1 ||
		die "rabbitmq-server did not start; see $base/startup.log and $logs/$node.log"
	printf '%s\n' "host=$AMQP_HOST" "port=$AMQP_PORT" "node=$node" "pidfile=$pidfile" \
		"log=$logs/$node.log" >"$STATE/rabbitmq.started"
}

# If this script started SERVICE and its process is still there (maybe still
# booting), do not start a second one.
still_starting() {
	[[ -n $(started_here "$1" || true) ]] || return 1
	live_pid "$(record_get "$1.started" pidfile)" >/dev/null
}

# wait_for SERVICE NAME HOST PORT SECONDS: poll until it answers, or fail
# saying where to look.
wait_for() {
	local service=$1 name=$2 host=$3 port=$4 deadline=$((SECONDS + $5)) pidfile="" log why
	answers "$service" && return 0
	say "waiting for $name at $(addr "$host" "$port") ..."
	if [[ $(started_here "$service" || true) == "this script" ]]; then
		pidfile=$(record_get "$service.started" pidfile)
	fi
	while ! answers "$service"; do
		why=""
		# A local server that has already exited will not come up: say so now.
		if [[ -n $pidfile && -s $pidfile ]] && ! live_pid "$pidfile" >/dev/null; then
			why="exited while starting"
		elif ((SECONDS >= deadline)); then
			why="did not come up within $5 s"
		fi
		if [[ -n $why ]]; then
			if [[ -z $pidfile && $(started_here "$service" || true) == "docker compose" ]]; then
				log="'${COMPOSE[*]} logs $service'"
			else
				log=$(record_get "$service.started" log)
			fi
			die "$name at $(addr "$host" "$port") $why; its log: ${log:-unknown}"
		fi
		sleep 1
	done
}

# ---------------------------------------------------------------------------
# Commands

do_start() {
	local missing=() service how
	declare -A label

	for service in redis rabbitmq; do
		if answers "$service"; then
			how=$(started_here "$service" || true)
			label[$service]="already running${how:+, started by $how}"
		elif [[ $service == redis ]] && ! is_local_host "$REDIS_HOST"; then
			die "Redis does not answer at $(addr "$REDIS_HOST" "$REDIS_PORT"), which is not this machine: start it there, or point CHAT_REDIS_URL at this machine"
		elif [[ $service == rabbitmq ]] && ! is_local_host "$AMQP_HOST"; then
			die "RabbitMQ does not answer at $(addr "$AMQP_HOST" "$AMQP_PORT"), which is not this machine: start it there, or point CHAT_AMQP_URL at this machine"
		else
			missing+=("$service")
		fi
	done

	if ((${#missing[@]})); then
		if docker_answers && find_compose; then
			compose_up "${missing[@]}"
			for service in "${missing[@]}"; do label[$service]="started here with docker compose"; done
		else
			for service in "${missing[@]}"; do
				if still_starting "$service"; then
					label[$service]="started here"
					continue
				fi
				case $service in
				redis) start_redis_here ;;
				rabbitmq) start_rabbitmq_here ;;
				esac
				if [[ -n $(started_here "$service" || true) ]]; then
					label[$service]="started here"
				else
					label[$service]="started by its package install"
				fi
			done
		fi
		for service in "${missing[@]}"; do
			case $service in
			redis) wait_for redis Redis "$REDIS_HOST" "$REDIS_PORT" "$REDIS_WAIT" ;;
			rabbitmq) wait_for rabbitmq RabbitMQ "$AMQP_HOST" "$AMQP_PORT" "$RABBITMQ_WAIT" ;;
			esac
		done
	fi

	printf '%-8s ready at %s (%s)\n' Redis "$(addr "$REDIS_HOST" "$REDIS_PORT")" "${label[redis]}"
	printf '%-8s ready at %s (%s)\n' RabbitMQ "$(addr "$AMQP_HOST" "$AMQP_PORT")" "${label[rabbitmq]}"
}

# Wait up to 15 s for PID to exit; then SIGTERM it if it still is NAME's.
wait_exit() { # PID NAME
	local i
	for ((i = 0; i < 30; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.5
	done
	if [[ $(ps -o comm= -p "$1" 2>/dev/null || true) == *"$2"* ]]; then
		kill "$1" 2>/dev/null || true
	fi
}

stop_redis() {
	local host port pidfile pid
	host=$(record_get redis.started host)
	port=$(record_get redis.started port)
	pidfile=$(record_get redis.started pidfile)
	if ! pid=$(live_pid "$pidfile"); then
		say "Redis    at $(addr "$host" "$port") was started by this script but is no longer running"
		return 0
	fi
	if ! { command -v redis-cli >/dev/null 2>&1 &&
		timeout 10 redis-cli -h "$host" -p "$port" shutdown nosave >/dev/null 2>&1; }; then
		kill "$pid" 2>/dev/null || true
	fi
	wait_exit "$pid" redis
	say "Redis    at $(addr "$host" "$port") stopped (it was started by this script)"
}

stop_rabbitmq() {
	local host port node pidfile pid
	host=$(record_get rabbitmq.started host)
	port=$(record_get rabbitmq.started port)
	node=$(record_get rabbitmq.started node)
	pidfile=$(record_get rabbitmq.started pidfile)
	if ! pid=$(live_pid "$pidfile"); then
		say "RabbitMQ at $(addr "$host" "$port") was started by this script but is no longer running"
		return 0
	fi
	# With the pid file, rabbitmqctl waits until the node's process is gone.
	if ! timeout 60 rabbitmqctl -n "$node" stop "$pidfile" >/dev/null 2>&1; then
		kill "$pid" 2>/dev/null || true
	fi
	wait_exit "$pid" beam
	say "RabbitMQ at $(addr "$host" "$port") stopped (node $node, started by this script)"
}

do_stop() {
	local services=""
	services=$(record_get compose services)
	if [[ -n $services ]]; then
		if docker_answers && find_compose; then
			"${COMPOSE[@]}" down
			say "Stopped the docker compose services ($services); their data volumes are kept"
		else
			die "docker compose started $services here, but Docker does not answer now: run 'docker compose -p $COMPOSE_PROJECT down' once it does"
		fi
	fi

	if [[ -f $STATE/redis.started ]]; then
		stop_redis
	elif [[ $services != *redis* ]]; then
		say "Redis    at $(addr "$REDIS_HOST" "$REDIS_PORT") left alone (not started by this script)"
	fi
	if [[ -f $STATE/rabbitmq.started ]]; then
		stop_rabbitmq
	elif [[ $services != *rabbitmq* ]]; then
		say "RabbitMQ at $(addr "$AMQP_HOST" "$AMQP_PORT") left alone (not started by this script)"
	fi
	# Forget what was started; the data and logs under $STATE stay.
	rm -f "$STATE/compose" "$STATE/redis.started" "$STATE/rabbitmq.started"
}

do_status() {
	local service name host port how other rc=0
	for service in redis rabbitmq; do
		if [[ $service == redis ]]; then
			name=Redis host=$REDIS_HOST port=$REDIS_PORT
		else
			name=RabbitMQ host=$AMQP_HOST port=$AMQP_PORT
		fi
		how=$(started_here "$service" || true)
		if answers "$service"; then
			printf '%-8s at %s answers (%s)\n' "$name" "$(addr "$host" "$port")" \
				"$(if [[ -n $how ]]; then say "started by $how"; else say "not started by this script"; fi)"
		else
			printf '%-8s at %s does not answer%s\n' "$name" "$(addr "$host" "$port")" \
				"${how:+ (started by $how)}"
			rc=3
		fi
		# A server this script started at another address (an older CHAT_*_URL).
		if [[ -z $how && -f $STATE/$service.started ]]; then
			other=$(addr "$(record_get "$service.started" host)" "$(record_get "$service.started" port)")
			if live_pid "$(record_get "$service.started" pidfile)" >/dev/null; then
				printf '%-8s this script also runs one at %s\n' "" "$other"
			fi
		fi
	done
	return "$rc"
}

# shellcheck source=scripts/server-cluster.sh
. scripts/server-cluster.sh

COMMAND="" CLUSTER_ONLY=""
for arg in "$@"; do
	case $arg in
	--cluster) CLUSTER_ONLY=1 ;;
	*) [[ -z $COMMAND ]] && COMMAND=$arg ;;
	esac
done

case ${COMMAND:-start} in
start) if [[ -n $CLUSTER_ONLY ]]; then cluster_start; else do_start; fi ;;
stop)
	[[ -n $CLUSTER_ONLY ]] || do_stop
	cluster_stop
	;;
status)
	rc=0
	if [[ -z $CLUSTER_ONLY ]]; then do_status || rc=$?; fi
	if [[ -n $CLUSTER_ONLY || -f $CLUSTER/ports ]]; then cluster_status || rc=$?; fi
	exit "$rc"
	;;
-h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
*) die "unknown command '$COMMAND' (use start, stop or status, with or without --cluster)" ;;
esac
