#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# canet_paced1.py PORTFILE RATE CLIENTS: a CAN-to-Ethernet converter stand-in on 127.0.0.1 that
# sends each frame on its own (one 13-byte record per send, TCP_NODELAY: one TCP segment each),
# RATE frames/s, to every client -- what a receiver sees from SocketCAN on a busy bus: one frame
# per wake-up. Writes its port to PORTFILE when listening; starts pacing once CLIENTS clients are
# connected (so no receiver misses the start); runs until killed. RATE 0 = connected, silent.
import os
import socket
import struct
import sys
import time

portfile, rate, nclients = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
burst = [(0x351, "1402740E740ECC01"), (0x355, "1A006400"), (0x356, "7B13E9FE6B01"),
         (0x359, "000000000A504E"), (0x35C, "C000"), (0x35E, "50594C4F4E202020"),
         (0x305, "0000000000000000")]
recs = []
for cid, hexd in burst:
    d = bytes.fromhex(hexd)
    recs.append(struct.pack(">BI", len(d), cid) + d + bytes(8 - len(d)))
# a shared bus: between the battery's bursts, other devices' frames (unknown ids)
recs += [struct.pack(">BI", 8, 0x600 + i) + bytes([i] * 8) for i in range(33)]

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen(8)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.replace(portfile + ".tmp", portfile)
clients = []
while len(clients) < nclients:
    c, _ = srv.accept()
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    clients.append(c)
if rate <= 0:
    while True:
        time.sleep(3600)
period = 1.0 / rate
t0 = time.monotonic()
k = 0
while clients:
    due = t0 + k * period
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    rec = recs[k % len(recs)]
    for c in list(clients):
        try:
            c.send(rec)
        except OSError:
            clients.remove(c)
    k += 1
