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

# repeated frames (dump keeps the rendered line ends of frames it has seen): the edge log twice
# through stdin gives its output twice, in both formats. The profile is forced: under auto a
# longer input may settle recognition differently, which is not what this checks.
fails=0
for mode in text json; do
    args=(--profile pylontech)
    [[ $mode == json ]] && args+=(--json)
    "$BATLINK" dump "${args[@]}" tests/data/dump_golden/edge.log >"$work/once"
    cat "$work/once" "$work/once" >"$work/twice.want"
    cat tests/data/dump_golden/edge.log tests/data/dump_golden/edge.log |
        "$BATLINK" dump "${args[@]}" - >"$work/twice"
    if ! cmp -s "$work/twice" "$work/twice.want"; then
        echo "FAIL: $mode: the edge log twice differs from its output twice:"
        diff "$work/twice.want" "$work/twice" | head -5
        fails=1
    fi
done

if [[ ${BL_GOLDEN_UPDATE:-0} == 1 ]]; then
    cp "$work/now" "$sums"
    echo "wrote $sums ($(wc -l <"$sums") runs)"
    exit 0
fi
if ! diff -u "$sums" "$work/now"; then
    echo "FAIL: dump output differs from the recorded output (lines above: stdout sha, stderr sha, exit, mode, file)"
    exit 1
fi
((fails)) && exit 1
echo "PASS: $(wc -l <"$sums") dump runs byte-identical, repeated frames too"
