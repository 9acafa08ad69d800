#!/bin/sh
# hopmap-dyfi: point a dy.fi name at this host, from cron.  dy.fi takes the
# address the request comes from; it wants an update when the address
# changed or the name is about to expire (7 days), and counts needless
# updates (repeated nochg) as abuse.  So the last address and time are kept
# in a state file, and an answer that needs a person (badauth, nohost,
# notfqdn, badip, abuse) holds further updates until --force.
set -eu

prog=hopmap-dyfi
exit_failure=1 # local failures; usage errors are 2, answers below
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"
synopsis='[options] -c FILE HOSTNAME'
usage() {
	cat <<EOF
usage: $prog [options] -c FILE HOSTNAME
Update HOSTNAME at dy.fi when this host's address changed or the last
update is older than --days.
  -c, --credentials FILE  USER:PASSWORD on its first line (not readable by others)
  -s, --state FILE        the last update's address and time
                          (default /var/lib/hopmap/dyfi-HOSTNAME)
  -a, --address-cmd CMD   a command printing this host's public address
  -d, --days N            update again after N days (default 5)
  -u, --url URL           the update URL (default $default_url)
  -i, --interface ADDR    send the request from ADDR (curl --interface)
      --cacert FILE       trust the CA in FILE for the update URL
  -l, --log FILE          append each answer to FILE (default: standard error)
  -p, --peer URL          failover: a standby while the name's holder, whose
                          health check URL is, answers (state shared by both)
      --peer-addr ADDR    connect to ADDR for --peer (its URL may then name
                          the name, which its certificate is for)
      --id NAME           this updater's name in the shared state (default: host name)
      --peer-tries N      tries of --peer, 10 s apart, before taking over (default 3)
  -f, --force             update now, also after an answer that held updates
  -n, --dry-run           say whether an update is due, send nothing
  -h, --help              show this help and exit
  -V, --version           show the version and exit
EOF
}
default_url=https://www.dy.fi/nic/update

# Exit statuses, one per kind of answer (hopmap-dyfi(1), EXIT STATUS).
ex_nochg=3 ex_temp=4 ex_config=5 ex_abuse=6

creds='' state='' addr_cmd='' days=5 url=$default_url iface='' cacert=''
log='' force=0 dry=0 peer='' peer_addr='' id='' tries=3
while [ $# -gt 0 ]; do
	case $1 in
	-c | --credentials) need "$1" $#; creds=$2; shift ;;
	--credentials=*) creds=${1#*=} ;;
	-s | --state) need "$1" $#; state=$2; shift ;;
	--state=*) state=${1#*=} ;;
	-a | --address-cmd) need "$1" $#; addr_cmd=$2; shift ;;
	--address-cmd=*) addr_cmd=${1#*=} ;;
	-d | --days) need "$1" $#; days=$2; shift ;;
	--days=*) days=${1#*=} ;;
	-u | --url) need "$1" $#; url=$2; shift ;;
	--url=*) url=${1#*=} ;;
	-i | --interface) need "$1" $#; iface=$2; shift ;;
	--interface=*) iface=${1#*=} ;;
	--cacert) need "$1" $#; cacert=$2; shift ;;
	--cacert=*) cacert=${1#*=} ;;
	-l | --log) need "$1" $#; log=$2; shift ;;
	--log=*) log=${1#*=} ;;
	-p | --peer) need "$1" $#; peer=$2; shift ;;
	--peer=*) peer=${1#*=} ;;
	--peer-addr) need "$1" $#; peer_addr=$2; shift ;;
	--peer-addr=*) peer_addr=${1#*=} ;;
	--id) need "$1" $#; id=$2; shift ;;
	--id=*) id=${1#*=} ;;
	--peer-tries) need "$1" $#; tries=$2; shift ;;
	--peer-tries=*) tries=${1#*=} ;;
	-f | --force) force=1 ;;
	-n | --dry-run) dry=1 ;;
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	--) shift; break ;;
	-?*) die_usage "unrecognized option '$1'" ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 1 ] || die_usage "one hostname expected"
host=$1
case $host in
'' | *[!A-Za-z0-9.-]* | .* | *..*) die_usage "not a host name: $host" ;;
esac
posint --days "$days"
posint --peer-tries "$tries"
[ "$tries" -ge 1 ] || die_usage "--peer-tries must be 1 or more"
[ -n "$id" ] || id=$(hostname)
case $id in
'' | *[!A-Za-z0-9._-]*) die_usage "--id: not a name: $id" ;;
esac
[ -n "$creds" ] || die_usage "--credentials FILE is required"
[ -n "$state" ] || state=/var/lib/hopmap/dyfi-$host

# The credentials never reach a command line (ps shows those): curl reads
# them from its configuration on standard input.
[ -r "$creds" ] || die "$creds: cannot read the credentials"
case $(stat -c %A "$creds") in
???????---) ;;
*) die "$creds: readable or writable by others; chmod 600 it" ;;
esac
userpass=$(head -n 1 "$creds")
case $userpass in
?*:?*) ;;
*) die "$creds: the first line is not USER:PASSWORD" ;;
esac

# One run at a time per state file: two would both see an update due.
mkdir -p "$(dirname "$state")" 2>/dev/null || die "$state: cannot make its directory"
lock 9 "$state.lock" -n || die "$state: another run holds its lock"

# The state: key=value lines, read as text, never run.
get() { [ ! -f "$state" ] || sed -n "s/^$1=//p" "$state" | head -n 1; }
last_addr=$(get addr) last_time=$(get time) held=$(get held) holder=$(get holder)
case $last_time in '' | *[!0-9]*) last_time=0 ;; esac
now=$(date +%s)

# An address looks like one: digits and dots, or hex and colons.
is_addr() {
	case $1 in
	'' | *[!0-9A-Fa-f.:]*) return 1 ;;
	esac
	[ "${#1}" -le 45 ]
}
cur=''
if [ -n "$addr_cmd" ]; then
	cur=$(sh -c "$addr_cmd" 2>/dev/null | head -n 1) ||
	    die "--address-cmd failed: $addr_cmd"
	is_addr "$cur" || die "--address-cmd printed no address: $cur"
fi

say() { # a line for the log: the run's outcome, one word a field
	line="$(date -u +%Y-%m-%dT%H:%M:%SZ) $prog host=$host $*"
	if [ -n "$log" ]; then
		printf '%s\n' "$(printf '%s' "$line" | esc_ctl)" >>"$log" ||
		    msg "$log: cannot append"
	fi
	if [ -z "$log" ] || [ "${quiet:-0}" = 0 ]; then msg "$*"; fi
}

# Due?  An answer that needs a person holds updates until --force.
if [ -n "$held" ] && [ "$force" = 0 ]; then
	case $held in
	abuse) st=$ex_abuse ;;
	*) st=$ex_config ;;
	esac
	say "held answer=$held: fix it, then run with --force"
	exit "$st"
fi
age=$((now - last_time))
reason=''
# Failover: the name moves only when its holder stops answering, never
# back by itself (hopmap-dyfi(1), FAILOVER).
if [ -n "$peer" ] && [ "$force" = 0 ] && [ -n "$holder" ] && [ "$holder" != "$id" ]; then
	if curl -sf -o /dev/null --max-time 10 --retry $((tries - 1)) \
	    --retry-delay 10 --retry-all-errors ${cacert:+--cacert "$cacert"} \
	    ${peer_addr:+--connect-to "::$peer_addr:"} \
	    "$peer" 2>/dev/null; then
		[ "$dry" = 0 ] || echo "standby: the name is with $holder, which answers"
		exit 0
	fi
	reason=takeover
fi
if [ -n "$reason" ]; then
	:
elif [ "$force" = 1 ]; then
	reason=forced
elif [ "$last_time" = 0 ]; then
	reason=first
elif [ -n "$cur" ] && [ "$cur" != "$last_addr" ]; then
	reason=address
elif [ "$age" -ge $((days * 86400)) ]; then
	reason=age
fi
if [ -z "$reason" ]; then
	[ "$dry" = 0 ] || echo "no update due (last ${last_addr:--} ${age}s ago)"
	exit 0
fi
if [ "$dry" = 1 ]; then
	echo "update due: $reason"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$prog.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# curl's configuration quotes "..." with backslash escapes.
q() { printf '%s' "$1" | sed 's/[\\"]/\\&/g'; }
code=$(printf 'user = "%s"\n' "$(q "$userpass")" |
    curl -sS -K - --max-time 60 -A "hopmap-dyfi/$version" \
    ${iface:+--interface "$iface"} ${cacert:+--cacert "$cacert"} \
    -o "$tmp/body" -w '%{http_code}' "$url?hostname=$host" 2>"$tmp/err") ||
    code=000
answer=$(head -n 1 "$tmp/body" 2>/dev/null | tr -d '\r' | cut -c 1-80) || answer=''
word=${answer%% *}
seen=${answer#"$word"}
seen=${seen# }

# remember ADDR TIME HELD [HOLDER]: the state, whole or not at all.
remember() {
	printf 'addr=%s\ntime=%s\nheld=%s\nholder=%s\n' "$1" "$2" "$3" \
	    "${4:-$holder}" | atomic_write "$state" ||
	    die "$state: cannot write the state"
}
quiet=1
case $code:$word in
200:good)
	is_addr "$seen" || seen=${cur:-$last_addr}
	remember "$seen" "$now" '' "$id"
	from=''
	[ "$reason" != takeover ] || from=" from=$holder"
	say "answer=good addr=${seen:--} reason=$reason$from"
	exit 0 ;;
200:nochg)
	# Valid, and it renews the name: remembered, so the next one is not
	# sent until due.  A refresh of an unchanged address is answered so;
	# any other is said, because repeated ones are abuse.
	remember "${cur:-$last_addr}" "$now" '' "$id"
	if [ "$reason" = age ]; then
		say "answer=nochg reason=age"
		exit 0
	fi
	quiet=0
	say "answer=nochg reason=$reason (nothing changed; repeated nochg is abuse)"
	exit "$ex_nochg" ;;
*:badauth | 401:* | 200:nohost | 200:notfqdn | 200:badip)
	[ -n "$word" ] || word=badauth
	remember "$last_addr" "$last_time" "$word"
	quiet=0
	say "answer=$word reason=$reason: updates held until --force"
	exit "$ex_config" ;;
200:abuse)
	remember "$last_addr" "$last_time" abuse
	quiet=0
	say "answer=abuse reason=$reason: updates held until --force"
	exit "$ex_abuse" ;;
000:*)
	# Not the account's fault: a hold that --force overrode is lifted.
	remember "$last_addr" "$last_time" ''
	quiet=0
	say "answer=none error=$(head -n 1 "$tmp/err" | tr ' ' _): retried at the next run"
	exit "$ex_temp" ;;
*)
	remember "$last_addr" "$last_time" ''
	quiet=0
	say "answer=${word:-none} http=$code: retried at the next run"
	exit "$ex_temp" ;;
esac
