# SPDX-License-Identifier: MIT
# test_energy.py: the energy counters of `monitor` end to end -- a candump capture with a scripted
# current profile (its own timestamps, a silent gap) gives the expected charged/discharged kWh in
# the JSON state, the counters survive a restart through [monitor] energy_file, and a corrupt file
# is set aside with a warning instead of stopping the monitor.
import json
import os
import subprocess
import sys
import tempfile

BATLINK = os.environ.get("BATLINK", "build/batlink")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def frame_356(t, volts, amps):
    v = round(volts * 100) & 0xFFFF
    a = round(amps * 10) & 0xFFFF
    data = bytes([v & 0xFF, v >> 8, a & 0xFF, a >> 8, 0x6B, 0x01])
    return "(%.6f) can0 356#%s\n" % (t, data.hex().upper())


def capture(path):
    """50 V x 20 A (1000 W) for 3600 s with no frames from 1000 to 1060 s (longer than
    stale_after: not integrated), then 50 V x -40 A (-2000 W) to 5400 s."""
    t0 = 1700000000.0
    with open(path, "w") as f:
        for s in range(0, 3601):
            if 1000 < s < 1060:
                continue
            f.write(frame_356(t0 + s, 50.0, 20.0))
        for s in range(3601, 5401):
            f.write(frame_356(t0 + s, 50.0, -40.0))
    # trapezoids: 1000 W over 3540 s; the sign-change step 3600 -> 3601 s split at its zero
    # (1/3 s at +500 W mean, 2/3 s at -1000 W mean); -2000 W over 1799 s
    return (1000 * 3540 + 500 / 3) / 3.6e6, (2000 * 1799 + 2000 / 3) / 3.6e6


def run(cfg, log, env=None):
    p = subprocess.run([BATLINK, "monitor", "--config", cfg, "--profile", "pylontech", "--json", log],
                       capture_output=True, text=True, timeout=120, env=env)
    states = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
    return p, states[-1] if states else {}


def near(got, want, rel=0.005):
    return got is not None and abs(got - want) <= want * rel


def main():
    tmp = tempfile.mkdtemp(prefix="bl-energy-")
    log = os.path.join(tmp, "profile.log")
    want_c, want_d = capture(log)
    efile = os.path.join(tmp, "energy.state")
    cfg = os.path.join(tmp, "batlink.ini")
    with open(cfg, "w") as f:
        f.write(f"[monitor]\nenergy_file = {efile}\nstale_after = 5\n")

    p, st = run(cfg, log)
    check(p.returncode == 0, f"monitor exit {p.returncode}: {p.stderr[-500:]}")
    c, d = st.get("energy_charged_kwh"), st.get("energy_discharged_kwh")
    check(near(c, want_c), f"charged {c} kWh, want {want_c:.4f} within 0.5 %")
    check(near(d, want_d), f"discharged {d} kWh, want {want_d:.4f} within 0.5 %")
    text = open(efile).read() if os.path.exists(efile) else ""
    check(text.startswith("batlink-energy 1\n"), f"state file written: {text!r}")
    check(not os.path.exists(efile + ".tmp"), "no temporary file left")

    # a restart continues from the file (the replay's clock goes back: that step is a gap)
    p, st = run(cfg, log)
    c2, d2 = st.get("energy_charged_kwh"), st.get("energy_discharged_kwh")
    check(near(c2, 2 * want_c), f"after a restart charged {c2} kWh, want {2 * want_c:.4f}")
    check(near(d2, 2 * want_d), f"after a restart discharged {d2} kWh, want {2 * want_d:.4f}")

    # a corrupt file is set aside with a warning naming it; the counters start again
    with open(efile, "w") as f:
        f.write("batlink-energy 1\ncharged_wh lots\n")
    p, st = run(cfg, log)
    check(p.returncode == 0, f"corrupt file: monitor exit {p.returncode}")
    check(efile in p.stderr and "corrupt" in p.stderr, f"corrupt file warning: {p.stderr[-400:]}")
    check(os.path.exists(efile + ".corrupt"), "corrupt file set aside")
    check(near(st.get("energy_charged_kwh"), want_c), f"fresh count {st.get('energy_charged_kwh')}")

    # unreadable (a directory): left alone, counted, not saved, no crash
    os.unlink(efile)
    os.mkdir(efile)
    p, st = run(cfg, log)
    check(p.returncode == 0 and os.path.isdir(efile) and efile in p.stderr
          and near(st.get("energy_charged_kwh"), want_c),
          f"a directory as energy_file is left alone: rc {p.returncode} {p.stderr[-200:]}")
    os.rmdir(efile)

    # none: not kept
    with open(cfg, "w") as f:
        f.write("[monitor]\nenergy_file = none\n")
    p, st = run(cfg, log)
    check(near(st.get("energy_charged_kwh"), want_c) and not os.path.exists(efile),
          "energy_file = none counts but keeps no file")

    # the default under systemd: $STATE_DIRECTORY/energy-<command>-<device>.state
    sd = os.path.join(tmp, "state")
    os.mkdir(sd)
    with open(cfg, "w") as f:
        f.write("[mqtt]\ndevice = shed\n")
    p, st = run(cfg, log, dict(os.environ, STATE_DIRECTORY=sd))
    check(os.listdir(sd) == ["energy-monitor-shed.state"],
          f"default file in $STATE_DIRECTORY: {os.listdir(sd)}")

    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
