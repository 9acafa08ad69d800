# shellcheck shell=sh
# hopmap-ship's HTTP transport: a segment POSTed with curl to a hopmap
# gateway's /results (hopmap-httpd --hub), for workers that can only open
# connections out (NAT, 4G, a proxy that lets HTTPS through).  The rules
# are the socat transports': a segment leaves the spool only when the hub
# answered that it committed all its lines (200, "lines" N); a refusal of
# some lines (422) moves it to quarantine/; anything else (401, 5xx, no
# answer, a stalled link) keeps it for the next attempt; a segment larger
# than the gateway takes (413) is split in two, and a record alone larger
# moved to quarantine/.  Sourced by
# hopmap-ship, after lib/gateway.sh.

# Before any attempt: the URL and the key (gw_check), and the scratch
# files of an attempt.
http_setup() {
	gw_check "$address" "$keyfile" "$cacert" "$plain"
	http_body=$(pid_tmp "${TMPDIR:-/tmp}" "$prog")
	http_code=$(pid_tmp "${TMPDIR:-/tmp}" "$prog")
}

# One attempt: POST the segment FILE and act on the answer.  The segment
# is gone afterwards exactly when the hub confirmed it, or moved to
# quarantine/; what went wrong is in $errs.
http_ship_one() {
	f=$1 name=$(basename "$1")
	# Gone since the scan: another shipper of the spool confirmed it.
	if ! n=$(wc -l <"$f" 2>/dev/null); then
		echo "$name: no longer in the spool" >"$errs"
		return 1
	fi
	: >"$http_body"
	gw_curl "$timeout" "$cacert" \
	    -H 'Content-Type: application/x-ndjson' \
	    -H "X-Hopmap-Segment: $name" --data-binary "@$f" \
	    -o "$http_body" -w '%{http_code}' "$gw_url/results" \
	    >"$http_code" 2>"$errs" &
	child=$!
	rc=0
	wait "$child" || rc=$?
	child=''
	code=$(cat "$http_code")
	why=$(gw_error "$http_body")
	case $rc:$code in
	0:200)
		got=$(jq -r '.lines // empty' "$http_body" 2>/dev/null) || got=''
		if [ "$got" = "$n" ]; then
			rm -f "$f"
			return 0
		fi
		echo "the hub answered 200 with lines ${got:-missing}, not $n" |
		    tr -c '[:print:]\n' '?' >"$errs"
		return 1 ;;
	0:422)
		# The hub stored what it could, and can never store the rest:
		# the segment goes out of the way, kept for a person to see.
		q=$(dirname "$f")/quarantine
		mkdir -p "$q"
		mv -f "$f" "$q/"
		printf '%s: %s: moved to %s: the hub answered: %s\n' "$prog" \
		    "$name" "$q" "${why:-422 without a reason}" >"$errs"
		return 0 ;;
	0:413)
		http_split "$f" "$n" "$why"
		return ;;
	0:*)
		echo "HTTP $code${why:+: $why}" >"$errs"
		return 1 ;;
	esac
	# curl's own message (it names no header, so not the key).
	gw_why "$rc" "$errs"
	return 1
}

# FILE of N lines was refused whole for its size (413, WHY): sending it
# again would be refused forever, so its two halves take its place, each
# written and synced before the rename that shows it to the shippers, and
# the names keep the spool's order (NAME-0.seg, NAME-1.seg sort where
# NAME.seg did).  Nothing of it was stored (the gateway refuses a body
# announced too large before reading it).  A single record too large can
# never pass: it goes to quarantine/, said.  Sets http_split_done when it
# split.
http_split() {
	b=${1%.seg} name=$(basename "$1")
	if [ "$2" -lt 2 ]; then
		q=$(dirname "$1")/quarantine
		mkdir -p "$q"
		mv -f "$1" "$q/"
		printf '%s: %s: moved to %s: one record larger than the gateway takes (HTTP 413%s)\n' \
		    "$prog" "$name" "$q" "${3:+: $3}" >"$errs"
		return 0
	fi
	h=$(($2 / 2))
	if head -n "$h" "$1" >"$b-0.part" &&
	    tail -n "+$((h + 1))" "$1" >"$b-1.part" &&
	    sync "$b-0.part" "$b-1.part" &&
	    mv "$b-0.part" "$b-0.seg" && mv "$b-1.part" "$b-1.seg"; then
		rm -f "$1"
		http_split_done=1
		printf '%s: split in two (%s and %s records): the gateway takes no body this large (HTTP 413%s)\n' \
		    "$name" "$h" "$(($2 - h))" "${3:+: $3}" >"$errs"
		return 0
	fi
	rm -f "$b-0.part" "$b-1.part"
	echo "$name: could not split it after HTTP 413 (disk full?)" >"$errs"
	return 1
}
