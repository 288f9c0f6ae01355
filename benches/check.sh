#!/usr/bin/env bash
# Benchmark (not a test) of `lpcheck check` on a real livepatch module against the full symbol
# table and ftrace list of Debian's kernel, as recorded from a QEMU boot. Prints wall time (mean
# of hyperfine runs) and peak RSS, and the ratio to a named peer on the same machine in the same
# run: `readelf -a` on the module plus `sort` of the kallsyms dump (reading the same inputs).
# Goal (issue 2): under 50 ms and 50 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
facts=target/kernel/facts
[ -s "$facts/kallsyms" ] || tests/vm/dump-facts.sh "$facts" >/dev/null
kmod/build.sh target/kmod >/dev/null
cargo build --release --bin lpcheck >/dev/null 2>&1
module=target/kmod/lp-cmdline.ko
lpcheck=(target/release/lpcheck check "$module" --kallsyms "$facts/kallsyms"
    --ftrace-functions "$facts/available_filter_functions" --kernel-release "$(cat "$facts/uname-r")")
echo "module: $module; kallsyms: $(wc -l < "$facts/kallsyms") symbols; ftrace: $(wc -l < "$facts/available_filter_functions") functions"
json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine -N -w 5 -r 40 --export-json "$json" -i \
    "${lpcheck[*]}" \
    "sh -c 'readelf -a $module >/dev/null && sort $facts/kallsyms >/dev/null'" >/dev/null
python3 - "$json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
ours, peer = results[0]["mean"], results[1]["mean"]
print(f"lpcheck check: {ours*1000:.1f} ms mean; peer (readelf -a + sort kallsyms): {peer*1000:.1f} ms; ratio {ours/peer:.2f}x")
PY
peak=$( { /usr/bin/time -f "%M" "${lpcheck[@]}" >/dev/null; } 2>&1 | tail -1)
echo "lpcheck check peak RSS: $((peak / 1024)) MB (goal: under 50 ms and 50 MB)"
