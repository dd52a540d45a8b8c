/* SPDX-License-Identifier: MIT */
/* lv_common.c: special rows, the 0x35A bit pairs and the plausibility check shared by the
 * Pylon-set profiles (can-profiles.md 1-5); see lv_common.h. Pure. */
#include <string.h>

#include "lv_common.h"

/* ---- special rows (moved here from pylontech.c, unchanged) ---- */

/* Printable text of an ASCII row, as a battery means it: bytes up to the frame's end, cut at the
 * first byte outside 0x20..0x7E (a NUL pad, or the binary tail of Deye's "DY001" 03 E8 03,
 * can-profiles.md 1.3 0x35E), trailing spaces trimmed ("PYLON" + 3 spaces, D8). */
static size_t ascii_text(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len,
                         char *out, size_t n)
{
    size_t first = s->start / 8u, last = (size_t)(s->start + s->len) / 8u;
    size_t k = 0;
    if (last > len) last = len;
    for (size_t i = first; i < last && k + 1 < n; i++) {
        if (data[i] < 0x20 || data[i] > 0x7E) break;
        out[k++] = (char)data[i];
    }
    while (k > 0 && out[k - 1] == ' ')
        k--;
    if (n > 0) out[k] = '\0';
    return k;
}

static void ascii_decode(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len,
                         bl_us now, struct bl_battery *st)
{
    if (s->field != BL_F_MANUFACTURER) return;
    size_t k = ascii_text(s, data, len, st->manufacturer, sizeof st->manufacturer);
    bl_battery_set(st, BL_F_MANUFACTURER, (int32_t)k, now);
}

/* Pads with spaces to the row's width: genuine Pylontech sends "PYLON" + 3 spaces, DLC 8 (D6). */
static void ascii_encode(const struct bl_signal_desc *s, const struct bl_battery *st,
                         uint8_t data[8])
{
    const char *t = s->text != NULL ? s->text : "";
    if (s->field == BL_F_MANUFACTURER && bl_battery_known(st, BL_F_MANUFACTURER))
        t = st->manufacturer;
    size_t first = s->start / 8u, width = s->len / 8u, tl = strlen(t);
    for (size_t i = 0; i < width && first + i < 8; i++)
        data[first + i] = i < tl ? (uint8_t)t[i] : (uint8_t)' ';
}

static size_t ascii_format(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len,
                           bool json, char *buf, size_t n)
{
    char t[9];
    size_t k = ascii_text(s, data, len, t, sizeof t), o = 0;
    if (k == 0 || n < 2 * k + 3) return 0;
    buf[o++] = '"';
    for (size_t i = 0; i < k; i++) {
        if (json && (t[i] == '"' || t[i] == '\\')) buf[o++] = '\\';
        buf[o++] = t[i];
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return o;
}

/* D4: implementations set bits the spec leaves undefined (system error in byte 1 bit 7 instead of
 * bit 3 ...). Decode per spec, and show any undefined set bit raw so nothing is hidden. */
static size_t undefined_format(const struct bl_signal_desc *s, const uint8_t *data, uint8_t len,
                               bool json, char *buf, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t first = s->start / 8u, last = (size_t)(s->start + s->len) / 8u;
    uint32_t v = 0;
    if (last > len) last = len;
    for (size_t i = first; i < last; i++)
        v |= (uint32_t)data[i] << (8u * (i - first));
    v &= s->mask;
    size_t digits = 2 * (last - first), o = 0;
    if (v == 0 || n < digits + 5) return 0;
    if (json) buf[o++] = '"';
    buf[o++] = '0';
    buf[o++] = 'x';
    for (size_t i = digits; i > 0; i--)
        buf[o++] = hex[(v >> (4u * (i - 1u))) & 0xFu];
    if (json) buf[o++] = '"';
    buf[o] = '\0';
    return o;
}

const struct bl_sig_special bl_sp_ascii = {"ascii", ascii_decode, ascii_encode, ascii_format,
                                           false};
const struct bl_sig_special bl_sp_undefined = {"undefined_bits", NULL, NULL, undefined_format,
                                               false};

/* ---- 0x35A ---- */

#define PAIR(name_, start_, field_, mask_)                                                         \
    {                                                                                              \
        .name = name_, .start = start_, .len = 2, .factor = 1, .unit = "", .field = field_,        \
        .mask = mask_, .name_len = sizeof(name_) - 1                                               \
    }

/* can-profiles.md section 3: pair (2n, 2n+1), 1 = raised, 2 = cleared, 0/3 = no information.
 * Only 1 counts as active: Pylontech V1.3 and Pytes send 0 for "all fine", BYD 0xAA. */
const struct bl_signal_desc bl_lv_rows_35a[] = {
    PAIR("alarm_general_alarm", 0, BL_F_ALARMS, BL_ALARM_GENERAL),
    PAIR("alarm_overvoltage", 2, BL_F_ALARMS, BL_ALARM_OVERVOLTAGE),
    PAIR("alarm_undervoltage", 4, BL_F_ALARMS, BL_ALARM_UNDERVOLTAGE),
    PAIR("alarm_overtemperature", 6, BL_F_ALARMS, BL_ALARM_OVERTEMPERATURE),
    PAIR("alarm_undertemperature", 8, BL_F_ALARMS, BL_ALARM_UNDERTEMPERATURE),
    PAIR("alarm_charge_overtemperature", 10, BL_F_ALARMS, BL_ALARM_CHARGE_OVERTEMPERATURE),
    PAIR("alarm_charge_undertemperature", 12, BL_F_ALARMS, BL_ALARM_CHARGE_UNDERTEMPERATURE),
    PAIR("alarm_discharge_overcurrent", 14, BL_F_ALARMS, BL_ALARM_DISCHARGE_OVERCURRENT),
    PAIR("alarm_charge_overcurrent", 16, BL_F_ALARMS, BL_ALARM_CHARGE_OVERCURRENT),
    PAIR("alarm_contactor_fault", 18, BL_F_ALARMS, BL_ALARM_CONTACTOR),
    PAIR("alarm_short_circuit", 20, BL_F_ALARMS, BL_ALARM_SHORT_CIRCUIT),
    PAIR("alarm_system_error", 22, BL_F_ALARMS, BL_ALARM_SYSTEM_ERROR),
    PAIR("alarm_cell_imbalance", 24, BL_F_ALARMS, BL_ALARM_CELL_IMBALANCE),
    PAIR("warning_general_warning", 32, BL_F_WARNINGS, BL_WARN_GENERAL),
    PAIR("warning_high_voltage", 34, BL_F_WARNINGS, BL_WARN_HIGH_VOLTAGE),
    PAIR("warning_low_voltage", 36, BL_F_WARNINGS, BL_WARN_LOW_VOLTAGE),
    PAIR("warning_high_temperature", 38, BL_F_WARNINGS, BL_WARN_HIGH_TEMPERATURE),
    PAIR("warning_low_temperature", 40, BL_F_WARNINGS, BL_WARN_LOW_TEMPERATURE),
    PAIR("warning_charge_high_temperature", 42, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_TEMPERATURE),
    PAIR("warning_charge_low_temperature", 44, BL_F_WARNINGS, BL_WARN_CHARGE_LOW_TEMPERATURE),
    PAIR("warning_discharge_high_current", 46, BL_F_WARNINGS, BL_WARN_DISCHARGE_HIGH_CURRENT),
    PAIR("warning_charge_high_current", 48, BL_F_WARNINGS, BL_WARN_CHARGE_HIGH_CURRENT),
    PAIR("warning_contactor_warning", 50, BL_F_WARNINGS, BL_WARN_CONTACTOR),
    PAIR("warning_short_circuit_warning", 52, BL_F_WARNINGS, BL_WARN_SHORT_CIRCUIT),
    /* The "BMS internal" warning pair has no warning of its own in battery.h; it is the
     * condition Pylontech's 0x359 byte 3 bit 3 reports, so it maps there. */
    PAIR("warning_internal_communication_fail", 54, BL_F_WARNINGS,
         BL_WARN_INTERNAL_COMMUNICATION_FAIL),
    PAIR("warning_cell_imbalance_warning", 56, BL_F_WARNINGS, BL_WARN_CELL_IMBALANCE),
};

_Static_assert(sizeof bl_lv_rows_35a / sizeof bl_lv_rows_35a[0] == BL_LV_N_ROWS_35A,
               "BL_LV_N_ROWS_35A");

/* ---- plausibility ---- */

/* 0..100 from the pack voltage (mV) against the limits (mV) and the cell extremes: whether the
 * values are in one SCALE, not whether the pack is healthy. A scale error is a factor of 10
 * (can-profiles.md 11); a pack in a diagnostic state (protection, over- or under-voltage, limits
 * derated to 0, SOC 200 %) stays well within a factor of 3 of its own limits, so only a voltage
 * more than 3x off a limit, off the cell count (4..32 cells in series between the lowest and the
 * highest cell) or outside 4..100 V (any low-voltage pack) costs points. Zero limits (a pack in
 * protection may report them) say nothing about scale. */
int bl_lv_plausibility(const struct bl_battery *st)
{
    if (!bl_battery_known(st, BL_F_VOLTAGE)) return 50;
    int64_t v = st->v[BL_F_VOLTAGE];
    int score = 100;
    if (bl_battery_known(st, BL_F_CHARGE_VOLTAGE_LIMIT)) {
        int64_t cvl = st->v[BL_F_CHARGE_VOLTAGE_LIMIT];
        if (cvl > 0 && (v * 3 < cvl || v > cvl * 3)) score -= 60;
    }
    if (bl_battery_known(st, BL_F_DISCHARGE_VOLTAGE_LIMIT)) {
        int64_t dvl = st->v[BL_F_DISCHARGE_VOLTAGE_LIMIT];
        if (dvl > 0 && (v * 3 < dvl || v > dvl * 3)) score -= 30;
    }
    if (bl_battery_known(st, BL_F_CELL_VOLTAGE_MAX) &&
        bl_battery_known(st, BL_F_CELL_VOLTAGE_MIN)) {
        int64_t cmin = st->v[BL_F_CELL_VOLTAGE_MIN], cmax = st->v[BL_F_CELL_VOLTAGE_MAX];
        if (cmin > 0 && (v < cmin * 4 || v > cmax * 32)) score -= 30;
    }
    if (v < 4000 || v > 100000) score -= 40; /* outside any low-voltage pack */
    return score < 0 ? 0 : score;
}
