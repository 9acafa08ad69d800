#!/bin/sh
# hopmap-cert: the manager's (or a hub's) certificate from an ACME server
# with certbot, installed where hopmap-httpd reads it.  certbot does the
# ACME work and decides whether a renewal is due; this script gives it the
# same arguments every day from cron and, as its deploy hook, copies a new
# certificate and key into --dest, each file replaced whole (rename), so
# that hopmap-httpd takes the new pair at its next handshake.
set -eu

prog=hopmap-cert
exit_failure=1
sh_dir=$(dirname "$(readlink -f "$0")")
[ -f "$sh_dir/lib/hopmap.sh" ] || sh_dir=$(dirname "$sh_dir")/share/hopmap/sh
# shellcheck source=lib/hopmap.sh
. "$sh_dir/lib/hopmap.sh"
synopsis='[options] -d NAME... [-- CERTBOT-ARGS]'
usage() {
	cat <<EOF
usage: $prog [options] -d NAME... [-- CERTBOT-ARGS]
       $prog --deploy [-o DIR] [-g GROUP]   (certbot's deploy hook)
Get or renew a certificate for the NAMEs with certbot, and install it as
DIR/cert.pem and DIR/key.pem for hopmap-httpd --cert/--key.
  -d, --domain NAME       a name of the certificate (repeatable; the first
                          names the lineage unless --cert-name)
  -o, --dest DIR          where the files go (default /etc/hopmap/tls)
  -g, --group GROUP       the key readable by GROUP (default: root only)
  -s, --server URL        the ACME directory (default: certbot's, Let's Encrypt)
  -w, --webroot DIR       answer http-01 challenges with files under DIR
  -e, --email ADDR        the account's contact (default: none)
      --cert-name NAME    certbot's name for the lineage (default hopmap)
      --certbot-dir DIR   certbot's config, work and logs under DIR
                          (default: certbot's own, /etc/letsencrypt...)
  -f, --force             renew now, due or not
      --deploy            install \$RENEWED_LINEAGE's files (the deploy hook)
  -h, --help              show this help and exit
  -V, --version           show the version and exit
EOF
}

# A name is one word of letters, digits, dots, dashes (and a wildcard).
add_domain() {
	case $1 in
	'' | *[!A-Za-z0-9.*-]*) die_usage "not a domain name: $1" ;;
	esac
	domains="$domains -d $1"
}
domains='' dest=/etc/hopmap/tls group='' server='' webroot='' email=''
name=hopmap cbdir='' force=0 deploy=0
while [ $# -gt 0 ]; do
	case $1 in
	-d | --domain) need "$1" $#; add_domain "$2"; shift ;;
	--domain=*) add_domain "${1#*=}" ;;
	-o | --dest) need "$1" $#; dest=$2; shift ;;
	--dest=*) dest=${1#*=} ;;
	-g | --group) need "$1" $#; group=$2; shift ;;
	--group=*) group=${1#*=} ;;
	-s | --server) need "$1" $#; server=$2; shift ;;
	--server=*) server=${1#*=} ;;
	-w | --webroot) need "$1" $#; webroot=$2; shift ;;
	--webroot=*) webroot=${1#*=} ;;
	-e | --email) need "$1" $#; email=$2; shift ;;
	--email=*) email=${1#*=} ;;
	--cert-name) need "$1" $#; name=$2; shift ;;
	--cert-name=*) name=${1#*=} ;;
	--certbot-dir) need "$1" $#; cbdir=$2; shift ;;
	--certbot-dir=*) cbdir=${1#*=} ;;
	-f | --force) force=1 ;;
	--deploy) deploy=1 ;;
	-h | --help) usage; exit 0 ;;
	-V | --version) echo "$prog (hopmap) $version"; exit 0 ;;
	--) shift; break ;;
	-?*) die_usage "unrecognized option '$1'" ;;
	*) die_usage "unexpected argument '$1' (names go with -d)" ;;
	esac
	shift
done
case $name in
'' | *[!A-Za-z0-9._-]*) die_usage "not a certificate name: $name" ;;
esac

# install LINEAGE: its fullchain and key into $dest, the key first and
# never readable by others, each renamed into place whole.  Between the
# two renames the pair does not match; hopmap-httpd keeps serving the old
# pair until it does.
install_pair() {
	lin=$1
	if ! { [ -r "$lin/fullchain.pem" ] && [ -r "$lin/privkey.pem" ]; }; then
		die "$lin: no fullchain.pem and privkey.pem there"
	fi
	mkdir -p "$dest" || die "$dest: cannot make it"
	tk=$(mktemp "$dest/.key.pem.XXXXXX") || die "$dest: cannot write there"
	tc=$(mktemp "$dest/.cert.pem.XXXXXX") || { rm -f "$tk"; die "$dest: cannot write there"; }
	trap 'rm -f "$tk" "$tc"' EXIT
	if [ -z "$group" ]; then
		chmod 600 "$tk"
	elif ! { chgrp "$group" "$tk" && chmod 640 "$tk"; }; then
		die "$group: cannot give it the key"
	fi
	if ! { cat "$lin/privkey.pem" >"$tk" && cat "$lin/fullchain.pem" >"$tc" &&
	    chmod 644 "$tc"; }; then
		die "$dest: cannot write the pair"
	fi
	if ! { mv "$tk" "$dest/key.pem" && mv "$tc" "$dest/cert.pem"; }; then
		die "$dest: cannot rename the pair into place"
	fi
	trap - EXIT
	said_serial=''
	say_installed
}
# say_installed: the serial and end of $dest/cert.pem, once per serial
# (the hook's words reach only certbot's log, so the caller says them too).
said_serial=''
serial() { openssl x509 -noout -serial -in "$dest/cert.pem" 2>/dev/null || :; }
say_installed() {
	[ "$(serial)" != "$said_serial" ] || return 0
	said_serial=$(serial)
	msg "installed $(openssl x509 -noout -serial -enddate -in "$dest/cert.pem" 2>/dev/null |
	    tr '\n' ' ')into $dest"
}

if [ "$deploy" = 1 ]; then
	# certbot names the lineage in the environment; --dest and --group
	# are on the hook's command line, which certbot keeps.
	[ -n "${RENEWED_LINEAGE:-}" ] || die "--deploy: no RENEWED_LINEAGE (run by certbot as its deploy hook)"
	install_pair "$RENEWED_LINEAGE"
	exit 0
fi

[ -n "$domains" ] || die_usage "a name expected (-d NAME)"
command -v certbot >/dev/null || die "certbot: not found (apt install certbot)"

# The hook as a shell command certbot runs, and keeps in its renewal
# configuration, so that a "certbot renew" of its own (Debian's timer, in
# another environment) installs into --dest too: this script's path,
# which certbot looks for as the command's first word, unquoted; then
# --dest and --group, quoted for the shell.
self=$(self_path)
case $self in
*[!A-Za-z0-9/._+-]*) die "$self: certbot takes a hook's path only without spaces or quotes" ;;
esac
shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
case $dest in /*) ;; *) dest=$(pwd)/$dest ;; esac
hook="$self --deploy -o $(shq "$dest")${group:+ -g $(shq "$group")}"

set -- certonly --quiet --non-interactive --agree-tos --keep-until-expiring \
    --cert-name "$name" --deploy-hook "$hook" "$@"
# shellcheck disable=SC2086 # the -d NAME pairs, names being one word
set -- "$@" $domains
[ -z "$server" ] || set -- "$@" --server "$server"
if [ -n "$email" ]; then
	set -- "$@" --email "$email"
else
	set -- "$@" --register-unsafely-without-email
fi
[ -z "$webroot" ] || set -- "$@" --webroot -w "$webroot"
[ "$force" = 0 ] || set -- "$@" --force-renewal
if [ -n "$cbdir" ]; then
	set -- "$@" --config-dir "$cbdir/config" --work-dir "$cbdir/work" \
	    --logs-dir "$cbdir/logs"
fi
said_serial=$(serial)
certbot "$@" || die "certbot failed (its log: ${cbdir:-/var/log/letsencrypt}${cbdir:+/logs}/letsencrypt.log); $dest left as it was"

# A lineage that certbot kept (not due) but that never reached --dest (a
# new --dest, files removed): installed now.
if [ ! -f "$dest/cert.pem" ] || [ ! -f "$dest/key.pem" ]; then
	install_pair "${cbdir:-/etc/letsencrypt}${cbdir:+/config}/live/$name"
fi
say_installed
