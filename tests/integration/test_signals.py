#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_signals.py: signals a running batlink gets (issue 9 item 7). SIGHUP stops `monitor`
# cleanly (systemd's STOPPING=1, the stop logged) with exit status 1, so a service manager
# with Restart=on-failure starts it again and the restart reads the configuration again;
# SIGUSR1, SIGUSR2 and SIGALRM are ignored (logged once) and SIGTERM still stops it with 0.
# `dump`, `record` and `diagnose` on a live source stop on SIGHUP as on SIGTERM and survive the
# others. Every wait is on a condition with a generous deadline, never a fixed sleep.
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BATLINK = os.environ.get("BATLINK")
if not BATLINK:
    print("BATLINK must be set (run through ctest)")
    sys.exit(2)

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def watching(pid):
    """True once the process blocks SIGTERM: its signalfd watcher is set up."""
    try:
        for l in open("/proc/%d/status" % pid):
            if l.startswith("SigBlk:"):
                return bool(int(l.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except OSError:
        pass
    return False


def lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()
    except OSError:
        return []


class Proc:
    """A batlink command with stdout/stderr in files and systemd's notify socket."""

    def __init__(self, d, name, args):
        self.out = os.path.join(d, name + ".out")
        self.err = os.path.join(d, name + ".err")
        self.sock_path = os.path.join(d, name + ".notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.sock.setblocking(False)
        self.msgs = []
        env = dict(os.environ, NOTIFY_SOCKET=self.sock_path)
        self.p = subprocess.Popen([BATLINK] + args, env=env, stdout=open(self.out, "wb"),
                                  stderr=open(self.err, "wb"))

    def notes(self):
        while True:
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except (BlockingIOError, OSError):
                return self.msgs

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        self.sock.close()


def test_monitor(d):
    print("# monitor sim: gets SIGUSR1, SIGUSR2, SIGALRM (ignored), then SIGHUP", flush=True)
    m = Proc(d, "monitor", ["monitor", "--json", "sim:"])
    started = wait_for(lambda: len(lines(m.out)) >= 2 and any(
        x.startswith("READY=1") for x in m.notes()), 30)
    check(started, "monitor sim: runs and says READY=1")
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
        n = len(lines(m.out))
        m.p.send_signal(sig)
        # alive, and still publishing: two more state objects after the signal
        more = wait_for(lambda: len(lines(m.out)) >= n + 2 or m.p.poll() is not None, 30)
        check(more and m.p.poll() is None,
              "%s ignored: still running and printing (exit %s)" % (sig.name, m.p.poll()))
    err = "\n".join(lines(m.err))
    check("SIGUSR1 ignored" in err, "the first ignored signal is logged: %r" % err[:300])
    m.p.send_signal(signal.SIGHUP)
    ended = wait_for(lambda: m.p.poll() is not None, 30)
    check(ended, "SIGHUP stops the monitor")
    if not ended:
        m.stop()
        return
    m.notes()
    err = "\n".join(lines(m.err))
    check(m.p.returncode == 1,
          "SIGHUP: exit status 1 (a clean stop that Restart=on-failure restarts), got %d"
          % m.p.returncode)
    check("STOPPING=1" in m.msgs, "SIGHUP: STOPPING=1 sent (clean stop): %s" % m.msgs[-2:])
    check("SIGHUP" in err and "stopping" in err, "SIGHUP: the stop is logged: %r" % err[-300:])
    m.stop()

    m = Proc(d, "monitor_term", ["monitor", "--json", "sim:"])
    check(wait_for(lambda: len(lines(m.out)) >= 1, 30), "second monitor runs")
    m.p.send_signal(signal.SIGTERM)
    check(wait_for(lambda: m.p.poll() is not None, 30) and m.p.returncode == 0,
          "SIGTERM: exit status 0 (%s)" % m.p.poll())
    m.stop()


def test_bridge(d):
    print("# bridge (sim --bms jk on a pty -> a TCP CANET peer): SIGUSR1 ignored, SIGHUP exit 1",
          flush=True)
    pty = os.path.join(d, "jk0")
    jk = subprocess.Popen([BATLINK, "sim", "--bms", "jk", pty], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    peer = socket.socket()
    peer.bind(("127.0.0.1", 0))
    peer.listen(1)
    ok = wait_for(lambda: os.path.islink(pty), 30)
    check(ok, "JK simulator is up")
    b = Proc(d, "bridge", ["bridge", "--no-realtime", "--json", "--bms", "jk:" + pty, "--can",
                           "canet:127.0.0.1:%d" % peer.getsockname()[1]])
    up = wait_for(lambda: b.p.poll() is not None or
                  any(x.startswith("READY=1") for x in b.notes()), 30)
    check(up and b.p.poll() is None, "bridge runs")
    n = len(lines(b.out))
    b.p.send_signal(signal.SIGUSR1)
    more = wait_for(lambda: len(lines(b.out)) >= n + 2 or b.p.poll() is not None, 30)
    check(more and b.p.poll() is None, "bridge: SIGUSR1 ignored, still sending (%s)" % b.p.poll())
    b.p.send_signal(signal.SIGHUP)
    ended = wait_for(lambda: b.p.poll() is not None, 30)
    b.notes()
    check(ended and b.p.returncode == 1 and "STOPPING=1" in b.msgs,
          "bridge: SIGHUP is a clean stop (STOPPING=1) with exit status 1 (%s)" % b.p.poll())
    b.stop()
    jk.terminate()
    jk.wait()
    peer.close()


def test_tools(d):
    print("# dump, record, diagnose on a live source: SIGHUP stops them cleanly", flush=True)
    rec = os.path.join(d, "rec.log")
    for name, args, ready in [
            ("dump", ["dump", "sim:"], lambda o, e: len(lines(o)) >= 3),
            ("record", ["record", "sim:", rec], lambda o, e: len(lines(rec)) >= 3),
            ("diagnose", ["diagnose", "--duration", "600", "sim:"], None)]:
        p = Proc(d, name, args)
        # diagnose prints nothing before the end: the signal watcher being set up is enough
        up = wait_for(lambda: p.p.poll() is not None or (
            watching(p.p.pid) and (ready is None or ready(p.out, p.err))), 30)
        check(up and p.p.poll() is None, "%s runs" % name)
        for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
            p.p.send_signal(sig)
        # the ignored signals are read before the hang-up: each is logged or counted
        check(wait_for(lambda: "SIGUSR1 ignored" in "\n".join(lines(p.err))
                       or p.p.poll() is not None, 30) and p.p.poll() is None,
              "%s: SIGUSR1, SIGUSR2, SIGALRM ignored (exit %s)" % (name, p.p.poll()))
        p.p.send_signal(signal.SIGHUP)
        ended = wait_for(lambda: p.p.poll() is not None, 30)
        rc = p.p.poll()
        check(ended and rc is not None and rc >= 0,
              "%s: SIGHUP ends it by exit, not by the signal (status %s)" % (name, rc))
        if name == "record":
            data = open(rec, "rb").read()
            check(data.endswith(b"\n") and b"(" in data,
                  "record: the file ends with a whole line after SIGHUP")
        if name == "diagnose":
            check("verdict" in "\n".join(lines(p.out)),
                  "diagnose: the report is printed after SIGHUP")
        p.stop()


if __name__ == "__main__":
    d = tempfile.mkdtemp(prefix="bl_sig_")
    try:
        test_monitor(d)
        test_bridge(d)
        test_tools(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("%d failure(s)" % len(FAILS))
    sys.exit(1 if FAILS else 0)
