# hopmap-manager: the store under its server key, and its users: add-user
# prints a URI whose secret oathtool turns into codes manager.cgi accepts
# (run here as a CGI by hand, no server), del-user, list-users, and a
# store that refuses a missing or wrong key.
. "$(dirname "$0")/lib.sh"
command -v oathtool >/dev/null || { skip "no oathtool"; exit 0; }
M=$T/m
unset HOPMAP_MANAGER_KEY HOPMAP_MANAGER_DIR

run hopmap-manager --help
check "--help: usage on stdout, status 0" has_all "$T/out" "add-user" "del-user" "list-users" "--key-file"
run hopmap-manager --version
check "--version" grep -q '^hopmap-manager (hopmap) ' "$T/out"
run hopmap-manager add-user
same "no directory: status 2" "$rc" 2
run hopmap-manager -d "$M" frob x
same "an unknown command: status 2" "$rc" 2
check "... and says which" grep -q 'unknown command "frob"' "$T/err"

run hopmap-manager -d "$M" add-user alice
same "add-user: status 0" "$rc" 0
check "add-user: the otpauth URI first" \
    grep -qE '^otpauth://totp/hopmap:alice\?secret=[A-Z2-7]{32}&issuer=hopmap' "$T/out"
check "add-user: then the QR code (qrencode, UTF-8 blocks)" grep -q '█' "$T/out"
secret=$(sed -n 's/^otpauth:.*secret=\([A-Z2-7]*\).*/\1/p' "$T/out")
same "the key file is made 0600" "$(stat -c %a "$M/server.key")" 600
same "the directory is 0700" "$(stat -c %a "$M")" 700
same "the store is 0600" "$(stat -c %a "$M/manager.db")" 600
check "the secret is not in the store in the clear" \
    sh -c "! grep -q \"$secret\" '$M/manager.db' && ! sqlite3 '$M/manager.db' .dump | grep -q \"$secret\""
run hopmap-manager -d "$M" -n add-user alice
same "add-user of an existing user: status 1" "$rc" 1
run hopmap-manager -d "$M" -n add-user 'x y'
same "a name with a space: status 2" "$rc" 2
run hopmap-manager -d "$M" --no-qr add-user bob
check "--no-qr: the URI alone" test "$(wc -l <"$T/out")" -eq 1
run hopmap-manager -d "$M" list-users
same "list-users: both, by name" "$(cut -f1 "$T/out" | tr '\n' ' ')" "alice bob "

# A login by hand: manager.cgi as a server would run it.
cgi() { # METHOD PATH BODY COOKIE
	printf %s "$3" | env GATEWAY_INTERFACE=CGI/1.1 HOPMAP_MANAGER_DIR="$M" \
	    HOPMAP_MANAGER_LOG="$T/auth.log" REQUEST_METHOD="$1" PATH_INFO="$2" \
	    SCRIPT_NAME=/m REMOTE_ADDR=127.0.0.1 HTTP_COOKIE="$4" \
	    CONTENT_TYPE=application/x-www-form-urlencoded \
	    CONTENT_LENGTH=${#3} manager.cgi
}
cgi GET / "" "" >"$T/form"
tok=$(sed -n 's/^Set-Cookie: hm_login=\([0-9a-f]*\);.*/\1/p' "$T/form")
check "the login form has its CSRF token" grep -q "name=\"csrf\" value=\"$tok\"" "$T/form"
code=$(oathtool --totp -b "$secret")
cgi POST /login "user=alice&code=$code&csrf=$tok" "hm_login=$tok" >"$T/login"
check "oathtool's code logs alice in (303 and a session cookie)" \
    has_all "$T/login" '^Status: 303' '^Set-Cookie: hm_session=[0-9a-f]\{64\}; Path=/m; Max-Age=3600; HttpOnly; Secure; SameSite=Strict'
run hopmap-manager -d "$M" list-users
check "list-users: alice's last login" grep -q '^alice.*last login 20' "$T/out"
printf 'user=x&code=1&csrf=1' | env GATEWAY_INTERFACE=CGI/1.1 HOPMAP_MANAGER_DIR="$M" \
    HOPMAP_MANAGER_LOG="$T/nodir/auth.log" REQUEST_METHOD=POST PATH_INFO=/login \
    REMOTE_ADDR=127.0.0.1 CONTENT_TYPE=application/x-www-form-urlencoded \
    CONTENT_LENGTH=20 manager.cgi >/dev/null 2>"$T/logerr"
check "a log that cannot be opened: stderr says why, and has the line" \
    has_all "$T/logerr" "$T/nodir/auth.log: No such file or directory" "AUTH_FAILURE user=x ip=127.0.0.1 reason=bad_csrf"

# Keys: from the environment, a file, none, a wrong one.
key=$(cat "$M/server.key")
mv "$M/server.key" "$T/key"
run hopmap-manager -d "$M" list-users
same "without the key: status 3" "$rc" 3
check "... saying no server key" grep -q "no server key: $M/server.key" "$T/err"
check "... and no new key is made" test ! -e "$M/server.key"
run env HOPMAP_MANAGER_KEY="$key" hopmap-manager -d "$M" list-users
same "the key from HOPMAP_MANAGER_KEY" "$rc/$(wc -l <"$T/out")" "0/2"
run hopmap-manager -d "$M" -k "$T/key" list-users
same "the key from --key-file" "$rc/$(wc -l <"$T/out")" "0/2"
chmod 644 "$T/key"
run hopmap-manager -d "$M" -k "$T/key" list-users
check "a key file others may read is refused" grep -q "permissions 0644 are too open" "$T/err"
chmod 600 "$T/key"
run env HOPMAP_MANAGER_KEY="$(printf '%064d' 7)" hopmap-manager -d "$M" list-users
same "a wrong key: status 3" "$rc" 3
check "... says wrong server key" grep -q 'wrong server key' "$T/err"
cgi GET / "" "" >"$T/nokey" 2>"$T/cgi.err"
check "manager.cgi without its key: 500, the reason in the server's log only" \
    sh -c "grep -q '^Status: 500' '$T/nokey' && grep -q 'no server key' '$T/cgi.err' && ! grep -q 'server.key' '$T/nokey'"

run hopmap-manager -d "$M" -k "$T/key" del-user alice
same "del-user: status 0" "$rc" 0
run hopmap-manager -d "$M" -k "$T/key" del-user alice
same "del-user of no such user: status 1" "$rc" 1
run hopmap-manager -d "$M" -k "$T/key" list-users
same "list-users: bob alone" "$(cut -f1 "$T/out")" "bob"

# What every program promises (t-common's checks, for web/manager's two).
run manager.cgi --help
check "manager.cgi --help: usage on stdout, status 0" \
    sh -c "[ $rc -eq 0 ] && grep -q '^usage: manager.cgi' '$T/out' && [ ! -s '$T/err' ]"
run manager.cgi --version
check "manager.cgi --version" grep -q '^manager.cgi (hopmap) ' "$T/out"
run manager.cgi
same "manager.cgi outside a server: status 2" "$rc" 2
run hopmap-manager --no-such-option
same "hopmap-manager: an unknown option exits 2" "$rc" 2
for p in hopmap-manager manager.cgi; do
	page=$HOPMAP_TOP/man/$p.8
	mandoc -T lint -W warning "$page" >"$T/lint" 2>&1
	check "$p: man page lints clean" test ! -s "$T/lint"
	cat "$T/lint"
	missing=
	for opt in $("$p" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "Fl -${opt#--}\b" "$page" || missing="$missing $opt"
	done
	same "$p: every long option in --help is in the man page" "$missing" ""
	for v in $("$p" --help | grep -o 'HOPMAP_[A-Z_]*' | sort -u); do
		grep -q "Ev $v" "$page" || missing="$missing $v"
	done
	same "$p: every variable in --help is in the man page" "$missing" ""
done

# Bodies the CGI refuses before parsing them.
big=$(head -c 20000 /dev/zero | tr '\0' a)
cgi POST /login "$big" "" >"$T/big"
check "a form over 16 KiB: 413" grep -q '^Status: 413 Content Too Large' "$T/big"
printf 'user=a' | env GATEWAY_INTERFACE=CGI/1.1 HOPMAP_MANAGER_DIR="$M" \
    REQUEST_METHOD=POST PATH_INFO=/login manager.cgi >"$T/nolen"
check "a POST without CONTENT_LENGTH: 411" grep -q '^Status: 411' "$T/nolen"
printf 'user=a' | env GATEWAY_INTERFACE=CGI/1.1 HOPMAP_MANAGER_DIR="$M" \
    REQUEST_METHOD=POST PATH_INFO=/login CONTENT_LENGTH=60 manager.cgi >"$T/short"
check "a body shorter than CONTENT_LENGTH: 400" grep -q '^Status: 400' "$T/short"

# Root adding a user to a directory that is the web server's: the store
# and the key are made as that user (else root's 0600 files, and every
# page a 500).
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	chmod 711 "$T"
	install -d -o nobody -g "$(id -g nobody)" -m 700 "$T/www"
	run hopmap-manager -d "$T/www" -n add-user carol
	same "root's add-user in nobody's directory: the store and the key are nobody's" \
	    "$rc $(stat -c '%U %a' "$T/www/manager.db" "$T/www/server.key" | tr '\n' ' ')" \
	    "0 nobody 600 nobody 600 "
	run hopmap-manager -d "$T/www" list-users
	same "... and root reads it as nobody" "$rc $(cut -f1 "$T/out")" "0 carol"
else
	skip "not root, or no user nobody: root's add-user in another's directory"
fi
