#!/usr/bin/env bash
# make demo: a short tour of frugal on a real model.
set -euo pipefail
FRUGAL=${1:-build/frugal}
echo "frugal demo: the inference engine is not built yet; see the status table in README.md." >&2
"$FRUGAL" --version
"$FRUGAL" --help
