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
cargo test --workspace -- --test-threads=2
# Every fuzz target for a bounded time (~5 minutes in all with the build, on 2 cores).
scripts/fuzz.sh "${LPCHECK_FUZZ_SECONDS:-60}"
