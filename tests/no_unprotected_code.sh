#!/usr/bin/env bash
# The benchmark-only unprotected build (plain TCP between nodes, plaintext "sealing") must exist
# only in bench_fl_round_unprotected: its marker string is absent from the product's library and
# every other executable, and present in that one (so a renamed marker fails here too).
# Usage: no_unprotected_code.sh UNPROTECTED_BINARY PRODUCT_FILE...
set -u
marker="SUPERNET-UNPROTECTED-BENCHMARK-BUILD"
unprotected=$1
shift
status=0
if ! grep -q -a "$marker" "$unprotected"; then
  echo "FAIL: $(basename "$unprotected") lacks the marker: the test no longer checks anything" >&2
  status=1
fi
for f in "$@"; do
  if [ ! -f "$f" ]; then
    echo "FAIL: $f does not exist" >&2
    status=1
  elif grep -q -a "$marker" "$f"; then
    echo "FAIL: $(basename "$f") contains the unprotected benchmark build" >&2
    status=1
  else
    echo "ok: $(basename "$f") has no unprotected code"
  fi
done
exit $status
