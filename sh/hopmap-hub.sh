#!/bin/sh
# hopmap-hub: the hub of many hopmap nodes.
#
#   hopmap-hub serve   one sqlsink on a Unix socket, kept running, and socat
#                      listeners (TCP, OPENSSL with client certificates)
#                      whose connections run "hopmap-hub recv"
#   hopmap-hub recv    one segment from a worker's shipper: store it through
#                      the sink, wait for its commit, answer "ok N"
#   hopmap-hub ssh     run a pipeline on a node over ssh, spool its output
#                      on the hub and store it through recv
#   hopmap-hub hops    new hop targets from the hub's database, through the
#                      global dedup, handed out by shard
#   hopmap-hub status  deliveries and last contact per node
#
# The sink itself confirms: recv hands the segment to sqlsink in a session
# (sqlsink --send), which binds every record to the delivering node,
# refuses what it cannot store, writes the delivery row and answers only
# after the commit that holds the last line.
#
# This file is the dispatcher: the usage, the options and paths every
# command shares, and the one command's part it sources, sh/hub/NAME.sh.
set -eu

prog=hopmap-hub
synopsis='serve|recv|ssh|hops|status ...'
# The shared library: sh/lib/ beside the script in a checkout, else
# share/hopmap/sh/lib/ beside its bin/ once built or installed.
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"

usage() {
	cat <<EOF
usage: $prog serve [-d DIR] [--db PATH] [--tcp [ADDR:]PORT]
                   [--tls [ADDR:]PORT --cert PEM --key PEM --ca PEM]
                   [--max-children N] [--max-header BYTES] [--max-lines N]
                   [--max-bytes BYTES] [--idle S] [--handshake S]
                   [--max-time S] [--sink-args ARGS] [--hops-every S]
       $prog recv [-d DIR] [--db PATH] [-w SECONDS]
       $prog ssh [-d DIR] [--db PATH] [--direct] [-N NAME] [--ssh-args ARGS]
                   NODE COMMAND
       $prog hops [-d DIR] [--db PATH] [-R] [-s K/N] [-f LINE]
       $prog status [-d DIR] [--db PATH]
Collect the results of many hopmap nodes into one database.
  -d, --state-dir DIR   the hub's state (default \$HOPMAP_HUB or
                        ~/.local/state/hopmap-hub)
      --db PATH         the database (default DIR/map.db)
  serve                 run the sink and the listeners until SIGTERM
      --tcp [ADDR:]PORT   accept plain TCP (trusted networks only) on ADDR
                          (default 127.0.0.1; 0.0.0.0 for every address)
      --tls [ADDR:]PORT   accept TLS on ADDR (default 127.0.0.1); clients
                          need a certificate signed by --ca; --cert and
                          --key are the hub's own
      --max-children N    connections served at once per listener; more
                          wait in the kernel's queue (default 32)
      --max-header BYTES  longest segment header (default 1024)
      --max-lines N       most records in a segment (default 100000)
      --max-bytes BYTES   largest segment (default 67108864)
      --idle S            drop a connection idle for S seconds (default 120)
      --handshake S       drop a connection that has not started recv
                          (TLS handshake) within S seconds (default 10)
      --max-time S        drop a connection older than S seconds
                          (default 900)
      --sink-args ARGS    more sqlsink options (split on blanks)
      --hops-every S      turn new traces into the hop queue every S
                          seconds, for the gateway (default 10; 0: never)
  recv                  store one segment read on standard input
    -w, --wait S          wait at most S seconds for the commit (default 30)
  ssh                   run COMMAND on NODE with ssh; store its output
      --direct            straight into the sink socket, without the spool
    -N, --node NAME       the name the records are stored under (default:
                          NODE, other characters than A-Za-z0-9._- as _)
      --ssh-args ARGS     more ssh options (split on blanks)
  hops                  print new hop targets
    -R, --allow-reserved  keep special-purpose hop addresses (labs)
    -s, --shard K/N       only shard K of N of the hops
    -f, --from LINE       skip the first LINE hops of the shard
  status                deliveries per node: segments, records stored,
                        duplicates, refused, last contact
  -h, --help            show this help and exit
  -V, --version         show the version and exit
EOF
}

# Options every command takes; sets $shifted to how many words it used.
common_opt() {
	shifted=0
	case $1 in
	-d | --state-dir) need "$1" $#; state=$2; shifted=2 ;;
	--state-dir=*) state=${1#*=}; shifted=1 ;;
	--db) need "$1" $#; db=$2; shifted=2 ;;
	--db=*) db=${1#*=}; shifted=1 ;;
	esac
}

setup_paths() {
	state=${state:-${HOPMAP_HUB:-${HOME:-/root}/.local/state/hopmap-hub}}
	mkdir -p "$state"
	state=$(cd "$state" && pwd)
	db=${db:-$state/map.db}
	sock=$state/sink.sock
}

# Names that reach the sink's session, rows and logs: plain ones only.
plain_name() {
	case $1 in
	'' | *[!A-Za-z0-9._-]*) return 1 ;;
	esac
	[ "${#1}" -le 64 ]
}

case ${1:-} in
-h | --help) usage; exit 0 ;;
-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
serve)
	# shellcheck source=hub/serve.sh
	. "$sh_dir/hub/serve.sh"
	# shellcheck source=hub/hops.sh
	. "$sh_dir/hub/hops.sh"
	shift; cmd_serve "$@" ;;
recv)
	# shellcheck source=hub/recv.sh
	. "$sh_dir/hub/recv.sh"
	shift; cmd_recv "$@" ;;
ssh)
	# shellcheck source=hub/ssh.sh
	. "$sh_dir/hub/ssh.sh"
	shift; cmd_ssh "$@" ;;
hops)
	# shellcheck source=hub/hops.sh
	. "$sh_dir/hub/hops.sh"
	shift; cmd_hops "$@" ;;
status)
	# shellcheck source=hub/status.sh
	. "$sh_dir/hub/status.sh"
	shift; cmd_status "$@" ;;
'') die_usage "a command is needed: serve, recv, ssh, hops or status" ;;
*) die_usage "unknown command: $1" ;;
esac
