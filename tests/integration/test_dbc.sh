#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test_dbc.sh: `batlink dbc pylontech` is a DBC an independent loader understands, and that loader
# (the npm package candied) decodes the shipped captures to the same values `batlink dump --json`
# prints. Frames: data/*.log (setfirelabs US5000 V1.2/V1.3), tests/data seplos and US2000 logs,
# plus hand-made edge frames (every flag bit, negative values, 0x70/0x379) generated below.
set -euo pipefail

: "${BATLINK:?}" "${BL_SOURCE_DIR:?}" "${BL_BUILD_DIR:?}"
command -v npm >/dev/null 2>&1 || { echo "npm not installed: skipped"; exit 77; }
command -v node >/dev/null 2>&1 || { echo "node not installed: skipped"; exit 77; }

cache=$BL_BUILD_DIR/npm-candied
if [[ ! -f $cache/node_modules/candied/package.json ]]; then
    mkdir -p "$cache"
    npm install --prefix "$cache" --cache "$cache/.npm" --no-audit --no-fund --loglevel=error \
        candied@2 >"$cache/install.log" 2>&1 || {
        cat "$cache/install.log"
        echo "FAIL: npm install candied" >&2
        exit 1
    }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# usage errors exit 2
set +e
"$BATLINK" dbc >/dev/null 2>&1; [[ $? == 2 ]] || { echo "FAIL: dbc without PROFILE must exit 2"; exit 1; }
"$BATLINK" dbc nosuch >/dev/null 2>&1; [[ $? == 2 ]] || { echo "FAIL: unknown profile must exit 2"; exit 1; }
"$BATLINK" dbc --help | grep -q "batlink dbc pylontech" || { echo "FAIL: --help lacks examples"; exit 1; }
# an unknown name lists every known profile with its aliases
"$BATLINK" dbc nosuch 2>"$work/e" >/dev/null
grep -qF 'unknown profile "nosuch" (known: pylontech (pylon, ' "$work/e" ||
    { echo "FAIL: unknown profile message: $(cat "$work/e")"; exit 1; }
"$BATLINK" dbc --list pylontech >/dev/null 2>&1; [[ $? == 2 ]] || { echo "FAIL: --list NAME must exit 2"; exit 1; }
set -e

# --list: one line per profile, name first, then its aliases, then " -- note"; every name and
# alias on a line is accepted and gives that profile's DBC; GivEnergy is named (via Pylontech)
"$BATLINK" dbc --list >"$work/list"
[[ $(wc -l <"$work/list") -ge 1 ]] || { echo "FAIL: dbc --list is empty"; exit 1; }
grep -q '^pylontech pylon ' "$work/list" || { echo "FAIL: --list lacks pylontech: $(cat "$work/list")"; exit 1; }
grep '^pylontech ' "$work/list" | grep -q 'GivEnergy' || { echo "FAIL: --list lacks the GivEnergy note"; exit 1; }
while read -r line; do
    names=${line%%  -- *}
    first=${names%% *}
    "$BATLINK" dbc "$first" >"$work/first.dbc" || { echo "FAIL: dbc $first"; exit 1; }
    for n in $names; do
        "$BATLINK" dbc "$n" | cmp -s - "$work/first.dbc" || { echo "FAIL: dbc $n differs from dbc $first"; exit 1; }
    done
done <"$work/list"

"$BATLINK" dbc pylontech >"$work/pylontech.dbc"
# alias gives the same file
"$BATLINK" dbc pylon | cmp - "$work/pylontech.dbc"

# Edge frames worked out by hand from can-profiles.md 1.3/1.6/3 (not a capture):
# 0x356 -0.1 A, -40.0 degC; 0x351 zero and maximum limits; each 0x359 / 0x35C / 0x35A bit; 0x70;
# 0x379; a 5-byte 0x35E; a 4-byte 0x359 (optional module count / marker absent).
cat >"$work/edge.log" <<'EOF'
(1.000000) can0 356#E803FFFF70FE
(1.000001) can0 356#FF7F0080FF7F
(1.000002) can0 351#0000000000000000
(1.000003) can0 351#FFFFFF7FFF7FFFFF
(1.000004) can0 359#02000000
(1.000005) can0 359#04000000
(1.000006) can0 359#08000000
(1.000007) can0 359#10000000
(1.000008) can0 359#80000000
(1.000009) can0 359#00010000
(1.000010) can0 359#00080000
(1.000011) can0 359#00000200FF504E
(1.000012) can0 359#00000400FF504E
(1.000013) can0 359#000008000150
(1.000014) can0 359#00001000
(1.000015) can0 359#00008000
(1.000016) can0 359#00000001
(1.000017) can0 359#00000008
(1.000018) can0 359#01802000
(1.000019) can0 35C#80
(1.000020) can0 35C#4000
(1.000021) can0 35C#2000
(1.000022) can0 35C#1000
(1.000023) can0 35C#0800
(1.000024) can0 35A#0104104001044001
(1.000025) can0 35A#5555555555555555
(1.000026) can0 35A#AAAAAAAAAAAAAAAA
(1.000027) can0 35A#FFFFFFFFFFFFFFFF
(1.000028) can0 35A#AB00FEAF0000FA
(1.000029) can0 070#FA00CD0059014A01
(1.000030) can0 070#38FF0080FFFF0000
(1.000031) can0 379#5802
(1.000032) can0 35E#5059544553
(1.000033) can0 355#FFFFFFFFFFFF
(1.000034) can0 35F#4C4901033C02AA00
(1.000035) can0 305#0000000000000000
(1.000036) can0 123#0102
EOF

logs=("$BL_SOURCE_DIR/data/pylontech_us5000_v1.2.log" "$BL_SOURCE_DIR/data/pylontech_us5000_v1.3.log"
      "$BL_SOURCE_DIR/tests/data/seplos_bms_victron_multiplus_candump__syssi_virtual-can-bms_issue3.log"
      "$work/edge.log")
us2000=$BL_SOURCE_DIR/tests/data/pylontech_us2000_us3000_stack__setfirelabs_and_opendtu_pr1213.log
[[ -f $us2000 ]] && logs+=("$us2000")

for log in "${logs[@]}"; do
    "$BATLINK" dump --profile pylontech --json "$log" >"$work/$(basename "$log").json"
done

cat >"$work/compare.cjs" <<'EOF'
// Decode each candump log with candied + the DBC and compare with batlink's dump --json lines.
const fs = require('fs');
const { Dbc, Can } = require(process.argv[2] + '/node_modules/candied');
const dbc = new Dbc();
const db = dbc.load(fs.readFileSync(process.argv[3], 'utf8'));
const can = new Can();
can.database = db;
// text rows (a DBC describes them in a comment only) and the alarm/warning lists
const special = new Set(['manufacturer', 'marker', 'chemistry', 'undefined_bits', 'alarms', 'warnings',
  'manufacturer_cont', 'inverter_brand', 'model_text']);
let compared = 0, frames = 0, failures = 0, strict = 0;
function fail(where, msg) { failures++; if (failures < 30) console.log(`FAIL ${where}: ${msg}`); }
// A strict loader (cantools, SavvyCAN) refuses a DBC whose signal lies past its message's declared
// length: every (little-endian) signal must end inside BO_'s byte count.
// Motorola (@0) signals: the DBC start bit is the most significant bit (Vector's convention, as
// cantools reads it); the signal ends in the byte of its least significant bit. candied takes a
// Motorola start bit as the least significant one, so it is handed that bit.
for (const [name, m] of db.messages)
  for (const [k, s] of m.signals) {
    let end = s.startBit + s.length;
    if (s.endian !== 'Intel') {
      const msb = 8 * Math.floor(s.startBit / 8) + (7 - (s.startBit % 8)), lsb = msb + s.length - 1;
      end = 8 * Math.floor(lsb / 8) + 8;
      s.startBit = 8 * Math.floor(lsb / 8) + (7 - (lsb % 8));
    }
    if (end > 8 * m.dlc)
      fail('DBC', `${name} declares ${m.dlc} bytes but ${k} ends at bit ${end - 1}`);
  }
for (let i = 4; i < process.argv.length; i += 2) {
  const log = fs.readFileSync(process.argv[i], 'utf8').split('\n').filter(l => l.trim() !== '');
  const dump = fs.readFileSync(process.argv[i + 1], 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l));
  if (log.length !== dump.length) fail(process.argv[i], `${log.length} log lines, ${dump.length} dump lines`);
  log.forEach((line, n) => {
    const where = `${process.argv[i].split('/').pop()}:${n + 1}`;
    const m = /^\((\d+\.\d+)\) \S+ ([0-9A-Fa-f]+)#([0-9A-Fa-f]*)$/.exec(line);
    if (!m) { fail(where, 'unparsed line ' + line); return; }
    const id = parseInt(m[2], 16), ext = m[2].length === 8;
    const bytes = (m[3].match(/../g) || []).map(h => parseInt(h, 16));
    const d = dump[n];
    frames++;
    if (parseInt(d.id, 16) !== id || d.dlc !== bytes.length || d.data !== m[3].toLowerCase())
      fail(where, `dump frame ${JSON.stringify(d)} differs from the log`);
    // candied keeps a 29-bit message's DBC id with bit 31 set
    let dbcId = ext ? (id | 0x80000000) >>> 0 : id;
    // an addressed 29-bit message (Pylon HV 0x4213 = 0x4210 from address 3) is declared once,
    // at address 0: a DBC has no address nibble
    if (ext && !can.getMessageById(dbcId)) dbcId = (dbcId & ~0xF) >>> 0;
    let msg = can.decode(can.createFrame(dbcId, bytes, ext));
    if (msg) strict++;
    // A V1.3 0x355 (6 bytes, soc_hires_pct in bytes 4-5) is the declared length: decode() takes it.
    if (!msg && id === 0x355 && bytes.length === 6) fail(where, 'candied refuses a 6-byte 0x355');
    // candied's decode() insists on the DBC's DLC; real Pylontech frames vary (0x355 DLC 4 or
    // 6, 0x35E DLC 5-8), so other lengths go through its per-signal decoder on the bytes present.
    const def = can.getMessageById(dbcId);
    if (!msg && def)
      msg = { name: def.name, boundSignals: new Map([...def.signals].map(([k, s]) => [k, can.decodeSignal(bytes, s)])) };
    if (!msg) {
      if (d.message !== null) fail(where, `DBC has no message, dump says ${d.message}`);
      return;
    }
    if (d.message !== msg.name) { fail(where, `message ${d.message} vs DBC ${msg.name}`); return; }
    if (d.note) return; // short frame: dump shows it raw, by design
    const seen = new Set();
    for (const [k, s] of msg.boundSignals) {
      const v = s.value;
      const bit = /^(alarm|warning)_(.*)$/.exec(k);
      if (bit) {
        const list = d.signals[bit[1] + 's'];
        if (Number.isNaN(v)) { continue; }
        if (!Array.isArray(list)) { fail(where, `${k}: dump has no ${bit[1]}s list`); continue; }
        if ((v === 1) !== list.includes(bit[2])) fail(where, `${k}=${v} but ${bit[1]}s=${JSON.stringify(list)}`);
        compared++;
        continue;
      }
      seen.add(k);
      if (Number.isNaN(v)) {
        if (k in d.signals) fail(where, `${k} beyond the DLC in the DBC but dump shows ${d.signals[k]}`);
        continue;
      }
      if (!(k in d.signals)) { fail(where, `${k}=${v} missing in dump`); continue; }
      const got = d.signals[k];
      const want = typeof got === 'boolean' ? (v === 1) : v;
      const ok = typeof got === 'boolean' ? got === want : Math.abs(got - v) <= 1e-9 * Math.max(1, Math.abs(v));
      if (!ok) fail(where, `${k}: dump ${got}, DBC ${v}`);
      compared++;
    }
    // text rows (0x35E name, Victron 0x370/0x374 labels ...) are DBC comments, not signals
    for (const k of Object.keys(d.signals))
      if (!seen.has(k) && !special.has(k) && typeof d.signals[k] !== 'string')
        fail(where, `dump signal ${k} not in the DBC`);
  });
}
console.log(`compared ${compared} values in ${frames} frames (${strict} by strict decode), ${failures} failures`);
process.exit(failures === 0 && compared > Number(process.env.MIN_COMPARED || 150) ? 0 : 1);
EOF

args=()
for log in "${logs[@]}"; do args+=("$log" "$work/$(basename "$log").json"); done
node "$work/compare.cjs" "$cache" "$work/pylontech.dbc" "${args[@]}"

# Every profile of the registry (dbc --list): its DBC loads in candied and decodes what
# `batlink sim --profile NAME` writes to the same values `batlink dump --profile NAME --json`
# prints (the engine's byte order, offsets and 29-bit ids included).
while read -r line; do
    name=${line%% *}
    "$BATLINK" dbc "$name" >"$work/p-$name.dbc"
    "$BATLINK" sim --profile "$name" --duration 30 "$work/p-$name.log" 2>/dev/null
    "$BATLINK" dump --profile "$name" --json "$work/p-$name.log" >"$work/p-$name.json"
    MIN_COMPARED=10 node "$work/compare.cjs" "$cache" "$work/p-$name.dbc" "$work/p-$name.log" \
        "$work/p-$name.json" || { echo "FAIL: profile $name: DBC and dump disagree"; exit 1; }
done <"$work/list"


# The real captures and worked values of the other profiles, through their own DBC
# (can-profiles.md 6.4/6.5, 7.1): the SC0500 0x7320 reply, the 6.5 worked 0x4210 from address 3,
# a "30000 + I" discharge limit (6.6: shown as sent, negative); the GoodWe and Sungrow inverter
# frames; BYD battery frames (simulator constants, UNVERIFIED) and a negative big-endian current.
cat >"$work/hv-edge.log" <<'EOF2'
(1.000000) can0 00004213#A00F9A74E2045064
(1.000001) can0 00004220#1C11100E2A764A79
(1.000002) can0 00004250#1B0100A003010202
(1.000003) can0 00004280#AA00000000000000
EOF2
cat >"$work/byd-edge.log" <<'EOF2'
(1.000000) can0 110#0920064001000100
(1.000001) can0 150#260C271000F300FA
(1.000002) can0 1D0#0849FF8300B40308
(1.000003) can0 210#00BE00B400000000
(1.000004) can0 250#0316006600330209
(1.000005) can0 2D0#0042594400000000
(1.000006) can0 3D0#012D426F78205072
EOF2
check_profile_logs() {
    local name=$1 min=$2
    shift 2
    local a=()
    for log in "$@"; do
        "$BATLINK" dump --profile "$name" --json "$log" >"$work/$name-$(basename "$log").json"
        a+=("$log" "$work/$name-$(basename "$log").json")
    done
    MIN_COMPARED=$min node "$work/compare.cjs" "$cache" "$work/p-$name.dbc" "${a[@]}" ||
        { echo "FAIL: profile $name: DBC and dump disagree on $*"; exit 1; }
}
check_profile_logs pylontech-hv 20 \
    "$BL_SOURCE_DIR/tests/data/pylontech_hv_sc0500_h48050_growatt_fragment__eevblog.log" "$work/hv-edge.log"
check_profile_logs byd-hvs 20 \
    "$BL_SOURCE_DIR/tests/data/goodwe_gw6000eh_inverter_to_byd_hvs__battery-emulator_issue28.log" \
    "$BL_SOURCE_DIR/tests/data/sungrow_sh10rs_inverter_to_battery_byd_style__battery-emulator_pr552.log" \
    "$work/byd-edge.log"
# the worked 0x4210 decodes to 6.5's values in the DBC too
"$BATLINK" dump --profile pylontech-hv --json "$work/hv-edge.log" | head -1 |
    grep -qF '"voltage_v":400,"current_a":-15,"temperature_c":25,"soc_pct":80,"soh_pct":100' ||
    { echo "FAIL: pylontech-hv 6.5 worked frame: $("$BATLINK" dump --profile pylontech-hv --json "$work/hv-edge.log" | head -1)"; exit 1; }
