#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: the validators' distributed key generation (issue 15,
# docs/keys.md). Three nodes end with the same group key and a share each; a node killed with
# -9 and restarted unseals its seed, replays the ledger and holds the same share again; a node
# whose sealed seed is gone (a rolled-back disk) follows with no share, and says why. The
# network signs ledger checkpoints with the group key: a receipt verifies offline with that key
# alone (`receipt verify --service-key`), also while one of the three is down. A client that a
# release policy names obtains a resource's key from any two validators, each release recorded;
# a private table's value is on no disk; a fourth node added by vote gets a share of the same key.
set -uo pipefail
sn=$1
base_port=$2
work=$(mktemp -d)
net="$work/net"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log; do [ -f "$f" ] && { echo "--- $f"; tail -12 "$f"; }; done; exit 1; }
start_node() { setsid "$sn" node run --config "$1/node-$2/node.toml" >> "$1/node-$2/node.log" 2>&1 & echo $! > "$1/node-$2/node.pid"; disown; }
# keys status of node $1 into $2, retried while the node is still starting (at most 60 s).
status_of() {
  for _ in $(seq 120); do
    "$sn" keys status --dir "$net" --node "$1" --json --wait 30 > "$2" 2> "$work/err" && return 0
    grep -q '"state"' "$2" 2>/dev/null && return 1
    sleep 0.5
  done
  return 1
}
# A top-level field of `keys status --json` (pretty-printed, one field per line): no JSON tool
# is installed on a fresh machine.
field() { sed -n -e "s/^  \"$2\": \"\(.*\)\",\{0,1\}\$/\1/p" -e "s/^  \"$2\": \([^\",]*\),\{0,1\}\$/\1/p" "$1"; }

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" --users 2 > /dev/null || fail "up"

echo "== 1. one group key, a share on every node"
for n in 1 2 3; do
  "$sn" keys status --dir "$net" --node "$n" --json --wait 60 > "$work/k$n.json" 2> /dev/null || fail "node $n: $(cat "$work/k$n.json")"
done
key=$(field "$work/k1.json" public_key)
for n in 1 2 3; do
  [ "$(field "$work/k$n.json" public_key)" = "$key" ] || fail "node $n reports another key"
  [ "$(field "$work/k$n.json" share)" = "true" ] || fail "node $n holds no share"
  [ "$(field "$work/k$n.json" threshold)" = "2" ] || fail "threshold is not f + 1 = 2"
done
for f in public_key threshold parties epoch checkpoint; do grep -q "\"$f\"" "$work/k1.json" || fail "the JSON has no $f"; done
[ "${#key}" = 64 ] || fail "the public key is not 32 bytes of hex: $key"
"$sn" keys status --dir "$net" --node 2 | grep -q "public key: $key" || fail "the text form does not show the key"
echo "ok: group key $key, threshold 2 of 3, a share on each node"

echo "== 2. signed checkpoints: a receipt verifies with the service key alone, even with a node down"
# A receipt's checkpoint (tx get --wait-checkpoint), then the offline checks: the right key
# passes, another key and a changed file are refused, and the genesis path still holds.
checkpoint_receipt() {  # checkpoint_receipt LABEL NODE
  "$sn" tx submit --dir "$net" --node "$2" --table cp --key "$1" --value v > "$work/$1.out" 2>&1 || fail "$1: write: $(cat "$work/$1.out")"
  local id
  id=$(sed -n 's/^transaction \([0-9a-f]\{64\}\) accepted.*/\1/p' "$work/$1.out")
  [ -n "$id" ] || fail "$1: no transaction id in: $(cat "$work/$1.out")"
  "$sn" tx get --dir "$net" --node "$2" "$id" --receipt "$work/$1.bin" --wait-checkpoint 60 > "$work/$1.get" 2>&1 ||
    fail "$1: no checkpoint covers the write: $(cat "$work/$1.get")"
  "$sn" receipt verify "$work/$1.bin" --service-key "$key" > "$work/$1.v" 2>&1 || fail "$1: the receipt does not verify with the key: $(cat "$work/$1.v")"
  grep -q "signed by the service key" "$work/$1.v" || fail "$1: verify does not name the checkpoint: $(cat "$work/$1.v")"
  echo "$1: $(sed -n 2p "$work/$1.v" | sed 's/^ *//')"
  "$sn" receipt verify "$work/$1.bin" --genesis "$net/genesis.toml" > /dev/null 2>&1 || fail "$1: the genesis path refuses the receipt"
}
checkpoint_receipt first 1
other=$(printf '%064x' 1 | sed 's/^0/5/')
"$sn" receipt verify "$work/first.bin" --service-key "$other" > "$work/wrong.v" 2>&1 && fail "a receipt verified with another key"
grep -q "NOT verified" "$work/wrong.v" || fail "another key: no refusal named: $(cat "$work/wrong.v")"
grep -q "signature" "$work/wrong.v" || fail "another key: the refusal does not say the signature check failed: $(cat "$work/wrong.v")"
# One byte of the transaction changed: the first letter of the written key.
at=$(grep -obUa 'first' "$work/first.bin" | head -1 | cut -d: -f1)
[ -n "$at" ] || fail "the receipt does not hold the written key"
cp "$work/first.bin" "$work/bad.bin"
printf 'g' | dd of="$work/bad.bin" bs=1 seek="$at" conv=notrunc 2> /dev/null
"$sn" receipt verify "$work/bad.bin" --service-key "$key" > "$work/bad.v" 2>&1 && fail "a changed receipt verified with the key"
"$sn" receipt verify "$work/first.bin" --service-key nothex > /dev/null 2>&1; [ $? = 2 ] || fail "a malformed key is not a usage error"
"$sn" receipt verify "$work/first.bin" > /dev/null 2>&1; [ $? = 2 ] || fail "neither --genesis nor --service-key is not a usage error"
echo "ok: a receipt verified with the service key alone; another key and a changed file refused"
kill -9 "$(cat "$net/node-2/node.pid")"
checkpoint_receipt with-one-down 1
"$sn" keys status --dir "$net" --node 1 --json > "$work/cp1.json" 2> /dev/null || fail "keys status after node 2 went down"
grep -q '"block_hash"' "$work/cp1.json" || fail "keys status shows no checkpoint: $(cat "$work/cp1.json")"
echo "ok: with node 2 killed (-9) the other two still sign checkpoints"
start_node "$net" 2
status_of 2 "$work/r2.json" || fail "node 2 after restart: $(cat "$work/r2.json" "$work/err")"

echo "== 3. kill -9 and restart: the same share again"
kill -9 "$(cat "$net/node-3/node.pid")"
sleep 0.5
start_node "$net" 3
status_of 3 "$work/r3.json" || fail "node 3 after restart: $(cat "$work/r3.json" "$work/err")"
[ "$(field "$work/r3.json" public_key)" = "$key" ] || fail "node 3 reports another key after its restart"
[ "$(field "$work/r3.json" share)" = "true" ] || fail "node 3 lost its share in a restart: $(cat "$work/r3.json")"
echo "ok: node 3 restarted with its share"

echo "== 4. key release to a client the release policy names, with a node killed too"
"$sn" keys release --dir "$net" --as user --resource dataset:alpha --out "$work/none.key" > "$work/nopolicy.out" 2>&1 &&
  fail "a key was released for a resource no policy names"
grep -q "no release policy names resource 'dataset:alpha'" "$work/nopolicy.out" || fail "no policy: the refusal does not say so: $(cat "$work/nopolicy.out")"
"$sn" governance propose set-release-policy --dir "$net" --resource dataset:alpha --client user --note "e2e" > "$work/pol.out" 2>&1 ||
  fail "set-release-policy: $(cat "$work/pol.out")"
grep -q "status applied" "$work/pol.out" || fail "the release policy was not applied: $(cat "$work/pol.out")"
"$sn" keys release --dir "$net" --as user --resource dataset:alpha --out "$work/a.key" > "$work/rel.out" 2>&1 || fail "release: $(cat "$work/rel.out")"
relkey=$(cat "$work/a.key")
[ "${#relkey}" = 64 ] || fail "the released key is not 32 bytes of hex: $relkey"
[ "$(stat -c %a "$work/a.key")" = 600 ] || fail "the key file is not mode 0600"
"$sn" keys release --dir "$net" --as member --resource dataset:alpha --out "$work/m.key" > "$work/mem.out" 2>&1 &&
  fail "a client the policy does not name obtained the key"
grep -q "client 'member' may not obtain 'dataset:alpha'" "$work/mem.out" || fail "member: the refusal does not name the check: $(cat "$work/mem.out")"
[ ! -e "$work/m.key" ] || fail "a refused release wrote a key file"
# Every release is on the ledger (never the key): each node's log shows the records.
# (Committed before each part left its validator; node 3 may apply that block a moment later.)
for _ in $(seq 1 50); do
  "$sn" keys status --dir "$net" --node 3 --json > "$work/log.json" 2> /dev/null || fail "keys status for the release log"
  grep -q '"requester": "client:user"' "$work/log.json" && break
  sleep 0.1
done
grep -q '"requester": "client:user"' "$work/log.json" || fail "the release log does not show the release: $(cat "$work/log.json")"
grep -rqs "$relkey" "$net"/node-* && fail "the released key is on a node's disk"
kill -9 "$(cat "$net/node-1/node.pid")"
"$sn" keys release --dir "$net" --as user --resource dataset:alpha --out "$work/b.key" > "$work/rel2.out" 2>&1 ||
  fail "release with node 1 killed: $(cat "$work/rel2.out")"
[ "$(cat "$work/b.key")" = "$relkey" ] || fail "another pair of validators gave another key"
grep -q "parts from nodes 2, 3" "$work/rel2.out" || fail "the parts did not come from nodes 2 and 3: $(cat "$work/rel2.out")"
echo "ok: the key released to user (the same from nodes 1+2 and, with node 1 killed, 2+3); member refused; every release logged"
start_node "$net" 1
status_of 1 "$work/r1.json" || fail "node 1 after restart: $(cat "$work/r1.json" "$work/err")"

echo "== 5. a private table: sealed on the ledger, read by its writer and members only"
secret="private-e2e-value-$$-$RANDOM"
"$sn" tx submit --dir "$net" --as user --table private.notes --key k1 --value "$secret" > "$work/pw.out" 2>&1 || fail "private write: $(cat "$work/pw.out")"
grep -q "committed at height" "$work/pw.out" || fail "the private write did not commit: $(cat "$work/pw.out")"
for who in user member; do
  "$sn" kv get --dir "$net" --as "$who" private.notes k1 > "$work/pr-$who.out" 2>&1 || fail "$who cannot read the private value: $(cat "$work/pr-$who.out")"
  grep -q "\"value\": \"$secret\"" "$work/pr-$who.out" || fail "$who reads another value: $(cat "$work/pr-$who.out")"
done
"$sn" kv get --dir "$net" --as user2 private.notes k1 > "$work/pr-user2.out" 2>&1 && fail "another user read the private value"
grep -q "only members and the client that wrote the key" "$work/pr-user2.out" || fail "user2: the refusal does not say why: $(cat "$work/pr-user2.out")"
grep -rqs "$secret" "$net"/node-* && fail "the private value is on a node's disk in plaintext"
# Node 1 was restarted above: it obtained the ledger key again by key release, with its own evidence.
ok=0
for _ in $(seq 40); do
  "$sn" kv get --dir "$net" --node 1 --as user private.notes k1 > "$work/pr-n1.out" 2>&1 && { ok=1; break; }
  sleep 0.25
done
[ "$ok" = 1 ] || fail "node 1 (restarted) does not read the private value: $(cat "$work/pr-n1.out")"
grep -q "$secret" "$work/pr-n1.out" || fail "node 1 reads another value"
echo "ok: a private value sealed on every disk, read by its writer and a member, refused to user2, read by a restarted node"

echo "== 6. a fourth validator added by vote: the key is reshared to it, unchanged"
"$sn" node add --dir "$net" > "$work/add.out" 2>&1 || fail "node add: $(cat "$work/add.out")"
grep -q "status applied" "$work/add.out" || fail "node 4 was not added: $(cat "$work/add.out")"
for n in 1 2 3 4; do
  ok=0
  for _ in $(seq 120); do
    "$sn" keys status --dir "$net" --node "$n" --json > "$work/e$n.json" 2> /dev/null && [ "$(field "$work/e$n.json" epoch)" = 1 ] && { ok=1; break; }
    sleep 0.25
  done
  [ "$ok" = 1 ] || fail "node $n did not reach epoch 1: $(cat "$work/e$n.json")"
  [ "$(field "$work/e$n.json" public_key)" = "$key" ] || fail "node $n reports another key after the resharing"
  [ "$(field "$work/e$n.json" share)" = "true" ] || fail "node $n holds no share after the resharing: $(cat "$work/e$n.json")"
  [ "$(field "$work/e$n.json" parties)" = 4 ] || fail "node $n: the key is not shared by 4"
done
checkpoint_receipt after-reshare 4
"$sn" keys release --dir "$net" --node 4 --as user --resource dataset:alpha --out "$work/c.key" > "$work/rel3.out" 2>&1 ||
  fail "release after the resharing: $(cat "$work/rel3.out")"
[ "$(cat "$work/c.key")" = "$relkey" ] || fail "the reshared key gives another resource key"
kill -9 "$(cat "$net/node-4/node.pid")"
sleep 0.5
start_node "$net" 4
status_of 4 "$work/r4.json" || fail "node 4 after restart: $(cat "$work/r4.json" "$work/err")"
[ "$(field "$work/r4.json" share)" = "true" ] && [ "$(field "$work/r4.json" epoch)" = 1 ] || fail "node 4 lost its reshared share in a restart: $(cat "$work/r4.json")"
echo "ok: reshared to 4 (epoch 1, threshold $(field "$work/e4.json" threshold)), same key; checkpoints signed, the same resource key released; node 4 keeps its share across kill -9"
# A proactive refresh the members order: every share changes, the key does not.
share_of() { sed -n "/\"public_shares\"/,/}/s/^    \"$2\": \"\([0-9a-f]*\)\".*/\1/p" "$1"; }
before=$(share_of "$work/e1.json" 1)
[ "${#before}" = 64 ] || fail "no public share of node 1 in keys status: $(cat "$work/e1.json")"
"$sn" keys rotate --dir "$net" --note e2e > "$work/rot.out" 2>&1 || fail "keys rotate: $(cat "$work/rot.out")"
grep -q "refresh_key .*status applied" "$work/rot.out" || fail "the refresh was not applied: $(cat "$work/rot.out")"
ok=0
for _ in $(seq 120); do
  "$sn" keys status --dir "$net" --node 1 --json > "$work/f1.json" 2> /dev/null && [ "$(field "$work/f1.json" epoch)" = 2 ] && { ok=1; break; }
  sleep 0.25
done
[ "$ok" = 1 ] || fail "the refresh did not reach epoch 2: $(cat "$work/f1.json")"
[ "$(field "$work/f1.json" public_key)" = "$key" ] || fail "the refresh changed the group key"
[ "$(share_of "$work/f1.json" 1)" != "$before" ] || fail "the refresh left node 1's share as it was"
checkpoint_receipt after-refresh 2
echo "ok: keys rotate refreshed every share (epoch 2), the group key unchanged, checkpoints still signed"

echo "== 7. the sealed seed gone: the node follows, holds no share, and says why"
kill -9 "$(cat "$net/node-3/node.pid")"
sleep 0.5
rm -f "$net/node-3/dkg-seed.sealed"
start_node "$net" 3
status_of 3 "$work/g3.json" || fail "node 3 without its seed: $(cat "$work/g3.json" "$work/err")"
[ "$(field "$work/g3.json" public_key)" = "$key" ] || fail "node 3 without its seed reports another key"
[ "$(field "$work/g3.json" share)" = "false" ] || fail "node 3 claims a share without its seed"
grep -q "sealed seed is gone" "$work/g3.json" || fail "node 3 does not say why it holds no share: $(cat "$work/g3.json")"
[ ! -e "$net/node-3/dkg-seed.sealed" ] || fail "node 3 made a new seed after it had taken part"
echo "ok: $(field "$work/g3.json" problem)"
echo "all keys checks passed"
