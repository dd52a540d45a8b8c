/* SPDX-License-Identifier: MIT */
/* bms.h: struct bl_bms, one reading of a battery management system read over its serial port
 * (cells, pack, temperatures, alarms, status, protection settings), each item with a known bit. */
#ifndef BATLINK_BMS_H
#define BATLINK_BMS_H

#include <stdbool.h>
#include <stdint.h>

#include "batlink/err.h"

/** Most cells a reading may carry (JK: 3..32; a 350-byte frame covers 32S). */
#define BL_BMS_MAX_CELLS 32
/** Plausible cell voltage range (mV). Outside it a reading is invalid (a broken sense wire reads
 * 0 V; corrupted bytes read 9 V): codecs reject it, the controller rejects it again. */
#define BL_BMS_CELL_MV_MIN 500
#define BL_BMS_CELL_MV_MAX 5000
/** Plausible live temperature range, 0.1 degC (JK raw 140 reads -40 or -41 degC by rule). */
#define BL_BMS_TEMP_DC_MIN (-500)
#define BL_BMS_TEMP_DC_MAX 1000
/** Temperature probes kept in temp_dc[] (JBD NTCs, JK-PB T1..T5, Daly sensors, Pylontech). */
#define BL_BMS_MAX_TEMPS 8
/** Modules of a stack kept in module[] (a Pylontech group has up to 16 at ADR 2..17). */
#define BL_BMS_MAX_MODULES 16
/** Plausible pack voltage (mV): the JK UART codec's own 150 V bound; above it a reading is invalid.
 */
#define BL_BMS_PACK_MV_MAX 150000u
/** Plausible pack or module current (mA, either sign): 5000 A, the battery field table's bound. */
#define BL_BMS_CURRENT_MA_MAX 5000000

/** One bit per item of struct bl_bms in bl_bms.known (1ull << item). */
enum bl_bms_item {
    BL_BMS_CELLS,                 /**< cell_count + cell_mv[] */
    BL_BMS_TEMP_MOSFET,           /**< temp_mosfet_dc */
    BL_BMS_TEMP_1,                /**< temp_1_dc (probe 1, battery box) */
    BL_BMS_TEMP_2,                /**< temp_2_dc (probe 2, battery) */
    BL_BMS_PACK_VOLTAGE,          /**< pack_mv */
    BL_BMS_CURRENT,               /**< current_ma */
    BL_BMS_SOC,                   /**< soc_pct */
    BL_BMS_TEMP_SENSORS,          /**< temp_sensors */
    BL_BMS_CYCLES,                /**< cycles */
    BL_BMS_CYCLE_CAPACITY,        /**< cycle_capacity_ah */
    BL_BMS_CELL_COUNT_REPORTED,   /**< cell_count_reported (JK 0x8A) */
    BL_BMS_ALARMS,                /**< alarms, alarm_raw */
    BL_BMS_STATUS,                /**< status, status_raw */
    BL_BMS_PACK_OVP,              /**< pack_ovp_mv */
    BL_BMS_PACK_UVP,              /**< pack_uvp_mv */
    BL_BMS_CELL_OVP,              /**< cell_ovp_mv */
    BL_BMS_CELL_OVP_RELEASE,      /**< cell_ovp_release_mv */
    BL_BMS_CELL_OVP_DELAY,        /**< cell_ovp_delay_s */
    BL_BMS_CELL_UVP,              /**< cell_uvp_mv */
    BL_BMS_CELL_UVP_RELEASE,      /**< cell_uvp_release_mv */
    BL_BMS_CELL_UVP_DELAY,        /**< cell_uvp_delay_s */
    BL_BMS_CELL_DIFF_PROT,        /**< cell_diff_prot_mv */
    BL_BMS_MAX_DISCHARGE_CURRENT, /**< max_discharge_ma (discharge over-current protection) */
    BL_BMS_DISCHARGE_OCP_DELAY,   /**< discharge_ocp_delay_s */
    BL_BMS_MAX_CHARGE_CURRENT,    /**< max_charge_ma (charge over-current protection) */
    BL_BMS_CHARGE_OCP_DELAY,      /**< charge_ocp_delay_s */
    BL_BMS_BALANCE_START,         /**< balance_start_mv */
    BL_BMS_BALANCE_TRIGGER,       /**< balance_trigger_mv */
    BL_BMS_BALANCER_ENABLED,      /**< balancer_enabled */
    BL_BMS_MOSFET_OTP,            /**< mosfet_otp_dc, mosfet_otp_release_dc */
    BL_BMS_BOX_OTP,               /**< box_otp_dc, box_otp_release_dc */
    BL_BMS_TEMP_DIFF_PROT,        /**< temp_diff_prot_dc */
    BL_BMS_CHARGE_OTP,            /**< charge_otp_dc */
    BL_BMS_DISCHARGE_OTP,         /**< discharge_otp_dc */
    BL_BMS_CHARGE_UTP,            /**< charge_utp_dc, charge_utp_release_dc */
    BL_BMS_DISCHARGE_UTP,         /**< discharge_utp_dc, discharge_utp_release_dc */
    BL_BMS_CELL_COUNT_SETTING,    /**< cell_count_setting */
    BL_BMS_CAPACITY,              /**< capacity_ah (nominal, setting) */
    BL_BMS_CHARGE_SWITCH,         /**< charge_switch (setting: charging allowed) */
    BL_BMS_DISCHARGE_SWITCH,      /**< discharge_switch (setting: discharging allowed) */
    BL_BMS_CHEMISTRY,             /**< chemistry */
    BL_BMS_LOW_SOC_ALARM,         /**< low_soc_alarm_pct */
    BL_BMS_RUNTIME,               /**< runtime_min */
    BL_BMS_SOFTWARE,              /**< software[] */
    BL_BMS_DEVICE_ID,             /**< device_id[] */
    BL_BMS_MANUFACTURER,          /**< manufacturer[] */
    BL_BMS_ACTUAL_CAPACITY,       /**< actual_capacity_ah */
    BL_BMS_PROTOCOL_VERSION,      /**< protocol_version */
    /* added for the codecs of bmscodec.h (JK-PB, JBD, Daly, Pylontech); JK UART sets none */
    BL_BMS_TEMPS,              /**< temp_count + temp_dc[] (every probe, in the BMS's order) */
    BL_BMS_BALANCE_CURRENT,    /**< balance_current_ma */
    BL_BMS_BALANCING,          /**< balancer_state + balancing_cells */
    BL_BMS_REMAINING_CAPACITY, /**< remaining_mah */
    BL_BMS_FULL_CAPACITY,      /**< full_mah (full-charge / nominal capacity the BMS counts with) */
    BL_BMS_SOH,                /**< soh_pct */
    BL_BMS_SOC_FINE,           /**< soc_dpct (0.1 %); soc_pct holds it rounded */
    BL_BMS_CELL_EXTREMES,      /**< cell_max_mv/num, cell_min_mv/num as reported (no cell list) */
    BL_BMS_TEMP_EXTREMES,      /**< temp_max_dc, temp_min_dc as reported */
    BL_BMS_MODULES,            /**< module_count + module[] (Pylontech stacks) */
    BL_BMS_STATE,              /**< state (enum bl_bms_state) */
    BL_BMS_ADDRESS,            /**< address: bus address of the responder */
    BL_BMS_MODULES_REPORTED,   /**< modules_reported (Pylontech 0x60 system basic information) */
    BL_BMS__COUNT
};
_Static_assert(BL_BMS__COUNT <= 64, "bl_bms.known is a 64-bit mask");

/** Alarm / protection bits of a reading (bl_bms.alarms). Bit = condition present. The bit
 * positions equal JK item 0x8B (bms-serial.md 1.8); other codecs map onto them. */
enum bl_bms_alarm {
    BL_BMS_AL_LOW_CAPACITY = 1u << 0, /**< warning only */
    BL_BMS_AL_MOSFET_OVERTEMP = 1u << 1,
    BL_BMS_AL_PACK_OVERVOLTAGE = 1u << 2,  /**< charge over-voltage */
    BL_BMS_AL_PACK_UNDERVOLTAGE = 1u << 3, /**< discharge under-voltage */
    BL_BMS_AL_BATTERY_OVERTEMP = 1u << 4,
    BL_BMS_AL_CHARGE_OVERCURRENT = 1u << 5,
    BL_BMS_AL_DISCHARGE_OVERCURRENT = 1u << 6,
    BL_BMS_AL_CELL_DIFFERENCE = 1u << 7,
    BL_BMS_AL_BOX_OVERTEMP = 1u << 8,
    BL_BMS_AL_LOW_TEMPERATURE = 1u << 9,
    BL_BMS_AL_CELL_OVERVOLTAGE = 1u << 10,
    BL_BMS_AL_CELL_UNDERVOLTAGE = 1u << 11,
    BL_BMS_AL_PROTECTION_A = 1u << 12, /**< JK "309_A" */
    BL_BMS_AL_PROTECTION_B = 1u << 13, /**< JK "309_B" */
};
/** Alarms that stop charging / discharging (the controller sends 0 A for that direction). */
#define BL_BMS_AL_BLOCK_CHARGE                                                                     \
    (BL_BMS_AL_MOSFET_OVERTEMP | BL_BMS_AL_PACK_OVERVOLTAGE | BL_BMS_AL_BATTERY_OVERTEMP |         \
     BL_BMS_AL_CHARGE_OVERCURRENT | BL_BMS_AL_CELL_DIFFERENCE | BL_BMS_AL_BOX_OVERTEMP |           \
     BL_BMS_AL_LOW_TEMPERATURE | BL_BMS_AL_CELL_OVERVOLTAGE | BL_BMS_AL_PROTECTION_A |             \
     BL_BMS_AL_PROTECTION_B)
#define BL_BMS_AL_BLOCK_DISCHARGE                                                                  \
    (BL_BMS_AL_MOSFET_OVERTEMP | BL_BMS_AL_PACK_UNDERVOLTAGE | BL_BMS_AL_BATTERY_OVERTEMP |        \
     BL_BMS_AL_DISCHARGE_OVERCURRENT | BL_BMS_AL_CELL_DIFFERENCE | BL_BMS_AL_BOX_OVERTEMP |        \
     BL_BMS_AL_CELL_UNDERVOLTAGE | BL_BMS_AL_PROTECTION_A | BL_BMS_AL_PROTECTION_B)

/** Status bits of a reading (bl_bms.status); positions equal JK item 0x8C. */
enum bl_bms_status {
    BL_BMS_ST_CHARGE_MOSFET = 1u << 0,    /**< charge MOSFET on */
    BL_BMS_ST_DISCHARGE_MOSFET = 1u << 1, /**< discharge MOSFET on */
    BL_BMS_ST_BALANCING = 1u << 2, /**< balancer active (JK: switch state or balancing now) */
    BL_BMS_ST_CONNECTED = 1u << 3, /**< JK: "battery connection normal"; unreliable */
};

/** What the pack is doing, as the BMS says (Daly 0x93 byte 0, Pylontech console Base.St). */
enum bl_bms_state {
    BL_BMS_IDLE = 0,
    BL_BMS_CHARGING = 1,
    BL_BMS_DISCHARGING = 2,
    BL_BMS_BALANCE = 3
};

/** Per-module values of a stack (Pylontech 0x42 group answer, console `pwr` + `bat N`). `known`
 * uses the BL_BMS_M_* bits; values in the units of their names. */
struct bl_bms_module {
    uint16_t known;
    uint8_t
        number; /**< the BMS's own number of the module (console `pwr` Power column), 0 = none */
    uint8_t cell_count, temp_count;
    uint8_t soc_pct;
    uint8_t state;                      /**< enum bl_bms_state */
    uint8_t cell_max_num, cell_min_num; /**< 1-based; 0 = not reported */
    uint16_t cell_max_mv, cell_min_mv;
    int16_t temp_dc;                  /**< BMS board / first probe */
    int16_t temp_max_dc, temp_min_dc; /**< over the module's probes */
    uint16_t cycles;
    int32_t current_ma; /**< + = charging */
    uint32_t voltage_mv;
    uint32_t remaining_mah, full_mah;
};
enum bl_bms_module_item {
    BL_BMS_M_VOLTAGE = 1u << 0,
    BL_BMS_M_CURRENT = 1u << 1,
    BL_BMS_M_SOC = 1u << 2,
    BL_BMS_M_CELLS = 1u << 3, /**< cell extremes (+ cell_count when not 0) */
    BL_BMS_M_TEMP = 1u << 4,  /**< temp_dc, temp extremes, temp_count */
    BL_BMS_M_CAPACITY = 1u << 5,
    BL_BMS_M_CYCLES = 1u << 6,
    BL_BMS_M_STATE = 1u << 7,
};

/** Battery chemistry setting. */
enum bl_bms_chemistry { BL_BMS_LIFEPO4 = 0, BL_BMS_LI_ION = 1, BL_BMS_LTO = 2 };

/**
 * One reading of a BMS. An item is valid only while its bit (1ull << enum bl_bms_item) is set
 * in `known`; unknown items hold 0. Integers carry their unit in the name (mV, mA, 0.1 degC).
 * No pointers: copy with `=`. Never holds the BMS parameter password (JK item 0xB2 is skipped).
 */
struct bl_bms {
    uint64_t known;
    uint8_t cell_count;                 /**< cells in cell_mv[] (1..BL_BMS_MAX_CELLS) */
    uint16_t cell_mv[BL_BMS_MAX_CELLS]; /**< cell 1 at index 0 */
    int16_t temp_mosfet_dc, temp_1_dc, temp_2_dc;
    uint32_t pack_mv;
    int32_t current_ma; /**< + = charging */
    uint8_t soc_pct;
    uint8_t temp_sensors;
    uint32_t cycles;
    uint32_t cycle_capacity_ah;
    uint16_t cell_count_reported;
    uint32_t alarms;                /**< enum bl_bms_alarm */
    uint32_t status;                /**< enum bl_bms_status */
    uint16_t alarm_raw, status_raw; /**< the words as read (JK 0x8B / 0x8C) */
    uint32_t pack_ovp_mv, pack_uvp_mv;
    uint16_t cell_ovp_mv, cell_ovp_release_mv, cell_ovp_delay_s;
    uint16_t cell_uvp_mv, cell_uvp_release_mv, cell_uvp_delay_s;
    uint16_t cell_diff_prot_mv;
    int32_t max_discharge_ma, max_charge_ma; /**< over-current protection settings */
    uint16_t discharge_ocp_delay_s, charge_ocp_delay_s;
    uint16_t balance_start_mv, balance_trigger_mv;
    bool balancer_enabled;
    /* temperature protection settings, 0.1 degC (int32: a u16 setting x 10 cannot overflow) */
    int32_t mosfet_otp_dc, mosfet_otp_release_dc;
    int32_t box_otp_dc, box_otp_release_dc;
    int32_t temp_diff_prot_dc;
    int32_t charge_otp_dc, discharge_otp_dc;
    int32_t charge_utp_dc, charge_utp_release_dc;
    int32_t discharge_utp_dc, discharge_utp_release_dc;
    uint8_t cell_count_setting;
    uint32_t capacity_ah;
    bool charge_switch, discharge_switch;
    uint8_t chemistry; /**< enum bl_bms_chemistry as read (other values possible) */
    uint8_t low_soc_alarm_pct;
    uint32_t runtime_min;
    uint32_t actual_capacity_ah;
    uint8_t protocol_version;
    char software[16]; /**< printable ASCII, NUL-terminated; other bytes shown as '?' */
    char device_id[11];
    char manufacturer[25];
    /* items added for the codecs of bmscodec.h */
    uint8_t temp_count;                /**< probes in temp_dc[] (0..BL_BMS_MAX_TEMPS) */
    int16_t temp_dc[BL_BMS_MAX_TEMPS]; /**< 0.1 degC, BMS order */
    int32_t balance_current_ma;        /**< + = charging a cell */
    uint8_t balancer_state;            /**< 0 off, else balancing (JK-PB: 1 charge, 2 discharge) */
    uint32_t balancing_cells;          /**< bit i = cell i+1 being balanced (0 if not reported) */
    uint32_t remaining_mah, full_mah;
    uint8_t soh_pct;
    uint16_t soc_dpct; /**< 0.1 % */
    uint16_t cell_max_mv, cell_min_mv;
    uint8_t cell_max_num, cell_min_num; /**< 1-based */
    int16_t temp_max_dc, temp_min_dc;
    uint8_t state; /**< enum bl_bms_state */
    uint8_t address;
    uint8_t modules_reported; /**< modules the BMS says the system has (not module_count) */
    uint8_t module_count;     /**< modules in module[] (1..BL_BMS_MAX_MODULES) */
    struct bl_bms_module module[BL_BMS_MAX_MODULES];
};

/** Is item `i` of reading `b` known? */
static inline bool bl_bms_known(const struct bl_bms *b, enum bl_bms_item i)
{
    return (b->known >> (unsigned)i) & 1u;
}

/** Reset a reading to "nothing known" (all zero). */
void bl_bms_init(struct bl_bms *b);

/**
 * Highest and lowest cell voltage of a reading and their 1-based cell numbers (first on ties).
 * Returns BL_OK, or BL_ERR_INVAL when the cells are not known or cell_count is 0 (outputs
 * untouched). Any pointer may be NULL. O(cells).
 */
BL_MUST_CHECK enum bl_err bl_bms_cell_extremes(const struct bl_bms *b, uint16_t *max_mv,
                                               unsigned *max_cell, uint16_t *min_mv,
                                               unsigned *min_cell);

/**
 * Is reading `b` possible? Checks what every codec must refuse (design: an impossible value is an
 * invalid reading that counts toward staleness): cell_count 1..BL_BMS_MAX_CELLS with every cell in
 * BL_BMS_CELL_MV_MIN..MAX, every known temperature in BL_BMS_TEMP_DC_MIN..MAX, SOC/SOH <= 100 %,
 * pack voltage <= BL_BMS_PACK_MV_MAX, |current| <= BL_BMS_CURRENT_MA_MAX, temp_count/module_count
 * within their arrays and every module's values in the same ranges, no unknown bits in `known`.
 * Returns BL_OK or BL_ERR_RANGE (`why` names the first offender; its byte is 0). O(cells+modules).
 */
BL_MUST_CHECK enum bl_err bl_bms_check(const struct bl_bms *b, struct bl_diag *why);

#endif
