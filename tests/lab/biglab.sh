#!/usr/bin/env bash
# tests/lab/biglab.sh: a big Internet inside network namespaces, for
# measuring discovery (issue 12): a few hundred routers behind one vantage.
#
#   tests/lab/biglab.sh up PREFIX [--routers N] [--prefixes P] [--seed S]
#                          [--realistic]
#   tests/lab/biglab.sh down PREFIX
#   . tests/lab/biglab.sh; biglab_up PREFIX [options]; ...; biglab_down
#
# The shape (tests/lab/biglab.awk draws it from the seed; the same seed
# gives the same lab): the vantage PREFIX-v hangs off r1; a shared core r1 -
# r2, a two-way per-flow diamond, r7 (TTL 6); below it chains and branches
# grown at random down to TTL 15, with more per-flow diamonds (two or
# three ways, one or two hops long) in several places.  Each answering /24
# is routed "local" on a router at TTL 8 or more (every address answers
# ping there), first on the childless ones; one router in 25 below the core
# is silent (no ICMP errors at all); about one prefix in 30 more is dark
# (blackhole or unreachable at some router).  Diamonds hash per flow on
# addresses, protocol and ports (fib_multipath_hash_policy 3, fields 0x37,
# as lab.sh's: policy 1 is random on veth).  ICMP error limits are lifted
# on every router but the silent ones; --realistic keeps the kernel's
# defaults everywhere (a burst of about six errors, then one a second, to a
# given source).  The vantage has one route, 198.18.0.0/15 via r1: nothing
# leads out of the lab, and the root namespace is never touched.
#
# Defaults: 300 routers, 300 answering /24s, seed 1.  Build time here
# (2 cores, loaded): about 10 s for 300 routers; teardown about as long.
#
# The truth, $LAB_TOPO ($LAB_DIR/topology.txt), lab.sh's words and more:
#   vantage v ADDR ns=NS
#   router NAME addr=ADDR ttl=N ns=NS ifaces=A,B,.. [silent] [ecmp]
#                          ADDR answers ICMP errors; ifaces: all its own
#   target PREFIX node=NAME ttl=N        an answering /24, answered at ttl
#   blackhole|unreachable PREFIX node=NAME ttl=N
#   path PREFIX HOP1 HOP2 ...            the router hops (reply addresses,
#        "*" if silent) before the destination, one line per ECMP path;
#        for a dark prefix, down to and with the node that holds it
#   last PREFIX ADDR                     a hop just before the destination
#   link A B                             consecutive answering hops on a
#        path to an answering /24: every link a perfect tracer could find
#   iface ADDR                           every answering hop on those paths
# and exports LAB_PREFIX LAB_DIR LAB_TOPO LAB_VANTAGE LAB_VANTAGE_IP.
# lab_ns and lab_exec (lab.sh's) work on it too.

_biglab_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_biglab_here/lab.sh"

biglab_down() {
	local p=${1:-${LAB_PREFIX:-}}
	[ -n "$p" ] || return 0
	# One ip for all the deletions, then lab.sh's sweep for stragglers.
	ip netns list 2>/dev/null | awk -v p="$p-" \
	    'index($1, p) == 1 { print "netns del " $1 }' |
	    ip -force -batch - 2>/dev/null
	lab_down "$p"
}

biglab_up() {
	local routers=300 prefixes=300 seed=1 realistic=0
	LAB_PREFIX=${1:-hmb$$}
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		--routers) routers=${2:-}; shift ;;
		--prefixes) prefixes=${2:-}; shift ;;
		--seed) seed=${2:-}; shift ;;
		--realistic) realistic=1 ;;
		*) echo "biglab: unknown option $1" >&2; return 2 ;;
		esac
		shift
	done
	case $routers:$prefixes:$seed in
	*[!0-9:]* | :* | *::* | *:) echo "biglab: --routers, --prefixes and --seed are numbers" >&2
		return 2 ;;
	esac
	if [ "${#seed}" -gt 9 ]; then
		echo "biglab: --seed is at most 9 digits" >&2
		return 2
	fi
	# 1,000 links fit 198.18.0.0/20; the /24s 198.18.16.0 to 198.19.255.0.
	if [ "$routers" -lt 20 ] || [ "$routers" -gt 900 ]; then
		echo "biglab: --routers is 20 to 900" >&2
		return 2
	fi
	if [ "$prefixes" -lt 1 ] || [ "$prefixes" -gt 470 ]; then
		echo "biglab: --prefixes is 1 to 470" >&2
		return 2
	fi
	LAB_DIR=${TMPDIR:-/tmp}/hopmap-lab.$LAB_PREFIX
	LAB_TOPO=$LAB_DIR/topology.txt
	LAB_VANTAGE=$LAB_PREFIX-v
	LAB_VANTAGE_IP=198.18.0.1
	export LAB_PREFIX LAB_DIR LAB_TOPO LAB_VANTAGE LAB_VANTAGE_IP
	biglab_down "$LAB_PREFIX"
	mkdir -p "$LAB_DIR/ns" || return 1
	awk -v prefix="$LAB_PREFIX" -v dir="$LAB_DIR" -v seed="$seed" \
	    -v routers="$routers" -v prefixes="$prefixes" \
	    -v realistic="$realistic" -f "$_biglab_here/biglab.awk" </dev/null ||
	    { biglab_down "$LAB_PREFIX"; return 1; }
	_biglab_build "$realistic" "$seed" || { biglab_down "$LAB_PREFIX"; return 1; }
}

# Namespaces, then their knobs (before any traffic: banked ICMP credits
# would hide a lower limit), then the wires, then each one's addresses and
# routes in one ip -batch.
_biglab_build() {
	local realistic=$1 seed=$2 ns role n hashseed=0
	# Kernels from 6.11 take the ECMP hash's seed: one of its own for each
	# router (a seed shared would send a flow the same way at every split),
	# the same in every run of a lab's seed (else random ones).
	[ -e /proc/sys/net/ipv4/fib_multipath_hash_seed ] && hashseed=1
	ip -batch "$LAB_DIR/netns.batch" || return 1
	while read -r ns role; do
		local kv="net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
		    net.ipv4.conf.default.rp_filter=0"
		case $role in
		silent) kv+=" net.ipv4.icmp_msgs_per_sec=0 net.ipv4.icmp_msgs_burst=0" ;;
		*) [ "$realistic" = 1 ] || kv+=" net.ipv4.icmp_ratelimit=0
		    net.ipv4.icmp_msgs_per_sec=1000000 net.ipv4.icmp_msgs_burst=1000000" ;;
		esac
		[ "$role" = ecmp ] && kv+=" net.ipv4.fib_multipath_hash_policy=3
		    net.ipv4.fib_multipath_hash_fields=0x0037"
		[ "$role:$hashseed" = ecmp:1 ] && kv+=" net.ipv4.fib_multipath_hash_seed=$(((seed * 1009 + ${ns##*-r}) % 2147483647 + 1))"
		# shellcheck disable=SC2086 # kv is a list of words
		nsenter --net="/run/netns/$ns" sysctl -q -w $kv >/dev/null ||
		    return 1
	done <"$LAB_DIR/sysctl.list"
	ip -batch "$LAB_DIR/links.batch" || return 1
	for n in "$LAB_DIR"/ns/*; do
		ip -n "$LAB_PREFIX-${n##*/}" -batch "$n" || return 1
	done
}

# Standalone use.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	usage="usage: $0 up PREFIX [--routers N] [--prefixes P] [--seed S] [--realistic] | down PREFIX"
	case ${1:-}:$# in
	up:[2-9] | up:[1-9][0-9])
		shift
		t0=$(date +%s.%N)
		biglab_up "$@"
		rc=$?
		[ $rc = 2 ] && exit 2	# bad usage, nothing built
		[ $rc = 0 ] || exit 3
		echo "$LAB_TOPO"
		awk -v t0="$t0" -v t1="$(date +%s.%N)" '$1 == "router" { r++ }
		    $1 == "target" { p++ } $1 == "link" { l++ }
		    END { printf "biglab: %d routers, %d answering /24s, %d links, built in %.1f s\n",
		    r, p, l, t1 - t0 }' "$LAB_TOPO" >&2
		;;
	down:2)
		biglab_down "$2"
		;;
	*)
		echo "$usage" >&2
		exit 2
		;;
	esac
fi
