#!/usr/bin/env bash
# The conventions every command follows: --help, --version, exit codes 0/1/2,
# and errors on stderr prefixed "frugal: error:".
set -u
. "$(dirname "$0")/../lib.sh"

run_ok "$FRUGAL" --version
expect_contains "$OUT" "frugal 0."
expect_contains "$OUT" "CPUs; features "
# the path FRUGAL_ISA forces is the one named (generic runs everywhere)
FRUGAL_ISA=generic run_ok "$FRUGAL" --version
expect_contains "$OUT" "; kernels generic"
run_ok "$FRUGAL" --help
expect_contains "$OUT" "inspect"
run_status 2 "$FRUGAL"
run_status 2 "$FRUGAL" no-such-command
expect_contains "$ERR" "frugal: error: unknown command 'no-such-command'"
# `frugal help CMD` is CMD's own help, not the global one
run_ok "$FRUGAL" help run
expect_contains "$OUT" "usage: frugal run"
expect_contains "$OUT" "--n-predict"
run_status 2 "$FRUGAL" help no-such-command
finish
