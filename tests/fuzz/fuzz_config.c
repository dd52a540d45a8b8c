/* SPDX-License-Identifier: MIT */
/* fuzz_config.c: the INI loader of src/app/config.c over arbitrary files, and the decimal parser
 * against a reference grammar. Invariants: a loaded file sets each key from the physical line
 * that starts with that key (a cut line's tail never counts as a line), every number lies in its
 * table range, an error names the file, and bl_decimal_scan reads exactly the reference grammar.
 * config.c lives in the app layer, so it is compiled in (#include), as tests/unit does. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/app/config.c"
#include "batlink/decimal.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* -?([0-9]+(\.[0-9]*)?|\.[0-9]+) at the start of s: its length, 0 = none */
static size_t reference_len(const char *s)
{
    size_t i = 0, digits = 0;
    if (s[i] == '-') i++;
    while (s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (s[i] == '.') {
        i++;
        while (s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    return digits > 0 ? i : 0;
}

static void check_decimal(const char *s)
{
    const char *end = NULL;
    double v = 42.0;
    enum bl_err e = bl_decimal_scan(s, &end, &v);
    size_t want = reference_len(s);
    if (want == 0) {
        CHECK(e == BL_ERR_INVAL && end == NULL && v == 42.0);
    } else if (want > BL_DECIMAL_MAX) {
        CHECK(e == BL_ERR_RANGE && end == NULL);
    } else {
        CHECK(e == BL_OK && end == s + want);
        char buf[BL_DECIMAL_MAX + 1];
        memcpy(buf, s, want);
        buf[want] = '\0';
        CHECK(v == strtod(buf, NULL));
    }
}

/* physical line `n` (1-based) of text, after leading blanks */
static const char *line_start(const char *text, size_t len, unsigned n)
{
    size_t i = 0;
    for (unsigned l = 1; l < n; l++) {
        const char *nl = memchr(text + i, '\n', len - i);
        if (nl == NULL) return NULL;
        i = (size_t)(nl - text) + 1;
    }
    while (i < len && text[i] != '\n' && isspace((unsigned char)text[i]))
        i++;
    return text + i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* in the working directory, which scripts/fuzz.sh removes afterwards */
    static const char path[] = "bl_fuzz_config.ini";
    if (size > 8192) return 0;
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    check_decimal(text);

    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    CHECK(fwrite(data, 1, size, fp) == size);
    CHECK(fclose(fp) == 0);
    struct bl_config c;
    char err[256] = "";
    bl_config_defaults(&c);
    enum bl_err e = bl_config_load(&c, path, err);
    if (e != BL_OK) {
        CHECK(e == BL_ERR_USAGE && strncmp(err, path, strlen(path)) == 0);
    } else {
        for (size_t i = 0; i < NKEYS; i++) {
            const struct key *k = &keys[i];
            if (k->type == T_NUM) {
                double v = *(const double *)(const void *)((const char *)&c + k->off);
                CHECK(v >= k->lo && v <= k->hi);
            } else if (k->type == T_LONG) {
                long v = *(const long *)(const void *)((const char *)&c + k->off);
                CHECK((double)v >= k->lo && (double)v <= k->hi);
            }
            unsigned l = c.origin.line[i];
            if (l == 0) continue;
            const char *s = line_start(text, size, l);
            CHECK(s != NULL);
            /* the key's own line (monitor's down_after may be spelled dead_after) */
            size_t n = strlen(k->doc.key);
            bool alias = strcmp(k->doc.key, "down_after") == 0 && strncmp(s, "dead_after", 10) == 0;
            CHECK(alias || (strncmp(s, k->doc.key, n) == 0 &&
                            (isspace((unsigned char)s[n]) || s[n] == '=' || s[n] == ':')));
        }
    }
    free(text);
    return 0;
}
