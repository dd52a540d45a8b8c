# SPDX-License-Identifier: MIT
# test_fleet.py: many sites on existing engines (README "Many sites"). A batlink monitor with
# [mqtt] site publishes to a site broker (mosquitto on 127.0.0.1) that bridges batlink/# to a
# central broker (a second mosquitto) with the shipped packaging/mosquitto-site-bridge.conf:
# state, availability and discovery arrive centrally under batlink/<site>/<device>/...; the site
# keeps working while the central broker is down; when it is back it gets the current (retained)
# state, not the states published meanwhile. /metrics carries site="..." on every sample.
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt as tm  # noqa: E402  (Broker, Sub, free_port, wait_for, check)

SRC = os.environ.get("BL_SOURCE_DIR", ".")
BATLINK = tm.BATLINK
SITE, DEV = "north-1", "garage"
STATE = f"batlink/{SITE}/{DEV}/state"
AVAIL = f"batlink/{SITE}/{DEV}/availability"
T_CAP = 1700000000.0


def burst(t, soc):
    """One Pylontech cycle (six frames 1 ms apart) at capture time T_CAP + t with SOC `soc`."""
    frames = ["351#1402C012C012C201", "355#%02X006400" % soc, "356#7A13F2FE6B01",
              "359#0000000006504E", "35C#C000", "35E#50594C4F4E202020"]
    return "".join("(%.6f) can0 %s\n" % (T_CAP + t + i * 0.001, f) for i, f in enumerate(frames))


def socs(sub, since=0.0):
    return [json.loads(p).get("soc_pct") for t0, t, p in sub.snapshot()
            if t == STATE and t0 >= since]


def test_site_bridge_and_metrics(tmp):
    check = tm.check
    # the central broker keeps its sessions and retained messages across a restart, as a real one
    # would (a backlog for a persistent session would be replayed from there)
    central = tm.Broker(tmp, tm.free_port(), f"allow_anonymous true\npersistence true\n"
                        f"persistence_location {tmp}/\n")
    site_port = tm.free_port()
    shipped = open(os.path.join(SRC, "packaging", "mosquitto-site-bridge.conf")).read()
    bridge = shipped.replace("central.example.net:8883", f"127.0.0.1:{central.port}")
    bridge = bridge.replace("SITE", SITE)
    site = tm.Broker(tmp, site_port, "allow_anonymous true\n" + bridge)
    central.start()
    site.start()
    csub = tm.Sub(central.port)
    ssub = tm.Sub(site.port)
    hport = tm.free_port()
    ini = os.path.join(tmp, "fleet.ini")
    with open(ini, "w") as f:
        f.write(f"[mqtt]\nurl = mqtt://127.0.0.1:{site.port}\ndevice = {DEV}\nsite = {SITE}\n"
                f"retain_state = true\nmin_interval = 0.2\nmax_interval = 3600\n"
                f"[http]\nlisten = 127.0.0.1:{hport}\n"
                # the link stays up between the bursts (no republish on a link change): what
                # reaches the central broker after its restart is the retained state alone
                f"[monitor]\nenergy_file = none\nstale_after = 600\ndown_after = 1200\n")
    p = subprocess.Popen([BATLINK, "monitor", "--config", ini, "candump:-"],
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tm.procs.append(p)

    def feed(t, soc):
        p.stdin.write(burst(t, soc).encode())
        p.stdin.flush()

    # 1. the site's state, availability and discovery reach the central broker
    feed(0, 30)
    got = csub.wait(lambda m: m[1] == STATE and json.loads(m[2]).get("soc_pct") == 30, 30)
    check(got is not None, f"central: state under {STATE}: {socs(csub)}")
    check(csub.wait(lambda m: m[1] == AVAIL and m[2] == "online", 10) is not None,
          "central: availability online")
    disc = csub.wait(lambda m: m[1] == f"homeassistant/sensor/batlink_{SITE}_{DEV}/soc_pct/config",
                     10)
    c = json.loads(disc[2]) if disc else {}
    check(c.get("unique_id") == f"batlink_{SITE}_{DEV}_soc_pct" and c.get("state_topic") == STATE
          and c.get("availability_topic") == AVAIL
          and c.get("device", {}).get("identifiers") == [f"batlink_{SITE}_{DEV}"],
          f"central: discovery with the site in ids and topics: {c}")
    check(not [m for m in ssub.snapshot() if m[1].startswith(f"batlink/{DEV}/")],
          "nothing under batlink/<device>/ when a site is set")

    # 2. /metrics: site="north-1" on every sample; promtool accepts it
    body = ""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{hport}/metrics", timeout=10) as r:
            body = r.read().decode()
    except OSError as e:
        check(False, f"/metrics: {e}")
    samples = [ln for ln in body.splitlines() if ln and not ln.startswith("#")]
    bad = [ln for ln in samples if not re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*\{site="north-1"[,}]', ln)]
    check(samples and not bad, f"/metrics: site label on every sample; without: {bad[:3]}")
    check("batlink_battery_soc_ratio{site=\"north-1\",battery=\"garage\"} 0.3" in body,
          "/metrics: battery sample with site and battery labels")
    if shutil.which("promtool"):
        r = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                           capture_output=True)
        check(r.returncode == 0, f"promtool check metrics: {r.stdout}{r.stderr}")

    # 3. the central broker goes away; the site keeps working (states published locally)
    csub.stop()
    central.p.terminate()  # a clean stop: it saves its state
    central.p.wait()
    for k, soc in enumerate((41, 42, 43)):
        t0 = time.time()
        feed(1 + k, soc)
        check(ssub.wait(lambda m, s=soc: m[1] == STATE and json.loads(m[2]).get("soc_pct") == s,
                        10, t0) is not None, f"site: SOC {soc} published while central is down")
    check(p.poll() is None, "monitor keeps running while the central broker is down")

    # 4. central is back (empty: no persistence): it gets the current state, not the backlog
    t_back = time.time()
    central.start()
    csub = tm.Sub(central.port)
    got = csub.wait(lambda m: m[1] == STATE, 30)
    check(got is not None and json.loads(got[2]).get("soc_pct") == 43,
          f"central after its restart: the current state (SOC 43) at once: {socs(csub)}")
    check(csub.wait(lambda m: m[1] == AVAIL and m[2] == "online", 10) is not None,
          "central after its restart: availability online (retained)")
    # a later state marks the end of anything the bridge could have had queued
    feed(10, 50)
    tm.wait_for(lambda: 50 in socs(csub), 20)
    seen = socs(csub, t_back)
    check(seen == [43, 50], f"central after its restart: only 43 then 50, no replay: {seen}")

    p.stdin.close()
    rc = p.wait(20)
    check(rc == 0, f"monitor exit 0: {rc} {p.stderr.read().decode()[-300:]}")
    check(csub.wait(lambda m: m[1] == AVAIL and m[2] == "offline", 10) is not None,
          "central: offline after the monitor stopped")
    csub.stop()
    ssub.stop()
    site.kill()
    central.kill()


def test_federation_example():
    """packaging/prometheus-federation.yml is a valid Prometheus configuration."""
    path = os.path.join(SRC, "packaging", "prometheus-federation.yml")
    if shutil.which("promtool") is None:
        tm.check(False, "promtool is needed: run scripts/setup.sh --test")
        return
    r = subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True)
    tm.check(r.returncode == 0, f"promtool check config {path}: {r.stdout}{r.stderr}")


def main():
    for tool in ("mosquitto", "mosquitto_sub", "mosquitto_pub"):
        if shutil.which(tool) is None:
            print(f"FAIL: {tool} missing: run scripts/setup.sh --test")
            return 1
    tmp = tempfile.mkdtemp(prefix="bl-fleet-")
    try:
        test_federation_example()
        test_site_bridge_and_metrics(tmp)
    finally:
        for p in tm.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if tm.failures:
        print(f"{len(tm.failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
