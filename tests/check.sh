# Sourced by the CLI tests: `check EXPECTED_EXIT PATTERN -- command...` runs the command and
# counts a failure unless it exits with EXPECTED_EXIT and its output (stdout and stderr) matches
# the extended regular expression PATTERN. The caller sets failures=0 first.
check() {
  local want=$1 pattern=$2
  shift 3
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  if [ "$rc" -ne "$want" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $rc (want $want), output: $out"
    failures=$((failures + 1))
  else
    echo "ok: $* -> exit $rc"
  fi
}
