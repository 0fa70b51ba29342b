#!/usr/bin/env python3
"""examples/fashion_mnist with --distributed, as a user runs it, compared by its last line
`model checksum: <16 hex digits>`:
  - one MPI process with --distributed reaches the plain run's bits (same thread count);
  - --deterministic reaches the same bits on 1 (two threads), 2 and 4 processes (one thread each);
  - a 2-process run stopped after epoch 1 and resumed from its checkpoint reaches the bits of the
    run that was not stopped.
usage: test_dist_example.py FASHION_MNIST WORKDIR MPIEXEC NUMPROC_FLAG [PREFLAGS...]"""
import os
import re
import subprocess
import sys

exe, workdir, mpiexec, npflag, preflags = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
os.makedirs(workdir, exist_ok=True)
common = ["--train-subset", "3000", "--test-subset", "1000", "--out-dir", ""]


def run(np, *args):
    command = ([mpiexec, npflag, str(np), *preflags] if np else []) + [exe, *common, *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        sys.exit(f"FAIL: {' '.join(command)} exited with {done.returncode}\n{output}")
    found = re.findall(r"^model checksum: ([0-9a-f]{16})$", done.stdout, re.M)
    if len(found) != 1:
        sys.exit(f"FAIL: {' '.join(command)} printed {len(found)} checksum lines (rank 0 alone prints one)\n{output}")
    print(f"{found[0]}  {' '.join(command[len(command) - len(args) - len(common) - 1:])}"
          f"{'  (np ' + str(np) + ')' if np else ''}")
    return found[0]


failures = []
plain = run(0, "--epochs", "1", "--threads", "1")
if run(1, "--epochs", "1", "--threads", "1", "--distributed") != plain:
    failures.append("one process with --distributed differs from the plain run")

det = [run(1, "--epochs", "1", "--threads", "2", "--distributed", "--deterministic")]
det += [run(np, "--epochs", "1", "--threads", "1", "--distributed", "--deterministic") for np in (2, 4)]
if len(set(det)) != 1:
    failures.append(f"--deterministic differs between 1, 2 and 4 processes: {det}")

ckpt = os.path.join(workdir, "fashion_mnist_resume.npz")
if os.path.exists(ckpt):
    os.remove(ckpt)
straight = run(2, "--epochs", "2", "--threads", "1", "--distributed")
run(2, "--epochs", "1", "--threads", "1", "--distributed", "--checkpoint", ckpt)
# --epochs 2 so that the cosine schedule is the same as the straight run's.
resumed_first = run(2, "--epochs", "2", "--threads", "1", "--distributed", "--checkpoint", ckpt, "--resume", ckpt)
if resumed_first != straight:
    failures.append("the resumed run differs from the run that was not stopped")
if failures:
    sys.exit("FAIL: " + "; ".join(failures))
