#!/bin/sh
# bench/run.sh — what `make bench` runs: ganlua against OpenBLAS called
# directly and against PyTorch (Debian's python3-torch, installed here when
# missing; the tests never need it), on this machine, same thread counts.
# Prints figures and ratios; takes a few minutes.
set -u
cd "$(dirname "$0")/.."
G=./ganlua
PY=/usr/bin/python3
if ! $PY -c 'import torch' 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "bench: installing python3-torch (for the PyTorch reference)"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch
fi
mkdir -p build/bench
cc -O2 bench/sgemm_direct.c -o build/bench/sgemm_direct $(pkg-config --cflags --libs openblas) || exit 1
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cpus=$(nproc)
# kernel speeds differ between processors: every figure below is for this one
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) (family $(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1), model $(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1))"
isa=$(grep -q avx512f /proc/cpuinfo && echo "AVX-512" || (grep -q avx2 /proc/cpuinfo && echo "AVX2" || echo "baseline"))
echo "== machine: $cpu, $cpus cores, widest vectors $isa, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
# the kernels each library dispatched to on this processor (after a
# convolution of each layout kind has been created)
$G -e 'nn.Conv2d(16, 16, 3)(tensor.randn(2, 16, 8, 8)); nn.Conv2d(3, 16, 3)(tensor.randn(2, 3, 8, 8))
  local b = sys.backend(); print("   products: " .. b.blas .. "; oneDNN sgemm from 16k multiply-adds up")
  print("   convolutions: " .. b.conv)'
# PyTorch at T threads: torch.set_num_threads(T) sizes its OpenMP pool but
# not OpenBLAS's, which PyTorch's matmul and Linear call and which would
# otherwise take every core; pin both, as ganlua's --threads does.
pyt() { echo "env OPENBLAS_NUM_THREADS=$1 OMP_NUM_THREADS=$1 $PY"; }

# Two threads against one, ganlua's own figures, collected for the table at
# the end (item: 2 threads are never slower than 1). t2log NAME T1 T2 hi|lo
rm -f build/bench/threads.txt
t2log() { echo "$1 $2 $3 $4" >>build/bench/threads.txt; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

# On a virtual machine the "other core" can be another hardware thread of
# the same physical core, or shared with a neighbour: a busy loop there then
# slows this one. This is what 2 threads can gain here, and why figures of
# one thread taken minutes apart differ. Three alternating pairs, best of each.
# coreprobe prints "alone beside ratio"; run again where a section's
# two-thread figure depends on it (the toy's).
probe=no; command -v taskset >/dev/null 2>&1 && [ "$cpus" -ge 2 ] && probe=yes
coreprobe() { _al=0; _bs=0
  for _r in 1 2 3; do
    set -- $(taskset -c 0 $G --threads 1 bench/small_ops.lua ops); _al=$(maxof $_al ${1:-0})
    taskset -c 1 sh -c 'while :; do :; done' & _spin=$!
    set -- $(taskset -c 0 $G --threads 1 bench/small_ops.lua ops); _bs=$(maxof $_bs ${1:-0})
    kill $_spin; wait $_spin 2>/dev/null
  done
  echo "$_al $_bs $(ratio $_al $_bs)"; }
if [ $probe = yes ]; then
  set -- $(coreprobe)
  echo "   the two cores share: 4x4 adds/s on core 0 alone ${1:-?}, beside a busy loop on core 1 ${2:-?} (${3:-?}x)"
fi

echo "== per-op overhead: adds of 4x4 tensors per second (best of 5 rounds of 2e5; each side run 3 times, alternating, best kept)"
printf '%-8s %14s %14s %14s %14s %8s %8s\n' threads "ganlua" "ganlua+grad" "pytorch" "pytorch+grad" ratio ratio+grad
for t in 1 $cpus; do eval "gp$t=0 gg$t=0 tp$t=0 tg$t=0"; done
for r in 1 2 3; do
  for t in 1 $cpus; do
    set -- $($G --threads $t bench/small_ops.lua ops); eval "gp$t=\$(maxof \$gp$t $1); gg$t=\$(maxof \$gg$t $2)"
    set -- $($(pyt $t) bench/small_ops_torch.py $t ops); eval "tp$t=\$(maxof \$tp$t $1); tg$t=\$(maxof \$tg$t $2)"
  done
done
for t in 1 $cpus; do
  eval "gp=\$gp$t gg=\$gg$t tp=\$tp$t tg=\$tg$t"
  printf '%-8s %14s %14s %14s %14s %8s %8s\n' $t $gp $gg $tp $tg $(ratio $gp $tp) $(ratio $gg $tg)
done
# (a 4x4 add runs the same serial code at any thread count: its two rows
# differ by this machine's noise only, and stay out of the threads table)

echo "== matmul GFLOP/s (square): ganlua vs cblas_sgemm called directly (and PyTorch)"
printf '%-8s %6s %10s %10s %10s %12s\n' threads N ganlua direct pytorch ganlua/direct
for t in 1 $cpus; do
  for n in 128 512 1024; do
    gl=$($G --threads $t bench/small_ops.lua matmul $n)
    d=$(build/bench/sgemm_direct $n $t)
    tp=$($(pyt $t) bench/small_ops_torch.py $t matmul $n)
    printf '%-8s %6s %10s %10s %10s %12s\n' $t $n $gl $d $tp $(ratio $gl $d)
  done
done

echo "== allocator: malloc calls in 1e4 repeated (64x64 matmul + add) after warm-up"
echo "   $($G bench/small_ops.lua alloc)"

echo "== layers and optimizers (microseconds per iteration; lower is better)"
for t in 1 $cpus; do
  echo "-- threads $t: ganlua, then PyTorch"
  nb=$($G --threads $t bench/nn_bench.lua); printf '%s\n' "$nb"
  eval "floor$t=$(printf '%s\n' "$nb" | awk '$1 == "toy_vanilla_sgemm_only" { print $2 }')"
  for l in conv2d_fwd_bwd conv_transpose2d_fwd_bwd; do eval "${l}_$t=$(printf '%s\n' "$nb" | awk -v l=$l '$1 == l { print $2 }')"; done
  $(pyt $t) bench/nn_bench_torch.py $t
done
echo "   (*_sgemm_only: the bare matrix products the line above needs, a floor for ganlua's time)"
t2log "Conv2d fwd+bwd, us" $conv2d_fwd_bwd_1 $(eval echo \$conv2d_fwd_bwd_$cpus) lo
t2log "ConvTranspose2d fwd+bwd, us" $conv_transpose2d_fwd_bwd_1 $(eval echo \$conv_transpose2d_fwd_bwd_$cpus) lo

# Whole DCGAN iterations (bench/dcgan_bench.lua and its PyTorch twin):
# ganlua at 1 and 2 threads against PyTorch at its best of 1 and 2.
echo "== DCGAN (batch 64, Radford et al.'s architecture): ms per iteration and peak RSS; ratio against PyTorch's best thread count"
printf '%-12s %10s %10s %10s %10s %8s %8s %12s %12s\n' step "ganlua t1" "ganlua t2" "torch t1" "torch t2" "ratio t1" "ratio t2" "ganlua kB" "torch kB"
dc() { # framework threads mode size -> "us rss"
  if [ "$1" = g ]; then o=$(/usr/bin/time -f 'RSS %M' $G --threads $2 bench/dcgan_bench.lua $3 $4 6 2>&1)
  else o=$(/usr/bin/time -f 'RSS %M' $(pyt $2) bench/dcgan_bench_torch.py $2 $3 $4 6 2>&1); fi
  printf '%s %s\n' "$(printf '%s\n' "$o" | grep -E '^[0-9.]+$' | tail -1)" "$(printf '%s\n' "$o" | sed -n 's/^RSS //p')"; }
for m in "dcgan 32" "dcgan 64" "critic 64" "gp 64"; do
  set -- $(dc g 1 $m); g1=$1; gr=$2
  set -- $(dc g $cpus $m); g2=$1; [ "$2" -gt "$gr" ] && gr=$2
  set -- $(dc t 1 $m); t1=$1; tr=$2
  set -- $(dc t $cpus $m); t2=$1; [ "$2" -gt "$tr" ] && tr=$2
  tb=$(awk -v a=$t1 -v b=$t2 'BEGIN { print (a < b ? a : b) }')
  printf '%-12s %10.1f %10.1f %10.1f %10.1f %8s %8s %12s %12s\n' "$(echo $m | tr ' ' _)" \
    $(awk -v v=$g1 'BEGIN{print v/1000}') $(awk -v v=$g2 'BEGIN{print v/1000}') $(awk -v v=$t1 'BEGIN{print v/1000}') \
    $(awk -v v=$t2 'BEGIN{print v/1000}') $(ratio $tb $g1) $(ratio $tb $g2) $gr $tr
  t2log "$(echo $m | tr ' ' _) step, us" $g1 $g2 lo
  eval "dc_$(echo $m | cut -d' ' -f1)_g=$(awk -v a=$g1 -v b=$g2 'BEGIN { print (a < b ? a : b) }'); dc_$(echo $m | cut -d' ' -f1)_t=$tb"
done
echo "   the gradient penalty's cost (gp step / plain critic step, best thread counts): ganlua $(ratio $dc_gp_g $dc_critic_g)x, PyTorch $(ratio $dc_gp_t $dc_critic_t)x"
# The critic step spends most of its time in oneDNN's convolution kernels,
# the same ones PyTorch calls (DNNL_VERBOSE=1 names them on both sides):
# each implementation oneDNN offers for D's layers, alone, is that floor.
echo "== oneDNN's implementations of the critic's 64x64 layers, alone, 1 thread (bench/conv_impls.c)"
cc -O2 bench/conv_impls.c -o build/bench/conv_impls $(pkg-config --cflags --libs dnnl 2>/dev/null || echo -ldnnl) || exit 1
for l in "3 64 64" "64 128 32" "128 256 16" "256 512 8"; do OMP_NUM_THREADS=1 build/bench/conv_impls $l | grep -v sse41; done

# toyrun THREADS VARIANT OUT [ARGS]: scripts/toy_gan.lua, printed as "it/s peak-RSS-kB" (n/a for what a
# failed run did not print)
toyrun() { _t=$1 _v=$2 _o=$3; shift 3
  _out=$(/usr/bin/time -f 'RSS %M' $G --threads $_t scripts/toy_gan.lua --variant $_v --out $_o "$@" 2>&1)
  _i=$(printf '%s\n' "$_out" | sed -n 's/.*iterations in .* s (\([0-9]*\) it\/s).*/\1/p' | tail -1)
  _r=$(printf '%s\n' "$_out" | sed -n 's/^RSS //p'); echo "${_i:-n/a} ${_r:-n/a}"; }
# toyref THREADS VARIANT [ARGS]: the same experiment in bench/toy_gan_torch.py, printed the same way
toyref() { _t=$1 _v=$2; shift 2
  _out=$(/usr/bin/time -f 'RSS %M' $(pyt $_t) bench/toy_gan_torch.py --variant $_v --threads $_t "$@" 2>&1)
  _i=$(printf '%s\n' "$_out" | sed -n 's/.*"it_per_s": \([0-9.]*\).*/\1/p')
  _r=$(printf '%s\n' "$_out" | sed -n 's/^RSS //p'); echo "${_i:-n/a} ${_r:-n/a}"; }
echo "== toy GAN, vanilla, 200 epochs (15800 iterations): iterations/s and peak RSS"
echo "   (ganlua run 3 times at each thread count, alternating, median kept; PyTorch once)"
for t in 1 $cpus; do eval "tv$t= tr$t=0"; done
for r in 1 2 3; do for t in 1 $cpus; do
  set -- $(toyrun $t vanilla build/bench/toy_v$t); eval "tv$t=\"\$tv$t ${1:-}\"; tr$t=\$(maxof \$tr$t ${2:-0})"
done; done
printf '%-8s %12s %12s %10s %14s %14s\n' threads ganlua pytorch ratio "ganlua RSS kB" "pytorch RSS kB"
for t in 1 $cpus; do
  eval "gi=\$(median3 \$tv$t); gr=\$tr$t"
  eval "gi$t=$gi"
  set -- $(toyref $t vanilla); ti=${1:-} tr=${2:-}
  printf '%-8s %12s %12.0f %10s %14s %14s\n' $t "$gi" "$ti" $(ratio "$gi" "$ti") "$gr" "$tr"
  eval "fl=\${floor$t:-}"
  [ -n "$fl" ] && awk -v f="$fl" -v p="$ti" 'BEGIN { printf "         its sgemm calls alone take %.1f us/iteration: at most %.0f it/s, %.2fx PyTorch\n", f, 1e6 / f, 1e6 / f / p }'
done
# The toy's products are small (128 x 128 x 128): two threads gain 1.2-1.3x
# on a calm host and lose when the second vCPU is shared (the probe above
# 1.1x); the reading right after the runs goes beside its row.
tprobe=""
if [ $probe = yes ]; then
  set -- $(coreprobe); tprobe=" (cores shared ${3:-?}x)"
  echo "   the two cores share, probed again after these runs: alone ${1:-?}, beside a busy loop ${2:-?} (${3:-?}x)"
fi
t2log "toy vanilla, it/s$tprobe" $gi1 $(eval echo \$gi$cpus) hi

echo "== toy GAN, minibatch discrimination: iterations/s (ganlua 200 epochs, PyTorch 10 epochs), 1 thread"
set -- $(toyrun 1 minibatch build/bench/toy_mb); gi=${1:-} gr=${2:-}
set -- $(toyref 1 minibatch --epochs 10); ti=${1:-} tr=${2:-}
echo "   ganlua $gi it/s (peak RSS $gr kB), PyTorch $(printf %.1f "$ti") it/s (peak RSS $tr kB), ratio $(ratio "$gi" "$ti")"

echo "== checkpoints read from Python (tools/ganlua_ckpt.py) into PyTorch"
rm -rf build/bench/ckr && mkdir -p build/bench/ckr
$G -e 'local G = nn.Sequential{nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)}
  G(tensor.randn(16, 4) * 2 + 1)
  local z = tensor.randn(5, 4)
  data.write_csv(z, "build/bench/ckr/z.csv"); data.write_csv(G:infer(z), "build/bench/ckr/out.csv")
  ckpt.save("build/bench/ckr/ckpt.safetensors", {G = G, it = 7})' && $PY bench/ckpt_reader_check.py build/bench/ckr

# Soak: the toy script itself for 1266 epochs (100,014 iterations), its RSS
# read from /proc every half second. "start" is the RSS at 25k iterations,
# after the first snapshot (epoch 211, ~16.7k: 2500 samples, the mode
# metrics, a CSV), whose buffers stay in the cache and add ~10 MB once;
# "end" at 95k, well before the closing figures (cairo and font caches are
# not the loop's): at 3000 it/s a reading at 99k could land in them.
echo "== soak: scripts/toy_gan.lua vanilla, 100k iterations, 1 thread: RSS at 25k and 95k iterations"
rm -rf build/bench/soak
$G --threads 1 scripts/toy_gan.lua --variant vanilla --epochs 1266 --out build/bench/soak >build/bench/soak.log 2>&1 &
spid=$!; s0=$(date +%s); rss_start=""; rss_end=""
while kill -0 $spid 2>/dev/null; do
  r=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' /proc/$spid/status 2>/dev/null)
  it=$(tail -c 400 build/bench/soak/metrics.jsonl 2>/dev/null | sed -n 's/.*"step":\([0-9]*\).*/\1/p' | tail -1)
  if [ -n "$r" ] && [ -n "$it" ]; then
    [ -z "$rss_start" ] && [ "$it" -ge 25000 ] && rss_start=$r
    [ -z "$rss_end" ] && [ "$it" -ge 95000 ] && rss_end=$r
  fi
  sleep 0.5
done
wait $spid; src=$?
awk -v a="$rss_start" -v b="$rss_end" -v rc=$src -v t=$(( $(date +%s) - s0 )) 'BEGIN {
  if (rc != 0 || a == "" || b == "") { printf "   soak failed (exit %d; see build/bench/soak.log)\n", rc; exit }
  printf "   RSS %d kB at 25k iterations, %d kB at 95k: %+.1f %% over %d s (flat within 5 %%: %s)\n", a, b, 100 * (b - a) / a, t,
    (b - a) / a <= 0.05 && (a - b) / a <= 0.05 ? "yes" : "NO" }'

if [ -n "${OPENBLAS_CORETYPE:-}" ]; then
  # The machine pins OpenBLAS's kernels; show what its own CPU detection
  # gives, for ganlua and PyTorch alike (PyTorch's Linear is OpenBLAS too).
  echo "== the same without OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE (OpenBLAS picks $(env -u OPENBLAS_CORETYPE OPENBLAS_VERBOSE=2 $G -e '' 2>&1 | sed -n 's/^Core: //p'))"
  env -u OPENBLAS_CORETYPE $G --threads 1 bench/nn_bench.lua | grep conv
  env -u OPENBLAS_CORETYPE $(pyt 1) bench/nn_bench_torch.py 1 | grep conv
  set -- $(unset OPENBLAS_CORETYPE; toyrun 1 vanilla build/bench/toy_vu); gi=${1:-}
  set -- $(unset OPENBLAS_CORETYPE; toyref 1 vanilla); ti=${1:-}
  echo "   toy vanilla, 1 thread: ganlua $gi it/s, PyTorch $(printf %.0f "$ti") it/s, ratio $(ratio "$gi" "$ti")"
fi

if [ -f data/mnist/train-images-idx3-ubyte ]; then
  echo "== MNIST GAN (scripts/mnist_gan.lua model), batch 64: iterations/s over 300 iterations"
  # ganlua: the wall time of 320 iterations less that of 20 (loading MNIST,
  # building the models, warm-up), as PyTorch times 300 after 20 warm-ups
  mg() { s0=$(date +%s.%N)
    $G --threads $1 scripts/mnist_gan.lua --max-iters $2 --sample-interval 100000 --out build/bench/mnist$1 >/dev/null 2>&1
    s1=$(date +%s.%N); awk -v a=$s0 -v b=$s1 'BEGIN { print b - a }'; }
  for t in 1 $cpus; do
    w20=$(mg $t 20); w320=$(mg $t 320)
    gi=$(awk -v a=$w20 -v b=$w320 'BEGIN { printf "%.1f", 300 / (b - a) }')
    tp=$($(pyt $t) bench/mnist_gan_torch.py $t 300)
    echo "   threads $t: ganlua $gi it/s, PyTorch $tp it/s, ratio $(ratio $gi $tp)"
    eval "mg$t=$gi"
  done
  t2log "MNIST GAN, it/s" $mg1 $(eval echo \$mg$cpus) hi
else
  echo "== MNIST GAN: skipped (run make data)"
fi

# MPI on this machine (shared memory, loopback only): data-parallel MNIST
# GAN at 1 and 2 ranks, and a toy sweep's wall time at 1 and 2 ranks.
MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo"
if command -v mpirun >/dev/null 2>&1; then
  echo "== MPI, data-parallel MNIST GAN (mnist_gan.lua, 300 iterations, 1 thread per rank): images/s"
  printf '%-28s %10s %10s %8s\n' setting "1 rank" "2 ranks" speedup
  mg() { # ranks batch-per-rank -> images/s
    rm -rf build/bench/mpi_mnist
    s=$(date +%s.%N)
    if [ "$1" = 1 ]; then $G --threads 1 scripts/mnist_gan.lua --max-iters 300 --batch $2 --sample-interval 1000 --save-every 0 --out build/bench/mpi_mnist >/dev/null 2>&1
    else $MPIRUN -np $1 $G --threads 1 scripts/mnist_gan.lua --max-iters 300 --batch $2 --sample-interval 1000 --save-every 0 --out build/bench/mpi_mnist >/dev/null 2>&1; fi
    e=$(date +%s.%N)
    awk -v s=$s -v e=$e -v r=$1 -v b=$2 'BEGIN { printf "%.0f", 300 * r * b / (e - s) }'; }
  a=$(mg 1 64); b=$(mg 2 32)
  printf '%-28s %10s %10s %8s\n' "global batch 64" $a $b $(ratio $b $a)
  a=$(mg 1 64); b=$(mg 2 64)
  printf '%-28s %10s %10s %8s\n' "batch 64 per rank" $a $b $(ratio $b $a)
  echo "== MPI, toy sweep (vanilla and minibatch, seeds 0-1, 30 epochs, one run at a time per rank): wall seconds"
  sw() { rm -rf build/bench/mpi_sweep; s=$(date +%s.%N)
    if [ "$1" = 1 ]; then $G scripts/toy_sweep.lua --variants vanilla,minibatch --seeds 0,1 --epochs 30 --jobs 1 --out build/bench/mpi_sweep >/dev/null 2>&1
    else $MPIRUN -np $1 $G scripts/toy_sweep.lua --variants vanilla,minibatch --seeds 0,1 --epochs 30 --jobs 1 --out build/bench/mpi_sweep >/dev/null 2>&1; fi
    e=$(date +%s.%N); awk -v s=$s -v e=$e 'BEGIN { printf "%.1f", e - s }'; }
  a=$(sw 1); b=$(sw 2)
  printf '   1 rank %s s, 2 ranks %s s: %sx\n' $a $b $(ratio $a $b)
fi

if [ -s build/bench/threads.txt ] && [ "$cpus" -ge 2 ]; then
  echo "== ganlua at $cpus threads against 1 (from the sections above): speed-up, and whether $cpus threads are at least as fast"
  awk '{ k = $(NF - 0); t2 = $(NF - 1); t1 = $(NF - 2); n = $0; sub(/ [^ ]+ [^ ]+ [^ ]+$/, "", n)
    if (!(t1 + 0 > 0 && t2 + 0 > 0)) { printf "   %-40s %12s %12s     n/a  (a run failed)\n", n, t1, t2; next }
    r = (k == "hi") ? t2 / t1 : t1 / t2
    printf "   %-40s %12s %12s %7.2fx  %s\n", n, t1, t2, r, (r >= 1 ? "yes" : "NO") }' build/bench/threads.txt
  echo "   (one-thread and two-thread runs alternate where the section says so; elsewhere they are minutes apart)"
fi
