/* SPDX-License-Identifier: MIT */
/* diag_record.c: --note, --log and --summary of `diagnose` (diag_record.h). */
#include "app/diag_record.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

/* ---- notes ---- */

static bool numeric_key(const char *k, double *lo, double *hi)
{
    if (strcmp(k, "layer") == 0) {
        *lo = 1;
        *hi = 5;
        return true;
    }
    if (strncmp(k, "time_l", 6) == 0 && k[6] >= '1' && k[6] <= '5' && k[7] == '\0') {
        *lo = 0;
        *hi = 100000; /* minutes */
        return true;
    }
    return false;
}

bool diag_rec__note(struct diag_notes *n, const char *kv, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq != NULL ? (size_t)(eq - kv) : 0;
    if (eq == NULL || klen == 0 || klen > DIAG_NOTE_KEY) {
        snprintf(err, errlen, "--note \"%.60s\": expected KEY=VALUE with a KEY of 1-%d characters",
                 kv, DIAG_NOTE_KEY);
        return false;
    }
    for (size_t i = 0; i < klen; i++)
        if (!(islower((unsigned char)kv[i]) || isdigit((unsigned char)kv[i]) || kv[i] == '_')) {
            snprintf(err, errlen, "--note \"%.60s\": KEY may hold only a-z, 0-9 and _", kv);
            return false;
        }
    const char *v = eq + 1;
    size_t vlen = strlen(v);
    if (vlen > DIAG_NOTE_VALUE) {
        snprintf(err, errlen, "--note %.*s: VALUE longer than %d characters", (int)klen, kv,
                 DIAG_NOTE_VALUE);
        return false;
    }
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7F) {
            snprintf(err, errlen, "--note %.*s: VALUE has a control character at %zu", (int)klen,
                     kv, i + 1);
            return false;
        }
    char key[DIAG_NOTE_KEY + 1];
    memcpy(key, kv, klen);
    key[klen] = '\0';
    double lo, hi;
    if (numeric_key(key, &lo, &hi)) {
        char *end = NULL;
        errno = 0;
        double d = strtod(v, &end);
        if (vlen == 0 || end == v || *end != '\0' || errno != 0 || !(d >= lo && d <= hi)) {
            snprintf(err, errlen, "--note %s=\"%.40s\": expected a number from %g to %g", key, v,
                     lo, hi);
            return false;
        }
    }
    unsigned slot = n->n;
    for (unsigned i = 0; i < n->n; i++)
        if (strcmp(n->key[i], key) == 0) slot = i;
    if (slot == n->n) {
        if (n->n >= DIAG_NOTES_MAX) {
            snprintf(err, errlen, "--note: more than %d notes", DIAG_NOTES_MAX);
            return false;
        }
        n->n++;
    }
    memcpy(n->key[slot], key, klen + 1);
    memcpy(n->value[slot], v, vlen + 1);
    return true;
}

const char *diag_rec__get(const struct diag_notes *n, const char *key)
{
    for (unsigned i = 0; i < n->n; i++)
        if (strcmp(n->key[i], key) == 0) return n->value[i];
    return NULL;
}

/* ---- Markdown ---- */

static void md_val(FILE *out, const char *v)
{
    if (v == NULL || v[0] == '\0') {
        fputs("____", out);
        return;
    }
    for (; *v != '\0'; v++)
        if (*v == '|')
            fputs("\\|", out);
        else
            fputc(*v, out);
}

void diag_rec__md(FILE *out, const struct diag_notes *n, const struct bl_analysis *a)
{
    fprintf(out, "\n## Equipment\n\n| | model | firmware |\n|---|---|---|\n| battery | ");
    const char *bm = diag_rec__get(n, "battery_model");
    if (bm == NULL && a->tracker.state.manufacturer[0] != '\0' &&
        bl_battery_known(&a->tracker.state, BL_F_MANUFACTURER))
        bm = a->tracker.state.manufacturer; /* the name the battery sends (0x35E) */
    md_val(out, bm);
    fputs(" | ", out);
    md_val(out, diag_rec__get(n, "battery_firmware"));
    fputs(" |\n| inverter | ", out);
    md_val(out, diag_rec__get(n, "inverter_model"));
    fputs(" | ", out);
    md_val(out, diag_rec__get(n, "inverter_firmware"));
    fputs(" |\n", out);
    fprintf(out, "\n## Time per layer (minutes)\n\n| layer | seed 004 | spent |\n|---|---|---|\n");
    static const char *const seed[5] = {"~5", "~10", "~15", "~20", "60-180+"};
    for (unsigned l = 1; l <= 5; l++) {
        char k[16];
        snprintf(k, sizeof k, "time_l%u", l);
        fprintf(out, "| %u %s | %s | ", l, bl_layer_name(l), seed[l - 1]);
        md_val(out, diag_rec__get(n, k));
        fputs(" |\n", out);
    }
    fprintf(out, "\n## Hard-coded case (only when communication could not be restored)\n\n");
    for (unsigned l = 1; l <= 5; l++) {
        char k[16];
        snprintf(k, sizeof k, "tried_l%u", l);
        fprintf(out, "- Tried at layer %u (%s) and result: ", l, bl_layer_name(l));
        md_val(out, diag_rec__get(n, k));
        fputc('\n', out);
    }
    fputs("- Why communication could not be restored: ", out);
    md_val(out, diag_rec__get(n, "why"));
    fputs("\n- Hard-coded settings: ", out);
    md_val(out, diag_rec__get(n, "settings"));
    fputs("\n- Customer acknowledgement (written or electronic): ", out);
    md_val(out, diag_rec__get(n, "ack"));
    fputc('\n', out);
}

/* ---- --log ---- */

static const struct bl_finding *top(const struct bl_analysis *a)
{
    for (unsigned i = 0; i < a->nfindings; i++)
        if (a->findings[i].cause && strcmp(a->findings[i].code, "cause_undecided") != 0)
            return &a->findings[i];
    return NULL;
}

bool diag_rec__log(FILE *f, const struct diag_notes *n, const struct bl_analysis *a,
                   const char *source, double duration_s)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) return false;
    char ts[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm) != NULL) strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cJSON_AddStringToObject(o, "ts", ts);
    cJSON_AddStringToObject(o, "source", source != NULL ? source : "");
    cJSON_AddStringToObject(o, "profile", bl_analysis_profile_name(a));
    cJSON_AddStringToObject(o, "verdict", bl_verdict_name(a->verdict));
    cJSON_AddNumberToObject(o, "duration_s", duration_s);
    const struct bl_finding *t = top(a);
    if (t != NULL) {
        cJSON_AddStringToObject(o, "top_cause", t->code);
        cJSON_AddNumberToObject(o, "top_layer", t->layer);
    } else {
        cJSON_AddNullToObject(o, "top_cause");
        cJSON_AddNullToObject(o, "top_layer");
    }
    cJSON *causes = cJSON_AddArrayToObject(o, "causes");
    cJSON *codes = cJSON_AddArrayToObject(o, "findings");
    for (unsigned i = 0; i < a->nfindings; i++) {
        const struct bl_finding *fi = &a->findings[i];
        cJSON_AddItemToArray(codes, cJSON_CreateString(fi->code));
        if (!fi->cause || causes == NULL) continue;
        cJSON *c = cJSON_CreateObject();
        if (c == NULL) continue;
        cJSON_AddStringToObject(c, "code", fi->code);
        cJSON_AddNumberToObject(c, "likelihood", (double)(long)(fi->likelihood * 1000.0) / 1000.0);
        cJSON_AddNumberToObject(c, "layer", fi->layer);
        cJSON_AddItemToArray(causes, c);
    }
    cJSON *notes = cJSON_AddObjectToObject(o, "notes");
    for (unsigned i = 0; notes != NULL && i < n->n; i++)
        cJSON_AddStringToObject(notes, n->key[i], n->value[i]);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL) return false;
    bool ok = fprintf(f, "%s\n", s) > 0 && fflush(f) == 0;
    free(s);
    return ok;
}

/* ---- --summary ---- */

#define MAX_CODES 24

struct tally {
    unsigned calls, bad, unsolved;
    unsigned layer_calls[6]; /* [0] = unknown layer */
    double minutes[6];
    unsigned timed[6]; /* calls that recorded time at the layer */
    unsigned ncodes;
    char code[MAX_CODES][40];
    unsigned code_layer[MAX_CODES], code_n[MAX_CODES];
};

static void count_code(struct tally *t, const char *code, unsigned layer)
{
    for (unsigned i = 0; i < t->ncodes; i++)
        if (strcmp(t->code[i], code) == 0 && t->code_layer[i] == layer) {
            t->code_n[i]++;
            return;
        }
    if (t->ncodes >= MAX_CODES) return;
    snprintf(t->code[t->ncodes], sizeof t->code[0], "%s", code);
    t->code_layer[t->ncodes] = layer;
    t->code_n[t->ncodes++] = 1;
}

static void one_line(struct tally *t, const char *line, unsigned lineno, FILE *out)
{
    cJSON *o = cJSON_Parse(line);
    if (!cJSON_IsObject(o) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "verdict"))) {
        if (t->bad++ < 5)
            fprintf(out, "(line %u is not a diagnose --log record: skipped)\n", lineno);
        cJSON_Delete(o);
        return;
    }
    t->calls++;
    const cJSON *notes = cJSON_GetObjectItemCaseSensitive(o, "notes");
    /* the installer's confirmed cause wins over the analyser's best bet */
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(notes, "cause");
    if (!cJSON_IsString(c)) c = cJSON_GetObjectItemCaseSensitive(o, "top_cause");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(notes, "layer");
    unsigned layer = 0;
    if (cJSON_IsString(l))
        layer = (unsigned)atoi(l->valuestring);
    else if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "top_layer")) &&
             cJSON_IsString(c) && c == cJSON_GetObjectItemCaseSensitive(o, "top_cause"))
        layer = (unsigned)cJSON_GetObjectItemCaseSensitive(o, "top_layer")->valuedouble;
    if (layer > 5) layer = 0;
    if (cJSON_IsString(c) && c->valuestring[0] != '\0') {
        t->layer_calls[layer]++;
        count_code(t, c->valuestring, layer);
    } else {
        t->unsolved++;
    }
    for (unsigned k = 1; k <= 5; k++) {
        char key[16];
        snprintf(key, sizeof key, "time_l%u", k);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(notes, key);
        double v = cJSON_IsString(m)   ? atof(m->valuestring)
                   : cJSON_IsNumber(m) ? m->valuedouble
                                       : -1.0;
        if (v >= 0.0 && v < 1e6) {
            t->minutes[k] += v;
            t->timed[k]++;
        }
    }
    cJSON_Delete(o);
}

int diag_rec__summary(const char *path, FILE *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "batlink: diagnose --summary %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct tally t;
    memset(&t, 0, sizeof t);
    char *line = malloc(65536);
    if (line == NULL) {
        if (f != stdin) fclose(f);
        fprintf(stderr, "batlink: diagnose --summary: out of memory\n");
        return 1;
    }
    unsigned lineno = 0;
    bool skipping = false;
    while (fgets(line, 65536, f) != NULL) {
        size_t len = strlen(line);
        bool whole = len > 0 && line[len - 1] == '\n';
        if (skipping) { /* the rest of an over-long line */
            skipping = !whole;
            continue;
        }
        lineno++;
        if (!whole && !feof(f)) {
            skipping = true;
            if (t.bad++ < 5) fprintf(out, "(line %u longer than 64 KiB: skipped)\n", lineno);
            continue;
        }
        if (len <= 1) continue;
        one_line(&t, line, lineno, out);
    }
    free(line);
    if (f != stdin) fclose(f);
    fprintf(out, "calls: %u (%u bad lines skipped, %u without a cause)\n\n", t.calls, t.bad,
            t.unsolved);
    unsigned solved = t.calls - t.unsolved;
    fprintf(out, "causes by layer (the installer's --note cause=, else the top finding):\n");
    for (unsigned l = 1; l <= 5 + 1; l++) {
        unsigned lay = l % 6; /* 1..5, then 0 = layer not known */
        if (t.layer_calls[lay] == 0) continue;
        fprintf(out, "  layer %u %-24s %4u calls:", lay, lay ? bl_layer_name(lay) : "(not known)",
                t.layer_calls[lay]);
        for (unsigned i = 0; i < t.ncodes; i++)
            if (t.code_layer[i] == lay) fprintf(out, " %s %u", t.code[i], t.code_n[i]);
        fputc('\n', out);
    }
    fprintf(out, "\ntime per layer (--note time_lN=MINUTES) and yield (calls solved there per "
                 "hour spent there; share of solved calls):\n");
    fprintf(out, "  %-30s %10s %8s %8s %10s\n", "layer", "minutes", "calls", "solved", "per hour");
    for (unsigned l = 1; l <= 5; l++) {
        double per_h = t.minutes[l] > 0.0 ? t.layer_calls[l] / (t.minutes[l] / 60.0) : 0.0;
        fprintf(out, "  %u %-28s %10.0f %8u %7.0f %% ", l, bl_layer_name(l), t.minutes[l],
                t.timed[l], solved ? 100.0 * t.layer_calls[l] / solved : 0.0);
        if (t.minutes[l] > 0.0)
            fprintf(out, "%10.1f\n", per_h);
        else
            fprintf(out, "%10s\n", "-");
    }
    return 0;
}
