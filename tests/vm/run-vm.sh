#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Boot Debian's stock kernel in QEMU (TCG) with a busybox initramfs, run a
# guest script in it, and collect what the script writes.
#
# Usage: tests/vm/run-vm.sh [options] GUEST_SCRIPT
#   --out DIR        where the results go (default <repo>/target/vm/out;
#                    emptied first)
#   --kmod DIR       directory whose *.ko files are copied to /kmod in the
#                    guest (default <repo>/target/kmod when it exists)
#   --add PATH[=GUEST_PATH]
#                    copy a host file into the guest (default: same path);
#                    for a dynamically linked program, the shared libraries
#                    `ldd` lists are copied too. Repeatable.
#   --timeout SECS   bound on the whole VM run (default 300)
#   --append ARGS    extra kernel command line arguments
#   --disk FILE      a raw disk image, attached as virtio block device /dev/vda
#                    (kept across runs: state that survives a reboot)
#   --kernel IMAGE   boot this kernel image (a vmlinux or a bzImage) instead of
#                    the one fetch-kernel.sh provides
#
# GUEST_SCRIPT runs under busybox sh as root, with LPC_OUT=/out (a directory
# whose files are brought back into the output directory) and LPC_KMOD=/kmod.
# Its stdout is saved as OUT/stdout, its stderr as OUT/stderr (and shown on the
# console), its exit status as OUT/rc. OUT/console.log holds the serial
# console, OUT/timing the boot and run times.
#
# The kernel comes from fetch-kernel.sh (cache: $LPCHECK_KERNEL_CACHE or
# <repo>/target/kernel), busybox from Debian's busybox-static package (fetched
# into the same cache).
#
# Exit status: the guest script's exit status when the run completed; 124 when
# the VM did not finish in time; 3 when the kernel or busybox cannot be had
# (no network); 1 on any other failure (e.g. the guest crashed). On failure
# the console log is printed.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache=${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}

export LPC_LOG_PREFIX=run-vm
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

readonly EXIT_TIMEOUT=124

usage() {
    sed -n '6,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 1
}

out="$repo_root/target/vm/out"
kmod_dir=
timeout_secs=300
extra_append=
disk=
kernel_image=
adds=()
guest_script=

parse_args() {
    [[ -d $repo_root/target/kmod ]] && kmod_dir="$repo_root/target/kmod"
    while (($#)); do
        case $1 in
        --out) out=${2:?--out needs a directory}; shift 2 ;;
        --kmod) kmod_dir=${2:?--kmod needs a directory}; shift 2 ;;
        --add) adds+=("${2:?--add needs a path}"); shift 2 ;;
        --timeout) timeout_secs=${2:?--timeout needs seconds}; shift 2 ;;
        --append) extra_append=${2:?--append needs arguments}; shift 2 ;;
        --disk) disk=${2:?--disk needs an image file}; shift 2 ;;
        --kernel) kernel_image=${2:?--kernel needs an image}; shift 2 ;;
        -h | --help) usage ;;
        -*) lpc_log "unknown option $1"; usage ;;
        *)
            [[ -z $guest_script ]] || { lpc_log "more than one guest script"; usage; }
            guest_script=$1
            shift
            ;;
        esac
    done
    [[ -n $guest_script ]] || usage
    [[ -f $guest_script ]] || lpc_die "guest script not found: $guest_script"
    [[ $timeout_secs =~ ^[0-9]+$ ]] || lpc_die "--timeout wants whole seconds, got '$timeout_secs'"
    if [[ -n $disk && ! -f $disk ]]; then
        lpc_die "--disk image not found: $disk"
    fi
    if [[ -n $kernel_image && ! -f $kernel_image ]]; then
        lpc_die "--kernel image not found: $kernel_image"
    fi
    if [[ -n $kmod_dir && ! -d $kmod_dir ]]; then
        lpc_die "--kmod directory not found: $kmod_dir"
    fi
}

# Prints the path of a static busybox from Debian's busybox-static package,
# fetching and unpacking it into the cache once.
fetch_busybox() {
    mkdir -p "$cache/debs" "$cache/busybox"
    lpc_download "$cache/debs" busybox-static
    lpc_unpack "$cache/debs" "$cache/busybox" busybox-static
    local busybox="$cache/busybox/bin/busybox"
    [[ -x $busybox ]] || lpc_die "busybox-static did not provide $busybox"
    printf '%s\n' "$busybox"
}

# Copies host file $1 to $3 inside the initramfs root $2, creating parents.
copy_into() {
    local src=$1 root=$2 dest=$3
    mkdir -p "$root/$(dirname "$dest")"
    cp -L "$src" "$root/$dest"
}

# Copies a host file (PATH or PATH=GUEST_PATH) into the initramfs root $2,
# with the shared libraries it needs when it is a dynamic executable.
add_file() {
    local spec=$1 root=$2
    local src=${spec%%=*} dest=${spec#*=}
    [[ -f $src ]] || lpc_die "--add: file not found: $src"
    copy_into "$src" "$root" "$dest"
    # ldd prints "name => /path (addr)" or "/path (addr)" per library; it
    # fails for static executables and non-ELF files, which need nothing.
    local lib
    while read -r lib; do
        [[ -e $root/$lib ]] || copy_into "$lib" "$root" "$lib"
    done < <(ldd "$src" 2>/dev/null | grep -o '/[^ ]*' || true)
}

# Builds the initramfs (an uncompressed newc cpio archive) into $1.
build_initramfs() {
    local image=$1 busybox=$2 root
    root=$(mktemp -d "$out/.root.XXXXXX")
    chmod 0755 "$root"
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,kmod}
    cp "$busybox" "$root/bin/busybox"
    local applet
    for applet in $("$busybox" --list); do
        [[ $applet == busybox ]] || ln -sf busybox "$root/bin/$applet"
    done
    ln -sf ../bin/busybox "$root/sbin/init"
    install -m 0755 "$script_dir/guest-init.sh" "$root/init"
    install -m 0755 "$guest_script" "$root/guest-script"
    if [[ -n $kmod_dir ]]; then
        local ko
        for ko in "$kmod_dir"/*.ko; do
            [[ -f $ko ]] && cp "$ko" "$root/kmod/"
        done
    fi
    local spec
    for spec in "${adds[@]}"; do
        add_file "$spec" "$root"
    done
    (cd "$root" && find . -print0 | cpio --null --quiet -o -H newc -R 0:0) >"$image"
    rm -rf "$root"
}

# Prints the console log, or its tail when it is long.
show_console() {
    local log=$1 lines
    lines=$(wc -l <"$log")
    if ((lines > 400)); then
        lpc_log "console log (last 400 of $lines lines, full log: $log):"
        tail -n 400 "$log" >&2
    else
        lpc_log "console log ($log):"
        cat "$log" >&2
    fi
}

main() {
    parse_args "$@"
    command -v qemu-system-x86_64 >/dev/null ||
        lpc_unavailable "qemu-system-x86_64 not found (Debian package qemu-system-x86)"

    local status=0 kver vmlinux
    if [[ -n $kernel_image ]]; then
        vmlinux=$kernel_image
        kver=$(basename "$kernel_image")
    else
        # fetch-kernel.sh exits 3 when the kernel cannot be had; keep that status.
        "$script_dir/fetch-kernel.sh" "$cache" >/dev/null || status=$?
        ((status == 0)) || exit "$status"
        kver=$(lpc_env_value "$cache/env" KVER)
        vmlinux=$(lpc_env_value "$cache/env" VMLINUX)
    fi
    local busybox
    busybox=$(fetch_busybox)

    rm -rf "$out"
    mkdir -p "$out"
    out=$(cd "$out" && pwd)
    local initramfs="$out/initramfs.cpio"
    build_initramfs "$initramfs" "$busybox"

    local console="$out/console.log" data="$out/data.tar.gz"
    local append="console=ttyS0 panic=-1 oops=panic quiet loglevel=4 $extra_append"
    local drive=()
    [[ -z $disk ]] || drive=(-drive "file=$disk,format=raw,if=virtio")
    local start end
    lpc_log "booting $kver (timeout ${timeout_secs}s)"
    start=$(date +%s.%N)
    status=0
    # One host thread for both vCPUs (thread=single): with multi-threaded TCG, a vCPU can
    # still run a translated block holding the int3 that text_poke_bp() has already replaced,
    # after the kernel's sync_core IPIs; the kernel then finds no patch site for that int3 and
    # oopses. 7.x kernels flip a static key inside __schedule() at each livepatch transition,
    # which made this hit about one boot in three there.
    timeout --kill-after=10 "$timeout_secs" \
        qemu-system-x86_64 -accel tcg,thread=single -nographic -no-reboot -smp 2 -m 1024 -nic none \
        -monitor none -parallel none \
        -serial "file:$console" -serial "file:$data" \
        "${drive[@]}" \
        -kernel "$vmlinux" -initrd "$initramfs" -append "$append" \
        </dev/null >"$out/qemu.log" 2>&1 || status=$?
    end=$(date +%s.%N)
    local wall
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

    if ((status == EXIT_TIMEOUT || status == 137)); then
        show_console "$console"
        lpc_log "the VM did not finish within ${timeout_secs}s"
        exit "$EXIT_TIMEOUT"
    fi
    if ((status != 0)); then
        show_console "$console"
        cat "$out/qemu.log" >&2
        lpc_die "qemu-system-x86_64 exited with status $status"
    fi
    if ! tar -C "$out" -xzf "$data" 2>"$out/tar.log" || [[ ! -f $out/rc ]]; then
        show_console "$console"
        lpc_die "the guest sent no complete results (crash or panic?); see the console log above"
    fi

    local init_uptime end_uptime rc
    init_uptime=$(cat "$out/init-uptime")
    end_uptime=$(cat "$out/end-uptime")
    rc=$(cat "$out/rc")
    cat >"$out/timing" <<EOF
boot_to_init_guest_s=$init_uptime
guest_script_s=$(awk -v a="$init_uptime" -v b="$end_uptime" 'BEGIN { printf "%.2f", b - a }')
qemu_wall_s=$wall
EOF
    lpc_log "$kver: /init at ${init_uptime}s guest uptime, script done at ${end_uptime}s, qemu wall ${wall}s; guest script exit $rc; results in $out"
    exit "$rc"
}

main "$@"
