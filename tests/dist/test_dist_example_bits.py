#!/usr/bin/env python3
"""A Fashion-MNIST example of the CNN or sequence models (fashion_mnist_cnn, _lstm, _vit) with
--distributed, compared by its last line
`model checksum: <16 hex digits>`:
  - one MPI process with --distributed reaches the plain run's bits;
  - --deterministic reaches the same bits on 1 and 2 processes.
usage: test_dist_example_bits.py EXAMPLE MPIEXEC NUMPROC_FLAG [PREFLAGS...]"""
import re
import subprocess
import sys

exe, mpiexec, npflag, preflags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
common = ["--epochs", "1", "--train-limit", "768", "--test-limit", "256", "--out-dir", "", "--threads", "1"]


def run(np, *args):
    command = ([mpiexec, npflag, str(np), *preflags] if np else []) + [exe, *common, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f"FAIL: {' '.join(command)} exited with {done.returncode}\n{output}")
    found = re.findall(r"^model checksum: ([0-9a-f]{16})$", done.stdout, re.M)
    if len(found) != 1:
        sys.exit(f"FAIL: {' '.join(command)} printed {len(found)} checksum lines (rank 0 alone prints one)\n{output}")
    print(f"{found[0]}  np {np}  {' '.join(args)}")
    return found[0]


failures = []
if run(1, "--distributed") != run(0):
    failures.append("one process with --distributed differs from the plain run")
det = [run(np, "--distributed", "--deterministic") for np in (1, 2)]
if len(set(det)) != 1:
    failures.append(f"--deterministic differs between 1 and 2 processes: {det}")
if failures:
    sys.exit("FAIL: " + "; ".join(failures))
