#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: the validators' distributed key generation (issue 15,
# docs/keys.md). Three nodes end with the same group key and a share each; a node killed with
# -9 and restarted unseals its seed, replays the ledger and holds the same share again; a node
# whose sealed seed is gone (a rolled-back disk) follows with no share, and says why.
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

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" > /dev/null || fail "up"

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

echo "== 2. kill -9 and restart: the same share again"
kill -9 "$(cat "$net/node-3/node.pid")"
sleep 0.5
start_node "$net" 3
status_of 3 "$work/r3.json" || fail "node 3 after restart: $(cat "$work/r3.json" "$work/err")"
[ "$(field "$work/r3.json" public_key)" = "$key" ] || fail "node 3 reports another key after its restart"
[ "$(field "$work/r3.json" share)" = "true" ] || fail "node 3 lost its share in a restart: $(cat "$work/r3.json")"
echo "ok: node 3 restarted with its share"

echo "== 3. the sealed seed gone: the node follows, holds no share, and says why"
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
