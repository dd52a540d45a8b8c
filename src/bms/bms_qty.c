/* SPDX-License-Identifier: MIT */
/* bms_qty.c: the quantity table of struct bl_bms -- every quantity a BMS reading carries
 * described once (key, label, unit, scale, precision, HA classes, Prometheus name) for the JSON,
 * terminal view, /metrics and MQTT discovery -- and the accessors that read a value by its row. */
#include <string.h>

#include "batlink/bmscodec.h"

/* HA classes per shared/reference/transports.md 6.4; Prometheus names in base units (7). */
#define CT(f)                                                                                      \
    _Generic((((struct bl_bms *)0)->f), uint8_t                                                    \
             : BL_BMS_CT_U8, uint16_t                                                              \
             : BL_BMS_CT_U16, uint32_t                                                             \
             : BL_BMS_CT_U32, int16_t                                                              \
             : BL_BMS_CT_I16, int32_t                                                              \
             : BL_BMS_CT_I32, _Bool                                                                \
             : BL_BMS_CT_BOOL, default                                                             \
             : BL_BMS_CT_TEXT)
#define MCT(f)                                                                                     \
    _Generic((((struct bl_bms_module *)0)->f), uint8_t                                             \
             : BL_BMS_CT_U8, uint16_t                                                              \
             : BL_BMS_CT_U16, uint32_t                                                             \
             : BL_BMS_CT_U32, int16_t                                                              \
             : BL_BMS_CT_I16, int32_t                                                              \
             : BL_BMS_CT_I32)
/* clang-format off */
#define NUM(key_, label_, unit_, item_, field_, scale_, prec_, dc_, prom_, help_)                  \
    {key_, label_, unit_, item_, 0, BL_BMS_QS_PACK, BL_BMS_QK_NUMBER,                              \
     (uint16_t)offsetof(struct bl_bms, field_), (uint8_t)CT(field_), 0, scale_, prec_, dc_,       \
     "measurement", prom_, help_}
#define ARR(key_, label_, unit_, item_, scope_, field_, scale_, prec_, dc_, prom_, help_)         \
    {key_, label_, unit_, item_, 0, scope_, BL_BMS_QK_NUMBER,                                     \
     (uint16_t)offsetof(struct bl_bms, field_), (uint8_t)CT(field_[0]), 0, scale_, prec_, dc_,    \
     "measurement", prom_, help_}
#define FLAG(key_, label_, item_, field_, mask_, prom_, help_)                                    \
    {key_, label_, NULL, item_, 0, BL_BMS_QS_PACK, BL_BMS_QK_BOOL,                                \
     (uint16_t)offsetof(struct bl_bms, field_), (uint8_t)CT(field_), mask_, 1.0, 0, NULL, NULL,   \
     prom_, help_}
#define TEXT(key_, label_, item_, field_)                                                         \
    {key_, label_, NULL, item_, 0, BL_BMS_QS_PACK, BL_BMS_QK_TEXT,                                \
     (uint16_t)offsetof(struct bl_bms, field_), BL_BMS_CT_TEXT, 0, 1.0, 0, NULL, NULL, NULL,      \
     NULL}
#define MOD(key_, label_, unit_, mbit_, field_, scale_, prec_, dc_, prom_, help_)                 \
    {key_, label_, unit_, BL_BMS_MODULES, mbit_, BL_BMS_QS_MODULE, BL_BMS_QK_NUMBER,              \
     (uint16_t)offsetof(struct bl_bms_module, field_), (uint8_t)MCT(field_), 0, scale_, prec_,    \
     dc_, "measurement", prom_, help_}

static const struct bl_bms_qty table[] = {
    NUM("voltage_v", "Pack voltage", "V", BL_BMS_PACK_VOLTAGE, pack_mv, 0.001, 2, "voltage",
        "batlink_bms_voltage_volts", "Pack voltage read from the BMS."),
    NUM("current_a", "Current", "A", BL_BMS_CURRENT, current_ma, 0.001, 2, "current",
        "batlink_bms_current_amperes", "Pack current read from the BMS, positive = charging."),
    NUM("soc_pct", "State of charge", "%", BL_BMS_SOC, soc_pct, 1.0, 0, "battery",
        "batlink_bms_soc_percent", "State of charge read from the BMS."),
    NUM("soh_pct", "State of health", "%", BL_BMS_SOH, soh_pct, 1.0, 0, NULL,
        "batlink_bms_soh_percent", "State of health read from the BMS."),
    NUM("remaining_ah", "Remaining capacity", "Ah", BL_BMS_REMAINING_CAPACITY, remaining_mah,
        0.001, 2, NULL, "batlink_bms_remaining_capacity_amperehours",
        "Remaining capacity counted by the BMS."),
    NUM("full_ah", "Full capacity", "Ah", BL_BMS_FULL_CAPACITY, full_mah, 0.001, 2, NULL,
        "batlink_bms_full_capacity_amperehours", "Full-charge capacity the BMS counts with."),
    {"cycles", "Cycles", NULL, BL_BMS_CYCLES, 0, BL_BMS_QS_PACK, BL_BMS_QK_NUMBER,
     (uint16_t)offsetof(struct bl_bms, cycles), (uint8_t)CT(cycles), 0, 1.0, 0, NULL,
     "total_increasing", "batlink_bms_cycles_total", "Charge cycles counted by the BMS."},
    NUM("temperature_mosfet_c", "MOSFET temperature", "°C", BL_BMS_TEMP_MOSFET, temp_mosfet_dc,
        0.1, 1, "temperature", "batlink_bms_mosfet_temperature_celsius",
        "Temperature of the BMS power MOSFETs."),
    ARR("temperatures_c", "Temperature", "°C", BL_BMS_TEMPS, BL_BMS_QS_TEMP, temp_dc, 0.1, 1,
        "temperature", "batlink_bms_temperature_celsius", "Temperature probe of the pack."),
    ARR("cell_voltages_v", "Cell voltage", "V", BL_BMS_CELLS, BL_BMS_QS_CELL, cell_mv, 0.001, 3,
        "voltage", "batlink_bms_cell_voltage_volts", "Voltage of one cell."),
    NUM("cell_voltage_max_v", "Highest cell voltage", "V", BL_BMS_CELL_EXTREMES, cell_max_mv,
        0.001, 3, "voltage", "batlink_bms_cell_voltage_max_volts",
        "Highest cell voltage reported by the BMS."),
    NUM("cell_voltage_min_v", "Lowest cell voltage", "V", BL_BMS_CELL_EXTREMES, cell_min_mv,
        0.001, 3, "voltage", "batlink_bms_cell_voltage_min_volts",
        "Lowest cell voltage reported by the BMS."),
    NUM("temperature_max_c", "Highest temperature", "°C", BL_BMS_TEMP_EXTREMES, temp_max_dc, 0.1,
        1, "temperature", "batlink_bms_temperature_max_celsius",
        "Highest temperature reported by the BMS."),
    NUM("temperature_min_c", "Lowest temperature", "°C", BL_BMS_TEMP_EXTREMES, temp_min_dc, 0.1,
        1, "temperature", "batlink_bms_temperature_min_celsius",
        "Lowest temperature reported by the BMS."),
    NUM("balance_current_a", "Balancing current", "A", BL_BMS_BALANCE_CURRENT,
        balance_current_ma, 0.001, 3, "current", "batlink_bms_balance_current_amperes",
        "Current of the active balancer."),
    FLAG("balancing", "Balancing", BL_BMS_BALANCING, balancer_state, 0xFF, "batlink_bms_balancing",
         "1 while the balancer is working."),
    FLAG("charge_mosfet", "Charge MOSFET", BL_BMS_STATUS, status, BL_BMS_ST_CHARGE_MOSFET,
         "batlink_bms_charge_mosfet", "1 while the charge MOSFET is on."),
    FLAG("discharge_mosfet", "Discharge MOSFET", BL_BMS_STATUS, status,
         BL_BMS_ST_DISCHARGE_MOSFET, "batlink_bms_discharge_mosfet",
         "1 while the discharge MOSFET is on."),
    NUM("module_count", "Modules", NULL, BL_BMS_MODULES, module_count, 1.0, 0, NULL,
        "batlink_bms_modules", "Modules of the stack that answered."),
    MOD("module_voltage_v", "Module voltage", "V", BL_BMS_M_VOLTAGE, voltage_mv, 0.001, 2,
        "voltage", "batlink_bms_module_voltage_volts", "Voltage of one module."),
    MOD("module_current_a", "Module current", "A", BL_BMS_M_CURRENT, current_ma, 0.001, 1,
        "current", "batlink_bms_module_current_amperes",
        "Current of one module, positive = charging."),
    MOD("module_soc_pct", "Module state of charge", "%", BL_BMS_M_SOC, soc_pct, 1.0, 0, "battery",
        "batlink_bms_module_soc_percent", "State of charge of one module."),
    MOD("module_temperature_c", "Module temperature", "°C", BL_BMS_M_TEMP, temp_dc, 0.1, 1,
        "temperature", "batlink_bms_module_temperature_celsius",
        "BMS-board temperature of one module."),
    MOD("module_cell_voltage_max_v", "Module highest cell", "V", BL_BMS_M_CELLS, cell_max_mv,
        0.001, 3, "voltage", "batlink_bms_module_cell_voltage_max_volts",
        "Highest cell voltage of one module."),
    MOD("module_cell_voltage_min_v", "Module lowest cell", "V", BL_BMS_M_CELLS, cell_min_mv,
        0.001, 3, "voltage", "batlink_bms_module_cell_voltage_min_volts",
        "Lowest cell voltage of one module."),
    MOD("module_cycles", "Module cycles", NULL, BL_BMS_M_CYCLES, cycles, 1.0, 0, NULL,
        "batlink_bms_module_cycles_total", "Charge cycles of one module."),
    NUM("modules_reported", "Modules (reported)", NULL, BL_BMS_MODULES_REPORTED, modules_reported,
        1.0, 0, NULL, "batlink_bms_modules_reported",
        "Modules the BMS says its system has (Pylontech 0x60)."),
    TEXT("device_name", "Device name", BL_BMS_DEVICE_ID, device_id),
    TEXT("software", "Software", BL_BMS_SOFTWARE, software),
    TEXT("manufacturer", "Manufacturer", BL_BMS_MANUFACTURER, manufacturer),
};
/* clang-format on */

const struct bl_bms_qty *bl_bms_qty_table(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const struct bl_bms_qty *bl_bms_qty_by_key(const char *key)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].key, key) == 0) return &table[i];
    return NULL;
}

unsigned bl_bms_qty_count(const struct bl_bms *b, const struct bl_bms_qty *q)
{
    if (!bl_bms_known(b, q->item)) return 0;
    switch (q->scope) {
    case BL_BMS_QS_PACK:
        return 1;
    case BL_BMS_QS_CELL:
        return b->cell_count <= BL_BMS_MAX_CELLS ? b->cell_count : 0;
    case BL_BMS_QS_TEMP:
        return b->temp_count <= BL_BMS_MAX_TEMPS ? b->temp_count : 0;
    case BL_BMS_QS_MODULE:
        return b->module_count <= BL_BMS_MAX_MODULES ? b->module_count : 0;
    }
    return 0;
}

static double read_ct(const unsigned char *f, uint8_t ctype)
{
    switch (ctype) {
    case BL_BMS_CT_U8:
        return (double)*f;
    case BL_BMS_CT_U16: {
        uint16_t x;
        memcpy(&x, f, sizeof x);
        return (double)x;
    }
    case BL_BMS_CT_U32: {
        uint32_t x;
        memcpy(&x, f, sizeof x);
        return (double)x;
    }
    case BL_BMS_CT_I16: {
        int16_t x;
        memcpy(&x, f, sizeof x);
        return (double)x;
    }
    case BL_BMS_CT_I32: {
        int32_t x;
        memcpy(&x, f, sizeof x);
        return (double)x;
    }
    case BL_BMS_CT_BOOL: {
        _Bool x;
        memcpy(&x, f, sizeof x);
        return x ? 1.0 : 0.0;
    }
    default:
        return 0.0;
    }
}

static size_t ct_size(uint8_t ctype)
{
    return ctype == BL_BMS_CT_U16 || ctype == BL_BMS_CT_I16   ? 2
           : ctype == BL_BMS_CT_U32 || ctype == BL_BMS_CT_I32 ? 4
                                                              : 1;
}

enum bl_err bl_bms_qty_value(const struct bl_bms *b, const struct bl_bms_qty *q, unsigned idx,
                             double *v)
{
    if (q->kind == BL_BMS_QK_TEXT || idx >= bl_bms_qty_count(b, q)) return BL_ERR_INVAL;
    const unsigned char *base = (const unsigned char *)b;
    if (q->scope == BL_BMS_QS_MODULE) {
        const struct bl_bms_module *m = &b->module[idx];
        if (!(m->known & q->m_bit)) return BL_ERR_INVAL;
        *v = read_ct((const unsigned char *)m + q->off, q->ctype) * q->scale;
        return BL_OK;
    }
    size_t off = q->off;
    if (q->scope != BL_BMS_QS_PACK) off += idx * ct_size(q->ctype);
    double raw = read_ct(base + off, q->ctype);
    if (q->kind == BL_BMS_QK_BOOL) {
        uint32_t u = (uint32_t)raw;
        *v = (u & q->mask) ? 1.0 : 0.0;
        return BL_OK;
    }
    *v = raw * q->scale;
    return BL_OK;
}

const char *bl_bms_qty_text(const struct bl_bms *b, const struct bl_bms_qty *q)
{
    if (q->kind != BL_BMS_QK_TEXT || !bl_bms_known(b, q->item)) return NULL;
    return (const char *)b + q->off;
}
