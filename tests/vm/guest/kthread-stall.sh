#!/bin/sh
# Guest script of tests/vm_kthread_stall.rs (busybox sh, in the VM, as root):
# a live patch of a real kthread's main loop (lp-devtmpfs-loop, the loop the
# kdevtmpfs kthread never leaves), in one boot:
#   collect  `lpcheck facts collect` (kthread stacks included), for the host
#            to check the patch against (`lpcheck check --facts`) before
#            anything is loaded
#   refused  `lpcheck apply` as is: no safe moment comes, nothing is loaded
#   stalled  `lpcheck apply --safe-moment 0 --timeout $STALL_SECONDS` (the
#            gate's only bypass: the static check of apply reads no kthread
#            stacks): loaded; a background loop samples the transition every
#            second from sysfs while `lpcheck status` and `lpcheck watch` run
#            20 s after the load, past the first fake-signal round; apply
#            then reverts
# Outputs go to $LPC_OUT (<step>.txt, <step>.json, dmesg-stalled.txt, and
# transition.log: "UPTIME ENABLED TRANSITION WAKEUPS" each second the patch
# is in sysfs (its attributes), WAKEUPS being the
# kthread's voluntary context switches, one more for each time it was woken,
# as by the fake signal, and went back to sleep); key=value lines on stdout:
# exit codes, what sysfs and /proc/modules showed after each step, seconds.
set -u

out=$LPC_OUT
klp=/sys/kernel/livepatch
module=$LPC_KMOD/lp-devtmpfs-loop.ko
patch=lp_devtmpfs_loop
# Past three of the kernel's fake-signal rounds (one every 15 s).
STALL_SECONDS=50
export LPCHECK_JOURNAL=$out/journal.jsonl

uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(uptime_s) $1" | awk '{printf "%.1f", $1 - $2}'; }
loaded() { if grep -q "^$1 " /proc/modules; then echo yes; else echo no; fi; }
patches() { ls "$klp" | tr '\n' ' ' | sed 's/ $//'; }
wakeups() { sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "/proc/$kthread/status"; }
progress() { echo "kthread-stall: $*" >&2; }

# run STEP ARGS...: runs lpcheck with ARGS, output to $out/STEP.txt, prints
# STEP_rc=<exit status>.
run() {
    step=$1
    shift
    lpcheck "$@" >"$out/$step.txt" 2>&1
    echo "${step}_rc=$?"
}

# after STEP: what the kernel holds after STEP.
after() {
    echo "$1_loaded=$(loaded $patch)"
    echo "$1_patches=$(patches)"
}

echo "stall_timeout=$STALL_SECONDS"
kthread=$(pidof kdevtmpfs)
echo "kdevtmpfs_pid=$kthread"
cat "/proc/$kthread/stack" >"$out/kdevtmpfs-stack.txt"
echo "before_patches=$(patches)"
dmesg -c >/dev/null

progress "collect"
start=$(uptime_s)
run collect facts collect -o "$out/facts.tar.zst"
after collect
echo "collect_seconds=$(since "$start")"

progress "refused"
start=$(uptime_s)
run refused apply "$module" --safe-moment-wait 5
after refused
echo "refused_seconds=$(since "$start")"

progress "stalled"
start=$(uptime_s)
lpcheck apply "$module" --safe-moment 0 --timeout $STALL_SECONDS >"$out/stalled.txt" 2>&1 &
apply=$!
while kill -0 "$apply" 2>/dev/null; do
    if enabled=$(cat "$klp/$patch/enabled" 2>/dev/null) &&
        transition=$(cat "$klp/$patch/transition" 2>/dev/null); then
        echo "$(uptime_s) $enabled $transition $(wakeups)"
    fi
    sleep 1
done >"$out/transition.log" &
sampler=$!
# Past the first fake-signal round (15 s after the load) before looking.
while kill -0 "$apply" 2>/dev/null && [ ! -e "$klp/$patch" ]; do
    sleep 0.2
done
loaded_at=$(uptime_s)
while kill -0 "$apply" 2>/dev/null && [ "$(since "$loaded_at" | awk '{print ($1 < 20)}')" = 1 ]; do
    sleep 1
done
run stalled-status-json status --format json
run stalled-status status
lpcheck watch "$module" --once --format json >"$out/stalled-watch.json" 2>"$out/stalled-watch.err"
echo "stalled-watch_rc=$?"
echo "stalled_hits=$(cat /sys/module/$patch/parameters/hits)"
wait "$apply"
echo "stalled_rc=$?"
wait "$sampler"
after stalled
dmesg >"$out/dmesg-stalled.txt"
echo "stalled_seconds=$(since "$start")"
echo "kdevtmpfs_pid_after=$(pidof kdevtmpfs)"
cat "/proc/$kthread/stack" >"$out/kdevtmpfs-stack-after.txt"
exit 0
