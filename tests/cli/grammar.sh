#!/usr/bin/env bash
# frugal run --grammar / --json-schema on stories260K (a model that knows
# nothing of JSON): the output follows the grammar or parses as JSON with
# the schema's shape, greedy and sampled; bad grammars and schemas are
# errors that say where and why, before the model loads.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
command -v node >/dev/null || { echo "SKIP: node is needed to read the JSON"; exit 77; }
M=$SHARED/models/stories260K.gguf

cat > "$TMP/yes.gbnf" <<'G'
# an answer, a reason of lowercase words, a full stop
root ::= ("yes" | "no") ", because " word (" " word){0,5} "."
word ::= [a-z]+
G
SEEDS="1 2 3"; TEMPS="0 1"
[ -n "${FR_SANITIZED:-}" ] && { SEEDS=1; TEMPS=1; } # one case of each under the sanitizers
for s in $SEEDS; do
  run_ok "$FRUGAL" run -m "$M" -p "Once upon a time" --grammar "$TMP/yes.gbnf" --seed $s -n 60
  printf '%s' "$OUT" | grep -Eq '^(yes|no), because [a-z]+( [a-z]+){0,5}\.$' ||
    fail "seed $s: output does not follow the grammar: '$OUT'"
  expect_contains "$ERR" "finish: stop"
done

cat > "$TMP/person.json" <<'S'
{"type": "object",
 "properties": {"name": {"type": "string", "maxLength": 12},
                "age": {"type": "integer", "minimum": 0, "maximum": 120},
                "pets": {"type": "array", "items": {"enum": ["cat", "dog"]}, "maxItems": 2},
                "born": {"type": "string", "format": "date"}},
 "required": ["name", "age", "pets", "born"], "additionalProperties": false}
S
for t in $TEMPS; do
  run_ok "$FRUGAL" run -m "$M" -p "Lily" --json-schema "$TMP/person.json" --temp $t --seed 5 -n 300
  printf '%s' "$OUT" > "$TMP/out.json"
  node -e '
    const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const ok = typeof j.name === "string" && [...j.name].length <= 12 && Number.isInteger(j.age) &&
      j.age >= 0 && j.age <= 120 && Array.isArray(j.pets) && j.pets.length <= 2 &&
      j.pets.every(p => p === "cat" || p === "dog") && /^\d{4}-\d\d-\d\d$/.test(j.born) &&
      !isNaN(Date.parse(j.born)) && Object.keys(j).length === 4;
    if (!ok) { console.error(JSON.stringify(j)); process.exit(1); }' "$TMP/out.json" ||
    fail "temp $t: output does not fit the schema: '$OUT'"
done

# frugal chat --tools: calls are shown, parse and fit the schema; /tool NAME JSON answers one
cat > "$TMP/tools.json" <<'T'
[{"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
  "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}},
                 "required": ["city"], "additionalProperties": false}}}]
T
printf 'Weather in Paris?\n/tool get_weather {"temp": 21}\n/tool nope {}\n' |
  "$FRUGAL" chat -m "$M" --tools "$TMP/tools.json" --tool-choice required -n 120 --seed 3 \
  > "$TMP/chat.out" 2> "$TMP/chat.err" || fail "chat --tools failed: $(tail -3 "$TMP/chat.err")"
grep -q '^\[tool call call_1\] get_weather {' "$TMP/chat.out" || fail "no call shown: $(head -5 "$TMP/chat.out")"
grep -q '^\[tool call call_[2-9]' "$TMP/chat.out" || fail "no call after the pasted result: $(cat "$TMP/chat.out")"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.startsWith("[tool call "));
  for (const l of lines) {
    const a = JSON.parse(l.replace(/^\[tool call call_[0-9]+\] get_weather /, ""));
    if (typeof a.city !== "string" || [...a.city].length > 20 || Object.keys(a).length !== 1) process.exit(1);
  }' "$TMP/chat.out" || fail "a call's arguments do not fit the schema: $(cat "$TMP/chat.out")"
expect_contains "$(cat "$TMP/chat.err")" "no call to that tool is waiting"

# gpt-oss (harmony): the reasoning shown apart from the answer ("Thinking...", Ollama's way),
# or hidden; never the channel markers
printf 'Weather in Paris?\n' |
  "$FRUGAL" chat -m "$M" --chat-template gpt-oss --tools "$TMP/tools.json" --tool-choice none -n 80 \
  --seed 1 > "$TMP/h.out" 2> "$TMP/h.err" || fail "chat gpt-oss failed: $(tail -3 "$TMP/h.err")"
grep -q '^Thinking\.\.\.$' "$TMP/h.out" && grep -q '^\.\.\.done thinking\.$' "$TMP/h.out" ||
  fail "chat gpt-oss: no reasoning shown: $(head -5 "$TMP/h.out")"
! grep -q '<|' "$TMP/h.out" || fail "chat gpt-oss shows channel markers: $(head -5 "$TMP/h.out")"
printf 'Weather in Paris?\n' |
  "$FRUGAL" chat -m "$M" --chat-template gpt-oss --tools "$TMP/tools.json" --tool-choice none -n 80 \
  --seed 1 --hide-reasoning > "$TMP/h2.out" 2>/dev/null
! grep -q 'Thinking' "$TMP/h2.out" || fail "--hide-reasoning shows it: $(head -3 "$TMP/h2.out")"
# run --chat: stdout the final channel only, the reasoning on stderr, both in --json
printf 'root ::= "<|channel|>analysis<|message|>" [a-z] [a-z] [a-z] "<|end|><|start|>assistant<|channel|>final<|message|>" [a-z] [a-z] [a-z] [a-z]\n' > "$TMP/h.gbnf"
_run "$FRUGAL" run -m "$M" --chat --chat-template gpt-oss -p Hi --grammar "$TMP/h.gbnf" --seed 1
[ "$RC" -eq 0 ] && printf '%s' "$OUT" | grep -qx '[a-z][a-z][a-z][a-z]' || fail "run gpt-oss stdout: '$OUT' ($ERR)"
printf '%s' "$ERR" | grep -q '^Thinking\.\.\.$' || fail "run gpt-oss: no reasoning on stderr: $ERR"
_run "$FRUGAL" run -m "$M" --chat --chat-template gpt-oss -p Hi --grammar "$TMP/h.gbnf" --seed 1 --json
printf '%s' "$OUT" | node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
  process.exit(/^[a-z]{4}$/.test(j.text) && /^[a-z]{3}$/.test(j.reasoning) ? 0 : 1)' ||
  fail "run gpt-oss --json: $OUT"

# errors: where and why, exit 1; both options at once is a usage error
printf 'root ::= "a" bad\n' > "$TMP/bad.gbnf"
run_status 1 "$FRUGAL" run -m "$M" -p x --grammar "$TMP/bad.gbnf"
expect_contains "$ERR" "bad.gbnf:1:14: rule 'bad' is used but not defined"
printf '{"type": "string", "format": "hostname"}' > "$TMP/bad.json"
run_status 1 "$FRUGAL" run -m "$M" -p x --json-schema "$TMP/bad.json"
expect_contains "$ERR" '"format": "hostname" is not supported'
run_status 2 "$FRUGAL" run -m "$M" -p x --grammar "$TMP/yes.gbnf" --json-schema "$TMP/person.json"
finish
