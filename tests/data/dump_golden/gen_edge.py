#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gen_edge.py FILE: write edge.log, a deterministic candump -L log that reaches every branch of
# `dump`'s formatter: each Pylontech id at every length 0..8 with random bytes (negative values,
# short frames), remote requests, extended ids, error frames, unknown ids, and the timestamp
# shapes candump and other tools write (6 digits, 9 digits = ns, fewer digits, small seconds).
import random
import sys

rng = random.Random(11)
ids = [0x351, 0x355, 0x356, 0x359, 0x35C, 0x35E, 0x35A, 0x35F, 0x70, 0x379, 0x305, 0x123, 0x7FF,
       0x000]
out = []
t = 1_700_000_000_000_000


def ts():
    global t
    t += rng.randrange(1, 3_000_000)
    shape = rng.randrange(8)
    s, us = divmod(t, 1_000_000)
    if shape == 0:
        return "(%d.%09d)" % (s, us * 1000 + rng.randrange(1000))
    if shape == 1:
        return "(%d.%03d)" % (s, us // 1000)
    if shape == 2:
        return "(%d.%06d)" % (rng.randrange(0, 100), us)
    return "(%010d.%06d)" % (s, us)


def data(n):
    return "".join("%02X" % rng.randrange(256) for _ in range(n))


for id_ in ids:
    for n in range(9):
        for _ in range(12):
            out.append("%s can0 %03X#%s" % (ts(), id_, data(n)))
    out.append("%s can0 %03X#R" % (ts(), id_))
    out.append("%s can1 %03X#R%d" % (ts(), id_, rng.randrange(9)))
    out.append("%s can0 %08X#%s" % (ts(), id_, data(rng.randrange(9))))
for _ in range(200):
    out.append("%s can0 %08X#%s" % (ts(), rng.randrange(0x20000000), data(rng.randrange(9))))
    out.append("%s can0 %08X#%s" % (ts(), 0x20000000 | rng.randrange(0x400), data(8)))
    out.append("%s vcan12 %03X#%s T" % (ts(), rng.randrange(0x800), data(rng.randrange(9))))
    out.append("%s can0 %03X#%s R" % (ts(), rng.choice(ids), data(8)))
# values at the edges of every signal: all zeros, all ones, sign bits
for id_ in ids:
    for b in ("00", "FF", "7F", "80", "01", "FE"):
        out.append("%s can0 %03X#%s" % (ts(), id_, b * 8))
with open(sys.argv[1], "w") as f:
    f.write("\n".join(out) + "\n")
