#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: data owners. The member registers "hospital" at
# nodes 1 and 2, the user "clinic" at node 3. Only the owner deletes a data set. The member's
# job on all three waits for the user's consent (node 3 refuses it, the job records no round)
# and trains on all three once the user consents; the user then reads the model at node 3 and
# nowhere else. The user's policy lets the member submit without asking but requires DP within
# a budget: a job without DP and one with zero noise are refused, one DP job runs, the next is
# refused once the budget is spent. Replacing a data set gives a new version; a schema file the
# host edits is listed as not trusted and never trained on: a job needing it fails with the
# reason, and its owner clears it away.
set -uo pipefail
sn=$1
data=$2
base_port=$3
work=$(mktemp -d)
net="$work/net"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log; do echo "--- $f"; grep -E "fl|error|refused" "$f" | tail -12; done; echo "0 passed, 1 failed"; exit 1; }
submit() { "$sn" fl submit --dir "$net" "$1" | sed -n 's/^job \([0-9a-f]*\) submitted$/\1/p'; }

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" > /dev/null || fail "up"
"$sn" data split "$data/breast_cancer.csv" --parties 3 --out-dir "$work/parts" > /dev/null || fail "split"
for i in 1 2; do
  "$sn" data register --dir "$net" --node "$i" --name hospital "$work/parts/party-$i.csv" > /dev/null || fail "register at node $i"
done
"$sn" data register --dir "$net" --node 3 --as user --name clinic "$work/parts/party-3.csv" > "$work/reg.txt" || fail "register as user"
grep -q "registered clinic at node 3 for user" "$work/reg.txt" || fail "registration does not name the owner: $(cat "$work/reg.txt")"
v1=$(sed -n 's/.*data sha256 \([0-9a-f]*\)).*/\1/p' "$work/reg.txt")
"$sn" data list --dir "$net" --node 3 > "$work/list.txt" || fail "list"
grep -qE "^clinic +user +${v1:0:12} +[0-9]+ " "$work/list.txt" || fail "list: $(cat "$work/list.txt")"

# Only the owner deletes: names are per owner, so another client cannot even name it.
if "$sn" data delete --dir "$net" --node 3 --name clinic 2> "$work/err.txt"; then fail "the member deleted the user's data set"; fi
grep -q "member has no data set named clinic" "$work/err.txt" || fail "delete by another client: $(cat "$work/err.txt")"
# ... and a name one client holds is not taken from another: the member's own "clinic" at node 3.
"$sn" data register --dir "$net" --node 3 --name clinic "$work/parts/party-1.csv" > /dev/null || fail "the member could not register its own clinic"
"$sn" data list --dir "$net" --node 3 > "$work/list.txt"
[ "$(grep -cE "^clinic +(member|user) " "$work/list.txt")" -eq 2 ] || fail "two owners' clinic: $(cat "$work/list.txt")"

cat > "$work/job.toml" <<JOB
name = "consented"
rounds = 3
min_parties = 2
round_timeout_s = 2
[model]
kind = "logistic"
[[parties]]
node = 1
dataset = "hospital"
[[parties]]
node = 2
dataset = "hospital"
[[parties]]
node = 3
dataset = "user/clinic"
JOB
job=$(submit "$work/job.toml")
[ -n "$job" ] || fail "submit"
# The job waits: node 3 refuses it for want of the user's consent, and no round is recorded
# (with min_parties = 2 the other two could train; they do not start without node 3).
for _ in $(seq 1 100); do
  "$sn" fl list --dir "$net" --node 3 > "$work/jobs.txt" 2>&1
  grep -q "^$job .* user" "$work/jobs.txt" && break
  sleep 0.1
done
grep -q "^$job  *consented  *running  *member  *0/3  *user$" "$work/jobs.txt" || fail "fl list at node 3: $(cat "$work/jobs.txt")"
sleep 6
"$sn" fl status --dir "$net" "$job" > "$work/status.txt" || fail "status"
grep -q ": running, round 0 of 3" "$work/status.txt" || fail "the job trained without the owner's consent: $(cat "$work/status.txt")"
grep -h "refused a request .* for job ${job:0:12}.*has not consented" "$net"/node-3/node.log > /dev/null || fail "node 3 logged no consent refusal"

"$sn" data consent --dir "$net" --as user "$job" || fail "consent"
"$sn" fl watch --dir "$net" --timeout 90 "$job" > "$work/watch.txt" || { cat "$work/watch.txt"; fail "the consented job did not finish"; }
grep -q "finished, round 3 of 3" "$work/watch.txt" || fail "not 3 rounds: $(tail -3 "$work/watch.txt")"
"$sn" fl status --dir "$net" "$job" > "$work/status.txt"
[ "$(grep -c "parties 3" "$work/status.txt")" -eq 3 ] || fail "not every round had the three parties: $(cat "$work/status.txt")"
if "$sn" data consent --dir "$net" --as user "$job" 2> "$work/err.txt"; then fail "a consent to a finished job was accepted"; fi
grep -q "the job has ended" "$work/err.txt" || fail "consent to a finished job: $(cat "$work/err.txt")"

# The owner reads the model at the node that keeps its data, and nowhere else (not a reader).
"$sn" fl model --dir "$net" --node 3 --as user "$job" --out "$work/model.json" || fail "the owner could not read the model at node 3"
if "$sn" fl model --dir "$net" --node 1 --as user "$job" --out "$work/m2.json" 2>/dev/null; then fail "the user read the model at node 1"; fi

# The owner's policy: the member may submit without asking; DP is required, within a budget.
# The first DP job fits and spends its epsilon (on the ledger); the budget is then set to 1.5
# jobs' worth, so the next identical job is refused at submission, naming the budget.
dpjob() {
  sed -e "s/^name = .*/name = \"$1\"/" "$work/job.toml" > "$work/$1.toml"
  printf '[dp]\nenabled = true\nnoise_multiplier = 1.0\n' >> "$work/$1.toml"
}
# (The member naming "clinic" means its own: nobody can address another client's data set.)
if "$sn" data policy --dir "$net" --node 3 ward --budget 100 2> "$work/err.txt"; then fail "a policy for a data set nobody registered"; fi
grep -q "the ledger records no data set member/ward at this node" "$work/err.txt" || fail "policy of an unknown data set: $(cat "$work/err.txt")"
"$sn" data policy --dir "$net" --node 3 --as user clinic --submitters member --budget 100 > "$work/policy.txt" || fail "policy"
grep -q "submitters member; readers (owner only); DP budget 100" "$work/policy.txt" || fail "policy: $(cat "$work/policy.txt")"
if "$sn" fl submit --dir "$net" "$work/job.toml" 2> "$work/err.txt"; then fail "a job without DP was accepted on a DP data set"; fi
grep -q "requires differential privacy" "$work/err.txt" || fail "job without DP: $(cat "$work/err.txt")"
printf '[dp]\nenabled = true\nnoise_multiplier = 0\n' | cat "$work/job.toml" - > "$work/zero.toml"
if "$sn" fl submit --dir "$net" "$work/zero.toml" 2> "$work/err.txt"; then fail "a job with zero noise was accepted"; fi
grep -q "noise_multiplier must be at least 0.01" "$work/err.txt" || fail "zero noise: $(cat "$work/err.txt")"
dpjob dp1
dp1=$(submit "$work/dp1.toml")
[ -n "$dp1" ] || fail "submit of the DP job"
"$sn" fl watch --dir "$net" --timeout 90 "$dp1" > "$work/watch-dp1.txt" || { cat "$work/watch-dp1.txt"; fail "the DP job (no consent needed) did not finish"; }
"$sn" data list --dir "$net" --node 3 > "$work/list.txt"
spent=$(sed -n 's/.*DP epsilon spent (and reserved by running jobs): \([0-9.e+]*\)$/\1/p' "$work/list.txt")
[ -n "$spent" ] || fail "no DP spending listed: $(cat "$work/list.txt")"
budget=$(awk -v e="$spent" 'BEGIN { printf "%.6f", 1.5 * e }')
"$sn" data policy --dir "$net" --node 3 --as user clinic --submitters member --budget "$budget" > /dev/null || fail "policy with a budget of $budget"
dpjob dp2
if "$sn" fl submit --dir "$net" "$work/dp2.toml" 2> "$work/err.txt"; then fail "a job past the DP budget was accepted"; fi
grep -q "the DP budget of user/clinic at node 3 is spent" "$work/err.txt" || fail "past the budget: $(cat "$work/err.txt")"
echo "DP budget: spent $spent of $budget, the next job refused"
"$sn" data policy --dir "$net" --node 3 --as user clinic > /dev/null || fail "clearing the policy"

# Replace: delete and register again; the new version has another hash.
"$sn" data delete --dir "$net" --node 3 --as user --name clinic > /dev/null || fail "the owner could not delete"
"$sn" data register --dir "$net" --node 3 --as user --name clinic "$work/parts/party-2.csv" > "$work/reg2.txt" || fail "register again"
v2=$(sed -n 's/.*data sha256 \([0-9a-f]*\)).*/\1/p' "$work/reg2.txt")
[ -n "$v2" ] && [ "$v2" != "$v1" ] || fail "the replaced data set has the same version"

# The host edits the sealed schema: listed as not trusted, cannot be deleted through the API,
# and a job that needs it fails naming too few parties.
schema="$net/node-3/datasets/user/clinic.schema.sealed"
[ -f "$schema" ] || fail "no sealed schema at $schema"
find "$net/node-3/datasets" -name '*.json' | grep -q . && fail "a plaintext schema file in node 3's folder"
printf TAMPERED | dd of="$schema" bs=1 seek=40 conv=notrunc status=none
"$sn" data list --dir "$net" --node 3 > "$work/list.txt" || fail "list after the edit"
grep -q "^clinic  *NOT TRUSTED: the schema of user/clinic does not unseal" "$work/list.txt" || fail "edited schema listed as: $(cat "$work/list.txt")"
sed -e 's/^name = .*/name = "edited"/' -e 's/^min_parties = 2/min_parties = 3/' -e 's/^round_timeout_s = 2/round_timeout_s = 1/' "$work/job.toml" > "$work/job3.toml"
job3=$(submit "$work/job3.toml")
[ -n "$job3" ] || fail "submit of the job on the edited data set"
"$sn" data consent --dir "$net" --as user "$job3" > /dev/null || fail "consent to the third job"
if "$sn" fl watch --dir "$net" --timeout 60 "$job3" > "$work/watch3.txt"; then fail "a job trained on an edited data set"; fi
grep -q "failed: only 2 parties answered the standardization request, 3 needed" "$work/watch3.txt" || fail "edited data set job: $(tail -2 "$work/watch3.txt")"
grep -h "refused a request .* for job ${job3:0:12}.*does not unseal" "$net"/node-3/node.log > /dev/null || fail "node 3 did not say why it refused"
# The owner clears the edited data set away.
"$sn" data delete --dir "$net" --node 3 --as user --name clinic > /dev/null || fail "the owner could not delete its edited data set"
"$sn" data list --dir "$net" --node 3 > "$work/list.txt"
grep -q "NOT TRUSTED" "$work/list.txt" && fail "the deleted data set is still listed: $(cat "$work/list.txt")"

"$sn" down --dir "$net" > /dev/null
"$sn" ledger verify --dir "$net" > /dev/null || fail "ledger verify"
echo "1 passed, 0 failed"
