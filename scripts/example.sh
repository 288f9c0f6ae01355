#!/usr/bin/env bash
# The main job of README.md on a bundled example: builds the kmod/ example patches against
# Debian's current kernel (downloaded, not installed), records that kernel's facts from a QEMU
# boot (kallsyms, ftrace list), and runs `lpcheck check` on a good patch and on a patch of
# `schedule()`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo build --release --bin lpcheck
facts=target/kernel/facts
[ -s "$facts/kallsyms" ] || tests/vm/dump-facts.sh "$facts" >/dev/null
kmod/build.sh target/kmod >/dev/null
for patch in lp-cmdline lp-schedule; do
    echo "\$ lpcheck check target/kmod/$patch.ko --kallsyms $facts/kallsyms --ftrace-functions $facts/available_filter_functions --kernel-release $(cat "$facts/uname-r")"
    status=0
    target/release/lpcheck check "target/kmod/$patch.ko" \
        --kallsyms "$facts/kallsyms" \
        --ftrace-functions "$facts/available_filter_functions" \
        --kernel-release "$(cat "$facts/uname-r")" || status=$?
    echo "(exit status $status)"
    echo
done
