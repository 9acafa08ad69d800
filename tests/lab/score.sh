#!/usr/bin/env bash
# tests/lab/score.sh: what a run of tracing found, against a lab's truth.
#
#   tests/lab/score.sh [-f tracehop|scamper|links] [-l] TOPO [FILE...]
#
# TOPO is the topology file of tests/lab/biglab.sh (its link, last, iface
# and target lines).  FILEs (standard input if none) are, by -f:
#   tracehop  records (NDJSON) of icmpprobe | tracehop: probes are the
#             pings' "sent" plus the traces' "probes" (the default)
#   scamper   scamper -O json output, or warts (a FILE named *.warts goes
#             through sc_warts2json): probes are the traces' probe_count
#   links     "A B" a line, as from sqlsink's links table
#             (sqlite3 map.db 'SELECT a, b FROM links' | tr '|' ' ')
# A link is two answering hops of one trace at TTLs t and t+1 (as sqlsink
# stores them).  A link to the destination (an address of an answering
# /24) is right if its first hop is one the truth has before that /24
# ("last"); the others are right if the truth has them ("link").
# Prints one line:
#   probes=N traces=N links=F truth_links=T ifaces=F truth_ifaces=T
#   false_links=K dest_links=D false_dest=E stray_ifaces=S
# links/ifaces: those of the truth found; false_links: router links found
# that the truth lacks; stray_ifaces: hop addresses that are no answering
# hop of the truth.  -l also lists each false link ("false A B") and stray
# address ("stray A") on standard error.  Exit 0, or 2 on bad usage.
set -u
fmt=tracehop list=0
usage() { echo "usage: score.sh [-f tracehop|scamper|links] [-l] TOPO [FILE...]" >&2; exit 2; }
while getopts f:l o; do
	case $o in
	f) fmt=$OPTARG ;;
	l) list=1 ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || usage
topo=$1
shift
[ -r "$topo" ] || { echo "score.sh: $topo: cannot read" >&2; exit 2; }

# Every input as lines: "P n" probes, "T dst" a trace, "H dst ttl ip" a hop,
# "L a b" a link.
normalize() {
	case $fmt in
	tracehop)
		jq -r 'select(type == "object") |
		    (if (.ping | type) == "object" then "P \(.ping.sent // 0)" else empty end),
		    (if (.trace | type) == "object" then
		        "P \(.trace.probes // 0)", "T \(.ip)",
		        (.ip as $d | .trace.hops[]? | select((.ip | type) == "string") |
		         "H \($d) \(.ttl) \(.ip)")
		     else empty end)' "$@"
		;;
	scamper)
		local f
		for f in "${@:--}"; do
			case $f in
			*.warts) sc_warts2json "$f" ;;
			*) cat -- "$f" ;;
			esac
		done | jq -r 'select(.type == "trace") |
		    "P \(.probe_count // 0)", "T \(.dst)",
		    (.dst as $d | .hops[]? | "H \($d) \(.probe_ttl) \(.addr)")'
		;;
	links)
		cat -- "$@" | awk 'NF >= 2 { print "L", $1, $2 }'
		;;
	*) usage ;;
	esac
}

normalize "$@" | awk -v list="$list" '
function net(a) { sub(/\.[0-9]+(\/24)?$/, "", a); return a }
function found(a, b) {
	if (a == b || (a " " b) in seen) return
	seen[a " " b] = 1
	if (net(b) in answering) {
		dest++
		if (!((net(b) " " a) in last)) {
			fdest++
			if (list) print "false " a " " b > "/dev/stderr"
		}
	} else if ((a " " b) in truth) got++
	else {
		flinks++
		if (list) print "false " a " " b > "/dev/stderr"
	}
}
FILENAME == ARGV[1] {
	if ($1 == "link") { truth[$2 " " $3] = 1; ntruth++ }
	else if ($1 == "iface") { iface[$2] = 1; nif++ }
	else if ($1 == "last") last[net($2) " " $3] = 1
	else if ($1 == "target") answering[net($2)] = 1
	next
}
$1 == "P" { probes += $2; next }
$1 == "T" { traces++; next }
$1 == "L" { found($2, $3); next }
$1 == "H" {
	hop[$2, $3] = hop[$2, $3] " " $4
	if (!($2 in dsts)) { dsts[$2] = 1; order[++nd] = $2 }
	if ($3 > maxttl[$2]) maxttl[$2] = $3
	if (net($4) in answering) next
	if (!($4 in ifseen)) {
		ifseen[$4] = 1
		if ($4 in iface) gotif++
		else { stray++; if (list) print "stray " $4 > "/dev/stderr" }
	}
}
END {
	for (i = 1; i <= nd; i++) {
		d = order[i]
		for (t = 1; t < maxttl[d]; t++) {
			if (!((d, t) in hop) || !((d, t + 1) in hop)) continue
			na = split(hop[d, t], A, " ")
			nb = split(hop[d, t + 1], B, " ")
			for (x = 1; x <= na; x++)
				for (y = 1; y <= nb; y++) found(A[x], B[y])
		}
	}
	printf "probes=%d traces=%d links=%d truth_links=%d ifaces=%d truth_ifaces=%d false_links=%d dest_links=%d false_dest=%d stray_ifaces=%d\n",
	    probes, traces, got, ntruth, gotif, nif, flinks, dest, fdest, stray
}' "$topo" -
