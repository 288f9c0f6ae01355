#!/usr/bin/env bash
# The test command of README.md (and of .ci/run): installs what is missing, checks formatting
# and lints (the workspace's [workspace.lints], warnings denied), then runs every
# test of the workspace, including the kmod/ fixtures built against Debian's kernel headers and
# the VM tests that boot Debian's kernel under QEMU, then fuzzes every fuzz target for a bounded
# time (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
# The kernel's -dbg image package (~860 MB, downloaded once into the kernel cache): the
# `lpcheck facts from-package` tests need its symbol table. Where it cannot be had, those tests
# skip (and fail under LPCHECK_VM_REQUIRED=1, as in CI).
if ! tests/vm/fetch-dbg.sh; then
    [ "${LPCHECK_VM_REQUIRED:-}" != 1 ] || exit 1
    echo "test: the -dbg kernel package cannot be downloaded; the from-package tests skip" >&2
fi
# The kernel matrix of kmod_verdicts and klp_corpus (tests/vm/kernel-matrix.sh), and of the
# live scenarios below: Debian 12's 6.1, Debian 13's 6.12 and sid's 7.x. Debian 13's backports
# kernel (7.3 today) is opt-in: LPCHECK_KERNEL_MATRIX="bookworm trixie sid trixie-backports"
# (about 22 more minutes on 2 cores, measured with 7.3: fetch 40 s, toolchain root 100 s,
# corpus 60 s, modules 25 s, kmod_verdicts' boot 160 s, the four live scenarios 930 s).
export LPCHECK_KERNEL_MATRIX="${LPCHECK_KERNEL_MATRIX:-bookworm trixie sid}"
cargo test --workspace -- --test-threads=2
# The live scenarios (apply/status/revert, watch, the kernel's own livepatch corpus loaded, a
# kthread's main loop patched) again on every other kernel of the matrix: the run above boots
# Debian 12's 6.1 only.
mapfile -t kernels < <(tests/vm/kernel-matrix.sh)
for kernel in "${kernels[@]}"; do
    read -r suite cache _ <<<"$kernel"
    [ "$suite" != bookworm ] || continue
    echo "test: the live VM scenarios on $suite ($cache)" >&2
    LPCHECK_KERNEL_SUITE=$suite LPCHECK_KERNEL_CACHE=$cache \
        cargo test --test vm_apply --test vm_watch --test vm_klp_corpus --test vm_kthread_stall \
            -- --test-threads=1
done
# Every fuzz target for a bounded time (~5 minutes in all with the build, on 2 cores).
scripts/fuzz.sh "${LPCHECK_FUZZ_SECONDS:-60}"
