# SPDX-License-Identifier: MIT
# bltest.py: helpers for the Python integration tests to wait on conditions, never on a fixed
# time: the suite must pass with `ctest -j$(nproc)` while other processes load the CPU
# (scripts/stress-test.sh). Not a test itself (ctest runs tests/integration/test_*.py only).
import os
import signal
import socket
import subprocess
import threading
import time

DEADLINE = 30.0  # generous: a deadline only catches a hang; a loaded machine is slow


def wait_until(pred, timeout=DEADLINE, step=0.02):
    """Poll `pred` until it holds or `timeout` passes; returns whether it held."""
    end = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(step)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def listening(port):
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def start_mosquitto(tmpdir, port):
    """A mosquitto broker for anonymous clients on 127.0.0.1:port (config file m.conf in tmpdir),
    started and polled until it accepts connections (at most 10 s); the caller terminates it."""
    conf = os.path.join(tmpdir, "m.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\n" % port)
    mq = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    wait_until(lambda: listening(port), 10, 0.05)
    return mq


class Run:
    """A batlink process whose stdout lines and stderr are collected as they come, so a test
    can wait for what it needs (a frame printed, a warning logged) instead of for a time."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.pid = self.proc.pid
        self.lines = []
        self.err = ""
        self._lock = threading.Lock()
        self._readers = [threading.Thread(target=self._read_out, daemon=True),
                         threading.Thread(target=self._read_err, daemon=True)]
        for t in self._readers:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line)

    def _read_err(self):
        for line in self.proc.stderr:
            with self._lock:
                self.err += line

    def nlines(self):
        with self._lock:
            return len(self.lines)

    def stderr(self):
        with self._lock:
            return self.err

    def interrupt(self):
        """SIGINT: a clean stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)

    def stop(self, timeout=DEADLINE):
        """SIGINT, then wait for the exit and the last output: (exit status, stdout, stderr)."""
        self.interrupt()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._readers:
            t.join(DEADLINE)
        return self.proc.returncode, "".join(self.lines), self.err
