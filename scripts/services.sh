#!/usr/bin/env bash
# Makes sure the named services answer on loopback, for the tests:
#
#   scripts/services.sh [redis] [nats] [rabbitmq] [etcd] [pebble]
#   scripts/services.sh stop [redis] [nats] [rabbitmq] [etcd] [pebble]
#
# A service that already answers on its port is left alone. Otherwise its
# Debian package is installed when its program is missing, and it is started
# bound to 127.0.0.1, in the background, with its logs, data and pid file
# under $SERVICES_DIR (default /tmp/gateway-services). Running it again is
# harmless. Pebble, Let's Encrypt's ACME test server, is no Debian package:
# it is installed with `go install` when missing, and started from
# certs/acme/testdata with its config there, validating nothing
# (PEBBLE_VA_ALWAYS_VALID=1) without sleeping (PEBBLE_VA_NOSLEEP=1). It
# prints one line per service, says which ones it started and how to stop
# them, and exits non-zero if any does not come up within
# $SERVICES_WAIT seconds (default 60).
#
# "stop" stops the services this script started (all of them when none is
# named), found by their pid files; a service it did not start (already
# running, or started by a package install) is left alone.
set -euo pipefail

state_dir=${SERVICES_DIR:-${TMPDIR:-/tmp}/gateway-services}
wait_secs=${SERVICES_WAIT:-60}
apt_updated=false
repo=$(cd "$(dirname "$0")/.." && pwd)
pebble_version=v2.10.3

log() { printf '%-9s %s\n' "$1" "$2"; }

# answers PORT: true when something accepts a TCP connection on 127.0.0.1:PORT.
answers() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# ensure_installed PROGRAM PACKAGE: installs PACKAGE when PROGRAM is missing.
ensure_installed() {
	if command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; then
		return
	fi
	local sudo=() apt_log=$state_dir/apt.log
	if [[ $(id -u) != 0 ]]; then
		sudo=(sudo)
	fi
	echo "installing $2 with apt-get ..." >&2
	if ! $apt_updated; then
		"${sudo[@]}" apt-get update -q >"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; return 1; }
		apt_updated=true
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "$2" >>"$apt_log" 2>&1 || { tail -n 20 "$apt_log" >&2; return 1; }
}

# ensure_pebble: installs pebble with go install when it is missing.
ensure_pebble() {
	if command -v pebble >/dev/null 2>&1 || [[ -x $(go_bin)/pebble ]]; then
		return
	fi
	echo "installing pebble $pebble_version with go install ..." >&2
	go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$pebble_version" \
		>"$state_dir/pebble-install.log" 2>&1 || { tail -n 20 "$state_dir/pebble-install.log" >&2; return 1; }
}

# go_bin: where go install puts programs.
go_bin() {
	local bin
	bin=$(go env GOBIN 2>/dev/null)
	if [[ -z $bin ]]; then
		bin=$(go env GOPATH 2>/dev/null)
		bin=${bin%%:*}/bin
	fi
	echo "$bin"
}

# program NAME: the path of an installed program, also where root's PATH
# would find it but the current one may not (/usr/sbin).
program() {
	if [[ $1 == pebble ]]; then
		command -v pebble 2>/dev/null || echo "$(go_bin)/pebble"
		return
	fi
	command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"
}

start() {
	local name=$1
	case $name in
	redis)
		"$(program redis-server)" --daemonize yes --bind 127.0.0.1 --port 6379 \
			--save "" --appendonly no --dir "$state_dir" \
			--pidfile "$state_dir/redis.pid" \
			--logfile "$state_dir/redis.log" >/dev/null
		;;
	nats)
		mkdir -p "$state_dir/nats"
		setsid nohup "$(program nats-server)" -a 127.0.0.1 -p 4222 -js \
			-sd "$state_dir/nats" </dev/null >"$state_dir/nats.log" 2>&1 &
		echo $! >"$state_dir/nats.pid"
		;;
	rabbitmq)
		# The node, epmd and the distribution port all stay on loopback.
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 \
			RABBITMQ_PID_FILE="$state_dir/rabbitmq.pid" \
			RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}' \
			"$(program rabbitmq-server)" -detached >"$state_dir/rabbitmq.log" 2>&1
		;;
	etcd)
		local data
		data=$(mktemp -d "$state_dir/etcd.XXXXXX")
		setsid nohup "$(program etcd)" --data-dir "$data" \
			--listen-client-urls http://127.0.0.1:2379 \
			--advertise-client-urls http://127.0.0.1:2379 \
			--listen-peer-urls http://127.0.0.1:2380 \
			--initial-advertise-peer-urls http://127.0.0.1:2380 \
			--initial-cluster default=http://127.0.0.1:2380 \
			</dev/null >"$state_dir/etcd.log" 2>&1 &
		echo $! >"$state_dir/etcd.pid"
		echo "$data" >"$state_dir/etcd.data"
		;;
	pebble)
		# Its config names its HTTPS certificate relative to testdata.
		(
			cd "$repo/certs/acme/testdata" || exit 1
			PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 setsid nohup "$(program pebble)" \
				-config pebble-config.json -strict=false \
				</dev/null >"$state_dir/pebble.log" 2>&1 &
			echo $! >"$state_dir/pebble.pid"
		)
		;;
	esac
}

# stop NAME: stops the service if this script started it (its pid file
# names a live process running its program), and removes what it kept.
stop() {
	local name=$1 prog pidfile pid
	case $name in
	redis) prog=redis-server ;;
	nats) prog=nats-server ;;
	rabbitmq) prog=beam ;;
	etcd) prog=etcd ;;
	pebble) prog=pebble ;;
	*)
		log "$name" "unknown service (known: redis nats rabbitmq etcd pebble)"
		return 2
		;;
	esac
	pidfile=$state_dir/$name.pid
	if [[ ! -s $pidfile ]]; then
		log "$name" "not started by this script; left alone"
		return
	fi
	pid=$(<"$pidfile")
	if [[ ! $pid =~ ^[0-9]+$ ]] || ! kill -0 "$pid" 2>/dev/null ||
		! grep -q "$prog" "/proc/$pid/cmdline" 2>/dev/null; then
		log "$name" "pid $pid from $pidfile is not a running $prog; left alone"
		rm -f "$pidfile"
		return
	fi
	kill -TERM "$pid"
	local deadline=$((SECONDS + wait_secs))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			log "$name" "FAILED: pid $pid still running ${wait_secs}s after SIGTERM"
			return 1
		fi
		sleep 0.2
	done
	rm -f "$pidfile"
	if [[ $name == etcd && -s $state_dir/etcd.data ]]; then
		rm -rf -- "$(<"$state_dir/etcd.data")"
		rm -f "$state_dir/etcd.data"
	fi
	log "$name" "stopped (pid $pid)"
}

ensure() {
	local name=$1 port prog pkg
	case $name in
	redis) port=6379 prog=redis-server pkg=redis-server ;;
	nats) port=4222 prog=nats-server pkg=nats-server ;;
	rabbitmq) port=5672 prog=rabbitmq-server pkg=rabbitmq-server ;;
	etcd) port=2379 prog=etcd pkg=etcd-server ;;
	pebble) port=14000 prog=pebble pkg= ;;
	*)
		log "$name" "unknown service (known: redis nats rabbitmq etcd pebble)"
		return 2
		;;
	esac
	if answers "$port"; then
		log "$name" "127.0.0.1:$port already up"
		return
	fi
	mkdir -p "$state_dir"
	if [[ $name == pebble ]]; then
		if ! ensure_pebble; then
			log "$name" "FAILED: could not go install pebble $pebble_version"
			return 1
		fi
	elif ! ensure_installed "$prog" "$pkg"; then
		log "$name" "FAILED: could not install $pkg"
		return 1
	fi
	# Installing a package may have started it already.
	local ours=false
	if ! answers "$port"; then
		rm -f "$state_dir/$name.pid"
		start "$name"
		ours=true
	fi
	local deadline=$((SECONDS + wait_secs))
	until answers "$port"; do
		if ((SECONDS >= deadline)); then
			log "$name" "FAILED: nothing answers on 127.0.0.1:$port after ${wait_secs}s; log tail:"
			tail -n 20 "$state_dir/$name.log" 2>/dev/null | sed 's/^/    /' || true
			return 1
		fi
		sleep 0.5
	done
	if $ours; then
		log "$name" "127.0.0.1:$port started, pid $(cat "$state_dir/$name.pid" 2>/dev/null || echo unknown) (logs in $state_dir)"
		started+=("$name")
	else
		log "$name" "127.0.0.1:$port started by its package's service manager (logs in $state_dir); not stopped by this script"
	fi
}

status=0
if [[ ${1:-} == stop ]]; then
	shift
	if (($# == 0)); then
		set -- redis nats rabbitmq etcd pebble
	fi
	for service in "$@"; do
		stop "$service" || status=1
	done
	exit $status
fi
started=()
for service in "$@"; do
	ensure "$service" || status=1
done
if ((${#started[@]} > 0)); then
	echo "started: ${started[*]}; stop them with: scripts/services.sh stop (or make services-stop)"
fi
exit $status
