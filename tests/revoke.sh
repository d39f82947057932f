#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1 (issue 15 §4): a revocation by vote acts on live
# sessions at once. Members accept a second build of the node program; a fourth node running
# that build joins by vote; the members then revoke its measurement, and within a second of the
# commit every other node has cut its session with it, naming the failed check, and it stays
# out while the three go on committing. The other revocation votes (set-min-tcb,
# revoke-platform-key) apply on every node; malformed ones are refused. New collateral given to
# the running nodes (attest collateral add) is loaded and their peers appraised again.
set -uo pipefail
sn=$1
base_port=$2
work=$(mktemp -d)
net="$work/net"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log; do [ -f "$f" ] && { echo "--- $f"; tail -8 "$f"; }; done; exit 1; }

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" > /dev/null || fail "up"
m1=$(sed -n 's/^measurements = \["\([0-9a-f]*\)"\]$/\1/p' "$net/network-policy.toml")
[ "${#m1}" = 96 ] || fail "no measurement in the network policy"
# "Version 2" of the node program: another file, so another measurement.
node_program=$(dirname "$sn")/supernet-node
cp "$node_program" "$work/supernet-node-v2" && printf 'v2' >> "$work/supernet-node-v2" || fail "copy the node program"
m2=$(sha384sum "$work/supernet-node-v2" | cut -c1-96)

echo "== 1. members accept v2; a node running v2 joins by vote"
"$sn" governance propose set-measurements --dir "$net" --measurement "$m1" --measurement "$m2" --note "v2 rollout" > "$work/p1.txt" 2>&1 ||
  fail "accept v2: $(cat "$work/p1.txt")"
SUPERNET_NODE_PROGRAM="$work/supernet-node-v2" "$sn" node add --dir "$net" > "$work/add.txt" 2>&1 || fail "node add: $(cat "$work/add.txt")"
grep -q "status applied" "$work/add.txt" || fail "node 4 was not added: $(cat "$work/add.txt")"
connected() { grep -q "\"connected\":\[[0-9,]*$2" "$net/node-$1/status.json" 2>/dev/null; }
for _ in $(seq 100); do connected 1 4 && connected 2 4 && connected 3 4 && break; sleep 0.1; done
for n in 1 2 3; do connected "$n" 4 || fail "node $n is not connected to node 4: $(cat "$net/node-$n/status.json")"; done
echo "ok: node 4 (measurement ${m2:0:16}...) joined and is connected to 1, 2, 3"

echo "== 2. members revoke v2: node 4 is cut off within a second of the commit"
"$sn" governance propose set-measurements --dir "$net" --measurement "$m1" --note "revoke v2" > "$work/p2.txt" 2>&1 ||
  fail "revoke v2: $(cat "$work/p2.txt")"
grep -q "status applied" "$work/p2.txt" || fail "the revocation was not applied: $(cat "$work/p2.txt")"
# The command returns once the change is committed; each node's log then says it cut node 4.
for _ in $(seq 10); do
  cut=0
  for n in 1 2 3; do grep -q "node 4 no longer passes the policy" "$net/node-$n/node.log" && cut=$((cut + 1)); done
  [ "$cut" = 3 ] && break
  sleep 0.1
done
[ "$cut" = 3 ] || fail "a second after the commit only $cut of nodes 1-3 cut node 4 off"
grep -h "node 4 no longer passes" "$net/node-1/node.log" | grep -q "measurement $m2 is not allowed" || fail "the refusal does not name the measurement check"
echo "ok: $(grep -h "node 4 no longer passes" "$net/node-1/node.log" | head -1 | sed 's/^.*transport: //' | cut -c1-120)..."

echo "== 3. node 4 stays out; the others go on"
sleep 2
for n in 1 2 3; do connected "$n" 4 && fail "node $n reconnected to the revoked node 4"; done
"$sn" tx submit --dir "$net" --node 1 --table after --key k --value v > "$work/w.txt" 2>&1 || fail "a write after the revocation: $(cat "$work/w.txt")"
echo "ok: nodes 1-3 commit without node 4, which reconnects to nobody"
echo "== 4. the other revocation votes: a minimum TCB, a platform key; malformed ones refused"
"$sn" governance propose set-min-tcb --dir "$net" --platform sev-snp --tcb snp=22 --tcb microcode=213 --note "CVE fix" > "$work/t.txt" 2>&1 ||
  fail "set-min-tcb: $(cat "$work/t.txt")"
grep -q "set_min_tcb.*status applied" "$work/t.txt" || fail "set-min-tcb not applied: $(cat "$work/t.txt")"
key4=$(printf 'ab%.0s' $(seq 32))  # a platform key id no running node uses: the network goes on
"$sn" governance propose revoke-platform-key --dir "$net" --platform-key "$key4" > "$work/k.txt" 2>&1 || fail "revoke-platform-key: $(cat "$work/k.txt")"
grep -q "revoke_platform_key.*status applied" "$work/k.txt" || fail "revoke-platform-key not applied: $(cat "$work/k.txt")"
for n in 1 2 3; do
  grep -q "members raised a minimum TCB" "$net/node-$n/node.log" || fail "node $n did not apply the minimum TCB"
  grep -q "members revoked a platform key" "$net/node-$n/node.log" || fail "node $n did not apply the key revocation"
done
"$sn" governance propose set-min-tcb --dir "$net" --platform sev-snp --tcb snp > /dev/null 2>&1; [ $? = 2 ] || fail "--tcb without a number is not a usage error"
"$sn" governance propose set-min-tcb --dir "$net" --platform virtual --tcb snp=1 > "$work/v.txt" 2>&1 && fail "a minimum TCB for the virtual platform was accepted"
grep -q "hardware platform" "$work/v.txt" || fail "the virtual platform refusal does not say why: $(cat "$work/v.txt")"
"$sn" governance propose revoke-platform-key --dir "$net" --platform-key xyz > /dev/null 2>&1; [ $? = 2 ] || fail "a malformed platform key is not a usage error"
"$sn" tx submit --dir "$net" --node 2 --table after --key k2 --value v > "$work/w2.txt" 2>&1 || fail "a write after the revocations: $(cat "$work/w2.txt")"
echo "ok: set-min-tcb and revoke-platform-key applied on every node; malformed ones refused; the network goes on"

echo "== 5. new collateral for running nodes: loaded, peers appraised again"
# Any certificate is collateral; the client's own will do (the virtual peers still pass).
cp "$net/client/member.crt.pem" "$work/extra-cert.pem"
"$sn" attest collateral add "$work/extra-cert.pem" --dir "$net" > "$work/col.txt" 2>&1 || fail "collateral add: $(cat "$work/col.txt")"
for n in 1 2 3; do
  ok=0
  for _ in $(seq 40); do grep -q "collateral in .* changed: 1 certificates.*appraised again" "$net/node-$n/node.log" && { ok=1; break; }; sleep 0.1; done
  [ "$ok" = 1 ] || fail "node $n did not load the new collateral"
done
"$sn" attest collateral add "$net/genesis.toml" --dir "$net" > "$work/col2.txt" 2>&1; [ $? = 2 ] || fail "a file that is not collateral was taken"
grep -q "not a certificate" "$work/col2.txt" || fail "the refusal does not say why: $(cat "$work/col2.txt")"
"$sn" tx submit --dir "$net" --node 3 --table after --key k3 --value v > "$work/w3.txt" 2>&1 || fail "a write after new collateral: $(cat "$work/w3.txt")"
echo "ok: every node loaded the new collateral and re-appraised its peers, which still pass; a non-collateral file refused"
echo "all revocation checks passed"
