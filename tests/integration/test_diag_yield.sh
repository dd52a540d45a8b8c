#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_diag_yield.sh: issue 13's yield on a 20-call sample: simulated service calls with seed 004's
# cause mix and field noise (bench/diag_yield.py); the top cause finding must name the cause in
# at least 90 % of them. The 200-call run is bench/diag_yield.py --calls 200 (not in CI).
set -uo pipefail
: "${BATLINK:?}" "${BL_SOURCE_DIR:?}"
python3 "$BL_SOURCE_DIR/bench/diag_yield.py" --batlink "$BATLINK" --calls 20 --seed 13 --min 0.90
