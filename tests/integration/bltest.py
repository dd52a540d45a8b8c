# SPDX-License-Identifier: MIT
# bltest.py: helpers for the Python integration tests to wait on conditions, never on a fixed
# time: the suite must pass with `ctest -j$(nproc)` while other processes load the CPU
# (scripts/stress-test.sh). Not a test itself (ctest runs tests/integration/test_*.py only).
import signal
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
