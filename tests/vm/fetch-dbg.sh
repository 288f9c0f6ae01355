#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Downloads the debug image package (linux-image-KVER-dbg, ~860 MB) of the kernel that
# fetch-kernel.sh fetched into CACHE/dbg, without unpacking or installing it. The tests that
# build a facts bundle from Debian's packages (`lpcheck facts from-package`) need it: the image
# package's System.map is a placeholder, the real symbol table is in the -dbg package.
#
# Usage: tests/vm/fetch-dbg.sh [CACHE_DIR]   (default $LPCHECK_KERNEL_CACHE, else target/kernel)
# Exit status: 0 on success, 3 when the package cannot be downloaded, 1 on any other failure.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
cache=${1:-${LPCHECK_KERNEL_CACHE:-$repo_root/target/kernel}}

export LPC_LOG_PREFIX=fetch-dbg
# shellcheck source=lib.sh
source "$script_dir/lib.sh"

"$script_dir/fetch-kernel.sh" "$cache" >/dev/null
# shellcheck disable=SC1091
source "$cache/env"
mkdir -p "$cache/dbg"
lpc_download "$cache/dbg" "linux-image-$KVER-dbg"
