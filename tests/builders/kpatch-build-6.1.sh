#!/usr/bin/env bash
# Rebuilds ../shared/corpus/real-builders/kpatch-build-6.1.0-57 (kp-cmdline.ko,
# kp-meminfo.ko) with kpatch's kpatch-build from Debian 12's exact kernel
# source and build: linux-source-6.1 (6.1.192-3), Debian's config
# (/boot/config-6.1.0-57-amd64 of linux-image-6.1.0-57-amd64) and its debug
# vmlinux (linux-image-6.1.0-57-amd64-dbg), gcc-12. Runnable by hand, not in
# CI: kpatch-build builds the kernel twice (~1 h on 2 cores with Debian's full
# config).
#
# kpatch-build is not in Debian 12's archive, so its source is needed:
# KPATCH_SRC=DIR (a checkout of https://github.com/dynup/kpatch at v0.9.11),
# else `git clone --branch v0.9.11` of it. Where neither can be had (no
# network), the script says so and exits 3.
#
# Usage: tests/builders/kpatch-build-6.1.sh [WORKDIR]
#   WORKDIR  default target/builders/kpatch-build-6.1
# Environment: CORPUS (default ../shared/corpus/real-builders/kpatch-build-6.1.0-57
#   from the repository root) gives the .patch files.
# Output: WORKDIR/out/{kp-cmdline,kp-meminfo}.ko.
# Exit status: 0 built, 3 a source cannot be had, 1 any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
BUILDER=kpatch-build-6.1
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

readonly KVER=6.1.0-57-amd64 KPATCH_TAG=v0.9.11
work=${1:-$repo_root/target/builders/kpatch-build-6.1}
corpus=${CORPUS:-$repo_root/../shared/corpus/real-builders/kpatch-build-6.1.0-57}
[[ -f $corpus/cmdline.patch && -f $corpus/meminfo.patch ]] || die "no .patch files in $corpus"
mkdir -p "$work/out" "$work/debs"
work=$(cd "$work" && pwd)

log "kpatch $KPATCH_TAG source"
kpatch_src=${KPATCH_SRC:-$work/kpatch}
if [[ ! -f $kpatch_src/kpatch-build/kpatch-build ]]; then
    [[ -z ${KPATCH_SRC:-} ]] || die "KPATCH_SRC=$KPATCH_SRC holds no kpatch-build/kpatch-build"
    command -v git >/dev/null || unavailable "kpatch's source: no KPATCH_SRC and no git"
    git clone --quiet --depth 1 --branch "$KPATCH_TAG" https://github.com/dynup/kpatch "$kpatch_src" ||
        unavailable "kpatch's source: git clone of github.com/dynup/kpatch $KPATCH_TAG failed (no network?); set KPATCH_SRC"
fi
make -C "$kpatch_src" -j"$(nproc)" CC=gcc-12 >&2

log "Debian 12 packages for $KVER"
(cd "$work/debs" && apt-get download linux-source-6.1 "linux-image-$KVER" \
    "linux-image-$KVER-dbg" "linux-headers-$KVER") ||
    unavailable "apt-get download of the $KVER packages failed (they may have left the archive)"
rm -rf "$work/pkg" "$work/src"
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$work/pkg"; done
mkdir -p "$work/src"
tar -C "$work/src" --strip-components=1 -xf "$(ls "$work"/pkg/usr/src/linux-source-6.1.tar.* | head -n1)"
config=$work/pkg/boot/config-$KVER
vmlinux=$work/pkg/usr/lib/debug/boot/vmlinux-$KVER
[[ -f $config && -f $vmlinux ]] || die "the packages gave no $config or $vmlinux"

# kpatch-build checks that the compiler matches the one that built the kernel
# (Debian 12: gcc-12) and that the source's release matches the config's.
export CC=gcc-12
for patch in cmdline meminfo; do
    log "kpatch-build $patch.patch"
    "$kpatch_src/kpatch-build/kpatch-build" --sourcedir "$work/src" --config "$config" \
        --vmlinux "$vmlinux" --jobs "$(nproc)" --name "kp-$patch" --output "$work/out" \
        "$corpus/$patch.patch" </dev/null
    [[ -f $work/out/kp-$patch.ko ]] || die "kpatch-build wrote no kp-$patch.ko"
done
log "done: $work/out (compare with $corpus: readelf -SW, lpcheck check)"
