#!/usr/bin/env bash
# frugal serve against hostile input: truncated JSON, wrong types, huge
# numbers, deep nesting, invalid UTF-8, NULs, a 20 MB body (plain and
# chunked), 10,000 messages, oversized headers, garbage instead of HTTP,
# and slow clients that hold connections open. Each gets the right answer
# and the server keeps serving (checked after every group).
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/support/serve_common.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf
J='-H Content-Type:application/json'

serve_start -m "$M" --timeout 2 --read-timeout 2 --parallel 2 --max-connections 64
serve_wait_ready

alive() {
  expect_status 200 POST /v1/completions $J -d '{"model":"stories260K","prompt":"Once","max_tokens":2}'
  kill -0 "$SPID" 2>/dev/null || { fail "the server died"; exit 1; }
}

# body from a file (bytes exactly as written), expect a 400 in OpenAI's shape
bad_file() { # FILE [PATH]
  expect_status 400 POST "${2:-/v1/chat/completions}" $J --data-binary "@$1"
  expect_error_shape
}
bad() { # TEXT [PATH]
  printf '%s' "$1" > "$TMP/in"
  bad_file "$TMP/in" "${2:-/v1/chat/completions}"
}

# ---- truncated JSON, not an object, empty -----------------------------------------
full='{"model":"stories260K","messages":[{"role":"user","content":"Hello there"}],"max_tokens":3}'
for n in 1 2 10 20 30 50 70 $(( ${#full} - 1 )); do bad "${full:0:$n}"; done
for t in '[1,2]' '"str"' 'null' '42' 'true' '{}' '{"model":"stories260K","messages":[{}]}' \
         '{"model":"stories260K","messages":[{"role":"user"}]}' '{"a":1}{"b":2}' '{"model":1}'; do
  bad "$t"
done
expect_status 400 POST /v1/chat/completions $J           # no body at all
expect_error_shape
bad '{"model":"stories260K","prompt":"x","prompt":"y"}' /v1/completions   # duplicate key
alive

# ---- wrong types ---------------------------------------------------------------------
m='"model":"stories260K","messages":[{"role":"user","content":"x"}]'
for f in '"messages":"hi"' '"messages":{}' ; do bad "{\"model\":\"stories260K\",$f}"; done
for f in '"max_tokens":"10"' '"max_tokens":1.5' '"temperature":"hot"' '"stream":"yes"' \
         '"stop":5' '"stop":[1]' '"stop":["a","b","c","d","e"]' '"seed":"1"' '"logprobs":1' \
         '"logit_bias":[]' '"logit_bias":{"x":1}' '"stream_options":5' '"top_k":-1' '"n":"1"' \
         '"presence_penalty":9' '"top_p":-0.1'; do
  bad "{$m,$f}"
done
bad '{"model":"stories260K","messages":[{"role":"user","content":5}]}'
bad '{"model":"stories260K","messages":[{"role":5,"content":"x"}]}'
bad '{"model":"stories260K","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}'
bad '{"model":"stories260K","messages":["x"]}'
bad '{"model":"stories260K","prompt":{"a":1}}' /v1/completions
bad '{"model":"stories260K","prompt":[[1,2],[3]]}' /v1/completions
bad '{"model":"stories260K","prompt":[1,"a"]}' /v1/completions
bad '{"tokens":"abc"}' /detokenize
bad '{"content":5}' /tokenize
alive

# ---- huge numbers --------------------------------------------------------------------
for v in 1e309 -1e309 99999999999999999999999999 1e308 -9223372036854775809 0 -5; do
  bad "{$m,\"max_tokens\":$v}"
done
# a huge positive max_tokens is accepted: generation stops at the context
for v in 4294967296 1099511627776; do
  expect_status 200 POST /v1/chat/completions $J -d "{$m,\"max_tokens\":$v,\"stop\":[\" \"]}"
done
bad "{$m,\"temperature\":1e308}"
bad "{$m,\"seed\":18446744073709551616}"
bad "{\"model\":\"stories260K\",\"prompt\":[9223372036854775807]}" /v1/completions
# a seed as large as int64 allows is fine
expect_status 200 POST /v1/chat/completions $J -d "{$m,\"seed\":-9223372036854775808,\"max_tokens\":2}"
alive

# ---- deep nesting ------------------------------------------------------------------------
node -e 'process.stdout.write("[".repeat(200000))' > "$TMP/deep1"
bad_file "$TMP/deep1"
node -e 'process.stdout.write("{\"model\":\"stories260K\",\"metadata\":" + "{\"a\":".repeat(100000) + "1" + "}".repeat(100000) + "}")' > "$TMP/deep2"
bad_file "$TMP/deep2"
alive

# ---- invalid UTF-8, NUL ------------------------------------------------------------------
printf '{"model":"stories260K","messages":[{"role":"user","content":"\xff\xfe bad"}]}' > "$TMP/u1"
bad_file "$TMP/u1"
printf '{"model":"stories260K","messages":[{"role":"user","content":"\xc0\xaf overlong"}]}' > "$TMP/u2"
bad_file "$TMP/u2"
printf '{"model":"stories260K","messages":[{"role":"user","content":"\xed\xa0\x80 surrogate"}]}' > "$TMP/u3"
bad_file "$TMP/u3"
printf '{"model":"stories260K","prompt":"\xe2\x82"}' > "$TMP/u4"
bad_file "$TMP/u4" /v1/completions
bad '{"model":"stories260K","messages":[{"role":"user","content":"a\u0000b"}]}'
printf '{"model":"stories\x00260K","prompt":"x"}' > "$TMP/u5"
bad_file "$TMP/u5" /v1/completions
# valid but unusual text is fine: escapes, emoji, lone surrogate escapes rejected
expect_status 200 POST /v1/chat/completions $J -d \
  '{"model":"stories260K","messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00 \"q\" \\ \n"}],"max_tokens":2}'
bad '{"model":"stories260K","messages":[{"role":"user","content":"\ud800"}]}'
alive

# ---- 20 MB bodies: declared and chunked --------------------------------------------------
head -c 20000000 /dev/zero | tr '\0' 'a' > "$TMP/big"
expect_status 413 POST /v1/chat/completions $J --data-binary "@$TMP/big"
expect_error_shape request_too_large
expect_status 413 POST /v1/chat/completions $J -H "Transfer-Encoding: chunked" --data-binary "@$TMP/big"
alive

# ---- 10,000 messages (limit 4096), and 4,000 that do not fit the context --------------------
node -e '
  const n = Number(process.argv[1]);
  const msgs = Array.from({length: n}, (_, i) => ({role: i % 2 ? "assistant" : "user", content: "hi " + i}));
  process.stdout.write(JSON.stringify({model: "stories260K", messages: msgs}));' 10000 > "$TMP/m10k"
bad_file "$TMP/m10k"
expect_contains "$BODY" "4096"
node -e '
  const msgs = Array.from({length: 4000}, (_, i) => ({role: i % 2 ? "assistant" : "user", content: "hi " + i}));
  process.stdout.write(JSON.stringify({model: "stories260K", messages: msgs}));' > "$TMP/m4k"
bad_file "$TMP/m4k"
expect_error_shape context_length_exceeded
alive

# ---- headers: too large, too many; garbage instead of HTTP --------------------------------
hdr=$(head -c 100000 /dev/zero | tr '\0' 'x')
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $hdr" "$BASE/health")
case "$CODE" in 413|414|431|400|000) ;; *) fail "100 kB header: status $CODE" ;; esac
args=()
for i in $(seq 1 3000); do args+=(-H "X-H$i: v"); done
CODE=$(curl -s -o /dev/null -w '%{http_code}' "${args[@]}" "$BASE/health")
case "$CODE" in 413|414|431|400|000) ;; *) fail "3000 headers: status $CODE" ;; esac
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GARBAGE \x01\x02\x03\r\n\r\n' >&3
timeout 5 cat <&3 > "$TMP/garbage" || true
exec 3>&-
expect_contains "$(head -c 200 "$TMP/garbage")" "HTTP/1.1 400"
alive

# ---- slow clients ------------------------------------------------------------------------
# 20 connections that send half a request line, one that promises a body and
# sends 10 bytes: the others are still served, and the server closes the
# idle ones after --read-timeout (2 s).
for i in $(seq 4 23); do
  eval "exec $i<>/dev/tcp/127.0.0.1/$PORT"
  printf 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n' >&$i
done
exec 24<>"/dev/tcp/127.0.0.1/$PORT"
printf 'POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"model":' >&24
t0=$(date +%s%N)
alive
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 1500 ] || fail "a request took $ms ms while slow clients held connections"
sleep 3
# the server has closed them: reading gives EOF (or an error status) at once
for i in 4 13 24; do
  out=$(timeout 2 cat <&$i; echo "rc=$?")
  case "$out" in *"rc=124"*) fail "slow connection $i still open after the timeout" ;; esac
done
for i in $(seq 4 24); do eval "exec $i>&-"; done
alive

# a client that reads its stream slowly does not hold up others (the
# scheduler only queues output; the connection's own thread writes it)
curl -sN --limit-rate 4k $J "$BASE/v1/completions" -o "$TMP/slowread" \
  -d '{"model":"stories260K","prompt":"Once upon a time","max_tokens":20,"stream":true}' & SLOW=$!
sleep 0.3
alive
wait "$SLOW"
expect_contains "$(tail -c 100 "$TMP/slowread")" "data: [DONE]"

grep -c " 400 " "$SLOG" > /dev/null || fail "no 400 in the access log"
serve_stop
finish
