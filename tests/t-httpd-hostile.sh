#!/usr/bin/env bash
# hopmap-httpd against hostile clients, on the loopback: headers or a body
# trickled a byte at a time (slowloris), many connections from one
# address, a huge query string, bodies that are not UTF-8, a key header
# with control bytes, HTTP/1.0 without Host, pipelined requests, garbage.
# No crash, nothing held past --timeout, a 4xx with JSON wherever the
# daemon answers.  Ports 29200-29299.
. "$(dirname "$0")/lib.sh"
p=hopmap-httpd
hub=$T/hub
mkdir -p "$hub/ranges"
echo 198.18.7.0/30 >"$hub/ranges/lab.txt"
key=$($p key add -d "$hub" w1 2>/dev/null)
take_port port 29201 29299
$p -l "127.0.0.1:$port" --hub "$hub" --allow-reserved --timeout 2 \
    --max-per-ip 4 2>"$T/httpd.log" &
pid=$!
cleanup_hooks+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
check "up" until_ok 60 grep -qs "listening on 127.0.0.1:$port" "$T/httpd.log"
u=http://127.0.0.1:$port

# A raw client: python3 $T/raw.py MODE [ARG]; prints what happened.
cat >"$T/raw.py" <<'PY'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=60)
def drain(s):
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
    except socket.timeout:
        out += b"<held>"
    except ConnectionResetError:
        pass
    return out
def trickle(s, data):
    # A byte every 0.5 s, for longer than any --timeout here: "closed"
    # when the server ends it first, "held" when it never does.
    for c in data:
        try:
            s.sendall(bytes([c]))
            s.settimeout(0.5)
            if s.recv(4096) == b"":
                return "closed"
            return "answered"
        except socket.timeout:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return "closed"
    return "held"
if mode == "slow-headers":
    s = conn()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    print(trickle(s, b"X-Slow: " + b"a" * 80))
elif mode == "slow-line":
    print(trickle(conn(), b"GET /health" + b"a" * 80))
elif mode == "slow-body":
    s = conn()
    s.sendall(b"POST /hops HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              sys.argv[3].encode() + b"\r\nContent-Length: 1000\r\n\r\n")
    print(trickle(s, b"1" * 80))
elif mode == "slow-second":
    # A first request answered, the second one's headers trickled.
    s = conn()
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(10)
    s.recv(65536)
    s.sendall(b"GET /health HTTP/1.1\r\n")
    print(trickle(s, b"X-Slow: " + b"a" * 80))
elif mode == "hold":
    # N connections that send nothing; then: how many the server closed.
    n = int(sys.argv[3])
    socks = [conn() for _ in range(n)]
    open(sys.argv[4], "w").write("held\n")
    closed = 0
    for s in socks:
        s.settimeout(30)
        if drain(s) != b"<held>":
            closed += 1
    print(closed)
else:
    s = conn()
    s.sendall(sys.stdin.buffer.read())
    s.settimeout(30)
    sys.stdout.buffer.write(drain(s))
PY
raw() { python3 "$T/raw.py" $port "$@"; }
# statuses: the status line's codes of an answer on stdin, one a line.
statuses() { tr -d '\r' | grep -a '^HTTP/1\.[01] ' | cut -d' ' -f2; }
alive() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$u/health")" = 200 ]; }

# ---- slowloris: nothing holds a connection past --timeout ----
same "headers trickled after the request line: closed" "$(raw slow-headers)" closed
check "headers trickled: logged as 408" until_ok 30 grep -q ' /health" 408' "$T/httpd.log"
same "the request line trickled: closed" "$(raw slow-line)" closed
same "a body trickled: closed" "$(raw slow-body "$key")" closed
check "a body trickled: logged as 408" until_ok 30 grep -q '"POST /hops" 408' "$T/httpd.log"
same "a second request's headers trickled on a kept-alive connection: closed" \
    "$(raw slow-second)" closed
check "alive after the trickles" alive

# ---- many connections from one address (--max-per-ip 4) ----
raw hold 10 "$T/held" >"$T/hold.out" &
holder=$!
until_ok 60 test -s "$T/held"
same "one address past --max-per-ip: its next connection is closed unanswered" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$u/health")" 000
same "another address is served meanwhile" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 --interface 127.0.0.2 "http://127.0.0.1:$port/health")" 200
wait $holder
same "connections that send nothing are all closed by the server" "$(cat "$T/hold.out")" 10
check "the address is served again once they are gone" until_ok 30 alive

# ---- a huge query string, a bad one ----
same "a 100 kB query string: 414" \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$u/health?x=$(head -c 100000 /dev/zero | tr '\0' a)")" 414
code=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 \
    -H "Authorization: Bearer $key" "$u/targets?n=$(head -c 20000 /dev/zero | tr '\0' 9)")
same "a 20 kB number for n: 400 with a JSON error" "$code:$(jq -r 'has("error")' "$T/body")" "400:true"

# ---- bodies that are not UTF-8 ----
post() { # PATH: stdin POSTed with the key; the status, the body in $T/body
	curl -s -o "$T/body" -w '%{http_code}' --max-time 30 \
	    -H "Authorization: Bearer $key" -H 'Content-Type: application/x-ndjson' \
	    --data-binary @- "$u$1"
}
code=$(printf '\xff\xfe\x80{"ip":"198.18.7.9"}\n{"ip":"198.18.7.10"}\n' | post /hops)
same "POST /hops, a line not UTF-8: 422 with JSON, the good line added" \
    "$code:$(jq -r '.refused, .added' "$T/body" | tr '\n' ' ')" "422:1 1 "
sqlsink -l "$hub/sink.sock" --no-stdin -i 100ms "$hub/map.db" 2>"$T/sink.log" &
sink=$!
cleanup_hooks+=("kill $sink 2>/dev/null; wait $sink 2>/dev/null")
until_ok 60 test -S "$hub/sink.sock"
code=$(printf '{"ip":"198.18.7.1","node":"w1","x":"\xc3\x28"}\n' | post /results)
same "POST /results, a record not UTF-8: 422 with JSON" \
    "$code:$(jq -r '.refused' "$T/body")" "422:1"

# ---- headers: control bytes in the key, HTTP/1.0 without Host ----
printf 'GET /status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ab\001c\033[31md\r\nConnection: close\r\n\r\n' |
    raw send >"$T/ctl"
same "a key with control bytes: 401" "$(statuses <"$T/ctl")" 401
check "a key with control bytes: a JSON error" sh -c "tail -n 1 '$T/ctl' | jq -e .error >/dev/null"
check "no control byte reaches the log" sh -c "! LC_ALL=C grep -q '[[:cntrl:]]' '$T/httpd.log'"
printf 'GET /health HTTP/1.0\r\n\r\n' | raw send >"$T/h10"
same "HTTP/1.0 without Host: 200" "$(statuses <"$T/h10")" 200
check "HTTP/1.0 without Host: the health JSON" sh -c "tail -n 1 '$T/h10' | jq -e .status >/dev/null"

# ---- pipelined requests: each answered, in order ----
printf 'GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' |
    raw send >"$T/pipe"
same "pipelined: three answers in order" "$(statuses <"$T/pipe" | tr '\n' ' ')" "200 404 200 "

# ---- garbage ----
printf '\000\001\377garbage\r\n\r\n' | raw send >"$T/garbage"
check "garbage: closed, no crash" alive
printf 'GET /health HTTP/9.9\r\nHost: x\r\n\r\n' | raw send >"$T/v99"
check "an unknown HTTP version: a 4xx or 5xx" sh -c "statuses() { tr -d '\r' | grep -a '^HTTP/' | cut -d' ' -f2; }; statuses <'$T/v99' | grep -q '^[45]'"

kill "$pid"
wait "$pid"
same "a clean stop after all that: exit 0" "$?" 0
check "no sanitizer report" no_sanitizer_report "$T/httpd.log"
