/* SPDX-License-Identifier: MIT */
/* main.c: the batlink command table and dispatch. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/site_cmd.h"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    {"dump", bl_cmd_dump, "print every frame of a source, decoded (text or --json)"},
    {"monitor", bl_cmd_monitor,
     "show a battery's state and link live (terminal, JSON, MQTT, HTTP)"},
    {"bridge", bl_cmd_bridge, "read a JK BMS over serial and speak Pylontech CAN to the inverter"},
    {"diagnose", bl_cmd_diagnose,
     "say what is wrong with a battery-inverter link and what to check next"},
    {"pinout", bl_cmd_pinout, "RJ45 CAN pinouts of batteries and inverters; the cable between two"},
    {"record", bl_cmd_record, "record a source to a candump .log or a .pcap file"},
    {"sim", bl_cmd_sim,
     "play a simulated battery onto a transmitting source, or a JK BMS (--bms jk)"},
    {"dbc", bl_cmd_dbc, "print the DBC file of a CAN profile"},
    {"site-dump", app__cmd_site_dump,
     "read an energy meter or a second inverter, print JSON lines"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: batlink COMMAND [OPTIONS] ...\n\n"
                 "batlink makes the CAN link between a home battery and a solar inverter\n"
                 "visible, bridgeable and diagnosable.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].help);
    fprintf(out, "\n  batlink COMMAND --help   options of one command\n"
                 "  batlink --version        print the version\n\n"
                 "examples:\n"
                 "  batlink dump data/pylontech_us5000_v1.2.log\n"
                 "  batlink dump --json candump:capture.log\n"
                 "  batlink dbc pylontech > pylontech.dbc\n\n"
                 "exit status: 0 success, 1 runtime failure, 2 usage or configuration error\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BL_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return BL_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("batlink %s\n", BL_VERSION);
        return BL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    app__err("unknown command \"%s\" (try: batlink --help)", argv[1]);
    return BL_EXIT_USAGE;
}
