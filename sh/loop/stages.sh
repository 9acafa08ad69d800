# shellcheck shell=sh
# hopmap-loop's probing stages: icmpprobe, tracehop and the sink, each a
# process of its own joined by named pipes, the round's results kept as
# they pass (round.partial).  Sourced by hopmap-loop.

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
	# The stop set, kept across rounds (the hops near home are probed
	# once, not once a round), unless --trace-args says otherwise.
	case " $traceargs " in
	*" --stop-set "* | *" --stop-set="* | *" --no-stop-set "*) ;;
	*) if [ "$stopset" = 1 ]; then
		set -- "$@" --stop-set "$state/stopset"
	   else
		set -- "$@" --no-stop-set
	   fi ;;
	esac
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
		# --metrics: each stage's end (they end in order)
		case $p in
		"$p1") stage_done 2 ;;
		"$p2") stage_done 3 ;;
		"$p5") stage_done 4 ;;
		esac
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
