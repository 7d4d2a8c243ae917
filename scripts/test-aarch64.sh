#!/usr/bin/env bash
# Runs the aarch64 core tests (make test-aarch64 cross-builds them into
# build-aarch64/ with -DFRUGAL_CORE_ONLY=ON) under qemu-aarch64, on three
# CPU models, each forced onto the best kernel path it has - which also
# checks that cpu.c detects that path (FRUGAL_ISA naming a path the CPU
# lacks is an error) and that no kernel uses an instruction the CPU lacks
# (qemu raises SIGILL):
#   cortex-a53  neon     (Raspberry Pi 3, many phones' small cores)
#   cortex-a76  dotprod  (Raspberry Pi 5, Graviton 2 class)
#   max         i8mm     (every extension qemu knows: Graviton 3, Apple M2 class)
# test_tensor_matmul checks every path the CPU has against the generic one
# whatever FRUGAL_ISA says. FR_SANITIZED=1 picks the tests' small sizes
# (qemu runs about 10-30x slower than the host). test_tune_ops runs as
# test_tune_ops_products: the training products (the NEON sgemm entries,
# every path against double products, 1 vs 3 threads bit-identical) and the
# frozen-base layers; its gradient checks by central differences would take
# minutes under qemu and have no ARM-specific code.
# Usage: scripts/test-aarch64.sh [build dir] [jobs]
set -euo pipefail
dir=${1:-build-aarch64}
jobs=${2:-2}
if ! command -v qemu-aarch64 >/dev/null 2>&1; then
  echo "test-aarch64: qemu-aarch64 not found (scripts/deps.sh installs qemu-user)" >&2
  exit 1
fi
cd "$dir"
export FR_SANITIZED=1
run() {
  local cpu=$1 isa=$2 regex=$3
  echo "== qemu-aarch64 -cpu $cpu, FRUGAL_ISA=$isa: $regex"
  QEMU_CPU=$cpu FRUGAL_ISA=$isa ctest --output-on-failure -j "$jobs" -R "$regex"
}
kernels='unit/test_(tensor_isa_env|tensor_matmul|model_forward|model_greedy|tune_ops_products)$'
run cortex-a53 neon "$kernels"
run cortex-a76 dotprod "$kernels"
run max i8mm 'unit/test_(tensor_|model_|tune_ops_products$)'
run max generic 'unit/test_model_greedy$'
