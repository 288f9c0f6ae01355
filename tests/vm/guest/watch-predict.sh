#!/bin/sh
# Guest script of tests/vm_watch.rs (busybox sh, in the VM, as root).
#
# For each stalling or slow live patch: runs `lpcheck watch --once --format json`
# (BPF source, then /proc), records every thread id, loads the patch with
# lpc-insmod, and records every thread's patch_state 3 s after the load (before
# the livepatch core's fake-signal round at 15 s) and 20 s after it (after that
# round). Then reverts and unloads the patch. The host test compares the
# predictions with the kernel's patch_state. Also runs `lpcheck preflight`
# with and without a kprobe on a target.
set -u

klp=/sys/kernel/livepatch
out=$LPC_OUT

uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(uptime_s) $1" | awk '{printf "%.1f", $1 - $2}'; }

# tids FILE: every thread id now.
tids() {
    for task in /proc/[0-9]*/task/[0-9]*; do
        echo "${task##*/}"
    done >"$1"
}

# states FILE: "TID PATCH_STATE COMM" for every thread.
states() {
    for state in /proc/[0-9]*/task/[0-9]*/patch_state; do
        value=$(cat "$state" 2>/dev/null) || continue
        task=${state%/patch_state}
        echo "${task##*/} $value $(cat "$task/comm" 2>/dev/null)"
    done >"$1"
}

# settled NAME: the patch has no transition in progress (or is gone).
settled() { [ ! -e "$klp/$1/transition" ] || [ "$(cat "$klp/$1/transition")" = 0 ]; }

# wait_until START SECONDS: sleeps until SECONDS after START (an uptime).
wait_until() {
    while [ "$(echo "$(uptime_s) $1 $2" | awk '{print ($1 - $2 < $3)}')" = 1 ]; do
        sleep 0.2
    done
}

# case MODULE TAG
run_case() {
    module=$1 tag=$2 name=$(echo "$1" | tr - _)
    lpcheck watch "$LPC_KMOD/$module.ko" --once --format json \
        >"$out/$tag-bpf.json" 2>"$out/$tag-bpf.err"
    lpcheck watch "$LPC_KMOD/$module.ko" --once --format json --source proc \
        >"$out/$tag-proc.json" 2>"$out/$tag-proc.err"
    tids "$out/$tag-tids.txt"
    start=$(uptime_s)
    lpc-insmod "$LPC_KMOD/$module.ko" >"$out/$tag-insmod.txt" 2>&1
    echo "$tag insmod=$(cat "$out/$tag-insmod.txt")"
    wait_until "$start" 3
    states "$out/$tag-state-3s.txt"
    wait_until "$start" 20
    states "$out/$tag-state-20s.txt"
    echo "$tag transition_at_20s=$(cat "$klp/$name/transition" 2>/dev/null || echo gone)"
    echo 0 >"$klp/$name/enabled"
    revert=$(uptime_s)
    while ! settled "$name"; do
        if [ "$(since "$revert" | awk '{print ($1 > 30)}')" = 1 ]; then
            echo "$tag revert=stuck"
            exit 1
        fi
        sleep 0.2
    done
    rmmod "$name" && echo "$tag unloaded=yes"
}

echo "btf=$([ -e /sys/kernel/btf/vmlinux ] && echo present || echo absent)"
lpc-insmod "$LPC_KMOD/lpc-target.ko" >/dev/null || exit 1
# User tasks sleeping in known functions: nanosleep, and a pipe read. Their
# output goes nowhere: /init waits for the end of the script's output.
sleep 100000 </dev/null >/dev/null 2>&1 &
sleeper=$!
sleep 100000 </dev/null 2>/dev/null | cat >/dev/null 2>&1 &
reader=$!
sleep 1

lpcheck preflight "$LPC_KMOD/lp-cmdline.ko" --format json >"$out/preflight.json" 2>"$out/preflight.err"
echo "preflight_rc=$?"
lpc-insmod "$LPC_KMOD/lpc-kprobe.ko" >/dev/null || exit 1
lpcheck preflight "$LPC_KMOD/lp-cmdline.ko" --format json >"$out/preflight-kprobe.json" 2>"$out/preflight-kprobe.err"
echo "preflight_kprobe_rc=$?"
rmmod lpc_kprobe

run_case lp-ksys-read ksys-read
run_case lp-nanosleep nanosleep
# Last: its transition never completes on its own.
run_case lp-target-stall stall
kill "$sleeper" "$reader"
echo "done=yes"
