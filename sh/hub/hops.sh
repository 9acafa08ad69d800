# shellcheck shell=sh
# hopmap-hub hops: the new hop targets of the hub's traces, through one
# global dedup, handed out by shard.  Sourced by hopmap-hub.

# The hops of FILE's traces after row $2, into the queue, at most
# $maxrows of them when set; sets $top, and $more when rows were left.
extract_hops() {
	top=$(sqlite3 -cmd '.timeout 5000' "$1" 'SELECT coalesce(max(id), 0) FROM traces;')
	[ "$top" -gt "$2" ] || { top=$2; return 0; }
	if [ -n "${maxrows:-}" ] && [ "$top" -gt $(($2 + maxrows)) ]; then
		top=$(($2 + maxrows)) more=1
	fi
	sqlite3 -cmd '.timeout 5000' "$1" \
	    "SELECT json FROM traces WHERE id > $2 AND id <= $top ORDER BY id;" |
	    hopextract -R --state "$state/seen.db" >>"$state/hops.ndjson"
}

# The queue as handed out: without -R, special-purpose addresses are left
# out here, not at extraction, so that the queue and its dedup serve a
# later call with -R too.  A worker's --from counts in what it is handed.
handed_out() {
	if [ -n "$reserved" ]; then cat "$1"; return 0; fi
	jq -r .ip "$1" >"$state/hops.ips.$$"
	cidr-expand --plain "$state/hops.ips.$$" >"$state/hops.ok.$$" \
	    2>/dev/null || true
	awk -v ok="$state/hops.ok.$$" '
	BEGIN { while ((getline l < ok) > 0) admit[l] = 1 }
	(getline ip < "/dev/stdin") > 0 && (ip in admit)' "$1" \
	    <"$state/hops.ips.$$"
	rm -f "$state/hops.ips.$$" "$state/hops.ok.$$"
}

# Every trace stored since the last call, into the queue, under the lock:
# "hops" at each call, "serve" on its timer (--hops-every), a bounded
# number of rows at a time ($maxrows), so that a stop waits for little.
extract_new() {
	exec 8>>"$state/hops.lock"
	flock 8
	# Where reading stopped: a file of sqlsink's series and its last trace
	# row.  Row ids start again in each file the sink rotates to, so the
	# files are read in their order (their names sort by time): the rest
	# of that file, then every later one from its start.
	pfile='' last=0
	if [ -s "$state/hops.pos" ]; then
		read -r pfile last <"$state/hops.pos"
		posint hops.pos "$last"
	fi
	base=$(basename "$db")
	set -- "$(dirname "$db")/${base%.*}"-*."${base##*.}"
	[ -e "$1" ] || set -- "$(readlink -f "$db")"
	for f in "$@"; do
		from_row=0
		if [ "$f" = "$pfile" ]; then
			from_row=$last
		elif [ -n "$pfile" ] && [ "$(printf '%s\n' "$f" "$pfile" |
		    LC_ALL=C sort | head -n 1)" = "$f" ]; then
			continue	# read before
		fi
		more=''
		extract_hops "$f" "$from_row"
		echo "$f $top" >"$state/hops.pos.tmp"
		mv "$state/hops.pos.tmp" "$state/hops.pos"
		[ -z "$more" ] || break	# the rest of this file next time
	done
	exec 8>&-
}

# All new hops are extracted at once, through one dedup state, into one
# queue per shard count; a shard is a slice of that queue, chosen by the
# address (the sum of its octets modulo N), and a worker remembers how far
# it has read (--from), so fetching twice hands nothing out twice.
cmd_hops() {
	shard='' from=0 reserved=''
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		-R | --allow-reserved) reserved=-R; shift ;;
		-s | --shard) need "$1" $#; shard=$2; shift 2 ;;
		--shard=*) shard=${1#*=}; shift ;;
		-f | --from) need "$1" $#; posint from "$2"; from=$2; shift 2 ;;
		--from=*) posint from "${1#*=}"; from=${1#*=}; shift ;;
		*) die_usage "unknown option: $1" ;;
		esac
	done
	k=1 nsh=1
	if [ -n "$shard" ]; then
		k=${shard%/*} nsh=${shard#*/}
		posint shard "$k"
		posint shard "$nsh"
		if [ "$k" -lt 1 ] || [ "$k" -gt "$nsh" ]; then
			die_usage "bad shard: $shard"
		fi
	fi
	setup_paths
	[ -e "$db" ] || die "$db: no database"
	extract_new
	touch "$state/hops.ndjson"
	handed_out "$state/hops.ndjson" |
	    jq -c --argjson k "$k" --argjson n "$nsh" \
	    'select((.ip | split(".") | map(tonumber) | add) % $n == $k - 1)' |
	    tail -n "+$((from + 1))"
}
