#!/bin/sh
# Guest script of the vm_tui integration test (busybox sh, in the VM).
#
# Runs `lpcheck tui` on an 80x24 pseudo-terminal (pty-drive records what it
# draws into $LPC_OUT) four times: watching while lp-cmdline is loaded behind
# its back; reverting that patch from the TUI (r, confirmed with y); and on the
# stalled transition of lp-target-stall, showing the blocking kthread's stack
# and reverting. Prints key=value lines on stdout for the test to judge.
set -u

klp=/sys/kernel/livepatch/lp_cmdline

mkdir -p /dev/pts
mount -t devpts devpts /dev/pts || exit 1
export LPCHECK_JOURNAL=/tmp/journal.jsonl

echo "before=$(cat /proc/cmdline)"
(
    sleep 4
    lpc-insmod "$LPC_KMOD/lp-cmdline.ko" >/tmp/insmod 2>&1
) &
echo "watch_$(pty-drive "$LPC_OUT/watch.bytes" 80 24 wait=15000 send=q -- lpcheck tui)"
wait
echo "insmod=$(cat /tmp/insmod)"
echo "patched=$(cat /proc/cmdline)"

echo "revert_$(pty-drive "$LPC_OUT/revert.bytes" 80 24 \
    wait=5000 send=r wait=1500 send=y wait=10000 send=q -- lpcheck tui)"
echo "after=$(cat /proc/cmdline)"
echo "cmdline_modules=$(grep -c '^lp_cmdline ' /proc/modules)"
if [ -e "$klp" ]; then
    echo "klp=present enabled=$(cat "$klp/enabled") transition=$(cat "$klp/transition")"
else
    echo "klp=gone"
fi

# A transition that stalls: the lpc_target kthread sleeps in the patched
# function. The TUI shows it as the blocking task, its stack (s), and reverts
# the patch (r, y).
echo "target_insmod=$(lpc-insmod "$LPC_KMOD/lpc-target.ko" 2>&1)"
echo "stall_insmod=$(lpc-insmod "$LPC_KMOD/lp-target-stall.ko" 2>&1)"
echo "stall_$(pty-drive "$LPC_OUT/stall.bytes" 80 24 \
    wait=6000 send=s wait=2000 send=r wait=1500 send=y wait=10000 send=q -- lpcheck tui)"
if [ -e /sys/kernel/livepatch/lp_target_stall ]; then
    echo "stall_klp=present"
else
    echo "stall_klp=gone"
fi
echo "target_code=$(cat /proc/lpc_target)"

# Applying under the TUI: `lpcheck tui PATCH.ko` runs the apply engine (preflight, load,
# transition) behind the view; q once the outcome is on screen.
echo "apply_$(pty-drive "$LPC_OUT/apply.bytes" 80 24 \
    wait=70000 send=q -- lpcheck tui --timeout 30 "$LPC_KMOD/lp-cmdline.ko")"
echo "applied=$(cat /proc/cmdline)"
echo "journal_finished=$(grep -c '"event":"finished"' "$LPCHECK_JOURNAL")"
