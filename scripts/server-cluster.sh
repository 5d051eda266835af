# shellcheck shell=bash
# The --cluster part of start-server.sh (sourced by it; uses its helpers):
# a three-node RabbitMQ cluster and a Redis primary with one replica watched
# by three Sentinels, all as local processes on this machine.
#
# Everything lives in $STATE/cluster: one folder per server, and `ports`, the
# record of the ports, node names and Erlang cookie chosen at the first start
# (free ports, unless DISTCHAT_CLUSTER_AMQP_PORTS, _DIST_PORTS, _REDIS_PORTS
# and _SENTINEL_PORTS name them). Starting again starts only what is not
# running: a node that was killed comes back and rejoins the cluster, a Redis
# that was killed comes back as a replica of whichever server Sentinel says
# is the primary now.

CLUSTER=$STATE/cluster
CLUSTER_HOST=${DISTCHAT_CLUSTER_HOST:-127.0.0.1}
CLUSTER_NODES=3
SENTINEL_SERVICE=distchat
#: Sentinel declares the primary down after this long without an answer.
SENTINEL_DOWN_AFTER_MS=${DISTCHAT_SENTINEL_DOWN_AFTER_MS:-1000}
SENTINEL_FAILOVER_TIMEOUT_MS=${DISTCHAT_SENTINEL_FAILOVER_TIMEOUT_MS:-3000}

cluster_get() { record_get cluster/ports "$1"; }

# free_ports N: N distinct ports nothing listens on, chosen by the kernel.
free_ports() {
	python3 - "$1" <<-'EOF'
		import socket, sys
		held = []
		for _ in range(int(sys.argv[1])):
		    s = socket.socket()
		    s.bind(("127.0.0.1", 0))
		    held.append(s)
		print(" ".join(str(s.getsockname()[1]) for s in held))
	EOF
}

# pick VARIABLE COUNT: the ports named in $VARIABLE, or COUNT free ones.
pick_ports() {
	local given=${!1:-}
	given=${given//,/ }
	if [[ -n $given ]]; then
		# shellcheck disable=SC2086 # a list of numbers
		set -- $given
		say "$*"
	else
		free_ports "$2"
	fi
}

# Choose ports, node names and a cookie once; later runs reuse them.
cluster_plan() {
	local amqp dist redis sentinel i cookie prefix
	mkdir -p "$CLUSTER"
	[[ -f $CLUSTER/ports ]] && return 0
	read -r -a amqp <<<"$(pick_ports DISTCHAT_CLUSTER_AMQP_PORTS 3)"
	read -r -a dist <<<"$(pick_ports DISTCHAT_CLUSTER_DIST_PORTS 3)"
	read -r -a redis <<<"$(pick_ports DISTCHAT_CLUSTER_REDIS_PORTS 2)"
	read -r -a sentinel <<<"$(pick_ports DISTCHAT_CLUSTER_SENTINEL_PORTS 3)"
	((${#amqp[@]} == 3 && ${#dist[@]} == 3 && ${#redis[@]} == 2 && ${#sentinel[@]} == 3)) ||
		die "a cluster needs 3 AMQP ports, 3 dist ports, 2 Redis ports and 3 Sentinel ports"
	cookie=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	prefix=${DISTCHAT_CLUSTER_NODE_PREFIX:-distchat-c${amqp[0]}}
	{
		printf '%s\n' "host=$CLUSTER_HOST" "cookie=$cookie"
		for i in 1 2 3; do
			printf '%s\n' "node$i=$prefix-$i@localhost" "amqp$i=${amqp[i - 1]}" \
				"dist$i=${dist[i - 1]}" "sentinel$i=${sentinel[i - 1]}"
		done
		printf '%s\n' "redis1=${redis[0]}" "redis2=${redis[1]}"
	} >"$CLUSTER/ports.new"
	chmod 600 "$CLUSTER/ports.new"
	mv "$CLUSTER/ports.new" "$CLUSTER/ports"
}

ctl() { # NODE ARGS...: rabbitmqctl against one of our nodes
	local node=$1
	shift
	timeout 120 rabbitmqctl --erlang-cookie "$(cluster_get cookie)" -n "$node" "$@"
}

# ---------------------------------------------------------------------------
# RabbitMQ nodes

node_pidfile() { say "$CLUSTER/rabbit$1/mnesia/$(cluster_get "node$1").pid"; }

start_node() { # I
	local i=$1 dir=$CLUSTER/rabbit$1 node
	node=$(cluster_get "node$i")
	mkdir -p "$dir/mnesia" "$dir/log"
	[[ -f $CLUSTER/rabbitmq.conf ]] ||
		say "# distchat's local cluster: listeners come from RABBITMQ_NODE_IP_ADDRESS/PORT." >"$CLUSTER/rabbitmq.conf"
	say '[].' >"$CLUSTER/enabled_plugins" # no plugins: no fixed management ports
	# Debian's rabbitmq-server refuses to run as anyone but root or rabbitmq.
	if [[ $(id -u) != 0 ]] && grep -q 'Only root or rabbitmq' "$(command -v rabbitmq-server)" 2>/dev/null; then
		die "Debian's rabbitmq-server runs only as root: run '$0 --cluster' with sudo, or install and start Docker."
	fi
	if [[ $(id -u) == 0 ]] && id rabbitmq >/dev/null 2>&1; then
		chown -R rabbitmq:rabbitmq "$dir"
		chmod 644 "$CLUSTER/rabbitmq.conf" "$CLUSTER/enabled_plugins"
		# shellcheck disable=SC2016 # $0 is expanded by su's shell
		if command -v su >/dev/null 2>&1 && ! su rabbitmq -s /bin/sh -c 'test -w "$0"' "$dir/mnesia"; then
			die "the rabbitmq user cannot write to $dir (is a parent folder private?); set DISTCHAT_STATE_DIR to a folder it can reach"
		fi
	fi
	rm -f "$(node_pidfile "$i")"
	# The cookie goes on the command line: Debian's wrapper switches to the
	# rabbitmq user, whose HOME (and so .erlang.cookie) is not ours to choose.
	RABBITMQ_NODENAME=$node RABBITMQ_NODE_IP_ADDRESS=$(bind_address "$CLUSTER_HOST") \
		RABBITMQ_NODE_PORT=$(cluster_get "amqp$i") RABBITMQ_DIST_PORT=$(cluster_get "dist$i") \
		RABBITMQ_MNESIA_BASE=$dir/mnesia RABBITMQ_LOG_BASE=$dir/log \
		RABBITMQ_PID_FILE="$(node_pidfile "$i")" RABBITMQ_CONFIG_FILE=$CLUSTER/rabbitmq.conf \
		RABBITMQ_ENABLED_PLUGINS_FILE=$CLUSTER/enabled_plugins \
		RABBITMQ_ADVANCED_CONFIG_FILE=$CLUSTER/advanced.config \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-setcookie $(cluster_get cookie)" \
		rabbitmq-server -detached >>"$dir/startup.log" 2>&1 ||
		die "RabbitMQ node $node did not start; see $dir/startup.log and $dir/log/$node.log"
}

node_answers() { amqp_answers "$CLUSTER_HOST" "$(cluster_get "amqp$1")"; }

# The disc nodes node I counts in its cluster, one per line.
cluster_members() {
	ctl "$(cluster_get "node$1")" cluster_status --formatter json 2>/dev/null |
		python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin).get("disk_nodes", [])))'
}

join_nodes() {
	local i seed members node
	seed=""
	for i in 1 2 3; do
		if node_answers "$i"; then
			seed=$i
			break
		fi
	done
	[[ -n $seed ]] || die "no RabbitMQ node of the cluster answers"
	members=$(cluster_members "$seed")
	for i in 1 2 3; do
		node=$(cluster_get "node$i")
		[[ $i == "$seed" ]] && continue
		grep -qx "$node" <<<"$members" && continue
		say "joining $node to the cluster of $(cluster_get "node$seed") ..."
		ctl "$node" stop_app >/dev/null
		ctl "$node" join_cluster "$(cluster_get "node$seed")" >/dev/null ||
			die "$node could not join the cluster; see $CLUSTER/rabbit$i/log"
		ctl "$node" start_app >/dev/null
	done
	# Streams need the stream feature flag, which an upgraded node may lack.
	ctl "$(cluster_get "node$seed")" enable_feature_flag all >/dev/null
}

# ---------------------------------------------------------------------------
# Redis and Sentinel

redis_dir() { say "$CLUSTER/redis$1"; }

# The primary's port as the Sentinels see it now, or nothing.
sentinel_primary_port() {
	local i reply
	for i in 1 2 3; do
		reply=$(timeout 3 redis-cli -h "$CLUSTER_HOST" -p "$(cluster_get "sentinel$i")" \
			sentinel get-master-addr-by-name "$SENTINEL_SERVICE" 2>/dev/null | tail -n 1) || continue
		[[ $reply =~ ^[0-9]+$ ]] && {
			say "$reply"
			return 0
		}
	done
}

start_redis_node() { # I
	local i=$1 dir port primary args=()
	dir=$(redis_dir "$i")
	port=$(cluster_get "redis$i")
	mkdir -p "$dir"
	primary=$(sentinel_primary_port || true)
	# A server that comes back is a replica of the primary Sentinel knows;
	# on the first start, server 1 is the primary.
	[[ -n $primary ]] || primary=$(cluster_get redis1)
	[[ $primary != "$port" ]] && args=(--replicaof "$CLUSTER_HOST" "$primary")
	rm -f "$dir/redis.pid"
	redis-server --daemonize yes --bind "$(bind_address "$CLUSTER_HOST")" --port "$port" \
		--dir "$dir" --appendonly yes --save '' --logfile "$dir/redis.log" \
		--pidfile "$dir/redis.pid" "${args[@]}" ||
		die "redis-server did not start; see $dir/redis.log"
}

start_sentinel() { # I
	local i=$1 dir=$CLUSTER/sentinel$1 conf
	conf=$dir/sentinel.conf
	mkdir -p "$dir"
	# Sentinel rewrites its file with what it learns (the current primary, the
	# other Sentinels): written once, then kept.
	if [[ ! -f $conf ]]; then
		cat >"$conf" <<-EOF
			port $(cluster_get "sentinel$i")
			bind $(bind_address "$CLUSTER_HOST")
			dir $dir
			sentinel monitor $SENTINEL_SERVICE $CLUSTER_HOST $(cluster_get redis1) 2
			sentinel down-after-milliseconds $SENTINEL_SERVICE $SENTINEL_DOWN_AFTER_MS
			sentinel failover-timeout $SENTINEL_SERVICE $SENTINEL_FAILOVER_TIMEOUT_MS
			sentinel parallel-syncs $SENTINEL_SERVICE 1
		EOF
	fi
	rm -f "$dir/sentinel.pid"
	redis-server "$conf" --sentinel --daemonize yes --pidfile "$dir/sentinel.pid" \
		--logfile "$dir/sentinel.log" ||
		die "Sentinel $i did not start; see $dir/sentinel.log"
}

# ---------------------------------------------------------------------------
# Commands

cluster_wait() { # WHAT SECONDS TEST ARGS...
	local what=$1 limit=$2 deadline=$((SECONDS + $2))
	shift 2
	until "$@"; do
		((SECONDS < deadline)) || die "$what did not answer within $limit s; logs are in $CLUSTER"
		sleep 1
	done
}

cluster_redis_answers() { redis_answers "$CLUSTER_HOST" "$(cluster_get "$1")"; }

cluster_urls() {
	local i amqp="" sentinels=""
	for i in 1 2 3; do
		amqp+="${amqp:+,}amqp://guest:guest@$(addr "$CLUSTER_HOST" "$(cluster_get "amqp$i")")/%2F"
		sentinels+="${sentinels:+,}$(addr "$CLUSTER_HOST" "$(cluster_get "sentinel$i")")"
	done
	CLUSTER_AMQP_URL=$amqp
	CLUSTER_REDIS_URL="redis+sentinel://$sentinels/$SENTINEL_SERVICE/0"
}

CLUSTER_SERVICES=(rabbit1 rabbit2 rabbit3 redis-primary redis-replica sentinel1 sentinel2 sentinel3)

# With a Docker engine: the compose profile "cluster", on its fixed ports.
cluster_start_compose() {
	local i
	"${COMPOSE[@]}" --profile cluster up -d --wait "${CLUSTER_SERVICES[@]}" ||
		die "'${COMPOSE[*]} --profile cluster up' failed (its output is above)"
	"${COMPOSE[@]}" exec -T rabbit1 rabbitmqctl enable_feature_flag all >/dev/null
	mkdir -p "$CLUSTER"
	say "services=${CLUSTER_SERVICES[*]}" >"$CLUSTER/compose"
	CLUSTER_AMQP_URL="" CLUSTER_REDIS_URL=""
	for i in 1 2 3; do
		CLUSTER_AMQP_URL+="${CLUSTER_AMQP_URL:+,}amqp://guest:guest@127.0.0.1:570$i/%2F"
	done
	CLUSTER_REDIS_URL="redis+sentinel://127.0.0.1:26401,127.0.0.1:26402,127.0.0.1:26403/$SENTINEL_SERVICE/0"
	say "Started with docker compose (profile cluster): ${CLUSTER_SERVICES[*]}"
	cluster_print_urls
}

cluster_print_urls() {
	printf '%s=%s\n' CHAT_AMQP_URL "$CLUSTER_AMQP_URL" CHAT_REDIS_URL "$CLUSTER_REDIS_URL" >"$CLUSTER/client.env"
	say ""
	say "Give clients (or source $CLUSTER/client.env):"
	say "  --amqp-url $CLUSTER_AMQP_URL"
	say "  --redis-url $CLUSTER_REDIS_URL"
}

cluster_start() {
	local i started=()
	if docker_answers && find_compose; then
		cluster_start_compose
		return
	fi
	need_binary rabbitmq-server rabbitmq-server rabbitmq RabbitMQ "$CLUSTER_HOST" 5672
	need_binary redis-server redis-server redis Redis "$CLUSTER_HOST" 6379
	cluster_plan
	for i in 1 2 3; do
		if node_answers "$i" || live_pid "$(node_pidfile "$i")" >/dev/null; then
			continue
		fi
		port_taken "$CLUSTER_HOST" "$(cluster_get "amqp$i")" &&
			die "port $(cluster_get "amqp$i") is taken by something else: remove $CLUSTER/ports to choose new ports"
		start_node "$i"
		started+=("RabbitMQ node $i")
	done
	for i in 1 2; do
		cluster_redis_answers "redis$i" && continue
		start_redis_node "$i"
		started+=("Redis $i")
	done
	for i in 1 2 3; do
		cluster_redis_answers "sentinel$i" && continue
		start_sentinel "$i"
		started+=("Sentinel $i")
	done
	for i in 1 2 3; do
		cluster_wait "RabbitMQ node $(cluster_get "node$i")" "$RABBITMQ_WAIT" node_answers "$i"
	done
	for i in 1 2; do cluster_wait "Redis $i" "$REDIS_WAIT" cluster_redis_answers "redis$i"; done
	for i in 1 2 3; do cluster_wait "Sentinel $i" "$REDIS_WAIT" cluster_redis_answers "sentinel$i"; done
	join_nodes
	cluster_urls
	if ((${#started[@]})); then
		say "Started: $(printf '%s, ' "${started[@]}" | sed 's/, $//')"
	fi
	cluster_status || true
	cluster_print_urls
}

cluster_status() {
	local i rc=0 running primary
	if [[ -f $CLUSTER/compose ]] && docker_answers && find_compose; then
		"${COMPOSE[@]}" --profile cluster ps "${CLUSTER_SERVICES[@]}"
		return 0
	fi
	if [[ ! -f $CLUSTER/ports ]]; then
		say "Cluster  none started by this script"
		return 0
	fi
	running=$(ctl "$(cluster_get node1)" cluster_status --formatter json 2>/dev/null |
		python3 -c 'import json, sys; print(" ".join(json.load(sys.stdin).get("running_nodes", [])))' 2>/dev/null || true)
	for i in 1 2 3; do
		if node_answers "$i"; then
			printf 'RabbitMQ node %s at %s answers\n' "$(cluster_get "node$i")" "$(addr "$CLUSTER_HOST" "$(cluster_get "amqp$i")")"
		else
			printf 'RabbitMQ node %s at %s does not answer\n' "$(cluster_get "node$i")" "$(addr "$CLUSTER_HOST" "$(cluster_get "amqp$i")")"
			rc=3
		fi
	done
	[[ -n $running ]] && say "RabbitMQ cluster running nodes: $running"
	primary=$(sentinel_primary_port || true)
	for i in 1 2; do
		local role=replica
		[[ $(cluster_get "redis$i") == "$primary" ]] && role=primary
		if cluster_redis_answers "redis$i"; then
			printf 'Redis    %s at %s answers\n' "$role" "$(addr "$CLUSTER_HOST" "$(cluster_get "redis$i")")"
		else
			printf 'Redis    at %s does not answer\n' "$(addr "$CLUSTER_HOST" "$(cluster_get "redis$i")")"
			rc=3
		fi
	done
	for i in 1 2 3; do
		if cluster_redis_answers "sentinel$i"; then
			printf 'Sentinel at %s answers\n' "$(addr "$CLUSTER_HOST" "$(cluster_get "sentinel$i")")"
		else
			printf 'Sentinel at %s does not answer\n' "$(addr "$CLUSTER_HOST" "$(cluster_get "sentinel$i")")"
			rc=3
		fi
	done
	return "$rc"
}

cluster_stop() {
	local i pid pids=()
	if [[ -f $CLUSTER/compose ]]; then
		if docker_answers && find_compose; then
			"${COMPOSE[@]}" --profile cluster stop "${CLUSTER_SERVICES[@]}"
			rm -f "$CLUSTER/compose"
			say "Cluster  stopped (docker compose, profile cluster; data volumes kept)"
		else
			die "docker compose started the cluster here, but Docker does not answer now"
		fi
	fi
	[[ -f $CLUSTER/ports ]] || return 0
	# Sentinels first, so that they do not fail over while Redis stops.
	for i in 1 2 3; do
		if pid=$(live_pid "$CLUSTER/sentinel$i/sentinel.pid"); then
			kill "$pid" 2>/dev/null || true
			pids+=("$pid:redis")
		fi
	done
	for i in 1 2; do
		if pid=$(live_pid "$(redis_dir "$i")/redis.pid"); then
			kill "$pid" 2>/dev/null || true
			pids+=("$pid:redis")
		fi
	done
	for i in 1 2 3; do
		pid=$(live_pid "$(node_pidfile "$i")") || continue
		# With the pid file, rabbitmqctl waits until the node's process is gone.
		(ctl "$(cluster_get "node$i")" stop "$(node_pidfile "$i")" >/dev/null 2>&1 || kill "$pid" 2>/dev/null) &
		pids+=("$pid:beam")
	done
	wait
	for pid in "${pids[@]}"; do wait_exit "${pid%%:*}" "${pid#*:}"; done
	say "Cluster  stopped (3 RabbitMQ nodes, 2 Redis, 3 Sentinels; data kept in $CLUSTER)"
}
