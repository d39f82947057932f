#!/usr/bin/env bash
# Fetches the real data sets the federated learning code trains on, from Debian's own
# python3-sklearn package (no Python is installed or run): `apt-get download` the package,
# `dpkg -x` it into a temporary folder, and convert its CSV files to plain CSV with a header row
# and the label as the last column, into data/ (not tracked by git).
#
#   breast_cancer.csv  569 x 30, labels 0 malignant / 1 benign  (Wisconsin Diagnostic Breast Cancer)
#   digits.csv         1,797 x 64, labels 0-9                   (UCI optical recognition of handwritten digits, 8x8)
#   wine.csv           178 x 13, labels 0-2                     (UCI wine recognition)
#
# Sources and licences: docs/datasets.md. Idempotent: does nothing when the files are present.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/data"
if [ -s "$out/breast_cancer.csv" ] && [ -s "$out/digits.csv" ] && [ -s "$out/wine.csv" ]; then
  echo "fetch-datasets: data sets present in data/"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"  # apt's download user must be able to write here
download() { (cd "$tmp" && apt-get download python3-sklearn >/dev/null 2>&1); }
if ! download; then
  # No package index yet (a fresh or slimmed system): refresh it, as install-deps.sh would.
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq || true; elif command -v sudo >/dev/null; then sudo apt-get update -qq || true; fi
  download || { echo "fetch-datasets: 'apt-get download python3-sklearn' failed (no network to the Debian mirror?)" >&2; exit 1; }
fi
dpkg -x "$tmp"/python3-sklearn_*.deb "$tmp/x"
src=$(find "$tmp/x" -type d -path '*sklearn/datasets/data' | head -1)
[ -n "$src" ] || { echo "fetch-datasets: the package holds no sklearn/datasets/data" >&2; exit 1; }
mkdir -p "$out"

# sklearn's files start with a line "n_samples,n_features,class names..." (breast cancer, wine)
# or have no header (digits); rows are features then the label. Write a header f0..fN-1,label.
header() { awk -F, -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "f%d,", i; print "label" }'; }
convert() {  # name, source stream (on stdin), features, expected rows, skip first line (0/1)
  local name=$1 features=$2 rows=$3 skip=$4
  { header "$features"; if [ "$skip" = 1 ]; then tail -n +2; else cat; fi; } > "$out/$name.tmp"
  local got=$(( $(wc -l < "$out/$name.tmp") - 1 ))
  [ "$got" -eq "$rows" ] || { echo "fetch-datasets: $name has $got rows, expected $rows" >&2; exit 1; }
  mv "$out/$name.tmp" "$out/$name.csv"
}
convert breast_cancer 30 569 1 < "$src/breast_cancer.csv"
convert wine 13 178 1 < "$src/wine_data.csv"
gzip -dc "$src/digits.csv.gz" | convert digits 64 1797 0
cp "$(find "$tmp/x" -name copyright -path '*python3-sklearn*' | head -1)" "$out/sklearn-copyright.txt" 2>/dev/null || true
echo "fetch-datasets: wrote data/breast_cancer.csv data/digits.csv data/wine.csv (from Debian's python3-sklearn)"
