#!/usr/bin/env bash
# --stats (interleave: -s too) of the filters: at exit, the run in numbers on
# standard error in the probers' style (each counter, the bad lines by
# reason, the time and the rate), from the one printer in lib/core/stats.c;
# the output itself unchanged, and nothing of it without the option.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP

printf '%s\n' 198.18.0.0/30 bogus 198.18.1.0/33 198.18.2.0/31 >"$T/ranges"
printf '%s\n' 198.18.0.1 'not an ip' '{"ip":"198.18.0.2"}' 198.18.0.1 '{"x":1}' >"$T/targets"
trace='{"ip":"198.19.1.7","trace":{"hops":[{"ttl":1,"ip":"198.18.0.1"},{"ttl":2,"ip":"198.18.0.5"},{"ttl":3,"ip":"198.19.1.7"}],"stop":"completed"}}'
{ echo "$trace"; echo "$trace"; echo '{"ip":"198.19.1.8"}'; echo '{'; } >"$T/traces"

# stats PROG OPTION INPUT ARGS...: run without and with OPTION; the same
# output and status, and the summary in $T/err.  An @ in ARGS is a fresh
# directory for each run.
stats() {
	local prog=$1 opt=$2 input=$3
	shift 3
	mkdir -p "$T/plain" "$T/stats"
	"$prog" "${@//@/$T/plain}" <"$input" >"$T/plain.out" 2>"$T/plain.err"
	local prc=$?
	"$prog" "$opt" "${@//@/$T/stats}" <"$input" >"$T/out" 2>"$T/err"
	rc=$?
	same "$prog $opt: the same output and status" "$rc:$(md5sum <"$T/out")" \
	    "$prc:$(md5sum <"$T/plain.out")"
	check "$prog: without it, no summary" \
	    sh -c "! grep -q 'elapsed\$' '$T/plain.err'"
	check "$prog $opt: the time elapsed" grep -Eq "^$prog: [0-9]+\.[0-9]{3} s elapsed\$" "$T/err"
	check "$prog: --help and $prog(1) name it" \
	    sh -c "'$prog' --help | grep -q -- '--stats' && grep -q '^\.It Fl.* -stats\$' '$top/man/$prog.1'"
}

stats cidr-expand --stats "$T/ranges" -R
check "cidr-expand: counters, bad lines by reason" has_all "$T/err" \
    '^cidr-expand: 6 addresses written$' '^cidr-expand: 2 bad lines$' \
    '^cidr-expand:   1 not an address, prefix or range$' \
    '^cidr-expand:   1 bad prefix length$'

stats cooldown --stats "$T/targets"
check "cooldown: read, passed, held back, bad" has_all "$T/err" \
    '^cooldown: 5 records read$' '^cooldown: 2 targets passed' \
    '^cooldown: 1 targets dropped' '^cooldown: 1 non-target records passed' \
    '^cooldown: 1 bad line$' '^cooldown:   1 neither a JSON object nor an IPv4 address$'

stats hopextract --stats "$T/traces" -R
check "hopextract: traces, hops, duplicates, bad" has_all "$T/err" \
    '^hopextract: 4 records read$' '^hopextract: 2 records with a good trace$' \
    '^hopextract: 2 new hop targets written$' '^hopextract: 2 hops emitted before, dropped$' \
    '^hopextract: 1 bad line$'

stats interleave -s "$T/targets"
check "interleave -s: read, written, bad" has_all "$T/err" \
    '^interleave: 5 records read$' '^interleave: 3 target records written$' \
    '^interleave: 1 bad line$'
interleave --stats <"$T/targets" >/dev/null 2>"$T/err2"
same "interleave: --stats is -s" "$(grep -c elapsed "$T/err2")" 1

# sqlsink: into a database; a duplicate, a refused session on the socket.
printf '%s\n' '{"ip":"198.18.0.1","node":"a","id":"a:1","ping":{"ok":true}}' \
    '{"ip":"198.18.0.1","node":"a","id":"a:1","ping":{"ok":true}}' 'junk' \
    '{"ip":"198.18.0.2","node":"a","id":"a:2","ping":{"ok":true}}' >"$T/records"
stats sqlsink --stats "$T/records" @/map.db
check "sqlsink: stored, duplicates, commits, rotations, bad" has_all "$T/err" \
    '^sqlsink: 4 lines read$' '^sqlsink: 1 records ignored: their id was stored before$' \
    '^sqlsink: [1-9][0-9]* transactions committed$' '^sqlsink: 0 database files rotated$' \
    '^sqlsink: 0 sessions answered' '^sqlsink: 1 bad line$' '^sqlsink:   1 bad JSON'
