/* SPDX-License-Identifier: MIT */
/* energy_file.c: the energy counters of monitor and bridge (core/energy.h) fed from the battery
 * state and kept across restarts in a small state file, written atomically (a temporary file,
 * then rename). A corrupt or foreign file is set aside (<file>.corrupt) with a warning.
 * No fsync: the file is written from the poll loop, and an fsync on a busy SD card can take
 * hundreds of milliseconds, which the bridge's transmit clock must never wait for. After a power
 * cut the file is the old or the new one (ext4 flushes a file replaced by rename before the
 * rename, its auto_da_alloc default); anything else is found corrupt and set aside. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "batlink/log.h"

#define SAVE_EVERY_US (60 * 1000000LL)
#define FILE_MAX      512

static void set_fields(struct app__energy *en, struct bl_battery *b, bl_us now)
{
    /* stored in Wh (field table): rounded down, so a counter never runs ahead of itself */
    double c = en->e.charged_wh, d = en->e.discharged_wh;
    bl_battery_set(b, BL_F_ENERGY_CHARGED, (int32_t)(c < 2e9 ? c : 2e9), now);
    bl_battery_set(b, BL_F_ENERGY_DISCHARGED, (int32_t)(d < 2e9 ? d : 2e9), now);
}

void app__energy_open(struct app__energy *en, const struct bl_config *c, const char *command,
                      double max_gap_s)
{
    memset(en, 0, sizeof *en);
    bl_energy_init(&en->e, 0, 0, (int64_t)(max_gap_s * 1e6));
    const char *f = c->monitor.energy_file;
    const char *dir = getenv("STATE_DIRECTORY"); /* systemd StateDirectory= (may list several) */
    if (strcmp(f, "none") == 0) return;
    if (f[0] != '\0') {
        snprintf(en->path, sizeof en->path, "%s", f);
    } else if (dir != NULL && dir[0] != '\0') {
        int n = (int)strcspn(dir, ":");
        snprintf(en->path, sizeof en->path, "%.*s/energy-%s-%s.state", n, dir, command,
                 c->mqtt.device);
    } else {
        return;
    }
    char buf[FILE_MAX];
    FILE *fp = fopen(en->path, "r");
    if (fp == NULL) {
        int e = errno;
        en->loaded = e == ENOENT; /* a first start: nothing to keep */
        if (e != ENOENT)
            bl_logf(BL_LOG_WARN, "energy file %s: %s: the counters start at 0 and are not saved",
                    en->path, strerror(e));
        return;
    }
    size_t n = fread(buf, 1, sizeof buf, fp);
    int rerr = ferror(fp) ? errno : 0;
    fclose(fp);
    if (rerr != 0) { /* unreadable (a directory, an I/O error): leave it alone, save nothing */
        bl_logf(BL_LOG_WARN, "energy file %s: %s: the counters start at 0 and are not saved",
                en->path, strerror(rerr));
        return;
    }
    struct bl_diag why = {0};
    double ch = 0, dis = 0;
    if (n < sizeof buf && bl_energy_parse(buf, n, &ch, &dis, &why) == BL_OK) {
        bl_energy_init(&en->e, ch, dis, (int64_t)(max_gap_s * 1e6));
        en->loaded = true;
        en->have_totals = true;
        return;
    }
    /* corrupt or foreign: keep it for a look, start again */
    char aside[sizeof en->path + 16];
    snprintf(aside, sizeof aside, "%s.corrupt", en->path);
    bool moved = rename(en->path, aside) == 0;
    int e = errno;
    bl_logf(BL_LOG_WARN, "energy file %s: line %u: %s; %s%s; the counters start at 0", en->path,
            why.line, n >= sizeof buf ? "too large for an energy file" : why.what,
            moved ? "set aside as " : "could not be set aside: ", moved ? aside : strerror(e));
    en->loaded = moved;
}

void app__energy_seed(struct app__energy *en, struct bl_battery *b, bl_us now)
{
    if (en->have_totals) set_fields(en, b, now);
}

void app__energy_save(struct app__energy *en)
{
    if (en->path[0] == '\0' || !en->loaded || !en->dirty) return;
    char tmp[sizeof en->path + 8], text[FILE_MAX];
    snprintf(tmp, sizeof tmp, "%s.tmp", en->path);
    size_t n = bl_energy_format(&en->e, text, sizeof text);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && n < sizeof text && write(fd, text, n) == (ssize_t)n;
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, en->path) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok) {
        if (fd >= 0) unlink(tmp);
        bl_log_limited("energy file: save", BL_LOG_WARN, "energy file %s: cannot save: %s",
                       en->path, strerror(e));
        return;
    }
    en->dirty = false;
}

void app__energy_feed(struct app__energy *en, struct bl_battery *b, int64_t t_us, bl_us now)
{
    if (!bl_battery_known(b, BL_F_VOLTAGE) || !bl_battery_known(b, BL_F_CURRENT) ||
        !bl_battery_plausible(b, BL_F_VOLTAGE) || !bl_battery_plausible(b, BL_F_CURRENT))
        return;
    double w = (double)b->v[BL_F_VOLTAGE] * 1e-3 * (double)b->v[BL_F_CURRENT] * 1e-3;
    bl_energy_sample(&en->e, t_us, w);
    en->have_totals = true;
    en->dirty = true;
    set_fields(en, b, now);
    if (now - en->saved_at >= SAVE_EVERY_US) {
        en->saved_at = now;
        app__energy_save(en);
    }
}

void app__energy_break(struct app__energy *en)
{
    bl_energy_break(&en->e);
}
