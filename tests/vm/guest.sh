#!/bin/sh
# SPDX-License-Identifier: MIT
# guest.sh: the SocketCAN tests, run by busybox sh inside the VM against vcan0, with can-utils
# candump/cansend as the independent peer. Prints "BLVM-RESULT <name> PASS|FAIL <why>" per test
# and "BLVM-END <passed> <failed>"; tests/vm/run.sh parses these lines.
T=/tmp/t
mkdir -p $T
npass=0
nfail=0

# Wait until $1 batlink sockets listen on vcan0: each one registers an error-frame filter, listed
# in /proc/net/can/rcvlist_err (candump without -e registers none). Sleeping a fixed time instead
# is flaky: an ASan build starts slowly under TCG on a loaded host.
wait_listeners() {
    _i=0
    while [ "$(grep -c ' vcan0 ' /proc/net/can/rcvlist_err 2>/dev/null)" -lt "$1" ]; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && echo "BLVM-INFO no listener after 20 s" && return 1
        sleep 0.1
    done
    return 0
}

pass() {
    echo "BLVM-RESULT $1 PASS ${2:-}"
    npass=$((npass + 1))
}
fail() {
    echo "BLVM-RESULT $1 FAIL $2"
    nfail=$((nfail + 1))
    for f in $T/$1.*; do
        [ -s "$f" ] || continue
        echo "---- $f"
        head -c 3000 "$f"
        echo
    done
}
# check NAME WHY COMMAND...: one assertion; the test NAME fails at its first failed assertion.
# BL_VM_EXPECT_FAIL=NAME inverts the assertions of NAME: the proof that a wrong answer is caught.
check() {
    _n=$1
    _why=$2
    shift 2
    if "$@"; then _ok=1; else _ok=0; fi
    [ "$BL_VM_EXPECT_FAIL" = "$_n" ] && _ok=$((1 - _ok)) && _why="(inverted on purpose) $_why"
    if [ $_ok = 0 ] && [ -z "$failed" ]; then failed="$_why"; fi
}
begin() {
    failed=""
    cur=$1
}
finish() {
    if [ -z "$failed" ]; then pass "$cur" "$1"; else fail "$cur" "$failed"; fi
}
want() {
    [ -z "$BL_VM_ONLY" ] && return 0
    for w in $BL_VM_ONLY; do [ "$w" = "$1" ] && return 0; done
    return 1
}
# wait_for WHAT COMMAND...: poll every 0.1 s, at most 20 s, until COMMAND succeeds
wait_for() {
    _w=$1
    shift
    _i=0
    until "$@"; do
        _i=$((_i + 1))
        [ $_i -gt 200 ] && echo "BLVM-INFO gave up waiting for $_w" && return 1
        sleep 0.1
    done
}
# at least N lines in FILE matching PATTERN
count_ge() { [ "$(grep -c -- "$3" "$2" 2>/dev/null)" -ge "$1" ]; }
# FILE did not grow for 0.5 s
stable() {
    _a=$(wc -c <"$1")
    sleep 0.5
    [ "$(wc -c <"$1")" = "$_a" ]
}
has() { grep -q -- "$2" "$1"; }
# frames transmitted on vcan0 so far, by any socket (the driver's counter)
txcount() { cat /sys/class/net/vcan0/statistics/tx_packets; }
hasnot() { ! grep -q -- "$2" "$1"; }
# the dump --json line for id $2 (first one) in file $1
line_of() { grep -m1 "\"id\":\"$2\"" "$1"; }
# value of JSON key $2 in the line $1 (numbers, booleans, strings without quotes)
jval() { echo "$1" | sed -n "s/.*\"$2\":\"\{0,1\}\([^\",}]*\).*/\1/p"; }

# ---- smoke: the binary runs inside the VM
if want smoke; then
    begin smoke
    batlink --version >$T/smoke.out 2>$T/smoke.err
    check smoke "batlink --version failed" has $T/smoke.out batlink
    finish
fi

# ---- the transport's own unit test, live cases included (they skip outside this VM)
if want unit && [ -x /usr/bin/test_socketcan ]; then
    begin unit
    BL_VCAN=vcan0 timeout 60 test_socketcan >$T/unit.out 2>&1
    rc=$?
    check unit "test_socketcan exit $rc" [ $rc = 0 ]
    check unit "a live case was skipped" hasnot $T/unit.out SKIPPED
    grep -E '^(overflow|warn):' $T/unit.out | sed 's/^/BLVM-INFO unit: /'
    finish
fi

# ---- (b) known frames from can-utils cansend reach `batlink dump` with the exact bytes, decoded,
# stamped with the kernel's receive time (the same microsecond candump -L prints)
if want cansend_to_dump; then
    begin cansend_to_dump
    tx0=$(txcount)
    candump -L vcan0 >$T/cansend_to_dump.candump 2>&1 &
    cpid=$!
    batlink dump --json vcan0 >$T/cansend_to_dump.json 2>$T/cansend_to_dump.err &
    dpid=$!
    wait_listeners 1
    # one V1.2 burst of a Pylontech US5000:
    # shared/data/captures/pylontech_us5000_v1.2_vs_v1.3__setfirelabs.txt
    for fr in 351#1402C012C012C201 355#58005E00 356#7A13F2FE6B01 359#0000000006504E 35C#C000 \
        35E#50594C4F4E202020 1ABCDEF0#0102 123#R; do
        cansend vcan0 $fr
    done
    wait_for "8 frames" count_ge 8 $T/cansend_to_dump.json '"id"'
    kill -TERM $dpid # ends a live dump like Ctrl-C: exit 0
    wait $dpid
    rc=$?
    kill $cpid
    check cansend_to_dump "dump exit $rc" [ $rc = 0 ]
    j=$T/cansend_to_dump.json
    l355=$(line_of $j 0x355)
    check cansend_to_dump "0x355 bytes" has $j '"id":"0x355","ext":false,"dlc":4,"data":"58005e00"'
    check cansend_to_dump "0x355 soc 88" [ "$(jval "$l355" soc_pct)" = 88 ]
    check cansend_to_dump "0x355 soh 94" [ "$(jval "$l355" soh_pct)" = 94 ]
    check cansend_to_dump "0x351 bytes" has $j '"id":"0x351","ext":false,"dlc":8,"data":"1402c012c012c201"'
    check cansend_to_dump "0x351 cvl 53.2" [ "$(jval "$(line_of $j 0x351)" charge_voltage_limit_v)" = 53.2 ]
    check cansend_to_dump "0x356 bytes" has $j '"id":"0x356","ext":false,"dlc":6,"data":"7a13f2fe6b01"'
    check cansend_to_dump "0x356 current -27" [ "$(jval "$(line_of $j 0x356)" current_a)" = -27 ]
    check cansend_to_dump "0x359 bytes" has $j '"id":"0x359","ext":false,"dlc":7,"data":"0000000006504e"'
    check cansend_to_dump "0x35C bytes" has $j '"id":"0x35C","ext":false,"dlc":2,"data":"c000"'
    check cansend_to_dump "0x35E bytes" has $j '"id":"0x35E","ext":false,"dlc":8,"data":"50594c4f4e202020"'
    check cansend_to_dump "29-bit frame" has $j '"id":"0x1ABCDEF0","ext":true,"dlc":2,"data":"0102"'
    check cansend_to_dump "remote frame" has $j '"id":"0x123","ext":false,"rtr":true,"dlc":0,"data":""'
    check cansend_to_dump "8 frames" [ "$(grep -c '"id"' $j)" = 8 ]
    # dump is listen-only: the only frames sent on the bus are cansend's 8
    check cansend_to_dump "tx_packets grew by $(($(txcount) - tx0)), not 8" [ $(($(txcount) - tx0)) = 8 ]
    # the kernel time stamp: candump -L and batlink read the same skb time
    cts=$(sed -n 's/^(\([0-9.]*\)) vcan0 355#.*/\1/p' $T/cansend_to_dump.candump)
    check cansend_to_dump "candump saw 0x355" [ -n "$cts" ]
    check cansend_to_dump "timestamp $(jval "$l355" ts) != candump $cts" [ "$(jval "$l355" ts)" = "$cts" ]
    finish "ts $cts"
fi

# ---- (a) + (c) `batlink sim` transmits onto vcan0; can-utils candump (the independent peer)
# and `batlink dump` both receive it: same frames, same bytes; dump decodes them
if want sim_to_dump; then
    begin sim_to_dump
    tx0=$(txcount)
    candump -L vcan0 >$T/sim_to_dump.candump 2>&1 &
    cpid=$!
    batlink dump --json vcan0 >$T/sim_to_dump.json 2>$T/sim_to_dump.err &
    dpid=$!
    c=$T/sim_to_dump.candump
    j=$T/sim_to_dump.json
    wait_listeners 1
    batlink sim --soc 73 --inverter --duration 2.5 socketcan:vcan0 2>$T/sim_to_dump.sim
    src=$?
    # every frame is queued on dump's socket once sim has exited (vcan delivers during write);
    # wait until dump has printed them all (candump's own file is flushed only at exit)
    wait_for "dump to catch up" stable $j
    kill -TERM $dpid
    wait $dpid
    rc=$?
    kill $cpid
    check sim_to_dump "sim exit $src" [ $src = 0 ]
    check sim_to_dump "dump exit $rc" [ $rc = 0 ]
    for id in 351 355 356 359 35C 35E 305; do
        check sim_to_dump "candump saw no 0x$id" grep -q " vcan0 $id#" $c
    done
    # every frame candump saw, batlink dump saw with the same time, id and bytes
    n=0
    while read -r ts ifc fr; do
        id=${fr%%#*}
        data=$(echo "${fr#*#}" | tr 'A-F' 'a-f')
        ts=${ts#(}
        ts=${ts%)}
        check sim_to_dump "dump lacks $ts $fr" has $j "{\"ts\":$ts,\"id\":\"0x$id\",\"ext\":false,\"dlc\":$((${#data} / 2)),\"data\":\"$data\""
        n=$((n + 1))
    done <$c
    check sim_to_dump "frame count candump $n vs dump" [ "$(grep -c '"id"' $j)" = $n ]
    check sim_to_dump "tx_packets $(($(txcount) - tx0)) vs candump $n" [ $(($(txcount) - tx0)) = $n ]
    check sim_to_dump "no frames" [ $n -gt 0 ]
    # SOC by hand from candump's bytes of the first 0x355 (little-endian u16, 1 %) = dump's
    b=$(sed -n 's/.* vcan0 355#\(....\).*/\1/p' $c | head -n1)
    soc=-1
    [ ${#b} = 4 ] && soc=$((0x${b#??}${b%??}))
    [ $soc = -1 ] && echo "BLVM-INFO sim_to_dump: sim said: $(head -c 600 $T/sim_to_dump.sim | tr '\n' '|')"
    check sim_to_dump "SOC from candump bytes $soc not 72..74" [ $soc -ge 72 ] && [ $soc -le 74 ]
    check sim_to_dump "dump soc_pct != $soc" [ "$(jval "$(line_of $j 0x355)" soc_pct)" = $soc ]
    check sim_to_dump "no voltage decoded" has $j '"voltage_v":'
    finish "$n frames, SOC $soc"
fi

# ---- (d) injected error frames are reported as error frames, counted, never decoded as data
if want error_frames; then
    begin error_frames
    batlink dump --json --stats vcan0 >$T/error_frames.json 2>$T/error_frames.err &
    dpid=$!
    wait_listeners 1
    # cansend takes an 8-digit id with CAN_ERR_FLAG (0x20000000) as an error frame, like
    # canerrsim (not in Debian 12's can-utils): bus-off; no ACK; controller RX passive
    cansend vcan0 20000040#0000000000000000 2>$T/error_frames.cansend
    cansend vcan0 20000020#0000000000000000 2>>$T/error_frames.cansend
    cansend vcan0 20000004#0010000000000000 2>>$T/error_frames.cansend
    cansend vcan0 355#58005E00
    wait_for "4 frames" count_ge 4 $T/error_frames.json '"id"'
    kill -TERM $dpid
    wait $dpid
    rc=$?
    j=$T/error_frames.json
    check error_frames "dump exit $rc" [ $rc = 0 ]
    check error_frames "3 error frames" [ "$(grep -c '"error":true' $j)" = 3 ]
    check error_frames "bus-off frame" has $j '"id":"0x00000040","ext":false,"error":true,"dlc":8,"data":"0000000000000000","message":"error_frame"'
    check error_frames "controller passive" has $j '"id":"0x00000004","ext":false,"error":true,"dlc":8,"data":"0010000000000000","message":"error_frame"'
    check error_frames "an error frame was decoded as data" [ "$(grep '"error":true' $j | grep -c '_pct\|_v"\|_a"')" = 0 ]
    check error_frames "data frame after them" has $j '"id":"0x355","ext":false,"dlc":4,"data":"58005e00"'
    check error_frames "stats" has $T/error_frames.err "frames 4, bytes 64, bad 0, fd_skipped 0, error_frames 3 (bus_off 1, error_passive 1, error_warning 0, ack 1, controller 1, protocol 0, lost_arbitration 0)"
    finish
fi

# ---- (e) a missing interface: clear error naming it, exit status 1; a bad name: usage, 2
if want missing_iface; then
    begin missing_iface
    batlink dump --duration 1 vcan9 >$T/missing_iface.out 2>$T/missing_iface.err
    rc=$?
    check missing_iface "exit $rc, want 1" [ $rc = 1 ]
    check missing_iface "message" has $T/missing_iface.err "socketcan:vcan9: bind: No such device"
    batlink sim --duration 1 socketcan:nope0 >$T/missing_iface.out 2>$T/missing_iface.err2
    rc=$?
    check missing_iface "sim exit $rc, want 1" [ $rc = 1 ]
    check missing_iface "sim message" has $T/missing_iface.err2 "socketcan:nope0: bind: No such device"
    batlink dump socketcan:waytoolonginterfacename >$T/missing_iface.out 2>$T/missing_iface.err3
    rc=$?
    check missing_iface "long name exit $rc, want 2" [ $rc = 2 ]
    finish
fi

# ---- the interface goes down and comes back, then is deleted and re-created: dump keeps
# running, says so, and receives again (ENETDOWN keeps the socket bound, ENODEV unbinds it)
if want link_down_up; then
    begin link_down_up
    j=$T/link_down_up.json
    e=$T/link_down_up.err
    batlink dump --json --stats vcan0 >$j 2>$e &
    dpid=$!
    wait_listeners 1
    cansend vcan0 351#1402C012C012C201
    wait_for "frame 1" count_ge 1 $j '"id"'
    ip link set vcan0 down
    wait_for "down 1" count_ge 1 $e retrying
    ip link set vcan0 up
    wait_for "up 1" count_ge 1 $e "up again"
    cansend vcan0 355#58005E00
    wait_for "frame 2" count_ge 2 $j '"id"'
    ip link del vcan0
    wait_for "down 2" count_ge 2 $e retrying
    ip link add dev vcan0 type vcan && ip link set vcan0 mtu 72 && ip link set vcan0 up
    wait_for "up 2" count_ge 2 $e "up again"
    cansend vcan0 356#7A13F2FE6B01
    wait_for "frame 3" count_ge 3 $j '"id"'
    kill -TERM $dpid
    wait $dpid
    rc=$?
    check link_down_up "dump exit $rc" [ $rc = 0 ]
    check link_down_up "frame before" has $j '"id":"0x351"'
    check link_down_up "frame after up" has $j '"id":"0x355"'
    check link_down_up "frame after re-create" has $j '"id":"0x356"'
    check link_down_up "down message" has $e "socketcan:vcan0: recvmmsg: Network is down; retrying"
    check link_down_up "up message" has $e "socketcan:vcan0: interface is up again"
    check link_down_up "stats" has $e "frames 3, bytes 48,.* reconnects 2, state up"
    finish
fi

# ---- benchmark, only when named in BL_VM_ONLY (bench/vm_monitor_bench.sh): monitor with MQTT
# (a mosquitto in the VM) and HTTP on vcan0 while cangen sends 4,000 frames/s, each frame on its
# own (one frame per wake-up unless the monitor batches); CPU from /proc/PID/schedstat (ns on
# CPU), wake-ups from the voluntary context switches. batlink-base, when carried, is measured too.
if [ -n "$BL_VM_ONLY" ] && want bench_wakeups; then
    begin bench_wakeups
    printf 'listener 1883 127.0.0.1\nallow_anonymous true\nuser root\n' >$T/bench_wakeups.conf
    mosquitto -c $T/bench_wakeups.conf >$T/bench_wakeups.mq 2>&1 &
    mq=$!
    n=40000
    for b in batlink batlink-base; do
        command -v $b >/dev/null || continue
        $b monitor --mqtt mqtt://127.0.0.1:1883 --http 127.0.0.1:9100 vcan0 >/dev/null \
            2>$T/bench_wakeups.$b.err &
        mp=$!
        wait_listeners 1
        wait_for "$b http" wget -q -O $T/bench_wakeups.state http://127.0.0.1:9100/api/state
        c0=$(cut -d' ' -f1 /proc/$mp/schedstat)
        v0=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/$mp/status)
        t0=$(cut -d' ' -f1 /proc/uptime)
        cangen vcan0 -g 0.25 -I 351 -L 8 -D i -n "$n"
        t1=$(cut -d' ' -f1 /proc/uptime)
        c1=$(cut -d' ' -f1 /proc/$mp/schedstat)
        v1=$(awk '/^voluntary_ctxt_switches/ {print $2}' /proc/$mp/status)
        wget -q -O $T/bench_wakeups.state http://127.0.0.1:9100/api/state
        got=$(sed -n 's/.*"frames":\([0-9]*\).*/\1/p' $T/bench_wakeups.state | head -n1)
        kill $mp
        wait $mp
        echo "BLVM-INFO bench $b: $(awk -v c0=$c0 -v c1=$c1 -v t0=$t0 -v t1=$t1 -v v0=$v0 -v v1=$v1 -v n=$n -v got=$got 'BEGIN {
            d = t1 - t0; printf "%d frames in %.1f s (%.0f frames/s), monitor decoded %s: CPU %.2f %% of a core, %.1f us per frame, %.0f wake-ups/s", n, d, n / d, got, 100 * (c1 - c0) / 1e9 / d, (c1 - c0) / 1e3 / n, (v1 - v0) / d }')"
        check bench_wakeups "$b decoded no frame" [ "${got:-0}" -gt 0 ]
    done
    kill $mq
    finish
fi

echo "BLVM-END $npass $nfail"
