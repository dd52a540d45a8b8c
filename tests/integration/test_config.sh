#!/bin/bash
# SPDX-License-Identifier: MIT
# test_config.sh: the configuration file as the processes read it (issue 9 item 3): a line
# longer than the reader takes, a key set twice, hex or exponent numbers and bad source URIs
# stop `bridge` and `monitor` with exit 2 and a message naming FILE:LINE; flags override the
# file; `diagnose --config` reads [diagnose].
set -u
B=${BATLINK:?BATLINK not set}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
FAILS=0
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
ok() { echo "ok: $*"; }

# expect RC WANT CMD...: exit status RC and WANT (a fixed string) on stderr
expect() {
    local rc=$1 want=$2
    shift 2
    timeout 20 "$B" "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" -ne "$rc" ] || { [ -n "$want" ] && ! grep -qF -- "$want" "$T/err"; }; then
        fail "$* -> exit $got (want $rc), stderr: $(head -c 400 "$T/err") (want: $want)"
    else
        ok "$1 $(basename "${@: -1}"): exit $rc, '$want'"
    fi
}
BRIDGE=(bridge --bms jk:/dev/null --can canet:127.0.0.1:1 --no-realtime --duration 1)

# --- 1. the reported file: a comment whose tail (past byte 199) reads as a key --------------
F="$T/long.ini"
printf '[limits]\nmax_charge_current = 50\n# %s max_charge_current = 500\n' \
    "$(printf 'x%.0s' $(seq 196))" >"$F"
[ "$(sed -n 3p "$F" | cut -c200-)" = "max_charge_current = 500" ] || fail "test file layout"
expect 2 "$F:3: line longer than 198 characters" "${BRIDGE[@]}" --config "$F"
expect 2 "$F:3: line longer than 198 characters" monitor --duration 1 --config "$F" sim:

# --- 2. a key set twice in a section -----------------------------------------------------------
F="$T/dup.ini"
printf '[limits]\nmax_charge_current = 50\n[bridge]\n[limits]\nmax_charge_current = 90\n' >"$F"
expect 2 "$F:5: max_charge_current: already set on line 2" "${BRIDGE[@]}" --config "$F"
expect 2 "$F:5: max_charge_current: already set on line 2" monitor --duration 1 --config "$F" sim:

# --- 3. numbers are decimal (config, controller keys, flags) ----------------------------------
F="$T/hex.ini"
printf '[limits]\n\nmax_charge_current = 0x10\n' >"$F"
expect 2 "$F:3: max_charge_current: " "${BRIDGE[@]}" --config "$F"
printf '[limits]\ncell_ovp = 0x1.d3p1\n' >"$F"
expect 2 "$F:2: cell_ovp: " "${BRIDGE[@]}" --config "$F"
printf '[bridge]\nperiod = 1e0\n' >"$F"
expect 2 "$F:2: period: " "${BRIDGE[@]}" --config "$F"
expect 2 '--duration: "0x10" is not a number' monitor --duration 0x10 sim:

# --- 4. source URIs from the file name FILE:LINE; a flag or SOURCE overrides the file ---------
F="$T/uri.ini"
printf '[source]\n# the converter\nuri = canet:host:99999\n' >"$F"
expect 2 "$F:3: uri: canet:host:99999: expected canet:HOST[:PORT]" monitor --duration 1 \
    --config "$F"
expect 0 "" monitor --duration 0.5 --config "$F" sim:
expect 2 "batlink: canet:host:99999: expected" monitor --duration 1 canet:host:99999
F="$T/bridge_uri.ini"
printf '[bridge]\nbms = jk:/dev/null?baud=7\ncan = canet:127.0.0.1:1\n' >"$F"
expect 2 "$F:2: bms: jk: baud" bridge --no-realtime --duration 1 --config "$F"
printf '[bridge]\nbms = jk:/dev/null\n\ncan = bogus:1\n' >"$F"
expect 2 "$F:4: can: unknown source scheme \"bogus\"" bridge --no-realtime --duration 1 \
    --config "$F"

# the MQTT and HTTP addresses from the file too
printf '[mqtt]\n\nurl = mqtt://127.0.0.1:99999\n' >"$F"
expect 2 "$F:3: url: mqtt URL" monitor --duration 1 --config "$F" sim:
printf '[http]\nlisten = 127.0.0.1:99999\n' >"$F"
expect 2 "$F:2: listen: " monitor --duration 1 --config "$F" sim:

# numbers in URI parameters are decimal digits too
expect 2 'jk: baud: "+115200" is not a number' bridge --no-realtime --duration 1 \
    --bms 'jk:/dev/null?baud=+115200' --can canet:127.0.0.1:1
expect 2 'jk: baud: " 115200" is not a number' bridge --no-realtime --duration 1 \
    --bms 'jk:/dev/null?baud= 115200' --can canet:127.0.0.1:1

# --- 5. diagnose --config: [diagnose] format and duration, [source] uri; flags override ------
D=${BL_TEST_DATA:?BL_TEST_DATA not set}
CAP="$D/pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log"
F="$T/diag.ini"
printf '[source]\nuri = candump:%s\n[diagnose]\nformat = json\nduration = 1\n' "$CAP" >"$F"
timeout 20 "$B" diagnose --config "$F" >"$T/d.json" 2>"$T/d.err"
rc=$?
if [ $rc -le 1 ] && python3 -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["verdict"] in ("ok", "warn", "fail") and o["frames"] > 0, o' "$T/d.json" 2>/dev/null; then
    ok "diagnose --config: json from [diagnose] format, SOURCE from [source] uri"
else
    fail "diagnose --config json (exit $rc): $(head -c 300 "$T/d.json") $(cat "$T/d.err")"
fi
timeout 20 "$B" diagnose --config "$F" --markdown >"$T/d.md" 2>"$T/d.err"
grep -q '^#' "$T/d.md" && ! grep -q '^{' "$T/d.md" && ok "diagnose: --markdown overrides format = json" ||
    fail "diagnose --markdown over the config: $(head -c 300 "$T/d.md")"
# a live source listens for [diagnose] duration (1 s here), not the built-in 30 s
start=$(date +%s%N)
timeout 25 "$B" diagnose --config "$F" sim: >"$T/d2.json" 2>"$T/d2.err"
el=$((($(date +%s%N) - start) / 1000000))
python3 -c 'import json,sys; o=json.load(open(sys.argv[1])); assert 0.9 <= o["duration_s"] < 5, o["duration_s"]' "$T/d2.json" 2>/dev/null &&
    ok "diagnose sim: listened [diagnose] duration = 1 s ($el ms)" ||
    fail "diagnose sim: with duration = 1: $(head -c 200 "$T/d2.json") $(cat "$T/d2.err")"
printf '[diagnose]\nformat = json\n\nduration = 0x1e\n' >"$F"
expect 2 "$F:4: duration: " diagnose --config "$F" sim:
printf '[diagnose]\nformat = yaml\n' >"$F"
expect 2 "$F:2: format: " diagnose --config "$F" sim:
printf '[source]\nuri = bogus:1\n' >"$F"
expect 2 "$F:2: uri: unknown source scheme" diagnose --config "$F"
expect 2 "$T/none.ini: open: " diagnose --config "$T/none.ini" sim:

echo "$FAILS failure(s)"
[ "$FAILS" -eq 0 ]
