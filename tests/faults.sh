#!/usr/bin/env bash
# End to end under faults, real processes on 127.0.0.1: `supernet up --nodes 4`, 2,000 writes
# from 8 concurrent clients (`supernet tx load`, which fails over between nodes and resubmits
# the same bytes when a node lost a pending write), kill -9 of a follower and later of the
# leader while writes are coming in, each restarted. Then: every acknowledged write is
# committed (tx load checks each one through the API), exactly once, every node holds the
# same ledger with all 2,000 keys, and `supernet ledger verify` passes.
set -uo pipefail
sn=$1
consensus=$2
base_port=$3
nodes=4
count=2000
work=$(mktemp -d)
trap 'kill "$load_pid" 2>/dev/null; "$sn" down --dir "$work/net" >/dev/null 2>&1; rm -rf "$work"' EXIT
load_pid=

fail() { echo "FAIL: $*"; tail -5 "$work/load.txt" 2>/dev/null; for f in "$work"/net/node-*/node.log; do echo "--- $f"; tail -15 "$f"; done; echo "0 passed, 1 failed"; exit 1; }

status_field() {  # node, field: a scalar or a [list] from the node's one-line status.json
  sed -n "s/.*\"$2\":\(\[[^]]*\]\|[^,}]*\).*/\1/p" "$work/net/node-$1/status.json" 2>/dev/null
}

restart() {
  setsid "$sn" node run --config "$work/net/node-$1/node.toml" >> "$work/net/node-$1/node.log" 2>&1 &
  echo $! > "$work/net/node-$1/node.pid"
}

rejoined() {  # node: up, signing, connected to every other node, as its new process reports it
  for _ in $(seq 1 150); do
    if [ "$(status_field "$1" pid)" = "$(cat "$work/net/node-$1/node.pid")" ] && [ "$(status_field "$1" can_sign)" = "true" ] &&
       [ "$(status_field "$1" connected | tr -cd ',' | wc -c)" -eq $((nodes - 2)) ]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

"$sn" up --nodes $nodes --dir "$work/net" --consensus "$consensus" --base-port "$base_port" > "$work/up.txt" || fail "supernet up"

"$sn" tx load --dir "$work/net" --count $count --clients 8 --rate 150 --ids-out "$work/ids.txt" --timeout 150 > "$work/load.txt" 2>&1 &
load_pid=$!

sleep 2
leader=$(status_field 1 leader)
follower=$(( leader % nodes + 1 ))
echo "kill -9 follower node $follower (leader is node $leader)"
kill -9 "$(cat "$work/net/node-$follower/node.pid")"
sleep 1.5
restart "$follower"
rejoined "$follower" || fail "follower node $follower did not rejoin"
echo "node $follower rejoined"

sleep 1
live=$(( follower % nodes + 1 ))
leader=$(status_field "$live" leader)
echo "kill -9 leader node $leader"
kill -9 "$(cat "$work/net/node-$leader/node.pid")"
sleep 1.5
restart "$leader"
rejoined "$leader" || fail "leader node $leader did not rejoin"
echo "node $leader rejoined"

wait "$load_pid" || fail "tx load: not every acknowledged write was committed"
load_pid=
tail -1 "$work/load.txt"
[ "$(wc -l < "$work/ids.txt")" -eq $count ] || fail "only $(wc -l < "$work/ids.txt") of $count writes acknowledged"

# Every node reaches the same height, then stops; each ledger holds each write exactly once.
for _ in $(seq 1 100); do
  h=$(for i in $(seq 1 $nodes); do status_field "$i" height; done | sort -u)
  [ "$(wc -l <<<"$h")" -eq 1 ] && break
  sleep 0.2
done
"$sn" down --dir "$work/net" > /dev/null || fail "down"
"$sn" ledger verify --dir "$work/net" || fail "ledger verify"
first=
for i in $(seq 1 $nodes); do
  db="$work/net/node-$i/ledger.db"
  keys=$(sqlite3 "$db" "SELECT count(*) FROM kv WHERE tbl = 'load'")
  [ "$keys" -eq $count ] || fail "node $i has $keys of $count keys"
  # Each acknowledged id appears in exactly one block position.
  "$sn" ledger txs --dir "$(dirname "$db")" | awk '{ print $1 }' | sort > "$work/held.txt"
  [ -z "$(uniq -d "$work/held.txt")" ] || fail "node $i holds a transaction twice"
  found=$(comm -12 "$work/held.txt" <(sort "$work/ids.txt") | wc -l)
  [ "$found" -eq $count ] || fail "node $i holds $found of the $count acknowledged transactions"
  digest=$(sqlite3 "$db" "SELECT lower(hex(hash)) FROM blocks ORDER BY height" | sha256sum)
  if [ -z "$first" ]; then first=$digest; elif [ "$digest" != "$first" ]; then fail "node $i's ledger differs"; fi
done
echo "every node: $count keys, every acknowledged transaction once, identical block hashes"
echo "1 passed, 0 failed"
