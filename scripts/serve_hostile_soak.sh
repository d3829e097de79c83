#!/usr/bin/env bash
# Hostile soak of `quadrat serve` (loopback only): 64 clients for SECONDS (default 600) at once, mixed as
#   32 connections POSTing one photo with the token (must all be 200),
#    8 connections POSTing a 4-photo multipart batch with the token (all 200),
#    8 connections with a wrong token (all 401),
#    8 connections sending a body over --max-body (all 413),
#    8 slow clients that open a connection and send a header byte every 5 s (closed by the idle timeout or served),
# with the server's RSS sampled every 60 s; the peak at minute 1 and at the end are what to compare.
#
#   scripts/serve_hostile_soak.sh MODEL PHOTO [SECONDS]      (build first: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 photo=$2 seconds=${3:-600}
port=18092 token=soak-token
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
QUADRAT_QUIET=1 .build/release/quadrat serve "$model" --port $port --token $token --max-body 2000000 \
    --queue-limit 1024 --idle-timeout 20 >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 100); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
photo=$(realpath "$photo")
lua() {  # lua NAME METHOD-BODY-SETUP
    printf '%s\n' "$2" >"$work/$1.lua"
}
lua single "local f = assert(io.open('$photo', 'rb')); wrk.method = 'POST'; wrk.body = f:read('*a'); f:close()
wrk.headers['Authorization'] = 'Bearer $token'"
lua batch "local f = assert(io.open('$photo', 'rb')); local p = f:read('*a'); f:close()
local b = ''
for i = 1, 4 do b = b .. '--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"' .. i .. '.png\"\r\n\r\n' .. p .. '\r\n' end
wrk.method = 'POST'; wrk.body = b .. '--XyZ--\r\n'
wrk.headers['Authorization'] = 'Bearer $token'; wrk.headers['Content-Type'] = 'multipart/form-data; boundary=XyZ'"
lua badtoken "wrk.method = 'POST'; wrk.body = 'x'; wrk.headers['Authorization'] = 'Bearer wrong'"
lua oversized "wrk.method = 'POST'; wrk.body = string.rep('x', 3000000); wrk.headers['Authorization'] = 'Bearer $token'"
slow() {  # a client that sends one header byte every 5 s until the server closes the connection
    python3 - "$port" <<'PY'
import socket, sys, time
while True:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    try:
        for c in b"GET /v1/model HTTP/1.1\r\nHost: x\r\n" * 1000:
            s.send(bytes([c]))
            time.sleep(5)
    except OSError:
        pass
    s.close()
PY
}
rss() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )); }
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $seconds s"
url="http://127.0.0.1:$port/v1"
loads=()
for kind in single:32:predict batch:8:predict/batch badtoken:8:predict oversized:8:predict; do
    IFS=: read -r name connections path <<<"$kind"
    wrk -t1 -c"$connections" -d"${seconds}s" --timeout 60s -s "$work/$name.lua" "$url/$path" >"$work/$name.txt" &
    loads+=($!)
done
for _ in $(seq 8); do slow & done
peak=0
for t in $(seq 60 60 "$seconds"); do
    for _ in $(seq 12); do sleep 5; r=$(rss); ((r > peak)) && peak=$r; done
    echo "minute $((t / 60)): RSS $(rss) MB, peak so far $peak MB"
done
wait "${loads[@]}" || true
for name in single batch badtoken oversized; do
    echo "$name: $(grep -E 'requests in' "$work/$name.txt" | xargs); $(grep -E 'Non-2xx|Socket errors' "$work/$name.txt" | xargs)"
done
curl -sf -H "Authorization: Bearer $token" "localhost:$port/metrics" | grep -E '^quadrat_requests_total' | head -20
