#!/usr/bin/env bash
# Rebuilds ../shared/corpus/real-builders/klp-build-7.2.13-klpb from Debian's
# sources: the 7.2 kernel (bzImage) on the small config, and the three
# livepatch modules with the kernel's own klp-build (scripts/livepatch,
# objtool klp diff / post-link). Runnable by hand, not in CI: the kernel build
# takes ~20 min on 2 cores, each patch then ~1 min.
#
# Usage: tests/builders/klp-build-7.2.sh [WORKDIR]
#   WORKDIR  where the source is unpacked and built (default target/builders/klp-build-7.2)
# Environment: CORPUS (default ../shared/corpus/real-builders/klp-build-7.2.13-klpb
#   from the repository root) gives the config fragment and the .patch files.
#
# Needs: bash >= 4.4, gcc-12, make, flex, bison, bc, libelf-dev, libssl-dev,
# python3 (scripts/setup.sh installs them) and network access to
# deb.debian.org (sid: linux-source-7.2). Output: WORKDIR/out/{bzImage,*.ko}.
# Exit status: 0 built, 3 the source cannot be had, 1 any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
BUILDER=klp-build-7.2
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

work=${1:-$repo_root/target/builders/klp-build-7.2}
corpus=${CORPUS:-$repo_root/../shared/corpus/real-builders/klp-build-7.2.13-klpb}
[[ -f $corpus/kernel-config.fragment ]] || die "no kernel-config.fragment in $corpus"
mkdir -p "$work/out"
work=$(cd "$work" && pwd)

# The release the corpus kernel reports: 7.2.13 plus the fragment's LOCALVERSION.
release=$(cat "$corpus/release")

log "fetching linux-source-7.2 from sid"
mapfile -t apt_opts < <(apt_private "$work/apt" sid)
(cd "$work" && apt-get "${apt_opts[@]}" download linux-source-7.2) ||
    unavailable "apt-get download linux-source-7.2 (sid) failed"
deb=$(ls "$work"/linux-source-7.2_*.deb | head -n1)
log "unpacking $(basename "$deb")"
rm -rf "$work/pkg" "$work/src"
dpkg-deb -x "$deb" "$work/pkg"
tarball=$(ls "$work"/pkg/usr/src/linux-source-7.2*.tar.* | head -n1)
mkdir -p "$work/src"
tar -C "$work/src" --strip-components=1 -xf "$tarball"
src=$work/src

# Reproducible identity, as the corpus kernel was built.
export KBUILD_BUILD_USER=klpb KBUILD_BUILD_HOST=klpb
export KBUILD_BUILD_TIMESTAMP='Thu Jan  1 00:00:00 UTC 2026'
export CC=gcc-12 HOSTCC=gcc-12

log "configuring: defconfig + kernel-config.fragment"
make -C "$src" -s defconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$corpus/kernel-config.fragment" >&2
make -C "$src" -s olddefconfig
grep -q '^CONFIG_LIVEPATCH=y' "$src/.config" || die "the fragment did not enable CONFIG_LIVEPATCH"
grep -q '^CONFIG_KLP_BUILD=y' "$src/.config" || die "the fragment did not enable CONFIG_KLP_BUILD"
if [[ -f $corpus/config.xz ]] && ! diff -q <(xz -dc "$corpus/config.xz" | grep '^CONFIG_') \
    <(grep '^CONFIG_' "$src/.config") >/dev/null; then
    log "warning: the merged .config differs from the corpus config.xz (another gcc or source?)"
fi

log "building the kernel (~20 min on 2 cores)"
make -C "$src" -j"$(nproc)" bzImage modules
built=$(make -C "$src" -s kernelrelease)
[[ $built == "$release" ]] || die "built $built, the corpus kernel is $release"
cp "$src/arch/x86/boot/bzImage" "$work/out/bzImage"

# klp-build runs from the source tree: it builds the changed objects with and
# without the patch, diffs them (objtool klp diff) and links the module;
# --output names it, and the module name (klp_cmdline, ...) comes from that
# file name, as in the corpus.
for patch in klp-cmdline klp-version-callbacks-shadow klp-modules-sympos; do
    log "klp-build $patch.patch"
    (cd "$src" && ./scripts/livepatch/klp-build --jobs "$(nproc)" \
        --output "$work/out/$patch.ko" "$corpus/$patch.patch")
    [[ -f $work/out/$patch.ko ]] || die "klp-build wrote no $patch.ko"
done
log "done: $work/out (compare with $corpus: readelf -SW, lpcheck check)"
