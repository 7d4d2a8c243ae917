#!/usr/bin/env bash
# frugal plan: every subcommand runs and prints low/central/high with its
# assumptions; --json is one valid document whose numbers match the
# published cases; --svg writes a well-formed SVG; usage errors exit 2 and
# runtime errors (unreadable bench file) exit 1.
set -u
. "$(dirname "$0")/../lib.sh"

FIXTURE="${FR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/data/bench_fixture.json"

# JSON and XML checks need an independent parser: python3, else node.
py() { command -v python3 >/dev/null 2>&1; }
json_get() { # json_get FILE PYTHON-EXPR-ON-d  -> prints the value
  if py; then python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"
  else node -e "const d=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8')); console.log($3)" "$1"; fi
}
within5() { # within5 VALUE WANT
  awk -v v="$1" -v w="$2" 'BEGIN { d = v - w; if (d < 0) d = -d; exit !(d <= 0.05 * w) }' ||
    fail "value $1 is not within 5% of $2"
}
svg_ok() {
  if py; then python3 -c "import sys, xml.dom.minidom as m; d=m.parse(sys.argv[1]); assert d.documentElement.tagName=='svg'" "$1" ||
      fail "$1 is not a well-formed SVG"
  else grep -q '<svg' "$1" && grep -q '</svg>' "$1" || fail "$1 is not an SVG"; fi
}

# ---- usage ----------------------------------------------------------------
run_status 2 "$FRUGAL" plan
expect_contains "$ERR" "train"
run_ok "$FRUGAL" plan --help
expect_contains "$OUT" "article"
run_status 2 "$FRUGAL" plan bogus
expect_contains "$ERR" "frugal: error: plan: unknown subcommand 'bogus'"
for s in train lora serve device article; do
  run_ok "$FRUGAL" plan "$s" --help
  expect_contains "$OUT" "usage: frugal plan $s"
done

# ---- train: GPT-3 (Patterson et al. 2021) -----------------------------------
GPT3=(plan train --params 175e9 --tokens 300e9 --gpu v100 --mfu 0.2 --gpus 10000 --grid-g-per-kwh 429)
run_ok "$FRUGAL" "${GPT3[@]}"
expect_contains "$OUT" "14.6 days"
expect_contains "$OUT" "1.27 GWh"
expect_contains "$OUT" "545 t CO2"
expect_contains "$OUT" "assumptions"
expect_contains "$OUT" "Patterson"
expect_contains "$OUT" "(low - high)"
"$FRUGAL" "${GPT3[@]}" --json >"$TMP/gpt3.json" || fail "train --json failed"
within5 "$(json_get "$TMP/gpt3.json" "d['scenarios'][0]['figures']['days']['central']" \
          "d.scenarios[0].figures.days.central")" 14.8
within5 "$(json_get "$TMP/gpt3.json" "d['scenarios'][0]['figures']['energy_facility_kwh']['central']" \
          "d.scenarios[0].figures.energy_facility_kwh.central")" 1290000
within5 "$(json_get "$TMP/gpt3.json" "d['scenarios'][0]['figures']['co2_kg']['central']" \
          "d.scenarios[0].figures.co2_kg.central")" 550000
[ "$(json_get "$TMP/gpt3.json" "d['plan']" "d.plan")" = train ] || fail "plan kind"
[ "$(json_get "$TMP/gpt3.json" "len(d['assumptions']) > 5" "d.assumptions.length > 5")" != False ] ||
  fail "assumptions missing"

# Llama 3.1 405B: 30.84M H100-hours at the run-average MFU 0.38 x 0.9.
"$FRUGAL" plan train --params 405e9 --tokens 15.6e12 --gpu h100-sxm --mfu 0.342 --gpus 16384 \
  --json >"$TMP/llama.json" || fail "llama --json failed"
within5 "$(json_get "$TMP/llama.json" "d['scenarios'][0]['figures']['gpu_hours']['central']" \
          "d.scenarios[0].figures.gpu_hours.central")" 30840000

run_ok "$FRUGAL" plan train --params 8e9 --chinchilla --gpu h100-sxm --days 30 --mfu 0.3:0.4:0.5
expect_contains "$OUT" "GPUs needed"
run_ok "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm --gpus 64 --svg "$TMP/train.svg"
svg_ok "$TMP/train.svg"

# train usage errors
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpus 8
expect_contains "$ERR" "--gpu is required"
# a value that is given but not positive is named as such, not "required"
run_status 2 "$FRUGAL" plan train --params -5 --tokens 1e12 --gpu h100-sxm --gpus 8
expect_contains "$ERR" "--params: -5 is not a positive number"
run_status 2 "$FRUGAL" plan lora --params 8e9 --tokens 0 --gpu l4
expect_contains "$ERR" "--tokens: 0 is not a positive number"
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --chinchilla --gpu h100-sxm --gpus 8
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm
expect_contains "$ERR" "--days D and --gpus N"
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu no-such-gpu --gpus 8
expect_contains "$ERR" "unknown hardware 'no-such-gpu'"
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm --gpus 8 --mfu 0.5:0.4:0.6
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm --gpus 8 --mfu 0.3:0.4
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm --gpus 8 --mfu abc
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm --gpus 8 --mfu 1.5
expect_contains "$ERR" "MFU"
run_status 2 "$FRUGAL" plan train --params x --tokens 1e12 --gpu h100-sxm --gpus 8
run_status 2 "$FRUGAL" plan train --params 8e9 --tokens 1e12 --gpu h100-sxm --gpus 8 --bogus

# ---- lora ----------------------------------------------------------------------
run_ok "$FRUGAL" plan lora --params 8e9 --tokens 50e6 --gpu rtx4090
expect_contains "$OUT" "LoRA"
expect_contains "$OUT" "train from scratch"
expect_contains "$OUT" "1200x"
run_ok "$FRUGAL" plan lora --params 8e9 --tokens 50e6 --epochs 1 --qlora --gpu cpu --json
echo "$OUT" >"$TMP/lora.json"
[ "$(json_get "$TMP/lora.json" "d['scenarios'][0]['key']" "d.scenarios[0].key")" = qlora ] ||
  fail "qlora scenario key"
run_ok "$FRUGAL" plan lora --params 8e9 --tokens 50e6 --gpu l4 --svg "$TMP/lora.svg"
svg_ok "$TMP/lora.svg"
run_status 2 "$FRUGAL" plan lora --params 8e9 --gpu l4
run_status 2 "$FRUGAL" plan lora --params 8e9 --tokens 5e7

# ---- serve ---------------------------------------------------------------------
SERVE=(plan serve --params 8e9 --quant q4_k_m --users 10000 --queries 20 --in 1000 --out 500)
run_ok "$FRUGAL" "${SERVE[@]}" --gpu l4
expect_contains "$OUT" "GPUs needed"
expect_contains "$OUT" "serving has used as much energy as training after"
run_ok "$FRUGAL" "${SERVE[@]}" --cpu
expect_contains "$OUT" "CPU servers needed"
run_ok "$FRUGAL" plan serve --users 10000 --queries 20 --in 1000 --out 500 --from-bench "$FIXTURE"
expect_contains "$OUT" "machines needed"
expect_contains "$OUT" "336"
expect_contains "$OUT" "estimate"
run_ok "$FRUGAL" plan serve --users 10000 --queries 20 --in 1000 --out 500 --from-bench "$FIXTURE" --json
echo "$OUT" >"$TMP/serve.json"
[ "$(json_get "$TMP/serve.json" "int(d['scenarios'][0]['figures']['devices']['central'])" \
     "d.scenarios[0].figures.devices.central")" = 336 ] || fail "serve --from-bench devices"
run_status 2 "$FRUGAL" "${SERVE[@]}"
expect_contains "$ERR" "exactly one of --gpu ID, --cpu and --from-bench"
run_status 2 "$FRUGAL" "${SERVE[@]}" --gpu l4 --cpu
run_status 2 "$FRUGAL" plan serve --params 8e9 --quant q4_k_m --users 10 --gpu l4
run_status 2 "$FRUGAL" plan serve --params 8e9 --quant q9_x --users 10 --queries 1 --in 1 --out 1 --gpu l4
expect_contains "$ERR" "unknown quantization 'q9_x'"
run_status 1 "$FRUGAL" plan serve --users 1 --queries 1 --in 1 --out 1 --from-bench "$TMP/missing.json"
echo '{"schema": "frugal-bench-1", "model": {}}' >"$TMP/bad.json"
run_status 1 "$FRUGAL" plan serve --users 1 --queries 1 --in 1 --out 1 --from-bench "$TMP/bad.json"
expect_contains "$ERR" "bad.json"

# ---- device --------------------------------------------------------------------
run_ok "$FRUGAL" plan device --j-per-token 0.2 --battery-wh 15 --tokens 1000 --tok-s 20
expect_contains "$OUT" "0.37%"
expect_contains "$OUT" "270k tokens"
expect_contains "$OUT" "3.75 hours"
run_ok "$FRUGAL" plan device --from-bench "$FIXTURE" --battery-wh 15 --tokens 1000
expect_contains "$OUT" "estimate"
run_ok "$FRUGAL" plan device --j-per-token 0.1:0.2:0.4 --json --svg "$TMP/device.svg"
echo "$OUT" >"$TMP/device.json"
[ "$(json_get "$TMP/device.json" "d['scenarios'][0]['figures']['tokens_per_charge']['high']" \
     "d.scenarios[0].figures.tokens_per_charge.high")" = 540000 ] ||
  [ "$(json_get "$TMP/device.json" "d['scenarios'][0]['figures']['tokens_per_charge']['high']" \
     "d.scenarios[0].figures.tokens_per_charge.high")" = 540000.0 ] || fail "device range"
svg_ok "$TMP/device.svg"
run_status 2 "$FRUGAL" plan device --battery-wh 15
run_status 2 "$FRUGAL" plan device --j-per-token 0.2 --from-bench "$FIXTURE"

# ---- article -------------------------------------------------------------------
run_ok "$FRUGAL" plan article --svg "$TMP/article.svg"
expect_contains "$OUT" "933 household-years"
expect_contains "$OUT" "34,000 household-days"
expect_contains "$OUT" "\$240M"
expect_contains "$OUT" "cannot describe the same run"
svg_ok "$TMP/article.svg"
"$FRUGAL" plan article --json >"$TMP/article.json" || fail "article --json failed"
within5 "$(json_get "$TMP/article.json" "[s for s in d['scenarios'] if s['key']=='claim_10gwh'][0]['figures']['household_years']['central']" \
          "d.scenarios.find(s => s.key == 'claim_10gwh').figures.household_years.central")" 933

# ---- catalogs ------------------------------------------------------------------
cat >"$TMP/mine.json" <<'EOF'
{"schema": "frugal-hardware-1", "devices": {"my-gpu": {"name": "Our GPU", "kind": "gpu",
 "tdp_w": {"value": 300, "source": "our spec sheet"},
 "flops_bf16": {"value": 200e12, "source": "our spec sheet"}}}}
EOF
run_ok "$FRUGAL" plan train --params 1e9 --tokens 20e9 --gpu my-gpu --gpus 1 --catalog "$TMP/mine.json"
expect_contains "$OUT" "Our GPU"
expect_contains "$OUT" "our spec sheet"
run_status 2 "$FRUGAL" plan train --params 1e9 --tokens 20e9 --gpu my-gpu --gpus 1
run_status 1 "$FRUGAL" plan train --params 1e9 --tokens 20e9 --gpu h100-sxm --gpus 1 --catalog "$TMP/nope.json"
mkdir -p "$TMP/data"
sed 's/my-gpu/only-gpu/' "$TMP/mine.json" >"$TMP/data/hardware.json"
FRUGAL_DATA_DIR="$TMP/data" run_ok "$FRUGAL" plan train --params 1e9 --tokens 20e9 --gpu only-gpu --gpus 1
expect_contains "$OUT" "$TMP/data/hardware.json"
echo '{"schema": "frugal-hardware-1", "devices": {"x": {"tdp": 1}}}' >"$TMP/typo.json"
run_status 1 "$FRUGAL" plan article --catalog "$TMP/typo.json"
expect_contains "$ERR" "unknown field 'tdp'"

finish
