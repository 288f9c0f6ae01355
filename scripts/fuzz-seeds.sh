#!/usr/bin/env bash
# Writes the seed corpora of the fuzz targets (fuzz/README.md) under fuzz/corpus/TARGET, from
# the project's own fixtures and the shared corpus:
#   patch_module  the kmod/ modules (target/kmod, when built), the synthetic modules of
#                 analyzer/src/testing.rs, the real builders' modules in ../shared/corpus
#   diff_objects  the kpatch unit-test pairs in ../shared/corpus, and fuzz/seeds/object.c built
#                 in three versions (pairs framed as lpcheck_fuzz::split_pair reads them)
#   vmlinux       fuzz/seeds/vmlinux.c linked as a tiny kernel image, with and without symbols,
#                 alone and with a kallsyms dump of it
#   kernel_lists  kallsyms / System.map dumps with ftrace lists: of the tiny image, and slices
#                 of the real kernels' dumps in ../shared/corpus and target/kernel/facts
# Inputs that are absent are skipped with a note; the synthetic seeds are always written.
# Needs gcc, binutils, python3 and xz (scripts/setup.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
out=fuzz/corpus
# The shared corpus: $LPCHECK_SHARED_CORPUS, else the nearest shared/corpus above the checkout.
shared=${LPCHECK_SHARED_CORPUS:-}
if [ -z "$shared" ]; then
    shared=../shared/corpus
    for dir in .. ../.. ../../..; do
        [ -d "$dir/shared/corpus" ] && { shared=$dir/shared/corpus; break; }
    done
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in patch_module diff_objects vmlinux kernel_lists; do
    mkdir -p "$out/$target"
done

note() { echo "fuzz-seeds: $*" >&2; }

# frame FIRST SECOND OUT: one fuzz input holding two files (a 4-byte little-endian length of
# FIRST, FIRST, SECOND).
frame() {
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
first, second = (open(path, "rb").read() for path in sys.argv[1:3])
with open(sys.argv[3], "wb") as out:
    out.write(struct.pack("<I", len(first)) + first + second)
PY
}

# First and last lines of a (possibly xz-compressed) text file, and its module lines: enough of
# a real dump to reach every parser branch while keeping seeds small.
slice() {
    local cat=cat
    [[ $1 == *.xz ]] && cat=xzcat
    { "$cat" "$1" | head -n 300; "$cat" "$1" | grep -m 100 ' \['; "$cat" "$1" | tail -n 50; } || true
}

# patch_module
cargo run -q -p lpcheck-analyzer --features test-support --example fuzz_seeds -- "$out/patch_module"
if compgen -G "target/kmod/*.ko" >/dev/null; then
    cp target/kmod/*.ko "$out/patch_module/"
else
    note "no target/kmod/*.ko (run kmod/build.sh): patch_module has the synthetic modules only"
fi
if [ -d "$shared/real-builders" ]; then
    for ko in "$shared"/real-builders/*/*.ko; do
        cp "$ko" "$out/patch_module/real-$(basename "$(dirname "$ko")")-$(basename "$ko")"
    done
else
    note "no $shared/real-builders: no real builders' modules"
fi

# diff_objects
cflags=(-O2 -ffunction-sections -fdata-sections -pg -mfentry -mrecord-mcount -fno-pie -c)
for version in 0 1 2; do
    gcc "${cflags[@]}" -DVERSION="$version" -o "$work/object-$version.o" fuzz/seeds/object.c
done
frame "$work/object-0.o" "$work/object-1.o" "$out/diff_objects/object-changed-function"
frame "$work/object-0.o" "$work/object-2.o" "$out/diff_objects/object-changed-data-init"
frame "$work/object-1.o" "$work/object-1.o" "$out/diff_objects/object-no-change"
if [ -d "$shared/kpatch-unit-objs" ]; then
    for orig in "$shared"/kpatch-unit-objs/*.ORIG.o; do
        name=$(basename "$orig" .ORIG.o)
        for patched in "$shared/kpatch-unit-objs/$name".PATCHED*.o; do
            frame "$orig" "$patched" "$out/diff_objects/kpatch-$(basename "$patched" .o)"
        done
    done
else
    note "no $shared/kpatch-unit-objs: diff_objects has the fuzz/seeds/object.c pairs only"
fi

# vmlinux
gcc -O2 -gbtf -pg -mfentry -mrecord-mcount -fno-pie -no-pie -static -nostdlib \
    -Wl,-T,fuzz/seeds/vmlinux.lds -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
    -o "$work/vmlinux" fuzz/seeds/vmlinux.c
strip -o "$work/vmlinux.stripped" "$work/vmlinux"
nm "$work/vmlinux" >"$work/System.map"
: >"$work/empty"
frame "$work/empty" "$work/vmlinux" "$out/vmlinux/image"
frame "$work/System.map" "$work/vmlinux.stripped" "$out/vmlinux/stripped-with-kallsyms"
frame "$work/empty" "$work/vmlinux.stripped" "$out/vmlinux/stripped"

# kernel_lists
nm "$work/vmlinux" | awk '$2 ~ /[Tt]/ { print $3 }' >"$work/ftrace-names"
nm "$work/vmlinux" | awk '$2 ~ /[Tt]/ { print $1, $3 }' >"$work/ftrace-addrs"
awk '{ print $0 "\t[ext4]" }' "$work/System.map" >"$work/kallsyms-module"
frame "$work/System.map" "$work/ftrace-names" "$out/kernel_lists/tiny-names"
frame "$work/System.map" "$work/ftrace-addrs" "$out/kernel_lists/tiny-addrs"
frame "$work/kallsyms-module" "$work/ftrace-names" "$out/kernel_lists/tiny-module"
for dir in "$shared"/real-builders/*/ target/kernel/facts/; do
    kallsyms=$(compgen -G "$dir/kallsyms*" | head -n 1) || true
    ftrace=$(compgen -G "$dir/available_filter_functions*" | head -n 1) || true
    if [ -z "$kallsyms" ] && [ -z "$ftrace" ]; then
        note "no kallsyms or ftrace dump in $dir"
        continue
    fi
    name=$(basename "$dir")
    slice "${kallsyms:-/dev/null}" >"$work/kallsyms-$name"
    slice "${ftrace:-/dev/null}" >"$work/ftrace-$name"
    frame "$work/kallsyms-$name" "$work/ftrace-$name" "$out/kernel_lists/real-$name"
done
for target in patch_module diff_objects vmlinux kernel_lists; do
    note "$target: $(find "$out/$target" -type f | wc -l) inputs"
done
