#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_log_flood.py: the loop that sends CAN frames never waits on a log reader (issue 9 item 5).
# `batlink bridge` (JK simulator on a pty -> bridge -> CANET peer) with MQTT commands on, its
# stderr a pipe that nobody reads (already full, as when a reader stopped long ago), gets 10,000
# accepted commands through a real mosquitto broker. The 0x351 period seen by the CANET peer must
# stay on its clock; every command is processed, the accepted-command lines are rate-limited with
# a "suppressed" summary, and what was held back comes out once the reader reads again.
#
# Bound: the bar is p99 |period - nominal| < 2 ms (bench/log_flood_bench.sh measures it on
# a Release build). CI runs under ASan on a loaded machine, so this test fails above
# BL_FLOOD_P99_MS: 50 ms when the bridge got SCHED_FIFO (its default; ~0.3 ms measured), 250 ms
# when it was not permitted and the CPU is shared under plain CFS (~30 ms measured at load 13 on
# 2 cores). A loop blocked on stderr misses seconds, or every frame, so either bound tells.
import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from bltest import free_port

BATLINK = os.environ.get("BATLINK")
if not BATLINK:
    print("BATLINK must be set (run through ctest)")
    sys.exit(2)
# knobs for bench/log_flood_bench.sh; the defaults are the CI test
P99_MS = os.environ.get("BL_FLOOD_P99_MS")
COMMANDS = 10000
PERIOD = float(os.environ.get("BL_FLOOD_PERIOD", "0.2"))
BASELINE = int(os.environ.get("BL_FLOOD_BASELINE", "5"))  # periods measured before the flood
AFTER = int(os.environ.get("BL_FLOOD_AFTER", "30"))  # periods measured after the publisher ends
# stalled: nobody reads stderr until the end; slow: a batching reader (a log shipper) that reads
# up to 64 KiB every 2 s
READER = os.environ.get("BL_FLOOD_READER", "stalled")
# the bridge asks for SCHED_FIFO by default (and goes on without it when not permitted);
# BL_FLOOD_NO_RT=1 measures it under plain CFS
RT_FLAGS = ["--no-realtime"] if os.environ.get("BL_FLOOD_NO_RT") == "1" else []

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux asm-generic/socket.h
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


class CanetPeer:
    """The inverter side: a TCP server in the role of a CANET converter (13-byte records:
    info byte, 4-byte big-endian id, 8 data bytes). Keeps (monotonic time, id, data, kernel
    receive time): the periods are measured on the kernel's receive timestamps (SO_TIMESTAMPNS),
    so that this thread's own scheduling under load does not count as the bridge's jitter."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.frames = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        self.srv.settimeout(0.2)
        conn = None
        while not self.stop and conn is None:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                pass
        if conn is None:
            return
        conn.settimeout(0.05)
        conn.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        buf = b""
        while not self.stop:
            try:
                d, anc, _, _ = conn.recvmsg(4096, 256)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            now = time.monotonic()
            kts = now
            for lvl, typ, data in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(data) >= 16:
                    sec, nsec = struct.unpack("qq", data[:16])
                    kts = sec + nsec / 1e9
            buf += d
            while len(buf) >= 13:
                r, buf = buf[:13], buf[13:]
                self.frames.append((now, int.from_bytes(r[1:5], "big"), r[5:5 + (r[0] & 0x0F)],
                                    kts))
        conn.close()

    def times_351(self, since=0.0):
        """Kernel receive times of the 0x351 frames received at monotonic `since` or later."""
        return [k for t, i, d, k in list(self.frames) if i == 0x351 and t >= since]

    def last_ccl(self):
        for t, i, d, k in reversed(list(self.frames)):
            if i == 0x351 and len(d) >= 4:
                v = d[2] | d[3] << 8
                return (v - 0x10000 if v & 0x8000 else v) / 10.0
        return None

    def close(self):
        self.stop = True
        self.t.join(1)
        self.srv.close()


def wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")


def full_pipe():
    """A pipe whose buffer is already full: the reader stopped reading long ago."""
    r, w = os.pipe()
    fl = fcntl.fcntl(w, fcntl.F_GETFL)
    fcntl.fcntl(w, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    filled = 0
    try:
        while True:
            filled += os.write(w, b"#" * 4096)
    except BlockingIOError:
        pass
    try:
        while True:  # the last partial page
            filled += os.write(w, b"#")
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, fl)  # the bridge gets an ordinary blocking stderr
    return r, w, filled


def test_flood():
    print("# %d MQTT commands, stderr a full pipe nobody reads: 0x351 keeps its period"
          % COMMANDS, flush=True)
    for tool in ("mosquitto", "mosquitto_pub"):
        if shutil.which(tool) is None:
            check(False, "%s is needed: run scripts/setup.sh --test" % tool)
            return
    d = tempfile.mkdtemp(prefix="bl_flood_")
    port = free_port()
    conf = os.path.join(d, "m.conf")
    open(conf, "w").write("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
    mq = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    wait(lambda: subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                                 "bl/ping", "-n"], capture_output=True).returncode == 0, 10)
    link = os.path.join(d, "jk0")
    sim = subprocess.Popen([BATLINK, "sim", "--bms", "jk", "--current", "-10", "--soc", "60",
                            link], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait(lambda: os.path.islink(link), 10)
    peer = CanetPeer()
    ini = os.path.join(d, "bridge.ini")
    stale = max(2.0, 5 * PERIOD)
    open(ini, "w").write("[bridge]\nperiod = %g\nstale_after = %g\ndead_after = %g\n"
                         "commands = true\ncommand_expiry = 600\n[limits]\n"
                         "max_charge_current = 30\ncurrent_hold = 0.2\ncurrent_ramp = 50\n"
                         "[mqtt]\ndevice = flood\n" % (PERIOD, stale, 2.5 * stale))
    r, w, filled = full_pipe()
    print("# stderr pipe pre-filled with %d bytes; reader: %s" % (filled, READER), flush=True)
    got = bytearray()
    mode = [READER]

    def reader():
        while mode[0] != "stop":
            if mode[0] == "stalled":
                time.sleep(0.01)  # the stalled reader: polls its own flag, never the pipe
                continue
            if mode[0] == "slow":
                time.sleep(2.0)
            try:
                b = os.read(r, 65536)
            except OSError:
                return
            if not b:
                return
            got.extend(b)

    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    br = subprocess.Popen([BATLINK, "bridge", *RT_FLAGS, "--json", "--config", ini,
                           "--bms", "jk:%s?interval_ms=%d&timeout_ms=150" % (link, PERIOD * 1000),
                           "--can", "canet:127.0.0.1:%d" % peer.port,
                           "--mqtt", "mqtt://127.0.0.1:%d" % port],
                          stdout=subprocess.DEVNULL, stderr=w)
    os.close(w)
    up = wait(lambda: peer.last_ccl() == 30.0, 20)
    try:  # field 41 of /proc/PID/stat: the scheduling policy, 1 = SCHED_FIFO
        fifo = open("/proc/%d/stat" % br.pid).read().rsplit(")", 1)[1].split()[38] == "1"
    except (OSError, IndexError):
        fifo = False
    bound = float(P99_MS) if P99_MS else 50.0 if fifo else 250.0
    print("# bridge scheduling: %s; p99 bound %g ms" % ("SCHED_FIFO" if fifo else "CFS", bound),
          flush=True)
    check(up, "bridge up, CCL 30 A on the CAN side (before the flood): %s" % peer.last_ccl())
    # subscribed: a command lowers the limit (its log line cannot be written: the pipe is full)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                    "batlink/flood/set/charge_current_limit", "-m", "20"], check=False)
    first = wait(lambda: peer.last_ccl() == 20.0, 5)
    check(first, "a command lowers CCL to 20 A: %s" % peer.last_ccl())
    tb = time.monotonic()
    wait(lambda: len(peer.times_351(tb)) >= BASELINE + 1, BASELINE * PERIOD + 10)
    base = peer.times_351(tb)
    bdev = [abs((b - a) - PERIOD) * 1000.0 for a, b in zip(base, base[1:])]
    if bdev:
        print("# baseline (no flood, same run): %d periods; |period - %.0f ms|: p50 %.3f ms, "
              "p99 %.3f ms, max %.3f ms" % (len(bdev), PERIOD * 1000, pct(bdev, 50), pct(bdev, 99),
                                           max(bdev)), flush=True)
    t0 = time.monotonic()
    # 10,000 accepted commands, alternating 5 A and 6 A; the last one is 5 A
    lines = "".join("%d\n" % (6 if i % 2 else 5) for i in range(COMMANDS - 1)) + "5\n"
    pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "0", "-t",
                          "batlink/flood/set/charge_current_limit", "-l"], input=lines.encode(),
                         capture_output=True, timeout=120)
    t_pub = time.monotonic()
    check(pub.returncode == 0, "mosquitto_pub sent %d commands in %.2f s" % (COMMANDS, t_pub - t0))
    # keep measuring for 30 periods after the publisher is done (the bridge may still be reading
    # its backlog from the broker)
    enough = wait(lambda: len(peer.times_351(t_pub)) >= AFTER, AFTER * PERIOD + 20)
    t1 = time.monotonic()
    ts = peer.times_351(t0)
    if ts and base and ts[0] - base[-1] < 1.5 * PERIOD:
        ts = [base[-1]] + ts  # the period the flood started in
    dev = [abs((b - a) - PERIOD) * 1000.0 for a, b in zip(ts, ts[1:])]
    p50, p99, mx = pct(dev, 50), pct(dev, 99), max(dev) if dev else float("nan")
    print("# flood: %d periods over %.1f s; |period - %.0f ms|: p50 %.3f ms, p99 %.3f ms, "
          "max %.3f ms" % (len(dev), t1 - t0, PERIOD * 1000, p50, p99, mx), flush=True)
    check(enough, "0x351 keeps coming during and after the flood (%d in the %d periods after "
          "the publisher)" % (len(peer.times_351(t_pub)), AFTER))
    check(len(dev) >= AFTER and p99 < bound,
          "p99 |0x351 period - %.0f ms| = %.3f ms < %g ms (max %.3f ms, %d periods)"
          % (PERIOD * 1000, p99, bound, mx, len(dev)))
    check(peer.last_ccl() == 5.0, "the last command (5 A) is on the CAN side: %s"
          % peer.last_ccl())

    # the reader wakes up: what the bridge held back comes out, then the bridge stops cleanly
    mode[0] = "fast"
    if br.poll() is None:
        br.send_signal(signal.SIGTERM)
    try:
        rc = br.wait(15)
    except subprocess.TimeoutExpired:
        br.kill()
        rc = br.wait()
    rt.join(10)
    mode[0] = "stop"
    os.close(r)
    sim.send_signal(signal.SIGTERM)
    sim.wait(5)
    peer.close()
    mq.terminate()
    mq.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    text = bytes(got).lstrip(b"#").decode(errors="replace")
    acc = [l for l in text.split("\n") if "charge_current_limit =" in l and "accepted" in l]
    supp = [l for l in text.split("\n") if "suppressed" in l]
    n_supp = 0
    for l in supp:
        for word in l.replace(",", " ").split():
            if word.isdigit():
                n_supp += int(word)
                break
    print("# stderr after the reader woke up:\n" + "\n".join("#   " + l for l in
                                                            text.strip().split("\n")[-8:]),
          flush=True)
    check(rc == 0, "bridge exits 0 on SIGTERM (rc %s)" % rc)
    check(0 < len(acc) <= 20, "accepted-command lines are rate-limited: %d shown" % len(acc))
    check(len(acc) + n_supp == COMMANDS + 1,
          "shown + suppressed = every command (%d + %d = %d, want %d)"
          % (len(acc), n_supp, len(acc) + n_supp, COMMANDS + 1))


if __name__ == "__main__":
    test_flood()
    print("%d failure(s)" % len(FAILS))
    sys.exit(1 if FAILS else 0)
