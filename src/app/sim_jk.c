/* SPDX-License-Identifier: MIT */
/* sim_jk.c: `batlink sim --bms jk|jbd|daly|pylon485|pylon-console PTY`: a simulated BMS (16S
 * LiFePO4) answering its codec's requests on a pseudo-terminal, with cells that follow the
 * current, a balancing spread, optional faults (silence, bad checksum, truncated reply, garbage,
 * invalid cell, cell over, MOSFET off, cold), fixed temperature / cell voltage / over-current
 * settings and a slow, jittery reply time. JK replies are built here; the others by
 * app/sim_bms.c from the same simulated state. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "app/app.h"
#include "app/sim_bms.h"
#include "batlink/bmscodec.h"
#include "batlink/jk.h"
#include "batlink/log.h"
#include "batlink/loop.h"

#define S_US      1000000
#define CAP_AH    280
#define MAX_CELLS 24
#define MAX_LATE  16 /* replies waiting for --reply-delay */

enum fault {
    F_NONE,
    F_SILENCE,    /* no reply at all */
    F_CHECKSUM,   /* last checksum byte flipped */
    F_TRUNCATED,  /* reply cut after 60 % of its bytes */
    F_GARBAGE,    /* foreign bytes before and inside the reply stream */
    F_INVALID,    /* one cell reads 0 V (a broken sense wire) */
    F_CELL_OVER,  /* cell 7 above its OVP: alarm bit set, charge MOSFET off */
    F_MOSFET_OFF, /* discharge MOSFET off, no alarm */
    F_COLD,       /* every probe at -5 degC */
    F__COUNT
};

static const struct {
    const char *name, *help;
} faults[F__COUNT] = {
    [F_NONE] = {"normal", "answer every request, charge/discharge cycle"},
    [F_SILENCE] = {"silence", "stop answering (the BMS or its cable is gone)"},
    [F_CHECKSUM] = {"bad-checksum", "replies with a wrong checksum"},
    [F_TRUNCATED] = {"truncated", "replies cut short"},
    [F_GARBAGE] = {"garbage", "foreign bytes before each reply"},
    [F_INVALID] = {"invalid-cell", "cell 3 reads 0 V (impossible value)"},
    [F_CELL_OVER] = {"cell-over", "cell 7 above its 3.65 V OVP, charge MOSFET off"},
    [F_MOSFET_OFF] = {"mosfet-off", "discharge MOSFET off (no alarm)"},
    [F_COLD] = {"cold", "every probe reads -5 degC"},
};

struct simjk {
    const struct bl_bms_codec *codec; /* jk: the JK encoder below; others: app/sim_bms.c */
    struct bl_bms_opts opts;
    struct bl_loop *loop;
    struct app__sigstop sig;
    struct bl_watch *mw, *uw;
    struct bl_timer *stop_t;
    int master, slave_keep, usr_fd;
    char link[512];
    bool linked;
    enum fault fault;
    bl_us fault_after, fault_for; /* fault window relative to start; for 0 = forever */
    bool fault_toggled;           /* SIGUSR1 flips the fault on/off */
    unsigned cells;
    double soc;     /* 0..1 */
    double fixed_a; /* with has_fixed: constant current, + = charging */
    bool has_fixed;
    bl_us start, last;
    uint32_t rng;
    uint64_t requests, replies;
    bool has_temp, has_cell_mv;
    long temp_c, cell_mv;               /* --temp, --cell-mv: fixed instead of simulated */
    long charge_ocp_a, discharge_ocp_a; /* --charge-ocp, --discharge-ocp (BMS settings) */
    bl_us delay, jitter;                /* --reply-delay, --reply-jitter */
    struct bl_timer *late_t;
    bl_us late[MAX_LATE]; /* due times of replies not yet written, in order */
    unsigned late_step[MAX_LATE];
    unsigned nlate;
    uint64_t late_dropped;
    uint8_t rx[512];
    size_t rx_len;
};

static uint32_t rnd(struct simjk *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 17;
    s->rng ^= s->rng << 5;
    return s->rng;
}

static bool fault_active(const struct simjk *s, bl_us now)
{
    if (s->fault == F_NONE) return false;
    bl_us t = now - s->start;
    bool on = t >= s->fault_after && (s->fault_for == 0 || t < s->fault_after + s->fault_for);
    return on != s->fault_toggled;
}

/* LiFePO4 rest voltage by SOC (a typical curve, mV). */
static double ocv_mv(double soc)
{
    static const double x[] = {0.0, 0.05, 0.10, 0.20, 0.50, 0.80, 0.90, 0.97, 1.0};
    static const double y[] = {2800, 3100, 3200, 3260, 3300, 3330, 3340, 3380, 3450};
    if (soc <= 0) return y[0];
    for (size_t i = 1; i < sizeof x / sizeof x[0]; i++)
        if (soc <= x[i]) return y[i - 1] + (y[i] - y[i - 1]) * (soc - x[i - 1]) / (x[i] - x[i - 1]);
    return y[sizeof y / sizeof y[0] - 1];
}

/* Current (A, + = charging): 4-minute cycle of charging at 40 A then discharging at 25 A,
 * tapering near full/empty like a real charger and inverter. */
static double current_a(const struct simjk *s, bl_us now)
{
    if (s->has_fixed) return s->fixed_a;
    double t = (double)((now - s->start) % (240 * (bl_us)S_US)) / 1e6;
    if (t < 150) return s->soc > 0.97 ? 5.0 : 40.0;
    return s->soc < 0.05 ? -2.0 : -25.0;
}

static void put16(uint8_t *p, size_t *n, unsigned v)
{
    p[(*n)++] = (uint8_t)(v >> 8);
    p[(*n)++] = (uint8_t)v;
}
static void put32(uint8_t *p, size_t *n, uint32_t v)
{
    put16(p, n, v >> 16);
    put16(p, n, v & 0xFFFFu);
}
static void item16(uint8_t *p, size_t *n, uint8_t id, unsigned v)
{
    p[(*n)++] = id;
    put16(p, n, v);
}
static void item8(uint8_t *p, size_t *n, uint8_t id, unsigned v)
{
    p[(*n)++] = id;
    p[(*n)++] = (uint8_t)v;
}

/* JK live temperature raw value (bms-serial.md 1.6): 0..99 as is, below 0 as 100 - T. */
static unsigned temp_raw(int c)
{
    return c >= 0 ? (unsigned)c : (unsigned)(100 - c);
}

/* The simulated pack at `now`: cells, current, alarms (JK bits), status (JK bits), ambient. */
struct phys {
    unsigned mv[MAX_CELLS];
    uint32_t sum;
    double amps;
    unsigned alarms, status;
    int t_ambient;
    bool active;
};

static void simulate(struct simjk *s, bl_us now, struct phys *ph)
{
    double dt = s->last > 0 ? (double)(now - s->last) / 1e6 : 0;
    s->last = now;
    double amps = current_a(s, now);
    s->soc += amps * dt / 3600.0 / CAP_AH;
    if (s->soc < 0) s->soc = 0;
    if (s->soc > 1) s->soc = 1;
    bool active = fault_active(s, now);
    unsigned *mv = ph->mv;
    uint32_t sum = 0;
    double base =
        s->has_cell_mv ? (double)s->cell_mv : ocv_mv(s->soc) + amps * 0.6; /* 0.6 mOhm per cell */
    for (unsigned i = 0; i < s->cells; i++) {
        /* balancing spread: cell 5 runs high, cell 11 low; +-1 mV of noise */
        int off = i == 4 ? 9 : i == 10 ? -7 : (int)(i % 3) * 2 - 2;
        int noise = (int)(rnd(s) % 3) - 1;
        double v = base + off + noise;
        if (amps > 0 && s->soc > 0.9 && !s->has_cell_mv)
            v += (i == 4 ? 25 : 0); /* the high cell runs away */
        mv[i] = (unsigned)(v < 2500 ? 2500 : v > 3650 ? 3650 : v);
    }
    unsigned alarms = 0, status = 0x0001u | 0x0002u | 0x0008u; /* both MOSFETs on, connected */
    if (active && s->fault == F_CELL_OVER) {
        mv[6] = 3680;
        alarms |= 1u << 10; /* cell over-voltage */
        status &= ~0x0001u; /* charge MOSFET off */
    }
    if (active && s->fault == F_INVALID) mv[2] = 0;
    for (unsigned i = 0; i < s->cells; i++)
        sum += mv[i];
    unsigned hi = 0, lo = 0xFFFF;
    for (unsigned i = 0; i < s->cells; i++) {
        if (mv[i] > hi) hi = mv[i];
        if (mv[i] < lo) lo = mv[i];
    }
    if (hi - lo >= 5) status |= 0x0004u; /* balancing */
    if (active && s->fault == F_MOSFET_OFF) status &= ~0x0002u;
    int t_ambient = 22 + (int)(amps > 0 ? amps / 10 : -amps / 15);
    if (s->has_temp) t_ambient = (int)s->temp_c; /* both probes read it; the MOSFET runs warmer */
    if (active && s->fault == F_COLD) t_ambient = -5;
    ph->sum = sum;
    ph->amps = amps;
    ph->alarms = alarms;
    ph->status = status;
    ph->t_ambient = t_ambient;
    ph->active = active;
}

/* Build one read-all reply (bms-serial.md 1.2, 1.5) into `f`; returns its length. */
static size_t build_reply(struct simjk *s, bl_us now, uint8_t *f, size_t cap)
{
    struct phys ph = {0};
    simulate(s, now, &ph);
    const unsigned *mv = ph.mv;
    uint32_t sum = ph.sum;
    double amps = ph.amps;
    unsigned alarms = ph.alarms, status = ph.status;
    int t_ambient = ph.t_ambient;
    bool active = ph.active;
    size_t n = 0;
    if (cap < 400) return 0;
    f[n++] = 0x4E;
    f[n++] = 0x57;
    n += 2; /* length, filled below */
    put32(f, &n, 0);
    f[n++] = 0x06; /* command echoed */
    f[n++] = 0x00; /* source BMS */
    f[n++] = 0x01; /* response */
    f[n++] = 0x79;
    f[n++] = (uint8_t)(3 * s->cells);
    for (unsigned i = 0; i < s->cells; i++) {
        f[n++] = (uint8_t)(i + 1);
        put16(f, &n, mv[i]);
    }
    item16(f, &n, 0x80, temp_raw(t_ambient + 6 > 99 ? 99 : t_ambient + 6));
    item16(f, &n, 0x81, temp_raw(t_ambient));
    item16(f, &n, 0x82,
           temp_raw(s->has_temp || (active && s->fault == F_COLD) ? t_ambient : t_ambient - 1));
    item16(f, &n, 0x83, (sum + 5) / 10);
    unsigned ca = (unsigned)((amps < 0 ? -amps : amps) * 100.0 + 0.5); /* 10 mA */
    item16(f, &n, 0x84, (amps > 0 ? 0x8000u : 0u) | (ca & 0x7FFFu));
    item8(f, &n, 0x85, (unsigned)(s->soc * 100.0 + 0.5));
    item8(f, &n, 0x86, 2);
    item16(f, &n, 0x87, 42);
    f[n++] = 0x89;
    put32(f, &n, 42u * CAP_AH);
    item16(f, &n, 0x8A, s->cells);
    item16(f, &n, 0x8B, alarms);
    item16(f, &n, 0x8C, status);
    item16(f, &n, 0x8E, 58400 / 10);
    item16(f, &n, 0x8F, 40000 / 10);
    item16(f, &n, 0x90, 3650);
    item16(f, &n, 0x91, 3400);
    item16(f, &n, 0x92, 5);
    item16(f, &n, 0x93, 2500);
    item16(f, &n, 0x94, 2900);
    item16(f, &n, 0x95, 5);
    item16(f, &n, 0x96, 300);
    item16(f, &n, 0x97, (unsigned)s->discharge_ocp_a); /* discharge over-current A */
    item16(f, &n, 0x98, 3);
    item16(f, &n, 0x99, (unsigned)s->charge_ocp_a); /* charge over-current A */
    item16(f, &n, 0x9A, 5);
    item16(f, &n, 0x9B, 3300);
    item16(f, &n, 0x9C, 8);
    item8(f, &n, 0x9D, 1);
    item16(f, &n, 0x9E, 90);
    item16(f, &n, 0x9F, 70);
    item16(f, &n, 0xA0, 100);
    item16(f, &n, 0xA1, 100);
    item16(f, &n, 0xA2, 20);
    item16(f, &n, 0xA3, 70);
    item16(f, &n, 0xA4, 70);
    item16(f, &n, 0xA5, 0xFFFFu & (unsigned)-20);
    item16(f, &n, 0xA6, 0xFFFFu & (unsigned)-10);
    item16(f, &n, 0xA7, 0xFFFFu & (unsigned)-20);
    item16(f, &n, 0xA8, 0xFFFFu & (unsigned)-10);
    item8(f, &n, 0xA9, s->cells);
    f[n++] = 0xAA;
    put32(f, &n, CAP_AH);
    item8(f, &n, 0xAB, 1);
    item8(f, &n, 0xAC, 1);
    item8(f, &n, 0xAF, 0); /* LiFePO4 */
    f[n++] = 0xB7;
    memcpy(f + n, "11.XW_S11.26___", 15);
    n += 15;
    item8(f, &n, 0xC0, 1); /* current encoding: bit 15 = charging */
    put32(f, &n, 0);       /* record number */
    f[n++] = 0x68;
    f[n++] = 0;
    f[n++] = 0;
    unsigned len = (unsigned)(n + 2 - 2); /* frame = length + 2 once the checksum is added */
    f[2] = (uint8_t)(len >> 8);
    f[3] = (uint8_t)len;
    uint32_t ck = 0;
    for (size_t i = 0; i < n - 2; i++) /* bytes 0 .. end flag */
        ck += f[i];
    put16(f, &n, ck & 0xFFFFu);
    if (active && s->fault == F_CHECKSUM) f[n - 1] ^= 0x5A;
    if (active && s->fault == F_TRUNCATED) n = n * 6 / 10;
    return n;
}

/* The simulated pack as a struct bl_bms (what the other codecs' encoders take). */
static void pack_state(struct simjk *s, bl_us now, struct bl_bms *b)
{
    struct phys ph = {0};
    simulate(s, now, &ph);
    bl_bms_init(b);
    b->cell_count = (uint8_t)s->cells;
    for (unsigned i = 0; i < s->cells; i++)
        b->cell_mv[i] = (uint16_t)ph.mv[i];
    b->pack_mv = ph.sum;
    b->current_ma = (int32_t)(ph.amps * 1000.0);
    b->soc_pct = (uint8_t)(s->soc * 100.0 + 0.5);
    b->remaining_mah = (uint32_t)(s->soc * CAP_AH * 1000.0);
    b->full_mah = CAP_AH * 1000u;
    b->capacity_ah = CAP_AH;
    b->cycles = 42;
    b->temp_count = 2;
    b->temp_dc[0] = (int16_t)(ph.t_ambient * 10);
    b->temp_dc[1] =
        (int16_t)((s->has_temp || (ph.active && s->fault == F_COLD) ? ph.t_ambient
                                                                    : ph.t_ambient - 1) *
                  10);
    b->status = (ph.status & 1u ? BL_BMS_ST_CHARGE_MOSFET : 0u) |
                (ph.status & 2u ? BL_BMS_ST_DISCHARGE_MOSFET : 0u);
    b->alarms = ph.alarms & (1u << 10) ? BL_BMS_AL_CELL_OVERVOLTAGE : 0u;
    b->alarm_raw = ph.alarms & (1u << 10) ? 1u : 0u; /* JBD protection bit 0: cell OV */
    b->cell_ovp_mv = 3650;
    b->cell_uvp_mv = 2500;
    b->pack_ovp_mv = 3650u * s->cells;
    b->pack_uvp_mv = 2500u * s->cells;
    b->charge_otp_dc = 500;
    b->charge_utp_dc = 0;
    b->discharge_otp_dc = 600;
    b->discharge_utp_dc = -200;
    b->max_charge_ma = (int32_t)s->charge_ocp_a * 1000;
    b->max_discharge_ma = (int32_t)s->discharge_ocp_a * 1000;
    static const enum bl_bms_item items[] = {BL_BMS_CELLS,
                                             BL_BMS_PACK_VOLTAGE,
                                             BL_BMS_CURRENT,
                                             BL_BMS_SOC,
                                             BL_BMS_TEMPS,
                                             BL_BMS_STATUS,
                                             BL_BMS_ALARMS,
                                             BL_BMS_CYCLES,
                                             BL_BMS_CAPACITY,
                                             BL_BMS_FULL_CAPACITY,
                                             BL_BMS_CELL_OVP,
                                             BL_BMS_CELL_UVP,
                                             BL_BMS_PACK_OVP,
                                             BL_BMS_PACK_UVP,
                                             BL_BMS_CHARGE_OTP,
                                             BL_BMS_CHARGE_UTP,
                                             BL_BMS_DISCHARGE_OTP,
                                             BL_BMS_DISCHARGE_UTP,
                                             BL_BMS_MAX_CHARGE_CURRENT,
                                             BL_BMS_MAX_DISCHARGE_CURRENT,
                                             BL_BMS_REMAINING_CAPACITY};
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++)
        b->known |= 1ull << (unsigned)items[i];
}

static void write_all(struct simjk *s, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(s->master, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return; /* pty buffer full: the reader is gone; a BMS would not wait either */
        p += w;
        n -= (size_t)w;
    }
}

/* A request: 21 bytes, 4E 57 00 13, command 0x06 or 0x03, end flag, checksum (bms-serial 1.3). */
static bool is_request(const uint8_t *p)
{
    if (p[0] != 0x4E || p[1] != 0x57 || p[2] != 0x00 || p[3] != 0x13 || p[16] != 0x68) return false;
    if (p[8] != 0x06 && p[8] != 0x03) return false;
    unsigned sum = 0;
    for (size_t i = 0; i <= 16; i++)
        sum += p[i];
    return ((sum >> 8) & 0xFFu) == p[19] && (sum & 0xFFu) == p[20];
}

/* Another codec's answer to request `step`, with the faults applied. */
static size_t other_reply(struct simjk *s, bl_us now, unsigned step, uint8_t *f, size_t cap)
{
    struct bl_bms b;
    pack_state(s, now, &b);
    if (fault_active(s, now) && s->fault == F_INVALID) b.cell_mv[2] = 0;
    unsigned steps = bl_bms_codec_steps(s->codec, &s->opts);
    struct bl_bms_opts o = s->opts;
    if (step >= steps) o.pylon_single = !o.pylon_single;
    size_t n = app__sim_bms_reply(s->codec, &o, step % steps, &b, f, cap);
    if (fault_active(s, now) && s->fault == F_CHECKSUM) n = app__sim_bms_corrupt(s->codec, f, n);
    if (fault_active(s, now) && s->fault == F_TRUNCATED) n = n * 6 / 10;
    return n;
}

static bool is_jk(const struct simjk *s)
{
    return strcmp(s->codec->scheme, "jk") == 0;
}

static void answer(struct simjk *s, bl_us now, unsigned step)
{
    uint8_t f[4608];
    if (fault_active(s, now) && s->fault == F_SILENCE) {
        struct phys ph = {0};
        simulate(s, now, &ph); /* the battery lives on */
        return;
    }
    size_t n = is_jk(s) ? build_reply(s, now, f, sizeof f) : other_reply(s, now, step, f, sizeof f);
    if (fault_active(s, now) && s->fault == F_GARBAGE) {
        uint8_t junk[40];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)rnd(s);
        junk[7] = 0x4E; /* a false frame start inside the junk */
        junk[8] = 0x57;
        write_all(s, junk, sizeof junk);
    }
    write_all(s, f, n);
    s->replies++;
}

/* A slow BMS: each reply leaves delay +- jitter after its request (uniform), in request order. */
static void on_late(void *ctx, bl_us now)
{
    struct simjk *s = ctx;
    unsigned k = 0;
    while (k < s->nlate && s->late[k] <= now) {
        answer(s, s->late[k], s->late_step[k]);
        k++;
    }
    memmove(s->late, s->late + k, (s->nlate - k) * sizeof s->late[0]);
    memmove(s->late_step, s->late_step + k, (s->nlate - k) * sizeof s->late_step[0]);
    s->nlate -= k;
    bl_timer_set(s->late_t, s->nlate > 0 ? s->late[0] : 0, 0);
}

static void request(struct simjk *s, bl_us now, unsigned step)
{
    s->requests++;
    if (s->delay == 0 && s->jitter == 0) {
        answer(s, now, step);
        return;
    }
    bl_us d = s->delay;
    if (s->jitter > 0) d += (bl_us)(rnd(s) % (uint32_t)(2 * s->jitter + 1)) - s->jitter;
    bl_us due = now + (d > 0 ? d : 0);
    if (s->nlate > 0 && due < s->late[s->nlate - 1]) due = s->late[s->nlate - 1];
    if (s->nlate == MAX_LATE) {
        s->late_dropped++; /* a BMS asked faster than it answers loses requests too */
        return;
    }
    s->late_step[s->nlate] = step;
    s->late[s->nlate++] = due;
    bl_timer_set(s->late_t, s->late[0], 0);
}

static void on_master(void *ctx, int fd, short revents)
{
    struct simjk *s = ctx;
    (void)revents;
    for (;;) {
        if (s->rx_len == sizeof s->rx) s->rx_len = 0;
        ssize_t r = read(fd, s->rx + s->rx_len, sizeof s->rx - s->rx_len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break; /* EAGAIN; EIO cannot happen while we hold the slave open */
        s->rx_len += (size_t)r;
    }
    size_t off = 0;
    bl_us now = bl_now_mono();
    if (is_jk(s)) {
        while (s->rx_len - off >= BL_JK_REQUEST_LEN) {
            if (is_request(s->rx + off)) {
                request(s, now, 0);
                off += BL_JK_REQUEST_LEN;
            } else {
                off++;
            }
        }
    } else {
        /* the codec's own requests, byte for byte (the link builds them the same way) */
        unsigned steps = bl_bms_codec_steps(s->codec, &s->opts);
        while (off < s->rx_len) {
            bool hit = false, partial = false;
            /* pylon485: the group query (INFO 0xFF) and the one-module query (?single=1) */
            unsigned variants = strcmp(s->codec->scheme, "pylon485") == 0 ? 2 : 1;
            for (unsigned k = 0; k < steps * variants && !hit; k++) {
                uint8_t req[BL_BMS_REQUEST_MAX];
                size_t rl = 0;
                struct bl_bms_opts o = s->opts;
                if (k >= steps) o.pylon_single = !o.pylon_single;
                if (s->codec->build_request(&o, k % steps, req, sizeof req, &rl) != BL_OK) continue;
                size_t have = s->rx_len - off;
                if (have < rl) {
                    if (memcmp(s->rx + off, req, have) == 0) partial = true;
                    continue;
                }
                if (memcmp(s->rx + off, req, rl) == 0) {
                    request(s, now, k); /* k >= steps: the other variant */
                    off += rl;
                    hit = true;
                }
            }
            if (hit) continue;
            if (partial) break;
            if (s->codec->wake != NULL && s->rx[off] == 0x0E) {
                static const char prompt[] = "\r\npylon>";
                write_all(s, (const uint8_t *)prompt, sizeof prompt - 1); /* awake */
            }
            off++; /* a wake-up frame, a console poke, a CR: no answer */
        }
    }
    memmove(s->rx, s->rx + off, s->rx_len - off);
    s->rx_len -= off;
}

static void on_usr1(void *ctx, int fd, short revents)
{
    struct simjk *s = ctx;
    struct signalfd_siginfo si;
    (void)revents;
    while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
        s->fault_toggled = !s->fault_toggled;
        fprintf(stderr, "batlink sim: fault %s %s\n", faults[s->fault].name,
                fault_active(s, bl_now_mono()) ? "on" : "off");
    }
}

static void on_stop(void *ctx, bl_us now)
{
    struct simjk *s = ctx;
    (void)now;
    bl_loop_stop(s->loop);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: batlink sim --bms jk|jbd|daly|pylon485|pylon-console [OPTIONS] PTY\n\n"
                 "Simulate a BMS (16S LiFePO4, 280 Ah) on a pseudo-terminal: PTY is the path\n"
                 "of a symlink created to the terminal (removed at exit); point the bridge at it\n"
                 "with --bms jk:PTY (or jbd:PTY ...). Cells follow the current (charge 40 A /\n"
                 "discharge 25 A cycle), with a balancing spread.\n\n"
                 "options:\n"
                 "  --scenario NAME   fault to inject (default normal):\n");
    for (unsigned i = 0; i < F__COUNT; i++)
        fprintf(out, "      %-14s %s\n", faults[i].name, faults[i].help);
    fprintf(out,
            "  --fault-after S   the fault starts S seconds after start (default 0)\n"
            "  --fault-for S     ... and lasts S seconds (default: until the end)\n"
            "                    SIGUSR1 switches the fault on/off at any time\n"
            "  --cells N         cells, 4..24 (default 16)\n"
            "  --soc P           start SOC in percent (default 60)\n"
            "  --current A       constant current instead of the cycle (+ = charging)\n"
            "  --temp C          both battery probes read C degC, -40..99 (default: 22 plus\n"
            "                    the current's warming); try 0 or 50 for the derating\n"
            "  --cell-mv MV      every cell rests at MV millivolts, 2500..3650 (default: by SOC)\n"
            "  --charge-ocp A    the BMS's charge over-current setting (default 100)\n"
            "  --discharge-ocp A the BMS's discharge over-current setting (default 150);\n"
            "                    the bridge sends at most [limits] bms_limit_percent of it\n"
            "  --reply-delay MS  answer each request MS milliseconds late (a slow BMS)\n"
            "  --reply-jitter MS ... plus or minus up to MS (uniform), e.g. 450 and 400\n"
            "  --addr N          bus address the simulated BMS answers (addressed codecs)\n"
            "  --modbus          jkpb: answer Modbus RTU FC 03 reads, not the trigger protocol\n"
            "  --seed N          random seed (default 1)\n"
            "  --duration S      stop after S seconds\n\n"
            "examples:\n"
            "  batlink sim --bms jk /tmp/jk0 &\n"
            "  batlink bridge --bms jk:/tmp/jk0 --can canet:192.168.1.200\n"
            "  batlink sim --bms jk --scenario silence --fault-after 60 /tmp/jk0\n"
            "  batlink sim --bms jk --temp 2 --current 20 /tmp/jk0     # cold: charge derated\n"
            "  batlink sim --bms jk --reply-delay 450 --reply-jitter 400 /tmp/jk0\n\n"
            "The simulator reads only its serial port: it does not see the limits the bridge\n"
            "sends on CAN, so its current is the cycle or --current, whatever the limits.\n");
}

static int parse(int argc, char **argv, struct simjk *s, double *duration)
{
    double fa = 0, ff = 0, rd = 0, rj = 0;
    long cells = 16, soc = 60, seed = 1;
    const char *target = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(a, "--bms") == 0 || strcmp(a, "--scenario") == 0 ||
                     strcmp(a, "--fault-after") == 0 || strcmp(a, "--fault-for") == 0 ||
                     strcmp(a, "--cells") == 0 || strcmp(a, "--soc") == 0 ||
                     strcmp(a, "--current") == 0 || strcmp(a, "--seed") == 0 ||
                     strcmp(a, "--duration") == 0 || strcmp(a, "--temp") == 0 ||
                     strcmp(a, "--cell-mv") == 0 || strcmp(a, "--charge-ocp") == 0 ||
                     strcmp(a, "--discharge-ocp") == 0 || strcmp(a, "--reply-delay") == 0 ||
                     strcmp(a, "--reply-jitter") == 0 || strcmp(a, "--addr") == 0;
        if (takes && v == NULL) {
            app__err("sim: %s needs a value", a);
            return BL_EXIT_USAGE;
        }
        bool ok = true;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return BL_EXIT_OK;
        } else if (strcmp(a, "--bms") == 0) {
            s->codec = bl_bms_codec_find(v);
            if (s->codec == NULL) {
                app__err("sim: --bms: unknown BMS \"%s\" (known: jk, jkpb, jbd, daly, pylon485, "
                         "pylon-console)",
                         v);
                return BL_EXIT_USAGE;
            }
        } else if (strcmp(a, "--modbus") == 0) {
            s->opts.modbus = true; /* jkpb: answer standard Modbus FC 03 reads (2.8) */
        } else if (strcmp(a, "--addr") == 0) {
            long ad;
            ok = app__parse_long(a, v, 0, 255, &ad);
            s->opts.addr = (int)ad;
        } else if (strcmp(a, "--scenario") == 0) {
            unsigned k = 0;
            while (k < F__COUNT && strcmp(faults[k].name, v) != 0)
                k++;
            if (k == F__COUNT) {
                app__err("sim: --scenario: unknown JK scenario \"%s\" (see --bms jk --help)", v);
                return BL_EXIT_USAGE;
            }
            s->fault = (enum fault)k;
        } else if (strcmp(a, "--fault-after") == 0) {
            ok = app__parse_double(a, v, 0, 1e7, &fa);
        } else if (strcmp(a, "--fault-for") == 0) {
            ok = app__parse_double(a, v, 0.001, 1e7, &ff);
        } else if (strcmp(a, "--cells") == 0) {
            ok = app__parse_long(a, v, 4, MAX_CELLS, &cells);
        } else if (strcmp(a, "--soc") == 0) {
            ok = app__parse_long(a, v, 0, 100, &soc);
        } else if (strcmp(a, "--current") == 0) {
            ok = app__parse_double(a, v, -500, 500, &s->fixed_a);
            s->has_fixed = true;
        } else if (strcmp(a, "--temp") == 0) {
            ok = app__parse_long(a, v, -40, 99, &s->temp_c);
            s->has_temp = true;
        } else if (strcmp(a, "--cell-mv") == 0) {
            ok = app__parse_long(a, v, 2500, 3650, &s->cell_mv);
            s->has_cell_mv = true;
        } else if (strcmp(a, "--charge-ocp") == 0) {
            ok = app__parse_long(a, v, 0, 1000, &s->charge_ocp_a);
        } else if (strcmp(a, "--discharge-ocp") == 0) {
            ok = app__parse_long(a, v, 0, 1000, &s->discharge_ocp_a);
        } else if (strcmp(a, "--reply-delay") == 0) {
            ok = app__parse_double(a, v, 0, 60000, &rd);
        } else if (strcmp(a, "--reply-jitter") == 0) {
            ok = app__parse_double(a, v, 0, 60000, &rj);
        } else if (strcmp(a, "--seed") == 0) {
            ok = app__parse_long(a, v, 1, 0x7FFFFFFF, &seed);
        } else if (strcmp(a, "--duration") == 0) {
            ok = app__parse_double(a, v, 0.001, 1e7, duration);
        } else if (a[0] == '-' && a[1] != '\0') {
            app__err("sim: unknown option %s (try: batlink sim --bms jk --help)", a);
            return BL_EXIT_USAGE;
        } else if (target != NULL) {
            app__err("sim: one PTY path only, got \"%s\" and \"%s\"", target, a);
            return BL_EXIT_USAGE;
        } else {
            target = a;
        }
        if (!ok) return BL_EXIT_USAGE;
        if (takes) i++;
    }
    if (s->codec == NULL) s->codec = bl_bms_codec_find("jk");
    if (target == NULL) {
        app__err("sim: --bms needs the PTY symlink path to create (e.g. /tmp/jk0)");
        return BL_EXIT_USAGE;
    }
    if (snprintf(s->link, sizeof s->link, "%s", target) >= (int)sizeof s->link) {
        app__err("sim: PTY path too long");
        return BL_EXIT_USAGE;
    }
    s->fault_after = (bl_us)(fa * S_US);
    s->fault_for = (bl_us)(ff * S_US);
    s->cells = (unsigned)cells;
    s->soc = (double)soc / 100.0;
    s->rng = (uint32_t)seed;
    s->delay = (bl_us)(rd * 1000);
    s->jitter = (bl_us)(rj * 1000);
    return -1;
}

/* Create the pty (raw), keep a slave fd open so the master never sees a hang-up between
 * bridge restarts, and point the symlink at the slave. */
static int open_pty(struct simjk *s)
{
    s->master = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (s->master < 0 || grantpt(s->master) != 0 || unlockpt(s->master) != 0) {
        app__err("sim: posix_openpt: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    const char *slave = ptsname(s->master);
    if (slave == NULL) {
        app__err("sim: ptsname: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    s->slave_keep = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
    struct termios t;
    if (s->slave_keep < 0 || tcgetattr(s->slave_keep, &t) != 0) {
        app__err("sim: %s: %s", slave, strerror(errno));
        return BL_EXIT_FAIL;
    }
    cfmakeraw(&t);
    (void)cfsetispeed(&t, B115200);
    (void)cfsetospeed(&t, B115200);
    if (tcsetattr(s->slave_keep, TCSANOW, &t) != 0) {
        app__err("sim: %s: tcsetattr: %s", slave, strerror(errno));
        return BL_EXIT_FAIL;
    }
    struct stat st;
    if (lstat(s->link, &st) == 0) {
        if (!S_ISLNK(st.st_mode)) {
            app__err("sim: %s exists and is not a symlink: not replacing it", s->link);
            return BL_EXIT_USAGE;
        }
        (void)unlink(s->link);
    }
    if (symlink(slave, s->link) != 0) {
        app__err("sim: symlink %s -> %s: %s", s->link, slave, strerror(errno));
        return BL_EXIT_FAIL;
    }
    s->linked = true;
    printf("%s -> %s\n", s->link, slave);
    fflush(stdout);
    return -1;
}

int app__sim_jk(int argc, char **argv)
{
    struct simjk s = {
        .master = -1, .slave_keep = -1, .usr_fd = -1, .charge_ocp_a = 100, .discharge_ocp_a = 150};
    bl_bms_opts_init(&s.opts);
    double duration = 0;
    int rc = parse(argc, argv, &s, &duration);
    if (rc >= 0) return rc;
    if (bl_loop_new(&s.loop) != BL_OK) {
        app__err("sim: out of memory");
        return BL_EXIT_FAIL;
    }
    s.sig.fd = -1;
    /* the stop signals first: once the link exists (what a caller waits for), SIGTERM must be
     * a clean stop that removes it, not the default death that leaves it dangling */
    if (!app__sigstop_open(&s.sig, s.loop) || !app__sigstop_leave(&s.sig, SIGUSR1)) {
        app__err("sim: signalfd: %s", strerror(errno));
        rc = BL_EXIT_FAIL;
    }
    if (rc < 0) rc = open_pty(&s);
    if (rc < 0) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigprocmask(SIG_BLOCK, &set, NULL);
        s.usr_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
        s.start = bl_now_mono();
        s.mw = bl_loop_watch(s.loop, s.master, POLLIN, on_master, &s);
        s.uw = bl_loop_watch(s.loop, s.usr_fd, POLLIN, on_usr1, &s);
        s.late_t = bl_loop_timer(s.loop, 0, 0, on_late, &s);
        if (duration > 0)
            s.stop_t = bl_loop_timer(s.loop, s.start + (bl_us)(duration * S_US), 0, on_stop, &s);
        if (s.mw == NULL || s.uw == NULL || s.late_t == NULL ||
            (duration > 0 && s.stop_t == NULL)) {
            app__err("sim: loop tables full");
            rc = BL_EXIT_FAIL;
        }
    }
    if (rc < 0) {
        rc = bl_loop_run(s.loop) == BL_OK ? BL_EXIT_OK : BL_EXIT_FAIL;
        bl_logf(BL_LOG_INFO, "sim: %llu requests, %llu replies, %llu dropped (too many late)",
                (unsigned long long)s.requests, (unsigned long long)s.replies,
                (unsigned long long)s.late_dropped);
    }
    if (s.linked) (void)unlink(s.link);
    bl_watch_remove(s.mw);
    bl_watch_remove(s.uw);
    bl_timer_remove(s.stop_t);
    bl_timer_remove(s.late_t);
    if (s.sig.fd >= 0 || s.sig.w != NULL) app__sigstop_close(&s.sig);
    if (s.usr_fd >= 0) close(s.usr_fd);
    if (s.slave_keep >= 0) close(s.slave_keep);
    if (s.master >= 0) close(s.master);
    bl_loop_free(s.loop);
    return rc;
}
