# The checks of frugal index and ask --retrieve-only that every knowledge
# base store passes on the corpus in tests/data/rag (sourced after ../lib.sh
# by rag.sh for SQLite and rag_pg.sh for PostgreSQL, so that both stores are
# held to one set of expectations).
#
#   rag_corpus_docs         the corpus and a binary file in $TMP/docs
#   rag_index_checks DB [FILE]
#                           index, index again (FILE, when given: the database
#                           file, whose bytes must not change), delete one file
#                           and add one, --stats
#   rag_ask_checks DB       retrieval, the gate, query syntax taken literally,
#                           codes through the trigram list, a missing model

rag_corpus_docs() {
  mkdir -p "$TMP/docs"
  cp "$SRC"/tests/data/rag/* "$TMP/docs/"
  printf 'bin\0ary' > "$TMP/docs/blob.txt"
}

rag_index_checks() {
  local db=$1 file=${2:-} before= after=
  run_ok "$FRUGAL" index --db "$db" "$TMP/docs"
  expect_contains "$OUT" "added 6, updated 0, skipped 0 (unchanged), removed 0, rejected 1"
  expect_contains "$OUT" "blob.txt: binary data"
  [ -n "$file" ] && before=$(sha256sum "$file" | cut -d' ' -f1)
  run_ok "$FRUGAL" index --db "$db" "$TMP/docs"
  expect_contains "$OUT" "added 0, updated 0, skipped 6 (unchanged), removed 0, rejected 1"
  [ -n "$file" ] && after=$(sha256sum "$file" | cut -d' ' -f1)
  [ "$before" = "$after" ] || fail "second index run changed the database file"
  rm "$TMP/docs/tickets.jsonl"
  echo "The Oslo office closed in 2019." > "$TMP/docs/oslo.txt"
  run_ok "$FRUGAL" index --db "$db" "$TMP/docs" --json
  expect_contains "$OUT" '"added": 1'
  expect_contains "$OUT" '"removed": 1'
  expect_contains "$OUT" '"skipped": 5'
  run_ok "$FRUGAL" index --db "$db" --stats
  expect_contains "$OUT" "6 documents"
  run_ok "$FRUGAL" index --db "$db" --stats --json
  expect_contains "$OUT" '"schema_version": 1'
}

rag_ask_checks() {
  local db=$1
  run_ok "$FRUGAL" ask --db "$db" --retrieve-only "How much does the Aurora X2 cost?"
  expect_contains "$OUT" "gate: pass"
  expect_contains "$OUT" "products.md"
  expect_contains "$OUT" '$149.00'
  run_ok "$FRUGAL" ask --db "$db" --retrieve-only "What is the price of the Zephyr 9000 drone?"
  expect_contains "$OUT" "gate: ABSTAIN"
  expect_contains "$OUT" "The documents do not answer this."
  run_ok "$FRUGAL" ask --db "$db" --retrieve-only --json 'price* NEAR("Aurora" text:X2) ^'
  expect_contains "$OUT" '"fts_query": "\"price\" OR'
  run_ok "$FRUGAL" ask --db "$db" --retrieve-only --k 2 "SKU-9104K"
  expect_contains "$OUT" "trigram rank 1"
  run_status 1 "$FRUGAL" ask --db "$db" -m "$TMP/no-such-model.gguf" "How much does the Aurora X2 cost?"
  expect_contains "$ERR" "no-such-model.gguf"
  run_status 2 "$FRUGAL" ask --db "$db" "question"
}
