#!/bin/sh
# Guest script of tests/vm_apply.rs (busybox sh, in the VM, as root): runs
# `lpcheck apply`, `status` and `revert` (the binary is /bin/lpcheck) through
# five scenarios in one boot, in an order where a failure cannot poison the
# next one:
#   conflict  a kprobe (lpc-kprobe) on cmdline_proc_show, then apply lp-cmdline
#   schedule  apply lp-schedule
#   good      apply --dry-run lp-cmdline, apply it, status, revert lp_cmdline
#   stall     apply lp-target-stall: refused for want of a safe moment (the
#             lpc-target kthread sleeps in the target); then with
#             --safe-moment 0 --timeout 20: loaded, stalled, reverted
#   killed    apply lp-target-stall killed mid-transition, status, revert
#   forced    apply lp-target-stall --timeout 20 --force-on-stall
# Each scenario's lpcheck output goes to $LPC_OUT/<scenario>-<step>.txt; the
# script prints key=value lines (exit codes, observations, seconds per
# scenario) for the test to judge. The journal is $LPC_OUT/journal.jsonl.
set -u

export LPCHECK_JOURNAL=$LPC_OUT/journal.jsonl
out=$LPC_OUT
klp=/sys/kernel/livepatch

uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(uptime_s) $1" | awk '{printf "%.1f", $1 - $2}'; }
loaded() { if grep -q "^$1 " /proc/modules; then echo yes; else echo no; fi; }
progress() { echo "lpcheck-apply: $*" >&2; }

# run STEP ARGS...: runs lpcheck with ARGS, output to $out/STEP.txt, prints
# STEP_rc=<exit status>.
run() {
    step=$1
    shift
    lpcheck "$@" >"$out/$step.txt" 2>&1
    echo "${step}_rc=$?"
}

progress "conflict"
start=$(uptime_s)
insmod "$LPC_KMOD/lpc-kprobe.ko"
echo "conflict_kprobe_loaded=$(loaded lpc_kprobe)"
run conflict-apply apply "$LPC_KMOD/lp-cmdline.ko"
echo "conflict_patch_loaded=$(loaded lp_cmdline)"
rmmod lpc_kprobe
echo "conflict_seconds=$(since "$start")"

progress "schedule"
start=$(uptime_s)
run schedule-apply apply "$LPC_KMOD/lp-schedule.ko"
echo "schedule_patch_loaded=$(loaded lp_schedule)"
echo "schedule_seconds=$(since "$start")"

progress "good"
start=$(uptime_s)
echo "good_before=$(cat /proc/cmdline)"
run good-dry apply --dry-run "$LPC_KMOD/lp-cmdline.ko"
echo "good_dry_loaded=$(loaded lp_cmdline)"
run good-apply apply "$LPC_KMOD/lp-cmdline.ko"
echo "good_patched=$(cat /proc/cmdline)"
run good-status status
run good-revert revert lp-cmdline
echo "good_after=$(cat /proc/cmdline)"
echo "good_loaded_after=$(loaded lp_cmdline)"
echo "good_seconds=$(since "$start")"

progress "stall"
start=$(uptime_s)
insmod "$LPC_KMOD/lpc-target.ko"
echo "stall_before=$(cat /proc/lpc_target)"
run stall-wait apply "$LPC_KMOD/lp-target-stall.ko" --safe-moment-wait 5
echo "stall_wait_loaded=$(loaded lp_target_stall)"
run stall-apply apply "$LPC_KMOD/lp-target-stall.ko" --timeout 20 --safe-moment 0
echo "stall_after=$(cat /proc/lpc_target)"
echo "stall_loaded_after=$(loaded lp_target_stall)"
echo "stall_sysfs_after=$([ -e $klp/lp_target_stall ] && echo present || echo absent)"
echo "stall_seconds=$(since "$start")"

progress "killed"
start=$(uptime_s)
lpcheck apply "$LPC_KMOD/lp-target-stall.ko" --timeout 300 --safe-moment 0 >"$out/killed-apply.txt" 2>&1 &
pid=$!
tries=0
while [ ! -e $klp/lp_target_stall ] && [ $tries -lt 100 ]; do
    sleep 0.2
    tries=$((tries + 1))
done
sleep 1
kill -9 "$pid"
wait "$pid" 2>/dev/null
echo "killed_transition=$(cat $klp/lp_target_stall/transition 2>/dev/null)"
run killed-status status
run killed-status-json status --format json
run killed-revert revert lp_target_stall --timeout 20
echo "killed_after=$(cat /proc/lpc_target)"
echo "killed_loaded_after=$(loaded lp_target_stall)"
run final-status-json status --format json
echo "killed_seconds=$(since "$start")"

# Last, as a forced patch can never be unloaded.
progress "forced"
start=$(uptime_s)
run forced-apply apply "$LPC_KMOD/lp-target-stall.ko" --timeout 20 --force-on-stall \
    --safe-moment 0
echo "forced_proc=$(cat /proc/lpc_target)"
echo "forced_transition=$(cat $klp/lp_target_stall/transition 2>/dev/null)"
echo "forced_seconds=$(since "$start")"
exit 0
