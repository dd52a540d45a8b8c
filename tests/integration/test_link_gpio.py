#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_link_gpio.py: [monitor] on_link_down / on_link_up driving GPIO lines (gpio:CHIP:LINE), on
# the mock chip of fake_gpiod.c (this host has no GPIO chip and no gpio-sim / gpio-mockup module:
# the real batlink binary dlopens the mock as libgpiod.so.2 through LD_LIBRARY_PATH). The test
# feeds Pylontech bursts on stdin (candump:-) and stops feeding to make the link go down: it
# waits on what the mock chip records, never for a fixed time. Checks: lines requested at 0 at
# start-up; on_link_down's line goes to 1 only after down_after, once per loss, back to 0 when
# frames resume; on_link_up's (active_low) is 1 while the link is up; a command after the gpio
# word runs too; at exit the lines are released without a last write; bad values are usage
# errors (exit 2) naming the key and what is wrong. Failed sets are counted in the state
# (link.hook.gpio_errors) and on /metrics (batlink_link_hook_gpio_errors_total).
import ctypes.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import urllib.request  # noqa: E402

from bltest import free_port, wait_until  # noqa: E402

BATLINK = os.environ.get("BATLINK", "")
BUILD = os.environ.get("BL_BUILD_DIR", "")
FAILS = []
BURST = ["351#1402C012C012C201", "355#58005E00", "356#7A13F2FE6B01", "359#0000000006504E",
         "35C#C000", "35E#50594C4F4E202020"]
DOWN_AFTER = 2.0


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def records(path):
    try:
        with open(path) as f:
            return [line.split() for line in f if line.strip()]
    except FileNotFoundError:
        return []


def count(path, *want):
    return sum(1 for r in records(path) if r[:len(want)] == list(want))


class Feeder:
    """Writes a Pylontech burst to the monitor's stdin every 0.2 s while `on` is set."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.on = threading.Event()
        self.done = False
        self.last = 0.0
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.done:
            if self.on.is_set():
                now = time.time()
                try:
                    for fr in BURST:
                        self.pipe.write("(%.6f) can0 %s\n" % (now, fr))
                    self.pipe.flush()
                except (BrokenPipeError, ValueError):
                    return
                self.last = time.monotonic()
            time.sleep(0.2)


def start(ini, env, extra=()):
    """The monitor on stdin, its stdout and stderr lines collected by threads."""
    mon = subprocess.Popen([BATLINK, "monitor", "--json", "--config", ini] + list(extra) +
                           ["candump:-"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    out, err = [], []
    for pipe, buf in ((mon.stdout, out), (mon.stderr, err)):
        threading.Thread(target=lambda p=pipe, b=buf: b.extend(p), daemon=True).start()
    return mon, out, err


def hook_errors(lines):
    """link.hook.gpio_errors of each JSON state line that has it."""
    got = []
    for line in list(lines):
        try:
            o = json.loads(line)
        except ValueError:
            continue
        h = o.get("link", {}).get("hook") if isinstance(o, dict) else None
        if isinstance(h, dict) and "gpio_errors" in h:
            got.append(h["gpio_errors"])
    return got


def metric_errors(port):
    """batlink_link_hook_gpio_errors_total on /metrics, None while absent or unreachable."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return None
    m = re.search(r'^batlink_link_hook_gpio_errors_total\{battery="[^"]*"\} (\d+)$', text, re.M)
    return int(m.group(1)) if m else None


def end(mon, feed):
    feed.done = True
    feed.t.join(5)
    try:
        mon.stdin.close()
    except BrokenPipeError:
        pass
    try:
        mon.wait(30)
    except subprocess.TimeoutExpired:
        mon.kill()
        mon.wait()


def main():
    if not BATLINK or not BUILD:
        return 77
    fake = os.path.join(BUILD, "fake-gpiod")
    if not os.path.exists(os.path.join(fake, "libgpiod.so.2")):
        print("FAIL: %s/libgpiod.so.2 not built (target fake_gpiod)" % fake, file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        glog = os.path.join(tmp, "gpio.log")
        hlog = os.path.join(tmp, "hook.log")
        env = dict(os.environ, LD_LIBRARY_PATH=fake, BL_FAKE_GPIO_LOG=glog)
        ini = os.path.join(tmp, "m.ini")
        with open(ini, "w") as f:
            f.write("[monitor]\nstale_after = 1\ndown_after = %g\n"
                    "on_link_down = gpio:mockchip0:3 sh -c \"echo down >>%s\"\n"
                    "on_link_up = gpio:batlink-mock:4?active_low=1\n" % (DOWN_AFTER, hlog))
        mon, outbuf, errbuf = start(ini, env)
        feed = Feeder(mon.stdin)
        try:
            check(wait_until(lambda: count(glog, "request") == 2),
                  "both lines requested at start-up: %s" % records(glog))
            check(["request", "3", "0", "0", "batlink"] in records(glog),
                  "line 3 requested at logical 0, consumer batlink: %s" % records(glog))
            check(["request", "4", "0", "1", "batlink"] in records(glog),
                  "line 4 (active_low) requested at logical 0 = electrical 1: %s" % records(glog))
            check(count(glog, "set") == 0, "no set before any frame: %s" % records(glog))
            for episode in (1, 2):
                feed.on.set()
                check(wait_until(lambda: count(glog, "set", "4", "1") == episode),
                      "episode %d: on_link_up's line to 1 when the link is up: %s"
                      % (episode, records(glog)))
                if episode == 2:
                    check(count(glog, "set", "3", "0") == 1,
                          "line 3 back to 0 once when frames resumed: %s" % records(glog))
                feed.on.clear()
                check(wait_until(lambda: count(glog, "set", "3", "1") == episode),
                      "episode %d: on_link_down's line to 1: %s" % (episode, records(glog)))
                quiet = time.monotonic() - feed.last
                check(quiet >= DOWN_AFTER - 0.3,
                      "episode %d: set after %.1f s without frames, not before down_after"
                      % (episode, quiet))
                check(count(glog, "set", "4", "0") == episode,
                      "episode %d: on_link_up's line to 0 on the loss: %s"
                      % (episode, records(glog)))
                check(wait_until(lambda: len(records(hlog)) == episode),
                      "episode %d: the command after the gpio word ran" % episode)
            feed.on.set()
            check(wait_until(lambda: count(glog, "set", "3", "0") == 2),
                  "line 3 back to 0 after the second loss: %s" % records(glog))
            # once per transition: no repeated sets while the state holds
            check(wait_until(lambda: count(glog, "set", "4", "1") == 3),
                  "line 4 up again: %s" % records(glog))
            feed.on.clear()
            check(wait_until(lambda: count(glog, "set", "3", "1") == 3),
                  "third loss: %s" % records(glog))
        finally:
            end(mon, feed)
        wait_until(lambda: any("released" in e or "set to" in e for e in errbuf), 5)
        err = "".join(errbuf)
        check(mon.returncode == 0, "monitor exit %s: %s" % (mon.returncode, err[-400:]))
        sets = [r for r in records(glog) if r[0] == "set"]
        check([r[1:3] for r in sets if r[1] == "3"] == [["3", "1"], ["3", "0"]] * 2 + [["3", "1"]],
              "line 3: exactly 1,0,1,0,1: %s" % sets)
        check([r[1:4] for r in sets if r[1] == "4"] == [["4", "1", "0"], ["4", "0", "1"]] * 3,
              "line 4 (active_low): logical 1,0 x3, electrical inverted: %s" % sets)
        # at exit: released without a last write (the mock records the value it had)
        check(["release", "3", "1", "1", "batlink"] in records(glog)
              and ["release", "4", "0", "1", "batlink"] in records(glog),
              "released at the last values: %s" % records(glog))
        check("on_link_down: gpio:mockchip0:3 set to 1" in err, "the set is logged: %s" % err[-600:])
        errs = hook_errors(outbuf)
        check(len(errs) > 0 and set(errs) == {0},
              "state: link.hook.gpio_errors 0 while every set succeeds: %s" % errs[-5:])

        # a failing set: logged, counted, retried every tick, never blocks the loop
        failf = os.path.join(tmp, "fail")
        open(failf, "w").close()
        os.unlink(glog)
        env2 = dict(env, BL_FAKE_GPIO_FAIL=failf)
        with open(ini, "w") as f:
            f.write("[monitor]\nstale_after = 1\ndown_after = %g\n"
                    "on_link_down = gpio:mockchip0:2\n" % DOWN_AFTER)
        hport = free_port()
        mon, outbuf, errbuf = start(ini, env2, ["--http", "127.0.0.1:%d" % hport])
        feed = Feeder(mon.stdin)
        feed.on.set()
        check(wait_until(lambda: len(outbuf) > 0), "monitor prints state")
        check(wait_until(lambda: metric_errors(hport) == 0),
              "/metrics: batlink_link_hook_gpio_errors_total 0 before any failure: %s"
              % metric_errors(hport))
        feed.on.clear()
        check(wait_until(lambda: sum("cannot set 1" in e for e in errbuf) >= 2),
              "a failed set is logged and retried: %s" % "".join(errbuf)[-600:])
        check(count(glog, "set") == 0, "no set recorded while sets fail: %s" % records(glog))
        check(wait_until(lambda: any(n >= 1 for n in hook_errors(outbuf))),
              "state on the loss: link.hook.gpio_errors >= 1: %s" % hook_errors(outbuf)[-5:])
        check(wait_until(lambda: (metric_errors(hport) or 0) >= 1),
              "/metrics: failed sets counted: %s" % metric_errors(hport))
        n0 = metric_errors(hport) or 0
        check(wait_until(lambda: (metric_errors(hport) or 0) > n0),
              "/metrics: the count rises with each failed retry (from %d): %s"
              % (n0, metric_errors(hport)))
        os.unlink(failf)
        check(wait_until(lambda: count(glog, "set", "2", "1") == 1),
              "the retry succeeds once the chip answers: %s" % records(glog))
        n1 = metric_errors(hport)
        check(n1 is not None and n1 > n0, "/metrics: the count kept after the retry succeeded: %s"
              % n1)
        end(mon, feed)
        check(mon.returncode == 0, "monitor exit %s" % mon.returncode)

        # bad values: usage errors (exit 2) naming the key and what is wrong
        bad = [
            ("on_link_down = gpio:nochip:1", "on_link_down", 'no GPIO chip "nochip"'),
            ("on_link_down = gpio:mockchip0:8", "on_link_down", "line 8 out of range"),
            ("on_link_up = gpio:mockchip0:5", "on_link_up", "busy: in use by kernel-led"),
            ("on_link_down = gpio:mockchip0:1?active_high=1", "on_link_down", "unknown query"),
            ("on_link_down = gpio:mockchip0:x1", "on_link_down", "not an offset"),
            ("on_link_down = gpio:mockchip0", "on_link_down", "want gpio:CHIP:LINE"),
            ("on_link_down = gpio:mockchip0:1\non_link_up = gpio:mockchip0:1", "on_link_up",
             "on_link_down's line too"),
            ("on_link_down = gpio:mockchip0:1\non_link_up = gpio:/dev/mockchip0:1", "on_link_up",
             "busy: in use by batlink"),
        ]
        for text, key, what in bad:
            with open(ini, "w") as f:
                f.write("[monitor]\n%s\n" % text)
            r = subprocess.run([BATLINK, "monitor", "--duration", "5", "--config", ini, "sim:"],
                               capture_output=True,
                               text=True, env=env, timeout=60)
            check(r.returncode == 2 and ("%s:" % key) in r.stderr and what in r.stderr,
                  "%r: exit 2 naming %s and %r: exit %d, %s" % (text, key, what, r.returncode,
                                                               r.stderr.strip()[-300:]))
        # the real libgpiod (Debian's libgpiod2) where this host has no GPIO chip: the same error
        if ctypes.util.find_library("gpiod") and not os.path.exists("/dev/gpiochip0"):
            with open(ini, "w") as f:
                f.write("[monitor]\non_link_down = gpio:gpiochip0:1\n")
            env3 = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
            r = subprocess.run([BATLINK, "monitor", "--duration", "5", "--config", ini, "sim:"],
                               capture_output=True, text=True, env=env3, timeout=60)
            check(r.returncode == 2 and 'on_link_down: gpio:gpiochip0:1: no GPIO chip "gpiochip0"'
                  in r.stderr, "real libgpiod, no chip: exit %d, %s" % (r.returncode, r.stderr))
        # libgpiod that cannot be loaded: a usage error naming the key and the package
        broken = os.path.join(tmp, "broken")
        os.mkdir(broken)
        open(os.path.join(broken, "libgpiod.so.2"), "w").close()
        with open(ini, "w") as f:
            f.write("[monitor]\non_link_down = gpio:gpiochip0:1\n")
        r = subprocess.run([BATLINK, "monitor", "--duration", "5", "--config", ini, "sim:"],
                           capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, LD_LIBRARY_PATH=broken))
        check(r.returncode == 2 and "on_link_down:" in r.stderr and "libgpiod2" in r.stderr,
              "libgpiod not loadable: exit %d, %s" % (r.returncode, r.stderr))
        # a chip the user may not open (the service user without the gpio group): exit 1 with
        # the reason; run as nobody, which needs root and setpriv
        setpriv = shutil.which("setpriv")
        if os.geteuid() == 0 and setpriv:
            pdir = tempfile.mkdtemp()
            try:
                os.chmod(pdir, 0o755)
                chip = os.path.join(pdir, "gpiochip7")
                open(chip, "w").close()
                os.chmod(chip, 0o600)
                pini = os.path.join(pdir, "m.ini")
                with open(pini, "w") as f:
                    f.write("[monitor]\non_link_down = gpio:%s:1\n" % chip)
                os.chmod(pini, 0o644)
                r = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                    BATLINK, "monitor", "--duration", "5", "--config", pini,
                                    "sim:"], capture_output=True, text=True, env=env, timeout=60)
                check(r.returncode == 1 and "on_link_down:" in r.stderr and
                      "%s: Permission denied" % chip in r.stderr,
                      "chip not accessible: exit %d, %s" % (r.returncode, r.stderr))
            finally:
                shutil.rmtree(pdir)
    if FAILS:
        print("%d check(s) failed" % len(FAILS), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
