/* SPDX-License-Identifier: MIT */
/* cmd_sim.c: placeholder until `batlink sim` lands. */
#include "app/app.h"

int bl_cmd_sim(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    app__err("sim: not built yet");
    return BL_EXIT_FAIL;
}
