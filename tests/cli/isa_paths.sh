#!/usr/bin/env bash
# The end-to-end model tests under every kernel path this CPU can run
# (FRUGAL_ISA=generic|avx2|avx512): the portable reference and each SIMD path
# must pass the same checks (logits against the double-precision reference,
# prefill vs decode, greedy tokens of stories260K). Refusal of unknown
# values is tested in tests/unit/test_tensor_isa_env.c.
source "$(dirname "$0")/../lib.sh"
B=${FR_BUILD:?FR_BUILD must name the build directory}

flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
paths="generic"
if has avx2 && has fma && has f16c && has bmi2; then
  paths="$paths avx2"
  if has avx512f && has avx512bw && has avx512vl && has avx512dq && has avx512_vnni; then
    paths="$paths avx512"
  fi
fi

ran=0
for t in test_model_forward test_model_stories; do
  [ -x "$B/$t" ] || continue
  for isa in $paths; do
    FRUGAL_ISA=$isa _run "$B/$t"
    if [ "$RC" -eq 77 ]; then
      echo "SKIP: $t (FRUGAL_ISA=$isa): ${ERR:0:200}"
      continue
    fi
    [ "$RC" -eq 0 ] || fail "$t with FRUGAL_ISA=$isa exited $RC: ${ERR: -600}"
    ran=$((ran + 1))
  done
done
[ "$ran" -gt 0 ] || { echo "SKIP: no model test binaries in $B"; exit 77; }
echo "paths tested: $paths"
finish
