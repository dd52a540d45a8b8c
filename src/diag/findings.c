/* SPDX-License-Identifier: MIT */
/* findings.c: turn the analyser's statistics into an identified profile (with evidence), the
 * findings of shared/reference/field-diagnosis.md (stable codes, severity, layer, next step), a
 * verdict, and the installer's checklist for what the bus cannot show. Pure. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "batlink/fmath.h"
#include "batlink/diag.h"
#include "batlink/profile.h"
#include "diag/diag_int.h"

#define S_US 1000000

/* ---- names ---- */

const char *bl_severity_name(enum bl_severity s)
{
    switch (s) {
    case BL_SEV_INFO:
        return "info";
    case BL_SEV_WARN:
        return "warn";
    case BL_SEV_FAIL:
        return "fail";
    }
    return "?";
}

const char *bl_verdict_name(enum bl_severity worst)
{
    return worst == BL_SEV_INFO ? "ok" : bl_severity_name(worst);
}

/* The identified families and the registry profile each one is (`profile`: the name in
 * bl_profile_list(); a family whose table has not landed yet is looked up and not found). The
 * messages, keep-alive, manufacturer and expected set of a family come from that profile. */
struct ident_row {
    const char *name;
    const char *aliases; /* space-separated, besides the registry's names of `profile` */
    const char *setting;
    uint32_t bps, alt_bps; /* bit rate; a second legitimate one (0 = none) */
    const char *profile;
};

static const struct ident_row idents[BL_IDENT__COUNT] = {
    [BL_IDENT_UNKNOWN] = {"unknown", "", "", 500000, 0, NULL},
    [BL_IDENT_PYLON_LV] = {"pylontech-lv", "pylontech pylon pylon-lv pylontech-compatible",
                           "Pylontech / Pylon LV (version not identified from the ids seen)",
                           500000, 0, "pylontech"},
    [BL_IDENT_PYLON_V12] = {"pylontech-lv-v1.2", "pylontech-v1.2 pylon-v1.2 v1.2",
                            "Pylontech (Pylon LV V1.2): Deye \"Lithium 00\", Growatt SPF \"CAN "
                            "L52\", Sofar \"Automatic\", Solis \"Pylon LV\"",
                            500000, 0, "pylontech"},
    [BL_IDENT_PYLON_V13] = {"pylontech-lv-v1.3", "pylontech-v1.3 pylon-v1.3 v1.3",
                            "Pylontech (newer firmware: 0x35A/0x35F instead of 0x359/0x35C)",
                            500000, 0, "pylontech-v13"},
    [BL_IDENT_VICTRON] = {"victron", "victron-lv can-bus-bms",
                          "Victron GX BMS-Can port, profile \"CAN-bus BMS LV (500 kbit/s)\"",
                          500000, 250000, "victron"},
    [BL_IDENT_SMA] = {"sma", "sma-si sunny-island aobo",
                      "SMA Sunny Island external BMS (some Solis LV: \"AoBo\")", 500000, 0, "sma"},
    [BL_IDENT_PYLON_HV] = {"pylontech-hv", "pylon-hv hv", "Pylon HV (29-bit, polled by 0x4200)",
                           500000, 0, "pylontech-hv"},
    [BL_IDENT_BYD_HVS] = {"byd-hvs", "byd byd-hvm byd-hvl", "BYD HVS/HVM/HVL", 500000, 0,
                          "byd-hvs"},
    [BL_IDENT_GROWATT] = {"growatt", "growatt-lv", "Growatt LV protocol (big-endian 0x311-0x321)",
                          500000, 0, "growatt-lv"},
};

const struct bl_profile *diag__ident_profile(enum bl_ident p)
{
    return (unsigned)p < BL_IDENT__COUNT && idents[p].profile != NULL
               ? bl_profile_find(idents[p].profile)
               : NULL;
}

/* The profile whose words (keep-alive, manufacturer) a Pylon-set family uses while its own table
 * is missing: the LV families share them (can-profiles.md 1, 1.8). */
static const struct bl_profile *lv_profile(enum bl_ident p)
{
    const struct bl_profile *prof = diag__ident_profile(p);
    return prof != NULL ? prof : diag__ident_profile(BL_IDENT_PYLON_LV);
}

const char *bl_ident_name(enum bl_ident p)
{
    return (unsigned)p < BL_IDENT__COUNT ? idents[p].name : "unknown";
}

const char *bl_ident_setting(enum bl_ident p)
{
    return (unsigned)p < BL_IDENT__COUNT ? idents[p].setting : "";
}

/* Every profile here runs at 500 kbit/s (can-profiles.md 1.1, 2.1, 5.1, 6.1, 7.1); Victron's GX
 * also has a "VE.Can & CAN-bus BMS (250 kbit/s)" port profile (can-profiles.md 2.1). */
uint32_t bl_ident_bitrate(enum bl_ident p, uint32_t *alt)
{
    const struct ident_row *r = &idents[(unsigned)p < BL_IDENT__COUNT ? p : BL_IDENT_UNKNOWN];
    if (alt != NULL) *alt = r->alt_bps;
    return r->bps;
}

static bool word_in(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; *p != '\0';) {
        const char *e = strchr(p, ' ');
        size_t k = e != NULL ? (size_t)(e - p) : strlen(p);
        if (k == n && strncmp(p, w, n) == 0) return true;
        if (e == NULL) break;
        p = e + 1;
    }
    return false;
}

enum bl_err bl_ident_find(const char *name, enum bl_ident *out)
{
    if (name == NULL || name[0] == '\0') return BL_ERR_USAGE;
    for (unsigned i = 0; i < BL_IDENT__COUNT; i++)
        if (strcmp(idents[i].name, name) == 0 || word_in(idents[i].aliases, name)) {
            *out = (enum bl_ident)i;
            return BL_OK;
        }
    /* any name or alias of the registry: the first family that is that profile */
    /* a scale variant (pylontech-0.1v) belongs to the family of the profile it varies */
    for (const struct bl_profile *p = bl_profile_find(name); p != NULL; p = p->variant_of)
        for (unsigned i = 0; i < BL_IDENT__COUNT; i++)
            if (idents[i].profile != NULL && strcmp(idents[i].profile, p->name) == 0) {
                *out = (enum bl_ident)i;
                return BL_OK;
            }
    return BL_ERR_USAGE;
}

const char *bl_layer_name(unsigned layer)
{
    static const char *const names[] = {"configuration", "physical connection", "cable",
                                        "electrical environment", "protocol and firmware"};
    return layer >= 1 && layer <= 5 ? names[layer - 1] : "?";
}

/* ---- helpers ---- */

static const struct bl_analysis_id *find_id(const struct bl_analysis *a, uint32_t id, bool ext)
{
    for (unsigned i = 0; i < a->nids; i++)
        if (a->ids[i].id == id && a->ids[i].ext == ext && a->ids[i].frames > 0) return &a->ids[i];
    return NULL;
}

static bool has(const struct bl_analysis *a, uint32_t id)
{
    return find_id(a, id, false) != NULL;
}

static double sec(int64_t us)
{
    return (double)us / 1e6;
}

static double at_s(const struct bl_analysis *a, int64_t t)
{
    return sec(t - a->first_us);
}

/* Append printf-style text to buf (always NUL-terminated, truncated when full). */
static void cat(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t n, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf + used, n - used, fmt, ap);
    va_end(ap);
}

static struct bl_finding *add(struct bl_analysis *a, const char *code, enum bl_severity sev,
                              uint8_t layer, const char *next)
{
    if (a->nfindings >= BL_ANALYSIS_MAX_FINDINGS) return NULL;
    struct bl_finding *f = &a->findings[a->nfindings++];
    memset(f, 0, sizeof *f);
    f->code = code;
    f->severity = sev;
    f->layer = layer;
    f->next_step = next;
    return f;
}

/* ---- identification (can-profiles.md sections 1, 2, 5, 6, 7, 8) ---- */

static bool is_lv_family(enum bl_ident p)
{
    return p == BL_IDENT_PYLON_LV || p == BL_IDENT_PYLON_V12 || p == BL_IDENT_PYLON_V13 ||
           p == BL_IDENT_VICTRON || p == BL_IDENT_SMA;
}

static void list_ids(const struct bl_analysis *a, char *buf, size_t n, bool (*pick)(uint32_t, bool))
{
    unsigned k = 0;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_analysis_id *s = &a->ids[i];
        if (s->frames == 0 || !pick(s->id, s->ext)) continue;
        cat(buf, n, "%s0x%0*X", k++ ? ", " : "", s->ext ? 8 : 3, (unsigned)s->id);
    }
}

static bool pick_hv(uint32_t id, bool ext)
{
    return ext && (id == 0x4200 || (id >= 0x4210 && id <= 0x42FF) ||
                   (id >= 0x7310 && id <= 0x734F) || (id >= 0x8200 && id <= 0x82FF));
}

static bool pick_growatt(uint32_t id, bool ext)
{
    return !ext && (id == 0x301 || (id >= 0x311 && id <= 0x321));
}

static bool pick_victron(uint32_t id, bool ext)
{
    return !ext && (id == 0x35B || id == 0x360 || (id >= 0x370 && id <= 0x382 && id != 0x379) ||
                    id == 0x306 || id == 0x307);
}

static bool pick_byd(uint32_t id, bool ext)
{
    return !ext &&
           (id == 0x110 || id == 0x150 || id == 0x151 || id == 0x190 || id == 0x191 ||
            id == 0x1D0 || id == 0x210 || id == 0x250 || id == 0x290 || id == 0x2D0 || id == 0x3D0);
}

static bool pick_core(uint32_t id, bool ext)
{
    return !ext && (id == 0x351 || id == 0x355 || id == 0x356 || id == 0x359 || id == 0x35A ||
                    id == 0x35C || id == 0x35E || id == 0x35F);
}

static unsigned count_ids(const struct bl_analysis *a, bool (*pick)(uint32_t, bool))
{
    unsigned k = 0;
    for (unsigned i = 0; i < a->nids; i++)
        if (a->ids[i].frames > 0 && pick(a->ids[i].id, a->ids[i].ext)) k++;
    return k;
}

static void identify(struct bl_analysis *a)
{
    char *ev = a->ident_evidence;
    size_t n = sizeof a->ident_evidence;
    ev[0] = '\0';
    if (a->opt.force != BL_IDENT_UNKNOWN) {
        a->ident = a->opt.force;
        cat(ev, n, "set with --profile");
        return;
    }
    const struct bl_analysis_id *name = find_id(a, 0x35E, false);
    const struct bl_profile *v13 = lv_profile(BL_IDENT_PYLON_V13);
    const char *maker = v13 != NULL ? v13->manufacturer : NULL;
    size_t mlen = maker != NULL ? strlen(maker) : 0;
    bool pylon_name = name != NULL && mlen > 0 && name->last_len >= mlen &&
                      memcmp(name->last_data, maker, mlen) == 0;
    const struct bl_analysis_id *s355 = find_id(a, 0x355, false);
    const struct bl_msg_desc *ka = bl_profile_keepalive(lv_profile(BL_IDENT_PYLON_LV));
    const struct bl_analysis_id *hb = ka != NULL ? find_id(a, ka->id, false) : NULL;
    bool hb_data = false;
    if (hb != NULL)
        for (unsigned i = 0; i < hb->last_len; i++)
            hb_data |= hb->last_data[i] != 0;
    if (count_ids(a, pick_hv) > 0) {
        a->ident = BL_IDENT_PYLON_HV;
        cat(ev, n, "29-bit Pylon HV ids ");
        list_ids(a, ev, n, pick_hv);
        return;
    }
    if (count_ids(a, pick_growatt) >= 2) {
        a->ident = BL_IDENT_GROWATT;
        cat(ev, n, "Growatt LV ids ");
        list_ids(a, ev, n, pick_growatt);
        return;
    }
    if (count_ids(a, pick_core) > 0) {
        unsigned vic = count_ids(a, pick_victron);
        if (vic >= 2) {
            a->ident = BL_IDENT_VICTRON;
            cat(ev, n, "Victron extension ids ");
            list_ids(a, ev, n, pick_victron);
        } else if (has(a, 0x359) || has(a, 0x35C)) {
            a->ident = BL_IDENT_PYLON_V12;
            cat(ev, n, "%s%s%s", has(a, 0x359) ? "0x359 (protection/alarm flags)" : "",
                has(a, 0x359) && has(a, 0x35C) ? " and " : "",
                has(a, 0x35C) ? "0x35C (request flags)" : "");
            cat(ev, n, " present: Pylon LV V1.2");
        } else if (has(a, 0x35A) || has(a, 0x35F)) {
            bool v13 = pylon_name || (s355 != NULL && (s355->dlc_mask & (1u << 6)));
            if (v13 && !hb_data) {
                a->ident = BL_IDENT_PYLON_V13;
                cat(ev, n, "0x35A/0x35F without 0x359/0x35C%s%s", pylon_name ? ", name PYLON" : "",
                    s355 != NULL && (s355->dlc_mask & (1u << 6)) ? ", 0x355 with DLC 6" : "");
            } else {
                a->ident = BL_IDENT_SMA;
                cat(ev, n, "0x35A set without 0x359/0x35C or Victron extensions%s",
                    hb_data ? ", 0x305 carries data (Sunny Island)" : "");
            }
        } else {
            a->ident = BL_IDENT_PYLON_LV;
            cat(ev, n, "only ids shared by Pylon LV, SMA and Victron: ");
            list_ids(a, ev, n, pick_core);
        }
        if (name != NULL) {
            char txt[9];
            unsigned k = 0;
            for (unsigned i = 0; i < name->last_len && i < 8; i++)
                if (name->last_data[i] >= 0x20 && name->last_data[i] < 0x7F)
                    txt[k++] = (char)name->last_data[i];
            while (k > 0 && txt[k - 1] == ' ')
                k--;
            txt[k] = '\0';
            cat(ev, n, "; 0x35E name \"%s\"", txt);
        }
        return;
    }
    if (count_ids(a, pick_byd) > 0) {
        a->ident = BL_IDENT_BYD_HVS;
        cat(ev, n, "BYD HVS style ids ");
        list_ids(a, ev, n, pick_byd);
        return;
    }
    a->ident = BL_IDENT_UNKNOWN;
    if (a->data_frames > 0) cat(ev, n, "no id of a known profile among %u ids", a->nids);
}

const char *bl_analysis_msg_name(const struct bl_analysis *a, uint32_t id, bool ext)
{
    /* names for families whose table is not registered yet (remove with their table) */
    static const struct {
        uint32_t id;
        bool ext;
        const char *name;
    } extra[] = {
        {0x306, false, "gx_battery_present"},
        {0x307, false, "gx_identification"},
        {0x35B, false, "events"},
        {0x360, false, "charge_request"},
        {0x370, false, "name_1"},
        {0x371, false, "name_2"},
        {0x372, false, "module_counts"},
        {0x373, false, "cell_extremes"},
        {0x374, false, "min_cell_label"},
        {0x375, false, "max_cell_label"},
        {0x376, false, "min_temp_label"},
        {0x377, false, "max_temp_label"},
        {0x378, false, "energy"},
        {0x380, false, "serial_1"},
        {0x381, false, "serial_2"},
        {0x382, false, "product_name"},
        {0x301, false, "growatt_inverter"},
        {0x311, false, "growatt_limits"},
        {0x312, false, "growatt_protection"},
        {0x313, false, "growatt_measurements"},
        {0x314, false, "growatt_capacity"},
        {0x151, false, "byd_inverter_brand"},
        {0x191, false, "byd_inverter_ident"},
        {0x4200, true, "hv_request"},
        {0x4210, true, "hv_ensemble"},
        {0x7310, true, "hv_system_info"},
        {0x7320, true, "hv_module_info"},
    };
    /* the identified family's table; while it has none, any table of the registry for the LV
     * families (they share the Pylon ids) */
    const struct bl_profile *p = diag__ident_profile(a->ident);
    if (p != NULL) {
        const struct bl_msg_desc *m = bl_profile_msg(p, id, ext);
        if (m != NULL) return m->name;
    } else if (a->ident == BL_IDENT_UNKNOWN || is_lv_family(a->ident)) {
        size_t np = 0;
        const struct bl_profile *const *list = bl_profile_list(&np);
        for (size_t i = 0; i < np; i++) {
            const struct bl_msg_desc *m = bl_profile_msg(list[i], id, ext);
            if (m != NULL) return m->name;
        }
    }
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++)
        if (extra[i].id == id && extra[i].ext == ext) return extra[i].name;
    return NULL;
}

/* ---- findings ---- */

/* Expected sets of the families whose table is not registered yet; a registered profile's set is
 * its BL_MSG_CYCLE messages (its BL_MSG_REQUIRED ones while the version is open). */
static const uint32_t expect_v13[] = {0x351, 0x355, 0x356, 0x35A, 0x35E, 0x35F, 0};
static const uint32_t expect_victron[] = {0x351, 0x355, 0x356, 0x35A, 0x35E, 0};
static const uint32_t expect_sma[] = {0x351, 0x355, 0x356, 0x35A, 0};
static const uint32_t expect_lv[] = {0x351, 0x355, 0x356, 0};
static const uint32_t expect_growatt[] = {0x311, 0x312, 0x313, 0x314, 0};

static const uint32_t *expected(enum bl_ident p)
{
    switch (p) {
    case BL_IDENT_PYLON_V13:
        return expect_v13;
    case BL_IDENT_VICTRON:
        return expect_victron;
    case BL_IDENT_SMA:
        return expect_sma;
    case BL_IDENT_PYLON_LV:
        return expect_lv;
    case BL_IDENT_GROWATT:
        return expect_growatt;
    case BL_IDENT_PYLON_V12:
    case BL_IDENT_UNKNOWN:
    case BL_IDENT_PYLON_HV:
    case BL_IDENT_BYD_HVS:
    case BL_IDENT__COUNT:
        break;
    }
    return NULL;
}

static void error_kinds(const struct bl_analysis *a, char *buf, size_t n)
{
    static const char *const cls[10] = {
        "tx timeout", "lost arbitration", "controller", "protocol",  "transceiver",
        "no ACK",     "bus-off",          "bus error",  "restarted", "counters"};
    unsigned k = 0;
    for (unsigned b = 0; b < 10; b++)
        if (a->err_class[b] > 0)
            cat(buf, n, "%s%s %llu", k++ ? ", " : "", cls[b], (unsigned long long)a->err_class[b]);
    if (a->err_passive > 0) cat(buf, n, "; error-passive %llu", (unsigned long long)a->err_passive);
    if (a->err_warning > 0) cat(buf, n, "; error-warning %llu", (unsigned long long)a->err_warning);
}

static unsigned garbage_ids(const struct bl_analysis *a)
{
    unsigned k = 0;
    for (unsigned i = 0; i < a->nids; i++)
        if (!a->ids[i].battery && !a->ids[i].inverter) k++;
    return k;
}

/* Random ids each seen about once: what a receiver at the wrong bit rate reports as frames. A
 * real foreign protocol repeats its ids. */
static bool looks_like_garbage(const struct bl_analysis *a)
{
    uint64_t frames = a->other_id_frames;
    unsigned ids = garbage_ids(a);
    for (unsigned i = 0; i < a->nids; i++)
        if (!a->ids[i].battery && !a->ids[i].inverter) frames += a->ids[i].frames;
    return ids >= 8 && frames < 2u * ids;
}

/* Layer 1: a bit-rate scan found the traffic at another rate than the profile's. The frames were
 * readable there, so the rest of the analysis stands; the inverter, at the profile's rate, cannot
 * read them. */
static void scan_finding(struct bl_analysis *a)
{
    uint32_t alt, want = bl_ident_bitrate(a->ident, &alt);
    if (a->scan_bps == 0 || a->data_frames == 0 || a->scan_bps == want || a->scan_bps == alt)
        return;
    struct bl_finding *f =
        add(a, "bitrate_mismatch", BL_SEV_FAIL, 1,
            "Set the battery (DIP switches or BMS menu, see its manual) and the inverter's CAN "
            "port to the same rate, 500 kbit/s for Pylontech, Victron, SMA; then run diagnose "
            "again without --scan-bitrate.");
    if (f == NULL) return;
    snprintf(f->message, sizeof f->message,
             "The battery talks at %lu kbit/s, but %s runs at %lu kbit/s: an inverter set for "
             "the profile cannot read it.",
             (unsigned long)a->scan_bps / 1000ul,
             a->ident == BL_IDENT_UNKNOWN ? "the standard battery CAN" : bl_ident_name(a->ident),
             (unsigned long)want / 1000ul);
    snprintf(f->evidence, sizeof f->evidence,
             "--scan-bitrate: %llu frames (%llu battery frames decoded) at %lu kbit/s; rate "
             "expected by %s: %lu kbit/s",
             (unsigned long long)a->data_frames, (unsigned long long)a->batt_decoded,
             (unsigned long)a->scan_bps / 1000ul,
             a->ident == BL_IDENT_UNKNOWN ? "the standard" : bl_ident_name(a->ident),
             (unsigned long)want / 1000ul);
    if (alt != 0)
        cat(f->evidence, sizeof f->evidence, " (or %lu kbit/s with the GX's VE.Can profile)",
            (unsigned long)alt / 1000ul);
}

/* Layer 1-2: nothing, garbage, errors. Returns true when the bit rate looks wrong. */
static bool link_findings(struct bl_analysis *a, double dur)
{
    struct bl_finding *f;
    bool garbage = a->ident == BL_IDENT_UNKNOWN && a->data_frames >= 10 && looks_like_garbage(a) &&
                   a->batt_decoded == 0;
    bool mismatch = (a->error_frames >= 10 && a->error_frames > 2 * a->batt_decoded) || garbage;
    if (a->data_frames == 0 &&
        (f = add(a, "no_frames", BL_SEV_FAIL, 1,
                 "Check in this order: the bit rate (500 kbit/s for "
                 "Pylontech, Victron, SMA) on adapter and battery; that "
                 "the battery is on and its CAN port enabled; CAN-H/CAN-L "
                 "wiring (batlink pinout); the adapter's own setup.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "No data frame received%s: nothing on the bus at this bit rate.",
                 a->error_frames ? " (only error frames)" : "");
        snprintf(f->evidence, sizeof f->evidence,
                 "%llu frames, %llu error frames, %llu bad input records, %.1f s",
                 (unsigned long long)a->frames, (unsigned long long)a->error_frames,
                 (unsigned long long)a->bad_input, dur);
    }
    if (mismatch && bl_analysis_get(a, "bitrate_mismatch") == NULL &&
        (f = add(a, "bitrate_mismatch", BL_SEV_FAIL, 1,
                 "Set the same bit rate on every node and on the listener (500 "
                 "kbit/s for Pylontech, Victron, SMA; 250 kbit/s for the Victron "
                 "VE.Can profile); live SocketCAN/SLCAN: try --scan-bitrate.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Error frames or garbage consistent with a wrong bit rate: the receiver "
                 "cannot decode the sender's bit stream.");
        snprintf(f->evidence, sizeof f->evidence, "%llu error frames (",
                 (unsigned long long)a->error_frames);
        error_kinds(a, f->evidence, sizeof f->evidence);
        cat(f->evidence, sizeof f->evidence,
            ") vs %llu decodable battery frames; %u ids of no "
            "known profile",
            (unsigned long long)a->batt_decoded, garbage_ids(a));
    }
    if (!mismatch && a->error_frames > 0) {
        double per_min = dur > 0 ? (double)a->error_frames * 60.0 / dur : 0.0;
        enum bl_severity sev = a->err_bus_off > 0                       ? BL_SEV_FAIL
                               : a->error_frames >= 5 && per_min >= 1.0 ? BL_SEV_WARN
                                                                        : BL_SEV_INFO;
        if ((f = add(a, "error_frames", sev, 2,
                     sev == BL_SEV_INFO
                         ? "Occasional error frames are normal; watch the rate."
                         : "Measure the termination (60 ohm with both devices off), re-seat "
                           "connectors and screw terminals, then check cable type and length "
                           "(layers 2-3 of --guide).")) != NULL) {
            snprintf(f->message, sizeof f->message, "%s error frames on the bus%s.",
                     sev == BL_SEV_INFO ? "A few" : "Repeated",
                     a->err_bus_off ? ", including bus-off: a node stopped talking" : "");
            snprintf(f->evidence, sizeof f->evidence, "%llu error frames in %.1f s (%.2f/min): ",
                     (unsigned long long)a->error_frames, dur, per_min);
            error_kinds(a, f->evidence, sizeof f->evidence);
        }
    }
    if (!mismatch && a->data_frames > 0 && a->ident == BL_IDENT_UNKNOWN &&
        (f = add(a, "unknown_protocol", BL_SEV_FAIL, 1,
                 "Set the battery's CAN protocol (DIP switches or app) and the inverter's battery "
                 "type to the same profile, e.g. Pylontech; see --guide.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Frames are received but none belongs to a known battery protocol: the battery "
                 "speaks another protocol or another device shares the bus.");
        snprintf(f->evidence, sizeof f->evidence, "%u distinct ids, e.g. ", a->nids);
        for (unsigned i = 0; i < a->nids && i < 6; i++)
            cat(f->evidence, sizeof f->evidence, "%s0x%0*X", i ? ", " : "", a->ids[i].ext ? 8 : 3,
                (unsigned)a->ids[i].id);
    }
    return mismatch;
}

static void timing_findings(struct bl_analysis *a)
{
    struct bl_finding *f;
    bool fail = false;
    char ev[BL_FINDING_TEXT - 48] = ""; /* room for the evidence prefix */
    const struct bl_profile *prof = diag__ident_profile(a->ident);
    /* an inverter that asks while no battery answers (Pylon HV, BYD HVS) is the "no battery
     * reply" finding below, not an incomplete set */
    bool asks_alone =
        (a->ident == BL_IDENT_PYLON_HV || a->ident == BL_IDENT_BYD_HVS) && a->batt_frames == 0;
    if (prof != NULL && !asks_alone) {
        /* the profile's burst; only its required messages while the version is open */
        unsigned want = a->ident == BL_IDENT_PYLON_LV ? BL_MSG_REQUIRED : BL_MSG_CYCLE;
        for (size_t i = 0; i < prof->n_msgs; i++) {
            const struct bl_msg_desc *m = &prof->msgs[i];
            if (!(m->flags & want) || m->dir != BL_DIR_BATTERY_TO_INVERTER ||
                find_id(a, m->id, m->ext) != NULL)
                continue;
            cat(ev, sizeof ev, "%s0x%0*X", ev[0] ? ", " : "", m->ext ? 8 : 3, (unsigned)m->id);
            if (m->flags & BL_MSG_REQUIRED) fail = true;
        }
    }
    const uint32_t *exp = prof == NULL ? expected(a->ident) : NULL;
    for (unsigned i = 0; exp != NULL && exp[i] != 0; i++)
        if (!has(a, exp[i])) {
            cat(ev, sizeof ev, "%s0x%03X", ev[0] ? ", " : "", (unsigned)exp[i]);
            if (exp[i] == 0x351 || exp[i] == 0x355 || exp[i] == 0x356 || exp[i] == 0x311 ||
                exp[i] == 0x313)
                fail = true;
        }
    if (ev[0] != '\0' &&
        (f = add(a, "missing_message", fail ? BL_SEV_FAIL : BL_SEV_WARN, 5,
                 "Check the battery's protocol setting and firmware; an inverter may reject an "
                 "incomplete set (0x351 limits and 0x355 SOC are essential).")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Expected message(s) of %s never seen: the battery sends an incomplete set.",
                 bl_ident_name(a->ident));
        snprintf(f->evidence, sizeof f->evidence, "never seen: %s", ev);
    }
    if ((a->ident == BL_IDENT_PYLON_HV || a->ident == BL_IDENT_BYD_HVS) && a->batt_frames == 0 &&
        (f = add(a, "missing_message", BL_SEV_FAIL, 5,
                 "The inverter polls but no battery answers: check the battery type, the "
                 "battery's address DIP switches and that the battery is on.")) != NULL) {
        snprintf(f->message, sizeof f->message, "Only inverter frames of %s: no battery reply.",
                 bl_ident_name(a->ident));
        snprintf(f->evidence, sizeof f->evidence, "%llu inverter frames, 0 battery frames",
                 (unsigned long long)a->data_frames);
    }

    /* periods: judged against each id's own median, not one constant (field-diagnosis.md 7);
     * with two senders every id interleaves two streams, which conflicting_senders explains */
    uint64_t conflicts = 0;
    for (unsigned i = 0; i < a->nids; i++)
        conflicts += a->ids[i].conflicts;
    bool two_senders = conflicts >= 3;
    ev[0] = '\0';
    unsigned bad = 0;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_analysis_id *s = &a->ids[i];
        if (!s->battery || s->period.n < 4 || two_senders) continue;
        int64_t med = bl_period_quantile(&s->period, 0.5);
        int64_t p95 = bl_period_quantile(&s->period, 0.95);
        int64_t mx = s->period.max_us;
        if ((mx > med * 5 / 2 && mx - med >= S_US / 2) || p95 > med * 3 / 2) {
            if (bad++ < 4)
                cat(ev, sizeof ev, "%s0x%03X median %.2f s, p95 %.2f s, max %.2f s",
                    ev[0] ? "; " : "", (unsigned)s->id, sec(med), sec(p95), sec(mx));
        }
    }
    if (bad > 0 && (f = add(a, "irregular_period", BL_SEV_WARN, 5,
                            "Look for a BMS that is busy (balancing, RS485 polling) or a "
                            "gateway that batches frames; compare with the profile's period "
                            "(Pylon LV 1 s, Victron 0.5-1 s).")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "%u message(s) arrive irregularly: some periods are far longer than usual.", bad);
        snprintf(f->evidence, sizeof f->evidence, "%s", ev);
    }
    int64_t gap = a->batt_max_gap_us, gap_at = a->batt_gap_at_us;
    if (a->batt_last_us != 0 && a->end_us - a->batt_last_us > gap) {
        gap = a->end_us - a->batt_last_us;
        gap_at = a->batt_last_us;
    }
    if (a->batt_frames > 0 && gap >= a->opt.gap_us && a->ident != BL_IDENT_BYD_HVS &&
        a->ident != BL_IDENT_PYLON_HV &&
        (f = add(a, "link_gap", gap >= 30 * (int64_t)S_US ? BL_SEV_FAIL : BL_SEV_WARN, 2,
                 "Wiggle-test connectors and screw terminals while watching (batlink monitor); "
                 "check the BMS is not rebooting; an inverter may drop to its fallback after "
                 "such gaps (SMA: 60 s).")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The battery went silent for %.1f s: frames late or missing for seconds.",
                 sec(gap));
        snprintf(f->evidence, sizeof f->evidence,
                 "longest silence %.2f s starting at %.2f s into the capture", sec(gap),
                 at_s(a, gap_at));
    }

    if (!is_lv_family(a->ident) || a->batt_decoded == 0) return;
    /* the family's keep-alive (Pylon LV 0x305, also 29-bit on the Schneider XW) */
    const struct bl_msg_desc *ka = bl_profile_keepalive(lv_profile(a->ident));
    if (ka == NULL) return;
    unsigned kid = (unsigned)ka->id;
    const struct bl_analysis_id *hb = find_id(a, ka->id, ka->ext);
    if (hb == NULL && (ka->flags & BL_MSG_EXT_ALSO)) hb = find_id(a, ka->id, !ka->ext);
    /* the table says whether every inverter of the family sends it (can-profiles.md 1.8) */
    bool some_none = (ka->flags & BL_MSG_SOME_SEND_NONE) != 0;
    if (hb == NULL) {
        if ((f = add(a, "no_inverter_heartbeat", some_none ? BL_SEV_INFO : BL_SEV_WARN, 1,
                     "Check the inverter's battery type (it must be the battery's CAN protocol, "
                     "not \"Lithium\" or lead-acid) and that the inverter end of the cable is on "
                     "its BMS/CAN port. Some inverters never send it: a hint, not proof.")) !=
            NULL) {
            snprintf(f->message, sizeof f->message,
                     "No inverter heartbeat (0x%03X): the inverter is not listening or is set "
                     "to another battery type.",
                     kid);
            uint64_t rep = 0, tot = 0;
            for (unsigned i = 0; i < a->nids; i++)
                if (a->ids[i].battery) {
                    rep += a->ids[i].repeats;
                    tot += a->ids[i].frames;
                }
            snprintf(f->evidence, sizeof f->evidence,
                     "%llu battery frames over %.1f s, no 0x%03X (11- or 29-bit)%s%s",
                     (unsigned long long)a->batt_frames, bl_analysis_duration_s(a), kid,
                     tot > 10 && rep * 2 > tot ? "; most battery frames are exact repeats "
                                                 "(unacknowledged retransmissions?)"
                                               : "",
                     some_none ? "; some inverters of this family send none (information)"
                               : "; every inverter of this family sends it");
        }
        return;
    }
    int64_t med = bl_period_quantile(&hb->period, 0.5);
    int64_t mx = hb->period.max_us;
    int64_t tail = a->end_us - hb->last_us;
    if (tail > mx) mx = tail;
    /* late against the table's period (Pylon LV: 1 s): median above 2x or a gap above 3x */
    int64_t per = ka->period_ms > 0 ? (int64_t)ka->period_ms * 1000 : (int64_t)S_US;
    if ((mx > 3 * per || med > 2 * per) &&
        (f = add(a, "late_inverter_heartbeat", BL_SEV_WARN, 1,
                 "Check the inverter's CAN settings and firmware; Deye answers only after 0x356 "
                 "and pauses > 3 s about every 2 h, so judge repeated gaps, not one.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The inverter's heartbeat (0x%03X) is late: gaps of several seconds.", kid);
        snprintf(f->evidence, sizeof f->evidence,
                 "0x%03X: %llu frames, median period %.2f s, longest gap %.2f s (expected "
                 "every %.2f s)",
                 kid, (unsigned long long)hb->frames, sec(med), sec(mx), sec(per));
    }
}

static void protocol_findings(struct bl_analysis *a)
{
    struct bl_finding *f;
    uint64_t conflicts = 0;
    char ev[BL_FINDING_TEXT - 48] = ""; /* room for the evidence prefix */
    for (unsigned i = 0; i < a->nids; i++) {
        struct bl_analysis_id *s = &a->ids[i];
        if (s->conflicts > 0) {
            conflicts += s->conflicts;
            cat(ev, sizeof ev, "%s0x%03X %llu", ev[0] ? ", " : "", (unsigned)s->id,
                (unsigned long long)s->conflicts);
        }
    }
    if (conflicts >= 3 && (f = add(a, "conflicting_senders", BL_SEV_FAIL, 1,
                                   "Make sure only one master battery talks to the inverter: "
                                   "check the battery address DIP switches, remove a second "
                                   "BMS or emulator from the bus.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "Two senders use the same ids with contradicting contents: two BMS masters, "
                 "duplicate addresses, or a battery and an emulator on one bus.");
        snprintf(f->evidence, sizeof f->evidence, "contradicting frames per id: %s", ev);
    }
    uint64_t impl =
        a->implausible_soc + a->implausible_scale + a->implausible_limits + a->implausible_range;
    if (impl > 0 &&
        (f = add(a, "implausible_value", BL_SEV_WARN, 5,
                 a->implausible_scale
                     ? "The sender uses 0.1 V units in 0x356 where the profile has 0.01 V "
                       "(Sol-Ark/Discover style): choose the matching protocol variant on both "
                       "sides or update the gateway firmware."
                     : "Compare the decoded values with the BMS display; check the protocol "
                       "variant and firmware on both sides.")) != NULL) {
        snprintf(f->message, sizeof f->message, "%s",
                 a->implausible_scale ? "Pack voltage is 10x off the battery's own limits: a "
                                        "scaling mismatch."
                                      : "Decoded values outside what the battery's limits or "
                                        "physics allow.");
        snprintf(f->evidence, sizeof f->evidence,
                 "%llu implausible (scaling %llu, SOC %llu, voltage vs limits %llu, out of "
                 "range %llu); first: %s",
                 (unsigned long long)impl, (unsigned long long)a->implausible_scale,
                 (unsigned long long)a->implausible_soc, (unsigned long long)a->implausible_limits,
                 (unsigned long long)a->implausible_range,
                 a->implausible_example[0] ? a->implausible_example : "a field out of range");
    }
    if (is_lv_family(a->ident)) {
        ev[0] = '\0';
        for (unsigned i = 0; i < a->nids; i++) {
            const struct bl_analysis_id *s = &a->ids[i];
            if (!s->battery || s->ext || (s->dlc_mask & 0xFFu) == 0) continue;
            cat(ev, sizeof ev, "%s0x%03X [", ev[0] ? ", " : "", (unsigned)s->id);
            unsigned k = 0;
            for (unsigned d = 0; d < 8; d++)
                if (s->dlc_mask & (1u << d)) cat(ev, sizeof ev, "%s%u", k++ ? "," : "", d);
            cat(ev, sizeof ev, "]");
        }
        if (ev[0] != '\0' &&
            (f = add(a, "short_dlc", BL_SEV_INFO, 5,
                     "Nothing to do unless the inverter is a Sol-Ark (it needs DLC 8); real "
                     "Pylontech batteries send these lengths.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "Some frames are shorter than 8 bytes: normal for Pylontech, only some "
                     "inverters (Sol-Ark) require 8.");
            snprintf(f->evidence, sizeof f->evidence, "%s", ev);
        }
    }
    const struct bl_battery *st = &a->tracker.state;
    if (a->alarms_seen &&
        (f = add(a, "battery_protection", BL_SEV_FAIL, 5,
                 "Read the BMS's own log/display for the cause (temperature, cell voltage, "
                 "current) and fix that first; the inverter must respect the 0 A limits.")) !=
            NULL) {
        bool now_on = bl_battery_known(st, BL_F_ALARMS) && st->v[BL_F_ALARMS] != 0;
        snprintf(f->message, sizeof f->message, "The BMS reports protection: ");
        for (unsigned b = 0; b < BL_ALARM__COUNT; b++)
            if (a->alarms_seen & (1u << b))
                cat(f->message, sizeof f->message, "%s%s",
                    f->message[sizeof "The BMS reports protection: " - 1] ? ", " : "",
                    bl_alarm_name(b));
        cat(f->message, sizeof f->message, ".");
        snprintf(f->evidence, sizeof f->evidence, "first at %.1f s, %s at the end",
                 at_s(a, a->alarm_first_us), now_on ? "still active" : "cleared");
    }
    if (a->warnings_seen &&
        (f = add(a, "battery_alarm", BL_SEV_WARN, 5,
                 "Check the named condition on the battery before it escalates to "
                 "protection.")) != NULL) {
        snprintf(f->message, sizeof f->message, "The BMS raises warnings: ");
        for (unsigned b = 0; b < BL_WARN__COUNT; b++)
            if (a->warnings_seen & (1u << b))
                cat(f->message, sizeof f->message, "%s%s",
                    f->message[sizeof "The BMS raises warnings: " - 1] ? ", " : "",
                    bl_warning_name(b));
        cat(f->message, sizeof f->message, ".");
        bool now_on = bl_battery_known(st, BL_F_WARNINGS) && st->v[BL_F_WARNINGS] != 0;
        snprintf(f->evidence, sizeof f->evidence, "first at %.1f s, %s at the end",
                 at_s(a, a->warning_first_us), now_on ? "still active" : "cleared");
    }
    if (a->charge_blocked_first_us != 0) {
        bool full = a->charge_blocked_soc >= 9700;
        if ((f = add(a, "charge_blocked", full ? BL_SEV_INFO : BL_SEV_WARN, 5,
                     full ? "Nothing to do: a full battery stops charging."
                          : "Find out why the BMS forbids charging (protection, temperature, "
                            "cell voltage) on the BMS itself.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "The battery forbids charging (charge current limit 0 A or charge enable "
                     "off): an inverter that follows CAN will not charge it%s.",
                     full ? " (expected near full)" : "");
            snprintf(f->evidence, sizeof f->evidence,
                     "from %.1f s at SOC %.0f %%, %.1f s blocked in total; CCL min %.1f A",
                     at_s(a, a->charge_blocked_first_us), (double)a->charge_blocked_soc / 100.0,
                     sec(a->charge_blocked_us),
                     (double)a->range[BL_F_CHARGE_CURRENT_LIMIT].min / 1000.0);
        }
    }
    if (a->discharge_blocked_first_us != 0) {
        bool empty = a->discharge_blocked_soc >= 0 && a->discharge_blocked_soc <= 1000;
        if ((f = add(a, "discharge_blocked", empty ? BL_SEV_INFO : BL_SEV_WARN, 5,
                     empty ? "Nothing to do: an empty battery stops discharging; let it charge."
                           : "Find out why the BMS forbids discharging (protection, "
                             "temperature, low cell) on the BMS itself.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "The battery forbids discharging (discharge current limit 0 A or "
                     "discharge enable off): the inverter will not take power from it%s.",
                     empty ? " (expected near empty)" : "");
            snprintf(f->evidence, sizeof f->evidence,
                     "from %.1f s at SOC %.0f %%, %.1f s blocked in total; DCL min %.1f A",
                     at_s(a, a->discharge_blocked_first_us),
                     (double)a->discharge_blocked_soc / 100.0, sec(a->discharge_blocked_us),
                     (double)a->range[BL_F_DISCHARGE_CURRENT_LIMIT].min / 1000.0);
        }
    }
    if (a->force_first_us != 0 &&
        (f = add(a, "force_charge_requested", BL_SEV_WARN, 5,
                 "Let the inverter charge the battery (from the grid if needed) and check why "
                 "it ran so low; allow grid charging for this request in the inverter.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The battery requests a force charge: its SOC is very low.");
        snprintf(f->evidence, sizeof f->evidence, "0x35C force charge flag from %.1f s%s",
                 at_s(a, a->force_first_us), a->range[BL_F_SOC].seen ? "" : "");
        if (a->range[BL_F_SOC].seen)
            cat(f->evidence, sizeof f->evidence, "; SOC %.0f..%.0f %%",
                (double)a->range[BL_F_SOC].min / 100.0, (double)a->range[BL_F_SOC].max / 100.0);
    }
    if (a->full_first_us != 0 &&
        (f = add(a, "full_charge_requested", BL_SEV_INFO, 5,
                 "Let the inverter charge to 100 % once (grid charge if PV is short) so the BMS "
                 "can recalibrate its SOC.")) != NULL) {
        snprintf(f->message, sizeof f->message,
                 "The battery requests a full charge to recalibrate its SOC (Pylontech: every "
                 "28 days by an owner's report, after 30 days below 97 %% by its V1.2 CAN "
                 "document).");
        snprintf(f->evidence, sizeof f->evidence, "0x35C full charge flag from %.1f s",
                 at_s(a, a->full_first_us));
    }
}

static void interference_finding(struct bl_analysis *a)
{
    const struct bl_interference *w = &a->intf;
    if (w->windows < 6) return;
    uint64_t errs = 0;
    for (unsigned b = 0; b < BL_ANALYSIS_IBUCKETS; b++)
        errs += w->bucket_errors[b];
    if (errs < 10) return;
    double n = (double)w->windows;
    double cov = n * w->sxy - w->sx * w->sy;
    double vx = n * w->sxx - w->sx * w->sx, vy = n * w->syy - w->sy * w->sy;
    if (vx <= 0.0 || vy <= 0.0) return;
    double r = cov / bl_sqrt(vx * vy);
    int lo = -1, hi = -1;
    for (unsigned b = 0; b < BL_ANALYSIS_IBUCKETS; b++)
        if (w->bucket_windows[b] > 0) {
            if (lo < 0) lo = (int)b;
            hi = (int)b;
        }
    if (lo < 0 || hi == lo) return;
    double win_s = sec(a->opt.window_us);
    double rlo = (double)w->bucket_errors[lo] / ((double)w->bucket_windows[lo] * win_s);
    double rhi = (double)w->bucket_errors[hi] / ((double)w->bucket_windows[hi] * win_s);
    if (r < 0.5 || rhi < 2.0 * rlo + 0.05) return;
    static const char *const names[BL_ANALYSIS_IBUCKETS] = {"below 10 A", "10-25 A", "25-50 A",
                                                            "50-100 A", "above 100 A"};
    struct bl_finding *f = add(a, "interference_suspected", BL_SEV_WARN, 4,
                               "Reroute the CAN cable at least 10 cm from the DC bus and AC "
                               "output (cross at right angles), use shielded twisted pair with "
                               "the shield grounded at one end, shorten it, add a common-mode "
                               "choke at the inverter; measure the ground-loop voltage.");
    if (f == NULL) return;
    snprintf(f->message, sizeof f->message,
             "The error rate grows with the battery current: the signature of switching noise "
             "coupling into the CAN cable.");
    snprintf(f->evidence, sizeof f->evidence,
             "correlation r = %.2f over %u windows of %.0f s; %.2f errors/s %s, %.2f errors/s %s",
             r, w->windows, win_s, rlo, names[lo], rhi, names[hi]);
}

struct bl_finding *diag__add(struct bl_analysis *a, const char *code, enum bl_severity sev,
                             uint8_t layer, const char *next)
{
    return add(a, code, sev, layer, next);
}

static int finding_order(const struct bl_finding *x, const struct bl_finding *y)
{
    /* causes first, most likely first; then symptoms by layer, worst first */
    if (x->cause != y->cause) return x->cause ? -1 : 1;
    if (x->cause && x->likelihood > y->likelihood) return -1;
    if (x->cause && x->likelihood < y->likelihood) return 1;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    if (x->severity != y->severity) return x->severity > y->severity ? -1 : 1;
    return 0;
}

/* Layer 1: the battery speaks one profile and the inverter keeps alive another family (the
 * recogniser's verdict, from the registry's tables: no list here). */
static void profile_finding(struct bl_analysis *a)
{
    struct bl_recog *r = &a->recog;
    (void)bl_recog_finish(r);
    struct bl_finding *f;
    if (!bl_recog_mismatch(r) ||
        (f = add(a, "profile_mismatch", BL_SEV_WARN, 1,
                 "Set the inverter's battery type to the battery's protocol (or the battery's "
                 "protocol to the one the inverter expects): batlink dbc --list names both.")) ==
            NULL)
        return;
    snprintf(f->message, sizeof f->message,
             "The battery speaks %s, but the inverter's keep-alive is of another family (%s): "
             "the inverter may be set to another battery type.",
             r->profile->name, r->inverter);
    snprintf(f->evidence, sizeof f->evidence, "battery profile %s, inverter keep-alive family %s",
             r->profile->name, r->inverter);
}

void bl_analysis_finish(struct bl_analysis *a, int64_t end_us)
{
    a->end_us = end_us > a->last_us ? end_us : a->last_us;
    a->nfindings = 0;
    for (unsigned i = 0; i < a->nids; i++) {
        const struct bl_id_stat *t = bl_tracker_find(&a->tracker, a->ids[i].id, a->ids[i].ext);
        a->ids[i].conflicts = t != NULL ? t->conflicts : 0;
    }
    identify(a);
    double dur = bl_analysis_duration_s(a);
    struct bl_finding *f;
    if (a->bad_input > 0 || a->invalid_frames > 0 || a->time_backwards > 0) {
        if ((f = add(a, "bad_input", BL_SEV_WARN, 5,
                     "Check how the capture was made (one tool, one format, not edited); the "
                     "rest of the file was analysed.")) != NULL) {
            snprintf(f->message, sizeof f->message,
                     "Part of the input could not be used: bad lines or records, invalid "
                     "frames, or time going backwards.");
            snprintf(f->evidence, sizeof f->evidence,
                     "%llu bad lines/records, %llu invalid frames, %llu frames earlier than the "
                     "one before",
                     (unsigned long long)a->bad_input, (unsigned long long)a->invalid_frames,
                     (unsigned long long)a->time_backwards);
        }
    }
    scan_finding(a);
    profile_finding(a);
    bool mismatch = link_findings(a, dur);
    if (!mismatch && a->data_frames > 0) {
        if (dur * 1e6 < (double)a->opt.min_timing_us) {
            if ((f = add(a, "short_capture", BL_SEV_INFO, 5,
                         "Capture at least 30 s (batlink diagnose --duration 30, or a longer "
                         "file) to judge periods, gaps and the heartbeat.")) != NULL) {
                snprintf(f->message, sizeof f->message,
                         "Too short to judge timing: periods, gaps, the inverter heartbeat and "
                         "missing messages are not checked.");
                snprintf(f->evidence, sizeof f->evidence, "capture of %.3f s, %.0f s needed", dur,
                         sec(a->opt.min_timing_us));
            }
        } else {
            timing_findings(a);
        }
        protocol_findings(a);
        interference_finding(a);
    }
    diag__close_slots(a);
    if (a->data_frames > 0) {
        bl_comply_tick(&a->comply, a->end_us);
        diag__comply_findings(a);
    }
    diag__causes(a);
    /* stable insertion sort: causes by likelihood; then layer, then fail > warn > info */
    for (unsigned i = 1; i < a->nfindings; i++) {
        struct bl_finding t = a->findings[i];
        unsigned j = i;
        while (j > 0 && finding_order(&a->findings[j - 1], &t) > 0) {
            a->findings[j] = a->findings[j - 1];
            j--;
        }
        a->findings[j] = t;
    }
    a->verdict = BL_SEV_INFO;
    for (unsigned i = 0; i < a->nfindings; i++)
        if (a->findings[i].severity > a->verdict) a->verdict = a->findings[i].severity;
}

const struct bl_finding *bl_analysis_get(const struct bl_analysis *a, const char *code)
{
    for (unsigned i = 0; i < a->nfindings; i++)
        if (strcmp(a->findings[i].code, code) == 0) return &a->findings[i];
    return NULL;
}

/* ---- checklist (field-diagnosis.md sections 1, 3-6, 9; pinouts.md section 3) ---- */

#define ALL  0u
#define P(x) (1u << (unsigned)(x))
#define LV   (P(BL_IDENT_PYLON_LV) | P(BL_IDENT_PYLON_V12) | P(BL_IDENT_PYLON_V13))

static const struct {
    unsigned mask; /* idents it applies to, ALL = every one */
    uint8_t layer;
    const char *text;
} checks[] = {
    {ALL, 1,
     "Inverter battery type: it must name the BMS protocol exactly. \"Lithium\" (generic) is "
     "voltage-only without CAN; \"Pylontech\", \"Pylontech CAN\" and \"Pylontech US2000\" are "
     "different settings."},
    {LV | P(BL_IDENT_UNKNOWN), 1,
     "Pylon LV: select Pylontech / \"Pylon LV\" (Solis), \"Lithium 00\" (Deye, Sunsynk), \"CAN "
     "L52\" (Growatt SPF), \"Automatic\" (Sofar); a JK BMS needs its CAN protocol set to "
     "Pylontech in the app."},
    {P(BL_IDENT_VICTRON), 1,
     "Victron: the battery goes to the GX device's BMS-Can port, not the inverter; set the port "
     "to \"CAN-bus BMS LV (500 kbit/s)\", then pick the battery in Device list > Battery."},
    {P(BL_IDENT_SMA), 1,
     "SMA Sunny Island: external BMS on the ComSyncIn port; on some Solis LV models the SMA "
     "protocol is the \"AoBo\" battery choice."},
    {P(BL_IDENT_PYLON_HV) | P(BL_IDENT_BYD_HVS), 1,
     "High-voltage stack: select Pylon HV or BYD HVS as the battery offers it; the inverter must "
     "poll (0x4200 / 0x151); set the battery address DIP switches."},
    {P(BL_IDENT_GROWATT), 1,
     "Growatt LV is its own big-endian protocol; Growatt SPF \"CAN L52\" means Pylon V1.2 "
     "instead - both sides must agree."},
    {ALL, 1,
     "Bit rate identical on both devices (500 kbit/s for Pylontech, Victron, SMA); the BMS sets "
     "it by DIP switch or menu."},
    {ALL, 1,
     "BMS DIP switches: photograph them and compare switch by switch with the manual (address, "
     "bit rate, protocol); when manual and PCB silkscreen disagree, trust the silkscreen."},
    {ALL, 1,
     "Several batteries: only the master talks to the inverter; confirm the inverter supports "
     "more than one battery at all."},
    {ALL, 2,
     "Termination: both devices off, unplug the CAN cable at one end, measure CAN-H to CAN-L: "
     "60 ohm +-5 correct; ~120 ohm one terminator missing; ~40 ohm one too many; open = none."},
    {P(BL_IDENT_SMA), 2,
     "Sunny Island terminates with 100 ohm: 54.5 ohm (100 || 120) is a correct bus."},
    {ALL, 2,
     "Connectors fully home, latches engaged; power off and re-tighten screw terminals; crimps "
     "pass a pull test; no green or white corrosion."},
    {ALL, 2,
     "Pins: map by signal, not pin number (batlink pinout BATTERY INVERTER); leave free what "
     "the manual marks NULL (Pylontech US5000 pins 1-3)."},
    {LV, 2,
     "Use the battery's inverter port (Pylontech CAN / A \"out\"), not the link or RS232 "
     "console ports."},
    {ALL, 2,
     "Power: some BMS boards start CAN only when the battery is connected and switched on."},
    {ALL, 3,
     "Cable: twisted pair, 120 ohm, 18-24 AWG, CAN-H and CAN-L on one pair (4/5 = blue pair in "
     "a patch lead); not speaker or alarm wire."},
    {ALL, 3,
     "Length along the real route: < 10 m unshielded in moderate EMI, < 2-3 m beside inverter "
     "electronics; cross the DC bus at right angles, keep >= 10 cm away, no sharp bends."},
    {ALL, 4,
     "Ground loop: volts between battery negative and inverter chassis in operation; above "
     "0.2 V connect CAN-GND at one end only (usually the inverter), shield at one end only."},
    {ALL, 4,
     "EMI: log errors while stepping power from 0 to full charge and discharge (batlink "
     "diagnose --duration 600); errors rising with current = switching noise on the cable."},
    {ALL, 4,
     "Patterns: failures on cold mornings, hot afternoons or at fixed times point at contacts, "
     "BMS timers or a nearby load."},
};

size_t bl_checklist(enum bl_ident p, struct bl_check *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof checks / sizeof checks[0] && n < max; i++)
        if (checks[i].mask == ALL || (checks[i].mask & P(p))) {
            out[n].layer = checks[i].layer;
            out[n].text = checks[i].text;
            n++;
        }
    return n;
}
