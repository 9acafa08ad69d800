# shellcheck shell=sh
# hopmap-hub ssh: a pipeline run on a node over ssh, its output spooled on
# the hub and stored through recv (or, --direct, straight into the sink).
# Sourced by hopmap-hub.

cmd_ssh() {
	direct=0 sshargs='' nodename=''
	while [ $# -gt 0 ]; do
		common_opt "$@"
		if [ "$shifted" -gt 0 ]; then shift "$shifted"; continue; fi
		case $1 in
		--direct) direct=1; shift ;;
		-N | --node) need "$1" $#; nodename=$2; shift 2 ;;
		--node=*) nodename=${1#*=}; shift ;;
		--ssh-args) need "$1" $#; sshargs=$2; shift 2 ;;
		--ssh-args=*) sshargs=${1#*=}; shift ;;
		--) shift; break ;;
		-?*) die_usage "unknown option: $1" ;;
		*) break ;;
		esac
	done
	[ $# -eq 2 ] || die_usage "ssh needs NODE and COMMAND"
	node=$1 command=$2
	# The records are the node's: the sink binds them to this name and
	# refuses those that name another.
	[ -n "$nodename" ] || nodename=$(printf '%s' "$node" | tr -c 'A-Za-z0-9._-' _)
	plain_name "$nodename" || die_usage "bad node name: $nodename"
	setup_paths
	st=$(mktemp "$state/ssh.XXXXXX")
	trap 'rm -f "$st"' EXIT
	if [ "$direct" = 1 ]; then
		# No spool: the session confirms the whole stream, but a stream
		# cut short is not sent again.
		# shellcheck disable=SC2086 # ARGS are words on purpose
		answer=$({ r=0; ssh -o BatchMode=yes $sshargs -- "$node" "$command" \
		    </dev/null || r=$?; echo "$r" >"$st"; } |
		    sqlsink --send "$sock" --node "$nodename" --segment ssh) || true
		rc=$(cat "$st")
		[ "$rc" = 0 ] || die "$node: the command exited with status $rc"
		case $answer in
		"ok "*) return 0 ;;
		*) die "$node: ${answer:-no answer from the sink}" ;;
		esac
	fi
	spool=$state/spool/$nodename
	# shellcheck disable=SC2086 # ARGS are words on purpose
	{ r=0; ssh -o BatchMode=yes $sshargs -- "$node" "$command" </dev/null ||
	    r=$?; echo "$r" >"$st"; } | hopmap-ship spool "$spool"
	rc=$(cat "$st")
	HOPMAP_HUB_SELF=$(self_path) HOPMAP_HUB_STATE=$state HOPMAP_HUB_DB=$db
	export HOPMAP_HUB_SELF HOPMAP_HUB_STATE HOPMAP_HUB_DB
	# shellcheck disable=SC2016 # expanded by the shell socat starts
	cmd='exec "$HOPMAP_HUB_SELF" recv -d "$HOPMAP_HUB_STATE" --db "$HOPMAP_HUB_DB"'
	hopmap-ship send --once --quiet --tries 5 --node "$nodename" "$spool" \
	    "SYSTEM:$(socat_quote "$cmd")"
	[ "$rc" = 0 ] || die "$node: the command exited with status $rc"
}
