#!/usr/bin/env bash
# make bench: runs the benchmark table and writes BENCHMARKS.md.
set -euo pipefail
FRUGAL=${1:-build/frugal}
echo "frugal bench: no benchmarks yet; see the status table in README.md." >&2
"$FRUGAL" --version
