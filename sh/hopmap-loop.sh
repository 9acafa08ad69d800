#!/bin/sh
# hopmap-loop [options] RANGEFILE...: the whole hopmap cycle on one node,
# round by round, unattended:
#
#   seeds (cidr-expand --resume) + queued hops  -- fair merge, ids -->
#   interleave -> cooldown -> icmpprobe -> tracehop -> sink
#   round results -> hopextract --state -> hop queue for the next rounds
#
# Everything it remembers lives in one state directory, and every step that
# changes it is written to a scratch file first and renamed into place, so a
# run killed at any point (SIGKILL, power loss) is picked up by the next one:
#
#   round.targets   the committed targets of the round in progress; its
#                   rename is the commit point of a round: the resume
#                   position, the hop queue and the round number that were
#                   prepared with it (*.new) are rolled forward after it
#   round.admitted  what cooldown let through (cooldown remembers what it
#                   passed, so this is computed once per round)
#   round.partial   results already written to the sink; a redone round
#                   sends them again and probes only the rest: every target
#                   carries an "id", so the sink stores each result once
#   hops.add        the round's new hops, waiting to join the queue
#   round.cooling, hops.extracting
#                   markers: cooldown or hopextract was at work, and may
#                   have recorded more than it wrote
#
# A worker of the distributed setup is this loop with --shard and a
# --sink-cmd that ships the results (and, when the hub hands out the hops,
# --hops-cmd and --no-extract).
set -eu

prog=hopmap-loop
synopsis='[options] RANGEFILE...'
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"

usage() {
	cat <<EOF
usage: $prog [-qR] [-d DIR] [-n N] [-r N | --once] [-T DURATION]
                   [-p DURATION] [-s K/N] [-x FILE]... [--shuffle SEED]
                   [-t DURATION] [--db PATH | --sink-cmd CMD]
                   [--hops-cmd CMD] [--no-extract] [--netns NS]
                   [--node NAME] [--user USER] [probe options] [--wait-lock]
                   RANGEFILE...
Probe the addresses of RANGEFILEs round by round, feeding the routers found
in the traces back as targets, and store the results.
  -d, --state-dir DIR    all state (default \$HOPMAP_STATE or
                         ~/.local/state/hopmap)
  -n, --limit N          targets per round (default 1000): up to half for
                         queued hops, the rest for seeds
  -r, --rounds N         stop after N rounds (default 1; 0: no limit)
      --once             one round (the same as --rounds 1)
  -T, --time DURATION    start no round after DURATION (e.g. 50m)
  -p, --pause DURATION   wait between rounds (default 0s)
  -s, --shard K/N        probe only node K's share of the seeds
  -x, --exclude FILE     leave out the seeds listed in FILE (repeatable)
      --shuffle SEED     seeds in a pseudo-random order fixed by SEED
  -R, --allow-reserved   keep special-purpose addresses (labs, tests)
  -t, --cooldown DUR     probe an address at most once per DUR (default 1h)
      --db PATH          store into SQLite PATH (default DIR/map.db)
      --sink-cmd CMD     pipe the results into sh -c CMD instead
      --hops-cmd CMD     each round, queue the hop targets sh -c CMD prints
      --no-extract       queue no hops from this node's own traces
      --netns NS         run icmpprobe and tracehop in network namespace NS
      --node NAME        vantage point name (default: host name)
      --user USER        icmpprobe and tracehop run as USER once their
                         sockets are open (started as root)
      --rate PPS         icmpprobe probes per second (its default: 1000)
      --timeout DUR      icmpprobe wait for a reply (its default: 1s)
      --method M         icmpprobe method: icmp, tcp[:PORT] or udp[:PORT]
      --trace-rate PPS   tracehop probes per second (its default: 100)
      --wait DUR         tracehop wait per probe (its default: 1s)
      --trace-method M   tracehop method: icmp-paris, udp-paris, tcp-paris
      --max-ttl TTL      tracehop last TTL (its default: 30)
      --probe-args ARGS  more icmpprobe options (split on blanks)
      --trace-args ARGS  more tracehop options (split on blanks)
      --wait-lock        wait for a running loop instead of exiting
  -q, --quiet            report only errors on standard error
  -h, --help             show this help and exit
  -V, --version          show the version and exit
EOF
}

# Durations as the filters take them (90s, 10m, 2h, 1d; bare: seconds), in
# whole seconds for sleep and the clock.
seconds() {
	case $1 in
	'' | *[!0-9smhd]* | [!0-9]*) return 1 ;;
	*[0-9]) echo "$1" ;;
	*[0-9]s) echo "${1%s}" ;;
	*[0-9]m) echo $((${1%m} * 60)) ;;
	*[0-9]h) echo $((${1%h} * 3600)) ;;
	*[0-9]d) echo $((${1%d} * 86400)) ;;
	*) return 1 ;;
	esac
}

number() {
	case $2 in
	'' | *[!0-9]*) die_usage "$1: not a number: $2" ;;
	esac
	[ ${#2} -le 9 ] || die_usage "$1: value is too large: $2"
}

state=${HOPMAP_STATE:-${HOME:-/}/.local/state/hopmap}
limit=1000 rounds=1 maxtime='' pause=0 shard='' excludes='' shuffle=''
reserved='' cooldown=1h db='' sinkcmd='' netns='' node='' rate='' timeout=''
method='' trate='' twait='' tmethod='' maxttl='' probeargs='' traceargs='' user=''
waitlock=0 quiet=0 hopscmd='' extract=1

# Long options take their value as --opt=VALUE or --opt VALUE.
while [ $# -gt 0 ]; do
	opt=$1 val='' has=0
	case $opt in
	--*=*) val=${opt#*=} opt=${opt%%=*} has=1 ;;
	esac
	case $opt in
	-d | --state-dir | -n | --limit | -r | --rounds | -T | --time | \
	    -p | --pause | -s | --shard | -x | --exclude | --shuffle | \
	    -t | --cooldown | --db | --sink-cmd | --hops-cmd | --netns | --node | \
	    --user | --rate | \
	    --timeout | --method | --trace-rate | --wait | --trace-method | \
	    --max-ttl | --probe-args | --trace-args)
		if [ $has = 0 ]; then
			[ $# -ge 2 ] || die_usage "option requires an argument: $opt"
			val=$2
			shift
		fi ;;
	esac
	case $opt in
	-d | --state-dir) state=$val ;;
	-n | --limit) number "$opt" "$val"; limit=$val ;;
	-r | --rounds) number "$opt" "$val"; rounds=$val ;;
	--once) rounds=1 ;;
	-T | --time) maxtime=$(seconds "$val") ||
	    die_usage "$opt: bad duration: $val" ;;
	-p | --pause) pause=$(seconds "$val") ||
	    die_usage "$opt: bad duration: $val" ;;
	-s | --shard) shard=$val ;;
	-x | --exclude) excludes="$excludes$val
" ;;
	--shuffle) number "$opt" "$val"; shuffle=$val ;;
	-R | --allow-reserved) reserved=-R ;;
	-t | --cooldown) seconds "$val" >/dev/null ||
	    die_usage "$opt: bad duration: $val"; cooldown=$val ;;
	--db) db=$val ;;
	--sink-cmd) sinkcmd=$val ;;
	--hops-cmd) hopscmd=$val ;;
	--no-extract) extract=0 ;;
	--netns) netns=$val ;;
	--node) node=$val ;;
	--user) user=$val ;;
	--rate) rate=$val ;;
	--timeout) timeout=$val ;;
	--method) method=$val ;;
	--trace-rate) trate=$val ;;
	--wait) twait=$val ;;
	--trace-method) tmethod=$val ;;
	--max-ttl) maxttl=$val ;;
	--probe-args) probeargs=$val ;;
	--trace-args) traceargs=$val ;;
	--wait-lock) waitlock=1 ;;
	-q | --quiet) quiet=1 ;;
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	--) shift; break ;;
	-?*) die_usage "unrecognized option '$opt'" ;;
	*) break ;;
	esac
	shift
done
[ $# -gt 0 ] || die_usage "no range files"
[ "$limit" -gt 0 ] || die_usage "--limit: must be at least 1"
[ -z "$db" ] || [ -z "$sinkcmd" ] || die_usage "--db and --sink-cmd exclude each other"
for f in "$@"; do
	[ -r "$f" ] || die_usage "$f: cannot read"
done

# The state directory is the working directory; range files, exclusions
# and the commands keep the caller's, so "src" stays as the files were named.
mkdir -p "$state" || exit 3
state=$(cd "$state" && pwd)
orig=$(pwd)
case ${db:=$state/map.db} in
/*) ;;
*) db=$orig/$db ;;
esac
HOPMAP_LOOP_STATE=$state
export HOPMAP_LOOP_STATE
cd "$state"

log() {
	printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >>log
	if [ $quiet = 0 ]; then msg "$*"; fi
}

warn() {
	printf '%s [%s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$$" "$*" >>log
	msg "$*"
}

tmp=''
pids=
status=0
locked=0
# shellcheck disable=SC2317 # called by the traps
cleanup() {
	if [ -n "$tmp" ]; then rm -rf "$tmp"; fi
}
# shellcheck disable=SC2317 # called by the traps
on_signal() {
	trap '' INT TERM HUP
	# shellcheck disable=SC2086 # a list of process ids
	if [ -n "$pids" ]; then kill $pids 2>/dev/null || true; fi
	wait || true
	if [ "$locked" = 1 ]; then
		log "stopped by a signal; the next run resumes"
	fi
	exit "$1"
}
trap cleanup EXIT
trap 'on_signal 129' HUP
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# The lock is inherited by every stage we start but the sink command: if
# this shell is killed alone, its probers still finish the round, and no new
# run may start under them.  flock(1) releases it when the last one exits.
# A lock belongs to the open file, so a flock(1) in the background takes it
# for this shell too, and the wait for it stays open to signals.
locked=0
if [ $waitlock = 1 ]; then
	exec 9>>lock
	flock 9 &
	pids=$!
	wait "$pids"
	pids=
elif ! lock 9 lock -n; then
	msg "another run holds $state/lock"
	exit 0
fi
locked=1

# Scratch space lives in the state directory, under the lock: whatever a
# killed run left there (tmp.*) belongs to no live run and goes now.
rm -rf tmp.*
tmp=$(mktemp -d "$state/tmp.XXXXXX")
# The name the probers put in "node", for hopmap-status and the ids.
printf '%s\n' "${node:-$(hostname)}" >node.tmp
mv node.tmp node

lines() {
	if [ -f "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi
}

# Ids are NODE:INSTANCE:ROUND:LINE; the instance is random per state
# directory, so a fresh state never reuses the ids of an old one.
if [ ! -s instance ]; then
	od -An -N4 -tx4 /dev/urandom | tr -d ' \n' >instance.tmp
	echo >>instance.tmp
	mv instance.tmp instance
fi
instance=$(cat instance)
idnode=$(printf '%s' "${node:-$(hostname)}" | tr -c 'A-Za-z0-9._-' '_')

# After the commit point of a round, finish what was prepared with it;
# without a commit, what was prepared is dropped and prepared again.
recover() {
	rm -f hops.tmp hops.add.tmp hops.add.ok round.admitted.tmp round.targets.tmp
	if [ -f round.targets ]; then
		roll_forward
		if [ -f hops.add ]; then finish_round; fi
	else
		rm -f resume.new round.new hops.new round.cooling hops.extracting
		keep_results
	fi
}

roll_forward() {
	if [ -f resume.new ]; then mv resume.new resume; fi
	if [ -f round.new ]; then mv round.new round; fi
	if [ -f hops.new ]; then mv hops.new hops.ndjson; fi
}

cidr_expand() {
	set -- "$@" --resume "$state/resume.new"
	if [ -n "$shard" ]; then set -- --shard "$shard" "$@"; fi
	if [ -n "$shuffle" ]; then set -- --shuffle="$shuffle" "$@"; fi
	if [ -n "$reserved" ]; then set -- -R "$@"; fi
	while IFS= read -r f; do
		if [ -n "$f" ]; then set -- --exclude "$f" "$@"; fi
	done <<EOF
$excludes
EOF
	cd "$orig" && cidr-expand "$@"
}

# Fairness: hops queued get half of the round (the odd slot goes to seeds
# and hops in turn), seeds the rest; either side's unused share goes to the
# other.  The two are merged in turn, a seed, a hop, ..., and interleave
# then spreads the round over subnets.  Sets nothing=1 when there is
# nothing to do.
prepare_round() {
	nothing=0
	round=$(cat round 2>/dev/null || echo 0)
	next=$((round + 1))
	queued=$(lines hops.ndjson)
	share=$((limit / 2 + (limit % 2) * (next % 2 == 0)))
	[ "$queued" -ge "$share" ] || share=$queued
	seedmax=$((limit - share))
	rm -f resume.new
	if [ -f resume ]; then cp resume resume.new; fi
	: >"$tmp/seeds"
	if [ "$seedmax" -gt 0 ]; then
		rc=0
		(cidr_expand --limit "$seedmax" "$@") >"$tmp/seeds" \
		    2>"$tmp/seeds.err" || rc=$?
		grep -v 'finished, all .* addresses were written' \
		    "$tmp/seeds.err" >&2 || true
		case $rc in
		0) ;;
		1) status=1 ;;
		*) warn "cidr-expand failed (status $rc); state kept"
		   rm -f resume.new
		   exit "$rc" ;;
		esac
	fi
	seeds=$(lines "$tmp/seeds")
	hops=$((limit - seeds))
	[ "$queued" -ge "$hops" ] || hops=$queued
	if [ $((seeds + hops)) -eq 0 ]; then
		# No seed was taken, so the new state skips nothing.
		if [ -f resume.new ]; then mv resume.new resume; fi
		nothing=1
		return 0
	fi
	head -n "$hops" hops.ndjson >"$tmp/hops" 2>/dev/null || : >"$tmp/hops"
	tail -n "+$((hops + 1))" hops.ndjson >hops.new 2>/dev/null || : >hops.new
	echo "$next" >round.new
	awk -v h="$tmp/hops" -v pre="$idnode:$instance:$next:" '
	function out(l) {
		if (l ~ /^[0-9.]+$/) l = "{\"ip\":\"" l "\",\"src\":\"hop\"}"
		if (sub(/^\{/, "{\"id\":\"" pre (++n) "\",", l)) print l
	}
	function hop() { if ((getline l < h) > 0) out(l); else done = 1 }
	{ out($0); if (!done) hop() }
	END { while (!done) hop() }' "$tmp/seeds" >"$tmp/merged"
	interleave "$tmp/merged" >round.targets.tmp
	mv round.targets.tmp round.targets
	roll_forward
	log "round $next start: $seeds seeds, $hops hops (of $queued queued)"
}

# Hops handed out from elsewhere (a hub's global dedup) join the queue.
fetch_hops() {
	rc=0
	(cd "$orig" && exec sh -c "$hopscmd" 9>&-) >"$tmp/hops.in" &
	pids=$!
	wait "$pids" || rc=$?
	pids=
	if [ "$rc" -ne 0 ]; then
		warn "--hops-cmd failed (status $rc); no hops from it this round"
		return 0
	fi
	grep -v '^[[:space:]]*$' "$tmp/hops.in" >"$tmp/hops.raw" || true
	admit_hops "$tmp/hops.raw" "$tmp/hops.got"
	if [ -s "$tmp/hops.got" ]; then
		cat hops.ndjson "$tmp/hops.got" 2>/dev/null >hops.tmp || true
		mv hops.tmp hops.ndjson
	fi
	log "$(lines "$tmp/hops.got") hop targets from --hops-cmd"
}

# Hop targets come from the network (a trace, a hub): they pass the seeds'
# filter, cidr-expand itself, with the same -R and --exclude, and never
# name an address that is no unicast target (0/8, multicast, 240/4 and the
# broadcast address), -R or not.  Reads records (or bare addresses) in IN,
# writes the admitted lines to OUT, in order.
admit_hops() {
	in=$1 out=$2
	if [ ! -s "$in" ]; then : >"$out"; return 0; fi
	printf '%s\n' 0.0.0.0/8 224.0.0.0/4 240.0.0.0/4 >"$tmp/never.txt"
	hop_ips "$in" | grep -v '^-$' >"$tmp/hops.ips" || true
	set -- --plain --exclude "$tmp/never.txt"
	if [ -n "$reserved" ]; then set -- "$@" -R; fi
	while IFS= read -r f; do
		if [ -n "$f" ]; then set -- "$@" --exclude "$f"; fi
	done <<EOF
$excludes
EOF
	rc=0
	(cd "$orig" && exec cidr-expand "$@" "$tmp/hops.ips") \
	    >"$tmp/hops.ok" 2>"$tmp/hops.err" || rc=$?
	if [ "$rc" -gt 1 ]; then
		warn "hop targets: cidr-expand failed (status $rc):" \
		    "$(head -n 1 "$tmp/hops.err"); none queued"
		: >"$out"
		return 0
	fi
	hop_ips "$in" | awk -v ok="$tmp/hops.ok" -v src="$in" '
	BEGIN { while ((getline l < ok) > 0) admit[l] = 1 }
	(getline l < src) > 0 && ($0 in admit) { print l }' >"$out"
	left=$(($(lines "$in") - $(lines "$out")))
	if [ "$left" -gt 0 ]; then
		log "$left hop targets left out (special-purpose, excluded or no address)"
	fi
}

# One line out per line in: the address a prober would take from the line
# (a record's top-level "ip" as a JSON parser reads it, the last of
# duplicate keys, escapes decoded; or the bare address on it), or "-".
hop_ips() {
	jq -R -r '(try fromjson catch null) as $r |
	    if ($r | type) == "object" then
	        ($r.ip | if type == "string" then . else "-" end)
	    elif ($r | type) == "null" then gsub("[[:space:]]"; "")
	    else "-" end |
	    if test("^[0-9]{1,3}([.][0-9]{1,3}){3}$") then . else "-" end' "$1"
}

run_icmpprobe() {
	set -- icmpprobe
	if [ -n "$node" ]; then set -- "$@" --node "$node"; fi
	if [ -n "$user" ]; then set -- "$@" --user "$user"; fi
	if [ -n "$rate" ]; then set -- "$@" --rate "$rate"; fi
	if [ -n "$timeout" ]; then set -- "$@" --timeout "$timeout"; fi
	if [ -n "$method" ]; then set -- "$@" --method "$method"; fi
	# shellcheck disable=SC2086 # documented: split on blanks
	set -- "$@" $probeargs
	if [ -n "$netns" ]; then set -- ip netns exec "$netns" "$@"; fi
	exec "$@"
}

run_tracehop() {
	set -- tracehop
	if [ -n "$node" ]; then set -- "$@" --node "$node"; fi
	if [ -n "$user" ]; then set -- "$@" --user "$user"; fi
	if [ -n "$trate" ]; then set -- "$@" --rate "$trate"; fi
	if [ -n "$twait" ]; then set -- "$@" --wait "$twait"; fi
	if [ -n "$tmethod" ]; then set -- "$@" --method "$tmethod"; fi
	if [ -n "$maxttl" ]; then set -- "$@" --max-ttl "$maxttl"; fi
	# shellcheck disable=SC2086 # documented: split on blanks
	set -- "$@" $traceargs
	if [ -n "$netns" ]; then set -- ip netns exec "$netns" "$@"; fi
	exec "$@"
}

run_sink() {
	if [ -n "$sinkcmd" ]; then
		cd "$orig"
		exec sh -c "$sinkcmd" 9>&-
	fi
	exec sqlsink "$db"
}

# Keep whole lines only: a run killed while tee wrote may leave half a one.
whole_lines() {
	if [ -s "$1" ] && [ "$(tail -c 1 "$1" | wc -l)" -eq 0 ]; then
		sed '$d' "$1" >"$1.tmp"
		mv "$1.tmp" "$1"
	fi
}

# Each stage is started on its own, joined by named pipes, so that a signal
# can reach every one of them by its process id.
probe_round() {
	touch round.partial
	whole_lines round.partial
	cp round.partial "$tmp/resend"
	awk -v p=round.partial '
	{ id = "" }
	match($0, /^\{"id":"[^"]*"/) { id = substr($0, 8, RLENGTH - 8) }
	FILENAME == p { done[id] = 1; next }
	!(id in done)' round.partial round.admitted >"$tmp/todo"
	rm -f "$tmp"/f1 "$tmp"/f2 "$tmp"/f3 "$tmp"/f4
	mkfifo "$tmp/f1" "$tmp/f2" "$tmp/f3" "$tmp/f4"
	run_icmpprobe <"$tmp/todo" >"$tmp/f1" &
	p1=$!
	run_tracehop <"$tmp/f1" >"$tmp/f2" &
	p2=$!
	tee -a round.partial <"$tmp/f2" >"$tmp/f3" &
	p3=$!
	cat "$tmp/resend" "$tmp/f3" >"$tmp/f4" &
	p4=$!
	run_sink <"$tmp/f4" &
	p5=$!
	pids="$p1 $p2 $p3 $p4 $p5"
	worst=0
	for p in $pids; do
		rc=0
		wait "$p" || rc=$?
		[ "$rc" -le "$worst" ] || worst=$rc
	done
	pids=
	case $worst in
	0) ;;
	1) status=1 ;;
	*) warn "round $round: a stage failed (status $worst);" \
	    "the next run redoes the round"
	   exit 3 ;;
	esac
}

# The round's results are all in the sink now; queue the hops they show,
# then end the round by removing its commit point.  Each step can be
# repeated after a kill; only the hops of a kill between the rename of the
# queue and the removal of hops.add are queued twice (cooldown drops the
# second copy).
finish_round() {
	if [ -f hops.add ]; then
		cat hops.ndjson hops.add 2>/dev/null >hops.tmp || true
		mv hops.tmp hops.ndjson
		rm hops.add
	fi
	rm -f hops.extracting
	rm round.targets
	keep_results
}

keep_results() {
	if [ -f round.partial ]; then mv round.partial round.ndjson; fi
	rm -f round.admitted round.cooling
}

# cooldown and hopextract record what they let through before they write
# it, so a run killed while they work would lose what they recorded but did
# not write: the seeds are behind the resume position and the hops in the
# dedup.  A marker file says so, and the redo then takes every target of the
# round, or every hop of its traces, letting the state record the rest: a
# target or hop may come twice after a crash, never not at all.
admit() {
	if [ -f round.cooling ]; then
		cooldown --state cooldown.db --cooldown "$cooldown" \
		    <round.targets >/dev/null
		cp round.targets round.admitted.tmp
	else
		touch round.cooling
		cooldown --state cooldown.db --cooldown "$cooldown" \
		    <round.targets >round.admitted.tmp
	fi
	mv round.admitted.tmp round.admitted
	rm round.cooling
}

extract_hops() {
	if [ $extract = 0 ]; then
		: >hops.add.tmp
	elif [ -f hops.extracting ]; then
		hopextract $reserved --state seen.db round.partial >/dev/null
		hopextract $reserved round.partial >hops.add.tmp
	else
		touch hops.extracting
		hopextract $reserved --state seen.db round.partial >hops.add.tmp
	fi
	admit_hops hops.add.tmp hops.add.ok
	mv hops.add.ok hops.add
	rm -f hops.add.tmp hops.extracting
}

run_round() {
	round=$(cat round)
	if [ ! -f round.admitted ]; then admit; fi
	probe_round
	extract_hops
	newhops=$(lines hops.add)
	results=$(lines round.partial)
	probed=$(lines "$tmp/todo")
	answered=$(grep -c '"ok":true' round.partial || true)
	finish_round
	log "round $round end: $results results ($answered answered," \
	    "$probed probed in this run), $newhops new hops queued"
}

recover
start=$(date +%s)
done_rounds=0
while :; do
	if [ "$rounds" -gt 0 ] && [ "$done_rounds" -ge "$rounds" ]; then
		log "stopping: $done_rounds rounds done"
		break
	fi
	if [ -n "$maxtime" ] && [ $(($(date +%s) - start)) -ge "$maxtime" ]; then
		log "stopping: time is up after $done_rounds rounds"
		break
	fi
	if [ -f round.targets ]; then
		log "round $(cat round): redoing the interrupted round"
	else
		if [ -n "$hopscmd" ]; then fetch_hops; fi
		# Called plainly, not in a condition, so that set -e holds inside.
		prepare_round "$@"
		if [ "$nothing" = 1 ]; then
			log "nothing to do: the seeds are exhausted and no hops are queued"
			break
		fi
	fi
	run_round
	done_rounds=$((done_rounds + 1))
	if [ "$pause" -gt 0 ] && { [ "$rounds" -eq 0 ] ||
	    [ "$done_rounds" -lt "$rounds" ]; }; then
		sleep "$pause" &
		pids=$!
		wait "$pids" || true
		pids=
	fi
done
exit "$status"
