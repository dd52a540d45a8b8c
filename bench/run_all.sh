#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run_all.sh: every benchmark in bench/, then one table of the figures with their peers (the
# README's Performance section reproduces it). Each benchmark interleaves its tools run by run and
# reports medians (spread in its own output, kept in the log directory). Takes about 15 minutes.
#   bench/run_all.sh              env: BL_BENCH_RUNS (5), BL_BENCH_BASE (an older batlink run side
#                                 by side where a benchmark supports it), BL_BRIDGE_SECONDS (60),
#                                 BL_BENCH_LOGS (directory for the full outputs; default a new one
#                                 under /tmp)
# Exit status: the number of benchmarks whose requirement failed.
#   bench/run_all.sh --table DIR  only print the table of an earlier run's DIR
set -uo pipefail
cd "$(dirname "$0")/.."
table_only=
if [[ ${1:-} == --table ]]; then
    table_only=1
    BL_BENCH_LOGS=${2:?run_all.sh --table DIR}
fi
logs=${BL_BENCH_LOGS:-$(mktemp -d /tmp/batlink-bench.XXXXXX)}
mkdir -p "$logs"
export BL_BENCH_RUNS=${BL_BENCH_RUNS:-5}
failed=0

step() { # name script args...: run one benchmark, its output to $logs/name.txt
    local name=$1
    shift
    echo "== $name: $*  (output: $logs/$name.txt)"
    if BL_BENCH_JSON=$logs/$name.json "$@" >"$logs/$name.txt" 2>&1; then
        echo "   passed"
    else
        echo "   FAILED or missed its requirement (exit $?); see $logs/$name.txt"
        failed=$((failed + 1))
    fi
}

if [[ -z $table_only ]]; then
echo "batlink benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), load $(cut -d' ' -f1-3 /proc/loadavg)"
step dump bash bench/dump_bench.sh
step startup bash bench/startup_bench.sh
step monitor bash bench/monitor_bench.sh
step canet bash bench/canet_bench.sh
step diagnose bash bench/diagnose_bench.sh 600
step bridge env DURATION="${BL_BRIDGE_SECONDS:-60}" bash bench/bridge_bench.sh
fi

python3 - "$logs" <<'PY'
import json, os, re, sys
logs = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(logs, name + ".json")))
    except (OSError, ValueError):
        return None
rows = []
def row(what, batlink, peer, bar, ok):
    rows.append((what, batlink, peer, bar, "-" if ok is None else ("PASS" if ok else "FAIL")))
d = load("dump")
if d:
    r, n = d["runs"], d["frames"]
    b, p, l = r["batlink"], r["python-can"], r["log2long"]
    row("dump --json, 1M-frame log (frames/s, wall)", "%.1f M" % (n / b["wall"] / 1e6),
        "python-can %.2f M, log2long %.1f M" % (n / p["wall"] / 1e6, n / l["wall"] / 1e6),
        ">= 100x / 2.5x: %.0fx / %.2fx" % (d["vs_python"], d["vs_log2long"]), d["ok"])
    row("dump --json, 1M-frame log (frames per CPU-s)", "%.1f M" % (n / b["cpu"] / 1e6),
        "python-can %.2f M, log2long %.1f M" % (n / p["cpu"] / 1e6, n / l["cpu"] / 1e6),
        "CPU time: %.0fx / %.2fx" % (p["cpu"] / b["cpu"], l["cpu"] / b["cpu"]), None)
    if "batlink (base)" in r:
        o = r["batlink (base)"]
        row("dump --json, before this change (base)", "%.1f M (%.1f M per CPU-s)" % (n / o["wall"] / 1e6, n / o["cpu"] / 1e6),
            "", "%.0fx / %.2fx wall" % (p["wall"] / o["wall"], l["wall"] / o["wall"]), None)
s = load("startup")
if s:
    r = s["runs"]
    t, st = r["/bin/true"], r["batlink start-up"]
    row("start-up CPU (dump of an empty log)", "%.2f ms" % (st["cpu"] * 1e3), "/bin/true %.2f ms" % (t["cpu"] * 1e3),
        "<= 2x: %.2fx" % (st["cpu"] / t["cpu"]), st["cpu"] <= 2 * t["cpu"])
    dk, lk = r["batlink dump 10k"], r["log2long 10k"]
    row("dump, 10,000-frame log (wall)", "%.2f ms" % (dk["wall"] * 1e3), "log2long %.2f ms" % (lk["wall"] * 1e3),
        "not slower: %.2fx" % (lk["wall"] / dk["wall"]), dk["wall"] <= lk["wall"])
    row("peak RSS dump / diagnose", "%d / %d KiB" % (r["batlink dump 10k"]["rss_kib_max"], r["batlink diagnose 10k"]["rss_kib_max"]),
        "log2long %d KiB" % lk["rss_kib_max"], "< 3072 KiB",
        max(r["batlink dump 10k"]["rss_kib_max"], r["batlink diagnose 10k"]["rss_kib_max"]) < 3072)
    m = r["batlink monitor mqtt+http"]["rss_kib_max"]
    per = ", ".join("%s %d" % (c, r["batlink monitor " + c]["rss_kib_max"]) for c in ("none", "mqtt", "http")
                    if "batlink monitor " + c in r)
    row("peak RSS monitor, mqtt:// + HTTP", "%d KiB" % m + (" (%s)" % per if per else ""),
        "mosquitto_sub %d KiB" % r["mosquitto_sub"]["rss_kib_max"] if "mosquitto_sub" in r else "",
        "< 5120 KiB (goal 4096)", m < 5120)
    if "base start-up" in r:
        row("  start-up / RSS dump, diagnose, monitor, before this change (base)",
            "%.2f ms / %d, %d, %d KiB" % (r["base start-up"]["cpu"] * 1e3, r["base dump 10k"]["rss_kib_max"],
                                          r["base diagnose 10k"]["rss_kib_max"], r["base monitor mqtt+http"]["rss_kib_max"]),
            "", "", None)
mo = load("monitor")
if mo:
    k = "canet-1/wakeup batlink"
    peer = mo.get("canet-1/wakeup socat (peer)", {}).get("cpu_pct")
    row("monitor MQTT+HTTP, 4,000 frames/s, 1 frame/wake-up", "%.2f %% of a core" % mo[k]["cpu_pct"],
        "socat %.2f %%" % peer if peer is not None else "", "< 1 % (goal 0.5 %)", mo[k]["cpu_pct"] < 1)
    k = "canet-1/wakeup batlink (base)"
    if k in mo:
        row("  same, before this change (base)", "%.2f %% of a core" % mo[k]["cpu_pct"], "", "", None)
    k = "candump-paced batlink"
    if k in mo:
        row("monitor MQTT+HTTP, paced candump replay 4,167 frames/s", "%.2f %% of a core" % mo[k]["cpu_pct"], "", "", None)
c = load("canet")
if c:
    u = c["us_per_frame"]
    row("CANET full rate, CPU per frame", "transport %.3f us, dump --json %.3f us" % (u["transport"], u["dump"]),
        "Python recv %.3f us" % u["python"], "", None)
    row("CANET 4,000 frames/s in 10 ms packets, dump --json", "%.3f %% of a core" % c["paced_cpu_pct"], "", "< 1 %",
        c["paced_cpu_pct"] < 1)
g = load("diagnose")
if g:
    r = g["runs"]
    peer = r.get("python-can short (peer)")
    row("diagnose, 600 s full-load capture (frames/s)", "%.1f M" % (g["frames_long"] / r["diagnose long"]["wall"] / 1e6),
        "python-can %.2f M" % (g["frames_short"] / peer["wall"] / 1e6) if peer else "",
        "RSS growth <= 1024 KiB: %d" % g["rss_growth_kib"], g["rss_growth_kib"] <= 1024)
try:
    txt = open(os.path.join(logs, "bridge.txt")).read()
    b = re.search(r"bridge period jitter \(ms\)\s+(\S+)\s+(\S+)", txt)
    p = re.search(r"peer \(python\) period jitter \(ms\)\s+(\S+)\s+(\S+)", txt)
    if b:
        row("bridge TX period error (from 1 s), p99", "%s ms" % b.group(2), "Python sender %s ms" % p.group(2) if p else "",
            "< 2 ms", float(b.group(2)) < 2)
except OSError:
    pass
w = [max(len(x[i]) for x in rows + [("what", "batlink", "peer (same run)", "bar", "")]) for i in range(5)]
line = lambda x: "| " + " | ".join(v.ljust(w[i]) for i, v in enumerate(x)) + " |"
print()
print(line(("what", "batlink", "peer (same run)", "bar", "")))
print("|" + "|".join("-" * (n + 2) for n in w) + "|")
for x in rows:
    print(line(x))
PY
echo
echo "full outputs: $logs"
exit "$failed"
