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
for s in 1 2 3; do
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
for t in 0 1; do
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

# errors: where and why, exit 1; both options at once is a usage error
printf 'root ::= "a" bad\n' > "$TMP/bad.gbnf"
run_status 1 "$FRUGAL" run -m "$M" -p x --grammar "$TMP/bad.gbnf"
expect_contains "$ERR" "bad.gbnf:1:14: rule 'bad' is used but not defined"
printf '{"type": "string", "format": "hostname"}' > "$TMP/bad.json"
run_status 1 "$FRUGAL" run -m "$M" -p x --json-schema "$TMP/bad.json"
expect_contains "$ERR" '"format": "hostname" is not supported'
run_status 2 "$FRUGAL" run -m "$M" -p x --grammar "$TMP/yes.gbnf" --json-schema "$TMP/person.json"
finish
