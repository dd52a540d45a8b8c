#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_diagnose.sh: `batlink diagnose` and `batlink pinout` end to end: every finding code with one
# capture that triggers it and one that must not (tests/data/diag/README.md says how each was
# made), healthy real captures -> ok, bad input -> a report, exit codes, JSON (python3 json) and
# Markdown sections, --guide, usage errors.
set -uo pipefail

: "${BATLINK:?}" "${BL_SOURCE_DIR:?}"
D=$BL_SOURCE_DIR/tests/data/diag
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

# codes FILE -> "verdict profile code:severity ..." via the JSON report (also validates the JSON)
report() {
    "$BATLINK" diagnose --json "$1" >"$work/r.json" 2>"$work/r.err"
    echo $? >"$work/r.rc"
    python3 - "$work/r.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["verdict", "profile", "duration_s", "frames", "findings", "messages", "state"], list(d)
for f in d["findings"]:
    assert list(f) == ["code", "severity", "layer", "message", "evidence", "next_step", "kind", "likelihood"], f
    assert (f["kind"] == "cause") == (f["likelihood"] is not None) and (f["likelihood"] is None or 0 <= f["likelihood"] <= 1), f
    assert f["severity"] in ("fail", "warn", "info") and 1 <= f["layer"] <= 5 and f["message"] and f["next_step"]
worst = max([{"info": 0, "warn": 1, "fail": 2}[f["severity"]] for f in d["findings"]] or [0])
assert d["verdict"] == ["ok", "warn", "fail"][worst], d["verdict"]
causes = [f for f in d["findings"] if f["kind"] == "cause"]
assert d["findings"][:len(causes)] == causes, "causes come first"
lk = [f["likelihood"] for f in causes]
assert lk == sorted(lk, reverse=True), lk
order = [(f["layer"], -{"info": 0, "warn": 1, "fail": 2}[f["severity"]]) for f in d["findings"][len(causes):]]
assert order == sorted(order), order
print(d["verdict"], d["profile"], " ".join(f["code"] + ":" + f["severity"] for f in d["findings"]))
EOF
}

triggers() { # file code severity
    local out
    out=$(report "$D/$1") || { fail "$1: report or JSON check failed: $(cat "$work/r.err")"; return; }
    [[ " $out " == *" $2:$3 "* ]] || fail "$1 should give $2:$3, got: $out"
}
not_triggers() { # file code
    local out
    out=$(report "$D/$1") || { fail "$1: report or JSON check failed"; return; }
    [[ " $out " == *" $2:"* ]] && fail "$1 must not give $2, got: $out"
}
verdict() { # file verdict exit
    local out rc
    out=$(report "$D/$1") || { fail "$1: report failed"; return; }
    rc=$(cat "$work/r.rc")
    [[ $out == "$2 "* ]] || fail "$1: verdict should be $2, got: $out"
    [[ $rc == "$3" ]] || fail "$1: exit $rc, expected $3"
}

# --- every finding: a capture that triggers it, one that must not
triggers errors_only_20s.log no_frames fail
triggers empty.log no_frames fail
not_triggers wrong_bitrate_20s.log no_frames
triggers wrong_bitrate_20s.log bitrate_mismatch fail
triggers errors_only_20s.log bitrate_mismatch fail
not_triggers error_bursts_300s.log bitrate_mismatch
triggers error_bursts_300s.log error_frames warn
triggers constant_errors_120s.log error_frames warn
not_triggers normal_30s.log error_frames
triggers unknown_ids_10s.log unknown_protocol fail
not_triggers normal_30s.log unknown_protocol
not_triggers wrong_bitrate_20s.log unknown_protocol
triggers missing_0x351_30s.log missing_message fail
not_triggers normal_30s.log missing_message
not_triggers v1.3_repeated_10s.log missing_message
triggers late_frames_30s.log irregular_period warn
not_triggers normal_30s.log irregular_period
not_triggers two_senders_30s.log irregular_period
triggers late_frames_30s.log link_gap warn
not_triggers normal_30s.log link_gap
triggers no_inverter_30s.log no_inverter_heartbeat info
triggers v1.3_repeated_10s.log no_inverter_heartbeat info
not_triggers normal_30s.log no_inverter_heartbeat
triggers late_heartbeat_30s.log late_inverter_heartbeat warn
not_triggers normal_30s.log late_inverter_heartbeat
not_triggers no_inverter_30s.log late_inverter_heartbeat
triggers two_senders_30s.log conflicting_senders fail
not_triggers normal_30s.log conflicting_senders
triggers soc_200pct_30s.log implausible_value warn
triggers discover_lynx2_serial_can_candump__ai-republic_bms-to-inverter_issue107.log implausible_value warn
not_triggers normal_30s.log implausible_value
not_triggers seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.log implausible_value
triggers normal_30s.log short_dlc info
not_triggers byd_lvs_premium_b019_and_victron_gx__dfch_BydCanProtocol.log short_dlc
triggers alarm_60s.log battery_protection fail
not_triggers normal_30s.log battery_protection
triggers alarm_60s.log battery_alarm warn
not_triggers normal_30s.log battery_alarm
triggers alarm_60s.log charge_blocked warn
not_triggers normal_30s.log charge_blocked
triggers alarm_60s.log discharge_blocked warn
not_triggers normal_30s.log discharge_blocked
triggers force_full_request_30s.log force_charge_requested warn
not_triggers normal_30s.log force_charge_requested
triggers force_full_request_30s.log full_charge_requested info
not_triggers normal_30s.log full_charge_requested
# the full-charge flag's period: 28 days in the seed owner's report, 30 days in the Pylon V1.2
# document (field-diagnosis.md 10): the message cites both and claims neither alone
"$BATLINK" diagnose "$D/force_full_request_30s.log" >"$work/ff.txt" 2>/dev/null
ffline=$(grep -A3 'full_charge_requested' "$work/ff.txt" | tr '\n' ' ')
[[ $ffline == *"28 days"* && $ffline == *"30 days"* ]] || fail "full_charge_requested must cite 28 and 30 days: $ffline"
[[ $ffline == *"97 % for 30 days:"* ]] && fail "full_charge_requested states 30 days as the only period: $ffline"
triggers error_bursts_300s.log interference_suspected warn
not_triggers constant_errors_120s.log interference_suspected
triggers pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log short_capture info
not_triggers normal_30s.log short_capture
triggers truncated.log bad_input warn
triggers mixed_up.log bad_input warn
not_triggers normal_30s.log bad_input

# --- verdicts and exit codes; healthy real captures are ok (single bursts: timing not judged)
verdict normal_30s.log ok 0
for f in pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log \
    pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.3.log \
    pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.log \
    pytes_ess48_2u_l_logic_analyzer__opendtu_pr1088.log \
    pytes_v5alpha_victron_venus__AndreasBoehm_PytesCANProtocol.log \
    byd_lvs_premium_b019_and_victron_gx__dfch_BydCanProtocol.log \
    seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.log \
    pylontech_hv_sc0500_h48050_growatt_fragment__eevblog.log; do
    verdict "$f" ok 0
done
verdict no_inverter_30s.log warn 0
verdict two_senders_30s.log fail 1
verdict empty.log fail 1
verdict truncated.log warn 0

# --- profile identification with evidence
out=$(report "$D/pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log")
[[ $out == "ok pylontech "* ]] || fail "v1.2 profile: $out"
out=$(report "$D/pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.3.log")
[[ $out == "ok pylontech-v13 "* ]] || fail "v1.3 profile: $out"
out=$(report "$D/seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.log")
[[ $out == "ok victron "* ]] || fail "seplos profile: $out"
out=$(report "$D/pylontech_hv_sc0500_h48050_growatt_fragment__eevblog.log")
[[ $out == "ok pylontech-hv "* ]] || fail "HV profile: $out"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert "29-bit" in d["state"]["profile_evidence"], d["state"]
' "$work/r.json" || fail "HV evidence"

# --- recognition (issue 10 section 3): diagnose recognises every capture as dump does (the same
# recogniser): the battery's profile (dump's stderr line) and the inverter's keep-alive family
for f in "$BL_SOURCE_DIR"/tests/data/*.log "$D"/*.log; do
    line=$("$BATLINK" dump "$f" 2>&1 >/dev/null | grep '^batlink: dump: profile ' |
        grep -v '^batlink: dump: profile changed' | tail -1)
    want=$(sed -E 's/^batlink: dump: profile ([^ :]+).*/\1/' <<<"$line")
    winv=$(sed -nE 's/.*; inverter ([^ ]+)$/\1/p' <<<"$line")
    "$BATLINK" diagnose --json "$f" >"$work/rec.json" 2>/dev/null
    python3 - "$work/rec.json" "$want" "$winv" <<'EOF' || fail "$(basename "$f"): diagnose does not recognise it as dump does: $line"
import json, sys
d = json.load(open(sys.argv[1]))
want, winv = sys.argv[2], sys.argv[3] or None
if want == "mixed":
    assert d["state"]["profile_evidence"].startswith("mixed"), d["state"]
else:
    assert d["profile"] == want, (d["profile"], want)
assert d["state"]["inverter"] == winv, (d["state"]["inverter"], winv)
EOF
done

# --- battery/inverter mismatch (issue 10 section 3): a Pylon LV battery polled as Pylon HV or
# asked as a BYD: layer 1, evidence for the inverter's battery type
for f in pylon_hv_poll_30s.log pylon_byd_poll_30s.log; do
    out=$(report "$D/$f") || { fail "$f: report"; continue; }
    [[ $out == "warn pylontech "* ]] || fail "$f: battery profile pylontech: $out"
    [[ " $out " == *" profile_mismatch:warn "* ]] || fail "$f: profile_mismatch: $out"
    python3 - "$work/r.json" <<'EOF' || fail "$f: mismatch is layer 1 and names the cause"
import json, sys
d = json.load(open(sys.argv[1]))
f = [x for x in d["findings"] if x["code"] == "profile_mismatch"][0]
assert f["layer"] == 1 and "pylontech" in f["evidence"], f
assert d["findings"][0]["code"] == "inverter_battery_type", d["findings"][0]
assert not any(x["code"] == "no_inverter_heartbeat" for x in d["findings"]), d["findings"]
EOF
done
not_triggers normal_30s.log profile_mismatch
# a forced profile is judged the same way: its keep-alive, and another family's is a mismatch
"$BATLINK" diagnose --json --profile pylon "$D/pylon_hv_poll_30s.log" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["profile"] == "pylontech" and d["state"]["inverter"] == "pylontech-hv-0x4200", d["state"]
assert any(f["code"] == "profile_mismatch" and f["layer"] == 1 for f in d["findings"]), d["findings"]
' || fail "--profile pylon on a Pylon LV battery polled as HV: profile_mismatch"
"$BATLINK" diagnose --json --profile force-h2 "$D/hv_no_poll_30s.log" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["profile"] == "pylontech-hv", d["profile"]
assert any(f["code"] == "no_inverter_heartbeat" and f["severity"] == "warn" for f in d["findings"]), d["findings"]
' || fail "--profile force-h2 without the 0x4200 poll: no_inverter_heartbeat warn"

# --- the inverter's keep-alive per profile (issue 13 item 3): every profile of the registry,
# played by the simulator with and without its inverter; absent is a warning where every inverter
# of the family sends it (Pylon HV polls 0x4200, BYD 0x151 ...), information where some send none
# (Pylon LV 0x305, can-profiles.md 1.8)
triggers hv_no_poll_30s.log no_inverter_heartbeat warn
triggers byd_no_poll_30s.log no_inverter_heartbeat warn
first_finding() { # file code
    "$BATLINK" diagnose --json "$D/$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["findings"][0]["code"] == sys.argv[1], d["findings"]
' "$2" || fail "$1: top cause should be $2"
}
first_finding hv_no_poll_30s.log inverter_battery_type
first_finding byd_no_poll_30s.log inverter_battery_type
for p in $("$BATLINK" dbc --list | awk '{print $1}'); do
    case $p in pylontech | pylontech-v13 | pylontech-0.1v) sev=info ;; *) sev=warn ;; esac
    "$BATLINK" sim --profile "$p" --inverter --duration 20 --start 1700000000 "$work/ka.log" 2>/dev/null
    out=$(report "$work/ka.log") || { fail "$p --inverter: report"; continue; }
    [[ $out == *" $p "* || $out == *" $p" ]] || fail "$p --inverter: profile: $out"
    [[ " $out " == *" no_inverter_heartbeat:"* || " $out " == *" late_inverter_heartbeat:"* ||
        " $out " == *" profile_mismatch:"* ]] && fail "$p --inverter: its own keep-alive: $out"
    "$BATLINK" sim --profile "$p" --no-inverter --duration 20 --start 1700000000 "$work/ka.log" 2>/dev/null
    out=$(report "$work/ka.log") || { fail "$p --no-inverter: report"; continue; }
    [[ " $out " == *" no_inverter_heartbeat:$sev "* ]] || fail "$p --no-inverter: no_inverter_heartbeat:$sev: $out"
done

# a keep-alive whose period no source states (BYD's 0x151) is not judged late; one with a stated
# period (Pylon LV 0x305, 1 s) is, at the same 5 s spacing
for pk in "byd-hvs 151 no" "pylontech 305 yes"; do
    read -r p kid late <<<"$pk"
    "$BATLINK" sim --profile "$p" --inverter --duration 60 --start 1700000000 "$work/ka.log" 2>/dev/null
    awk -v id=" $kid#" 'index($0, id) == 0 || n++ % 5 == 0' "$work/ka.log" >"$work/ka5.log"
    out=$(report "$work/ka5.log") || { fail "$p, $kid every 5 s: report"; continue; }
    if [[ $late == yes ]]; then
        [[ " $out " == *" late_inverter_heartbeat:"* ]] || fail "$p, 0x$kid every 5 s: late: $out"
    else
        [[ " $out " == *" late_inverter_heartbeat:"* ]] && fail "$p, 0x$kid every 5 s: not late: $out"
    fi
done

# --- causes (issue 13 item 1): the top finding names the cause, with a likelihood; a look-alike
# capture of another cause names that one; a healthy capture names none
top_cause() { # file code|none
    "$BATLINK" diagnose --json "$D/$1" >"$work/c.json" 2>/dev/null
    python3 - "$work/c.json" "$2" <<'EOF' || fail "$1: top cause should be $2"
import json, sys
d = json.load(open(sys.argv[1]))
causes = [f for f in d["findings"] if f["kind"] == "cause" and f["code"] != "cause_undecided"]
if sys.argv[2] == "none":
    assert not causes, causes
else:
    assert causes and causes[0]["code"] == sys.argv[2], [(f["code"], f["likelihood"]) for f in causes]
    assert d["findings"][0]["code"] == sys.argv[2], d["findings"][0]
    assert 0 < causes[0]["likelihood"] <= 1
EOF
}
top_cause wrong_bitrate_20s.log bitrate_mismatch
top_cause error_bursts_300s.log cable_or_emi
top_cause constant_errors_120s.log termination
top_cause no_inverter_30s.log inverter_battery_type
top_cause two_senders_30s.log battery_not_master
top_cause discover_lynx2_serial_can_candump__ai-republic_bms-to-inverter_issue107.log scaling_error
# look-alikes (issue 13 tests): errors at any current with error-passive and lost bursts vs
# errors with the current or in runs; a healthy battery without keep-alive vs one that also
# has a bad bus; an inverter that overdraws; a battery at 0.1 V
top_cause termination_30s.log termination
top_cause emi_steps_40s.log cable_or_emi
top_cause emi_time_60s.log cable_or_emi
top_cause wrong_inverter_30s.log inverter_battery_type
top_cause termination_no_inverter_30s.log termination
top_cause over_limit_30s.log inverter_battery_type
top_cause scale_0.1v_30s.log scaling_error
triggers over_limit_30s.log inverter_exceeds_limit fail
not_triggers normal_30s.log inverter_exceeds_limit
not_triggers alarm_60s.log inverter_charges_when_disabled
not_triggers alarm_60s.log inverter_discharges_when_disabled
triggers termination_no_inverter_30s.log cause_undecided info
not_triggers termination_30s.log cause_undecided
top_cause normal_30s.log none
top_cause alarm_60s.log none
"$BATLINK" diagnose "$D/constant_errors_120s.log" >"$work/ce.txt"
grep -q "likelihood: 0\." "$work/ce.txt" || fail "text report shows the likelihood"
"$BATLINK" diagnose --markdown "$D/constant_errors_120s.log" >"$work/ce.md"
grep -q '| `termination` | 0\.' "$work/ce.md" || fail "Markdown report shows the likelihood"

# --- the fallback (issue 13 item 4): 15S from the simulated US5000-like stack
"$BATLINK" diagnose --fallback --json "$D/normal_30s.log" >"$work/fb.json"
python3 - "$work/fb.json" <<'EOF' || fail "--fallback --json"
import json, sys
fb = json.load(open(sys.argv[1]))["fallback"]
assert fb["cells"] == 15 and abs(fb["charge_voltage_v"] - 51.0) < 1e-6 and abs(fb["cutoff_voltage_v"] - 45.0) < 1e-6, fb
assert fb["acceptable"] in ("yes", "no", "unknown") and len(fb["conditions"]) == 5, fb
EOF
"$BATLINK" diagnose --fallback "$D/normal_30s.log" >"$work/fb.txt"
grep -q "charge voltage: 51.0 V (3.40 V/cell)" "$work/fb.txt" || fail "--fallback text"
"$BATLINK" diagnose --markdown "$D/normal_30s.log" >"$work/n.md"
grep -q "^## Fallback" "$work/n.md" || fail "Markdown fallback section"
"$BATLINK" diagnose --json "$D/normal_30s.log" | python3 -c 'import json,sys; assert "fallback" not in json.load(sys.stdin)' ||
    fail "no fallback without --fallback"

# --- the service record (issue 13 item 5): --note, --log, --summary, Markdown fields
log=$work/calls.log
"$BATLINK" diagnose --log "$log" --note cause=termination --note layer=2 --note time_l1=5 \
    --note time_l2=12 "$D/termination_30s.log" >/dev/null
"$BATLINK" diagnose --log "$log" --note time_l1=4 "$D/wrong_inverter_30s.log" >/dev/null
"$BATLINK" diagnose --log "$log" --note time_l1=6 --note time_l2=10 --note time_l3=15 \
    --note time_l4=25 "$D/emi_steps_40s.log" >/dev/null
echo 'not a record' >>"$log"
"$BATLINK" diagnose --log "$log" "$D/normal_30s.log" >/dev/null
python3 - "$log" <<'EOF' || fail "--log lines"
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 5, lines
recs = [json.loads(l) for l in lines if l.startswith("{")]
assert [r["top_cause"] for r in recs] == ["termination", "inverter_battery_type", "cable_or_emi", None], recs
assert recs[0]["notes"] == {"cause": "termination", "layer": "2", "time_l1": "5", "time_l2": "12"}
assert recs[0]["verdict"] in ("ok", "warn", "fail") and recs[0]["causes"][0]["likelihood"] > 0.5
EOF
"$BATLINK" diagnose --summary "$log" >"$work/sum.txt" || fail "--summary exit"
grep -q "calls: 4 (1 bad lines skipped, 1 without a cause)" "$work/sum.txt" || fail "--summary counts: $(cat "$work/sum.txt")"
grep -q "layer 2 physical connection *1 calls: termination 1" "$work/sum.txt" || fail "--summary causes by layer"
grep -Eq "^  1 configuration +15 +3 +33 % +4.0$" "$work/sum.txt" || fail "--summary layer 1 time and yield: $(cat "$work/sum.txt")"
for bad in "--note bad" "--note BAD=x" "--note time_l1=abc" "--note layer=7" "--log /nonexistent/dir/x.log" "--log ''"; do
    eval "\"\$BATLINK\" diagnose $bad \"\$D/normal_30s.log\"" >/dev/null 2>&1
    [[ $? == 2 ]] || fail "diagnose $bad: exit should be 2"
done
"$BATLINK" diagnose --summary "$work/none.log" >/dev/null 2>&1
[[ $? == 1 ]] || fail "--summary of a missing file: exit 1"
"$BATLINK" diagnose --markdown --note battery_model=US5000 --note inverter_model="Deye SUN-8K" \
    --note inverter_firmware=1.2 --note time_l2=12 --note ack="signed 2026-12-07" \
    "$D/normal_30s.log" >"$work/rec.md"
for want in "| battery | US5000 | ____ |" "| inverter | Deye SUN-8K | 1.2 |" "| 2 physical connection | ~10 | 12 |" \
    "Customer acknowledgement (written or electronic): signed 2026-12-07" "## Hard-coded case"; do
    grep -qF -- "$want" "$work/rec.md" || fail "Markdown record lacks: $want"
done

# --- the bundle (issue 13 item 6): capture, three reports, version, config without passwords
mkdir -p "$work/bundle"
printf '[mqtt]\nurl = mqtt://bob:hunter2@127.0.0.1\n[diagnose]\nformat = text\n' >"$work/bundle/c.ini"
"$BATLINK" diagnose --config "$work/bundle/c.ini" --bundle "$work/bundle/b.tar.gz" \
    "$D/termination_30s.log" >/dev/null 2>"$work/bundle/err"
if tar -xzf "$work/bundle/b.tar.gz" -C "$work/bundle" 2>/dev/null; then
    for m in capture.log report.txt report.json report.md VERSION batlink.ini; do
        [[ -s $work/bundle/$m ]] || fail "bundle lacks $m"
    done
    cmp -s "$work/bundle/capture.log" "$D/termination_30s.log" || fail "bundle capture differs from the input"
    grep -q hunter2 "$work/bundle/batlink.ini" && fail "bundle keeps the MQTT password"
    grep -q "url = mqtt://bob:(removed)@127.0.0.1" "$work/bundle/batlink.ini" || fail "bundle config: $(cat "$work/bundle/batlink.ini")"
    python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["findings"][0]["code"] == "termination"' \
        "$work/bundle/report.json" || fail "bundle report.json"
    grep -q "^batlink " "$work/bundle/VERSION" || fail "bundle VERSION"
else
    fail "bundle is not a .tar.gz: $(cat "$work/bundle/err")"
fi
"$BATLINK" diagnose --bundle /nonexistent/dir/b.tar.gz "$D/normal_30s.log" >/dev/null 2>&1
[[ $? == 1 ]] || fail "--bundle to a missing directory: exit 1"

# --- live watch (issue 13 item 7): --duration 0 reports every --every seconds until stopped,
# then the full report
"$BATLINK" diagnose --duration 0 --every 1 --json "sim:?scenario=termination" >"$work/watch.out" 2>"$work/watch.err" &
wpid=$!
for _ in $(seq 1 200); do # wait for two period lines (20 s at most)
    [[ $(grep -c '"period_s"' "$work/watch.out" 2>/dev/null) -ge 2 ]] && break
    sleep 0.1
done
kill -INT "$wpid" 2>/dev/null
wait "$wpid"
python3 - "$work/watch.out" <<'EOF' || fail "--duration 0 watch: $(head -c 400 "$work/watch.out") $(cat "$work/watch.err")"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
periods = [l for l in lines if "period_s" in l]
assert len(periods) >= 2, lines
assert all(p["frames"] > 0 and p["top_cause"] == "termination" for p in periods), periods
assert "findings" in lines[-1] and lines[-1]["findings"][0]["code"] == "termination", lines[-1]
EOF

# --- per-id table values (normal_30s.log: one burst per second, 30 bursts, 0x355 DLC 4)
"$BATLINK" diagnose --json "$D/normal_30s.log" >"$work/n.json"
python3 - "$work/n.json" <<'EOF' || fail "normal_30s.log messages"
import json, sys
d = json.load(open(sys.argv[1]))
m = {x["id"]: x for x in d["messages"]}
assert d["frames"] == 210, d["frames"]
assert m["0x351"]["count"] == 30 and m["0x351"]["name"] == "limits", m["0x351"]
assert m["0x355"]["dlc"] == [4], m["0x355"]
assert abs(m["0x351"]["period_median_s"] - 1.0) < 0.001, m["0x351"]
assert m["0x305"]["name"] == "inverter_heartbeat"
assert d["state"]["inverter_heartbeat"] is True
assert 59 < d["state"]["fields"]["soc_pct"]["min"] <= d["state"]["fields"]["soc_pct"]["max"] < 64
EOF

# --- bad input: a report, counted, never a crash
"$BATLINK" diagnose "$D/mixed_up.log" >"$work/m.txt" 2>"$work/m.err"
rc=$?
[[ $rc == 0 || $rc == 1 ]] || fail "mixed_up.log: exit $rc"
grep -q '^verdict: ' "$work/m.txt" || fail "mixed_up.log: no report"
grep -q 'bad_input' "$work/m.txt" || fail "mixed_up.log: bad input not reported"
grep -q 'mixed_up.log:41' "$work/m.err" || fail "mixed_up.log: bad line not named: $(head -3 "$work/m.err")"
head -c 100000 /dev/urandom >"$work/random.log"
"$BATLINK" diagnose "$work/random.log" >"$work/rand.txt" 2>/dev/null
rc=$?
[[ $rc == 1 ]] || fail "random bytes: exit $rc, expected 1 (no_frames)"
grep -q 'no_frames' "$work/rand.txt" || fail "random bytes: no no_frames"
"$BATLINK" diagnose - <"$D/normal_30s.log" >"$work/stdin.txt"
[[ $? == 0 ]] || fail "stdin: exit"
grep -q '^verdict: ok' "$work/stdin.txt" || fail "stdin: verdict"

# --- text report: verdict first, findings by layer, per-id table, checklist when failing
"$BATLINK" diagnose "$D/alarm_60s.log" >"$work/a.txt"
[[ $? == 1 ]] || fail "alarm: exit should be 1"
head -1 "$work/a.txt" | grep -q '^verdict: fail' || fail "alarm: verdict not first"
grep -q '^checklist: ' "$work/a.txt" || fail "alarm: failing report lacks the checklist"
grep -q '^0x351 ' "$work/a.txt" || fail "alarm: per-id table"
"$BATLINK" diagnose "$D/normal_30s.log" >"$work/n.txt"
grep -q '^checklist' "$work/n.txt" && fail "ok report should not carry the checklist unless --guide"
"$BATLINK" diagnose --guide "$D/normal_30s.log" >"$work/g0.txt"
grep -q '^checklist' "$work/g0.txt" || fail "--guide with a source"

# --- markdown service record
"$BATLINK" diagnose --markdown "$D/two_senders_30s.log" >"$work/r.md"
[[ $? == 1 ]] || fail "markdown: exit"
for s in '# batlink service record' '- **Date:** ' '- **Source:** ' '- **Verdict:** **fail**' \
    '## Findings' '## Messages' '## Checklist' '### Layer 1: configuration' \
    '### Layer 4: electrical environment' '`conflicting_senders`'; do
    grep -qF -- "$s" "$work/r.md" || fail "markdown lacks: $s"
done

# --- guide alone, per profile
"$BATLINK" diagnose --guide --profile victron >"$work/g.txt"
[[ $? == 0 ]] || fail "--guide exit"
grep -q 'BMS-Can' "$work/g.txt" || fail "victron guide not tailored"
grep -q '60 ohm' "$work/g.txt" || fail "guide lacks the termination step"
"$BATLINK" diagnose --guide --json --profile sma | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["profile"] == "sma" and any("100 ohm" in c["text"] for c in d["checklist"])
' || fail "--guide --json sma"
"$BATLINK" diagnose --profile pylontech-lv-v1.2 --json "$D/unknown_ids_10s.log" >"$work/f.json"
python3 -c '
import json, sys
assert json.load(open(sys.argv[1]))["profile"] == "pylontech"
' "$work/f.json" || fail "--profile forces the profile (an old diagnose name is an alias)"

# --- usage errors exit 2
"$BATLINK" diagnose >/dev/null 2>&1
[[ $? == 2 ]] || fail "no SOURCE: exit should be 2"
"$BATLINK" diagnose --bogus x.log >/dev/null 2>&1
[[ $? == 2 ]] || fail "unknown option: exit should be 2"
"$BATLINK" diagnose --profile nosuch x.log >/dev/null 2>"$work/p.err"
[[ $? == 2 ]] || fail "unknown profile: exit should be 2"
grep -qF 'unknown profile "nosuch" (known: pylontech (pylon, ' "$work/p.err" ||
    fail "unknown profile must list the registry's profiles and aliases: $(cat "$work/p.err")"
"$BATLINK" diagnose --scan-bitrate "$D/normal_30s.log" >/dev/null 2>"$work/s.err"
[[ $? == 2 ]] || fail "--scan-bitrate on a file: exit should be 2"
grep -q 'socketcan: and slcan:' "$work/s.err" || fail "--scan-bitrate message"
"$BATLINK" diagnose "$work/does-not-exist.log" >/dev/null 2>&1
[[ $? == 1 ]] || fail "missing file: exit should be 1"

# --- live source: sim for 2 s, never transmits (listen-only open of a sim bus)
"$BATLINK" diagnose --duration 2 --json sim: >"$work/live.json" 2>"$work/live.err"
rc=$?
if [[ $rc == 0 || $rc == 1 ]]; then
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert 1.5 < d["duration_s"] < 20, d["duration_s"]  # the upper bound only catches a hang
assert any(f["code"] == "short_capture" for f in d["findings"]), d["findings"]
' "$work/live.json" || fail "live sim: $(cat "$work/live.err")"
else
    fail "live sim: exit $rc: $(cat "$work/live.err")"
fi

# --- pinout
"$BATLINK" pinout >"$work/p.txt"
[[ $? == 0 ]] || fail "pinout: exit"
grep -q 'Pylontech US5000' "$work/p.txt" || fail "pinout table lacks US5000"
grep -q 'sources' "$work/p.txt" || fail "pinout table lacks sources"
# issue 9 item 7: names and pin labels are printed whole (no cut columns)
grep -qF 'Solis hybrid (LV RHI-48ES-5G, S5-EH1P-L, S6-EA1P-L; HV S6-EH3P, RHI-3P)' "$work/p.txt" || fail "pinout table cuts the Solis name"
grep -qF 'Sync1 (res.)' "$work/p.txt" || fail "pinout table cuts the SMA pin 1 label"
grep -q 'Pylontech US2000 / US3000' "$work/p.txt" || fail "pinout table lacks US2000/US3000"
"$BATLINK" pinout us5000 solis >"$work/p2.txt"
[[ $? == 0 ]] || fail "pinout us5000 solis: exit"
grep -q 'CAN-H and CAN-L run straight (pins 4/5)' "$work/p2.txt" || fail "US5000-Solis: CAN straight on 4/5"
grep -q 'GND    pin 6  ->  pin 2' "$work/p2.txt" || fail "US5000-Solis: GND 6 -> 2"
"$BATLINK" pinout givenergy us5000 >"$work/p5.txt"
grep -q 'a straight lead carries them' "$work/p5.txt" || fail "GivEnergy-US5000 straight"
grep -q 'must stay free' "$work/p2.txt" || fail "US5000 pins 1-3 NULL! warning"
grep -q 'inverter setting: LV: "Pylon LV"' "$work/p2.txt" || fail "Solis setting"
"$BATLINK" pinout "weco 5k3 xp" solis >"$work/p3.txt"
grep -q 'CAN-H  pin 1  ->  pin 4' "$work/p3.txt" || fail "WeCo->Solis CAN-H 1->4 (pinouts.md 2.4)"
grep -q 'CAN-L  pin 2  ->  pin 5' "$work/p3.txt" || fail "WeCo->Solis CAN-L 2->5"
grep -q 'GND    pin 3  ->  pin 2' "$work/p3.txt" || fail "WeCo->Solis GND 3->2"
"$BATLINK" pinout "sunny island" us5000 >"$work/p6.txt"
grep -q '54.5 ohm' "$work/p6.txt" || fail "SMA termination note"
# what users get cites what they can read: no internal reference pages, no seed file names
"$BATLINK" pinout us2000 >"$work/p7.txt"
[[ $? == 0 ]] || fail "pinout us2000: a known device (its captures are in tests/data)"
"$BATLINK" pinout us3000 solis >"$work/p8.txt"
[[ $? == 0 ]] || fail "pinout us3000 solis: exit"
for f in p.txt p2.txt p3.txt p5.txt p6.txt p7.txt p8.txt; do
    grep -nE '[a-z-]+\.md|seed 0[0-9][0-9]_' "$work/$f" && fail "pinout output $f cites files users do not have"
done
grep -q 'README' "$work/p.txt" || fail "pinout table should point to the README for its sources"
# an ambiguous name lists the candidates instead of picking one (usage-like: exit 2)
"$BATLINK" pinout pylontech >"$work/amb.out" 2>"$work/amb.err"
[[ $? == 2 ]] || fail "pinout pylontech (ambiguous): exit should be 2"
[[ -s $work/amb.out ]] && fail "ambiguous name printed a device: $(head -2 "$work/amb.out")"
for d in 'Pylontech US5000' 'Pylontech US2000 / US3000' 'Pylontech Force-L1' 'Pylontech Force-H2'; do
    grep -qF "$d" "$work/amb.err" || fail "ambiguous pylontech: candidate $d not listed: $(cat "$work/amb.err")"
done
grep -q 'ambiguous' "$work/amb.err" || fail "ambiguous name not called so"
"$BATLINK" pinout pylontech solis >/dev/null 2>&1
[[ $? == 2 ]] || fail "pinout pylontech solis (ambiguous): exit should be 2"
# US5000 <-> Solis: what the supplied cable is, what a home-made lead needs, where GND stands
grep -q 'supplied' "$work/p2.txt" || fail "US5000-Solis: nothing about the supplied cable"
grep -q 'home-made' "$work/p2.txt" || fail "US5000-Solis: nothing about a home-made lead"
grep -q 'CAN-H  pin 4  ->  pin 4' "$work/p2.txt" || fail "US5000-Solis: CAN-H 4 -> 4"
grep -q 'CAN-L  pin 5  ->  pin 5' "$work/p2.txt" || fail "US5000-Solis: CAN-L 5 -> 5"
grep -q 'single source' "$work/p2.txt" || fail "US5000-Solis: Solis GND on pin 2 is single-source"
"$BATLINK" pinout pylontek >/dev/null 2>"$work/p4.err"
[[ $? == 2 ]] || fail "unknown device: exit should be 2"
grep -q 'close matches:.*Pylontech' "$work/p4.err" || fail "close match for pylontek: $(cat "$work/p4.err")"
grep -q 'known devices:' "$work/p4.err" || fail "unknown device: list of known ones"

echo "test_diagnose: $fails failure(s)"
[[ $fails == 0 ]]
