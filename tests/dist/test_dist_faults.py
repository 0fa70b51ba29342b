#!/usr/bin/env python3
"""A rank that fails must end the whole MPI job promptly, not leave the others hanging in a
collective. Runs dist_faults (rank 1 fails at its 4th step while rank 0 waits for it in an
all-reduce) under mpiexec and checks that the job ends within the time limit with a non-zero
status and, for an exception, with rank 1's message.

usage: test_dist_faults.py MODE LIMIT_SECONDS MPIEXEC ARGS... (the mpiexec command line; the
mode is appended to it)"""
import subprocess
import sys
import time

mode, limit, command = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
start = time.monotonic()
try:
    run = subprocess.run(command + [mode], capture_output=True, text=True, timeout=limit)
except subprocess.TimeoutExpired as e:
    sys.exit(f"FAIL {mode}: the job still runs after {limit:.0f} s (a hang)\n{e.stdout or ''}{e.stderr or ''}")
elapsed = time.monotonic() - start
output = run.stdout + run.stderr
print(f"{mode}: the job ended in {elapsed:.2f} s with status {run.returncode}")
failures = []
if run.returncode == 0:
    failures.append("status 0: the job reported success")
if mode != "sigkill" and "boom on rank 1 at step 3" not in output:
    failures.append("rank 1's message is not in the output")
if mode == "abort" and "tapegrad: rank 1 of 2: boom on rank 1 at step 3" not in output:
    failures.append("env.abort() did not print 'tapegrad: rank 1 of 2: <message>'")
if failures:
    sys.exit(f"FAIL {mode}: " + "; ".join(failures) + "\n--- output ---\n" + output)
print(output)
