#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_site_outputs.py: the site inputs in `batlink monitor` (--site, [site] inputs): the `site`
# object of the JSON lines (other inverter's battery power, battery power on CAN, their
# difference, per-input link), MQTT with Home Assistant discovery (energy as total_increasing,
# the state carries `site`), /metrics and /api/state, the terminal summary line, and a stale input
# dropping its values. Peers: `batlink sim --goodwe` on 127.0.0.1, mosquitto on a free 127.0.0.1
# port. Waits on conditions with generous deadlines, never on fixed sleeps.
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bltest import Run, free_port, wait_until  # noqa: E402

BATLINK = os.environ.get("BATLINK", "")
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def json_lines(run):
    out = []
    for line in list(run.lines):
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def start_gw(*args):
    sim = Run([BATLINK, "sim", "--goodwe", "0"] + list(args))
    ok = wait_until(lambda: re.search(r"listening on 127\.0\.0\.1:\d+", sim.stderr()))
    if not check(ok, "goodwe sim starts"):
        return sim, 0
    return sim, int(re.search(r"127\.0\.0\.1:(\d+)", sim.stderr()).group(1))


def find(run, pred):
    for o in json_lines(run):
        if pred(o):
            return o
    return None


def test_json_and_http(tmp):
    sim, port = start_gw("--scenario", "charging,silence", "--each", "8")
    hport = free_port()
    uri = "goodwe:127.0.0.1:%d?period=300" % port
    mon = Run([BATLINK, "monitor", "--json", "--http", str(hport), "--site", uri,
               "sim:?current=10"])
    site = lambda o: o.get("site", {})  # noqa: E731
    ok = wait_until(lambda: find(mon, lambda o: "battery_power_difference_w" in site(o)))
    check(ok, "monitor --json: site object with the difference CAN - other inverter")
    o = find(mon, lambda o: "battery_power_difference_w" in site(o))
    if o:
        s = o["site"]
        check(s["other_inverter_battery_power_w"] == 2000, "other inverter charging +2000 W")
        check(s["battery_power_difference_w"] == s["battery_power_w"] - 2000,
              "difference = battery_power_w - other_inverter_battery_power_w")
        check(s["inputs"][0]["uri"] == uri and s["inputs"][0]["link"] == "up", "input link up")
        check(s.get("other_inverter_soc_pct") == 60, "other inverter SOC")

    def get(path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (hport, path), timeout=5) as r:
            return r.read().decode()
    got = {}

    def metrics_ok():
        try:
            got["m"] = get("/metrics")
        except OSError:
            return False
        return "batlink_site_other_inverter_battery_power_watts 2000" in got["m"]
    check(wait_until(metrics_ok), "/metrics: the other inverter's battery power")
    m = got.get("m", "")
    check(re.search(r'batlink_site_input_up\{input="goodwe:[^"]*",kind="goodwe",state="up"\} 1',
                    m) is not None, "/metrics: batlink_site_input_up")
    check("batlink_site_other_inverter_soc_ratio 0.60" in m, "/metrics: SOC as a ratio")
    st = json.loads(get("/api/state"))
    check(st.get("site", {}).get("other_inverter_battery_power_w") == 2000, "/api/state: site")

    # silence: the input goes stale, its values drop out, the stale is logged
    ok = wait_until(lambda: find(mon, lambda o: site(o).get("inputs", [{}])[0].get("link") ==
                                 "stale" and "other_inverter_battery_power_w" not in site(o)))
    check(ok, "silent inverter: stale, its battery power dropped")
    check(wait_until(lambda: "link stale" in mon.stderr()), "stale is logged")
    rc, _, err = mon.stop()
    check(rc == 0, "monitor exits 0 (rc %s): %s" % (rc, err[-500:]))
    sim.stop()


def test_summary_line():
    sim, port = start_gw("--scenario", "discharging")
    mon = Run([BATLINK, "monitor", "--site", "goodwe:127.0.0.1:%d?period=300" % port,
               "sim:?current=-10"])
    ok = wait_until(lambda: re.search(r"other inverter -1600 W\s+difference [+-]\d+ W",
                                      "".join(mon.lines)) is not None)
    check(ok, "terminal summary: battery (CAN) next to the other inverter, and the difference")
    mon.stop()
    sim.stop()


class Broker:
    def __init__(self, tmp):
        self.port = free_port()
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\npersistence false\nallow_anonymous true\n" % self.port)
        self.p = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        if not wait_until(up):
            raise RuntimeError("mosquitto did not start")

    def stop(self):
        self.p.terminate()
        self.p.wait()


def test_mqtt(tmp):
    if shutil.which("mosquitto") is None:
        print("note: mqtt part skipped (no mosquitto)", file=sys.stderr)
        return
    br = Broker(tmp)
    sub = Run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(br.port), "-v", "-t", "batlink/#",
               "-t", "homeassistant/#"])
    sim, port = start_gw("--scenario", "charging")
    ini = os.path.join(tmp, "b.ini")
    with open(ini, "w") as f:
        f.write("[site]\ninputs = goodwe:127.0.0.1:%d?period=300\n" % port)
    mon = Run([BATLINK, "monitor", "--config", ini, "--mqtt", "mqtt://127.0.0.1:%d" % br.port,
               "sim:"])
    cfg_topic = "homeassistant/sensor/batlink_battery/site_grid_import_kwh/config"

    def lines():
        return "".join(sub.lines).splitlines()

    def config():
        for line in lines():
            if line.startswith(cfg_topic + " "):
                return json.loads(line[len(cfg_topic) + 1:])
        return None
    check(wait_until(lambda: config() is not None), "HA discovery of the grid import energy")
    c = config()
    if c:
        check(c.get("state_class") == "total_increasing" and c.get("device_class") == "energy"
              and c.get("unit_of_measurement") == "kWh", "grid import energy: total_increasing")
        check("availability_topic" not in c, "site entities do not follow the battery link")

    def state():
        for line in reversed(lines()):
            if line.startswith("batlink/battery/state "):
                o = json.loads(line.split(" ", 1)[1])
                if o.get("site", {}).get("other_inverter_battery_power_w") == 2000:
                    return o
        return None
    check(wait_until(lambda: state() is not None), "MQTT state carries site (+2000 W)")
    rc, _, err = mon.stop()
    check(rc == 0, "monitor with [site] inputs exits 0: %s" % err[-300:])
    sim.stop()
    sub.stop()
    br.stop()


def pub(port, topic, payload, retain=False):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-m",
                    payload] + (["-r"] if retain else []), check=True)


def test_mqtt_input(tmp):
    """[site] *_topic: plain numbers and JSON paths, kW, bad payloads counted (never used), stale
    after topic_timeout."""
    if shutil.which("mosquitto") is None:
        print("note: mqtt input part skipped (no mosquitto)", file=sys.stderr)
        return
    br = Broker(tmp)
    ini = os.path.join(tmp, "t.ini")
    with open(ini, "w") as f:
        f.write("[site]\ngrid_power_topic = home/grid\n"
                "other_inverter_battery_power_topic = home/inv2\n"
                "other_inverter_battery_power_json_path = battery.power\n"
                "other_inverter_battery_power_unit = kW\ntopic_timeout = 2\n")
    mon = Run([BATLINK, "monitor", "--json", "--config", ini, "--mqtt",
               "mqtt://127.0.0.1:%d" % br.port, "sim:"])
    site = lambda o: o.get("site", {})  # noqa: E731

    def seen(pred):
        return find(mon, pred) is not None

    # the subscription exists once the monitor is connected: publish retained, so order is free
    pub(br.port, "home/grid", "-1234.4", retain=True)
    pub(br.port, "home/inv2", '{"battery": {"power": "1.5"}}', retain=True)
    check(wait_until(lambda: seen(lambda o: site(o).get("grid_power_w") == -1234 and
                                  site(o).get("other_inverter_battery_power_w") == 1500)),
          "mqtt input: plain number (W) and a JSON path with a numeric string in kW")
    for bad in ("abc", "", '{"battery": {}}', "1e12", "nan"):
        pub(br.port, "home/grid" if bad in ("abc", "1e12", "nan") else "home/inv2", bad)
    pub(br.port, "home/grid", "800")

    def bad_counted():
        o = find(mon, lambda o: any(i.get("uri") == "mqtt:home/grid" and i.get("bad", 0) >= 3
                                    for i in site(o).get("inputs", [])))
        return o is not None
    check(wait_until(bad_counted), "mqtt input: bad payloads counted")
    check(wait_until(lambda: seen(lambda o: site(o).get("grid_power_w") == 800)),
          "mqtt input: a good value after bad ones is used")
    check(wait_until(lambda: "not a number" in mon.stderr()), "bad payload warning names why")
    # no more messages: stale after topic_timeout (2 s), the value drops out
    check(wait_until(lambda: seen(lambda o: "grid_power_w" not in site(o) and any(
        i.get("uri") == "mqtt:home/grid" and i.get("link") == "stale"
        for i in site(o).get("inputs", [])))), "mqtt input: stale after topic_timeout")
    rc, _, err = mon.stop()
    check(rc == 0, "monitor with mqtt topics exits 0: %s" % err[-300:])
    r = subprocess.run([BATLINK, "monitor", "--config", ini, "sim:"], capture_output=True,
                       text=True)
    check(r.returncode == 2 and "needs [mqtt] url" in r.stderr, "topics without [mqtt] url: usage")
    br.stop()


def test_usage():
    r = subprocess.run([BATLINK, "monitor", "--site", "bogus:x", "sim:"], capture_output=True,
                       text=True)
    check(r.returncode == 2, "a bad --site URI is a usage error (rc %d): %s" %
          (r.returncode, r.stderr))
    r = subprocess.run([BATLINK, "monitor", "--site", "goodwe:a,goodwe:b", "sim:"],
                       capture_output=True, text=True)
    check(r.returncode == 2 and "one URI per --site" in r.stderr, "--site takes one URI")


def main():
    if not BATLINK:
        print("BATLINK not set", file=sys.stderr)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        test_usage()
        test_json_and_http(tmp)
        test_summary_line()
        test_mqtt(tmp)
        test_mqtt_input(tmp)
    if FAILS:
        print("%d check(s) failed" % len(FAILS), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
