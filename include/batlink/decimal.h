/* SPDX-License-Identifier: MIT */
/* decimal.h: the one parser for numbers that people type (config values, MQTT command
 * payloads, command-line flags): plain decimal only, so "0x10", "0x1p3", "1e3", "inf" and "nan",
 * which strtod would take, are errors instead of surprises. */
#ifndef BATLINK_DECIMAL_H
#define BATLINK_DECIMAL_H

#include "batlink/err.h"

/** Longest number text accepted (sign, digits and point), in characters. */
#define BL_DECIMAL_MAX 40

/**
 * Read a decimal number at the start of `s`: an optional '-', digits, an optional '.' and
 * digits, at least one digit in all ("-5", "55.2", ".5", "5.", "007"). No '+', no spaces, no
 * exponent, no hex, no inf/nan, no digit separators. `*end` is set to the first character after
 * the number; the caller decides what may follow (bl_decimal_parse: nothing).
 * Returns BL_OK; BL_ERR_INVAL when `s` does not start with such a number (`*out`, `*end`
 * unchanged); BL_ERR_RANGE when it is longer than BL_DECIMAL_MAX characters.
 * Blocking: never. Cost: O(length). Re-entrancy: yes (no state, C locale assumed as batlink
 * never calls setlocale; in another locale a '.' number is rejected, never misread).
 */
enum bl_err bl_decimal_scan(const char *s, const char **end, double *out) BL_MUST_CHECK;

/**
 * bl_decimal_scan over the whole of `s`: any character after the number makes it BL_ERR_INVAL.
 * Empty text is BL_ERR_INVAL.
 */
enum bl_err bl_decimal_parse(const char *s, double *out) BL_MUST_CHECK;

#endif
