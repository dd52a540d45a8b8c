/* SPDX-License-Identifier: MIT */
/* gpio.h: one GPIO output line (a relay on the battery's dry contact), named by
 * `gpio:CHIP:LINE[?active_low=1]`, driven through libgpiod (loaded with dlopen on first use) or
 * through a backend the caller passes in (tests: a mock chip). src/io/gpio.c. */
#ifndef BATLINK_GPIO_H
#define BATLINK_GPIO_H

#include <stdbool.h>

#include "batlink/err.h"
#include "batlink/source.h" /* BL_ERRLEN */

/** A parsed `gpio:` value. */
struct bl_gpio_spec {
    char chip[64];   /* gpiochip0, /dev/gpiochip0 or a chip label (gpiod_chip_open_lookup) */
    unsigned line;   /* offset on that chip */
    bool active_low; /* logical 1 = electrical low */
};

/** A backend: request, drive, release one output line. `active` is the logical value (1 =
 * active; the backend applies active_low). Error texts name the chip and line. */
struct bl_gpio_ops {
    /** Request the line as an output for `consumer`, initial logical value `active`.
     * BL_ERR_USAGE for what the configuration got wrong (no such chip, line out of range, line
     * busy), BL_ERR_IO for other failures. */
    enum bl_err (*open)(void *ctx, const struct bl_gpio_spec *s, const char *consumer, bool active,
                        void **line, char err[BL_ERRLEN]);
    enum bl_err (*set)(void *ctx, void *line, bool active, char err[BL_ERRLEN]);
    /** Release the line without writing it. */
    void (*close)(void *ctx, void *line);
    void *ctx;
};

struct bl_gpio;

/** True when `text` is a `gpio:` value (its first five bytes). */
bool bl_gpio_is_uri(const char *text);

/** Parse `gpio:CHIP:LINE[?active_low=0|1]` (LINE is the part after the last ':'; a decimal
 * offset 0..65535). Returns BL_OK or BL_ERR_USAGE with `err` saying what is wrong. */
enum bl_err bl_gpio_parse(const char *text, struct bl_gpio_spec *out,
                          char err[BL_ERRLEN]) BL_MUST_CHECK;

/**
 * Request the line of `s` as an output with logical value `active`; `ops` NULL = libgpiod
 * (v1 API, libgpiod.so.2, dlopen'ed here: a command that drives no line never maps it).
 * Returns BL_OK, BL_ERR_USAGE (no such chip, offset out of range, line in use, libgpiod not
 * installed), BL_ERR_IO, BL_ERR_NOMEM. Ownership: *out is freed by bl_gpio_close.
 * Blocking: a few ioctls on the chip's character device.
 */
enum bl_err bl_gpio_open(const struct bl_gpio_spec *s, const struct bl_gpio_ops *ops,
                         const char *consumer, bool active, struct bl_gpio **out,
                         char err[BL_ERRLEN]) BL_MUST_CHECK;
/** Drive the line to logical `active`. BL_ERR_IO with `err` on failure. Blocking: one ioctl. */
enum bl_err bl_gpio_set(struct bl_gpio *g, bool active, char err[BL_ERRLEN]) BL_MUST_CHECK;
/** Release the line without writing it; what the line does then is up to the GPIO controller
 * (usually its default state, an input). NULL is fine. */
void bl_gpio_close(struct bl_gpio *g);

#endif
