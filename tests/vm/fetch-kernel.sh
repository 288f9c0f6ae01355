#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Fetch Debian's current stock kernel and its build headers into a cache
# directory, without installing anything on the host.
#
# Usage: tests/vm/fetch-kernel.sh [CACHE_DIR]
#   CACHE_DIR defaults to $LPCHECK_KERNEL_CACHE, else <repo>/target/kernel.
#
# The kernel ABI (e.g. 6.1.0-56) comes from `apt-cache depends linux-image-amd64`.
# The four packages (image, amd64 headers, common headers, kbuild tools) are
# fetched with `apt-get download` into CACHE_DIR/debs and unpacked with
# `dpkg -x` into CACHE_DIR/root. The amd64 headers refer to the common headers
# and to the kbuild tools by absolute /usr/src and /usr/lib paths; those
# references are rewritten to point inside CACHE_DIR/root, so that
# `make -C $KDIR M=...` works from the cache.
#
# It also extracts the kernel ELF image from the bzImage into CACHE_DIR/vmlinux
# (stripped, but with its sections and BTF): QEMU boots it directly through
# its PVH entry point, skipping the slow in-guest decompression.
#
# Every step is skipped when already done. On success the script writes
# CACHE_DIR/env (shell syntax: KABI, KVER, VMLINUZ, VMLINUX, KCONFIG, KDIR,
# MODDIR) and prints it.
#
# LPCHECK_KERNEL_ABI (e.g. 6.1.0-56) pins the ABI instead of resolving it.
#
# LPCHECK_KERNEL_SUITE picks the Debian suite: bookworm (the system's apt:
# Debian 12's 6.1; the default for a new cache, an existing cache keeps the
# SUITE of its env file), trixie (Debian 13's 6.12, with trixie-security),
# sid (7.x) or a backports suite such as trixie-backports (the newer kernel
# a stable release ships, fetched with its base suite). For suites other
# than the system's, apt runs with a private configuration under
# CACHE_DIR/apt (sources list, lists, cache; see lpc_private_apt); the
# system's apt setup is never changed. The
# env file also names the compiler the headers depend on (KCC, e.g. gcc-14).
#
# Exit status: 0 on success, 3 when the packages cannot be resolved or
# downloaded (no apt lists, no network), 1 on any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache=${1:-${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}}

export LPC_LOG_PREFIX=fetch-kernel
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

# Prints the ABI name of the kernel that linux-image-amd64 depends on,
# e.g. "6.1.0-56", or nothing when apt knows no such package.
resolve_abi() {
    apt-cache "${LPC_APT_OPTS[@]}" depends linux-image-amd64 2>/dev/null |
        sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)-amd64$/\1/p' |
        head -n 1
}

# Prints the package that headers package $1 depends on whose name starts
# with $2 (linux-kbuild-, gcc-), e.g. linux-kbuild-6.1 or gcc-14.
headers_dependency() {
    apt-cache "${LPC_APT_OPTS[@]}" depends "$1" 2>/dev/null |
        sed -n "s/^ *|\{0,1\}Depends: \($2[^ ]*\)\$/\1/p" |
        sed 's/-for-host$//' | head -n 1
}

# Points the absolute /usr/src and /usr/lib references of the unpacked
# headers at the copies inside $1.
relocate_headers() {
    local root=$1 kabi=$2 kver=$3
    local arch_headers="$root/usr/src/linux-headers-$kver"
    local common_headers="$root/usr/src/linux-headers-$kabi-common"
    local makefile="$arch_headers/Makefile"

    # The amd64 Makefile is a single `include /usr/src/...-common/Makefile`
    # (or, after an earlier run, the same include rewritten into a cache);
    # 7.x sets KBUILD_OUTPUT to its own /usr/src directory before it.
    sed -i -e "s|^include .*/usr/src/linux-headers-$kabi-common/Makefile\$|include $common_headers/Makefile|" \
        -e "s|^KBUILD_OUTPUT=.*/usr/src/linux-headers-$kver\$|KBUILD_OUTPUT=$arch_headers|" "$makefile"
    if grep -q '^KBUILD_OUTPUT=' "$makefile" && ! grep -q "^KBUILD_OUTPUT=$arch_headers\$" "$makefile"; then
        lpc_die "unexpected KBUILD_OUTPUT in $makefile: $(grep '^KBUILD_OUTPUT=' "$makefile")"
    fi
    grep -q "^include $common_headers/Makefile\$" "$makefile" || {
        lpc_log "unexpected content in $makefile:"
        cat "$makefile" >&2
        exit 1
    }

    # lib/modules/<kver>/{build,source} are absolute symlinks to /usr/src.
    local moddir
    moddir=$(module_dir "$root" "$kver")
    ln -sfn "$arch_headers" "$moddir/build"
    ln -sfn "$common_headers" "$moddir/source"

    # scripts/ and tools/ are relative links into usr/lib/linux-kbuild-*;
    # they must resolve inside the cache.
    local dir link
    for dir in "$arch_headers" "$common_headers"; do
        for link in scripts tools; do
            [[ -d $dir/$link/ ]] ||
                lpc_die "$dir/$link does not resolve to a directory in the cache"
        done
    done
}

# Extracts the ELF vmlinux from bzImage $1 into $2, once. Debian compresses
# the payload with xz (bookworm) or zstd (trixie and later); the first stream
# in the image that decompresses to an ELF file is it (what trails the ELF,
# the relocation table, is harmless).
extract_vmlinux() {
    local bzimage=$1 vmlinux=$2 offset
    if [[ -f $vmlinux ]] && [[ $(head -c 4 "$vmlinux") == $'\x7fELF' ]]; then
        return 0
    fi
    command -v xz >/dev/null || lpc_die "xz not found (Debian package xz-utils)"
    command -v zstd >/dev/null || lpc_die "zstd not found (Debian package zstd)"
    lpc_log "extracting vmlinux from $(basename "$bzimage")"
    local magic decoder
    for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -dc'; do
        decoder=${magic#*:}
        while read -r offset; do
            tail -c +$((offset + 1)) "$bzimage" | $decoder >"$vmlinux.tmp" 2>/dev/null || true
            if [[ $(head -c 4 "$vmlinux.tmp") == $'\x7fELF' ]]; then
                mv "$vmlinux.tmp" "$vmlinux"
                return 0
            fi
        done < <(LC_ALL=C grep -obUaP "${magic%%:*}" "$bzimage" | cut -d: -f1)
    done
    rm -f "$vmlinux.tmp"
    lpc_die "no xz- or zstd-compressed ELF found in $bzimage"
}

# Prints the module directory of kernel $2 unpacked in $1: lib/modules
# (bookworm) or usr/lib/modules (merged /usr, trixie and later).
module_dir() {
    local root=$1 kver=$2 dir
    for dir in "$root/lib/modules/$kver" "$root/usr/lib/modules/$kver"; do
        if [[ -d $dir ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    lpc_die "no lib/modules/$kver or usr/lib/modules/$kver under $root"
}

main() {
    mkdir -p "$cache/debs" "$cache/root"
    cache=$(cd "$cache" && pwd -P)

    # A cache holds one suite's kernel: the one of its env file, by default.
    local fetched=
    [[ ! -f $cache/env ]] || fetched=$(sed -n 's/^SUITE=//p' "$cache/env")
    local suite=${LPCHECK_KERNEL_SUITE:-${fetched:-bookworm}}
    [[ -z $fetched || $fetched == "$suite" ]] ||
        lpc_die "$cache holds a $fetched kernel, not $suite (LPCHECK_KERNEL_SUITE)"
    case $suite in
    bookworm) ;;
    trixie | sid | *-backports) lpc_private_apt "$cache/apt" "$suite" ;;
    *) lpc_die "LPCHECK_KERNEL_SUITE=$suite: want bookworm, trixie, sid or SUITE-backports (e.g. trixie-backports)" ;;
    esac

    local kabi
    kabi=${LPCHECK_KERNEL_ABI:-$(resolve_abi)}
    if [[ -z $kabi ]]; then
        lpc_log "apt-cache knows no linux-image-amd64; running apt-get update"
        apt-get update >&2 || lpc_unavailable "apt-get update failed (no network?)"
        kabi=$(resolve_abi)
    fi
    [[ -n $kabi ]] || lpc_unavailable "cannot resolve the kernel ABI from linux-image-amd64"

    local kver="$kabi-amd64"
    [[ $kabi =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9]+|\+deb[0-9]+)$ ]] ||
        lpc_die "unexpected kernel ABI '$kabi' (want e.g. 6.1.0-56 or 6.12.118+deb13)"

    local kbuild kcc
    kbuild=$(headers_dependency "linux-headers-$kver" linux-kbuild-)
    kcc=$(headers_dependency "linux-headers-$kver" gcc-)
    if [[ -z $kcc ]]; then
        # bookworm names it through linux-compiler-gcc-12-x86.
        kcc=$(headers_dependency "linux-headers-$kver" linux-compiler-gcc- |
            sed -n 's/^linux-compiler-\(gcc-[0-9]*\)-.*/\1/p')
    fi
    [[ -n $kbuild ]] || lpc_unavailable "linux-headers-$kver names no linux-kbuild package"
    local packages=(
        "linux-image-$kver"
        "linux-headers-$kver"
        "linux-headers-$kabi-common"
        "$kbuild"
    )
    # sid's 7.x image is split: the kernel binary comes in linux-binary-KVER,
    # its config and System.map in linux-base-KVER, its modules in
    # linux-modules-KVER.
    local split
    while read -r split; do
        packages+=("$split")
    done < <(apt-cache "${LPC_APT_OPTS[@]}" depends "linux-image-$kver" 2>/dev/null |
        sed -n "s/^ *Depends: \(linux-\(binary\|base\|modules\)-$kver\)\$/\1/p")
    local package
    for package in "${packages[@]}"; do
        lpc_download "$cache/debs" "$package"
    done
    for package in "${packages[@]}"; do
        lpc_unpack "$cache/debs" "$cache/root" "$package"
    done
    relocate_headers "$cache/root" "$kabi" "$kver"

    local root="$cache/root" moddir
    moddir=$(module_dir "$root" "$kver")
    # /boot (bookworm, trixie) or the module directory (sid's split packages).
    local vmlinuz="$root/boot/vmlinuz-$kver" kconfig="$root/boot/config-$kver"
    [[ -f $vmlinuz ]] || vmlinuz=$moddir/vmlinuz
    [[ -f $kconfig ]] || kconfig=$moddir/config
    local kdir="$root/usr/src/linux-headers-$kver"
    local file
    for file in "$vmlinuz" "$kconfig" "$kdir/Makefile"; do
        [[ -f $file ]] ||
            lpc_die "expected file missing after unpacking: $file"
    done

    extract_vmlinux "$vmlinuz" "$cache/vmlinux"

    cat >"$cache/env.tmp" <<EOF
KABI=$kabi
KVER=$kver
VMLINUZ=$vmlinuz
VMLINUX=$cache/vmlinux
KCONFIG=$kconfig
KDIR=$kdir
MODDIR=$moddir
SUITE=$suite
KCC=${kcc:-gcc}
EOF
    mv "$cache/env.tmp" "$cache/env"
    cat "$cache/env"
}

main "$@"
