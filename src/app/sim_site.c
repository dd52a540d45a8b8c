/* SPDX-License-Identifier: MIT */
/* sim_site.c: the site simulators:
 *   batlink sim --sma-em [IFACE]  an SMA Energy Meter sending Speedwire multicast datagrams
 *   batlink sim --goodwe PORT     a GoodWe ET inverter answering Modbus reads on 127.0.0.1
 * each with scenarios that can follow one another (--scenario a,b --each S). Neither accepts a
 * write: the GoodWe simulator answers write requests with Modbus exception 1. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "app/app.h"
#include "app/site_cmd.h"
#include "batlink/goodwe.h"
#include "batlink/log.h"
#include "batlink/loop.h"
#include "batlink/speedwire.h"

#define S_US        1000000
#define MAX_SCEN    8
#define MAX_CLIENTS 4
#define GW_VBAT_DV  4000 /* 400.0 V: an ET high-voltage battery */
#define GW_SERIAL   "9010KETU21000001"
#define GW_MODEL    "GW10K-ET"
#define EM_SUSY     349
#define EM_SERIAL   1900000001u

/* ------------------------------------------------------------------ common */

struct scen_list {
    int v[MAX_SCEN];
    unsigned n;
    bl_us each; /* 0 = stay on the first */
};

static int scen_index(const char *const *names, const char *name)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], name) == 0) return i;
    return -1;
}

/* "a,b,c" -> indices; false (after printing) on an unknown name */
static bool parse_scen(const char *arg, const char *const *names, const char *what,
                       struct scen_list *out)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", arg);
    out->n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        int i = scen_index(names, t);
        if (i < 0 || out->n == MAX_SCEN) {
            app__err("sim: --scenario: %s %s \"%s\" (known: %s%s%s%s%s%s)", what,
                     i < 0 ? "unknown scenario" : "too many scenarios, at", t, names[0],
                     names[1] ? ", " : "", names[1] ? names[1] : "", names[2] ? ", " : "",
                     names[2] ? names[2] : "", names[3] ? ", ..." : "");
            return false;
        }
        out->v[out->n++] = i;
    }
    return out->n > 0;
}

static int scen_now(const struct scen_list *l, bl_us since_start)
{
    if (l->each <= 0 || l->n <= 1) return l->v[0];
    return l->v[(size_t)(since_start / l->each) % l->n];
}

/* ------------------------------------------------------------------ sma-em */

enum em_scen { EM_EXPORT, EM_IMPORT, EM_SILENCE, EM_MALFORMED };
static const char *const em_names[] = {"export", "import", "silence", "malformed", NULL};

struct simem {
    struct bl_loop *loop;
    struct app__sigstop sig;
    int fd;
    struct sockaddr_in to;
    struct scen_list scen;
    uint32_t serial;
    double export_w, import_w;
    bl_us start, last, period, duration;
    uint64_t e_import_ws, e_export_ws;
    unsigned long sent, bad_sent;
    unsigned malformed_step;
};

static void em_fill(struct simem *s, struct bl_sma_em *m, double net_w, bl_us now)
{
    memset(m, 0, sizeof *m);
    double dt = (double)(now - s->last) / 1e6;
    if (net_w >= 0)
        s->e_import_ws += (uint64_t)(net_w * dt);
    else
        s->e_export_ws += (uint64_t)(-net_w * dt);
    m->susy_id = EM_SUSY;
    m->serial = s->serial;
    m->ticker_ms = (uint32_t)(now / 1000);
    m->p_import_dw = net_w > 0 ? (uint32_t)(net_w * 10 + 0.5) : 0;
    m->p_export_dw = net_w < 0 ? (uint32_t)(-net_w * 10 + 0.5) : 0;
    m->e_import_ws = s->e_import_ws;
    m->e_export_ws = s->e_export_ws;
    m->pf_milli = 990;
    m->freq_mhz = 50000;
    m->known = 1u << BL_SMA_EM_P_IMPORT | 1u << BL_SMA_EM_P_EXPORT | 1u << BL_SMA_EM_E_IMPORT |
               1u << BL_SMA_EM_E_EXPORT | 1u << BL_SMA_EM_PF | 1u << BL_SMA_EM_FREQ |
               1u << BL_SMA_EM_SOFTWARE;
    static const uint8_t sw[4] = {0x02, 0x12, 0x0e, 0x52};
    memcpy(m->software, sw, 4);
    for (unsigned p = 0; p < 3; p++) {
        struct bl_sma_em_phase *ph = &m->phase[p];
        ph->p_import_dw = m->p_import_dw / 3;
        ph->p_export_dw = m->p_export_dw / 3;
        ph->voltage_mv = 230000;
        ph->current_ma = (uint32_t)((net_w < 0 ? -net_w : net_w) / 3 / 230.0 * 1000);
        ph->pf_milli = 990;
        ph->known = 0x1F;
        m->known |= 1u << (BL_SMA_EM_L1 + p);
    }
}

static void em_send(struct simem *s, const uint8_t *b, size_t n)
{
    if (sendto(s->fd, b, n, 0, (struct sockaddr *)&s->to, sizeof s->to) < 0)
        bl_logf(BL_LOG_WARN, "sim: sma-em: send: %s", strerror(errno));
}

static void em_tick(void *ctx, bl_us now)
{
    struct simem *s = ctx;
    if (s->duration > 0 && now - s->start >= s->duration) {
        bl_loop_stop(s->loop);
        return;
    }
    int sc = scen_now(&s->scen, now - s->start);
    struct bl_sma_em m;
    uint8_t b[2048];
    double w = sc == EM_EXPORT ? -s->export_w : s->import_w;
    em_fill(s, &m, w, now);
    s->last = now;
    if (sc == EM_SILENCE) return;
    size_t n = bl_sma_em_encode(&m, b, sizeof b);
    if (sc == EM_MALFORMED) {
        /* one of each kind of bad datagram, then a good (importing) one */
        switch (s->malformed_step++ % 5) {
        case 0: /* truncated inside the data tag */
            n = n / 2;
            break;
        case 1: /* SMA inverter traffic: foreign protocol */
            b[17] = 0x65;
            break;
        case 2: /* data tag length past the end */
            b[12] = 0x7F;
            break;
        case 3: /* oversized */
            memset(b + n, 0, 1600 - n);
            n = 1600;
            break;
        default:
            em_send(s, b, n);
            s->sent++;
            return;
        }
        s->bad_sent++;
    }
    em_send(s, b, n);
    s->sent++;
}

static void em_usage(FILE *out)
{
    fprintf(out,
            "usage: batlink sim --sma-em [IFACE] [OPTIONS]\n\n"
            "Send SMA Energy Meter datagrams (Speedwire, protocol 0x6069) to %s:%d on IFACE\n"
            "(default: the route's interface), one per period, multicast loop on so that\n"
            "listeners on the same host receive them.\n\n"
            "  --scenario LIST   export, import, silence, malformed (comma-separated: one after\n"
            "                    the other, see --each); default export\n"
            "  --each S          seconds per scenario of the list (default: the first only)\n"
            "  --export-w W      export power of 'export' (default 1500)\n"
            "  --import-w W      import power of 'import' and 'malformed' (default 800)\n"
            "  --serial N        meter serial number (default %u)\n"
            "  --period-ms MS    send period (default 1000)\n"
            "  --port N          UDP port (default %d; for tests)\n"
            "  --duration S      stop after S seconds (default: run until a signal)\n",
            BL_SMA_EM_GROUP, BL_SMA_EM_PORT, EM_SERIAL, BL_SMA_EM_PORT);
}

int app__sim_sma_em(int argc, char **argv)
{
    struct simem s;
    memset(&s, 0, sizeof s);
    s.fd = -1;
    s.scen.n = 1;
    s.scen.v[0] = EM_EXPORT;
    s.serial = EM_SERIAL;
    s.export_w = 1500;
    s.import_w = 800;
    s.period = S_US;
    const char *iface = NULL;
    long port = BL_SMA_EM_PORT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        long l;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            em_usage(stdout);
            return 0;
        } else if (strcmp(a, "--sma-em") == 0) {
            if (v != NULL && v[0] != '-') {
                iface = v;
                i++;
            }
        } else if (v == NULL) {
            app__err("sim: %s needs a value (try: batlink sim --sma-em --help)", a);
            return BL_EXIT_USAGE;
        } else if (strcmp(a, "--scenario") == 0) {
            if (!parse_scen(v, em_names, "sma-em", &s.scen)) return BL_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--each") == 0) {
            if (!app__parse_double(a, v, 0.1, 86400, &d)) return BL_EXIT_USAGE;
            s.scen.each = (bl_us)(d * S_US);
            i++;
        } else if (strcmp(a, "--export-w") == 0 || strcmp(a, "--import-w") == 0) {
            if (!app__parse_double(a, v, 0, 1e6, &d)) return BL_EXIT_USAGE;
            *(a[2] == 'e' ? &s.export_w : &s.import_w) = d;
            i++;
        } else if (strcmp(a, "--serial") == 0) {
            if (!app__parse_long(a, v, 1, 0xFFFFFFFFl, &l)) return BL_EXIT_USAGE;
            s.serial = (uint32_t)l;
            i++;
        } else if (strcmp(a, "--period-ms") == 0) {
            if (!app__parse_long(a, v, 10, 60000, &l)) return BL_EXIT_USAGE;
            s.period = (bl_us)l * 1000;
            i++;
        } else if (strcmp(a, "--port") == 0) {
            if (!app__parse_long(a, v, 1, 65535, &port)) return BL_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--duration") == 0) {
            if (!app__parse_double(a, v, 0.1, 1e7, &d)) return BL_EXIT_USAGE;
            s.duration = (bl_us)(d * S_US);
            i++;
        } else {
            app__err("sim: unknown option %s (try: batlink sim --sma-em --help)", a);
            return BL_EXIT_USAGE;
        }
    }
    s.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
        app__err("sim: sma-em: socket: %s", strerror(errno));
        return BL_EXIT_FAIL;
    }
    struct ip_mreqn mr;
    memset(&mr, 0, sizeof mr);
    if (iface != NULL) {
        mr.imr_ifindex = (int)if_nametoindex(iface);
        if (mr.imr_ifindex == 0) {
            app__err("sim: sma-em: no network interface \"%s\"", iface);
            close(s.fd);
            return BL_EXIT_USAGE;
        }
    }
    int one = 1;
    unsigned char ttl = 1, loop = 1;
    if ((iface != NULL && setsockopt(s.fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof mr) < 0) ||
        setsockopt(s.fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0 ||
        setsockopt(s.fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) < 0 ||
        setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        app__err("sim: sma-em: multicast options: %s", strerror(errno));
        close(s.fd);
        return BL_EXIT_FAIL;
    }
    s.to.sin_family = AF_INET;
    s.to.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, BL_SMA_EM_GROUP, &s.to.sin_addr);
    int rc = BL_EXIT_FAIL;
    if (bl_loop_new(&s.loop) != BL_OK) goto out;
    if (!app__sigstop_open(&s.sig, s.loop)) {
        app__err("sim: signals: %s", strerror(errno));
        bl_loop_free(s.loop);
        goto out;
    }
    s.start = s.last = bl_now_mono();
    s.e_import_ws = 3600000ull * 4000; /* a meter that has seen some use: 4000 kWh */
    s.e_export_ws = 3600000ull * 1500;
    if (bl_loop_timer(s.loop, s.start, s.period, em_tick, &s) == NULL) goto done;
    fprintf(stderr, "sim: sma-em: sending to %s:%ld%s%s, serial %lu, scenario %s\n",
            BL_SMA_EM_GROUP, port, iface ? " on " : "", iface ? iface : "", (unsigned long)s.serial,
            em_names[s.scen.v[0]]);
    rc = bl_loop_run(s.loop) == BL_OK ? 0 : BL_EXIT_FAIL;
    fprintf(stderr, "sim: sma-em: sent %lu datagrams (%lu malformed)\n", s.sent, s.bad_sent);
done:
    app__sigstop_close(&s.sig);
    bl_loop_free(s.loop);
out:
    close(s.fd);
    return rc;
}

/* ------------------------------------------------------------------ goodwe */

enum gw_scen { GW_CHARGING, GW_DISCHARGING, GW_IDLE_SC, GW_SILENCE, GW_MALFORMED };
static const char *const gw_names[] = {"charging", "discharging", "idle",
                                       "silence",  "malformed",   NULL};

struct gwclient {
    int fd;
    struct bl_watch *w;
    uint8_t rx[256];
    size_t len;
};

struct simgw {
    struct bl_loop *loop;
    struct app__sigstop sig;
    int fd; /* UDP socket or TCP listener */
    bool tcp;
    struct bl_watch *lw;
    struct gwclient cl[MAX_CLIENTS];
    struct scen_list scen;
    double charge_a, discharge_a;
    unsigned soc;
    bl_us start, duration;
    unsigned long requests, answers, rejected;
};

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The value of one register in the current scenario. */
static uint16_t gw_reg(const struct simgw *s, int sc, unsigned reg)
{
    static const char sn[] = GW_SERIAL, model[] = GW_MODEL "  ";
    if (reg >= BL_GW_ET_INFO_REG && reg < BL_GW_ET_INFO_REG + BL_GW_ET_INFO_COUNT) {
        unsigned r = reg - BL_GW_ET_INFO_REG;
        if (r == 1) return 10000; /* rated power */
        if (r >= 3 && r < 11) return (uint16_t)(sn[2 * (r - 3)] << 8 | sn[2 * (r - 3) + 1]);
        if (r >= 11 && r < 16)
            return (uint16_t)(model[2 * (r - 11)] << 8 | model[2 * (r - 11) + 1]);
        return 0;
    }
    if (reg == BL_GW_ET_REG_VBAT) return GW_VBAT_DV;
    if (reg == BL_GW_ET_REG_IBAT) {
        /* the inverter counts discharge current positive */
        double a = sc == GW_CHARGING ? -s->charge_a : sc == GW_DISCHARGING ? s->discharge_a : 0;
        return (uint16_t)(int16_t)(a * 10);
    }
    if (reg == BL_GW_ET_REG_BAT_MODE)
        return sc == GW_CHARGING      ? BL_GW_MODE_CHARGE
               : sc == GW_DISCHARGING ? BL_GW_MODE_DISCHARGE
                                      : BL_GW_MODE_STANDBY;
    if (reg == BL_GW_ET_REG_SOC) return (uint16_t)s->soc;
    if (reg == BL_GW_ET_REG_SOH) return 98;
    return 0;
}

static bool gw_known_range(unsigned reg, unsigned count)
{
    static const unsigned blocks[3][2] = {{BL_GW_ET_INFO_REG, BL_GW_ET_INFO_COUNT},
                                          {BL_GW_ET_RUN_REG, BL_GW_ET_RUN_COUNT},
                                          {BL_GW_ET_BAT_REG, BL_GW_ET_BAT_COUNT}};
    for (int i = 0; i < 3; i++)
        if (reg >= blocks[i][0] && reg + count <= blocks[i][0] + blocks[i][1]) return true;
    return false;
}

/* Build the PDU answer (fc, n, data or fc|0x80, code) for a request PDU; returns its length,
 * 0 = stay silent. */
static size_t gw_pdu(struct simgw *s, uint8_t fc, unsigned reg, unsigned count, uint8_t *out)
{
    int sc = scen_now(&s->scen, bl_now_mono() - s->start);
    s->requests++;
    if (sc == GW_SILENCE) return 0;
    if (fc != BL_GW_FC_READ) {
        /* read-only simulator: writes and anything else are rejected */
        s->rejected++;
        bl_logf(BL_LOG_WARN, "sim: goodwe: function 0x%02x rejected (read only)", fc);
        out[0] = (uint8_t)(fc | 0x80);
        out[1] = 1; /* illegal function */
        return 2;
    }
    if (count == 0 || count > BL_GW_MAX_REGS || !gw_known_range(reg, count)) {
        s->rejected++;
        out[0] = fc | 0x80;
        out[1] = 2; /* illegal data address */
        return 2;
    }
    out[0] = fc;
    out[1] = (uint8_t)(2 * count);
    for (unsigned i = 0; i < count; i++)
        put16(out + 2 + 2 * i, gw_reg(s, sc, reg + i));
    s->answers++;
    return 2 + 2 * count;
}

static bool gw_malformed_now(struct simgw *s)
{
    return scen_now(&s->scen, bl_now_mono() - s->start) == GW_MALFORMED;
}

static void gw_udp(void *ctx, int fd, short revents)
{
    struct simgw *s = ctx;
    (void)revents;
    uint8_t req[64], pdu[2 + 2 * BL_GW_MAX_REGS], ans[BL_GW_REPLY_MAX];
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(fd, req, sizeof req, 0, (struct sockaddr *)&from, &fl);
    if (r < 8) return;
    if (bl_gw_crc16(req, 6) != (req[6] | req[7] << 8) || req[0] != BL_GW_ADDR_ET) return;
    size_t n =
        gw_pdu(s, req[1], (unsigned)req[2] << 8 | req[3], (unsigned)req[4] << 8 | req[5], pdu);
    if (n == 0) return;
    ans[0] = 0xAA;
    ans[1] = 0x55;
    ans[2] = BL_GW_ADDR_ET;
    memcpy(ans + 3, pdu, n);
    uint16_t crc = bl_gw_crc16(ans + 2, 1 + n);
    ans[3 + n] = (uint8_t)crc;
    ans[4 + n] = (uint8_t)(crc >> 8);
    if (gw_malformed_now(s)) ans[4 + n] ^= 0x5A; /* bad CRC */
    if (sendto(fd, ans, 5 + n, 0, (struct sockaddr *)&from, fl) < 0)
        bl_logf(BL_LOG_WARN, "sim: goodwe: send: %s", strerror(errno));
}

static void gw_drop(struct gwclient *c)
{
    bl_watch_remove(c->w);
    close(c->fd);
    c->fd = -1;
    c->w = NULL;
}

static void gw_tcp_client(void *ctx, int fd, short revents)
{
    struct simgw *s = ctx;
    (void)revents;
    struct gwclient *c = NULL;
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (s->cl[i].fd == fd) c = &s->cl[i];
    if (c == NULL) return;
    ssize_t r = recv(fd, c->rx + c->len, sizeof c->rx - c->len, 0);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
        gw_drop(c);
        return;
    }
    c->len += (size_t)r;
    while (c->len >= 8) {
        size_t mlen = (size_t)c->rx[4] << 8 | c->rx[5];
        if (mlen < 2 || mlen > 250) {
            gw_drop(c);
            return;
        }
        if (c->len < 6 + mlen) break;
        uint8_t pdu[2 + 2 * BL_GW_MAX_REGS], ans[7 + sizeof pdu];
        size_t n = mlen >= 6 ? gw_pdu(s, c->rx[7], (unsigned)c->rx[8] << 8 | c->rx[9],
                                      (unsigned)c->rx[10] << 8 | c->rx[11], pdu)
                             : 0;
        if (n > 0) {
            memcpy(ans, c->rx, 4); /* transaction + protocol id */
            put16(ans + 4, (unsigned)(n + 1));
            ans[6] = c->rx[6];
            memcpy(ans + 7, pdu, n);
            if (gw_malformed_now(s)) ans[2] = 0x12; /* protocol id not 0 */
            if (send(fd, ans, 7 + n, MSG_NOSIGNAL) < 0) {
                gw_drop(c);
                return;
            }
        }
        memmove(c->rx, c->rx + 6 + mlen, c->len - 6 - mlen);
        c->len -= 6 + mlen;
    }
}

static void gw_accept(void *ctx, int fd, short revents)
{
    struct simgw *s = ctx;
    (void)revents;
    int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return;
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (s->cl[i].fd >= 0) continue;
        s->cl[i].fd = c;
        s->cl[i].len = 0;
        s->cl[i].w = bl_loop_watch(s->loop, c, POLLIN, gw_tcp_client, s);
        if (s->cl[i].w == NULL) break;
        return;
    }
    close(c); /* too many clients */
}

static void gw_stop(void *ctx, bl_us now)
{
    struct simgw *s = ctx;
    (void)now;
    bl_loop_stop(s->loop);
}

static void gw_usage(FILE *out)
{
    fprintf(out,
            "usage: batlink sim --goodwe PORT [OPTIONS]\n\n"
            "Play a GoodWe ET inverter on 127.0.0.1:PORT (0 = any free port, printed on start):\n"
            "Modbus RTU in UDP datagrams (answers prefixed AA 55) or Modbus/TCP, comm address\n"
            "0xF7; registers 35000 (model), 35100.. (battery 35180/35181/35184) and 37000..\n"
            "(SOC 37007). Writes are rejected (exception 1).\n\n"
            "  --proto udp|tcp   default udp\n"
            "  --scenario LIST   charging, discharging, idle, silence, malformed (bad CRC / bad\n"
            "                    MBAP header); comma-separated with --each; default charging\n"
            "  --each S          seconds per scenario of the list\n"
            "  --charge-a A      battery current of 'charging' (default 5, i.e. 2000 W at 400 V)\n"
            "  --discharge-a A   battery current of 'discharging' (default 4)\n"
            "  --soc PCT         battery SOC (default 60)\n"
            "  --duration S      stop after S seconds\n");
}

int app__sim_goodwe(int argc, char **argv)
{
    struct simgw s;
    memset(&s, 0, sizeof s);
    s.fd = -1;
    for (int i = 0; i < MAX_CLIENTS; i++)
        s.cl[i].fd = -1;
    s.scen.n = 1;
    s.scen.v[0] = GW_CHARGING;
    s.charge_a = 5;
    s.discharge_a = 4;
    s.soc = 60;
    long port = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d;
        long l;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            gw_usage(stdout);
            return 0;
        } else if (v == NULL) {
            app__err("sim: %s needs a value (try: batlink sim --goodwe --help)", a);
            return BL_EXIT_USAGE;
        } else if (strcmp(a, "--goodwe") == 0) {
            if (!app__parse_long(a, v, 0, 65535, &port)) return BL_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--proto") == 0) {
            if (strcmp(v, "udp") != 0 && strcmp(v, "tcp") != 0) {
                app__err("sim: --proto: expected udp or tcp, got \"%s\"", v);
                return BL_EXIT_USAGE;
            }
            s.tcp = strcmp(v, "tcp") == 0;
            i++;
        } else if (strcmp(a, "--scenario") == 0) {
            if (!parse_scen(v, gw_names, "goodwe", &s.scen)) return BL_EXIT_USAGE;
            i++;
        } else if (strcmp(a, "--each") == 0) {
            if (!app__parse_double(a, v, 0.1, 86400, &d)) return BL_EXIT_USAGE;
            s.scen.each = (bl_us)(d * S_US);
            i++;
        } else if (strcmp(a, "--charge-a") == 0 || strcmp(a, "--discharge-a") == 0) {
            if (!app__parse_double(a, v, 0, 3000, &d)) return BL_EXIT_USAGE;
            *(a[2] == 'c' ? &s.charge_a : &s.discharge_a) = d;
            i++;
        } else if (strcmp(a, "--soc") == 0) {
            if (!app__parse_long(a, v, 0, 100, &l)) return BL_EXIT_USAGE;
            s.soc = (unsigned)l;
            i++;
        } else if (strcmp(a, "--duration") == 0) {
            if (!app__parse_double(a, v, 0.1, 1e7, &d)) return BL_EXIT_USAGE;
            s.duration = (bl_us)(d * S_US);
            i++;
        } else {
            app__err("sim: unknown option %s (try: batlink sim --goodwe --help)", a);
            return BL_EXIT_USAGE;
        }
    }
    if (port < 0) {
        app__err("sim: --goodwe needs a PORT (0 = any free port)");
        return BL_EXIT_USAGE;
    }
    s.fd = socket(AF_INET, (s.tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    socklen_t sl = sizeof sa;
    if (s.fd < 0 || setsockopt(s.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(s.fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (s.tcp && listen(s.fd, 4) < 0) ||
        getsockname(s.fd, (struct sockaddr *)&sa, &sl) < 0) {
        app__err("sim: goodwe: 127.0.0.1:%ld: %s", port, strerror(errno));
        if (s.fd >= 0) close(s.fd);
        return BL_EXIT_FAIL;
    }
    int rc = BL_EXIT_FAIL;
    if (bl_loop_new(&s.loop) != BL_OK) goto out;
    if (!app__sigstop_open(&s.sig, s.loop)) {
        app__err("sim: signals: %s", strerror(errno));
        bl_loop_free(s.loop);
        goto out;
    }
    s.start = bl_now_mono();
    s.lw = bl_loop_watch(s.loop, s.fd, POLLIN, s.tcp ? gw_accept : gw_udp, &s);
    if (s.lw == NULL ||
        (s.duration > 0 && bl_loop_timer(s.loop, s.start + s.duration, 0, gw_stop, &s) == NULL))
        goto done;
    fprintf(stderr, "sim: goodwe: listening on 127.0.0.1:%u/%s, scenario %s\n", ntohs(sa.sin_port),
            s.tcp ? "tcp" : "udp", gw_names[s.scen.v[0]]);
    rc = bl_loop_run(s.loop) == BL_OK ? 0 : BL_EXIT_FAIL;
    fprintf(stderr, "sim: goodwe: %lu requests, %lu answers, %lu rejected\n", s.requests, s.answers,
            s.rejected);
done:
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (s.cl[i].fd >= 0) gw_drop(&s.cl[i]);
    app__sigstop_close(&s.sig);
    bl_loop_free(s.loop);
out:
    close(s.fd);
    return rc;
}
