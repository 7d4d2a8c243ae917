#!/usr/bin/env bash
# frugal bench: table and --json (schema frugal-bench-1) on a real model;
# `frugal plan device --from-bench` consumes that JSON; a small synthetic
# preset is generated, cached and measured; usage errors exit 2.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf

run_ok "$FRUGAL" bench -m "$M" -p 16 -n 8 -r 2 -t 1,2
expect_contains "$OUT" "| pp16         |       1 |"
expect_contains "$OUT" "| tg8          |       2 |"
expect_contains "$OUT" " family "
expect_contains "$OUT" "decode reads"
# a 1 MiB model lives in the caches: no "116% of the RAM speed"
expect_contains "$OUT" "the weights fit in the CPU's caches"
expect_not_contains "$OUT" "% of the"
expect_contains "$OUT" "1 thread:"
expect_not_contains "$OUT" "1 threads"
expect_contains "$OUT" "estimate"
expect_contains "$OUT" "commit"

run_ok "$FRUGAL" bench -m "$M" -p 16 -n 8 -r 2 -t 1 --json
printf '%s' "$OUT" > "$TMP/b.json"
if command -v node >/dev/null; then
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const ok = j.schema === "frugal-bench-1" && j.decode_tok_s > 0 && j.prefill_tok_s > 0 &&
      j.tests.length === 2 && j.meter.source === "estimate" &&
      j.j_per_token_decode.low <= j.j_per_token_decode.central &&
      j.decode_bytes_per_token > 1000000 && j.frugal.commit.length > 0 &&
      /* the model is 1 MiB: the 256+ MiB read-bandwidth buffer must not count */
      j.peak_rss_bytes > 0 && j.peak_rss_bytes < 200 * 1048576;
    if (!ok) { console.error(JSON.stringify(j)); process.exit(1); }' "$TMP/b.json" \
    || fail "bench --json document incomplete"
fi
# several prompt sizes, and decode after a prompt already in the cache
run_ok "$FRUGAL" bench -m "$M" -p 16,24 -n 8 -d 0,40 -r 1 -t 1 --json
printf '%s' "$OUT" > "$TMP/d.json"
if command -v node >/dev/null; then
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const t = j.tests.map((x) => `${x.test}${x.n_tokens}@${x.depth}`).join(" ");
    const m = j.machine;
    const ok = t === "pp16@0 pp24@0 tg8@0 tg8@40" && j.tests.every((x) => x.tok_s > 0) &&
      j.tests[3].bandwidth_share === undefined && j.tests[2].gb_s > 0 &&
      typeof m.cpu_vendor === "string" && Number.isInteger(m.cpu_family) &&
      Number.isInteger(m.cpu_model) && Number.isInteger(m.cpu_stepping) &&
      (process.arch !== "x64" || (m.cpu_vendor.length === 12 && m.cpu_family >= 6));
    if (!ok) { console.error(t, JSON.stringify(m)); process.exit(1); }' "$TMP/d.json" \
    || fail "bench -p LIST -d LIST --json: wrong tests or machine fields"
fi
run_ok "$FRUGAL" bench -m "$M" -p 0 -n 4 -d 20 -r 1 -t 1
expect_contains "$OUT" "| tg4@d20      |       1 |"
run_status 2 "$FRUGAL" bench -m "$M" -p 16, -n 4
run_status 2 "$FRUGAL" bench -m "$M" -d x
run_status 2 "$FRUGAL" bench -m "$M" --write-f16 "$TMP/x.gguf"

run_ok "$FRUGAL" plan device --from-bench "$TMP/b.json" --tokens 1000
expect_contains "$OUT" "battery"

# a synthetic preset, cached in a private cache dir
export XDG_CACHE_HOME=$TMP/cache
run_ok "$FRUGAL" bench --synthetic list
expect_contains "$OUT" "llama-3.2-1b"
run_ok "$FRUGAL" bench --synthetic smollm2-135m:q4_0 -p 8 -n 4 -r 1 -t 2
expect_contains "$OUT" "[random weights]"
[ -f "$TMP/cache/frugal/synthetic/smollm2-135m-q4_0.gguf" ] || fail "synthetic model not cached"

# --write-f16: a vocabulary of the wrong size is refused before any weight
# is written, and nothing is left behind
if [ -f "$SHARED/vocab/ggml-vocab-qwen2.gguf" ]; then
  run_status 2 "$FRUGAL" bench --synthetic smollm2-135m --write-f16 "$TMP/w.gguf" \
    --vocab "$SHARED/vocab/ggml-vocab-qwen2.gguf"
  expect_contains "$ERR" "151936 tokens, but the model has 49152"
  [ ! -e "$TMP/w.gguf" ] || fail "--write-f16 left a file after an error"
fi
run_status 2 "$FRUGAL" bench --synthetic smollm2-135m:q4_0 --write-f16 "$TMP/w.gguf"

run_status 2 "$FRUGAL" bench
run_status 2 "$FRUGAL" bench -m "$M" --synthetic smollm2-135m
run_status 2 "$FRUGAL" bench -m "$M" -t 0
run_status 2 "$FRUGAL" bench --synthetic no-such-model
expect_contains "$ERR" "unknown synthetic preset"
finish
