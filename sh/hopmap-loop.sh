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
#   stopset         tracehop's stop set (--stop-set), kept across rounds
#                   and runs: tracehop opens it before it drops privilege
#                   and rewrites it in place under a lock (a killed write
#                   costs routers, never a false link: tracehop(1))
#
# This file tells the run: options, the state directory and its lock, and
# the loop over rounds.  The round's steps are in sh/loop/: round.sh (its
# commit point, recovery, preparation and admission), stages.sh (the
# probers and the sink) and hops.sh (the hop queue).
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
                   [--hops-cmd CMD] [--no-extract] [--no-stop-set]
                   [--netns NS]
                   [--node NAME] [--user USER] [probe options] [--wait-lock]
                   [--metrics FILE]
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
      --no-stop-set      tracehop keeps no stop set in DIR/stopset: every
                         hop probed, none taken from earlier rounds
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
      --metrics FILE     write Prometheus text metrics to FILE at each stage's
                         end and after each round (atomically)
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
waitlock=0 quiet=0 hopscmd='' extract=1 metrics='' stopset=1
stage=0 rounds_total=0 probed_total=0 alive_total=0 traced_total=0 routers_total=0

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
	    --max-ttl | --probe-args | --trace-args | --metrics)
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
	--no-stop-set) stopset=0 ;;
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
	--metrics) metrics=$val ;;
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
case $metrics in
'' | /*) ;;
*) metrics=$orig/$metrics ;;
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

# The steps of a round: its state on disk, the hop queue, the stages.
# shellcheck source=loop/round.sh
. "$sh_dir/loop/round.sh"
# shellcheck source=loop/hops.sh
. "$sh_dir/loop/hops.sh"
# shellcheck source=loop/stages.sh
. "$sh_dir/loop/stages.sh"

# Run until stopped (--rounds 0) with nothing to do: the seeds are done
# and no hops are queued.  Once the cooldown has passed since the seeds ran
# out, they start over (cooldown would refuse them sooner, and the pass
# would be spent on nothing); until then look again for hops after a
# pause (--pause, else a minute), bounded by the cooldown and --time.
idle() {
	now=$(date +%s)
	if [ ! -s seeds.done ]; then
		echo "$now" >seeds.done.tmp
		mv seeds.done.tmp seeds.done
	fi
	since=$(cat seeds.done)
	cool=$(seconds "$cooldown")
	if [ $((now - since)) -ge "$cool" ]; then
		rm -f resume seeds.done
		log "the seeds start over: their cooldown ($cooldown) has passed"
		idled=0
		return 0
	fi
	nap=$pause
	[ "$nap" -gt 0 ] || nap=60
	left=$((cool - (now - since)))
	[ "$nap" -le "$left" ] || nap=$left
	if [ -n "$maxtime" ]; then
		left=$((maxtime - (now - start)))
		[ "$left" -gt 0 ] || left=1
		[ "$nap" -le "$left" ] || nap=$left
	fi
	if [ "$idled" = 0 ]; then
		log "waiting: the seeds are done and no hops are queued;" \
		    "the seeds start over in $((cool - (now - since)))s"
		idled=1
	fi
	sleep "$nap" &
	pids=$!
	wait "$pids" || true
	pids=
}

recover
idled=0
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
		if [ "$nothing" = 2 ]; then
			warn "nothing to do: every seed address was left out" \
			    "(see above); nothing is recorded"
			status=1
			break
		fi
		if [ "$nothing" = 1 ] && [ "$rounds" -gt 0 ]; then
			log "nothing to do: the seeds are exhausted and no hops are queued"
			break
		fi
		if [ "$nothing" = 1 ]; then
			idle
			continue
		fi
		idled=0
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
