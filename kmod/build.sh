#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build the kmod/ test modules against Debian's kernel headers and copy the
# .ko files to OUT_DIR.
#
# Usage: kmod/build.sh [OUT_DIR]
#   OUT_DIR defaults to <repo>/target/kmod.
#
# The headers come from tests/vm/fetch-kernel.sh (cache: $LPCHECK_KERNEL_CACHE
# or <repo>/target/kernel), built with the compiler they name (KCC): the
# host's when it has it, else in the toolchain root of the kernel's suite
# (tests/vm/fetch-toolchain.sh, through lpc_kbuild). The build runs in a copy
# of the sources under <repo>/target/kmod-build/KVER, so the source tree stays
# clean. Each module is checked with modinfo: vermagic of the fetched kernel,
# and livepatch=Y exactly for the lp-* modules.
#
# Exit status: 0 on success, 3 when the kernel headers or their compiler
# cannot be had (no network), 1 on any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/.." && pwd)
out=${1:-$repo_root/target/kmod}
cache=${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}

export LPC_LOG_PREFIX=kmod/build
# shellcheck source=../tests/vm/lib.sh
source "$repo_root/tests/vm/lib.sh"

# Checks one built module: vermagic, and livepatch=Y iff it is an lp-* module.
verify_module() {
    local ko=$1 kver=$2 name vermagic livepatch
    name=$(basename "$ko" .ko)
    vermagic=$(modinfo -F vermagic "$ko")
    livepatch=$(modinfo -F livepatch "$ko")
    [[ $vermagic == "$kver "* ]] ||
        lpc_die "$name: vermagic '$vermagic' does not match kernel $kver"
    case $name in
    lp-*) [[ $livepatch == Y ]] || lpc_die "$name: not marked livepatch=Y" ;;
    *) [[ -z $livepatch ]] || lpc_die "$name: marked livepatch=$livepatch but is not a live patch" ;;
    esac
    printf '%-22s livepatch=%-2s vermagic=%s\n' "$name" "${livepatch:--}" "$vermagic"
}

main() {
    command -v modinfo >/dev/null || lpc_die "modinfo not found (Debian package kmod)"

    local status=0
    "$repo_root/tests/vm/fetch-kernel.sh" "$cache" >/dev/null || status=$?
    ((status == 0)) || exit "$status"
    cache=$(cd "$cache" && pwd -P)
    local kver kdir kcc
    kver=$(lpc_env_value "$cache/env" KVER)
    kdir=$(lpc_env_value "$cache/env" KDIR)
    kcc=$(lpc_env_value "$cache/env" KCC)
    local build_dir="$repo_root/target/kmod-build/$kver"

    mkdir -p "$build_dir" "$out"
    # Sources only; the build products of earlier runs stay for make to reuse.
    cp -p "$script_dir"/Makefile "$script_dir"/*.c "$script_dir"/*.h "$build_dir/"
    lpc_log "building against $kver with $kcc in $build_dir"
    local start=$SECONDS
    lpc_kbuild "$cache" "$build_dir" "$build_dir/build.log" \
        make -C "$kdir" M="$build_dir" CC="$kcc" -j"$(nproc)" modules || status=$?
    if ((status == LPC_EXIT_UNAVAILABLE)); then
        exit "$status"
    elif ((status != 0)); then
        grep -E -A3 'error|Error' "$build_dir/build.log" | head -n 60 >&2
        lpc_die "kbuild failed (log: $build_dir/build.log)"
    fi
    if grep -i 'warning:' "$build_dir/build.log" >&2; then
        lpc_die "the build printed warnings (log: $build_dir/build.log)"
    fi

    local objects ko count=0
    objects=$(sed -n 's/^obj-m += //p' "$script_dir/Makefile" | tr ' ' '\n' | sed 's/\.o$//')
    for ko in $objects; do
        [[ -f $build_dir/$ko.ko ]] || lpc_die "kbuild produced no $ko.ko"
        verify_module "$build_dir/$ko.ko" "$kver"
        cp "$build_dir/$ko.ko" "$out/"
        count=$((count + 1))
    done
    lpc_log "$count modules for $kver in $out, built in $((SECONDS - start))s"
}

main "$@"
