#!/usr/bin/env bash
# End to end, real processes on 127.0.0.1: the marketplace's ledger state (docs/marketplace.md).
# A publisher's package is published through one node, which verifies it whole; every node lists
# it; a tampered package is refused by the node naming the file; names and versions are the
# first publisher's and only go up; a publisher delists one version; credits are minted by a
# member only, transferred, never overdrawn; a model's content key goes to key management; a node killed with -9 and restarted replays the same
# market state from its ledger; every ledger verifies.
set -uo pipefail
sn=$1
src=$2
base_port=$3
work=$(mktemp -d)
net="$work/net"
trap '"$sn" down --dir "$net" >/dev/null 2>&1; rm -rf "$work"' EXIT
passed=0
fail() { echo "FAIL: $*"; for f in "$net"/node-*/node.log; do echo "--- $f"; grep -E "market|error" "$f" | tail -8; done; echo "$passed passed, 1 failed"; exit 1; }
ok() { passed=$((passed + 1)); echo "ok: $*"; }
start_node() { setsid "$sn" node run --config "$net/node-$1/node.toml" >> "$net/node-$1/node.log" 2>&1 & echo $! > "$net/node-$1/node.pid"; disown; }
api() { curl -s --insecure --max-time 10 --cert "$net/client/$1.crt.pem" --key "$net/client/$1.key.pem" "${@:2}"; }
cd "$work" || exit 1

"$sn" up --nodes 3 --dir "$net" --base-port "$base_port" --users 2 > /dev/null || fail "up"
export SUPERNET_KEY_PASSPHRASE="market test"
"$sn" agent keygen --out pub.key > /dev/null && "$sn" agent keygen --out mallory.key > /dev/null || fail "keygen"
"$sn" agent init greeter > /dev/null || fail "init"
"$sn" agent pack greeter --key pub.key --out greeter-0.1.0.agent > /dev/null || fail "pack"

# 1. Published through node 1, listed on every node from the ledger.
"$sn" agent publish greeter-0.1.0.agent --dir "$net" --node 1 > pub.txt || fail "publish: $(cat pub.txt)"
grep -q "agent greeter@0.1.0 listed at height" pub.txt || fail "publish output: $(cat pub.txt)"
for i in 2 3; do
  "$sn" market listings --dir "$net" --node "$i" > list.txt || fail "listings at node $i"
  grep -q "^greeter  *0.1.0 " list.txt || fail "node $i does not list greeter: $(cat list.txt)"
done
ls "$net"/node-1/packages/*.agent > /dev/null 2>&1 || fail "node 1 keeps no package file"
ok "published through one node, listed by all"

# 2. The node checks the whole package itself (here past the CLI's own check, with curl).
genuine_b64=$(base64 -w0 greeter/main.lua)
evil_b64=$(printf 'function handle(i) return {greeting = "pwned"} end\n' | base64 -w0)
sed "s|$genuine_b64|$evil_b64|" greeter-0.1.0.agent > tampered.agent
cmp -s tampered.agent greeter-0.1.0.agent && fail "the tampering changed nothing"
code=$(api member -o answer.json -w '%{http_code}' -X POST --data-binary @tampered.agent "https://127.0.0.1:$((base_port + 102))/v1/agents")
[ "$code" = 400 ] || fail "a tampered package got $code: $(cat answer.json)"
grep -q '"package.file_changed"' answer.json && grep -q "main.lua" answer.json || fail "tampered package answer: $(cat answer.json)"
code=$(api member -o answer.json -w '%{http_code}' -X POST --data-binary 'not a package' "https://127.0.0.1:$((base_port + 102))/v1/agents")
[ "$code" = 400 ] || fail "garbage got $code"
if "$sn" agent publish tampered.agent --dir "$net" 2> err.txt; then fail "the CLI published a tampered package"; fi
grep -q "package.file_changed: .*main.lua" err.txt || fail "CLI tampered error: $(cat err.txt)"
ok "a tampered package is refused by the node, naming the file"

# 2b. A package over the 16 MiB bound is refused from its headers (413); eight concurrent
# uploads of one 11 MiB package: each is verified off the node's event loop
# (at most kPublishesInFlightMax at once, the rest 503), one listing results, and the node
# keeps committing meanwhile.
cp -r greeter big && sed -i 's/^name = "greeter"/name = "big"/; s/^models = \[\]/models = ["weights.bin"]/' big/agent.toml
head -c $((13 * 1024 * 1024)) /dev/urandom > big/weights.bin
"$sn" agent pack big --key pub.key --out huge.agent > /dev/null || fail "pack huge"
code=$(api member -o answer.json -w '%{http_code}' -X POST --data-binary @huge.agent "https://127.0.0.1:$((base_port + 101))/v1/agents")
[ "$code" = 413 ] || fail "a $(stat -c %s huge.agent)-byte package got $code"
head -c $((11 * 1024 * 1024)) /dev/urandom > big/weights.bin
"$sn" agent pack big --key pub.key --out big.agent > /dev/null || fail "pack big"
for i in $(seq 1 8); do
  api member -o "big-$i.json" -w '%{http_code}\n' -X POST --data-binary @big.agent "https://127.0.0.1:$((base_port + 101))/v1/agents" > "big-$i.code" &
done
"$sn" tx submit --dir "$net" --node 1 --table t --key during --value upload > /dev/null || fail "a write during the uploads"
wait
codes=$(cat big-*.code | sort | uniq -c | tr -s ' ' | tr '\n' ';')
for i in $(seq 1 8); do
  c=$(cat "big-$i.code")
  [ "$c" = 202 ] || [ "$c" = 503 ] || [ "$c" = 409 ] || fail "upload $i got $c: $(cat "big-$i.json") (all: $codes)"
done
grep -q 202 big-*.code || fail "no upload was accepted: $codes"
for _ in $(seq 1 50); do "$sn" agent versions big --dir "$net" --node 2 > versions.txt 2> /dev/null && break; sleep 0.2; done
[ "$(grep -c '^big ' versions.txt)" = 1 ] || fail "not one listing of big: $(cat versions.txt)"
ok "concurrent large uploads verified off the event loop: one listing ($codes)"

# 3. Names and versions: the same package again, another publisher's package of the name, a
# lower version; a higher one is listed beside the first.
if "$sn" agent publish greeter-0.1.0.agent --dir "$net" 2> err.txt; then fail "the same package listed twice"; fi
grep -q "market.duplicate" err.txt || fail "duplicate error: $(cat err.txt)"
"$sn" agent pack greeter --key mallory.key --out mallory.agent > /dev/null || fail "pack mallory"
if "$sn" agent publish mallory.agent --dir "$net" 2> err.txt; then fail "another publisher took the name"; fi
grep -q "market.name" err.txt || fail "name error: $(cat err.txt)"
sed -i 's/^version = "0.1.0"/version = "0.2.0"/' greeter/agent.toml
"$sn" agent pack greeter --key pub.key --out greeter-0.2.0.agent > /dev/null || fail "pack 0.2.0"
"$sn" agent publish greeter-0.2.0.agent --dir "$net" --node 2 > /dev/null || fail "publish 0.2.0"
sed -i 's/^version = "0.2.0"/version = "0.1.5"/' greeter/agent.toml
"$sn" agent pack greeter --key pub.key --out greeter-0.1.5.agent > /dev/null || fail "pack 0.1.5"
if "$sn" agent publish greeter-0.1.5.agent --dir "$net" 2> err.txt; then fail "a lower version was listed"; fi
grep -q "market.version" err.txt || fail "version error: $(cat err.txt)"
"$sn" agent versions greeter --dir "$net" --node 3 > versions.txt || fail "versions"
[ "$(grep -c '^greeter ' versions.txt)" = 2 ] && grep -q "latest: 0.2.0" versions.txt || fail "versions: $(cat versions.txt)"
# GET /v1/agents pages: one name per page here (big, greeter), "next" naming where to go on.
api member -o page1.json "https://127.0.0.1:$((base_port + 101))/v1/agents?limit=1"
grep -q '"next":"big"' page1.json && grep -q '"name":"big"' page1.json || fail "page 1: $(cat page1.json)"
api member -o page2.json "https://127.0.0.1:$((base_port + 101))/v1/agents?limit=1&after=big"
grep -q '"name":"greeter"' page2.json && ! grep -q '"next"' page2.json || fail "page 2: $(cat page2.json)"
code=$(api member -o /dev/null -w '%{http_code}' "https://127.0.0.1:$((base_port + 101))/v1/agents?limit=0")
[ "$code" = 400 ] || fail "limit=0 got $code"
ok "names are the first publisher's, versions only go up and are all kept; listings page"

# 4. Delisting: the publisher only, one version.
if "$sn" agent delist greeter@0.2.0 --key mallory.key --dir "$net" 2> err.txt; then fail "another publisher delisted"; fi
grep -q "market.publisher" err.txt || fail "delist error: $(cat err.txt)"
"$sn" agent delist greeter@0.2.0 --key pub.key --dir "$net" > /dev/null || fail "delist"
"$sn" agent versions greeter --dir "$net" --node 1 > versions.txt || fail "versions after delist"
grep -q "0.2.0 .*DELISTED" versions.txt && grep -q "latest: 0.1.0" versions.txt || fail "after delisting: $(cat versions.txt)"
ok "the publisher delists one version; the others stay"

# 5. A package with a model: publish hands its content key to key management (wrapped on the
# ledger); the key of "agent:<root>" is released to the client that listed it, never to others.
"$sn" data split "$src/data/breast_cancer.csv" --parties 2 --out-dir bc-parts > /dev/null || fail "split"
printf 'name = "bc"\nrounds = 5\nmodel_readers = ["member"]\n[model]\nkind = "logistic"\n[[parties]]\nnode = 1\ndataset = "d"\n[[parties]]\nnode = 2\ndataset = "d"\n' > bc.toml
"$sn" fl central bc.toml --parts-dir bc-parts --out bc-model.json > /dev/null || fail "central"
cp -r "$src/examples/agents/diagnosis" diagnosis && cp bc-model.json diagnosis/model.json
"$sn" agent pack diagnosis --key pub.key --out diagnosis.agent > /dev/null || fail "pack diagnosis"
if "$sn" agent publish diagnosis.agent --dir "$net" 2> err.txt; then fail "a package with models published without its key"; fi
grep -q "usage.key" err.txt || fail "missing key error: $(cat err.txt)"
if "$sn" agent publish diagnosis.agent --dir "$net" --key mallory.key 2> err.txt; then fail "published with another publisher's key"; fi
"$sn" agent publish diagnosis.agent --dir "$net" --key pub.key > pub.txt 2>&1 || fail "publish diagnosis: $(cat pub.txt)"
grep -q "content key of diagnosis@1.0.0 handed to the key management module" pub.txt || fail "no content key hand-over: $(cat pub.txt)"
"$sn" agent versions diagnosis --dir "$net" --node 3 --json > v.json || fail "versions diagnosis"
grep -q '"content_key": "held by key management"' v.json || fail "the listing holds no content key: $(cat v.json)"
root=$(grep -o '"root": "[0-9a-f]*"' v.json | cut -d'"' -f4)
if "$sn" keys release --dir "$net" --as user --resource "agent:$root" --out user-k.hex 2> err.txt; then fail "a user obtained an agent's content key"; fi
grep -q "release policy does not name it" err.txt || fail "user release error: $(cat err.txt)"
"$sn" keys release --dir "$net" --resource "agent:$root" --out member-k.hex > /dev/null 2>&1 || fail "the listing client could not obtain the key"
# What the node keeps is the uploaded package byte for byte (whose stored model e2e.agents
# shows holds no weight in plaintext), under its root digest.
cmp -s diagnosis.agent "$net/node-1/packages/$root.agent" || fail "node 1 keeps another file than the package it published"
# Node 1 keeps the packages listed through it (greeter 0.1.0, big, diagnosis) and none it refused.
kept=$(ls "$net"/node-1/packages/ | wc -l)
[ "$kept" = 3 ] || fail "node 1 keeps $kept package files: $(ls "$net"/node-1/packages/)"
ok "content key handed over wrapped; released to the lister only"

# 6. Credits.
if "$sn" market mint user 100 --dir "$net" --as user 2> err.txt; then fail "a user minted"; fi
grep -q "market.mint" err.txt || fail "mint error: $(cat err.txt)"
"$sn" market mint user 100 --dir "$net" > /dev/null || fail "mint"
"$sn" market transfer user2 30 --dir "$net" --as user > /dev/null || fail "transfer"
if "$sn" market transfer user2 71 --dir "$net" --as user 2> err.txt; then fail "an overdraft"; fi
grep -q "market.balance: user has 70 credits" err.txt || fail "overdraft error: $(cat err.txt)"
code=$(api user -o answer.json -w '%{http_code}' "https://127.0.0.1:$((base_port + 103))/v1/market/balance?client=user2")
[ "$code" = 403 ] || fail "a user read another's balance: $code"
[ "$("$sn" market balance --dir "$net" --node 3 --as user)" = "user: 70 credits" ] || fail "user's balance"
[ "$("$sn" market balance --dir "$net" --node 2 --client user2)" = "user2: 30 credits" ] || fail "user2's balance"
ok "credits: members mint, clients transfer, never overdrawn, balances private"

# 7. A node killed with -9 replays the same market state from its ledger.
kill -9 "$(cat "$net/node-3/node.pid")"
start_node 3
for _ in $(seq 1 100); do
  "$sn" market balance --dir "$net" --node 3 --as user > bal.txt 2> /dev/null && break
  sleep 0.2
done
[ "$(cat bal.txt)" = "user: 70 credits" ] || fail "after the restart node 3 says: $(cat bal.txt)"
"$sn" agent versions greeter --dir "$net" --node 3 > versions.txt || fail "versions after restart"
grep -q "0.2.0 .*DELISTED" versions.txt && grep -q "latest: 0.1.0" versions.txt || fail "after the restart: $(cat versions.txt)"
"$sn" down --dir "$net" > /dev/null
"$sn" ledger verify --dir "$net" > /dev/null || fail "ledger verify"
ok "a restarted node replays the same market; every ledger verifies"
echo "$passed passed, 0 failed"
