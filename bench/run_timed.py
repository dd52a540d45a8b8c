#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# run_timed.py CMD [ARGS...]: run CMD with stdout to /dev/null (stdin from $BL_STDIN if set) and
# print "WALL_S CPU_S" with microsecond resolution (wall clock; user + system time of the child).
import os
import resource
import subprocess
import sys
import time

stdin = open(os.environ["BL_STDIN"], "rb") if os.environ.get("BL_STDIN") else None
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
rc = subprocess.call(sys.argv[1:], stdin=stdin, stdout=subprocess.DEVNULL)
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
print("%.6f %.6f" % (wall, cpu))
sys.exit(rc)
