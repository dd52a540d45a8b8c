/* SPDX-License-Identifier: MIT */
/* fake_gpiod.c: a mock GPIO chip behind the libgpiod 1.x API, built as libgpiod.so.2 in its own
 * directory: a test puts that directory first in LD_LIBRARY_PATH, and the real batlink binary
 * dlopens it instead of Debian's libgpiod (src/io/gpio.c), where the host has no GPIO chip (no
 * gpio-sim / gpio-mockup in a container or in Debian 12's kernel). One chip, "mockchip0" (also
 * /dev/mockchip0, label "batlink-mock"), 8 lines; line 5 is held by "kernel-led". Every request,
 * set and release is appended to the file $BL_FAKE_GPIO_LOG as
 * "request|set|release OFFSET LOGICAL ELECTRICAL [consumer]"; while the file $BL_FAKE_GPIO_FAIL
 * exists, sets fail with EIO. The lines are shared by every open of the chip, as the kernel's are:
 * a line one open requested is busy for another. */
#include <errno.h>
#include <gpiod.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NLINES 8

struct gpiod_line {
    struct gpiod_chip *owner;  /* the open that requested it */
    struct gpiod_chip *getter; /* the open that asked for it last (gpiod_chip_get_line) */
    unsigned offset;
    bool active_low;
    int value; /* logical */
    char consumer[32];
};

struct gpiod_chip {
    int unused;
};

static struct gpiod_line lines[NLINES];
static bool ready;

static void note(const char *what, const struct gpiod_line *l)
{
    const char *path = getenv("BL_FAKE_GPIO_LOG");
    if (path == NULL) return;
    FILE *f = fopen(path, "a");
    if (f == NULL) return;
    fprintf(f, "%s %u %d %d %s\n", what, l->offset, l->value, l->value ^ (l->active_low ? 1 : 0),
            l->consumer);
    fclose(f);
}

struct gpiod_chip *gpiod_chip_open_lookup(const char *descr)
{
    if (strcmp(descr, "mockchip0") != 0 && strcmp(descr, "/dev/mockchip0") != 0 &&
        strcmp(descr, "batlink-mock") != 0) {
        errno = ENOENT;
        return NULL;
    }
    if (!ready) {
        for (unsigned i = 0; i < NLINES; i++)
            lines[i].offset = i;
        snprintf(lines[5].consumer, sizeof lines[5].consumer, "kernel-led");
        ready = true;
    }
    return calloc(1, sizeof(struct gpiod_chip));
}

void gpiod_chip_close(struct gpiod_chip *chip)
{
    for (unsigned i = 0; i < NLINES; i++)
        if (lines[i].owner == chip) {
            note("release", &lines[i]);
            lines[i].owner = NULL;
            lines[i].consumer[0] = '\0';
        }
    free(chip);
}

const char *gpiod_chip_name(struct gpiod_chip *chip)
{
    (void)chip;
    return "mockchip0";
}

unsigned int gpiod_chip_num_lines(struct gpiod_chip *chip)
{
    (void)chip;
    return NLINES;
}

struct gpiod_line *gpiod_chip_get_line(struct gpiod_chip *chip, unsigned int offset)
{
    if (offset >= NLINES) {
        errno = EINVAL;
        return NULL;
    }
    lines[offset].getter = chip;
    return &lines[offset];
}

bool gpiod_line_is_used(struct gpiod_line *line)
{
    return line->consumer[0] != '\0';
}

const char *gpiod_line_consumer(struct gpiod_line *line)
{
    return line->consumer[0] != '\0' ? line->consumer : NULL;
}

int gpiod_line_request_output_flags(struct gpiod_line *line, const char *consumer, int flags,
                                    int default_val)
{
    if (line->consumer[0] != '\0') {
        errno = EBUSY;
        return -1;
    }
    line->owner = line->getter;
    line->active_low = (flags & GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW) != 0;
    line->value = default_val != 0;
    snprintf(line->consumer, sizeof line->consumer, "%s", consumer);
    note("request", line);
    return 0;
}

int gpiod_line_set_value(struct gpiod_line *line, int value)
{
    const char *fail = getenv("BL_FAKE_GPIO_FAIL");
    if (fail != NULL && access(fail, F_OK) == 0) {
        errno = EIO;
        return -1;
    }
    line->value = value != 0;
    note("set", line);
    return 0;
}
