#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: membership by member vote. Three tee-bft nodes and
# two members (a proposal needs both). A fourth node is started and proposed; it is not a
# validator until the second member approves; then it catches up by state transfer, signs,
# and takes writes. A receipt from after the change verifies offline from the genesis alone.
# Then node 3 is removed the same way, writes go on, and every ledger verifies.
set -uo pipefail
sn=$1
base_port=$2
work=$(mktemp -d)
net="$work/net"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log; do echo "--- $f"; tail -15 "$f"; done; echo "0 passed, 1 failed"; exit 1; }
status_field() { sed -n "s/.*\"$2\":\(\[[^]]*\]\|[^,}]*\).*/\1/p" "$net/node-$1/status.json" 2>/dev/null; }
wait_until() {  # seconds, command...
  local n=$(($1 * 5)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
  return 1
}

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" --members 2 > "$work/up.txt" || fail "up"
grep -q "a proposal needs 2 member approval" "$work/up.txt" || fail "up did not report the governance rule"
"$sn" tx load --dir "$net" --count 100 --clients 2 > /dev/null 2>&1 || fail "writes before the change"

# Users may not govern; approvals of unknown proposals are refused.
if "$sn" governance propose set-weight --validator 1 --weight 5 --dir "$net" --as user 2> "$work/err.txt"; then fail "a user proposed"; fi
grep -q "only members" "$work/err.txt" || fail "user refusal not explained: $(cat "$work/err.txt")"
if "$sn" governance approve "$(printf '0%.0s' $(seq 64))" --dir "$net" 2> "$work/err.txt"; then fail "approved an unknown proposal"; fi
grep -q "no such proposal" "$work/err.txt" || fail "unknown proposal not explained: $(cat "$work/err.txt")"

# Node 4: started, attested, proposed by member; not a validator yet.
"$sn" node add --dir "$net" > "$work/add.txt" || fail "node add"
cat "$work/add.txt"
proposal=$(sed -n 's/^proposal \([0-9a-f]*\)$/\1/p' "$work/add.txt" | head -1)
[ -n "$proposal" ] || fail "no proposal id"
sleep 1
[ "$(status_field 4 validator)" = "false" ] || fail "node 4 became a validator with one approval of two"

"$sn" governance approve "$proposal" --dir "$net" --as member2 | tee "$work/approve.txt" || fail "approve"
grep -q "status applied" "$work/approve.txt" || fail "the proposal was not carried out"
caught_up() { [ "$(status_field 4 can_sign)" = "true" ] && [ "$(status_field 4 height)" -ge "$(status_field 1 height)" ]; }
wait_until 30 caught_up || fail "node 4 did not catch up and sign"
echo "node 4 is a validator at height $(status_field 4 height), epoch $(status_field 4 epoch)"

"$sn" tx submit --dir "$net" --node 4 --table members --key via-node-4 --value hello --receipt "$work/r.bin" || fail "write through node 4"
"$sn" receipt verify "$work/r.bin" --genesis "$net/genesis.toml" | tee "$work/verify.txt" || fail "receipt after the change"
grep -q "2 membership change" "$work/verify.txt" || fail "the receipt proof did not replay the proposal and its approval"

# Remove node 3.
"$sn" governance propose remove-node --validator 3 --note retiring --dir "$net" > "$work/remove.txt" || fail "propose remove"
proposal=$(sed -n 's/^proposal \([0-9a-f]*\)$/\1/p' "$work/remove.txt" | head -1)
"$sn" governance approve "$proposal" --dir "$net" --as member2 | grep -q "status applied" || fail "remove not carried out"
"$sn" tx load --dir "$net" --count 100 --clients 2 --table after > /dev/null 2>&1 || fail "writes after removing node 3"
"$sn" governance list --dir "$net"

"$sn" down --dir "$net" > /dev/null || fail "down"
"$sn" ledger verify --dir "$net" | tee "$work/ledger.txt" || fail "ledger verify"
grep -q "node-1: .*epoch 2)" "$work/ledger.txt" || fail "node 1 is not at validator set epoch 2"
echo "1 passed, 0 failed"
