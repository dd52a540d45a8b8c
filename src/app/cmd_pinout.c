/* SPDX-License-Identifier: MIT */
/* cmd_pinout.c: `batlink pinout [DEVICE [DEVICE]]`: the RJ45 CAN pinouts of common batteries
 * and inverters with sources; for two devices the cable, termination and protocol setting. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "batlink/diag.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: batlink pinout [DEVICE [DEVICE]]\n"
               "\n"
               "Without DEVICE: the table of known RJ45 CAN pinouts (pins 1-8) with sources.\n"
               "One DEVICE: its pins, port, setting and notes. Two DEVICEs (a battery and an\n"
               "inverter): whether a straight cable works or which pins to cross, where the\n"
               "terminators go and which protocol to select. Names match case-insensitively by\n"
               "words (\"us5000\", \"solis\", \"victron gx\"); quote names with spaces.\n"
               "\n"
               "examples:\n"
               "  batlink pinout\n"
               "  batlink pinout us5000\n"
               "  batlink pinout \"weco 5k3 xp\" solis\n"
               "\n"
               "exit status: 0 ok, 2 unknown or ambiguous device (the candidates are listed), or\n"
               "a usage error\n"
               "Pin-outs are not standardised between makers: check both manuals before "
               "crimping.\n");
}

/* Column widths from the table itself, so no name or pin label is cut. */
struct widths {
    int name, pin[8];
};

static void measure(const struct bl_pinout *t, size_t n, struct widths *w)
{
    w->name = (int)strlen("device");
    for (unsigned p = 0; p < 8; p++)
        w->pin[p] = (int)strlen("pin 1");
    for (size_t i = 0; i < n; i++) {
        if ((int)strlen(t[i].name) > w->name) w->name = (int)strlen(t[i].name);
        for (unsigned p = 0; p < 8; p++)
            if ((int)strlen(t[i].pin[p]) > w->pin[p]) w->pin[p] = (int)strlen(t[i].pin[p]);
    }
}

static void print_row(const struct bl_pinout *d, const struct widths *w)
{
    printf("%-*s", w->name, d->name);
    for (unsigned p = 0; p < 8; p++)
        printf("  %-*s", p == 7 ? 0 : w->pin[p], d->pin[p]);
    putchar('\n');
}

static void print_table(void)
{
    size_t n;
    const struct bl_pinout *t = bl_pinout_table(&n);
    struct widths w;
    measure(t, n, &w);
    printf("%-*s", w.name, "device");
    for (unsigned p = 0; p < 8; p++)
        printf("  pin %u%*s", p + 1, p == 7 ? 0 : w.pin[p] - 5, "");
    printf("\n");
    for (int inv = 1; inv >= 0; inv--) {
        printf("-- %s --\n", inv ? "inverters" : "batteries");
        for (size_t i = 0; i < n; i++)
            if (t[i].inverter == (inv == 1)) print_row(&t[i], &w);
    }
    printf("\nmarks: n/g = not given by the source, - = unused, NULL! = must stay unconnected, "
           "res. = reserved\nsources (what each is: README, section \"Pinouts\"; confirm with "
           "the makers' manuals):\n");
    for (size_t i = 0; i < n; i++)
        printf("  %s: %s\n", t[i].name, t[i].source);
}

static void print_device(const struct bl_pinout *d)
{
    printf("%s (%s)\n", d->name, d->inverter ? "inverter" : "battery");
    printf("  port:    %s%s\n", d->port, d->rj45 ? "" : " -- not RJ45: terminals 1-8 below");
    for (unsigned p = 0; p < 8; p++)
        printf("  pin %u:   %s\n", p + 1, d->pin[p]);
    if (d->setting != NULL) printf("  setting: %s\n", d->setting);
    if (d->note != NULL) printf("  note:    %s\n", d->note);
    if (d->supplied != NULL) printf("  cable:   %s\n", d->supplied);
    printf("  source:  %s\n", d->source);
}

/* The one device `name` means; NULL (after saying why on stderr) when unknown or ambiguous. */
static const struct bl_pinout *lookup(const char *name)
{
    const struct bl_pinout *m[32];
    size_t k = bl_pinout_matches(name, m, sizeof m / sizeof m[0]);
    if (k == 1) return m[0];
    if (k > 1) {
        fprintf(stderr, "batlink: pinout: \"%s\" is ambiguous; it matches:\n", name);
        for (size_t i = 0; i < k && i < sizeof m / sizeof m[0]; i++)
            fprintf(stderr, "  %s\n", m[i]->name);
        fprintf(stderr, "name one of them (quote names with spaces), e.g. batlink pinout \"%s\"\n",
                m[0]->name);
        return NULL;
    }
    const struct bl_pinout *close[5];
    k = bl_pinout_close(name, close, 5);
    fprintf(stderr, "batlink: pinout: unknown device \"%s\"", name);
    if (k > 0) {
        fprintf(stderr, "; close matches:");
        for (size_t i = 0; i < k; i++)
            fprintf(stderr, "%s \"%s\"", i ? "," : "", close[i]->name);
    }
    size_t n;
    const struct bl_pinout *t = bl_pinout_table(&n);
    fprintf(stderr, "\nknown devices:\n");
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %s\n", t[i].name);
    return NULL;
}

/* GND between two ports that both define it: what it is for and how sure the pins are. */
static void print_gnd(const struct bl_pinout *a, const struct bl_pinout *b,
                      const struct bl_cable *c)
{
    printf(
        "  GND (pin %u -> pin %u): connect CAN-GND where both sides define it; when battery\n"
        "  negative and inverter chassis differ by more than 0.2 V in operation, keep it at one\n"
        "  end only (usually the inverter).\n",
        c->map[2][0], c->map[2][1]);
    for (unsigned s = 0; s < 2; s++) {
        const struct bl_pinout *d = s == 0 ? a : b;
        if (d->gnd_single)
            printf("  ! %s: GND on pin %u comes from a single source, not from the maker: check "
                   "its manual\n    before wiring pin %u.\n",
                   d->name, c->map[2][s], c->map[2][s]);
    }
}

static void print_cable(const struct bl_pinout *a, const struct bl_pinout *b)
{
    static const char *const sig[3] = {"CAN-H", "CAN-L", "GND"};
    struct bl_cable c;
    bl_pinout_cable(a, b, &c);
    printf("cable: %s  <->  %s\n", a->name, b->name);
    for (unsigned s = 0; s < 2; s++) {
        const struct bl_pinout *d = s == 0 ? a : b;
        if (d->supplied != NULL) printf("  supplied lead: %s\n", d->supplied);
    }
    if (!c.known) {
        printf("  the sources do not give CAN-H and CAN-L for both ports: check both manuals\n");
    } else {
        if (c.straight)
            printf("  CAN-H, CAN-L%s on the same pins on both sides: a straight lead carries "
                   "them\n",
                   c.map[2][0] && c.map[2][1] ? " and GND" : "");
        else if (c.straight_can)
            printf("  CAN-H and CAN-L run straight (pins %u/%u); GND is on other pins: wire it as "
                   "below\n",
                   c.map[0][0], c.map[1][0]);
        else
            printf("  the pins differ: build a crossed cable, mapped by signal, not by pin "
                   "number\n");
        printf("  a home-made lead needs only these wires, CAN-H and CAN-L on one twisted "
               "pair:\n");
        for (unsigned s = 0; s < 3; s++) {
            if (c.map[s][0] == 0 && c.map[s][1] == 0) continue;
            if (c.map[s][0] && c.map[s][1])
                printf("    %-5s  pin %u  ->  pin %u\n", sig[s], c.map[s][0], c.map[s][1]);
            else
                printf("    %-5s  %s only (pin %u): leave unconnected\n", sig[s],
                       c.map[s][0] ? "first side" : "second side",
                       c.map[s][0] ? c.map[s][0] : c.map[s][1]);
        }
        if (c.map[2][0] && c.map[2][1]) print_gnd(a, b, &c);
        for (unsigned i = 0; i < c.nwarn; i++)
            printf("  ! %s\n", c.warn[i]);
    }
    bool sma = strstr(a->name, "Sunny Island") != NULL || strstr(b->name, "Sunny Island") != NULL;
    printf("termination: exactly two terminators, one at each physical end of the bus (usually\n"
           "  built into battery and inverter; check jumpers, DIP switches, plugs). Both devices\n"
           "  off, measure CAN-H to CAN-L: 60 ohm right, ~120 ohm one missing, ~40 ohm one too\n"
           "  many%s. A passive listener adds no terminator.\n",
           sma ? "; with the Sunny Island's 100 ohm, 54.5 ohm is right" : "");
    const struct bl_pinout *inv = a->inverter ? a : b->inverter ? b : NULL;
    const struct bl_pinout *bat = a->inverter ? b : a;
    if (inv != NULL && inv->setting != NULL) printf("inverter setting: %s\n", inv->setting);
    if (!bat->inverter && bat->setting != NULL) printf("battery setting:  %s\n", bat->setting);
    printf("cable type: twisted pair, 120 ohm, CAN-H and CAN-L on one pair; keep it short and\n"
           "  away from the DC bus (README, \"Pinouts\")\n");
}

int bl_cmd_pinout(int argc, char **argv)
{
    const char *dev[2] = {NULL, NULL};
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return BL_EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            app__err("pinout: unknown option \"%s\" (try: batlink pinout --help)", argv[i]);
            return BL_EXIT_USAGE;
        }
        if (n == 2) {
            app__err("pinout: at most two devices (quote names with spaces)");
            return BL_EXIT_USAGE;
        }
        dev[n++] = argv[i];
    }
    if (n == 0) {
        print_table();
        return BL_EXIT_OK;
    }
    const struct bl_pinout *a = lookup(dev[0]);
    if (a == NULL) return BL_EXIT_USAGE;
    if (n == 1) {
        print_device(a);
        return BL_EXIT_OK;
    }
    const struct bl_pinout *b = lookup(dev[1]);
    if (b == NULL) return BL_EXIT_USAGE;
    print_device(a);
    putchar('\n');
    print_device(b);
    putchar('\n');
    print_cable(a, b);
    return BL_EXIT_OK;
}
