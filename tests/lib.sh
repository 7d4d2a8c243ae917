# Helpers for the CLI tests (sourced, not run). Each run_* stores stdout in
# $OUT, stderr in $ERR and the status in $RC; failures are counted and
# reported by finish, which sets the exit status.
FAILS=0
: "${FRUGAL:?FRUGAL must name the frugal binary}"
SHARED=${FR_SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/frugal-cli-XXXXXX")
trap 'rm -rf "$TMP"' EXIT

_run() {
  "$@" >"$TMP/out" 2>"$TMP/err"
  RC=$?
  OUT=$(cat "$TMP/out")
  ERR=$(cat "$TMP/err")
}
fail() {
  echo "FAIL (line ${BASH_LINENO[1]}): $*" >&2
  FAILS=$((FAILS + 1))
}
run_ok() {
  _run "$@"
  [ "$RC" -eq 0 ] || fail "expected exit 0, got $RC: $* :: $ERR"
}
run_status() {
  local want=$1; shift
  _run "$@"
  [ "$RC" -eq "$want" ] || fail "expected exit $want, got $RC: $* :: $ERR"
}
expect_contains() {
  case "$1" in *"$2"*) ;; *) fail "expected output to contain '$2', got: ${1:0:400}" ;; esac
}
expect_not_contains() {
  case "$1" in *"$2"*) fail "expected output not to contain '$2'" ;; *) ;; esac
}
need_shared() {
  [ -e "$SHARED/$1" ] || { echo "SKIP: $SHARED/$1 missing"; exit 77; }
}
finish() {
  if [ "$FAILS" -ne 0 ]; then echo "$FAILS failure(s)" >&2; exit 1; fi
  echo "ok"
  exit 0
}

# npm_pinned DIR PKG@VERSION: true when DIR/node_modules holds that version.
npm_pinned() {
  grep -qs "\"version\": \"${2##*@}\"" "$1/node_modules/${2%@*}/package.json"
}
# npm_install_once DIR PKG@VERSION...: the pinned npm packages, installed into
# DIR once (under a lock: the tests of one build tree share it); skips the
# test (exit 77) when npm cannot install them (no registry).
npm_install_once() {
  local root=$1 p; shift
  mkdir -p "$root"
  (
    flock 9
    for p in "$@"; do
      npm_pinned "$root" "$p" && continue
      cd "$root" && timeout 600 npm install --no-audit --no-fund --silent --omit=optional \
        --prefix "$root" "$@" >"$root/npm.log" 2>&1
      break
    done
  ) 9>"$root/.lock"
  for p in "$@"; do
    npm_pinned "$root" "$p" && continue
    echo "SKIP: npm install $* failed (no registry?): $(tail -3 "$root/npm.log" 2>/dev/null)"
    exit 77
  done
}
