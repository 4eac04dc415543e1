#!/bin/sh
# tests/cli_test.sh — the ganlua executable and the ganlua.so module, seen
# from outside: arguments, -e, --version, exit statuses, tracebacks, the
# REPL over a pipe, `require "ganlua"` from stock lua5.4.
GANLUA=${GANLUA:-./ganlua}
GANLUA_SO=${GANLUA_SO:-./ganlua.so}
pass=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok()   { pass=$((pass + 1)); }
bad()  { fail=$((fail + 1)); echo "FAIL: $1"; }
# expect NAME EXPECTED_STATUS PATTERN -- command...
expect() {
  name=$1; want=$2; pat=$3; shift 4
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want" ]; then bad "$name: exit $rc, wanted $want; output: $out"; return; fi
  if [ -n "$pat" ] && ! printf '%s' "$out" | grep -q -- "$pat"; then bad "$name: output lacks '$pat': $out"; return; fi
  ok
}

expect "version" 0 "ganlua 0" -- "$GANLUA" --version
expect "-e" 0 "^6.0$" -- "$GANLUA" -e 'print(tensor.ones(2, 3):sum():item())'
printf 'print(#arg, arg[0], arg[1], arg[2], ...)\n' > "$tmp/args.lua"
expect "script args" 0 "2	$tmp/args.lua	a	b	a	b" -- "$GANLUA" "$tmp/args.lua" a b
printf 'local function f() error("deliberate") end\nf()\n' > "$tmp/err.lua"
expect "error exits 1 with message" 1 "err.lua:1: deliberate" -- "$GANLUA" "$tmp/err.lua"
expect "error has a traceback" 1 "stack traceback" -- "$GANLUA" "$tmp/err.lua"
expect "runtime error names the op" 1 "matmul: 2x3 @ 2x3: inner sizes 3 and 2 differ" -- \
  "$GANLUA" -e 'tensor.ones(2,3):matmul(tensor.ones(2,3))'
expect "missing script" 1 "cannot open" -- "$GANLUA" "$tmp/nope.lua"
expect "unknown option" 1 "unknown option '--bogus'" -- "$GANLUA" --bogus
expect "bad --threads" 1 "threads needs a number" -- "$GANLUA" --threads x -e 'print(1)'
expect "--threads sets BLAS threads" 0 "^1$" -- "$GANLUA" --threads 1 -e 'print(tensor.get_num_threads())'
expect "syntax error" 1 "syntax error\|unexpected symbol\|expected" -- "$GANLUA" -e 'x = = 1'
expect "stdin script" 0 "^from stdin$" -- sh -c "echo 'print(\"from stdin\")' | \"$GANLUA\" -"

# REPL over a pipe: expressions print, multi-line input continues, an
# error does not end the session.
out=$(printf '1 + 2\nfor i = 1, 2 do\nprint("loop", i)\nend\nerror("oops")\ntensor.ones(2)\n' | "$GANLUA" 2>&1)
for want in "3" "loop	1" "loop	2" "oops" "tensor(\[1., 1.\], size=2)"; do
  if printf '%s' "$out" | grep -q -- "$want"; then ok; else bad "repl: no '$want' in: $out"; fi
done

# repl() inside a script: locals readable and writable, `cont` resumes
cat > "$tmp/r.lua" <<'LUA'
local opt = { lambda = 10 }
local lr = 0.1
for i = 1, 2 do
  if i == 2 then repl() end
  print("iter", i, opt.lambda, lr)
end
LUA
out=$(printf 'lr * 10\nopt.lambda = 5\nlr = 0.5\ncont\n' | "$GANLUA" "$tmp/r.lua" 2>&1)
for want in "iter	1	10	0.1" "^1.0$" "iter	2	5	0.5"; do
  if printf '%s' "$out" | grep -q -- "$want"; then ok; else bad "repl(): no '$want' in: $out"; fi
done

# Ctrl-\ (SIGQUIT) during a run opens the REPL at the running line
cat > "$tmp/q.lua" <<'LUA'
local total = 0
for i = 1, 400000000 do total = total + i % 7 end
print("done")
LUA
# quit_run SCRIPT SIGNAL_AT INPUT_AT INPUT: run SCRIPT, send it SIGQUIT after
# SIGNAL_AT seconds, type INPUT at INPUT_AT; prints what it printed (a
# background job's stdin would be /dev/null: hand it the pipe explicitly)
quit_run() {
  ( sleep "$3"; printf '%b' "$4" ) | ( exec 3<&0; "$GANLUA" "$1" <&3 & pid=$!; sleep "$2"; kill -QUIT $pid; wait $pid ) 2>&1
}
out=$(quit_run "$tmp/q.lua" 0.3 1 'i > 0\ncont\n')
for want in "interrupted at" "^true$" "done"; do
  if printf '%s' "$out" | grep -q -- "$want"; then ok; else bad "Ctrl-\\: no '$want' in: $out"; fi
done

# Ctrl-C (SIGINT) stops a running expression; the REPL goes on
out=$( (sleep 1.2; printf 'print("after")\n') | ( exec 3<&0; (printf 'while true do end\n'; cat <&3) | "$GANLUA" & sleep 0.8; pkill -INT -f "^$GANLUA\$" ; wait ) 2>&1)
for want in "interrupted!" "^after$"; do
  if printf '%s' "$out" | grep -q -- "$want"; then ok; else bad "Ctrl-C: no '$want' in: $out"; fi
done

# Ctrl-\ while the time goes into the stdlib (an optimizer's step loop,
# stdlib/optim.lua) stops in the script's own frame, where its locals are
cat > "$tmp/q2.lua" <<'LUA'
local ps = {}
for k = 1, 2000 do ps[k] = tensor.zeros(1):requires_grad(); ps[k].grad = tensor.ones(1) end
local opt = optim.SGD(ps, { lr = 0.1 })
local steps = 0
while true do
  opt:step()
  steps = steps + 1
  if stop_now then break end
end
print("stopped")
LUA
out=$(quit_run "$tmp/q2.lua" 0.8 1.5 'print(steps > 0, #ps)\nstop_now = true\ncont\n')
for want in "interrupted at $tmp/q2.lua" "^true	2000$" "stopped"; do
  if printf '%s' "$out" | grep -q -- "$want"; then ok; else bad "Ctrl-\\ in the stdlib: no '$want' in: $out"; fi
done

# -i runs the script, then the REPL with its globals and its top-level
# locals (at its end, or at the error that stopped it)
printf 'answer = 42\n' > "$tmp/g.lua"
expect "-i keeps globals" 0 "42" -- sh -c "echo 'answer' | \"$GANLUA\" -i \"$tmp/g.lua\""
printf '#!/usr/bin/env ganlua\nlocal model = nn.Linear(2, 3)\nlocal opt = { lr = 0.5 }\n' > "$tmp/l.lua"
expect "-i sees the script's locals" 0 "^3	0.5" -- sh -c "echo 'print(model.out_features, opt.lr)' | \"$GANLUA\" -i \"$tmp/l.lua\""
printf 'local x = 41\nerror("boom")\n' > "$tmp/le.lua"
expect "-i after an error: the locals at it, exit status 1" 1 "^42$" -- sh -c "echo 'print(x + 1)' | \"$GANLUA\" -i \"$tmp/le.lua\""
expect "-i keeps the script's line numbers" 1 "le.lua:2: boom" -- sh -c "echo '' | \"$GANLUA\" -i \"$tmp/le.lua\""

# The binary still works when copied elsewhere (stdlib is embedded).
cp "$GANLUA" "$tmp/ganlua-copy"
expect "copied binary" 0 "ok" -- sh -c "cd / && \"$tmp/ganlua-copy\" -e 'local a = autograd.gradcheck; print(a and \"ok\")'"

# The Lua C module from stock lua5.4.
if command -v lua5.4 >/dev/null 2>&1; then
  sodir=$(cd "$(dirname "$GANLUA_SO")" && pwd)
  pre=""
  if [ "$SANITIZE" = "1" ]; then pre="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"; fi
  expect "require ganlua from lua5.4" 0 "^12.0*$" -- env LD_PRELOAD="$pre" ASAN_OPTIONS=detect_leaks=0 lua5.4 -e "
    package.cpath = '$sodir/?.so;' .. package.cpath
    local g = require 'ganlua'
    local x = g.tensor.from{1, 2, 3}:requires_grad()
    local y = (x * x):sum()
    y:backward()
    print(x.grad:sum():item())"
else
  bad "lua5.4 is not installed (make deps installs it)"
fi

# make install into a staging directory, then the installed executable and
# module from elsewhere, then make uninstall
if [ "$SANITIZE" != "1" ] && make -s install DESTDIR="$tmp/stage" PREFIX=/usr/local >"$tmp/install.log" 2>&1; then
  ok
  root="$tmp/stage/usr/local"
  expect "installed executable" 0 "^6.0$" -- sh -c "cd / && \"$root/bin/ganlua\" -e 'print(tensor.ones(2, 3):sum():item())'"
  expect "installed script runs" 0 "epoch 1" -- sh -c "cd '$tmp' && \"$root/bin/ganlua\" \"$root/share/ganlua/scripts/toy_gan.lua\" --epochs 1 --panels 1 --samples 200 --out '$tmp/toy'"
  if [ -f "$root/share/ganlua/stdlib/nn.lua" ]; then ok; else bad "make install: no share/ganlua/stdlib/nn.lua"; fi
  if command -v lua5.4 >/dev/null 2>&1; then
    expect "installed module from lua5.4" 0 "^3.0*$" -- lua5.4 -e "
      package.cpath = '$root/lib/lua/5.4/?.so;' .. package.cpath
      print(require('ganlua').tensor.ones(3):sum():item())"
  fi
  make -s uninstall DESTDIR="$tmp/stage" PREFIX=/usr/local >/dev/null 2>&1
  left=$(find "$tmp/stage" -type f | wc -l)
  if [ "$left" -eq 0 ]; then ok; else bad "make uninstall left $left files"; fi
elif [ "$SANITIZE" != "1" ]; then
  bad "make install failed: $(cat "$tmp/install.log")"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
