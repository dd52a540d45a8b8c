#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# interleave.py [-n RUNS] [--json FILE] NAME=CMD ... : run each CMD (a shell command line, stdout
# to /dev/null, stdin from /dev/null unless the command redirects it) RUNS times (default 5),
# interleaved run by run (a b c a b c ...), so a load change on the machine hits every tool alike.
# Per tool: median and spread (min..max) of wall time and of CPU time (user + system of the child,
# from wait4's rusage), and the peak RSS. Prints a table; --json writes the figures for scripts.
import argparse
import json
import os
import statistics
import sys
import time


def run(cmd):
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 0)
        os.dup2(fd, 1)
        os.execv("/bin/sh", ["/bin/sh", "-c", "exec " + cmd])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("interleave: exit %d: %s" % (os.waitstatus_to_exitcode(status), cmd))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args()
    tools = [t.split("=", 1) for t in a.tools]
    res = {name: {"wall": [], "cpu": [], "rss_kib": []} for name, _ in tools}
    for _ in range(a.n):
        for name, cmd in tools:
            w, c, r = run(cmd)
            res[name]["wall"].append(w)
            res[name]["cpu"].append(c)
            res[name]["rss_kib"].append(r)
    out = {}
    print("   %-24s %10s %18s %10s %18s %8s" % ("tool (%d runs)" % a.n, "wall med", "wall min..max",
                                                "CPU med", "CPU min..max", "RSS KiB"))
    for name, _ in tools:
        r = res[name]
        o = {k: statistics.median(v) for k, v in r.items()}
        o.update({k + "_min": min(v) for k, v in r.items()})
        o.update({k + "_max": max(v) for k, v in r.items()})
        out[name] = o
        print("   %-24s %9.4fs %8.4f..%-8.4f %9.4fs %8.4f..%-8.4f %8d" % (
            name, o["wall"], o["wall_min"], o["wall_max"], o["cpu"], o["cpu_min"], o["cpu_max"],
            o["rss_kib_max"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


main()
