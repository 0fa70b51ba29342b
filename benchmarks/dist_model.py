#!/usr/bin/env python3
"""The cost model of docs/distributed.md, fed with what benchmarks/dist_measure.sh measured.

    benchmarks/dist_measure.sh > measured.txt
    /usr/bin/python3 benchmarks/dist_model.py measured.txt

One data-parallel step on W processes, global batch B, P parameters (4P bytes of float
gradient), one process per core:

    T(W) = Tc(B/W) + Tar(W)
    Tar(W) = 2 (W-1)/W * 4P / bandwidth  +  2 (W-1) * alpha        (ring all-reduce)
             + 2 log2(W) * alpha                                   (the small has-gradient reduction)

Tc(b) is the step's computation at per-process batch b (forward, backward, optimizer), measured
here at one thread for the MLP and estimated from FLOPs for the CNN and the LSTM (which do not
exist yet). The speed-up is T(1) / T(W), T(1) = Tc(B) with no communication.

It prints: (1) the model against the steps measured here at W = 2 and 4 (shared memory, alpha
and bandwidth fitted from MPI_Allreduce at W = 2; at W = 4 two ranks share each core, so Tc
doubles); (2) predicted speed-ups at W = 2..64 on 10, 25 and 100 Gb/s networks.
"""
import math
import re
import sys

# Parameter counts (weights + biases, PyTorch's layer shapes).
MLP_P = 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10  # 235,146
CNN_P = (32 * 1 * 9 + 32) + (64 * 32 * 9 + 64) + (3136 * 128 + 128) + (128 * 10 + 10)  # 421,642
LSTM_P = 4 * 128 * (28 + 128) + 2 * 4 * 128 + (128 * 10 + 10)  # 82,186 (b_ih and b_hh, as PyTorch)

# Forward FLOPs per example (multiply-add = 2); backward ~ 2x forward.
CNN_FWD = (28 * 28 * 32 * 9 * 2) + (14 * 14 * 64 * 32 * 9 * 2) + (3136 * 128 * 2) + (128 * 10 * 2)
LSTM_FWD = 28 * (2 * (28 + 128) * 512) + 128 * 10 * 2

NETWORKS = [  # name, bytes/s, alpha (s): assumed, typical of Open MPI over TCP and over RDMA
    ("10 Gb/s Ethernet (TCP, alpha 15 us)", 10e9 / 8, 15e-6),
    ("25 Gb/s Ethernet (TCP, alpha 10 us)", 25e9 / 8, 10e-6),
    ("100 Gb/s InfiniBand/RoCE (RDMA, alpha 2 us)", 100e9 / 8, 2e-6),
]


def parse(path):
    text = open(path).read()
    m = {"compute": {}, "gemm": {}, "sizes": {}, "step": {}}
    # The fastest repetitions: on a shared machine delays only add, so they are the idle estimate.
    for b, ms in re.findall(r"batch\s+(\d+)\s+[\d.]+ ms per step.*?\(fastest\s+([\d.]+) ms\)", text):
        m["compute"][int(b)] = float(ms) * 1e-3
    for what, gf in re.findall(r"SGEMM .*\((.*?)\):\s+[\d.]+ GFLOP/s \(fastest\s+([\d.]+)\)", text):
        m["gemm"][what] = float(gf) * 1e9
    for block in re.split(r"(?=^sizes: )", text, flags=re.M)[1:]:
        w = int(re.search(r"over (\d+) ranks", block).group(1))
        pts = re.findall(r"^\s+(\d+) B\s+[\d.]+ us\s+\(fastest\s+([\d.]+) us\)", block, flags=re.M)
        m["sizes"][w] = [(int(n), float(us) * 1e-6) for n, us in pts]
    for block in re.split(r"(?=^step: )", text, flags=re.M)[1:]:
        w = int(re.search(r"= (\d+) ranks", block).group(1))
        def phase(name):  # (median on rank 0, fastest on rank 0), seconds
            g = re.search(name + r"\s+([\d.]+)\s*/\s*[\d.]+\s*/\s*([\d.]+)", block)
            return float(g.group(1)) * 1e-3, float(g.group(2)) * 1e-3
        m["step"][w] = {k: phase(k) for k in ("forward\\+backward", "gradient averaging", "Adam step",
                                               "averaging alone, back to back")}
    return m


def fit(points):
    """alpha and bandwidth of t = alpha + n / bw, least squares over messages of 4 KiB .. 1 MiB."""
    pts = [(n, t) for n, t in points if 4096 <= n <= (1 << 20)]
    k = len(pts)
    sx = sum(n for n, _ in pts); sy = sum(t for _, t in pts)
    sxx = sum(n * n for n, _ in pts); sxy = sum(n * t for n, t in pts)
    slope = (k * sxy - sx * sy) / (k * sxx - sx * sx)
    alpha = (sy - slope * sx) / k
    return max(alpha, 0.0), 1.0 / slope


def allreduce(p, w, bw, alpha):
    if w == 1:
        return 0.0
    return 2 * (w - 1) / w * 4 * p / bw + 2 * (w - 1) * alpha + 2 * math.log2(w) * alpha


def main():
    m = parse(sys.argv[1])
    tc = m["compute"]
    if not tc:
        sys.exit("no 'compute' block in the measurements")
    B = 128

    def tc_mlp(b):
        return tc[b] if b in tc else tc[min(tc, key=lambda k: abs(k - b))]

    # CNN and LSTM: FLOPs at the measured single-thread SGEMM rates of their typical shapes.
    cnn_rate = m["gemm"].get("CNN conv2 as im2col, batch 128")
    lstm_rate = m["gemm"].get("LSTM gates, batch 128")

    def tc_cnn(b):
        return 3 * CNN_FWD * b / cnn_rate

    def tc_lstm(b):
        return 3 * LSTM_FWD * b / lstm_rate

    print("(1) The model against this machine (shared memory), MLP, global batch 128")
    if 2 in m["sizes"]:
        alpha, bw = fit(m["sizes"][2])
        print(f"    MPI_Allreduce at W = 2 fits alpha = {alpha * 1e6:.1f} us, bandwidth = {bw / 1e9:.2f} GB/s")
        cores = 2
        for w in (2, 4):
            if w not in m["step"]:
                continue
            share = max(1, w // cores)  # ranks per core
            t_c = tc_mlp(B // w) * share
            t_ar = allreduce(MLP_P, w, bw, alpha)
            ph = m["step"][w]
            fast = sum(ph[k][1] for k in ("forward\\+backward", "gradient averaging", "Adam step"))
            med = sum(ph[k][0] for k in ("forward\\+backward", "gradient averaging", "Adam step"))
            print(f"    W = {w}: predicted step {1e3 * (t_c + t_ar):.3f} ms (compute {1e3 * t_c:.3f} + all-reduce "
                  f"{1e3 * t_ar:.3f}); measured {1e3 * fast:.3f} ms fastest, {1e3 * med:.3f} ms median "
                  f"(all-reduce in the step {1e3 * ph['gradient averaging'][1]:.3f} fastest, "
                  f"{1e3 * ph['gradient averaging'][0]:.3f} median)")
    print()
    print("(2) Predicted speed-up T(1)/T(W), global batch 128 (per-process batch 128/W), one process per core")
    models = [("MLP [784,256,128,10]", MLP_P, tc_mlp, "measured here")]
    if cnn_rate:
        models.append(("CNN conv32-conv64-fc128-fc10", CNN_P, tc_cnn, "FLOP estimate"))
    if lstm_rate:
        models.append(("LSTM(28->128)+fc10", LSTM_P, tc_lstm, "FLOP estimate"))
    ws = [2, 4, 8, 16, 32, 64]
    for name, p, f, how in models:
        print(f"    {name}: {p:,} parameters ({4 * p / 1e6:.2f} MB), Tc(128) = {1e3 * f(128):.2f} ms ({how})")
        print("      network" + " " * 40 + "".join(f"W={w:<6}" for w in ws))
        for net, bw, alpha in NETWORKS:
            row = []
            for w in ws:
                t = f(B / w if f is not tc_mlp else B // w) + allreduce(p, w, bw, alpha)
                row.append(f"{f(B if f is not tc_mlp else B) / t:<8.1f}")
            print(f"      {net:<47}" + "".join(row))
    print()
    print("(3) Weak scaling: 128 examples per process (global batch 128 W), speed-up in examples per second")
    for name, p, f, how in models:
        print(f"    {name}")
        for net, bw, alpha in NETWORKS:
            row = []
            for w in ws:
                t = f(128) + allreduce(p, w, bw, alpha)
                row.append(f"{w * f(128) / t:<8.1f}")
            print(f"      {net:<47}" + "".join(row))


if __name__ == "__main__":
    main()
