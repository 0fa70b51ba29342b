"""Reads the JSON of benchmarks/compare.sh and prints the side-by-side table with the ratios of
issue 5 (tapegrad against libtorch, handwritten, gemm_floor) and issue 15 (against gemm_best).

Times are medians over rounds of each benchmark's wall-clock time per step."""
import glob
import json
import os
import re
import statistics
import sys

out_dir = sys.argv[1]
runs = {}  # (impl, workload, threads) -> list of (real_time_us, allocs, bytes)
for path in sorted(glob.glob(os.path.join(out_dir, "bench_step*-t*-r*.json"))):
    threads = int(re.search(r"-t(\d+)-r", path).group(1))
    with open(path) as f:
        data = json.load(f)
    for b in data["benchmarks"]:
        m = re.match(r"BM_Step/(\w+)/(\w+)", b["name"])
        if not m or b.get("run_type", "iteration") != "iteration":
            continue
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[b["time_unit"]]
        runs.setdefault((m.group(1), m.group(2), threads), []).append(
            (b["real_time"] * scale, b.get("allocs_per_step", 0.0), b.get("bytes_per_step", 0.0),
             b["cpu_time"] * scale))

impls = ["tapegrad", "handwritten", "gemm_floor", "gemm_best", "libtorch"]
workloads = ["xor", "small", "large"]
thread_counts = sorted({k[2] for k in runs})


def med(impl, w, t):
    v = runs.get((impl, w, t))
    return statistics.median(x[0] for x in v) if v else None


def allocs(impl, w, t):
    v = runs.get((impl, w, t))
    return max(x[1] for x in v) if v else None


def fmt(us):
    if us is None:
        return "—"
    return f"{us:.2f} µs" if us < 10 else (f"{us:.1f} µs" if us < 1000 else f"{us / 1000:.2f} ms")


def ratio(a, b):
    return None if a is None or b is None else a / b


def check(r, limit):
    if r is None:
        return "n/a"
    return f"{r:.3f} ({'ok' if r <= limit else 'MISSED'}, target ≤ {limit:g})"


n_rounds = max((len(v) for v in runs.values()), default=0)
print(f"Median wall time per training step over {n_rounds} rounds (allocations per step in brackets, max over rounds)\n")
print("| workload | threads | " + " | ".join(impls) + " |")
print("|---|---|" + "---|" * len(impls))
for w in workloads:
    for t in thread_counts:
        cells = []
        for i in impls:
            m = med(i, w, t)
            cells.append("—" if m is None else f"{fmt(m)} [{allocs(i, w, t):g}]")
        print(f"| {w} | {t} | " + " | ".join(cells) + " |")

print("\nRatios at the same thread count (issue 5 targets 1, 2 and 4)\n")
print("| workload | threads | tapegrad / libtorch | tapegrad / handwritten | tapegrad / gemm_floor |")
print("|---|---|---|---|---|")
lt_limit = {"xor": 0.1, "small": 0.5, "large": 1.0}
hw_limit = {"xor": 2.0, "small": 1.10, "large": 1.10}
gf_limit = {"xor": float("inf"), "small": float("inf"), "large": 1.15}
for w in workloads:
    for t in thread_counts:
        tg = med("tapegrad", w, t)
        print(f"| {w} | {t} | {check(ratio(tg, med('libtorch', w, t)), lt_limit[w])} | "
              f"{check(ratio(tg, med('handwritten', w, t)), hw_limit[w])} | "
              + (check(ratio(tg, med('gemm_floor', w, t)), gf_limit[w]) if w == "large"
                 else f"{ratio(tg, med('gemm_floor', w, t)):.2f}") + " |")


# Issue 15 target 1: the large step against its products through the best kernel the machine has.
gb_limit = {1: 1.05, 2: 1.08}
print("\nAgainst the best kernel (issue 15 target 1: large ≤ 1.05 at one thread, ≤ 1.08 at two)\n")
print("| workload | threads | tapegrad | gemm_floor | gemm_best | tapegrad / gemm_best | gemm_floor / gemm_best |")
print("|---|---|---|---|---|---|---|")
for w in workloads:
    for t in thread_counts:
        tg, gf, gb = med("tapegrad", w, t), med("gemm_floor", w, t), med("gemm_best", w, t)
        r = ratio(tg, gb)
        cell = (check(r, gb_limit.get(t, 1.08)) if w == "large" else ("—" if r is None else f"{r:.2f}"))
        r2 = ratio(gf, gb)
        print(f"| {w} | {t} | {fmt(tg)} | {fmt(gf)} | {fmt(gb)} | {cell} | {'—' if r2 is None else f'{r2:.3f}'} |")


def best(impl, w):
    c = [(med(impl, w, t), t) for t in thread_counts if med(impl, w, t) is not None]
    return min(c) if c else (None, None)


print("\nEach at its best thread setting (issue 5 target 3, large)\n")
print("| workload | tapegrad | gemm_floor | libtorch | tapegrad / gemm_floor | tapegrad / libtorch |")
print("|---|---|---|---|---|---|")
for w in workloads:
    (a, ta), (g, tgf), (l, tl) = best("tapegrad", w), best("gemm_floor", w), best("libtorch", w)
    lim_g = 1.15 if w == "large" else float("inf")
    print(f"| {w} | {fmt(a)} (t={ta}) | {fmt(g)} (t={tgf}) | {fmt(l)} (t={tl}) | "
          f"{check(ratio(a, g), lim_g) if w == 'large' else f'{ratio(a, g):.2f}'} | {check(ratio(a, l), lt_limit[w])} |")

if 1 in thread_counts:
    # With one thread every implementation does all its work on the timed thread, so its CPU
    # time is the work itself: far less sensitive to other processes than wall time.
    def cpu(impl, w):
        v = runs.get((impl, w, 1))
        return statistics.median(x[3] for x in v) if v else None

    print("\nOne thread, CPU time of the timed thread (robust when the machine is shared)\n")
    print("| workload | tapegrad | handwritten | gemm_floor | gemm_best | libtorch | tg / libtorch | tg / handwritten | tg / gemm_floor | tg / gemm_best |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for w in workloads:
        c = {i: cpu(i, w) for i in impls}
        tg = c["tapegrad"]
        print(f"| {w} | " + " | ".join(fmt(c[i]) for i in impls) + " | "
              f"{check(ratio(tg, c['libtorch']), lt_limit[w])} | {check(ratio(tg, c['handwritten']), hw_limit[w])} | "
              + (check(ratio(tg, c['gemm_floor']), gf_limit[w]) if w == "large" else f"{ratio(tg, c['gemm_floor']):.2f}")
              + " | " + (check(ratio(tg, c['gemm_best']), gb_limit[1]) if w == "large" else
                         ("—" if ratio(tg, c['gemm_best']) is None else f"{ratio(tg, c['gemm_best']):.2f}"))
              + " |")

rss_files = sorted(glob.glob(os.path.join(out_dir, "rss-t*.json")))
if rss_files:
    print("\nResident set size over 10,000 tapegrad steps after 100 warm-up steps\n")
    print("| workload | threads | RSS before | RSS after | growth | allocations in 10,000 steps |")
    print("|---|---|---|---|---|---|")
    for path in rss_files:
        t = re.search(r"rss-t(\d+)", path).group(1)
        with open(path) as f:
            rss = json.load(f)
        for b in rss["benchmarks"]:
            w = b["name"].split("/")[2]
            print(f"| {w} | {t} | {b['rss_start_kib']:.0f} KiB | {b['rss_end_kib']:.0f} KiB | "
                  f"{b['rss_growth_kib']:.0f} KiB | {b['allocs_total']:.0f} |")
