#!/usr/bin/env bash
# Fault detection, measured on real processes (issue 13): a 3-node network runs a federated
# learning job (three parties, the breast cancer data split three ways); its aggregator is
# killed with -9, and we time, from the kill, (a) until a surviving node's failure detector
# suspects it and (b) until another node takes the job over (its "aggregates job ..., resuming"
# log line; logs are stamped to the millisecond). The killed node restarts and rejoins, the job
# goes on, and the next kill hits the aggregator of the moment. The same job, the same kills,
# twice: with the phi-accrual failure detector (the default) and with the fixed 10 s timeout of
# before (`supernet up --fault-detection timeout`) as the baseline measured in the same run.
#
#   bench/takeover.sh SUPERNET DATA_DIR [KILLS] [BASE_PORT]       (default 10 kills, port 28100)
#
# Last line: "takeover: phi-accrual median X s, worst Y s; fixed 10 s timeout median X s,
# worst Y s; Z% less time to take over"
set -uo pipefail
sn=$1
data=$2
kills=${3:-10}
base_port=${4:-28100}
work=$(mktemp -d)
trap 'for m in phi-accrual timeout; do "$sn" down --dir "$work/$m" >/dev/null 2>&1; done; rm -rf "$work"' EXIT
fail() { echo "takeover: FAIL: $*" >&2; for f in "$net"/node-*/node.log; do echo "--- $f" >&2; tail -8 "$f" >&2; done; exit 1; }
now_ms() { date +%s%3N; }
# Milliseconds since the epoch of the first log line (after line number $2 of file $3) matching $1.
log_ms() {
  local stamp
  stamp=$(tail -n +"$(($2 + 1))" "$3" 2>/dev/null | grep -m1 -E "$1" | cut -d' ' -f1)
  [ -n "$stamp" ] || return 1
  date -d "$stamp" +%s%3N
}
status_field() { sed -n "s/.*\"$2\":\(\[[^]]*\]\|[^,}]*\).*/\1/p" "$net/node-$1/status.json" 2>/dev/null; }
"$sn" data split "$data/breast_cancer.csv" --parties 3 --out-dir "$work/parts" > /dev/null || { echo "takeover: cannot split the data" >&2; exit 1; }

cat > "$work/job.toml" <<JOB
name = "takeover"
rounds = 10000
min_parties = 2
seed = 5
round_timeout_s = 5
model_readers = ["member"]
[model]
kind = "mlp"
hidden = [64]
[training]
epochs = 2
batch = 32
learning_rate = 0.05
JOB
for i in 1 2 3; do printf '[[parties]]\nnode = %d\ndataset = "hospital"\n' "$i"; done >> "$work/job.toml"

declare -A results
port=$base_port
for mode in phi-accrual timeout; do
  net="$work/$mode"
  "$sn" up --nodes 3 --dir "$net" --base-port "$port" --fault-detection "$mode" > /dev/null || fail "up ($mode)"
  port=$((port + 300))
  for i in 1 2 3; do "$sn" data register --dir "$net" --node "$i" --name hospital "$work/parts/party-$i.csv" > /dev/null || fail "register"; done
  job=$("$sn" fl submit --dir "$net" "$work/job.toml" | sed -n 's/^job \([0-9a-f]*\) submitted$/\1/p')
  [ -n "$job" ] || fail "submit"
  takeovers=() suspicions=()
  for k in $(seq 1 "$kills"); do
    # The aggregator of the moment, once it has recorded a round since the last take-over.
    agg=
    for _ in $(seq 1 300); do
      live=1
      for i in 1 2 3; do [ -z "${down:-}" ] || [ "$i" != "$down" ] || continue; live=$i; break; done
      "$sn" fl status --dir "$net" --node "$live" "$job" > "$work/status.txt" 2>/dev/null
      agg=$(sed -n 's/.*aggregator node \([0-9]*\).*/\1/p' "$work/status.txt" | head -1)
      rounds=$(sed -n 's/.*round \([0-9]*\) of .*/\1/p' "$work/status.txt" | head -1)
      [ -n "$agg" ] && [ "${rounds:-0}" -gt "${last_rounds:-0}" ] && break
      agg=
      sleep 0.1
    done
    [ -n "$agg" ] || fail "no aggregator recorded a round ($mode, kill $k)"
    last_rounds=$rounds
    declare -A mark=()
    for i in 1 2 3; do mark[$i]=$(wc -l < "$net/node-$i/node.log"); done
    t0=$(now_ms)
    kill -9 "$(cat "$net/node-$agg/node.pid")"
    # Wait for the take-over: a survivor's log says it aggregates the job, resuming.
    took= suspected=
    for _ in $(seq 1 600); do
      for i in 1 2 3; do
        [ "$i" = "$agg" ] && continue
        [ -n "$took" ] || took=$(log_ms "aggregates job takeover, resuming after round" "${mark[$i]}" "$net/node-$i/node.log") || took=
        if [ "$mode" = phi-accrual ] && [ -z "$suspected" ]; then
          suspected=$(log_ms "suspect node $agg " "${mark[$i]}" "$net/node-$i/node.log") || suspected=
        fi
      done
      [ -n "$took" ] && { [ "$mode" = timeout ] || [ -n "$suspected" ]; } && break
      sleep 0.05
    done
    [ -n "$took" ] || fail "nobody took the job over within 30 s ($mode, kill $k of node $agg)"
    takeovers+=($((took - t0)))
    line="$mode kill $k (node $agg after round $rounds): taken over after $((took - t0)) ms"
    if [ -n "$suspected" ]; then suspicions+=($((suspected - t0))); line+=", suspected after $((suspected - t0)) ms"; fi
    echo "$line" >&2
    # The killed node restarts and rejoins before the next kill.
    (setsid "$sn" node run --config "$net/node-$agg/node.toml" >> "$net/node-$agg/node.log" 2>&1 & echo $! > "$net/node-$agg/node.pid")
    for _ in $(seq 1 150); do
      [ "$(status_field "$agg" pid)" = "$(cat "$net/node-$agg/node.pid")" ] && [ "$(status_field "$agg" connected | tr -cd ',' | wc -c)" -eq 1 ] &&
        [ "$(status_field 1 suspected)$(status_field 2 suspected)$(status_field 3 suspected)" = "[][][]" ] && break
      sleep 0.2
    done
  done
  results[$mode]="${takeovers[*]}"
  [ "$mode" = phi-accrual ] && results[suspect]="${suspicions[*]}"
  "$sn" down --dir "$net" > /dev/null 2>&1
  last_rounds=0
done

stats() {  # "median worst" in seconds of a list of milliseconds
  tr ' ' '\n' <<<"$1" | sort -n | awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f %.2f", m / 1000, v[NR] / 1000 }'
}
read -r pm pw <<<"$(stats "${results[phi-accrual]}")"
read -r tm tw <<<"$(stats "${results[timeout]}")"
read -r sm sw <<<"$(stats "${results[suspect]}")"
met() { awk -v v="$1" -v g="$2" 'BEGIN { print (v <= g ? "met" : "NOT met") }'; }
echo "suspicion (phi-accrual): median $sm s, worst $sw s over $kills kills; goal within 2 s: $(met "$sw" 2)"
echo "take-over (phi-accrual): worst $pw s over $kills kills; goal within 3 s: $(met "$pw" 3)"
echo "takeover: phi-accrual median $pm s, worst $pw s; fixed 10 s timeout median $tm s, worst $tw s; $(awk -v a="$pm" -v b="$tm" 'BEGIN { printf "%.0f", (1 - a / b) * 100 }')% less time to take over"
