#!/usr/bin/env bash
# Builds bench_step (and bench_step_libtorch when libtorch-dev is installed), runs them side by
# side and prints one table with the ratios of issue 5.
#
#   benchmarks/compare.sh [rounds] [min_time]      (defaults: 5 rounds, 0.5 s per benchmark)
#
# The machine is noisy and shared, so every round runs every binary at every thread count once,
# alternating, and the table reports the median over rounds. Environment: BUILD_DIR (default
# build-bench), THREADS (default "1 2"), SKIP_BUILD=1 to reuse a build, OUT_DIR for the JSON.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/build_targets.sh"
ROUNDS="${1:-5}"
MIN_TIME="${2:-0.5}"
THREADS="${THREADS:-1 2}"
OUT_DIR="${OUT_DIR:-$BUILD_DIR/compare}"

build_targets bench_step bench_step_libtorch

bins=("$BUILD_DIR/benchmarks/bench_step")
[ -x "$BUILD_DIR/benchmarks/bench_step_libtorch" ] && bins+=("$BUILD_DIR/benchmarks/bench_step_libtorch")
[ ${#bins[@]} -eq 1 ] && echo "note: libtorch-dev not found; the table has no libtorch column" >&2

rm -rf "$OUT_DIR" && mkdir -p "$OUT_DIR"
for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    for b in "${bins[@]}"; do
      echo "round $r/$ROUNDS threads $t $(basename "$b")" >&2
      # OpenBLAS and OpenMP pools read these at load; the binaries also set them from
      # TAPEGRAD_BENCH_THREADS (tapegrad::set_num_threads, torch::set_num_threads).
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t TAPEGRAD_BENCH_THREADS=$t \
        "$b" --benchmark_filter='BM_Step/' --benchmark_min_time="$MIN_TIME" \
        --benchmark_format=json --benchmark_out_format=json \
        --benchmark_out="$OUT_DIR/$(basename "$b")-t$t-r$r.json" >/dev/null
    done
  done
done
# RSS over 10,000 steps, once per thread count.
for t in $THREADS; do
  echo "rss threads $t" >&2
  OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t TAPEGRAD_BENCH_THREADS=$t \
    "$BUILD_DIR/benchmarks/bench_step" --benchmark_filter='BM_Rss/' --benchmark_format=json \
    --benchmark_out_format=json --benchmark_out="$OUT_DIR/rss-t$t.json" >/dev/null
done

/usr/bin/python3 "$ROOT/benchmarks/compare_table.py" "$OUT_DIR"
