#!/usr/bin/env bash
# frugal bench: table and --json (schema frugal-bench-1) on a real model;
# `frugal plan device --from-bench` consumes that JSON; a small synthetic
# preset is generated, cached and measured; usage errors exit 2.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf

run_ok "$FRUGAL" bench -m "$M" -p 16 -n 8 -r 2 -t 1,2
expect_contains "$OUT" "| pp16  |       1 |"
expect_contains "$OUT" "| tg8   |       2 |"
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
run_ok "$FRUGAL" plan device --from-bench "$TMP/b.json" --tokens 1000
expect_contains "$OUT" "battery"

# a synthetic preset, cached in a private cache dir
export XDG_CACHE_HOME=$TMP/cache
run_ok "$FRUGAL" bench --synthetic list
expect_contains "$OUT" "llama-3.2-1b"
run_ok "$FRUGAL" bench --synthetic smollm2-135m:q4_0 -p 8 -n 4 -r 1 -t 2
expect_contains "$OUT" "[random weights]"
[ -f "$TMP/cache/frugal/synthetic/smollm2-135m-q4_0.gguf" ] || fail "synthetic model not cached"

run_status 2 "$FRUGAL" bench
run_status 2 "$FRUGAL" bench -m "$M" --synthetic smollm2-135m
run_status 2 "$FRUGAL" bench -m "$M" -t 0
run_status 2 "$FRUGAL" bench --synthetic no-such-model
expect_contains "$ERR" "unknown synthetic preset"
finish
