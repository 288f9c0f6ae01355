#!/bin/sh
# Guest script of tests/vm/dump-facts.sh (busybox sh, in the VM, as root).
#
# 1. Copies the kernel facts the analyzer works from into $LPC_OUT/facts/
#    (and, while the lpc-target module is loaded, its lines of /proc/modules,
#    /proc/kallsyms and available_filter_functions).
# 2. Unless the kernel command line has lpcheck.facts_only, loads each kmod/
#    module the way a user would and records what the kernel itself does with
#    it (load result with errno, transition, revert, dmesg) into
#    $LPC_OUT/facts/kmod-results.txt, one "## module" section each, and one
#    summary line per case into $LPC_OUT/facts/kmod-verdicts.txt.
#
# The order matters: a live patch whose transition never ends blocks every
# later patch (the kernel allows one transition at a time), so the modules
# expected to stall come last, and the very last one (lp-schedule) is forced
# if nothing else ends its transition. The VM is thrown away afterwards.
set -u

facts=$LPC_OUT/facts
results=$facts/kmod-results.txt
verdicts=$facts/kmod-verdicts.txt
klp=/sys/kernel/livepatch
mkdir -p "$facts"

progress() { echo "dump-facts: $*" >&2; }
record() { echo "$*" >>"$results"; }
verdict() { echo "$*" >>"$verdicts"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# --- 1. Facts -----------------------------------------------------------------
progress "copying kernel facts"
uname -r >"$facts/uname-r"
cat /proc/kallsyms >"$facts/kallsyms"
cat /proc/modules >"$facts/modules"
tracing=/sys/kernel/tracing
cat "$tracing/available_filter_functions" >"$facts/available_filter_functions"
if [ -e "$tracing/available_filter_functions_addrs" ]; then
    cat "$tracing/available_filter_functions_addrs" >"$facts/available_filter_functions_addrs"
fi
if [ -e /sys/kernel/btf/vmlinux ]; then
    cat /sys/kernel/btf/vmlinux >"$facts/btf-vmlinux"
fi
{
    if [ -d "$klp" ]; then
        echo "sys_kernel_livepatch=present"
    else
        echo "sys_kernel_livepatch=absent"
    fi
    echo "available_filter_functions_addrs=$([ -e "$tracing/available_filter_functions_addrs" ] && echo present || echo absent)"
    echo "btf_vmlinux=$([ -e /sys/kernel/btf/vmlinux ] && echo present || echo absent)"
    echo "kptr_restrict=$(cat /proc/sys/kernel/kptr_restrict)"
    echo "ftrace_enabled=$(cat /proc/sys/kernel/ftrace_enabled)"
} >"$facts/features"

# --- 2. Module verdicts -------------------------------------------------------
# dump-facts.sh --facts-only puts this word on the kernel command line.
if grep -qw lpcheck.facts_only /proc/cmdline; then
    progress "facts only: no module loads"
    exit 0
fi
: >"$results"
: >"$verdicts"
# Drops the kernel log so far, so that each case records only its own lines.
dmesg -c >/dev/null

# load MODULE [PARAM=VALUE...]: loads /kmod/MODULE.ko, records the result,
# and prints "ok" or "errno=..." for the caller.
load() {
    local module=$1 outcome
    shift
    outcome=$(lpc-insmod "$LPC_KMOD/$module.ko" "$@")
    record "insmod $module${*:+ $*}: $outcome"
    echo "$outcome"
}

# patch_name MODULE: the livepatch sysfs name (the module name, "-" -> "_").
patch_name() { echo "$1" | tr - _; }

# wait_transition PATCH SECONDS: waits until /sys/kernel/livepatch/PATCH has
# no transition in progress (or is gone); records and prints the outcome.
wait_transition() {
    local name=$1 limit=$2 start took
    start=$(uptime_s)
    while :; do
        if [ ! -e "$klp/$name/transition" ] || [ "$(cat "$klp/$name/transition")" = 0 ]; then
            took=$(echo "$(uptime_s) $start" | awk '{printf "%.1f", $1 - $2}')
            record "transition $name: complete after ${took}s"
            echo "complete-${took}s"
            return 0
        fi
        if [ "$(echo "$(uptime_s) $start $limit" | awk '{print ($1 - $2 >= $3)}')" = 1 ]; then
            record "transition $name: still in progress after ${limit}s"
            blocking_tasks "$name"
            echo "stalled-${limit}s"
            return 1
        fi
        sleep 0.5
    done
}

# blocking_tasks PATCH: records every task whose patch_state differs from the
# one the transition of PATCH heads for (its "enabled" value), with its
# kernel stack.
blocking_tasks() {
    local goal state value task
    goal=$(cat "$klp/$1/enabled")
    for state in /proc/[0-9]*/task/[0-9]*/patch_state; do
        [ -r "$state" ] || continue
        value=$(cat "$state" 2>/dev/null) || continue
        [ "$value" = "$goal" ] && continue
        task=${state%/patch_state}
        record "  task ${task#/proc/} comm=$(cat "$task/comm" 2>/dev/null) patch_state=$value"
        sed 's/^/    /' "$task/stack" >>"$results" 2>/dev/null
    done
}

# disable MODULE: reverts the patch of MODULE and waits for that transition.
disable() {
    local name
    name=$(patch_name "$1")
    echo 0 >"$klp/$name/enabled"
    record "disable $name"
    wait_transition "$name" "${2:-30}"
}

unload() {
    if rmmod "$1" 2>>"$results"; then
        record "rmmod $1: ok"
    else
        record "rmmod $1: failed"
    fi
}

# section MODULE DESCRIPTION: starts the record of one case.
section() {
    progress "$1: $2"
    record ""
    record "## $1"
    record "# $2"
}

# end_section: appends the kernel log lines of the case.
end_section() {
    record "dmesg:"
    dmesg -c | sed 's/^/  /' >>"$results"
}

# Modules the kernel should refuse to load.
for module in lp-missing lp-init lp-notrace lp-ambiguous; do
    section "$module" "expected to fail to load"
    outcome=$(load "$module")
    verdict "$module load=$outcome"
    if [ "$outcome" = ok ]; then
        verdict "$module transition=$(wait_transition "$(patch_name "$module")" 30)"
        disable "$module" >/dev/null
        unload "$module"
    fi
    end_section
done

section lp-ambiguous-sympos "c_start with old_sympos=1: only /proc/cpuinfo's copy is patched"
outcome=$(load lp-ambiguous-sympos)
verdict "lp-ambiguous-sympos load=$outcome"
if [ "$outcome" = ok ]; then
    verdict "lp-ambiguous-sympos transition=$(wait_transition lp_ambiguous_sympos 30)"
    hits=/sys/module/lp_ambiguous_sympos/parameters/hits
    before=$(cat "$hits")
    cat /proc/consoles /proc/crypto >/dev/null
    other=$(cat "$hits")
    cat /proc/cpuinfo >/dev/null
    cpuinfo=$(cat "$hits")
    record "hits: before=$before after-consoles-crypto=$other after-cpuinfo=$cpuinfo"
    verdict "lp-ambiguous-sympos hits-other-copies=$((other - before)) hits-cpuinfo=$((cpuinfo - other))"
    verdict "lp-ambiguous-sympos revert=$(disable lp-ambiguous-sympos)"
    unload lp-ambiguous-sympos
fi
end_section

section lp-cmdline "good patch of cmdline_proc_show"
original=$(cat /proc/cmdline)
outcome=$(load lp-cmdline)
verdict "lp-cmdline load=$outcome"
if [ "$outcome" = ok ]; then
    verdict "lp-cmdline transition=$(wait_transition lp_cmdline 30)"
    patched=$(cat /proc/cmdline)
    record "/proc/cmdline patched: $patched"
    verdict "lp-cmdline revert=$(disable lp-cmdline)"
    after=$(cat /proc/cmdline)
    record "/proc/cmdline after revert: $after"
    [ "$after" = "$original" ] && restored=yes || restored=no
    verdict "lp-cmdline patched-output=\"$patched\" original-restored=$restored"
    unload lp-cmdline
fi
end_section

section lp-callbacks-shadow "callbacks, shadow variables, klp_state, atomic replace of lp-cmdline"
load lp-cmdline >/dev/null
wait_transition lp_cmdline 30 >/dev/null
outcome=$(load lp-callbacks-shadow)
verdict "lp-callbacks-shadow load=$outcome"
if [ "$outcome" = ok ]; then
    verdict "lp-callbacks-shadow transition=$(wait_transition lp_callbacks_shadow 30)"
    record "patches after replace: $(cd "$klp" && echo *)"
    [ -e "$klp/lp_cmdline" ] && replaced=no || replaced=yes
    # Two reads by this shell itself: its shadow counter goes 1, 2.
    read -r first </proc/cmdline
    read -r second </proc/cmdline
    record "/proc/cmdline: first read: $first"
    record "/proc/cmdline: second read by the same task: $second"
    verdict "lp-callbacks-shadow replaced-lp-cmdline=$replaced first=\"$first\" second=\"$second\""
    verdict "lp-callbacks-shadow revert=$(disable lp-callbacks-shadow)"
    unload lp-callbacks-shadow
fi
unload lp-cmdline
end_section

section lpc-kprobe "a kprobe with a post handler on cmdline_proc_show, then lp-cmdline"
outcome=$(load lpc-kprobe)
verdict "lpc-kprobe load=$outcome"
if [ "$outcome" = ok ]; then
    cat /proc/cmdline >/dev/null
    record "kprobe hits after one read: $(cat /sys/module/lpc_kprobe/parameters/hits)"
    outcome=$(load lp-cmdline)
    verdict "lp-cmdline-after-kprobe load=$outcome"
    if [ "$outcome" = ok ]; then
        wait_transition lp_cmdline 30 >/dev/null
        disable lp-cmdline >/dev/null
        unload lp-cmdline
    fi
    unload lpc-kprobe
fi
record "-- the other order: lp-cmdline first, then lpc-kprobe"
if [ "$(load lp-cmdline)" = ok ]; then
    wait_transition lp_cmdline 30 >/dev/null
    outcome=$(load lpc-kprobe)
    verdict "lpc-kprobe-after-lp-cmdline load=$outcome"
    [ "$outcome" = ok ] && unload lpc-kprobe
    disable lp-cmdline >/dev/null
    unload lp-cmdline
fi
end_section

section lp-target-stall "patch of lpc_target_sleep while the lpc_target kthread sleeps in it"
outcome=$(load lpc-target)
verdict "lpc-target load=$outcome"
if [ "$outcome" = ok ]; then
    record "/proc/lpc_target before: $(cat /proc/lpc_target)"
    # Facts with a module loaded, for checking lp-target-stall offline.
    cat /proc/modules >"$facts/modules-lpc-target"
    grep '\[lpc_target\]' /proc/kallsyms >"$facts/kallsyms-lpc-target"
    grep '\[lpc_target\]' "$tracing/available_filter_functions" >"$facts/available_filter_functions-lpc-target"
    outcome=$(load lp-target-stall)
    verdict "lp-target-stall load=$outcome"
    if [ "$outcome" = ok ]; then
        verdict "lp-target-stall transition=$(wait_transition lp_target_stall 20)"
        record "/proc/lpc_target during the transition: $(cat /proc/lpc_target)"
        verdict "lp-target-stall revert=$(disable lp-target-stall)"
        unload lp-target-stall
        after=$(cat /proc/lpc_target)
        record "/proc/lpc_target after revert: $after"
        verdict "lp-target-stall after-revert=$after"
    fi
    unload lpc-target
fi
end_section

section lp-nanosleep "patch of do_nanosleep while a task sleeps in nanosleep()"
sleep 1000 &
sleeper=$!
sleep 1
outcome=$(load lp-nanosleep)
verdict "lp-nanosleep load=$outcome"
if [ "$outcome" = ok ]; then
    verdict "lp-nanosleep transition=$(wait_transition lp_nanosleep 25)"
    record "replacement hits: $(cat /sys/module/lp_nanosleep/parameters/hits)"
    verdict "lp-nanosleep revert=$(disable lp-nanosleep 25)"
    unload lp-nanosleep
fi
kill "$sleeper"
end_section

section lp-ksys-read "patch of ksys_read while a task is blocked in read() on a pipe"
sleep 1000 | cat >/dev/null &
sleep 1
outcome=$(load lp-ksys-read)
verdict "lp-ksys-read load=$outcome"
if [ "$outcome" = ok ]; then
    verdict "lp-ksys-read transition=$(wait_transition lp_ksys_read 25)"
    record "replacement hits: $(cat /sys/module/lp_ksys_read/parameters/hits)"
    verdict "lp-ksys-read revert=$(disable lp-ksys-read 25)"
    unload lp-ksys-read
fi
killall sleep cat 2>/dev/null
end_section

section lp-schedule "patch of schedule (last: may never finish, then forced)"
outcome=$(load lp-schedule)
verdict "lp-schedule load=$outcome"
if [ "$outcome" = ok ]; then
    transition=$(wait_transition lp_schedule 25)
    verdict "lp-schedule transition=$transition"
    record "replacement hits: $(cat /sys/module/lp_schedule/parameters/hits)"
    reverted=$(disable lp-schedule 25)
    verdict "lp-schedule revert=$reverted"
    case $reverted in
    complete-*) unload lp-schedule ;;
    *)
        echo 1 >"$klp/lp_schedule/force"
        record "force written"
        verdict "lp-schedule forced-revert=$(wait_transition lp_schedule 10)"
        unload lp-schedule
        ;;
    esac
fi
end_section

record ""
record "## final state"
record "modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
record "tainted: $(cat /proc/sys/kernel/tainted)"
progress "done"
