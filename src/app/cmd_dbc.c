/* SPDX-License-Identifier: MIT */
/* cmd_dbc.c: placeholder until `batlink dbc` lands. */
#include "app/app.h"

int bl_cmd_dbc(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    app__err("dbc: not built yet");
    return BL_EXIT_FAIL;
}
