/*
 * qcxl direct-map fuzzer: the direct map against the software decode.
 *
 * Two QEMUs with the same CXL topology: A with the direct map (linear
 * aliases, interleaved sets), B with -M cxl-direct-map=off, where every
 * access to the fixed memory window goes through upstream's software
 * decode: the oracle.  The same random operations go to both over the
 * qtest protocol:
 *
 * - HDM decoders programmed on random paths (host bridge, switch upstream
 *   port, endpoints): bases, sizes, ways (valid and not), granularities,
 *   targets and DPA skips, the registers written in random orders,
 *   committed or not; uncommits; garbage in single registers;
 * - coherent interleaves over every device (so that sets get built);
 * - window writes and reads, single and in 4 KiB-strided sweeps (device
 *   bytes reached from several addresses show there);
 * - waiting until A's sets are built, switching A's direct map off and on,
 *   system resets, and (dynamic capacity) extents added and released.
 *
 * Every read must give the same bytes on both, and every mailbox command
 * the same return code; a difference fails the test with the seed and
 * the last operations.  Neither QEMU may crash.
 *
 *   QCXL_FUZZ_SEED     the seed (default: a fresh one, printed)
 *   QCXL_FUZZ_SECONDS  how long to fuzz each topology (default 10)
 *   QCXL_FUZZ_TOPOS    which topologies, comma-separated (default all)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qcxl-wait.h"
#include "qcxl-cxl-topo.h"

#define LOG_LEN         32      /* operations shown when a read differs */
#define IO_SPAN         (3 * GiB) /* where decoders and accesses go */
#define DC_BAR2         0xfe080000u

typedef struct FuzzTopo {
    const char *name;
    const char *kind;           /* topo_new()'s */
    const char *extra;
    int min_set_ig;             /* the finest granularity sets can map */
} FuzzTopo;

static const FuzzTopo fuzz_topos[] = {
    { "host-bridge", "hb2-ram", NULL },
    /* Shared files: sets of the files' own pages at 4 KiB and up */
    { "host-bridge-files", "hb2", NULL, 4 },
    { "host-bridge-4", "hb4-ram", NULL },
    { "switch", "switch2-ram", NULL },
    { "two-host-bridges", "2hb-ram", NULL },
    { "dynamic-capacity", "1way-dc", NULL },
    /* The decoders committed at reset, then reprogrammed by the fuzzer */
    { "firmware", "switch2-ram",
      "-M cxl-firmware=ram -smp 2 "
      "-object memory-backend-ram,id=dram0,size=128M "
      "-numa node,nodeid=0,cpus=0-1,memdev=dram0 " },
};

typedef struct Fuzz {
    const FuzzTopo *topo;
    uint32_t seed;
    GRand *rng;
    Topo *t[2];                 /* [0]: direct map, [1]: the oracle */
    uint64_t mb[2];             /* dynamic capacity: the mailboxes */
    uint64_t hdm[10];           /* decoder components ... */
    int nports[10];             /* ... and the ports they route to */
    bool endpoint[10];
    int ncomp;
    uint64_t recent[64];        /* addresses written lately */
    int nrecent;
    char *log[LOG_LEN];         /* the last operations */
    unsigned nops;
    unsigned reads, writes, settles, resets, sets_seen;
    double slowest;             /* the slowest operation: seconds ... */
    char *slowest_op;           /* ... and what it was */
} Fuzz;

static void G_GNUC_PRINTF(2, 3) note(Fuzz *f, const char *fmt, ...)
{
    va_list ap;
    int i = f->nops++ % LOG_LEN;

    g_free(f->log[i]);
    va_start(ap, fmt);
    f->log[i] = g_strdup_vprintf(fmt, ap);
    va_end(ap);
}

static void show_log(Fuzz *f)
{
    unsigned i, first = f->nops > LOG_LEN ? f->nops - LOG_LEN : 0;

    for (i = first; i < f->nops; i++) {
        g_test_message("op %u: %s", i, f->log[i % LOG_LEN]);
    }
}

static void diverged(Fuzz *f, const char *what)
{
    show_log(f);
    g_test_message("%s: %s diverged after %u operations "
                   "(QCXL_FUZZ_SEED=%u to replay)", f->topo->name, what,
                   f->nops, f->seed);
}

static uint32_t rnd(Fuzz *f, uint32_t n)
{
    return g_rand_int_range(f->rng, 0, n);
}

static bool chance(Fuzz *f, int percent)
{
    return rnd(f, 100) < percent;
}

/* ---- The same operation on both ---- */

static void both_writel(Fuzz *f, uint64_t addr, uint32_t val)
{
    qtest_writel(f->t[0]->qts, addr, val);
    qtest_writel(f->t[1]->qts, addr, val);
}

static void compare_read(Fuzz *f, uint64_t addr)
{
    uint64_t a = qtest_readq(f->t[0]->qts, addr);
    uint64_t b = qtest_readq(f->t[1]->qts, addr);

    f->reads++;
    if (a != b) {
        g_autofree char *what = g_strdup_printf("a read at 0x%" PRIx64
                                                " (direct map 0x%" PRIx64
                                                ", software decode 0x%"
                                                PRIx64 ")", addr, a, b);
        diverged(f, what);
    }
    g_assert_cmphex(a, ==, b);
}

/* An address in the window: often near a 256 MiB block's start */
static uint64_t some_addr(Fuzz *f)
{
    uint64_t blk = f->t[0]->win + ((uint64_t)rnd(f, IO_SPAN >> 28) << 28);

    if (chance(f, 50)) {
        return blk + rnd(f, 64 * KiB / 8) * 8;
    }
    return blk + (uint64_t)rnd(f, (256 * MiB) / 8) * 8;
}

/* ---- Operations ---- */

static void op_write(Fuzz *f)
{
    uint64_t addr = some_addr(f), v = g_rand_int(f->rng);

    v = v << 32 | g_rand_int(f->rng);
    note(f, "write 0x%" PRIx64 " = 0x%" PRIx64, addr, v);
    qtest_writeq(f->t[0]->qts, addr, v);
    qtest_writeq(f->t[1]->qts, addr, v);
    f->recent[f->nrecent++ % ARRAY_SIZE(f->recent)] = addr;
    f->writes++;
}

static void op_read(Fuzz *f)
{
    uint64_t addr;

    if (f->nrecent && chance(f, 70)) {
        addr = f->recent[rnd(f, MIN(f->nrecent, ARRAY_SIZE(f->recent)))];
    } else {
        addr = some_addr(f);
    }
    note(f, "read 0x%" PRIx64, addr);
    compare_read(f, addr);
}

/* Every 4 KiB from an address: aliased device bytes show here. */
static void op_sweep(Fuzz *f)
{
    uint64_t addr = f->nrecent && chance(f, 50) ?
        f->recent[rnd(f, MIN(f->nrecent, ARRAY_SIZE(f->recent)))] :
        some_addr(f);
    int i;

    note(f, "sweep 16 x 4 KiB from 0x%" PRIx64, addr);
    for (i = 0; i < 16; i++) {
        compare_read(f, addr + i * 4 * KiB);
    }
}

/* Ways encodings: the valid ones, and some that are not */
static uint32_t some_ways(Fuzz *f)
{
    static const uint32_t enc[] = { 0, 1, 2, 3, 8, 9, 0, 1, 4, 0xa, 0xf };

    return enc[rnd(f, chance(f, 90) ? 6 : ARRAY_SIZE(enc))];
}

/* Program decoder @n of component @c: registers in a random order. */
static void op_program(Fuzz *f)
{
    int c = rnd(f, f->ncomp), n = chance(f, 70) ? rnd(f, 2) : rnd(f, 4);
    uint64_t d = f->hdm[c] + HDM_DEC(n);
    uint64_t base = f->t[0]->win + ((uint64_t)rnd(f, 8) << 28);
    uint64_t size = (uint64_t)(1 + rnd(f, 4)) << 28;
    uint64_t tl = 0;
    uint32_t ctrl = rnd(f, 7) | some_ways(f) << CTRL_IW_SHIFT;
    uint32_t regs[6][2];
    int i, j;

    if (f->endpoint[c]) {
        tl = chance(f, 80) ? 0 : (uint64_t)rnd(f, 2) << 28;  /* DPA skip */
    } else {
        for (i = 0; i < 8; i++) {
            uint64_t port = chance(f, 95) ? rnd(f, f->nports[c]) : 7;

            tl |= port << (8 * i);
        }
    }
    if (chance(f, 85)) {
        ctrl |= CTRL_COMMIT;
    }
    note(f, "program comp %d decoder %d: 0x%" PRIx64 "+0x%" PRIx64
         " ctrl 0x%x tl 0x%" PRIx64, c, n, base, size, ctrl, tl);
    regs[0][0] = HDM_BASE_LO; regs[0][1] = (uint32_t)base;
    regs[1][0] = HDM_BASE_HI; regs[1][1] = base >> 32;
    regs[2][0] = HDM_SIZE_LO; regs[2][1] = (uint32_t)size;
    regs[3][0] = HDM_SIZE_HI; regs[3][1] = size >> 32;
    regs[4][0] = HDM_TL_LO; regs[4][1] = (uint32_t)tl;
    regs[5][0] = HDM_TL_HI; regs[5][1] = tl >> 32;
    for (i = 5; i > 0; i--) {
        uint32_t tmp[2];

        j = rnd(f, i + 1);
        memcpy(tmp, regs[i], sizeof(tmp));
        memcpy(regs[i], regs[j], sizeof(tmp));
        memcpy(regs[j], tmp, sizeof(tmp));
    }
    /* Usually the control register last, as a driver does */
    j = chance(f, 80) ? 6 : rnd(f, 7);
    for (i = 0; i <= 6; i++) {
        if (i == j) {
            both_writel(f, d + HDM_CTRL, ctrl);
        }
        if (i < 6) {
            both_writel(f, d + regs[i][0], regs[i][1]);
        }
    }
}

static void op_uncommit(Fuzz *f)
{
    int c = rnd(f, f->ncomp), n = rnd(f, 4);
    uint64_t r = f->hdm[c] + HDM_DEC(n) + HDM_CTRL;
    uint32_t ctrl = qtest_readl(f->t[1]->qts, r);

    note(f, "uncommit comp %d decoder %d", c, n);
    both_writel(f, r, ctrl & ~(CTRL_COMMIT | CTRL_COMMITTED));
}

/* Garbage in one register of one decoder */
static void op_poke(Fuzz *f)
{
    int c = rnd(f, f->ncomp), n = rnd(f, 4);
    uint64_t r = f->hdm[c] + HDM_DEC(n) + rnd(f, 7) * 4;
    uint32_t v = g_rand_int(f->rng);

    note(f, "poke 0x%" PRIx64 " = 0x%x", r, v);
    both_writel(f, r, v);
}

/*
 * A coherent interleave over every device, so that sets get built if
 * its granularity (256 bytes << ig, up to 16 KiB) is at least min_ig.
 */
static void op_coherent(Fuzz *f, int min_ig)
{
    Topo *t = f->t[0];
    int ways = t->nep, ig = min_ig + rnd(f, 7 - min_ig);
    uint32_t iw = ways == 4 ? 2 : ways == 2 ? 1 : 0;
    uint64_t base = t->win + ((uint64_t)rnd(f, 4) << 28);
    uint64_t size = (uint64_t)ways << 28, tl = 0;
    int c, i;

    if (g_str_equal(t->kind, "2hb-ram")) {
        /* The window interleaves the bridges at 256 bytes. */
        ig = 0;
    }
    note(f, "coherent %d ways at 0x%" PRIx64 ", granularity %d", ways, base,
         256 << ig);
    for (i = 0; i < ways; i++) {
        tl |= (uint64_t)i << (8 * i);
    }
    for (c = 0; c < f->ncomp; c++) {
        /* a one-port host bridge decodes its one way */
        uint32_t ciw = f->endpoint[c] || f->nports[c] > 1 ? iw : 0;
        uint32_t ctrl = ig | ciw << CTRL_IW_SHIFT | CTRL_COMMIT;
        int q, d;

        /*
         * Every decoder uncommitted first, the last first (one left
         * committed, by the firmware or an earlier operation, would
         * overlap decoder 0's range), then decoder 0 programmed and
         * committed
         */
        for (d = 3; d >= 0; d--) {
            both_writel(f, f->hdm[c] + HDM_DEC(d) + HDM_CTRL, 0);
        }
        for (q = 0; q < 2; q++) {
            decoder_set(f->t[q]->qts, f->hdm[c], 0, base, size, ctrl,
                        f->endpoint[c] ? 0 : tl);
        }
    }
}

/* Wait until A's sets are built, then look at what they hold. */
static void op_settle(Fuzz *f)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(120, "the direct map's sets "
                                           "to be built (%s)", f->topo->name);
    QTestState *qts = f->t[0]->qts;

    note(f, "settle");
    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{ 'execute': 'query-cxl-direct-map' }");
        QDict *win = qobject_to(QDict, qlist_peek(qdict_get_qlist(rsp,
                                                                 "return")));
        bool building = qdict_get_bool(win, "sets-building");
        QList *ranges = qdict_get_qlist(win, "ranges");
        const QListEntry *e;

        QLIST_FOREACH_ENTRY(ranges, e) {
            QDict *r = qobject_to(QDict, qlist_entry_obj(e));

            f->sets_seen += !building && qdict_haskey(r, "interleaved");
        }
        qobject_unref(rsp);
        if (!building) {
            break;
        }
        qcxl_wait(&d, 20);
    }
    f->settles++;
    op_sweep(f);
}

static void op_toggle(Fuzz *f)
{
    int on;

    note(f, "direct map off and on");
    for (on = 0; on <= 1; on++) {
        qtest_qmp_assert_success(f->t[0]->qts,
                                 "{ 'execute': 'qom-set', 'arguments': "
                                 "{ 'path': '/machine', "
                                 "'property': 'cxl-direct-map', "
                                 "'value': %i } }", on);
        op_sweep(f);
    }
}

static void setup_mailbox(Fuzz *f)
{
    int i;

    for (i = 0; i < 2; i++) {
        cfg_write(f->t[i]->qts, 13 << 8, 0x18, DC_BAR2);
        cfg_write(f->t[i]->qts, 13 << 8, 0x1c, 0);
        f->mb[i] = find_mailbox(f->t[i]->qts, DC_BAR2);
    }
}

static void op_reset(Fuzz *f)
{
    int i;

    note(f, "system reset");
    for (i = 0; i < 2; i++) {
        qtest_system_reset(f->t[i]->qts);
        topo_setup(f->t[i]);
    }
    if (f->mb[0]) {
        setup_mailbox(f);
    }
    f->resets++;
}

/* Dynamic capacity: the host offers or takes back an extent. */
static void op_extent(Fuzz *f)
{
    bool add = chance(f, 60);
    uint64_t off = (uint64_t)rnd(f, 120) * 2 * MiB;
    uint64_t len = (uint64_t)(1 + rnd(f, 4)) * 2 * MiB;
    uint8_t pl[32];
    int i, rc[2];
    bool ok[2];

    note(f, "%s extent 0x%" PRIx64 "+0x%" PRIx64, add ? "add" : "release",
         off, len);
    for (i = 0; i < 2; i++) {
        QDict *r = qtest_qmp(f->t[i]->qts,
                             add ? "{ 'execute': 'cxl-add-dynamic-capacity', "
                             "'arguments': { 'path': "
                             "'/machine/peripheral/ep0', 'host-id': 0, "
                             "'selection-policy': 'prescriptive', "
                             "'region': 0, 'extents': "
                             "[ { 'offset': %" PRIu64 ", 'len': %" PRIu64
                             " } ] } }" :
                             "{ 'execute': 'cxl-release-dynamic-capacity', "
                             "'arguments': { 'path': "
                             "'/machine/peripheral/ep0', 'host-id': 0, "
                             "'removal-policy': 'prescriptive', "
                             "'region': 0, 'extents': "
                             "[ { 'offset': %" PRIu64 ", 'len': %" PRIu64
                             " } ] } }", off, len);

        ok[i] = qdict_haskey(r, "return");
        qobject_unref(r);
        one_extent(pl, off, len);
        /* The device accepts what was offered, or gives it back */
        rc[i] = ok[i] ? mbox_cmd(f->t[i]->qts, f->mb[i],
                                 add ? 0x4802 : 0x4803, pl, sizeof(pl)) : -1;
    }
    if (ok[0] != ok[1] || rc[0] != rc[1]) {
        diverged(f, "a dynamic capacity command");
    }
    g_assert_cmpint(ok[0], ==, ok[1]);
    g_assert_cmpint(rc[0], ==, rc[1]);
}

/* ---- A run ---- */

/* Does @t's one-port host bridge decode (hdm_for_passthrough=on)? */
static bool hb_decodes(Topo *t)
{
    QDict *rsp;
    bool on;

    if (g_str_has_prefix(t->kind, "2hb")) {
        return false;
    }
    rsp = qtest_qmp(t->qts, "{ 'execute': 'qom-get', 'arguments': {"
                    " 'path': '/machine/peripheral/cxl.1',"
                    " 'property': 'hdm_for_passthrough' } }");
    g_assert(qdict_haskey(rsp, "return"));
    on = qdict_get_bool(rsp, "return");
    qobject_unref(rsp);
    return on;
}

static void find_components(Fuzz *f)
{
    Topo *t = f->t[0];
    int i;

    f->ncomp = 0;
    if (t->hb_hdm) {
        f->nports[f->ncomp] = t->nep;
        f->hdm[f->ncomp++] = t->hb_hdm;
    } else if (hb_decodes(t)) {
        /* One root port, and decoders all the same (hdm_for_passthrough) */
        f->nports[f->ncomp] = 1;
        f->hdm[f->ncomp++] = find_hdm(t->qts, t->host_reg);
    }
    if (t->usp_hdm) {
        f->nports[f->ncomp] = 2;
        f->hdm[f->ncomp++] = t->usp_hdm;
    }
    for (i = 0; i < t->nep; i++) {
        f->endpoint[f->ncomp] = true;
        f->hdm[f->ncomp++] = t->ep_hdm[i];
    }
    /* Both QEMUs place everything alike. */
    g_assert_cmphex(f->t[1]->win, ==, t->win);
    for (i = 0; i < t->nep; i++) {
        g_assert_cmphex(f->t[1]->ep_hdm[i], ==, t->ep_hdm[i]);
    }
}

static uint32_t fuzz_seed(void)
{
    static uint32_t seed;
    const char *s = g_getenv("QCXL_FUZZ_SEED");

    if (!seed) {
        unsigned long v = 0;

        if (s && qemu_strtoul(s, NULL, 0, &v) < 0) {
            g_error("QCXL_FUZZ_SEED=%s is not a number", s);
        }
        seed = s ? v : g_random_int();
        seed = seed ?: 1;
    }
    return seed;
}

static void fuzz_topology(const void *opaque)
{
    const FuzzTopo *ft = opaque;
    const char *secs_env = g_getenv("QCXL_FUZZ_SECONDS");
    double secs = secs_env ? g_ascii_strtod(secs_env, NULL) : 10;
    g_autofree char *oracle = g_strdup_printf("-M cxl-direct-map=off %s",
                                              ft->extra ?: "");
    Fuzz f = { .topo = ft };
    int64_t end;
    int i;

    f.seed = fuzz_seed() + (ft - fuzz_topos);
    f.rng = g_rand_new_with_seed(f.seed);
    g_test_message("%s: QCXL_FUZZ_SEED=%u for %.0f s", ft->name, f.seed,
                   secs);
    f.t[0] = topo_new(ft->kind, ft->extra);
    f.t[1] = topo_new(ft->kind, oracle);
    find_components(&f);
    if (g_str_equal(ft->kind, "1way-dc")) {
        setup_mailbox(&f);
    }
    end = g_get_monotonic_time() + secs * G_USEC_PER_SEC;
    /*
     * Sets to start from, at a granularity the media can map (a shared
     * file's sets need whole pages): the random operations then take
     * them apart, and their own interleaves take any granularity.
     */
    op_coherent(&f, ft->min_set_ig);
    op_write(&f);
    op_settle(&f);
    while (g_get_monotonic_time() < end) {
        uint32_t p = rnd(&f, 1000);
        int64_t t0 = g_get_monotonic_time();
        unsigned op = f.nops;

        if (p < 250) {
            op_write(&f);
        } else if (p < 450) {
            op_read(&f);
        } else if (p < 550) {
            op_sweep(&f);
        } else if (p < 750) {
            op_program(&f);
        } else if (p < 820) {
            op_uncommit(&f);
        } else if (p < 850) {
            op_poke(&f);
        } else if (p < 910) {
            op_coherent(&f, 0);
            if (chance(&f, 50)) {
                op_settle(&f);
            }
        } else if (p < 960) {
            op_settle(&f);
        } else if (p < 975) {
            op_toggle(&f);
        } else if (p < 985) {
            op_reset(&f);
        } else if (f.mb[0]) {
            op_extent(&f);
        }
        if (f.nops > op &&
            (g_get_monotonic_time() - t0) / 1e6 > f.slowest) {
            f.slowest = (g_get_monotonic_time() - t0) / 1e6;
            g_free(f.slowest_op);
            f.slowest_op = g_strdup(f.log[op % LOG_LEN]);
        }
    }
    g_test_message("%s: %u operations, %u reads, %u writes, %u settles "
                   "(%u interleaved ranges seen mapped), %u resets: "
                   "no divergence; the slowest took %.2f s (%s)", ft->name,
                   f.nops, f.reads, f.writes, f.settles, f.sets_seen,
                   f.resets, f.slowest, f.slowest_op ?: "none");
    /* A run that never built a set has not tested them */
    if (!g_str_equal(ft->kind, "1way-dc") && !f.sets_seen) {
        show_log(&f);
        g_assert_cmpuint(f.sets_seen, >, 0);
    }
    topo_free(f.t[0]);
    topo_free(f.t[1]);
    for (i = 0; i < LOG_LEN; i++) {
        g_free(f.log[i]);
    }
    g_free(f.slowest_op);
    g_rand_free(f.rng);
}

int main(int argc, char **argv)
{
    const char *only = g_getenv("QCXL_FUZZ_TOPOS");
    g_auto(GStrv) want = only ? g_strsplit(only, ",", -1) : NULL;
    int i;

    g_test_init(&argc, &argv, NULL);
    for (i = 0; i < ARRAY_SIZE(fuzz_topos); i++) {
        g_autofree char *path = NULL;

        if (want && !g_strv_contains((const char *const *)want,
                                     fuzz_topos[i].name)) {
            continue;
        }
        path = g_strdup_printf("/qcxl/dm-fuzz/%s", fuzz_topos[i].name);
        qtest_add_data_func(path, &fuzz_topos[i], fuzz_topology);
    }
    return g_test_run();
}
