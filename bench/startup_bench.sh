#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# startup_bench.sh: start-up and memory (issue 11 item 2), interleaved run by run
# (bench/interleave.py, BL_BENCH_RUNS runs, default 7): CPU and wall time of a start-up
# (`batlink dump` of an empty log) next to /bin/true; `batlink dump` of a 10,000-frame log next
# to can-utils log2long; peak RSS of dump, diagnose and a monitor with mqtt:// and HTTP on (a
# local mosquitto; the monitor runs 2 s of the simulated battery), also per configuration (no
# outputs, MQTT only, HTTP only) next to mosquitto_sub on the same broker. Required: start-up CPU <= 2x
# /bin/true, dump 10k not slower than log2long, dump/diagnose peak RSS < 3 MiB, monitor with MQTT
# + HTTP < 5 MiB (goal 4 MiB). BL_BENCH_BASE=path/to/an/older/batlink adds it to the same runs.
# BL_BENCH_JSON=FILE writes the figures (bench/run_all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BL_BENCH_RUNS:-7}
py=/usr/bin/python3
command -v log2long >/dev/null || { echo "startup_bench: log2long (can-utils) missing" >&2; exit 2; }
command -v mosquitto >/dev/null || { echo "startup_bench: mosquitto missing" >&2; exit 2; }

echo "== Release build (build-bench)"
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBL_TESTS=OFF >/dev/null
cmake --build build-bench -j2 --target batlink >/dev/null
batlink=$PWD/build-bench/batlink

tmp=$(mktemp -d)
mpid=
cleanup() {
    [[ -n $mpid ]] && kill "$mpid" 2>/dev/null && wait "$mpid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
log=$tmp/10k.log
"$py" bench/gen_pylontech_log.py 10000 "$log" >/dev/null
: >"$tmp/empty.log"

# a broker on a free port; ready when it accepts a connection (no fixed sleep)
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mosquitto -p "$port" >"$tmp/mosquitto.log" 2>&1 &
mpid=$!
"$py" - "$port" <<'PY'
import socket, sys, time
end = time.monotonic() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        break
    except OSError:
        if time.monotonic() > end:
            sys.exit("startup_bench: mosquitto did not start")
        time.sleep(0.02)
PY
mon="monitor --duration 2 --mqtt mqtt://127.0.0.1:$port --http 127.0.0.1:0 sim:"
# the monitor's peak RSS per configuration (no outputs, MQTT only, HTTP only, both), and
# mosquitto_sub (libmosquitto + OpenSSL, like batlink's MQTT output) subscribed for the same 2 s
mon_none="monitor --duration 2 sim:"
mon_mqtt="monitor --duration 2 --mqtt mqtt://127.0.0.1:$port sim:"
mon_http="monitor --duration 2 --http 127.0.0.1:0 sim:"
msub="mosquitto_sub -h 127.0.0.1 -p $port -t # -W 2"

tools=("/bin/true=/bin/true" "batlink start-up=$batlink dump $tmp/empty.log"
    "batlink dump 10k=$batlink dump $log" "log2long 10k=log2long <$log"
    "batlink diagnose 10k=$batlink diagnose $log" "batlink monitor mqtt+http=$batlink $mon"
    "batlink monitor none=$batlink $mon_none" "batlink monitor mqtt=$batlink $mon_mqtt"
    "batlink monitor http=$batlink $mon_http" "mosquitto_sub=$msub")
if [[ -n ${BL_BENCH_BASE:-} ]]; then
    tools+=("base start-up=$BL_BENCH_BASE dump $tmp/empty.log" "base dump 10k=$BL_BENCH_BASE dump $log"
        "base diagnose 10k=$BL_BENCH_BASE diagnose $log" "base monitor mqtt+http=$BL_BENCH_BASE $mon"
        "base monitor none=$BL_BENCH_BASE $mon_none" "base monitor mqtt=$BL_BENCH_BASE $mon_mqtt"
        "base monitor http=$BL_BENCH_BASE $mon_http")
fi
echo "== $runs runs of each, interleaved; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
# diagnose exits 1 when it has findings: interleave.py accepts any exit status with -k
"$py" bench/interleave.py -k -n "$runs" --json "$tmp/res.json" "${tools[@]}"

"$py" - "$tmp/res.json" "${BL_BENCH_JSON:-}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t, s = r["/bin/true"], r["batlink start-up"]
d, l = r["batlink dump 10k"], r["log2long 10k"]
rss = lambda k: r[k]["rss_kib_max"]
checks = [
    ("start-up CPU %.2f ms = %.2fx /bin/true (%.2f ms)" % (s["cpu"] * 1e3, s["cpu"] / t["cpu"], t["cpu"] * 1e3),
     s["cpu"] <= 2 * t["cpu"], "<= 2x"),
    ("dump 10k %.2f ms wall vs log2long %.2f ms: %.2fx" % (d["wall"] * 1e3, l["wall"] * 1e3, l["wall"] / d["wall"]),
     d["wall"] <= l["wall"], "not slower"),
    ("dump peak RSS %d KiB" % rss("batlink dump 10k"), rss("batlink dump 10k") < 3072, "< 3072 KiB"),
    ("diagnose peak RSS %d KiB" % rss("batlink diagnose 10k"), rss("batlink diagnose 10k") < 3072, "< 3072 KiB"),
    ("monitor mqtt+http peak RSS %d KiB" % rss("batlink monitor mqtt+http"),
     rss("batlink monitor mqtt+http") < 5120, "< 5120 KiB (goal 4096)"),
]
print("== results (medians; RSS = highest peak)")
for what, ok, bar in checks:
    print("   %-62s required %-22s %s" % (what, bar, "PASS" if ok else "FAIL"))
print("== peak RSS of the monitor per configuration (KiB, highest of the runs; 2 s of sim:)")
print("   %-22s %8s %8s %8s %8s   %s" % ("", "none", "mqtt", "http", "both", "peer (same runs)"))
for who in ("batlink", "base"):
    if who + " monitor none" not in r:
        continue
    print("   %-22s %8d %8d %8d %8d   %s" % (
        who if who == "batlink" else "base (" + "before)", rss(who + " monitor none"), rss(who + " monitor mqtt"),
        rss(who + " monitor http"), rss(who + " monitor mqtt+http"),
        "mosquitto_sub %d" % rss("mosquitto_sub") if who == "batlink" else ""))
if "base start-up" in r:
    b = r["base start-up"]
    print("   base: start-up CPU %.2f ms (%.2fx /bin/true), dump 10k %.2fx log2long, RSS dump %d, diagnose %d, monitor %d KiB"
          % (b["cpu"] * 1e3, b["cpu"] / t["cpu"], l["wall"] / r["base dump 10k"]["wall"], rss("base dump 10k"),
             rss("base diagnose 10k"), rss("base monitor mqtt+http")))
if sys.argv[2]:
    json.dump({"runs": r, "checks": [[w, o, b] for w, o, b in checks]}, open(sys.argv[2], "w"))
sys.exit(0 if all(o for _, o, _ in checks) else 1)
PY
