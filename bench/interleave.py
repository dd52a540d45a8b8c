#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# interleave.py [-n RUNS] [-k] [--json FILE] NAME=CMD ... : run each CMD (words split as by the shell;
# a word "<FILE" is stdin, else /dev/null; stdout to /dev/null) RUNS times (default 5),
# interleaved run by run (a b c a b c ...), so a load change on the machine hits every tool alike.
# Per tool: median and spread (min..max) of wall time and of CPU time (user + system of the child,
# from wait4's rusage), and the peak RSS. Prints a table; --json writes the figures for scripts.
# Each run goes through bench/runstat.c (built static on first use), so the peak RSS is the
# command's own and not that of a forked Python.
import argparse
import json
import os
import shlex
import subprocess
import statistics
import sys


HERE = os.path.dirname(os.path.abspath(__file__))
RUNSTAT = os.path.join(HERE, "..", "build-bench", "runstat")
KEEP_GOING = False


def runstat():
    src = os.path.join(HERE, "runstat.c")
    if not os.path.exists(RUNSTAT) or os.path.getmtime(RUNSTAT) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(RUNSTAT), exist_ok=True)
        subprocess.check_call(["cc", "-O2", "-static", "-o", RUNSTAT, src])


def run(cmd):
    words = shlex.split(cmd)
    env = dict(os.environ)
    env.pop("BL_STDIN", None)
    for w in [w for w in words if w.startswith("<")]:
        env["BL_STDIN"] = w[1:]
        words.remove(w)
    p = subprocess.run([RUNSTAT] + words, env=env, stdout=subprocess.PIPE, text=True)
    if p.returncode != 0 and not KEEP_GOING:
        sys.exit("interleave: exit %d: %s" % (p.returncode, cmd))
    wall, cpu, rss = p.stdout.split()
    return float(wall), float(cpu), int(rss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("-k", action="store_true", help="a non-zero exit status is not an error")
    ap.add_argument("tools", nargs="+")
    a = ap.parse_args()
    global KEEP_GOING
    KEEP_GOING = a.k
    runstat()
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
