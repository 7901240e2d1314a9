#!/usr/bin/env bash
# Tests `scripts/services.sh stop` without touching any real service: fake
# services (sleep processes named like the real programs) and pid files in
# a private state directory. Run by make test.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "services_test: $*" >&2; exit 1; }

# A fake etcd this script "started", with its data directory.
(exec -a etcd sleep 60) &
pids+=($!)
echo $! >"$dir/etcd.pid"
mkdir "$dir/etcd.data-dir"
echo "$dir/etcd.data-dir" >"$dir/etcd.data"
# A fake pebble this script "started".
(exec -a pebble sleep 60) &
pids+=($!)
echo $! >"$dir/pebble.pid"
# A pid file whose process is not redis-server: never killed.
sleep 60 &
pids+=($!)
echo $! >"$dir/redis.pid"

out=$(SERVICES_DIR=$dir SERVICES_WAIT=5 scripts/services.sh stop)
echo "$out"
kill -0 "${pids[0]}" 2>/dev/null && fail "the etcd it started still runs"
[[ -e $dir/etcd.data-dir ]] && fail "etcd's data directory is left"
kill -0 "${pids[1]}" 2>/dev/null && fail "the pebble it started still runs"
kill -0 "${pids[2]}" 2>/dev/null || fail "a process that is not redis-server was stopped"
grep -q '^etcd .*stopped' <<<"$out" || fail "no line says etcd stopped"
grep -q '^pebble .*stopped' <<<"$out" || fail "no line says pebble stopped"
grep -q '^nats .*not started by this script' <<<"$out" || fail "nats, not started, not reported as left alone"
echo "services_test: ok"
