#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: what the host of a node can do with the developer
# tools and its disk (issue 9), and what the network does about it.
#  1. The tools are no oracle for the node program: they cannot unseal node 1's identity key,
#     their evidence fails the network's policy (it measures supernet-node), and a tool that
#     dials node 2 as "node 1" with node 1's own platform is refused.
#  2. A node whose local policy is weaker than the genesis' floor refuses to start.
#  3. A node's sealed identity key copied into another node's folder is refused.
#  4. bft: a rolled-back sign state stops the node (checked against the ledger), the right one
#     lets it rejoin.
set -uo pipefail
sn=$1
base_port=$2
work=$(mktemp -d)
net="$work/net"
bnet="$work/bnet"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; "$sn" down --dir "$bnet" >/dev/null 2>&1; rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log "$bnet"/node-*/node.log; do [ -f "$f" ] && { echo "--- $f"; tail -12 "$f"; }; done; echo "0 passed, 1 failed"; exit 1; }
# Runs node $2 of network $1 in the foreground for at most $3 s; its exit code (124: still running).
run_node() { timeout "$3" "$sn" node run --config "$1/node-$2/node.toml" >> "$1/node-$2/node.log" 2>&1; }
start_node() { setsid "$sn" node run --config "$1/node-$2/node.toml" >> "$1/node-$2/node.log" 2>&1 & echo $! > "$1/node-$2/node.pid"; }
status_field() { sed -n "s/.*\"$3\":\(\[[^]]*\]\|[^,}]*\).*/\1/p" "$1/node-$2/status.json" 2>/dev/null; }

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" > /dev/null || fail "up"
"$sn" tx submit --dir "$net" --table t --key before --value v > /dev/null || fail "a first write"

echo "== 1. the developer tools are no oracle for the node program"
if "$sn" unseal --platform virtual --virtual-dir "$net/node-1/platform" --label node-identity-key \
    --in "$net/node-1/identity.ed25519.sealed" --out "$work/stolen.key" 2> "$work/err.txt"; then
  fail "the tools unsealed node 1's identity key"
fi
grep -q "seal.auth" "$work/err.txt" || fail "unseal failed for another reason than the key: $(cat "$work/err.txt")"
echo "unseal refused: $(cat "$work/err.txt")"
"$sn" attest evidence --platform virtual --virtual-dir "$net/node-1/platform" --report-data "$(printf '%0128d' 0)" \
  --out "$work/tool-evidence.cbor" > /dev/null || fail "the tools make evidence for themselves"
if "$sn" attest verify "$work/tool-evidence.cbor" --policy "$net/network-policy.toml" > "$work/verify.txt" 2>&1; then
  fail "the network's policy accepted the tools' evidence"
fi
grep -q "is not allowed" "$work/verify.txt" || fail "the refusal does not name the measurement: $(cat "$work/verify.txt")"
echo "the tools' evidence fails the network's policy: $(grep -m1 'not allowed' "$work/verify.txt")"
peer2=$((base_port + 2))
if "$sn" ratls connect --platform virtual --virtual-dir "$net/node-1/platform" --policy "$net/network-policy.toml" \
    --port "$peer2" --message "I am node 1" > /dev/null 2>&1; then
  fail "node 2 admitted a tool as a peer"
fi
for _ in $(seq 1 20); do grep -q "refused incoming peer" "$net/node-2/node.log" && break; sleep 0.1; done
grep -q "refused incoming peer" "$net/node-2/node.log" || fail "node 2 logged no refusal of the tool"
echo "node 2: $(grep -m1 'refused incoming peer' "$net/node-2/node.log" | cut -c1-160)"

echo "== 2. a local policy weaker than the genesis' floor"
kill "$(cat "$net/node-3/node.pid")"
for _ in $(seq 1 50); do [ "$(status_field "$net" 1 connected)" = "[2]" ] && break; sleep 0.1; done
cp "$net/network-policy.toml" "$work/policy.good"
sed -i "s/^max_evidence_age_seconds = .*/max_evidence_age_seconds = 999999/" "$net/network-policy.toml"
run_node "$net" 3 20
code=$?
[ "$code" -eq 1 ] || fail "node 3 with a weaker policy: exit $code, expected 1"
grep -q "policy.below_floor" "$net/node-3/node.log" || fail "node 3 did not say its policy is below the floor"
echo "node 3 refused to start: $(grep -m1 'below_floor' "$net/node-3/node.log" | cut -c1-160)"
cp "$work/policy.good" "$net/network-policy.toml"

echo "== 3. another node's sealed identity key"
cp "$net/node-3/identity.ed25519.sealed" "$work/identity3"
cp "$net/node-1/identity.ed25519.sealed" "$net/node-3/identity.ed25519.sealed"
run_node "$net" 3 20
code=$?
[ "$code" -eq 1 ] || fail "node 3 with node 1's identity blob: exit $code, expected 1"
grep -qE "seal\.(owner|auth)" "$net/node-3/node.log" || fail "node 3 did not refuse the foreign blob"
echo "node 3 refused it: $(grep -m1 -E 'seal\.(owner|auth)' "$net/node-3/node.log" | cut -c1-160)"
cp "$work/identity3" "$net/node-3/identity.ed25519.sealed"
start_node "$net" 3
rejoined() { [ "$(status_field "$net" 3 can_sign)" = "true" ] && [ "$(status_field "$net" 3 connected)" = "[1,2]" ]; }
for _ in $(seq 1 100); do rejoined && break; sleep 0.2; done
rejoined || fail "node 3 did not rejoin with its own files"
echo "node 3 rejoined with its own files"
"$sn" down --dir "$net" > /dev/null

echo "== 4. bft: a rolled-back sign state"
"$sn" up --nodes 4 --dir "$bnet" --consensus bft --base-port $((base_port + 400)) > /dev/null || fail "bft up"
cp "$bnet/node-2/sign-state.sealed" "$work/sign-state.old"
"$sn" tx load --dir "$bnet" --count 50 --clients 2 > /dev/null 2>&1 || fail "bft writes"
kill "$(cat "$bnet/node-2/node.pid")"
sleep 0.5
cp "$bnet/node-2/sign-state.sealed" "$work/sign-state.good"
cp "$work/sign-state.old" "$bnet/node-2/sign-state.sealed"
run_node "$bnet" 2 20
code=$?
[ "$code" -eq 1 ] || fail "node 2 with a rolled-back sign state: exit $code, expected 1"
grep -q "sign_state.rolled_back" "$bnet/node-2/node.log" || fail "node 2 did not detect the rollback"
echo "node 2 refused to sign: $(grep -m1 'rolled_back' "$bnet/node-2/node.log" | cut -c1-180)"
rm "$bnet/node-2/sign-state.sealed"
run_node "$bnet" 2 20
code=$?
[ "$code" -eq 1 ] || fail "node 2 without a sign state: exit $code, expected 1"
grep -q "sign_state.missing" "$bnet/node-2/node.log" || fail "node 2 did not refuse a missing sign state"
cp "$work/sign-state.good" "$bnet/node-2/sign-state.sealed"
start_node "$bnet" 2
for _ in $(seq 1 100); do [ "$(status_field "$bnet" 2 connected)" = "[1,3,4]" ] && break; sleep 0.2; done
[ "$(status_field "$bnet" 2 connected)" = "[1,3,4]" ] || fail "node 2 did not rejoin with its sign state"
"$sn" tx load --dir "$bnet" --count 20 --clients 2 > /dev/null 2>&1 || fail "bft writes after the rejoin"
"$sn" down --dir "$bnet" > /dev/null
"$sn" ledger verify --dir "$bnet" > /dev/null || fail "bft ledger verify"
echo "1 passed, 0 failed"
