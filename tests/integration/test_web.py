#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_web.py: the web page of `batlink monitor --http` in a real browser (Debian's headless
# Chromium, driven with --dump-dom/--screenshot; Python stdlib only):
# - the page from a running `monitor sim:` shows the simulated SOC and its plots have points;
#   a screenshot is kept in BL_BUILD_DIR/test_web/ (phone and desktop widths);
# - the page is readable without JavaScript (the server-rendered table has the SOC);
# - the history survives a restart ([http] history_file, written at exit);
# - a corrupt or foreign history file is set aside as FILE.bad with a warning;
# - a manufacturer name "<script>" from the bus (0x35E on a candump stream) is escaped in the
#   server HTML and shown as text by the script;
# - the bridge's page (a simulated JK BMS, `batlink sim --bms jk`) shows each cell as a bar, the
#   limits with their reasons and the MOSFETs;
# - basic auth ([http] user + password_file) guards every path but /healthz;
# - unknown paths, bad ranges and other methods get bounded answers;
# - the live diagnose (/api/diagnose, the JSON of `diagnose --json`) of a `monitor sim:` whose
#   scenario has two senders names the conflict, and the page shows the finding with its layer
#   and next step (as text);
# - the download of the recent frames (/api/capture.log) is a candump -L attachment holding
#   exactly the frames the monitor was fed, which `batlink dump` reads back without a bad line.
# Every wait polls a condition with a deadline.
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from bltest import free_port

BATLINK = os.environ.get("BATLINK", "build/batlink")
BUILD = os.environ.get("BL_BUILD_DIR", "build")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    else:
        print("ok:", what)
    return cond


def get(port, path, auth=None, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    if auth is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.getheaders()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_for(what, cond, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            v = cond()
        except OSError:
            v = None
        if v:
            return v
        time.sleep(0.1)
    check(False, "timed out waiting for " + what)
    return None


def start(tmp, name, ini, source="sim:", stdin=None):
    cfg = os.path.join(tmp, name + ".ini")
    with open(cfg, "w") as f:
        f.write(ini)
    err = open(os.path.join(tmp, name + ".err"), "w+")
    p = subprocess.Popen([BATLINK, "monitor", "--config", cfg, "--json", source],
                         stdin=stdin if stdin is not None else subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=err)
    return p, err


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def state(port, auth=None):
    st, _, body = get(port, "/api/state", auth)
    return json.loads(body) if st == 200 else None


def chromium(url, tmp, shot=None, width=1200, height=1500):
    """The DOM after the page's scripts ran (virtual time: the polls and plots happen without
    waiting in real time)."""
    prof = tempfile.mkdtemp(dir=tmp)
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--user-data-dir=" + prof, "--window-size=%d,%d" % (width, height),
            "--virtual-time-budget=6000"]
    args += ["--screenshot=" + shot] if shot else ["--dump-dom"]
    r = subprocess.run(args + [url], capture_output=True, timeout=120)
    return r.stdout.decode("utf-8", "replace")


def page_tests(tmp):
    port = free_port()
    hist = os.path.join(tmp, "history.bin")
    ini = "[http]\nlisten = 127.0.0.1:%d\nhistory_file = %s\n" % (port, hist)
    p, err = start(tmp, "sim", ini)
    try:
        s = wait_for("the simulated SOC", lambda: (state(port) or {}).get("soc_pct") is not None and
                     (state(port) or {})["link"]["state"] == "up" and state(port))
        if s is None:
            return
        soc = s["soc_pct"]
        # readable without JavaScript: the server-rendered table has the SOC
        st, hdr, body = get(port, "/")
        html = body.decode()
        check(st == 200 and hdr.get("Content-Type", "").startswith("text/html"), "/ is HTML")
        check(re.search(r"<th>soc_pct</th><td>[0-9.]+</td>", html) is not None,
              "the page without JavaScript has the SOC in its table")
        check('name="viewport"' in html, "the page has a viewport for phones")
        check("http://" not in html.replace("http://127.0.0.1", "") and "https://" not in html,
              "the page loads nothing from elsewhere")
        weight = len(body)
        for path in ("/static/uplot.js", "/static/uplot.css", "/static/app.js", "/static/app.css"):
            st, hdr, b = get(port, path)
            check(st == 200 and len(b) > 100, "%s served from the binary" % path)
            weight += len(b)
        print("page weight: %d bytes (HTML + 4 static files, uncompressed)" % weight)
        st, _, b = get(port, "/api/state")
        print("bytes per update (/api/state body): %d" % len(b))
        # the browser: the SOC in the live view, points in the plots
        dom = wait_for("the browser's DOM with the SOC and plotted points", lambda: (
            lambda d: d if re.search(r'data-soc="[0-9.]+"', d) and
            re.search(r'data-points="[1-9]', d) else None)(chromium("http://127.0.0.1:%d/" % port,
                                                                       tmp)), 90)
        if dom:
            m = re.search(r'data-soc="([0-9.]+)"', dom)
            check(m is not None and abs(float(m.group(1)) - float(soc)) <= 2,
                  "the browser shows the simulated SOC (%s, state said %s)" %
                  (m.group(1) if m else None, soc))
            pts = [int(x) for x in re.findall(r'data-points="([0-9]+)"', dom)]
            check(len(pts) == 6 and pts[0] >= 1, "6 plots, the SOC plot has data (%s)" % pts)
            check("<canvas" in dom, "the plots are drawn (canvas)")
        out = os.path.join(BUILD, "test_web")
        os.makedirs(out, exist_ok=True)
        for name, w, h in (("page.png", 1200, 1500), ("phone.png", 390, 2400)):
            chromium("http://127.0.0.1:%d/" % port, tmp, os.path.join(out, name), w, h)
            check(os.path.getsize(os.path.join(out, name)) > 10000, "screenshot " + name)
        # bounded answers
        check(get(port, "/nope")[0] == 404, "unknown path: 404")
        check(get(port, "/api/history?range=year")[0] == 400, "unknown range: 400")
        check(get(port, "/", method="POST")[0] == 405, "POST /: 405")
        st, _, b = get(port, "/api/history?range=hour")
        h = json.loads(b)
        check(st == 200 and len(h["t"]) >= 1 and h["soc"][-1] is not None, "/api/history has points")
        before = [t for t, v in zip(h["t"], h["soc"]) if v is not None]
        st, _, b = get(port, "/api/ids")
        ids = {x["id"]: x for x in json.loads(b)["ids"]} if st == 200 else {}
        check("0x355" in ids and ids["0x355"]["frames"] > 0 and ids["0x355"]["decoded"],
              "/api/ids counts the frames of each id (%s)" % sorted(ids))
    finally:
        rc = stop(p)
    check(rc == 0, "monitor stops cleanly (rc %s)" % rc)
    check(os.path.exists(hist) and not os.path.exists(hist + ".tmp"),
          "the history file is written at exit, no temporary file left")

    # the history survives a restart
    t_restart = time.time()
    p, err = start(tmp, "sim2", ini)
    try:
        h = wait_for("the history after a restart", lambda: (
            lambda h: h if any(t <= before[-1] for t in h["t"]) else None)(
            json.loads(get(port, "/api/history?range=hour")[2])), 30)
        check(h is not None and before[0] in h["t"] and min(h["t"]) < t_restart,
              "points from before the restart are in the history after it")
        check(h is not None and all(x in h["t"] for x in before), "every point before is kept")
    finally:
        stop(p)

    # a corrupt history file, and a foreign one, are set aside with a warning
    for what, data in (("corrupt", None), ("foreign", b'{"not": "a history"}\n')):
        if data is None:
            with open(hist, "r+b") as f:
                f.seek(100)
                f.write(b"\xff\x00\xff\x00")
        else:
            with open(hist, "wb") as f:
                f.write(data)
        if os.path.exists(hist + ".bad"):
            os.unlink(hist + ".bad")
        p, err = start(tmp, "bad-" + what, ini)
        try:
            ok = wait_for("the page with a %s history file" % what,
                          lambda: get(port, "/")[0] == 200, 30)
            err.seek(0)
            log = err.read()
            check(ok and "set aside" in log and os.path.exists(hist + ".bad"),
                  "a %s history file is set aside with a warning (%s)" %
                  (what, log.strip().splitlines()[-1:] if log.strip() else "no warning"))
            check(p.poll() is None, "monitor runs on after a %s history file" % what)
        finally:
            stop(p)


def frames(soc, maker):
    now = time.time()
    lines = [
        "351#1402B004B004C201",  # limits 53.2 V, 120 A, 120 A, 45 V
        "355#%02X%02X6200" % (soc & 0xFF, soc >> 8),  # SOC, SOH 98 %
        "356#72130E010401",  # 49.78 V, 27.0 A, 26.0 degC
        "359#0000000003504E",
        "35C#C0",
        "35E#" + maker.hex().upper().ljust(16, "0")[:16],
    ]
    return "".join("(%.6f) can0 %s\n" % (now, l) for l in lines)


def escape_tests(tmp):
    port = free_port()
    ini = "[http]\nlisten = 127.0.0.1:%d\n[source]\nprofile = pylontech\n" % port
    p, err = start(tmp, "escape", ini, "candump:-", stdin=subprocess.PIPE)
    try:
        def feed():
            p.stdin.write(frames(71, b"<script>").encode())
            p.stdin.flush()
            s = state(port)
            return s if s and s.get("manufacturer") == "<script>" else None
        s = wait_for("the manufacturer <script> from 0x35E", feed, 30)
        check(s is not None, "0x35E bytes 3C 73 63 72 69 70 74 3E read as \"<script>\"")
        html = get(port, "/")[2].decode()
        check("<td>&lt;script&gt;</td>" in html, "the server HTML escapes the manufacturer")
        check(html.count("<script") == 2, "no script element but the page's own two")
        feed()
        dom = chromium("http://127.0.0.1:%d/" % port, tmp)
        check("<dd>&lt;script&gt;</dd>" in dom, "the script shows the manufacturer as text")
        check(dom.count("<script") == 2, "no script element in the browser's DOM but the two")
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        stop(p)


def diagnose_tests(tmp):
    port = free_port()
    ini = "[http]\nlisten = 127.0.0.1:%d\n" % port
    p, err = start(tmp, "diag", ini, "sim:?scenario=two-senders")
    try:
        def report():
            st, hdr, b = get(port, "/api/diagnose")
            if st != 200:
                return None
            d = json.loads(b)
            codes = [f["code"] for f in d.get("findings", [])]
            return d if "conflicting_senders" in codes else None
        d = wait_for("the live diagnose naming two senders", report, 60)
        if d is not None:
            check(d["verdict"] == "fail" and d["live"]["window_s"] == 600 and
                  d["live"]["report"] == "running",
                  "/api/diagnose: verdict fail, a running 600 s window (%s)" % d["live"])
            f = [x for x in d["findings"] if x["code"] == "conflicting_senders"][0]
            check(f["layer"] == 1 and f["next_step"], "the finding has its layer and next step")
        dom = wait_for("the finding in the browser", lambda: (
            lambda d: d if 'data-code="conflicting_senders"' in d else None)(
            chromium("http://127.0.0.1:%d/" % port, tmp)), 90)
        if dom:
            check(re.search(r"<h3>layer 1: configuration</h3>", dom) is not None,
                  "the page groups the findings by layer")
            check('class="next">next: ' in dom, "the page shows the next step")
        st, hdr, _ = get(port, "/")
        check('href="/api/capture.log" download' in get(port, "/")[2].decode(),
              "the page has the download link (without JavaScript too)")
    finally:
        stop(p)

    # the download holds exactly the frames fed in, in order, as candump -L
    port = free_port()
    ini = "[http]\nlisten = 127.0.0.1:%d\n[source]\nprofile = pylontech\n" % port
    p, err = start(tmp, "capture", ini, "candump:-", stdin=subprocess.PIPE)
    fed = []
    try:
        for k in range(5):
            block = frames(60 + k, b"PYLON")
            # distinct, increasing times: one block a second of capture time
            t0 = 1700000000 + k
            block = "".join("(%d.%06d) can0 %s\n" % (t0, i * 1000, l.split(" ", 2)[2])
                            for i, l in enumerate(block.splitlines()))
            fed += block.splitlines()
            p.stdin.write(block.encode())
        p.stdin.flush()
        def seen():
            st, _, b = get(port, "/api/ids")
            return st == 200 and sum(x["frames"] for x in json.loads(b)["ids"]) == len(fed)
        wait_for("the monitor to see the %d frames" % len(fed), seen, 30)
        st, hdr, body = get(port, "/api/capture.log")
        check(st == 200 and hdr.get("Content-Disposition", "").startswith("attachment;"),
              "/api/capture.log is an attachment (%s)" % hdr.get("Content-Disposition"))
        text = body.decode()
        lines = text.splitlines()
        check(lines and lines[0].startswith("# batlink capture:") and
              ("%d frames" % len(fed)) in lines[0], "the log's first line says what it holds (%s)"
              % (lines[0] if lines else None))
        got = [l for l in lines if not l.startswith("#")]
        check(got == fed, "the log holds the frames fed, in order (%d of %d)" % (len(got), len(fed)))
        log = os.path.join(tmp, "capture.log")
        with open(log, "w") as f:
            f.write(text)
        r = subprocess.run([BATLINK, "dump", "--stats", log], capture_output=True, timeout=60)
        out = r.stdout.decode().splitlines()
        check(r.returncode == 0 and len(out) == len(fed) and "soc_pct=64" in r.stdout.decode(),
              "batlink dump reads the download back: %d frames, no bad line (rc %d, %s)" %
              (len(out), r.returncode, r.stderr.decode().strip()[-200:]))
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        stop(p)


def bridge_tests(tmp):
    jk = os.path.join(tmp, "jk0")
    sim = subprocess.Popen([BATLINK, "sim", "--bms", "jk", "--current", "-10", "--soc", "60", jk],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    srv = socket.socket()  # the inverter side: a CANET peer that takes the frames
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = free_port()
    p = None
    try:
        if not wait_for("the simulated JK BMS", lambda: os.path.islink(jk) or os.path.exists(jk)):
            return
        err = open(os.path.join(tmp, "bridge.err"), "w+")
        p = subprocess.Popen([BATLINK, "bridge", "--no-realtime", "--bms", "jk:" + jk, "--can",
                              "canet:127.0.0.1:%d" % srv.getsockname()[1], "--http",
                              "127.0.0.1:%d" % port], stdout=subprocess.DEVNULL, stderr=err)
        s = wait_for("the bridge's cells", lambda: (lambda s: s if s and (s.get("bridge") or {})
                                                     .get("cells_v") else None)(state(port)))
        if s is None:
            return
        n = len(s["bridge"]["cells_v"])
        dom = wait_for("the cells in the browser", lambda: (
            lambda d: d if 'class="cell' in d else None)(chromium("http://127.0.0.1:%d/" % port,
                                                                   tmp)), 90)
        if dom:
            check(len(re.findall(r'class="cell( min| max)?"', dom)) == n,
                  "one bar per cell (%d)" % n)
            check(re.search(r"<dt>spread</dt><dd>[0-9]+ mV</dd>", dom) is not None,
                  "the cell spread is shown")
            check(re.search(r"<dt>charge current</dt><dd>[0-9.]+ A \([a-z ]+\)</dd>", dom)
                  is not None, "the charge current limit shows its reason")
            check("<dt>charge MOSFET</dt><dd>on</dd>" in dom, "the MOSFET states are shown")
        out = os.path.join(BUILD, "test_web")
        os.makedirs(out, exist_ok=True)
        chromium("http://127.0.0.1:%d/" % port, tmp, os.path.join(out, "bridge.png"), 1200, 1500)
    finally:
        if p is not None:
            stop(p)
        stop(sim)
        srv.close()


def packs_tests(tmp):
    """Two simulated BMS (JK and JBD) on one bridge: the page shows a card per pack."""
    paths = [os.path.join(tmp, "pa0"), os.path.join(tmp, "pb0")]
    sims = [subprocess.Popen([BATLINK, "sim", "--bms", kind, "--current", "-5", "--soc", soc, path],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for kind, soc, path in (("jk", "60", paths[0]), ("jbd", "40", paths[1]))]
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = free_port()
    p = None
    try:
        if not wait_for("the simulated BMS", lambda: all(os.path.exists(x) for x in paths)):
            return
        err = open(os.path.join(tmp, "packs.err"), "w+")
        fast = "?interval_ms=300&timeout_ms=250"
        p = subprocess.Popen([BATLINK, "bridge", "--no-realtime", "--bms", "jk:" + paths[0] + fast,
                              "--bms", "jbd:" + paths[1] + fast, "--can",
                              "canet:127.0.0.1:%d" % srv.getsockname()[1], "--http",
                              "127.0.0.1:%d" % port], stdout=subprocess.DEVNULL, stderr=err)
        s = wait_for("two packs in the state", lambda: (
            lambda s: s if s and len((s.get("bridge") or {}).get("packs") or []) == 2 and
            all(x.get("online") for x in s["bridge"]["packs"]) else None)(state(port)))
        if s is None:
            err.seek(0)
            print(err.read()[-500:], file=sys.stderr)
            return
        names = [x["name"] for x in s["bridge"]["packs"]]
        dom = wait_for("the packs in the browser", lambda: (
            lambda d: d if d.count('class="card pack"') == 2 else None)(
            chromium("http://127.0.0.1:%d/" % port, tmp)), 90)
        if dom:
            check(all("<h2>%s</h2>" % n in dom for n in names),
                  "a card per pack, titled with its name (%s)" % names)
            check(re.search(r"<dt>online</dt><dd>true</dd>", dom) is not None,
                  "a pack card shows its values (online)")
    finally:
        if p is not None:
            stop(p)
        for x in sims:
            stop(x)
        srv.close()


def auth_tests(tmp):
    port = free_port()
    pw = os.path.join(tmp, "pw")
    with open(pw, "w") as f:
        f.write("s3cret pass\n")
    ini = "[http]\nlisten = 127.0.0.1:%d\nuser = admin\npassword_file = %s\n" % (port, pw)
    p, err = start(tmp, "auth", ini)
    try:
        wait_for("/healthz without credentials", lambda: get(port, "/healthz")[0] in (200, 503))
        st, hdr, _ = get(port, "/")
        check(st == 401 and "Basic" in hdr.get("WWW-Authenticate", ""),
              "/ without credentials: 401 with a Basic challenge")
        for path in ("/api/state", "/api/history", "/metrics", "/static/app.js", "/api/diagnose",
                     "/api/capture.log"):
            check(get(port, path)[0] == 401, "%s without credentials: 401" % path)
        check(get(port, "/", "admin:wrong")[0] == 401, "a wrong password: 401")
        check(get(port, "/", "admin:s3cret pas")[0] == 401, "a password prefix: 401")
        check(get(port, "/", "root:s3cret pass")[0] == 401, "a wrong user: 401")
        check(get(port, "/", "admin:s3cret pass")[0] == 200, "the right credentials: 200")
    finally:
        stop(p)
    # a user without a password file is a configuration error, not an open page
    ini = "[http]\nlisten = 127.0.0.1:%d\nuser = admin\n" % port
    p, err = start(tmp, "auth2", ini)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        rc = stop(p)
    err.seek(0)
    check(rc == 2 and "password_file" in err.read(), "[http] user without password_file: exit 2")


def main():
    if CHROMIUM is None:
        print("SKIP: no chromium (scripts/setup.sh --test installs it)")
        return 77
    tmp = tempfile.mkdtemp(prefix="bl_web_")
    try:
        page_tests(tmp)
        escape_tests(tmp)
        diagnose_tests(tmp)
        bridge_tests(tmp)
        packs_tests(tmp)
        auth_tests(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILS:
        print("%d check(s) failed" % len(FAILS), file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
