# tests/corpus.sh: the malformed-input corpus, sourced by tests.
# corpus_bad DIR: writes DIR/bad.N, one kind of broken line each.
# corpus_mix GOODFILE BADDIR: prints each good line followed by every bad
# kind, then the bad kinds with CRLF, then a good line without a newline.
# bad.types and bad.hoptypes are good targets with broken "trace"/"ping":
# bad only for programs that read those members.
# corpus_big IP [MEMBERS]: prints a good record of exactly 65536 bytes, the
# line limit, with "ip" IP (and MEMBERS, text, before its padding).
corpus_bad() {
	local d=$1
	mkdir -p "$d"
	# Binary junk: 2,000 bytes of a fixed pseudo-random stream, no newline.
	LC_ALL=C awk 'BEGIN { srand(42); for (i = 0; i < 2000; i++) {
		c = int(rand() * 256); if (c == 10) c = 11; printf "%c", c } }' >"$d/bad.binary"
	# A line far over the 65536-byte ceiling.
	LC_ALL=C awk 'BEGIN { printf "{\"ip\":\"1.1.1.1\",\"pad\":\""; for (i = 0; i < 20000; i++) printf "xxxxx"; printf "\"}" }' >"$d/bad.huge"
	printf '{"ip":"1.2.3.4"' >"$d/bad.truncated"
	printf '{"ip":"1.2.3.4","trace":{"hops":[{"ttl":1,"ip":"9.9.9.9"' >"$d/bad.truncated2"
	printf '{"ip":1234}' >"$d/bad.ipnumber"
	printf '{"ip":["1.2.3.4"]}' >"$d/bad.iparray"
	printf '{"ip":null}' >"$d/bad.ipnull"
	printf '{"ip":"1.2.3.4"}\000junk' >"$d/bad.nul"
	printf '\000\000\000' >"$d/bad.nulonly"
	printf '{"ip":"::1"}' >"$d/bad.ipv6"
	printf '2001:db8::1' >"$d/bad.bareipv6"
	printf '{"ip":"1.2.3.256"}' >"$d/bad.octet"
	printf '[1,2,3]' >"$d/bad.array"
	printf '"just a string"' >"$d/bad.string"
	printf '}' >"$d/bad.brace"
	printf '{"ip":"1.2.3.5","x":"\377\376"}' >"$d/bad.utf8"
	# Near the line limit: broken at its end; and one byte over it.
	LC_ALL=C awk 'BEGIN { printf "{\"ip\":\"1.2.3.10\",\"pad\":\""; for (i = 0; i < 64980; i++) printf "y" }' >"$d/bad.nearlimit"
	corpus_big 1.2.3.11 '"over":1,' | head -c 65533 >"$d/bad.overlimit"
	printf 'zz"}' >>"$d/bad.overlimit"
	LC_ALL=C awk 'BEGIN { for (i = 0; i < 5000; i++) printf "["; for (i = 0; i < 5000; i++) printf "]" }' >"$d/bad.deep"
	printf '{"ip":"1.2.3.7","trace":"not an object","ping":[1]}' >"$d/bad.types"
	printf '{"ip":"1.2.3.8","trace":{"hops":[{"ttl":"one","ip":5},null,7]}}' >"$d/bad.hoptypes"
}

corpus_big() {
	LC_ALL=C awk -v ip="$1" -v more="${2:-}" 'BEGIN {
		head = "{\"ip\":\"" ip "\"," more "\"pad\":\""
		printf "%s", head
		for (i = length(head) + 2; i < 65536; i++) printf "p"
		printf "\"}\n" }'
}

corpus_mix() {
	local good=$1 d=$2 f
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s\n' "$line"
		for f in "$d"/bad.*; do cat "$f"; printf '\n'; done
	done <"$good"
	# And once more with CRLF endings, then a last line without a newline.
	for f in "$d"/bad.*; do cat "$f"; printf '\r\n'; done
	printf '{"ip":"1.2.3.9","src":"no-newline"}'
}
