# The fail2ban filter and jail in examples/fail2ban/ against a log that
# manager.cgi wrote: Debian's fail2ban-regex finds exactly the addresses
# of the failures, none of the logins, and a name made to look like
# another address (user "x ip=1.2.3.4") frames nobody.
. "$(dirname "$0")/lib.sh"
command -v fail2ban-regex >/dev/null || { skip "no fail2ban-regex (Debian's fail2ban)"; exit 0; }
command -v oathtool >/dev/null || { skip "no oathtool"; exit 0; }
filter=$HOPMAP_TOP/examples/fail2ban/filter.d/hopmap-manager.conf
jail=$HOPMAP_TOP/examples/fail2ban/jail.d/hopmap-manager.conf
M=$T/m
LOG=$T/auth.log
unset HOPMAP_MANAGER_KEY

# cgi ADDR METHOD PATH BODY COOKIE: manager.cgi as a server runs it.
cgi() {
	printf %s "$4" | env GATEWAY_INTERFACE=CGI/1.1 HOPMAP_MANAGER_DIR="$M" \
	    HOPMAP_MANAGER_LOG="$LOG" REQUEST_METHOD="$2" PATH_INFO="$3" \
	    SCRIPT_NAME=/m REMOTE_ADDR="$1" HTTP_COOKIE="$5" \
	    CONTENT_TYPE=application/x-www-form-urlencoded \
	    CONTENT_LENGTH=${#4} manager.cgi
}
# login ADDR USER CODE: a login through the form, with its token.
login() {
	local tok
	tok=$(cgi "$1" GET / "" "" | sed -n 's/^Set-Cookie: hm_login=\([0-9a-f]*\);.*/\1/p')
	cgi "$1" POST /login "user=$2&code=$3&csrf=$tok" "hm_login=$tok" >"$T/ans"
}

secret=$(hopmap-manager -n -d "$M" add-user alice | sed -n 's/.*secret=\([A-Z2-7]*\).*/\1/p')
login 198.51.100.1 alice 000000
login 198.51.100.1 alice 111111
login 198.51.100.2 'x+ip%3D1.2.3.4' 123456
login 198.51.100.2 'x%20ip=1.2.3.4%20reason=x' 123456
login 2001:db8::5 nobody 12
cgi 198.51.100.3 POST /login "user=alice&code=123456" "" >/dev/null
login 198.51.100.9 alice "$(oathtool --totp -b "$secret")"
check "a good login from 198.51.100.9" grep -q '^Status: 303' "$T/ans"

same "the log: six failures, one login" \
    "$(grep -c 'AUTH_FAILURE' "$LOG")/$(grep -c ' LOGIN ' "$LOG")" "6/1"
check "the forged names are escaped in the log" \
    has_all "$LOG" 'user=x%20ip%3D1.2.3.4 ip=198.51.100.2 ' 'user=x%20ip%3D1.2.3.4%20reason%3Dx ip=198.51.100.2 '
fail2ban-regex -o ip "$LOG" "$filter" >"$T/ips" 2>"$T/f2b.err"
same "fail2ban-regex: exactly the failures' addresses" "$(sort "$T/ips" | tr '\n' ' ')" \
    "198.51.100.1 198.51.100.1 198.51.100.2 198.51.100.2 198.51.100.3 2001:db8::5 "
check "fail2ban-regex: 1.2.3.4 is framed by no line" sh -c "! grep -q '1.2.3.4' '$T/ips'"
fail2ban-regex "$LOG" "$filter" >"$T/f2b.out" 2>&1
check "fail2ban-regex: every line's date is read" grep -q '\[7\] ^Year-Month-DayT24hour:Minute:SecondZone offset' "$T/f2b.out"
check "the jail names the filter" grep -q '^filter *= *hopmap-manager$' "$jail"
# A fake line where a name carries an address unescaped (as a careless
# logger would write it) would frame 1.2.3.4: the filter alone is no
# defence, the escaping is.
printf '%s\n' "2026-11-30T13:15:27Z hopmap-manager[1]: AUTH_FAILURE user=x ip=1.2.3.4 ip=198.51.100.7 reason=bad_code" >"$T/raw.log"
same "the filter's anchor: a raw name with a space matches no line" \
    "$(fail2ban-regex -o ip "$T/raw.log" "$filter" 2>/dev/null)" ""
