#!/usr/bin/env bash
# frugal pull against a local HTTP server (tests/cli/support/http_server.js)
# that can cut connections, ignore Range, stall, redirect, corrupt bodies and
# answer 401/403/404. No test needs the internet. Expected hashes come from
# coreutils' sha256sum, never from frugal.
set -u
. "$(dirname "$0")/../lib.sh"

command -v node >/dev/null 2>&1 || { echo "SKIP: node is not installed"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)

# No proxy may sit between us and 127.0.0.1, no token or mirror may leak in.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY='*' no_proxy='*'
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_ENDPOINT
export XDG_CACHE_HOME="$TMP/cache"
export FRUGAL_PROGRESS=0

SRV="$TMP/srv"
mkdir -p "$SRV"
{ printf 'GGUF'; head -c 300000 /dev/urandom; } >"$SRV/m.gguf"
SHA=$(sha256sum "$SRV/m.gguf" | cut -d' ' -f1)
SIZE=$(stat -c %s "$SRV/m.gguf")
BAD_SHA=$(printf 'not the model' | sha256sum | cut -d' ' -f1)
LOG="$TMP/server.log"
: >"$LOG"

node "$HERE/support/http_server.js" "$SRV" "$TMP/port" "$LOG" &
SRV_PID=$!
trap 'kill $SRV_PID 2>/dev/null; wait $SRV_PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.05; done
[ -s "$TMP/port" ] || { echo "FAIL: test server did not start" >&2; exit 1; }
BASE="http://127.0.0.1:$(cat "$TMP/port")"

log_count() { wc -l <"$LOG"; }
# json FIELD: one field of the JSON document in $OUT (parsed by node, not frugal)
json() { node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));const v=j[process.argv[1]];console.log(typeof v==="object"?JSON.stringify(v):v)' "$1" <<<"$OUT"; }
same_file() { cmp -s "$1" "$SRV/m.gguf" || fail "$1 differs from the served file"; }
no_file() { [ ! -e "$1" ] || fail "$1 should not exist"; }
fsize() { stat -c %s "$1" 2>/dev/null || echo 0; }

# --- full download, sha256 verified, path on stdout -----------------------
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d1"
[ "$OUT" = "$TMP/d1/m.gguf" ] || fail "stdout should be only the path, got '$OUT'"
same_file "$TMP/d1/m.gguf"
no_file "$TMP/d1/m.gguf.part"
expect_contains "$ERR" "sha256 matches --sha256"

# --- default directory: $XDG_CACHE_HOME/frugal/models ---------------------
run_ok "$FRUGAL" pull "$BASE/m.gguf"
[ "$OUT" = "$XDG_CACHE_HOME/frugal/models/m.gguf" ] || fail "default dir: got '$OUT'"
same_file "$XDG_CACHE_HOME/frugal/models/m.gguf"

# --- already complete: verified, nothing requested ------------------------
n=$(log_count)
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d1" --json
[ "$(log_count)" = "$n" ] || fail "a present, verified file must not be downloaded again"
[ "$(json already_present)" = true ] || fail "already_present should be true: $OUT"
[ "$(json sha256)" = "$SHA" ] || fail "json sha256 wrong: $OUT"
[ "$(json bytes)" = "$SIZE" ] || fail "json bytes wrong: $OUT"
expect_contains "$ERR" "already downloaded"
# ... but a present file that does not match the expected hash is replaced.
printf 'GGUFjunk' >"$TMP/d1/m.gguf"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d1"
same_file "$TMP/d1/m.gguf"
# --force downloads again.
n=$(log_count)
run_ok "$FRUGAL" pull "$BASE/m.gguf" --force -o "$TMP/d1"
[ "$(log_count)" -gt "$n" ] || fail "--force should download again"

# --- interrupted, then resumed with a Range request -----------------------
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?cut=100000" --retries 0 -o "$TMP/d2"
expect_contains "$ERR" "connection broke"
expect_contains "$ERR" "run the same command again to resume"
no_file "$TMP/d2/m.gguf"
P=$(fsize "$TMP/d2/m.gguf.part")
[ "$P" -gt 0 ] && [ "$P" -lt "$SIZE" ] || fail ".part should hold a prefix, has $P bytes"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d2" --json
[ "$(json resumed)" = true ] || fail "second run should resume: $OUT"
[ "$(json downloaded_bytes)" = "$((SIZE - P))" ] || fail "resume should fetch only the rest: $OUT"
grep -q "\"range\":\"bytes=$P-\"" "$LOG" || fail "server saw no 'Range: bytes=$P-' request"
same_file "$TMP/d2/m.gguf"
no_file "$TMP/d2/m.gguf.part"

# --- a broken transfer is resumed automatically within one run ------------
run_ok "$FRUGAL" pull "$BASE/m.gguf?cut=150000" --sha256 "$SHA" -o "$TMP/d3" --json
[ "$(json resumed)" = true ] || fail "automatic retry should resume: $OUT"
same_file "$TMP/d3/m.gguf"

# --- 200 instead of 206: restart cleanly ----------------------------------
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?cut=100000" --retries 0 -o "$TMP/d4"
run_ok "$FRUGAL" pull "$BASE/m.gguf?norange=1" --sha256 "$SHA" -o "$TMP/d4" --json
[ "$(json resumed)" = false ] || fail "a 200 answer is not a resume: $OUT"
[ "$(json restarts)" = 1 ] || fail "a 200 answer to a Range request is one restart: $OUT"
[ "$(json downloaded_bytes)" = "$SIZE" ] || fail "restart should fetch everything: $OUT"
grep '"query":"?norange=1"' "$LOG" | grep -q '"range":"bytes=100000-","auth":null,"status":200' ||
  fail "the server should have ignored a Range request"
same_file "$TMP/d4/m.gguf"

# --- 206 at the wrong offset: restart without Range -----------------------
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?cut=100000" --retries 0 -o "$TMP/d5"
run_ok "$FRUGAL" pull "$BASE/m.gguf?badrange=1" --sha256 "$SHA" -o "$TMP/d5" --json
[ "$(json restarts)" = 1 ] || fail "a misplaced 206 should restart once: $OUT"
same_file "$TMP/d5/m.gguf"

# --- .part longer than the file: restart ----------------------------------
mkdir -p "$TMP/d6"
head -c $((SIZE + 100)) /dev/urandom >"$TMP/d6/m.gguf.part"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --size "$SIZE" -o "$TMP/d6" --json
[ "$(json restarts)" = 1 ] || fail "an oversized .part (known size) should restart: $OUT"
same_file "$TMP/d6/m.gguf"
# ... also when the size is only learnt from the server (416 on the Range).
head -c $((SIZE + 100)) /dev/urandom >"$TMP/d6/m.gguf.part"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --force -o "$TMP/d6" --json
[ "$(json restarts)" = 1 ] || fail "an oversized .part (416) should restart: $OUT"
same_file "$TMP/d6/m.gguf"
# ... and a .part that is already whole needs no body at all (416, total = size).
cp "$SRV/m.gguf" "$TMP/d6/m.gguf.part"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --force --sha256 "$SHA" -o "$TMP/d6" --json
[ "$(json downloaded_bytes)" = 0 ] || fail "a complete .part should not be fetched again: $OUT"
same_file "$TMP/d6/m.gguf"

# --- HTTP errors: messages and exit codes, nothing left behind ------------
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?status=404" -o "$TMP/e"
expect_contains "$ERR" "HTTP 404"
expect_contains "$ERR" "frugal pull --list"
no_file "$TMP/e/m.gguf"
no_file "$TMP/e/m.gguf.part"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?status=403" -o "$TMP/e"
expect_contains "$ERR" "HTTP 403"
expect_contains "$ERR" "accept its licence"
expect_contains "$ERR" "HF_TOKEN"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?status=401" -o "$TMP/e"
expect_contains "$ERR" "HTTP 401"
no_file "$TMP/e/m.gguf.part"
run_status 1 "$FRUGAL" pull "$BASE/missing.gguf" -o "$TMP/e"
expect_contains "$ERR" "HTTP 404"
# Hugging Face names the case in X-Error-Code (and answers 401 for unknown repos).
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?status=401&hferror=RepoNotFound" -o "$TMP/e"
expect_contains "$ERR" "no such repository"
expect_not_contains "$ERR" "licence"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?status=403&hferror=GatedRepo" -o "$TMP/e"
expect_contains "$ERR" "accept its licence"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?status=404&hferror=EntryNotFound" -o "$TMP/e"
expect_contains "$ERR" "no such file"

# --- redirects are followed -----------------------------------------------
run_ok "$FRUGAL" pull "$BASE/m.gguf?redirect=3" --sha256 "$SHA" -o "$TMP/d7"
same_file "$TMP/d7/m.gguf"
[ "$(grep -c '"status":302' "$LOG")" -ge 3 ] || fail "expected 3 redirects in the server log"

# --- Hugging Face's X-Linked-Etag / X-Linked-Size are checked -------------
run_ok "$FRUGAL" pull "$BASE/m.gguf?redirect=1&linked=1" -o "$TMP/d8" --json
[ "$(json sha256_source)" = server ] || fail "sha256 should come from X-Linked-Etag: $OUT"
same_file "$TMP/d8/m.gguf"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?redirect=1&linked=1&corrupt=1" -o "$TMP/d9"
expect_contains "$ERR" "sha256 mismatch"
no_file "$TMP/d9/m.gguf"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?redirect=1&linked=1" --sha256 "$BAD_SHA" -o "$TMP/d9"
expect_contains "$ERR" "replaced upstream"
no_file "$TMP/d9/m.gguf"

# --- wrong body: hash mismatch, wrong size, not GGUF ----------------------
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?corrupt=1" --sha256 "$SHA" -o "$TMP/d10"
expect_contains "$ERR" "sha256 mismatch"
expect_contains "$ERR" "$SHA"
no_file "$TMP/d10/m.gguf"
no_file "$TMP/d10/m.gguf.part"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?truncate=1000" --size "$SIZE" -o "$TMP/d10"
expect_contains "$ERR" "1000 bytes"
no_file "$TMP/d10/m.gguf"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?truncate=1000" --sha256 "$SHA" -o "$TMP/d10"
expect_contains "$ERR" "sha256 mismatch"
no_file "$TMP/d10/m.gguf"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?html=1" -o "$TMP/d10"
expect_contains "$ERR" "not a GGUF file"
no_file "$TMP/d10/m.gguf"
# A mismatch after a resume first gets one clean restart: here the old
# prefix is garbage but the server's file is right, so the retry succeeds.
mkdir -p "$TMP/d11"
head -c 50000 /dev/urandom >"$TMP/d11/m.gguf.part"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d11" --json
[ "$(json restarts)" = 1 ] || fail "a bad resumed prefix should restart once: $OUT"
same_file "$TMP/d11/m.gguf"

# --- no Content-Length (chunked) ------------------------------------------
run_ok "$FRUGAL" pull "$BASE/m.gguf?nolength=1" --sha256 "$SHA" -o "$TMP/d12"
same_file "$TMP/d12/m.gguf"

# --- plain http only to loopback; no network is explained -----------------
run_status 2 "$FRUGAL" pull "http://example.invalid/m.gguf" -o "$TMP/e"
expect_contains "$ERR" "refusing plain http"
expect_contains "$ERR" "--insecure-http"
run_status 2 "$FRUGAL" pull "ftp://127.0.0.1/m.gguf" -o "$TMP/e"
# a refused connection is not "no network": the host answered, nothing listens there
run_status 1 "$FRUGAL" pull "http://127.0.0.1:1/m.gguf" -o "$TMP/e" --connect-timeout 5
expect_contains "$ERR" "refused the connection"
expect_not_contains "$ERR" "no network"
no_file "$TMP/e/m.gguf.part"
# a name that does not resolve is (as far as frugal can tell) no network
run_status 1 "$FRUGAL" pull "https://frugal-test.invalid/m.gguf" -o "$TMP/e" --connect-timeout 5
expect_contains "$ERR" "no network"
expect_contains "$ERR" "FRUGAL_MODEL="
no_file "$TMP/e/m.gguf.part"

# --- HF_TOKEN goes to the Hugging Face endpoint only ----------------------
n=$(log_count)
HF_TOKEN=sekrit run_ok "$FRUGAL" pull "$BASE/m.gguf" --force -o "$TMP/d13"
tail -n +$((n + 1)) "$LOG" | grep -q sekrit && fail "HF_TOKEN was sent to a host that is not Hugging Face"
n=$(log_count)
HF_ENDPOINT="$BASE" HF_TOKEN=sekrit run_ok "$FRUGAL" pull hf:someone/some-model-GGUF/m.gguf \
  --sha256 "$SHA" -o "$TMP/d14"
same_file "$TMP/d14/m.gguf"
tail -n +$((n + 1)) "$LOG" | grep -q '"path":"/someone/some-model-GGUF/resolve/main/m.gguf".*"auth":"Bearer sekrit"' ||
  fail "hf: spec should map to /resolve/main/ and carry the token to the endpoint"
HF_ENDPOINT="$BASE" HF_TOKEN=sekrit run_status 1 "$FRUGAL" pull hf:someone/status-403/m.gguf -o "$TMP/e"
expect_contains "$ERR" "open $BASE/someone/status-403 while logged in"
expect_contains "$ERR" "HF_TOKEN was sent and refused"
HF_ENDPOINT="$BASE" run_ok "$FRUGAL" pull hf:someone/some-model-GGUF@v1.0/m.gguf --dry-run --json
[ "$(json url)" = "$BASE/someone/some-model-GGUF/resolve/v1.0/m.gguf" ] || fail "hf:@rev url: $OUT"

# --- Ctrl-C keeps the .part; the next run resumes -------------------------
mkdir -p "$TMP/d15"
"$FRUGAL" pull "$BASE/m.gguf?stall=60000" -o "$TMP/d15" >"$TMP/c.out" 2>"$TMP/c.err" &
PID=$!
for _ in $(seq 200); do [ "$(fsize "$TMP/d15/m.gguf.part")" -ge 60000 ] && break; sleep 0.05; done
kill -INT $PID
wait $PID
RC=$?
[ "$RC" = 1 ] || fail "Ctrl-C should exit 1, got $RC"
grep -q "interrupted" "$TMP/c.err" || fail "Ctrl-C message missing: $(cat "$TMP/c.err")"
[ "$(fsize "$TMP/d15/m.gguf.part")" = 60000 ] || fail ".part should be kept after Ctrl-C"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d15" --json
[ "$(json resumed)" = true ] || fail "run after Ctrl-C should resume: $OUT"
same_file "$TMP/d15/m.gguf"

# --- a stalled transfer times out and keeps the .part ---------------------
# (curl averages the speed over a few seconds, so stall almost at once.)
run_status 1 "$FRUGAL" pull "$BASE/m.gguf?stall=100" --timeout 1 --retries 0 -o "$TMP/d16"
expect_contains "$ERR" "stalled"
[ "$(fsize "$TMP/d16/m.gguf.part")" = 100 ] || fail ".part should be kept after a stall"

# --- disk full (file-size limit): .part kept, resumable -------------------
mkdir -p "$TMP/d17"
(trap '' XFSZ; ulimit -f 100; exec "$FRUGAL" pull "$BASE/m.gguf" -o "$TMP/d17") >"$TMP/f.out" 2>"$TMP/f.err"
[ $? = 1 ] || fail "a write failure should exit 1"
grep -q "cannot write" "$TMP/f.err" || fail "write failure message missing: $(cat "$TMP/f.err")"
no_file "$TMP/d17/m.gguf"
P=$(fsize "$TMP/d17/m.gguf.part")
[ "$P" -gt 0 ] || fail "a .part should be kept after a write failure"
run_ok "$FRUGAL" pull "$BASE/m.gguf" --sha256 "$SHA" -o "$TMP/d17"
same_file "$TMP/d17/m.gguf"
run_status 1 "$FRUGAL" pull "$BASE/m.gguf" --size 999999999999999 -o "$TMP/d18"
expect_contains "$ERR" "not enough disk space"

# --- one writer per .part --------------------------------------------------
if command -v flock >/dev/null 2>&1; then
  mkdir -p "$TMP/d19"
  : >"$TMP/d19/m.gguf.part"
  # Hold the lock until told to let go (no timing guesses).
  flock "$TMP/d19/m.gguf.part" bash -c 'while [ ! -e "$0" ]; do sleep 0.05; done' "$TMP/release" &
  LPID=$!
  for _ in $(seq 200); do flock -n "$TMP/d19/m.gguf.part" true || break; sleep 0.05; done
  run_status 1 "$FRUGAL" pull "$BASE/m.gguf" -o "$TMP/d19"
  expect_contains "$ERR" "another frugal pull"
  [ -e "$TMP/d19/m.gguf.part" ] || fail "another writer's .part must not be removed"
  touch "$TMP/release"
  wait $LPID
fi

# --- progress goes to stderr, never stdout --------------------------------
FRUGAL_PROGRESS=1 run_ok "$FRUGAL" pull "$BASE/m.gguf" --force -o "$TMP/d20"
expect_contains "$ERR" "downloading m.gguf"
[ "$OUT" = "$TMP/d20/m.gguf" ] || fail "progress leaked to stdout: '$OUT'"

# --- registry, names, usage -----------------------------------------------
run_ok "$FRUGAL" pull --list
expect_contains "$OUT" "qwen2.5-0.5b"
expect_contains "$OUT" "smollm2-135m"
expect_contains "$OUT" "llama-3.2-1b"
run_ok "$FRUGAL" pull --list --json
expect_contains "$OUT" '"sha256": "74a4da8c9fdbcd15bd1f6d01d621410d31c6fc00986f5eb687824e7b93d7a9db"'
run_ok "$FRUGAL" pull qwen2.5-0.5b --dry-run --json
[ "$(json url)" = "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/12145bd1d629190a4d44254073650877954d02c9/qwen2.5-0.5b-instruct-q4_k_m.gguf" ] ||
  fail "registry url: $OUT"
[ "$(json path)" = "$XDG_CACHE_HOME/frugal/models/qwen2.5-0.5b-instruct-q4_k_m.gguf" ] || fail "registry path: $OUT"
[ "$(json bytes)" = 491400032 ] || fail "registry size: $OUT"
run_status 2 "$FRUGAL" pull no-such-model
expect_contains "$ERR" "unknown model 'no-such-model'"
run_status 2 "$FRUGAL" pull
run_status 2 "$FRUGAL" pull "$BASE/m.gguf" --sha256 xyz
run_status 2 "$FRUGAL" pull "$BASE/" -o "$TMP/e"
expect_contains "$ERR" "file name"
run_status 2 "$FRUGAL" pull "hf:a/b/../x.gguf"
run_ok "$FRUGAL" pull --help
expect_contains "$OUT" "usage: frugal pull"

finish
