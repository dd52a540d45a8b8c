/* SPDX-License-Identifier: MIT */
/* cmd_dump.c: placeholder until `batlink dump` lands. */
#include "app/app.h"

int bl_cmd_dump(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    app__err("dump: not built yet");
    return BL_EXIT_FAIL;
}
