/* SPDX-License-Identifier: MIT */
/* fuzz_gpio_uri.c: bl_gpio_parse (src/io/gpio.c), the `gpio:CHIP:LINE[?active_low=1]` value of
 * [monitor] on_link_down / on_link_up. Invariants: it never reads past the string; an accepted
 * value has a non-empty, terminated chip name of the bytes between "gpio:" and the last ':' before
 * any '?', a line that is the decimal after it (0..65535), and a query that is absent or exactly
 * active_low=0|1; a refused value leaves an error message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batlink/gpio.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *text)
{
    struct bl_gpio_spec s;
    char err[BL_ERRLEN] = "";
    enum bl_err e = bl_gpio_parse(text, &s, err);
    if (e != BL_OK) {
        CHECK(err[0] != '\0');
        return;
    }
    CHECK(strncmp(text, "gpio:", 5) == 0);
    size_t clen = strnlen(s.chip, sizeof s.chip);
    CHECK(clen > 0 && clen < sizeof s.chip);
    CHECK(memcmp(text + 5, s.chip, clen) == 0 && text[5 + clen] == ':');
    CHECK(s.line <= 65535);
    const char *num = text + 5 + clen + 1;
    char want[16];
    int n = snprintf(want, sizeof want, "%u", s.line);
    const char *after = num;
    while (*after == '0' && after[1] >= '0' && after[1] <= '9')
        after++; /* leading zeros are read as the same offset */
    CHECK(strncmp(after, want, (size_t)n) == 0);
    after += n;
    CHECK(*after == '\0' || strcmp(after, "?active_low=1") == 0 ||
          strcmp(after, "?active_low=0") == 0);
    CHECK(s.active_low == (strcmp(after, "?active_low=1") == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 512) return 0;
    char *text = malloc(size + 6);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    one(text); /* as given (mostly refused: no gpio: prefix) */
    memcpy(text, "gpio:", 5);
    memcpy(text + 5, data, size);
    text[size + 5] = '\0';
    one(text); /* with the prefix, so the body is explored */
    free(text);
    return 0;
}
