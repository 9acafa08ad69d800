# Fuzz manager.cgi's request parsing (tests/fuzz/manager_request.c: form
# bodies, query strings, cookies, the log's escaping) and hopmap-httpd
# --manager's parsing of a CGI's header lines (tests/fuzz/httpd_cgi.c)
# with libFuzzer and ASan+UBSan, within a time budget, as t-fuzz.sh does
# for lib/'s parsers.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
command -v clang >/dev/null || { skip "no clang"; exit 0; }
flags="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$top/lib -I$top/web"
secs=${HOPMAP_FUZZ_SECONDS:-16}
srcs="$top/web/manager/cgireq.c $top/web/manager/authlog.c $top/lib/core/num.c $top/lib/core/diag.c $top/lib/core/formenc.c"
bin=$T/fuzz-manager_request
if ! clang $flags -o "$bin" "$top/tests/fuzz/manager_request.c" $srcs -lm 2>"$T/cc.err"; then
	echo "not ok - fuzz manager_request: build failed"; cat "$T/cc.err"; exit 1
fi
c=$T/corpus
mkdir -p "$c"
printf 'hm_session=%064d; hm_login="%064d"\nuser=alice&code=123456&csrf=%064d' 1 2 3 >"$c/login"
printf 'a=1;hm_login=\nuser=x+ip%%3D1.2.3.4&code=%%41%%4&csrf&user=' >"$c/escapes"
printf '\n%%00%%0a%%7f+%%zz=&&==' >"$c/bad"
(cd "$T" && "$bin" -max_len=20000 -max_total_time="$secs" -timeout=20 "$c" >"$T/fuzz.log" 2>&1)
frc=$?
check "fuzz manager_request: inputs up to 20000 bytes for ${secs}s without a crash" test "$frc" -eq 0
[ "$frc" -eq 0 ] || tail -n 30 "$T/fuzz.log"
check "fuzz manager_request: it ran ($(grep -o 'Done [0-9]* runs' "$T/fuzz.log"))" \
    grep -q 'Done [0-9]* runs' "$T/fuzz.log"

# hopmap-httpd --manager: the CGI's header lines (web/httpd/cgi.c).
bin=$T/fuzz-httpd_cgi
if ! clang $flags -o "$bin" "$top/tests/fuzz/httpd_cgi.c" "$top/web/httpd/cgi.c" \
    "$top/lib/core/diag.c" "$top/lib/core/num.c" -lm 2>"$T/cc.err"; then
	echo "not ok - fuzz httpd_cgi: build failed"; cat "$T/cc.err"; exit 1
fi
c=$T/corpus-cgi
mkdir -p "$c"
printf 'Status: 303 See Other\r\nLocation: /m/\r\nSet-Cookie: a=1\r\n\r\nbody' >"$c/redirect"
printf 'Content-Type: text/html\n\n' >"$c/lf"
printf 'status:42\r\nX: a\001b\r\n: v\r\nno colon\r\n\r\n' >"$c/bad"
(cd "$T" && "$bin" -max_len=20000 -max_total_time="$secs" -timeout=20 "$c" >"$T/fuzz-cgi.log" 2>&1)
frc=$?
check "fuzz httpd_cgi: outputs up to 20000 bytes for ${secs}s without a crash" test "$frc" -eq 0
[ "$frc" -eq 0 ] || tail -n 30 "$T/fuzz-cgi.log"
check "fuzz httpd_cgi: it ran ($(grep -o 'Done [0-9]* runs' "$T/fuzz-cgi.log"))" \
    grep -q 'Done [0-9]* runs' "$T/fuzz-cgi.log"
