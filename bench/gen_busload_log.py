#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# gen_busload_log.py SECONDS FILE: write a candump -L log of SECONDS of a 500 kbit/s bus at full
# load (~4170 frames/s, 15 million per hour): each second the Pylontech V1.2 burst (layouts:
# shared/reference/can-profiles.md section 1; values drift slowly), the inverter's 0x305 and
# 4160 frames of 40 other 11-bit ids (a shared bus), 240 us apart. Deterministic. Prints frames.
import sys


def main():
    secs = int(sys.argv[1])
    out = open(sys.argv[2], "w", buffering=1 << 20)
    base = 1_700_000_000
    filler = ["%03X#%s" % (0x600 + i, ("%02X" % i) * 8) for i in range(40)]
    frames = 0
    for s in range(secs):
        soc = 50 + (s // 60) % 40
        cur = ((s % 600) - 300)  # 0.1 A
        volt = 5200 + (s % 100)
        burst = [
            "351#1402C012C012C201",
            "355#%02X005E00" % soc,
            "356#%02X%02X%02X%02X6B01" % (volt & 255, volt >> 8, cur & 255, (cur >> 8) & 255),
            "359#0000000006504E",
            "35C#C000",
            "35E#50594C4F4E202020",
        ]
        lines = []
        for i, b in enumerate(burst):
            lines.append("(%d.%06d) can0 %s\n" % (base + s, i * 1000, b))
        lines.append("(%d.%06d) can0 305#0000000000000000\n" % (base + s, 200000))
        us = 7000
        for k in range(4160):
            if us == 200000:
                us += 1
            lines.append("(%d.%06d) can0 %s\n" % (base + s, us, filler[k % 40]))
            us += 240
        lines.sort()
        out.writelines(lines)
        frames += len(lines)
    out.close()
    print(frames)


main()
