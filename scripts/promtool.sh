#!/usr/bin/env bash
# Prints the path of a promtool for `make rules`: $PROMTOOL (default
# promtool) when it is on PATH, else the promtool of Debian's prometheus
# package, fetched with `apt-get download` and unpacked with `dpkg -x`
# into a cache directory ($PROMTOOL_CACHE, default
# ~/.cache/gateway-promtool) the first time. The package is not
# installed: that would also start a Prometheus server. Exits non-zero,
# saying why, when no promtool can be had.
set -euo pipefail

want=${PROMTOOL:-promtool}
if command -v "$want" >/dev/null 2>&1; then
	command -v "$want"
	exit 0
fi
cache=${PROMTOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gateway-promtool}
if [[ -x $cache/promtool ]]; then
	echo "$cache/promtool"
	exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
	echo "promtool.sh: $want is not installed, and there is no apt-get and dpkg to fetch it" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "promtool.sh: fetching promtool from Debian's prometheus package into $cache ..." >&2
if ! (cd "$tmp" && apt-get download prometheus >"$tmp/apt.log" 2>&1); then
	# No package lists yet (a fresh machine): read them once.
	sudo=()
	if [[ $(id -u) != 0 ]]; then
		sudo=(sudo)
	fi
	"${sudo[@]}" apt-get update -q >>"$tmp/apt.log" 2>&1 || true
	(cd "$tmp" && apt-get download prometheus >>"$tmp/apt.log" 2>&1) || {
		tail -n 20 "$tmp/apt.log" >&2
		exit 1
	}
fi
dpkg -x "$tmp"/prometheus_*.deb "$tmp/pkg"
mkdir -p "$cache"
install -m 0755 "$tmp/pkg/usr/bin/promtool" "$cache/promtool"
echo "$cache/promtool"
