#!/usr/bin/env bash
# Loopback load benchmark: the gateway against nginx, both one core in front
# of the same demo upstream.
#
#   CPU 0: the proxy under test (gateway with GOMAXPROCS=1, or one nginx worker)
#   CPU 1: wrk and bin/demo-upstream
#
# For each body size (13 B, 1 KiB, 64 KiB) wrk runs against the upstream
# directly, then through the gateway (configs/bench.yaml), then through
# nginx (scripts/nginx-bench.conf). For the proxies it reads the CPU time
# they used during the run from /proc/PID/stat and their peak RSS from
# /proc/PID/status, and it prints requests per CPU-second of each and the
# gateway/nginx ratio of those. Since back-to-back runs on a shared machine
# drift by more than the differences measured, the ratio to nginx and the
# costs of the gateway's features (rate limit, breaker and cache, access
# log, trace context) are also measured with both sides loaded at once on
# CPU 0, each by its own wrk (see duo below).
#
# Environment:
#   BENCH_DURATION     length of each measured run (wrk -d), default 10s
#   BENCH_WARMUP       unmeasured run before each, default 2s ("0" for none)
#   BENCH_CONNECTIONS  open connections (wrk -c), default 50
#   BENCH_TARGETS      which of "direct gateway nginx bare" to run, default
#                      all; "bare" is cmd/bare-proxy, one fasthttp.Server in
#                      front of one HostClient, loaded at once with the
#                      gateway's whole pipeline (full.bench) at each size
#   BENCH_PAIRS        paired runs per feature cost, default 4
#   BENCH_PAIR_DURATION  length of each of those runs, default 5s
#   BENCH_PACE_CONNS   connections a side in the paced runs, default 100
#   BENCH_PACE_MS      how long each of those waits after an answer, in
#                      milliseconds, default 16 (twice that at 64 KiB):
#                      about half the core for both on this project's
#                      machine; raise it when the paced rows say "at the
#                      core's limit" to measure at a load the host keeps
#                      up with
#   BENCH_OUT          a directory to keep wrk's reports and the servers' logs in
#   BENCH_TLS_ONLY     "keepalive", "handshake" or both: only those HTTPS
#                      rows (the gateway's HTTPS listener and nginx's at
#                      once), then the gateway's resumption share; nothing
#                      else runs
#   BENCH_RATIOS_ONLY  "1": only the at-once ratios the README reports,
#                      gateway/nginx and the whole pipeline/bare proxy at
#                      each size (BENCH_TARGETS still picks nginx, bare),
#                      and the gateway against its twin, the same build,
#                      which every run measures: the floor of what the
#                      method tells apart
#   BENCH_BASELINE     a git revision: its gateway is built and runs as the
#                      second gateway, and instead of the feature costs the
#                      paired runs compare this tree's build against it, on
#                      the plain route and on the whole pipeline (rate
#                      limit, breaker and fallback cache), the latter at
#                      full load and paced as in the bare-proxy rows;
#                      nothing else runs
#
# It installs wrk and nginx with apt-get when they are missing, listens on
# loopback only (18080, 18081, 19001, 19051, 19901), and stops everything it
# started when it ends or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
me=loadbench
# shellcheck source=scripts/benchlib.sh
. scripts/benchlib.sh

duration=${BENCH_DURATION:-10s}
warmup=${BENCH_WARMUP:-2s}
conns=${BENCH_CONNECTIONS:-50}
targets=${BENCH_TARGETS:-direct gateway nginx bare}
tls_only=${BENCH_TLS_ONLY:-}
[[ -n $tls_only ]] && targets="gateway nginx"
ratios_only=${BENCH_RATIOS_ONLY:-}
sizes=(13 1024 65536)

upstream_addr=127.0.0.1:19001
gateway_addr=127.0.0.1:18080 # as in configs/bench.yaml
grpc_addr=127.0.0.1:19051    # as in configs/bench.yaml
gateway_admin=127.0.0.1:19901
twin_addr=127.0.0.1:18082 # the second gateway of the feature costs
twin_admin=127.0.0.1:19902
nginx_addr=127.0.0.1:18081
bare_addr=127.0.0.1:18083
tls_addr=127.0.0.1:18443       # the gateway's HTTPS listener (configs/bench.yaml)
twin_tls_addr=127.0.0.1:18444
nginx_tls_addr=127.0.0.1:18446
cert=$PWD/configs/testdata/tls/TEST-ONLY-localhost.crt
key=$PWD/configs/testdata/tls/TEST-ONLY-localhost.key

proxy_cpu=0
load_cpu=1
if (($(nproc) < 2)); then
	echo "loadbench: only one CPU: everything shares it, numbers are rough" >&2
	load_cpu=0
fi
clk_tck=$(getconf CLK_TCK)

wants() { [[ " $targets " == *" $1 "* ]]; }

# seconds DURATION: a wrk duration ("10s", "2m", "1h", "30") in seconds.
seconds() {
	local d=$1
	case $d in
	*h) echo $((${d%h} * 3600)) ;;
	*m) echo $((${d%m} * 60)) ;;
	*s) echo "${d%s}" ;;
	*) echo "$d" ;;
	esac
}
pairs=${BENCH_PAIRS:-4}
pair_duration=${BENCH_PAIR_DURATION:-5s}
run_limit=$(($(seconds "$duration") + $(seconds "$pair_duration") + 30))
warmup_limit=$(($(seconds "$warmup") + 30))

need wrk wrk
need taskset util-linux
wants nginx && need nginx nginx
wants nginx && need openssl openssl # s_time, for full handshakes
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

scratch
# keep_scratch keeps wrk's reports and the servers' logs for BENCH_OUT.
# shellcheck disable=SC2317 # called when the script ends
keep_scratch() {
	if [[ -n ${BENCH_OUT:-} ]]; then
		mkdir -p "$BENCH_OUT"
		cp "$tmp"/*.txt "$tmp"/*.log "$tmp"/nginx/*.log "$BENCH_OUT"/ 2>/dev/null || true
	fi
}

# check NAME ADDR: one request through ADDR must return the upstream's 13 bytes.
check() {
	local got
	got=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code} %{size_download}' "http://$2/bytes/13") || true
	if [[ $got != "200 13" ]]; then
		echo "loadbench: $1 on $2 answered '$got' to GET /bytes/13, want '200 13'" >&2
		exit 1
	fi
}

for addr in "$upstream_addr" "$grpc_addr" "$gateway_addr" "$gateway_admin" "$nginx_addr" "$bare_addr" \
	"$tls_addr" "$twin_tls_addr" "$nginx_tls_addr"; do
	if answers "$addr"; then
		echo "loadbench: $addr is already in use; stop what listens there" >&2
		exit 1
	fi
done

echo "loadbench: building" >&2
go build -trimpath -o bin/demo-upstream ./cmd/demo-upstream
wants gateway && go build -trimpath -o bin/gateway ./cmd/gateway
twin_bin=bin/gateway
if [[ -n ${BENCH_BASELINE:-} ]]; then
	echo "loadbench: building the baseline $BENCH_BASELINE" >&2
	git worktree add -q --detach "$tmp/baseline" "$BENCH_BASELINE"
	(cd "$tmp/baseline" && go build -trimpath -o "$tmp/gateway-baseline" ./cmd/gateway)
	git worktree remove --force "$tmp/baseline"
	twin_bin=$tmp/gateway-baseline
fi
wants gateway && go build -trimpath -o bin/demo-grpc ./cmd/demo-grpc
wants bare && go build -trimpath -o bin/bare-proxy ./cmd/bare-proxy
# A token of the demo provider that configs/bench.yaml trusts, valid for
# the whole run.
wants gateway && go build -trimpath -o bin/demo-token ./cmd/demo-token
wants gateway && bench_token=$(bin/demo-token -ttl 24h)

if wants gateway; then # the gRPC server behind configs/bench.yaml's grpc route
	GOMAXPROCS=1 taskset -c "$load_cpu" bin/demo-grpc -listen "$grpc_addr" >"$tmp/demo-grpc.log" 2>&1 &
	pids+=($!)
	wait_port "$grpc_addr" $! demo-grpc "$tmp/demo-grpc.log"
fi

GOMAXPROCS=1 taskset -c "$load_cpu" bin/demo-upstream -listen "$upstream_addr" \
	>"$tmp/upstream.log" 2>&1 &
pids+=($!)
wait_port "$upstream_addr" $! demo-upstream "$tmp/upstream.log"
check demo-upstream "$upstream_addr"

gateway_pid=
if wants gateway; then
	GOMAXPROCS=1 taskset -c "$proxy_cpu" bin/gateway run -config configs/bench.yaml \
		>"$tmp/gateway.log" 2>&1 &
	gateway_pid=$!
	pids+=("$gateway_pid")
	wait_port "$gateway_addr" "$gateway_pid" gateway "$tmp/gateway.log"
	check gateway "$gateway_addr"

	# Its twin: the same binary and routes on other ports, for the
	# feature costs (the baseline's own routes with BENCH_BASELINE: its
	# gateway may not know later settings).
	twin_src=configs/bench.yaml
	if [[ -n ${BENCH_BASELINE:-} ]]; then
		twin_src=$tmp/bench-baseline.yaml
		git show "$BENCH_BASELINE:configs/bench.yaml" >"$twin_src"
	fi
	sed -e "s|\"$gateway_addr\"|\"$twin_addr\"|" -e "s|\"$gateway_admin\"|\"$twin_admin\"|" \
		-e "s|\"$tls_addr\"|\"$twin_tls_addr\"|" -e "s| testdata/tls/| $PWD/configs/testdata/tls/|" \
		-e "s|\.\./bridge/|$PWD/bridge/|" "$twin_src" >"$tmp/bench-twin.yaml"
	GOMAXPROCS=1 taskset -c "$proxy_cpu" "$twin_bin" run -config "$tmp/bench-twin.yaml" \
		>"$tmp/twin.log" 2>&1 &
	twin_pid=$!
	pids+=("$twin_pid")
	wait_port "$twin_addr" "$twin_pid" "second gateway" "$tmp/twin.log"
	check "second gateway" "$twin_addr"
fi

bare_pid=
if wants bare; then
	GOMAXPROCS=1 taskset -c "$proxy_cpu" bin/bare-proxy -listen "$bare_addr" -upstream "$upstream_addr" \
		>"$tmp/bare.log" 2>&1 &
	bare_pid=$!
	pids+=("$bare_pid")
	wait_port "$bare_addr" "$bare_pid" bare-proxy "$tmp/bare.log"
	check bare-proxy "$bare_addr"
fi

nginx_pid=
if wants nginx; then
	mkdir -p "$tmp/nginx"
	sed -e "s|@DIR@|$tmp/nginx|g" -e "s|@LISTEN@|$nginx_addr|g" -e "s|@TLS_LISTEN@|$nginx_tls_addr|g" \
		-e "s|@CERT@|$cert|g" -e "s|@KEY@|$key|g" \
		-e "s|@UPSTREAM@|$upstream_addr|g" scripts/nginx-bench.conf >"$tmp/nginx/nginx.conf"
	nginx_args=(-p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log")
	if ! "$nginx_bin" -t -q "${nginx_args[@]}" 2>"$tmp/nginx/check.log"; then
		cat "$tmp/nginx/check.log" >&2
		exit 1
	fi
	taskset -c "$proxy_cpu" "$nginx_bin" "${nginx_args[@]}" >"$tmp/nginx.log" 2>&1 &
	nginx_pid=$!
	pids+=("$nginx_pid")
	wait_port "$nginx_addr" "$nginx_pid" nginx "$tmp/nginx.log"
	check nginx "$nginx_addr"
fi

# procs PID: PID and its children (nginx's master and worker).
procs() {
	echo "$1"
	pgrep -P "$1" || true
}

# cpu_ticks PID...: user+system CPU time of the processes, all threads, in ticks.
cpu_ticks() {
	local pid stat rest total=0 f
	for pid in "$@"; do
		stat=$(<"/proc/$pid/stat")
		rest=${stat##*) } # after the command name, which may hold spaces
		read -ra f <<<"$rest"
		total=$((total + f[11] + f[12])) # fields 14 and 15: utime, stime
	done
	echo "$total"
}

# peak_rss_kib PID...: the sum of the processes' VmHWM.
peak_rss_kib() {
	local pid total=0 kib
	for pid in "$@"; do
		kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")
		total=$((total + kib))
	done
	echo "$total"
}

# ms LATENCY: a wrk latency ("812.00us", "1.20ms", "1.05s") in milliseconds.
ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
		printf "%.2f", n
	}'
}

size_name() {
	case $1 in
	13) echo "13 B" ;;
	1024) echo "1 KiB" ;;
	65536) echo "64 KiB" ;;
	/*) echo "grpc" ;;
	*) echo "$1 B" ;;
	esac
}

rows=()
declare -A per_cpu

bench() { # bench TARGET ADDR SIZE PID|"" [HOST] [HEADER]
	local target=$1 addr=$2 size=$3 pid=$4 host=${5:-} extra=${6:-} url out ps=() p t0 t1 hdr=()
	url="http://$addr/bytes/$size"
	if [[ $size == /* ]]; then # a path instead of a body size
		url="http://$addr$size"
	fi
	if [[ -n $host ]]; then
		hdr=(-H "Host: $host")
	fi
	if [[ -n $extra ]]; then
		hdr+=(-H "$extra")
	fi
	out="$tmp/wrk-$target-${size//[^A-Za-z0-9]/_}.txt"
	if [[ $warmup != 0 ]]; then
		timeout "$warmup_limit" taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$warmup" "${hdr[@]}" "$url" >/dev/null
	fi
	if [[ -n $pid ]]; then
		mapfile -t ps < <(procs "$pid")
		for p in "${ps[@]}"; do
			echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true # restart the peak RSS
		done
		t0=$(cpu_ticks "${ps[@]}")
	fi
	timeout "$run_limit" taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$duration" --latency "${hdr[@]}" "$url" >"$out"
	local requests rps p50 p99 errors cpu="-" per100k="-" rpcs="-" rss="-"
	requests=$(awk '/ requests in / {print $1}' "$out")
	rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$out")
	p50=$(ms "$(awk '$1 == "50%" {print $2}' "$out")")
	p99=$(ms "$(awk '$1 == "99%" {print $2}' "$out")")
	errors=$(awk '/Socket errors:/ {gsub(",", ""); e += $4 + $6 + $8 + $10}
		/Non-2xx or 3xx responses:/ {e += $5}
		END {print e + 0}' "$out")
	if [[ -n $pid ]]; then
		t1=$(cpu_ticks "${ps[@]}")
		cpu=$(awk -v t=$((t1 - t0)) -v hz="$clk_tck" 'BEGIN {printf "%.2f", t / hz}')
		per100k=$(awk -v c="$cpu" -v n="$requests" 'BEGIN {printf "%.3f", (n ? c * 100000 / n : 0)}')
		rpcs=$(awk -v c="$cpu" -v n="$requests" 'BEGIN {printf "%.0f", (c > 0 ? n / c : 0)}')
		rss=$(awk -v k="$(peak_rss_kib "${ps[@]}")" 'BEGIN {printf "%.1f", k / 1024}')
		per_cpu[$target-$size]=$rpcs
	fi
	rows+=("$(printf '%-7s %-8s %9s %8s %8s %8s %12s %10s %9s %7s' \
		"$(size_name "$size")" "$target" "$rps" "$p50" "$p99" "$cpu" "$per100k" "$rpcs" "$rss" "$errors")")
	echo "loadbench: ${rows[-1]}" >&2
}

read -r load _ </proc/loadavg
if awk -v l="$load" 'BEGIN {exit !(l > 0.5)}'; then
	echo "loadbench: load average $load before the start: other work on this machine will skew the numbers" >&2
fi

header=$(printf '%-7s %-8s %9s %8s %8s %8s %12s %10s %9s %7s' \
	body target 'req/s' 'p50 ms' 'p99 ms' 'CPU s' 'CPU s/100k' 'req/CPU-s' 'RSS MiB' errors)
echo "loadbench: wrk -t1 -c$conns -d$duration per run; $header" >&2
run_sizes=("${sizes[@]}")
[[ -n ${BENCH_BASELINE:-} || -n $tls_only || -n $ratios_only ]] && run_sizes=() # only the paired runs below
for size in "${run_sizes[@]}"; do
	wants direct && bench direct "$upstream_addr" "$size" ""
	wants gateway && bench gateway "$gateway_addr" "$size" "$gateway_pid"
	wants nginx && bench nginx "$nginx_addr" "$size" "$nginx_pid"
done

# What a feature costs: two gateways on the proxy CPU, the same binary
# and routes, loaded at the same time (each by its own wrk with half the
# connections), one with requests for the plain route and one for the
# same route with the feature; then the roles swap. Whatever the machine
# does to one run (a neighbour on the core, frequency) it does to both,
# which back-to-back runs cannot promise. The cost is pooled over the
# runs: requests per CPU-second of the feature's side against the plain
# side's.
costs=()

# duo: loads two servers on the proxy CPU at once for pair_duration, each
# with its own wrk and half the connections: duo_url1 with the wrk
# arguments of array duo_args1 against the processes of array duo_pids1,
# and the same with 2. Sets duo_n1 duo_t1 duo_n2 duo_t2: requests answered
# and CPU ticks used on each side. duo_conns and duo_wrk (more wrk
# arguments for both sides) are for duo_paced.
duo() {
	local a0 b0 w c=${duo_conns:-$((conns / 2))}
	a0=$(cpu_ticks "${duo_pids1[@]}")
	b0=$(cpu_ticks "${duo_pids2[@]}")
	WRK_PACE_MS=${pace_ms:-} timeout "$run_limit" taskset -c "$load_cpu" wrk -t1 -c"$c" -d"$pair_duration" \
		"${duo_wrk[@]}" "${duo_args1[@]}" "$duo_url1" >"$tmp/duo1.txt" &
	w=$!
	WRK_PACE_MS=${pace_ms:-} timeout "$run_limit" taskset -c "$load_cpu" wrk -t1 -c"$c" -d"$pair_duration" \
		"${duo_wrk[@]}" "${duo_args2[@]}" "$duo_url2" >"$tmp/duo2.txt"
	wait "$w"
	duo_t1=$(($(cpu_ticks "${duo_pids1[@]}") - a0))
	duo_t2=$(($(cpu_ticks "${duo_pids2[@]}") - b0))
	duo_n1=$(awk '/ requests in / {print $1}' "$tmp/duo1.txt")
	duo_n2=$(awk '/ requests in / {print $1}' "$tmp/duo2.txt")
	if grep -q "Non-2xx\|Socket errors" "$tmp/duo1.txt" "$tmp/duo2.txt"; then
		echo "loadbench: errors in a paired run:" >&2
		cat "$tmp/duo1.txt" "$tmp/duo2.txt" >&2
		exit 1
	fi
}
duo_conns= duo_wrk=()

# duo_paced: duo with the same offered load on both sides instead of as
# much as each takes: pace_conns connections a side, each waiting
# pace_ms after an answer before its next request (scripts/wrk-pace.lua).
# A saturated pair measures a server at its most efficient, every wake-up
# finding many requests; this measures the cost of a request at a load
# the server keeps up with, where a faster server is not handed more.
duo_paced() {
	duo_conns=$pace_conns duo_wrk=(-s scripts/wrk-pace.lua)
	duo
	duo_conns= duo_wrk=()
}
pace_conns=${BENCH_PACE_CONNS:-100}
pace_base=${BENCH_PACE_MS:-16}
if [[ ! $pace_base =~ ^[1-9][0-9]*$ ]]; then
	echo "loadbench: BENCH_PACE_MS=$pace_base: want a whole number of milliseconds" >&2
	exit 2
fi

# wrk_args HOST HEADER: the wrk arguments that send them, when not empty.
wrk_args() {
	[[ -n $1 ]] && printf '%s\n' -H "Host: $1"
	[[ -n $2 ]] && printf '%s\n' -H "$2"
	return 0
}

# gateways HOST1 HEADER1 HOST2 HEADER2: duo on the gateway and its twin,
# the first getting requests with HOST1 and HEADER1, the twin the others.
gateways() {
	duo_url1="http://$gateway_addr/bytes/13" duo_url2="http://$twin_addr/bytes/13"
	duo_pids1=("$gateway_pid") duo_pids2=("$twin_pid")
	mapfile -t duo_args1 < <(wrk_args "$1" "$2")
	mapfile -t duo_args2 < <(wrk_args "$3" "$4")
	duo
}

# compare LABEL HOST HEADER BASE_HOST BASE_HEADER: the cost of the
# feature that HOST and HEADER reach, against BASE_HOST and BASE_HEADER.
compare() {
	local label=$1 i bn=0 bt=0 fn=0 ft=0 b_n b_t f_n f_t per=()
	gateways "$4" "$5" "$2" "$3" # warm-up, not counted
	for ((i = 0; i < pairs; i++)); do
		if ((i % 2 == 0)); then
			gateways "$4" "$5" "$2" "$3"
			b_n=$duo_n1 b_t=$duo_t1 f_n=$duo_n2 f_t=$duo_t2
		else
			gateways "$2" "$3" "$4" "$5"
			b_n=$duo_n2 b_t=$duo_t2 f_n=$duo_n1 f_t=$duo_t1
		fi
		bn=$((bn + b_n)) bt=$((bt + b_t)) fn=$((fn + f_n)) ft=$((ft + f_t))
		per+=("$(awk -v bn="$b_n" -v bt="$b_t" -v fn="$f_n" -v ft="$f_t" \
			'BEGIN {b = bn / bt; f = fn / ft; printf "%.1f", (b - f) * 100 / b}')")
	done
	costs+=("$(printf '%s at 13 B: %s%% (%d paired runs of %s; each: %s%%)' "$label" \
		"$(awk -v bn="$bn" -v bt="$bt" -v fn="$fn" -v ft="$ft" \
			'BEGIN {b = bn / bt; f = fn / ft; printf "%.1f", (b - f) * 100 / b}')" \
		"$pairs" "$pair_duration" "$(IFS=/; echo "${per[*]}")")")
	echo "loadbench: ${costs[-1]}" >&2
}

# ratio N1 T1 N2 T2 DIGITS: side 1's requests per CPU tick over side 2's.
ratio() {
	awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" -v p="$5" 'BEGIN {printf "%." p "f", (a / b) / (c / d)}'
}

# atonce [DIGITS]: the two sides set up for duo loaded at once, a warm-up
# then pairs times; sets atonce_line to the pooled ratio of side 1's
# requests per CPU-second to side 2's, the single runs' ratios and side
# 1's share of the CPU time, as "0.95x (0.95/0.97/0.95; CPU share 49 %)".
# The loader is duo_fn: duo (wrk) unless a caller sets duo_full.
atonce() {
	local digits=${1:-2} i n1=0 t1=0 n2=0 t2=0 per=()
	"$duo_fn" # warm-up, not counted
	for ((i = 0; i < pairs; i++)); do
		"$duo_fn"
		n1=$((n1 + duo_n1)) t1=$((t1 + duo_t1)) n2=$((n2 + duo_n2)) t2=$((t2 + duo_t2))
		per+=("$(ratio "$duo_n1" "$duo_t1" "$duo_n2" "$duo_t2" "$digits")")
	done
	# The first side's share of the CPU time both used: a side that gets
	# less of the core serves more requests per wake-up, which lifts its
	# requests per CPU-second; a share far from half says so.
	atonce_line="$(ratio "$n1" "$t1" "$n2" "$t2" "$digits")x ($(IFS=/; echo "${per[*]}"); CPU share $(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.0f", (a + b > 0 ? a * 100 / (a + b) : 0)}') %)"
}

# versus SIZE: the gateway and nginx at once; sets versus_line.
versus() {
	duo_url1="http://$gateway_addr/bytes/$1" duo_url2="http://$nginx_addr/bytes/$1"
	duo_pids1=("$gateway_pid")
	mapfile -t duo_pids2 < <(procs "$nginx_pid")
	duo_args1=() duo_args2=()
	atonce
	versus_line="$(size_name "$1") $atonce_line"
	echo "loadbench: gateway/nginx at once: $versus_line" >&2
}

# builds LABEL HOST: this build (the gateway) and the baseline (the twin)
# at once on the same route; prints the ratio.
builds() {
	duo_url1="http://$gateway_addr/bytes/13" duo_url2="http://$twin_addr/bytes/13"
	duo_pids1=("$gateway_pid") duo_pids2=("$twin_pid")
	mapfile -t duo_args1 < <(wrk_args "$2" "")
	duo_args2=("${duo_args1[@]}")
	atonce 3
	printf 'this build / %s, %s at 13 B: %s (%d paired runs of %s)\n' "$BENCH_BASELINE" "$1" \
		"$atonce_line" "$pairs" "$pair_duration"
}

duo_fn=duo

if [[ -n ${BENCH_BASELINE:-} ]]; then
	builds "plain route" ""
	builds "rate limit, breaker and fallback cache" full.bench
	pace_ms=$pace_base duo_fn=duo_paced
	builds "rate limit, breaker and fallback cache, paced" full.bench
	exit 0
fi

# duo_full: duo with openssl s_time instead of wrk, for full handshakes:
# wrk keeps each connection's TLS session (SSL_clear) and resumes it on
# the next, so its "Connection: close" runs measure resumed handshakes.
# Each side gets stime_procs sequential clients on the load CPU, each
# making a new connection, with a new session (-new: no resumption), per
# GET of the URL's path. Sets what duo sets.
stime_procs=${BENCH_STIME_PROCS:-6}
duo_full() {
	local a0 b0 i side url addr path secs ws=()
	secs=$(seconds "$pair_duration")
	a0=$(cpu_ticks "${duo_pids1[@]}")
	b0=$(cpu_ticks "${duo_pids2[@]}")
	for ((i = 0; i < stime_procs; i++)); do
		for side in 1 2; do
			url=duo_url$side url=${!url} addr=${url#https://} addr=${addr%%/*} path=/${url#https://*/}
			timeout "$run_limit" taskset -c "$load_cpu" openssl s_time -connect "$addr" -new \
				-time "$secs" -www "$path" >"$tmp/stime$side-$i.txt" 2>&1 &
			ws+=($!)
		done
	done
	wait "${ws[@]}"
	duo_t1=$(($(cpu_ticks "${duo_pids1[@]}") - a0))
	duo_t2=$(($(cpu_ticks "${duo_pids2[@]}") - b0))
	duo_n1=$(cat "$tmp"/stime1-*.txt | awk '/connections in .* real seconds/ {n += $1} END {print n + 0}')
	duo_n2=$(cat "$tmp"/stime2-*.txt | awk '/connections in .* real seconds/ {n += $1} END {print n + 0}')
	if ((duo_n1 == 0 || duo_n2 == 0)) || grep -qi "error" "$tmp"/stime*-*.txt; then
		echo "loadbench: errors in a paired s_time run:" >&2
		cat "$tmp"/stime*-*.txt >&2
		exit 1
	fi
}

# overtls LABEL [WRK-HEADER]: the gateway's HTTPS listener and nginx's,
# with the same certificate, at once at 13 B; adds a line to tls_lines.
# With the header "Connection: close" every request is a new connection:
# a full handshake.
overtls() {
	duo_url1="https://$tls_addr/bytes/13" duo_url2="https://$nginx_tls_addr/bytes/13"
	duo_pids1=("$gateway_pid")
	mapfile -t duo_pids2 < <(procs "$nginx_pid")
	duo_args1=() duo_args2=()
	if [[ -n ${2:-} ]]; then
		duo_args1=(-H "$2") duo_args2=(-H "$2")
	fi
	atonce
	tls_lines+=("$1: $atonce_line")
	echo "loadbench: gateway/nginx over TLS at once: ${tls_lines[-1]}" >&2
}
tls_lines=()

# fulltls: the gateway's HTTPS listener and nginx's at once, a full
# handshake per request (duo_full); adds a line to tls_lines.
fulltls() {
	duo_url1="https://$tls_addr/bytes/13" duo_url2="https://$nginx_tls_addr/bytes/13"
	duo_pids1=("$gateway_pid")
	mapfile -t duo_pids2 < <(procs "$nginx_pid")
	duo_fn=duo_full
	atonce
	duo_fn=duo
	tls_lines+=("a new connection per request, full handshake (openssl s_time -new, $stime_procs clients a side): $atonce_line")
	echo "loadbench: gateway/nginx over TLS at once: ${tls_lines[-1]}" >&2
}

# bare SIZE: the gateway's whole pipeline (full.bench) and the bare
# fasthttp proxy at once; sets bare_line.
bare() {
	duo_url1="http://$gateway_addr/bytes/$1" duo_url2="http://$bare_addr/bytes/$1"
	duo_pids1=("$gateway_pid") duo_pids2=("$bare_pid")
	mapfile -t duo_args1 < <(wrk_args full.bench "")
	duo_args2=()
	# The bare proxy's requests per CPU-second rise over its first 10 s or
	# so at a new size, then hold: two more warm-ups, so that the ratio is
	# to its steady state.
	"$duo_fn"
	"$duo_fn"
	atonce
	bare_line="$(size_name "$1") $atonce_line"
	echo "loadbench: gateway (whole pipeline)/bare proxy at once: $bare_line" >&2
}

# bare_paced SIZE: bare at the same paced load on both sides (duo_paced):
# pace_conns connections waiting pace_base ms (13 B, 1 KiB) or twice that
# (64 KiB); sets bare_paced_line. It says so when the two kept the core
# 90 % busy or more in the last pair: they then share a core neither keeps
# up on, and answers wait in line.
bare_paced() {
	duo_url1="http://$gateway_addr/bytes/$1" duo_url2="http://$bare_addr/bytes/$1"
	duo_pids1=("$gateway_pid") duo_pids2=("$bare_pid")
	mapfile -t duo_args1 < <(wrk_args full.bench "")
	duo_args2=()
	pace_ms=$pace_base
	(($1 >= 65536)) && pace_ms=$((2 * pace_base))
	duo_fn=duo_paced
	atonce
	duo_fn=duo
	local secs offered served1 served2 busy
	secs=$(seconds "$pair_duration")
	offered=$((pace_conns * 1000 / pace_ms))
	served1=$((duo_n1 / secs)) served2=$((duo_n2 / secs))
	busy=$(((duo_t1 + duo_t2) * 100 / (secs * clk_tck)))
	bare_paced_line="$(size_name "$1") $atonce_line, $served1 and $served2 requests/s of $offered offered, the core $busy % busy"
	if ((busy >= 90)); then
		bare_paced_line+=" (at the core's limit)"
	fi
	echo "loadbench: gateway (whole pipeline)/bare proxy, paced: $bare_paced_line" >&2
}

# floor: the gateway and its twin, the same build and the same route
# (full.bench), at once at 13 B, at full load and paced: how far apart
# this method puts two servers that do not differ, in this run, which is
# what the other ratios must be read against; sets floor_line.
floor() {
	duo_url1="http://$gateway_addr/bytes/13" duo_url2="http://$twin_addr/bytes/13"
	duo_pids1=("$gateway_pid") duo_pids2=("$twin_pid")
	mapfile -t duo_args1 < <(wrk_args full.bench "")
	duo_args2=("${duo_args1[@]}")
	atonce
	floor_line="full load $atonce_line"
	pace_ms=$pace_base
	duo_fn=duo_paced
	atonce
	duo_fn=duo
	floor_line+="; paced $atonce_line"
	echo "loadbench: the same build against itself: $floor_line" >&2
}

# resumed_share: the share of the gateway's HTTPS connections so far
# whose session was resumed, from its metrics.
resumed_share() {
	curl -sS --max-time 5 "http://$gateway_admin/metrics" | awk '
		/^gateway_tls_connections_total\{/ {n += $2; if ($0 ~ /resumed="true"/) r += $2}
		END {printf "%d of %d connections resumed (%.0f %%)", r, n, (n ? r * 100 / n : 0)}'
}

if [[ -n $tls_only ]]; then
	[[ " $tls_only " == *" keepalive "* || $tls_only == 1 ]] && overtls "HTTPS keep-alive, 13 B"
	resumed_line=
	if [[ " $tls_only " == *" handshake "* || $tls_only == 1 ]]; then
		overtls "a new connection per request (wrk, Connection: close: TLS 1.3 sessions resumed)" "Connection: close"
		resumed_line=$(resumed_share)
		fulltls
	fi
	echo
	printf 'gateway/nginx over TLS (ECDSA P-256, the same certificate), requests per CPU-second, at once (%d pooled runs of %s; each):\n' "$pairs" "$pair_duration"
	printf '  %s\n' "${tls_lines[@]}"
	[[ -n $resumed_line ]] && printf 'the gateway, after the wrk runs: %s\n' "$resumed_line"
	exit 0
fi

# zipped ENCODING: a 64 KiB JSON answer of the compressed route
# (zipped.bench) to a client that accepts ENCODING on the gateway, and
# to one without Accept-Encoding on its twin, at once; adds a line to
# zip_lines.
zipped() {
	duo_url1="http://$gateway_addr/json/65536" duo_url2="http://$twin_addr/json/65536"
	duo_pids1=("$gateway_pid") duo_pids2=("$twin_pid")
	duo_args1=(-H "Host: zipped.bench" -H "Accept-Encoding: $1") duo_args2=(-H "Host: zipped.bench")
	atonce
	zip_lines+=("$1: $atonce_line")
	echo "loadbench: compressed/plain 64 KiB JSON at once: ${zip_lines[-1]}" >&2
}
zip_lines=()

if wants gateway && [[ -z $ratios_only ]]; then
	for enc in gzip br zstd; do
		zipped "$enc"
	done
	compare "rate limit (per client, never refusing) cost" limited.bench "" "" ""
	compare "breaker and fallback cache (never triggered) cost" guarded.bench "" "" ""
	compare "access log (every request, JSON to a file) cost" logged.bench "" "" ""
	# Against the same header bytes under a name nothing reads.
	compare "JWT (ES256, a repeated token) cost" jwt.bench "Authorization: Bearer $bench_token" \
		"" "X-Not-Authorization: Bearer $bench_token"
	compare "API key cost" key.bench "X-Api-Key: demo-key" "" "X-Not-Api-Key: demo-key"
	# The same header bytes under another name as the base, so that only
	# what the gateway does with a trace context is measured.
	compare "trace context passed on (export off) cost" \
		"" "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
		"" "x-notaparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
fi
if wants gateway; then
	versus_lines=()
	if wants nginx; then
		for size in "${sizes[@]}"; do
			versus "$size"
			versus_lines+=("$versus_line")
		done
		if [[ -z $ratios_only ]]; then
			overtls "HTTPS keep-alive, 13 B"
			overtls "a new connection per request (wrk, Connection: close: TLS 1.3 sessions resumed)" "Connection: close"
			fulltls
		fi
	fi
	bare_lines=() bare_paced_lines=()
	if wants bare; then
		# Paced right after full load at the same size: the bare proxy's
		# buffers fit that size already.
		for size in "${sizes[@]}"; do
			bare "$size"
			bare_lines+=("$bare_line")
			bare_paced "$size"
			bare_paced_lines+=("$bare_paced_line")
		done
	fi
	floor
	# A unary gRPC call through the gateway: JSON to protobuf and back.
	[[ -z $ratios_only ]] && bench grpc "$gateway_addr" "/v1/users/42?tags=a&verbose=true" "$gateway_pid" grpc.bench
fi

echo
echo "Loopback, keep-alive, wrk -t1 -c$conns -d$duration; proxy on CPU $proxy_cpu, wrk and upstream on CPU $load_cpu."
echo "CPU s: the proxy's user+system time during the run (nginx: master+worker); RSS: peak (VmHWM) during the run."
echo "Load average before the start: $load."
if [[ -z $ratios_only ]]; then
	echo
	echo "$header"
	printf '%s\n' "${rows[@]}"
fi
if wants gateway && [[ -z $ratios_only ]]; then
	echo
	printf '%s\n' "${costs[@]}"
	echo
	printf '64 KiB JSON compressed at the default level / the same sent plain, requests per CPU-second, at once (%d pooled runs of %s; each):\n' "$pairs" "$pair_duration"
	printf '  %s\n' "${zip_lines[@]}"
fi
if wants gateway && wants nginx; then
	echo
	if [[ -z $ratios_only ]]; then
		printf 'gateway/nginx, requests per CPU-second, back to back (the table):'
		for size in "${sizes[@]}"; do
			awk -v g="${per_cpu[gateway-$size]}" -v n="${per_cpu[nginx-$size]}" -v s="$(size_name "$size")" \
				'BEGIN {printf "  %s %.2fx", s, (n > 0 ? g / n : 0)}'
		done
		echo
	fi
	printf 'gateway/nginx, requests per CPU-second, both loaded at once (%d pooled runs of %s; each):\n' "$pairs" "$pair_duration"
	printf '  %s\n' "${versus_lines[@]}"
	if [[ -z $ratios_only ]]; then
		printf 'gateway/nginx over TLS (ECDSA P-256, the same certificate), requests per CPU-second, at once:\n'
		printf '  %s\n' "${tls_lines[@]}"
	fi
fi
if wants gateway; then
	echo
	printf 'the same build against itself, the gateway and its twin on the whole pipeline at 13 B, at once (%d pooled runs of %s; each): %s\n' "$pairs" "$pair_duration" "$floor_line"
fi
if wants gateway && wants bare; then
	echo
	printf 'gateway with rate limit, breaker and fallback cache / bare fasthttp proxy, requests per CPU-second, at once (%d pooled runs of %s; each):\n' "$pairs" "$pair_duration"
	printf '  %s\n' "${bare_lines[@]}"
	printf 'the same at the same paced load on both, %d connections a side each waiting %d ms (%d ms at 64 KiB) between requests (%d pooled runs of %s; each; requests/s of each side in the last):\n' "$pace_conns" "$pace_base" $((2 * pace_base)) "$pairs" "$pair_duration"
	printf '  %s\n' "${bare_paced_lines[@]}"
fi
