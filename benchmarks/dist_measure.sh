#!/usr/bin/env bash
# Every measurement of docs/distributed.md, in one run (the VM's speed drifts: compare numbers
# from the same run only). Needs the MPI component built: bench_dist and fashion_mnist.
#   benchmarks/dist_measure.sh [BUILD_DIR]       (default: build)
# Prints the load average before and after: numbers taken while other work runs on the machine
# are not worth comparing.
set -euo pipefail
BUILD_DIR="${1:-build}"
B="$BUILD_DIR/benchmarks/bench_dist"
FM="$BUILD_DIR/examples/fashion_mnist"
# Open MPI refuses to start as root unless told twice.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Up to 2 ranks on the 2 cores Open MPI binds one rank per core; 4 need --oversubscribe (then
# it binds none).
run() { local np="$1"; shift; if [ "$np" -gt "$(nproc)" ]; then mpirun --oversubscribe -np "$np" "$@"; else mpirun -np "$np" "$@"; fi; }

echo "== $(date -u +%FT%TZ)  $(nproc) cores  load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$B" compute --steps 200
for w in 1 2 4; do run "$w" "$B" step --steps 300; done
for w in 2 4; do run "$w" "$B" sizes --steps 300; done
for n in 235146 421642 82186; do run 2 "$B" buckets --elements "$n" --steps 200; done
run 2 "$B" overlap
run 2 "$B" overlap --elements 421642
for w in 1 2 4; do run "$w" "$B" deterministic --steps 200; done
run 1 "$B" deterministic --steps 200 --threads 2

# Whole Fashion-MNIST epochs (60000 images, global batch 128). The configurations take turns,
# 3 rounds of 2 epochs each, so that a burst of other work on the machine hits them alike; the
# fastest and the median of each one's 6 epochs.
configs=(
  "1 process   x 2 threads|$FM --threads 2"
  "1 process   x 1 thread|$FM --threads 1"
  "2 processes x 1 thread, --distributed|run 2 $FM --distributed --threads 1"
  "1 process   x 1 thread, --distributed --deterministic|run 1 $FM --distributed --deterministic --threads 1"
  "2 processes x 1 thread, --distributed --deterministic|run 2 $FM --distributed --deterministic --threads 1"
)
declare -A times
for round in 1 2 3; do
  for c in "${configs[@]}"; do
    label="${c%%|*}"; cmd="${c#*|}"
    # shellcheck disable=SC2086  # the command line is split on purpose
    times[$label]+="$($cmd --epochs 2 --out-dir "" --schedule constant | sed -n 's/.*time=\([0-9.]*\)s/\1/p' | tr '\n' ' ')"
  done
done
echo "fashion_mnist epochs (MLP [784, 256, 128, 10], Adam, global batch 128), 3 rounds x 2 epochs:"
for c in "${configs[@]}"; do
  label="${c%%|*}"
  sorted=$(echo ${times[$label]} | tr ' ' '\n' | sort -n)
  echo "  $label: fastest $(echo "$sorted" | head -1) s  median $(echo "$sorted" | sed -n 3p) s  (all: $(echo $sorted))"
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
