# hopmap-dyfi against a stand-in for dy.fi's update
# endpoint (tests/names/dyfi-standin.py, HTTPS on loopback, answering as
# dy.fi's specification says and recording what it was asked).
. "$(dirname "$0")/lib.sh"
for c in curl openssl python3; do
	command -v $c >/dev/null || { skip "no $c"; exit 0; }
done
. "$HOPMAP_TOP/tests/names/lib.sh"
D=$T/dyfi
test_ca || { echo "not ok - a test CA from openssl"; exit 1; }
dport=$(free_port_of 28101 28111 28121 28131) || { skip "no free port in 28101..28131"; exit 0; }
check "the dy.fi stand-in is up" dyfi_standin "$dport"

ST=$T/state/dyfi-home
# dyfi FROM [ARGS...]: hopmap-dyfi for home.dy.fi, as this host at FROM.
dyfi() {
	local from=$1
	shift
	run hopmap-dyfi -c "$T/creds" -s "$ST" -u "$URL" --cacert "$T/ca.pem" \
	    -l "$T/dyfi.log" -i "$from" -a "echo $from" "$@" home.dy.fi
}
asked() { [ -f "$D/requests" ] && wc -l <"$D/requests" || echo 0; }
last_asked() { tail -n 1 "$D/requests"; }
name_at() { sed -n 's/^home\.dy\.fi //p' "$D/names"; }

dyfi 127.0.0.2
same "first run: good, exit 0" "$rc" 0
same "... the stand-in points the name at the request's address" "$(name_at)" 127.0.0.2
check "... asked with basic auth for the name, as hopmap-dyfi" \
    has_all "$D/requests" 'path=/nic/update?hostname=home.dy.fi ' 'agent=hopmap-dyfi/' 'answer=good_127.0.0.2'
check "... remembered" has_all "$ST" '^addr=127.0.0.2$' '^time=[0-9]' '^held=$'
check "... logged" grep -q 'hopmap-dyfi host=home.dy.fi answer=good addr=127.0.0.2 reason=first' "$T/dyfi.log"
same "... quietly (cron mails what is said)" "$(cat "$T/err")" ""

n=$(asked)
dyfi 127.0.0.2
same "run again, nothing changed: exit 0, nothing sent" "$rc:$(asked)" "0:$n"
dyfi 127.0.0.2 --dry-run
check "... --dry-run says no update is due" grep -q 'no update due' "$T/out"

# Six days on (the state's time moved back, not waited for).
sed -i "s/^time=.*/time=$(( $(date +%s) - 6 * 86400 ))/" "$ST"
dyfi 127.0.0.2
same "after 6 days: an update, nochg (the address did not change): the refresh, exit 0" "$rc:$(asked)" "0:$((n + 1))"
check "... logged, not said" sh -c "grep -q 'answer=nochg reason=age' '$T/dyfi.log' && ! test -s '$T/err'"
dyfi 127.0.0.2
same "... and none again right after it" "$rc:$(asked)" "0:$((n + 1))"
dyfi 127.0.0.2 --force
same "nochg to a forced update: exit 3 (repeated, it is abuse)" "$rc:$(asked)" "3:$((n + 2))"
check "... said, and logged" sh -c "grep -q 'answer=nochg reason=forced' '$T/err' && grep -q 'answer=nochg reason=forced' '$T/dyfi.log'"

dyfi 127.0.0.3
same "the address changed: good, exit 0" "$rc" 0
same "... the name moved" "$(name_at)" 127.0.0.3
check "... logged with its reason" grep -q 'answer=good addr=127.0.0.3 reason=address' "$T/dyfi.log"

# Wrong credentials: badauth (HTTP 401), updates held until --force.
cp "$T/creds" "$T/creds.good"
printf 'me@example.org:wrong\n' >"$T/creds"
dyfi 127.0.0.4
same "wrong credentials: badauth, exit 5" "$rc" 5
check "... said and logged" sh -c "grep -q 'answer=badauth' '$T/err' && grep -q 'answer=badauth reason=address' '$T/dyfi.log'"
check "... held in the state" grep -q '^held=badauth$' "$ST"
cp "$T/creds.good" "$T/creds"
n=$(asked)
dyfi 127.0.0.4
same "... the next run sends nothing: exit 5" "$rc:$(asked)" "5:$n"
check "... and says to --force" grep -q 'held answer=badauth.*--force' "$T/err"
dyfi 127.0.0.4 --force
same "--force after fixing: good" "$rc:$(name_at)" "0:127.0.0.4"

echo abuse >"$D/force"
dyfi 127.0.0.4 --force
same "abuse: exit 6" "$rc" 6
check "... logged and held" sh -c "grep -q 'answer=abuse' '$T/dyfi.log' && grep -q '^held=abuse$' '$ST'"
n=$(asked)
dyfi 127.0.0.5
same "... even a new address sends nothing: exit 6" "$rc:$(asked)" "6:$n"

echo dnserr >"$D/force"
dyfi 127.0.0.5 --force
same "dnserr: exit 4" "$rc" 4
check "... logged, not held" sh -c "grep -q 'answer=dnserr' '$T/dyfi.log' && grep -q '^held=\$' '$ST'"
rm "$D/force"
dyfi 127.0.0.5
same "... retried at the next run: good" "$rc:$(name_at)" "0:127.0.0.5"

n=$(asked)
chmod 644 "$T/creds"
dyfi 127.0.0.6
same "credentials readable by others: refused before sending, exit 1" "$rc:$(asked)" "1:$n"
check "... saying so" grep -q 'readable or writable by others' "$T/err"
chmod 600 "$T/creds"

# curl's command lines, as ps would show them: a curl first on PATH that
# writes its arguments down and runs the real one.
mkdir -p "$T/shim"
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s"\nexec %s "$@"\n' "$T/argv" "$(command -v curl)" >"$T/shim/curl"
chmod +x "$T/shim/curl"
PATH=$T/shim:$PATH dyfi 127.0.0.7 --force
same "through the shim: good" "$rc:$(name_at)" "0:127.0.0.7"
check "the password is on no command line (curl reads its configuration on stdin)" \
    sh -c "grep -q -- '-K -' '$T/argv' && ! grep -q -- 's3\\|me@example' '$T/argv'"
same "the log: one line per answer (and per run held back)" \
    "$(grep -vc ' held answer=' "$T/dyfi.log")" "$(wc -l <"$D/requests")"

# Bad input: a garbled answer, control bytes in it, a garbled state.
printf 'good \033[31m<html>\n' >"$D/force"
dyfi 127.0.0.8 --force
same "an answer whose address is garbage: good, the address from --address-cmd kept" "$rc:$(grep '^addr=' "$ST")" "0:addr=127.0.0.8"
printf '<html>\033]0;owned\007</html>\n' >"$D/force"
dyfi 127.0.0.8 --force
same "an answer not known: exit 4" "$rc" 4
check "... logged on one line, its control bytes escaped" \
    sh -c "tail -n 1 '$T/dyfi.log' | grep -q 'answer=<html>?\\]0;owned?</html> http=200' && ! grep -q \"\$(printf '\\033')\" '$T/dyfi.log'"
rm "$D/force"
printf 'garbage\n\001\002\ntime=yesterday\n' >"$ST"
dyfi 127.0.0.8
same "a garbled state: read as none, an update, a good state written" \
    "$rc:$(name_at):$(grep -c '^time=[0-9]' "$ST")" "0:127.0.0.8:1"
run hopmap-dyfi -c "$T/creds" -s "$ST" -u "https://127.0.0.1:1/nic/update" -a 'echo 127.0.0.7' home.dy.fi
same "no answer: exit 4, retried later" "$rc" 4
check "... said" grep -q 'answer=none' "$T/err"
