# tests/lib.sh: helpers every test script sources.
#   check NAME CMD...     ok when CMD succeeds
#   same NAME GOT WANT    ok when the two strings are equal (shows both if not)
#   run CMD...            runs CMD; stdout in $T/out, stderr in $T/err, status in $rc
#   has_all FILE WORD...  ok when every word occurs in FILE
#   until_ok SECONDS CMD... true once CMD succeeds (polled every 0.1 s)
#   wait_read PID FROM N  true once PID has read N bytes past FROM
#   skip REASON           say what was not tested; tests/run counts it apart,
#                         never as a pass
# $T is a fresh temporary directory, removed at exit (add to cleanup_hooks).
set -u
: "${HOPMAP_TOP:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${HOPMAP_BIN:=$HOPMAP_TOP/bin}"
: "${HOPMAP_OPT_BIN:=$HOPMAP_BIN}"
PATH=$HOPMAP_BIN:$PATH
RANGES=$HOPMAP_TOP/examples/ranges
T=$(mktemp -d /tmp/hopmap-test.XXXXXX)
cleanup_hooks=()
_cleanup() {
	local h
	for h in "${cleanup_hooks[@]}"; do eval "$h" || true; done
	rm -rf "$T"
}
trap _cleanup EXIT

check() {
	local name=$1
	shift
	if "$@"; then echo "ok - $name"; else echo "not ok - $name"; fi
}

same() {
	if [ "$2" = "$3" ]; then
		echo "ok - $1"
	else
		echo "not ok - $1"
		printf '    got:  %s\n    want: %s\n' "$2" "$3" | head -n 20
	fi
}

has_all() {
	local f=$1 w
	shift
	for w; do grep -q -e "$w" "$f" || return 1; done
}

run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# Sanitizer reports go to stderr; none may appear.
no_sanitizer_report() {
	! grep -q 'ERROR: AddressSanitizer\|runtime error:\|LeakSanitizer' "$@"
}

# until_ok SECONDS CMD...: true once CMD succeeds, polled every 0.1 s: a
# test waits for an event, bounded, never for a fixed time.
until_ok() {
	local n=$(($1 * 10))
	shift
	while ((n-- > 0)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# free_port LO HI: the first loopback TCP port in LO..HI nothing listens
# on (a port fixed in a test collides with whatever else runs here).
free_port() {
	local p
	for p in $(seq "$1" "$2"); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	return 1
}
# take_port VAR LO HI: VAR set to free_port LO HI, or a "not ok" and the
# test ends (a port taken in a $(...) could not end it).  Take a second
# port only once the first listens, or both are the same.
take_port() {
	printf -v "$1" %s "$(free_port "$2" "$3")" && [ -n "${!1}" ] ||
	    { echo "not ok - no free loopback port in $2..$3"; exit 1; }
}

# wait_read PID FROM N: wait (bounded) until PID has read N bytes past FROM
# (its rchar): the event "it has taken the line", instead of a sleep.
rchar_of() { awk '$1 == "rchar:" { print $2 }' "/proc/$1/io"; }
wait_read() {
	for _ in $(seq 400); do
		[ "$(rchar_of "$1")" -ge $(($2 + $3)) ] && return 0
		sleep 0.05
	done
	return 1
}

skip() { echo "# skip - $*"; }
