#!/usr/bin/env bash
# Paths that are not what they seem (issue 18):
#  - a FIFO (or a directory, or a device) where a file is expected is refused
#    before it is opened for reading: `run -m FIFO` and `tune -d FIFO` used
#    to wait for a writer forever;
#  - `frugal index` does not follow a symbolic link out of the indexed tree
#    (a link to /etc/passwd in docs/ used to be indexed and served back by
#    `ask`); the link is listed as rejected with the reason, a link that
#    stays inside is indexed, and --follow-links allows the others.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf

# ---- FIFOs, directories, devices ---------------------------------------------------------
mkfifo "$TMP/fifo"
# every command is bounded: the unfixed code waits for a writer forever (exit 124)
not_a_file() { # WHAT-IT-IS COMMAND...
  local what=$1; shift
  _run timeout 10 "$@"
  [ "$RC" -eq 1 ] || fail "expected exit 1 (not a regular file), got $RC: $* :: ${ERR:0:300}"
  expect_contains "$ERR" "$what"
  expect_contains "$ERR" "not a regular file"
}
not_a_file "FIFO" "$FRUGAL" run -m "$TMP/fifo" -p "Once" -n 2
not_a_file "FIFO" "$FRUGAL" tune -m "$M" -d "$TMP/fifo" -o "$TMP/a.gguf" --steps 1
echo "Once upon a time there was a little dog. It liked to run in the park." > "$TMP/train.txt"
not_a_file "FIFO" "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" --val "$TMP/fifo" -o "$TMP/a.gguf" \
  --steps 1 --ctx 8
not_a_file "FIFO" "$FRUGAL" inspect "$TMP/fifo"
not_a_file "FIFO" "$FRUGAL" run -m "$M" -f "$TMP/fifo" -n 2
not_a_file "FIFO" "$FRUGAL" perplexity -m "$M" -f "$TMP/fifo"
not_a_file "directory" "$FRUGAL" run -m "$TMP" -p "Once" -n 2
not_a_file "character device" "$FRUGAL" inspect /dev/null
[ -e "$TMP/a.gguf" ] && fail "an adapter was written"
# "-" still reads standard input
_run bash -c "printf 'Once upon' | '$FRUGAL' tokenize -m '$M' --ids --file -"
[ "$RC" -eq 0 ] && [ -n "$OUT" ] || fail "tokenize --file - (stdin): $RC $ERR"

# ---- symbolic links out of the indexed tree ---------------------------------------------
mkdir -p "$TMP/docs/sub" "$TMP/outside"
echo "The Aurora X2 thermometer costs 40 euros." > "$TMP/docs/sub/prices.txt"
echo "zanzibarian quokka password hunter2" > "$TMP/outside/secret.txt"
ln -s "$TMP/outside/secret.txt" "$TMP/docs/leak.txt"
ln -s ../outside/secret.txt "$TMP/docs/leak-relative.txt"
ln -s sub/prices.txt "$TMP/docs/inside.txt"
ln -s "$TMP/outside" "$TMP/docs/outdir"
run_ok "$FRUGAL" index --db "$TMP/kb.sqlite" "$TMP/docs" --json
node -e '
  const j = JSON.parse(process.argv[1]);
  const rej = Object.fromEntries(j.rejects.map(r => [r.path.replace(/.*\//, ""), r.reason]));
  const errs = [];
  if (j.added !== 2) errs.push("added " + j.added + " (want prices.txt and inside.txt)");
  for (const n of ["leak.txt", "leak-relative.txt"])
    if (!/outside the indexed/.test(rej[n] || "")) errs.push(n + ": " + rej[n]);
  if (!/--follow-links/.test(rej["leak.txt"] || "")) errs.push("the reason names --follow-links");
  if (errs.length) { console.error(errs.join("; ")); process.exit(1); }
' "$OUT" || fail "index with links out of the tree: $OUT"
run_ok "$FRUGAL" ask --db "$TMP/kb.sqlite" --retrieve-only --json "zanzibarian quokka password"
expect_not_contains "$OUT" "hunter2"
# the plain summary lists the rejected links too
run_ok "$FRUGAL" index --db "$TMP/kb2.sqlite" "$TMP/docs"
expect_contains "$OUT" "rejected $TMP/docs/leak.txt: "
# --follow-links: the user asks for them
run_ok "$FRUGAL" index --db "$TMP/kb3.sqlite" --follow-links "$TMP/docs" --json
[ "$(node -e 'process.stdout.write(String(JSON.parse(process.argv[1]).added))' "$OUT")" = 4 ] ||
  fail "--follow-links: $OUT"
run_ok "$FRUGAL" ask --db "$TMP/kb3.sqlite" --retrieve-only --json "zanzibarian quokka password"
expect_contains "$OUT" "hunter2"
finish
