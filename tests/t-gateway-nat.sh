#!/usr/bin/env bash
# A worker behind NAT (issue 10): the lab's worker namespace sits behind a
# NAT router namespace (nftables masquerade), the hub has no route to it,
# and the worker's results reach the hub only through the gateway, over
# HTTP with curl (hopmap-ship send URL --key, hopmap-worker --gateway).
# Every result is stored once, through a restart of the hub's daemon and a
# cut link.  Everything stays inside the lab's namespaces.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"

lab=hmn$$
lab_nat_up "$lab"

# ---- the NAT lab: the worker reaches out, nobody reaches in ----
same "lab: the worker's one route leads into the lab through the NAT router" \
    "$(ip -n "$workerns" route show | grep -v 'scope link' | tr -s ' ')" \
    "198.18.0.0/15 via 100.64.0.1 dev to-nat "
same "lab: the worker reaches the hub and a target" \
    "$(ip netns exec "$workerns" fping -t 500 -r 3 "$LAB_HUB_IP" 198.19.1.5 2>&1)" \
    "$LAB_HUB_IP is alive
198.19.1.5 is alive"
for n in hub r1; do
	check "lab: $n has no way to the worker's address" \
	    bash -c "! ip netns exec $lab-$n fping -t 300 -r 0 $LAB_NAT_WORKER_IP >/dev/null 2>&1"
done
check "lab: no namespace has a route to the worker's network" \
    bash -c "! for ns in \$(ip netns list | awk '{ print \$1 }' | grep '^$lab-' | grep -v -e '-w\$' -e '-nat\$'); do ip -n \$ns route get $LAB_NAT_WORKER_IP 2>/dev/null; done | grep -q ."
# A connection from the worker arrives from the NAT router's outside address.
ip netns exec "$hubns" timeout 10 socat TCP-LISTEN:25001,bind="$LAB_HUB_IP" \
    SYSTEM:'echo $SOCAT_PEERADDR' 2>/dev/null &
lpid=$!
until_ok 10 ip netns exec "$hubns" sh -c "ss -Hltn 'sport = :25001' | grep -q ."
same "lab: the hub sees the worker as the NAT router's address" \
    "$(ip netns exec "$workerns" socat -T 5 - "TCP:$LAB_HUB_IP:25001" </dev/null)" "$LAB_NAT_IP"
wait "$lpid"
lab_nat_cut
check "lab: a cut link carries nothing" \
    bash -c "! ip netns exec $workerns fping -t 300 -r 0 $LAB_HUB_IP >/dev/null 2>&1"
lab_nat_restore
check "lab: a restored link carries again" \
    ip netns exec "$workerns" fping -t 500 -r 3 -q "$LAB_HUB_IP"
