#!/usr/bin/env bash
# Runs every fuzz target (fuzz/README.md) for a bounded time on the seeds of
# scripts/fuzz-seeds.sh, two at a time: the CI step of scripts/test.sh.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 60, or $LPCHECK_FUZZ_SECONDS)
# Builds on the stable toolchain with cargo-fuzz's `--sanitizer none` (no nightly needed) and
# with debug assertions, so arithmetic overflow panics too. Exits non-zero when a target
# crashes, naming the input saved under fuzz/artifacts/TARGET/; each target's log is in
# fuzz/logs/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-${LPCHECK_FUZZ_SECONDS:-60}}
targets=(patch_module diff_objects vmlinux kernel_lists)
flags=(--sanitizer none --debug-assertions --release)

scripts/fuzz-seeds.sh
cargo fuzz build "${flags[@]}"
mkdir -p fuzz/logs

# run TARGET: fuzzes it for $seconds; prints one summary line.
run() {
    local target=$1 log=fuzz/logs/$1.log
    if cargo fuzz run "${flags[@]}" "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        >"$log" 2>&1; then
        echo "fuzz $target: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -n 1), no crash"
    else
        echo "fuzz $target: FAILED, see $log"
        grep -E "panicked at|^attempt|SUMMARY|Test unit written to" "$log" | head -n 5 | sed 's/^/  /'
        return 1
    fi
}

failed=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for target in "${targets[@]:i:2}"; do
        run "$target" &
        pids+=($!)
    done
    for pid in "${pids[@]}"; do
        wait "$pid" || failed=1
    done
done
exit "$failed"
