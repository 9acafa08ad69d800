# lib/ is a folder per concern, layered: the Makefile's LAYERS lists them
# from the top down, and a folder includes only the faces (lib/X/X.h) of
# folders below it, so the folders' include graph has no cycle and LAYERS
# is a link order that works.  Outside lib/, only faces are included (unit
# tests may open the folder they test).
. "$(dirname "$0")/lib.sh"
top=$HOPMAP_TOP
cd "$top" || exit 1

read -r -a layers <<<"$(sed -n 's/^LAYERS *= *//p' Makefile)"
rank() {
	local i
	for i in "${!layers[@]}"; do
		[ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
	done
	echo -1
}

same "lib/ holds folders, no sources of its own" \
    "$(find lib -maxdepth 1 -type f -name '*.[ch]')" ""
same "lib/'s folders are the Makefile's LAYERS" \
    "$(find lib -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "${layers[@]}" | sort | tr '\n' ' ')"
for d in "${layers[@]}"; do
	check "lib/$d has its face, lib/$d/$d.h" test -f "lib/$d/$d.h"
done

# "file: include" for each quoted include of the files given.
includes() {
	grep -o '^#include "[^"]*"' "$@" /dev/null | sed 's/:#include "\(.*\)"$/: \1/'
}

# Includes in lib/ that break the layering: another folder's file that is
# not its face, or a folder at or above the includer's.
upward() {
	local f inc d y
	while read -r f inc; do
		f=${f%:}
		d=$(basename "$(dirname "$f")")
		case $inc in
		*/*)	y=${inc%%/*}
			if [ "$inc" != "$y/$y.h" ] || [ "$(rank "$y")" -le "$(rank "$d")" ]; then
				echo "$f:$inc"
			fi ;;
		*)	[ -f "$(dirname "$f")/$inc" ] || echo "$f:$inc" ;;
		esac
	done < <(includes "$@")
}
same "each folder includes its own files and the faces of folders below it" \
    "$(upward lib/*/*.[ch])" ""
# The check itself: core including trace, probe including trace's insides.
mkdir -p "$T/core" "$T/probe"
printf '#include "core.h"\n#include "trace/trace.h"\n' >"$T/core/up.c"
printf '#include "core/core.h"\n#include "trace/internal.h"\n' >"$T/probe/in.c"
touch "$T/core/core.h"
same "the check sees an include upwards and one of another folder's insides" \
    "$(upward "$T/core/up.c" "$T/probe/in.c" | sed "s|$T/||" | tr '\n' ' ')" \
    "core/up.c:trace/trace.h probe/in.c:trace/internal.h "

# Filters, fuzz targets and benchmarks use a folder through its face; a
# unit test may also open the folder it tests (a state machine driven alone,
# without sockets, is declared inside), but still only files that exist.
bad=
while read -r f inc; do
	f=${f%:}
	case $inc in
	*/*)	y=${inc%%/*}
		[ "$inc" = "$y/$y.h" ] && { [ -f "lib/$inc" ] || [ -f "web/$inc" ]; } ||
		    bad="$bad $f:$inc" ;;
	*)	[ -f "$(dirname "$f")/$inc" ] || bad="$bad $f:$inc" ;;
	esac
done < <(includes filters/*.c $(ls tests/fuzz/*.c | grep -v /http_) bench/*.c)
same "filters, fuzz targets and benchmarks include lib/ by its folders' faces" "$bad" ""
bad=
while read -r f inc; do
	f=${f%:}
	case $inc in
	*/*)	[ -f "lib/$inc" ] || [ -f "web/$inc" ] || bad="$bad $f:$inc" ;;
	*)	[ -f "$(dirname "$f")/$inc" ] || bad="$bad $f:$inc" ;;
	esac
done < <(includes tests/unit/*.c)
same "unit tests include lib/ and web/ files that exist, by folder" "$bad" ""

# web/ is built on lib/ as the filters are: lib/ by its folders' faces,
# web/ by its own folders' files; lib/ never includes web/.  The web's
# fuzz targets (tests/fuzz/http_*.c) likewise.
bad=
while read -r f inc; do
	f=${f%:}
	y=${inc%%/*}
	if [ -f "lib/$inc" ]; then
		[ "$inc" = "$y/$y.h" ] || bad="$bad $f:$inc"
	else
		[ -f "web/$inc" ] || bad="$bad $f:$inc"
	fi
done < <(includes $(find web -name '*.[ch]') tests/fuzz/http_*.c)
same "web/ includes lib/ by its faces and its own files by folder" "$bad" ""
same "lib/ never includes web/" "$(includes lib/*/*.[ch] | grep -E ': (httpd|manager)/')" ""
