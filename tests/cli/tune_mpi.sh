#!/usr/bin/env bash
# Data-parallel tuning: `mpirun -np 2 frugal tune` on stories260K equals a
# single process with the same global batch and seed (final training loss
# and held-out loss within 1e-3 relative, while a run with another global
# batch is further off than that); rank 0 alone prints and writes; a
# checkpoint resumes with the same rank count to the same adapter byte for
# byte and is refused with another; SIGUSR1 to mpirun stops every rank with
# one checkpoint; ranks with different data, or a rank that cannot read
# its data, stop the job cleanly. In a build without MPI: started under an
# MPI launcher (its environment), frugal tune refuses instead of training
# copies, and the mpirun part is skipped.
set -u
. "$(dirname "$0")/../lib.sh"
need_shared models/stories260K.gguf
M=$SHARED/models/stories260K.gguf

# training text: the stories llama2.c generated with this model (its reference outputs)
need_shared models/stories260K.reference.txt
sed -n '/^--- BEGIN STDOUT ---$/,/^--- END STDOUT ---$/p' "$SHARED/models/stories260K.reference.txt" |
  grep -v '^--- ' > "$TMP/train.txt"
[ "$(wc -c < "$TMP/train.txt")" -gt 1000 ] || { echo "FAIL: too little text in the reference file" >&2; exit 1; }
COMMON=(-m "$M" -d "$TMP/train.txt" --ctx 32 --rank 4 --lr 5e-3 -t 1 --seed 5 --val-split 0.2
        --eval-every 0 --steps 6 --json)

run_ok "$FRUGAL" tune --help
if [[ "$OUT" == *"This build: no MPI"* ]]; then
  for var in OMPI_COMM_WORLD_SIZE=2 PMI_SIZE=4 PMIX_RANK=1; do
    run_status 1 env "$var" "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/x.gguf"
    expect_contains "$ERR" "built without MPI"
    expect_contains "$ERR" "${var%%=*}"
    [ ! -e "$TMP/x.gguf" ] || fail "an adapter was written under $var"
  done
  # one rank under a launcher trains normally
  run_ok env OMPI_COMM_WORLD_SIZE=1 "$FRUGAL" tune "${COMMON[@]}" -o "$TMP/x.gguf"
  echo "built without MPI: the refusal was checked; mpirun runs need an MPI build"
  finish
fi
command -v mpirun >/dev/null || { echo "SKIP: frugal has MPI but mpirun is missing (openmpi-bin)"; exit 77; }
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
MPIRUN=(timeout 120 mpirun -np 2 --oversubscribe --bind-to none)

# ---- one process, global batch 4 (2 x grad-accum 2) vs two ranks of batch 1
run_ok "$FRUGAL" tune "${COMMON[@]}" --batch 2 --grad-accum 2 -o "$TMP/one.gguf" --checkpoint-every 2
printf '%s' "$OUT" > "$TMP/one.json"
run_ok "${MPIRUN[@]}" "$FRUGAL" tune "${COMMON[@]}" --batch 1 --grad-accum 2 -o "$TMP/two.gguf" \
  --checkpoint-every 2
printf '%s' "$OUT" > "$TMP/two.json"
expect_contains "$ERR" "global batch 4 on 2 ranks"
expect_contains "$ERR" "data parallel: 2 MPI ranks"
[ "$(grep -c '^wrote ' <<<"$ERR")" = 1 ] || fail "expected one 'wrote' line (rank 0), got: $(grep '^wrote' <<<"$ERR")"
[ "$(grep -c '"steps"' "$TMP/two.json")" = 1 ] || fail "expected one --json summary (rank 0): $(cat "$TMP/two.json")"
[ -s "$TMP/two.gguf" ] || fail "no adapter written"
ls "$TMP/two.gguf.ckpt" > "$TMP/ck.txt" 2>&1
[ "$(tr '\n' ' ' < "$TMP/ck.txt")" = "step-000002 step-000004 " ] ||
  fail "checkpoints: $(cat "$TMP/ck.txt")"
# another global batch (2): the comparison below must be able to tell
run_ok "$FRUGAL" tune "${COMMON[@]}" --batch 2 -o "$TMP/gb2.gguf"
printf '%s' "$OUT" > "$TMP/gb2.json"
node -e '
  const fs = require("fs");
  const [a, b, c] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f, "utf8")));
  const rel = (x, y) => Math.abs(x - y) / Math.abs(y);
  const keys = ["final_loss", "val_loss_after", "val_ppl_after"];
  let bad = 0;
  if (b.ranks !== 2 || b.global_batch !== 4 || a.ranks !== 1 || a.global_batch !== 4) {
    console.error("ranks/global_batch:", a.ranks, a.global_batch, b.ranks, b.global_batch); bad++;
  }
  if (!(a.final_loss < a.first_loss && a.val_loss_after < a.val_loss_before)) {
    console.error("the single-process run did not learn:", JSON.stringify(a)); bad++;
  }
  for (const k of keys) {
    if (!(rel(b[k], a[k]) <= 1e-3)) { console.error(`${k}: 2 ranks ${b[k]} vs 1 process ${a[k]}`); bad++; }
    console.log(`${k}: 2 ranks ${b[k]}, 1 process ${a[k]}, relative ${rel(b[k], a[k]).toExponential(2)}`);
  }
  if (!keys.some((k) => rel(c[k], a[k]) > 1e-3)) {
    console.error("global batch 2 is within 1e-3 of global batch 4: the check cannot fail"); bad++;
  }
  process.exit(bad ? 1 : 0);
' "$TMP/one.json" "$TMP/two.json" "$TMP/gb2.json" || fail "2 ranks vs 1 process"

# ---- resume: same rank count -> the same adapter; another rank count -> refused
run_ok "${MPIRUN[@]}" "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" --val-split 0.2 -t 1 -o "$TMP/res.gguf" \
  --resume "$TMP/two.gguf.ckpt/step-000002"
expect_contains "$ERR" "resumed from"
cmp -s "$TMP/res.gguf" "$TMP/two.gguf" || fail "2 ranks resumed from step 2 differ from the uninterrupted run"
run_status 2 "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" --val-split 0.2 -t 1 -o "$TMP/r1.gguf" \
  --resume "$TMP/two.gguf.ckpt"
expect_contains "$ERR" "run on 2 ranks"
expect_contains "$ERR" "mpirun -np 2"
_run "${MPIRUN[@]}" "$FRUGAL" tune -m "$M" -d "$TMP/train.txt" --val-split 0.2 -t 1 -o "$TMP/r2.gguf" \
  --resume "$TMP/one.gguf.ckpt"
[ "$RC" -ne 0 ] || fail "a one-process checkpoint resumed on 2 ranks"
expect_contains "$ERR" "run on 1 rank (mpirun -np 1), this one has 2"
[ ! -e "$TMP/r1.gguf" ] && [ ! -e "$TMP/r2.gguf" ] || fail "a refused resume wrote an adapter"

# ---- SIGUSR1 to mpirun (passed on to every rank at once): every rank
# stops after the same step, rank 0 writes one checkpoint
mpirun -np 2 --oversubscribe --bind-to none "$FRUGAL" tune "${COMMON[@]/--steps/--epochs}" --batch 1 \
  -o "$TMP/sig.gguf" --progress json >/dev/null 2>"$TMP/sig.err" &
pid=$!
for _ in $(seq 1 600); do
  grep -aq '"event":"step"' "$TMP/sig.err" && break
  sleep 0.05
done
kill -USR1 "$pid"
for _ in $(seq 1 2400); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; fail "mpirun still running 2 minutes after SIGUSR1"; }
rc=0; wait "$pid" || rc=$?
[ "$rc" -eq 1 ] || fail "mpirun after SIGUSR1: exit $rc: $(tail -3 "$TMP/sig.err")"
[ "$(grep -ac 'stopped at step' "$TMP/sig.err")" = 1 ] || fail "expected one 'stopped at step': $(tail -5 "$TMP/sig.err")"
grep -aq 'continue with: mpirun -np 2 ' "$TMP/sig.err" || fail "no mpirun -np 2 resume hint: $(tail -5 "$TMP/sig.err")"
ls -d "$TMP/sig.gguf.ckpt"/step-* >/dev/null 2>&1 || fail "no checkpoint after SIGUSR1"
[ ! -e "$TMP/sig.gguf" ] || fail "a stopped run wrote the adapter"

# ---- ranks that disagree: different data; a rank that cannot read its data
head -c 700 "$TMP/train.txt" > "$TMP/other.txt"
R1=("${COMMON[@]}"); R2=("${COMMON[@]/$TMP\/train.txt/$TMP/other.txt}")
_run timeout 120 mpirun --oversubscribe --bind-to none -np 1 "$FRUGAL" tune "${R1[@]}" -o "$TMP/d.gguf" : \
  -np 1 "$FRUGAL" tune "${R2[@]}" -o "$TMP/d.gguf"
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] || fail "ranks with different data: exit $RC"
expect_contains "$ERR" "the ranks read different"
R3=("${COMMON[@]/$TMP\/train.txt/$TMP/missing.txt}")
_run timeout 120 mpirun --oversubscribe --bind-to none -np 1 "$FRUGAL" tune "${R1[@]}" -o "$TMP/d.gguf" : \
  -np 1 "$FRUGAL" tune "${R3[@]}" -o "$TMP/d.gguf"
[ "$RC" -ne 0 ] && [ "$RC" -ne 124 ] || fail "a rank without its data: exit $RC"
expect_contains "$ERR" "missing.txt"
[ ! -e "$TMP/d.gguf" ] || fail "a failed run wrote an adapter"
finish
