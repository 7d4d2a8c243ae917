#!/usr/bin/env bash
# Random models of the newer architectures (gemma3, phi3, qwen3moe, gpt-oss)
# with every feature that distinguishes them
# (tests/unit/test_model_forward.c --write-model), read by llama.cpp: 60
# greedy steps (prompt + generation longer than any sliding window) at F32
# with the first steps' logits, 48 at Q8_0, Q4_K_M and MXFP4_MOE for gpt-oss; and
# frugal tune's adapter on each, loaded by llama.cpp (support/llamacpp.sh).
# Under the sanitizers, F32 and MXFP4 only (the quantized types are the same
# kernels as llama/qwen's, run by llamacpp_compat.sh).
set -u
. "$(dirname "$0")/../lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/support/llamacpp.sh"

# ---- the newer architectures: random models with every feature that
# distinguishes them (tests/unit/test_model_forward.c --write-model), 60
# greedy steps (prompt + generation longer than any sliding window), the
# first steps' logits at F32, and the quantized types
# frugal runs with --batch 8: the window layers' cache is a ring of 16 + 8 - 1
# positions, which the 60 steps wrap three times
N=60
RUN_BATCH=8
for arch in gemma3 phi3 qwen3moe gpt-oss; do
  "$B/test_model_forward" --write-model "$arch" "$TMP/$arch.gguf" || { fail "write $arch"; continue; }
  agree "$arch f32" "$TMP/$arch.gguf" --logits
  types="q8_0 q4_k_m"
  [ -n "${FR_SANITIZED:-}" ] && types=""
  [ "$arch" = gpt-oss ] && types="$types mxfp4_moe"
  # quantized: 48 steps as every other quantized comparison (still past
  # the window of 16): their logits are ~2e-2 apart (llama.cpp rounds
  # activations differently), and with the repacked Q8_0 products gpt-oss
  # flipped at step 58 (teacher-forced p 0.030 vs 0.014 in llama.cpp)
  N=48
  for t in $types; do
    run_ok "$FRUGAL" quantize "$TMP/$arch.gguf" "$TMP/$arch-$t.gguf" "$t"
    agree "$arch $t" "$TMP/$arch-$t.gguf"
  done
  N=60
done

# ---- frugal tune on each newer architecture (LoRA on attention and the dense
# FFN; on the MoE models their attention): held-out perplexity goes down,
# and llama.cpp loads the adapter and its perplexity agrees within 1%
cat > "$TMP/tune.txt" <<'EOF'
Once upon a time, there was a little dog named Max. Max liked to run in the garden. One day, Max saw
a big red ball under the tree. He ran to the ball and played with it all day. His friend, a small cat
named Tom, came to play too. They were very happy together. Tom and Max ran and jumped until the sun
went down. Then they went home and slept. The next day, they played again.
EOF
cat > "$TMP/heldout.txt" <<'EOF'
Once upon a time, a little girl named Lily found a red ball in the park. She ran to her mom and
showed her the ball. They played with it under the big tree until the sun went down. Lily was happy.
The next day, Lily and her friend Tom played with the ball again, and they laughed all day long.
EOF
ppl_of() { # MODEL TEXT [ADAPTER]: frugal's perplexity at -c 64
  local lora=()
  [ $# -ge 3 ] && lora=(--lora "$3")
  run_ok "$FRUGAL" perplexity -t 1 --kv-type f32 -m "$1" -f "$2" -c 64 --json "${lora[@]}"
  node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0, "utf8")).ppl))' <<<"$OUT"
}
for arch in gemma3 phi3 qwen3moe gpt-oss; do
  m=$TMP/$arch.gguf
  [ -f "$m" ] || continue
  run_ok "$FRUGAL" tune -m "$m" -d "$TMP/tune.txt" -o "$TMP/$arch-lora.gguf" --ctx 64 --rank 4 \
    --batch 2 --lr 1e-2 --steps 20 -t 2 --seed 5 --progress none
  before=$(ppl_of "$m" "$TMP/heldout.txt")
  after=$(ppl_of "$m" "$TMP/heldout.txt" "$TMP/$arch-lora.gguf")
  run_ok "$FRUGAL" tokenize -m "$m" --ids --file "$TMP/heldout.txt"
  ids="[${OUT// /,}]"
  _run node "$HERE/support/llamacpp_ppl.mjs" "$m" "$ids" 64 1 --lora "$TMP/$arch-lora.gguf:1"
  [ "$RC" -eq 0 ] || { fail "$arch: llama.cpp could not run the adapter: ${ERR: -400}"; continue; }
  llama=$(node -e 'process.stdout.write(String(JSON.parse(process.argv[1]).ppl))' "$OUT")
  echo "$arch tune: held-out PPL $before -> $after; llama.cpp with the adapter $llama"
  node -e 'const [b, a, l] = process.argv.slice(1).map(Number);
           process.exit(a < b && Math.abs(l - a) <= 0.01 * a ? 0 : 1)' "$before" "$after" "$llama" ||
    fail "$arch tune: held-out PPL $before -> $after, llama.cpp $llama (must go down, agree within 1%)"
done

finish
