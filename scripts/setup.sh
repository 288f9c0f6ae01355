#!/usr/bin/env bash
# Installs what lpcheck needs to build and test on a Debian or Ubuntu machine (run as root or
# with sudo available): a C toolchain and kbuild's tools for the kmod/ fixtures (debootstrap for the
# toolchain roots of the newer kernels, tests/vm/fetch-toolchain.sh), clang and libbpf
# headers for the BPF programs, QEMU, busybox and cpio for the VM tests, Rust when cargo is
# missing, and cargo-fuzz for the fuzz step. Idempotent: packages already present are left alone.
set -euo pipefail

packages=(
    build-essential gcc-12 make bc flex bison libssl-dev libelf-dev kmod cpio xz-utils zstd debootstrap
    clang llvm libbpf-dev
    qemu-system-x86 busybox-static e2fsprogs
    tmux python3 ca-certificates curl time hyperfine
    nodejs
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's nodejs comes without npm (its own package); a NodeSource nodejs carries npm and
# conflicts with that package.
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing npm" >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: installing Rust with rustup" >&2
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
# scripts/test.sh runs cargo fmt --check and cargo clippy: the minimal profile has neither.
if command -v rustup >/dev/null 2>&1; then
    for component in clippy rustfmt; do
        rustup component list --installed 2>/dev/null | grep -q "^$component" ||
            rustup component add "$component"
    done
fi
# cargo-fuzz drives the fuzz targets (scripts/fuzz.sh), on the stable toolchain.
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "setup: installing cargo-fuzz" >&2
    cargo install --locked cargo-fuzz
fi
# apt-cache needs package lists to resolve Debian's current kernel for the VM tests.
if [ -z "$(apt-cache depends linux-image-amd64 2>/dev/null)" ]; then
    as_root apt-get update -q
fi

# Microsoft's SARIF validator, which tests/sarif_validator.rs runs on lpcheck's SARIF output (the
# checks GitHub code scanning applies included). npm may skip the package's postinstall step that
# makes the binary executable, so that is done here.
sarif_dir="$(cd "$(dirname "$0")/.." && pwd)/target/tools/sarif-multitool"
if [ ! -x "$sarif_dir/node_modules/.bin/sarif-multitool" ]; then
    echo "setup: installing @microsoft/sarif-multitool into $sarif_dir" >&2
    npm install --prefix "$sarif_dir" --no-audit --no-fund --loglevel=error \
        @microsoft/sarif-multitool@5.7.0
fi
chmod u+x "$sarif_dir"/node_modules/@microsoft/sarif-multitool-*/Sarif.Multitool
