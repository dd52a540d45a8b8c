#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_record.sh: `batlink record` from sim: and from candump logs into .log and .pcap, checked
# with independent tools: tshark reads the PCAP (ids, flags, bytes), can-utils log2asc reads the
# log, editcap rewrites PCAPs with a nanosecond magic, python writes a big-endian PCAP. Also the
# round trip pcap -> dump == log -> dump, SIGINT/SIGTERM, flushing, a full disk (ulimit -f), bad
# input and usage errors.
set -uo pipefail
: "${BATLINK:?}" "${BL_TEST_DATA:?}"
command -v tshark >/dev/null || { echo "FAIL: tshark missing: run scripts/setup.sh --test"; exit 1; }
command -v log2asc >/dev/null || { echo "FAIL: can-utils missing: run scripts/setup.sh --test"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
check() { # check NAME COMMAND...
    if "${@:2}"; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
tsh() { tshark -r "$1" -T fields -e can.id -e can.len -e can.flags.xtd -e can.flags.rtr \
    -e can.flags.err -e data.data 2>/dev/null; }

# --- 1. the six-line example of transports.md 5.1 (incl. a CAN FD line, skipped) ---
cat >"$T/ex.log" <<'EOF'
(1700000000.123456) can0 123#DEADBEEF
(1700000000.223456) can0 12345678#0102
(1700000000.323456) can0 321#R
(1700000000.423456) can0 321#R3
(1700000000.523456) can0 20000080#0000000000000000
(1700000000.623456) can0 123##1112233
EOF
"$BATLINK" record "$T/ex.log" "$T/ex.pcap" 2>"$T/err"
check "record log->pcap exits 0" test $? -eq 0
check "summary line counts frames, error frames and skipped FD" \
    grep -q "record: 5 frames to $T/ex.pcap in [0-9.]* s; errors: 1 error frames, 0 bad records, 1 CAN FD skipped" "$T/err"
# header + first record exactly as transports.md 5.5
want_hdr="d4c3b2a102000400000000000000000000000400e300000000f1536540e2010010000000100000000000012304000000deadbeef00000000"
check "pcap header and first record bytes (transports.md 5.5)" \
    test "$(head -c 56 "$T/ex.pcap" | od -An -tx1 | tr -d ' \n')" = "$want_hdr"
printf '291\t4\t0\t0\t0\tdeadbeef\n305419896\t2\t1\t0\t0\t0102\n801\t0\t0\t1\t0\t\n801\t3\t0\t1\t0\t000000\n\t8\t\t\t1\t\n' >"$T/want"
tsh "$T/ex.pcap" >"$T/got"
check "tshark decodes ids, lengths, ext/rtr/err flags and bytes" diff "$T/want" "$T/got"
check "tshark sees the original timestamps" test \
    "$(tshark -r "$T/ex.pcap" -T fields -e frame.time_epoch 2>/dev/null | head -1)" = "1700000000.123456000"
"$BATLINK" record "$T/ex.pcap" "$T/back.log" 2>/dev/null
head -5 "$T/ex.log" >"$T/ex5.log"
check "round trip log -> pcap -> log is exact" diff "$T/ex5.log" "$T/back.log"
check "log2asc accepts the log batlink wrote" sh -c "log2asc -I '$T/back.log' can0 >'$T/asc' && grep -q '123 *Rx *d 4 DE AD BE EF' '$T/asc'"

# --- 2. a real capture (setfirelabs US5000 V1.2, see its .txt) through pcap and back ---
cap="$BL_TEST_DATA/pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log"
"$BATLINK" record "$cap" "$T/us5000.pcap" 2>/dev/null
printf '849\t8\t0\t0\t0\t1402c012c012c201\n853\t4\t0\t0\t0\t58005e00\n854\t6\t0\t0\t0\t7a13f2fe6b01\n857\t7\t0\t0\t0\t0000000006504e\n860\t2\t0\t0\t0\tc000\n862\t8\t0\t0\t0\t50594c4f4e202020\n' >"$T/want"
tsh "$T/us5000.pcap" >"$T/got"
check "real capture: tshark shows the captured ids and bytes" diff "$T/want" "$T/got"
"$BATLINK" dump "$cap" >"$T/d_log" 2>/dev/null
"$BATLINK" dump "$T/us5000.pcap" >"$T/d_pcap" 2>/dev/null
check "dump of the pcap equals dump of the log" diff "$T/d_log" "$T/d_pcap"
check "dump output is not empty" test -s "$T/d_pcap"

# --- 3. PCAPs batlink did not write: nanosecond magic (editcap), big-endian (python) ---
if command -v editcap >/dev/null; then
    editcap -F nsecpcap "$T/ex.pcap" "$T/ns.pcap" 2>/dev/null
    check "editcap wrote a nanosecond pcap" test "$(head -c 4 "$T/ns.pcap" | od -An -tx1 | tr -d ' \n')" = "4d3cb2a1"
    "$BATLINK" record "$T/ns.pcap" "$T/ns.log" 2>/dev/null
    check "nanosecond pcap reads back to the same log" diff "$T/ex5.log" "$T/ns.log"
fi
python3 - "$T/be.pcap" <<'EOF'
import struct, sys
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack(">IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 227))
    for sec, usec, canid, data in [(1700000000, 5, 0x355, b"\x54\x00\x60\x00"),
                                   (1700000001, 999999, 0x80000123 | 0x00001000, b"\x01")]:
        body = struct.pack(">IBBBB", canid, len(data), 0, 0, 0) + data.ljust(8, b"\0")
        f.write(struct.pack(">IIII", sec, usec, len(body), len(body)) + body)
EOF
"$BATLINK" record "$T/be.pcap" "$T/be.log" 2>/dev/null
printf '(1700000000.000005) can0 355#54006000\n(1700000001.999999) can0 00001123#01\n' >"$T/want"
check "big-endian pcap (python-written) reads correctly" diff "$T/want" "$T/be.log"

# --- 4. bad input: a truncated file and a record with a bad length ---
head -c 80 "$T/ex.pcap" >"$T/trunc.pcap"
"$BATLINK" record "$T/trunc.pcap" "$T/trunc.log" 2>"$T/err"
check "truncated pcap: exit 0, good frames kept" sh -c "test \$(wc -l <'$T/trunc.log') -eq 1"
check "truncated pcap: message names file, record and byte" \
    grep -q "$T/trunc.pcap: record 2 at byte 56: truncated record (24 of 32 bytes)" "$T/err"
check "truncated pcap: counted in the summary" grep -q "1 bad records" "$T/err"
python3 - "$T/ex.pcap" "$T/badlen.pcap" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[56 + 8] = 4; d[56 + 12] = 4          # record 2: a body of 4 bytes, then 12 stray bytes
open(sys.argv[2], "wb").write(bytes(d[:56 + 20]) + bytes(d[88:]))
EOF
"$BATLINK" record "$T/badlen.pcap" "$T/badlen.log" 2>"$T/err"
check "bad record length: skipped, later records kept" sh -c "test \$(wc -l <'$T/badlen.log') -eq 4"
check "bad record length: message" \
    grep -q "$T/badlen.pcap: record 2 at byte 64: record shorter than the 8-byte CAN header" "$T/err"
printf 'not a capture at all, just text\n' >"$T/text.pcap"
"$BATLINK" record "$T/text.pcap" "$T/x.log" 2>"$T/err"
check "not a pcap: exit 1 with the reason" sh -c "test $? -eq 1 && grep -q 'not a pcap file' '$T/err'"

# --- 5. live source: sim: for 3 s into .log and .pcap ---
"$BATLINK" record --duration 3 sim: "$T/sim.log" 2>"$T/err"
check "record sim: --duration 3 exits 0" test $? -eq 0
n=$(wc -l <"$T/sim.log")
check "record sim: 3 s = 3 or 4 bursts of 6 + 0x305 ($n lines)" test "$n" -ge 21 -a "$n" -le 28
check "every line is candump -L" sh -c "! grep -Ev '^\([0-9]{10}\.[0-9]{6}\) can0 [0-9A-F]{3}#([0-9A-F]{2})*$' '$T/sim.log'"
check "log2asc accepts the sim recording" sh -c "log2asc -I '$T/sim.log' can0 | grep -q '35E *Rx *d 8 50 59 4C 4F 4E 20 20 20'"
check "summary has frames, errors and duration" grep -Eq "record: $n frames to .* in 3\.[0-9] s; errors: 0 error frames" "$T/err"
"$BATLINK" record --duration 2 "sim:?scenario=wrong-bitrate" "$T/sim.pcap" 2>/dev/null
check "pcap of a live source opens in tshark with error frames" \
    sh -c "tshark -r '$T/sim.pcap' 2>/dev/null | grep -q 'ERR: .*Protocol violation\|ERR: Bus error'"

# --- 6. stop by signal, flushed every second ---
for sig in INT TERM; do
    rm -f "$T/sig.log"
    "$BATLINK" record sim: "$T/sig.log" 2>"$T/err" &
    pid=$!
    # the 64 KiB buffer holds seconds of sim frames: a non-empty file while running is the
    # once-a-second flush (waited for, not slept for: generous deadline for a loaded machine)
    size=0
    for _ in $(seq 300); do
        size=$(stat -c %s "$T/sig.log" 2>/dev/null || echo 0)
        [[ $size -gt 0 ]] && break
        sleep 0.1
    done
    check "SIG$sig: file flushed while recording ($size bytes)" test "$size" -gt 0
    kill -$sig $pid
    wait $pid
    check "SIG$sig: clean exit 0" test $? -eq 0
    check "SIG$sig: summary printed" grep -q "stopped by signal" "$T/err"
done

# --- 7. a full disk: RLIMIT_FSIZE (ulimit -f, 1024-byte blocks) makes write(2) fail with EFBIG
# after a cut record, and raises SIGXFSZ. record must not die of the signal, must end the file on a
# record boundary and must report exactly the frames the file holds. ---
big="$BL_TEST_DATA/diag/error_bursts_300s.log"
for ext in log pcap; do
    rm -f "$T/full.$ext"
    (ulimit -f 8; exec "$BATLINK" record "$big" "$T/full.$ext") 2>"$T/err"
    rc=$?
    check "full $ext: exit 1, not killed by SIGXFSZ (exit $rc)" test $rc -eq 1
    check "full $ext: the reason is named" grep -q "full.$ext: write: File too large" "$T/err"
    size=$(stat -c %s "$T/full.$ext")
    check "full $ext: file within the limit ($size bytes)" test "$size" -gt 0 -a "$size" -le 8192
    said=$(sed -n 's/.*record: \([0-9]*\) frames to.*/\1/p' "$T/err")
    if [[ $ext == log ]]; then
        check "full log: ends with a complete line" test "$(tail -c 1 "$T/full.log" | od -An -tx1 | tr -d ' ')" = "0a"
        check "full log: every line is candump -L" sh -c "! grep -Ev '^\([0-9]{10}\.[0-9]{6}\) can0 [0-9A-F]{3,8}#([0-9A-F]{2})*$' '$T/full.log'"
        held=$(wc -l <"$T/full.log")
    else
        check "full pcap: header + whole 32-byte records ($size bytes)" test $(((size - 24) % 32)) -eq 0
        held=$(tshark -r "$T/full.pcap" 2>"$T/tsherr" | wc -l)
        check "full pcap: tshark reads it without complaint" sh -c "! grep -v 'Running as user' '$T/tsherr'"
        check "full: the failed write is reported once" test "$(grep -c 'File too large' "$T/err")" -eq 1
    fi
    check "full $ext: summary says what the file holds ($said said, $held held)" test "$said" = "$held" -a "$held" -gt 0
done

# --- 8. usage ---
"$BATLINK" record 2>/dev/null; check "no arguments: exit 2" test $? -eq 2
"$BATLINK" record sim: "$T/x.txt" 2>"$T/err"
check "unknown extension: exit 2" test $? -eq 2
"$BATLINK" record --duration 5x sim: "$T/x.log" 2>"$T/err"
check "bad --duration: exit 2, names the flag" sh -c "test $? -eq 2 && grep -q -- '--duration' '$T/err'"
"$BATLINK" record "$T/nonexistent.pcap" "$T/x.log" 2>"$T/err"
check "missing input file: exit 1" test $? -eq 1
"$BATLINK" record --help | grep -q "examples:"; check "--help shows examples" test $? -eq 0

exit $fail
