#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build a private root of the kernel's own Debian suite holding the compiler
# its headers name (KCC), so that modules can be built for a kernel whose
# compiler the host lacks (Debian 12's gcc-12 cannot build 6.12 modules, and
# trixie's or sid's gcc do not run on Debian 12's glibc).
#
# Usage: tests/vm/fetch-toolchain.sh [CACHE_DIR]
#   CACHE_DIR defaults to $LPCHECK_KERNEL_CACHE, else <repo>/target/kernel:
#   the kernel cache of fetch-kernel.sh (run first when the cache has no env).
#
# The root is CACHE_DIR/toolchain: `debootstrap --variant=minbase` of the
# suite the kernel came from (SUITE of CACHE_DIR/env; for a backports suite,
# which debootstrap cannot bootstrap, its base suite: trixie for
# trixie-backports, whose kernels are built with the base's compiler), from
# the archive the private apt configurations use (LPC_DEBIAN_MIRROR), with
# KCC, make, libc6-dev, libelf-dev and the run-time dependencies of the
# kernel's linux-kbuild package (its fixdep, modpost, objtool and pahole are
# built for that suite). lpc_kbuild in lib.sh runs make in it with chroot. The
# packages the root was made with are recorded in CACHE_DIR/toolchain.stamp;
# a second run with the same packages does nothing. Prints the root's path.
#
# Exit status: 0 on success, 3 when the archive cannot be reached (or
# debootstrap is not installed), 1 on any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache=${1:-${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}}

export LPC_LOG_PREFIX=fetch-toolchain
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

# Prints the packages named by the Depends field of the .deb $1, one a line,
# without versions, the first of each set of alternatives.
deb_depends() {
    dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' |
        sed '/^$/d'
}

# Prints the packages the root must hold for kernel cache $1, one a line,
# sorted.
toolchain_packages() {
    local cache=$1 kcc kbuild_debs
    kcc=$(lpc_env_value "$cache/env" KCC)
    kbuild_debs=("$cache"/debs/linux-kbuild-*.deb)
    [[ -f ${kbuild_debs[0]} ]] || lpc_die "no linux-kbuild .deb in $cache/debs"
    local kbuild_deb=${kbuild_debs[-1]}
    {
        printf '%s\n' "$kcc" make libc6-dev libelf-dev
        deb_depends "$kbuild_deb"
    } | sort -u
}

main() {
    local status=0
    if [[ ! -f $cache/env ]]; then
        "$script_dir/fetch-kernel.sh" "$cache" >/dev/null || status=$?
        ((status == 0)) || exit "$status"
    fi
    cache=$(cd "$cache" && pwd -P)
    local suite root="$cache/toolchain" stamp="$cache/toolchain.stamp" packages
    suite=$(lpc_base_suite "$(lpc_env_value "$cache/env" SUITE)")
    packages=$(toolchain_packages "$cache")
    local wanted
    wanted=$(printf 'suite=%s\n%s\n' "$suite" "$packages")
    if [[ -f $stamp && -d $root ]] && [[ $(cat "$stamp") == "$wanted" ]]; then
        printf '%s\n' "$root"
        return 0
    fi
    command -v debootstrap >/dev/null ||
        lpc_unavailable "debootstrap not found (Debian package debootstrap; scripts/setup.sh installs it)"
    command -v unshare >/dev/null || lpc_die "unshare not found (Debian package util-linux)"

    local include start
    include=$(printf '%s\n' "$packages" | paste -sd, -)
    lpc_log "debootstrap $suite from $LPC_DEBIAN_MIRROR into $root with $include"
    start=$(date +%s)
    local build="$root.tmp"
    rm -rf "$build" "$stamp"
    # Its own mount namespace: whatever debootstrap mounts inside the root
    # (/proc, /sys, /dev in a container) is gone when it ends, so the root can
    # be removed safely on failure.
    status=0
    unshare --mount --propagation private -- \
        debootstrap --variant=minbase --include="$include" "$suite" "$build" "$LPC_DEBIAN_MIRROR" \
        >"$cache/toolchain.log" 2>&1 || status=$?
    if ((status != 0)); then
        tail -n 20 "$cache/toolchain.log" >&2
        rm -rf "$build"
        if grep -qE 'Failed getting release file|Couldn.t download|Temporary failure resolving|Could not resolve' \
            "$cache/toolchain.log"; then
            lpc_unavailable "debootstrap $suite cannot reach $LPC_DEBIAN_MIRROR (log: $cache/toolchain.log)"
        fi
        lpc_die "debootstrap $suite failed with status $status (log: $cache/toolchain.log)"
    fi
    # The downloaded packages are not needed any more.
    rm -rf "$build/var/cache/apt/archives/"*.deb
    local kcc
    kcc=$(lpc_env_value "$cache/env" KCC)
    [[ -x $build/usr/bin/$kcc ]] || lpc_die "the $suite root has no /usr/bin/$kcc"
    rm -rf "$root"
    mv "$build" "$root"
    printf '%s\n' "$wanted" >"$stamp"
    lpc_log "$suite toolchain ($kcc) in $root after $(($(date +%s) - start))s ($(du -sh "$root" | cut -f1))"
    printf '%s\n' "$root"
}

main "$@"
