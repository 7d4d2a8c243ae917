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
echo '{"nope": 1}' > "$TMP/bad.jsonl"
run_status 1 "$FRUGAL" check --source "$TMP/docs/products.md" --claims "$TMP/bad.jsonl"
run_status 2 "$FRUGAL" check --source "$TMP/docs/products.md"
run_status 1 "$FRUGAL" check --source "$TMP/docs/blob.txt" --claim "x"
finish
