#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_tty_views.py: the live terminal views of `batlink monitor` and `batlink bridge`, run on a
# real pseudo-terminal: redrawn in place (cursor home + clear to end of line, never a full-screen
# clear), the battery's state in words, and for the bridge the cells and limits with reasons;
# warnings shown inside the view rather than scrolled under it.
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

from bltest import free_port

BATLINK = os.environ["BATLINK"]
failures = 0
passes = 0


def check(ok, what):
    global failures, passes
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if ok:
        passes += 1
    else:
        failures += 1


def run_on_pty(args, timeout):
    """Run args with stdin/stdout/stderr on one new pty until it exits (at most `timeout` s of
    reading, a deadline for a hang); return (exit status, bytes written)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(args[0], args)
    out = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def frames_of(out):
    """The redraws: text between cursor-home sequences, escape sequences removed."""
    parts = out.split(b"\x1b[H")[1:]
    return [re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", p).decode("utf-8", "replace") for p in parts]


def test_monitor():
    rc, out = run_on_pty([BATLINK, "monitor", "--duration", "3", "sim:"], 60)
    views = frames_of(out)
    check(rc == 0, "monitor on a tty exits 0 after --duration (rc %d)" % rc)
    check(len(views) >= 3, "monitor redraws once a second (%d redraws)" % len(views))
    check(b"\x1b[2J" not in out, "no full-screen clear (no flicker)")
    check(out.count(b"\x1b[K") >= 10 * max(1, len(views)), "every line ends in clear-to-end")
    last = views[-1] if views else ""
    check("batlink monitor" in last and "State of charge" in last and "%" in last,
          "the view shows the state of charge")
    check(re.search(r"Link\s+up", last) is not None, "the view shows the link state")
    check("Frames/s" in last and "351" in last, "the view shows frame rates per id")
    check(re.search(r"Inverter\s+pylontech-0x305 (every|seen)", last) is not None,
          "the view names the inverter keep-alive family the profile gives (sim: plays 0x305)")


def test_bridge():
    d = tempfile.mkdtemp(prefix="bl_tty_")
    jk = os.path.join(d, "jk0")
    sim = subprocess.Popen([BATLINK, "sim", "--bms", "jk", "--duration", "120", jk],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 30  # generous: a loaded machine starts slowly
    while not os.path.exists(jk) and time.monotonic() < end:
        time.sleep(0.05)
    check(os.path.exists(jk), "the simulated JK BMS made its pty")
    # nobody connects to the canet-listen port: transmit fails, which must show in the view
    port = free_port()
    rc, out = run_on_pty([BATLINK, "bridge", "--no-realtime", "--duration", "4", "--bms",
                          "jk:" + jk, "--can", "canet-listen:127.0.0.1:%d" % port], 60)
    sim.terminate()
    sim.wait(30)
    views = frames_of(out)
    last = views[-1] if views else ""
    check(rc == 0, "bridge on a tty exits 0 after --duration (rc %d)" % rc)
    check(len(views) >= 2 and b"\x1b[2J" not in out, "bridge view redrawn in place")
    check("batlink bridge" in last and "Cells V" in last and "Spread" in last,
          "bridge view shows the cells and their spread")
    check(re.search(r"Pack +Pack voltage \d+\.\d\d V", last) is not None
          and "State of charge" in last,
          "bridge view shows pack 0's quantities from the quantity table")
    # after the start-up readings the limit carries its target's reason (start-up rule)
    check(re.search(r"charge \d+\.\d A \((ramp|no_data|stale|startup|config_max|bms_limit|"
                    r"temperature|cell_voltage)", last) is not None
          and "MOSFETs" in last, "bridge view shows each limit with its reason, and the MOSFETs")
    check("Last note" in last and "cannot send" in last,
          "the transmit warning is shown inside the view, not under it")
    shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    test_monitor()
    test_bridge()
    print("%d passed, %d failed" % (passes, failures))
    sys.exit(1 if failures else 0)
