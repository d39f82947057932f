#!/usr/bin/env bash
# SuperNet at work on this machine (the README's main command, via `make demo`): virtual
# evidence, sealing, a mutual RA-TLS handshake between two processes, refusals, real hardware
# evidence, a local network of attested nodes surviving a kill -9, and federated learning on
# real data whose rows never leave each hospital's node; the model downloaded as a model file,
# packaged as a signed agent with its weights encrypted, published to the network's marketplace,
# and credits on the ledger.
# Every step checks its verdict; the script exits non-zero if any verdict is not the expected one.
set -euo pipefail

build_dir=${1:-build}
sn=${SUPERNET_BIN:-"$build_dir/supernet"}
work=${DEMO_WORK:-"$build_dir/demo"}
vectors=${SUPERNET_ATTESTATION_VECTORS:-"$(dirname "$0")/../../shared/vectors/attestation"}
data=${SUPERNET_DATA:-"$(dirname "$0")/../data"}
rm -rf "$work"
mkdir -p "$work"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
expect_ok() { if ! "$@"; then echo "DEMO FAILED: expected success: $*" >&2; exit 1; fi; }
expect_fail() { if "$@"; then echo "DEMO FAILED: expected a refusal: $*" >&2; exit 1; fi; }

# The virtual platform keeps its key in the demo folder, not in the user's home.
export SUPERNET_VIRTUAL_DIR="$work/node-a"

step "1. This machine's platform: virtual (no TEE hardware here), key made on first use"
"$sn" attest platform-key | head -1
# The developer tools (this supernet binary) make evidence for any data; a policy for them is
# a tool policy. A network's policy measures the node program, supernet-node, instead.
"$sn" attest dev-policy --program "$sn" --out "$work/policy.toml"
"$sn" attest dev-policy --out "$work/node-policy.toml"

step "2. Evidence binding a verifier's nonce"
nonce=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
"$sn" attest evidence --platform virtual --report-data "$nonce" --out "$work/evidence.cbor"
expect_ok "$sn" attest verify "$work/evidence.cbor" --policy "$work/policy.toml" --report-data "$nonce"
echo "... and the same evidence under the network's policy, which measures supernet-node, not the tools:"
expect_fail "$sn" attest verify "$work/evidence.cbor" --policy "$work/node-policy.toml" --report-data "$nonce"

step "3. The same evidence with one byte flipped is refused"
cp "$work/evidence.cbor" "$work/tampered.cbor"
printf '\xff' | dd of="$work/tampered.cbor" bs=1 seek=60 conv=notrunc status=none
expect_fail "$sn" attest verify "$work/tampered.cbor" --policy "$work/policy.toml"

step "4. Evidence with another nonce (a replay) is refused"
expect_fail "$sn" attest verify "$work/evidence.cbor" --policy "$work/policy.toml" --report-data "$(printf '%064d' 0)"

step "5. Sealing: only this build on this platform, under this label, can unseal"
echo "patient records key: 7f3a..." > "$work/secret.txt"
"$sn" seal --platform virtual --label demo-secret --in "$work/secret.txt" --out "$work/secret.sealed"
if grep -q "patient records" "$work/secret.sealed"; then echo "DEMO FAILED: plaintext in sealed blob" >&2; exit 1; fi
expect_ok "$sn" unseal --platform virtual --label demo-secret --in "$work/secret.sealed" --out "$work/secret.out"
cmp "$work/secret.txt" "$work/secret.out" && echo "unsealed content matches"
expect_fail "$sn" unseal --platform virtual --label other-label --in "$work/secret.sealed" --out "$work/secret.bad"
SUPERNET_VIRTUAL_DIR="$work/other-machine" expect_fail "$sn" unseal --platform virtual --label demo-secret \
  --in "$work/secret.sealed" --out "$work/secret.bad"

step "6. Mutual RA-TLS between two processes on 127.0.0.1"
# Node B is another "machine" (its own platform key); both nodes trust both keys.
"$sn" attest platform-key --virtual-dir "$work/node-b" > /dev/null
key_a=$("$sn" attest platform-key --virtual-dir "$work/node-a" | head -1 | awk '{print $NF}')
key_b=$("$sn" attest platform-key --virtual-dir "$work/node-b" | head -1 | awk '{print $NF}')
sed "s/^trusted_virtual_platform_keys = .*/trusted_virtual_platform_keys = [\"$key_a\", \"$key_b\"]/" \
  "$work/policy.toml" > "$work/network-policy.toml"
"$sn" ratls serve --platform virtual --virtual-dir "$work/node-a" --policy "$work/network-policy.toml" \
  --identity-dir "$work/node-a/identity" --port 0 --port-file "$work/port" --connections 2 > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
expect_ok "$sn" ratls connect --platform virtual --virtual-dir "$work/node-b" --policy "$work/network-policy.toml" \
  --port "$port" --message "model update #1"

step "7. A node whose platform key the network does not trust is refused"
"$sn" attest platform-key --virtual-dir "$work/stranger" > /dev/null
expect_fail "$sn" ratls connect --platform virtual --virtual-dir "$work/stranger" \
  --policy "$work/network-policy.toml" --port "$port" --message "let me in" 2>/dev/null
wait $server || true
trap - EXIT
echo "server log:"
sed 's/^/  /' "$work/server.log"
grep -q "REFUSED" "$work/server.log" || { echo "DEMO FAILED: server did not refuse the stranger" >&2; exit 1; }

if [ -d "$vectors/snp" ]; then
  step "8. Real hardware evidence: an AMD SEV-SNP report from a Genoa machine"
  expect_ok "$sn" attest verify "$vectors/snp/oak_genoa_v5_report.bin" --collateral "$vectors/snp/oak_genoa_v5_vcek.der" \
    "$vectors/snp/amd/ask_ark_genoa.pem" --at 2025-10-01T08:00:00Z
  step "9. ... and a production policy refusing the virtual evidence from step 2"
  cat > "$work/production.toml" <<POLICY
profile = "production"
allowed_platforms = ["sev-snp"]
[platform.sev-snp]
measurements = ["c57729018b0a6fb90dc17bb138b0aa35e4401004283ff4a2c24d3739ff3750f52384370e77b7032862a08c440a9bc4dc"]
min_tcb = { bootloader = 0, snp = 0, microcode = 0 }
POLICY
  expect_fail "$sn" attest verify "$work/evidence.cbor" --policy "$work/production.toml"
fi

step "10. A local network: three tee-bft nodes attest each other over RA-TLS"
net="$work/net"
base_port=${DEMO_BASE_PORT:-27700}
"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" --users 1
trap '"$sn" down --dir "$net" >/dev/null 2>&1 || true' EXIT
"$sn" status --dir "$net"

step "11. A first transaction through the REST API (HTTPS, client certificate, node appraised by its RA-TLS evidence)"
expect_ok "$sn" tx submit --dir "$net" --table demo --key greeting --value "hello, attested world" --receipt "$work/receipt.bin"
expect_ok "$sn" kv get --dir "$net" demo greeting
echo "The receipt checked offline, with nothing but the network's genesis:"
expect_ok "$sn" receipt verify "$work/receipt.bin" --genesis "$net/genesis.toml"
cp "$net/genesis.toml" "$work/other-genesis.toml"
sed -i 's/^chain_id = .*/chain_id = "some-other-network"/' "$work/other-genesis.toml"
expect_fail "$sn" receipt verify "$work/receipt.bin" --genesis "$work/other-genesis.toml"

step "12. kill -9 node 2, restart it: its new checker key is admitted by the other two"
kill -9 "$(cat "$net/node-2/node.pid")"
sleep 0.5
"$sn" status --dir "$net" || true
setsid "$sn" node run --config "$net/node-2/node.toml" >> "$net/node-2/node.log" 2>&1 &
echo $! > "$net/node-2/node.pid"
rejoined=0
for _ in $(seq 1 100); do
  if "$sn" status --dir "$net" 2>/dev/null | grep -qE "^2 +up +[1-9][0-9]* +[0-9]+ +yes"; then rejoined=1; break; fi
  sleep 0.2
done
"$sn" status --dir "$net"
[ "$rejoined" -eq 1 ] || { echo "DEMO FAILED: node 2 did not rejoin" >&2; exit 1; }

step "13. Writes keep committing after the restart; 200 from 4 concurrent clients"
expect_ok "$sn" tx load --dir "$net" --count 200 --clients 4 --table demo-load

step "14. Three hospitals: each node keeps a third of the breast cancer data set, sealed"
expect_ok "$sn" data split "$data/breast_cancer.csv" --parties 3 --out-dir "$work/hospitals" --seed 11
for i in 1 2 3; do
  expect_ok "$sn" data register --dir "$net" --node "$i" --name breast-cancer "$work/hospitals/party-$i.csv"
done
expect_ok "$sn" data list --dir "$net" --node 2
cp "$(dirname "$0")/../examples/breast-cancer-fedavg.toml" "$work/fedavg.toml"

step "15. A FedAvg job: the parties train inside their nodes, one node aggregates, every round goes on the ledger"
job=$("$sn" fl submit --dir "$net" "$work/fedavg.toml" | sed -n 's/^job \([0-9a-f]*\) submitted$/\1/p')
[ -n "$job" ] || { echo "DEMO FAILED: job not submitted" >&2; exit 1; }
expect_ok "$sn" fl watch --dir "$net" "$job" --timeout 120

step "16. Federated against central training on the union of the three files (computed here, as a reference)"
federated=$("$sn" fl status --dir "$net" "$job" | grep -o "round  20 .*accuracy [0-9.]*" | grep -o "[0-9.]*$")
echo "federated (FedAvg, 3 hospitals, 20 rounds): held-out accuracy $federated"
expect_ok "$sn" fl central "$work/fedavg.toml" --parts-dir "$work/hospitals"
expect_ok "$sn" fl plot --dir "$net" "$job" --out "$work/fedavg.svg"
expect_ok "$sn" fl model --dir "$net" "$job" --out "$work/fedavg-model.json"
echo "The round records on the ledger, each receipt checked offline against the genesis:"
expect_ok "$sn" fl lineage --dir "$net" "$job"

step "17. The model file carries its shape, features and standardization: it predicts on raw rows here"
expect_ok "$sn" model show "$work/fedavg-model.json"
expect_ok "$sn" model predict "$work/fedavg-model.json" "$work/hospitals/party-3.csv" --out "$work/predictions.csv"

step "18. The hospitals package their model as a diagnosis agent: signed, the weights encrypted, tested in a TA"
export SUPERNET_KEY_PASSPHRASE="demo passphrase"
cp -r "$(dirname "$0")/../examples/agents/diagnosis" "$work/diagnosis"
cp "$work/fedavg-model.json" "$work/diagnosis/model.json"
expect_ok "$sn" agent keygen --out "$work/hospitals.key"
case_row=$(sed -n 2p "$data/breast_cancer.csv")
echo "{\"measurements\": [${case_row%,*}]}" > "$work/case.json"
echo "A new case (its true class: ${case_row##*,}, malignant), diagnosed by the agent in a sandboxed worker:"
expect_ok "$sn" agent test "$work/diagnosis" --input "$work/case.json"
expect_ok "$sn" agent pack "$work/diagnosis" --key "$work/hospitals.key" --out "$work/diagnosis.agent"
expect_ok "$sn" agent verify "$work/diagnosis.agent" --publisher "$work/hospitals.key.pub"

step "19. Published: a node verifies the whole package inside its TEE and lists it, the model's key goes to key management; a tampered copy is refused, naming the file"
expect_ok "$sn" agent publish --dir "$net" "$work/diagnosis.agent" --key "$work/hospitals.key"
expect_ok "$sn" market listings --dir "$net" --node 3
genuine=$(base64 -w0 "$work/diagnosis/main.lua")
forged=$(printf 'function handle(i) return {class = "benign", probability = 1, risk = "low"} end\n' | base64 -w0)
sed "s|$genuine|$forged|" "$work/diagnosis.agent" > "$work/tampered.agent"
expect_fail "$sn" agent publish --dir "$net" "$work/tampered.agent"

step "20. Credits on the ledger: a member mints for the clinic, the clinic pays some on; an overdraft is refused"
expect_ok "$sn" market mint --dir "$net" user 100
expect_ok "$sn" market transfer --dir "$net" --as user member 10
expect_fail "$sn" market transfer --dir "$net" --as user member 1000
expect_ok "$sn" market balance --dir "$net" --as user

step "21. Stop the network and verify every node's ledger offline"
"$sn" down --dir "$net"
trap - EXIT
expect_ok "$sn" ledger verify --dir "$net"

printf '\n\033[1mDemo complete: every verdict was as expected.\033[0m\n'
