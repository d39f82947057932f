#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each (default 60), two at a time, with corpora seeded
# from the attestation vectors, and prints executions and findings per target.
# Build the targets first with `make fuzz`.
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/build-fuzz/fuzz"
out="$root/build-fuzz/runs"
vectors=${SUPERNET_ATTESTATION_VECTORS:-"$root/../shared/vectors/attestation"}
mkdir -p "$out"

seed() {  # seed TARGET FILES...
  local dir="$out/corpus/$1"
  shift
  mkdir -p "$dir"
  for f in "$@"; do [ -f "$f" ] && cp "$f" "$dir/" || true; done
}
if [ -d "$vectors" ]; then
  seed fuzz_snp_report "$vectors"/snp/*.bin
  seed fuzz_dcap_quote "$vectors"/sgx/*.bin "$vectors"/sgx/*.dat "$vectors"/tdx/*.bin "$vectors"/tdx/*.dat
  seed fuzz_cbor "$vectors"/psa/*.cbor "$vectors"/cca/*.cbor
  seed fuzz_evidence "$vectors"/psa/*.cbor "$vectors"/cca/*.cbor "$vectors"/snp/oak_milan_v3_report.bin
  seed fuzz_ratls_certificate "$vectors"/snp/*.der "$vectors"/sgx/intel/*.der
  seed fuzz_collateral "$vectors"/sgx/*.json "$vectors"/tdx/*.json "$vectors"/snp/amd/*.pem "$vectors"/sgx/*.der
  seed fuzz_pck_extension
  seed fuzz_policy
  seed fuzz_sealed_blob
  seed fuzz_tpm_attestation "$vectors"/tpm/*.pb "$vectors"/tpm/*.tpms_attest
fi
mkdir -p "$out/corpus/fuzz_api_request"
printf '%s' '{"table":"accounts","key":"alice","value":"100","nonce":42}' > "$out/corpus/fuzz_api_request/write.json"
printf '%s' '{"table":"t","key":"k","value_hex":"00ff"}' > "$out/corpus/fuzz_api_request/write_hex.json"
printf '%s' '{"tx":"534e4756020000000000000000000000000000000000000000000000000000000000000000000000000000000100000000000000"}' > "$out/corpus/fuzz_api_request/governance.json"
mkdir -p "$out/corpus/fuzz_membership"
mkdir -p "$out/corpus/fuzz_csv"
[ -f "$root/data/wine.csv" ] && head -20 "$root/data/wine.csv" > "$out/corpus/fuzz_csv/wine_head.csv"
printf 'a,b,label\n1,2,0\n3,4,1\n' > "$out/corpus/fuzz_csv/small.csv"
mkdir -p "$out/corpus/fuzz_job"
printf 'name = "j"\n[model]\nkind = "mlp"\nhidden = [8]\n[strategy]\nname = "krum"\n[dp]\nclip = 1.0\n[[parties]]\nnode = 1\ndataset = "a"\n[[parties]]\nnode = 2\ndataset = "b"\n' > "$out/corpus/fuzz_job/job.toml"
seed fuzz_consensus_message
seed fuzz_ledger

# Every target fuzz/CMakeLists.txt builds.
mapfile -t targets < <(sed -n "/set(FUZZ_TARGETS/,/)/p" "$root/fuzz/CMakeLists.txt" | tr -d "()" | tr " " "\n" | grep "^fuzz_")
run_one() {
  local t=$1
  mkdir -p "$out/corpus/$t" "$out/crashes/$t"
  "$bin/$t" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/crashes/$t/" "$out/corpus/$t" > "$out/$t.log" 2>&1 || true
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run_one "${targets[i]}" &
  [ $((i + 1)) -lt ${#targets[@]} ] && run_one "${targets[i + 1]}" &
  wait
done

status=0
printf '%-24s %12s %10s %s\n' target execs exec/s findings
for t in "${targets[@]}"; do
  line=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$out/$t.log" | tail -1)
  execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$line")
  rate=$(grep -oE 'exec/s: [0-9]+' <<<"$line" | awk '{print $2}')
  findings=$(find "$out/crashes/$t" -type f | wc -l)
  printf '%-24s %12s %10s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$findings"
  [ "$findings" -eq 0 ] || status=1
done
exit $status
