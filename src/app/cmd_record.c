/* SPDX-License-Identifier: MIT */
/* cmd_record.c: placeholder until `batlink record` lands. */
#include "app/app.h"

int bl_cmd_record(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    app__err("record: not built yet");
    return BL_EXIT_FAIL;
}
