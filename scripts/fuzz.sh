#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, starting from the
# seed corpus in fuzz/seeds/<target>/ (if any). A crash fails the run and
# leaves the reproducer in build-fuzz/crashes/.
set -euo pipefail
build=${1:-build-fuzz}
secs=${2:-60}
shopt -s nullglob
targets=("$build"/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
  echo "fuzz.sh: no fuzz targets built in $build" >&2
  exit 0
fi
mkdir -p "$build/crashes"
for t in "${targets[@]}"; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  seeds=()
  [ -d "fuzz/seeds/$name" ] && seeds=("fuzz/seeds/$name")
  echo "fuzz.sh: $name for ${secs}s" >&2
  "$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
       -artifact_prefix="$build/crashes/$name-" -print_final_stats=1 \
       "$corpus" "${seeds[@]}" 2>"$build/$name.log" || {
    tail -40 "$build/$name.log" >&2
    echo "fuzz.sh: $name FAILED (reproducer in $build/crashes/)" >&2
    exit 1
  }
  grep -E 'stat::number_of_executed_units|cov:' "$build/$name.log" | tail -2 >&2 || true
done
