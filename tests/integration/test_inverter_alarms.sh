#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_inverter_alarms.sh: issue 13 item 3 in monitor: an inverter that draws more than the
# battery's discharge limit (sim scenario over-limit, tests/data/diag/over_limit_30s.log) is a live
# alarm in the state's link.inverter_problems (what the Home Assistant problem sensors read); a
# healthy capture and a battery in protection whose inverter obeys (alarm_60s.log) raise none; a
# Pylon HV / BYD HVS battery whose inverter never polls raises inverter_keepalive_missing.
set -uo pipefail
: "${BATLINK:?}" "${BL_SOURCE_DIR:?}"
D=$BL_SOURCE_DIR/tests/data/diag
fails=0
problems() { # file -> the union of link.inverter_problems over all states
    "$BATLINK" monitor --json "$D/$1" 2>/dev/null | python3 -c '
import json, sys
seen = set()
for line in sys.stdin:
    if line.startswith("{"):
        seen |= set(json.loads(line).get("link", {}).get("inverter_problems", []))
print(" ".join(sorted(seen)) or "none")'
}
got=$(problems over_limit_30s.log)
[[ $got == *inverter_exceeds_discharge_limit* ]] || { echo "FAIL: over_limit_30s.log: $got"; fails=$((fails + 1)); }
got=$(problems normal_30s.log)
[[ $got == none ]] || { echo "FAIL: normal_30s.log: $got"; fails=$((fails + 1)); }
got=$(problems alarm_60s.log)
[[ $got == none ]] || { echo "FAIL: alarm_60s.log: $got"; fails=$((fails + 1)); }
# the keep-alive (Pylon LV 0x305, table period 1 s): a gap above 2 s is late while it lasts (the capture ends in one);
# a Pylon LV capture without any keep-alive is information (some inverters send none), never a
# live alarm
got=$(problems late_heartbeat_cut_15s.log)
[[ $got == *inverter_keepalive_late* ]] || { echo "FAIL: late_heartbeat_cut_15s.log: $got"; fails=$((fails + 1)); }
got=$(problems no_inverter_30s.log)
[[ $got == none ]] || { echo "FAIL: no_inverter_30s.log: $got"; fails=$((fails + 1)); }
# a family whose inverter always polls (Pylon HV 0x4200, BYD HVS 0x151): no poll at all is a live
# alarm (after 10 s of battery frames) and a diagnose finding; with the poll there is none
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for p in pylontech-hv byd-hvs; do
    "$BATLINK" sim --profile "$p" --no-inverter --duration 30 "$T/$p-none.log" 2>/dev/null
    "$BATLINK" sim --profile "$p" --inverter --duration 30 "$T/$p-inv.log" 2>/dev/null
    D=$T
    got=$(problems "$p-none.log")
    [[ $got == *inverter_keepalive_missing* ]] || { echo "FAIL: $p without poll: $got"; fails=$((fails + 1)); }
    got=$(problems "$p-inv.log")
    [[ $got == none ]] || { echo "FAIL: $p with poll: $got"; fails=$((fails + 1)); }
    got=$("$BATLINK" diagnose --json "$T/$p-none.log" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
codes = [f["code"] for f in r["findings"]]
print(" ".join(codes))')
    [[ $got == inverter_battery_type*no_inverter_heartbeat* ]] || { echo "FAIL: diagnose $p without poll: $got"; fails=$((fails + 1)); }
    D=$BL_SOURCE_DIR/tests/data/diag
done
[[ $fails == 0 ]] || { echo "test_inverter_alarms: $fails failure(s)"; exit 1; }
echo "test_inverter_alarms: ok"
