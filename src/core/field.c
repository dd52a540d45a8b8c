/* SPDX-License-Identifier: MIT */
/* field.c: the field table -- every battery quantity described once for JSON, MQTT discovery,
 * Prometheus and the terminal view -- and the names of alarm and warning bits. */
#include <stdio.h>
#include <string.h>

#include "batlink/battery.h"

/* HA classes per shared/reference/transports.md section 6.4; Prometheus names per section 7
 * (base units, plural suffix, ratio instead of percent). */
/* clang-format off */
#define NUM(id_, key_, label_, unit_, scale_, prec_, db_, lo_, hi_, dc_, prom_, pf_, help_)       \
    [id_] = {id_,  BL_FK_NUMBER, key_,  label_, unit_,    scale_, prec_,  db_, lo_,              \
             hi_,  "sensor",     dc_,   "measurement", prom_, pf_, help_}
/* a counter that only grows (Home Assistant's Energy dashboard) */
#define TOTAL(id_, key_, label_, unit_, scale_, prec_, db_, lo_, hi_, dc_, prom_, pf_, help_)     \
    [id_] = {id_,  BL_FK_NUMBER, key_,  label_, unit_,    scale_, prec_,  db_, lo_,              \
             hi_,  "sensor",     dc_,   "total_increasing", prom_, pf_, help_}
#define FLAG(id_, key_, label_, prom_, help_)                                                     \
    [id_] = {id_, BL_FK_BOOL, key_, label_, NULL, 1.0, 0, 1, 0, 1, "binary_sensor", NULL, NULL,   \
             prom_, 1.0, help_}

static const struct bl_field_desc fields[BL_F__COUNT] = {
    NUM(BL_F_SOC, "soc_pct", "State of charge", "%", 0.01, 2, 100, 0, 100, "battery",
        "batlink_battery_soc_ratio", 0.01, "State of charge reported by the battery (0-1)."),
    NUM(BL_F_SOH, "soh_pct", "State of health", "%", 1.0, 0, 1, 0, 100, "battery",
        "batlink_battery_soh_ratio", 0.01, "State of health reported by the battery (0-1)."),
    NUM(BL_F_VOLTAGE, "voltage_v", "Voltage", "V", 0.001, 2, 50, 1, 1000, "voltage",
        "batlink_battery_voltage_volts", 1.0, "Pack voltage reported by the battery."),
    NUM(BL_F_CURRENT, "current_a", "Current", "A", 0.001, 1, 200, -5000, 5000, "current",
        "batlink_battery_current_amperes", 1.0, "Battery current, positive = charging."),
    NUM(BL_F_POWER, "power_w", "Power", "W", 0.1, 0, 100, -500000, 500000, "power",
        "batlink_battery_power_watts", 1.0, "Voltage x current, positive = charging."),
    NUM(BL_F_TEMPERATURE, "temperature_c", "Temperature", "°C", 0.1, 1, 5, -40, 100,
        "temperature", "batlink_battery_temperature_celsius", 1.0, "Battery temperature."),
    NUM(BL_F_CHARGE_VOLTAGE_LIMIT, "charge_voltage_limit_v", "Charge voltage limit", "V", 0.001,
        1, 50, 0, 1000, "voltage", "batlink_battery_charge_voltage_limit_volts", 1.0,
        "Charge voltage limit requested by the battery."),
    NUM(BL_F_CHARGE_CURRENT_LIMIT, "charge_current_limit_a", "Charge current limit", "A", 0.001,
        1, 500, -5000, 5000, "current", "batlink_battery_charge_current_limit_amperes", 1.0,
        "Charge current limit requested by the battery."),
    NUM(BL_F_DISCHARGE_CURRENT_LIMIT, "discharge_current_limit_a", "Discharge current limit",
        "A", 0.001, 1, 500, -5000, 5000, "current",
        "batlink_battery_discharge_current_limit_amperes", 1.0,
        "Discharge current limit requested by the battery."),
    NUM(BL_F_DISCHARGE_VOLTAGE_LIMIT, "discharge_voltage_limit_v", "Discharge voltage limit",
        "V", 0.001, 1, 50, 0, 1000, "voltage", "batlink_battery_discharge_voltage_limit_volts",
        1.0, "Discharge voltage limit requested by the battery."),
    FLAG(BL_F_CHARGE_ENABLE, "charge_enable", "Charge enabled", "batlink_battery_charge_enable",
         "1 when the battery allows charging."),
    FLAG(BL_F_DISCHARGE_ENABLE, "discharge_enable", "Discharge enabled",
         "batlink_battery_discharge_enable", "1 when the battery allows discharging."),
    FLAG(BL_F_FORCE_CHARGE_1, "force_charge_1", "Force charge I",
         "batlink_battery_force_charge_1", "1 when the battery requests force charge I."),
    FLAG(BL_F_FORCE_CHARGE_2, "force_charge_2", "Force charge II",
         "batlink_battery_force_charge_2", "1 when the battery requests force charge II."),
    FLAG(BL_F_FULL_CHARGE_REQUEST, "full_charge_request", "Full charge request",
         "batlink_battery_full_charge_request",
         "1 when the battery requests a full charge (recalibration)."),
    [BL_F_ALARMS] = {BL_F_ALARMS, BL_FK_BITS, "alarms", "Protection", NULL, 1.0, 0, 1, 0, 0,
                     "binary_sensor", "problem", NULL, "batlink_battery_alarm", 1.0,
                     "1 while the named protection (alarm) is active."},
    [BL_F_WARNINGS] = {BL_F_WARNINGS, BL_FK_BITS, "warnings", "Warning", NULL, 1.0, 0, 1, 0, 0,
                       "binary_sensor", "problem", NULL, "batlink_battery_warning", 1.0,
                       "1 while the named warning is active."},
    NUM(BL_F_MODULE_COUNT, "module_count", "Modules", NULL, 1.0, 0, 1, 0, 255, NULL,
        "batlink_battery_modules", 1.0, "Number of battery modules reported."),
    [BL_F_MANUFACTURER] = {BL_F_MANUFACTURER, BL_FK_STRING, "manufacturer", "Manufacturer", NULL,
                           1.0, 0, 0, 0, 0, "sensor", NULL, NULL, NULL, 1.0,
                           "Manufacturer name sent by the battery."},
    NUM(BL_F_CELL_VOLTAGE_MIN, "cell_voltage_min_v", "Lowest cell voltage", "V", 0.001, 3, 5,
        0.5, 5, "voltage", "batlink_battery_cell_voltage_min_volts", 1.0,
        "Lowest cell voltage."),
    NUM(BL_F_CELL_VOLTAGE_MAX, "cell_voltage_max_v", "Highest cell voltage", "V", 0.001, 3, 5,
        0.5, 5, "voltage", "batlink_battery_cell_voltage_max_volts", 1.0,
        "Highest cell voltage."),
    NUM(BL_F_CELL_TEMPERATURE_MIN, "cell_temperature_min_c", "Lowest cell temperature", "°C",
        0.1, 1, 5, -40, 100, "temperature", "batlink_battery_cell_temperature_min_celsius", 1.0,
        "Lowest cell temperature."),
    NUM(BL_F_CELL_TEMPERATURE_MAX, "cell_temperature_max_c", "Highest cell temperature", "°C",
        0.1, 1, 5, -40, 100, "temperature", "batlink_battery_cell_temperature_max_celsius", 1.0,
        "Highest cell temperature."),
    NUM(BL_F_CAPACITY, "capacity_ah", "Capacity", "Ah", 1.0, 0, 1, 0, 100000, NULL,
        "batlink_battery_capacity_amperehours", 1.0, "Installed capacity reported."),
    /* integrated by batlink from voltage x current (core/energy.h), kept across restarts;
     * Prometheus counts energy in joules (base unit) as a counter */
    TOTAL(BL_F_ENERGY_CHARGED, "energy_charged_kwh", "Energy charged", "kWh", 0.001, 3, 10, 0,
          2000000, "energy", "batlink_battery_energy_charged_joules_total", 3.6e6,
          "Energy into the battery, integrated from voltage x current (counter)."),
    TOTAL(BL_F_ENERGY_DISCHARGED, "energy_discharged_kwh", "Energy discharged", "kWh", 0.001, 3,
          10, 0, 2000000, "energy", "batlink_battery_energy_discharged_joules_total", 3.6e6,
          "Energy out of the battery, integrated from voltage x current (counter)."),
};

static const char *const alarm_names[BL_ALARM__COUNT] = {
    "overvoltage",          "undervoltage",
    "overtemperature",      "undertemperature",
    "discharge_overcurrent", "charge_overcurrent",
    "system_error",         "charge_overtemperature",
    "charge_undertemperature", "contactor_fault",
    "short_circuit",        "cell_imbalance",
    "general_alarm",        "communication_lost",
};

static const char *const warning_names[BL_WARN__COUNT] = {
    "high_voltage",
    "low_voltage",
    "high_temperature",
    "low_temperature",
    "discharge_high_current",
    "charge_high_current",
    "internal_communication_fail",
    "charge_high_temperature",
    "charge_low_temperature",
    "contactor_warning",
    "short_circuit_warning",
    "cell_imbalance_warning",
    "general_warning",
};

/* clang-format on */

const struct bl_field_desc *bl_field_desc(enum bl_field f)
{
    if ((unsigned)f >= BL_F__COUNT) return NULL;
    return &fields[f];
}

const struct bl_field_desc *bl_field_by_key(const char *key)
{
    for (unsigned i = 0; i < BL_F__COUNT; i++)
        if (strcmp(fields[i].key, key) == 0) return &fields[i];
    return NULL;
}

const char *bl_alarm_name(unsigned bit)
{
    return bit < BL_ALARM__COUNT ? alarm_names[bit] : NULL;
}

const char *bl_warning_name(unsigned bit)
{
    return bit < BL_WARN__COUNT ? warning_names[bit] : NULL;
}

int bl_field_format(const struct bl_field_desc *d, int32_t value, char *buf, size_t n)
{
    double si = (double)value * d->scale;
    int len = snprintf(buf, n, "%.*f", (int)d->precision, si);
    if (len <= 0 || (size_t)len >= n || d->precision == 0) return len;
    /* trim trailing zeros and a dangling decimal point: "84.00" -> "84", "49.860" -> "49.86" */
    while (len > 0 && buf[len - 1] == '0')
        buf[--len] = '\0';
    if (len > 0 && buf[len - 1] == '.') buf[--len] = '\0';
    if (strcmp(buf, "-0") == 0) {
        buf[0] = '0';
        buf[1] = '\0';
        len = 1;
    }
    return len;
}
