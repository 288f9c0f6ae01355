#!/bin/sh
# Guest script of tests/vm_klp_build.rs (busybox sh, in a VM of the 7.2 kernel
# the klp-build modules of ../shared/corpus/real-builders were built for): for
# each module, `lpcheck watch --once`, `apply` (refused: this small kernel has
# no debugfs, securityfs or module signing, so those preflight facts are
# unknown), `apply --accept-unknown`, `status`, what the patched function
# shows, `revert`, and what it shows after. The binary is
# /bin/lpcheck. Each step's output goes to $LPC_OUT/<module>-<step>.txt; the
# script prints key=value lines (exit codes, observations, seconds) for the
# test to judge.
set -u

export LPCHECK_JOURNAL=$LPC_OUT/journal.jsonl
out=$LPC_OUT
klp=/sys/kernel/livepatch

uptime_s() { cut -d' ' -f1 /proc/uptime; }
since() { echo "$(uptime_s) $1" | awk '{printf "%.1f", $1 - $2}'; }
loaded() { if grep -q "^$1 " /proc/modules; then echo yes; else echo no; fi; }
progress() { echo "klp-build-apply: $*" >&2; }

# run STEP ARGS...: runs lpcheck with ARGS, output to $out/STEP.txt, prints
# STEP_rc=<exit status>.
run() {
    step=$1
    shift
    lpcheck "$@" >"$out/$step.txt" 2>&1
    echo "${step}_rc=$?"
}

# What each module's patched function shows, on one line.
shows() {
    case $1 in
    klp_cmdline) cat /proc/cmdline ;;
    klp_version_callbacks_shadow) tr '\n' ' ' </proc/version ;;
    klp_modules_sympos) tr '\n' ' ' </proc/modules ;;
    esac
}

echo "release=$(uname -r)"
for ko in klp-cmdline klp-version-callbacks-shadow klp-modules-sympos; do
    mod=$(echo "$ko" | tr - _)
    progress "$ko"
    start=$(uptime_s)
    run "$ko-watch" watch --once "$LPC_KMOD/$ko.ko"
    echo "${ko}_before=$(shows "$mod")"
    run "$ko-refused" apply "$LPC_KMOD/$ko.ko" --timeout 30
    echo "${ko}_refused_loaded=$(loaded "$mod")"
    run "$ko-apply" apply "$LPC_KMOD/$ko.ko" --timeout 30 --accept-unknown
    echo "${ko}_patched=$(shows "$mod")"
    echo "${ko}_transition=$(cat $klp/$mod/transition 2>/dev/null)"
    echo "${ko}_replace=$(cat $klp/$mod/replace 2>/dev/null)"
    run "$ko-status" status
    run "$ko-revert" revert "$mod"
    echo "${ko}_after=$(shows "$mod")"
    echo "${ko}_loaded_after=$(loaded "$mod")"
    echo "${ko}_seconds=$(since "$start")"
done
dmesg | grep -i 'klpb\|livepatch' >"$out/klp-dmesg.txt"
exit 0
