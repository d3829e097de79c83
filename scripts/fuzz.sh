#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Fuzz/Harnesses) with the address sanitizer and runs each for a while.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS…]     default: 60 s each, every harness
#   scripts/fuzz.sh smoke                     CI: the seed corpus plus 2000 mutations from a fixed seed, each
#                                             harness (repeatable: a new crash found by chance cannot fail CI)
#
# Each run starts from the committed seed corpus (Fuzz/Corpus/<name>) plus what earlier runs found
# (.build/fuzz/corpus/<name>, not committed). A crash leaves its input in .build/fuzz/crashes/<name>/ and
# fails the script: turn it into a regression test, fix it, and add the input to the seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
limit=(-max_total_time="$seconds")
if [ "$seconds" = smoke ]; then limit=(-seed=1 -runs=2000); seconds=-; fi
all=(EXIF Image CSV Safetensors Checkpoint Multipart ModelMetadata Config ReviewJournal)
names=("${@:-${all[@]}}")
[ ${#names[@]} -gt 0 ] || names=("${all[@]}")

build=(swift build --build-path .build/fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld)
for name in "${names[@]}"; do
    QUADRAT_FUZZ=1 "${build[@]}" --product "Fuzz$name" 2>&1 | grep -v "Cannot export local symbol" | tail -1
done

bin=$(QUADRAT_FUZZ=1 "${build[@]}" --show-bin-path 2>/dev/null)
status=0
printf '%-12s %10s %8s %8s  %s\n' harness executions seconds corpus result
for name in "${names[@]}"; do
    seeds=Fuzz/Corpus/$(echo "$name" | tr '[:upper:]' '[:lower:]')
    found=.build/fuzz/corpus/$name crashes=.build/fuzz/crashes/$name
    [ "$seconds" = - ] && found=$(mktemp -d)  # smoke: start from the committed seeds only
    mkdir -p "$found" "$crashes"
    log=.build/fuzz/$name.log
    # libtorch leaks a little at exit by design; leak checking would report it on every run.
    if ASAN_OPTIONS=detect_leaks=0 "$bin/Fuzz$name" "$found" "$seeds" "${limit[@]}" \
        -artifact_prefix="$crashes/" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result="CRASH (see $log and $crashes)"
        status=1
    fi
    runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    took=$(grep -m1 -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    corpus=$(ls "$found" | wc -l)
    printf '%-12s %10s %8s %8s  %s\n' "$name" "$runs" "$seconds" "$corpus" "$result (${took} exec/s)"
done
exit $status
