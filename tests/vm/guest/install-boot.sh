#!/bin/sh
# Guest script of the vm_install integration test (busybox sh, in the VM; see
# tests/vm_install.rs). The same disk (/dev/vda, ext4, the state directory) is
# attached to three boots; lpc_boot=N on the command line says which one this is.
#
# 1: install lp-cmdline (accepted) and lp-schedule (refused, not installed); list.
# 2: the boot step `lpcheck apply --installed`; /proc/cmdline; list; then the
#    installed .ko is altered on the disk.
# 3: `lpcheck apply --installed` refuses the altered file; list.
# Prints key=value lines; outputs are files in $LPC_OUT.
set -u

# run NAME CMD...: CMD's stdout and stderr into $LPC_OUT/NAME.txt, NAME_rc=STATUS.
run() {
    name=$1
    shift
    "$@" >"$LPC_OUT/$name.txt" 2>&1
    echo "${name}_rc=$?"
}

# The block device and ext4 modules this kernel builds as modules, in
# dependency order (the test lists them in /lib/modules/order).
while read -r module; do
    insmod "/lib/modules/$module.ko" || { echo "insmod_$module=failed"; exit 1; }
done </lib/modules/order
tries=0
while [ ! -b /dev/vda ] && [ "$tries" -lt 50 ]; do
    sleep 0.1
    tries=$((tries + 1))
done
mkdir -p /state
mount -t ext4 /dev/vda /state || { echo "mount=failed"; exit 1; }
export LPCHECK_STATE_DIR=/state

boot=$(sed -n 's/.*lpc_boot=\([0-9]*\).*/\1/p' /proc/cmdline)
echo "boot=$boot"
case $boot in
1)
    run install-good lpcheck install "$LPC_KMOD/lp-cmdline.ko"
    run install-schedule lpcheck install "$LPC_KMOD/lp-schedule.ko"
    run list lpcheck list
    run list-json lpcheck list --format json
    ;;
2)
    echo "before=$(cat /proc/cmdline)"
    run apply-installed lpcheck apply --installed
    echo "after=$(cat /proc/cmdline)"
    run list lpcheck list
    run list-json lpcheck list --format json
    # The next boot finds the installed module altered.
    printf 'X' >>"/state/patches/$(uname -r)/lp_cmdline.ko"
    ;;
3)
    run apply-installed lpcheck apply --installed
    echo "after=$(cat /proc/cmdline)"
    echo "loaded=$(ls /sys/kernel/livepatch)"
    run list lpcheck list
    ;;
*)
    echo "no lpc_boot=N on the command line"
    exit 1
    ;;
esac
umount /state
