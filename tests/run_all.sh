#!/bin/sh
# tests/run_all.sh — every suite, then one closing "N passed, N failed".
# Each suite prints its own "N passed, N failed" as its last line; this
# adds them up. A suite that crashes counts as one failure.
# Env: GANLUA (binary), GANLUA_SO (Lua module), BUILD (object dir), SANITIZE.
GANLUA=${GANLUA:-./ganlua}
GANLUA_SO=${GANLUA_SO:-./ganlua.so}
BUILD=${BUILD:-build}
export GANLUA GANLUA_SO
# third-party caches that are never freed (see the file); ganlua's own
# allocations are still checked
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
total_p=0; total_f=0
run_suite() { # name, command...
  name=$1; shift
  echo "== $name"
  out=$("$@" 2>&1); rc=$?
  printf '%s\n' "$out" | grep -v '^[0-9]* passed, [0-9]* failed$'
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  if [ -n "$line" ]; then
    p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
    echo "   $name: $line"
  else
    p=0; f=1
    echo "   $name: crashed or printed no result (exit $rc)"
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "   $name: exit status $rc"; fi
  total_p=$((total_p + p)); total_f=$((total_f + f))
}
run_suite "C runtime" "$BUILD/tests/test_runtime"
run_suite "Lua API" "$GANLUA" tests/run.lua
run_suite "CLI and module" sh tests/cli_test.sh
run_suite "Crash consistency (SIGKILL during ckpt.save)" sh tests/kill_test.sh
echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
