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
# and the table shows the median of the rest. Environment: BUILD_DIR (default build-bench),
# THREADS (default "1 2"), SKIP_BUILD=1 to reuse a build.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/build_targets.sh"
ROUNDS="${1:-3}"
EPOCHS="${2:-3}"
THREADS="${THREADS:-1 2}"
if ! [ "$EPOCHS" -ge 2 ] 2>/dev/null; then
  echo "fashion_epochs.sh: epochs must be 2 or more (the first of each run is not counted), got '$EPOCHS'" >&2
  exit 2
fi

build_targets fashion_mnist fashion_mnist_libtorch

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
  done
done

/usr/bin/python3 - "$times" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    impl, threads, epoch, seconds = line.split()
    if epoch != "1":
        runs.setdefault((impl, int(threads)), []).append(float(seconds))
print("Fashion-MNIST MLP [784, 256, 128, 10], Adam, batch 128: seconds per epoch (median, first epochs left out)")
print(f"{'threads':>7}  {'tapegrad':>8}  {'libtorch':>8}  {'ratio':>5}   (min-max)")
best = {}
for t in sorted({t for _, t in runs}):
    row = {impl: runs.get((impl, t)) for impl in ("tapegrad", "libtorch")}
    med = {impl: statistics.median(v) for impl, v in row.items() if v}
    for impl, m in med.items():
        best[impl] = min(best.get(impl, m), m)
    ratio = f"{med['tapegrad'] / med['libtorch']:.2f}" if len(med) == 2 else "-"
    spread = "  ".join(f"{impl} {min(v):.2f}-{max(v):.2f}" for impl, v in row.items() if v)
    print(f"{t:>7}  {med.get('tapegrad', float('nan')):>8.3f}  {med.get('libtorch', float('nan')):>8.3f}  {ratio:>5}   ({spread})")
if len(best) == 2:
    print(f"{'best':>7}  {best['tapegrad']:>8.3f}  {best['libtorch']:>8.3f}  {best['tapegrad'] / best['libtorch']:>5.2f}")
EOF
