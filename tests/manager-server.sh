# manager-server.sh, sourced by the t-manager*.sh tests: the manager served
# by lighttpd's mod_cgi (MANAGER_SERVER unset or "lighttpd") or by
# hopmap-httpd --manager ("httpd"), so that the same tests hold both.
#
# manager_up PORT DIR VAR=VALUE...: serve the manager of DIR on 127.0.0.1:
# PORT with the CGI's environment VAR=VALUE... (HOPMAP_MANAGER_DIR is DIR);
# sets U (its URL), SN (its SCRIPT_NAME, the prefix of its links and its
# cookies' Path) and ERRLOGS (where the CGI's stderr goes).
manager_up() {
	local port=$1 dir=$2 kv
	shift 2
	case ${MANAGER_SERVER:-lighttpd} in
	httpd)
		# The daemon's own environment is the CGI's (its HOPMAP_*).
		env "$@" PATH="$PATH" hopmap-httpd -l "127.0.0.1:$port" \
		    --manager "$dir" ${MANAGER_HTTPD_ARGS:-} 2>"$T/httpd-manager.err" &
		cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
		SN=/manager
		U=http://127.0.0.1:$port$SN
		ERRLOGS="$T/httpd-manager.err"
		check "hopmap-httpd --manager listens" until_ok 60 \
		    grep -qs "listening on 127.0.0.1:$port" "$T/httpd-manager.err"
		;;
	*)
		command -v lighttpd >/dev/null || { skip "no lighttpd"; exit 0; }
		mkdir -p "$T/www/manager"
		cp "$HOPMAP_BIN/manager.cgi" "$T/www/manager/manager.cgi"
		{
			cat <<CONF
server.document-root = "$T/www"
server.bind = "127.0.0.1"
server.port = $port
server.pid-file = "$T/lighttpd.pid"
server.errorlog = "$T/lighttpd.err"
server.breakagelog = "$T/cgi.err"
server.modules = ("mod_cgi", "mod_setenv")
\$HTTP["url"] =~ "^/manager/" {
	cgi.assign = ("manager.cgi" => "")
	setenv.add-environment = (
		"PATH" => "$PATH",
		"HOPMAP_MANAGER_DIR" => "$dir",
		"ASAN_OPTIONS" => "${ASAN_OPTIONS:-}",
		"UBSAN_OPTIONS" => "${UBSAN_OPTIONS:-}",
CONF
			for kv in "$@"; do
				printf '\t\t"%s" => "%s",\n' "${kv%%=*}" "${kv#*=}"
			done
			printf '\t)\n}\n'
		} >"$T/lighttpd.conf"
		lighttpd -tt -f "$T/lighttpd.conf" >"$T/lint" 2>&1 ||
		    { cat "$T/lint"; echo "not ok - lighttpd config"; exit 1; }
		lighttpd -D -f "$T/lighttpd.conf" >"$T/lighttpd.out" 2>&1 &
		cleanup_hooks+=("kill $! 2>/dev/null; wait $! 2>/dev/null")
		SN=/manager/manager.cgi
		U=http://127.0.0.1:$port$SN
		ERRLOGS="$T/cgi.err $T/lighttpd.err"
		check "lighttpd answers" until_ok 20 curl -s -o /dev/null "$U"
		;;
	esac
}
