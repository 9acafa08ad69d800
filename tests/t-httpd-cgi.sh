# hopmap-httpd --manager DIR as a CGI/1.1 server, with a stand-in CGI
# (HOPMAP_MANAGER_CGI, a sh script) so each duty is seen alone: the
# meta-variables and the body on stdin, the CGI's Status, Location and
# every Set-Cookie passed back, a long body streamed whole, output that is
# not CGI refused (502), a CGI silent past --timeout killed (504), no
# child left behind; the gateway's routes beside it.  The real manager
# under hopmap-httpd is t-manager*-httpd.sh.  Ports 24400-24499.
. "$(dirname "$0")/lib.sh"
for c in curl sha256sum; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
port=
for p in $(seq 24400 24499); do
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { port=$p; break; }
done
[ -n "$port" ] || { skip "no free port in 24400..24499"; exit 0; }

cgi=$T/cgi.sh
cat >"$cgi" <<'SH'
#!/bin/sh
case $PATH_INFO in
/env)
	printf 'Content-Type: text/plain\r\n\r\n'
	for v in GATEWAY_INTERFACE REQUEST_METHOD SCRIPT_NAME PATH_INFO \
	    QUERY_STRING CONTENT_LENGTH CONTENT_TYPE HTTP_COOKIE REMOTE_ADDR \
	    HOPMAP_MANAGER_DIR HOPMAP_MANAGER_LOG; do
		eval "printf '%s=%s\n' $v \"\${$v-unset}\""
	done
	printf 'body='; cat; echo ;;
/redirect)
	printf 'Status: 303 See Other\r\nLocation: /manager/\r\n'
	printf 'Set-Cookie: a=1; Path=/manager\r\nSet-Cookie: b=2; Path=/manager\r\n\r\n' ;;
/big)
	printf 'Content-Type: application/octet-stream\n\n'
	head -c 5000000 "$HOPMAP_TEST_BIG" ;;
/garbage)
	printf 'this is not a header\n\nbody\n' ;;
/silent)
	exec sleep 600 ;;
*)
	printf 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno %s\n' "$PATH_INFO" ;;
esac
SH
chmod +x "$cgi"
head -c 5000000 /dev/urandom >"$T/big"
mkdir -p "$T/m"

check "--manager without a manager.cgi beside it or HOPMAP_MANAGER_CGI: exit 3, says why" \
    sh -c "HOPMAP_MANAGER_CGI='$T/none' hopmap-httpd -l 127.0.0.1:$port --manager '$T/m' 2>'$T/e'; [ \$? = 3 ] && grep -q 'HOPMAP_MANAGER_CGI' '$T/e'"

check "--log without --manager: a usage error" \
    sh -c "hopmap-httpd -l 127.0.0.1:$port --log '$T/x.log' 2>'$T/e'; [ \$? = 2 ] && grep -q 'goes with --manager' '$T/e'"
# --log wins over the environment's HOPMAP_MANAGER_LOG.
HOPMAP_MANAGER_CGI=$cgi HOPMAP_TEST_BIG=$T/big HOPMAP_MANAGER_LOG=$T/env.log \
    hopmap-httpd -l "127.0.0.1:$port" --timeout 2s --manager "$T/m" \
    --log "$T/auth.log" 2>"$T/d.err" &
dpid=$!
cleanup_hooks+=("kill $dpid 2>/dev/null; wait $dpid 2>/dev/null")
check "up" until_ok 60 grep -qs "listening on 127.0.0.1:$port" "$T/d.err"
u=http://127.0.0.1:$port

get() { # PATH [curl args]: the status; headers in $T/h, body in $T/b
	local path=$1
	shift
	curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' --max-time 30 "$@" "$u$path"
}
same "POST /manager/env: 200" "$(get '/manager/env?a=1&b=%20' -H 'Cookie: s=x; t=y' --data-raw 'user=al&code=1')" 200
check "... the meta-variables of CGI/1.1, the log --log named" has_all "$T/b" GATEWAY_INTERFACE=CGI/1.1 \
    REQUEST_METHOD=POST SCRIPT_NAME=/manager PATH_INFO=/env 'QUERY_STRING=a=1&b=%20' \
    CONTENT_LENGTH=14 CONTENT_TYPE=application/x-www-form-urlencoded \
    'HTTP_COOKIE=s=x; t=y' REMOTE_ADDR=127.0.0.1 "HOPMAP_MANAGER_DIR=$T/m" \
    "HOPMAP_MANAGER_LOG=$T/auth.log"
check "... the body on its stdin" grep -qx 'body=user=al&code=1' "$T/b"
check "... its Content-Type passed back" grep -qi '^Content-Type: text/plain' "$T/h"
get /manager/env >/dev/null
check "GET: no body, no CONTENT_LENGTH" has_all "$T/b" REQUEST_METHOD=GET CONTENT_LENGTH=unset body=
same "GET /manager: PATH_INFO /" "$(get /manager):$(grep -c '^no /$' "$T/b")" 404:1
same "/manager-x is not the manager's: the gateway's 404" "$(get /manager-x):$(grep -c '"error"' "$T/b")" 404:1
same "the CGI's Status and Location: 303" "$(get /manager/redirect):$(grep -c '^Location: /manager/' "$T/h")" 303:1
same "... both its Set-Cookie headers" "$(grep -c '^Set-Cookie: [ab]=[12]; Path=/manager' "$T/h")" 2
same "5 MB streamed through: 200" "$(get /manager/big)" 200
same "... whole" "$(sha256sum <"$T/b" | cut -d' ' -f1)" "$(sha256sum <"$T/big" | cut -d' ' -f1)"
same "output that is not CGI: 502" "$(get /manager/garbage)" 502
check "... said why in the daemon's log" grep -q 'the manager: a header line without a name' "$T/d.err"
same "a CGI silent past --timeout: 504" "$(get /manager/silent)" 504
check "... killed, no child left (not even a zombie)" until_ok 10 sh -c "[ -z \"\$(ps --ppid $dpid -o pid= 2>/dev/null)\" ]"
same "the node face beside it: GET /health 200" "$(get /health)" 200
check "access log: the manager's requests" grep -q '"POST /manager/env?a=1&b=%20" 200' "$T/d.err"
