#!/bin/sh
# Guest script of the vm_klp_corpus test (busybox sh, in the VM, as root).
#
# Loads the kernel's own livepatch modules (tests/vm/build-klp-corpus.sh, in
# /kmod) in the order of /corpus-plan, whose lines are "helper MODULE" (the
# modules the patches target, loaded first and kept) and then "patch MODULE",
# and records what the kernel does with each, as key=value lines on stdout:
#
#   MODULE_load=ok | errno=N NAME (message)      finit_module's result
#   MODULE_livepatch=present | absent            /sys/kernel/livepatch/NAME
#   MODULE_transition=complete-S | stalled-S     the patch transition
#   MODULE_revert=complete-S | stalled-S         disabling it again
#   MODULE_unload=ok | failed                    rmmod after the revert
#
# Each patch is disabled and unloaded before the next one loads (the kernel
# runs one transition at a time); one that cannot be reverted is forced.
# Once the helpers are loaded, $LPC_OUT/facts/ gets the kernel's facts as the
# patches see them: uname-r, kallsyms, available_filter_functions. The kernel
# log of each module goes to $LPC_OUT/MODULE.dmesg. Before each patch loads,
# `lpcheck preflight` (at /bin/lpcheck) checks the host for it, JSON in
# $LPC_OUT/MODULE.preflight.json: the helpers loaded so far may hold its
# targets (a kprobe, another ftrace user), which the kernel refuses with EBUSY.
set -u

klp=/sys/kernel/livepatch
# Seconds a transition may take: more than one of the kernel's fake-signal
# rounds (15 s), so a transition waiting only for a sleeping task's signal
# still completes.
limit=30
facts=$LPC_OUT/facts
mkdir -p "$facts"

progress() { echo "klp-corpus: $*" >&2; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# wait_transition PATCH: waits up to $limit seconds until the livepatch PATCH
# has no transition in progress (or is gone); prints complete-S or stalled-S.
wait_transition() {
    local name=$1 start
    start=$(uptime_s)
    while [ -e "$klp/$name/transition" ] && [ "$(cat "$klp/$name/transition")" != 0 ]; do
        if [ "$(echo "$(uptime_s) $start $limit" | awk '{print ($1 - $2 >= $3)}')" = 1 ]; then
            echo "stalled-${limit}s"
            return 1
        fi
        sleep 0.2
    done
    echo "$(uptime_s) $start" | awk '{printf "complete-%.1fs\n", $1 - $2}'
}

# load KIND MODULE: loads /kmod/MODULE.ko and prints what the kernel did.
load() {
    local kind=$1 module=$2 name outcome
    name=$(echo "$module" | tr - _)
    progress "$kind $module"
    if [ "$kind" = patch ]; then
        lpcheck preflight --source proc --format json "$LPC_KMOD/$module.ko" \
            >"$LPC_OUT/$module.preflight.json" 2>"$LPC_OUT/$module.preflight.stderr"
    fi
    dmesg -c >/dev/null
    outcome=$(lpc-insmod "$LPC_KMOD/$module.ko")
    echo "${module}_load=$outcome"
    if [ "$outcome" != ok ]; then
        dmesg -c >"$LPC_OUT/$module.dmesg"
        return
    fi
    if [ ! -d "$klp/$name" ]; then
        echo "${module}_livepatch=absent"
        dmesg -c >"$LPC_OUT/$module.dmesg"
        [ "$kind" = helper ] || echo "${module}_unload=$(rmmod "$name" && echo ok || echo failed)"
        return
    fi
    echo "${module}_livepatch=present"
    echo "${module}_transition=$(wait_transition "$name")"
    echo 0 >"$klp/$name/enabled"
    if ! reverted=$(wait_transition "$name"); then
        echo 1 >"$klp/$name/force"
        wait_transition "$name" >/dev/null
    fi
    echo "${module}_revert=$reverted"
    echo "${module}_unload=$(rmmod "$name" && echo ok || echo failed)"
    dmesg -c >"$LPC_OUT/$module.dmesg"
}

uname -r >"$facts/uname-r"
while read -r kind module; do
    if [ "$kind" = patch ] && [ ! -e "$facts/kallsyms" ]; then
        cat /proc/kallsyms >"$facts/kallsyms"
        cat /sys/kernel/tracing/available_filter_functions >"$facts/available_filter_functions"
    fi
    load "$kind" "$module"
done </corpus-plan
echo "done=yes"
