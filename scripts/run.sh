#!/usr/bin/env bash
# Runs the demo: bin/demo-upstream in the background and bin/gateway with
# configs/gateway.yaml (or $CONFIG) in front of it. Ctrl-C stops both; so
# does either of them exiting. `make run` builds the binaries and calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

config=${CONFIG:-configs/gateway.yaml}
upstreams=${UPSTREAM_LISTEN:-127.0.0.1:9001,127.0.0.1:9002}

for bin in bin/gateway bin/demo-upstream; do
	if [[ ! -x $bin ]]; then
		echo "run: $bin is missing; run 'make build' first" >&2
		exit 1
	fi
done

upstream_pid=
gateway_pid=

# shellcheck disable=SC2317 # called from the traps
stop() {
	local pid
	for pid in $gateway_pid $upstream_pid; do
		kill -TERM "$pid" 2>/dev/null || true
	done
}

# shellcheck disable=SC2317
cleanup() {
	stop
	# Both drain requests in flight; give them a bounded time to do so.
	local pid i
	for pid in $gateway_pid $upstream_pid; do
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap stop INT TERM

bin/demo-upstream -listen "$upstreams" &
upstream_pid=$!

# Wait (at most 10s) until every upstream address accepts connections.
IFS=, read -ra addrs <<<"$upstreams"
for addr in "${addrs[@]}"; do
	addr=${addr// /}
	host=${addr%:*} port=${addr##*:}
	for ((i = 0; ; i++)); do
		if timeout 1 bash -c "exec 3<>/dev/tcp/${host:-127.0.0.1}/$port" 2>/dev/null; then
			break
		fi
		if ((i >= 100)) || ! kill -0 "$upstream_pid" 2>/dev/null; then
			echo "run: demo-upstream does not answer on $addr" >&2
			exit 1
		fi
		sleep 0.1
	done
done

bin/gateway run -config "$config" &
gateway_pid=$!

# Until either exits or a signal arrives (the trap then stops both).
status=0
wait -n "$gateway_pid" "$upstream_pid" || status=$?
exit "$status"
