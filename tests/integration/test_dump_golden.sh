#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_dump_golden.sh: `batlink dump` and `dump --json` stay byte-identical on every shipped log
# (data/*.log, tests/data/*.log, tests/data/diag/*.log and tests/data/dump_golden/edge.log, which
# reaches every formatter branch). tests/data/dump_golden/SHA256SUMS holds the SHA-256 of stdout
# and stderr and the exit status of each run, recorded from the output before the formatter and
# parser were tuned for speed. BL_GOLDEN_UPDATE=1 rewrites it (only when a change is intended).
set -uo pipefail

: "${BATLINK:?}" "${BL_SOURCE_DIR:?}"
cd "$BL_SOURCE_DIR" || exit 1
sums=tests/data/dump_golden/SHA256SUMS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for f in data/*.log tests/data/*.log tests/data/diag/*.log tests/data/dump_golden/edge.log; do
    for mode in text json; do
        args=()
        [[ $mode == json ]] && args=(--json)
        "$BATLINK" dump "${args[@]}" "$f" >"$work/out" 2>"$work/err"
        rc=$?
        printf '%s %s %s %s %s\n' "$(sha256sum <"$work/out" | cut -d' ' -f1)" \
            "$(sha256sum <"$work/err" | cut -d' ' -f1)" "$rc" "$mode" "$f"
    done
done >"$work/now"

if [[ ${BL_GOLDEN_UPDATE:-0} == 1 ]]; then
    cp "$work/now" "$sums"
    echo "wrote $sums ($(wc -l <"$sums") runs)"
    exit 0
fi
if ! diff -u "$sums" "$work/now"; then
    echo "FAIL: dump output differs from the recorded output (lines above: stdout sha, stderr sha, exit, mode, file)"
    exit 1
fi
echo "PASS: $(wc -l <"$sums") dump runs byte-identical"
