#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_bridge_profiles.py: `batlink bridge --profile NAME` for every profile of `dbc --list`: a
# JK BMS on a pty (the real capture of test_bridge.py, then silence) -> bridge -> a CANET peer
# playing the inverter (the profile's keep-alive or poll). The frames the peer received are
# decoded by `batlink dump --profile NAME --json`: the configured charge limit (30 A) is sent in
# that profile's words, never more, and BMS silence ends in the profile's stop (both limits 0).
# A polled profile (pylontech-hv 0x4200, byd-hvs 0x151) is answered, pylontech-hv with the
# configured [bridge] address in the low id nibble. Waits are on conditions, never fixed sleeps.
import json
import os
import subprocess
import sys
import tempfile
import time

import test_bridge as tb

BATLINK = tb.BATLINK
FAILS = tb.FAILS
check = tb.check

# the inverter's keep-alive / poll per profile: list of (id, ext, data) sent in turn
POLLS = {
    "pylontech-hv": [(0x4200, True, bytes(8)), (0x4200, True, bytes([2]) + bytes(7))],
    "byd-hvs": [(0x151, False, bytes([1]) + bytes(7))],
}


def decode(profile, frames):
    """Decode frames [(t, id, ext, data)] with `batlink dump --profile`: [(t, signals)]."""
    fd, path = tempfile.mkstemp(prefix="bl_brp_", suffix=".log")
    with os.fdopen(fd, "w") as f:
        for k, (t, i, ext, d) in enumerate(frames):
            ident = ("%08X" if ext else "%03X") % i
            f.write("(%d.%06d) can0 %s#%s\n" % (1700000000 + k // 1000000, k % 1000000, ident,
                                                d.hex().upper()))
    r = subprocess.run([BATLINK, "dump", "--profile", profile, "--json", path],
                       capture_output=True, text=True, timeout=60)
    os.unlink(path)
    out = []
    for line in r.stdout.splitlines():  # the timestamp is the frame's index
        try:
            o = json.loads(line)
            k = round((float(o["ts"]) - 1700000000) * 1e6)
        except (ValueError, KeyError, TypeError):
            continue
        if 0 <= k < len(frames):
            out.append((frames[k][0], o.get("signals", {})))
    return out


def profiles():
    r = subprocess.run([BATLINK, "dbc", "--list"], capture_output=True, text=True, timeout=30)
    return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


def run_profile(name, address=0):
    print("# bridge --profile %s (address %d)" % (name, address), flush=True)
    jk = tb.FakeJK([tb.real_frame()] * 12 + [None])  # 12 readings, then the BMS is silent
    peer = tb.CanetPeer(polls=POLLS.get(name, []), period=0.3)
    cfg = tb.FAST.replace("[bridge]\n", "[bridge]\naddress = %d\n" % address)
    br = tb.Bridge(["--profile", name, "--bms", "jk:" + jk.path + tb.BMS_FAST,
                    "--can", "canet:127.0.0.1:%d" % peer.port], cfg)
    up = br.wait_for(lambda x: x.get("charge_current_limit_a") == 30, 15)
    stale = br.wait_for(lambda x: x.get("bridge", {}).get("state") in ("stale", "dead"), 15)
    t_stale = time.monotonic()
    # the stop is checked from 0.5 s after the bridge said "stale" (2.5 transmit periods); frames
    # until 1.5 s after it: several bursts and several answers to polls
    wait = tb.wait_until(lambda: any(f[0] > t_stale + 1.5 for f in peer.frames_ext), 10)
    last = br.last()
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0 and up and stale and wait,
          "%s: bridge up (CCL 30 A), then stale, frames after it, exit 0 (rc %s)" % (name, rc))
    sig = decode(name, list(peer.frames_ext))
    ccl = [(t, s["charge_current_limit_a"]) for t, s in sig if "charge_current_limit_a" in s]
    dcl = [(t, s["discharge_current_limit_a"]) for t, s in sig if "discharge_current_limit_a" in s]
    check(any(v == 30 for t, v in ccl), "%s: the charge limit 30 A is sent in the profile's "
          "words (%d CCL values decoded)" % (name, len(ccl)))
    check(all(v <= 30 for t, v in ccl), "%s: never more than 30 A: max %s" %
          (name, max([v for t, v in ccl], default=None)))
    after = [(t, v) for t, v in ccl + dcl if t > t_stale + 0.5]
    check(after and all(v == 0 for t, v in after),
          "%s: BMS silence -> the profile's stop (CCL = DCL = 0): %s" %
          (name, sorted({v for t, v in after})))
    return peer, last


def test_every_profile():
    names = profiles()
    check(len(names) >= 8, "dbc --list names the profiles: %s" % names)
    for n in names:
        run_profile(n)


def test_hv_poll_address():
    print("# pylontech-hv: polls 0x4200 answered with [bridge] address = 3", flush=True)
    peer, last = run_profile("pylontech-hv", 3)
    got = [(i, d) for t, i, ext, d in peer.frames_ext if ext and (i & 0xF000) in (0x4000, 0x7000)]
    check(len(got) > 0 and all(i & 0xF == 3 for i, d in got),
          "answers carry address 3 in the low nibble: %s" % sorted({hex(i) for i, d in got}))
    check(any(i & ~0xF == 0x4210 for i, d in got) and any(i & 0xF000 == 0x7000 for i, d in got),
          "b0 = 0 answered with 0x421x.., b0 = 2 with 0x73xx..")
    can = last.get("bridge", {}).get("can", {})
    check(can.get("polls_answered", 0) > 0, "state counts answered polls: %s" % can)


def test_sim_inverter():
    print("# sim --profile NAME --inverter: the profile's keep-alive or poll, in turn", flush=True)
    d = tempfile.mkdtemp(prefix="bl_brp_sim_")
    for n in profiles():
        path = os.path.join(d, n + ".log")
        r = subprocess.run([BATLINK, "sim", "--profile", n, "--inverter", "--duration", "4", path],
                           capture_output=True, text=True, timeout=60)
        lines = open(path).read().splitlines() if r.returncode == 0 else []
        frames = [l.split()[2].split("#") for l in lines if len(l.split()) == 3]
        if not check(r.returncode == 0 and frames, "%s: sim --inverter writes a capture (rc %d %s)"
                     % (n, r.returncode, r.stderr.strip()[-120:])):
            continue
        ka = [(i, dd) for i, dd in frames if int(i, 16) in (0x305, 0x307, 0x301, 0x4200, 0x151)]
        if n == "sma":
            continue  # Sunny Island: its frames are not a keep-alive of this family
        if n == "pylontech-hv":
            check({dd[:2] for i, dd in ka if i == "00004200"} == {"00", "02"},
                  "pylontech-hv: polls 0x4200 with b0 = 0 and b0 = 2: %s" % ka)
        elif n == "byd-hvs":
            got = [dd for i, dd in ka if i == "151"]
            check(any(dd[:2] == "01" for dd in got) and any("474F4F445745" in dd for dd in got),
                  "byd-hvs: 0x151 identification request and brand GOODWE: %s" % got)
        else:
            check(len(ka) >= 3, "%s: the inverter's keep-alive once a second: %s" % (n, ka))
    subprocess.run(["rm", "-rf", d])


if __name__ == "__main__":
    for fn in (test_sim_inverter, test_every_profile, test_hv_poll_address):
        fn()
    print("FAILURES: %d" % len(FAILS) if FAILS else "all ok", flush=True)
    sys.exit(1 if FAILS else 0)
