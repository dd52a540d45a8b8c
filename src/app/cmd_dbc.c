/* SPDX-License-Identifier: MIT */
/* cmd_dbc.c: `batlink dbc PROFILE` -- print the DBC of a CAN profile, written from the same
 * table that decodes and encodes it (src/proto/). */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "batlink/profile.h"

static void usage(FILE *f)
{
    size_t n;
    const struct bl_profile *const *list = bl_profile_list(&n);
    fprintf(f,
            "usage: batlink dbc PROFILE\n"
            "       batlink dbc --list\n"
            "\n"
            "Print the DBC (Vector CANdb++) description of a CAN profile on stdout: one BO_ per\n"
            "message, one SG_ per signal with factor, range and unit, comments citing the\n"
            "protocol reference. Text signals (manufacturer name) appear as comments only.\n"
            "--list prints every profile, one per line: its name, its aliases (the names\n"
            "installers meet) and a note.\n"
            "\n"
            "profiles:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-12s %s\n", list[i]->name, list[i]->description);
    fprintf(f, "\n"
               "examples:\n"
               "  batlink dbc pylontech > pylontech.dbc\n"
               "  batlink dbc pylontech | grep SG_\n"
               "\n"
               "exit status: 0 ok, 1 write error, 2 usage error (unknown profile)\n");
}

static bool write_stdout(void *ctx, const char *s, size_t n)
{
    (void)ctx;
    return fwrite(s, 1, n, stdout) == n;
}

int bl_cmd_dbc(int argc, char **argv)
{
    const char *name = NULL;
    bool list = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return BL_EXIT_OK;
        }
        if (strcmp(argv[i], "--list") == 0) {
            list = true;
            continue;
        }
        if (argv[i][0] == '-') {
            app__err("dbc: unknown option \"%s\" (try: batlink dbc --help)", argv[i]);
            return BL_EXIT_USAGE;
        }
        if (name != NULL) {
            app__err("dbc: more than one PROFILE (\"%s\", \"%s\")", name, argv[i]);
            return BL_EXIT_USAGE;
        }
        name = argv[i];
    }
    if (list && name != NULL) {
        app__err("dbc: --list takes no PROFILE");
        return BL_EXIT_USAGE;
    }
    if (name == NULL && !list) {
        app__err("dbc: PROFILE missing (try: batlink dbc --help)");
        return BL_EXIT_USAGE;
    }
    if (list) {
        size_t n;
        const struct bl_profile *const *all = bl_profile_list(&n);
        for (size_t i = 0; i < n; i++) {
            /* one line per profile: name, aliases, then its note */
            fputs(all[i]->name, stdout);
            for (const char *const *a = all[i]->aliases; a != NULL && *a != NULL; a++)
                printf(" %s", *a);
            if (all[i]->note != NULL) printf("  -- %s", all[i]->note);
            putchar('\n');
        }
        if (fflush(stdout) != 0) {
            app__err("dbc: write to stdout failed");
            return BL_EXIT_FAIL;
        }
        return BL_EXIT_OK;
    }
    const struct bl_profile *p = app__find_profile("dbc", name);
    if (p == NULL) return BL_EXIT_USAGE;
    if (bl_profile_write_dbc(p, write_stdout, NULL) != BL_OK || fflush(stdout) != 0) {
        app__err("dbc: write to stdout failed");
        return BL_EXIT_FAIL;
    }
    return BL_EXIT_OK;
}
