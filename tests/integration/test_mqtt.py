# SPDX-License-Identifier: MIT
# test_mqtt.py: the MQTT output against a real mosquitto broker on a free 127.0.0.1 port and a real
# subscriber (mosquitto_sub): Home Assistant discovery configs, state values, deadband/intervals,
# implausible values, availability (link loss, clean exit, last will), re-announce on
# homeassistant/status, broker down at start-up, killed and restarted mid-run, refusing us.
# Battery values: tests/data/pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.txt
# (SOC 26 %, SOH 100 %, 48.98 V, 0.0 A, 33.0 degC, CVL 53.2 V, CCL/DCL 370 A, 10 modules, PYLON).
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("BL_BUILD_DIR", "build")
DRIVER = os.path.join(BUILD, "tests", "out_driver")
DEV = "house"
STATE = f"batlink/{DEV}/state"
AVAIL = f"batlink/{DEV}/availability"

ALARMS = ["overvoltage", "undervoltage", "overtemperature", "undertemperature",
          "discharge_overcurrent", "charge_overcurrent", "system_error",
          "charge_overtemperature", "charge_undertemperature", "contactor_fault",
          "short_circuit", "cell_imbalance", "general_alarm", "communication_lost"]
WARNINGS = ["high_voltage", "low_voltage", "high_temperature", "low_temperature",
            "discharge_high_current", "charge_high_current", "internal_communication_fail",
            "charge_high_temperature", "charge_low_temperature", "contactor_warning",
            "short_circuit_warning", "cell_imbalance_warning", "general_warning"]
# key -> (component, device_class, unit, state_class); per transports.md section 6.4
EXPECTED = {
    "soc_pct": ("sensor", "battery", "%", "measurement"),
    "soh_pct": ("sensor", "battery", "%", "measurement"),
    "voltage_v": ("sensor", "voltage", "V", "measurement"),
    "current_a": ("sensor", "current", "A", "measurement"),
    "power_w": ("sensor", "power", "W", "measurement"),
    "temperature_c": ("sensor", "temperature", "°C", "measurement"),
    "charge_voltage_limit_v": ("sensor", "voltage", "V", "measurement"),
    "charge_current_limit_a": ("sensor", "current", "A", "measurement"),
    "discharge_current_limit_a": ("sensor", "current", "A", "measurement"),
    "discharge_voltage_limit_v": ("sensor", "voltage", "V", "measurement"),
    "charge_enable": ("binary_sensor", None, None, None),
    "discharge_enable": ("binary_sensor", None, None, None),
    "force_charge_1": ("binary_sensor", None, None, None),
    "force_charge_2": ("binary_sensor", None, None, None),
    "full_charge_request": ("binary_sensor", None, None, None),
    "module_count": ("sensor", None, None, "measurement"),
    "manufacturer": ("sensor", None, None, None),
    "cell_voltage_min_v": ("sensor", "voltage", "V", "measurement"),
    "cell_voltage_max_v": ("sensor", "voltage", "V", "measurement"),
    "cell_temperature_min_c": ("sensor", "temperature", "°C", "measurement"),
    "cell_temperature_max_c": ("sensor", "temperature", "°C", "measurement"),
    "capacity_ah": ("sensor", None, "Ah", "measurement"),
    "link_state": ("sensor", "enum", None, None),
    "link_frames": ("sensor", None, None, "total_increasing"),
    "link_errors": ("sensor", None, None, "total_increasing"),
}
for a in ALARMS:
    EXPECTED["alarm_" + a] = ("binary_sensor", "problem", None, None)
for w in WARNINGS:
    EXPECTED["warning_" + w] = ("binary_sensor", "problem", None, None)
assert len(EXPECTED) == 52

CAPTURE = ["set soc_pct 26", "set soh_pct 100", "set voltage_v 48.98", "set current_a 0",
           "set temperature_c 33", "set charge_voltage_limit_v 53.2",
           "set charge_current_limit_a 370", "set discharge_current_limit_a 370",
           "set discharge_voltage_limit_v 46", "set module_count 10", "manufacturer PYLON",
           "set charge_enable 1", "set discharge_enable 1", "clear"]

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


class Broker:
    def __init__(self, tmp, port, extra=""):
        self.conf = os.path.join(tmp, f"mosquitto-{port}.conf")
        with open(self.conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\npersistence false\n")
            f.write(extra or "allow_anonymous true\n")
        self.port = port
        self.log = open(os.path.join(tmp, f"broker-{port}.log"), "ab")
        self.p = None

    def start(self):
        self.p = subprocess.Popen(["mosquitto", "-c", self.conf], stdout=self.log,
                                  stderr=subprocess.STDOUT)
        procs.append(self.p)
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()


class Sub:
    """mosquitto_sub -v on batlink/# and homeassistant/#; collects (time, topic, payload)."""

    def __init__(self, port):
        self.msgs = []
        self.lock = threading.Lock()
        self.p = subprocess.Popen(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-v", "-q", "1",
             "-t", "batlink/#", "-t", "homeassistant/#"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        procs.append(self.p)
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.3)

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8").rstrip("\n")
            topic, _, payload = line.partition(" ")
            with self.lock:
                self.msgs.append((time.time(), topic, payload))

    def snapshot(self):
        with self.lock:
            return list(self.msgs)

    def wait(self, pred, timeout, since=0.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in self.snapshot():
                if m[0] >= since and pred(m):
                    return m
            time.sleep(0.05)
        return None

    def states(self, since=0.0):
        return [json.loads(p) for t0, t, p in self.snapshot() if t == STATE and t0 >= since]

    def stop(self):
        self.p.terminate()
        self.p.wait()


class Driver:
    def __init__(self, port, *extra):
        self.p = subprocess.Popen([DRIVER, "--mqtt", f"mqtt://127.0.0.1:{port}", "--device", DEV,
                                   *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        procs.append(self.p)

    def send(self, *lines):
        for line in lines:
            self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()

    def stats(self):
        self.send("stats")
        line = self.p.stdout.readline().decode()
        return dict(kv.split("=") for kv in line.split()[1:])

    def quit(self, timeout=5):
        self.send("quit")
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = None
        err = self.p.stderr.read().decode()
        return rc, err


def is_state(pred):
    return lambda m: m[1] == STATE and pred(json.loads(m[2]))


def test_discovery_state_availability(tmp):
    port = free_port()
    broker = Broker(tmp, port)
    broker.start()
    sub = Sub(port)
    drv = Driver(port, "--min", "0.3", "--max", "4")
    drv.send(*CAPTURE)
    st = sub.wait(is_state(lambda s: s.get("soc_pct") == 26 and s.get("module_count") == 10), 5)
    check(st is not None, "state with the capture's values published")
    if st:
        s = json.loads(st[2])
        want = {"soc_pct": 26, "soh_pct": 100, "voltage_v": 48.98, "current_a": 0, "power_w": 0,
                "temperature_c": 33, "charge_voltage_limit_v": 53.2,
                "charge_current_limit_a": 370, "discharge_current_limit_a": 370,
                "discharge_voltage_limit_v": 46, "charge_enable": True,
                "discharge_enable": True, "alarms": [], "warnings": [], "module_count": 10,
                "manufacturer": "PYLON", "profile": "pylontech"}
        for k, v in want.items():
            check(s.get(k) == v, f"state {k} = {s.get(k)!r}, want {v!r}")
        check(s["link"]["state"] == "up", "link up in state")
        check(abs(s["ts"] - time.time()) < 5, "ts is Unix seconds")

    # discovery: 52 retained configs, checked key by key
    time.sleep(0.5)
    configs = {}
    for _, t, p in sub.snapshot():
        if t.startswith("homeassistant/") and t.endswith("/config"):
            configs[t] = p
    check(len(configs) == 52, f"52 discovery configs, got {len(configs)}")
    for key, (comp, dc, unit, sc) in EXPECTED.items():
        topic = f"homeassistant/{comp}/batlink_{DEV}/{key}/config"
        if not check(topic in configs, f"config {topic}"):
            continue
        c = json.loads(configs[topic])
        check(c.get("unique_id") == f"batlink_{DEV}_{key}", f"{key}: unique_id")
        check(c.get("state_topic") == STATE, f"{key}: state_topic")
        check(c.get("device_class") == dc, f"{key}: device_class {c.get('device_class')}")
        check(c.get("unit_of_measurement") == unit, f"{key}: unit {c.get('unit_of_measurement')}")
        check(c.get("state_class") == sc, f"{key}: state_class {c.get('state_class')}")
        check(c.get("device", {}).get("identifiers") == [f"batlink_{DEV}"], f"{key}: device")
        check(c.get("origin", {}).get("name") == "batlink", f"{key}: origin")
        check("value_template" in c and "name" in c, f"{key}: name/value_template")
        if key.startswith("link_"):
            check("expire_after" in c and "availability_topic" not in c, f"{key}: expire_after")
        else:
            check(c.get("availability_topic") == AVAIL, f"{key}: availability_topic")
        if key.startswith(("alarm_", "warning_")):
            check(c.get("entity_category") == "diagnostic", f"{key}: diagnostic")
            name = key.split("_", 1)[1]
            check(f"'{name}' in value_json" in c["value_template"], f"{key}: template")
    dev = json.loads(configs.get(f"homeassistant/sensor/batlink_{DEV}/soc_pct/config", "{}"))
    check(dev.get("device", {}).get("manufacturer") == "PYLON", "device manufacturer from 0x35E")
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "online", 1) is not None, "online")

    # deadband: SOC 26 -> 26.5 is below the 1 % deadband: nothing before max_interval (4 s)
    time.sleep(0.6)
    t0 = time.time()
    drv.send("set soc_pct 26.5")
    time.sleep(1.0)
    check(len(sub.states(t0)) == 0, f"no publish inside the deadband, got {sub.states(t0)}")
    # beyond the deadband: published after at most min_interval
    t0 = time.time()
    drv.send("set soc_pct 28")
    st = sub.wait(is_state(lambda s: s.get("soc_pct") == 28), 2, t0)
    check(st is not None and st[0] - t0 < 0.8, "change beyond deadband published within min")
    # max_interval: with nothing changing, one publish per 4 s
    t0 = time.time()
    time.sleep(4.6)
    n = len(sub.states(t0))
    check(n == 1, f"one keep-alive publish per max_interval, got {n}")

    # alarms and implausible values
    t0 = time.time()
    drv.send("alarm overvoltage", "set soc_pct 150")
    st = sub.wait(is_state(lambda s: s.get("alarms") == ["overvoltage"] and "soc_pct" not in s),
                  2, t0)
    check(st is not None, "alarm published, implausible SOC 150 % omitted")
    check(all(s.get("soc_pct") != 150 for s in sub.states(t0)), "SOC 150 % never published")
    stats = drv.stats()
    check(int(stats["implausible"]) >= 1, f"implausible counted: {stats}")

    # availability follows the CAN link: offline while down, back online
    t0 = time.time()
    drv.send("link down")
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "offline", 2, t0) is not None,
          "offline on link down")
    st = sub.wait(is_state(lambda s: s["link"]["state"] == "down"), 2, t0)
    check(st is not None, "link down in state at once")
    t0 = time.time()
    drv.send("link up")
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "online", 2, t0) is not None,
          "online when the link is back")

    # Home Assistant restarts: configs re-sent on homeassistant/status online
    time.sleep(0.3)
    t0 = time.time()
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t",
                    "homeassistant/status", "-m", "online"], check=True)
    time.sleep(1.0)
    again = [t for t1, t, _ in sub.snapshot() if t1 >= t0 and t.endswith("/config")]
    check(len(again) == 52, f"52 configs re-announced, got {len(again)}")
    check(len(sub.states(t0)) >= 1, "state re-sent after HA online")

    # clean exit: retained offline
    t0 = time.time()
    rc, err = drv.quit()
    check(rc == 0, f"driver exit 0, got {rc}: {err}")
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "offline", 2, t0) is not None,
          "offline on clean exit")
    out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-t", AVAIL,
                          "-C", "1", "-W", "2"], capture_output=True, text=True)
    check(out.stdout.strip() == "offline", f"retained availability offline: {out.stdout!r}")
    sub.stop()
    broker.kill()


def test_will(tmp):
    port = free_port()
    broker = Broker(tmp, port)
    broker.start()
    drv = Driver(port)
    drv.send(*CAPTURE)
    sub = Sub(port)
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "online", 3) is not None, "online")
    t0 = time.time()
    drv.p.kill()
    drv.p.wait()
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "offline", 3, t0) is not None,
          "last will offline when the process dies")
    sub.stop()
    broker.kill()


def test_broker_down_killed_restarted(tmp):
    port = free_port()
    broker = Broker(tmp, port)
    # down at start-up: the driver starts first and keeps running
    drv = Driver(port, "--min", "0.2", "--max", "30")
    drv.send(*CAPTURE)
    time.sleep(1.5)
    check(drv.p.poll() is None, "still running with the broker down")
    broker.start()
    sub = Sub(port)
    st = sub.wait(is_state(lambda s: s.get("soc_pct") == 26), 6)
    check(st is not None, "connected and published after the broker came up")

    # killed mid-run: changes during the outage are not a backlog
    broker.kill()
    sub.stop()
    for soc in ("30", "31", "32"):
        drv.send("set soc_pct " + soc)
        time.sleep(0.5)
    time.sleep(0.5)
    check(drv.p.poll() is None, "still running while the broker is gone")
    broker.start()
    t0 = time.time()
    sub = Sub(port)
    st = sub.wait(is_state(lambda s: s.get("soc_pct") == 32), 8, t0 - 1)
    check(st is not None, "current state (SOC 32) published after reconnect")
    time.sleep(0.5)
    socs = [s.get("soc_pct") for s in sub.states()]
    check(30 not in socs and 31 not in socs, f"no backlog after reconnect: {socs}")
    confs = [t for _, t, _ in sub.snapshot() if t.endswith("/config")]
    check(len(set(confs)) == 52, f"discovery re-sent to the new broker: {len(set(confs))}")
    check(len(confs) == 52, f"discovery sent once after reconnect: {sorted(confs)}")
    check(sub.wait(lambda m: m[1] == AVAIL and m[2] == "online", 1) is not None,
          "online after reconnect")
    stats = drv.stats()
    check(stats["connected"] == "1" and int(stats["connects"]) == 2 and
          int(stats["disconnects"]) == 1, f"reconnect counted: {stats}")
    rc, err = drv.quit()
    check(rc == 0, f"exit 0 after the outage: {rc}")
    check("connection lost" in err, f"loss reported on stderr: {err!r}")
    sub.stop()
    broker.kill()


def test_refused(tmp):
    port = free_port()
    broker = Broker(tmp, port, "allow_anonymous false\n")
    broker.start()
    drv = Driver(port)
    drv.send(*CAPTURE)
    time.sleep(3.5)  # attempts at 0, 1 and 3 s
    check(drv.p.poll() is None, "still running while the broker refuses us")
    stats = drv.stats()
    check(stats["connected"] == "0" and int(stats["refused"]) >= 2, f"refusals: {stats}")
    t0 = time.time()
    rc, err = drv.quit()
    check(rc == 0 and time.time() - t0 < 3, f"quick clean exit while refused: {rc}")
    check("not authori" in err.lower(), f"refusal reason reported: {err!r}")
    broker.kill()


def test_bad_url():
    for url in ("http://x", "mqtt://", "mqtt://h:0", "mqtt://h:99999", "mqtt://h:1x",
                "mqtt://h/topic"):
        r = subprocess.run([DRIVER, "--mqtt", url], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=5)
        check(r.returncode == 2 and "mqtt" in r.stderr, f"bad URL {url}: rc {r.returncode}")
    r = subprocess.run([DRIVER, "--mqtt", "mqtt://127.0.0.1:1", "--device", "a b"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=5)
    check(r.returncode == 2 and "device" in r.stderr, "bad device name")


def test_tls(tmp):
    """mqtts:// with a CA file: a private CA signs the broker's certificate for 127.0.0.1."""
    if shutil.which("openssl") is None:
        check(False, "openssl is needed for the TLS part: run scripts/setup.sh --test")
        return
    d = os.path.join(tmp, "tls")
    os.mkdir(d)

    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    for name in ("ca", "other"):
        ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
             f"/CN=batlink test {name}", "-keyout", f"{name}.key", "-out", f"{name}.crt")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
         "srv.key", "-out", "srv.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
         "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "srv.crt")
    # mosquitto started as root drops to its own user: it must be able to read these
    for path in [tmp, d] + [os.path.join(d, f) for f in os.listdir(d)]:
        os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
    port = free_port()
    broker = Broker(tmp, port, f"allow_anonymous true\ncafile {d}/ca.crt\ncertfile {d}/srv.crt\n"
                    f"keyfile {d}/srv.key\n")
    broker.start()
    got = []

    def tls_sub():
        r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "--cafile",
                            f"{d}/ca.crt", "-t", STATE, "-C", "1", "-W", "6"],
                           capture_output=True, text=True)
        got.append(r.stdout)
    th = threading.Thread(target=tls_sub)
    th.start()
    time.sleep(0.5)
    drv = subprocess.Popen([DRIVER, "--mqtt", f"mqtts://127.0.0.1:{port}", "--cafile",
                            f"{d}/ca.crt", "--device", DEV], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    procs.append(drv)
    drv.stdin.write(b"set soc_pct 26\n")
    drv.stdin.flush()
    th.join()
    check(got and '"soc_pct":26' in got[0], f"state over TLS: {got}")
    drv.stdin.write(b"quit\n")
    drv.stdin.flush()
    check(drv.wait(5) == 0, "TLS driver exit 0")

    # a CA that did not sign the broker: the handshake fails, we keep retrying, exit stays clean
    bad = subprocess.Popen([DRIVER, "--mqtt", f"mqtts://127.0.0.1:{port}", "--cafile",
                            f"{d}/other.crt"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
    procs.append(bad)
    time.sleep(2.5)
    check(bad.poll() is None, "running while the TLS handshake fails")
    bad.stdin.write(b"stats\nquit\n")
    bad.stdin.flush()
    out, err = bad.communicate(timeout=5)
    check(bad.returncode == 0 and "connected=0" in out.decode(), f"bad CA: {out} {err}")
    # an unreadable CA file is a start-up error (exit 1), named in the message
    r = subprocess.run([DRIVER, "--mqtt", f"mqtts://127.0.0.1:{port}", "--cafile",
                        f"{d}/missing.crt"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=5)
    check(r.returncode == 1 and "missing.crt" in r.stderr, f"missing CA: {r.returncode} {r.stderr}")
    broker.kill()


def test_through_monitor(tmp):
    """The real command: batlink monitor with the simulated battery going silent after 3 s."""
    batlink = os.environ.get("BATLINK", os.path.join(BUILD, "batlink"))
    if not os.access(batlink, os.X_OK):
        check(False, "batlink binary not found at %s" % batlink)
        return
    port = free_port()
    broker = Broker(tmp, port)
    broker.start()
    sub = Sub(port)
    ini = os.path.join(tmp, "m.ini")
    with open(ini, "w") as f:
        f.write("[mqtt]\ndevice = garage\nmin_interval = 0.5\n[monitor]\nstale_after = 1\n"
                "down_after = 2\n")
    t0 = time.time()
    p = subprocess.run([batlink, "monitor", "--config", ini, "--mqtt", f"mqtt://127.0.0.1:{port}",
                        "--duration", "7", "sim:?scenario=silent-after-3"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, f"monitor exit 0: {p.returncode} {p.stderr}")
    time.sleep(0.3)
    msgs = sub.snapshot()
    topic = "batlink/garage/state"
    avail = "batlink/garage/availability"
    states = [(t1, json.loads(pl)) for t1, t, pl in msgs if t == topic]
    check(any(0 <= s.get("soc_pct", -1) <= 100 and "voltage_v" in s and "manufacturer" in s
              for _, s in states), "monitor published the simulated battery's state")
    confs = {t for _, t, _ in msgs if t.startswith("homeassistant/") and "batlink_garage" in t}
    check(len(confs) == 52, f"monitor: 52 discovery configs, got {len(confs)}")
    av = [(round(t1 - t0, 1), pl) for t1, t, pl in msgs if t == avail]
    # online at start, offline when the link goes down (3 s + 2 s), offline again on exit
    check(av and av[0][1] == "online", f"monitor: online first: {av}")
    check(any(pl == "offline" and dt < 6.8 for dt, pl in av), f"offline on link down: {av}")
    check(av and av[-1][1] == "offline", f"monitor: offline last: {av}")
    check(any(s["link"]["state"] == "down" for _, s in states), "link down published")
    sub.stop()
    broker.kill()


def main():
    for tool in ("mosquitto", "mosquitto_sub", "mosquitto_pub"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} missing: run scripts/setup.sh --test")
            return 1
    if not os.access(DRIVER, os.X_OK):
        print(f"FAIL: {DRIVER} not built")
        return 1
    tmp = tempfile.mkdtemp(prefix="bl-mqtt-")
    try:
        test_bad_url()
        test_discovery_state_availability(tmp)
        test_will(tmp)
        test_broker_down_killed_restarted(tmp)
        test_refused(tmp)
        test_tls(tmp)
        test_through_monitor(tmp)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
