# shellcheck shell=sh
# hopmap-loop's hop queue: hops fetched from elsewhere (--hops-cmd) or
# extracted from the round's traces, each through the seeds' filters before
# it is queued.  Sourced by hopmap-loop.

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

# The hops of the round's traces, into hops.add.  hopextract records a hop
# in its dedup before it writes it: the marker hops.extracting says it was
# at work, and the redo then writes every hop of the round (admit, in
# round.sh, says more).
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
