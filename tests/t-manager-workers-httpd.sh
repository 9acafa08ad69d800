# t-manager-workers.sh again, the manager served by hopmap-httpd --manager instead of
# lighttpd: the same CGI, the same assertions (tests/manager-server.sh).
MANAGER_SERVER=httpd
. "$(dirname "$0")/t-manager-workers.sh"
