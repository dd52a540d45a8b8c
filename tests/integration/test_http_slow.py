#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_http_slow.py: `batlink monitor --http` against hostile and well-behaved clients (Python
# stdlib only). 200 slow clients each send a partial request and hold it (slowloris); while they
# hold, a well-behaved client must still get /healthz, /metrics and /api/state answered within
# ANSWER_S; after they close the service must answer as before. Also: a client that trickles a
# header byte every 0.5 s and an idle keep-alive connection are closed by the server within the
# request bound (plus slack); the process keeps a bounded number of sockets; two requests on one
# connection get two answers (keep-alive); an oversize request and a request with a body get a
# 4xx answer, other methods 405. A second monitor with only 24 file descriptors runs out of them
# before its connection limit; once the slow clients close it must answer again, within the
# request bound. Every wait is a poll on a condition with a deadline.
import http.client
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

from bltest import free_port

BATLINK = os.environ.get("BATLINK", "build/batlink")
SLOW = 200  # slow clients
ANSWER_S = 5.0  # a well-behaved request is answered within this, even under load
CLOSE_S = 10.0 + 15.0  # the server's request bound (10 s) plus slack for a loaded machine
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def get(port, path, timeout=ANSWER_S, method="GET", headers=None, body=None):
    """One request on a new connection: (status, headers dict, body, seconds) or an exception."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data, time.monotonic() - t0
    finally:
        c.close()


def wait_for(what, cond, deadline_s):
    """Poll cond() until it returns a true value or the deadline passes."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            last = cond()
            if last:
                return last
        except OSError as e:
            last = e
        time.sleep(0.02)  # the polling interval, not a wait for an event
    check(False, "%s: not within %.0f s (last: %r)" % (what, deadline_s, last))
    return None


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1


def closed_by_peer(sock, timeout):
    """True when the server closed (EOF or reset) within timeout seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r, _, _ = select.select([sock], [], [], max(0.0, end - time.monotonic()))
        if not r:
            return False
        try:
            if sock.recv(65536) == b"":
                return True
        except OSError:
            return True
    return False


def three_paths(port, when):
    """/healthz, /metrics and /api/state each answered (200) within ANSWER_S; the seconds."""
    times = {}
    for path in ("/healthz", "/metrics", "/api/state"):
        try:
            status, _, body, dt = get(port, path)
            check(status == 200 and len(body) > 0, "%s %s: status %d" % (when, path, status))
            check(dt < ANSWER_S, "%s %s: answered in %.2f s" % (when, path, dt))
            times[path] = dt
        except OSError as e:
            check(False, "%s %s: no answer within %.1f s: %r" % (when, path, ANSWER_S, e))
    return times


def ms(times):
    return " ".join("%s %.1f ms" % (p, t * 1e3) for p, t in times.items())


def stop(proc, err, what):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    err.seek(0)
    log = err.read().decode(errors="replace")
    check(rc == 0, "%s: exit status %d: %s" % (what, rc, log[-2000:]))
    clean = "ERROR: AddressSanitizer" not in log and "runtime error" not in log
    check(clean, "%s: sanitizer: %s" % (what, log[-2000:]))


def starved():
    """Out of file descriptors (accept fails with EMFILE) before the connection limit:
    libmicrohttpd stops listening until connections close; it must listen again after."""
    port = free_port()
    err = tempfile.TemporaryFile()

    def few_fds():
        resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24))

    proc = subprocess.Popen(
        [BATLINK, "monitor", "--http", "127.0.0.1:%d" % port, "sim:"],
        stdout=subprocess.DEVNULL,
        stderr=err,
        preexec_fn=few_fds,
    )
    slow = []
    try:
        wait_for("starved: /healthz after start", lambda: get(port, "/healthz", 2.0)[0], 60)
        for i in range(40):
            s = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_S)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: %d" % i)
            slow.append(s)
        wait_for("starved: every descriptor in use", lambda: open_fds(proc.pid) >= 24, 60)
        for s in slow:
            s.close()
        slow = []
        # Connections accepted with their request and FIN already queued are only closed by the
        # request bound (libmicrohttpd reads them once, edge-triggered), so the first answer may
        # wait for it; without the re-armed listening socket there would never be one.
        try:
            status, _, _, dt = get(port, "/healthz", timeout=CLOSE_S)
            check(status == 200, "out of descriptors: /healthz status %d" % status)
            print("out of descriptors, after the slow clients closed: /healthz in %.2f s" % dt)
        except OSError as e:
            check(False, "out of descriptors: no answer %.0f s after close: %r" % (CLOSE_S, e))
        three_paths(port, "out of descriptors, then")
    finally:
        for s in slow:
            s.close()
        stop(proc, err, "starved monitor")


def main():
    if not os.access(BATLINK, os.X_OK):
        print("FAIL: BATLINK=%s is not executable" % BATLINK)
        return 1
    starved()
    port = free_port()
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [BATLINK, "monitor", "--http", "127.0.0.1:%d" % port, "sim:"],
        stdout=subprocess.DEVNULL,
        stderr=err,
    )
    slow = []
    try:
        # ready: the link of the simulated battery is up, /healthz says so
        wait_for("/healthz 200 after start", lambda: get(port, "/healthz", 2.0)[0] == 200, 60)
        base_fds = open_fds(proc.pid)

        # keep-alive: two requests on one connection get two answers on that connection
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=ANSWER_S)
        try:
            c.request("GET", "/healthz")
            r1 = c.getresponse()
            b1 = r1.read()
            local = c.sock.getsockname() if c.sock is not None else None
            closes = r1.getheader("Connection")
            check(not r1.will_close, "keep-alive: the first answer closes: %s" % closes)
            c.request("GET", "/api/state")
            r2 = c.getresponse()
            b2 = r2.read()
            again = c.sock.getsockname() if c.sock is not None else None
            check(r1.status == 200 and r2.status == 200 and b1 and b2, "keep-alive: two answers")
            check(local is not None and local == again, "keep-alive: one connection for both")
            print("keep-alive: 2 answers (%d, %d) on one connection: %s" %
                  (r1.status, r2.status, local is not None and local == again))
        except (OSError, http.client.HTTPException) as e:
            check(False, "keep-alive: second request on one connection: %r" % e)
        finally:
            c.close()

        # request size and methods: 4xx answers, never a hang
        status, _, _, _ = get(port, "/healthz", headers={"X-Fill": "a" * 65536})
        check(400 <= status < 500, "64 KiB header: status %d, want 4xx" % status)
        big = {"Content-Length": "1000000"}
        status, _, _, _ = get(port, "/healthz", headers=big, body=b"x" * 100)
        check(400 <= status < 500, "GET with a 1 MB body: status %d, want 4xx" % status)
        for m in ("POST", "PUT", "DELETE"):
            status, hdr, _, _ = get(port, "/metrics", method=m)
            check(status == 405 and hdr.get("allow") == "GET, HEAD", "%s: %d" % (m, status))
        status, _, body, _ = get(port, "/healthz", method="HEAD")
        check(status == 200 and body == b"", "HEAD /healthz: %d %r" % (status, body))

        # 200 slow clients: a partial request each, held open
        for i in range(SLOW):
            s = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_S)
            try:
                s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: %d" % i)
            except OSError:
                pass  # the server may already have closed it: that is allowed
            slow.append(s)
        held = three_paths(port, "with %d slow clients" % SLOW)
        nfds = open_fds(proc.pid)
        check(nfds - base_fds <= 64, "open fds %d -> %d with %d slow" % (base_fds, nfds, SLOW))
        print("with %d slow clients holding: %s; fds %d -> %d" % (SLOW, ms(held), base_fds, nfds))

        for s in slow:
            s.close()
        slow = []
        after = three_paths(port, "after the slow clients closed")
        print("after they closed: %s" % ms(after))
        def fds_back():
            return open_fds(proc.pid) <= base_fds + 2

        wait_for("open fds back to %d" % base_fds, fds_back, CLOSE_S)

        # bounded in time: a trickling client and an idle keep-alive connection are closed
        t0 = time.monotonic()
        trickle = socket.create_connection(("127.0.0.1", port))
        idle = socket.create_connection(("127.0.0.1", port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        trickle_closed = idle_closed = None
        answered = b""
        trickle.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ")
        while time.monotonic() - t0 < CLOSE_S and (trickle_closed is None or idle_closed is None):
            if trickle_closed is None:
                try:
                    trickle.sendall(b"a")
                except OSError:
                    trickle_closed = time.monotonic() - t0
                if trickle_closed is None and closed_by_peer(trickle, 0):
                    trickle_closed = time.monotonic() - t0
            if idle_closed is None:
                r, _, _ = select.select([idle], [], [], 0.5)  # also the trickle's pace
                if r:
                    try:
                        d = idle.recv(65536)
                    except OSError:
                        d = b""
                    if d == b"":
                        idle_closed = time.monotonic() - t0
                    answered += d
            else:
                time.sleep(0.5)  # the trickle's pace
        check(answered.startswith(b"HTTP/1.1 200"), "idle connection: its request answered")
        check(trickle_closed is not None, "a client trickling a byte every 0.5 s is never closed")
        check(idle_closed is not None, "an idle keep-alive connection is never closed")
        print("trickling client closed after %s s, idle keep-alive connection after %s s" %
              ("%.1f" % trickle_closed if trickle_closed else "never",
               "%.1f" % idle_closed if idle_closed else "never"))
        trickle.close()
        idle.close()
        three_paths(port, "at the end")
    finally:
        for s in slow:
            s.close()
        stop(proc, err, "monitor")
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
