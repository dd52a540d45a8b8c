#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# test_link_hook.py: [monitor] on_link_down / on_link_up. The simulated battery holds its bursts
# for 4 s every 20 s (sim: scenario late-frames); with down_after = 2 the link goes down and comes
# back: the down command runs once per episode (not at start-up), the up command once after it;
# argv is split without a shell (quotes group, "$HOME" arrives literally), the state arrives in
# BATLINK_* variables; a bad value is a usage error naming the key. Waits on conditions.
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bltest import Run, wait_until  # noqa: E402

BATLINK = os.environ.get("BATLINK", "")
FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


HOOK = r"""import json, os, sys
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"argv": sys.argv[2:],
                        "env": {k: v for k, v in os.environ.items() if k.startswith("BATLINK_")}})
            + "\n")
"""


def events(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def main():
    if not BATLINK:
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        hook = os.path.join(tmp, "hook.py")
        log = os.path.join(tmp, "events.jsonl")
        with open(hook, "w") as f:
            f.write(HOOK)
        ini = os.path.join(tmp, "m.ini")
        with open(ini, "w") as f:
            f.write("[monitor]\nstale_after = 1\ndown_after = 2\n"
                    'on_link_down = python3 %s %s "relay off" $HOME\n'
                    "on_link_up = python3 %s %s relay-on\n" % (hook, log, hook, log))
        mon = Run([BATLINK, "monitor", "--json", "--config", ini, "sim:?scenario=late-frames"])
        ok = wait_until(lambda: len(events(log)) >= 2, 60)
        check(ok, "a down and an up event within 60 s (bursts held 4 s every 20 s)")
        ev = events(log)
        if len(ev) >= 2:
            d, u = ev[0], ev[1]
            check(d["argv"] == ["relay off", "$HOME"], "argv split without a shell: %s" % d["argv"])
            check(d["env"].get("BATLINK_EVENT") == "link_down" and
                  d["env"].get("BATLINK_LINK_STATE") == "down", "down: event and state")
            check(float(d["env"].get("BATLINK_LAST_FRAME_AGE_S", "0")) >= 2.0,
                  "down after down_after: age %s" % d["env"].get("BATLINK_LAST_FRAME_AGE_S"))
            check("BATLINK_SOC_PCT" in d["env"] and d["env"].get("BATLINK_SOURCE", "").startswith(
                "sim:"), "the state in the environment: %s" % d["env"])
            check(u["env"].get("BATLINK_EVENT") == "link_up" and u["argv"] == ["relay-on"],
                  "up after down")
        rc, _, err = mon.stop()
        check(rc == 0, "monitor exits 0: %s" % err[-300:])
        check(len(events(log)) % 2 == 0 or len(events(log)) <= 3,
              "once per transition: %d events" % len(events(log)))
        check("link_down: ran python3" in err, "the hook run is logged")
        # no down event at start-up before any frame: a source that never sends
        with open(ini, "w") as f:
            f.write('[monitor]\non_link_down = "unbalanced\n')
        r = subprocess.run([BATLINK, "monitor", "--config", ini, "sim:"], capture_output=True,
                           text=True)
        check(r.returncode == 2 and "on_link_down" in r.stderr and "quote" in r.stderr,
              "bad command: usage error naming the key: %s" % r.stderr)
    if FAILS:
        print("%d check(s) failed" % len(FAILS), file=sys.stderr)
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
