#!/usr/bin/env bash
# Benchmark (not a test) of `lpcheck check --vmlinux` on Debian's real debug vmlinux
# (linux-image-$KABI-amd64-dbg) for a patch with three vmlinux targets
# (benches/debuginfo/lp-bench3.c: cmdline_proc_show, rw_verify_area, getname_flags).
#
# Prints wall time and peak RSS of lpcheck cold (empty lpcheck cache: every inline site,
# caller and prototype is computed) and cached (second run, same build id), and the ratio to
# two named peers answering the same lookups on the same image:
#   gdb -batch -ex 'info scope T' (x3)   and   llvm-dwarfdump --name=T (x3).
# Goal (issue 7): under 2 s cold, under 200 ms cached, under 1 GB peak memory.
# The image's pages stay in the page cache between runs: "cold" is about lpcheck's cache only.
#
# Uses $LPCHECK_KERNEL_CACHE (default target/kernel) for the kernel headers (env file) and
# keeps the debug image under $LPCHECK_KERNEL_CACHE/dbg (downloaded with apt-get download
# when absent, ~860 MB). RUNS (default 5) runs per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${LPCHECK_KERNEL_CACHE:-$PWD/target/kernel}
runs=${RUNS:-5}
[ -s "$cache/env" ] || tests/vm/fetch-kernel.sh >/dev/null
# shellcheck disable=SC1091
source "$cache/env"
vmlinux=$cache/dbg/root/usr/lib/debug/boot/vmlinux-$KVER
if [ ! -s "$vmlinux" ]; then
    mkdir -p "$cache/dbg/root"
    (cd "$cache/dbg" && apt-get download "linux-image-$KABI-amd64-dbg" >/dev/null)
    dpkg-deb --fsys-tarfile "$cache"/dbg/linux-image-"$KABI"-amd64-dbg_*.deb |
        tar -x -C "$cache/dbg/root" ./usr/lib/debug/boot/
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp benches/debuginfo/lp-bench3.c benches/debuginfo/Kbuild "$work/"
make -s -C "$KDIR" M="$work" modules >/dev/null 2>&1
module=$work/lp-bench3.ko
cargo build --release --bin lpcheck >/dev/null 2>&1
targets=(cmdline_proc_show rw_verify_area getname_flags)
echo "image: $vmlinux ($(($(stat -c %s "$vmlinux") / 1048576)) MB); patch: lp-bench3.ko (${targets[*]})"

# Runs "$@" RUNS times; prints "mean_wall_seconds max_peak_kb mean_cpu_seconds".
measure() {
    local total=0 cpu=0 peak=0 seconds kb user sys
    for _ in $(seq "$runs"); do
        if [ -n "${FRESH:-}" ]; then rm -rf "$work/xdg"; fi
        XDG_CACHE_HOME=$work/xdg /usr/bin/time -o "$work/time" -f "%e %M %U %S" "$@" >/dev/null 2>&1 || true
        read -r seconds kb user sys < <(tail -1 "$work/time")
        total=$(python3 -c "print($total + $seconds)")
        cpu=$(python3 -c "print($cpu + $user + $sys)")
        if [ "$kb" -gt "$peak" ]; then peak=$kb; fi
    done
    python3 -c "print(f'{$total / $runs:.3f} $peak {$cpu / $runs:.3f}')"
}

lpcheck=(target/release/lpcheck check "$module" --vmlinux "$vmlinux" --format json)
read -r cold cold_kb cold_cpu < <(FRESH=1 measure "${lpcheck[@]}")
read -r cached cached_kb cached_cpu < <(measure "${lpcheck[@]}")
gdb_args=(-batch -nx)
for t in "${targets[@]}"; do gdb_args+=(-ex "info scope $t"); done
read -r gdb gdb_kb gdb_cpu < <(RUNS=1 measure gdb "${gdb_args[@]}" "$vmlinux")
dump_args=()
for t in "${targets[@]}"; do dump_args+=("--name=$t"); done
read -r dump dump_kb dump_cpu < <(RUNS=1 measure llvm-dwarfdump "${dump_args[@]}" "$vmlinux")

XDG_CACHE_HOME=$work/xdg "${lpcheck[@]}" >"$work/report.json" || true
python3 - "$work/report.json" <<'PY'
import json, sys
def count(part):
    return len(part["known"]) if "known" in part else "unknown"
for target in json.load(open(sys.argv[1]))["targets"]:
    debug = target.get("debuginfo", {})
    print("  {}: {} callers, inlined into {}, copies {}".format(
        target["function"], count(debug["callers"]), count(debug["inlined_into"]),
        target.get("copies", [])))
PY
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wall times include waiting for a CPU)"
echo "lpcheck cold:   ${cold} s wall, ${cold_cpu} s CPU, peak $((cold_kb / 1024)) MB (mean of $runs)"
echo "lpcheck cached: ${cached} s wall, ${cached_cpu} s CPU, peak $((cached_kb / 1024)) MB (mean of $runs)"
echo "gdb -batch 'info scope' x3: ${gdb} s wall, ${gdb_cpu} s CPU, peak $((gdb_kb / 1024)) MB; wall ratio lpcheck cold/gdb $(ratio "$cold" "$gdb"), cached/gdb $(ratio "$cached" "$gdb")"
echo "llvm-dwarfdump --name x3:   ${dump} s wall, ${dump_cpu} s CPU, peak $((dump_kb / 1024)) MB; wall ratio lpcheck cold/dwarfdump $(ratio "$cold" "$dump"), cached/dwarfdump $(ratio "$cached" "$dump")"
echo "goal: cold < 2 s, cached < 0.2 s, peak < 1024 MB"
