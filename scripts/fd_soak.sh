#!/usr/bin/env bash
# Failure detector soak (issue 13): a local 3-node network under steady write load for
# MINUTES (default 30) while an FL job trains; no node may suspect another (a "suspect node"
# line in any log) and every acknowledged write must commit. Prints a summary line:
#   "fd soak: M min, W writes committed, S suspicions, T take-overs"
#   scripts/fd_soak.sh [MINUTES] [BUILD_DIR] [BASE_PORT]
set -uo pipefail
minutes=${1:-30}
build=${2:-build}
base_port=${3:-29100}
sn="$build/supernet"
[ -x "$sn" ] || { echo "fd soak: $sn is missing; run make build first" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
net="$work/net"
trap 'kill "$load_pid" 2>/dev/null; "$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
load_pid=
seconds=$((minutes * 60))
rate=100
"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" > /dev/null || { echo "fd soak: up failed" >&2; exit 1; }
"$sn" data split "$here/data/breast_cancer.csv" --parties 3 --out-dir "$work/parts" > /dev/null || exit 1
for i in 1 2 3; do "$sn" data register --dir "$net" --node "$i" --name hospital "$work/parts/party-$i.csv" > /dev/null || exit 1; done
{
  printf 'name = "soak"\nrounds = 10000\nmin_parties = 2\nround_timeout_s = 5\n[model]\nkind = "mlp"\nhidden = [32]\n[training]\nepochs = 1\n'
  for i in 1 2 3; do printf '[[parties]]\nnode = %d\ndataset = "hospital"\n' "$i"; done
} > "$work/job.toml"
"$sn" fl submit --dir "$net" "$work/job.toml" > /dev/null || { echo "fd soak: fl submit failed" >&2; exit 1; }
"$sn" tx load --dir "$net" --count $((seconds * rate)) --clients 4 --rate $rate --timeout $((seconds + 120)) > "$work/load.txt" 2>&1 &
load_pid=$!
echo "fd soak: $minutes min of $rate writes/s and an FL job on 3 nodes" >&2
for ((m = 1; m <= minutes; m++)); do
  sleep 60
  s=$(grep -h "suspect node" "$net"/node-*/node.log | wc -l)
  echo "fd soak: $m/$minutes min, $s suspicions so far" >&2
done
wait "$load_pid"
load_ok=$?
load_pid=
writes=$(sed -n 's/.*acknowledged, \([0-9]*\) committed.*/\1/p' "$work/load.txt" | tail -1)
suspicions=$(grep -h "suspect node" "$net"/node-*/node.log | wc -l)
takeovers=$(grep -h "aggregates job soak, resuming" "$net"/node-*/node.log | wc -l)
grep -h "suspect node" "$net"/node-*/node.log | head -5 >&2
tail -1 "$work/load.txt" >&2
echo "fd soak: $minutes min, ${writes:-?} writes committed, $suspicions suspicions, $takeovers take-overs"
[ "$load_ok" -eq 0 ] && [ "$suspicions" -eq 0 ] && [ "$takeovers" -eq 0 ]
