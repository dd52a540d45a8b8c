/* SPDX-License-Identifier: MIT */
/* battery.h: struct bl_battery (the decoded state of one battery, each quantity with a "known"
 * bit and the time it was last set) and the field table that every output iterates. */
#ifndef BATLINK_BATTERY_H
#define BATLINK_BATTERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batlink/err.h"

/**
 * Every battery quantity, once. The stored value is an int32 in the field's integer unit
 * (the `_mv`, `_ma` ... of its row); the field table converts to SI units at the output edge.
 * Adding a quantity = one enum value + one row in src/core/field.c.
 */
enum bl_field {
    BL_F_SOC,                     /**< 0.01 %            json soc_pct */
    BL_F_SOH,                     /**< 1 %               json soh_pct */
    BL_F_VOLTAGE,                 /**< mV                json voltage_v */
    BL_F_CURRENT,                 /**< mA, + = charging  json current_a */
    BL_F_POWER,                   /**< 0.1 W, + = charging (voltage x current) json power_w */
    BL_F_TEMPERATURE,             /**< 0.1 degC          json temperature_c */
    BL_F_CHARGE_VOLTAGE_LIMIT,    /**< mV */
    BL_F_CHARGE_CURRENT_LIMIT,    /**< mA */
    BL_F_DISCHARGE_CURRENT_LIMIT, /**< mA */
    BL_F_DISCHARGE_VOLTAGE_LIMIT, /**< mV */
    BL_F_CHARGE_ENABLE,           /**< bool */
    BL_F_DISCHARGE_ENABLE,        /**< bool */
    BL_F_FORCE_CHARGE_1,          /**< bool */
    BL_F_FORCE_CHARGE_2,          /**< bool */
    BL_F_FULL_CHARGE_REQUEST,     /**< bool */
    BL_F_ALARMS,                  /**< bitmask of enum bl_alarm */
    BL_F_WARNINGS,                /**< bitmask of enum bl_warning */
    BL_F_MODULE_COUNT,            /**< count */
    BL_F_MANUFACTURER,            /**< string in bl_battery.manufacturer */
    BL_F_CELL_VOLTAGE_MIN,        /**< mV */
    BL_F_CELL_VOLTAGE_MAX,        /**< mV */
    BL_F_CELL_TEMPERATURE_MIN,    /**< 0.1 degC */
    BL_F_CELL_TEMPERATURE_MAX,    /**< 0.1 degC */
    BL_F_CAPACITY,                /**< 1 Ah, installed capacity */
    BL_F__COUNT
};

enum bl_field_kind {
    BL_FK_NUMBER, /**< numeric sensor */
    BL_FK_BOOL,   /**< 0 / 1 flag */
    BL_FK_BITS,   /**< bitmask with a name per bit (alarms, warnings) */
    BL_FK_STRING  /**< text (manufacturer) */
};

/** Protection bits (the BMS has acted). JSON "alarms" array, names as below. */
enum bl_alarm {
    BL_ALARM_OVERVOLTAGE = 1u << 0,
    BL_ALARM_UNDERVOLTAGE = 1u << 1,
    BL_ALARM_OVERTEMPERATURE = 1u << 2,
    BL_ALARM_UNDERTEMPERATURE = 1u << 3,
    BL_ALARM_DISCHARGE_OVERCURRENT = 1u << 4,
    BL_ALARM_CHARGE_OVERCURRENT = 1u << 5,
    BL_ALARM_SYSTEM_ERROR = 1u << 6,
    BL_ALARM_CHARGE_OVERTEMPERATURE = 1u << 7,
    BL_ALARM_CHARGE_UNDERTEMPERATURE = 1u << 8,
    BL_ALARM_CONTACTOR = 1u << 9,
    BL_ALARM_SHORT_CIRCUIT = 1u << 10,
    BL_ALARM_CELL_IMBALANCE = 1u << 11,
    BL_ALARM_GENERAL = 1u << 12,
    BL_ALARM_COMMUNICATION = 1u << 13,
};
#define BL_ALARM__COUNT 14

/** Warning bits (alarm level, not yet acted). JSON "warnings" array. */
enum bl_warning {
    BL_WARN_HIGH_VOLTAGE = 1u << 0,
    BL_WARN_LOW_VOLTAGE = 1u << 1,
    BL_WARN_HIGH_TEMPERATURE = 1u << 2,
    BL_WARN_LOW_TEMPERATURE = 1u << 3,
    BL_WARN_DISCHARGE_HIGH_CURRENT = 1u << 4,
    BL_WARN_CHARGE_HIGH_CURRENT = 1u << 5,
    BL_WARN_INTERNAL_COMMUNICATION_FAIL = 1u << 6,
    BL_WARN_CHARGE_HIGH_TEMPERATURE = 1u << 7,
    BL_WARN_CHARGE_LOW_TEMPERATURE = 1u << 8,
    BL_WARN_CONTACTOR = 1u << 9,
    BL_WARN_SHORT_CIRCUIT = 1u << 10,
    BL_WARN_CELL_IMBALANCE = 1u << 11,
    BL_WARN_GENERAL = 1u << 12,
};
#define BL_WARN__COUNT 13

/** One row of the field table: everything an output needs to show a quantity. */
struct bl_field_desc {
    enum bl_field id;
    enum bl_field_kind kind;
    const char *key;       /**< JSON / MQTT key, e.g. "voltage_v" */
    const char *label;     /**< human label, e.g. "Voltage" */
    const char *unit;      /**< SI unit for display and HA ("V", "%", "degC" as "°C"), or NULL */
    double scale;          /**< SI value = stored int32 x scale */
    uint8_t precision;     /**< decimals worth showing */
    int32_t deadband;      /**< publish-on-change threshold, in stored units */
    double min_si, max_si; /**< plausible range (SI); outside = implausible, not published */
    const char *ha_component;    /**< "sensor" / "binary_sensor" */
    const char *ha_device_class; /**< or NULL */
    const char *ha_state_class;  /**< or NULL */
    const char *prom_name;       /**< Prometheus metric name with unit suffix, or NULL */
    double prom_factor; /**< Prometheus value = SI value x prom_factor (percent -> ratio) */
    const char *help;   /**< one-line description (Prometheus HELP) */
};

/** The field table, indexed by enum bl_field. Cost O(1). */
const struct bl_field_desc *bl_field_desc(enum bl_field f);
/** Look a field up by JSON key; NULL when unknown. O(fields). */
const struct bl_field_desc *bl_field_by_key(const char *key);

/** Names of alarm / warning bits: index = bit number. NULL past the last one. */
const char *bl_alarm_name(unsigned bit);
const char *bl_warning_name(unsigned bit);

#define BL_MANUFACTURER_MAX 16

/**
 * The state of one battery. Written by profile decoders (and the bridge controller), read by
 * every output. A field is valid only while its bit in `known` is set; `updated_us[f]` is the
 * `now` passed to the decoder when it was last set. No pointers: copy with `=`.
 */
struct bl_battery {
    uint32_t known; /**< bit (1u << enum bl_field) */
    int32_t v[BL_F__COUNT];
    bl_us updated_us[BL_F__COUNT];
    char manufacturer[BL_MANUFACTURER_MAX + 1];
    const char *profile;  /**< static name of the profile that decoded it, or NULL */
    const char *inverter; /**< static name of the inverter keep-alive family seen (the profile's
                               inverter_name, e.g. "pylontech-0x305"), or NULL */
};

_Static_assert(BL_F__COUNT <= 32, "bl_battery.known is a 32-bit mask");

/** Reset to "nothing known". */
void bl_battery_init(struct bl_battery *b);
/** Set field `f` to `value` at time `now` and mark it known. */
void bl_battery_set(struct bl_battery *b, enum bl_field f, int32_t value, bl_us now);
/** Mark field `f` unknown. */
void bl_battery_forget(struct bl_battery *b, enum bl_field f);
static inline bool bl_battery_known(const struct bl_battery *b, enum bl_field f)
{
    return (b->known >> (unsigned)f) & 1u;
}
/** Recompute BL_F_POWER from voltage and current when both are known (else forget it). */
void bl_battery_update_power(struct bl_battery *b, bl_us now);
/** True when the stored value of `f` lies in the field's plausible range. */
bool bl_battery_plausible(const struct bl_battery *b, enum bl_field f);

/**
 * Format the value of a numeric field in SI units with the field's precision, trailing zeros
 * trimmed ("84", "49.86", "-27"). Returns the length written (snprintf semantics).
 */
int bl_field_format(const struct bl_field_desc *d, int32_t value, char *buf, size_t n);

#endif
