#!/bin/sh
# Guest script of the vm_kexec integration test (busybox sh, in the VM; see
# tests/vm_kexec.rs). It runs twice: in the first kernel (lpc_kexec=marker1 on
# the command line) and, after `lpcheck kexec --exec`, in the second one
# (lpc_kexec=marker2), booted from an initrd the first boot builds from its own
# root file system.
#
# First boot: the refusals of a missing initrd (plan and --exec), the plan,
# --load, status, --unload, --load again, then --exec --yes. Its outputs go
# into /boot1 of the second kernel's initrd.
# Second boot: /proc/cmdline, the first boot's outputs, and the refusal once
# kernel.kexec_load_disabled is 1.
# Prints key=value lines; outputs are files in $LPC_OUT.
set -u

rel=$(uname -r)
boot=/files/boot
# no_timer_check: after kexec under QEMU TCG the IO-APIC timer check fails
# ("IO-APIC + timer doesn't work", a panic); KVM guests skip it the same way.
second="console=ttyS0 panic=-1 oops=panic quiet loglevel=4 no_timer_check lpc_kexec=marker2"

# run NAME CMD...: CMD's stdout and stderr into DIR/NAME.txt, NAME_rc=STATUS.
run() {
    name=$1
    shift
    "$@" >"$dir/$name.txt" 2>&1
    echo "${name}_rc=$?"
}

if grep -q lpc_kexec=marker2 /proc/cmdline; then
    dir=$LPC_OUT
    read -r up _ </proc/uptime
    echo "second_uptime_at_script=$up"
    echo "second_wall_at_script=$(date +%s)"
    echo "second_cmdline=$(cat /proc/cmdline)"
    cp /boot1/* "$LPC_OUT/"
    cat /boot1/results
    echo "second_kexec_loaded=$(cat /sys/kernel/kexec_loaded)"
    echo 1 >/proc/sys/kernel/kexec_load_disabled
    run disabled-plan lpcheck kexec --boot "$boot" --release "$rel" --append "$second"
    run disabled-load lpcheck kexec --boot "$boot" --release "$rel" --append "$second" --load
    echo "disabled_kexec_loaded=$(cat /sys/kernel/kexec_loaded)"
    exit 0
fi

dir=/boot1
mkdir -p "$dir"
{
    echo "first_cmdline=$(cat /proc/cmdline)"
    run missing-plan lpcheck kexec --boot "$boot" --release "$rel" --initrd "$boot/missing.img"
    run missing-exec lpcheck kexec --boot "$boot" --release "$rel" --initrd "$boot/missing.img" --exec --yes
    echo "missing_kexec_loaded=$(cat /sys/kernel/kexec_loaded)"

    # The second kernel's initrd: this root file system without the results
    # directory and the initrd itself (busybox cpio, newc as the kernel reads it).
    (cd / && find . -xdev \( -path "./files/boot/initrd.img-*" -o -path ./out \) -prune -o -print |
        cpio -o -H newc >"$boot/initrd.img-$rel" 2>/dev/null)
    echo "initrd_bytes=$(wc -c <"$boot/initrd.img-$rel")"

    run plan lpcheck kexec --boot "$boot" --release "$rel" --append "$second"
    run plan-json lpcheck kexec --boot "$boot" --release "$rel" --append "$second" --format json
    run load lpcheck kexec --boot "$boot" --release "$rel" --append "$second" --load
    echo "load_kexec_loaded=$(cat /sys/kernel/kexec_loaded)"
    run status lpcheck status
    run unload lpcheck kexec --unload
    echo "unload_kexec_loaded=$(cat /sys/kernel/kexec_loaded)"
    cp "${LPCHECK_JOURNAL:-/var/lib/lpcheck/journal.jsonl}" "$dir/journal.jsonl"
} >"$dir/results"

# The results travel in the initrd: rebuild it with them, then load and boot.
(cd / && find . -xdev \( -path "./files/boot/initrd.img-*" -o -path ./out \) -prune -o -print |
    cpio -o -H newc >"$boot/initrd.img-$rel" 2>/dev/null)
lpcheck kexec --boot "$boot" --release "$rel" --append "$second" --load >&2 || exit 1
echo "lpc-kexec: exec at wall $(date +%s)" >&2
lpcheck kexec --exec --yes >&2
echo "exec_returned=$?"
exit 1
