# shellcheck shell=bash
# What the load scripts (loadbench.sh, syscount.sh, pgo-profile.sh) share:
# installing the tools they need, a scratch directory whose servers are
# stopped and which is removed when the script ends, and waiting for a
# server to answer. A script sets `me`, its name in messages, and sources
# this file.

apt_updated=false

# need PROGRAM PACKAGE: installs PACKAGE with apt-get unless PROGRAM is
# there; on failure prints apt-get's last lines and exits.
need() {
	if command -v "$1" >/dev/null 2>&1 || [[ -x /usr/sbin/$1 ]]; then
		return
	fi
	echo "$me: installing $2 with apt-get" >&2
	local log
	log=$(mktemp)
	if ! { $apt_updated || apt-get update -q; } >"$log" 2>&1 ||
		! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >>"$log" 2>&1; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		exit 1
	fi
	apt_updated=true
	rm -f "$log"
}

# scratch: makes the directory $tmp (readable by all: nginx's worker may
# run as nobody) and the list pids of processes started. When the script
# ends, each of them is stopped (TERM, KILL after 10 s), keep_scratch is
# called if the script defines it, and $tmp is removed.
scratch() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$me.XXXXXX")
	chmod 755 "$tmp"
	pids=()
	trap end_scratch EXIT
	trap 'exit 130' INT TERM
}

# shellcheck disable=SC2317 # called from the trap
end_scratch() {
	local pid i
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if declare -F keep_scratch >/dev/null; then
		keep_scratch
	fi
	rm -rf "$tmp"
}

# answers ADDR: whether something accepts TCP connections on ADDR.
answers() { timeout 1 bash -c "exec 3<>/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

# wait_port ADDR PID NAME LOG: waits up to 10 s for process PID, called
# NAME, to answer on ADDR; exits with its log if it ends or does not.
wait_port() {
	local i
	for ((i = 0; i < 100; i++)); do
		answers "$1" && return
		if ! kill -0 "$2" 2>/dev/null; then
			echo "$me: $3 exited; its log:" >&2
			cat "$4" >&2
			exit 1
		fi
		sleep 0.1
	done
	echo "$me: $3 does not answer on $1 after 10s; its log:" >&2
	cat "$4" >&2
	exit 1
}
