/* SPDX-License-Identifier: MIT */
/* pylon_console.c: Pylontech console port (RS232 text, read-only): the `pwr` table of every
 * module of a stack, columns located by their header, into struct bl_bms modules; then `bat N`
 * for each module `pwr` listed: its per-cell table (voltage, current, temperature, states, SOC,
 * coulomb, balancing). Facts: shared/reference/bms-serial.md section 5.6 (`pwr` sample:
 * data/bms/pylontech_console_irekzielinski.txt); `bat N`: tests/data/pylontech_console_bat_*.txt.
 */
#include <string.h>

#include "bms/codec_int.h"

enum { ANSWER_MAX = 4096, LINE_MAX_ = 256, COLS = 24 };

/* Wake-up frame, sent at 1200 Bd before switching to 115200 Bd (5.6). */
static const uint8_t wake[] = "~20014682C0048520FCC3\r";
static const char end_marker[] = "$$";

/* The columns read from `pwr` (5.6); units: mV, mA, m degC, %. */
enum col {
    C_POWER,
    C_VOLT,
    C_CURR,
    C_TEMPR,
    C_TLOW,
    C_THIGH,
    C_VLOW,
    C_VHIGH,
    C_BASE,
    C_COULOMB,
    C__N
};
static const char *const col_name[C__N] = {"Power", "Volt", "Curr",  "Tempr",   "Tlow",
                                           "Thigh", "Vlow", "Vhigh", "Base.St", "Coulomb"};

/* "pwr\n" for step 0, "bat N\n" after it. */
static enum bl_err command(unsigned step, unsigned module, uint8_t *buf, size_t cap, size_t *len)
{
    if (step == 0) {
        if (cap < 4) return BL_ERR_SHORT;
        memcpy(buf, "pwr\n", 4);
        *len = 4;
        return BL_OK;
    }
    if (module == 0 || module > 99) return BL_ERR_RANGE;
    if (cap < 7) return BL_ERR_SHORT;
    size_t p = 0;
    memcpy(buf, "bat ", 4);
    p = 4;
    if (module >= 10) buf[p++] = (uint8_t)('0' + module / 10);
    buf[p++] = (uint8_t)('0' + module % 10);
    buf[p++] = '\n';
    *len = p;
    return BL_OK;
}

/* Without the answers so far (the link's check at open, the simulator): `bat <step>`. */
static enum bl_err build(const struct bl_bms_opts *o, unsigned step, uint8_t *buf, size_t cap,
                         size_t *len)
{
    (void)o;
    if (step > BL_BMS_MAX_MODULES) return BL_ERR_RANGE;
    return command(step, step, buf, cap, len);
}

/* `bat N` for module step-1 of the `pwr` answer, by the number `pwr` gave it. */
static enum bl_err build_next(const struct bl_bms_opts *o, unsigned step, const struct bl_bms *acc,
                              uint8_t *buf, size_t cap, size_t *len)
{
    (void)o;
    if (step == 0 || !bl_bms_known(acc, BL_BMS_MODULES) || step > acc->module_count ||
        step > BL_BMS_MAX_MODULES)
        return BL_ERR_RANGE;
    unsigned n = acc->module[step - 1].number;
    return command(step, n != 0 ? n : step, buf, cap, len);
}

/* Offset of `pat` (n bytes) in buf[0..len), or len. */
static size_t find(const uint8_t *buf, size_t len, const char *pat, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(buf + i, pat, n) == 0) return i;
    return len;
}

struct line {
    const uint8_t *p;
    size_t n, at;
};

/* Token starting at column `c` of `l` (non-blank run), or n = 0. */
static struct line token(const struct line *l, size_t c)
{
    struct line t = {l->p, 0, l->at};
    if (c >= l->n || l->p[c] == ' ') return t;
    t.p = l->p + c;
    t.at = l->at + c;
    while (c + t.n < l->n && l->p[c + t.n] != ' ')
        t.n++;
    return t;
}

static bool tok_is(const struct line *t, const char *s)
{
    return t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

/* Signed decimal integer (optional trailing '%'), |v| < 10^9. */
static bool tok_int(const struct line *t, int32_t *v)
{
    size_t i = 0;
    bool neg = false;
    if (t->n > 0 && t->p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= t->n) return false;
    int32_t x = 0;
    for (; i < t->n; i++) {
        if (t->p[i] == '%' && i == t->n - 1 && i > 0) break;
        if (t->p[i] < '0' || t->p[i] > '9' || x > 99999999) return false;
        x = x * 10 + (t->p[i] - '0');
    }
    *v = neg ? -x : x;
    return true;
}

static uint8_t base_state(const struct line *t)
{
    return tok_is(t, "Charge")    ? BL_BMS_CHARGING
           : tok_is(t, "Dischg")  ? BL_BMS_DISCHARGING
           : tok_is(t, "Balance") ? BL_BMS_BALANCE
                                  : BL_BMS_IDLE;
}

/* One data line into module `m`; false (with why) when a value is missing or impossible. */
static enum bl_err module_line(const struct line *l, const size_t *col, struct bl_bms_module *m,
                               struct bl_diag *why)
{
    int32_t v[C__N] = {0};
    for (int c = C_VOLT; c < C__N; c++) {
        if (c == C_BASE) continue;
        struct line t = token(l, col[c]);
        if (!tok_int(&t, &v[c])) {
            bl_diag_set(why, "Pylontech console: a value of pwr is not a number", t.at);
            return BL_ERR_INVAL;
        }
    }
    struct line base = token(l, col[C_BASE]);
    struct line num = token(l, col[C_POWER]);
    int32_t number = 0;
    if (!tok_int(&num, &number) || number < 1 || number > 99) {
        bl_diag_set(why, "Pylontech console: the module number of pwr is not 1..99", num.at);
        return BL_ERR_INVAL;
    }
    memset(m, 0, sizeof *m);
    m->number = (uint8_t)number;
    if (v[C_VOLT] < 0 || (uint32_t)v[C_VOLT] > BL_BMS_PACK_MV_MAX || v[C_COULOMB] < 0 ||
        v[C_COULOMB] > 100 || v[C_VLOW] < BL_BMS_CELL_MV_MIN || v[C_VHIGH] > BL_BMS_CELL_MV_MAX ||
        v[C_VLOW] > v[C_VHIGH] || v[C_CURR] > BL_BMS_CURRENT_MA_MAX ||
        v[C_CURR] < -BL_BMS_CURRENT_MA_MAX || v[C_TLOW] / 100 < BL_BMS_TEMP_DC_MIN ||
        v[C_THIGH] / 100 > BL_BMS_TEMP_DC_MAX || v[C_TEMPR] / 100 < BL_BMS_TEMP_DC_MIN ||
        v[C_TEMPR] / 100 > BL_BMS_TEMP_DC_MAX) {
        bl_diag_set(why, "Pylontech console: impossible value in pwr", l->at);
        return BL_ERR_RANGE;
    }
    m->voltage_mv = (uint32_t)v[C_VOLT];
    m->current_ma = v[C_CURR];
    m->temp_dc = (int16_t)(v[C_TEMPR] / 100);
    m->temp_min_dc = (int16_t)(v[C_TLOW] / 100);
    m->temp_max_dc = (int16_t)(v[C_THIGH] / 100);
    m->cell_min_mv = (uint16_t)v[C_VLOW];
    m->cell_max_mv = (uint16_t)v[C_VHIGH];
    m->soc_pct = (uint8_t)v[C_COULOMB];
    m->state = base_state(&base);
    m->known = BL_BMS_M_VOLTAGE | BL_BMS_M_CURRENT | BL_BMS_M_TEMP | BL_BMS_M_CELLS | BL_BMS_M_SOC |
               BL_BMS_M_STATE;
    return BL_OK;
}

/* Pack values of a parallel stack: voltage and SOC averaged (no capacities on the console),
 * current summed, extremes over the modules. */
static void totals(struct bl_bms *b)
{
    int64_t v = 0, cur = 0, soc = 0;
    for (unsigned i = 0; i < b->module_count; i++) {
        const struct bl_bms_module *m = &b->module[i];
        v += m->voltage_mv;
        cur += m->current_ma;
        soc += m->soc_pct;
        if (i == 0 || m->cell_max_mv > b->cell_max_mv) b->cell_max_mv = m->cell_max_mv;
        if (i == 0 || m->cell_min_mv < b->cell_min_mv) b->cell_min_mv = m->cell_min_mv;
        if (i == 0 || m->temp_max_dc > b->temp_max_dc) b->temp_max_dc = m->temp_max_dc;
        if (i == 0 || m->temp_min_dc < b->temp_min_dc) b->temp_min_dc = m->temp_min_dc;
    }
    b->pack_mv = (uint32_t)(v / b->module_count);
    b->current_ma = (int32_t)cur;
    b->soc_pct = (uint8_t)((soc + b->module_count / 2) / b->module_count);
    static const enum bl_bms_item set[] = {BL_BMS_PACK_VOLTAGE,  BL_BMS_CURRENT,
                                           BL_BMS_SOC,           BL_BMS_CELL_EXTREMES,
                                           BL_BMS_TEMP_EXTREMES, BL_BMS_MODULES};
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++)
        bms__set(b, set[i]);
}

static enum bl_err table(const uint8_t *buf, size_t end, struct bl_bms *b, struct bl_diag *why)
{
    size_t col[C__N];
    bool header = false;
    unsigned count = 0;
    size_t p = 0;
    while (p < end) {
        size_t q = p;
        while (q < end && buf[q] != '\r' && buf[q] != '\n')
            q++;
        struct line l = {buf + p, q - p, p};
        if (!header && l.n > 0 && l.n < LINE_MAX_ && l.p[0] == 'P') {
            /* header: every column found as a whole word; its start is the column */
            unsigned found = 0;
            for (size_t c = 0; c < l.n; c++) {
                if (l.p[c] == ' ' || (c > 0 && l.p[c - 1] != ' ')) continue;
                struct line t = token(&l, c);
                for (int k = 0; k < C__N; k++)
                    if (tok_is(&t, col_name[k]) && !(found >> k & 1u)) {
                        col[k] = c;
                        found |= 1u << k;
                    }
            }
            header = found == (1u << C__N) - 1;
        } else if (header && l.n > 0 && l.p[0] >= '0' && l.p[0] <= '9') {
            struct line base = token(&l, col[C_BASE]);
            if (!tok_is(&base, "Absent")) {
                if (count >= BL_BMS_MAX_MODULES) {
                    bl_diag_set(why, "Pylontech console: more than 16 modules", l.at);
                    return BL_ERR_RANGE;
                }
                enum bl_err e = module_line(&l, col, &b->module[count], why);
                if (e != BL_OK) return e;
                count++;
            }
        }
        p = q + 1;
    }
    if (!header || count == 0) {
        bl_diag_set(why, "Pylontech console: no pwr table with a present module", 0);
        return BL_ERR_INVAL;
    }
    b->module_count = (uint8_t)count;
    totals(b);
    return BL_OK;
}

/* ---- `bat N` ------------------------------------------------------------------------------ */

/* Next blank-separated token of `l` from *pos (n = 0 at the end). */
static struct line next_tok(const struct line *l, size_t *pos)
{
    while (*pos < l->n && l->p[*pos] == ' ')
        (*pos)++;
    struct line t = token(l, *pos < l->n ? *pos : l->n);
    *pos += t.n;
    return t;
}

static bool has(const struct line *l, const char *word)
{
    return find(l->p, l->n, word, strlen(word)) < l->n;
}

static bool tok_word(const struct line *t)
{
    if (t->n == 0) return false;
    for (size_t i = 0; i < t->n; i++)
        if (!((t->p[i] >= 'A' && t->p[i] <= 'Z') || (t->p[i] >= 'a' && t->p[i] <= 'z')))
            return false;
    return true;
}

/* What one `bat` answer says of its module. */
struct cells {
    unsigned n;
    uint16_t mv[BL_BMS_MAX_CELLS];
    uint32_t coulomb_min_mah; /* the string holds what its emptiest cell holds */
    bool coulomb;             /* every row had "NNN mAH" */
    bool bal_column;
    uint32_t balancing; /* bit i: cell i+1 balancing (BAL = Y) */
};

/* One cell row: index volt curr tempr base-state volt-state curr-state temp-state, then the tail
 * the firmware prints: "SOC% coulomb mAH BAL" (with a SOC and a BAL column) or "SOC% coulomb mAH"
 * under Coulomb (without). Rows are split on blanks: no bat field is empty or holds a blank
 * (unlike pwr's "-" and Time), and the values do not line up with their headers (a number may
 * start a column early). */
static enum bl_err cell_row(const struct line *l, struct cells *c, struct bl_diag *why)
{
    size_t pos = 0;
    int32_t v[4];
    for (int k = 0; k < 4; k++) {
        struct line t = next_tok(l, &pos);
        if (!tok_int(&t, &v[k]) || (t.n > 0 && t.p[t.n - 1] == '%')) {
            bl_diag_set(why, "Pylontech console bat: a cell row lacks a number",
                        t.n ? t.at : l->at);
            return BL_ERR_SHORT;
        }
    }
    if (v[0] != (int32_t)c->n) {
        bl_diag_set(why, "Pylontech console bat: cell rows out of order", l->at);
        return BL_ERR_SHORT;
    }
    if (c->n >= BL_BMS_MAX_CELLS) {
        bl_diag_set(why, "Pylontech console bat: more than 32 cells", l->at);
        return BL_ERR_RANGE;
    }
    if (v[1] < BL_BMS_CELL_MV_MIN || v[1] > BL_BMS_CELL_MV_MAX || v[2] > BL_BMS_CURRENT_MA_MAX ||
        v[2] < -BL_BMS_CURRENT_MA_MAX || v[3] / 100 < BL_BMS_TEMP_DC_MIN ||
        v[3] / 100 > BL_BMS_TEMP_DC_MAX) {
        bl_diag_set(why, "Pylontech console bat: impossible cell value", l->at);
        return BL_ERR_RANGE;
    }
    for (int k = 0; k < 4; k++) { /* base, volt, current and temperature state: words */
        struct line t = next_tok(l, &pos);
        if (!tok_word(&t)) {
            bl_diag_set(why, "Pylontech console bat: a cell state is not a word",
                        t.n ? t.at : l->at);
            return BL_ERR_SHORT;
        }
    }
    bool soc = false, mah = false, bal = false;
    int32_t num = -1;
    for (struct line t = next_tok(l, &pos); t.n > 0; t = next_tok(l, &pos)) {
        int32_t x;
        if (t.p[t.n - 1] == '%' && !soc && num < 0 && tok_int(&t, &x)) {
            if (x > 100 || x < 0) {
                bl_diag_set(why, "Pylontech console bat: cell SOC above 100 %", t.at);
                return BL_ERR_RANGE;
            }
            soc = true;
        } else if (t.p[t.n - 1] != '%' && num < 0 && !mah && tok_int(&t, &x) && x >= 0) {
            num = x;
        } else if (tok_is(&t, "mAH") && num >= 0 && !mah) {
            mah = true;
            if (c->n == 0 || (uint32_t)num < c->coulomb_min_mah) c->coulomb_min_mah = (uint32_t)num;
        } else if ((tok_is(&t, "Y") || tok_is(&t, "N")) && mah && !bal) {
            bal = true;
            if (t.p[0] == 'Y') c->balancing |= 1u << c->n;
        } else {
            bl_diag_set(why, "Pylontech console bat: unexpected text in a cell row", t.at);
            return BL_ERR_SHORT;
        }
    }
    if (!soc || !mah || (c->n > 0 && bal != c->bal_column)) {
        bl_diag_set(why, "Pylontech console bat: a cell row lacks its SOC or coulomb", l->at);
        return BL_ERR_SHORT;
    }
    c->bal_column = bal;
    c->coulomb = true;
    c->mv[c->n++] = (uint16_t)v[1];
    return BL_OK;
}

static enum bl_err bat_table(const uint8_t *buf, size_t end, struct cells *c, struct bl_diag *why)
{
    bool header = false;
    size_t p = 0;
    memset(c, 0, sizeof *c);
    while (p < end) {
        size_t q = p;
        while (q < end && buf[q] != '\r' && buf[q] != '\n')
            q++;
        struct line l = {buf + p, q - p, p};
        if (!header) {
            header = l.n >= 7 && memcmp(l.p, "Battery", 7) == 0 && has(&l, "Volt") &&
                     has(&l, "Curr") && has(&l, "Tempr") && has(&l, "Base State") &&
                     has(&l, "Coulomb");
        } else if (l.n > 0 && l.p[0] >= '0' && l.p[0] <= '9') {
            enum bl_err e = cell_row(&l, c, why);
            if (e != BL_OK) return e;
        }
        p = q + 1;
    }
    if (c->n == 0) {
        bl_diag_set(why, "Pylontech console: no bat table with a cell", 0);
        return BL_ERR_SHORT;
    }
    return BL_OK;
}

/* Merge the cells of module `k` (step k + 1) into the reading. */
static void merge_cells(const struct cells *c, unsigned k, struct bl_bms *b)
{
    struct bl_bms_module *m = &b->module[k];
    m->cell_count = (uint8_t)c->n;
    for (unsigned i = 0; i < c->n; i++) {
        if (i == 0 || c->mv[i] > m->cell_max_mv) {
            m->cell_max_mv = c->mv[i];
            m->cell_max_num = (uint8_t)(i + 1);
        }
        if (i == 0 || c->mv[i] < m->cell_min_mv) {
            m->cell_min_mv = c->mv[i];
            m->cell_min_num = (uint8_t)(i + 1);
        }
    }
    m->known |= BL_BMS_M_CELLS;
    if (b->module_count == 1) { /* one module: its cells are the pack's */
        b->cell_count = (uint8_t)c->n;
        memcpy(b->cell_mv, c->mv, c->n * sizeof c->mv[0]);
        bms__set(b, BL_BMS_CELLS);
        b->cell_max_num = m->cell_max_num;
        b->cell_min_num = m->cell_min_num;
    }
    /* pack extremes again: bat may be newer than pwr's Vhigh/Vlow */
    for (unsigned i = 0; i < b->module_count; i++) {
        const struct bl_bms_module *x = &b->module[i];
        if (i == 0 || x->cell_max_mv > b->cell_max_mv) b->cell_max_mv = x->cell_max_mv;
        if (i == 0 || x->cell_min_mv < b->cell_min_mv) b->cell_min_mv = x->cell_min_mv;
    }
    /* remaining capacity: the modules in parallel, summed once every module has answered with
     * a coulomb count (step 1 starts the sum) */
    if (k == 0) {
        b->remaining_mah = 0;
        b->known &= ~(1ull << BL_BMS_REMAINING_CAPACITY);
        if (c->coulomb) bms__set(b, BL_BMS_REMAINING_CAPACITY);
        b->balancer_state = 0;
        b->balancing_cells = 0;
        b->known &= ~(1ull << BL_BMS_BALANCING);
    } else if (!c->coulomb) {
        b->known &= ~(1ull << BL_BMS_REMAINING_CAPACITY);
    }
    if (bl_bms_known(b, BL_BMS_REMAINING_CAPACITY)) b->remaining_mah += c->coulomb_min_mah;
    if (c->bal_column) {
        if (c->balancing) b->balancer_state = 1;
        if (b->module_count == 1) b->balancing_cells = c->balancing;
        bms__set(b, BL_BMS_BALANCING);
    }
}

static enum bl_err parse(const struct bl_bms_opts *o, unsigned step, const uint8_t *buf, size_t len,
                         size_t *used, struct bl_bms *acc, struct bl_bms_reply *rep,
                         struct bl_diag *why)
{
    (void)o;
    *used = 0;
    size_t end = find(buf, len, end_marker, sizeof end_marker - 1);
    if (end == len) {
        if (len < ANSWER_MAX) return BL_ERR_AGAIN;
        *used = len - (sizeof end_marker - 2); /* keep a possible half marker */
        bl_diag_set(why, "Pylontech console: no end marker $$ within 4096 bytes", len - 1);
        return BL_ERR_INVAL;
    }
    *used = end + sizeof end_marker - 1;
    if (step > BL_BMS_MAX_MODULES ||
        (step > 0 && (!bl_bms_known(acc, BL_BMS_MODULES) || step > acc->module_count))) {
        bl_diag_set(why, "Pylontech console: answer while no command is in flight", 0);
        return BL_ERR_INVAL;
    }
    struct bl_bms tmp = *acc;
    enum bl_err e;
    if (step == 0) {
        e = table(buf, end, &tmp, why);
    } else {
        struct cells c;
        e = bat_table(buf, end, &c, why);
        if (e == BL_OK) merge_cells(&c, step - 1, &tmp);
    }
    if (e != BL_OK) return e;
    e = bms__commit(&tmp, acc, why, 0);
    if (e != BL_OK) return e;
    rep->step = step;
    rep->addr = -1;
    rep->step_done = true;
    return BL_OK;
}

const struct bl_bms_codec bms__pylon_console = {
    .scheme = "pylon-console",
    .name = "Pylontech console",
    .ref = "bms-serial.md 5.6",
    .serial = {115200, 8, 'N', 1},
    .steps = 1 + BL_BMS_MAX_MODULES, /* pwr, then bat N for each module it listed */
    .reply_max = ANSWER_MAX,
    .timeout_ms = 3000,
    .gap_ms = 1000,
    .wake = wake,
    .wake_len = sizeof wake - 1,
    .wake_baud = 1200,
    .monitor_only = true, /* `pwr` and `bat N` carry no alarm bits or MOSFET status */
    .build_request = build,
    .build_next = build_next,
    .parse = parse,
    .frame_at = NULL, /* text: no frame to recognise in a byte stream */
    .finish = bms__finish_check,
};
