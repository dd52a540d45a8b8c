# SPDX-License-Identifier: MIT
# test_keepalive_missing.py: issue 13 item 3 live: `batlink monitor` fed by `batlink sim` over a
# CAN-to-Ethernet link (canet-listen on 127.0.0.1), publishing to a real mosquitto broker on
# 127.0.0.1 and serving /metrics:
# - a Pylontech HV battery whose inverter never polls (sim without --inverter): after the grace
#   time (10 s of battery frames) the Home Assistant problem sensor inverter_keepalive_missing is
#   ON (its discovery config, the state it reads) and /metrics says so;
# - the same battery with its inverter polling (sim --inverter): the sensor stays OFF well past
#   the grace time;
# - a Pylontech LV battery without 0x305 (some inverters of that family send none,
#   can-profiles.md 1.8): information (link.inverter_heartbeat.status "not_sent"), never ON.
# Every wait is on a condition with a generous deadline (bltest.py), never a fixed sleep.
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bltest import wait_until  # noqa: E402

BATLINK = os.environ.get("BATLINK", "build/batlink")
CODE = "inverter_keepalive_missing"
DEADLINE = 90.0  # a loaded machine is slow; the grace itself is 10 s of the frames' clock

failures = []
procs = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


class Sub:
    """mosquitto_sub -v on batlink/# and homeassistant/#: (topic, payload) as they come."""

    def __init__(self, port):
        self.msgs = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v",
                                   "-q", "1", "-t", "batlink/#", "-t", "homeassistant/#"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(self.p)
        threading.Thread(target=self._read, daemon=True).start()
        probe = "batlink/_probe/%d" % os.getpid()  # subscribed once a probe comes back

        def probed():
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", probe,
                            "-m", "x"], check=False)
            return wait_until(lambda: any(t == probe for t, _ in self.snapshot()), 0.5)
        if not wait_until(probed, 30):
            raise RuntimeError("mosquitto_sub did not subscribe")

    def _read(self):
        for raw in self.p.stdout:
            topic, _, payload = raw.decode("utf-8").rstrip("\n").partition(" ")
            with self.lock:
                self.msgs.append((topic, payload))

    def snapshot(self):
        with self.lock:
            return list(self.msgs)

    def states(self, dev):
        out = []
        for t, p in self.snapshot():
            if t == "batlink/%s/state" % dev:
                try:
                    out.append(json.loads(p))
                except ValueError:
                    pass
        return out

    def config(self, dev, code):
        topic = "homeassistant/binary_sensor/batlink_%s/%s/config" % (dev, code)
        got = [p for t, p in self.snapshot() if t == topic and p]
        return json.loads(got[-1]) if got else None


def problems(state):
    return state.get("link", {}).get("inverter_problems", [])


def hb_status(state):
    return state.get("link", {}).get("inverter_heartbeat", {}).get("status")


def metrics(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            return r.read().decode()
    except OSError:
        return ""


class Case:
    """One simulated battery (sim, canet-listen) and one monitor (canet client, MQTT, HTTP)."""

    def __init__(self, tmp, dev, profile, inverter, broker_port):
        self.dev = dev
        self.sim_port = free_port()
        self.http_port = free_port()
        argv = [BATLINK, "sim", "--profile", profile]
        argv += ["--inverter"] if inverter else ["--no-inverter"]
        self.sim = subprocess.Popen(argv + ["canet-listen:127.0.0.1:%d" % self.sim_port],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(self.sim)
        if not wait_until(lambda: listening(self.sim_port), 30):
            raise RuntimeError("%s: the simulator does not listen" % dev)
        ini = os.path.join(tmp, dev + ".ini")
        with open(ini, "w") as f:
            f.write("[mqtt]\ndevice = %s\nmin_interval = 0.5\n[http]\nlisten = 127.0.0.1:%d\n"
                    % (dev, self.http_port))
        self.mon = subprocess.Popen([BATLINK, "monitor", "--config", ini, "--mqtt",
                                     "mqtt://127.0.0.1:%d" % broker_port,
                                     "canet:127.0.0.1:%d" % self.sim_port],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(self.mon)

    def stop(self):
        for p in (self.mon, self.sim):
            if p.poll() is None:
                p.send_signal(2)
        rcs = []
        for p in (self.mon, self.sim):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            rcs.append(p.returncode)
        return rcs


def span(states):
    """Seconds of the frames' clock covered by the states published with a profile."""
    ts = [s["ts"] for s in states if s.get("profile") and "ts" in s]
    return ts[-1] - ts[0] if ts else 0.0


def main():
    if shutil.which("mosquitto") is None or shutil.which("mosquitto_sub") is None:
        print("SKIP: mosquitto not installed")
        return 77
    tmp = tempfile.mkdtemp(prefix="bl_kamiss_")
    bport = free_port()
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\npersistence false\nallow_anonymous true\n" % bport)
    log = open(os.path.join(tmp, "broker.log"), "ab")
    broker = subprocess.Popen(["mosquitto", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
    procs.append(broker)
    cases = []
    try:
        if not wait_until(lambda: listening(bport), 30):
            raise RuntimeError("mosquitto did not start listening")
        sub = Sub(bport)
        hv = Case(tmp, "hv", "pylontech-hv", False, bport)
        hvinv = Case(tmp, "hvinv", "pylontech-hv", True, bport)
        lv = Case(tmp, "lv", "pylontech", False, bport)
        cases = [hv, hvinv, lv]

        # 1. Pylon HV, no inverter poll: ON after the grace, OFF before it
        on = wait_until(lambda: any(CODE in problems(s) for s in sub.states("hv")), DEADLINE)
        st = sub.states("hv")
        check(on, "hv without poll: %s in link.inverter_problems (last state %s)"
              % (CODE, st[-1:] if st else "none"))
        check(any(s.get("profile") == "pylontech-hv" and CODE not in problems(s) for s in st),
              "hv: the sensor was OFF within the grace time: %s" % [problems(s) for s in st])
        first_on = next((s for s in st if CODE in problems(s)), None)
        first = next((s for s in st if s.get("profile")), None)
        if first_on and first:
            check(first_on["ts"] - first["ts"] >= 9.0,
                  "hv: ON after about 10 s of battery frames, not at once: %.1f s"
                  % (first_on["ts"] - first["ts"]))
            check(hb_status(first_on) == "missing", "hv: heartbeat status missing: %s" % first_on)
        cfg = sub.config("hv", CODE)
        check(cfg is not None, "hv: a Home Assistant discovery config for %s" % CODE)
        if cfg is not None:
            check(cfg.get("device_class") == "problem" and
                  cfg.get("state_topic") == "batlink/hv/state" and
                  ("'%s' in (value_json.link.inverter_problems" % CODE) in
                  cfg.get("value_template", ""),
                  "hv: the problem sensor reads link.inverter_problems of the state: %s" % cfg)
        want = ['batlink_inverter_problem{battery="hv",kind="%s"} 1' % CODE,
                'batlink_inverter_heartbeat_status{battery="hv",status="missing"} 1']
        ok = wait_until(lambda: all(w in metrics(hv.http_port).splitlines() for w in want),
                        DEADLINE)
        check(ok, "hv: /metrics shows the alarm: %s" % [
            ln for ln in metrics(hv.http_port).splitlines() if "inverter" in ln])

        # 2. Pylon HV with its inverter polling: OFF, well past the grace time
        past = wait_until(lambda: span(sub.states("hvinv")) >= 14.0, DEADLINE)
        st = sub.states("hvinv")
        check(past, "hvinv: 14 s of states published (%.1f s)" % span(st))
        check(all(CODE not in problems(s) for s in st),
              "hvinv: never ON with the poll: %s" % [problems(s) for s in st if problems(s)])
        check(st and hb_status(st[-1]) == "seen" and
              st[-1]["link"]["inverter_heartbeat"].get("seen") is True,
              "hvinv: the poll is seen: %s" % (st[-1].get("link") if st else None))
        m = metrics(hvinv.http_port).splitlines()
        check('batlink_inverter_problem{battery="hvinv",kind="%s"} 0' % CODE in m and
              'batlink_inverter_heartbeat_status{battery="hvinv",status="seen"} 1' in m,
              "hvinv: /metrics: %s" % [ln for ln in m if "inverter" in ln])

        # 3. Pylon LV without 0x305: information, never a problem
        info = wait_until(lambda: any(hb_status(s) == "not_sent" for s in sub.states("lv")),
                          DEADLINE)
        st = sub.states("lv")
        check(info, "lv: heartbeat status not_sent (%s)" % [hb_status(s) for s in st][-3:])
        check(all(not problems(s) for s in st),
              "lv: no problem sensor ON: %s" % [problems(s) for s in st if problems(s)])
        m = metrics(lv.http_port).splitlines()
        check('batlink_inverter_problem{battery="lv",kind="%s"} 0' % CODE in m and
              'batlink_inverter_heartbeat_status{battery="lv",status="not_sent"} 1' in m,
              "lv: /metrics: %s" % [ln for ln in m if "inverter" in ln])
    finally:
        for c in cases:
            rcs = c.stop()
            check(rcs[0] == 0, "%s: monitor exits 0 on SIGINT: %s %s"
                  % (c.dev, rcs, c.mon.stderr.read().decode()[-400:]))
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("test_keepalive_missing: %d failure(s)" % len(failures))
        return 1
    print("test_keepalive_missing: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
