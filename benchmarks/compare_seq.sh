#!/usr/bin/env bash
# Runs bench_seq (and bench_seq_libtorch when libtorch-dev is installed) side by side and prints
# issue 18's table: an LSTM(28 -> 128) training step over 28 steps at batch 128, and one
# TransformerEncoderLayer (d 64, 4 heads, 16 tokens, batch 128) training step, at every thread
# count, with the GEMM floor, the heap allocations per step and the ratio to libtorch at each
# one's best thread setting (targets: LSTM <= 0.5, encoder layer <= 0.6).
#
#   benchmarks/compare_seq.sh [rounds] [min_time]      (defaults: 5 rounds, 0.5 s per benchmark)
#
# Every round runs each binary at each thread count once, alternating, so that a noisy machine
# hits both alike; the table shows the median over rounds. Environment: BUILD_DIR (default
# build-bench), THREADS (default "1 2"), SKIP_BUILD=1 to reuse a build, OUT_DIR for the JSON.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/build_targets.sh"
ROUNDS="${1:-5}"
MIN_TIME="${2:-0.5}"
THREADS="${THREADS:-1 2}"
OUT_DIR="${OUT_DIR:-$BUILD_DIR/compare_seq}"

build_targets bench_seq bench_seq_libtorch

bins=("$BUILD_DIR/benchmarks/bench_seq")
[ -x "$BUILD_DIR/benchmarks/bench_seq_libtorch" ] && bins+=("$BUILD_DIR/benchmarks/bench_seq_libtorch")
[ ${#bins[@]} -eq 1 ] && echo "note: libtorch-dev not found; the table has no libtorch column" >&2

rm -rf "$OUT_DIR" && mkdir -p "$OUT_DIR"
for r in $(seq 1 "$ROUNDS"); do
  for t in $THREADS; do
    for b in "${bins[@]}"; do
      echo "round $r/$ROUNDS threads $t $(basename "$b")" >&2
      OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t TAPEGRAD_BENCH_THREADS=$t \
        "$b" --benchmark_filter='BM_Seq/' --benchmark_min_time="$MIN_TIME" \
        --benchmark_format=json --benchmark_out_format=json \
        --benchmark_out="$OUT_DIR/$(basename "$b")-t$t-r$r.json" >/dev/null
    done
  done
done

/usr/bin/python3 - "$OUT_DIR" <<'EOF'
import glob, json, os, re, statistics, sys
times, allocs = {}, {}
for path in glob.glob(os.path.join(sys.argv[1], "*.json")):
    t = int(re.search(r"-t(\d+)-r\d+\.json$", path).group(1))
    for b in json.load(open(path))["benchmarks"]:
        _, impl, work = b["name"].split("/")[:3]
        ms = b["real_time"] * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        times.setdefault((work, impl, t), []).append(ms)
        if "allocs_per_step" in b:
            allocs.setdefault((work, impl), []).append(b["allocs_per_step"])
target = {"lstm": 0.5, "encoder": 0.6}
name = {"lstm": "LSTM(28 -> 128) step, 28 steps, batch 128",
        "encoder": "TransformerEncoderLayer(d 64, 4 heads, ff 128) step, 16 tokens, batch 128"}
impls = ["tapegrad", "libtorch", "gemm_floor"]
for work in ("lstm", "encoder"):
    print(f"\n{name[work]}: ms per training step (median over rounds)\n")
    print("| threads | " + " | ".join(impls) + " | tapegrad / libtorch | tapegrad / gemm_floor | range |")
    print("|---|---|---|---|---|---|---|")
    best = {}
    for t in sorted({k[2] for k in times if k[0] == work}):
        med = {i: statistics.median(times[(work, i, t)]) for i in impls if (work, i, t) in times}
        for i, m in med.items():
            best[i] = min(best.get(i, (1e30, 0)), (m, t))
        ratio = lambda a, b: f"{med[a] / med[b]:.2f}" if a in med and b in med else "—"
        spread = "; ".join(f"{i} {min(times[(work, i, t)]):.2f}-{max(times[(work, i, t)]):.2f}"
                           for i in impls if (work, i, t) in times)
        print(f"| {t} | " + " | ".join(f"{med[i]:.2f}" if i in med else "—" for i in impls)
              + f" | {ratio('tapegrad', 'libtorch')} | {ratio('tapegrad', 'gemm_floor')} | {spread} |")
    if "tapegrad" in best and "libtorch" in best:
        (a, ta), (b, tb) = best["tapegrad"], best["libtorch"]
        r = a / b
        print(f"\nEach at its best thread setting: tapegrad {a:.2f} ms (t={ta}), libtorch {b:.2f} ms (t={tb}): "
              f"{r:.2f} ({'ok' if r <= target[work] else 'MISSED'}, target <= {target[work]})")
    for i in ("tapegrad", "libtorch"):
        if (work, i) in allocs:
            print(f"{i}: {max(allocs[(work, i)]):g} heap allocations per step (the most over all runs)")
EOF
