#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_bridge.py: `batlink bridge` end to end and at the process level: a JK BMS on a pty (a
# scripted fake sending a real capture, or `batlink sim --bms jk`) -> bridge -> a CANET peer
# (TCP server decoding the 13-byte records). Checks the Pylontech frames against values worked
# out by hand from the capture, the failsafe (stale_after / dead_after with on_dead = safe-frames
# or silent / recovery), the start-up rule, unsolicited and late replies, the reply timeout under
# load, the transmit clock against a slow BMS, the simulator's derating knobs, bad serial input
# (counted per kind, no crash), MQTT commands and config errors (exit 2). Waits are on
# conditions with generous deadlines, never fixed sleeps.
#
# Real frame: tests/data/jk_uart_arminjo-jk-bms-to-pylontech-can.txt, block
# jk_b2a20s20p_sw1126_16s_response (16S LiFePO4: cells 3.262..3.271 V, 52.28 V, 0 A, SOC 60 %,
# temperatures 22/21/22 degC, status 0x0003, cell OVP 3450 mV, charge OCP 50 A, discharge OCP
# 80 A) -- source ArminJo/JK-BMSToPylontechCAN.
import json
import urllib.request
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty
import urllib.error

from bltest import free_port, start_mosquitto

BATLINK = os.environ.get("BATLINK")
# the simulator may come from another build (to run a new simulator against an older bridge)
SIM_BATLINK = os.environ.get("BL_SIM_BATLINK") or BATLINK
DATA = os.environ.get("BL_TEST_DATA")
if not BATLINK or not DATA:
    print("BATLINK and BL_TEST_DATA must be set (run through ctest)")
    sys.exit(2)

FAILS = []


def wait_until(cond, timeout, step=0.02):
    """Poll `cond` until it is true or `timeout` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


def real_frame():
    path = os.path.join(DATA, "jk_uart_arminjo-jk-bms-to-pylontech-can.txt")
    lines = open(path).read().split("\n")
    for i, l in enumerate(lines):
        if l.strip() == "name: jk_b2a20s20p_sw1126_16s_response":
            for m in lines[i:]:
                if m.startswith("hex:"):
                    return bytes.fromhex(m[4:])
    raise SystemExit("capture block not found")


REQUEST = bytes.fromhex("4E5700130000000006030000000000006800000129")  # bms-serial.md 1.3


def fix_sum(f):
    """Test helper: rewrite the JK checksum (16-bit sum of bytes 0..end flag, bms-serial 1.3)."""
    f = bytearray(f)
    s = sum(f[:-2]) & 0xFFFF
    f[-2], f[-1] = s >> 8, s & 0xFF
    return bytes(f)


def set_item(f, item_id, value):
    """Replace a 2-byte item of the capture (ids are unique in this frame's item area)."""
    f = bytearray(f)
    i = 11
    # walk only as far as needed: the first occurrence after the cell block (0x79 is 1 + 48 bytes)
    i = f.index(bytes([item_id]), 11 + 2 + 48)
    f[i + 1], f[i + 2] = value >> 8, value & 0xFF
    return fix_sum(f)


def set_cell(f, n, mv):
    f = bytearray(f)
    off = 13 + 3 * (n - 1)  # 0x79 at 11, count at 12, then {cell no, u16 mV}
    assert f[off] == n
    f[off + 1], f[off + 2] = mv >> 8, mv & 0xFF
    return fix_sum(f)


class FakeJK:
    """A JK BMS on a pty answering each request with the next item of `script` (bytes, or None
    for silence); the last item repeats. Records the requests it saw."""

    def __init__(self, script, delay=0.0, chatter=None, on_request=None):
        self.delay = delay  # seconds between a request and its reply
        # called with the request's number before the reply is written; returns a callable
        # to run after it (or None)
        self.on_request = on_request
        self.chatter = chatter  # (frame, interval): written on its own, answering nobody
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.script = list(script)
        self.requests = []
        self.answered = 0
        self.stop = False
        self.bad_requests = 0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()
        self.chatty = 0
        if chatter is not None:
            self.t2 = threading.Thread(target=self.chat, daemon=True)
            self.t2.start()

    def chat(self):
        frame, every = self.chatter
        while not self.stop:
            time.sleep(every)
            if self.stop:
                return  # closed while asleep: its fd number may already be the next test's pty
            try:
                os.write(self.master, frame)
                self.chatty += 1
            except OSError:
                return

    def run(self):
        buf = b""
        import select
        while not self.stop:
            r, _, _ = select.select([self.master], [], [], 0.05)
            if not r:
                continue
            try:
                buf += os.read(self.master, 4096)
            except OSError:
                return
            while len(buf) >= 21:
                req, buf = buf[:21], buf[21:]
                self.requests.append(req)
                if req != REQUEST:
                    self.bad_requests += 1
                item = self.script[0] if len(self.script) == 1 else self.script.pop(0)
                after = self.on_request(len(self.requests)) if self.on_request else None
                if item is not None:
                    if self.delay:
                        time.sleep(self.delay)
                    os.write(self.master, item)
                    self.answered += 1
                if after is not None:
                    after()

    def close(self):
        self.stop = True
        self.t.join(1)
        if self.chatter is not None:
            self.t2.join(5)  # before the fds go: a late write would land in a reused fd number
        os.close(self.master)
        os.close(self.slave)


class CanetPeer:
    """The inverter side: a TCP server in the role of a CANET converter (13-byte records,
    transports.md 1.1). Keeps (monotonic time, id, data) of every frame in `frames` and (time,
    id, ext, data) in `frames_ext`. Sends `polls` in turn, one every `period` s (polls[i] = (id,
    ext, data)); heartbeat=True is Pylon LV's 0x305, DLC 8, zeros (can-profiles.md 1.8)."""

    def __init__(self, heartbeat=False, port=0, polls=None, period=1.0):
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.frames = []
        self.frames_ext = []
        if polls is None:
            polls = [(0x305, False, bytes(8))] if heartbeat else []
        self.polls = polls
        self.period = period
        self.sent = 0
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
        buf = b""
        nxt = time.monotonic()
        while not self.stop:
            if self.polls and time.monotonic() >= nxt:
                i, ext, d = self.polls[self.sent % len(self.polls)]
                info = (0x80 if ext else 0) | len(d)
                conn.sendall(bytes([info]) + i.to_bytes(4, "big") + d + bytes(8 - len(d)))
                self.sent += 1
                nxt += self.period
            try:
                d = conn.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            now = time.monotonic()
            buf += d
            while len(buf) >= 13:
                r, buf = buf[:13], buf[13:]
                i, d = int.from_bytes(r[1:5], "big"), r[5:5 + (r[0] & 0x0F)]
                self.frames.append((now, i, d))
                self.frames_ext.append((now, i, bool(r[0] & 0x80), d))
        conn.close()

    def bursts(self):
        """Frames grouped per burst (each burst starts with 0x351): list of (t, {id: data})."""
        out = []
        for t, i, d in list(self.frames):
            if i == 0x351 or not out:
                out.append((t, {}))
            out[-1][1][i] = d
        return out

    def close(self):
        self.stop = True
        self.t.join(1)
        self.srv.close()


class Bridge:
    def __init__(self, args, config=None):
        self.dir = tempfile.mkdtemp(prefix="bl_bridge_")
        cmd = [BATLINK, "bridge", "--json"]
        if config is not None:
            p = os.path.join(self.dir, "bridge.ini")
            open(p, "w").write(config)
            cmd += ["--config", p]
        self.p = subprocess.Popen(cmd + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        self.states = []  # (monotonic time, JSON object)
        self.err = []
        self.t1 = threading.Thread(target=self._out, daemon=True)
        self.t2 = threading.Thread(target=self._err, daemon=True)
        self.t1.start()
        self.t2.start()

    def _out(self):
        for line in self.p.stdout:
            try:
                self.states.append((time.monotonic(), json.loads(line)))
            except ValueError:
                self.err.append("bad JSON line: " + line)

    def _err(self):
        for line in self.p.stderr:
            self.err.append(line.rstrip("\n"))

    def last(self):
        return self.states[-1][1] if self.states else {}

    def bms(self):
        return self.last().get("bridge", {}).get("bms", {})

    def wait_for(self, pred, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.states and pred(self.states[-1][1]):
                return True
            time.sleep(0.02)
        return False

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.t1.join(2)
        self.t2.join(2)
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


FAST = """[bridge]
period = 0.2
stale_after = 1
dead_after = 2.5
module_count = 2
[limits]
max_charge_current = 30
current_hold = 0.4
current_ramp = 20
"""
BMS_FAST = "?interval_ms=200&timeout_ms=100"


def u16(d, i):
    return d[i] | d[i + 1] << 8


def s16(d, i):
    v = u16(d, i)
    return v - 0x10000 if v & 0x8000 else v


def test_end_to_end():
    print("# end to end: real 16S capture -> bridge -> CANET peer", flush=True)
    f = real_frame()
    jk = FakeJK([f])
    peer = CanetPeer(heartbeat=True)
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                FAST)
    # CCL climbs 0 -> 30 A at 20 A/s after a 0.4 s hold: ~2 s; DCL to 72 A: ~4 s
    ok = br.wait_for(lambda s: s.get("discharge_current_limit_a") == 72, 10)
    n0 = len(peer.bursts())
    wait_until(lambda: len(peer.bursts()) >= max(12, n0 + 3), 10)  # three more bursts at least
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge exits 0 on SIGTERM (rc %s)" % rc)
    check(ok, "discharge limit reaches 72 A (80 A BMS over-current x 90 %)")
    check(len(jk.requests) >= 5 and jk.bad_requests == 0,
          "every request is the read-all request 4E 57 00 13 ... 01 29 (%d requests)"
          % len(jk.requests))
    bursts = [b for t, b in peer.bursts()]
    check(len(bursts) >= 10, "bursts received (%d)" % len(bursts))
    if not bursts:
        return
    last = bursts[-1]
    want_ids = {0x351: 8, 0x355: 4, 0x356: 6, 0x359: 7, 0x35C: 2, 0x35E: 8}
    check({i: len(d) for i, d in last.items()} == want_ids,
          "burst = 0x351/355/356/359/35C/35E with DLC 8 4 6 7 2 8: %s"
          % {hex(i): len(d) for i, d in last.items()})
    d = last.get(0x351, bytes(8))
    # CVL: 16 cells x min(3.45 bulk, BMS OVP 3.450 - 0.05 margin = 3.40) = 54.40 V -> 544
    check(u16(d, 0) == 544, "0x351 CVL 54.4 V (16 x (3.450 OVP - 0.05)): %d" % u16(d, 0))
    # CCL: min(30 A configured, 50 A BMS OCP x 90 % = 45 A) = 30 A -> 300
    check(s16(d, 2) == 300, "0x351 CCL 30.0 A (configured max): %d" % s16(d, 2))
    # DCL: min(100 A configured, 80 A x 90 % = 72 A) = 72 A -> 720
    check(s16(d, 4) == 720, "0x351 DCL 72.0 A (BMS limit): %d" % s16(d, 4))
    # DVL: 16 x 3.0 V = 48.0 V -> 480
    check(u16(d, 6) == 480, "0x351 DVL 48.0 V: %d" % u16(d, 6))
    d = last.get(0x355, bytes(4))
    check(u16(d, 0) == 60, "0x355 SOC 60 %% (item 0x85 = 0x3C): %d" % u16(d, 0))
    check(u16(d, 2) == 100, "0x355 SOH 100 %% ([bridge] soh; JK UART has no SOH): %d" % u16(d, 2))
    d = last.get(0x356, bytes(6))
    check(s16(d, 0) == 5228 and s16(d, 2) == 0 and s16(d, 4) == 220,
          "0x356 52.28 V, 0.0 A, 22.0 degC (highest probe): %d %d %d"
          % (s16(d, 0), s16(d, 2), s16(d, 4)))
    d = last.get(0x359, bytes(7))
    check(d[:4] == bytes(4) and d[4] == 2 and d[5:7] == b"PN",
          "0x359 no alarms, module count 2, 'PN': %s" % d.hex())
    check(last.get(0x35C) == bytes([0xC0, 0]), "0x35C charge + discharge enable (0xC0)")
    check(last.get(0x35E) == b"PYLON   ", "0x35E 'PYLON   '")
    # the start-up rule: 0 for the first readings, then the target (30 A) at once
    ccl = [s16(b[0x351], 2) for b in bursts if 0x351 in b]
    check(ccl[0] == 0 and 300 in ccl[:6],
          "CCL starts at 0 and is 30 A within the first six bursts: %s" % ccl[:14])
    check(max(ccl) <= 300, "CCL never above the configured 30 A")
    st = br.states[-1][1] if br.states else {}
    b = st.get("bridge", {})
    check(b.get("limits", {}).get("charge_current_a", {}).get("reason") == "config_max"
          and b.get("limits", {}).get("discharge_current_a", {}).get("reason") == "bms_limit"
          and b.get("limits", {}).get("charge_voltage_v", {}).get("reason") == "bms_limit",
          "limit reasons: charge config_max, discharge bms_limit, voltage bms_limit: %s"
          % {k: v.get("reason") for k, v in b.get("limits", {}).items()})
    check(b.get("cells_v", [None])[0] == 3.27 and b.get("cell_spread_v") == 0.009
          and b.get("charge_mosfet") is True and b.get("discharge_mosfet") is True,
          "per-cell voltages (cell 1 3.270 V), spread 3.271 - 3.262 = 0.009 V, MOSFETs on")
    check(st.get("link", {}).get("inverter_heartbeat", {}).get("seen") is True,
          "inverter heartbeat 0x305 seen")
    check(st.get("inverter") == "pylontech-0x305",
          "the state names the inverter by the profile's keep-alive: %r" % st.get("inverter"))


def test_manufacturer():
    print("# [bridge] manufacturer replaces the profile's default 0x35E name", flush=True)
    jk = FakeJK([real_frame()])
    peer = CanetPeer(heartbeat=True)
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                FAST.replace("[bridge]\n", "[bridge]\nmanufacturer = BATLINK\n"))
    got = wait_until(lambda: any(b.get(0x35E) for t, b in peer.bursts()), 10)
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge exits 0 (rc %s)" % rc)
    names = {b.get(0x35E) for t, b in peer.bursts() if b.get(0x35E)}
    check(got and names == {b"BATLINK "}, "0x35E carries 'BATLINK ' only: %s" % names)


def test_bad_input():
    print("# bad serial input: each kind counted, no crash, invalid readings go stale", flush=True)
    f = real_frame()
    bad_ck = f[:-1] + bytes([f[-1] ^ 1])
    trunc = f[:150]
    overlong = fix_sum(f[:2] + bytes([0x0F, 0xFF]) + f[4:])
    cell0 = set_cell(f, 3, 0)
    cell9 = set_cell(f, 5, 9000)
    cells300 = set_item(f, 0x8A, 300)
    foreign = b"AT+GMR\r\nOK\r\n"
    script = [f, bad_ck, f, trunc, f, overlong, f, cell0, f, cell9, f, cells300, foreign + f, f,
              f, cell0]  # the last repeats: only invalid readings from then on
    jk = FakeJK(script)
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                FAST)
    ok = br.wait_for(lambda s: s.get("bridge", {}).get("state") == "stale", 12)
    st = br.last()
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge survives every bad reply and exits 0 (rc %s)" % rc)
    bms = st.get("bridge", {}).get("bms", {})
    check(bms.get("checksum_errors") == 1, "1 checksum error counted: %s" % bms)
    check(bms.get("bad_frames") == 2, "2 bad frames (truncated, overlong length)")
    check(bms.get("invalid_readings", 0) >= 4,
          "invalid readings counted (cell 0 V, cell 9 V, 300 cells, then 0 V again)")
    # 290 after the bad checksum (re-hunt from byte 1), 290 after the overlong length, 12 foreign
    check(bms.get("garbage_bytes") == 592, "592 skipped bytes (290 + 290 + 12): %s"
          % bms.get("garbage_bytes"))
    check(bms.get("replies", 0) >= 7, "valid replies between the bad ones decoded")
    check(ok, "only invalid readings -> stale (limits 0), like silence")
    check(st.get("charge_current_limit_a") == 0 and st.get("discharge_current_limit_a") == 0
          and "communication_lost" in st.get("alarms", []),
          "stale: limits 0 and the communication alarm")
    check(any("checksum" in e for e in br.err) and any("truncated" in e for e in br.err),
          "warnings name the problem (checksum, truncated)")


def sim(path, *extra):
    """`batlink sim --bms jk` on a pty behind the symlink `path`; returns once the simulator
    says "PATH -> /dev/pts/N" (its own link made). Waiting for the link to exist is not enough:
    a link left by a killed simulator exists already, and points at a pty number that the next
    pty opened on the machine (another test's) gets."""
    p = subprocess.Popen([SIM_BATLINK, "sim", "--bms", "jk", "--current", "-10", "--soc", "60",
                          *extra, path], stdout=subprocess.PIPE, stderr=None,
                         text=True)
    first = []
    t = threading.Thread(target=lambda: first.append(p.stdout.readline()), daemon=True)
    t.start()
    t.join(30)
    check(bool(first) and first[0].startswith(path + " -> "),
          "sim made its pty: %r" % (first[0].strip() if first else "nothing within 30 s"))
    # the rest of its stdout: drained so that the simulator never blocks on a full pipe
    threading.Thread(target=p.stdout.read, daemon=True).start()
    return p


def silence_run(cfg):
    """Limits up, the simulated BMS silent for dead_after + 1.5 s, then answering again.
    Returns (bursts, t_silent, t_resume, back, rc, bridge)."""
    d = tempfile.mkdtemp(prefix="bl_jk_")
    link = os.path.join(d, "jk0")
    s = sim(link, "--scenario", "silence", "--fault-after", "100000")
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:" + link + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                cfg)
    up = br.wait_for(lambda x: x.get("charge_current_limit_a") == 30, 10)
    check(up, "limits up (CCL 30 A) before the silence")
    t_silent = time.monotonic()
    s.send_signal(signal.SIGUSR1)  # the simulated BMS stops answering
    # dead_after (2.5 s) + 1.5 s of silence, seen by the bridge itself
    br.wait_for(lambda x: x.get("bridge", {}).get("state") == "dead"
                and x.get("bridge", {}).get("reading_age_s", 0) >= 4.0, 15)
    t_resume = time.monotonic()
    s.send_signal(signal.SIGUSR1)  # answering again
    back = br.wait_for(lambda x: x.get("charge_current_limit_a") == 30, 10)
    t_back = time.monotonic()
    rc = br.stop()
    peer.close()
    s.send_signal(signal.SIGTERM)
    s.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(rc == 0, "bridge exits 0")
    return peer.bursts(), t_silent, t_resume, back, t_back, br


def test_failsafe_silence():
    print("# failsafe: BMS silent -> limits 0 within stale_after + period; after dead_after the "
          "safe frames go on (on_dead = safe-frames, the default); recovery", flush=True)
    bursts, t_silent, t_resume, back, t_back, br = silence_run(FAST)
    period, stale, dead, tol = 0.2, 1.0, 2.5, 0.1
    zero = [t for t, b in bursts if t > t_silent and 0x351 in b and s16(b[0x351], 2) == 0
            and s16(b[0x351], 4) == 0]
    first_zero = zero[0] if zero else None
    check(first_zero is not None and first_zero - t_silent <= stale + period + tol,
          "limits 0 within stale_after + one period of the last reply: %.3f s"
          % ((first_zero or 0) - t_silent))
    nonzero_late = [t for t, b in bursts if t_silent + stale + period + tol < t < t_resume
                    and 0x351 in b and (s16(b[0x351], 2) != 0 or s16(b[0x351], 4) != 0)]
    check(not nonzero_late, "no non-zero limit while the BMS stays silent")
    stale_b = [b for t, b in bursts if t_silent + stale + period + tol < t < t_resume]
    check(stale_b and all(b.get(0x359, bytes(7))[3] & 0x08 for b in stale_b),
          "stale bursts carry 0x359 byte 3 bit 3 (communication fail)")
    dead_b = [(t, b) for t, b in bursts if t_silent + dead + period + tol < t < t_resume]
    # 1.5 s after dead_after at 0.2 s: about 7 bursts; at least 4 even on a loaded machine
    check(len(dead_b) >= 4, "after dead_after the bridge keeps sending (%d bursts while dead)"
          % len(dead_b))
    check(dead_b and all(0x351 in b and s16(b[0x351], 2) == 0 and s16(b[0x351], 4) == 0
                         and b.get(0x35C, b"\xff")[0] == 0
                         and b.get(0x359, bytes(7))[3] & 0x08 for t, b in dead_b),
          "while dead: CCL 0, DCL 0, 0x35C charge/discharge disabled, communication fail bit")
    gaps = [b - a for a, b in zip([t for t, _ in dead_b], [t for t, _ in dead_b][1:])]
    check(gaps and max(gaps) < 3 * period, "dead bursts keep the period: largest gap %.3f s"
          % max(gaps or [9]))
    check(any("on_dead = safe-frames" in e for e in br.err), "the log says the safe frames go on")
    rec = [b for t, b in bursts if t > t_resume and 0x351 in b]
    ccl = [s16(b[0x351], 2) for b in rec]
    # the start-up rule after a recovery: back to 30 A after three readings (0.2 s apart), not
    # through current_hold + ramp
    check(back and t_back - t_resume <= 3 * 0.2 + 3 * period + 1.0,
          "recovery: 30 A again %.2f s after the BMS answers (start-up rule, no hold): %s"
          % (t_back - t_resume, ccl[:8]))


def test_failsafe_on_dead_silent():
    print("# failsafe with [bridge] on_dead = silent: nothing sent after dead_after", flush=True)
    cfg = FAST.replace("[bridge]\n", "[bridge]\non_dead = silent\n")
    bursts, t_silent, t_resume, back, t_back, br = silence_run(cfg)
    period, dead, tol = 0.2, 2.5, 0.1
    during = [t for t, b in bursts if t_silent < t < t_resume]
    check(during and during[-1] - t_silent <= dead + period + tol,
          "last frame %.3f s after the silence began (dead_after 2.5 s + one period)"
          % ((during[-1] if during else 0) - t_silent))
    after = [t for t, b in bursts if t_silent + dead + period + tol < t < t_resume]
    check(not after, "no frame after dead_after while silent (%d)" % len(after))
    check(back, "transmitting again once the BMS answers")


def test_failsafe_kill():
    print("# failsafe: simulated BMS killed (port gone) and restarted", flush=True)
    d = tempfile.mkdtemp(prefix="bl_jk_")
    link = os.path.join(d, "jk0")
    s = sim(link)
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:" + link + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                FAST)
    up = br.wait_for(lambda x: x.get("bridge", {}).get("state") == "ok"
                     and x.get("charge_current_limit_a", 0) > 0, 10)
    check(up, "ok with the simulated BMS")
    t_kill = time.monotonic()
    s.kill()
    s.wait()
    # the port is gone (like a device node on an unplug): the killed simulator's link would
    # point at a pty number that the next pty opened on the machine gets -- with ctest -j,
    # another test's simulated JK BMS, whose replies kept this bridge ok
    os.unlink(link)
    stale = br.wait_for(lambda x: x.get("bridge", {}).get("state") in ("stale", "dead"), 5)
    t_stale = time.monotonic()
    check(stale and t_stale - t_kill <= 1.0 + 0.2 + 0.15,
          "stale %.3f s after the kill" % (t_stale - t_kill))
    check(br.last().get("charge_current_limit_a") == 0, "limits 0 after the kill")
    check(br.wait_for(lambda x: x.get("bridge", {}).get("bms", {}).get("port") == "down", 2),
          "port reported down")
    s = sim(link)  # same symlink, a new pty
    back = br.wait_for(lambda x: x.get("bridge", {}).get("state") == "ok", 10)
    st = br.last()
    check(back and st.get("bridge", {}).get("bms", {}).get("reopens", 0) >= 1,
          "port reopened and readings valid again: %s" % st.get("bridge", {}).get("bms"))
    rc = br.stop()
    check(rc == 0 and br.p.returncode == 0, "bridge alive through it all, exits 0")
    peer.close()
    s.send_signal(signal.SIGTERM)
    check(s.wait(5) == 0 and not os.path.lexists(link), "sim exits 0 and removes its symlink")
    shutil.rmtree(d, ignore_errors=True)


def test_cell_over():
    print("# a cell over its limit: charge 0 A (MOSFET off / protection), discharge allowed",
          flush=True)
    d = tempfile.mkdtemp(prefix="bl_jk_")
    link = os.path.join(d, "jk0")
    s = sim(link, "--scenario", "cell-over", "--fault-after", "100000")
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:" + link + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                FAST)
    up = br.wait_for(lambda x: x.get("charge_current_limit_a") == 30, 10)
    s.send_signal(signal.SIGUSR1)
    t0 = time.monotonic()
    down = br.wait_for(lambda x: x.get("charge_current_limit_a") == 0, 3)
    t1 = time.monotonic()
    st = br.last()
    br.stop()
    peer.close()
    s.send_signal(signal.SIGTERM)
    s.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(up and down and t1 - t0 <= 0.2 + 0.2 + 0.15,
          "charge limit 0 at once (next reading + one period): %.3f s" % (t1 - t0))
    lim = st.get("bridge", {}).get("limits", {})
    check(lim.get("charge_current_a", {}).get("reason") in ("protection", "mosfet_off"),
          "reason protection/mosfet_off: %s" % lim.get("charge_current_a"))
    check(st.get("discharge_current_limit_a", 0) > 0, "discharge still allowed")
    check(st.get("bridge", {}).get("charge_mosfet") is False, "charge MOSFET shown off")


def test_can_down():
    print("# the CAN side cannot send (converter not there): reported, retried, recovers",
          flush=True)
    port = free_port()
    jk = FakeJK([real_frame()])
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % port],
                FAST)
    br.wait_for(lambda x: x.get("bridge", {}).get("can", {}).get("tx_errors", 0) > 0
                and any("cannot send" in e for e in br.err), 10)
    down_msg = [e for e in br.err if "cannot send" in e]
    errs = br.last().get("bridge", {}).get("can", {}).get("tx_errors", 0)
    peer = CanetPeer(port=port)
    wait_until(lambda: len(peer.frames) >= 12 and any("sending again" in e for e in br.err), 15)
    rc = br.stop()
    peer.close()
    jk.close()
    check(len(down_msg) == 1, "one warning while it cannot send: %s" % down_msg)
    check(errs > 0, "unsent frames counted (tx_errors %d)" % errs)
    check(len(peer.frames) >= 12, "frames arrive once the converter is there (%d)"
          % len(peer.frames))
    check(any("sending again" in e for e in br.err), "recovery reported")
    check(rc == 0, "bridge exits 0")


def test_mqtt_commands():
    print("# MQTT commands: only lower, expire, rejected with a reason", flush=True)
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_pub") is None:
        check(False, "mosquitto and mosquitto_pub are needed: run scripts/setup.sh --test")
        return
    port = free_port()
    d = tempfile.mkdtemp(prefix="bl_mq_")
    mq = start_mosquitto(d, port)
    # a retained command left on the broker must never act when the bridge (re)subscribes
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-r", "-t",
                    "batlink/jk1/set/force_charge", "-m", "on"], check=False)
    f = real_frame()
    jk = FakeJK([f])
    peer = CanetPeer()
    cfg = FAST.replace("module_count = 2\n", "module_count = 2\ncommands = true\n"
                      "command_expiry = 2\n")
    hport = free_port()
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port,
                 "--mqtt", "mqtt://127.0.0.1:%d" % port, "--http", "127.0.0.1:%d" % hport],
                cfg + "[mqtt]\ndevice = jk1\n")

    def pub(key, val):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                        "batlink/jk1/set/" + key, "-m", val], check=False)

    up = br.wait_for(lambda x: x.get("charge_current_limit_a") == 30, 10)
    sub = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", "1", "-W",
                          "5", "-t", "batlink/jk1/state"], capture_output=True, text=True)
    disc = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", "1", "-W",
                           "5", "-t", "homeassistant/sensor/batlink_jk1/cell_spread_v/config"],
                          capture_output=True, text=True)
    retained_acted = br.wait_for(lambda x: x.get("force_charge_1") is True, 1.5)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-r", "-n", "-t",
                    "batlink/jk1/set/force_charge"], check=False)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/state" % hport, timeout=5) as r:
            api = json.loads(r.read().decode())
    except (OSError, ValueError):
        api = {}
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hport, timeout=5) as r:
            metrics = r.read().decode()
    except OSError:
        metrics = ""
    prom_ok = True
    if shutil.which("promtool") is not None:
        prom_ok = subprocess.run(["promtool", "check", "metrics"], input=metrics, text=True,
                                 capture_output=True).returncode == 0
    # the commands as Home Assistant entities: numbers with the configured range and a switch,
    # on the topics the bridge listens on; the force charge below goes through them
    ha = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v", "-W", "5",
                         "--retained-only", "-t", "homeassistant/+/batlink_jk1/+/config"],
                        capture_output=True, text=True)
    ents = {}
    for line in ha.stdout.splitlines():
        t, _, pl = line.partition(" ")
        try:
            ents[t] = json.loads(pl)
        except ValueError:
            pass
    ccl = ents.get("homeassistant/number/batlink_jk1/charge_current_limit/config", {})
    dcl = ents.get("homeassistant/number/batlink_jk1/discharge_current_limit/config", {})
    fcs = ents.get("homeassistant/switch/batlink_jk1/force_charge/config", {})
    check(ccl.get("command_topic") == "batlink/jk1/set/charge_current_limit"
          and ccl.get("min") == 0 and ccl.get("max") == 30 and ccl.get("unit_of_measurement") == "A"
          and ccl.get("retain") is False
          and "commands.charge_current_limit_a" in ccl.get("value_template", ""),
          "HA number for the charge current limit: 0..[limits] max_charge_current, set/ topic: %s"
          % ccl)
    check(dcl.get("command_topic") == "batlink/jk1/set/discharge_current_limit"
          and dcl.get("max") == 100, "HA number for the discharge current limit: %s" % dcl)
    check(fcs.get("command_topic") == "batlink/jk1/set/force_charge"
          and fcs.get("payload_on") == "on" and fcs.get("payload_off") == "off",
          "HA switch for force charge: %s" % fcs)
    prof = ents.get("homeassistant/sensor/batlink_jk1/profile/config", {})
    check(prof.get("entity_category") == "diagnostic", "HA profile sensor (diagnostic): %s" % prof)
    en = ents.get("homeassistant/sensor/batlink_jk1/energy_charged_kwh/config", {})
    check(en.get("state_class") == "total_increasing" and en.get("device_class") == "energy"
          and en.get("unit_of_measurement") == "kWh", "HA energy sensor: %s" % en)
    check(api.get("bridge", {}).get("commands", {}).get("charge_current_limit_a") == 30
          and "energy_charged_kwh" in api,
          "state: the commands' current limits and the energy counters: %s"
          % api.get("bridge", {}).get("commands"))
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                    fcs.get("command_topic", "batlink/jk1/set/force_charge"), "-m",
                    fcs.get("payload_on", "on")], check=False)
    forced = br.wait_for(lambda x: x.get("force_charge_1") is True, 2)
    fc_frame = any(b.get(0x35C, b"\0")[0] & 0x20 for t, b in peer.bursts())
    pub("force_charge", "off")
    pub("charge_current_limit", "5.0")  # as Home Assistant's number sends it
    low = br.wait_for(lambda x: x.get("charge_current_limit_a") == 5, 2)
    reason = br.last().get("bridge", {}).get("limits", {}).get("charge_current_a", {})
    pub("charge_current_limit", "500")
    pub("charge_current_limit", "0x3")  # decimal only: hex would have lowered it to 3 A
    pub("discharge_current_limit", "abc")
    pub("force_charge", "maybe")
    pub("reboot", "1")
    wait_until(lambda: len([e for e in br.err if "rejected" in e]) >= 4, 5)
    still = br.last().get("charge_current_limit_a")
    expired = br.wait_for(lambda x: x.get("charge_current_limit_a") == 30, 6)
    rc = br.stop()
    peer.close()
    jk.close()
    mq.terminate()
    mq.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    try:
        state = json.loads(sub.stdout)
    except ValueError:
        state = {}
    check(len(state.get("bridge", {}).get("cells_v", [])) == 16
          and state.get("charge_current_limit_a") == 30,
          "MQTT state carries the bridge object (16 cell voltages) and the limits")
    check('value_json.bridge.cell_spread_v' in disc.stdout, "HA discovery for the cell spread")
    bm = state.get("bridge", {}).get("bms", {})
    check(isinstance(bm.get("voltage_v"), (int, float)) and len(bm.get("cell_voltages_v", [])) == 16
          and "soc_pct" in bm and "charge_mosfet" in bm and bm.get("requests", 0) > 0,
          "bridge.bms carries pack 0's quantities from the quantity table beside the link counters")
    check("homeassistant/sensor/batlink_jk1/bms_voltage_v/config" in ents
          and "value_json.bridge.bms.voltage_v" in json.dumps(ents),
          "HA discovery of pack 0's table quantities (bms_voltage_v ...)")
    check(len(api.get("bridge", {}).get("cells_v", [])) == 16
          and api.get("bridge", {}).get("limits", {}).get("charge_current_a", {}).get("reason"),
          "HTTP /api/state carries the bridge object (16 cells, limits with reasons)")
    check('batlink_bridge_cell_voltage_volts{battery="jk1",cell="16"}' in metrics
          and 'batlink_bridge_limit_reason{battery="jk1",limit="charge_current",reason=' in metrics
          and 'batlink_bridge_mosfet_on{battery="jk1",direction="charge"} 1' in metrics and prom_ok,
          "/metrics: per-cell voltages, MOSFETs, limit reasons; promtool accepts it")
    check('batlink_bms_voltage_volts{battery="jk1"}' in metrics
          and 'batlink_bms_cell_voltage_volts{battery="jk1",cell="16"}' in metrics
          and 'batlink_bms_charge_mosfet{battery="jk1"} 1' in metrics,
          "/metrics: pack 0's quantities from the quantity table (batlink_bms_*)")
    check(not retained_acted and any("ignoring retained command" in e for e in br.err),
          "a retained set/force_charge is ignored with a logged reason")
    check(forced and fc_frame, "set/force_charge on: 0x35C force charge I bit (0x20) sent")
    check(up and low, "set/charge_current_limit 5 lowers CCL to 5 A")
    check(reason.get("reason") == "user", "reason user: %s" % reason)
    check(still == 5, "500 A (above the maximum) and 0x3 did not change it: %s" % still)
    rej = [e for e in br.err if "rejected" in e]
    check(len(rej) == 5, "5 commands rejected with a logged reason: %s" % rej)
    check(expired, "the command expires after command_expiry (2 s) and the ramp brings 30 A back")
    check(rc == 0, "bridge exits 0")


def test_config_errors():
    print("# configuration errors: exit 2 with FILE:LINE: key: reason", flush=True)
    d = tempfile.mkdtemp(prefix="bl_cfg_")
    cases = [
        ("[limits]\nmax_charge_current = 50x\n", 2, "max_charge_current"),
        ("[bridge]\nperiod = 1\n[limits]\n"
         "charge_cell_curve = 3.5:0 3.4:100\n", 4, "charge_cell_curve"),
        ("[limits]\n\ncharge_cell_curve = 3.375:100 3.7:50\n", 3, "charge_cell_curve"),
        ("[limits]\nfoo = 1\n", 2, "foo"),
        ("[bridge]\n# comment\nstale_after = 40\n", 3, "stale_after"),
        ("[limits]\nfloat_cell_voltage = 3.5\n", 2, "float_cell_voltage"),
    ]
    for text, line, key in cases:
        p = os.path.join(d, "c.ini")
        open(p, "w").write(text)
        r = subprocess.run([BATLINK, "bridge", "--config", p, "--bms", "jk:/dev/null",
                            "--can", "canet:127.0.0.1:1"], capture_output=True, text=True,
                           timeout=10)
        want = "%s:%d: %s: " % (p, line, key)
        check(r.returncode == 2 and want in r.stderr,
              "exit 2 and '%s...' for %r: rc %d, %s" % (want, text.split("\n")[-2],
                                                       r.returncode, r.stderr.strip()))
    for args, what in [(["--bms", "jk:/dev/null?baud=12345", "--can", "canet:127.0.0.1:1"],
                        "baud"),
                       (["--bms", "xyz:/dev/null", "--can", "canet:127.0.0.1:1"], "xyz"),
                       (["--bms", "jk:/dev/null", "--can",
                         os.path.join(DATA, "pylontech_us5000_v1.2_vs_v1.3__setfirelabs__v1.2.log")],
                        "cannot transmit"),
                       (["--can", "canet:127.0.0.1:1"], "--bms")]:
        r = subprocess.run([BATLINK, "bridge", *args], capture_output=True, text=True, timeout=10)
        check(r.returncode == 2 and what in r.stderr,
              "usage error exit 2 naming %s: rc %d, %s" % (what, r.returncode, r.stderr.strip()))
    r = subprocess.run([BATLINK, "bridge", "--bms", "jk:/nonexistent/tty", "--can",
                        "canet:127.0.0.1:1"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 1 and "jk:/nonexistent/tty: open: No such file" in r.stderr,
          "missing device: exit 1, '%s'" % r.stderr.strip())
    shutil.rmtree(d, ignore_errors=True)


def test_startup_no_hold():
    print("# start-up: the limits apply after three readings, not after current_hold (30 s) of "
          "charge and discharge disabled", flush=True)
    jk = FakeJK([real_frame()])
    peer = CanetPeer()
    cfg = "[bridge]\nperiod = 0.2\nstale_after = 1\ndead_after = 2.5\n" \
          "[limits]\nmax_charge_current = 30\n"  # current_hold and current_ramp: defaults
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                cfg)
    first = wait_until(lambda: [t for t, b in peer.bursts() if 0x351 in b], 10)
    t0 = first[0] if first else time.monotonic()
    on = wait_until(lambda: [t for t, b in peer.bursts()
                             if b.get(0x35C, b"\0")[0] == 0xC0 and 0x351 in b
                             and s16(b[0x351], 2) == 300 and s16(b[0x351], 4) == 720], 8)
    st = br.last()
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge exits 0")
    check(bool(on) and on[0] - t0 <= 3.0,
          "charge and discharge enabled with 30 A / 72 A %.2f s after the first burst "
          "(start-up readings at 0.2 s; current_hold is 30 s)" % ((on[0] - t0) if on else -1))
    lim = st.get("bridge", {}).get("limits", {})
    check(lim.get("charge_current_a", {}).get("reason") == "config_max",
          "reason config_max, not ramp: %s" % lim.get("charge_current_a"))


def test_unsolicited_replies():
    print("# only a reply to the request in flight is a reading: another program's replies on "
          "the same port are counted as unsolicited", flush=True)
    f = real_frame()
    jk = FakeJK([f], chatter=(f, 0.13))  # a second talker: a reply every 0.13 s, unasked
    peer = CanetPeer()
    hport = free_port()
    br = Bridge(["--bms", "jk:" + jk.path + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port,
                 "--http", "127.0.0.1:%d" % hport], FAST)
    br.wait_for(lambda x: x.get("bridge", {}).get("bms", {}).get("requests", 0) >= 15, 15)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hport, timeout=5) as r:
            metrics = r.read().decode()
    except OSError:
        metrics = ""
    bms = br.bms()
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge exits 0")
    check(bms.get("replies", 99) <= bms.get("requests", 0),
          "readings never outnumber requests: %s replies for %s requests (the other talker "
          "wrote %d)" % (bms.get("replies"), bms.get("requests"), jk.chatty))
    check(bms.get("unsolicited", 0) >= 5, "unsolicited replies counted: %s" % bms.get("unsolicited"))
    check("batlink_bridge_bms_unsolicited_total" in metrics, "/metrics has the unsolicited count")
    check(any("answers no request in flight" in e for e in br.err), "a warning names it")


def test_late_reply():
    print("# a reply after the timeout is not a reading", flush=True)
    # each reply 0.3 s after its request, 0.2 s past the 0.1 s timeout. With requests 0.5 s
    # apart, a reply a loaded machine delayed by a further 0.2 s landed in the next request's
    # window and (the protocol has no request ids) rightly counted there; 1.5 s leaves 1.2 s
    jk = FakeJK([real_frame()], delay=0.3)
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:" + jk.path + "?interval_ms=1500&timeout_ms=100", "--can",
                 "canet:127.0.0.1:%d" % peer.port], FAST)
    br.wait_for(lambda x: x.get("bridge", {}).get("bms", {}).get("requests", 0) >= 6, 30)
    bms = br.bms()
    st = br.last().get("bridge", {}).get("state")
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge exits 0")
    check(bms.get("replies") == 0 and bms.get("timeouts", 0) >= 4
          and bms.get("unsolicited", 0) >= 4,
          "replies 300 ms late with a 100 ms timeout: timeouts and unsolicited, no reading: %s"
          % bms)
    check(st in ("starting", "stale", "dead"), "never ok on late replies (state %s)" % st)


def proc_state(pid):
    """The state letter of /proc/PID/stat ('T' = stopped), or '' once it is gone."""
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def test_late_wake():
    print("# the loop wakes up late, after both the reply and its timeout: the reply arrived "
          "after the deadline as far as anyone can tell, so it is not a reading", flush=True)
    timeout = 0.1
    box = {}

    def freeze(n):
        """Request n: stop the bridge before the reply is written, go on after the deadline."""
        p = box.get("p")
        if p is None or n > 4:
            return None
        os.kill(p.pid, signal.SIGSTOP)
        wait_until(lambda: proc_state(p.pid) in ("T", "t", ""), 10, 0.005)

        def resume():
            time.sleep(timeout * 4)  # the reply is in the port; the deadline passes meanwhile
            os.kill(p.pid, signal.SIGCONT)
        return resume

    jk = FakeJK([real_frame()], on_request=freeze)
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:%s?interval_ms=500&timeout_ms=%d" % (jk.path, timeout * 1000),
                 "--can", "canet:127.0.0.1:%d" % peer.port], FAST)
    box["p"] = br.p
    # four frozen requests, then the fifth and later answered in time
    br.wait_for(lambda x: x.get("bridge", {}).get("bms", {}).get("requests", 0) >= 6, 30)
    bms = br.bms()
    rc = br.stop()
    peer.close()
    jk.close()
    check(rc == 0, "bridge exits 0")
    check(bms.get("timeouts", 0) >= 4 and bms.get("unsolicited", 0) >= 4
          and bms.get("replies", 99) <= bms.get("requests", 0) - 4,
          "4 replies read only after their deadline: timeouts and unsolicited, not readings: %s"
          % bms)


def hogs(n):
    return [subprocess.Popen(["sh", "-c", "while :; do :; done"]) for _ in range(n)]


def test_timeout_under_load():
    print("# the default reply timeout survives a loaded machine: CPU hogs, --no-realtime, a BMS "
          "answering 0.8 s late", flush=True)
    d = tempfile.mkdtemp(prefix="bl_jk_")
    link = os.path.join(d, "jk0")
    hs = hogs(4)
    try:
        s = sim(link, "--reply-delay", "800", "--reply-jitter", "100")
        peer = CanetPeer()
        br = Bridge(["--no-realtime", "--bms", "jk:" + link, "--can",
                     "canet:127.0.0.1:%d" % peer.port])  # default timeout and period
        br.wait_for(lambda x: x.get("bridge", {}).get("bms", {}).get("requests", 0) >= 10, 40)
        bms = br.bms()
        states = set(x.get("bridge", {}).get("state") for t, x in br.states)
        rc = br.stop()
        peer.close()
        s.send_signal(signal.SIGTERM)
        s.wait(5)
    finally:
        for h in hs:
            h.kill()
            h.wait()
    shutil.rmtree(d, ignore_errors=True)
    check(rc == 0, "bridge exits 0")
    check(bms.get("requests", 0) >= 10 and bms.get("timeouts", 1) == 0
          and bms.get("replies", 0) >= bms.get("requests", 0) - 1,
          "no timeout with the default timeout under load: %s" % bms)
    check("stale" not in states and "dead" not in states, "never stale: %s" % states)


def test_sim_help():
    print("# batlink sim --help documents the JK simulator", flush=True)
    r = subprocess.run([BATLINK, "sim", "--help"], capture_output=True, text=True, timeout=10)
    check(r.returncode == 0 and "--bms jk" in r.stdout, "sim --help mentions --bms jk")
    r = subprocess.run([BATLINK, "sim", "--bms", "jk", "--help"], capture_output=True, text=True,
                       timeout=10)
    check(r.returncode == 0 and all(k in r.stdout for k in ("--temp", "--cell-mv", "--charge-ocp",
                                                            "--reply-delay")),
          "sim --bms jk --help lists the knobs")


def test_sim_ready_stop():
    print("# batlink sim --bms jk: once it has printed its link, SIGTERM is a clean stop (exit 0, "
          "link removed)", flush=True)
    bad = []
    for i in range(10):
        d = tempfile.mkdtemp(prefix="bl_jk_")
        link = os.path.join(d, "jk0")
        p = subprocess.Popen([SIM_BATLINK, "sim", "--bms", "jk", link], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        line = p.stdout.readline()  # blocks until the line or the exit; p.wait bounds the rest
        p.send_signal(signal.SIGTERM)  # at once: the window a caller hits under load
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        if not line.startswith(link + " -> ") or rc != 0 or os.path.lexists(link):
            bad.append((line.strip(), rc, os.path.lexists(link)))
        shutil.rmtree(d, ignore_errors=True)
    check(not bad, "10 starts stopped right after the link line: exit 0, link gone: %s" % bad)


def test_sim_derating():
    print("# the JK simulator's knobs drive the derating seen on CAN: cold, hot, BMS over-current",
          flush=True)
    cases = [
        # (sim flags, want CCL A, want DCL A, charge reason) -- [limits] max 30 A charge, 100 A
        # discharge; temperature curves: charge 0/2/5/10 degC -> 0/25/50/100 %, discharge
        # -10/0/5/10 degC -> 0/25/50/100 %, 45 degC -> 50 % (control/config.c defaults)
        (["--temp", "2"], 7.5, 35.0, "temperature"),
        (["--temp", "-5"], 0.0, 12.5, "temperature"),
        (["--temp", "45"], 15.0, 50.0, "temperature"),
        (["--temp", "25", "--charge-ocp", "20", "--discharge-ocp", "40"], 18.0, 36.0,
         "bms_limit"),
        (["--temp", "25", "--cell-mv", "3520"], 0.0, 100.0, "cell_voltage"),
    ]
    for flags, ccl, dcl, why in cases:
        d = tempfile.mkdtemp(prefix="bl_jk_")
        link = os.path.join(d, "jk0")
        s = sim(link, *flags)
        peer = CanetPeer()
        br = Bridge(["--bms", "jk:" + link + BMS_FAST, "--can", "canet:127.0.0.1:%d" % peer.port],
                    FAST)
        ok = br.wait_for(lambda x: x.get("bridge", {}).get("state") == "ok"
                         and not x.get("bridge", {}).get("limits", {}).get(
                             "charge_current_a", {}).get("reason") in (None, "startup"), 10)
        n0 = len(peer.bursts())
        wait_until(lambda: len(peer.bursts()) >= n0 + 2, 5)
        st = br.last()
        last = [b for t, b in peer.bursts() if 0x351 in b]
        rc = br.stop()
        peer.close()
        s.send_signal(signal.SIGTERM)
        s.wait(5)
        shutil.rmtree(d, ignore_errors=True)
        got_c = s16(last[-1][0x351], 2) / 10 if last else None
        got_d = s16(last[-1][0x351], 4) / 10 if last else None
        reason = st.get("bridge", {}).get("limits", {}).get("charge_current_a", {}).get("reason")
        check(ok and rc == 0 and got_c == ccl and got_d == dcl and reason == why,
              "sim %s: 0x351 CCL %s A (want %s), DCL %s A (want %s), reason %s (want %s)"
              % (" ".join(flags), got_c, ccl, got_d, dcl, reason, why))


def test_tx_clock():
    print("# TX clock: 0x351 once a second on its own clock while the BMS answers late and "
          "irregularly (50 .. 850 ms after each request)", flush=True)
    d = tempfile.mkdtemp(prefix="bl_jk_")
    link = os.path.join(d, "jk0")
    s = sim(link, "--reply-delay", "450", "--reply-jitter", "400")
    peer = CanetPeer()
    br = Bridge(["--bms", "jk:" + link, "--can", "canet:127.0.0.1:%d" % peer.port])
    end = time.monotonic() + 40
    while time.monotonic() < end and len([1 for t, b in peer.bursts() if 0x351 in b]) < 14:
        time.sleep(0.05)
    rc = br.stop()
    peer.close()
    s.send_signal(signal.SIGTERM)
    s.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    # the first burst waits for the first reading (and the start-up readings): skip two
    ts = [t for t, b in peer.bursts() if 0x351 in b][2:]
    per = [b - a for a, b in zip(ts, ts[1:])]
    bms = br.last().get("bridge", {}).get("bms", {})
    check(rc == 0, "bridge exits 0")
    check(len(per) >= 10, "periods measured (%d)" % len(per))
    check(bms.get("replies", 0) >= 8, "the slow BMS's replies are readings: %s" % bms)
    worst = max((abs(p - 1.0) for p in per), default=9)
    # The bound leaves room for this Python receiver's own scheduling under a loaded CI
    # (132 ms was seen once beside another bridge test); a clock that follows the BMS's reply
    # time (+- 400 ms here) is off by far more (a mutant that re-phased on each reading: 749 ms).
    check(worst <= 0.3, "every 0x351 period within 1 s +- 300 ms while the BMS reply time "
          "varies by +- 400 ms: worst %.1f ms, periods %s"
          % (worst * 1e3, ["%.3f" % p for p in per]))


def test_sd_notify():
    print("# systemd notifications: READY, STATUS per failsafe state, WATCHDOG, STOPPING", flush=True)
    d = tempfile.mkdtemp(prefix="bl_sd_")
    path = os.path.join(d, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    jk = FakeJK([real_frame()])
    peer = CanetPeer()
    cfg = os.path.join(d, "b.ini")
    open(cfg, "w").write(FAST)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="400000")
    p = subprocess.Popen([BATLINK, "bridge", "--no-realtime", "--json", "--duration", "2",
                          "--config", cfg, "--bms", "jk:" + jk.path + BMS_FAST, "--can",
                          "canet:127.0.0.1:%d" % peer.port], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    msgs = []
    end = time.monotonic() + 15
    while time.monotonic() < end:
        try:
            msgs.append(s.recv(4096).decode())
        except socket.timeout:
            if p.poll() is not None:
                break
    p.wait()
    peer.close()
    jk.close()
    s.close()
    shutil.rmtree(d, ignore_errors=True)
    wd = [m for m in msgs if m == "WATCHDOG=1"]
    check(p.returncode == 0, "bridge under a notify socket exits 0")
    check(bool(msgs) and msgs[0].startswith("READY=1"), "READY=1 first: %s" % msgs[:1])
    check(any(m == "STATUS=BMS ok, transmitting" for m in msgs), "STATUS names the failsafe state")
    check(5 <= len(wd) <= 14, "watchdog pings at half of WATCHDOG_USEC over 2 s: %d" % len(wd))
    check(bool(msgs) and msgs[-1] == "STOPPING=1", "STOPPING=1 last")


if __name__ == "__main__":
    tests = [test_config_errors, test_sim_help, test_sim_ready_stop, test_end_to_end,
             test_manufacturer,
             test_startup_no_hold, test_bad_input, test_unsolicited_replies, test_late_reply,
             test_late_wake, test_failsafe_silence, test_failsafe_on_dead_silent,
             test_failsafe_kill, test_cell_over, test_can_down, test_mqtt_commands,
             test_sd_notify, test_tx_clock, test_sim_derating, test_timeout_under_load]
    only = sys.argv[1:]
    for t in tests:
        if not only or t.__name__ in only:
            t()
    print("%d failure(s)" % len(FAILS))
    sys.exit(1 if FAILS else 0)
