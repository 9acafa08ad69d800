# shellcheck shell=sh
# hopmap-loop's round on disk: its commit point (round.targets) and what
# is rolled forward after it or dropped without it (recover), a new round
# prepared from seeds and queued hops, the admission through cooldown, and
# the steps of a round run to its end.  Sourced by hopmap-loop.

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
# nothing to do, 2 when every seed address was left out.
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
		# The state it names is our scratch copy: name the real one.
		grep -v 'finished, all .* addresses were written' \
		    "$tmp/seeds.err" | awk -v n="$state/resume.new" \
		    -v r="$state/resume" '{ while ((i = index($0, n)) > 0)
			$0 = substr($0, 1, i - 1) r substr($0, i + length(n))
		    print }' >&2 || true
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
	if [ $((seeds + hops)) -eq 0 ] &&
	    grep -q 'no address left to write' "$tmp/seeds.err"; then
		# Every seed was left out (cidr-expand said why and what keeps
		# them): nothing was done, so nothing is recorded.
		rm -f resume.new
		nothing=2
		return 0
	fi
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

run_round() {
	round=$(cat round)
	if [ ! -f round.admitted ]; then admit; fi
	stage_done 1
	probe_round
	extract_hops
	stage_done 5
	newhops=$(lines hops.add)
	results=$(lines round.partial)
	probed=$(lines "$tmp/todo")
	answered=$(grep -c '"ok":true' round.partial || true)
	traced=$(grep -c '"trace":{' round.partial || true)
	nhops=$(grep -c '"src":"hop"' round.targets || true)
	nseeds=$(($(lines round.targets) - nhops))
	finish_round
	# One line a round, what a person watching wants: what went in, what
	# answered, what the traces found, what reached the sink.
	log "round $round end: $nseeds seeds, $nhops hops, $results probed," \
	    "$answered alive, $traced traced, $newhops new routers," \
	    "$results stored ($probed probed in this run)"
	rounds_total=$((rounds_total + 1))
	probed_total=$((probed_total + results))
	alive_total=$((alive_total + answered))
	traced_total=$((traced_total + traced))
	routers_total=$((routers_total + newhops))
	stage_done 0
}

# --metrics FILE, written at the end of each stage of a round (which may
# take hours) and after it: the run's counts so far, and how far the round
# in progress is.
stage_done() { # STAGE: 1 admitted, 2 probed, 3 traced, 4 stored, 5 hops
	stage=$1	# extracted, 0 between rounds
	if [ -n "$metrics" ]; then loop_metrics; fi
}
loop_metrics() {
	write_metrics "$metrics" \
	    "rounds_total:counter:$rounds_total:rounds done by this run" \
	    "round:gauge:$round:the last round's number" \
	    "targets_probed_total:counter:$probed_total:targets probed" \
	    "targets_alive_total:counter:$alive_total:targets that answered" \
	    "targets_traced_total:counter:$traced_total:targets traced" \
	    "hops_queued_total:counter:$routers_total:new router addresses queued" \
	    "hops_queue:gauge:$(lines hops.ndjson):hop targets waiting" \
	    "round_stage:gauge:$stage:the round's last stage done (1 admitted, 2 probed, 3 traced, 4 stored, 5 hops extracted; 0 between rounds)" \
	    "round_targets:gauge:$(lines round.admitted):targets admitted to the round in progress" \
	    "round_results:gauge:$(lines round.partial):results of the round in progress so far"
}
