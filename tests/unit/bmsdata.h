/* SPDX-License-Identifier: MIT */
/* bmsdata.h: read a block of a BMS frame file of tests/data/ (copied from shared/data/bms/, format
 * in its README: `name:` then `hex:` bytes or `ascii:` text with a trailing "\r" for CR). */
#ifndef BL_TEST_BMSDATA_H
#define BL_TEST_BMSDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytes of block `name` of `file` into buf[cap]; returns the count (0 when not found). */
static size_t bmsdata_load(const char *file, const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    static char line[16384];
    snprintf(path, sizeof path, "%s/%s", BL_TEST_DATA, file);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int in_block = 0;
    size_t n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, "name: ", 6) == 0) in_block = strcmp(line + 6, name) == 0;
        if (!in_block) continue;
        if (strncmp(line, "hex: ", 5) == 0) {
            char *p = line + 5;
            while (*p && n < cap) {
                char *end;
                unsigned long v = strtoul(p, &end, 16);
                if (end == p) break;
                buf[n++] = (uint8_t)v;
                p = end;
                while (*p == ' ')
                    p++;
            }
            break;
        }
        if (strncmp(line, "ascii: ", 7) == 0) {
            const char *p = line + 7;
            while (*p && n < cap) {
                if (p[0] == '\\' && p[1] == 'r') {
                    buf[n++] = '\r';
                    p += 2;
                } else {
                    buf[n++] = (uint8_t)*p++;
                }
            }
            break;
        }
    }
    fclose(f);
    return n;
}

#endif
