/* SPDX-License-Identifier: MIT */
/* pinout.c: RJ45 CAN pinouts of common batteries and inverters with their public sources
 * (shared/reference/pinouts.md section 2), name lookup (all matches, close matches), and the cable
 * between two ports (rules C1-C6 of its section 3). Pure: static tables, no allocation. */
#include <ctype.h>
#include <string.h>

#include "batlink/diag.h"

/* Public citations; README "Pinouts" says what each is. The project's notes name the same
 * sources (shared/reference/pinouts.md section 2). */
#define S002 "an installer's CAN troubleshooting guide (README: Pinouts)"
#define S003 "an installer's guide to batteries on Solis hybrids (README: Pinouts)"
#define SHA  "Home Assistant forum thread 420788, Pylontech + Solis (README: Pinouts)"
#define NG   "n/g"
#define NO   "-"

static const struct bl_pinout table[] = {
    /* inverters (pinouts.md 2.1) */
    {"Solis hybrid (LV RHI-48ES-5G, S5-EH1P-L, S6-EA1P-L; HV S6-EH3P, RHI-3P)",
     "solis rhi s5 s6 eh1p ea1p eh3p 48es hybrid",
     "battery communication (RJ45)",
     true,
     true,
     {NG, "GND", NG, "CAN-H", "CAN-L", NG, NG, NG},
     "LV: \"Pylon LV\" (Pylontech protocol) or \"AoBo\" (SMA protocol); HV: \"BYD HVS\" or Pylon "
     "HV",
     "pin 2 = GND comes from a single source (the guide's WeCo-to-Solis crimp table); its Solis "
     "pin description names only pins 4 and 5",
     S003,
     NULL,
     true},
    {"GivEnergy hybrid",
     "givenergy giv",
     "battery communication (RJ45)",
     true,
     true,
     {NG, NG, NG, "CAN-H", "CAN-L", NG, NG, NG},
     "Pylontech",
     NULL,
     S002,
     NULL,
     false},
    {"Victron GX (BMS-Can port)",
     "victron gx cerbo venus multiplus",
     "BMS-Can (RJ45)",
     true,
     true,
     {NG, NG, NG, "CAN-H", "CAN-L", NG, "GND", NG},
     "GX BMS-Can port profile \"CAN-bus BMS LV (500 kbit/s)\"; the battery connects to the GX, "
     "not to the inverter",
     "pin 7 = GND comes from a single source",
     S002,
     NULL,
     true},
    {"SMA Sunny Island 6.0H-11 / 8.0H",
     "sma sunny island si 6.0h 8.0h",
     "ComSyncIn (RJ45)",
     true,
     true,
     {"Sync1 (res.)", "CAN-GND", "SYNC-H", "CAN-H", "CAN-L", "SYNC-L", "res.", "res."},
     "external BMS (SMA protocol, 500 kbit/s)",
     "the SI terminates CAN with 100 ohm (120 ohm allowed): 54.5 ohm is a correct bus",
     "SMA Technical Information FSS-ConnectingBat-TI-en-10, chapter 3",
     NULL,
     false},
    {"Deye HV (SUN-xK-SG01HP3 ...)",
     "deye hv sg01hp3 sunsynk",
     "BMS1 / BMS2 (RJ45)",
     true,
     true,
     {NG, NG, NG, "CAN-H", "CAN-L", NG, NG, NG},
     "BYD HVS protocol (Battery-Emulator wiki)",
     NULL,
     "Battery-Emulator wiki, Deye inverter page (github.com/dalathegreat/Battery-Emulator-Wiki)",
     NULL,
     false},
    /* low-voltage batteries (2.3) */
    {"Pylontech US5000 (and newer US series)",
     "pylontech pylon us5000 us-series us",
     "A/CAN and B/RS485 (RJ45, same pin-out on both)",
     false,
     true,
     {"NULL!", "NULL!", "NULL!", "CAN-H", "CAN-L", "CAN-GND", "485A", "485B"},
     "Pylontech (Pylon LV), 500 kbit/s",
     "120 ohm recommended; top port \"out\" goes to the inverter; pins 1-3 must stay free and 7/8 "
     "carry RS485, so a plain 8-wire patch lead is wrong; a GND on pin 7 (one guide's \"Pylontech "
     "standard\") would tie RS485A to ground here",
     "Pylontech US5000 manual, \"Definition of RJ45 Port Pin\"; " S003 "; " SHA,
     "Pylontech supplies a CAN cable for the inverter link and the Solis guide says to use it; "
     "the Pylontech + Solis owner of the Home Assistant thread kept the supplied cable and it "
     "worked (he tapped CAN-H/CAN-L for a listener on pins 4/5 of that link). Its full wiring is "
     "not published in these sources: a home-made lead is below.",
     false},
    /* A US2000/US3000 stack sends the same V1.2 frames (setfirelabs capture in tests/data); its
     * pins are in no source used here. */
    {"Pylontech US2000 / US3000",
     "pylontech pylon us2000 us3000 us2000b us2000c us3000c us",
     "CAN (RJ45)",
     false,
     true,
     {NG, NG, NG, NG, NG, NG, NG, NG},
     "Pylontech (Pylon LV), 500 kbit/s, the same CAN frames as the US5000",
     "the pin-out is not in the sources batlink uses: take it from the battery's manual "
     "(\"Definition of RJ45 Port Pin\") and compare it with the inverter's",
     "setfirelabs.com, \"Pylontech US2000 / US3000 CAN reading\" (CAN frames of a US2000/US3000 "
     "stack; no pin-out)",
     NULL,
     false},
    {"Pylontech Force-L1 (control module)",
     "pylontech pylon force-l1 force l1",
     "CAN (RJ45)",
     false,
     true,
     {NO, NO, NO, "CAN-H", "CAN-L", "GND", NO, NO},
     "Pylontech (Pylon LV)",
     "every pin except the ones used must stay unconnected",
     S003,
     NULL,
     false},
    {"BYD Battery-Box Premium LVS",
     "byd lvs battery-box premium",
     "communication (RJ45)",
     false,
     true,
     {"485-A", "485-B", NO, "CAN-H", "CAN-L", NO, NO, NO},
     NULL,
     "RS485 on pins 1/2: a straight lead to a port with CAN on 1/2 puts RS485 on the CAN pair",
     S003,
     NULL,
     false},
    {"Fox LV5200",
     "fox lv5200 foxess",
     "J: CAN (RJ45)",
     false,
     true,
     {NO, "GND", NO, "CAN-H", "CAN-L", NO, NO, NO},
     NULL,
     "K is the RS485 port",
     S003,
     NULL,
     false},
    {"LG RESU 3.3 / 6.5 / 10",
     "lg resu 3.3 6.5 10 resu10",
     "inverter port (upper RJ45)",
     false,
     true,
     {NG, "GND", NG, "CAN-H", "CAN-L", "(not selectable)", "(not selectable)", "(not selectable)"},
     NULL,
     "pins chosen with rotary switches (1-5 only): GND = 2, CAN_H = 4, CAN_L = 5 for Solis",
     S003,
     NULL,
     false},
    {"UZ Energy Power Lite",
     "uz uzenergy uze power lite",
     "RJ45 CAN (to the PCS)",
     false,
     true,
     {"CAN-H", NO, NO, NO, "CAN-L", NO, NO, "GND"},
     "SRNE inverters: \"UZE\" mode",
     "CAN-H 1 and CAN-L 5 are on different pairs: put both on one twisted pair",
     S003,
     NULL,
     false},
    {"WeCo 5K3 XP / 4K4 LT",
     "weco 5k3 xp 4k4 lt",
     "battery RJ45 CAN",
     false,
     true,
     {"CAN-H", "CAN-L", "GND", NG, NG, NG, NG, NG},
     NULL,
     "DIP switches all OFF except the last slave (00000100); to Solis: 1->4, 2->5, 3->2",
     S003,
     NULL,
     false},
    {"JK BMS (CAN port, some models)",
     "jk jkbms jk-bms",
     "RJ45",
     false,
     true,
     {NG, NG, NG, "CAN-H", "CAN-L", NG, "GND", NG},
     "set the JK CAN protocol (Pylontech or Victron) in the app",
     "pin 7 = GND comes from a single source",
     S002,
     NULL,
     true},
    /* high-voltage batteries (2.2) */
    {"BYD Battery-Box Premium HVS / HVM",
     "byd hvs hvm battery-box premium",
     "communication",
     false,
     true,
     {"CAN-H", "CAN-L", NG, NG, NG, NG, NG, NG},
     "BYD HVS",
     "the guide's pins 1/2 conflict with its own Solis pins 4/5 (a figure is missing): check both "
     "manuals",
     S003,
     NULL,
     false},
    {"Pylontech Force-H2 (BMS)",
     "pylontech pylon force-h2 force h2",
     "CAN (RJ45)",
     false,
     true,
     {NO, "GND", NO, "CAN-H", "CAN-L", NO, NO, NO},
     "Pylon HV",
     "RS485 7/8 and RS232 are other ports",
     "Pylontech Force-H2 manual, \"Definition of RJ45 Port Pin\"; " S003,
     NULL,
     false},
    {"Soluna Module 10K Pack HV",
     "soluna 10k pack",
     "CAN1 (RJ45, to the inverter)",
     false,
     true,
     {NO, NO, NO, "CAN-H", "CAN-L", NG, NO, NO},
     NULL,
     "CAN2 is internal: use CAN1",
     S003,
     NULL,
     false},
    {"WeCo WeCo5K3-LV-HV",
     "weco 5k3-lv-hv",
     "RJ45 CAN (E \"CAN A\" to LV inverters)",
     false,
     true,
     {"CAN-H", "CAN-L", "GND", NG, NG, NG, NG, NG},
     NULL,
     "H \"CAN B\" is the HV serial port; D and I are RS485",
     S003,
     NULL,
     false},
    {"Dyness Tower",
     "dyness tower",
     "CAN (RJ45)",
     false,
     true,
     {"res.", "XGND", "res.", "CAN-H", "CAN-L", NO, "res.", NO},
     NULL,
     NULL,
     S003,
     NULL,
     false},
    {"LG RESU 10H Prime",
     "lg resu 10h prime",
     "inverter terminal block A (screw terminals)",
     false,
     false,
     {"enable +12 V", "enable GND", "RS485 A+", "RS485 B-", "CAN-H", "CAN-L", NO, NO},
     NULL,
     "screw terminals, not RJ45; DIP section B = termination (single pack: all down); never "
     "connect section D",
     S003,
     NULL,
     false},
};

const struct bl_pinout *bl_pinout_table(size_t *n)
{
    if (n != NULL) *n = sizeof table / sizeof table[0];
    return table;
}

static void lower(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s != '\0' && k + 1 < n; s++)
        out[k++] = (char)tolower((unsigned char)*s);
    out[k] = '\0';
}

static bool key_word(const char *keys, const char *w, size_t wn)
{
    for (const char *p = keys; *p != '\0';) {
        const char *e = strchr(p, ' ');
        size_t k = e != NULL ? (size_t)(e - p) : strlen(p);
        if (k == wn && strncmp(p, w, wn) == 0) return true;
        if (e == NULL) break;
        p = e + 1;
    }
    return false;
}

static bool row_matches(const struct bl_pinout *d, const char *q)
{
    char name[128];
    lower(d->name, name, sizeof name);
    if (strcmp(name, q) == 0) return true;
    bool any = false;
    for (const char *p = q; *p != '\0';) {
        while (*p == ' ')
            p++;
        if (*p == '\0') break;
        const char *e = strchr(p, ' ');
        size_t k = e != NULL ? (size_t)(e - p) : strlen(p);
        char w[64];
        if (k >= sizeof w) return false;
        memcpy(w, p, k);
        w[k] = '\0';
        if (!key_word(d->keys, w, k) && strstr(name, w) == NULL) return false;
        any = true;
        p += k;
    }
    return any;
}

size_t bl_pinout_matches(const char *name, const struct bl_pinout **out, size_t max)
{
    char q[128];
    if (name == NULL) return 0;
    lower(name, q, sizeof q);
    size_t rows = sizeof table / sizeof table[0], n = 0;
    for (size_t i = 0; i < rows; i++) {
        char full[128];
        lower(table[i].name, full, sizeof full);
        if (strcmp(full, q) == 0) { /* the whole name of a row is never ambiguous */
            if (max > 0) out[0] = &table[i];
            return 1;
        }
    }
    for (size_t i = 0; i < rows; i++)
        if (row_matches(&table[i], q)) {
            if (n < max) out[n] = &table[i];
            n++;
        }
    return n;
}

const struct bl_pinout *bl_pinout_find(const char *name)
{
    const struct bl_pinout *one = NULL;
    return bl_pinout_matches(name, &one, 1) == 1 ? one : NULL;
}

/* Levenshtein distance of two short words (each cut at 31 characters). */
static unsigned distance(const char *a, size_t na, const char *b, size_t nb)
{
    unsigned row[32];
    if (na > 31) na = 31;
    if (nb > 31) nb = 31;
    for (size_t j = 0; j <= nb; j++)
        row[j] = (unsigned)j;
    for (size_t i = 1; i <= na; i++) {
        unsigned diag = row[0];
        row[0] = (unsigned)i;
        for (size_t j = 1; j <= nb; j++) {
            unsigned up = row[j];
            unsigned best = diag + (a[i - 1] == b[j - 1] ? 0u : 1u);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[nb];
}

/* Score of a row for a query: per query word, the distance to its nearest key word. */
static unsigned score(const struct bl_pinout *d, const char *q)
{
    unsigned total = 0;
    for (const char *p = q; *p != '\0';) {
        while (*p == ' ')
            p++;
        if (*p == '\0') break;
        const char *e = strchr(p, ' ');
        size_t k = e != NULL ? (size_t)(e - p) : strlen(p);
        unsigned best = 99;
        for (const char *c = d->keys; *c != '\0';) {
            const char *ce = strchr(c, ' ');
            size_t ck = ce != NULL ? (size_t)(ce - c) : strlen(c);
            unsigned dist = distance(p, k, c, ck);
            if (dist < best) best = dist;
            if (ce == NULL) break;
            c = ce + 1;
        }
        total += best;
        p += k;
    }
    return total;
}

size_t bl_pinout_close(const char *name, const struct bl_pinout **out, size_t max)
{
    char q[128];
    if (name == NULL || max == 0) return 0;
    lower(name, q, sizeof q);
    size_t rows = sizeof table / sizeof table[0];
    unsigned sc[sizeof table / sizeof table[0]];
    for (size_t i = 0; i < rows; i++)
        sc[i] = score(&table[i], q);
    size_t n = 0;
    for (unsigned limit = 0; limit <= 3 && n < max; limit++) /* only reasonably close ones */
        for (size_t i = 0; i < rows && n < max; i++)
            if (sc[i] == limit) out[n++] = &table[i];
    return n;
}

/* "CAN-H (blue)" -> "CANH"; letters only, upper case, up to the first " (". */
static void norm(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s != '\0' && k + 1 < n; s++) {
        if (s[0] == ' ' && s[1] == '(') break;
        if (isalpha((unsigned char)*s)) out[k++] = (char)toupper((unsigned char)*s);
    }
    out[k] = '\0';
}

unsigned bl_pinout_pin(const struct bl_pinout *d, const char *signal)
{
    char want[16];
    norm(signal, want, sizeof want);
    for (unsigned p = 0; p < 8; p++) {
        char got[32];
        norm(d->pin[p], got, sizeof got);
        if (strcmp(want, "GND") == 0) {
            if (strcmp(got, "GND") == 0 || strcmp(got, "XGND") == 0 || strcmp(got, "CANGND") == 0)
                return p + 1;
        } else if (strcmp(want, got) == 0) {
            return p + 1;
        }
    }
    return 0;
}

static unsigned pair_of(unsigned pin)
{
    static const unsigned pair[9] = {0, 1, 1, 2, 3, 3, 2, 4, 4}; /* 1-2, 3-6, 4-5, 7-8 */
    return pin <= 8 ? pair[pin] : 0;
}

static void warn_once(struct bl_cable *c, const char *w)
{
    for (unsigned i = 0; i < c->nwarn; i++)
        if (c->warn[i] == w) return;
    if (c->nwarn < sizeof c->warn / sizeof c->warn[0]) c->warn[c->nwarn++] = w;
}

void bl_pinout_cable(const struct bl_pinout *a, const struct bl_pinout *b, struct bl_cable *out)
{
    static const char *const sig[3] = {"CAN-H", "CAN-L", "GND"};
    memset(out, 0, sizeof *out);
    for (unsigned s = 0; s < 3; s++) {
        out->map[s][0] = bl_pinout_pin(a, sig[s]);
        out->map[s][1] = bl_pinout_pin(b, sig[s]);
    }
    out->known = out->map[0][0] && out->map[1][0] && out->map[0][1] && out->map[1][1];
    if (!out->known) return;
    out->straight_can = out->map[0][0] == out->map[0][1] && out->map[1][0] == out->map[1][1];
    out->straight = out->straight_can && (out->map[2][0] == 0 || out->map[2][1] == 0 ||
                                          out->map[2][0] == out->map[2][1]);
    for (unsigned side = 0; side < 2; side++)
        if (pair_of(out->map[0][side]) != pair_of(out->map[1][side])) out->split_pair = true;
    if (out->split_pair)
        warn_once(out,
                  "CAN-H and CAN-L sit on different pairs of a patch lead on one side: build a "
                  "cable that puts both on one twisted pair.");
    if (!a->rj45 || !b->rj45)
        warn_once(out, "One side has screw terminals, not RJ45: wire CAN-H, CAN-L (and GND) "
                       "individually.");
    if ((out->map[2][0] == 0) != (out->map[2][1] == 0))
        warn_once(out,
                  "GND is defined on one side only: leave it unconnected (connect CAN-GND only "
                  "where both sides define it).");
    /* what a plain straight 8-wire lead would join (C3-C5) */
    for (unsigned p = 0; p < 8; p++) {
        const char *x = a->pin[p], *y = b->pin[p];
        bool xnull = strcmp(x, "NULL!") == 0, ynull = strcmp(y, "NULL!") == 0;
        bool xused = strcmp(x, NG) != 0 && strcmp(x, NO) != 0 && !xnull;
        bool yused = strcmp(y, NG) != 0 && strcmp(y, NO) != 0 && !ynull;
        if ((xnull && yused) || (ynull && xused))
            warn_once(out, "A straight 8-wire lead would connect a pin that one side says must "
                           "stay free: use a cable with only CAN-H, CAN-L and GND.");
        bool x485 = strstr(x, "485") != NULL, y485 = strstr(y, "485") != NULL;
        bool xcan = strncmp(x, "CAN", 3) == 0, ycan = strncmp(y, "CAN", 3) == 0;
        if ((x485 && ycan) || (y485 && xcan))
            warn_once(out, "A straight lead would put RS485 on the other side's CAN pins.");
        else if (xused && yused && !out->straight)
            warn_once(out, "Do not use a straight 8-wire patch lead: the pin-outs differ.");
    }
}
