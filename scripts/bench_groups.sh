#!/usr/bin/env bash
# Honest scores (issue: groups, near-duplicates, bursts): trains the same recipe on the burst set
# (scripts/make_burst_set.py) and the copies set (scripts/make_copies_set.py) with each way of splitting, and prints
# the validation accuracy (what the split claims) beside the held-out accuracy (photos of unseen sources).
#
#   scripts/bench_groups.sh [QUADRAT_FLAGS…]      e.g. --size 160 --epochs 4 (default: those)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.build/release/quadrat
flags=("${@:---size 160 --epochs 4}")
[ $# -gt 0 ] || flags=(--size 160 --epochs 4)
mkdir -p runs/bench-groups
printf '%-10s %-34s %10s %10s %8s\n' data split validation held-out gap
run() {
    local data=$1 name=$2; shift 2
    local log=runs/bench-groups/$(basename "$data")-$name.log
    # A finished run's log is read again (delete runs/bench-groups to train afresh).
    grep -qE '^held-out test \(' "$log" 2>/dev/null ||
        "$bin" train "$data" --out "runs/bench-groups/$(basename "$data")-$name" "${flags[@]}" "$@" >"$log" 2>&1
    local valid held
    valid=$(grep -E '^validation, ' "$log" | sed -E 's/.*accuracy ([0-9.]+).*/\1/')
    held=$(grep -E '^held-out test \(' "$log" | sed -E 's/.*accuracy ([0-9.]+).*/\1/')
    printf '%-10s %-34s %10.4f %10.4f %+8.4f\n' "$(basename "$data")" "$name ${*:-}" "$valid" "$held" \
        "$(echo "$valid - $held" | bc -l)"
}
run runs/bursts random --split-duplicates
run runs/bursts copies-together
run runs/bursts by-site --group-by site
run runs/bursts by-burst --group-by burst
run runs/copies random --split-duplicates
run runs/copies copies-together
