#!/usr/bin/env bash
# tests/lab/lab.sh: a small Internet inside network namespaces, for probing
# tests that must never send a packet off this machine.
#
#   . tests/lab/lab.sh; lab_up [PREFIX]; ...; lab_down      (from a test)
#   tests/lab/lab.sh up PREFIX | down PREFIX                 (standalone)
#
# Every namespace is named PREFIX-NODE (PREFIX defaults to hml$$, so
# concurrent runs never meet).  The vantage namespace PREFIX-v has one
# interface, towards r1, and one route, 198.18.0.0/15 via r1: nothing leads
# out of the lab, and the root namespace is never touched.
#
# The default topology (TTL as seen from the vantage point):
#
#   v -- r1 -+- l0                              198.19.0.0/24 at ttl 2
#            +- r2a -- r3a -- l1                198.19.1.0/24 at ttl 4
#            |    \      \__ unreachable        198.19.201.0/24 (!H from r3a)
#            |     \__ blackhole                198.19.200.0/24 (dark past r1)
#            +- r2b -- r3b(silent) -- l2        198.19.2.0/24 at ttl 4
#            +- d0 -+- dA1 -- dA2 -+- d3 -- l3  198.19.3.0/24 at ttl 6
#                   +- dB1 -- dB2 -+
#
# d0 splits per flow over the two branches of the diamond (L4 hash:
# addresses, protocol and ports).  Leaves answer for every address of their
# /24 (ip route add local ... dev lo); routers answer pings on their link
# addresses.  LAB_EXTRA=K adds K routers x1..xK in a binary tree under r1,
# each answering for 198.19.(10+i).0/24 (K <= 180), for bigger demos.
# LAB_REALISTIC=1 keeps the kernel's ICMP error rate limits; otherwise they
# are lifted on every router except the silent one.
#
# LAB_VANTAGES=N (default 1) adds vantage namespaces PREFIX-v2 .. PREFIX-vN,
# each on its own /30 to r1 (numbered after every other link) with the one
# route 198.18.0.0/15 via r1, like v.  r1 answers every vantage from its
# reply address (a prefsrc on the vantage routes), so hop lists, paths and
# links are the same from each.  LAB_HUB=1 adds PREFIX-hub, also hung off r1
# with a /30 and that one route: a collector that every vantage reaches
# through the lab (for TCP transports); it is no vantage and no target.
# LAB_NAT=1 adds a worker behind NAT (lab_nat_up): PREFIX-nat, a router hung
# off r1 like the hub, and PREFIX-w behind it on 100.64.0.0/30 (the shared
# address space of carrier-grade NAT), whose one route is 198.18.0.0/15 via
# the router; the router masquerades what leaves to r1 and forwards nothing
# new inwards, and no namespace has a route to 100.64/10: the worker
# reaches the hub and the targets, nobody reaches the worker.
#
# lab_up writes the topology as data to $LAB_TOPO ($LAB_DIR/topology.txt):
#   vantage NAME ADDR ns=NS                      one line per vantage
#   hub hub ADDR ns=NS                           with LAB_HUB=1
#   nat nat ADDR ns=NS                           with LAB_NAT=1, ADDR its
#   natted w ADDR ns=NS via=nat                  outside; w's inside ADDR
#   router NAME addr=ADDR ttl=N ns=NS [silent]   ADDR answers ICMP errors
#   target PREFIX node=NAME ttl=N                the destination's ttl
#   blackhole PREFIX node=NAME ttl=N             NAME drops it silently
#   unreachable PREFIX node=NAME ttl=N           NAME answers host unreachable
#   path PREFIX HOP1 HOP2 ...                    the router hops before the
#        one at ttl (one line per ECMP path; "*" for the silent router)
#   link A B                                     consecutive answering hops
# and exports LAB_PREFIX LAB_DIR LAB_TOPO LAB_VANTAGE LAB_VANTAGE_IP, and
# LAB_VANTAGE_NAMES ("v v2 ... vN") and LAB_HUB_IP (empty without a hub),
# LAB_NAT_IP and LAB_NAT_WORKER_IP (empty without LAB_NAT).
# lab_ns NODE prints a node's namespace; lab_exec NODE CMD... runs in it.

# The node list: name, parents (comma separated; the first is the way back
# up), role, and for leaves the third octet of the /24 they answer.
_lab_spec() {
	cat <<'EOF'
r1  -       router
l0  r1      leaf 0
r2a r1      router
r3a r2a     router
l1  r3a     leaf 1
r2b r1      router
r3b r2b     silent
l2  r3b     leaf 2
d0  r1      ecmp
dA1 d0      router
dA2 dA1     router
dB1 d0      router
dB2 dB1     router
d3  dA2,dB2 router
l3  d3      leaf 3
EOF
	local i k=${LAB_EXTRA:-0}
	for ((i = 1; i <= k; i++)); do
		if ((i == 1)); then echo "x1 r1 leaf 11"
		else echo "x$i x$((i / 2)) leaf $((10 + i))"; fi
	done
}
# Dark prefixes: kind, third octet, the node that holds the route.
_LAB_DARK="blackhole 200 r2a
unreachable 201 r3a"

lab_ns() { echo "$LAB_PREFIX-$1"; }
# lab_vantage_ns K: the namespace of vantage K (1 is PREFIX-v).
lab_vantage_ns() { if [ "$1" = 1 ]; then lab_ns v; else lab_ns "v$1"; fi; }
# lab_fleet_up PREFIX (from a test, after lib.sh): the lab with three
# vantages and a hub, taken down at the test's exit; sets hubns.  A test
# that is not root says why it skips and exits.
lab_fleet_up() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root for network namespaces"
		exit 0
	fi
	cleanup_hooks+=("lab_down $1")
	LAB_VANTAGES=3 LAB_HUB=1 lab_up "$1" >/dev/null ||
	    { echo "not ok - lab_up"; exit 1; }
	hubns=$(lab_ns hub)
}
# lab_nat_up PREFIX (from a test, after lib.sh): the lab with a hub and a
# worker behind NAT, taken down at the test's exit; sets hubns, natns and
# workerns.  lab_nat_cut and lab_nat_restore cut the worker's link and
# mend it: the NAT router drops everything it would forward, so packets
# vanish as on a dead link (connections stall, nothing is refused).
lab_nat_up() {
	if [ "$(id -u)" -ne 0 ]; then
		skip "needs root for network namespaces"
		exit 0
	fi
	if ! command -v nft >/dev/null; then
		skip "needs nft (nftables) for the NAT router"
		exit 0
	fi
	cleanup_hooks+=("lab_down $1")
	LAB_HUB=1 LAB_NAT=1 lab_up "$1" >/dev/null ||
	    { echo "not ok - lab_up (NAT)"; exit 1; }
	hubns=$(lab_ns hub) natns=$(lab_ns nat) workerns=$(lab_ns w)
}
lab_nat_cut() {
	ip netns exec "$LAB_PREFIX-nat" nft add rule ip hopmap_nat cut drop
}
lab_nat_restore() {
	ip netns exec "$LAB_PREFIX-nat" nft flush chain ip hopmap_nat cut
}
lab_exec() {
	local n=$1
	shift
	ip netns exec "$LAB_PREFIX-$n" "$@"
}

# Address of side s (1 parent, 2 child) of link number i: /30s in 198.18/16.
_lab_linkaddr() {
	local b=$((4 * $1 + $2))
	echo "198.18.$((b >> 8)).$((b & 255))"
}
_lab_linknet() {
	local b=$((4 * $1))
	echo "198.18.$((b >> 8)).$((b & 255))/30"
}

lab_down() {
	local p=${1:-${LAB_PREFIX:-}} ns
	[ -n "$p" ] || return 0
	for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
		case $ns in "$p"-*) ip netns del "$ns" 2>/dev/null ;; esac
	done
	rm -rf "${TMPDIR:-/tmp}/hopmap-lab.$p"
}

lab_up() {
	LAB_PREFIX=${1:-hml$$}
	LAB_DIR=${TMPDIR:-/tmp}/hopmap-lab.$LAB_PREFIX
	LAB_TOPO=$LAB_DIR/topology.txt
	LAB_VANTAGE=$LAB_PREFIX-v
	LAB_VANTAGE_IP=$(_lab_linkaddr 0 1)
	LAB_VANTAGE_NAMES=v LAB_HUB_IP='' LAB_NAT_IP='' LAB_NAT_WORKER_IP=''
	export LAB_PREFIX LAB_DIR LAB_TOPO LAB_VANTAGE LAB_VANTAGE_IP
	export LAB_VANTAGE_NAMES LAB_HUB_IP LAB_NAT_IP LAB_NAT_WORKER_IP
	if [ "${LAB_EXTRA:-0}" -gt 180 ]; then
		echo "lab: LAB_EXTRA is at most 180" >&2
		return 1
	fi
	case ${LAB_VANTAGES:-1} in
	[1-9] | [1-9][0-9]) ;;
	*) echo "lab: LAB_VANTAGES is 1 to 99" >&2; return 1 ;;
	esac
	lab_down "$LAB_PREFIX"
	mkdir -p "$LAB_DIR" || return 1
	_lab_build || { lab_down "$LAB_PREFIX"; return 1; }
}

# Collect the nodes, links, and which prefixes lie below which child.
_lab_build() {
	local -A parents role octet up ttl addr below
	local -a order
	local name par r o n p i=1 c

	while read -r name par r o; do
		order+=("$name")
		parents[$name]=$par role[$name]=$r octet[$name]=${o:-}
	done < <(_lab_spec)
	# Links: link 0 joins v and r1; each parent edge gets the next /30.
	local -A linkno
	local -a links=("v r1")
	for n in "${order[@]}"; do
		[ "${parents[$n]}" = - ] && { linkno["v:$n"]=0; continue; }
		for p in ${parents[$n]//,/ }; do
			linkno["$p:$n"]=$i
			links+=("$p $n")
			i=$((i + 1))
		done
	done
	# Reply address: the child side of the first parent link; ttl: depth.
	for n in "${order[@]}"; do
		p=${parents[$n]%%,*}
		[ "$p" = - ] && p=v
		up[$n]=$p
		addr[$n]=$(_lab_linkaddr "${linkno["$p:$n"]}" 2)
		if [ "$p" = v ]; then ttl[$n]=1; else ttl[$n]=$((ttl[$p] + 1)); fi
	done
	# Prefixes owned by each node: its leaf /24, its child links, dark ones.
	local -A own
	for n in "${order[@]}"; do
		[ -n "${octet[$n]}" ] && own[$n]+=" 198.19.${octet[$n]}.0/24"
	done
	for c in "${!linkno[@]}"; do
		p=${c%%:*}
		[ "$p" = v ] || own[$p]+=" $(_lab_linknet "${linkno[$c]}")"
	done
	while read -r r o n; do own[$n]+=" 198.19.$o.0/24"; done <<<"$_LAB_DARK"
	# below[n]: every prefix owned by n or by anything under it.
	local changed=1
	for n in "${order[@]}"; do below[$n]=${own[$n]:-}; done
	while [ $changed = 1 ]; do
		changed=0
		for c in "${!linkno[@]}"; do
			p=${c%%:*} n=${c#*:}
			[ "$p" = v ] && continue
			for o in ${below[$n]}; do
				case " ${below[$p]} " in *" $o "*) ;;
				*) below[$p]+=" $o"; changed=1 ;; esac
			done
		done
	done
	_lab_namespaces || return 1
	_lab_wire || return 1
	_lab_routes || return 1
	_lab_write_topology || return 1
	_lab_extra_vantages "${#links[@]}"
}

# v2..vN and the hub: leaves of r1 on the /30s after every other link, so
# the addresses of the default lab never move.  Replacing r1's connected
# route with one that has src = r1's reply address makes its ICMP errors
# towards them come from that address, as they do towards v.
_lab_extra_vantages() {
	local k=$1 n i r1addr lines=
	local -a extra=()
	r1addr=$(_lab_linkaddr 0 2)
	for ((i = 2; i <= ${LAB_VANTAGES:-1}; i++)); do extra+=("v$i"); done
	[ "${LAB_HUB:-0}" = 1 ] && extra+=(hub)
	[ "${LAB_NAT:-0}" = 1 ] && extra+=(nat)
	for n in "${extra[@]}"; do
		_lab_leaf_of_r1 "$n" "$k" "$r1addr" || return 1
		if [ "$n" = hub ]; then
			LAB_HUB_IP=$(_lab_linkaddr "$k" 1)
			lines+="hub hub $LAB_HUB_IP ns=$LAB_PREFIX-hub"$'\n'
		elif [ "$n" = nat ]; then
			LAB_NAT_IP=$(_lab_linkaddr "$k" 1)
			_lab_natted || return 1
			lines+="nat nat $LAB_NAT_IP ns=$LAB_PREFIX-nat"$'\n'
			lines+="natted w $LAB_NAT_WORKER_IP ns=$LAB_PREFIX-w via=nat"$'\n'
		else
			LAB_VANTAGE_NAMES+=" $n"
			lines+="vantage $n $(_lab_linkaddr "$k" 1) ns=$LAB_PREFIX-$n"$'\n'
		fi
		k=$((k + 1))
	done
	# The vantage lines stay together, after the first one.
	[ -n "$lines" ] || return 0
	awk -v add="$lines" '{ print } /^vantage v / { printf "%s", add }' \
	    "$LAB_TOPO" >"$LAB_TOPO.new" && mv "$LAB_TOPO.new" "$LAB_TOPO"
}

# The worker behind the NAT router: a /30 of 100.64/10 that nothing else
# routes, masquerade out of to-r1, inwards only what conntrack knows (the
# answers, and the ICMP errors about the worker's probes, which are
# translated back), and an empty chain "cut" that lab_nat_cut fills.
_lab_natted() {
	local ns=$LAB_PREFIX-w nat=$LAB_PREFIX-nat
	LAB_NAT_WORKER_IP=100.64.0.2
	ip netns add "$ns" || return 1
	_lab_sysctls w || return 1
	ip -n "$nat" link add to-w type veth peer name to-nat netns "$ns" ||
	    return 1
	printf '%s\n' "addr add 100.64.0.1/30 dev to-w" "link set to-w up" |
	    ip -n "$nat" -batch - || return 1
	printf '%s\n' "link set lo up" "addr add $LAB_NAT_WORKER_IP/30 dev to-nat" \
	    "link set to-nat up" "route add 198.18.0.0/15 via 100.64.0.1" |
	    ip -n "$ns" -batch - || return 1
	ip netns exec "$nat" nft -f - <<'EOF'
table ip hopmap_nat {
	chain cut {
		type filter hook forward priority -10; policy accept;
	}
	chain forward {
		type filter hook forward priority 0; policy drop;
		iifname "to-w" oifname "to-r1" accept
		ct state established,related accept
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "to-r1" masquerade
	}
}
EOF
}

_lab_leaf_of_r1() {
	local n=$1 k=$2 r1addr=$3 ns=$LAB_PREFIX-$1 r1=$LAB_PREFIX-r1
	ip netns add "$ns" || return 1
	_lab_sysctls "$n" || return 1
	ip -n "$r1" link add "to-$n" type veth peer name to-r1 netns "$ns" ||
	    return 1
	ip -n "$ns" addr add "$(_lab_linkaddr "$k" 1)/30" dev to-r1 || return 1
	ip -n "$r1" addr add "$(_lab_linkaddr "$k" 2)/30" dev "to-$n" || return 1
	printf '%s\n' "link set lo up" "link set to-r1 up" \
	    "route add 198.18.0.0/15 via $(_lab_linkaddr "$k" 2)" |
	    ip -n "$ns" -batch - || return 1
	printf '%s\n' "link set to-$n up" \
	    "route replace $(_lab_linknet "$k") dev to-$n src $r1addr" |
	    ip -n "$r1" -batch -
}

_lab_namespaces() {
	local n
	for n in v "${order[@]}"; do
		ip netns add "$LAB_PREFIX-$n" || return 1
		_lab_sysctls "$n" || return 1
	done
}

# Kernel knobs, set before any traffic (banked ICMP credits would hide a
# lower limit).  Forwarding everywhere; no reverse-path filter, because the
# diamond's replies come back by one branch whatever the probe took.
_lab_sysctls() {
	local n=$1 r=${role[$1]:-vantage}
	local -a kv=(net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
	    net.ipv4.conf.default.rp_filter=0)
	if [ "$r" = silent ]; then
		kv+=(net.ipv4.icmp_msgs_per_sec=0 net.ipv4.icmp_msgs_burst=0)
	elif [ "${LAB_REALISTIC:-0}" != 1 ]; then
		kv+=(net.ipv4.icmp_ratelimit=0 net.ipv4.icmp_msgs_per_sec=1000000
		    net.ipv4.icmp_msgs_burst=1000000)
	fi
	if [ "$r" = ecmp ]; then
		kv+=(net.ipv4.fib_multipath_hash_policy=3
		    net.ipv4.fib_multipath_hash_fields=0x0037)
	fi
	ip netns exec "$LAB_PREFIX-$n" sysctl -q -w "${kv[@]}" >/dev/null
}

# veth pairs, made in the parent namespace with the peer put straight into
# the child's, so no interface ever exists in the root namespace.
_lab_wire() {
	local l p c k
	for l in "${links[@]}"; do
		read -r p c <<<"$l"
		k=${linkno["$p:$c"]}
		ip -n "$LAB_PREFIX-$p" link add "to-$c" type veth peer name \
		    "to-$p" netns "$LAB_PREFIX-$c" || return 1
		ip -n "$LAB_PREFIX-$p" addr add "$(_lab_linkaddr "$k" 1)/30" \
		    dev "to-$c" || return 1
		ip -n "$LAB_PREFIX-$c" addr add "$(_lab_linkaddr "$k" 2)/30" \
		    dev "to-$p" || return 1
	done
}

_lab_routes() {
	local n b f o c p hops
	{
		echo "link set lo up"
		echo "link set to-r1 up"
		echo "route add 198.18.0.0/15 via $(_lab_linkaddr 0 2)"
	} >"$LAB_DIR/v.batch"
	for n in "${order[@]}"; do
		b=$LAB_DIR/$n.batch
		echo "link set lo up" >"$b"
		for c in "${!linkno[@]}"; do
			case $c in "$n":*) echo "link set to-${c#*:} up" >>"$b" ;;
			*:"$n") echo "link set to-${c%%:*} up" >>"$b" ;; esac
		done
		# Back up: everything of the lab not below us, via the first
		# parent (r1 has none: the vantage's /30 is on its own link).
		p=${up[$n]}
		[ "$p" = v ] || echo "route add 198.18.0.0/15 via \
$(_lab_linkaddr "${linkno["$p:$n"]}" 1)" >>"$b"
		[ -n "${octet[$n]}" ] && echo \
		    "route add local 198.19.${octet[$n]}.0/24 dev lo" >>"$b"
		# Down: each prefix below a child, via every child that has it.
		for o in ${below[$n]}; do
			case " ${own[$n]:-} " in *" $o "*) continue ;; esac
			hops=
			for c in "${!linkno[@]}"; do
				[ "${c%%:*}" = "$n" ] || continue
				case " ${below[${c#*:}]} " in *" $o "*)
					hops+=" nexthop via $(_lab_linkaddr \
					    "${linkno[$c]}" 2)" ;;
				esac
			done
			case $hops in
			*nexthop*nexthop*) echo "route add $o$hops" ;;
			*) echo "route add $o${hops# nexthop}" ;;
			esac >>"$b"
		done
	done
	while read -r f o n; do
		echo "route add $f 198.19.$o.0/24" >>"$LAB_DIR/$n.batch"
	done <<<"$_LAB_DARK"
	for n in v "${order[@]}"; do
		ip -n "$LAB_PREFIX-$n" -batch "$LAB_DIR/$n.batch" || return 1
	done
}

# Every path from r1 down to node $1, as reply addresses ("*" if silent).
_lab_paths() {
	local n=$1 p hop
	hop=${addr[$n]}
	[ "${role[$n]}" = silent ] && hop='*'
	if [ "${parents[$n]}" = - ]; then
		echo "$hop"
		return
	fi
	for p in ${parents[$n]//,/ }; do
		_lab_paths "$p" | sed "s/\$/ $hop/"
	done
}

_lab_write_topology() {
	local n f o pfx line c
	{
		echo "# hopmap lab topology, written by tests/lab/lab.sh"
		echo "vantage v $LAB_VANTAGE_IP ns=$LAB_VANTAGE"
		for n in "${order[@]}"; do
			line="router $n addr=${addr[$n]} ttl=${ttl[$n]} ns=$LAB_PREFIX-$n"
			[ "${role[$n]}" = silent ] && line+=" silent"
			echo "$line"
		done
		for n in "${order[@]}"; do
			[ -n "${octet[$n]}" ] || continue
			pfx=198.19.${octet[$n]}.0/24
			echo "target $pfx node=$n ttl=${ttl[$n]}"
			[ "${up[$n]}" = v ] && { echo "path $pfx"; continue; }
			_lab_paths "${up[$n]}" | sort -u | sed "s|^|path $pfx |"
		done
		while read -r f o n; do
			pfx=198.19.$o.0/24
			echo "$f $pfx node=$n ttl=${ttl[$n]}"
			if [ "${up[$n]}" = v ]; then echo "path $pfx"
			else _lab_paths "${up[$n]}" | sed "s|^|path $pfx |"; fi
		done <<<"$_LAB_DARK"
		for c in "${!linkno[@]}"; do
			f=${c%%:*} n=${c#*:}
			[ "$f" = v ] && continue
			[ "${role[$f]}" = silent ] || [ "${role[$n]}" = silent ] \
			    && continue
			echo "link ${addr[$f]} ${addr[$n]}"
		done | sort
	} >"$LAB_TOPO"
}

# Standalone use.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -u
	case ${1:-} in
	up)
		[ $# -eq 2 ] || { echo "usage: $0 up|down PREFIX" >&2; exit 2; }
		lab_up "$2" || exit 3
		echo "$LAB_TOPO"
		;;
	down)
		[ $# -eq 2 ] || { echo "usage: $0 up|down PREFIX" >&2; exit 2; }
		lab_down "$2"
		;;
	*)
		echo "usage: $0 up|down PREFIX" >&2
		exit 2
		;;
	esac
fi
