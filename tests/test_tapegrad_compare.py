#!/usr/bin/python3
"""tools/tapegrad-compare as a user runs it: exit status, the final line, and --dump checked
with NumPy (an independent implementation of the textbook backprop and of the weights the
tutorial draws after np.random.seed).

Usage: /usr/bin/python3 test_tapegrad_compare.py TOOL WORKDIR CASE
CASE: xor | as_written | dump | float | weights | errors
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np

FINAL = re.compile(r"^max abs diff autograd vs hand-derived: (\S+)$")


def run(tool, *args):
    p = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def final_value(stdout):
    lines = stdout.rstrip("\n").split("\n")
    m = FINAL.match(lines[-1])
    assert m, f"last line is not the headline: {lines[-1]!r}"
    return float(m.group(1))


def check(cond, message):
    if not cond:
        sys.exit("FAIL: " + message)


def he_weights(seed, sizes):
    """np.random.seed(seed); the tutorial's __init__ (He initialisation)."""
    np.random.seed(seed)
    ws = [np.random.randn(sizes[i], sizes[i + 1]) * np.sqrt(2.0 / sizes[i]) for i in range(len(sizes) - 1)]
    return ws


def textbook_gradients(ws, bs, X, y):
    """Backprop with every delta formed before any update: relu hidden layers, sigmoid output, / m."""
    acts, zs = [X], [X]
    for i, (w, b) in enumerate(zip(ws, bs)):
        z = acts[-1] @ w + b
        zs.append(z)
        acts.append(np.maximum(0, z) if i < len(ws) - 1 else 1 / (1 + np.exp(-np.clip(z, -500, 500))))
    m = X.shape[0]
    delta = acts[-1] - y
    grads = [None] * len(ws)
    for i in range(len(ws) - 1, -1, -1):
        grads[i] = (acts[i].T @ delta / m, delta.sum(axis=0, keepdims=True) / m)
        if i > 0:
            delta = (delta @ ws[i].T) * (zs[i] > 0)
    return grads


def case_xor(tool, work):
    rc, out, err = run(tool)
    check(rc == 0, f"default XOR run exited {rc}: {err}")
    x = final_value(out)
    check(x <= 1e-10, f"XOR headline {x} above 1e-10")
    check("layers.0.weight" in out and "Quirk 1" in out, "the report lacks its tables or explanations")


def case_as_written(tool, work):
    rc, out, err = run(tool, "--as-written")
    check(rc == 1, f"--as-written should exceed the tolerance and exit 1, exited {rc}: {err}")
    x = final_value(out)
    check(1e-2 < x < 1e-1, f"--as-written headline {x}, expected the first layer's ~3e-2")


def case_dump(tool, work):
    d = os.path.join(work, "dump")
    shutil.rmtree(d, ignore_errors=True)
    sizes = [8, 16, 16, 3]
    rc, out, err = run(tool, "--sizes", "8,16,16,3", "--batch", "64", "--seed", "2", "--dump", d)
    check(rc == 0, f"random run exited {rc}: {err}")
    check(final_value(out) <= 1e-10, "random-case headline above 1e-10")
    params = [f"layers.{i}.{kind}" for i in range(3) for kind in ("weight", "bias")]
    sets = ["initial", "autograd", "autograd_sigmoid_bce", "autograd_tutorial_loss", "hand", "hand_as_applied",
            "applied"]
    expected = {"X.npy", "y.npy", "manifest.txt"} | {f"{s}.{p}.npy" for s in sets for p in params}
    check(expected <= set(os.listdir(d)), f"missing dump files: {sorted(expected - set(os.listdir(d)))}")
    load = lambda name: np.load(os.path.join(d, name))
    X, y = load("X.npy"), load("y.npy")
    check(X.shape == (64, 8) and y.shape == (64, 3), f"X {X.shape}, y {y.shape}")

    # The weights and data are NumPy's own after np.random.seed(2), as the tool says.
    ws = he_weights(2, sizes)
    check(np.array_equal(X, np.random.randn(64, 8)), "X is not np.random.randn after the weights")
    check(np.array_equal(y, (np.random.rand(64, 3) < 0.5).astype(float)), "y is not np.random.rand < 0.5")
    for i, w in enumerate(ws):
        check(np.array_equal(load(f"initial.layers.{i}.weight.npy"), w), f"initial weight {i} differs from NumPy's")
    bs = [load(f"initial.layers.{i}.bias.npy") for i in range(3)]

    # NumPy's textbook backprop against the dumped sets: hand, and autograd × k.
    k = y.shape[1]
    worst_hand = worst_auto = 0.0
    for i, (dW, db) in enumerate(textbook_gradients(ws, bs, X, y)):
        for kind, ref in (("weight", dW), ("bias", db)):
            worst_hand = max(worst_hand, np.abs(load(f"hand.layers.{i}.{kind}.npy") - ref).max())
            worst_auto = max(worst_auto, np.abs(k * load(f"autograd.layers.{i}.{kind}.npy") - ref).max())
    check(worst_hand <= 1e-12, f"hand vs NumPy textbook backprop: {worst_hand}")
    check(worst_auto <= 1e-12, f"autograd × k vs NumPy textbook backprop: {worst_auto}")
    print(f"NumPy textbook backprop vs hand {worst_hand:.3e}, vs autograd × {k} {worst_auto:.3e}")


def case_float(tool, work):
    rc, out, err = run(tool, "--dtype", "float")
    check(rc == 0, f"--dtype float exited {rc}: {err}")
    check("float32" in out, "float run does not say float32")
    check(final_value(out) <= 1e-5, "float headline above 1e-5")


def case_weights(tool, work):
    d = os.path.join(work, "weights")
    shutil.rmtree(d, ignore_errors=True)
    rc, out1, err = run(tool, "--seed", "5", "--dump", d)
    check(rc == 0, f"seed 5 run exited {rc}: {err}")
    rc, out2, err = run(tool, "--weights", os.path.join(d, "initial."), "--data", os.path.join(d, "X.npy"),
                        os.path.join(d, "y.npy"))
    check(rc == 0, f"--weights/--data run exited {rc}: {err}")
    # Same weights and data from files: the same tables.
    tables = lambda s: [l for l in s.split("\n") if l.startswith("    layers.")]
    check(tables(out1) == tables(out2), "reloading a dump's weights and data changed the results")


def case_errors(tool, work):
    for args, what in ((["--sizes", "2"], "one layer size"),
                       (["--dtype", "half"], "an unknown dtype"),
                       (["--data", "/nonexistent/X.npy", "/nonexistent/y.npy"], "missing data files"),
                       (["--sizes", "3,4,1"], None),  # random data: fine
                       (["--lr", "0"], "a zero learning rate"),
                       (["--weights", os.path.join(work, "none.")], "missing weight files")):
        rc, out, err = run(tool, *args)
        if what is None:
            check(rc == 0, f"{args} exited {rc}: {err}")
            continue
        check(rc == 2, f"{what} ({args}) should exit 2, exited {rc}")
        check(err.strip() != "", f"{what} ({args}) printed no error")
        check("Traceback" not in err and "terminate called" not in err, f"{what}: {err}")


def main():
    tool, work, case = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    globals()["case_" + case](tool, work)
    print("ok:", case)


if __name__ == "__main__":
    main()
