#!/usr/bin/env bash
# Bad input to the CLI gets a clear error and exit code 2 (or 1 for a failed check), never a crash.
set -uo pipefail
sn=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SUPERNET_VIRTUAL_DIR="$work/virtual"
failures=0

source "$(dirname "$0")/check.sh"

head -c 100 /dev/urandom > "$work/garbage.bin"
: > "$work/empty.bin"
echo 'profile = ' > "$work/bad-policy.toml"
"$sn" attest evidence --platform virtual --report-data 00 --out "$work/ev.cbor" > /dev/null

check 2 "io.open" -- "$sn" attest verify "$work/missing.bin"
check 1 "evidence.format" -- "$sn" attest verify "$work/garbage.bin"
check 1 "evidence.format" -- "$sn" attest verify "$work/empty.bin"
check 2 "evidence.format" -- "$sn" attest inspect "$work/garbage.bin"
# Garbage that starts like COSE (a random file did so once in a CI run: "cbor.simple" leaked out).
printf '\xd2\xef\x01\x02\x03' > "$work/cose-garbage.bin"
printf '\x84\xf0' > "$work/cose-garbage2.bin"
check 1 "evidence.format" -- "$sn" attest verify "$work/cose-garbage.bin"
check 1 "evidence.format" -- "$sn" attest verify "$work/cose-garbage2.bin"
check 2 "hex" -- "$sn" attest evidence --platform virtual --report-data xyz --out "$work/x"
check 2 "at most 64 bytes" -- "$sn" attest evidence --platform virtual --report-data "$(printf '%0130d' 0)" --out "$work/x"
check 2 "time.format" -- "$sn" attest verify "$work/ev.cbor" --at yesterday
check 2 "policy.syntax" -- "$sn" attest verify "$work/ev.cbor" --policy "$work/bad-policy.toml"
check 2 "platform.unknown" -- "$sn" attest verify "$work/ev.cbor" --platform quantum
check 1 "evidence is virtual, expected sev-snp" -- "$sn" attest verify "$work/ev.cbor" --platform sev-snp
check 2 "collateral.unknown" -- "$sn" attest verify "$work/ev.cbor" --collateral "$work/garbage.bin"
check 2 "tee.snp_absent|sev-guest" -- "$sn" attest evidence --platform sev-snp --report-data 00 --out "$work/x"
check 2 "Gramine" -- "$sn" attest evidence --platform sgx --report-data 00 --out "$work/x"
check 1 "seal.format" -- "$sn" unseal --platform virtual --label x --in "$work/garbage.bin" --out "$work/x"
check 2 "required" -- "$sn" attest verify
"$sn" attest dev-policy --out "$work/policy.toml" > /dev/null
check 2 "net.connect" -- "$sn" ratls connect --platform virtual --policy "$work/policy.toml" --port 1
check 0 "Usage" -- "$sn" attest verify --help
# Clients of a network, data and job files: clear errors, no network needed to refuse them.
check 2 "config.syntax" -- "$sn" receipt verify "$work/garbage.bin" --genesis "$work/bad-policy.toml"
printf 'chain_id = "c"\nprotocol = "tee-bft"\n[[validators]]\nid = 1\nweight = 1\npeer = "127.0.0.1:1"\napi = "127.0.0.1:2"\nidentity_key = "%s"\nvote_key = "%s"\n' \
  "$(printf 'ab%.0s' $(seq 32))" "$(printf 'cd%.0s' $(seq 32))" > "$work/genesis.toml"
check 2 "receipt.format" -- "$sn" receipt verify "$work/garbage.bin" --genesis "$work/genesis.toml"
check 2 "genesis|config" -- "$sn" tx submit --dir "$work/nonet" --table t --key k --value v
check 2 "usage.load.*at most 49152" -- "$sn" tx load --dir "$work/nonet" --value-bytes 100000
check 2 "usage.node" -- "$sn" data register --dir "$work/nonet" --name x "$work/garbage.bin"
printf 'a,b,label\n1,2,0\n1,2\n' > "$work/ragged.csv"
check 2 "csv.ragged.*line 3" -- "$sn" data split "$work/ragged.csv" --parties 2 --out-dir "$work/parts"
printf 'name = "j"\n[model]\nkind = "svm"\n' > "$work/job.toml"
check 2 "job.value.*kind" -- "$sn" fl central "$work/job.toml" --parts-dir "$work"
check 2 "genesis.toml" -- "$sn" governance propose remove-node --dir "$work/nonet" --validator 3

echo "$((24 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
