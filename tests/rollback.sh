#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1 (issue 13): the host of one node rolls its storage
# back. Node 2 is stopped (kill -9) and a copy of its ledger.db taken; it restarts and the
# network goes on writing; then it is killed again and restarted on the old copy while
# `supernet tx load` writes. It must catch up by sync, sign nothing that conflicts with what
# it signed before (no evidence against it on any ledger, no node isolates it), and end with a
# ledger identical to the others'; every acknowledged write committed once; ledger verify.
#   rollback.sh SUPERNET tee-bft|bft BASE_PORT
set -uo pipefail
sn=$1
consensus=$2
base_port=$3
nodes=$([ "$consensus" = bft ] && echo 4 || echo 3)
count=600
work=$(mktemp -d)
net="$work/net"
trap 'kill "$load_pid" 2>/dev/null; "$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
load_pid=

fail() { echo "FAIL: $*"; tail -5 "$work"/load*.txt 2>/dev/null; for f in "$net"/node-*/node.log; do echo "--- $f"; tail -12 "$f"; done; echo "0 passed, 1 failed"; exit 1; }
status_field() { sed -n "s/.*\"$2\":\(\[[^]]*\]\|[^,}]*\).*/\1/p" "$net/node-$1/status.json" 2>/dev/null; }
start() {
  setsid "$sn" node run --config "$net/node-$1/node.toml" >> "$net/node-$1/node.log" 2>&1 &
  echo $! > "$net/node-$1/node.pid"
}
rejoined() {  # node: its new process serves, signs and is connected to every other node
  for _ in $(seq 1 150); do
    if [ "$(status_field "$1" pid)" = "$(cat "$net/node-$1/node.pid")" ] && [ "$(status_field "$1" can_sign)" = "true" ] &&
       [ "$(status_field "$1" connected | tr -cd ',' | wc -c)" -eq $((nodes - 2)) ]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}
stop() { kill -9 "$(cat "$net/node-$1/node.pid")"; sleep 0.3; }

"$sn" up --nodes $nodes --dir "$net" --consensus "$consensus" --base-port "$base_port" > /dev/null || fail "up"
"$sn" tx load --dir "$net" --count $count --clients 4 --rate 300 --ids-out "$work/ids1.txt" --timeout 120 > "$work/load1.txt" 2>&1 || fail "the first writes"
stop 2
mkdir "$work/old"
cp "$net"/node-2/ledger.db* "$work/old/"
old_height=$(sqlite3 "$work/old/ledger.db" "SELECT coalesce(max(height), 0) FROM blocks")
start 2
rejoined 2 || fail "node 2 did not rejoin"
"$sn" tx load --dir "$net" --count $count --clients 4 --rate 300 --table mid --ids-out "$work/ids2.txt" --timeout 120 > "$work/load2.txt" 2>&1 || fail "the writes after the copy"
"$sn" tx load --dir "$net" --count $count --clients 4 --rate 300 --table late --ids-out "$work/ids3.txt" --timeout 120 > "$work/load3.txt" 2>&1 &
load_pid=$!
sleep 1
stop 2
top=$(status_field 1 height)
rm -f "$net"/node-2/ledger.db*
cp "$work/old"/ledger.db* "$net/node-2/"
echo "node 2 restarts on a copy of its ledger at height $old_height (the network is at $top)"
start 2
rejoined 2 || fail "node 2 did not rejoin on its old ledger"
wait "$load_pid" || fail "tx load: not every acknowledged write was committed"
load_pid=
for _ in $(seq 1 150); do
  h=$(for i in $(seq 1 $nodes); do status_field "$i" height; done | sort -u)
  [ "$(wc -l <<<"$h")" -eq 1 ] && break
  sleep 0.2
done
[ "$(wc -l <<<"$h")" -eq 1 ] || fail "node 2 did not catch up (heights: $(echo $h))"
[ "$h" -gt "$top" ] || fail "the network did not go on writing"
echo "node 2 caught up to height $h"
"$sn" down --dir "$net" > /dev/null || fail "down"
"$sn" ledger verify --dir "$net" > /dev/null || fail "ledger verify"
cat "$work"/ids[123].txt > "$work/ids.txt"
total=$((3 * count))
[ "$(wc -l < "$work/ids.txt")" -eq $total ] || fail "only $(wc -l < "$work/ids.txt") of $total writes acknowledged"
grep -q "isolated node" "$net"/node-*/node.log && fail "a node isolated another: $(grep -h 'isolated node' "$net"/node-*/node.log | head -3)"
first=
for i in $(seq 1 $nodes); do
  db="$net/node-$i/ledger.db"
  # Evidence transactions start with "SNEV": none may be on any ledger.
  ev=$(sqlite3 "$db" "SELECT count(*) FROM blocks WHERE instr(block, X'534E4556') > 0")
  [ "$ev" -eq 0 ] || fail "node $i's ledger holds evidence of misbehaviour"
  "$sn" ledger txs --dir "$(dirname "$db")" | awk '{ print $1 }' | sort > "$work/held.txt"
  [ -z "$(uniq -d "$work/held.txt")" ] || fail "node $i holds a transaction twice"
  found=$(comm -12 "$work/held.txt" <(sort "$work/ids.txt") | wc -l)
  [ "$found" -eq $total ] || fail "node $i holds $found of the $total acknowledged transactions"
  digest=$(sqlite3 "$db" "SELECT lower(hex(hash)) FROM blocks ORDER BY height" | sha256sum)
  if [ -z "$first" ]; then first=$digest; elif [ "$digest" != "$first" ]; then fail "node $i's ledger differs"; fi
done
echo "every node: every acknowledged write once, identical ledgers, no evidence, nobody isolated; ledger verify passes"
echo "1 passed, 0 failed"
