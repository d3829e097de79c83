#!/usr/bin/env bash
# Two "hosts" on one machine: network namespaces joined by a veth pair, shaped with tc (a token bucket) to a
# given link rate, so the ranks' traffic crosses a real interface (not loopback). Runs `quadrat bench allreduce` with one
# rank in each (the measured all-reduce against the scaling model's figure for that link), then optionally a
# short two-host training run. Needs root and iproute2. Usage:
#   sudo scripts/netns_two_hosts.sh [RATE_MBIT=1000] [DATA (train there too)]
# (Delay is not shaped: netem is not in every kernel; tbf is.)
set -euo pipefail
rate=${1:-1000}; data=${2:-}
q=$(realpath .build/release/quadrat)
a=quadrat-a; b=quadrat-b
cleanup() { ip netns del "$a" 2>/dev/null || true; ip netns del "$b" 2>/dev/null || true; }
trap cleanup EXIT
cleanup
ip netns add "$a"; ip netns add "$b"
ip link add qveth-a netns "$a" type veth peer name qveth-b netns "$b"
ip -n "$a" addr add 10.77.0.1/24 dev qveth-a; ip -n "$b" addr add 10.77.0.2/24 dev qveth-b
for ns in "$a" "$b"; do ip -n "$ns" link set lo up; done
ip -n "$a" link set qveth-a up; ip -n "$b" link set qveth-b up
# Each side's egress at the link rate.
ip netns exec "$a" tc qdisc add dev qveth-a root tbf rate "${rate}mbit" burst 256kb latency 50ms
ip netns exec "$b" tc qdisc add dev qveth-b root tbf rate "${rate}mbit" burst 256kb latency 50ms
lscpu | grep "Model name"
echo "link: ${rate} Mbit/s each way (tc tbf on a veth pair between two network namespaces)"
master=10.77.0.1:29500
ip netns exec "$b" env QUADRAT_THREADS=1 "$q" bench allreduce --iterations 5 --world-size 2 --rank 1 --master "$master" &
ip netns exec "$a" env QUADRAT_THREADS=1 "$q" bench allreduce --iterations 5 --world-size 2 --rank 0 --master "$master" \
    --threads 1
wait
if [[ -n "$data" ]]; then
    out=$(mktemp -d)
    flags=(--size 128 --epochs 1 --tta 0 --no-lr-find --lr 3e-3 --world-size 2 --master "$master")
    ip netns exec "$b" env QUADRAT_THREADS=1 QUADRAT_QUIET=1 "$q" train "$data" --out "$out/b" --rank 1 "${flags[@]}" \
        >/dev/null &
    ip netns exec "$a" env QUADRAT_THREADS=1 QUADRAT_QUIET=1 "$q" train "$data" --out "$out/a" --rank 0 "${flags[@]}" |
        grep -E "^(data-parallel|unfrozen|validation|took)"
    wait
fi
