#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Boot the stock Debian kernel in the VM and record the facts the analyzer is
# grounded on, plus the kernel's own verdict on each kmod/ module.
#
# Usage: tests/vm/dump-facts.sh [--facts-only] [--kmod DIR] [FACTS_DIR]
#   FACTS_DIR defaults to <cache>/facts, the cache being $LPCHECK_KERNEL_CACHE
#   or <repo>/target/kernel.
#   --facts-only skips the module loads (a boot of ~10 s instead of ~2 min).
#   --kmod DIR is where kmod/build.sh puts the modules it loads (default
#   <repo>/target/kmod).
#
# FACTS_DIR receives: uname-r, kallsyms, modules, available_filter_functions,
# available_filter_functions_addrs (when the kernel has it), btf-vmlinux,
# features (what the kernel has: /sys/kernel/livepatch, ...), and from the
# module loads kmod-results.txt (each case with errno, transitions, blocking
# tasks and dmesg) and kmod-verdicts.txt (one line per result).
# The guest side is tests/vm/guest/dump-facts.sh.
#
# Exit status: 0 on success, 3 when the kernel cannot be had, else 1.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache=${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}
facts_only=no
kmod_dir=$repo_root/target/kmod
while (($#)); do
    case $1 in
    --facts-only) facts_only=yes; shift ;;
    --kmod) kmod_dir=${2:?--kmod needs a directory}; shift 2 ;;
    *) break ;;
    esac
done
facts_dir=${1:-$cache/facts}

export LPC_LOG_PREFIX=dump-facts
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

main() {
    command -v gcc >/dev/null || lpc_die "gcc not found"
    local vm_dir="$repo_root/target/vm"
    mkdir -p "$vm_dir"
    # The guest's module loader: static, so it needs no libraries.
    gcc -static -O2 -Wall -Wextra -Werror -o "$vm_dir/lpc-insmod" "$script_dir/guest/lpc-insmod.c"

    local status=0 vm_args=()
    if [[ $facts_only == yes ]]; then
        # The guest script looks for this word on the kernel command line.
        vm_args=(--append lpcheck.facts_only)
    else
        "$repo_root/kmod/build.sh" "$kmod_dir" >/dev/null || status=$?
        ((status == 0)) || exit "$status"
        vm_args=(--kmod "$kmod_dir")
    fi

    # One output directory per kernel: run-vm.sh empties it first.
    local out="$vm_dir/dump-facts-$(basename "$(cd "$cache" && pwd -P)")"
    status=0
    "$script_dir/run-vm.sh" --out "$out" --timeout 600 "${vm_args[@]}" \
        --add "$vm_dir/lpc-insmod=/bin/lpc-insmod" "$script_dir/guest/dump-facts.sh" || status=$?
    if ((status != 0)); then
        [[ -f $out/stderr ]] && tail -n 40 "$out/stderr" >&2
        lpc_log "the VM run failed (status $status); results so far in $out"
        exit "$status"
    fi

    mkdir -p "$facts_dir"
    cp "$out"/facts/* "$facts_dir/"
    lpc_log "facts in $facts_dir:"
    find "$facts_dir" -maxdepth 1 -type f -printf '%10s  %f\n' | sort -k2 >&2
    if [[ $facts_only == no ]]; then
        lpc_log "kernel verdicts ($facts_dir/kmod-verdicts.txt):"
        cat "$facts_dir/kmod-verdicts.txt" >&2
    fi
}

main "$@"
