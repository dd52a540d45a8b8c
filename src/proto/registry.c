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
