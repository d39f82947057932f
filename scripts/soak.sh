#!/usr/bin/env bash
# Simulator soak: many seeds per protocol across cluster sizes, outside the ranges CI runs, with
# every fault kind (network faults, crashes and rollbacks, Byzantine nodes, Byzantine hosts'
# attacks and nemeses picked per seed), using every core. Prints one line per (protocol, size)
# and the seeds that failed (each replays with the printed command).
#
#   scripts/soak.sh [SEEDS_PER_PROTOCOL] [BUILD_DIR]     (default 100000, build)
set -euo pipefail
total=${1:-100000}
build=${2:-build}
sim="$build/supernet_sim"
[ -x "$sim" ] || { echo "soak: $sim is missing; run make build first" >&2; exit 2; }
jobs=$(nproc)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
chunk=2000
plan=()
for spec in "tee-bft 3 5 7" "bft 4 7 10"; do
  set -- $spec
  protocol=$1; shift
  per_size=$(( (total + $# - 1) / $# ))
  for n in "$@"; do
    # A seed range per size, far from CI's 1..1000 and from the per-commit range.
    base=$(( 500000000 + n * 10000000 ))
    for ((start = 0; start < per_size; start += chunk)); do
      count=$(( per_size - start < chunk ? per_size - start : chunk ))
      plan+=("$protocol $n $((base + start)) $count")
    done
  done
done
echo "soak: ${#plan[@]} chunks of up to $chunk seeds, $jobs at a time, $total seeds per protocol"
started=$(date +%s)
printf '%s\n' "${plan[@]}" | xargs -P "$jobs" -L 1 bash -c '
  f="'"$out"'/$0-$1-$2.txt"
  "'"$sim"'" --protocol "$0" --nodes "$1" --seed "$2" --seeds "$3" > "$f" 2>/dev/null || true
  echo "$0 n=$1 seeds $2..$(( $2 + $3 - 1 )): $(tail -n 1 "$f")" >&2'
status=0
printf '\n%-8s %-4s %10s %10s %8s\n' protocol n seeds passed failed
for spec in "tee-bft 3 5 7" "bft 4 7 10"; do
  set -- $spec
  protocol=$1; shift
  for n in "$@"; do
    passed=0; failed=0
    for f in "$out/$protocol-$n-"*.txt; do
      line=$(tail -n 1 "$f")
      p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
      q=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
      passed=$((passed + ${p:-0})); failed=$((failed + ${q:-0}))
    done
    printf '%-8s %-4s %10s %10s %8s\n' "$protocol" "$n" "$((passed + failed))" "$passed" "$failed"
    [ "$failed" -eq 0 ] || status=1
  done
done
grep -h -A2 '^FAIL' "$out"/*.txt | head -60 || true
echo "soak: $(( $(date +%s) - started )) s"
exit $status
