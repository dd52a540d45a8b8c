#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_inverter_alarms.sh: issue 13 item 3 in monitor: an inverter that draws more than the
# battery's discharge limit (sim scenario over-limit, tests/data/diag/over_limit_30s.log) is a live
# alarm in the state's link.inverter_problems (what the Home Assistant problem sensors read); a
# healthy capture and a battery in protection whose inverter obeys (alarm_60s.log) raise none.
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
# a capture without any keep-alive is information for diagnose, never a live alarm
got=$(problems late_heartbeat_cut_15s.log)
[[ $got == *inverter_keepalive_late* ]] || { echo "FAIL: late_heartbeat_cut_15s.log: $got"; fails=$((fails + 1)); }
got=$(problems no_inverter_30s.log)
[[ $got == none ]] || { echo "FAIL: no_inverter_30s.log: $got"; fails=$((fails + 1)); }
[[ $fails == 0 ]] || { echo "test_inverter_alarms: $fails failure(s)"; exit 1; }
echo "test_inverter_alarms: ok"
