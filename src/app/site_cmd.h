/* SPDX-License-Identifier: MIT */
/* site_cmd.h: the site commands of src/app: the meter and GoodWe simulators (sim_site.c) and
 * `batlink site-dump` (site_dump.c). */
#ifndef BATLINK_APP_SITE_CMD_H
#define BATLINK_APP_SITE_CMD_H

/** `batlink sim --sma-em [IFACE] ...`, called by bl_cmd_sim when --sma-em is given. */
int app__sim_sma_em(int argc, char **argv);
/** `batlink sim --goodwe PORT ...`, called by bl_cmd_sim when --goodwe is given. */
int app__sim_goodwe(int argc, char **argv);
/** `batlink site-dump URI...`: the decoded site inputs as JSON lines. */
int app__cmd_site_dump(int argc, char **argv);

#endif
