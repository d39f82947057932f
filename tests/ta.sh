#!/usr/bin/env bash
# supernet ta run / selftest as a developer uses them: real workers (the node program beside the
# CLI), output on stdout, gas/memory/time on stderr, exit 0 / 1 (the script failed or hit a
# limit, named) / 2 (bad usage); the selftest refuses every escape attempt.
set -uo pipefail
sn=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

source "$(dirname "$0")/check.sh"

cat > "$work/sum.lua" <<'LUA'
function handle(input)
  log("summing", #input.values)
  local s = 0
  for _, v in ipairs(input.values) do s = s + v end
  return {sum = s, mean = s / #input.values}
end
LUA
echo '{"values": [1, 2, 3, 4]}' > "$work/in.json"
printf 'function handle()\n  local x = nil\n  return x.field\nend\n' > "$work/error.lua"
echo 'function handle() while true do end end' > "$work/loop.lua"
echo 'function handle() local t = {} local i = 0 while true do i = i + 1 t[i] = string.rep("x", 100) .. i end end' > "$work/grow.lua"
echo 'function handle() return io.open("/etc/passwd") end' > "$work/io.lua"
echo '{not json' > "$work/bad.json"
cat > "$work/kv.lua" <<'LUA'
function handle(input)
  kv.put("count", (kv.get("count") or 0) + input.n)
  kv.put("count", kv.get("count") + 1)
  return {count = kv.get("count"), gone = kv.get("never written") == nil}
end
LUA
echo '{"n": 41}' > "$work/n.json"
echo 'function handle() kv.put(string.rep("k", 300), 1) end' > "$work/longkey.lua"

out=$("$sn" ta run "$work/sum.lua" --input "$work/in.json" 2>"$work/err")
if [ "$out" != '{"mean":2.5,"sum":10}' ] || ! grep -q "^gas [0-9]*, memory [0-9]* bytes at peak, time" "$work/err" || ! grep -q "log: summing 4" "$work/err"; then
  echo "FAIL: ta run sum.lua printed '$out', stderr: $(cat "$work/err")"
  failures=$((failures + 1))
else
  echo "ok: ta run sum.lua -> $out"
fi
out=$("$sn" ta run "$work/kv.lua" --input "$work/n.json" 2>"$work/err")
if [ "$out" != '{"count":42,"gone":true}' ]; then
  echo "FAIL: ta run kv.lua printed '$out', stderr: $(cat "$work/err")"
  failures=$((failures + 1))
else
  echo "ok: ta run kv.lua (the tenant's store) -> $out"
fi
check 1 "kv.put: a key is 1 to 256 bytes" -- "$sn" ta run "$work/longkey.lua"
check 1 "ta.script error: script:3: attempt to index a nil value" -- "$sn" ta run "$work/error.lua"
check 1 "ta.gas: gas limit of 100000 instructions reached" -- "$sn" ta run "$work/loop.lua" --gas 100000
check 1 "ta.time: time limit of 300 ms reached" -- "$sn" ta run "$work/loop.lua" --gas 1000000000000 --timeout-ms 300
check 1 "ta.memory: memory limit of 8388608 bytes" -- "$sn" ta run "$work/grow.lua" --memory-mb 8 --gas 1000000000000
check 1 "global 'io'" -- "$sn" ta run "$work/io.lua"
check 2 "not valid JSON" -- "$sn" ta run "$work/sum.lua" --input "$work/bad.json"
check 2 "io" -- "$sn" ta run "$work/missing.lua"
check 2 "--gas must be" -- "$sn" ta run "$work/sum.lua" --gas 0
check 2 "--timeout-ms must be" -- "$sn" ta run "$work/sum.lua" --timeout-ms 0
check 2 "required" -- "$sn" ta run
check 0 "0 not refused" -- "$sn" ta selftest

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all ta checks passed"
