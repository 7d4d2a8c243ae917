#!/usr/bin/env bash
# frugal perplexity on stories260K: the printed numbers equal a naive
# token-by-token reference (the test_perplexity program run as a tool), the
# --json record, --lora (B = 0 changes nothing; a random adapter matches the
# reference with the adapter), --compare, and the errors.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
command -v node >/dev/null || { echo "SKIP: node is needed for the fixtures and JSON"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
M=$SHARED/models/stories260K.gguf
REF=${FR_BUILD:-}/test_perplexity
[ -x "$REF" ] || { echo "SKIP: $REF (the reference) is not built"; exit 77; }

# under the sanitizers: half the text and half the context
C=128; NGEN=1400
if [ "${FR_SANITIZED:-0}" = 1 ]; then C=64; NGEN=700; fi
S=$((C - 1 - C / 2)) # scored tokens per chunk

# a text of ~NGEN tokens written by the model itself; one thread throughout
# (a 260K-parameter model runs fastest on one), two where threads are checked
run_ok "$FRUGAL" run -t 1 -m "$M" -p "Once upon a time" -n "$NGEN" --seed 3 --temp 1 --ignore-eos
printf '%s\n' "$OUT" > "$TMP/story.txt"
node "$HERE/lora_fixture.js" "$TMP/a.gguf" rank=4 seed=7 bscale=0.1 || fail "fixture"
node "$HERE/lora_fixture.js" "$TMP/zero.gguf" rank=8 bscale=0 || fail "fixture"

# $1 = "PPL ERR" printed by the command, $2 = "PPL ERR COUNT" of the reference:
# equal to the printed digits (4 and 5 decimals), allowing one unit of rounding.
same_ppl() {
  node -e '
    const [p, e] = process.argv[1].split(" ").map(Number), [rp, re] = process.argv[2].split(" ").map(Number);
    if (!(Math.abs(p - rp) <= 1.01e-4 && Math.abs(e - re) <= 1.01e-5)) {
      console.error(`command ${p} +/- ${e}, reference ${rp} +/- ${re}`); process.exit(1); }' "$1" "$2"
}
final_of() { sed -n 's/^Final estimate: PPL = \([0-9.]*\) +\/- \([0-9.]*\)$/\1 \2/p' <<<"$1"; }

# --- the plain method against the naive reference
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C"
expect_contains "$OUT" "[1]"
expect_contains "$OUT" "Final estimate: PPL = "
expect_contains "$ERR" "tok/s"
got=$(final_of "$OUT")
plain="$got"
want=$("$REF" "$M" "$TMP/story.txt" "$C") || fail "reference failed"
same_ppl "$got" "$want" || fail "perplexity differs from the naive reference"
# the running list: one entry per chunk, the last equal to the final value
n_chunks=$(grep -o '\[[0-9]*\]' <<<"$OUT" | wc -l)
[ "$n_chunks" -ge 8 ] || fail "expected at least 8 chunks, got $n_chunks"
last=$(grep -o '\[[0-9]*\][0-9.]*,$' <<<"$OUT" | sed 's/.*\]\([0-9.]*\),/\1/')
[ "$last" == "${got%% *}" ] || fail "last running value $last != final ${got%% *}"

# --chunks, -b (smaller batches) and -t 1 give the same numbers for the same chunks
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c 64 --chunks 3 -b 16
a=$(final_of "$OUT")
run_ok "$FRUGAL" perplexity -t 2 -m "$M" -f "$TMP/story.txt" -c 64 --chunks 3
b=$(final_of "$OUT")
[ "$a" == "$b" ] || fail "batch size or threads changed the result: $a vs $b"
want=$("$REF" "$M" "$TMP/story.txt" 64 3)
same_ppl "$b" "$want" || fail "--chunks 3 differs from the reference"
[ "$(grep -o '\[[0-9]*\]' <<<"$OUT" | wc -l)" -eq 3 ] || fail "--chunks 3 printed another count"

# --- --json: one document with the fields
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --json
printf '%s' "$OUT" > "$TMP/p.json"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const [rp, re, rc] = process.argv[2].split(" ").map(Number);
  const C = +process.argv[3], S = +process.argv[4];
  const ok = j.n_ctx === C && j.n_chunks >= 8 && j.chunks.length === j.n_chunks &&
    j.scored_tokens === j.n_chunks * S && j.scored_tokens === rc &&
    Math.abs(j.ppl - rp) <= 1e-6 * rp && Math.abs(j.ppl_err - re) <= 1e-5 * re &&
    j.chunks[j.n_chunks - 1] === j.ppl && Math.abs(Math.exp(j.mean_nll) - j.ppl) < 1e-9 * j.ppl &&
    j.n_tokens >= 2 * C && j.tokens_per_s > 0 && Array.isArray(j.adapters) &&
    j.adapters.length === 0 && j.compare === undefined;
  if (!ok) { console.error(JSON.stringify(j).slice(0, 400)); process.exit(1); }' \
  "$TMP/p.json" "$("$REF" "$M" "$TMP/story.txt" "$C")" "$C" "$S" || fail "--json record wrong"

# --- adapters: B = 0 changes nothing; a random one matches the reference run with it
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --lora "$TMP/zero.gguf:3"
[ "$(final_of "$OUT")" == "$plain" ] || fail "a B = 0 adapter changed the perplexity"
expect_contains "$ERR" "adapter $TMP/zero.gguf (rank 8, alpha 8, scale 3 -> 3 effective, 36 tensors)"
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --lora "$TMP/a.gguf:0.5"
tuned=$(final_of "$OUT")
[ "$tuned" != "$plain" ] || fail "the adapter changed nothing"
want=$("$REF" "$M" "$TMP/story.txt" "$C" 0 "$TMP/a.gguf:0.5")
same_ppl "$tuned" "$want" || fail "perplexity with an adapter differs from the reference"
# two adapters: the zero one adds nothing to the other
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --lora "$TMP/a.gguf:0.5" --lora "$TMP/zero.gguf"
[ "$(final_of "$OUT")" == "$tuned" ] || fail "a second, zero adapter changed the result"
# an F16 copy of the adapter gives nearly the same number
node "$HERE/lora_fixture.js" "$TMP/a16.gguf" rank=4 seed=7 bscale=0.1 type=f16
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --lora "$TMP/a16.gguf:0.5"
node -e 'const a = +process.argv[1].split(" ")[0], b = +process.argv[2].split(" ")[0];
  process.exit(Math.abs(a - b) < 2e-3 * a ? 0 : 1)' "$(final_of "$OUT")" "$tuned" ||
  fail "F16 adapter far from the F32 one"

# --- --compare: base and adapter on the same chunks
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --lora "$TMP/a.gguf:0.5" --compare
expect_contains "$OUT" "base (no adapter): PPL = ${plain% *} +/- ${plain#* }"
expect_contains "$OUT" "Final estimate: PPL = ${tuned% *} +/- ${tuned#* }"
expect_contains "$OUT" "ratio PPL(adapter) / PPL(base) = "
expect_contains "$OUT" "mean change in log-PPL (adapter - base) = "
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --lora "$TMP/a.gguf:0.5" --compare --json
printf '%s' "$OUT" > "$TMP/c.json"
node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")), c = j.compare;
  const [bp] = process.argv[2].split(" ").map(Number), [tp] = process.argv[3].split(" ").map(Number);
  const ok = c && Math.abs(c.base_ppl - bp) < 1e-4 && Math.abs(c.tuned_ppl - tp) < 1e-4 &&
    c.tuned_ppl === j.ppl && Math.abs(c.ratio - c.tuned_ppl / c.base_ppl) < 1e-8 &&
    Math.abs(c.delta_log_ppl - Math.log(c.ratio)) < 1e-7 && c.delta_log_ppl_se > 0 &&
    c.delta_log_ppl_se_chunks > 0 && j.adapters.length === 1 && j.adapters[0].scale === 0.5 &&
    j.adapters[0].effective_scale === 1 && j.adapters[0].rank === 4;
  if (!ok) { console.error(JSON.stringify(j).slice(0, 600)); process.exit(1); }' \
  "$TMP/c.json" "$plain" "$tuned" || fail "--compare --json record wrong"

# --- errors
head -c 300 "$TMP/story.txt" > "$TMP/short.txt"
run_status 1 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/short.txt" -c 128
expect_contains "$ERR" "needs at least 256"
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -c 128
expect_contains "$ERR" "-f TEXT"
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --compare
expect_contains "$ERR" "--lora"
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c 2
run_status 1 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/missing.txt"
expect_contains "$ERR" "missing.txt"
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/a.gguf:abc"
expect_contains "$ERR" "'abc' is not a scale"
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/a.gguf:"
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/a.gguf:inf"
run_status 1 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/none.gguf"
expect_contains "$ERR" "none.gguf"
node "$HERE/lora_fixture.js" "$TMP/qwen.gguf" arch=qwen2
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/qwen.gguf"
expect_contains "$ERR" "wrong base model"
node "$HERE/lora_fixture.js" "$TMP/badshape.gguf" bad=shape
run_status 2 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/badshape.gguf"
expect_contains "$ERR" "blk.2.attn_v.weight"
node "$HERE/lora_fixture.js" "$TMP/missing.gguf" bad=missing
run_status 1 "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" --lora "$TMP/missing.gguf"
expect_contains "$ERR" "missing one half"
# an adapter given as the model
run_status 2 "$FRUGAL" perplexity -m "$TMP/a.gguf" -f "$TMP/story.txt"
expect_contains "$ERR" "--lora"
# a path with a ':' in it that exists is taken whole
cp "$TMP/zero.gguf" "$TMP/odd:name.gguf"
run_ok "$FRUGAL" perplexity -t 1 -m "$M" -f "$TMP/story.txt" -c "$C" --chunks 2 --lora "$TMP/odd:name.gguf"

# --- run and chat take --lora too
run_ok "$FRUGAL" run -t 1 -m "$M" -p "Once upon a time" -n 40 --temp 0
base_text=$OUT
run_ok "$FRUGAL" run -t 1 -m "$M" -p "Once upon a time" -n 40 --temp 0 --lora "$TMP/zero.gguf"
[ "$OUT" == "$base_text" ] || fail "run: a B = 0 adapter changed greedy text"
expect_contains "$ERR" "adapter $TMP/zero.gguf"
run_ok "$FRUGAL" run -t 1 -m "$M" -p "Once upon a time" -n 40 --temp 0 --lora "$TMP/a.gguf:2"
[ "$OUT" != "$base_text" ] || fail "run: a strong adapter did not change greedy text"
run_status 2 "$FRUGAL" run -t 1 -m "$M" -p "hi" --lora "$TMP/a.gguf:x1"
printf 'Hello\n/exit\n' > "$TMP/turns"
_run "$FRUGAL" chat -t 1 -m "$M" -n 8 --temp 0 --lora "$TMP/a.gguf:0.5" < "$TMP/turns"
[ "$RC" -eq 0 ] || fail "chat with --lora exited $RC: $ERR"
expect_contains "$ERR" "adapter $TMP/a.gguf"
finish
