#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1 (issue 13): every node stops at once (kill -9 of all
# of them) while `supernet tx load` writes, and all restart. tee-bft: every vote key is gone, so
# nothing commits until the members recover the network (`supernet recover`, then a second
# member's `supernet governance approve`). bft keeps its keys and needs no vote. Then: every
# acknowledged write is committed exactly once and held by every node, receipts from before and
# after the stop verify offline, and `supernet ledger verify` passes across the recovery.
#   recovery.sh SUPERNET tee-bft|bft BASE_PORT
set -uo pipefail
sn=$1
consensus=$2
base_port=$3
nodes=$([ "$consensus" = bft ] && echo 4 || echo 3)
count=1500
work=$(mktemp -d)
net="$work/net"
trap 'kill "$load_pid" 2>/dev/null; "$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
load_pid=

fail() { echo "FAIL: $*"; tail -5 "$work/load.txt" 2>/dev/null; for f in "$net"/node-*/node.log; do echo "--- $f"; tail -12 "$f"; done; echo "0 passed, 1 failed"; exit 1; }
status_field() { sed -n "s/.*\"$2\":\(\[[^]]*\]\|[^,}]*\).*/\1/p" "$net/node-$1/status.json" 2>/dev/null; }

"$sn" up --nodes $nodes --dir "$net" --consensus "$consensus" --base-port "$base_port" --members 2 > /dev/null || fail "up"
"$sn" tx submit --dir "$net" --table before --key k --value v --receipt "$work/before.bin" > /dev/null || fail "a write before the stop"
"$sn" tx load --dir "$net" --count $count --clients 4 --rate 400 --ids-out "$work/ids.txt" --timeout 120 > "$work/load.txt" 2>&1 &
load_pid=$!
sleep 1.5
echo "kill -9 of every node"
for i in $(seq 1 $nodes); do kill -9 "$(cat "$net/node-$i/node.pid")"; done
sleep 0.5
for i in $(seq 1 $nodes); do
  setsid "$sn" node run --config "$net/node-$i/node.toml" >> "$net/node-$i/node.log" 2>&1 &
  echo $! > "$net/node-$i/node.pid"
done
serving() { for i in $(seq 1 $nodes); do [ "$(status_field "$i" pid)" = "$(cat "$net/node-$i/node.pid")" ] || return 1; done; }
for _ in $(seq 1 100); do serving && break; sleep 0.2; done
serving || fail "the nodes did not come back"
if [ "$consensus" = tee-bft ]; then
  sleep 1
  [ "$(status_field 1 can_sign)" = "false" ] || fail "a restarted tee-bft node signs without a recovery"
  "$sn" recover --dir "$net" > "$work/recover.txt" 2>&1 || { cat "$work/recover.txt"; fail "recover"; }
  cat "$work/recover.txt"
  id=$(sed -n 's/^recovery \([0-9a-f]*\)$/\1/p' "$work/recover.txt")
  [ -n "$id" ] || fail "no recovery id"
  grep -q "1 member approval(s), 2 needed" "$work/recover.txt" || fail "one member's approval was enough"
  "$sn" governance approve "$id" --dir "$net" --as member2 > "$work/approve.txt" 2>&1 || { cat "$work/approve.txt"; fail "approve"; }
  cat "$work/approve.txt"
  grep -q "applied" "$work/approve.txt" || fail "no node applied the recovery"
fi
wait "$load_pid" || fail "tx load: not every acknowledged write was committed"
load_pid=
tail -1 "$work/load.txt"
[ "$(wc -l < "$work/ids.txt")" -eq $count ] || fail "only $(wc -l < "$work/ids.txt") of $count writes acknowledged"
"$sn" tx submit --dir "$net" --table after --key k --value v --receipt "$work/after.bin" > /dev/null || fail "a write after the recovery"
for r in before after; do "$sn" receipt verify "$work/$r.bin" --genesis "$net/genesis.toml" > /dev/null || fail "the $r receipt"; done
echo "receipts from before and after the stop verify offline"
for _ in $(seq 1 100); do
  h=$(for i in $(seq 1 $nodes); do status_field "$i" height; done | sort -u)
  [ "$(wc -l <<<"$h")" -eq 1 ] && break
  sleep 0.2
done
"$sn" down --dir "$net" > /dev/null || fail "down"
"$sn" ledger verify --dir "$net" > /dev/null || fail "ledger verify"
first=
for i in $(seq 1 $nodes); do
  db="$net/node-$i/ledger.db"
  keys=$(sqlite3 "$db" "SELECT count(*) FROM kv WHERE tbl = 'load'")
  [ "$keys" -eq $count ] || fail "node $i has $keys of $count keys"
  "$sn" ledger txs --dir "$(dirname "$db")" | awk '{ print $1 }' | sort > "$work/held.txt"
  [ -z "$(uniq -d "$work/held.txt")" ] || fail "node $i holds a transaction twice"
  found=$(comm -12 "$work/held.txt" <(sort "$work/ids.txt") | wc -l)
  [ "$found" -eq $count ] || fail "node $i holds $found of the $count acknowledged transactions"
  digest=$(sqlite3 "$db" "SELECT lower(hex(hash)) FROM blocks ORDER BY height" | sha256sum)
  if [ -z "$first" ]; then first=$digest; elif [ "$digest" != "$first" ]; then fail "node $i's ledger differs"; fi
done
echo "every node: $count keys, every acknowledged write once, identical ledgers; ledger verify passes"
echo "1 passed, 0 failed"
