#!/usr/bin/env bash
# Writes cmd/gateway/default.pgo: the CPU profile that `go build` of the
# gateway uses for profile-guided optimization (docs/performance.md).
#
# The gateway (built without a profile) and the demo upstream run on
# loopback with configs/bench.yaml as in scripts/loadbench.sh (the gateway
# with GOMAXPROCS=1 on CPU 0, the upstream and wrk on CPU 1), and wrk
# loads the proxy path the performance targets measure: a plain proxied
# route and one with a rate limit, a breaker and a fallback cache, at
# 13 B, 1 KiB and 64 KiB. The gateway's profile of each load (through its
# admin /debug/pprof/profile) is merged into one, weighted by how long
# each ran. A profile of your own production traffic, taken the same way,
# serves as well (docs/performance.md).
#
# Environment:
#   PGO_SECONDS  seconds of each load, default 8
#   PGO_OUT      where to write the profile, default cmd/gateway/default.pgo
#
# It installs wrk with apt-get when it is missing, listens on loopback only
# (18080, 18443, 19001, 19901), and stops what it started when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
me=pgo-profile
# shellcheck source=scripts/benchlib.sh
. scripts/benchlib.sh

secs=${PGO_SECONDS:-8}
out=${PGO_OUT:-cmd/gateway/default.pgo}
gateway=127.0.0.1:18080 # as in configs/bench.yaml
admin=127.0.0.1:19901
upstream=127.0.0.1:19001

need wrk wrk
need taskset util-linux
scratch

echo "pgo-profile: building without a profile" >&2
go build -pgo=off -trimpath -o "$tmp/gateway" ./cmd/gateway
go build -trimpath -o "$tmp/demo-upstream" ./cmd/demo-upstream

proxy_cpu=0 load_cpu=1
(($(nproc) < 2)) && load_cpu=0
GOMAXPROCS=1 taskset -c "$load_cpu" "$tmp/demo-upstream" -listen "$upstream" >"$tmp/upstream.log" 2>&1 &
pids+=($!)
GOMAXPROCS=1 taskset -c "$proxy_cpu" "$tmp/gateway" run -config configs/bench.yaml >"$tmp/gateway.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fsS -o /dev/null "http://$gateway/bytes/13" 2>/dev/null && break
	sleep 0.1
done
curl -fsS -o /dev/null "http://$gateway/bytes/13" || {
	cat "$tmp/gateway.log" >&2
	exit 1
}

n=0
# load URL [wrk arguments...]: profile the gateway while wrk loads URL.
load() {
	local url=$1
	shift
	n=$((n + 1))
	curl -fsS -o "$tmp/$n.pprof" "http://$admin/debug/pprof/profile?seconds=$secs" &
	local prof=$!
	taskset -c "$load_cpu" wrk -t1 -c50 -d"${secs}s" "$@" "$url" >"$tmp/wrk$n.txt"
	wait "$prof"
	if grep -q "Non-2xx\|Socket errors" "$tmp/wrk$n.txt"; then
		echo "pgo-profile: errors loading $url:" >&2
		cat "$tmp/wrk$n.txt" >&2
		exit 1
	fi
	echo "pgo-profile: $url ${2:-} $(awk '/Requests\/sec/ {print $2 " req/s"}' "$tmp/wrk$n.txt")" >&2
}

for size in 13 1024 65536; do
	load "http://$gateway/bytes/$size"
	load "http://$gateway/bytes/$size" -H "Host: full.bench"
done

go tool pprof -proto "$tmp"/*.pprof >"$out" 2>/dev/null
echo "pgo-profile: wrote $out ($(wc -c <"$out") bytes from $n profiles)" >&2
