#!/usr/bin/env bash
# The test command of README.md (and of .ci/run): installs what is missing, checks formatting
# and lints (the workspace's [workspace.lints], warnings denied), then runs every
# test of the workspace, including the kmod/ fixtures built against Debian's kernel headers and
# the VM tests that boot Debian's kernel under QEMU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo build --workspace --all-targets
cargo test --workspace -- --test-threads=2
