#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_site.py: the site inputs end to end. `batlink sim --sma-em` sends real Speedwire multicast
# inside a network namespace this test creates (lo up, multicast route on lo) and
# `batlink site-dump sma-em:lo` receives it: export/import values, malformed datagrams counted
# with their reason, the serial filter, two listeners at once (SO_REUSEADDR), silence -> stale ->
# down. `batlink sim --goodwe` on 127.0.0.1 (UDP and Modbus/TCP) read by `site-dump goodwe:`:
# charging/discharging signs, silence -> timeouts after exactly 1 + retries requests per cycle
# with one request in flight, bad CRC / bad MBAP / crafted bad answers counted, stale on silence.
# Waits on conditions with generous deadlines, never on fixed sleeps.
import json
import os
import queue
import re
import socket
import struct
import subprocess
import sys
import threading
import time

BATLINK = os.environ.get("BATLINK", "")
FAILS = []
ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1")


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


class Proc:
    """A child process whose stdout lines (JSON) and stderr lines are collected by threads."""

    def __init__(self, args, prefix=()):
        self.p = subprocess.Popen(list(prefix) + args, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=ENV)
        self.lines = queue.Queue()
        self.out = []
        self.err = []
        threading.Thread(target=self._read, args=(self.p.stdout, self.out, True),
                         daemon=True).start()
        threading.Thread(target=self._read, args=(self.p.stderr, self.err, False),
                         daemon=True).start()

    def _read(self, f, store, is_out):
        for line in f:
            store.append(line.rstrip("\n"))
            if is_out:
                self.lines.put(line)

    def wait_json(self, pred, timeout=20.0):
        """Return the first JSON line (dict) satisfying pred, or None at the deadline."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.p.poll() is not None and self.lines.empty():
                    return None
                continue
            try:
                o = json.loads(line)
            except ValueError:
                check(False, "not JSON: %r" % line)
                continue
            if pred(o):
                return o
        return None

    def wait_err(self, regex, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for e in list(self.err):
                if re.search(regex, e):
                    return e
            if self.p.poll() is not None:
                time.sleep(0.05)
                return next((e for e in self.err if re.search(regex, e)), None)
            time.sleep(0.05)
        return None

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        try:
            rc = self.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        time.sleep(0.05)  # let the reader threads drain
        return rc


def inp(o, i=0):
    return o["site"]["inputs"][i]


# ------------------------------------------------------------------ SMA Energy Meter

def make_netns():
    name = "blsite%d" % os.getpid()
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("skip sma-em part: cannot create a network namespace (%s)" % e, file=sys.stderr)
        return None
    for cmd in (["link", "set", "lo", "up"], ["link", "set", "lo", "multicast", "on"],
                ["route", "add", "224.0.0.0/4", "dev", "lo"]):
        subprocess.run(["ip", "-n", name] + cmd, check=True)
    return name


def sma_tests(ns):
    pre = ["ip", "netns", "exec", ns]
    # export, then import: values and signs
    sim = Proc([BATLINK, "sim", "--sma-em", "lo", "--period-ms", "100", "--scenario",
                "export,import", "--each", "1.5", "--export-w", "1234.5"], pre)
    dump = Proc([BATLINK, "site-dump", "sma-em:lo"], pre)
    dump2 = Proc([BATLINK, "site-dump", "sma-em:lo?serial=1900000001"], pre)  # SO_REUSEADDR
    o = dump.wait_json(lambda o: o["site"].get("grid_power_w") == -1235)
    check(o is not None, "sma-em: export of 1234.5 W seen as grid_power_w -1235")
    if o:
        check(inp(o)["link"] == "up" and inp(o)["serial"] == 1900000001, "sma-em: link up, serial")
        check(o["site"]["grid_import_kwh"] >= 4000, "sma-em: import energy counter")
    o = dump.wait_json(lambda o: o["site"].get("grid_power_w") == 800)
    check(o is not None, "sma-em: import of 800 W seen as grid_power_w +800")
    check(dump2.wait_json(lambda o: "grid_power_w" in o["site"]) is not None,
          "sma-em: a second listener on the same port receives too (SO_REUSEADDR)")
    sim.stop()
    dump2.stop()

    # silence: up -> stale (3 s) -> down (10 s); the stale input's values drop out
    o = dump.wait_json(lambda o: o.get("event") == "link" and inp(o)["link"] == "stale", 15)
    check(o is not None and "grid_power_w" not in o["site"],
          "sma-em: silent meter goes stale and its grid power drops out")
    o = dump.wait_json(lambda o: o.get("event") == "link" and inp(o)["link"] == "down", 20)
    check(o is not None, "sma-em: silent meter goes down")
    check(dump.wait_err(r"sma-em:lo: link stale") is not None, "sma-em: stale is logged")
    dump.stop()

    # malformed datagrams: counted with the reason, never crash; the good ones still decode
    sim = Proc([BATLINK, "sim", "--sma-em", "lo", "--period-ms", "50", "--scenario",
                "malformed"], pre)
    dump = Proc([BATLINK, "site-dump", "sma-em:lo"], pre)
    o = dump.wait_json(lambda o: inp(o)["bad"] >= 6 and inp(o)["foreign"] >= 2)
    check(o is not None, "sma-em: malformed and foreign datagrams counted")
    if o:
        check(o["site"].get("grid_power_w") == 800, "sma-em: good datagrams between bad ones")
        by = inp(o).get("bad_by", {})
        check(by.get("oversized", 0) >= 1 and by.get("malformed", 0) >= 1,
              "sma-em: bad datagrams counted by what was wrong: %s" % by)
    for reason in ("tag length runs past the end of the datagram",
                   "datagram longer than BL_SMA_EM_MAX_LEN", "at byte"):
        check(dump.wait_err(re.escape(reason), 5) is not None, "sma-em: warning names: " + reason)
    sim.stop()
    rc = dump.stop()
    check(rc == 0, "sma-em: site-dump exits 0 on SIGTERM (rc %s)" % rc)
    summary = [e for e in dump.err if e.startswith("site-dump: sma-em:lo:")]
    check(summary and re.search(r"\d+ good, \d+ bad, \d+ foreign", summary[0]),
          "sma-em: counters in the exit summary")
    warn = [e for e in dump.err if "bad datagrams" in e and "suppressed" not in e]
    check(len(warn) <= 10, "sma-em: warnings rate-limited to 10 per window (%d lines)" % len(warn))

    # raw crafted datagrams from a socket of our own (a fresh listener: its own rate limit)
    dump = Proc([BATLINK, "site-dump", "sma-em:lo"], pre)
    raw = ("import socket, time\n"
           "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
           "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)\n"
           "for i in range(50):\n"
           "    for d in (b'', b'SMA', b'XMA\\0' + bytes(60), b'SMA\\0' + bytes(40)):\n"
           "        s.sendto(d, ('239.12.255.254', 9522))\n"
           "    time.sleep(0.1)\n")
    raw_p = Proc([sys.executable, "-c", raw], pre)
    check(dump.wait_err(r'no "SMA\\0" signature at byte 0') is not None,
          "sma-em: a datagram with the wrong magic is reported")
    check(dump.wait_err(r"shorter than the smallest") is not None,
          "sma-em: a truncated datagram is reported")
    raw_p.stop()
    check(dump.stop() == 0, "sma-em: site-dump survives crafted datagrams")

    # serial filter: two meters, one chosen
    a = Proc([BATLINK, "sim", "--sma-em", "lo", "--period-ms", "100", "--serial", "111",
              "--scenario", "import"], pre)
    b = Proc([BATLINK, "sim", "--sma-em", "lo", "--period-ms", "100", "--serial", "222",
              "--scenario", "export"], pre)
    dump = Proc([BATLINK, "site-dump", "sma-em:lo?serial=222"], pre)
    o = dump.wait_json(lambda o: inp(o)["good"] >= 5 and inp(o)["foreign"] >= 3)
    check(o is not None and o["site"].get("grid_power_w") == -1500 and inp(o)["serial"] == 222,
          "sma-em: ?serial=222 takes only that meter, the other counted as foreign")
    # without serial=: the first meter heard is used, the other is foreign and named in a warning
    dump2 = Proc([BATLINK, "site-dump", "sma-em:lo"], pre)
    o = dump2.wait_json(lambda o: inp(o)["good"] >= 5 and inp(o)["foreign"] >= 3)
    check(o is not None and o["site"]["grid_power_w"] == (800 if inp(o)["serial"] == 111 else -1500),
          "sma-em: without serial= one meter is used, never a mix")
    check(dump2.wait_err(r"ignoring meter serial (111|222), using (111|222); choose one with "
                         r"\?serial=N") is not None, "sma-em: the second meter is named")
    if o:
        check(all(json.loads(l)["site"]["inputs"][0].get("serial") == inp(o)["serial"]
                  for l in dump2.out), "sma-em: the chosen serial never changes")
    for p in (a, b, dump, dump2):
        p.stop()


# ------------------------------------------------------------------ GoodWe

def start_gw(*args):
    sim = Proc([BATLINK, "sim", "--goodwe", "0"] + list(args))
    line = sim.wait_err(r"listening on 127\.0\.0\.1:\d+")
    if not check(line is not None, "goodwe sim starts"):
        return sim, 0
    return sim, int(re.search(r"127\.0\.0\.1:(\d+)", line).group(1))


def gw_tests():
    for proto in ("udp", "tcp"):
        sim, port = start_gw("--proto", proto, "--scenario", "charging,discharging", "--each",
                             "2")
        dump = Proc([BATLINK, "site-dump", "--timeout-ms", "300",
                     "goodwe:127.0.0.1:%d?proto=%s&period=300" % (port, proto)])
        o = dump.wait_json(lambda o: o["site"].get("other_inverter_battery_power_w") == 2000)
        check(o is not None, "goodwe/%s: charging 5 A at 400 V = +2000 W" % proto)
        if o:
            check(o["site"].get("other_inverter_soc_pct") == 60, "goodwe/%s: SOC" % proto)
            check(inp(o).get("model") == "GW10K-ET", "goodwe/%s: model read" % proto)
        o = dump.wait_json(lambda o: o["site"].get("other_inverter_battery_power_w") == -1600)
        check(o is not None, "goodwe/%s: discharging 4 A = -1600 W" % proto)
        dump.stop()
        sim.stop()

        # silence: exactly 1 + retries requests per failed cycle, one in flight; stale
        sim, port = start_gw("--proto", proto, "--scenario", "charging,silence", "--each", "1.5")
        dump = Proc([BATLINK, "site-dump", "--timeout-ms", "200", "--retries", "3",
                     "goodwe:127.0.0.1:%d?proto=%s&period=300" % (port, proto)])
        check(dump.wait_json(lambda o: "other_inverter_battery_power_w" in o["site"]) is not None,
              "goodwe/%s: a reading before the silence" % proto)
        o = dump.wait_json(lambda o: o.get("event") == "link" and inp(o)["link"] == "stale")
        check(o is not None and "other_inverter_battery_power_w" not in o["site"],
              "goodwe/%s: silent inverter goes stale, its battery power drops out" % proto)
        check(dump.wait_err(r"no answer to the read of the .* after 4 tries of 0\.2 s")
              is not None, "goodwe/%s: timeout after the retries is reported" % proto)
        dump.stop()
        sim.stop()

        sim, port = start_gw("--proto", proto, "--scenario", "silence")
        dump = Proc([BATLINK, "site-dump", "--timeout-ms", "100", "--retries", "3",
                     "goodwe:127.0.0.1:%d?proto=%s&period=200" % (port, proto)])
        check(dump.wait_err(r"no answer to the read", 20) is not None,
              "goodwe/%s: silence reported" % proto)
        dump.stop()
        sim.stop()
        t = [e for e in dump.err if "timeouts" in e and e.startswith("site-dump:")]
        r = [e for e in sim.err if "requests" in e]
        if check(t and r, "goodwe/%s: summaries printed" % proto):
            nt = int(re.search(r"(\d+) timeouts", t[0]).group(1))
            nr = int(re.search(r"(\d+) requests", r[0]).group(1))
            check(nt >= 1 and 4 * nt <= nr <= 4 * nt + 4,
                  "goodwe/%s: %d requests for %d timed-out cycles (want 4 each, one in flight)"
                  % (proto, nr, nt))

        # malformed answers: bad CRC (udp) / MBAP protocol id (tcp)
        sim, port = start_gw("--proto", proto, "--scenario", "malformed")
        dump = Proc([BATLINK, "site-dump", "--timeout-ms", "200",
                     "goodwe:127.0.0.1:%d?proto=%s&period=300" % (port, proto)])
        want = "Modbus answer CRC mismatch" if proto == "udp" else "MBAP protocol id is not 0"
        check(dump.wait_err(re.escape(want)) is not None,
              "goodwe/%s: malformed answer reported: %s" % (proto, want))
        dump.stop()
        sim.stop()
        cls = "checksum" if proto == "udp" else "malformed"
        last = json.loads(dump.out[-1]) if dump.out else None
        check(last is not None and last["event"] == "exit" and
              inp(last).get("bad_by", {}).get(cls, 0) >= 1 and inp(last)["good"] == 0,
              "goodwe/%s: counted as %s in the exit line: %s" % (proto, cls, dump.out[-1:]))
        check(not dump.out or all("other_inverter_battery_power_w" not in json.loads(l)["site"]
                                  for l in dump.out),
              "goodwe/%s: malformed answers never give a value" % proto)

    # a silent peer of our own records when requests come: bursts of exactly 1 + retries
    # requests, never closer than the timeout (one request in flight), then the next period
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(0.2)
    dump = Proc([BATLINK, "site-dump", "--timeout-ms", "100", "--retries", "3",
                 "goodwe:127.0.0.1:%d?period=1000" % peer.getsockname()[1]])
    stamps = []
    end = time.monotonic() + 30
    while time.monotonic() < end and len(stamps) < 12:
        try:
            peer.recvfrom(64)
            stamps.append(time.monotonic())
        except socket.timeout:
            pass
    dump.stop()
    peer.close()
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    bursts, n = [], 1
    for g in gaps:
        if g > 0.35:
            bursts.append(n)
            n = 1
        else:
            n += 1
    check(len(stamps) == 12 and bursts[:2] == [4, 4],
          "goodwe: 4 requests per silent cycle (1 + 3 retries), bursts %s" % bursts)
    check(gaps and min(gaps) >= 0.095,
          "goodwe: one request in flight: no two requests closer than the 100 ms timeout "
          "(closest %.3f s)" % (min(gaps) if gaps else -1))

    # crafted bad UDP answers from a peer of our own
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.settimeout(0.2)
    port = peer.getsockname()[1]
    dump = Proc([BATLINK, "site-dump", "--timeout-ms", "150",
                 "goodwe:127.0.0.1:%d?period=200" % port])

    def crc16(b):
        c = 0xFFFF
        for x in b:
            c ^= x
            for _ in range(8):
                c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        return c

    bad = [
        b"\xaa\x55\xf7\x03\x42" + bytes(10),  # truncated
        bytes(600),  # oversized
        b"\xaa\x55\x7f\x03\x02\x00\x01" + b"\x00\x00",  # another address
        b"\x55\xaa" + bytes(20),  # no AA 55
    ]
    exc = b"\xf7\x83\x02"
    bad.append(b"\xaa\x55" + exc + struct.pack("<H", crc16(exc)))  # exception 2
    end = time.monotonic() + 20
    i = 0
    while time.monotonic() < end and i < 3 * len(bad):
        try:
            req, addr = peer.recvfrom(64)
        except socket.timeout:
            continue
        check(len(req) == 8 and req[0] == 0xF7 and req[1] == 3 and
              crc16(req[:6]) == struct.unpack("<H", req[6:])[0],
              "goodwe: request is an RTU read with a valid CRC: %s" % req.hex())
        peer.sendto(bad[i % len(bad)], addr)
        i += 1
    peer.close()
    for reason in ("shorter than its byte count", "longer than the largest Modbus answer",
                   "from another address", "does not start with AA 55",
                   "Modbus exception 2"):
        check(dump.wait_err(re.escape(reason), 5) is not None, "goodwe: reported: " + reason)
    rc = dump.stop()
    check(rc == 0, "goodwe: site-dump survives crafted answers (rc %s)" % rc)
    check(not dump.out or all("other_inverter_battery_power_w" not in json.loads(l)["site"]
                              for l in dump.out), "goodwe: crafted answers never give a value")

    # usage errors name the problem
    r = subprocess.run([BATLINK, "site-dump", "goodwe:127.0.0.1?proto=serial"],
                       capture_output=True, text=True, env=ENV)
    check(r.returncode == 2 and "expected udp or tcp" in r.stderr, "goodwe: bad proto is usage")
    r = subprocess.run([BATLINK, "site-dump", "sma-em:nosuchif0"], capture_output=True, text=True,
                       env=ENV)
    check(r.returncode == 2 and "no network interface" in r.stderr, "sma-em: bad iface is usage")


def main():
    if not BATLINK:
        print("BATLINK not set", file=sys.stderr)
        return 77
    gw_tests()
    ns = make_netns() if os.geteuid() == 0 else None
    if ns:
        try:
            sma_tests(ns)
        finally:
            subprocess.run(["ip", "netns", "del", ns])
    else:
        print("note: sma-em multicast part skipped (needs root for a network namespace)",
              file=sys.stderr)
    if FAILS:
        print("%d check(s) failed" % len(FAILS), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
