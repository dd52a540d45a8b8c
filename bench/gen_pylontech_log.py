#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gen_pylontech_log.py N FILE: write a candump -L log of about N frames of a Pylontech LV bus
# (layouts: shared/reference/can-profiles.md section 1): one burst per second of 0x351, 0x355,
# 0x356, 0x359, 0x35C, 0x35E with slowly varying values, the inverter's 0x305 heartbeat, and a
# few frames of unknown ids (11- and 29-bit) as on a shared bus. Deterministic (fixed seed).
import random
import struct
import sys


def main():
    n = int(sys.argv[1])
    out = open(sys.argv[2], "w")
    rnd = random.Random(42)
    t_us = 1_700_000_000_000_000
    soc, volt, cur, temp = 60.0, 52.0, 0.0, 25.0
    frames = 0
    lines = []

    def emit(can_id, data, ext=False):
        nonlocal frames
        ident = "%08X" % can_id if ext else "%03X" % can_id
        lines.append("(%d.%06d) can0 %s#%s\n" % (t_us // 1_000_000, t_us % 1_000_000, ident,
                                                  data.hex().upper()))
        frames += 1

    while frames < n:
        cur = max(-100.0, min(100.0, cur + rnd.uniform(-5, 5)))
        soc = max(5.0, min(100.0, soc + cur / 3600.0))
        volt = 48.0 + soc * 0.06 + cur * 0.01
        temp = max(5.0, min(45.0, temp + rnd.uniform(-0.2, 0.2)))
        ccl = 370.0 if soc < 95 else 370.0 * (100 - soc) / 5
        alarm = 0x08 if temp > 40 else 0
        burst = [
            (0x351, struct.pack("<HhhH", 532, int(ccl * 10), 3700, 460)),
            (0x355, struct.pack("<HH", int(soc), 100)),
            (0x356, struct.pack("<hhh", int(volt * 100), int(cur * 10), int(temp * 10))),
            (0x359, bytes([0, 0, alarm, 0, 10]) + b"PN"),
            (0x35C, bytes([0xC0 | (0x20 if soc < 10 else 0), 0])),
            (0x35E, b"PYLON   "),
        ]
        for can_id, data in burst:
            emit(can_id, data)
            t_us += rnd.randint(900, 1300)
        if rnd.random() < 0.9:
            emit(0x305, bytes(8))
        # unknown ids: another device's status and a 29-bit id
        if rnd.random() < 0.5:
            emit(0x18FF50E5, bytes(rnd.getrandbits(8) for _ in range(8)), ext=True)
        if rnd.random() < 0.3:
            emit(0x123, bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 8))))
        t_us += 1_000_000 - 7_000
        if len(lines) >= 10000:
            out.writelines(lines)
            lines.clear()
    out.writelines(lines)
    out.close()
    print(frames)


if __name__ == "__main__":
    main()
