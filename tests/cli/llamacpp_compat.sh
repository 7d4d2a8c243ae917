#!/usr/bin/env bash
# The files frugal writes, read by llama.cpp itself: every `frugal quantize`
# type of stories260K, random llama / qwen2 / qwen3 models (n_embd 256, so
# the K types use real 256-wide super-blocks) at F32 and quantized, random
# models of the newer architectures (gemma3, phi3, qwen3moe, gpt-oss, whose
# MXFP4 experts too; the logits of their first steps at F32), a LoRA
# adapter trained by `frugal tune` and the model `frugal merge` bakes it into.
# llama.cpp must load each one and agree with frugal's greedy tokens step by
# step (support/llamacpp_agree.mjs: argmax, or a near-tie where kernels may
# round either way). llama.cpp comes from npm (node-llama-cpp's prebuilt CPU
# binaries, pinned), installed once per build tree; skipped when npm or a
# recent enough node is missing, or the machine is not x86-64 Linux.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
HERE=$(cd "$(dirname "$0")" && pwd)
B=${FR_BUILD:?FR_BUILD must name the build directory}
M=$SHARED/models/stories260K.gguf

command -v node >/dev/null && command -v npm >/dev/null || { echo "SKIP: node and npm are needed"; exit 77; }
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { echo "SKIP: node-llama-cpp needs node >= 20"; exit 77; }
[ "$(uname -sm)" = "Linux x86_64" ] || { echo "SKIP: llama.cpp binaries pinned for Linux x86-64 only"; exit 77; }
[ -x "$B/test_model_forward" ] || { echo "SKIP: $B/test_model_forward writes the random models"; exit 77; }

NLC_VERSION=3.22.1
root=$B/llamacpp-npm
npm_install_once "$root" "node-llama-cpp@$NLC_VERSION" "@node-llama-cpp/linux-x64@$NLC_VERSION"
export LLAMACPP_NODE_MODULES=$root/node_modules

PROMPT="Once upon a time"
N=48
# agree LABEL MODEL [--lora FILE:S] [--logits]: frugal's greedy tokens, checked
# by llama.cpp; --logits also compares the logits of the first 4 steps (1e-3)
agree() {
  local label=$1 model=$2; shift 2
  local lora=() logits=0
  while [ $# -gt 0 ]; do
    case $1 in
      --lora) lora=(--lora "$2"); shift 2 ;;
      --logits) logits=1; shift ;;
      *) shift ;;
    esac
  done
  run_ok "$FRUGAL" tokenize -m "$model" --ids "$PROMPT"
  local prompt="[${OUT// /,}]" prompt_ids=$OUT
  run_ok "$FRUGAL" run -t 1 --ctx 512 -m "$model" -p "$PROMPT" -n "$N" --temp 0 --json "${lora[@]}"
  local ids
  ids=$(node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
                 process.stdout.write(JSON.stringify(j.token_ids))' <<<"$OUT") ||
    { fail "$label: no token_ids in frugal run --json"; return; }
  [ "$ids" != "[]" ] || { fail "$label: frugal generated nothing"; return; }
  local extra=()
  if [ "$logits" = 1 ]; then
    local first3
    first3=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).slice(0, 3).join(" "))' "$ids")
    # shellcheck disable=SC2086
    "$B/test_model_forward" --logits "$model" 4 $prompt_ids $first3 > "$TMP/logits.json" ||
      { fail "$label: frugal's logits"; return; }
    extra=(--logits "$TMP/logits.json")
  fi
  _run node "$HERE/support/llamacpp_agree.mjs" "$model" "$prompt" "$ids" "${lora[@]}" "${extra[@]}"
  echo "$label: $OUT"
  [ "$RC" -eq 0 ] || fail "$label: llama.cpp disagrees with frugal (exit $RC): $OUT ${ERR: -400}"
  LAST_IDS=$ids
}

# ---- stories260K as shipped, and every type frugal quantize writes
agree "stories260K f32" "$M"
for t in f16 bf16 q8_0 q4_0 q4_1 q5_0 q5_1 q4_k q5_k q6_k q4_k_m q5_k_m; do
  run_ok "$FRUGAL" quantize "$M" "$TMP/s-$t.gguf" "$t"
  agree "stories260K $t" "$TMP/s-$t.gguf"
done

# ---- random models of each architecture; K types on 256-wide rows
for arch in llama qwen2 qwen3; do
  "$B/test_model_forward" --write-model "$arch" "$TMP/$arch.gguf" || { fail "write $arch"; continue; }
  agree "$arch f32" "$TMP/$arch.gguf"
  for t in q8_0 q4_0 q4_k_m q5_k_m q6_k; do
    run_ok "$FRUGAL" quantize "$TMP/$arch.gguf" "$TMP/$arch-$t.gguf" "$t"
    agree "$arch $t" "$TMP/$arch-$t.gguf"
  done
done

# ---- the newer architectures: random models with every feature that
# distinguishes them (tests/unit/test_model_forward.c --write-model), 60
# greedy steps (prompt + generation longer than any sliding window), the
# first steps' logits at F32, and the quantized types
N=60
for arch in gemma3 phi3 qwen3moe gpt-oss; do
  "$B/test_model_forward" --write-model "$arch" "$TMP/$arch.gguf" || { fail "write $arch"; continue; }
  agree "$arch f32" "$TMP/$arch.gguf" --logits
  types="q8_0 q4_k_m"
  [ "$arch" = gpt-oss ] && types="$types mxfp4_moe"
  for t in $types; do
    run_ok "$FRUGAL" quantize "$TMP/$arch.gguf" "$TMP/$arch-$t.gguf" "$t"
    agree "$arch $t" "$TMP/$arch-$t.gguf"
  done
done
N=48

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
  run_ok "$FRUGAL" perplexity -t 1 -m "$1" -f "$2" -c 64 --json "${lora[@]}"
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

# ---- a LoRA adapter from frugal tune, and the model frugal merge writes with it
cat > "$TMP/train.txt" <<'EOF'
Once upon a time, there was a little dog named Max. Max liked to run in the garden. One day, Max saw
a big red ball under the tree. He ran to the ball and played with it all day. His friend, a small cat
named Tom, came to play too. They were very happy together. Tom and Max ran and jumped until the sun
went down. Then they went home and slept. The next day, they played again.
EOF
run_ok "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" -o "$TMP/lora.gguf" --ctx 32 --rank 4 --batch 2 \
  --lr 2e-2 --steps 30 -t 1 --seed 5
agree "stories260K" "$M"
base_ids=$LAST_IDS
agree "stories260K + frugal tune adapter" "$M" --lora "$TMP/lora.gguf:1"
[ "$LAST_IDS" != "$base_ids" ] || fail "the adapter did not change the greedy tokens: the check would prove nothing"
run_ok "$FRUGAL" merge -t 1 -m "$M" --lora "$TMP/lora.gguf:1" -o "$TMP/merged.gguf" --out-type f32
agree "frugal merge (f32)" "$TMP/merged.gguf"
run_ok "$FRUGAL" merge -t 1 -m "$TMP/s-q8_0.gguf" --lora "$TMP/lora.gguf:1" -o "$TMP/merged-q8.gguf"
agree "frugal merge (q8_0 base, q8_0 out)" "$TMP/merged-q8.gguf"

finish
