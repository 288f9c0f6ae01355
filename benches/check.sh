#!/usr/bin/env bash
# Benchmark (not a test) of `lpcheck check` on a real one-function livepatch module against the
# full symbol table and ftrace list of Debian's kernel, as recorded from a QEMU boot. Prints, in
# one run on the same inputs:
# - CPU time (user + system, mean of hyperfine runs) of `lpcheck check` and of the named peer,
#   `grep -F -w TARGET` over each fact file (finding the patched function in both), and their
#   ratio (goal, issue 18: within 3x), and the CPU time of the same check without the fact files
#   (process startup, the module, the rules), which the facts' share is the difference from;
# - wall time against `readelf -a` on the module plus `sort` of the kallsyms dump (issue 2) and
#   peak RSS (goal: under 50 ms and 50 MB).
# Usage: benches/check.sh [MODULE [TARGET]] (default: lp-cmdline.ko, cmdline_proc_show).
set -euo pipefail
cd "$(dirname "$0")/.."
facts=target/kernel/facts
[ -s "$facts/kallsyms" ] || tests/vm/dump-facts.sh --facts-only "$facts" >/dev/null
kmod/build.sh target/kmod >/dev/null
cargo build --release --bin lpcheck >/dev/null 2>&1
module=${1:-target/kmod/lp-cmdline.ko}
target=${2:-cmdline_proc_show}
kallsyms=$facts/kallsyms
ftrace=$facts/available_filter_functions
lpcheck=(target/release/lpcheck check "$module" --kallsyms "$kallsyms"
    --ftrace-functions "$ftrace" --kernel-release "$(cat "$facts/uname-r")")
echo "module: $module (target $target); kallsyms: $(wc -l < "$kallsyms") symbols; ftrace: $(wc -l < "$ftrace") functions"
json=$(mktemp)
trap 'rm -f "$json"' EXIT
hyperfine -N -w 5 -r 40 --export-json "$json" -i \
    "${lpcheck[*]}" \
    "grep -F -w $target $kallsyms" \
    "grep -F -w $target $ftrace" \
    "sh -c 'readelf -a $module >/dev/null && sort $kallsyms >/dev/null'" \
    "target/release/lpcheck check $module --kernel-release $(cat "$facts/uname-r")" >/dev/null
python3 - "$json" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
cpu = lambda r: (r["user"] + r["system"]) * 1000
ours, grep_k, grep_f, peer, no_facts = results
grep = cpu(grep_k) + cpu(grep_f)
print(f"CPU: lpcheck check {cpu(ours):.1f} ms; grep -F -w over both fact files "
      f"{grep:.1f} ms ({cpu(grep_k):.1f} + {cpu(grep_f):.1f}); ratio {cpu(ours)/grep:.2f}x (goal: within 3x)")
print(f"  of which without the fact files (startup, module, rules; facts unknown): "
      f"{cpu(no_facts):.1f} ms, so the facts cost {cpu(ours) - cpu(no_facts):.1f} ms")
print(f"wall: lpcheck check {ours['mean']*1000:.1f} ms mean; peer (readelf -a + sort kallsyms): "
      f"{peer['mean']*1000:.1f} ms; ratio {ours['mean']/peer['mean']:.2f}x")
PY
peak=$( { /usr/bin/time -f "%M" "${lpcheck[@]}" >/dev/null; } 2>&1 | tail -1)
echo "lpcheck check peak RSS: $((peak / 1024)) MB (goal: under 50 ms and 50 MB)"
