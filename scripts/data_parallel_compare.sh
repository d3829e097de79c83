#!/usr/bin/env bash
# One machine, same cores: 1 process × all threads against N processes × (threads / N) via `quadrat launch`.
# Prints each run's phase times and validation score. Usage: scripts/data_parallel_compare.sh DATA [N] [EPOCHS] [SEED]
set -euo pipefail
data=${1:?data folder}; n=${2:-2}; epochs=${3:-3}
q=.build/release/quadrat
seed=${4:-42}
flags=(--size 256 --presize 320 --epochs "$epochs" --no-lr-find --lr 5.5e-3 --tta 2 --precision fp32 --seed "$seed")
out=$(mktemp -d)
lscpu | grep "Model name"
echo "== 1 process × $(nproc) threads"
QUADRAT_QUIET=1 "$q" train "$data" --out "$out/one" "${flags[@]}" | grep -E "^(unfrozen|head-pre|phase times|validation with|took)"
echo "== $n processes × $(( $(nproc) / n )) thread(s)"
QUADRAT_QUIET=1 "$q" launch -n "$n" -- train "$data" --out "$out/many" "${flags[@]}" |
    grep -E "^(unfrozen|head-pre|phase times|validation with|took|launch)"
