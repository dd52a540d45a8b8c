#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_bridge_site.py: the bridge with a site input, checked at the CAN side (a CANET peer): a
# simulated GoodWe inverter on 127.0.0.1 (`batlink sim --goodwe`) charges the battery -> the
# bridged inverter's discharge limit (0x351 DCL) is 0 within one period of the bridge seeing it;
# the other inverter idle -> DCL comes back only after coordinate_hold; it discharges -> CCL 0;
# it goes silent -> its input goes stale and the block drops out (logged). As root the whole test
# runs inside a network namespace it creates, with a meter simulator (`batlink sim --sma-em lo`,
# real Speedwire multicast) as a second site input (grid power seen by the bridge). Also measures the
# latency from the site change seen by the bridge to the CAN frame that reflects it, and the
# bridge's CPU with and without the site input in the same run (printed). Waits on conditions
# with generous deadlines, never on fixed sleeps.
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge as tb  # noqa: E402  (CanetPeer, Bridge, sim, FAST, BMS_FAST, s16)

BATLINK = tb.BATLINK
FAILS = tb.FAILS
check = tb.check

T_GW = 0.0
CFG = tb.FAST + """[site]
coordinate_hold = 2
coordinate_threshold = 200
coordinate_release = 100
"""


def start_gw(*args):
    p = tb.subprocess.Popen([BATLINK, "sim", "--goodwe", "0"] + list(args),
                            stdout=tb.subprocess.DEVNULL, stderr=tb.subprocess.PIPE, text=True)
    line = p.stderr.readline()
    global T_GW
    T_GW = time.monotonic()  # the scenario clock starts when the simulator listens
    m = re.search(r"127\.0\.0\.1:(\d+)", line)
    check(m is not None, "goodwe sim starts: %s" % line)
    return p, int(m.group(1)) if m else 0


def other_w(st):
    return st.get("site", {}).get("other_inverter_battery_power_w")


def first_state(br, pred, after=0.0, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for t, st in list(br.states):
            if t > after and pred(st):
                return t, st
        time.sleep(0.02)
    return None, None


def first_burst(peer, pred, after, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for t, b in peer.bursts():
            if t > after and 0x351 in b and pred(b[0x351]):
                return t
        time.sleep(0.02)
    return None


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


METER = "--in-netns" in sys.argv


def test_coordination():
    meter = None
    if METER:
        meter = tb.subprocess.Popen([BATLINK, "sim", "--sma-em", "lo", "--period-ms", "1000",
                                     "--scenario", "export", "--export-w", "1500"],
                                    stdout=tb.subprocess.DEVNULL, stderr=tb.subprocess.DEVNULL)
    d = tempfile.mkdtemp(prefix="bl_site_")
    link = os.path.join(d, "jk0")
    jk = tb.sim(link, "--fault-after", "100000")
    # idle, charging, idle, discharging, 4 s each; then the simulator is stopped (silence)
    gw, port = start_gw("--scenario", "idle,charging,idle,discharging", "--each", "4")
    peer = tb.CanetPeer()
    br = tb.Bridge(["--bms", "jk:" + link + tb.BMS_FAST, "--can",
                    "canet:127.0.0.1:%d" % peer.port,
                    "--site", "goodwe:127.0.0.1:%d?period=300" % port] +
                   (["--site", "sma-em:lo"] if METER else []), CFG)
    # a second bridge without the site input, same BMS settings, for the CPU comparison
    link2 = os.path.join(d, "jk1")
    jk2 = tb.sim(link2, "--fault-after", "100000")
    peer2 = tb.CanetPeer()
    br2 = tb.Bridge(["--bms", "jk:" + link2 + tb.BMS_FAST, "--can",
                     "canet:127.0.0.1:%d" % peer2.port], tb.FAST)
    try:
        up = br.wait_for(lambda x: x.get("discharge_current_limit_a", 0) > 0 and
                         x.get("charge_current_limit_a", 0) > 0, 15)
        check(up, "limits up before the other inverter acts")
        if METER:
            check(br.wait_for(lambda x: x.get("site", {}).get("grid_power_w") == -1500, 15),
                  "bridge reads the meter (multicast): grid_power_w -1500 (exporting)")
        c0 = (cpu_s(br.p.pid), cpu_s(br2.p.pid), time.monotonic())

        # the other inverter charges: DCL 0 within one period
        t_see, st = first_state(br, lambda s: (other_w(s) or 0) > 200)
        check(t_see is not None, "bridge sees the other inverter charging")
        if st:
            check(st.get("discharge_current_limit_a") == 0 and
                  st["bridge"]["limits"]["discharge_current_a"]["reason"] == "coordination",
                  "the same step: DCL 0, reason coordination: %s" % st.get("bridge", {}).get(
                      "limits", {}).get("discharge_current_a"))
            t_can = first_burst(peer, lambda d: tb.s16(d, 4) == 0, t_see - 0.25)
            check(t_can is not None and t_can - t_see <= 0.2 + 0.3,
                  "CAN: DCL 0 within one period (0.2 s) of the bridge seeing it")
            if t_can is not None:
                print("latency: site change (simulator switches to charging) -> CAN DCL 0: "
                      "%.0f ms (goodwe poll 300 ms + bridge period 200 ms); bridge sees it -> "
                      "CAN: %.0f ms" % ((t_can - (T_GW + 4.0)) * 1000, (t_can - t_see) * 1000))
        # idle again: released only after the hold (2 s), then back up
        t_idle, _ = first_state(br, lambda s: other_w(s) is not None and abs(other_w(s)) < 100,
                                after=t_see or 0)
        check(t_idle is not None, "bridge sees the other inverter idle")
        if t_idle:
            t_rel = first_burst(peer, lambda d: tb.s16(d, 4) > 0, t_idle, 15)
            check(t_rel is not None, "CAN: DCL released after the hold")
            if t_rel is not None:
                check(t_rel - t_idle >= 2.0 - 0.35,
                      "DCL held at 0 for coordinate_hold (2 s): released after %.2f s" %
                      (t_rel - t_idle))
                print("release after idle: %.2f s (hold 2 s)" % (t_rel - t_idle))
        # discharging: CCL 0
        t_dis, st = first_state(br, lambda s: (other_w(s) or 0) < -200, after=t_idle or 0)
        check(t_dis is not None and st.get("charge_current_limit_a") == 0,
              "the other inverter discharges: CCL 0 in the same step")
        if t_dis:
            check(first_burst(peer, lambda d: tb.s16(d, 2) == 0, t_dis - 0.25) is not None,
                  "CAN: CCL 0")
        gw.send_signal(signal.SIGTERM)  # silence from now on
        gw.wait(5)
        # silence: the input goes stale, the block drops out (logged), CCL comes back
        t_st, st = first_state(br, lambda s: s.get("site", {}).get("inputs", [{}])[0].get(
            "link") == "stale", after=t_dis or 0)
        check(t_st is not None and other_w(st) is None, "silent inverter: input stale, no value")
        if t_st:
            check(first_burst(peer, lambda d: tb.s16(d, 2) > 0, t_st, 10) is not None,
                  "CAN: CCL back after the stale input dropped out")
            check(tb.wait_until(lambda: any("drops out" in e for e in br.err), 5),
                  "the drop-out is logged")
        c1 = (cpu_s(br.p.pid), cpu_s(br2.p.pid), time.monotonic())
        wall = c1[2] - c0[2]
        print("bridge CPU over %.1f s: with the %s %.2f %%, without %.2f %%" %
              (wall, "goodwe and sma-em inputs" if METER else "goodwe input",
               100 * (c1[0] - c0[0]) / wall, 100 * (c1[1] - c0[1]) / wall))
    finally:
        rc = br.stop()
        br2.stop()
        peer.close()
        peer2.close()
        for p in (jk, jk2, gw) + ((meter,) if meter else ()):
            p.send_signal(signal.SIGTERM)
            p.wait(5)
        shutil.rmtree(d, ignore_errors=True)
    check(rc == 0, "bridge exits 0 (rc %s): %s" % (rc, br.err[-5:]))


def in_netns():
    """Run this test again inside a network namespace (loopback with a multicast route), so the
    meter simulator's multicast reaches the bridge. None when not possible (not root)."""
    if os.geteuid() != 0 or METER:
        return None
    name = "blbrs%d" % os.getpid()
    try:
        tb.subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    except (OSError, tb.subprocess.CalledProcessError) as e:
        print("note: meter part skipped: no network namespace (%s)" % e)
        return None
    try:
        for cmd in (["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                    ["route", "add", "224.0.0.0/4", "dev", "lo"]):
            tb.subprocess.run(["ip", "-n", name] + cmd, check=True)
        return tb.subprocess.run(["ip", "netns", "exec", name, sys.executable,
                                  os.path.abspath(__file__), "--in-netns"]).returncode
    finally:
        tb.subprocess.run(["ip", "netns", "del", name])


if __name__ == "__main__":
    rc = in_netns()
    if rc is not None:
        sys.exit(rc)
    test_coordination()
    print("%d failure(s)" % len(FAILS))
    sys.exit(1 if FAILS else 0)
