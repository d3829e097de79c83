#!/usr/bin/env bash
# Soak `quadrat serve` (loopback only): 32 connections POSTing one photo for SECONDS (default 300), RSS sampled
# every 30 s after a 30 s warm-up; then SIGTERM under load, to check that requests in flight are answered.
#
#   scripts/serve_soak.sh MODEL PHOTO [SECONDS]      (build first: swift build -c release)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 photo=$2 seconds=${3:-300}
port=18091
script=$(mktemp --suffix=.lua)
trap 'rm -f "$script"; kill $server 2>/dev/null || true' EXIT
printf 'local f = assert(io.open("%s", "rb"))\nwrk.method = "POST"\nwrk.body = f:read("*a")\nf:close()\n' \
    "$(realpath "$photo")" >"$script"
QUADRAT_QUIET=1 .build/release/quadrat serve "$model" --port $port --queue-limit 1024 >/tmp/quadrat-soak.log 2>&1 &
server=$!
for _ in $(seq 50); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
rss() { echo $(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 )); }
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
wrk -t2 -c32 -d30s -s "$script" "http://127.0.0.1:$port/v1/predict" >/dev/null
start=$(rss)
echo "after warm-up: RSS $start MB"
wrk -t2 -c32 -d${seconds}s --timeout 30s -s "$script" "http://127.0.0.1:$port/v1/predict" >/tmp/quadrat-soak-wrk.txt &
load=$!
for t in $(seq 30 30 "$seconds"); do sleep 30; echo "t=${t}s RSS $(rss) MB"; done
wait $load
end=$(rss)
grep -E "Requests/sec|Non-2xx|Socket errors" /tmp/quadrat-soak-wrk.txt || true
awk -v a=$start -v b=$end 'BEGIN { printf "RSS end/after warm-up: %d / %d MB = %.3f\n", b, a, b / a }'
# SIGTERM while 32 connections are busy: the server stops listening, answers what it took, and exits 0.
wrk -t2 -c32 -d6s --timeout 30s -s "$script" "http://127.0.0.1:$port/v1/predict" >/tmp/quadrat-soak-term.txt &
load=$!
sleep 3
kill -TERM $server
status=0
wait $server || status=$?
wait $load || true
echo "after SIGTERM under load: server exit status $status; $(tail -1 /tmp/quadrat-soak.log)"
grep -E "requests in|Non-2xx|Socket errors" /tmp/quadrat-soak-term.txt || true
