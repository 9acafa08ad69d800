#!/usr/bin/env bash
# bench/icmpprobe.sh: icmpprobe against fping 5.1 and against the machine's
# ceiling (bench/rawping.c, a bare raw-socket loop), all on loopback
# (127.0.0.0/8 only: no packet leaves the machine).  Needs root.
#
#  1. 30,000 addresses of 127.1.0.0/16: icmpprobe at full speed, fping -a
#     -i 0 -r 0 -t 500, rawping; all must answer; wall times side by side.
#  2. 1,000,000 addresses from 127.1.0.0 at --rate 100000: all answered,
#     sustained rate, peak RSS (and at 100,000 targets, to show it does not
#     grow); what fping does on the same list, bounded by a timeout.
# Set ICMP_BENCH_SCALE=0 to skip part 2.
set -u
top=${HOPMAP_TOP:-$(cd "$(dirname "$0")/.." && pwd)}
bin=${HOPMAP_BIN:-$top/bin}
out=$top/bench/out/icmpprobe
mkdir -p "$out"
# Started as root, icmpprobe writes its --metrics file as nobody.
chmod 1777 "$out"
probe=$bin/icmpprobe
fping_timeout=${FPING_TIMEOUT:-60}

if [ "$(id -u)" -ne 0 ]; then
	echo "icmpprobe bench: needs root (raw sockets)"
	exit 1
fi
if [ ! -x /usr/bin/time ]; then
	echo "icmpprobe bench: needs /usr/bin/time (Debian package time) for peak RSS"
	exit 1
fi
cc -O2 -o "$out/rawping" "$top/bench/rawping.c" || exit 1

# secs CMD...: run CMD, print its wall time in seconds (stdout to $out/stdout).
secs() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >"$out/stdout" 2>"$out/stderr"
	t1=$(date +%s.%N)
	calc '%.3f' "$t1 - $t0"
}
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
rss_of() { sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$1"; }

echo "# all loopback; the machine is shared, figures are taken under load"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- part 1: 30,000 addresses ----
prips 127.1.0.0 127.1.117.47 >"$out/30k.txt"
n=$(wc -l <"$out/30k.txt")
t_probe=$(secs "$probe" --rate 10000000 -t 500 "$out/30k.txt")
a_probe=$(grep -c '"ok":true' "$out/stdout")
t_fping=$(secs fping -a -i 0 -r 0 -t 500 -f "$out/30k.txt")
a_fping=$(wc -l <"$out/stdout")
t_raw=$(secs "$out/rawping" 127.1.0.0 "$n")
a_raw=$(awk '{ print $4 }' "$out/stdout")
printf '%-34s %10s %10s %10s\n' "$n addresses of 127.1/16" icmpprobe fping rawping
printf '%-34s %10s %10s %10s\n' "answered" "$a_probe" "$a_fping" "$a_raw"
printf '%-34s %10s %10s %10s\n' "wall seconds" "$t_probe" "$t_fping" "$t_raw"
echo "icmpprobe/fping wall time: $(calc '%.2f' "$t_probe / $t_fping") (want <= 0.5)"
echo "rawping/fping wall time: $(calc '%.2f' "$t_raw / $t_fping") (the bare loop's bound on the ratio above, on this machine)"
echo "icmpprobe speed as a share of rawping's: $(calc '%.0f' "100 * $t_raw / $t_probe")% (want >= 75%)"

[ "${ICMP_BENCH_SCALE:-1}" = 0 ] && exit 0

# ---- part 2: 1,000,000 addresses at --rate 100000 ----
prips 127.1.0.0 127.16.66.63 >"$out/1m.txt"
head -n 100000 "$out/1m.txt" >"$out/100k.txt"
for f in 100k 1m; do
	/usr/bin/time -v -o "$out/time-$f" "$probe" --rate 100000 -t 500 \
	    --metrics "$out/metrics-$f" "$out/$f.txt" 2>"$out/stderr-$f" |
	    grep -c '"ok":true' >"$out/alive-$f"
done
wall=$(sed -n 's/^.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/time-1m" |
    awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
echo
echo "1,000,000 addresses from 127.1.0.0 at --rate 100000"
echo "icmpprobe: answered $(cat "$out/alive-1m") of 1000000 in ${wall}s," \
    "sustained $(calc '%.0f' "1000000 / $wall") probes/s" \
    "($(calc '%.0f' "100 * 1000000 / $wall / 100000")% of the asked rate, want >= 90%)"
echo "icmpprobe: peak RSS $(rss_of "$out/time-1m") kB at 1,000,000 targets," \
    "$(rss_of "$out/time-100k") kB at 100,000 (bounded by the window, not the input)"
grep -E 'replies_(stray|late|dup)_total' "$out/metrics-1m" | sed 's/^/icmpprobe: /'
t0=$(date +%s.%N)
timeout "$fping_timeout" /usr/bin/time -v -o "$out/time-fping" \
    fping -a -i 0 -r 0 -t 500 -f "$out/1m.txt" 2>"$out/stderr-fping" |
    wc -l >"$out/alive-fping"
st=${PIPESTATUS[0]}
t1=$(date +%s.%N)
echo "fping:     answered $(cat "$out/alive-fping") of 1000000 in" \
    "$(calc '%.1f' "$t1 - $t0")s, exit status $st" \
    "$([ "$st" = 124 ] && echo "(killed at the ${fping_timeout}s bound)")"
echo "fping:     its stderr says: $(sort "$out/stderr-fping" | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
