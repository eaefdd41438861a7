#!/usr/bin/env bash
# The MLP step against PyTorch's CPU step, paired: for each round and thread count, PyTorch
# (torch_mlp_step.py) and `pnpm bench train`'s bundle (Trainer.stepMany and Trainer.step) run
# back to back, each in its own process, pinned to the same cores with taskset so both see
# the same cores. Extra bundles (e.g. a build of an older commit) given as arguments run in
# the same slot for before/after pairs. Needs .device/ from device-bundle.sh.
# Usage (on the device machine, repository root):
#   ROUNDS=4 THREADS="2 4 16" KS="16 64" bash packages/onnx/bench/device-vs-torch.sh [.device/node/train-old.mjs ...]
# (KS: steps per run for Trainer.stepMany, each bundle runs once per K)
# CONCURRENT=1 instead runs PyTorch and the bundle at the same time on two disjoint core sets
# (swapping the sets every round), so both see the same moment of a shared host's load; it
# needs 2·T + 1 cores and times only stepMany (--skip-step).
set -uo pipefail
ROUNDS=${ROUNDS:-4}
THREADS=${THREADS:-"2 4 16"}
STEPS=${STEPS:-128}
KS=${KS:-16}
bash .device/node/run.sh
ncpu=$(nproc)
cores() { # $1 threads → a core list that skips core 0 (interrupts) when there is room
  local n=$1
  if [ "$n" -ge "$ncpu" ]; then echo "0-$((ncpu - 1))"; else echo "1-$n"; fi
}
# Figures out of the two programs' printouts: "mean median" ms/step of each (PyTorch: over
# steps; ours: mean over all steps, median over runs of K steps).
torch_ms() { sed -E 's/.*: ([0-9.]+) ms\/step mean, ([0-9.]+) median.*/\1 \2/'; }
many_ms() { grep -E '^MLP' | sed -E 's/.*per run: ([0-9.]+) ms\/step.*median run ([0-9.]+) ms\/step.*/\1 \2/'; }
# "mean ratio, median ratio" of PyTorch's time to ours (above 1: we are faster).
ratios() { python3 -c "t='$1'.split(); o='$2'.split(); print(f'{float(t[0])/float(o[0]):.2f} {float(t[1])/float(o[1]):.2f}')"; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -m1 -oE 'avx512f|amx_tile' /proc/cpuinfo | sort -u | xargs), $(grep -m1 'cpu MHz' /proc/cpuinfo | cut -d: -f2 | xargs) MHz, L2 $(lscpu | grep 'L2' | cut -d: -f2 | xargs)"
if [ "${CONCURRENT:-0}" = 1 ]; then
  for r in $(seq 1 "$ROUNDS"); do
    for t in $THREADS; do
      a="1-$t"; b="$((t + 1))-$((2 * t))"
      if [ $((r % 2)) = 0 ]; then tc=$b; oc=$a; else tc=$a; oc=$b; fi
      for k in $KS; do
        taskset -c "$tc" python3 packages/onnx/bench/torch_mlp_step.py --threads "$t" --steps "${TORCH_STEPS:-400}" > /tmp/torch.out &
        out=$(taskset -c "$oc" /tmp/node/node .device/node/train.mjs --only mlp --threads "$t" --no-saturated --skip-step --steps "$STEPS" --steps-per-run "$k" 2>&1)
        wait
        torch=$(torch_ms < /tmp/torch.out)
        many=$(echo "$out" | many_ms)
        echo "concurrent round $r T$t K$k torch_cores $tc torch_mean_median_ms $torch | ours_cores $oc stepMany_mean_median_ms $many | ratio_mean_median $(ratios "$torch" "$many")"
      done
    done
  done
  exit 0
fi
for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    c=$(cores "$t")
    torch=$(taskset -c "$c" python3 packages/onnx/bench/torch_mlp_step.py --threads "$t" --steps 60 | torch_ms)
    line="round $r T$t cores $c torch_mean_median_ms $torch"
    for bundle in .device/node/train.mjs "$@"; do
     for k in $KS; do
      out=$(taskset -c "$c" /tmp/node/node "$bundle" --only mlp --threads "$t" --no-saturated --steps "$STEPS" --steps-per-run "$k" 2>&1)
      many=$(echo "$out" | many_ms)
      one=$(echo "$out" | grep -E 'one step per run' | sed -E 's/.*\(Trainer.step\): ([0-9.]+) ms\/step.*/\1/')
      ceil=$(echo "$out" | grep -E 'ratio to the MatMul ceiling' | sed -E 's/.*ceiling: ([0-9]+)%.*/\1/')
      line="$line | $(basename "$bundle" .mjs)@K$k stepMany_mean_median_ms $many ratio_mean_median $(ratios "$torch" "$many") step_ms $one ceiling_pct $ceil"
     done
    done
    echo "$line"
  done
done
