#!/bin/sh
# Guest script of the vm_harness integration test (busybox sh, in the VM).
#
# Applies lp-cmdline, reads /proc/cmdline, reverts the patch through sysfs,
# reads it again and unloads the module. Prints key=value lines on stdout for
# the test to judge; exits non-zero at the first step that fails.
set -u

klp=/sys/kernel/livepatch/lp_cmdline

# wait_settled: waits up to 30 s until the patch has no transition in
# progress (or is gone after a revert).
wait_settled() {
    tries=0
    while [ -e "$klp/transition" ] && [ "$(cat "$klp/transition")" != 0 ]; do
        tries=$((tries + 1))
        if [ "$tries" -gt 60 ]; then
            echo "transition=stuck"
            exit 1
        fi
        sleep 0.5
    done
}

echo "before=$(cat /proc/cmdline)"
insmod "$LPC_KMOD/lp-cmdline.ko" || exit 1
echo "enabled=$(cat "$klp/enabled")"
wait_settled
echo "patched=$(cat /proc/cmdline)"
echo 0 >"$klp/enabled"
wait_settled
echo "after=$(cat /proc/cmdline)"
rmmod lp_cmdline || exit 1
if grep -q '^lp_cmdline ' /proc/modules; then
    echo "unloaded=no"
else
    echo "unloaded=yes"
fi
