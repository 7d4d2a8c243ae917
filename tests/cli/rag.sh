#!/usr/bin/env bash
# frugal index / ask --retrieve-only / check on the hand-written corpus in
# tests/data/rag: counts, idempotence, stats, the gate, errors and exit codes.
set -u
. "$(dirname "$0")/../lib.sh"
export FRUGAL_PROGRESS=0
SRC=${FR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$(dirname "$0")/support/rag_corpus.sh"
rag_corpus_docs
DB="$TMP/kb.sqlite"
rag_index_checks "$DB" "$DB"
rag_ask_checks "$DB"
run_status 1 "$FRUGAL" ask --db "$TMP/missing.sqlite" --retrieve-only "q"
expect_contains "$ERR" "no such knowledge base"
# a PATH that does not exist is an error (a typo must not look like success)
run_status 1 "$FRUGAL" index --db "$TMP/typo.sqlite" "$TMP/no-such-dir"
expect_contains "$OUT" "rejected $TMP/no-such-dir: no such file or directory"
expect_contains "$ERR" "1 of the given paths does not exist"

run_ok "$FRUGAL" check --source "$TMP/docs/products.md" --claim 'The Aurora X2 costs $149.00.'
expect_contains "$OUT" "supported"
run_ok "$FRUGAL" check --source "$TMP/docs/products.md" --claim 'The Aurora X2 costs $159.00.'
expect_contains "$OUT" "unsupported"
expect_contains "$OUT" '$159.00'
cat > "$TMP/claims.jsonl" <<'JSONL'
{"id": 1, "claim": "The Borealis battery lasts 18 months."}
{"id": 2, "claim": "The Borealis battery lasts 18 weeks."}
JSONL
run_ok "$FRUGAL" check --source "$TMP/docs/products.md" --claims "$TMP/claims.jsonl" --json
expect_contains "$OUT" '"verdict": "supported"'
expect_contains "$OUT" '"verdict": "unsupported"'
expect_contains "$OUT" '"id": 2'
# sub-claims: the part the catalog does not support fails, with its evidence span
run_ok "$FRUGAL" check --source "$TMP/docs/products.md" --json \
  --claim 'The Aurora X2 costs $149.00 and was designed by NASA for the Mars rover.'
printf '%s' "$OUT" > "$TMP/sub.json"
if command -v node >/dev/null; then
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const r = j.results[0], s = r.sentences[0], u = s.subclaims;
    const errs = [];
    if (r.verdict !== "unsupported" || !(j.threshold > 0 && j.threshold < 1) || j.verifier !== "built-in") errs.push("verdict");
    if (u.length !== 2) errs.push("count " + u.length);
    else {
      if (u[0].text !== "The Aurora X2 costs $149.00" || u[0].verdict !== "supported" || u[0].kind !== "main") errs.push("first");
      if (!u[0].evidence || !/costs \$149\.00/.test(u[0].evidence.text) || u[0].evidence.passage < 1) errs.push("span");
      if (!/designed by NASA/.test(u[1].text) || u[1].verdict !== "unsupported" || u[1].kind !== "verb_phrase") errs.push("second");
      if (!(u[1].score < j.threshold && u[0].score >= j.threshold) || r.score !== Math.min(u[0].score, u[1].score)) errs.push("scores");
    }
    if (errs.length) { console.error(errs.join(", "), JSON.stringify(r).slice(0, 600)); process.exit(1); }' \
    "$TMP/sub.json" || fail "check --json sub-claims"
fi
run_ok "$FRUGAL" check --source "$TMP/docs/products.md" --claim 'The Aurora X2 costs $149.00 and was designed by NASA.'
expect_contains "$OUT" "unsupported"
expect_contains "$OUT" "(missing: NASA)"
# another weights file; a broken one is refused with its name and field
echo '{"format": "frugal-verifier", "version": 1, "model": "logistic", "features": ["support"], "mean": [0.5], "scale": [0.25], "weights": [2], "bias": 0, "threshold": 0.9, "fact_gate": 1}' > "$TMP/w.json"
run_ok "$FRUGAL" check --source "$TMP/docs/products.md" --verifier "$TMP/w.json" --json --claim 'The Aurora X2 costs $149.00.'
expect_contains "$OUT" '"threshold": 0.9'
echo '{"format": "frugal-verifier", "version": 1, "model": "logistic", "features": ["colour"]}' > "$TMP/bad-w.json"
run_status 1 "$FRUGAL" check --source "$TMP/docs/products.md" --verifier "$TMP/bad-w.json" --claim 'x'
expect_contains "$ERR" "bad-w.json"
expect_contains "$ERR" "colour"
echo '{"nope": 1}' > "$TMP/bad.jsonl"
run_status 1 "$FRUGAL" check --source "$TMP/docs/products.md" --claims "$TMP/bad.jsonl"
run_status 2 "$FRUGAL" check --source "$TMP/docs/products.md"
run_status 1 "$FRUGAL" check --source "$TMP/docs/blob.txt" --claim "x"
finish
