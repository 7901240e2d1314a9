#!/usr/bin/env bash
# System calls per proxied request, counted with strace, for the gateway,
# the bare fasthttp proxy (cmd/bare-proxy) and nginx in front of the same
# demo upstream.
#
#   CPU 0: the proxy being counted (gateway and bare proxy with GOMAXPROCS=1,
#          one nginx worker), as in scripts/loadbench.sh
#   CPU 1: wrk, bin/demo-upstream and strace
#
# Each proxy in turn gets a warm-up, then a counter is attached to it
# (nginx: its worker) for one wrk run of a fixed length; the counts are
# divided by the requests wrk saw answered. It prints, per proxy, the
# system calls per request by kind, and how many of the reads failed with
# EAGAIN (a read tried before the data was there, which Go's net package
# does before it waits on the poller).
#
# Two counters, the same table: `strace -f -c` (SYSCOUNT_TOOL=strace) stops
# the proxy at every system call, which slows it so much that the
# upstream's answer is nearly always there by the time the proxy reads:
# it counts the calls, but hides the early reads. `perf stat` on the
# kernel's syscall tracepoints (SYSCOUNT_TOOL=perf, the default where perf
# can open them) counts in the kernel without stopping the proxy, so the
# EAGAIN column is what the proxy meets at its own speed.
#
# Environment:
#   SYSCOUNT_DURATION     length of each counted run (wrk -d), default 5s
#   SYSCOUNT_CONNECTIONS  open connections (wrk -c), default 50
#   SYSCOUNT_SIZE         response body in bytes (/bytes/N), default 13
#   SYSCOUNT_TARGETS      which of "gateway bare nginx" to count, default all
#   SYSCOUNT_ROUTE        the Host header for the gateway (a route of
#                         configs/bench.yaml), default none: the plain route
#   SYSCOUNT_BASELINE     a git revision: its gateway is built and counted
#                         too, as "gateway@REV", right before this tree's
#   SYSCOUNT_ROUNDS       how many times the targets are counted in turn,
#                         default 1
#   SYSCOUNT_TOOL         "perf" or "strace", see above; default perf when
#                         it can count syscall tracepoints, else strace
#
# It needs strace or perf, wrk and nginx (`apt-get install strace wrk
# nginx`, perf is in linux-perf) and installs strace, wrk and nginx with
# apt-get when they are missing; make test does not use it. It listens on loopback only, on ports of its own (18180, 18181,
# 18183, 19101, 19991, 18543), so that it can run beside loadbench.sh, and
# stops everything it started when it ends or is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
me=syscount
# shellcheck source=scripts/benchlib.sh
. scripts/benchlib.sh

duration=${SYSCOUNT_DURATION:-5s}
conns=${SYSCOUNT_CONNECTIONS:-50}
size=${SYSCOUNT_SIZE:-13}
targets=${SYSCOUNT_TARGETS:-gateway bare nginx}
route=${SYSCOUNT_ROUTE:-}
baseline=${SYSCOUNT_BASELINE:-}
rounds=${SYSCOUNT_ROUNDS:-1}

upstream_addr=127.0.0.1:19101
gateway_addr=127.0.0.1:18180
gateway_admin=127.0.0.1:19991
gateway_tls=127.0.0.1:18543
base_addr=127.0.0.1:18182
base_admin=127.0.0.1:19992
base_tls=127.0.0.1:18544
nginx_addr=127.0.0.1:18181
bare_addr=127.0.0.1:18183

proxy_cpu=0
load_cpu=1
if (($(nproc) < 2)); then
	echo "syscount: only one CPU: everything shares it" >&2
	load_cpu=0
fi

wants() { [[ " $targets " == *" $1 "* ]]; }

tool=${SYSCOUNT_TOOL:-}
if [[ -z $tool ]]; then
	tool=strace
	perf stat -e syscalls:sys_enter_read true >/dev/null 2>&1 && tool=perf
fi
case $tool in
perf | strace) ;;
*)
	echo "syscount: SYSCOUNT_TOOL is perf or strace, not $tool" >&2
	exit 1
	;;
esac
[[ $tool == strace ]] && need strace strace
need wrk wrk
need taskset util-linux
wants nginx && need nginx nginx
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

scratch

for addr in "$upstream_addr" "$gateway_addr" "$gateway_admin" "$gateway_tls" "$base_addr" "$base_admin" \
	"$base_tls" "$nginx_addr" "$bare_addr"; do
	if answers "$addr"; then
		echo "syscount: $addr is already in use; stop what listens there" >&2
		exit 1
	fi
done

echo "syscount: building" >&2
go build -trimpath -o bin/demo-upstream ./cmd/demo-upstream
wants gateway && go build -trimpath -o bin/gateway ./cmd/gateway
wants bare && go build -trimpath -o bin/bare-proxy ./cmd/bare-proxy
if [[ -n $baseline ]]; then
	echo "syscount: building the baseline $baseline" >&2
	git worktree add -q --detach "$tmp/baseline" "$baseline"
	(cd "$tmp/baseline" && go build -trimpath -o "$tmp/gateway-baseline" ./cmd/gateway)
	git worktree remove --force "$tmp/baseline"
fi

GOMAXPROCS=1 taskset -c "$load_cpu" bin/demo-upstream -listen "$upstream_addr" >"$tmp/upstream.log" 2>&1 &
pids+=($!)
wait_port "$upstream_addr" $! demo-upstream "$tmp/upstream.log"

# gateway_config LISTEN ADMIN TLS OUT: configs/bench.yaml on this script's
# ports, with absolute paths.
# gateway_config ADDR ADMIN TLS OUT [REV]: configs/bench.yaml (of git
# revision REV when given, whose gateway may not know later settings) on
# these addresses, written to OUT.
gateway_config() {
	local src=configs/bench.yaml
	if [[ -n ${5:-} ]]; then
		src=$tmp/bench-$5.yaml
		git show "$5:configs/bench.yaml" >"$src"
	fi
	sed -e "s|\"127.0.0.1:18080\"|\"$1\"|" -e "s|\"127.0.0.1:19901\"|\"$2\"|" \
		-e "s|\"127.0.0.1:18443\"|\"$3\"|" -e "s|127.0.0.1:19001|$upstream_addr|g" \
		-e "s| testdata/tls/| $PWD/configs/testdata/tls/|" \
		-e "s|\.\./bridge/|$PWD/bridge/|" "$src" >"$4"
}

# start NAME ADDR LOG COMMAND...: runs COMMAND on the proxy CPU and sets
# started_pid.
start() {
	local name=$1 addr=$2 log=$3
	shift 3
	GOMAXPROCS=1 taskset -c "$proxy_cpu" "$@" >"$log" 2>&1 &
	started_pid=$!
	pids+=("$started_pid")
	wait_port "$addr" "$started_pid" "$name" "$log"
}

names=() addrs=() traced=()
if [[ -n $baseline ]] && wants gateway; then
	gateway_config "$base_addr" "$base_admin" "$base_tls" "$tmp/base.yaml" "$baseline"
	start "gateway@$baseline" "$base_addr" "$tmp/base.log" "$tmp/gateway-baseline" run -config "$tmp/base.yaml"
	names+=("gateway@$baseline") addrs+=("$base_addr") traced+=("$started_pid")
fi
if wants gateway; then
	gateway_config "$gateway_addr" "$gateway_admin" "$gateway_tls" "$tmp/gateway.yaml"
	start gateway "$gateway_addr" "$tmp/gateway.log" bin/gateway run -config "$tmp/gateway.yaml"
	names+=(gateway) addrs+=("$gateway_addr") traced+=("$started_pid")
fi
if wants bare; then
	start bare-proxy "$bare_addr" "$tmp/bare.log" bin/bare-proxy -listen "$bare_addr" -upstream "$upstream_addr"
	names+=(bare-proxy) addrs+=("$bare_addr") traced+=("$started_pid")
fi
if wants nginx; then
	mkdir -p "$tmp/nginx"
	# The TLS listener of the template on a port of this script's.
	sed -e "s|@DIR@|$tmp/nginx|g" -e "s|@LISTEN@|$nginx_addr|g" -e "s|@TLS_LISTEN@|127.0.0.1:18546|g" \
		-e "s|@CERT@|$PWD/configs/testdata/tls/TEST-ONLY-localhost.crt|g" \
		-e "s|@KEY@|$PWD/configs/testdata/tls/TEST-ONLY-localhost.key|g" \
		-e "s|@UPSTREAM@|$upstream_addr|g" scripts/nginx-bench.conf >"$tmp/nginx/nginx.conf"
	start nginx "$nginx_addr" "$tmp/nginx.log" "$nginx_bin" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
		-e "$tmp/nginx/error.log"
	worker=
	for ((i = 0; i < 50; i++)); do
		worker=$(pgrep -P "$started_pid" | head -n 1) && [[ -n $worker ]] && break
		sleep 0.1
	done
	[[ -n $worker ]] || {
		echo "syscount: nginx started no worker" >&2
		exit 1
	}
	names+=(nginx) addrs+=("$nginx_addr") traced+=("$worker")
fi

# load ADDR DURATION OUT: wrk against ADDR's /bytes/SIZE.
load() {
	local hdr=()
	[[ -n $route && $1 != "$nginx_addr" && $1 != "$bare_addr" ]] && hdr=(-H "Host: $route")
	timeout 120 taskset -c "$load_cpu" wrk -t1 -c"$conns" -d"$2" "${hdr[@]}" "http://$1/bytes/$size" >"$3"
	if grep -q "Non-2xx\|Socket errors" "$3"; then
		echo "syscount: errors in a run against $1:" >&2
		cat "$3" >&2
		exit 1
	fi
}

# The system calls counted one by one; the rest show in "all".
kinds=(read recvfrom readv recvmsg write sendto writev sendmsg epoll_wait epoll_pwait futex nanosleep
	getpid getsockopt setsockopt sched_yield)

# count_perf NAME ADDR PID: warm-up, then one wrk run with perf stat
# counting the system calls of PID's threads at the syscall tracepoints;
# prints NAME's line.
count_perf() {
	local name=$1 addr=$2 pid=$3 ppid k ev=() n
	load "$addr" 1s /dev/null
	ev=(-e raw_syscalls:sys_enter)
	for k in "${kinds[@]}"; do
		ev+=(-e "syscalls:sys_enter_$k")
	done
	for k in read recvfrom readv recvmsg; do
		ev+=(-e "syscalls:sys_exit_$k" --filter 'ret == -11')
	done
	taskset -c "$load_cpu" perf stat -x, -o "$tmp/perf.txt" "${ev[@]}" -p "$pid" 2>"$tmp/perf.log" &
	ppid=$!
	load "$addr" "$duration" "$tmp/wrk.txt"
	kill -INT "$ppid"
	wait "$ppid" || true
	n=$(awk '/ requests in / {print $1}' "$tmp/wrk.txt")
	# perf stat -x,: "count,,event,...".
	awk -F, -v n="$n" -v name="$name" '
		$3 ~ /^(raw_)?syscalls:/ {
			k = $3; sub(/^.*:sys_/, "", k)
			c[k] = $1 + 0
		}
		END {
			r = c["enter_read"] + c["enter_recvfrom"] + c["enter_readv"] + c["enter_recvmsg"]
			e = c["exit_read"] + c["exit_recvfrom"] + c["exit_readv"] + c["exit_recvmsg"]
			w = c["enter_write"] + c["enter_sendto"] + c["enter_writev"] + c["enter_sendmsg"]
			p = c["enter_epoll_pwait"] + c["enter_epoll_wait"]
			printf "%-22s %9d %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f", name, n, c["enter"] / n, r / n, e / n, w / n, p / n, c["enter_futex"] / n
			other = ""
			split("nanosleep getpid getsockopt setsockopt sched_yield", o, " ")
			for (i = 1; i in o; i++)
				if (c["enter_" o[i]] / n >= 0.01) other = other sprintf(" %s %.2f", o[i], c["enter_" o[i]] / n)
			print "  " (other == "" ? "-" : substr(other, 2))
		}' "$tmp/perf.txt"
}

# count_strace NAME ADDR PID: warm-up, then one wrk run with strace
# attached to PID's threads; prints NAME's line.
count_strace() {
	local name=$1 addr=$2 pid=$3 spid i n
	load "$addr" 1s /dev/null
	taskset -c "$load_cpu" strace -f -c -o "$tmp/strace.txt" -p "$pid" 2>"$tmp/strace.log" &
	spid=$!
	# Attached once every thread of the process is.
	n=$(find "/proc/$pid/task" -mindepth 1 -maxdepth 1 | wc -l)
	for ((i = 0; i < 100; i++)); do
		(($(grep -c 'attached' "$tmp/strace.log") >= n)) && break
		sleep 0.05
	done
	load "$addr" "$duration" "$tmp/wrk.txt"
	kill -INT "$spid"
	wait "$spid" || true
	n=$(awk '/ requests in / {print $1}' "$tmp/wrk.txt")
	# strace -c: "% time seconds usecs/call calls [errors] syscall".
	awk -v n="$n" -v name="$name" '
		$1 ~ /^[0-9.]+$/ && $NF != "total" {
			calls[$NF] = $4; errs[$NF] = (NF == 6 ? $5 : 0); total += $4
		}
		END {
			r = calls["read"] + calls["recvfrom"] + calls["readv"] + calls["recvmsg"]
			e = errs["read"] + errs["recvfrom"] + errs["readv"] + errs["recvmsg"]
			w = calls["write"] + calls["sendto"] + calls["writev"] + calls["sendmsg"]
			p = calls["epoll_pwait"] + calls["epoll_wait"] + calls["epoll_pwait2"]
			printf "%-22s %9d %7.2f %7.2f %7.2f %7.2f %7.2f %7.2f", name, n, total / n, r / n, e / n, w / n, p / n, calls["futex"] / n
			other = ""
			for (s in calls) {
				if (s ~ /^(read|recvfrom|readv|recvmsg|write|sendto|writev|sendmsg|epoll_pwait|epoll_wait|epoll_pwait2|futex)$/) continue
				if (calls[s] / n >= 0.01) other = other sprintf(" %s %.2f", s, calls[s] / n)
			}
			print "  " (other == "" ? "-" : substr(other, 2))
		}' "$tmp/strace.txt"
}

read -r loadavg _ </proc/loadavg
header=$(printf '%-22s %9s %7s %7s %7s %7s %7s %7s  %s' proxy requests all reads EAGAIN writes epoll futex 'other (per request)')
lines=()
echo "syscount: $header" >&2
for ((round = 1; round <= rounds; round++)); do
	for i in "${!names[@]}"; do
		lines+=("$("count_$tool" "${names[$i]}" "${addrs[$i]}" "${traced[$i]}")")
		echo "syscount: ${lines[-1]}" >&2
	done
done

echo
echo "System calls per request, counted by $tool on the proxy during wrk -t1 -c$conns -d$duration of /bytes/$size${route:+ (gateway: Host $route)}."
echo "Proxy on CPU $proxy_cpu (Go with GOMAXPROCS=1, one nginx worker); wrk, upstream and $tool on CPU $load_cpu. Load average before: $loadavg."
echo "reads: read, recvfrom, readv, recvmsg; EAGAIN: those that found nothing to read; writes: write, sendto, writev, sendmsg; epoll: epoll_wait/epoll_pwait."
echo
echo "$header"
printf '%s\n' "${lines[@]}"
