#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_candump_log2asc.sh: candump -L logs written by batlink are read back by can-utils log2asc
# and log2long (the independent oracle), including extended, remote and error frames; the reader
# handles stdin, bad lines (FILE:LINE: reason, exit 1) and ?pace=realtime.
# Expected texts are hand-written from shared/reference/transports.md sections 5.1-5.3.
set -u
: "${BATLINK:?}"
for tool in log2asc log2long; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool (can-utils) missing: run scripts/setup.sh --test"; exit 1; }
done
export TZ=UTC
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # name expected-file actual-file
    if cmp -s "$2" "$3"; then
        echo "ok   $1"
    else
        echo "FAIL $1"
        diff -u "$2" "$3" | head -30
        fails=$((fails + 1))
    fi
}

# 1. Reader variants in, canonical candump -L out: nanoseconds, lower case, '.' separators,
#    right-aligned interface, direction tokens, CAN FD (skipped), extended, remote, error frames.
cat >"$tmp/in.log" <<'LOG'
(1700000000.123456789)   can0 123#deadbeef
(1700000000.223456) can0 12345678#01.02 R
(1700000000.323456) can0 321#r
(1700000000.423456) can0 321#R3 T
(1700000000.523456) can0 20000080#0000000000000000
(1700000000.623456) can0 123##1112233
(1700000000.723456) can0 1FFFFFFF#1122334455667788
(1700000000.823456) can0 000#
LOG
cat >"$tmp/want.log" <<'LOG'
(1700000000.123456) can0 123#DEADBEEF
(1700000000.223456) can0 12345678#0102
(1700000000.323456) can0 321#R
(1700000000.423456) can0 321#R3
(1700000000.523456) can0 20000080#0000000000000000
(1700000000.723456) can0 1FFFFFFF#1122334455667788
(1700000000.823456) can0 000#
LOG
if ! "$BATLINK" record "$tmp/in.log" "$tmp/out.log" 2>"$tmp/rec.err"; then
    echo "FAIL record exited non-zero:"; cat "$tmp/rec.err"; exit 1
fi
check "record writes exactly candump -L" "$tmp/want.log" "$tmp/out.log"

# 2. log2asc reads it: header, relative times, 'x' for extended, r for remote, ErrorFrame
cat >"$tmp/want.asc" <<'ASC'
date Tue Nov 14 22:13:20 2023
base hex  timestamps absolute
no internal events logged
   0.000000 1  123             Rx   d 4 DE AD BE EF
   0.100000 1  12345678x       Rx   d 2 01 02
   0.200000 1  321             Rx   r 0
   0.300000 1  321             Rx   r 3
   0.400000 1  ErrorFrame
   0.600000 1  1FFFFFFFx       Rx   d 8 11 22 33 44 55 66 77 88
   0.700000 1  0               Rx   d 0
ASC
log2asc -I "$tmp/out.log" can0 >"$tmp/out.asc" 2>&1
check "log2asc reads batlink's log" "$tmp/want.asc" "$tmp/out.asc"

# 3. log2long reads it (candump console format with ASCII column)
cat >"$tmp/want.long" <<'LONG'
(1700000000.123456)  can0       123   [4]  DE AD BE EF               '....'
(1700000000.223456)  can0  12345678   [2]  01 02                     '..'
(1700000000.323456)  can0       321   [0]  remote request
(1700000000.423456)  can0       321   [3]  remote request
(1700000000.523456)  can0  20000080   [8]  00 00 00 00 00 00 00 00   ERRORFRAME
(1700000000.723456)  can0  1FFFFFFF   [8]  11 22 33 44 55 66 77 88   '."3DUfw.'
(1700000000.823456)  can0       000   [0]                            ''
LONG
log2long <"$tmp/out.log" >"$tmp/out.long" 2>&1
check "log2long reads batlink's log" "$tmp/want.long" "$tmp/out.long"

# 4. A longer log from the simulator (error frames included) survives log2asc line for line
if "$BATLINK" sim --scenario error-bursts --duration 30 "$tmp/sim.log" 2>/dev/null; then
    lines=$(wc -l <"$tmp/sim.log")
    errs=$(grep -c ' 2[0-9A-F]\{7\}#' "$tmp/sim.log")
    log2asc -I "$tmp/sim.log" can0 >"$tmp/sim.asc"
    asc_lines=$(($(wc -l <"$tmp/sim.asc") - 3))
    asc_errs=$(grep -c ErrorFrame "$tmp/sim.asc")
    if [[ $lines -gt 30 && $errs -gt 0 && $asc_lines -eq $lines && $asc_errs -eq $errs ]]; then
        echo "ok   sim log ($lines frames, $errs error frames) through log2asc"
    else
        echo "FAIL sim log: $lines lines/$errs error frames, log2asc $asc_lines/$asc_errs"
        fails=$((fails + 1))
    fi
    # and batlink reads its own log back unchanged
    "$BATLINK" record "$tmp/sim.log" "$tmp/sim2.log" 2>/dev/null
    check "sim log -> record -> same bytes" "$tmp/sim.log" "$tmp/sim2.log"
else
    echo "FAIL: batlink sim did not write a log"
    fails=$((fails + 1))
fi

# 5. '-' reads stdin: same output as from the file
"$BATLINK" dump "$tmp/out.log" >"$tmp/dump.file" 2>&1
"$BATLINK" dump - <"$tmp/out.log" >"$tmp/dump.stdin" 2>&1
if [[ -s $tmp/dump.file ]]; then
    check "dump - (stdin) equals dump FILE" "$tmp/dump.file" "$tmp/dump.stdin"
else
    echo "FAIL dump printed nothing"; fails=$((fails + 1))
fi

# 6. Bad lines: FILE:LINE: reason on stderr, the rest still decoded, exit status 1
cat >"$tmp/bad.log" <<'LOG'
(1700000000.000000) can0 351#1402740E740ECC01
(1700000000.001000) can0 355#1A00640
(1700000000.002000) can0 1234#00
(1700000000.003000) can0 35C#C000
LOG
"$BATLINK" dump --json "$tmp/bad.log" >"$tmp/bad.out" 2>"$tmp/bad.err"
rc=$?
out_lines=$(wc -l <"$tmp/bad.out")
if [[ $rc -eq 1 && $out_lines -eq 2 ]] &&
    grep -qF "$tmp/bad.log:2: odd number of hex digits in data (column 36)" "$tmp/bad.err" &&
    grep -qF "$tmp/bad.log:3: bad CAN id length" "$tmp/bad.err"; then
    echo "ok   bad lines reported as FILE:LINE: reason, exit 1, good frames kept"
else
    echo "FAIL bad lines: exit $rc, $out_lines frames out, stderr:"; cat "$tmp/bad.err"
    fails=$((fails + 1))
fi

# 7. ?pace=realtime keeps the original timing (frames 0.6 s apart -> at least 1.2 s)
printf '(1700000000.000000) can0 351#01\n(1700000000.600000) can0 355#02\n(1700000001.200000) can0 356#03\n' >"$tmp/paced.log"
t0=$(date +%s%N)
"$BATLINK" dump "candump:$tmp/paced.log?pace=realtime" >"$tmp/paced.out" 2>"$tmp/paced.err"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
if [[ $ms -ge 1150 && $ms -lt 3000 && $(wc -l <"$tmp/paced.out") -eq 3 ]]; then
    echo "ok   pace=realtime took $ms ms for 1.2 s of log"
else
    echo "FAIL pace=realtime took $ms ms"; cat "$tmp/paced.out"; fails=$((fails + 1))
fi

[[ $fails -eq 0 ]] || { echo "$fails check(s) failed"; exit 1; }
echo "all candump log checks passed"
