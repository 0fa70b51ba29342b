"""Prints bench_gemm's JSON as the table of benchmarks/README.md ("Choosing the float kernel").

    /usr/bin/python3 benchmarks/gemm_table.py bench_gemm.json [more.json ...]

Several files (e.g. runs with OPENBLAS_CORETYPE set to other core types, each saved with a
suffix such as bench_gemm-Haswell.json) add columns: a file named *-<Name>.json turns its
openblas column into openblas_<Name>. GFLOP/s are per core (one thread, CPU time); a * marks a
kernel that allocates on the heap in every call; the fastest kernel of each shape is in bold."""
import json
import os
import re
import sys

shapes, columns, gflops, allocs, labels, peak = [], [], {}, {}, {}, None
for path in sys.argv[1:]:
    suffix = re.search(r"-([A-Za-z0-9]+)\.json$", os.path.basename(path))
    with open(path) as f:
        data = json.load(f)
    # With --benchmark_repetitions, the median of the repetitions; else the single run.
    medians = {b["run_name"] for b in data["benchmarks"] if b.get("aggregate_name") == "median"}
    for b in data["benchmarks"]:
        name = b.get("run_name", b["name"])
        if name in medians and b.get("aggregate_name") != "median":
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        b = dict(b, name=name)
        if b["name"].startswith("BM_Peak"):
            peak = peak or b
            continue
        m = re.match(r"BM_Sgemm/(\w+)/(\w+)", b["name"])
        if not m:
            continue
        kernel, shape = m.groups()
        if suffix:
            if kernel != "openblas":
                continue
            kernel = f"openblas_{suffix.group(1)}"
        if shape not in shapes:
            shapes.append(shape)
        if kernel not in columns:
            columns.append(kernel)
        gflops[kernel, shape] = b["GFLOPS"]
        allocs[kernel, shape] = b["allocs_per_call"]
        labels[shape] = b.get("label", "")

if peak:
    print(f"Peak of one core: {peak['peak_GFLOPS']:.1f} GFLOP/s = {peak['flop_per_cycle']:.1f} FLOP per cycle "
          f"× {peak['clock_GHz']:.2f} GHz ({peak.get('label', '')})\n")
print("| product | m × n × k | " + " | ".join(columns) + " | tapegrad, % of peak | best, % of peak |")
print("|---|---|" + "---|" * (len(columns) + 2))
for s in shapes:
    row = {k: gflops.get((k, s)) for k in columns}
    best = max(v for v in row.values() if v is not None)
    cells = []
    for k in columns:
        v = row[k]
        if v is None:
            cells.append("—")
            continue
        text = f"{v:.1f}" + ("*" if allocs[k, s] > 0 else "")
        cells.append(f"**{text}**" if v == best else text)
    tail = ""
    if peak:
        tg = row.get("tapegrad")
        tail = f" {100 * tg / peak['peak_GFLOPS']:.0f}% |" if tg else " — |"
        tail += f" {100 * best / peak['peak_GFLOPS']:.0f}% |"
    print(f"| {s} | {labels[s]} | " + " | ".join(cells) + " |" + tail)
