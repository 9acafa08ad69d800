# shellcheck shell=sh
# hopmap-ship's HTTP transport: a segment POSTed with curl to a hopmap
# gateway's /results (hopmap-httpd --hub), for workers that can only open
# connections out (NAT, 4G, a proxy that lets HTTPS through).  The rules
# are the socat transports': a segment leaves the spool only when the hub
# answered that it committed all its lines (200, "lines" N); a refusal of
# some lines (422) moves it to quarantine/; anything else (401, 5xx, no
# answer, a stalled link) keeps it for the next attempt.  Sourced by
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
	0:*)
		echo "HTTP $code${why:+: $why}" >"$errs"
		return 1 ;;
	esac
	# curl's own message (it names no header, so not the key).
	gw_why "$rc" "$errs"
	return 1
}

