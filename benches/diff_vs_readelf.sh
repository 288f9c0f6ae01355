#!/usr/bin/env bash
# Benchmark (not a test): `lpcheck diff` on the largest kpatch corpus pair against `readelf -a`
# reading the same two files. Prints wall time (mean of N runs) and peak RSS of each, and the
# ratios lpcheck/readelf.
#
# Usage: benches/diff_vs_readelf.sh [RUNS]    (corpus: $LPCHECK_CORPUS or shared/corpus above the repo)
# Needs: readelf (binutils), GNU time (/usr/bin/time).
set -euo pipefail

runs=${1:-30}
repo=$(cd "$(dirname "$0")/.." && pwd)

corpus=${LPCHECK_CORPUS:-}
if [[ -z $corpus ]]; then
	dir=$repo
	while [[ $dir != / ]]; do
		if [[ -f $dir/shared/corpus/kpatch-unit-objs/expected.tsv ]]; then
			corpus=$dir/shared/corpus/kpatch-unit-objs
			break
		fi
		dir=$(dirname "$dir")
	done
fi
[[ -n $corpus ]] || { echo "no corpus: set LPCHECK_CORPUS" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "GNU time (/usr/bin/time) is required" >&2; exit 2; }

(cd "$repo" && cargo build --release -q -p lpcheck)
lpcheck=$repo/target/release/lpcheck

# The pair with the most bytes in total.
best=0
for orig in "$corpus"/*.ORIG.o; do
	case=${orig%.ORIG.o}
	patched=$(ls "$case".PATCHED*.o | head -n1)
	size=$(($(stat -c %s "$orig") + $(stat -c %s "$patched")))
	if ((size > best)); then
		best=$size pair_orig=$orig pair_patched=$patched
	fi
done
echo "pair: $(basename "$pair_orig") + $(basename "$pair_patched") ($best bytes)"

mean_ms() { # command...
	"$@" >/dev/null 2>&1 || true
	local start end
	start=$(date +%s%N)
	for ((i = 0; i < runs; i++)); do "$@" >/dev/null 2>&1 || true; done
	end=$(date +%s%N)
	echo "scale=3; ($end - $start) / $runs / 1000000" | bc
}

peak_kb() { # command...
	/usr/bin/time -f %M -o /tmp/lpcheck-bench-rss "$@" >/dev/null 2>&1 || true
	tail -n1 /tmp/lpcheck-bench-rss
}

diff_cmd=("$lpcheck" diff --format json "$pair_orig" "$pair_patched")
readelf_cmd=(readelf -a "$pair_orig" "$pair_patched")

diff_ms=$(mean_ms "${diff_cmd[@]}")
readelf_ms=$(mean_ms "${readelf_cmd[@]}")
diff_kb=$(peak_kb "${diff_cmd[@]}")
readelf_kb=$(peak_kb "${readelf_cmd[@]}")

printf '%-14s %10s %12s\n' "" "wall (ms)" "peak RSS (KiB)"
printf '%-14s %10s %12s\n' "lpcheck diff" "$diff_ms" "$diff_kb"
printf '%-14s %10s %12s\n' "readelf -a" "$readelf_ms" "$readelf_kb"
printf 'ratio lpcheck/readelf: time %s, memory %s (%d runs)\n' \
	"$(echo "scale=2; $diff_ms / $readelf_ms" | bc)" \
	"$(echo "scale=2; $diff_kb / $readelf_kb" | bc)" "$runs"
