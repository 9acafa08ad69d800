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
	# are those it stored, so a segment sent again adds none.  Every
	# retained file of the series is read (db_series_sql), one attached
	# at a time, as hopmap-status and GET /stats read it: a rotation
	# loses no delivery.
	db_series_sql "$db" | {
		echo "CREATE TEMP TABLE xa (node, n, stored, dup, refused, last);"
		while IFS= read -r f; do
			echo "ATTACH $f AS s;
INSERT INTO xa SELECT node, count(*),
       coalesce(sum(json_extract(json, '\$.stored')), 0),
       coalesce(sum(json_extract(json, '\$.duplicate')), 0),
       coalesce(sum(json_extract(json, '\$.refused')), 0),
       max(json_extract(json, '\$.ts'))
FROM s.raw WHERE src = 'hopmap-ack' GROUP BY node;
DETACH s;"
		done
		echo "SELECT node, sum(n) AS segments, sum(stored) AS records,
       sum(dup) AS duplicates, sum(refused) AS refused,
       max(last) AS last_contact
FROM xa GROUP BY node ORDER BY node;"
	} | sqlite3 -bail -readonly -cmd '.timeout 5000' -header -column :memory: ||
	    die "$db: cannot read the deliveries"
}
