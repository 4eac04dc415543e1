#!/bin/sh
# tests/kill_test.sh — crash consistency of ckpt.save. A writer saves a
# 16 MB checkpoint over and over, each save's weight filled with its step;
# it is killed with SIGKILL at a random moment, KILLS times. After each
# kill the file on disk must load, and hold one whole save: its weight is
# all equal to the step stored beside it. A kill that lands mid-write
# leaves the writer's PATH.tmp.XXXXXX behind, which is how the test counts
# that it hit the window it is about (and then removes it).
GANLUA=${GANLUA:-./ganlua}
KILLS=${KILLS:-60}
pass=0; fail=0
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ck="$tmp/c.safetensors"
model='local m = nn.Linear(2048, 2048)'
"$GANLUA" -e "$model
autograd.no_grad(function() m.weight:fill_(0); m.bias:fill_(0) end)
ckpt.save('$ck', { m = m, step = 0 })" || { echo "FAIL: first save"; echo "0 passed, 1 failed"; exit 1; }
cat > "$tmp/writer.lua" <<LUA
$model
for step = 1, math.huge do
  autograd.no_grad(function() m.weight:fill_(step); m.bias:fill_(step) end)
  ckpt.save("$ck", { m = m, step = step })
  io.stdout:write(step, "\n"); io.stdout:flush()
end
LUA
cat > "$tmp/check.lua" <<LUA
$model
local saved = ckpt.load("$ck", { m = m })
local w = m.weight
assert(w:min():item() == saved.step and w:max():item() == saved.step, "weight does not match step " .. saved.step)
assert(m.bias:min():item() == saved.step and m.bias:max():item() == saved.step, "bias does not match")
print(saved.step)
LUA
mid=0; last=0
i=1
while [ "$i" -le "$KILLS" ]; do
  "$GANLUA" "$tmp/writer.lua" > "$tmp/out" 2>&1 &
  pid=$!
  # 0.05 .. 0.6 s: before the first save, and anywhere in the ones after it
  sleep "$(awk -v s="$i$$" 'BEGIN { srand(s); printf "%.3f", 0.05 + 0.55 * rand() }')"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  if ls "$tmp" | grep -q '^c.safetensors.tmp.'; then mid=$((mid + 1)); rm -f "$tmp"/c.safetensors.tmp.*; fi
  step=$("$GANLUA" "$tmp/check.lua" 2>&1)
  if [ $? -eq 0 ]; then
    pass=$((pass + 1)); last=$step
  else
    fail=$((fail + 1)); echo "FAIL: kill $i: the checkpoint does not load whole: $step"
  fi
  i=$((i + 1))
done
echo "   $KILLS kills, $mid of them mid-write; the last checkpoint on disk is step $last"
if [ "$mid" -eq 0 ]; then fail=$((fail + 1)); echo "FAIL: no kill landed during a write (the test did not test anything)"; fi
echo "$pass passed, $fail failed"
