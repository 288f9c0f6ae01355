#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Build the kernel's own livepatch modules (samples/livepatch/*.c, and the
# selftest modules: lib/livepatch/ in 6.1, tools/testing/selftests/livepatch/
# test_modules/ later) from the matching linux-source-X.Y package, against the
# kernel fetched by fetch-kernel.sh, with the compiler its headers name (KCC):
# the host's when it has it, else in the toolchain root of the kernel's suite
# (fetch-toolchain.sh, through lpc_kbuild).
#
# Usage: tests/vm/build-klp-corpus.sh [OUT_DIR]
#   OUT_DIR defaults to <cache>/klp-corpus; the cache is $LPCHECK_KERNEL_CACHE
#   or <repo>/target/kernel, the suite $LPCHECK_KERNEL_SUITE (fetch-kernel.sh).
#
# Exit status: 0 on success, 3 when the source package or the compiler cannot
# be had, 1 on any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache=${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}

export LPC_LOG_PREFIX=build-klp-corpus
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

main() {
    local status=0
    "$script_dir/fetch-kernel.sh" "$cache" >/dev/null || status=$?
    ((status == 0)) || exit "$status"
    cache=$(cd "$cache" && pwd -P)
    local out=${1:-$cache/klp-corpus}
    local kabi kdir kcc suite
    kabi=$(lpc_env_value "$cache/env" KABI)
    kdir=$(lpc_env_value "$cache/env" KDIR)
    kcc=$(lpc_env_value "$cache/env" KCC)
    suite=$(lpc_env_value "$cache/env" SUITE)
    [[ $suite == bookworm ]] || lpc_private_apt "$cache/apt" "$suite"

    local series=${kabi%.*}
    series=${series%%[-+]*}
    local package="linux-source-$series"
    mkdir -p "$cache/debs" "$cache/src"
    lpc_download "$cache/debs" "$package"
    local src="$cache/src/linux-source-$series"
    if [[ ! -d $src/samples/livepatch ]]; then
        local deb
        deb=$(lpc_find_deb "$cache/debs" "$package")
        lpc_log "extracting the livepatch sources from $(basename "$deb")"
        dpkg-deb --fsys-tarfile "$deb" |
            tar -xO --wildcards "./usr/src/linux-source-$series.tar.*" |
            tar -xJ -C "$cache/src" --wildcards --no-wildcards-match-slash \
                "linux-source-$series/samples/livepatch/*" \
                "linux-source-$series/lib/livepatch/*" \
                "linux-source-$series/tools/testing/selftests/livepatch/test_modules/*" \
                2>/dev/null || true
        [[ -d $src/samples/livepatch ]] || lpc_die "no samples/livepatch in $package"
    fi

    # The build products of an earlier run stay for make to reuse (the
    # sources of one kernel cache do not change); cp -p keeps their times.
    local build="$out.build"
    mkdir -p "$build" "$out"
    local dir sources=()
    for dir in samples/livepatch lib/livepatch tools/testing/selftests/livepatch/test_modules; do
        if [[ -d $src/$dir ]]; then
            sources+=("$src/$dir"/*.c)
        fi
    done
    cp -p "${sources[@]}" "$build/"
    local source
    for source in "${sources[@]}"; do
        printf 'obj-m += %s.o\n' "$(basename "$source" .c)"
    done >"$build/Makefile"
    lpc_log "building ${#sources[@]} modules against $kabi with $kcc"
    status=0
    lpc_kbuild "$cache" "$build" "$build/build.log" \
        make -C "$kdir" M="$build" CC="$kcc" -j"$(nproc)" modules || status=$?
    if ((status == LPC_EXIT_UNAVAILABLE)); then
        exit "$status"
    elif ((status != 0)); then
        grep -E -A3 'error|Error' "$build/build.log" | head -n 40 >&2
        lpc_die "kbuild failed (log: $build/build.log)"
    fi
    for source in "${sources[@]}"; do
        cp "$build/$(basename "$source" .c).ko" "$out/"
    done
    lpc_log "$(ls "$out"/*.ko | wc -l) modules in $out"
    printf '%s\n' "$out"
}

main "$@"
