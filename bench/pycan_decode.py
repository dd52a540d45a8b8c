#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# pycan_decode.py FILE: the python-can way a user would script `batlink dump --json`: read a candump
# log with can.CanutilsLogReader, decode the Pylontech LV messages with struct.unpack into a dict,
# print one JSON object per frame. Layouts: shared/reference/can-profiles.md section 1.
import json
import struct
import sys

import can

ALARMS = [(0, 1, "overvoltage"), (0, 2, "undervoltage"), (0, 3, "overtemperature"),
          (0, 4, "undertemperature"), (0, 7, "discharge_overcurrent"),
          (1, 0, "charge_overcurrent"), (1, 3, "system_error")]
WARNINGS = [(2, 1, "high_voltage"), (2, 2, "low_voltage"), (2, 3, "high_temperature"),
            (2, 4, "low_temperature"), (2, 7, "discharge_high_current"),
            (3, 0, "charge_high_current"), (3, 3, "internal_communication_fail")]


def decode(msg):
    d = bytes(msg.data)
    i = msg.arbitration_id
    if msg.is_extended_id or msg.is_remote_frame or msg.is_error_frame:
        return None, {}
    if i == 0x351 and len(d) >= 6:
        cvl, ccl, dcl = struct.unpack_from("<Hhh", d)
        s = {"charge_voltage_limit_v": cvl / 10, "charge_current_limit_a": ccl / 10,
             "discharge_current_limit_a": dcl / 10}
        if len(d) >= 8:
            s["discharge_voltage_limit_v"] = struct.unpack_from("<H", d, 6)[0] / 10
        return "limits", s
    if i == 0x355 and len(d) >= 4:
        soc, soh = struct.unpack_from("<HH", d)
        return "soc_soh", {"soc_pct": soc, "soh_pct": soh}
    if i == 0x356 and len(d) >= 6:
        v, c, t = struct.unpack_from("<hhh", d)
        return "measurements", {"voltage_v": v / 100, "current_a": c / 10,
                                "temperature_c": t / 10}
    if i == 0x359 and len(d) >= 7:
        return "protection_alarms", {
            "alarms": [n for b, bit, n in ALARMS if d[b] >> bit & 1],
            "warnings": [n for b, bit, n in WARNINGS if d[b] >> bit & 1],
            "module_count": d[4]}
    if i == 0x35C and len(d) >= 1:
        return "requests", {"charge_enable": bool(d[0] & 0x80),
                            "discharge_enable": bool(d[0] & 0x40),
                            "force_charge_1": bool(d[0] & 0x20),
                            "force_charge_2": bool(d[0] & 0x10),
                            "full_charge_request": bool(d[0] & 0x08)}
    if i == 0x35E:
        return "manufacturer", {"manufacturer": d.rstrip(b" \0").decode("ascii", "replace")}
    if i == 0x305:
        return "inverter_heartbeat", {}
    return None, {}


def main():
    out = sys.stdout
    for msg in can.CanutilsLogReader(sys.argv[1]):
        name, signals = decode(msg)
        out.write(json.dumps({"ts": msg.timestamp, "id": "0x%X" % msg.arbitration_id,
                              "ext": msg.is_extended_id, "dlc": msg.dlc, "data": msg.data.hex(),
                              "message": name, "signals": signals}) + "\n")


if __name__ == "__main__":
    main()
