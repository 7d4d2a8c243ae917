#!/usr/bin/env bash
# frugal index / index --stats / ask / serve --db with a postgresql:// URI,
# against a throwaway cluster (tests/pg_cluster.sh; skipped when PostgreSQL
# is not installed or frugal was built without libpq): the counts and
# messages of tests/cli/rag.sh on the same corpus, a password never shown,
# a database without a knowledge base refused with what to do, and a
# server whose database restarts answering 500 meanwhile and then again.
set -u
. "$(dirname "$0")/../lib.sh"
export FRUGAL_PROGRESS=0
SRC=${FR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

run_status 1 "$FRUGAL" index --db "postgresql:///x?host=/nonexistent-frugal-dir" --stats
case "$ERR" in
*"not built with PostgreSQL support"*) echo "SKIP: frugal was built without PostgreSQL support"; exit 77 ;;
esac
expect_contains "$ERR" "cannot connect"
ENVS=$("$SRC/tests/pg_cluster.sh" start $$)
case $? in
0) ;;
77) echo "$ENVS"; exit 77 ;;
*) echo "could not start a PostgreSQL cluster" >&2; exit 1 ;;
esac
eval "$ENVS"
stop_cluster() { [ -n "${PG_DIR:-}" ] && "$SRC/tests/pg_cluster.sh" stop "$PG_DIR"; PG_DIR=; }

. "$(dirname "$0")/support/rag_corpus.sh"
rag_corpus_docs
DB=$PG_URI_USER
rag_index_checks "$DB"
rag_ask_checks "$DB"
# a symbolic link out of the indexed tree is refused on this store as well
# (the indexer's walk is one for both stores; tests/cli/untrusted_paths.sh)
echo "zanzibarian quokka hunter2" > "$TMP/secret.txt"
ln -s "$TMP/secret.txt" "$TMP/docs/leak.txt"
run_ok "$FRUGAL" index --db "$DB" "$TMP/docs"
expect_contains "$OUT" "rejected $TMP/docs/leak.txt: a symbolic link to $TMP/secret.txt, outside the indexed paths"
run_ok "$FRUGAL" ask --db "$DB" --retrieve-only --json "zanzibarian quokka"
expect_not_contains "$OUT" "hunter2"
rm "$TMP/docs/leak.txt"

# ---- stats; the password is never shown ------------------------------------------
SECRET="postgresql://kb:s3cret-pw@/kb?host=$PG_DIR"
run_ok "$FRUGAL" index --db "$SECRET" --stats
expect_contains "$OUT" "6 documents"
expect_contains "$OUT" "kb:***@"
expect_not_contains "$OUT" "s3cret-pw"
run_ok "$FRUGAL" index --db "$DB" --stats --json
expect_contains "$OUT" '"store": "postgresql"'

# a database without a knowledge base: refused, with what to do
run_status 1 "$FRUGAL" ask --db "$PG_URI" --retrieve-only "q"
expect_contains "$ERR" "no frugal knowledge base in this database"
expect_contains "$ERR" "frugal index --db"
run_status 1 "$FRUGAL" index --db "$PG_URI" --stats
expect_contains "$ERR" "no frugal knowledge base"

# ---- serve --db --------------------------------------------------------------------
if [ -e "$SHARED/models/stories260K.gguf" ] && command -v curl >/dev/null && command -v node >/dev/null; then
  . "$(dirname "$0")/support/serve_common.sh"
  trap '_serve_cleanup; stop_cluster' EXIT
  M=$SHARED/models/stories260K.gguf
  J='-H Content-Type:application/json'
  run_status 1 "$FRUGAL" serve -m "$M" --port 0 -t 1 --db "$PG_URI"
  expect_contains "$ERR" "--db"
  expect_contains "$ERR" "frugal index"
  serve_start -m "$M" --db "$DB"
  serve_wait_ready
  # questions the gate stops (generation is tests/cli/serve_ask.sh's part,
  # and slow under the sanitizers); the closest passages come back all the
  # same, and the first points at the heading's text in the source file
  expect_status 200 POST /v1/ask $J -d '{"question":"Which drones does the Zephyr 9000 support?"}'
  [ "$(json_get "$TMP/body" '[j.outcome, j.energy.tokens].join("|")')" = "abstain_retrieval|0" ] ||
    fail "gate abstention: ${BODY:0:400}"
  expect_status 200 POST /v1/ask $J -d '{"question":"What does the Aurora X2 thermometer cost in yen?","k":2}'
  off=$(grep -bo 'Aurora X2 thermometer' "$SRC/tests/data/rag/products.md" | head -1 | cut -d: -f1)
  [ "$(json_get "$TMP/body" '[j.outcome, j.gate.missing, j.passages[0].path, j.passages[0].byte_off].join("|")')" = \
    "abstain_retrieval|yen|products.md|$off" ] || fail "/v1/ask from PostgreSQL: ${BODY:0:400}"
  # the database restarts: meanwhile each ask is a 500 that says why, the
  # server stays up, and afterwards it answers again
  "$SRC/tests/pg_cluster.sh" down "$PG_DIR"
  expect_status 500 POST /v1/ask $J -d '{"question":"What does the Aurora X2 cost?"}'
  expect_contains "$BODY" "cannot connect"
  expect_status 200 GET /health
  "$SRC/tests/pg_cluster.sh" up "$PG_DIR"
  expect_status 200 POST /v1/ask $J -d '{"question":"Which drones does the Zephyr 9000 support?"}'
  serve_stop
fi
stop_cluster
finish
