#!/usr/bin/env bash
# Times an epoch of examples/fashion_mnist against the same training in libtorch's C++ frontend
# (benchmarks/fashion_mnist_libtorch.cpp, when libtorch-dev is installed), side by side. Both run
# the issue's recipe: pixels in [0, 1], constant rate (the example's --no-standardize --schedule
# constant; its defaults do the same work per step, on other numbers).
#
#   benchmarks/fashion_epochs.sh [rounds] [epochs]      (defaults: 3 rounds of 3 epochs)
#
# Every round runs each binary at each thread count once, alternating, so that the machine's
# drift hits both alike. An epoch's time is the example's own `time=` (the training loop, not
# loading or evaluation); the first epoch of every run is left out (first-touch page faults),
# and the table shows the median of the rest. In the same rounds, bench_step's BM_Epoch times one
# epoch's matrix products alone (468 batches of 128 and one of 96; the same calls as the training
# makes): through kernels::gemm (gemm_floor) and through the fastest kernel the machine has for
# each (gemm_best: tapegrad's, OpenBLAS's or oneDNN's, on their own threads). Environment:
# BUILD_DIR (default build-bench), THREADS (default "1 2"), SKIP_BUILD=1 to reuse a build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/build_targets.sh"
ROUNDS="${1:-3}"
EPOCHS="${2:-3}"
THREADS="${THREADS:-1 2}"
if ! [ "$EPOCHS" -ge 2 ] 2>/dev/null; then
  echo "fashion_epochs.sh: epochs must be 2 or more (the first of each run is not counted), got '$EPOCHS'" >&2
  exit 2
fi

build_targets fashion_mnist bench_step fashion_mnist_libtorch

tapegrad="$BUILD_DIR/examples/fashion_mnist"
libtorch="$BUILD_DIR/benchmarks/fashion_mnist_libtorch"
[ -x "$libtorch" ] || { echo "note: libtorch-dev not found; timing tapegrad alone" >&2; libtorch=""; }

times="$(mktemp)"
trap 'rm -f "$times"' EXIT
# Appends "<name> <threads> <epoch> <seconds>" for each epoch line the program prints.
record() {
  sed -n "s/^epoch \([0-9]*\)\/.*time=\([0-9.]*\)s$/$1 $2 \1 \2/p" >>"$times"
}
for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    echo "round $r/$ROUNDS threads $t" >&2
    "$tapegrad" --threads "$t" --epochs "$EPOCHS" --out-dir '' --no-standardize --schedule constant | record tapegrad "$t"
    if [ -n "$libtorch" ]; then
      "$libtorch" --threads "$t" --epochs "$EPOCHS" | record libtorch "$t"
    fi
    # Recorded as epoch 2, so that the summary (which drops first epochs) counts them.
    OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t TAPEGRAD_BENCH_THREADS=$t "$BUILD_DIR/benchmarks/bench_step" \
      --benchmark_filter='BM_Epoch/' --benchmark_min_time=1 --benchmark_format=csv 2>/dev/null |
      awk -F, -v t="$t" '$1 ~ /^"BM_Epoch\// { split($1, n, "/"); printf "%s %s 2 %.4f\n", n[2], t, $3 / 1000 }' >>"$times"
  done
done

/usr/bin/python3 - "$times" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    impl, threads, epoch, seconds = line.split()
    if epoch != "1":
        runs.setdefault((impl, int(threads)), []).append(float(seconds))
impls = ["tapegrad", "libtorch", "gemm_floor", "gemm_best"]
print("Fashion-MNIST MLP [784, 256, 128, 10], Adam, batch 128: seconds per epoch (median, first epochs left out);")
print("gemm_floor / gemm_best: one epoch's matrix products alone, through kernels::gemm / the fastest kernel\n")
print("| threads | " + " | ".join(impls) + " | tapegrad / gemm_best (target ≤ 1.6) | tapegrad / libtorch (target ≤ 0.35) | range |")
print("|---|" + "---|" * (len(impls) + 3))
for t in sorted({t for _, t in runs}):
    row = {impl: runs.get((impl, t)) for impl in impls}
    med = {impl: statistics.median(v) for impl, v in row.items() if v}
    def r(a, b, limit):
        if a not in med or b not in med:
            return "—"
        x = med[a] / med[b]
        return f"{x:.2f} ({'ok' if x <= limit else 'MISSED'})"
    spread = "; ".join(f"{impl} {min(v):.3f}-{max(v):.3f}" for impl, v in row.items() if v)
    print(f"| {t} | " + " | ".join(f"{med[i]:.3f} s" if i in med else "—" for i in impls)
          + f" | {r('tapegrad', 'gemm_best', 1.6)} | {r('tapegrad', 'libtorch', 0.35)} | {spread} |")
EOF
