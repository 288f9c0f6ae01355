#!/usr/bin/env bash
# Judge every module of an unpacked linux-image package with lpcheck's analyzer: each must be
# "not a livepatch module" (reject), none "could not analyze". Prints the count and the time.
#
# Usage: tests/vm/judge-image-modules.sh [MODDIR]
#   MODDIR defaults to the MODDIR of tests/vm/fetch-kernel.sh's cache (Debian 12's image);
#   e.g. /work/kcache/deb13/root/usr/lib/modules/6.12.118+deb13-amd64 for Debian 13's.
#
# CI runs the same test on a fixed sample of 500 (cargo test --test image_modules).
set -euo pipefail
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo_root"
if [[ $# -gt 0 ]]; then
    export LPCHECK_IMAGE_MODDIR=$1
fi
LPCHECK_IMAGE_MODULES=all exec cargo test --test image_modules \
    every_sampled_image_module_is_not_a_livepatch -- --nocapture
