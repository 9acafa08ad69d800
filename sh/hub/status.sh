# shellcheck shell=sh
# hopmap-hub status: deliveries and last contact per node, from the rows
# the sink wrote at each delivery's commit.  Sourced by hopmap-hub.

cmd_status() {
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		die_usage "unknown option: $1"
	done
	setup_paths
	[ -e "$db" ] || die "$db: no database"
	# The delivery rows the sink wrote at each session's commit: records
	# are those it stored, so a segment sent again adds none.
	sqlite3 -cmd '.timeout 5000' -header -column "$db" "
SELECT node, count(*) AS segments,
       coalesce(sum(json_extract(json, '\$.stored')), 0) AS records,
       coalesce(sum(json_extract(json, '\$.duplicate')), 0) AS duplicates,
       coalesce(sum(json_extract(json, '\$.refused')), 0) AS refused,
       max(json_extract(json, '\$.ts')) AS last_contact
FROM raw WHERE src = 'hopmap-ack' GROUP BY node ORDER BY node;"
}
