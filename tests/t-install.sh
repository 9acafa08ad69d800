# make install: programs, scripts and man pages land under DESTDIR/PREFIX, and
# the raw-socket programs get exactly cap_net_raw as a file capability.
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
root=$T/root
make -s -C "$top" install DESTDIR="$root" PREFIX=/usr >"$T/make.out" 2>&1
same "make install: exit 0" "$?" 0
for src in "$top"/filters/*.c; do
	p=$(basename "$src" .c)
	check "installed bin/$p" test -x "$root/usr/bin/$p"
	check "installed man1/$p.1" test -f "$root/usr/share/man/man1/$p.1"
done
for s in "$top"/sh/*.sh; do
	[ -e "$s" ] || continue
	p=$(basename "$s" .sh)
	check "installed script $p" test -x "$root/usr/bin/$p"
	# Each finds its parts (share/hopmap/sh) from where it is installed,
	# also through a symbolic link elsewhere.
	same "installed $p runs" "$(cd / && "$root/usr/bin/$p" --version)" \
	    "$(sh "$top/sh/$p.sh" --version)"
	ln -sf "$root/usr/bin/$p" "$T/$p"
	same "installed $p runs through a link" "$("$T/$p" --version)" \
	    "$("$root/usr/bin/$p" --version)"
done
for s in "$top"/sh/*/*.sh; do
	[ -e "$s" ] || continue
	part=${s#"$top"/}
	same "installed $part" "$(cmp "$s" "$root/usr/share/hopmap/$part" 2>&1)" ""
done
# The HTTP face (web/httpd/) is a program too.
check "installed bin/hopmap-httpd" test -x "$root/usr/bin/hopmap-httpd"
check "installed man1/hopmap-httpd.1" test -f "$root/usr/share/man/man1/hopmap-httpd.1"
same "installed hopmap-httpd runs" "$("$root/usr/bin/hopmap-httpd" --version)" \
    "hopmap-httpd (hopmap) $(sed -n 's/^#define HM_VERSION "\(.*\)"/\1/p' "$top/lib/core/core.h")"
check "installed man5/hopmap.5" test -f "$root/usr/share/man/man5/hopmap.5"
check "installed man7/hopmap.7" test -f "$root/usr/share/man/man7/hopmap.7"
for p in icmpprobe tracehop; do
	[ -x "$root/usr/bin/$p" ] || continue
	same "$p has the file capability cap_net_raw+p, nothing else" \
	    "$(getcap "$root/usr/bin/$p" | sed 's/.* //')" "cap_net_raw=p"
done
for p in cidr-expand interleave cooldown hopextract sqlsink; do
	[ -x "$root/usr/bin/$p" ] || continue
	same "$p has no file capability" "$(getcap "$root/usr/bin/$p")" ""
done
