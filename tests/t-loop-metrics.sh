#!/usr/bin/env bash
# hopmap-loop --metrics during a round: the file is written at each stage's
# end (admitted, probed, traced, stored, hops extracted), not only after
# the round, so a long round is watched as it goes.  The sink of the round
# here waits for the test's word before it ends, holding the round open;
# the probes go to 127.0.0.0/8 in a network namespace of the test's own.
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" -ne 0 ]; then
	skip "needs root for a network namespace"
	exit 0
fi
prom=$T/loop.prom
printf '%s\n' 127.0.0.1 127.0.0.2 127.0.0.3 >"$T/seeds"
# metric NAME: its value in the file now (empty when absent)
metric() { sed -n "s/^hopmap_$1{program=\"hopmap-loop\"} //p" "$prom" 2>/dev/null; }
is() { [ "$(metric "$1")" = "$2" ]; }

unshare -n sh -c 'ip link set lo up && exec "$@"' sh \
    hopmap-loop -R -d "$T/state" --rounds 1 --timeout 300ms --wait 300ms \
    --max-ttl 2 --no-extract --metrics "$prom" \
    --sink-cmd "cat >'$T/sunk'; until [ -e '$T/go' ]; do sleep 0.1; done" \
    "$T/seeds" 2>"$T/err" &
loop=$!
cleanup_hooks+=("touch '$T/go'; kill $loop 2>/dev/null; wait $loop")

check "during the round: the probes' and the traces' ends are in the file" \
    until_ok 120 is round_stage 3
same "during the round: its targets, its results so far, no round done yet" \
    "$(metric round_targets):$(metric round_results):$(metric rounds_total)" "3:3:0"
check "the round is still open (the sink has not ended)" kill -0 "$loop"
touch "$T/go"
wait "$loop"
same "after the round: exit 0" "$?" 0
same "after the round: one done, nothing in progress" \
    "$(metric rounds_total):$(metric round_stage):$(metric round_targets):$(metric targets_probed_total)" \
    "1:0:0:3"
check "--metrics: the round's gauges have their help" \
    grep -q '^# HELP hopmap_round_stage ' "$prom"
