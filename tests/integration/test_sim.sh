#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_sim.sh: `batlink sim` into files (synthetic time, deterministic by seed, every scenario
# visible in the bytes), the sim: source through dump, and live play onto a CANET peer (a python
# TCP server decoding the 13-byte records, transports.md 1.1). Expected bytes worked out by hand:
# CVL 53.2 V = 532 = 0x0214, 3 x 80 A = 2400 dA = 0x0960, DVL 45.0 V = 0x01C2, SOC 62 % = 0x3E,
# SOH 98 % = 0x62, "PYLON   " = 50 59 4C 4F 4E 20 20 20, 3 modules + 'P' 'N' = 03 50 4E.
set -uo pipefail
: "${BATLINK:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"; [[ -n ${srv:-} ]] && kill $srv 2>/dev/null' EXIT
fail=0
check() {
    if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
sim() { "$BATLINK" sim --start 1700000000 "$@"; }

# --- 1. file mode: the normal scenario ---
sim --duration 10 "$T/n.log" 2>"$T/err"
check "sim to .log exits 0" test $? -eq 0
check "10 s = 10 x (6 battery frames + 0x305)" test "$(wc -l <"$T/n.log")" -eq 70
check "summary on stderr" grep -q "sim: 70 frames, 10 s of scenario normal" "$T/err"
check "first frame: limits 53.2 V / 240 A / 240 A / 45.0 V at the start time" \
    test "$(head -1 "$T/n.log")" = "(1700000000.000000) can0 351#140260096009C201"
check "SOC 62 %, SOH 98 %" grep -q "^(1700000000\.[0-9]*) can0 355#3E006200$" "$T/n.log"
check "manufacturer PYLON + 3 spaces" grep -q " 35E#50594C4F4E202020$" "$T/n.log"
check "3 modules, P N, no flags" grep -q " 359#0000000003504E$" "$T/n.log"
check "charge and discharge enabled" grep -q " 35C#C000$" "$T/n.log"
check "inverter heartbeat 0x305 every second" test "$(grep -c ' 305#0000000000000000$' "$T/n.log")" -eq 10
check "last burst at +9 s" grep -q "^(1700000009\.000000) can0 351#" "$T/n.log"
sim --duration 10 "$T/n2.log" 2>/dev/null
check "same seed, same file" cmp -s "$T/n.log" "$T/n2.log"
sim --duration 10 --seed 2 "$T/n3.log" 2>/dev/null
check "other seed, other file" sh -c "! cmp -s '$T/n.log' '$T/n3.log'"
sim --duration 10 "$T/n.pcap" 2>/dev/null
if command -v tshark >/dev/null; then
    check "the .pcap opens in tshark with 70 frames" \
        test "$(tshark -r "$T/n.pcap" 2>/dev/null | wc -l)" -eq 70
fi
"$BATLINK" record "$T/n.pcap" "$T/n4.log" 2>/dev/null
check "pcap and log hold the same frames" cmp -s "$T/n.log" "$T/n4.log"
sim --duration 3 --no-inverter - >"$T/stdout.log" 2>/dev/null
check "'-' writes the log to stdout, --no-inverter drops 0x305" \
    sh -c "test \$(wc -l <'$T/stdout.log') -eq 18 && ! grep -q ' 305#' '$T/stdout.log'"
sim --duration 2 --modules 6 --soc 84 "$T/m.log" 2>/dev/null
check "--modules 6 --soc 84: 480 A limits, SOC 0x54, 6 modules" \
    sh -c "grep -q ' 351#1402C012C012C201' '$T/m.log' && grep -q ' 355#54006200' '$T/m.log' && grep -q ' 359#0000000006504E' '$T/m.log'"

# --- 2. scenarios ---
sim --duration 20 --scenario missing-frames "$T/mf.log" 2>/dev/null
check "missing-frames: 0x351 never sent, 0x355 every second" \
    sh -c "! grep -q ' 351#' '$T/mf.log' && test \$(grep -c ' 355#' '$T/mf.log') -eq 20"
sim --duration 20 --scenario silent-after-5 "$T/sa.log" 2>/dev/null
check "silent-after-5: 5 s of traffic then nothing" \
    sh -c "test \$(wc -l <'$T/sa.log') -eq 35 && ! grep -q '^(170000000[5-9]' '$T/sa.log'"
sim --duration 20 --scenario two-senders "$T/ts.log" 2>/dev/null
check "two-senders: 0x355 twice a second with 62 % and 25 %" \
    sh -c "test \$(grep -c ' 355#' '$T/ts.log') -eq 40 && grep -q ' 355#19006200' '$T/ts.log'"
sim --duration 20 --scenario late-frames "$T/lf.log" 2>/dev/null
check "late-frames: no 0x356 in seconds 10-13, five in second 14" \
    sh -c "! grep -q '^(170000001[0-3]\.[0-9]*) can0 356#' '$T/lf.log' && test \$(grep -c '^(1700000014\.[0-9]*) can0 356#' '$T/lf.log') -eq 5"
sim --duration 10 --scenario wrong-bitrate "$T/wb.log" 2>/dev/null
check "wrong-bitrate: only error frames and garbage, error-passive once" \
    sh -c "! grep -q ' 35[15E]#' '$T/wb.log' && test \$(grep -c ' 20000088#' '$T/wb.log') -ge 150 && test \$(grep -c ' 20000004#' '$T/wb.log') -eq 1"
sim --duration 60 --scenario alarm "$T/al.log" 2>/dev/null
check "alarm: over-temperature protection bit (0x359 byte 0 bit 3) and 0 A limits" \
    sh -c "grep -q '^(170000005[0-9]\.[0-9]*) can0 359#08000800' '$T/al.log' && grep -q '^(170000005[0-9]\.[0-9]*) can0 351#140200000000C201' '$T/al.log'"
check "alarm: the warning (byte 2 bit 3) comes before the protection" \
    sh -c "grep -q '^(170000003[0-4]\.[0-9]*) can0 359#00000800' '$T/al.log'"
sim --duration 90 --scenario charging-to-full "$T/cf.log" 2>/dev/null
check "charging-to-full: starts at 97 %, CCL 72 A" \
    sh -c "grep -q '^(1700000000\.[0-9]*) can0 355#61006200' '$T/cf.log' && grep -q '^(1700000000\.000000) can0 351#1402D0026009C201' '$T/cf.log'"
check "charging-to-full: ends at 100 % with CCL 0 and charge disabled" \
    sh -c "grep -q '^(1700000089\.[0-9]*) can0 355#64006200' '$T/cf.log' && grep -q '^(1700000089\.[0-9]*) can0 351#140200006009C201' '$T/cf.log' && grep -q '^(1700000089\.[0-9]*) can0 35C#4000' '$T/cf.log'"
sim --duration 30 --scenario error-bursts "$T/eb.log" 2>/dev/null
check "error-bursts: error frames among normal traffic" \
    sh -c "test \$(grep -c ' 20000088#' '$T/eb.log') -ge 1 && test \$(grep -c ' 356#' '$T/eb.log') -eq 30"

# --- 3. the sim: source, live, through dump ---
timeout 20 "$BATLINK" dump --duration 2.5 "sim:?scenario=two-senders" >"$T/dump" 2>"$T/err"
check "dump sim: exits 0 after --duration" test $? -eq 0
check "dump sim: shows decoded bursts (2 senders x 3 bursts)" \
    test "$(grep -c 'soc_soh' "$T/dump")" -ge 4
timeout 20 "$BATLINK" dump --duration 1.5 "sim:?scenario=bogus" >/dev/null 2>"$T/err"
check "unknown scenario: exit 2, lists the accepted ones" \
    sh -c "test $? -eq 2 && grep -q 'accepted: normal, charging-to-full' '$T/err'"
timeout 20 "$BATLINK" dump --duration 1.5 "sim:?modules=99" >/dev/null 2>"$T/err"
check "out-of-range parameter: exit 2 naming it" sh -c "test $? -eq 2 && grep -q 'modules' '$T/err'"

# --- 4. live play onto a CANET peer (TCP server on 127.0.0.1) ---
cat >"$T/peer.py" <<'EOF'
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
c, _ = s.accept(); c.settimeout(30); buf = b""
try:
    while True:
        d = c.recv(4096)
        if not d: break
        buf += d
except socket.timeout:
    pass
with open(sys.argv[2], "w") as out:
    for i in range(0, len(buf) - len(buf) % 13, 13):
        r = buf[i:i + 13]; n = r[0] & 0x0F
        out.write("%03X#%s\n" % (int.from_bytes(r[1:5], "big"), r[5:5 + n].hex().upper()))
EOF
python3 "$T/peer.py" "$T/port" "$T/rx" &
srv=$!
for _ in $(seq 300); do [[ -s $T/port ]] && break; sleep 0.1; done # at most 30 s: a loaded machine starts python slowly
"$BATLINK" sim --duration 3 "canet:127.0.0.1:$(cat "$T/port")" 2>"$T/err"
check "sim onto canet: exit 0 after --duration" test $? -eq 0
wait $srv
srv=
check "the peer received 0x351 limits and the PYLON name" \
    sh -c "grep -q '^351#140260096009C201$' '$T/rx' && grep -q '^35E#50594C4F4E202020$' '$T/rx'"
check "no 0x305 sent when standing in for the battery" sh -c "! grep -q '^305#' '$T/rx'"
check "sim summary counts the frames sent (3-4 bursts of 6)" grep -Eq "sim: (1[2-9]|2[0-4]) frames sent to canet:127.0.0.1:[0-9]+ in 3.0 s, 0 not sent" "$T/err"

# --- 5. usage ---
"$BATLINK" sim 2>/dev/null; check "no target: exit 2" test $? -eq 2
"$BATLINK" sim --scenario nope x.log 2>/dev/null; check "unknown scenario: exit 2" test $? -eq 2
"$BATLINK" sim --duration 1 "$T/no/such/dir/x.log" 2>/dev/null
check "unwritable file: exit 1" test $? -eq 1
"$BATLINK" sim --help | grep -q "error-bursts"; check "--help lists the scenarios" test $? -eq 0

exit $fail
