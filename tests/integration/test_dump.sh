#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_dump.sh: `batlink dump` end to end on the shipped captures (data/, setfirelabs US5000 V1.2
# and V1.3; tests/data seplos log): text and JSON lines, unknown ids, short frames, error frames,
# bad lines (FILE:LINE on stderr, rest decoded, exit 1), stdin, --duration, signals, usage errors,
# and pasted output of plain `candump` (console format, -ta/-tA/-tz/-x/-a) read like its -L log.
set -uo pipefail

: "${BATLINK:?}" "${BL_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}
expect_rc() { # expected, actual, what
    [[ $1 == "$2" ]] || fail "$3: exit $2, expected $1"
}
has() { # file, fixed string
    grep -qF -- "$2" "$1" || fail "$1 lacks: $2"
}

v12=$BL_SOURCE_DIR/data/pylontech_us5000_v1.2.log
v13=$BL_SOURCE_DIR/data/pylontech_us5000_v1.3.log
seplos=$BL_SOURCE_DIR/tests/data/seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.log

# --- text, values worked out by hand in tests/data/pylontech_us5000_v1.2_vs_v1.3__setfirelabs.txt
"$BATLINK" dump "$v12" >"$work/v12.txt" 2>"$work/err"
expect_rc 0 $? "dump v1.2"
[[ $(wc -l <"$work/v12.txt") == 6 ]] || fail "v1.2: expected 6 lines"
# --profile auto (the default) says on stderr what it recognised and why, and nothing else
grep -q '^batlink: dump: profile pylontech (pylontech: .*required 0x351 0x355 0x356' "$work/err" ||
    fail "v1.2: recognition not reported: $(cat "$work/err")"
[[ $(wc -l <"$work/err") == 1 ]] || fail "v1.2: unexpected stderr: $(cat "$work/err")"
has "$work/v12.txt" "1700000000.000000  351  [8]  14 02 C0 12 C0 12 C2 01  limits: charge_voltage_limit_v=53.2 V, charge_current_limit_a=480 A, discharge_current_limit_a=480 A, discharge_voltage_limit_v=45 V"
has "$work/v12.txt" "soc_soh: soc_pct=88 %, soh_pct=94 %"
has "$work/v12.txt" "measurements: voltage_v=49.86 V, current_a=-27 A, temperature_c=36.3 degC"
has "$work/v12.txt" "protection_alarms: alarms=[], warnings=[], module_count=6"
has "$work/v12.txt" "requests: full_charge_request=0, force_charge_2=0, force_charge_1=0, discharge_enable=1, charge_enable=1"
has "$work/v12.txt" 'manufacturer: manufacturer="PYLON"'

"$BATLINK" dump --profile auto "$v13" >"$work/v13.txt"
expect_rc 0 $? "dump v1.3"
has "$work/v13.txt" "soc_soh: soc_pct=84 %, soh_pct=96 %, soc_hires_pct=0 %"
has "$work/v13.txt" "current_a=-27.9 A"
has "$work/v13.txt" "sma_alarms: alarms=[], warnings=[]"
has "$work/v13.txt" "info_capacity_ah=572 Ah"

# --- JSON: every line parses, the design.md section 5 keys, values as numbers
"$BATLINK" dump --json "$v12" "$v13" >/dev/null 2>&1
expect_rc 2 $? "two sources"
# decoded with the Pylontech table on purpose (what a Victron-set battery looks like to it)
"$BATLINK" dump --profile pylontech --json "$seplos" >"$work/seplos.json"
expect_rc 0 $? "dump --json seplos"
python3 - "$work/seplos.json" <<'EOF' || fail "seplos JSON content"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 28, len(lines)
for o in lines:
    assert list(o)[:7] == ["ts", "id", "ext", "dlc", "data", "message", "signals"], list(o)
by = {}
for o in lines:
    by.setdefault(o["id"], o)
assert by["0x356"]["signals"] == {"voltage_v": 52.01, "current_a": -32.6, "temperature_c": 23.4}, by["0x356"]
assert by["0x355"]["signals"]["soc_hires_pct"] == 59, by["0x355"]
assert by["0x35A"]["signals"] == {"alarms": [], "warnings": []}
assert by["0x35E"]["signals"] == {"manufacturer": "SHEnergy"}
assert by["0x379"]["signals"] == {"capacity_ah": 304}
assert by["0x305"]["message"] == "inverter_heartbeat" and by["0x305"]["signals"] == {}
# Victron-only ids are not Pylontech messages: raw, message null
for vid in ("0x370", "0x373", "0x307"):
    assert by[vid]["message"] is None and by[vid]["signals"] == {}, by[vid]
assert by["0x370"]["data"] == "43414e2d534d4152" and by["0x370"]["dlc"] == 8
assert abs(by["0x351"]["ts"] - 1679500811.0) < 1e-6
EOF

# --profile auto recognises the Seplos (Victron set) capture once the victron table exists
if "$BATLINK" dbc --list | grep -q '^victron'; then
    "$BATLINK" dump "$seplos" >/dev/null 2>"$work/seplos-auto.err"
    grep -q '^batlink: dump: profile victron (.*inverter victron-gx-0x307' "$work/seplos-auto.err" ||
        fail "seplos under auto: $(cat "$work/seplos-auto.err")"
fi

# --- short frame, error frame, RTR, extended id, bad lines (FILE:LINE on stderr, exit 1)
cat >"$work/mixed.log" <<'EOF'
(10.000000) can0 356#7A13F2
(10.000001) can0 20000004#0004000000000000
(10.000002) can0 351#R
this is not a candump line
(10.000003) can0 1ABCDEF0#01
(10.000004) can0 355#5800
(10.000005) can0 355#58005E00
EOF
"$BATLINK" dump --profile pylontech --json "$work/mixed.log" >"$work/mixed.json" 2>"$work/mixed.err"
expect_rc 1 $? "log with a bad line"
grep -q "mixed.log:4: " "$work/mixed.err" || fail "bad line not reported as FILE:LINE: $(cat "$work/mixed.err")"
python3 - "$work/mixed.json" <<'EOF' || fail "mixed JSON content"
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
assert len(o) == 6, len(o)
assert o[0]["message"] == "measurements" and o[0]["signals"] == {} and o[0]["note"] == "short frame: 3 of 6 bytes", o[0]
assert o[1]["message"] == "error_frame" and o[1]["error"] is True, o[1]
assert o[1]["signals"] == {"error_classes": ["controller"], "controller": ["rx_warning"]}, o[1]
assert o[2]["message"] is None and o[2].get("rtr") is True, o[2]
assert o[3]["id"] == "0x1ABCDEF0" and o[3]["ext"] is True and o[3]["message"] is None, o[3]
assert o[4]["note"] == "short frame: 2 of 4 bytes", o[4]
assert o[5]["signals"] == {"soc_pct": 88, "soh_pct": 94}, o[5]
EOF
"$BATLINK" dump --profile pylontech "$work/mixed.log" >"$work/mixed.txt" 2>/dev/null
has "$work/mixed.txt" "measurements  (short frame: 3 of 6 bytes)"
has "$work/mixed.txt" "ERROR FRAME classes=[controller] controller=[rx_warning]"
# the same fragment under --profile auto: no profile is sure of it, so every frame stays raw and
# stderr says "unknown" (never forced into a profile)
"$BATLINK" dump --json "$work/mixed.log" >"$work/mixed-auto.json" 2>"$work/mixed-auto.err"
grep -q "^batlink: dump: profile unknown (" "$work/mixed-auto.err" ||
    fail "auto on a fragment: $(cat "$work/mixed-auto.err")"
python3 - "$work/mixed-auto.json" <<'EOF' || fail "auto on a fragment must print raw frames"
import json, sys
o = [json.loads(l) for l in open(sys.argv[1])]
assert len(o) == 6, len(o)
assert all(x["message"] in (None, "error_frame") for x in o), o
EOF

# --- stdin, --stats
"$BATLINK" dump --stats - <"$v12" >"$work/stdin.txt" 2>"$work/stats.err"
expect_rc 0 $? "dump - (stdin)"
cmp -s "$work/stdin.txt" "$work/v12.txt" || fail "stdin output differs from file output"
grep -q "frames 6" "$work/stats.err" || fail "--stats: $(cat "$work/stats.err")"

# --- live-like source: stdin that stays open ends with --duration (exit 0) or a signal (exit 0)
mkfifo "$work/fifo"
(cat "$v12"; exec sleep 120) >"$work/fifo" &
feeder=$!
start=$(date +%s%N)
"$BATLINK" dump --duration 0.5 - <"$work/fifo" >"$work/dur.txt"
expect_rc 0 $? "--duration"
ms=$((($(date +%s%N) - start) / 1000000))
kill $feeder 2>/dev/null
wait $feeder 2>/dev/null
# --duration ends the run long before the feeder's 120 s (no tighter bound: a loaded machine is slow)
((ms >= 450 && ms < 60000)) || fail "--duration 0.5 took $ms ms"
[[ $(wc -l <"$work/dur.txt") == 6 ]] || fail "--duration: frames before the stop not printed"
# signal_ready PID SIG: wait (at most 30 s) until PID blocks or catches SIG, i.e. its clean stop
# is in place; a signal sent before that kills it with the default action. Only once PID runs
# batlink: before the exec it is a copy of this shell, which blocks signals around its own work
# and would die of SIG running this script's EXIT trap (rm -rf "$work") -- seen under load.
signal_ready() {
    local bit=$(($(kill -l "$2") - 1)) m exe
    exe=$(readlink -f "$BATLINK")
    for _ in $(seq 300); do
        [[ $(readlink "/proc/$1/exe" 2>/dev/null) == "$exe" ]] &&
            for m in $(awk '/^Sig(Blk|Cgt):/ { print $2 }' "/proc/$1/status" 2>/dev/null); do
                (((0x$m >> bit) & 1)) && return 0
            done
        sleep 0.1
    done
    return 1
}
for sig in INT TERM; do
    (exec sleep 120) >"$work/fifo" &
    feeder=$!
    "$BATLINK" dump - <"$work/fifo" >/dev/null &
    pid=$!
    signal_ready $pid $sig || fail "SIG$sig: dump never blocked or caught it"
    kill -s $sig $pid
    wait $pid
    expect_rc 0 $? "SIG$sig"
    kill $feeder 2>/dev/null
    wait $feeder 2>/dev/null
done

# --- the console format of plain `candump` (what users paste in forum posts), line by line:
# 1. the published seplos paste (tests/data .txt, `candump can8`) decodes like its -L log
seplos_txt=${seplos%.log}.txt
grep -E '^  can8 ' "$seplos_txt" >"$work/paste.txt"
"$BATLINK" dump --json - <"$work/paste.txt" >"$work/paste.json" 2>"$work/e"
expect_rc 0 $? "dump of a plain candump paste: $(head -2 "$work/e")"
"$BATLINK" dump --json "$seplos" >"$work/seplos.json"
python3 - "$work/paste.json" "$work/seplos.json" <<'EOF2' || fail "plain candump paste decodes differently from its -L log"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) > 20, (len(a), len(b))
for x, y in zip(a, b):
    x.pop("ts"); y.pop("ts")
    assert x == y, (x, y)
EOF2
# 2. -ta, -tA (local date, read as UTC) and -x/-a variants of the v1.2 capture print exactly what
#    the -L log prints; -tz keeps the offsets from the first frame
python3 - "$v12" "$work" <<'EOF2'
import re, sys, time
lines = [l for l in open(sys.argv[1]) if l.strip()]
out = {k: open(f"{sys.argv[2]}/{k}.txt", "w") for k in ("ta", "tA", "tz", "xa")}
t0 = None
for l in lines:
    ts, iface, frame = re.match(r"\((\d+\.\d+)\) (\S+) (\S+)", l).groups()
    cid, data = frame.split("#")
    b = [data[i:i + 2] for i in range(0, len(data), 2)]
    body = f"{cid:<3}   [{len(b)}]  " + " ".join(b)
    sec, us = ts.split(".")
    t0 = t0 if t0 is not None else float(ts)
    out["ta"].write(f" ({ts})  {iface}  {body}\n")
    date = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(sec)))
    out["tA"].write(f" ({date}.{us})  {iface}  {body}\n")
    d = round((float(ts) - t0) * 1e6)
    out["tz"].write(f" ({d // 1000000:03d}.{d % 1000000:06d})  {iface}  {body}\n")
    asc = "".join(chr(int(x, 16)) if 0x20 <= int(x, 16) < 0x7F else "." for x in b)
    out["xa"].write(f" ({ts})  {iface}  RX - -  {body}" + " " * (3 * (8 - len(b)) + 3) + f"'{asc}'\n")
EOF2
"$BATLINK" dump "$v12" >"$work/v12L.txt"
for v in ta tA xa; do
    "$BATLINK" dump - <"$work/$v.txt" >"$work/v12$v.txt" 2>"$work/e"
    expect_rc 0 $? "dump of candump -$v output: $(head -2 "$work/e")"
    cmp -s "$work/v12L.txt" "$work/v12$v.txt" || fail "candump -$v output decodes differently: $(diff "$work/v12L.txt" "$work/v12$v.txt" | head -4)"
done
"$BATLINK" dump - <"$work/tz.txt" >"$work/v12tz.txt"
has "$work/v12tz.txt" "0.000000  351  [8]  14 02 C0 12 C0 12 C2 01  limits:"
# 3. a line that is neither format names both
printf '(1700000000.000000) can0 351#1402C012C012C201\nthis is not a frame\n' >"$work/bad.txt"
"$BATLINK" dump - <"$work/bad.txt" >/dev/null 2>"$work/e"
grep -q "2: expected '(' starting the timestamp (candump -L) or IFACE ID \[len\] DATA (candump)" "$work/e" || fail "not-a-frame message: $(cat "$work/e")"

# --- usage errors exit 2, runtime errors 1
"$BATLINK" dump >/dev/null 2>&1
expect_rc 2 $? "dump without SOURCE"
"$BATLINK" dump --bogus "$v12" >/dev/null 2>&1
expect_rc 2 $? "unknown option"
"$BATLINK" dump --duration 5x "$v12" >/dev/null 2>"$work/e"
expect_rc 2 $? "--duration 5x"
grep -q -- '--duration: "5x" is not a number' "$work/e" || fail "--duration message: $(cat "$work/e")"
"$BATLINK" dump --profile nosuch "$v12" >/dev/null 2>"$work/e"
expect_rc 2 $? "unknown profile"
grep -qF 'unknown profile "nosuch" (known: pylontech (pylon, ' "$work/e" ||
    fail "unknown profile must list the known ones and their aliases: $(cat "$work/e")"
"$BATLINK" dump --profile >/dev/null 2>&1
expect_rc 2 $? "--profile without value"
"$BATLINK" dump candump:"$work/does-not-exist.log" >/dev/null 2>"$work/e"
expect_rc 1 $? "missing file"
grep -q "does-not-exist.log" "$work/e" || fail "missing file message: $(cat "$work/e")"
"$BATLINK" dump --help >"$work/help"
expect_rc 0 $? "--help"
has "$work/help" "examples:"
has "$work/help" "batlink dump --json"

if ((fails > 0)); then
    echo "$fails failure(s)"
    exit 1
fi
echo "ok (--duration run took ${ms} ms)"
