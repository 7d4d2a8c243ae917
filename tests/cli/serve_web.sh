#!/usr/bin/env bash
# The web page of `frugal serve` (GET /). Over plain HTTP: every file of web/
# comes back byte for byte with its content type, a strict
# Content-Security-Policy, nosniff, an ETag that revalidates to 304; the
# page is public while the API keeps its key; unknown files, other methods
# and path tricks are 404/405; --no-web turns the page off. Then in a real
# headless browser (Debian's chromium driven by playwright-core, pinned from
# npm; skipped, exit 77, without them; not run under the sanitizers, whose
# server checks are the HTTP ones): support/serve_web.js, which saves its
# screenshots in the build tree (web-screenshots/).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf
WEB=$(cd "$(dirname "$0")/../../web" && pwd)
CORPUS=$(cd "$(dirname "$0")/../data/rag" && pwd)
KEY=web-secret-$$
A=(-H "Authorization: Bearer $KEY")

# a small folder: the RAG test corpus and a note with markup in it
mkdir -p "$TMP/docs"
cp "$CORPUS"/products.md "$CORPUS"/warranty.txt "$CORPUS"/returns-policy.html "$TMP/docs/"
printf '%s\n' 'Zorblax console notes' '' \
  'When the Zorblax firmware fails, the Zorblax console prints <script>alert(1)</script> and' \
  '<img src=x onerror=alert(2)> on its screen. Restart the Zorblax console to clear it.' \
  > "$TMP/docs/zorblax-notes.txt"
run_ok "$FRUGAL" index --db "$TMP/kb.sqlite" "$TMP/docs"
# what retrieval gives for the question the documents answer (no model)
run_ok "$FRUGAL" ask --db "$TMP/kb.sqlite" --retrieve-only --json "What does the Aurora X2 thermometer cost?"
printf '%s' "$OUT" > "$TMP/retrieved.json"

FRUGAL_API_KEY=$KEY serve_start -m "$M" --db "$TMP/kb.sqlite" --parallel 2 --ctx 2304 \
  --energy-meter estimate --price-kwh 0.25
serve_wait_ready

# ---- the files ----------------------------------------------------------------
# (name URL file content-type)
while read -r url file type; do
  expect_status 200 GET "$url"
  cmp -s "$TMP/body" "$WEB/$file" || fail "GET $url is not web/$file byte for byte"
  expect_contains "$HDRS" "Content-Type: $type"
  expect_contains "$HDRS" "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
  expect_contains "$HDRS" "frame-ancestors 'none'"
  expect_not_contains "$HDRS" "unsafe-inline"
  expect_contains "$HDRS" "X-Content-Type-Options: nosniff"
  expect_contains "$HDRS" "Cache-Control: no-cache"
  etag=$(printf '%s' "$HDRS" | sed -n 's/^ETag: *\(.*\)\r$/\1/p')
  [ -n "$etag" ] || fail "GET $url: no ETag"
  rm -f "$TMP/body"
  expect_status 304 GET "$url" -H "If-None-Match: $etag"
  [ -s "$TMP/body" ] && fail "304 for $url has a body"
done <<EOF
/ index.html text/html; charset=utf-8
/index.html index.html text/html; charset=utf-8
/web/index.html index.html text/html; charset=utf-8
/web/app.js app.js text/javascript; charset=utf-8
/web/app.css app.css text/css; charset=utf-8
/web/favicon.svg favicon.svg image/svg+xml
EOF
expect_status 304 GET /web/app.js -H 'If-None-Match: *'
expect_status 200 GET /web/app.js -H 'If-None-Match: "0123"'
# HEAD: the headers and the length, no body
CODE=$(curl -s -I -o "$TMP/head" -w '%{http_code}' "$BASE/")
[ "$CODE" = 200 ] || fail "HEAD /: $CODE"
expect_contains "$(cat "$TMP/head")" "Content-Length: $(wc -c < "$WEB/index.html")"
# the page holds no inline script, handler or style for the policy to forbid
for f in "$WEB"/*.html; do
  grep -Eio '<script[^>]*>' "$f" | grep -viq 'src=' && fail "$f: an inline script"
  grep -Eiq '[[:space:]]on[a-z]+=' "$f" && fail "$f: an event-handler attribute"
  grep -Eiq '[[:space:]]style=' "$f" && fail "$f: a style attribute"
done
grep -v '^ *\(\*\|//\)' "$WEB/app.js" | grep -q 'innerHTML\|outerHTML\|insertAdjacentHTML\|document.write' &&
  fail "app.js builds HTML from strings"
# unknown files, traversal, methods
for u in /web/nope.js /web/ /web/../CMakeLists.txt /web/..%2fCMakeLists.txt /web//app.js /app.js /web/APP.JS; do
  CODE=$(curl -s --path-as-is -o "$TMP/body" -w '%{http_code}' "$BASE$u")
  [ "$CODE" = 404 ] || fail "GET $u: $CODE, want 404"
done
BODY=$(cat "$TMP/body")
expect_error_shape unknown_url
expect_status 405 POST / -d x
expect_error_shape method_not_allowed
expect_contains "$HDRS" "Allow: GET, HEAD"
# the page is public, the API is not; /props tells the page what it needs
expect_status 401 GET /props
expect_status 200 GET /props "${A[@]}"
[ "$(json_get "$TMP/body" '[j.ask, j.price_kwh].join()')" = "true,0.25" ] || fail "/props: ${BODY:0:300}"
expect_status 404 GET /nothing-here
expect_contains "$BODY" "web page at /"
expect_status 200 GET /metrics "${A[@]}"
expect_contains "$BODY" 'frugal_requests_total{endpoint="web",status="200"}'

# ---- the browser -------------------------------------------------------------------
BROWSER=skip
CHROMIUM=${FR_CHROMIUM:-/usr/bin/chromium}
PLAYWRIGHT_VERSION=1.65.2
if [ -n "${FR_SANITIZED:-}" ]; then
  BROWSER=sanitized
elif [ -x "$CHROMIUM" ] && ( npm_install_once "${FR_BUILD:-$TMP}/web-npm" "playwright-core@$PLAYWRIGHT_VERSION" ) > "$TMP/npm.out" 2>&1; then
  BROWSER=run
  SHOTS=${FR_BUILD:-$TMP}/web-screenshots
  rm -rf "$SHOTS" && mkdir -p "$SHOTS"
  BASE=$BASE KEY=$KEY SHOTS=$SHOTS CHROMIUM=$CHROMIUM RETRIEVED=$TMP/retrieved.json \
    WEB_NODE_MODULES=${FR_BUILD:-$TMP}/web-npm/node_modules \
    timeout 600 node "$(dirname "$0")/support/serve_web.js" > "$TMP/web.out" 2>&1 ||
    fail "the page in the browser: $(tail -25 "$TMP/web.out")"
  cat "$TMP/web.out"
fi
serve_stop
expect_not_contains "$(cat "$SLOG")" "$KEY"

# ---- --no-web: the paths are unknown URLs again -----------------------------------
serve_start -m "$M" --no-web
serve_wait_ready
for u in / /index.html /web/app.js; do
  expect_status 404 GET "$u"
  expect_error_shape unknown_url
  expect_not_contains "$BODY" "web page"
done
expect_status 200 GET /health
serve_stop

if [ "$BROWSER" = skip ] && [ "$FAILS" -eq 0 ]; then
  echo "SKIP: the browser part needs $CHROMIUM (apt-get install chromium) and npm's" \
       "playwright-core@$PLAYWRIGHT_VERSION: $(tail -2 "$TMP/npm.out" 2>/dev/null)"
  exit 77
fi
finish
