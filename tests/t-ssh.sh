#!/usr/bin/env bash
# The ssh transport: sshd runs in a vantage namespace of the lab with keys
# made here; the hub, in its own namespace, launches the probing pipeline
# over ssh and stores what comes back, through its spool or directly.
. "$(dirname "$0")/lib.sh"
. "$HOPMAP_TOP/tests/lab/lab.sh"

if [ "$(id -u)" -ne 0 ]; then
	skip "needs root for network namespaces"
	exit 0
fi
sshd=$(command -v sshd || echo /usr/sbin/sshd)
if [ ! -x "$sshd" ]; then
	echo "not ok - sshd is not installed (openssh-server, make deps)"
	exit 1
fi
lab=hms$$
cleanup_hooks+=("lab_down $lab")
export LAB_VANTAGES=2 LAB_HUB=1
lab_up "$lab" >/dev/null || { echo "not ok - lab_up"; exit 1; }
node=$lab-v2
nodeip=$(awk '$1 == "vantage" && $2 == "v2" { print $3 }' "$LAB_TOPO")
q() { sqlite3 -cmd '.timeout 5000' "$@"; }

# ---- sshd on the node, keys made here ----
k=$T/ssh
mkdir -p "$k" /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$k/host" -C host
ssh-keygen -q -t ed25519 -N '' -f "$k/id" -C hub
ssh-keygen -q -t ed25519 -N '' -f "$k/stranger" -C stranger
cp "$k/id.pub" "$k/authorized_keys"
echo "[$nodeip]:2222 $(cat "$k/host.pub")" >"$k/known_hosts"
cat >"$k/sshd_config" <<EOF
Port 2222
ListenAddress $nodeip
HostKey $k/host
AuthorizedKeysFile $k/authorized_keys
PidFile $k/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
EOF
ip netns exec "$node" "$sshd" -D -e -f "$k/sshd_config" 2>"$T/sshd.err" &
sshdpid=$!
cleanup_hooks+=("kill $sshdpid")
for _ in $(seq 600); do
	ip netns exec "$node" ss -Htln | grep -q ":2222 " && break
	sleep 0.1
done
sshargs="-i $k/id -p 2222 -o UserKnownHostsFile=$k/known_hosts -o StrictHostKeyChecking=yes"

# ---- the hub: a sink only, no listener ----
hub=$T/hub
ip netns exec "$LAB_PREFIX-hub" hopmap-hub serve -d "$hub" \
    --sink-args '-i 100ms' 2>"$T/hub.err" &
hubpid=$!
cleanup_hooks+=("kill $hubpid; wait $hubpid")
for _ in $(seq 600); do [ -S "$hub/sink.sock" ] && break; sleep 0.1; done
db=$hub/map.db

printf '%s\n' 198.19.0.0/29 198.19.1.0/29 198.19.3.0/29 198.19.201.0/30 >"$T/seeds"
n=$(cidr-expand -R -c "$T/seeds")
pipeline() { # SHARD: the remote command
	echo "PATH=$HOPMAP_BIN:\$PATH; cidr-expand -R --shard $1 $T/seeds |" \
	    "icmpprobe -n ssh1 --timeout 300ms |" \
	    "tracehop --node ssh1 --rate 2000 --wait 300ms --max-ttl 8"
}
run ip netns exec "$LAB_PREFIX-hub" hopmap-hub ssh -d "$hub" -N ssh1 \
    --ssh-args "$sshargs" "root@$nodeip" "$(pipeline 1/2)"
same "ssh: exit 0, quiet" "$rc:$(cat "$T/out" "$T/err")" "0:"
n1=$(cidr-expand -R -c --shard 1/2 "$T/seeds")
same "ssh: the node's results are stored, each once" \
    "$(q "$db" "SELECT count(*), count(DISTINCT ip), min(node) FROM pings")" "$n1|$n1|ssh1"
check "ssh: traces came back too" \
    test "$(q "$db" "SELECT count(*) FROM traces")" -gt 0
same "ssh: the hub's spool for the node is empty" \
    "$(find "$hub/spool" -name '*.seg' | wc -l)" 0
same "ssh: the delivery is recorded under the node's name" \
    "$(hopmap-hub status -d "$hub" | awk 'NR > 2 { print $1, $3 }')" "ssh1 $n1"

run ip netns exec "$LAB_PREFIX-hub" hopmap-hub ssh -d "$hub" --direct --node=ssh1 \
    --ssh-args "$sshargs" "root@$nodeip" "$(pipeline 2/2)"
same "ssh --direct: exit 0, every seed now stored once" \
    "$rc:$(q "$db" "SELECT count(*), count(DISTINCT ip) FROM pings")" "0:$n|$n"
run ip netns exec "$LAB_PREFIX-hub" hopmap-hub ssh -d "$hub" --direct \
    --ssh-args "$sshargs" "root@$nodeip" "$(pipeline 2/2)"
same "ssh --direct: records of another node than the session's are refused" \
    "$rc:$(grep -c "root@$nodeip: refused [0-9]* of [0-9]*: line 1: \"node\" is not the session's node" "$T/err")" "1:1"

run ip netns exec "$LAB_PREFIX-hub" hopmap-hub ssh -d "$hub" \
    --ssh-args "${sshargs/-i $k\/id/-i $k/stranger}" "root@$nodeip" "$(pipeline 1/2)"
same "ssh: a key the node does not know: exit 1" "$rc" 1
check "ssh: and says so" grep -q "root@$nodeip: the command exited with status 255" "$T/err"
run ip netns exec "$LAB_PREFIX-hub" hopmap-hub ssh -d "$hub" \
    --ssh-args "$sshargs" "root@$nodeip" "exit 3"
same "ssh: the remote command's failure is the hub's" "$rc:$(cat "$T/err")" \
    "1:hopmap-hub: root@$nodeip: the command exited with status 3"

# ---- a worker shipping over ssh: recv as the remote command ----
# (the node's sshd stands in for the hub's: the namespaces share the files)
seq 1 25 | sed 's/.*/{"ip":"198.19.9.&","id":"viassh&"}/' |
    hopmap-ship spool -l 10 "$T/sp"
run ip netns exec "$LAB_PREFIX-hub" hopmap-ship send --once -q -n 3 -N viassh "$T/sp" \
    "EXEC:ssh $sshargs -T root@$nodeip $HOPMAP_BIN/hopmap-hub recv -d $hub"
same "ship over ssh: confirmed, stored, spool empty" \
    "$rc:$(q "$db" "SELECT count(*) FROM targets WHERE rid LIKE 'viassh%'"):$(ls "$T"/sp/*.seg 2>/dev/null | wc -l)" \
    "0:25:0"
