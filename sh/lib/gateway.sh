# shellcheck shell=sh
# The client side of a hopmap gateway (hopmap-httpd --hub), with curl:
# the checks of its URL and API key, and curl with the options every
# request takes.  Sourced by hopmap-ship (POST /results) and hopmap-worker
# (GET /targets), after hopmap.sh.
#
# The key is read from its file once and reaches curl only on its standard
# input (-H @-): never on a command line (ps), never in a message.

# gw_check URL KEYFILE CACERT PLAIN: the gateway is usable as given, or
# the program stops with a usage error (2) or a failure (1).  PLAIN is 1
# when http:// beyond the loopback was asked for.  Sets gw_url (the URL
# without a trailing slash) and gw_auth (the header line).
gw_check() {
	case $1 in
	https://*) gw_hp=${1#https://} ;;
	http://*) gw_hp=${1#http://} ;;
	*) die_usage "not an http:// or https:// URL: $1" ;;
	esac
	gw_hp=${gw_hp%%/*}
	case $gw_hp in
	\[*\]*) gw_host=${gw_hp%%]*}] ;;
	*) gw_host=${gw_hp%%:*} ;;
	esac
	[ -n "$gw_host" ] || die_usage "no host in $1"
	case $1 in
	http://*)
		# Plain HTTP carries the key in clear: loopback only, unless
		# asked (a TLS proxy in front of the gateway, a lab).
		case $gw_host in
		127.* | localhost | '[::1]') ;;
		*) [ "$4" = 1 ] || die_usage "http:// to $gw_host would send" \
		    "the key in clear: use https://, or --plain-http if the" \
		    "path is safe" ;;
		esac ;;
	esac
	[ -n "$2" ] || die_usage "a gateway URL needs --key FILE"
	[ -r "$2" ] || die "$2: cannot read the key"
	gw_key=''
	IFS= read -r gw_key <"$2" || [ -n "$gw_key" ] ||
	    die "$2: no key in the file"
	# A bearer token is one word of these characters (RFC 6750): nothing
	# that could end the header or start another.
	case $gw_key in
	'' | *[!A-Za-z0-9._~+/=-]*) die "$2: not a key (one line of" \
	    "letters, digits and ._~+/=-)" ;;
	esac
	gw_auth="Authorization: Bearer $gw_key"
	gw_key=''
	if [ -n "$3" ] && [ ! -r "$3" ]; then
		die "$3: cannot read the CA certificate"
	fi
	gw_url=${1%/}
}

# gw_curl SECONDS CACERT CURL-ARGS...: curl with the key's header, no
# ~/.curlrc (-q), HTTP only, and a connection given up when it does not
# open in SECONDS or moves less than a byte a second for SECONDS (as
# socat -T); a request that waits for a commit has no limit on the whole.
# Run it in a subshell (&, $(...)): it becomes curl (exec), so that the
# pid a caller kills is curl's.
gw_curl() {
	gw_t=$1 gw_ca=$2
	shift 2
	exec curl -q -sS --proto =http,https --connect-timeout "$gw_t" \
	    --speed-limit 1 --speed-time "$gw_t" ${gw_ca:+--cacert "$gw_ca"} \
	    -H @- "$@" <<EOF
$gw_auth
EOF
}

# gw_error FILE: the "error" of a gateway's JSON answer in FILE, as one
# line of printable characters (it comes from the network), at most 2000.
gw_error() {
	jq -j '.error // empty' "$1" 2>/dev/null | head -c 2000 |
	    tr -c '[:print:]' '?' || true
}

# gw_why RC FILE: curl's message in FILE (exit status RC) cut to its first
# line, with what to do when the cause is one an operator can fix here:
# curl's own text for an untrusted certificate runs to five lines and
# names no option of ours.
gw_why() {
	gw_m=$(head -n 1 "$2" | tr -c '[:print:]' '?')
	[ -n "$gw_m" ] || gw_m="curl exited with status $1"
	case $1 in
	60) gw_m="$gw_m: the gateway's certificate is not signed by a CA"
		gw_m="$gw_m trusted here: give that CA's certificate with --cacert PEM" ;;
	35) gw_m="$gw_m: no TLS handshake: does the gateway serve https"
		gw_m="$gw_m (hopmap-httpd --cert, --key), or is the URL http://?" ;;
	esac
	printf '%s\n' "$gw_m" >"$2"
}
