#!/usr/bin/env bash
# The examples build and do what they say: the TCP server and client, the UDP receiver and sender,
# and the receive loop that a SIGINT stops within its timeout.
set -eu
: "${SK_BUILD:?}"
ex="$SK_BUILD/examples"
tmp=$(mktemp -d /tmp/sockkit-examples.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
wait_line() { # file pattern
    for _ in $(seq 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    fail "no '$2' in $1: $(cat "$1")"
}

# TCP: the server on port 0 serves one client, which gets its message back
"$ex/tcp_server" 0 1 >"$tmp/srv" & pids+=($!)
wait_line "$tmp/srv" "listening on port"
port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/srv")
out=$("$ex/tcp_client" "$port" "hello from the test")
[ "$out" = "reply: hello from the test" ] || fail "tcp_client printed '$out'"
wait "${pids[0]}" || fail "tcp_server exit status"
grep -q "received 19 bytes from client 127.0.0.1:" "$tmp/srv" || fail "server output: $(cat "$tmp/srv")"

# UDP: the receiver names the sender and answers it
"$ex/udp_receiver" 0 1 >"$tmp/udp" & pids+=($!)
wait_line "$tmp/udp" "receiving on port"
port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/udp")
out=$("$ex/udp_sender" "$port" "datagram")
[ "$out" = "answer: ack" ] || fail "udp_sender printed '$out'"
wait "${pids[1]}" || fail "udp_receiver exit status"
grep -q "received from=127.0.0.1:[0-9]*, len=8" "$tmp/udp" || fail "receiver output: $(cat "$tmp/udp")"

# The stop flag: SIGINT ends the loop within its 0.5 s timeout, cleanly
port=$(python3 -c 'import socket; s=socket.socket(type=socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$ex/stop_flag_receiver" "$port" >"$tmp/stop" & pid=$!; pids+=($pid)
wait_line "$tmp/stop" "Ctrl-C stops"
python3 -c "import socket; socket.socket(type=socket.SOCK_DGRAM).sendto(b'ping', ('127.0.0.1', $port))"
wait_line "$tmp/stop" "len=4"
start=$(date +%s%N)
kill -INT "$pid"
wait "$pid" || fail "stop_flag_receiver exit status after SIGINT"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 2000 ] || fail "SIGINT took $ms ms to end the loop"
grep -q "recv loop leaves." "$tmp/stop" || fail "no clean exit line"
echo "examples passed (SIGINT ended the receive loop in $ms ms)"

# Python's socketserver example, blocking and event-driven: each line comes back upper-cased;
# SIGINT ends serve_forever
for prog in upper_server event_upper; do
    "$ex/$prog" 0 >"$tmp/$prog" & pid=$!; pids+=($pid)
    wait_line "$tmp/$prog" "serving on port"
    port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$tmp/$prog")
    out=$(printf 'hello world\nsecond line\n' | nc -N 127.0.0.1 "$port")
    [ "$out" = "$(printf 'HELLO WORLD\nSECOND LINE')" ] || fail "$prog replied '$out'"
    kill -INT "$pid"
    wait "$pid" || fail "$prog exit status after SIGINT"
    echo "$prog passed"
done
