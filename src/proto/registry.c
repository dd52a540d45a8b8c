/* SPDX-License-Identifier: MIT */
/* registry.c: the one list of built-in CAN profiles. dump, monitor, diagnose, sim, bridge, dbc,
 * the config loader and the tests all go through bl_profile_list() / bl_profile_find(); nothing
 * else keeps a list. Adding a profile is one line here (src/proto/README.md). */
#include <string.h>

#include "batlink/profile.h"

/* One line per profile, in recognition order (a profile before its scale variants). Keep a
 * comment line between entries so that profiles added on different branches merge cleanly. */
static const struct bl_profile *const profiles[] = {
    /* Pylontech LV V1.2 (can-profiles.md 1) */
    &bl_profile_pylontech,
    /* Pylon LV set with 0x356 in 0.1 V, scale variant of pylontech (1.6-1.7 D2) */
    &bl_profile_pylontech_01v,
    /* Pylontech US5000 newer firmware "V1.3" (can-profiles.md 1.4) */
    &bl_profile_pylontech_v13,
    /* Victron CAN-bus BMS (can-profiles.md 2) */
    &bl_profile_victron,
    /* SMA Sunny Island external BMS (can-profiles.md 5) */
    &bl_profile_sma,
    /* Pylontech HV, 29-bit, polled (can-profiles.md 6) */
    &bl_profile_pylontech_hv,
    /* BYD Battery-Box Premium HVS (can-profiles.md 7.1) */
    &bl_profile_byd_hvs,
    /* Growatt LV (can-profiles.md 8) */
    &bl_profile_growatt_lv,
    /* next profile */
};

const struct bl_profile *const *bl_profile_list(size_t *n)
{
    if (n != NULL) *n = sizeof profiles / sizeof profiles[0];
    return profiles;
}

const struct bl_profile *bl_profile_find(const char *name)
{
    if (name == NULL) return NULL;
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        const struct bl_profile *p = profiles[i];
        if (strcmp(p->name, name) == 0) return p;
        for (const char *const *a = p->aliases; a != NULL && *a != NULL; a++)
            if (strcmp(*a, name) == 0) return p;
    }
    return NULL;
}

/* Append s to buf[0..n) at *k, keeping a NUL; false when it did not fit (nothing written). */
static bool append(char *buf, size_t n, size_t *k, const char *s)
{
    size_t l = strlen(s);
    if (*k + l + 1 > n) return false;
    memcpy(buf + *k, s, l + 1);
    *k += l;
    return true;
}

size_t bl_profile_names(char *buf, size_t n, bool aliases)
{
    size_t k = 0;
    if (n == 0) return 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        const struct bl_profile *p = profiles[i];
        size_t mark = k;
        bool ok = (i == 0 || append(buf, n, &k, ", ")) && append(buf, n, &k, p->name);
        for (const char *const *a = p->aliases; ok && aliases && a != NULL && *a != NULL; a++)
            ok = append(buf, n, &k, a == p->aliases ? " (" : ", ") && append(buf, n, &k, *a) &&
                 (a[1] != NULL || append(buf, n, &k, ")"));
        if (!ok) { /* cut at the last whole profile */
            k = mark;
            buf[k] = '\0';
            (void)append(buf, n, &k, ", ...");
            break;
        }
    }
    return k;
}

size_t bl_profile_keepalives(struct bl_keepalive *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        const struct bl_profile *p = profiles[i];
        for (size_t j = 0; j < p->n_msgs && k < max; j++) {
            const struct bl_msg_desc *m = &p->msgs[j];
            if (!(m->flags & BL_MSG_KEEPALIVE)) continue;
            bool dup = false;
            for (size_t d = 0; d < k && !dup; d++)
                dup = out[d].id == m->id && out[d].ext == m->ext;
            if (dup) continue;
            out[k++] = (struct bl_keepalive){.id = m->id,
                                             .ext = m->ext,
                                             .ext_also = (m->flags & BL_MSG_EXT_ALSO) != 0,
                                             .inverter = p->inverter_name};
        }
    }
    return k;
}
