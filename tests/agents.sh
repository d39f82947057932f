#!/usr/bin/env bash
# End to end, real processes: agent packages on this machine (docs/agents.md). A template agent
# is made, tested in a real TA worker and its schemas enforced; a publisher key is made
# (encrypted); the examples are given models trained here (supernet fl central --out) and run;
# packages are signed, verified, and every tampering is refused naming the file; the model's
# weights are nowhere in the package in plaintext.
set -uo pipefail
sn=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
fail() { echo "FAIL: $*"; echo "$passed passed, 1 failed"; exit 1; }
ok() { passed=$((passed + 1)); echo "ok: $*"; }
cd "$work" || exit 1

# 1. A template that works as written; its input schema is enforced.
"$sn" agent init greeter > /dev/null || fail "init"
if "$sn" agent init greeter 2> err.txt; then fail "init over a non-empty folder"; fi
echo '{"name": "ada"}' > in.json
out=$("$sn" agent test greeter --input in.json 2> test.err) || fail "agent test: $(cat test.err)"
[ "$out" = '{"greeting":"hello, ada","length":3}' ] || fail "template output: $out"
grep -q "^gas [0-9]* of 10000000, memory [0-9]* bytes at peak, time" test.err || fail "no usage line: $(cat test.err)"
echo '{"name": 5}' > bad.json
if "$sn" agent test greeter --input bad.json 2> err.txt; then fail "an input against its schema ran"; fi
grep -q "schema.mismatch.*\[name\]" err.txt || fail "schema error does not name the field: $(cat err.txt)"
# An output against its schema is caught too.
sed -i 's/greeting = "hello, " .. who/greeting = 42/' greeter/main.lua
if "$sn" agent test greeter --input in.json > /dev/null 2> err.txt; then fail "an output against its schema passed"; fi
grep -q "the output does not match" err.txt || fail "output schema error: $(cat err.txt)"
ok "init, test, input and output schemas"

# 2. Publisher keys: refused in the clear unless asked; encrypted with the passphrase.
if "$sn" agent keygen --out clear.key 2> err.txt; then fail "a key written in the clear by default"; fi
export SUPERNET_KEY_PASSPHRASE="correct horse battery staple"
"$sn" agent keygen --out pub.key > /dev/null || fail "keygen"
grep -q "BEGIN ENCRYPTED PRIVATE KEY" pub.key || fail "the key is not encrypted"
[ "$(stat -c %a pub.key)" = 600 ] || fail "key mode $(stat -c %a pub.key)"
SUPERNET_KEY_PASSPHRASE=wrong "$sn" agent pack greeter --key pub.key --out x.agent 2> err.txt && fail "wrong passphrase opened the key"
grep -q "passphrase" err.txt || fail "wrong passphrase error: $(cat err.txt)"
"$sn" agent keygen --out other.key > /dev/null || fail "keygen 2"
ok "publisher keys"

# 3. The examples with models trained here; the weights stay encrypted in the package.
"$sn" data split "$src/data/digits.csv" --parties 2 --out-dir digits-parts > /dev/null || fail "split digits"
printf 'name = "digits"\nrounds = 10\nmodel_readers = ["member"]\n[model]\nkind = "logistic"\n[training]\nepochs = 2\nbatch = 16\nlearning_rate = 0.05\n[[parties]]\nnode = 1\ndataset = "d"\n[[parties]]\nnode = 2\ndataset = "d"\n' > digits.toml
"$sn" fl central digits.toml --parts-dir digits-parts --out digits-model.json > /dev/null || fail "central digits"
cp -r "$src/examples/agents/digits" digits && cp digits-model.json digits/model.json
# The first 20 rows of the data set: the true digit is among the three likeliest for each.
hits=0
for n in $(seq 2 21); do
  row=$(sed -n "${n}p" "$src/data/digits.csv")
  echo "{\"pixels\": [${row%,*}]}" > row.json
  top=$("$sn" agent test digits --input row.json 2> /dev/null) || fail "digits agent on row $n"
  digits_top=$(echo "$top" | grep -o '"digit":[0-9]' | cut -d: -f2 | tr -d '\n')
  [[ "$digits_top" == *"${row##*,}"* ]] && hits=$((hits + 1))
done
[ "$hits" -ge 19 ] || fail "the true digit was in the top three for only $hits of 20 rows"
"$sn" data split "$src/data/breast_cancer.csv" --parties 2 --out-dir bc-parts > /dev/null || fail "split bc"
sed 's/"digits"/"bc"/' digits.toml > bc.toml
"$sn" fl central bc.toml --parts-dir bc-parts --out bc-model.json > /dev/null || fail "central bc"
cp -r "$src/examples/agents/diagnosis" diagnosis && cp bc-model.json diagnosis/model.json
row=$(sed -n 2p "$src/data/breast_cancer.csv")  # a malignant case (class 0)
echo "{\"measurements\": [${row%,*}]}" > case.json
out=$("$sn" agent test diagnosis --input case.json 2> /dev/null) || fail "diagnosis agent"
[[ "$out" == *'"class":"malignant"'* ]] || fail "diagnosis of a malignant case: $out"
"$sn" agent pack diagnosis --key pub.key --out diagnosis.agent > pack.txt || fail "pack diagnosis"
grep -q "model.json .*(encrypted)" pack.txt || fail "the model is not listed as encrypted: $(cat pack.txt)"
# The stored bytes of model.json, decoded from the package: no weight of the model in them.
weight=$(grep -A1 '"params": \[' bc-model.json | tail -1 | tr -d ' ,')
grep -o '"data":"[A-Za-z0-9+/=]*","path":"model.json"' diagnosis.agent | cut -d'"' -f4 | base64 -d > stored-model.bin
[ -s stored-model.bin ] || fail "no stored model.json in the package"
grep -qF -- "$weight" bc-model.json || fail "the weight probe is not in the model itself"
grep -qaF -- "$weight" stored-model.bin && fail "a weight of the model is in the package in plaintext"
grep -qaF -- "supernet-model" stored-model.bin && fail "the model file is stored in plaintext"
"$sn" agent pack diagnosis --key pub.key --out again.agent > /dev/null || fail "pack again"
cmp -s diagnosis.agent again.agent || fail "packing the same folder twice gave two files"
"$sn" agent verify diagnosis.agent --publisher pub.key.pub > /dev/null || fail "verify"
ok "examples run with their models; the package holds the model encrypted and is reproducible"

# 4. Every tampering is refused, naming what failed.
if "$sn" agent verify diagnosis.agent --publisher other.key.pub 2> err.txt; then fail "verified as another publisher's"; fi
grep -q "package.publisher" err.txt || fail "publisher error: $(cat err.txt)"
cp -r diagnosis diagnosis-evil
echo 'function handle(input) return {class = "benign", probability = 1, risk = "low"} end' > diagnosis-evil/main.lua
"$sn" agent pack diagnosis-evil --key other.key --out evil.agent > /dev/null || fail "pack evil"
# The evil script under the genuine signature: the file's digest no longer matches.
script_b64=$(base64 -w0 diagnosis-evil/main.lua)
genuine_b64=$(base64 -w0 diagnosis/main.lua)
sed "s|$genuine_b64|$script_b64|" diagnosis.agent > swapped.agent
cmp -s swapped.agent diagnosis.agent && fail "the swap changed nothing"
if "$sn" agent verify swapped.agent 2> err.txt; then fail "a changed script verified"; fi
grep -q "package.file_changed: file main.lua" err.txt || fail "changed script error: $(cat err.txt)"
# An extra file.
sed 's|"files":\[|"files":[{"data":"eA==","path":"extra.lua"},|' diagnosis.agent > extra.agent
if "$sn" agent verify extra.agent 2> err.txt; then fail "an extra file verified"; fi
grep -q "package.file_extra: file extra.lua" err.txt || fail "extra file error: $(cat err.txt)"
# Garbage and truncation.
head -c 1000 diagnosis.agent > cut.agent
if "$sn" agent verify cut.agent 2> err.txt; then fail "a truncated package verified"; fi
grep -q "package.format" err.txt || fail "truncated package error: $(cat err.txt)"
# A script that does not compile is refused at pack.
echo 'function handle(' > greeter/main.lua
if "$sn" agent pack greeter --key pub.key --out g.agent 2> err.txt; then fail "a broken script packed"; fi
grep -q "package.script: main.lua does not compile" err.txt || fail "broken script error: $(cat err.txt)"
ok "tampering refused: publisher, changed file, extra file, truncation, broken script"

echo "$passed passed, 0 failed"
