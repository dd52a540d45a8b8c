#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_diagnose_scan.py: `batlink diagnose --scan-bitrate` on a fake SLCAN adapter (a pty that
# answers like slcanpty). The fake "bus" is readable only at 250 kbit/s (S5): there it sends a
# Pylontech V1.2 burst (the US5000 frames of shared/data/captures) every 200 ms plus the
# inverter's 0x305; at other rates nothing. diagnose must pick 250000, open listen-only (L, never
# O) and never transmit (no t/T/r/R line), and report the battery found at 250 kbit/s where its
# profile says 500 as the layer-1 failure bitrate_mismatch in JSON, text and Markdown.
import json
import os
import select
import subprocess
import sys
import tempfile
import time
import tty

BURST = [b"t351814 02C012C012C201", b"t355458005E00", b"t35667A13F2FE6B01",
         b"t35970000000006504E", b"t35C2C000", b"t35E850594C4F4E202020",
         b"t30580000000000000000"]


def run(batlink, fmt):
    """One diagnose --scan-bitrate run against the fake adapter; returns (rc, out, err, cmds)."""
    with tempfile.TemporaryDirectory() as tmp:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        link = os.path.join(tmp, "ttyFAKE")
        os.symlink(os.ttyname(slave), link)
        argv = [batlink, "diagnose", "--scan-bitrate", "--duration", "6"]
        argv += [fmt] if fmt else []
        proc = subprocess.Popen(argv + ["slcan:" + link], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        cmds, buf, rate, open_ = [], b"", None, False
        next_burst = time.monotonic()
        while proc.poll() is None:
            r, _, _ = select.select([master], [], [], 0.02)
            if r:
                try:
                    buf += os.read(master, 1024)
                except OSError:
                    buf = b""
                while b"\r" in buf:
                    line, buf = buf.split(b"\r", 1)
                    cmd = line.decode("ascii", "replace")
                    cmds.append(cmd)
                    if cmd[:1] == "S":
                        rate = cmd
                    if cmd[:1] in ("O", "L"):
                        open_ = True
                    if cmd[:1] == "C":
                        open_ = False
                    os.write(master, b"F00\r" if cmd == "F" else b"\r")
            if open_ and rate == "S5" and time.monotonic() >= next_burst:
                for f in BURST:
                    os.write(master, f.replace(b" ", b"") + b"\r")
                next_burst = time.monotonic() + 0.2
        out, err = proc.communicate()
        os.close(master)
        os.close(slave)
        return proc.returncode, out.decode(), err.decode(), cmds


def main():
    batlink = os.environ["BATLINK"]
    fails = []
    rc, out, err, cmds = run(batlink, "--json")
    # a battery found only at 250 kbit/s where its profile says 500 is a layer-1 failure
    if rc != 1:
        fails.append("exit %d (a bit-rate mismatch is a failure: 1): %s" % (rc, err))
    if "diagnosing at 250000 bit/s" not in err:
        fails.append("did not pick 250000: %s" % err)
    for want in ("S6", "S5", "S4", "S8"):
        if want not in cmds:
            fails.append("rate %s never tried: %r" % (want, cmds))
    if "O" in cmds:
        fails.append("opened for transmit (O), not listen-only (L): %r" % cmds)
    if any(c[:1] in ("t", "T", "r", "R") for c in cmds):
        fails.append("transmitted: %r" % cmds)
    try:
        d = json.loads(out)
        if d["profile"] != "pylontech":
            fails.append("profile %s" % d["profile"])
        if d["frames"] < 50:
            fails.append("too few frames: %d" % d["frames"])
        if d["verdict"] != "fail":
            fails.append("verdict %s, expected fail" % d["verdict"])
        f = [x for x in d["findings"] if x["code"] == "bitrate_mismatch"]
        if not f:
            fails.append("no bitrate_mismatch finding: %r" % d["findings"])
        else:
            f = f[0]
            if f["severity"] != "fail" or f["layer"] != 1:
                fails.append("bitrate_mismatch must be fail, layer 1: %r" % f)
            if "250 kbit/s" not in f["evidence"] or "500 kbit/s" not in f["evidence"]:
                fails.append("evidence lacks found / expected rate: %r" % f["evidence"])
            if "500 kbit/s" not in f["next_step"]:
                fails.append("next step lacks the rate to set: %r" % f["next_step"])
    except (ValueError, KeyError) as e:
        fails.append("JSON: %s: %r" % (e, out[:200]))
    # the same finding in the text report and the Markdown service record
    rc, out, err, _ = run(batlink, None)
    if rc != 1 or not out.startswith("verdict: fail") or "bitrate_mismatch" not in out \
            or "250 kbit/s" not in out:
        fails.append("text report (exit %d): %s" % (rc, out[:600]))
    rc, out, err, _ = run(batlink, "--markdown")
    if rc != 1 or "- **Verdict:** **fail**" not in out or "`bitrate_mismatch`" not in out \
            or "250 kbit/s" not in out:
        fails.append("markdown report (exit %d): %s" % (rc, out[:600]))
    for f in fails:
        print("FAIL:", f)
    print("test_diagnose_scan: %d failure(s)" % len(fails))
    return 1 if fails else 0


sys.exit(main())
