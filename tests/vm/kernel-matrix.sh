#!/usr/bin/env bash
# The kernels the kmod/ fixtures and the kernel's own livepatch corpus are
# built for and judged against (tests/kmod_verdicts.rs, tests/klp_corpus.rs):
# one line per kernel, `SUITE CACHE KMOD_DIR`, with the Debian suite for
# LPCHECK_KERNEL_SUITE, its kernel cache for LPCHECK_KERNEL_CACHE and the
# directory kmod/build.sh puts its modules in.
#
# Usage: tests/vm/kernel-matrix.sh
#   LPCHECK_KERNEL_MATRIX (default "bookworm trixie sid") picks the suites:
#   bookworm is Debian 12's 6.1 (cache <repo>/target/kernel, modules in
#   <repo>/target/kmod, which the other VM tests use), trixie Debian 13's
#   6.12, sid 7.x and, opt-in, a backports suite such as trixie-backports
#   (Debian 13's newer kernel, 7.x) (caches <repo>/target/kernel-SUITE,
#   modules in <repo>/target/kmod-SUITE).
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

for suite in ${LPCHECK_KERNEL_MATRIX:-bookworm trixie sid}; do
    case $suite in
    bookworm) printf '%s %s %s\n' "$suite" "$repo_root/target/kernel" "$repo_root/target/kmod" ;;
    trixie | sid | *-backports) printf '%s %s %s\n' "$suite" "$repo_root/target/kernel-$suite" "$repo_root/target/kmod-$suite" ;;
    *)
        printf 'kernel-matrix: LPCHECK_KERNEL_MATRIX names %s: want bookworm, trixie, sid or SUITE-backports\n' "$suite" >&2
        exit 1
        ;;
    esac
done
