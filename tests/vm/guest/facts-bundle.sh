#!/bin/sh
# Guest script of tests/vm_facts.rs (busybox sh, in the VM, as root): with
# lpc-target loaded (the target module of lp-target-stall), runs
# `lpcheck facts collect` and then, for every kmod/ livepatch module, the live
# `lpcheck check` (running kernel); `lpcheck check --facts` on the bundle just
# collected runs once here (lp-cmdline), for its time on the target. Outputs go
# to $LPC_OUT: facts.tar.zst, live-NAME.json, bundle-lp-cmdline.json,
# collect.txt; key=value lines on stdout: exit codes and timings
# (milliseconds, from /proc/uptime).
set -u

out=$LPC_OUT
ms() { awk '{printf "%d", $1 * 1000}' /proc/uptime; }

insmod "$LPC_KMOD/lpc-target.ko"
start=$(ms)
lpcheck facts collect -o "$out/facts.tar.zst" >"$out/collect.txt" 2>&1
echo "collect_rc=$?"
echo "collect_ms=$(($(ms) - start))"

live_ms=0
for ko in "$LPC_KMOD"/lp-*.ko; do
    name=$(basename "$ko" .ko)
    start=$(ms)
    lpcheck check "$ko" --format json >"$out/live-$name.json" 2>"$out/live-$name.err"
    echo "live_${name}_rc=$?"
    live_ms=$((live_ms + $(ms) - start))
done
echo "live_check_ms=$live_ms"
# The bundle is checked on the host for every module (that is its use); here once, for the
# time it takes on the target.
start=$(ms)
lpcheck check "$LPC_KMOD/lp-cmdline.ko" --facts "$out/facts.tar.zst" --format json \
    >"$out/bundle-lp-cmdline.json" 2>"$out/bundle-lp-cmdline.err"
echo "bundle_lp-cmdline_rc=$?"
echo "bundle_check_ms=$(($(ms) - start))"
rmmod lpc_target
echo "done=yes"
