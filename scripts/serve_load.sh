#!/usr/bin/env bash
# Load on `quadrat serve` with wrk (loopback only): one photo POSTed to /v1/predict at concurrency 1, 8 and 32,
# with micro-batching on (--max-batch 8) and off (--max-batch 1). Prints req/s, p50 and p99 latency, errors, the
# server's resident memory and its CPU time per request (user + system; steadier than req/s on a shared machine).
#
#   scripts/serve_load.sh MODEL PHOTO [SECONDS]      (build first: swift build -c release)
#   PRECISION=int8 BATCHES="8" CONNS="32" WORKERS=2 scripts/serve_load.sh …
#       (serve's --precision, batch sizes, concurrencies and --workers)
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1 photo=$2 seconds=${3:-20} precision=${PRECISION:-auto} workers=${WORKERS:-1}
quadrat=${QUADRAT:-.build/release/quadrat}   # another build to compare
port=18089
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
script=$(mktemp --suffix=.lua)
trap 'rm -f "$script"; kill $server 2>/dev/null || true' EXIT
cat >"$script" <<LUA
local f = assert(io.open("$(realpath "$photo")", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(basename "$photo"), ${seconds}s per run"
printf '%-9s %5s %9s %9s %9s %7s %7s %8s\n' batching conns req/s p50_ms p99_ms non2xx rss_mb cpu_ms/req
# The server's user + system CPU time so far, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() { awk '{print $14 + $15}' /proc/$server/stat; }
echo "serve --precision $precision --workers $workers"
for batch in ${BATCHES:-8 1}; do
    QUADRAT_QUIET=1 "$quadrat" serve "$model" --port $port --max-batch $batch --max-wait-ms 5 \
        --queue-limit 1024 --precision "$precision" --workers $workers >/dev/null 2>&1 &
    server=$!
    for _ in $(seq 50); do curl -sf "localhost:$port/healthz" >/dev/null && break; sleep 0.2; done
    # Warm-up: first passes allocate and pick kernels.
    wrk -t2 -c8 -d5s -s "$script" "http://127.0.0.1:$port/v1/predict" >/dev/null
    for conns in ${CONNS:-1 8 32}; do
        ticks=$(cpu_ticks)
        out=$(wrk -t$(( conns < 2 ? 1 : 2 )) -c$conns -d${seconds}s --timeout 30s --latency -s "$script" "http://127.0.0.1:$port/v1/predict")
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p50=$(echo "$out" | awk '$1=="50%" {print $2}')
        p99=$(echo "$out" | awk '$1=="99%" {print $2}')
        bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
        rss=$(( $(awk '/VmRSS/ {print $2}' /proc/$server/status) / 1024 ))
        requests=$(echo "$out" | awk '/requests in/ {print $1}')
        cpu=$(awk -v t=$(( $(cpu_ticks) - ticks )) -v hz=$(getconf CLK_TCK) -v n=$requests \
            'BEGIN {printf "%.2f", n ? 1000 * t / hz / n : 0}')
        label=$([ $batch = 1 ] && echo off || echo "on (8)")
        printf '%-9s %5s %9s %9s %9s %7s %7s %8s\n' "$label" $conns "$rps" "$p50" "$p99" "${bad:-0}" $rss $cpu
    done
    kill -TERM $server; wait $server 2>/dev/null || true
done
