#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The generic BMS link against the simulated BMSes on ptys: `batlink sim --bms jkpb|jbd|daly|
# pylon485|pylon-console PTY` -> `batlink bridge --bms SCHEME:PTY` -> a CANET peer. Each codec's
# readings arrive (several requests merged into one reading), the faults of the simulators (bad
# checksum, truncated reply, cell over its limit, MOSFET off, cold) reach the limits or the
# counters, and a device that answers in another BMS's protocol is named ("this looks like a
# JBD ... reply; the URI says daly").
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_bridge as tb  # noqa: E402  (helpers: Bridge, CanetPeer, check, FAST)
from bltest import free_port, start_mosquitto  # noqa: E402

check = tb.check
FAST = tb.FAST
BMS_FAST = "?interval_ms=300&timeout_ms=250"


def sim(kind, path, *extra):
    p = subprocess.Popen([tb.SIM_BATLINK, "sim", "--bms", kind, "--current", "-10", "--soc", "60",
                          *extra, path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    end = time.monotonic() + 5
    while time.monotonic() < end and not os.path.islink(path):
        time.sleep(0.02)
    return p


def run(kind, scenario=None, wait=None, uri_extra="", timeout=15, after=None):
    """Simulated `kind` BMS (fault `scenario` from the start) -> bridge -> peer; returns the last
    bridge state once `wait` holds (or after timeout), the bridge's stderr lines and rc."""
    d = tempfile.mkdtemp(prefix="bl_bms_")
    link = os.path.join(d, kind + "0")
    s = sim(kind, link, *(["--scenario", scenario] if scenario else []),
            *(["--fault-after", str(after)] if after else []))
    peer = tb.CanetPeer()
    br = tb.Bridge(["--bms", "%s:%s%s%s" % (kind, link, BMS_FAST, uri_extra), "--can",
                    "canet:127.0.0.1:%d" % peer.port], FAST)
    ok = br.wait_for(wait, timeout) if wait else False
    st = br.last()
    rc = br.stop()
    peer.close()
    s.send_signal(signal.SIGTERM)
    s.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    return ok, st, br.err, rc


def limits_up(x):
    return x.get("charge_current_limit_a") == 30 and x.get("discharge_current_limit_a", 0) > 0


def test_readings():
    print("# every simulated BMS: its readings merge over its requests and drive the limits",
          flush=True)
    for kind, steps in (("jbd", 2), ("pylon485", 5)):
        ok, st, err, rc = run(kind, wait=limits_up)
        bms = st.get("bridge", {}).get("bms", {})
        check(ok and rc == 0, "%s: limits up from the simulated BMS (rc %s, %s)" % (kind, rc, bms))
        check(bms.get("type") == kind, "%s: the link names its codec: %s" % (kind, bms.get("type")))
        check(bms.get("readings", 0) >= 3 and bms.get("replies", 0) >= steps * bms["readings"],
              "%s: %d requests per reading, merged: %s" % (kind, steps, bms))
        check(bms.get("timeouts", 1) == 0 and bms.get("checksum_errors", 1) == 0,
              "%s: no timeout, no checksum error: %s" % (kind, bms))
    # Daly: 8 requests (0x95/0x96 multi-frame, 0x98 failure status) into one reading that the
    # limit controller accepts (before 0x98 was read, it had no alarm word: invalid_readings)
    ok, st, err, rc = run("daly", wait=limits_up)
    bms = st.get("bridge", {}).get("bms", {})
    check(ok and rc == 0 and bms.get("timeouts", 1) == 0 and bms.get("invalid_readings") == 0,
          "daly: readings of 8 requests each drive the limits: %s" % bms)
    # the console (monitor only: no alarms or MOSFET status): wake-up at 1200 Bd, 0E 0A until it
    # talks, then `pwr`, then `bat 1` for the one module `pwr` lists (its cells), read beside the
    # CAN by `monitor --bms`
    import json
    d = tempfile.mkdtemp(prefix="bl_con_")
    link = os.path.join(d, "con0")
    sc = sim("pylon-console", link)
    p = subprocess.Popen([tb.BATLINK, "monitor", "--json", "--bms", "pylon-console:" + link +
                          BMS_FAST, "--duration", "20", "sim:"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    got = {}
    end = time.monotonic() + 15
    for line in p.stdout:
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if o.get("bms", {}).get("cell_voltages_v"):
            got = o["bms"]
            break
        if time.monotonic() > end:
            break
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=10)
    sc.send_signal(signal.SIGTERM)
    sc.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(got.get("soc_pct") == 60, "pylon-console: woken up and read by monitor: %s" % got)
    cells = got.get("cell_voltages_v") or []
    mmax = (got.get("module_cell_voltage_max_v") or [None])[0]
    check(len(cells) == 16 and all(2.5 < v < 3.65 for v in cells) and mmax == max(cells) and
          got.get("remaining_ah", 0) > 0,
          "pylon-console: `bat 1` read after `pwr`: 16 cells, the module's highest cell and the "
          "remaining capacity from its table: %s" % {k: got.get(k) for k in (
              "cell_voltages_v", "module_cell_voltage_max_v", "remaining_ah")})


def test_faults():
    print("# the simulators' faults reach the bridge (jbd)", flush=True)
    ok, st, err, rc = run("jbd", "bad-checksum", wait=lambda x: x.get("bridge", {}).get("bms", {})
                          .get("checksum_errors", 0) >= 3)
    check(ok and not st.get("charge_current_limit_a") and
          st.get("bridge", {}).get("bms", {}).get("readings") == 0,
          "bad checksum: counted, no reading, limits 0: "
          "%s" % st.get("bridge", {}).get("bms"))
    ok, st, err, rc = run("jbd", "truncated", wait=lambda x: x.get("bridge", {}).get("bms", {})
                          .get("bad_frames", 0) >= 3)
    check(ok and any("truncated" in e for e in err), "truncated replies counted and named")
    ok, st, err, rc = run("jbd", "cell-over", wait=lambda x: x.get("bridge", {}).get("state") ==
                          "ok" and x.get("discharge_current_limit_a", 0) > 0)
    check(ok and st.get("charge_current_limit_a") == 0,
          "cell over its limit: charge 0, discharge allowed: %s"
          % st.get("bridge", {}).get("limits", {}).get("charge_current_a"))
    ok, st, err, rc = run("jbd", "mosfet-off", wait=lambda x: x.get("bridge", {}).get("state") ==
                          "ok" and x.get("charge_current_limit_a", 0) > 0)
    check(ok and st.get("discharge_current_limit_a") == 0,
          "discharge MOSFET off: discharge 0: %s"
          % st.get("bridge", {}).get("limits", {}).get("discharge_current_a"))
    ok, st, err, rc = run("jbd", "cold", wait=lambda x: x.get("bridge", {}).get("state") == "ok"
                          and x.get("discharge_current_limit_a", 0) > 0)
    check(ok and st.get("charge_current_limit_a") == 0,
          "cold (-5 degC): charge 0: %s"
          % st.get("bridge", {}).get("limits", {}).get("charge_current_a"))
    # Daly: the cell over its limit arrives as 0x98 cell-voltage-high, blocking charge
    ok, st, err, rc = run("daly", "cell-over", timeout=25,
                          wait=lambda x: x.get("bridge", {}).get("state") == "ok" and
                          x.get("discharge_current_limit_a", 0) > 0)
    check(ok and st.get("charge_current_limit_a") == 0 and
          st.get("bridge", {}).get("bms_alarms_raw") == 2,
          "daly cell over (0x98): charge 0, discharge allowed: %s"
          % st.get("bridge", {}).get("limits", {}).get("charge_current_a"))
    ok, st, err, rc = run("pylon485", "silence", after=3, timeout=20,
                          wait=lambda x: x.get("bridge", {}).get("state") == "dead")
    check(ok and st.get("charge_current_limit_a") == 0 and
          st.get("bridge", {}).get("bms", {}).get("timeouts", 0) >= 2,
          "silence: timeouts, stale, limits 0")


def test_jkpb():
    print("# jkpb (trigger protocol and Modbus FC 03): readings and every fault through the "
          "bridge", flush=True)
    for extra, steps in (("", 3), ("?modbus=1", 2)):
        d = tempfile.mkdtemp(prefix="bl_jkpb_")
        link = os.path.join(d, "pb0")
        s = sim("jkpb", link, "--addr", "3", *(["--modbus"] if extra else []))
        peer = tb.CanetPeer()
        uri = "jkpb:%s%s&addr=3%s" % (link, BMS_FAST, "&modbus=1" if extra else "")
        br = tb.Bridge(["--bms", uri, "--can", "canet:127.0.0.1:%d" % peer.port], FAST)
        ok = br.wait_for(limits_up, 20)
        st = br.last()
        rc = br.stop()
        peer.close()
        s.send_signal(signal.SIGTERM)
        s.wait(5)
        shutil.rmtree(d, ignore_errors=True)
        bms = st.get("bridge", {}).get("bms", {})
        check(ok and rc == 0 and bms.get("type") == "jkpb" and bms.get("invalid_readings") == 0
              and bms.get("replies", 0) >= steps * bms.get("readings", 99),
              "jkpb%s at address 3: %d requests per reading drive the limits: %s"
              % (extra, steps, bms))
        check(len(st.get("bridge", {}).get("cells_v", [])) == 16 and st.get("soc_pct") == 60,
              "jkpb%s: 16 cells, SOC 60 %%: %s %s" % (extra, st.get("bridge", {}).get("cells_v"),
                                                     st.get("soc_pct")))
    ok, st, err, rc = run("jkpb", "bad-checksum", wait=lambda x: x.get("bridge", {})
                          .get("bms", {}).get("checksum_errors", 0) >= 3)
    check(ok and not st.get("charge_current_limit_a") and
          st.get("bridge", {}).get("bms", {}).get("readings") == 0,
          "jkpb bad checksum: counted, no reading, limits 0: %s" % st.get("bridge", {}).get("bms"))
    ok, st, err, rc = run("jkpb", "truncated", wait=lambda x: x.get("bridge", {}).get("bms", {})
                          .get("timeouts", 0) + x.get("bridge", {}).get("bms", {})
                          .get("bad_frames", 0) >= 3)
    check(ok and st.get("bridge", {}).get("bms", {}).get("readings") == 0 and
          not st.get("charge_current_limit_a"),
          "jkpb truncated replies: never a reading, limits 0: %s" % st.get("bridge", {}).get("bms"))
    ok, st, err, rc = run("jkpb", "cell-over", timeout=20,
                          wait=lambda x: x.get("bridge", {}).get("state") == "ok" and
                          x.get("discharge_current_limit_a", 0) > 0)
    check(ok and st.get("charge_current_limit_a") == 0,
          "jkpb cell over its limit (alarm bit 4): charge 0, discharge allowed: %s"
          % st.get("bridge", {}).get("limits", {}).get("charge_current_a"))
    ok, st, err, rc = run("jkpb", "mosfet-off", timeout=20,
                          wait=lambda x: x.get("bridge", {}).get("state") == "ok" and
                          x.get("charge_current_limit_a", 0) > 0)
    check(ok and st.get("discharge_current_limit_a") == 0,
          "jkpb discharge MOSFET off: discharge 0: %s"
          % st.get("bridge", {}).get("limits", {}).get("discharge_current_a"))
    ok, st, err, rc = run("jkpb", "cold", timeout=20,
                          wait=lambda x: x.get("bridge", {}).get("state") == "ok" and
                          x.get("discharge_current_limit_a", 0) > 0)
    check(ok and st.get("charge_current_limit_a") == 0,
          "jkpb cold (-5 degC): charge 0: %s"
          % st.get("bridge", {}).get("limits", {}).get("charge_current_a"))
    ok, st, err, rc = run("jkpb", "silence", after=3, timeout=20,
                          wait=lambda x: x.get("bridge", {}).get("state") == "dead")
    check(ok and st.get("charge_current_limit_a") == 0 and
          st.get("bridge", {}).get("bms", {}).get("timeouts", 0) >= 2,
          "jkpb silence: timeouts, stale, limits 0")


def jbd_frame(reg, data):
    body = bytes([0, len(data)]) + data
    ck = (0x10000 - sum(body)) & 0xFFFF
    return bytes([0xDD, reg]) + body + ck.to_bytes(2, "big") + b"\x77"


class FakeForeign:
    """A pty that answers every request with a JBD 0x03 reply, whatever the request."""

    def __init__(self):
        self.master, slave = pty.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.path = os.ttyname(slave)
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        d = bytearray(23)
        d[0:2] = (5220 // 1).to_bytes(2, "big")
        d[19] = 60
        d[20] = 3
        d[21] = 16
        f = jbd_frame(3, bytes(d))
        os.set_blocking(self.master, False)
        while not self.stop:
            try:
                got = os.read(self.master, 256)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            except OSError:
                return
            if got:
                time.sleep(0.02)
                os.write(self.master, f)

    def close(self):
        self.stop = True
        self.t.join(1)
        os.close(self.master)
        os.close(self.slave)


def test_foreign_protocol():
    print("# a device that answers in another BMS's protocol is named", flush=True)
    fk = FakeForeign()
    peer = tb.CanetPeer()
    br = tb.Bridge(["--bms", "daly:" + fk.path + BMS_FAST, "--can",
                    "canet:127.0.0.1:%d" % peer.port], FAST)
    ok = br.wait_for(lambda x: x.get("bridge", {}).get("bms", {}).get("foreign", 0) >= 2, 10)
    st = br.last()
    rc = br.stop()
    peer.close()
    fk.close()
    check(ok and rc == 0, "foreign replies counted: %s" % st.get("bridge", {}).get("bms"))
    check(any("this looks like a JBD" in e and "the URI says daly" in e for e in br.err),
          "the warning names both protocols: %s" % [e for e in br.err if "looks like" in e][:1])
    check(not st.get("charge_current_limit_a") and
          st.get("bridge", {}).get("bms", {}).get("readings") == 0, "never a reading: limits 0")


def bank_run(min_packs, drop_wait):
    """jk sim (-10 A, SOC 60) + jbd sim (-6 A, SOC 40) -> bridge -> CANET peer; once the limits
    are up the jbd pack goes silent (SIGUSR1). Returns (state before, bursts before, state after,
    peer bursts, stderr lines, rc)."""
    d = tempfile.mkdtemp(prefix="bl_bank_")
    la, lb = os.path.join(d, "a0"), os.path.join(d, "b0")
    sa = sim("jk", la)
    sb = subprocess.Popen([tb.SIM_BATLINK, "sim", "--bms", "jbd", "--current", "-6", "--soc",
                           "40", "--scenario", "silence", "--fault-after", "100000", lb],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tb.wait_until(lambda: os.path.islink(lb), 5)
    peer = tb.CanetPeer()
    br = tb.Bridge(["--bms", "jk:" + la + BMS_FAST, "--bms", "jbd:" + lb + BMS_FAST, "--can",
                    "canet:127.0.0.1:%d" % peer.port],
                   FAST + "[bank]\nmin_packs = %d\nvoltage_warn = 0.5\n" % min_packs)
    up = br.wait_for(lambda x: x.get("charge_current_limit_a") == 60, 15)
    before = br.last()
    n0 = len(peer.bursts())
    tb.wait_until(lambda: len(peer.bursts()) >= n0 + 2, 5)
    b_before = peer.bursts()[-1][1] if peer.bursts() else {}
    sb.send_signal(signal.SIGUSR1)  # the jbd pack goes silent
    t0 = time.monotonic()
    dropped = br.wait_for(drop_wait, 10)
    t1 = time.monotonic()
    n1 = len(peer.bursts())
    tb.wait_until(lambda: len(peer.bursts()) >= n1 + 2, 5)
    after = br.last()
    rc = br.stop()
    peer.close()
    for p in (sa, sb):
        p.send_signal(signal.SIGTERM)
        p.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(up, "bank: limits up to 2 x 30 A")
    check(dropped and t1 - t0 <= 1.0 + 0.25 + 0.2 + 0.3,
          "bank: the silent pack is dropped within stale_after + timeout + one period: %.2f s"
          % (t1 - t0))
    return before, b_before, after, peer.bursts(), br.err, rc


def test_bank_end_to_end():
    print("# two simulated BMSes of different kinds (jk + jbd) -> bridge -> CANET: one battery",
          flush=True)
    before, bb, after, bursts, err, rc = bank_run(
        1, lambda x: x.get("bridge", {}).get("bank", {}).get("online") == 1)
    check(rc == 0, "bridge exits 0")
    bank = before.get("bridge", {}).get("bank", {})
    check(bank.get("online") == 2 and bank.get("soc_pct") == 50 and bank.get("current_a") == -16,
          "2 packs online, SOC 50 %% (60 and 40, both 280 Ah), current -10 + -6 A: %s" % bank)
    packs = before.get("bridge", {}).get("packs", [])
    check([p.get("name") for p in packs] == ["pack1", "pack2"] and
          [p.get("link", {}).get("type") for p in packs] == ["jk", "jbd"] and
          all(len(p.get("cell_voltages_v", [])) == 16 for p in packs),
          "each pack with its own quantities (16 cells each) from the quantity table")
    d = bb.get(0x351, bytes(8))
    check(tb.s16(d, 2) == 600, "0x351 CCL 60.0 A = most restrictive 30 A x 2 packs: %d"
          % tb.s16(d, 2))
    d = bb.get(0x355, bytes(4))
    check(tb.u16(d, 0) == 50, "0x355 SOC 50 %%: %d" % tb.u16(d, 0))
    d = bb.get(0x356, bytes(6))
    check(tb.s16(d, 2) == -160, "0x356 current -16.0 A (summed): %d" % tb.s16(d, 2))
    last = bursts[-1][1] if bursts else {}
    d = last.get(0x351, bytes(8))
    check(tb.s16(d, 2) == 300 and after.get("bridge", {}).get("bank", {}).get("online") == 1,
          "one pack silent: dropped at once, CCL 30.0 A x 1 (fell, never rose): %d %s %s"
          % (tb.s16(d, 2), after.get("bridge", {}).get("limits", {}).get("charge_current_a"),
             [(p.get("state"), p.get("charge_current_limit_a")) for p in
              after.get("bridge", {}).get("packs", [])]))
    ccl = [tb.s16(b.get(0x351, bytes(8)), 2) for t, b in bursts if 0x351 in b]
    peak = max(ccl) if ccl else 0
    check(peak <= 600, "CCL never above 2 x 30 A: %d" % peak)


def test_bank_min_packs():
    print("# fewer than min_packs online: the whole bank fails safe", flush=True)
    before, bb, after, bursts, err, rc = bank_run(
        2, lambda x: x.get("bridge", {}).get("bank", {}).get("failsafe") is True)
    check(rc == 0, "bridge exits 0")
    last = bursts[-1][1] if bursts else {}
    d = last.get(0x351, bytes(8))
    check(tb.s16(d, 2) == 0 and tb.s16(d, 4) == 0 and
          "communication_lost" in after.get("alarms", []),
          "min_packs 2, one left: CCL 0, DCL 0, communication alarm: %d %d %s"
          % (tb.s16(d, 2), tb.s16(d, 4), after.get("alarms")))


def test_bank_mqtt_metrics():
    print("# each pack keeps its own HA entities and /metrics series (labelled by pack name)",
          flush=True)
    import json
    import urllib.request
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_sub") is None:
        check(False, "mosquitto and mosquitto_sub are needed: run scripts/setup.sh --test")
        return
    port, hport = free_port(), free_port()
    d = tempfile.mkdtemp(prefix="bl_bankmq_")
    mq = start_mosquitto(d, port)
    la, lb = os.path.join(d, "a0"), os.path.join(d, "b0")
    sa = sim("jk", la)
    sb = sim("jbd", lb, "--soc", "40")
    peer = tb.CanetPeer()
    br = tb.Bridge(["--can", "canet:127.0.0.1:%d" % peer.port, "--mqtt",
                    "mqtt://127.0.0.1:%d" % port, "--http", "127.0.0.1:%d" % hport],
                   FAST.replace("module_count = 2\n", "module_count = 2\ncommands = true\n"
                                "command_expiry = 30\n") +
                   "[mqtt]\ndevice = bank1\n[bms.left]\nuri = jk:%s%s\n"
                   "[bms.right]\nuri = jbd:%s%s\n" % (la, BMS_FAST, lb, BMS_FAST))
    up = br.wait_for(lambda x: x.get("charge_current_limit_a") == 60, 15)
    # a user limit acts on the combined battery, not on pack 0 (which the bank multiplies)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                    "batlink/bank1/set/charge_current_limit", "-m", "10"], check=False)
    user = br.wait_for(lambda x: x.get("charge_current_limit_a") == 10, 10)
    user_st = br.last()
    disc = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", "1", "-W",
                           "5", "-t", "homeassistant/sensor/batlink_bank1/right_soc_pct/config"],
                          capture_output=True, text=True)
    state = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-C", "1", "-W",
                            "5", "-t", "batlink/bank1/state"], capture_output=True, text=True)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hport, timeout=5) as r:
            metrics = r.read().decode()
    except OSError:
        metrics = ""
    rc = br.stop()
    peer.close()
    for p in (sa, sb, mq):
        p.send_signal(signal.SIGTERM)
        p.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(up and rc == 0, "bank from [bms.left] and [bms.right]: limits up, exits 0")
    check(user, "MQTT charge_current_limit 10 A on a bank of 2: the combined CCL is 10 A, not "
          "10 A x 2: %s" % user_st.get("charge_current_limit_a"))
    try:
        cfg = json.loads(disc.stdout)
    except ValueError:
        cfg = {}
    check("packs[1].soc_pct" in cfg.get("value_template", "") and
          cfg.get("unit_of_measurement") == "%",
          "HA discovery: an entity per pack quantity (right_soc_pct): %s" % disc.stdout[:200])
    try:
        st = json.loads(state.stdout)
    except ValueError:
        st = {}
    packs = st.get("bridge", {}).get("packs", [{}, {}])
    check(len(packs) == 2 and packs[1].get("soc_pct") == 40 and packs[0].get("soc_pct") == 60,
          "MQTT state: each pack's own values (SOC 60 and 40)")
    check('batlink_bms_soc_percent{battery="bank1",pack="right"} 40' in metrics and
          'batlink_bms_cell_voltage_volts{battery="bank1",pack="left",cell="16"}' in metrics and
          'batlink_bridge_packs_online{battery="bank1"} 2' in metrics,
          "/metrics: each pack's series labelled by its name, and packs online")


def ini_bank_example():
    """The commented [bms.NAME] / [bank] example of packaging/batlink.ini, uncommented."""
    ini = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "packaging",
                       "batlink.ini")
    lines = open(ini).read().splitlines()
    out, on = [], False
    for ln in lines:
        if ln.startswith("# [bms."):
            on = True
        if on:
            if not ln.startswith("# "):
                break
            out.append(ln[2:])
    return "\n".join(out) + "\n"


def test_bank_ini_example():
    print("# the [bms.NAME] / [bank] example documented in packaging/batlink.ini loads and runs",
          flush=True)
    ex = ini_bank_example()
    check("[bank]" in ex and "min_packs = 2" in ex and "[bms.left]" in ex,
          "packaging/batlink.ini documents [bms.NAME] uri and [bank] min_packs: %r" % ex)
    d = tempfile.mkdtemp(prefix="bl_bankini_")
    la, lb = os.path.join(d, "a0"), os.path.join(d, "b0")
    sa = sim("jk", la)
    sb = sim("jbd", lb, "--soc", "40")
    cfg = ex.replace("/dev/ttyUSB0", la + BMS_FAST).replace("/dev/ttyUSB1", lb + BMS_FAST)
    peer = tb.CanetPeer()
    br = tb.Bridge(["--can", "canet:127.0.0.1:%d" % peer.port], FAST + cfg)
    up = br.wait_for(lambda x: x.get("bridge", {}).get("bank", {}).get("online") == 2, 15)
    st = br.last()
    rc = br.stop()
    peer.close()
    for p in (sa, sb):
        p.send_signal(signal.SIGTERM)
        p.wait(5)
    # the same file is accepted by monitor (which ignores the bridge's sections)
    f = os.path.join(d, "ex.ini")
    open(f, "w").write(ex)
    r = subprocess.run([tb.BATLINK, "monitor", "--config", f, "--duration", "1", "sim:"],
                       capture_output=True, text=True, timeout=30)
    shutil.rmtree(d, ignore_errors=True)
    bank = st.get("bridge", {}).get("bank", {})
    check(up and rc == 0 and bank.get("min_packs") == 2 and
          [p.get("name") for p in st.get("bridge", {}).get("packs", [])] == ["left", "right"],
          "the example: packs left and right online, min_packs 2: %s (rc %s, %s)"
          % (bank, rc, br.err[-2:]))
    check(r.returncode == 0, "monitor --config with the example: exit 0 (rc %d: %s)"
          % (r.returncode, r.stderr.strip()[-200:]))


def test_monitor_bms():
    print("# monitor sim: --bms pylon485:PTY: the stack's per-module detail as entities and "
          "metrics (read-only)", flush=True)
    import json
    import urllib.request
    hport = free_port()
    d = tempfile.mkdtemp(prefix="bl_mon_")
    link = os.path.join(d, "py0")
    sp = sim("pylon485", link)
    p = subprocess.Popen([tb.BATLINK, "monitor", "--json", "--http", "127.0.0.1:%d" % hport,
                          "--bms", "pylon485:" + link + "?interval_ms=300", "--duration", "20",
                          "sim:"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = {}
    end = time.monotonic() + 15
    for line in p.stdout:
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if "module_soc_pct" in o.get("bms", {}):
            got = o["bms"]
            break
        if time.monotonic() > end:
            break
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % hport, timeout=5) as r:
            metrics = r.read().decode()
        with urllib.request.urlopen("http://127.0.0.1:%d/api/state" % hport, timeout=5) as r:
            api = json.loads(r.read().decode())
    except (OSError, ValueError):
        metrics, api = "", {}
    p.send_signal(signal.SIGTERM)
    p.communicate(timeout=10)
    sp.send_signal(signal.SIGTERM)
    sp.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(got.get("module_soc_pct") == [60] and len(got.get("module_voltage_v", [])) == 1,
          "the module's SOC and voltage beside the CAN state: %s"
          % {k: v for k, v in got.items() if k.startswith("module")})
    check('batlink_bms_soc_percent{battery=' in metrics and
          'module="1"} ' in metrics, "/metrics: the BMS's series, per module")
    check("bms" in api.get("bridge", {}), "/api/state carries the BMS object")


def test_inverter_rs485():
    print("# --inverter-rs485: the bridge answers a polling inverter (batlink sim --inverter "
          "pylon485) with the CAN output's limits, and fails safe the same way", flush=True)
    import json
    d = tempfile.mkdtemp(prefix="bl_inv_")
    lj, li = os.path.join(d, "j0"), os.path.join(d, "inv0")
    sj = subprocess.Popen([tb.SIM_BATLINK, "sim", "--bms", "jk", "--current", "-10", "--scenario",
                           "silence", "--fault-after", "100000", lj], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    si = subprocess.Popen([tb.SIM_BATLINK, "sim", "--inverter", "pylon485", "--interval", "0.3",
                           li], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tb.wait_until(lambda: os.path.islink(lj) and os.path.islink(li), 5)
    lines = []

    def reader():
        for line in si.stdout:
            try:
                lines.append((time.monotonic(), json.loads(line)))
            except ValueError:
                pass
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    peer = tb.CanetPeer()
    br = tb.Bridge(["--bms", "jk:" + lj + BMS_FAST, "--inverter-rs485", li, "--can",
                    "canet:127.0.0.1:%d" % peer.port], FAST)

    def last():
        return lines[-1][1] if lines else {}
    up = tb.wait_until(lambda: last().get("max_charge_a") == 30 and
                       last().get("m92", {}).get("charge_current_a") == 30, 15)
    st_up = last()
    bursts_up = len(peer.bursts())
    sj.send_signal(signal.SIGUSR1)  # the BMS goes silent
    t0 = time.monotonic()
    down = tb.wait_until(lambda: last().get("m92", {}).get("charge_current_a") == 0, 10)
    t1 = time.monotonic()
    st_down = last()
    bstate = br.last().get("bridge", {})
    rc = br.stop()
    peer.close()
    for p in (sj, si):
        p.send_signal(signal.SIGTERM)
        p.wait(5)
    shutil.rmtree(d, ignore_errors=True)
    check(up and st_up.get("answered") == 7 and st_up.get("max_discharge_a", 0) > 0,
          "RS485 answers: 0x42/0x44/0x47/0x51/0x60/0x4F/0x92 all answered, 0x47 and 0x92 carry "
          "the CAN limits (30 A): %s" % st_up)
    check(st_up.get("modules_reported") == 1 and st_up.get("device_name") == "batlink" and
          st_up.get("protocol_version") == "2.0",
          "0x60 system basic information (one module) and 0x4F version (VER 20) decoded: %s"
          % {k: st_up.get(k) for k in ("device_name", "modules_reported", "protocol_version")})
    check(bursts_up > 0, "CAN output runs at the same time (%d bursts)" % bursts_up)
    check(down and t1 - t0 <= 1.0 + 0.3 + 0.6 + 0.5,
          "BMS silent: RS485 limits 0 within stale_after + timeout + a poll: %.2f s" % (t1 - t0))
    check(st_down.get("m92", {}).get("charge_enable") is False and
          st_down.get("m92", {}).get("discharge_enable") is False and
          st_down.get("m92", {}).get("discharge_current_a") == 0,
          "failsafe over RS485: both directions disabled, 0 A: %s" % st_down.get("m92"))
    check(bstate.get("inverter_rs485", {}).get("answers", 0) >= 10 and rc == 0,
          "the bridge counts its RS485 answers: %s" % bstate.get("inverter_rs485"))


def test_uri_errors():
    print("# URI options are checked against the codec", flush=True)
    import subprocess as sp
    for uri, want in (("nope:/dev/null", "unknown BMS type"), ("jbd:/dev/null?addr=3", "no bus address"),
                      ("daly:/dev/null?modbus=1", "jkpb"), ("daly:/dev/null?addr=1", "addr"),
                      # no cells, alarms or status: the bridge cannot enforce per-cell limits
                      ("pylon-console:/dev/null", "monitor only")):
        r = sp.run([tb.BATLINK, "bridge", "--bms", uri, "--can", "canet:127.0.0.1:1"],
                   capture_output=True, text=True, timeout=10)
        check(r.returncode != 0 and want in r.stderr, "%s rejected naming %r: %s"
              % (uri, want, r.stderr.strip()[:200]))


if __name__ == "__main__":
    tests = [test_uri_errors, test_readings, test_faults, test_jkpb, test_foreign_protocol,
             test_bank_end_to_end, test_bank_min_packs, test_bank_mqtt_metrics,
             test_bank_ini_example,
             test_monitor_bms, test_inverter_rs485]
    only = sys.argv[1:]
    for t in tests:
        if not only or t.__name__ in only:
            t()
    print("%d failure(s)" % len(tb.FAILS))
    sys.exit(1 if tb.FAILS else 0)
