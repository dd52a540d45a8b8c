/* SPDX-License-Identifier: MIT */
/* diag_record.h: the service record of `diagnose` (issue 13 item 5): the installer's answers
 * (--note KEY=VALUE), one JSON line per call appended to --log FILE, and --summary FILE over all
 * calls: causes by layer, time spent per layer and the yield of each layer (seed 004's table from
 * the installer's own data). */
#ifndef BATLINK_DIAG_RECORD_H
#define BATLINK_DIAG_RECORD_H

#include <stdbool.h>
#include <stdio.h>

#include "batlink/diag.h"

#define DIAG_NOTES_MAX  32
#define DIAG_NOTE_KEY   32
#define DIAG_NOTE_VALUE 240

struct diag_notes {
    unsigned n;
    char key[DIAG_NOTES_MAX][DIAG_NOTE_KEY + 1];
    char value[DIAG_NOTES_MAX][DIAG_NOTE_VALUE + 1];
};

/** Add "KEY=VALUE": KEY 1-32 of [a-z0-9_], VALUE up to 240 printable characters (UTF-8 allowed,
 * no control characters); the known numeric keys (time_l1 .. time_l5, minutes; layer 1-5) must
 * be numbers in range. A repeated KEY replaces the value. Returns false with a message in `err`
 * (a usage error). */
bool diag_rec__note(struct diag_notes *n, const char *kv, char *err, size_t errlen);
/** The value of KEY or NULL. */
const char *diag_rec__get(const struct diag_notes *n, const char *key);

/** The Markdown sections of the record: equipment (battery and inverter model and firmware),
 * time per layer, the hard-coded case (tried per layer, settings, acknowledgement). */
void diag_rec__md(FILE *out, const struct diag_notes *n, const struct bl_analysis *a);

/** Append one JSON line for this call to `f`. Returns false on a write error. */
bool diag_rec__log(FILE *f, const struct diag_notes *n, const struct bl_analysis *a,
                   const char *source, double duration_s);

/** `diagnose --summary FILE`: print the table over all calls of the log to `out`. Returns an exit
 * code (0; 1 when the file cannot be read). Bad lines are counted and named, never fatal. */
int diag_rec__summary(const char *path, FILE *out);

#endif
