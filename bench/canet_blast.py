#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# canet_blast.py: helper of bench/canet_bench.sh. A CAN-to-Ethernet converter stand-in on
# 127.0.0.1 (13-byte records, shared/reference/transports.md section 1.1) that either blasts
# N records as fast as TCP takes them, or paces F frames/s in 10 ms packets (the USR-CANET200's
# default package time) for S seconds; and a naive Python receiver as the peer tool to compare.
#   canet_blast.py serve-blast PORTFILE N     accept one client, send N records, close
#   canet_blast.py serve-paced PORTFILE FPS S accept one client, pace FPS frames/s for S s, close
#   canet_blast.py recv HOST PORT             connect, count records until EOF, print rusage
#   canet_blast.py measure OUT CMD ARGS...    run CMD (stdout to OUT), print its CPU and wall s
import os
import resource
import socket
import struct
import sys
import time


def records(n):
    # Pylontech-like std frames, DLC 8, rotating ids and data
    ids = [0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E]
    one = b"".join(bytes([0x08]) + struct.pack(">I", ids[i % 6]) + bytes([(i * 13 + k) & 0xFF for k in range(8)])
                   for i in range(600))
    reps = (n + 599) // 600
    return (one * reps)[: n * 13]


def listen(portfile):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    os.replace(portfile + ".tmp", portfile)
    c, _ = s.accept()
    s.close()
    return c


def serve_blast(portfile, n):
    data = records(n)
    c = listen(portfile)
    t0 = time.monotonic()
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    c.recv(1)  # wait until the receiver has read everything and closed
    print("sent %d records in %.3f s" % (n, time.monotonic() - t0), file=sys.stderr)
    c.close()


def serve_paced(portfile, fps, seconds):
    per = max(1, fps // 100)  # one packet every 10 ms
    packet = records(per)
    c = listen(portfile)
    t0 = time.monotonic()
    sent = 0
    k = 0
    while True:
        due = t0 + k * 0.01
        now = time.monotonic()
        if now - t0 >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        c.sendall(packet)
        sent += per
        k += 1
    print("paced %d records in %.1f s (%.0f frames/s)" % (sent, time.monotonic() - t0,
                                                         sent / (time.monotonic() - t0)),
          file=sys.stderr)
    c.close()


def recv(host, port):
    c = socket.create_connection((host, int(port)))
    buf = b""
    n = 0
    t0 = None
    while True:
        b = c.recv(65536)
        if not b:
            break
        if t0 is None:
            t0 = time.monotonic()
        buf += b
        whole = len(buf) - len(buf) % 13
        for off in range(0, whole, 13):
            info, cid = struct.unpack_from(">BI", buf, off)
            if info & 0x30 or (info & 0x0F) > 8:
                pass
            n += 1
        buf = buf[whole:]
    span = time.monotonic() - (t0 or time.monotonic())
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print("frames %d first_to_last_s %.6f cpu_s %.3f" % (n, span, ru.ru_utime + ru.ru_stime))
    c.close()


def measure(outfile, argv):
    """Run argv with stdout to outfile (stderr inherited); print its CPU and wall time."""
    t0 = time.monotonic()
    with open(outfile, "wb") as out:
        pid = os.fork()
        if pid == 0:
            os.dup2(out.fileno(), 1)
            os.execvp(argv[0], argv)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    print("cpu_s %.3f wall_s %.3f utime_s %.3f stime_s %.3f rc %d"
          % (ru.ru_utime + ru.ru_stime, wall, ru.ru_utime, ru.ru_stime,
             os.waitstatus_to_exitcode(status)))


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "measure":
        measure(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    if mode == "serve-blast":
        serve_blast(sys.argv[2], int(sys.argv[3]))
    elif mode == "serve-paced":
        serve_paced(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "recv":
        recv(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown mode " + mode)
