#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_http_drop_log.py: the warnings about HTTP clients the server drops are rate-limited like
# every warning bad input can cause (bl_log_allow): `batlink monitor --http` on the simulator, 32 +
# EXTRA idle clients that never finish a request, so the server evicts at least EXTRA of them at
# its connection limit. The log must show at most BL_LOG_BURST (10) such lines, then one
# "<server>: dropped clients: suppressed K similar messages" line (at the latest at exit), and
# every drop must be accounted for: shown lines + K >= the dropped total /metrics reports. Every
# wait is a poll on a condition with a deadline.
import os
import re
import socket
import sys

from bltest import Run, free_port, wait_until

BATLINK = os.environ.get("BATLINK", "build/batlink")
LIMIT = 32  # the server's connection limit (src/out/http.c HTTP_CONN_LIMIT)
EXTRA = 16  # connections past the limit: each evicts one
BURST = 10  # BL_LOG_BURST: lines per key and minute
FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)
    return cond


def metrics(port):
    """The dropped totals from /metrics: {"timeout": n, "evicted": n}, or None."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
    except OSError:
        return None
    found = re.findall(rb'batlink_http_connections_dropped_total\{reason="(\w+)"\} (\d+)', data)
    return {k.decode(): int(v) for k, v in found} if found else None


def main():
    port = free_port()
    mon = Run([BATLINK, "monitor", "--http", "127.0.0.1:%d" % port, "sim:"])
    up = wait_until(lambda: metrics(port) is not None)
    check(up, "monitor --http answers /metrics")
    held = []
    if up:
        for _ in range(LIMIT + EXTRA):
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(b"GET / HT")  # a request that never completes
            held.append(c)
        last = {}

        def evicted():
            m = metrics(port)
            if m is not None:
                last.update(m)
            return last.get("evicted", 0) >= EXTRA
        check(wait_until(evicted), "at least %d evictions counted: %s" % (EXTRA, last))
    rc, _, err = mon.stop()
    for c in held:
        c.close()
    check(rc == 0, "monitor exits 0 (%s)" % rc)
    shown = re.findall(r"dropped (\d+) client connection\(s\) since the last such message", err)
    bound = re.findall(r"dropped \d+ client connection.*"
                       r"\(at most (\d+) such messages a minute\)", err)
    summary = re.findall(r"dropped clients: suppressed (\d+) similar messages", err)
    check(1 <= len(shown) <= BURST, "%d dropped-client lines, at most %d" % (len(shown), BURST))
    check(len(bound) == len(shown) and all(int(b) == BURST for b in bound),
          "the lines name the bound (%d a minute): %s" % (BURST, bound))
    check(len(summary) == 1, "one summary of the suppressed lines: %s" % summary)
    total = last.get("evicted", 0) + last.get("timeout", 0)
    told = len(shown) + sum(int(k) for k in summary)
    check(told >= total, "every drop accounted for: %d lines + %s suppressed >= %d dropped"
          % (len(shown), summary, total))
    if FAILS:
        sys.stderr.write(err[-3000:])
        print("%d check(s) failed" % len(FAILS))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
