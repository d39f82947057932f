#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: federated learning on the network. Three nodes
# ("hospitals") each register a third of the breast cancer data set, sealed; a member submits a
# FedAvg job; the aggregator node is killed with -9 in the middle of it and another node takes
# the job over from the last recorded round; the job finishes with its rounds recorded on the
# ledger; only a named model reader can download the model; every ledger verifies; a node
# restarted after all stopped still serves the final model.
set -uo pipefail
sn=$1
data=$2
base_port=$3
work=$(mktemp -d)
net="$work/net"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log; do echo "--- $f"; grep -E "fl|error" "$f" | tail -12; done; echo "0 passed, 1 failed"; exit 1; }

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" > /dev/null || fail "up"
"$sn" data split "$data/breast_cancer.csv" --parties 3 --out-dir "$work/parts" > /dev/null || fail "split"
for i in 1 2 3; do
  "$sn" data register --dir "$net" --node "$i" --name hospital "$work/parts/party-$i.csv" || fail "register at node $i"
done
# Bad input is refused with a clear reason.
printf 'a,b,label\n1,2,0\n1,2\n' > "$work/ragged.csv"
if "$sn" data register --dir "$net" --node 1 --name bad "$work/ragged.csv" 2> "$work/err.txt"; then fail "ragged CSV registered"; fi
grep -q "line 3" "$work/err.txt" || fail "ragged CSV error does not name the line: $(cat "$work/err.txt")"

# Every job here has the three nodes as parties, each with its "hospital" data set.
parties() { for i in 1 2 3; do printf '[[parties]]\nnode = %d\ndataset = "hospital"\n' "$i"; done; }

# An MLP wide enough that a round takes a good fraction of a second here: the kill below must
# land in the middle of the job (a logistic round is a few milliseconds).
cat > "$work/job.toml" <<JOB
name = "bc-e2e"
rounds = 12
min_parties = 2
seed = 3
round_timeout_s = 5
model_readers = ["member"]
[model]
kind = "mlp"
hidden = [512]
[training]
epochs = 10
batch = 16
learning_rate = 0.05
JOB
parties >> "$work/job.toml"
printf 'name = "x"\nrounds = 3\n[model]\nkind = "svm"\n' > "$work/bad-job.toml"
if "$sn" fl submit --dir "$net" "$work/bad-job.toml" 2> "$work/err.txt"; then fail "a bad job was accepted"; fi
grep -q "kind" "$work/err.txt" || fail "bad job error unclear: $(cat "$work/err.txt")"
if "$sn" fl submit --dir "$net" --as user "$work/job.toml" 2> /dev/null; then fail "a user submitted a job"; fi

job=$("$sn" fl submit --dir "$net" "$work/job.toml" | sed -n 's/^job \([0-9a-f]*\) submitted$/\1/p')
[ -n "$job" ] || fail "submit"
# The job's transaction reads as a committed FL job, not as "invalid".
for _ in $(seq 1 50); do
  "$sn" tx get --dir "$net" "$job" > "$work/jobtx.txt" 2>&1 && grep -q '"status": "committed"' "$work/jobtx.txt" && break
  sleep 0.1
done
grep -q '"status": "committed"' "$work/jobtx.txt" && grep -q '"type": "fl_job"' "$work/jobtx.txt" ||
  { cat "$work/jobtx.txt"; fail "the job's transaction is not shown as a committed FL job"; }
# Kill the aggregator once a few rounds are recorded.
aggregator=
for _ in $(seq 1 100); do
  "$sn" fl status --dir "$net" "$job" > "$work/status.txt" 2>/dev/null
  done_rounds=$(sed -n 's/.*round \([0-9]*\) of .*/\1/p' "$work/status.txt" | head -1)
  if [ "${done_rounds:-0}" -ge 3 ]; then
    aggregator=$(sed -n 's/.*aggregator node \([0-9]*\).*/\1/p' "$work/status.txt" | head -1)
    break
  fi
  sleep 0.1
done
[ -n "$aggregator" ] || fail "no rounds recorded"
[ "$done_rounds" -lt 12 ] || fail "the job finished before the aggregator could be killed"
echo "kill -9 the aggregator, node $aggregator, after round $done_rounds"
kill -9 "$(cat "$net/node-$aggregator/node.pid")"
other=$(( aggregator % 3 + 1 ))
"$sn" fl watch --dir "$net" --node "$other" --timeout 120 "$job" > "$work/watch.txt" || { cat "$work/watch.txt"; fail "the job did not finish"; }
tail -4 "$work/watch.txt"
grep -q "finished, round 12 of 12" "$work/watch.txt" || fail "not 12 rounds"
grep -h "aggregates job bc-e2e, resuming after round" "$net"/node-*/node.log > /dev/null || fail "no node resumed the job"
accuracy=$(grep -o "round  12 .*accuracy [0-9.]*" "$work/watch.txt" | grep -o "[0-9.]*$")
awk -v a="$accuracy" 'BEGIN { exit !(a >= 0.90) }' || fail "final accuracy $accuracy below 0.90"

"$sn" fl model --dir "$net" --node "$other" "$job" --out "$work/model.json" || fail "member could not download the model"
if "$sn" fl model --dir "$net" --node "$other" --as user "$job" --out "$work/m2.json" 2>/dev/null; then fail "user downloaded the model"; fi
# The model file carries what a reader needs: the model predicts on the raw rows of a party's
# file (features matched by name), and its last line is the accuracy on them.
"$sn" model show "$work/model.json" > "$work/show.txt" || fail "model show"
grep -q "^features: f0, f1, " "$work/show.txt" || fail "the model file does not name its features: $(cat "$work/show.txt")"
"$sn" model predict "$work/model.json" "$work/parts/party-2.csv" --out "$work/preds.csv" > "$work/predict.txt" || fail "model predict"
rows=$(($(wc -l < "$work/parts/party-2.csv") - 1))
last=$(tail -1 "$work/predict.txt")
[[ "$last" =~ ^accuracy\ ([0-9.]+)\ on\ $rows\ rows$ ]] || fail "last line of model predict is '$last'"
awk -v a="${BASH_REMATCH[1]}" 'BEGIN { exit !(a >= 0.90) }' || fail "predicted accuracy ${BASH_REMATCH[1]} below 0.90"
[ "$(wc -l < "$work/preds.csv")" -eq $((rows + 1)) ] || fail "preds.csv does not hold one class per row"
# A changed weight is caught by the file's own hash.
awk 'p { sub(/-?[0-9][0-9.eE+-]*/, "0.4375"); p = 0 } /"params": \[/ { p = 1 } { print }' "$work/model.json" > "$work/tampered.json"
cmp -s "$work/model.json" "$work/tampered.json" && fail "the tampering changed nothing"
if "$sn" model predict "$work/tampered.json" "$work/parts/party-2.csv" 2> "$work/err.txt"; then fail "a tampered model file predicted"; fi
grep -q "model_file.hash" "$work/err.txt" || fail "tampered model error: $(cat "$work/err.txt")"
# The plaintext rows never reached a node's disk.
first_row=$(sed -n 2p "$work/parts/party-1.csv" | cut -d, -f1-3)
if grep -rqF "$first_row" "$net"/node-1/; then fail "plaintext rows found in node 1's folder"; fi

# A job that cannot run (three parties needed; the killed node cannot answer): its aggregator
# gives it up and records that on the ledger, so both live nodes report it failed.
cat > "$work/fail-job.toml" <<JOB
name = "bc-fail"
rounds = 3
min_parties = 3
round_timeout_s = 1
model_readers = ["member"]
[model]
kind = "logistic"
JOB
parties >> "$work/fail-job.toml"
failjob=$("$sn" fl submit --dir "$net" --node "$other" "$work/fail-job.toml" | sed -n 's/^job \([0-9a-f]*\) submitted$/\1/p')
[ -n "$failjob" ] || fail "submit of the failing job"
"$sn" fl watch --dir "$net" --node "$other" --timeout 60 "$failjob" > "$work/fail-watch.txt"
code=$?
cat "$work/fail-watch.txt" | tail -2
[ "$code" -eq 1 ] || fail "fl watch of a failed job exited $code, not 1"
third=$(( other % 3 + 1 ))
[ "$third" -ne "$aggregator" ] || third=$(( third % 3 + 1 ))
# (The failure record committed at the aggregator; node $third may apply it a moment later.)
for _ in $(seq 1 50); do
  "$sn" fl status --dir "$net" --node "$third" "$failjob" > "$work/fail-status.txt" || fail "status of the failed job at node $third"
  grep -q ": failed, round 0 of 3" "$work/fail-status.txt" && break
  sleep 0.1
done
grep -q ": failed, round 0 of 3" "$work/fail-status.txt" || fail "node $third does not report the job failed: $(cat "$work/fail-status.txt")"
grep -q "failed: only 2 parties answered the standardization request, 3 needed (recorded by node" "$work/fail-status.txt" ||
  fail "node $third does not give the recorded reason: $(cat "$work/fail-status.txt")"

# A model too large for one peer message (30 features into 4,096 and 50 units: about 332,000
# parameters) is refused with its size once the parties' features are known, not sent.
printf 'name = "bc-huge"\nrounds = 2\nmin_parties = 2\nround_timeout_s = 2\n[model]\nkind = "mlp"\nhidden = [4096, 50]\n' > "$work/huge-job.toml"
for n in "$other" "$third"; do printf '[[parties]]\nnode = %d\ndataset = "hospital"\n' "$n"; done >> "$work/huge-job.toml"
hugejob=$("$sn" fl submit --dir "$net" --node "$other" "$work/huge-job.toml" | sed -n 's/^job \([0-9a-f]*\) submitted$/\1/p')
[ -n "$hugejob" ] || fail "submit of the oversized job"
if "$sn" fl watch --dir "$net" --node "$third" --timeout 60 "$hugejob" > "$work/huge-watch.txt"; then fail "the oversized job finished"; fi
grep -qE "failed: the model has 3[0-9]{5} parameters for these data sets \(30 features\); a model travels in one peer message" "$work/huge-watch.txt" ||
  fail "oversized job: $(tail -2 "$work/huge-watch.txt")"

"$sn" down --dir "$net" > /dev/null
"$sn" ledger verify --dir "$net" > /dev/null || fail "ledger verify"

# A node that restarts still serves the final model (sealed on its disk when the last round
# committed): node $other alone, after every node stopped, gives the same model.
setsid "$sn" node run --config "$net/node-$other/node.toml" >> "$net/node-$other/node.log" 2>&1 &
echo $! > "$net/node-$other/node.pid"
served=
for _ in $(seq 1 100); do
  if "$sn" fl model --dir "$net" --node "$other" "$job" --out "$work/model-after.json" > /dev/null 2>&1; then served=1; break; fi
  sleep 0.2
done
[ -n "$served" ] || fail "the restarted node $other does not serve the final model"
cmp -s "$work/model.json" "$work/model-after.json" || fail "the restarted node serves another model"
ls "$net/node-$other/models/"*.sealed > /dev/null 2>&1 || fail "no sealed model in node $other's folder"
"$sn" down --dir "$net" > /dev/null
echo "1 passed, 0 failed"
