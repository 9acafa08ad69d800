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
	check "installed script $(basename "$s" .sh)" test -x "$root/usr/bin/$(basename "$s" .sh)"
done
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
