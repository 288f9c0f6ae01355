#!/bin/sh
# PID 1 of the test VM (busybox ash), installed as /init by run-vm.sh.
#
# Mounts the pseudo file systems, runs /guest-script with LPC_OUT=/out and
# LPC_KMOD=/kmod, and sends /out (as a gzipped tar stream) over the second
# serial port, /dev/ttyS1, the clean data channel read by run-vm.sh. The
# script's stdout is saved as /out/stdout; its stderr goes to /out/stderr and
# to the console (ttyS0), so progress shows in the console log. Then the VM
# reboots, which ends QEMU (-no-reboot).
export PATH=/bin:/sbin:/usr/bin:/usr/local/bin

mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t securityfs securityfs /sys/kernel/security

mkdir -p /out /tmp
read -r init_uptime _ </proc/uptime
echo "$init_uptime" >/out/init-uptime
echo "lpc-init: /init started at ${init_uptime}s, running the guest script"

export LPC_OUT=/out LPC_KMOD=/kmod
{
    sh /guest-script 2>&1 >/out/stdout
    echo "$?" >/out/rc
} | tee /out/stderr

read -r end_uptime _ </proc/uptime
echo "$end_uptime" >/out/end-uptime
dmesg >/out/dmesg
echo "lpc-init: guest script exited $(cat /out/rc) at ${end_uptime}s, sending /out"

# Raw mode: no newline translation on the data channel.
stty -F /dev/ttyS1 raw -echo
tar -C /out -cf - . | gzip -1 >/dev/ttyS1
read -r sent_uptime _ </proc/uptime
# A reboot, not a power-off: QEMU runs with -no-reboot, so it exits either way,
# and a kernel without ACPI power-off (a small config) would only halt.
echo "lpc-init: results sent at ${sent_uptime}s, rebooting (QEMU exits)"
reboot -f
