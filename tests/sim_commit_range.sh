#!/usr/bin/env bash
# The simulator on a seed range that changes with every commit, besides CI's fixed 1..1000: a
# bug that only a fixed range hides is still a bug. The range comes from the commit hash (or,
# outside a git checkout, from the date) and is printed first, so a failure replays.
#   sim_commit_range.sh SUPERNET_SIM PROTOCOL SEEDS
set -euo pipefail
sim=$1
protocol=$2
seeds=$3
src=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || date +%Y%m%d)
first=$(( 1000000 + 0x$(printf '%s' "$commit" | sha256sum | cut -c1-7) ))
echo "commit $commit: $protocol seeds $first..$((first + seeds - 1)) (replay one: $sim --protocol $protocol --seed N --verbose)"
exec "$sim" --protocol "$protocol" --seed "$first" --seeds "$seeds"
