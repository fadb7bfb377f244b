/*
 * qcxl direct-map qtest: CXL HDM decoders programmed through MMIO, as
 * firmware or the Linux cxl driver would, and what the fixed memory
 * window then holds.
 *
 * - committed, non-interleaved decode becomes RAM in the system flat view
 *   (that is what gives KVM memslots) and the rest of the window stays
 *   I/O (upstream's software decode);
 * - data written through the window is in the device's backend and the
 *   reverse, both direct-mapped and with -M cxl-direct-map=off;
 * - host-bridge decoders, switches, commit/uncommit churn and garbage
 *   programming.
 *
 * The type-3 backends are files shared with this test, so the test reads
 * and writes the device's media directly.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qjson.h"
#include "qcxl-wait.h"
#include "qcxl-cxl-topo.h"

/* ---- The system flat view ---- */

/*
 * The kind ("ram", "i/o", ...) and name of the system flat-view range
 * holding @addr, from "info mtree -f".
 */
static char *flat_kind(QTestState *qts, uint64_t addr, char **name)
{
    g_autofree char *mtree = qtest_hmp(qts, "info mtree -f");
    g_auto(GStrv) lines = g_strsplit(mtree, "\n", -1);
    bool in_system = false;
    int i;

    for (i = 0; lines[i]; i++) {
        unsigned long long s, e;
        char kind[32];
        int pos = 0;

        if (g_str_has_prefix(lines[i], "FlatView")) {
            in_system = false;
        }
        if (strstr(lines[i], "Root memory region: system")) {
            in_system = true;
        }
        if (!in_system ||
            sscanf(lines[i], " %llx-%llx (prio %*d, %31[^)]): %n", &s, &e,
                   kind, &pos) < 3) {
            continue;
        }
        if (addr >= s && addr <= e) {
            if (name) {
                *name = g_strdup(lines[i] + pos);
            }
            return g_strdup(kind);
        }
    }
    return NULL;
}

static void assert_kind(QTestState *qts, uint64_t addr, const char *kind,
                        const char *name_part)
{
    g_autofree char *name = NULL;
    g_autofree char *k = flat_kind(qts, addr, &name);

    if (!k || strcmp(k, kind) ||
        (name_part && !strstr(name, name_part))) {
        g_test_message("0x%" PRIx64 ": %s %s, wanted %s %s", addr,
                       k ?: "(none)", name ?: "", kind, name_part ?: "");
    }
    g_assert_nonnull(k);
    g_assert_cmpstr(k, ==, kind);
    if (name_part) {
        g_assert_nonnull(strstr(name, name_part));
    }
}

/* ---- query-cxl-direct-map ---- */

static uint64_t dict_u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));

    g_assert_nonnull(n);
    return qnum_get_uint(n);
}

/*
 * query-cxl-direct-map once window 0's interleaved sets are built (they
 * are built in steps after a decoder change).
 */
static QDict *qmp_direct_map(QTestState *qts)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(60, "interleaved sets to be "
                                           "built (sets-building false)");
    QDict *resp;

    for (;;) {
        QList *wins;

        resp = qtest_qmp(qts, "{ 'execute': 'query-cxl-direct-map' }");
        wins = qdict_get_qlist(resp, "return");
        g_assert(wins && !qlist_empty(wins));
        if (!qdict_get_try_bool(qobject_to(QDict, qlist_peek(wins)),
                                "sets-building", false)) {
            return resp;
        }
        qobject_unref(resp);
        qcxl_wait(&d, 20);
    }
}

/*
 * The range of window 0 that holds @addr, from query-cxl-direct-map; the
 * caller unrefs *resp.  Also checks that the ranges tile the window.
 */
static QDict *qmp_range(QTestState *qts, uint64_t addr, QDict **resp,
                        uint64_t *direct_bytes)
{
    QList *wins, *ranges;
    QDict *win, *found = NULL;
    const QListEntry *e;
    uint64_t next;

    *resp = qmp_direct_map(qts);
    wins = qdict_get_qlist(*resp, "return");
    win = qobject_to(QDict, qlist_peek(wins));
    ranges = qdict_get_qlist(win, "ranges");
    next = dict_u64(win, "base");
    *direct_bytes = dict_u64(win, "direct-bytes");
    QLIST_FOREACH_ENTRY(ranges, e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t start = dict_u64(r, "start");
        uint64_t size = dict_u64(r, "size");

        g_assert_cmphex(start, ==, next);
        g_assert_cmphex(size, >, 0);
        if (qdict_get_bool(r, "direct") !=
            (qdict_haskey(r, "memdev") || qdict_haskey(r, "interleaved"))) {
            g_autoptr(GString) js = qobject_to_json(QOBJECT(r));

            g_autofree char *hmp = qtest_hmp(qts, "info cxl-direct-map");

            g_test_message("bad range: %s", js->str);
            g_test_message("%s", hmp);
        }
        g_assert(qdict_get_bool(r, "direct") ==
                 (qdict_haskey(r, "memdev") || qdict_haskey(r, "interleaved")));
        g_assert(qdict_get_bool(r, "direct") != qdict_haskey(r, "reason"));
        next = start + size;
        if (addr >= start && addr < next) {
            found = r;
        }
    }
    g_assert_cmphex(next, ==, dict_u64(win, "base") +
                    dict_u64(win, "size"));
    g_assert_nonnull(found);
    return found;
}

static void assert_qmp_direct(QTestState *qts, uint64_t addr,
                              const char *memdev, uint64_t offset,
                              uint64_t direct_bytes)
{
    QDict *resp, *r;
    uint64_t bytes;

    r = qmp_range(qts, addr, &resp, &bytes);
    g_assert_true(qdict_get_bool(r, "direct"));
    g_assert_cmpstr(qdict_get_str(r, "memdev"), ==, memdev);
    g_assert_cmphex(dict_u64(r, "offset") + addr -
                    dict_u64(r, "start"), ==, offset);
    g_assert_cmphex(bytes, ==, direct_bytes);
    qobject_unref(resp);
}

static void assert_qmp_reason(QTestState *qts, uint64_t addr,
                              const char *reason_part)
{
    QDict *resp, *r;
    uint64_t bytes;

    r = qmp_range(qts, addr, &resp, &bytes);
    g_assert_false(qdict_get_bool(r, "direct"));
    if (!strstr(qdict_get_str(r, "reason"), reason_part)) {
        g_test_message("reason: %s", qdict_get_str(r, "reason"));
    }
    g_assert_nonnull(strstr(qdict_get_str(r, "reason"), reason_part));
    qobject_unref(resp);
}

/* Window bytes and device media agree, both directions, at @off. */
static void check_data(Topo *t, uint64_t hpa, Dev *d, uint64_t dpa)
{
    uint64_t v = 0x5143584c00000000ULL ^ hpa ^ (dpa << 7);

    qtest_writeq(t->qts, hpa, v);
    g_assert_cmphex(ldq_le_p(d->media + dpa), ==, v);
    stq_le_p(d->media + dpa + 64, ~v);
    g_assert_cmphex(qtest_readq(t->qts, hpa + 64), ==, ~v);
}

/* ---- Tests ---- */

static void test_1way(void)
{
    Topo *t = topo_new("1way", NULL);
    uint64_t w = t->win;

    /* Nothing committed: all of the window is software-decoded. */
    assert_kind(t->qts, w, "i/o", "cxl-fixed-memory-region");
    assert_qmp_reason(t->qts, w, "ep0: no committed endpoint decoder");

    commit(t->qts, t->ep_hdm[0], 0, w, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "ram", "cxl-mem0");
    assert_qmp_direct(t->qts, w + 4096, "/objects/cxl-mem0", 4096, DEV_SIZE);
    assert_qmp_reason(t->qts, w + DEV_SIZE, "no committed endpoint decoder");
    assert_kind(t->qts, w + DEV_SIZE - 1, "ram", "cxl-mem0");
    assert_kind(t->qts, w + DEV_SIZE, "i/o", "cxl-fixed-memory-region");
    check_data(t, w, &t->dev[0], 0);
    check_data(t, w + 0x1234560, &t->dev[0], 0x1234560);
    check_data(t, w + DEV_SIZE - 128, &t->dev[0], DEV_SIZE - 128);

    /* Uncommit: back to I/O; recommit elsewhere in the window. */
    uncommit(t->qts, t->ep_hdm[0], 0);
    assert_kind(t->qts, w, "i/o", "cxl-fixed-memory-region");
    commit(t->qts, t->ep_hdm[0], 0, w + GiB, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "i/o", NULL);
    assert_kind(t->qts, w + GiB, "ram", "cxl-mem0");
    check_data(t, w + GiB + 4096, &t->dev[0], 4096);
    topo_free(t);
}

/* The same decode with the direct map off: correct, but all I/O. */
static void test_1way_off(void)
{
    Topo *t = topo_new("1way", "-M cxl-direct-map=off");
    uint64_t w = t->win;

    commit(t->qts, t->ep_hdm[0], 0, w, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "i/o", "cxl-fixed-memory-region");
    assert_qmp_reason(t->qts, w, "cxl-direct-map=off");
    check_data(t, w, &t->dev[0], 0);
    check_data(t, w + DEV_SIZE - 128, &t->dev[0], DEV_SIZE - 128);
    topo_free(t);
}

/* Two host-bridge decoders, each routing one range to one root port. */
static void test_hb_decoders(void)
{
    Topo *t = topo_new("hb2", NULL);
    uint64_t w = t->win;

    /* HB decoder 0 -> port 0 (ep0), decoder 1 -> port 1 (ep1). */
    commit(t->qts, t->hb_hdm, 0, w, DEV_SIZE, 0, 0);
    commit(t->qts, t->hb_hdm, 1, w + DEV_SIZE, DEV_SIZE, 0, 1);
    assert_kind(t->qts, w, "i/o", NULL);        /* endpoints not yet */
    commit(t->qts, t->ep_hdm[0], 0, w, DEV_SIZE, 0, 0);
    commit(t->qts, t->ep_hdm[1], 0, w + DEV_SIZE, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "ram", "cxl-mem0");
    assert_kind(t->qts, w + DEV_SIZE, "ram", "cxl-mem1");
    assert_kind(t->qts, w + 2 * DEV_SIZE, "i/o", NULL);
    assert_qmp_direct(t->qts, w + DEV_SIZE, "/objects/cxl-mem1", 0,
                      2 * DEV_SIZE);
    assert_qmp_reason(t->qts, w + 2 * DEV_SIZE,
                      "no host bridge decoder covers it");
    check_data(t, w + 8192, &t->dev[0], 8192);
    check_data(t, w + DEV_SIZE + 8192, &t->dev[1], 8192);

    /* Uncommitting the host bridge decoder unmaps what is below it. */
    uncommit(t->qts, t->hb_hdm, 1);
    assert_kind(t->qts, w, "ram", "cxl-mem0");
    assert_kind(t->qts, w + DEV_SIZE, "i/o", NULL);
    topo_free(t);
}

/*
 * A 2-way interleave across the host bridge's two root ports on shared
 * media (these files): it stays software-decoded, since a set's RAM would
 * hide the bytes from whoever else maps the media, and the software
 * decode puts 256-byte granules alternately on the two devices.
 */
static void test_hb_interleave_2way(void)
{
    Topo *t = topo_new("hb2", NULL);
    uint64_t w = t->win;

    commit(t->qts, t->hb_hdm, 0, w, 2 * DEV_SIZE, 1, 0x0100);
    commit(t->qts, t->ep_hdm[0], 0, w, 2 * DEV_SIZE, 1, 0);
    commit(t->qts, t->ep_hdm[1], 0, w, 2 * DEV_SIZE, 1, 0);
    assert_kind(t->qts, w, "i/o", "cxl-fixed-memory-region");
    assert_qmp_reason(t->qts, w, "host bridge decoder 0 interleaves 2 ways");
    /* ... and nothing changes once the set-building bottom half ran. */
    assert_kind(t->qts, w, "i/o", "cxl-fixed-memory-region");
    check_data(t, w + 0, &t->dev[0], 0);
    check_data(t, w + 256, &t->dev[1], 0);
    check_data(t, w + 512 + 8, &t->dev[0], 256 + 8);
    topo_free(t);
}

static void test_switch(void)
{
    Topo *t = topo_new("switch", NULL);
    uint64_t w = t->win;

    commit(t->qts, t->ep_hdm[0], 0, w + 2 * GiB, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w + 2 * GiB, "i/o", NULL);  /* switch not yet */
    commit(t->qts, t->usp_hdm, 0, w + 2 * GiB, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w + 2 * GiB, "ram", "cxl-mem0");
    assert_qmp_direct(t->qts, w + 2 * GiB, "/objects/cxl-mem0", 0, DEV_SIZE);
    check_data(t, w + 2 * GiB + 0x100000, &t->dev[0], 0x100000);
    uncommit(t->qts, t->usp_hdm, 0);
    assert_kind(t->qts, w + 2 * GiB, "i/o", NULL);
    topo_free(t);
}

static void test_churn(void)
{
    Topo *t = topo_new("1way", NULL);
    uint64_t w = t->win;
    int i;

    for (i = 0; i < 100; i++) {
        uint64_t base = w + (i % 4) * GiB;

        commit(t->qts, t->ep_hdm[0], 0, base, DEV_SIZE, 0, 0);
        if (i % 10 == 0) {
            assert_kind(t->qts, base, "ram", "cxl-mem0");
            check_data(t, base + i * 4096, &t->dev[0], i * 4096);
        }
        uncommit(t->qts, t->ep_hdm[0], 0);
    }
    for (i = 0; i < 4; i++) {
        assert_kind(t->qts, w + i * GiB, "i/o", NULL);
    }
    commit(t->qts, t->ep_hdm[0], 0, w + 3 * GiB, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w + 3 * GiB, "ram", "cxl-mem0");
    check_data(t, w + 3 * GiB, &t->dev[0], 0);
    topo_free(t);
}

/* Garbage programming: QEMU keeps running and maps nothing wrong. */
static void test_bad_programming(void)
{
    Topo *t = topo_new("1way", NULL);
    uint64_t w = t->win, hdm = t->ep_hdm[0];

    /* Zero size. */
    commit(t->qts, hdm, 0, w, 0, 0, 0);
    assert_kind(t->qts, w, "i/o", NULL);
    uncommit(t->qts, hdm, 0);

    /* Entirely outside the window. */
    commit(t->qts, hdm, 0, 0x40000000, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "i/o", NULL);
    assert_kind(t->qts, 0x100000, "ram", "pc.ram");
    uncommit(t->qts, hdm, 0);

    /* Huge: only the media's 256 MiB is mapped, the rest stays I/O. */
    commit(t->qts, hdm, 0, w, 0xfffffff0000000ULL, 0, 0);
    assert_kind(t->qts, w, "ram", "cxl-mem0");
    assert_kind(t->qts, w + DEV_SIZE, "i/o", NULL);
    uncommit(t->qts, hdm, 0);

    /* A DPA skip past the media: nothing to map. */
    commit(t->qts, hdm, 0, w, DEV_SIZE, 0, DEV_SIZE);
    assert_kind(t->qts, w, "i/o", NULL);
    assert_qmp_reason(t->qts, w, "beyond the device's capacity");
    uncommit(t->qts, hdm, 0);

    /*
     * An invalid interleave-ways encoding on decoder 0 and a valid decoder
     * 1 behind it: the software decode must not take QEMU down when an
     * access reaches decoder 1, and nothing may be mapped.
     */
    commit(t->qts, hdm, 0, w, DEV_SIZE, 0x7, 0);
    commit(t->qts, hdm, 1, w + DEV_SIZE, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "i/o", NULL);
    assert_qmp_reason(t->qts, w, "invalid interleave-ways encoding");
    assert_kind(t->qts, w + DEV_SIZE, "i/o", NULL);
    qtest_readq(t->qts, w + DEV_SIZE + 64);
    qtest_writeq(t->qts, w + DEV_SIZE + 64, 1);
    qtest_readq(t->qts, w + 64);
    uncommit(t->qts, hdm, 1);
    uncommit(t->qts, hdm, 0);

    /* Still alive and still right. */
    commit(t->qts, hdm, 0, w, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "ram", "cxl-mem0");
    check_data(t, w + 4096, &t->dev[0], 4096);
    topo_free(t);
}

/* System reset uncommits everything: the mapping must go with it. */
static void test_reset(void)
{
    Topo *t = topo_new("1way", NULL);
    QDict *r;

    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    assert_kind(t->qts, t->win, "ram", "cxl-mem0");
    r = qtest_qmp(t->qts, "{ 'execute': 'system_reset' }");
    qobject_unref(r);
    qtest_qmp_eventwait(t->qts, "RESET");
    assert_kind(t->qts, t->win, "i/o", "cxl-fixed-memory-region");
    topo_free(t);
}

static void wait_migration(QTestState *qts)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(60, "the migration to complete");

    for (;;) {
        QDict *r = qtest_qmp(qts, "{ 'execute': 'query-migrate' }");
        QDict *ret = qdict_get_qdict(r, "return");
        const char *st = qdict_haskey(ret, "status") ?
                         qdict_get_str(ret, "status") : "none";
        bool done = !strcmp(st, "completed");

        g_assert_cmpstr(st, !=, "failed");
        qobject_unref(r);
        if (done) {
            return;
        }
        qcxl_wait(&d, 100);
    }
}

static char *dst_args(Topo *t, const char *incoming)
{
    return g_strdup_printf("-machine q35,cxl=on "
                           "-object memory-backend-file,id=cxl-mem0,share=on,"
                           "mem-path=%s,size=256M "
                           "-M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G "
                           "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 "
                           "-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,"
                           "slot=2 "
                           "-device cxl-type3,bus=rp0,volatile-memdev=cxl-mem0,"
                           "id=ep0 -incoming %s", t->dev[0].path, incoming);
}

static void start_migration(QTestState *qts, const char *uri)
{
    QDict *r = qtest_qmp(qts, "{ 'execute': 'migrate', 'arguments': "
                         "{ 'uri': %s } }", uri);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

/* What must hold on a destination that has loaded the 1-way state. */
static void check_restored(Topo *t)
{
    uint64_t w = t->win;

    /* PCI configuration (bridge and BAR) and decoder state came across. */
    g_assert_cmphex(cfg_read(t->qts, 13 << 8, 0x10) & ~0xfu, ==, 0xfe000000);
    g_assert_true(qtest_readl(t->qts, t->ep_hdm[0] + HDM_DEC(0) + HDM_CTRL) &
                  CTRL_COMMITTED);
    assert_kind(t->qts, w, "ram", "cxl-mem0");
    assert_qmp_direct(t->qts, w, "/objects/cxl-mem0", 0, DEV_SIZE);
    g_assert_cmphex(qtest_readq(t->qts, w + 0x200000), ==,
                    ldq_le_p(t->dev[0].media + 0x200000));
    check_data(t, w + 0x300000, &t->dev[0], 0x300000);
}

/*
 * Save to a file with a committed decoder and restore into a new QEMU:
 * PCI configuration, decoders, the direct map and the data survive.
 */
static void test_migrate_file(void)
{
    Topo *t = topo_new("1way", NULL);
    g_autofree char *file = g_strdup_printf("%s/qcxl-dm-%d.mig",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    g_autofree char *args = dst_args(t, "defer");
    QDict *r;

    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    check_data(t, t->win + 0x200000, &t->dev[0], 0x200000);
    start_migration(t->qts, uri);
    wait_migration(t->qts);
    qtest_quit(t->qts);

    t->qts = qtest_init(args);
    /* Nothing is committed before the state arrives. */
    assert_kind(t->qts, t->win, "i/o", NULL);
    r = qtest_qmp(t->qts, "{ 'execute': 'migrate-incoming', 'arguments': "
                  "{ 'uri': %s } }", uri);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    wait_migration(t->qts);
    check_restored(t);
    unlink(file);
    topo_free(t);
}

/* Live migration over a UNIX socket, both QEMUs running. */
static void test_migrate_live(void)
{
    Topo *t = topo_new("1way", NULL);
    g_autofree char *sock = g_strdup_printf("%s/qcxl-dm-%d.sock",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("unix:%s", sock);
    g_autofree char *args = dst_args(t, uri);
    QTestState *dst;

    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    check_data(t, t->win + 0x200000, &t->dev[0], 0x200000);
    dst = qtest_init(args);
    start_migration(t->qts, uri);
    wait_migration(t->qts);
    qtest_quit(t->qts);
    t->qts = dst;
    wait_migration(t->qts);
    check_restored(t);
    unlink(sock);
    topo_free(t);
}

/*
 * State qcxl does not migrate (here an injected poison list) makes the
 * migration fail with a message; the source goes on as before.
 */
static void test_migrate_refused(void)
{
    Topo *t = topo_new("1way", NULL);
    g_autofree char *file = g_strdup_printf("%s/qcxl-dm-%d.mig",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("file:%s", file);
    g_auto(QcxlDeadline) d = { 0 };
    const char *st = NULL;
    QDict *r;

    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    r = qtest_qmp(t->qts, "{ 'execute': 'cxl-inject-poison', 'arguments': "
                  "{ 'path': '/machine/peripheral/ep0', 'start': 4096, "
                  "'length': 64 } }");
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    start_migration(t->qts, uri);
    d = qcxl_deadline(60, "the migration with poison to end");
    for (;;) {
        QDict *ret;

        r = qtest_qmp(t->qts, "{ 'execute': 'query-migrate' }");
        ret = qdict_get_qdict(r, "return");
        st = qdict_haskey(ret, "status") ? qdict_get_str(ret, "status") : "";
        if (!strcmp(st, "failed") || !strcmp(st, "completed")) {
            if (!strcmp(st, "failed")) {
                g_assert_nonnull(strstr(qdict_get_try_str(ret, "error-desc")
                                        ?: "", "cxl-type3"));
            }
            break;
        }
        qobject_unref(r);
        r = NULL;
        qcxl_wait(&d, 100);
    }
    g_assert_cmpstr(st, ==, "failed");
    qobject_unref(r);
    /* The source still runs, mapped and correct. */
    assert_kind(t->qts, t->win, "ram", "cxl-mem0");
    check_data(t, t->win + 8192, &t->dev[0], 8192);
    unlink(file);
    topo_free(t);
}

/* Offset of PCI capability @id in @bdf's configuration space. */
static int find_cap(QTestState *qts, int bdf, int id)
{
    int pos = cfg_read(qts, bdf, 0x34) & 0xfc, n;

    for (n = 0; pos && n < 48; n++) {
        uint32_t hdr = cfg_read(qts, bdf, pos);

        if ((hdr & 0xff) == id) {
            return pos;
        }
        pos = (hdr >> 8) & 0xfc;
    }
    g_assert_not_reached();
}

/*
 * The guest powers the root port's slot off: the type-3 device is
 * unplugged there and then, and its mapping must go first.
 */
static void test_unplug(void)
{
    Topo *t = topo_new("1way", NULL);
    int exp = find_cap(t->qts, 12 << 8, 0x10);      /* PCI Express */
    QDict *r;

    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    assert_kind(t->qts, t->win, "ram", "cxl-mem0");

    slot_power(t->qts, 12 << 8, exp, false);
    /*
     * The slot detaches its device within the write (DEVICE_DELETED is
     * only sent for a device_del request): presence is gone, and so is
     * the QOM object.
     */
    g_assert_false(cfg_read(t->qts, 12 << 8, exp + 0x18) & (0x40u << 16));
    r = qtest_qmp(t->qts, "{ 'execute': 'qom-get', 'arguments': "
                  "{ 'path': '/machine/peripheral/ep0', 'property': 'type' } }");
    g_assert(qdict_haskey(r, "error"));
    qobject_unref(r);

    assert_kind(t->qts, t->win, "i/o", "cxl-fixed-memory-region");
    assert_qmp_reason(t->qts, t->win, "no CXL type-3 device or switch");
    /* The window still answers (nothing decodes it), QEMU still runs. */
    qtest_readq(t->qts, t->win);
    qtest_writeq(t->qts, t->win, 1);
    assert_kind(t->qts, t->win, "i/o", NULL);
    topo_free(t);
}

/*
 * Unplugged so, the device is added again by the host (device_add, with
 * the options it had) and powered on by the guest: with the same
 * backend, which its first life must have let go of (patch 0049), and
 * the same bytes, decoded and mapped as before.
 */
static void test_replug(void)
{
    Topo *t = topo_new("1way", NULL);
    int exp = find_cap(t->qts, 12 << 8, 0x10);      /* PCI Express */
    QDict *r;

    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    qtest_writeq(t->qts, t->win + 8, 0x1122334455667788ull);

    slot_power(t->qts, 12 << 8, exp, false);
    g_assert_false(cfg_read(t->qts, 12 << 8, exp + 0x18) & (0x40u << 16));

    r = qtest_qmp(t->qts, "{ 'execute': 'device_add', 'arguments': "
                  "{ 'driver': 'cxl-type3', 'bus': 'rp0', "
                  "'volatile-memdev': 'cxl-mem0', 'id': 'ep0' } }");
    if (qdict_haskey(r, "error")) {
        g_test_message("device_add: %s",
                       qdict_get_str(qdict_get_qdict(r, "error"), "desc"));
    }
    g_assert_true(qdict_haskey(r, "return"));
    qobject_unref(r);
    /* Present again; the guest powers the slot on (indicator on) */
    g_assert_true(cfg_read(t->qts, 12 << 8, exp + 0x18) & (0x40u << 16));
    slot_power(t->qts, 12 << 8, exp, true);

    topo_setup(t);
    commit(t->qts, t->ep_hdm[0], 0, t->win, DEV_SIZE, 0, 0);
    assert_kind(t->qts, t->win, "ram", "cxl-mem0");
    g_assert_cmphex(qtest_readq(t->qts, t->win + 8), ==,
                    0x1122334455667788ull);
    topo_free(t);
}

static void set_direct_map(QTestState *qts, bool on)
{
    QDict *r = qtest_qmp(qts, "{ 'execute': 'qom-set', 'arguments': "
                         "{ 'path': '/machine', 'property': 'cxl-direct-map', "
                         "'value': %i } }", on);

    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
}

/*
 * The range at @addr is an interleaved set of @ndevs devices whose RAM is
 * @backing ("copy" or "backend-pages").
 */
static void assert_qmp_set(QTestState *qts, uint64_t addr, int ndevs,
                           const char *backing)
{
    QDict *resp, *r;
    uint64_t bytes;

    r = qmp_range(qts, addr, &resp, &bytes);
    if (!qdict_get_bool(r, "direct")) {
        g_test_message("reason: %s", qdict_get_str(r, "reason"));
    }
    g_assert_true(qdict_get_bool(r, "direct"));
    g_assert_true(qdict_haskey(r, "interleaved"));
    g_assert_cmpint(qlist_size(qdict_get_qlist(r, "interleaved")), ==, ndevs);
    g_assert_cmpstr(qdict_get_str(r, "set-backing"), ==, backing);
    /* HMP says the same of the range */
    {
        g_autofree char *hmp = qtest_hmp(qts, "info cxl-direct-map");
        g_autofree char *want = g_strdup_printf(
            "  0x%" PRIx64 "-0x%" PRIx64 " direct, interleaved set in "
            "host-physical order (%s):", dict_u64(r, "start"),
            dict_u64(r, "start") + dict_u64(r, "size") - 1,
            !strcmp(backing, "copy") ? "a copy" : "the backends' own pages");

        if (!strstr(hmp, want)) {
            g_test_message("no '%s' in: %s", want, hmp);
        }
        g_assert_nonnull(strstr(hmp, want));
    }
    qobject_unref(resp);
}

static void assert_qmp_interleaved(QTestState *qts, uint64_t addr, int ndevs)
{
    assert_qmp_set(qts, addr, ndevs, "copy");
}

/*
 * An N-way set on @kind's backends, interleaving at 256 << @ig bytes, is
 * held as RAM of kind @backing.  Its bytes must be exactly what the
 * software decode gives: checked by taking the set away at run time
 * (cxl-direct-map=off puts a copy's data back on the media and leaves
 * the software decode) and building it again, in both directions, and
 * across a guest uncommit and recommit.  Where the backends are files
 * shared with the test, the files hold every byte written, in the
 * devices' own (DPA) layout, while the set is mapped; and what the test
 * writes into them is what the guest reads.
 */
static void check_set(const char *kind, int ways, int ig,
                      const char *backing)
{
    Topo *t = topo_new_full(kind, NULL, ig, NULL);
    uint64_t g = 256ULL << ig, size, offs[12], dpa;
    uint64_t w = t->win;
    int i, n = ways + 3, dev;

    /* Granules on every device, a page edge, and the set's two ends. */
    for (i = 0; i < ways + 1; i++) {
        offs[i] = i * g + (i % 3) * 8;
    }
    offs[ways + 1] = 4096 - 8;
    offs[ways + 2] = ways * DEV_SIZE - 8;
    g_assert(n <= ARRAY_SIZE(offs));

    size = topo_commit_set(t, ways);
    assert_qmp_set(t->qts, w, ways, backing);
    assert_qmp_set(t->qts, w + size - 1, ways, backing);
    assert_kind(t->qts, w + size, "i/o", NULL);
    assert_kind(t->qts, w, "ram", "cxl-interleave");
    assert_kind(t->qts, w + size - 1, "ram", "cxl-interleave");

    /* Written into the set's RAM, read through the software decode. */
    for (i = 0; i < n; i++) {
        qtest_writeq(t->qts, w + offs[i], 0x1111000000000000ULL + offs[i]);
    }
    for (i = 0; t->ndev && i < n; i++) {
        /* A set of the files' own pages: already there, in DPA layout */
        dev = topo_set_dpa(t, ways, offs[i], &dpa);
        g_assert_cmphex(ldq_le_p(t->dev[dev].media + dpa), ==,
                        0x1111000000000000ULL + offs[i]);
    }
    set_direct_map(t->qts, false);
    assert_kind(t->qts, w, "i/o", NULL);
    for (i = 0; i < n; i++) {
        g_assert_cmphex(qtest_readq(t->qts, w + offs[i]), ==,
                        0x1111000000000000ULL + offs[i]);
    }

    /* Written through the software decode, read from a rebuilt set. */
    for (i = 0; i < n; i++) {
        qtest_writeq(t->qts, w + offs[i], 0x2222000000000000ULL + offs[i]);
    }
    set_direct_map(t->qts, true);
    assert_qmp_set(t->qts, w, ways, backing);
    assert_kind(t->qts, w, "ram", "cxl-interleave");
    for (i = 0; i < n; i++) {
        g_assert_cmphex(qtest_readq(t->qts, w + offs[i]), ==,
                        0x2222000000000000ULL + offs[i]);
    }
    for (i = 0; t->ndev && i < n; i++) {
        /* Another process writes the files: the guest sees it at once. */
        dev = topo_set_dpa(t, ways, offs[i], &dpa);
        stq_le_p(t->dev[dev].media + dpa, 0x3333000000000000ULL + offs[i]);
        g_assert_cmphex(qtest_readq(t->qts, w + offs[i]), ==,
                        0x3333000000000000ULL + offs[i]);
        stq_le_p(t->dev[dev].media + dpa, 0x2222000000000000ULL + offs[i]);
    }

    /* The guest breaks the set and makes it again: the data stays. */
    uncommit(t->qts, t->ep_hdm[ways - 1], 0);
    assert_kind(t->qts, w, "i/o", NULL);
    commit_ig(t->qts, t->ep_hdm[ways - 1], 0, w, size,
              ways == 2 ? 1 : ways == 4 ? 2 : 3, ig, 0);
    assert_qmp_set(t->qts, w, ways, backing);
    for (i = 0; i < n; i++) {
        g_assert_cmphex(qtest_readq(t->qts, w + offs[i]), ==,
                        0x2222000000000000ULL + offs[i]);
    }
    topo_free(t);
}

static void check_interleave_set_on(const char *kind, int ways)
{
    check_set(kind, ways, 0, "copy");
}

static void test_interleave_2way(void)
{
    check_interleave_set_on("hb2-ram", 2);
}

static void test_interleave_4way(void)
{
    check_interleave_set_on("hb4-ram", 4);
}

static void test_interleave_8way(void)
{
    check_interleave_set_on("hb8-ram", 8);
}

static void test_interleave_host_bridges(void)
{
    check_interleave_set_on("2hb-ram", 2);
}

static void test_interleave_switch(void)
{
    check_interleave_set_on("switch2-ram", 2);
}

/*
 * #19: upstream's documented command line, memory-backend-ram,share=on:
 * no other process can map it, so its sets are copies, at any
 * granularity.
 */
static void test_share_ram(void)
{
    check_set("hb2-memfd", 2, 0, "copy");
    check_set("switch2-memfd", 2, 4, "copy");
}

/*
 * Shared files: the set is the files' own pages, the files hold every
 * byte in DPA layout at all times.  16 KiB and up keep the mappings
 * under Debian's default vm.max_map_count (65530): a 256 MiB block
 * takes 256 MiB / granularity of them.
 */
static void test_pages_file(void)
{
    check_set("hb2", 2, 6, "backend-pages");          /* 16 KiB */
    check_set("2hb", 2, 6, "backend-pages");
    check_set("hb4", 4, 8, "backend-pages");          /* 64 KiB */
}

/* Persistent memory on shared files, behind a host bridge and a switch */
static void test_pages_pmem(void)
{
    check_set("hb2-pmem", 2, 6, "backend-pages");
    check_set("switch2-pmem", 2, 7, "backend-pages");
    check_set("hb8-pmem", 8, 10, "backend-pages");    /* 256 KiB */
}

/* The kernel's limit on mappings, or 0 if it cannot be read */
static uint64_t max_map_count(void)
{
    g_autofree char *text = NULL;

    if (!g_file_get_contents("/proc/sys/vm/max_map_count", &text, NULL,
                             NULL)) {
        return 0;
    }
    return g_ascii_strtoull(text, NULL, 10);
}

/*
 * 4 KiB, the Linux driver's usual granularity: one mapping a page,
 * 65536 per 256 MiB block.  Needs vm.max_map_count raised (make check
 * raises it to 1048576, as docs/cxl-memory.rst tells users).
 */
static void test_pages_4k(void)
{
    if (max_map_count() < 4 * 65536) {
        g_test_skip("vm.max_map_count is below 262144");
        return;
    }
    check_set("hb2", 2, 4, "backend-pages");
    check_set("hb2-pmem", 2, 4, "backend-pages");
}

/* A value for set offset @off, different in every run */
static uint64_t kill_pattern(uint64_t off)
{
    return 0x706d656d00000000ULL ^ off ^ ((uint64_t)getpid() << 40);
}

/*
 * #19: persistent memory interleaved on shared files, and QEMU killed
 * with SIGKILL while the set is mapped: every write the test completed
 * is in the files, in the devices' layout, and a new QEMU on the same
 * files reads it all back through its own set.  The first QEMU runs
 * under a shell that exits 0 once it is gone, so that libqtest sees a
 * clean end.
 */
static void test_pages_pmem_kill(void)
{
    g_autofree char *pidfile = g_strdup_printf("%s/qcxl-dm-%d.pid",
                                               g_get_tmp_dir(), getpid());
    g_autofree char *wrapper = NULL, *backends = NULL, *extra = NULL;
    g_autofree char *pid_text = NULL;
    uint8_t buf[4096];
    uint64_t size, off, dpa, step = 64 * KiB + 8;
    Topo geometry = { .ig = 6 };
    Dev d[2];
    Topo *t;
    pid_t pid;
    int i, dev;

    for (i = 0; i < 2; i++) {
        dev_open(&d[i], i);
    }
    backends = g_strdup_printf("-object memory-backend-file,id=cxl-mem0,"
                               "share=on,mem-path=%s,size=256M "
                               "-object memory-backend-file,id=cxl-mem1,"
                               "share=on,mem-path=%s,size=256M "
                               "-object memory-backend-ram,id=lsa0,size=1M "
                               "-object memory-backend-ram,id=lsa1,size=1M ",
                               d[0].path, d[1].path);
    extra = g_strdup_printf("%s -pidfile %s", backends, pidfile);
    /*
     * libqtest sees the shell, not QEMU: its quit sends SIGTERM and wants
     * a clean exit.  The shell waits for QEMU with the "wait" builtin,
     * which a trapped signal interrupts, and on SIGTERM passes it on and
     * exits 0, whether QEMU is still running (a test that failed before
     * its kill) or already dead and reaped (the shell not yet at its
     * "exit 0").
     */
    wrapper = g_strdup_printf("sh -c '\"$0\" \"$@\" & q=$!; "
                              "trap \"kill $q 2>/dev/null; exit 0\" TERM; "
                              "wait $q; exit 0' %s",
                              g_getenv("QTEST_QEMU_BINARY"));
    g_setenv("QCXL_DM_KILLABLE_QEMU", wrapper, true);
    t = topo_new_full("hb2-pmem-ext", extra, 6, "QCXL_DM_KILLABLE_QEMU");
    size = topo_commit_set(t, 2);
    assert_qmp_set(t->qts, t->win, 2, "backend-pages");
    for (off = 0; off + 8 <= size; off += step) {
        qtest_writeq(t->qts, t->win + off, kill_pattern(off));
    }
    for (i = 0; i < sizeof(buf); i++) {
        buf[i] = i * 7 + 1;
    }
    /* Across a granule boundary: two devices */
    qtest_memwrite(t->qts, t->win + 16 * KiB - 2048, buf, sizeof(buf));

    g_assert_true(g_file_get_contents(pidfile, &pid_text, NULL, NULL));
    pid = atoi(pid_text);
    g_assert_cmpint(pid, >, 1);
    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    {
        g_auto(QcxlDeadline) dl = qcxl_deadline(30, "QEMU (pid %d) to die "
                                                "of SIGKILL", pid);

        while (kill(pid, 0) == 0) {
            qcxl_wait(&dl, 10);
        }
    }
    topo_free(t);
    unlink(pidfile);

    /* The files hold every completed write, where the device puts it. */
    for (off = 0; off + 8 <= size; off += step) {
        dev = topo_set_dpa(&geometry, 2, off, &dpa);
        g_assert_cmphex(ldq_le_p(d[dev].media + dpa), ==, kill_pattern(off));
    }

    /* A new QEMU on the same files reads it back through its set. */
    t = topo_new_full("hb2-pmem-ext", backends, 6, NULL);
    topo_commit_set(t, 2);
    assert_qmp_set(t->qts, t->win, 2, "backend-pages");
    for (off = 0; off + 8 <= size; off += step) {
        g_assert_cmphex(qtest_readq(t->qts, t->win + off), ==,
                        kill_pattern(off));
    }
    memset(buf + 1, 0, sizeof(buf) - 1);
    qtest_memread(t->qts, t->win + 16 * KiB - 2048, buf, sizeof(buf));
    for (i = 0; i < sizeof(buf); i++) {
        g_assert_cmpint(buf[i], ==, (uint8_t)(i * 7 + 1));
    }
    topo_free(t);
    for (i = 0; i < 2; i++) {
        munmap(d[i].media, DEV_SIZE);
        unlink(d[i].path);
        g_free(d[i].path);
    }
}

/*
 * Where the media's own pages cannot be the set, the software decode
 * stays, and the query says why: chunks finer than a page, private
 * media mixed with shared, more mappings than the machine allows (the
 * first block fits, the second not; allowed more, both are mapped).
 */
static void test_pages_refused(void)
{
    static const char *const bad_max[] = {
        "{ 'execute': 'qom-set', 'arguments': { 'path': '/machine', "
        "'property': 'cxl-direct-map-max-maps', 'value': 'many' } }",
        "{ 'execute': 'qom-set', 'arguments': { 'path': '/machine', "
        "'property': 'cxl-direct-map-max-maps', 'value': 1.5 } }",
    };
    Topo *t = topo_new_full("hb2", NULL, 0, NULL);
    int i;
    g_autofree char *mixed = NULL;
    uint64_t w;
    Dev d;

    topo_commit_set(t, 2);
    assert_qmp_reason(t->qts, t->win, "interleaves in pieces smaller than "
                      "their pages");
    assert_kind(t->qts, t->win, "i/o", NULL);
    check_data(t, t->win + 256, &t->dev[1], 0);
    topo_free(t);

    dev_open(&d, 0);
    mixed = g_strdup_printf("-object memory-backend-file,id=cxl-mem0,"
                            "share=on,mem-path=%s,size=256M "
                            "-object memory-backend-ram,id=cxl-mem1,"
                            "size=256M ", d.path);
    t = topo_new_full("hb2-ext", mixed, 6, NULL);
    topo_commit_set(t, 2);
    assert_qmp_reason(t->qts, t->win, "mixes private backends with "
                      "backends other processes map");
    topo_free(t);
    munmap(d.media, DEV_SIZE);
    unlink(d.path);
    g_free(d.path);

    t = topo_new_full("hb2", "-M cxl-direct-map-max-maps=20000", 6, NULL);
    w = t->win;
    topo_commit_set(t, 2);
    assert_qmp_set(t->qts, w, 2, "backend-pages");
    assert_qmp_reason(t->qts, w + 256 * MiB, "would exceed");
    assert_kind(t->qts, w + 256 * MiB, "i/o", NULL);
    check_data(t, w + 256 * MiB + 16 * KiB, &t->dev[1], 128 * MiB);
    /* Bad values are refused, and the limit stays. */
    for (i = 0; i < ARRAY_SIZE(bad_max); i++) {
        QDict *r = qtest_qmp(t->qts, bad_max[i]);

        g_assert_true(qdict_haskey(r, "error"));
        qobject_unref(r);
    }
    {
        QDict *r = qtest_qmp(t->qts, "{ 'execute': 'qom-get', 'arguments': "
                             "{ 'path': '/machine', 'property': "
                             "'cxl-direct-map-max-maps' } }");

        g_assert_cmpuint(qnum_get_uint(qobject_to(QNum, qdict_get(r,
                                                  "return"))), ==, 20000);
        qobject_unref(r);
    }
    qtest_qmp_assert_success(t->qts, "{ 'execute': 'qom-set', 'arguments':"
                             " { 'path': '/machine', 'property': "
                             "'cxl-direct-map-max-maps', 'value': 40000 } }");
    set_direct_map(t->qts, false);
    set_direct_map(t->qts, true);
    assert_qmp_set(t->qts, w + 256 * MiB, 2, "backend-pages");
    check_data(t, w + 256 * MiB + 16 * KiB, &t->dev[1], 128 * MiB);
    topo_free(t);
}

/*
 * #18, item 3: a guest may route several host addresses to the same
 * device bytes: a 1-way host bridge decoder onto a device whose own
 * decoder says 4 ways at 4 KiB reaches every device chunk from four
 * addresses.  A set there would hold four copies of each chunk that
 * diverge, and lose writes when it is taken down; the blocks keep the
 * software decode (with the reason), whose bytes are those of upstream,
 * before and after the direct map is switched off and on.
 */
static void test_aliased(void)
{
    Topo *t = topo_new("hb2-ram", NULL);
    uint64_t w = t->win, size = 4 * DEV_SIZE, a = w + 64 * MiB + 8;
    int i, j, round;

    commit(t->qts, t->hb_hdm, 0, w, size, 0, 0x00);
    /* 4 ways (encoding 2) at 4 KiB (encoding 4) */
    decoder_set(t->qts, t->ep_hdm[0], 0, w, size,
                CTRL_COMMIT | 2 << CTRL_IW_SHIFT | 4, 0);
    g_assert_true(qtest_readl(t->qts, t->ep_hdm[0] + HDM_DEC(0) + HDM_CTRL) &
                  CTRL_COMMITTED);
    qobject_unref(qmp_direct_map(t->qts));

    for (round = 0; round < 3; round++) {
        uint64_t last = 0;

        for (i = 0; i < 4; i++) {
            last = 0x1111000000000000ULL * (i + 1) + round;
            qtest_writeq(t->qts, a + i * 4096, last);
        }
        /* One device chunk: every address reads the last write. */
        for (j = 0; j < 4; j++) {
            g_assert_cmphex(qtest_readq(t->qts, a + j * 4096), ==, last);
        }
        if (round != 2) {
            assert_qmp_reason(t->qts, w, round == 0 ?
                              "reached from more than one address" :
                              "cxl-direct-map=off");
            assert_qmp_reason(t->qts, w + size - 1, round == 0 ?
                              "reached from more than one address" :
                              "cxl-direct-map=off");
            assert_kind(t->qts, w, "i/o", NULL);
        }
        /* Off and on again: nothing was held elsewhere, nothing lost. */
        set_direct_map(t->qts, round != 0);
        qobject_unref(qmp_direct_map(t->qts));
        for (j = 0; j < 4; j++) {
            g_assert_cmphex(qtest_readq(t->qts, a + j * 4096), ==, last);
        }
    }
    topo_free(t);
}

static uint64_t window_teardowns(QTestState *qts)
{
    QDict *resp = qmp_direct_map(qts);
    QDict *win = qobject_to(QDict,
                            qlist_peek(qdict_get_qlist(resp, "return")));
    uint64_t n = dict_u64(win, "set-teardowns");

    qobject_unref(resp);
    return n;
}

/*
 * #18, item 4: a write that changes no decode costs the sets nothing.
 * Writes to every register of endpoint decoders that are not committed,
 * and to the routing of a host bridge decoder that is not, leave the set
 * mapped and unbuilt-again (set-teardowns does not move, no build is
 * under way).  A change of the committed decode takes the set down and
 * builds it again.
 */
static void test_decoder_write_cost(void)
{
    Topo *t = topo_new("hb2-ram", NULL);
    uint64_t w = t->win, size = 2 * DEV_SIZE, n;
    QDict *resp, *win;
    int i, k;

    commit(t->qts, t->hb_hdm, 0, w, size, 1, 0x0100);
    commit(t->qts, t->ep_hdm[0], 0, w, size, 1, 0);
    commit(t->qts, t->ep_hdm[1], 0, w, size, 1, 0);
    assert_qmp_interleaved(t->qts, w, 2);
    n = window_teardowns(t->qts);

    for (i = 0; i < 16; i++) {
        for (k = 0; k < 2; k++) {
            uint64_t d = t->ep_hdm[k] + HDM_DEC(1 + i % 3);

            qtest_writel(t->qts, d + HDM_BASE_LO, (i + 1) << 28);
            qtest_writel(t->qts, d + HDM_SIZE_LO, 1 << 28);
            qtest_writel(t->qts, d + HDM_TL_LO, i << 28);
            qtest_writel(t->qts, d + HDM_CTRL, i << CTRL_IW_SHIFT);
        }
        qtest_writel(t->qts, t->hb_hdm + HDM_DEC(1) + HDM_TL_LO, i);
        qtest_writel(t->qts, t->hb_hdm + HDM_DEC(1) + HDM_CTRL,
                     (i % 4) << CTRL_IW_SHIFT);
    }
    resp = qtest_qmp(t->qts, "{ 'execute': 'query-cxl-direct-map' }");
    win = qobject_to(QDict, qlist_peek(qdict_get_qlist(resp, "return")));
    g_assert_false(qdict_get_bool(win, "sets-building"));
    g_assert_cmpuint(dict_u64(win, "set-teardowns"), ==, n);
    qobject_unref(resp);
    assert_kind(t->qts, w, "ram", "cxl-interleave");
    assert_qmp_interleaved(t->qts, w, 2);

    /* Uncommit and commit: down (and any build begun between, too) */
    uncommit(t->qts, t->ep_hdm[1], 0);
    commit(t->qts, t->ep_hdm[1], 0, w, size, 1, 0);
    assert_qmp_interleaved(t->qts, w, 2);
    g_assert_cmpuint(window_teardowns(t->qts), >=, n + 1);
    g_assert_cmpuint(window_teardowns(t->qts), <=, n + 2);
    topo_free(t);
}

/* Persistent memory behind a 1-way decode is mapped too. */
static void test_1way_pmem(void)
{
    Topo *t = topo_new("1way-pmem", NULL);
    uint64_t w = t->win;

    commit(t->qts, t->ep_hdm[0], 0, w, DEV_SIZE, 0, 0);
    /* Non-volatile RAM: still RAM in the flat view, a memslot for KVM. */
    assert_kind(t->qts, w, "nv-ram", "cxl-mem0");
    assert_qmp_direct(t->qts, w + 8192, "/objects/cxl-mem0", 8192, DEV_SIZE);
    check_data(t, w + 8192, &t->dev[0], 8192);
    check_data(t, w + DEV_SIZE - 128, &t->dev[0], DEV_SIZE - 128);
    topo_free(t);
}

/* Interleave ways the host bridge cannot have must not take QEMU down. */
static void test_hb_bad_ways(void)
{
    Topo *t = topo_new("hb2", NULL);
    uint64_t w = t->win;

    /* 16 ways (encoding 4) over a bridge with two ports, and garbage. */
    commit(t->qts, t->hb_hdm, 0, w, 4 * GiB, 4, 0x0100);
    commit(t->qts, t->ep_hdm[0], 0, w, 2 * DEV_SIZE, 1, 0);
    assert_qmp_reason(t->qts, w, "interleaves 16 ways");
    qtest_readq(t->qts, w + 15 * 256);
    qtest_writeq(t->qts, w + 15 * 256, 1);
    uncommit(t->qts, t->hb_hdm, 0);
    commit(t->qts, t->hb_hdm, 0, w, 4 * GiB, 0xf, 0x0100);
    qtest_readq(t->qts, w + 7 * 256);
    assert_kind(t->qts, w, "i/o", NULL);
    topo_free(t);
}

/* ---- Dynamic capacity ---- */

/*
 * A device with one 256 MiB dynamic-capacity region and no static
 * memory: an endpoint decoder over it maps only what accepted extents
 * back; releasing the extent unmaps it again.
 */
static void test_dynamic_capacity(void)
{
    Topo *t = topo_new("1way-dc", NULL);
    uint64_t w = t->win, mb;
    uint8_t pl[32];
    QDict *r;

    /* The device registers (BAR2) hold the mailbox. */
    cfg_write(t->qts, 13 << 8, 0x18, 0xfe080000);
    cfg_write(t->qts, 13 << 8, 0x1c, 0);
    mb = find_mailbox(t->qts, 0xfe080000);

    commit(t->qts, t->ep_hdm[0], 0, w, DEV_SIZE, 0, 0);
    assert_kind(t->qts, w, "i/o", NULL);
    assert_qmp_reason(t->qts, w, "dynamic capacity that no accepted extent");

    /* The host offers 4 MiB at DPA 2 MiB of region 0; the device takes it. */
    r = qtest_qmp(t->qts, "{ 'execute': 'cxl-add-dynamic-capacity', "
                  "'arguments': { 'path': '/machine/peripheral/ep0', "
                  "'host-id': 0, 'selection-policy': 'prescriptive', "
                  "'region': 0, 'extents': [ { 'offset': %u, 'len': %u } ] "
                  "} }", 2 * (unsigned)MiB, 4 * (unsigned)MiB);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    /* Offered but not accepted yet: still not decoded. */
    assert_kind(t->qts, w + 2 * MiB, "i/o", NULL);
    one_extent(pl, 2 * MiB, 4 * MiB);
    g_assert_cmpint(mbox_cmd(t->qts, mb, 0x4802, pl, sizeof(pl)), ==, 0);

    assert_kind(t->qts, w + 2 * MiB, "ram", "cxl-mem0");
    assert_kind(t->qts, w + 6 * MiB - 1, "ram", "cxl-mem0");
    assert_kind(t->qts, w + 6 * MiB, "i/o", NULL);
    assert_kind(t->qts, w + 2 * MiB - 1, "i/o", NULL);
    assert_qmp_direct(t->qts, w + 3 * MiB, "/objects/cxl-mem0", 3 * MiB,
                      4 * MiB);
    check_data(t, w + 3 * MiB, &t->dev[0], 3 * MiB);

    /* Release: the host asks, the device gives the extent back. */
    r = qtest_qmp(t->qts, "{ 'execute': 'cxl-release-dynamic-capacity', "
                  "'arguments': { 'path': '/machine/peripheral/ep0', "
                  "'host-id': 0, 'removal-policy': 'prescriptive', "
                  "'region': 0, 'extents': [ { 'offset': %u, 'len': %u } ] "
                  "} }", 2 * (unsigned)MiB, 4 * (unsigned)MiB);
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    one_extent(pl, 2 * MiB, 4 * MiB);
    g_assert_cmpint(mbox_cmd(t->qts, mb, 0x4803, pl, sizeof(pl)), ==, 0);
    assert_kind(t->qts, w + 2 * MiB, "i/o", NULL);
    assert_qmp_reason(t->qts, w + 3 * MiB,
                      "dynamic capacity that no accepted extent");
    topo_free(t);
}

/* Offer @len bytes at @off of DC region 0 to @dev, and accept them */
static void dc_extent(Topo *t, int dev, uint64_t mb, bool add, uint64_t off,
                      uint64_t len)
{
    uint8_t pl[32];
    QDict *r;

    g_autofree char *path = g_strdup_printf("/machine/peripheral/ep%d", dev);

    if (add) {
        r = qtest_qmp(t->qts, "{ 'execute': 'cxl-add-dynamic-capacity', "
                      "'arguments': { 'path': %s, 'host-id': 0, "
                      "'selection-policy': 'prescriptive', 'region': 0, "
                      "'extents': [ { 'offset': %" PRIu64 ", 'len': %" PRIu64
                      " } ] } }", path, off, len);
    } else {
        r = qtest_qmp(t->qts, "{ 'execute': 'cxl-release-dynamic-capacity', "
                      "'arguments': { 'path': %s, 'host-id': 0, "
                      "'removal-policy': 'prescriptive', 'region': 0, "
                      "'extents': [ { 'offset': %" PRIu64 ", 'len': %" PRIu64
                      " } ] } }", path, off, len);
    }
    g_assert(qdict_haskey(r, "return"));
    qobject_unref(r);
    one_extent(pl, off, len);
    g_assert_cmpint(mbox_cmd(t->qts, mb, add ? 0x4802 : 0x4803, pl,
                             sizeof(pl)), ==, 0);
}

/*
 * #19: interleaved dynamic capacity.  Two DC devices, 2-way: no set until
 * accepted extents back the whole block on both; then one set (a copy on
 * private RAM; the files' own pages on files, checked in the files), the
 * software decode's bytes both ways; an extent released on one device
 * takes the set down, the other device's bytes are still there.
 */
static void check_dc_set(const char *kind, int ig, const char *backing)
{
    Topo *t = topo_new_full(kind, NULL, ig, NULL);
    uint64_t w = t->win, mb[2], size, dpa, offs[4];
    int i, dev;

    for (i = 0; i < 2; i++) {
        uint32_t bar2 = 0xfe080000 + i * 0x100000;

        cfg_write(t->qts, (13 + i) << 8, 0x18, bar2);
        cfg_write(t->qts, (13 + i) << 8, 0x1c, 0);
        mb[i] = find_mailbox(t->qts, bar2);
    }
    size = topo_commit_set(t, 2);
    assert_qmp_reason(t->qts, w, "dynamic capacity no accepted extent");
    dc_extent(t, 0, mb[0], true, 0, DEV_SIZE);
    assert_qmp_reason(t->qts, w, "dynamic capacity no accepted extent");
    dc_extent(t, 1, mb[1], true, 0, DEV_SIZE);
    assert_qmp_set(t->qts, w, 2, backing);
    assert_qmp_set(t->qts, w + size - 1, 2, backing);

    offs[0] = 8;
    offs[1] = (256ULL << ig) + 16;          /* device 1 */
    offs[2] = size / 2 + 24;
    offs[3] = size - 8;
    for (i = 0; i < 4; i++) {
        qtest_writeq(t->qts, w + offs[i], 0xdc00000000000000ULL + offs[i]);
        if (t->ndev) {
            dev = topo_set_dpa(t, 2, offs[i], &dpa);
            g_assert_cmphex(ldq_le_p(t->dev[dev].media + dpa), ==,
                            0xdc00000000000000ULL + offs[i]);
        }
    }
    set_direct_map(t->qts, false);
    for (i = 0; i < 4; i++) {
        g_assert_cmphex(qtest_readq(t->qts, w + offs[i]), ==,
                        0xdc00000000000000ULL + offs[i]);
        qtest_writeq(t->qts, w + offs[i], 0xdd00000000000000ULL + offs[i]);
    }
    set_direct_map(t->qts, true);
    assert_qmp_set(t->qts, w, 2, backing);
    for (i = 0; i < 4; i++) {
        g_assert_cmphex(qtest_readq(t->qts, w + offs[i]), ==,
                        0xdd00000000000000ULL + offs[i]);
    }

    /* Device 1 gives its first 2 MiB back: no set; device 0 keeps its */
    dc_extent(t, 1, mb[1], false, 0, DEV_SIZE);
    dc_extent(t, 1, mb[1], true, 2 * MiB, DEV_SIZE - 2 * MiB);
    assert_qmp_reason(t->qts, w, "dynamic capacity no accepted extent");
    assert_kind(t->qts, w, "i/o", NULL);
    g_assert_cmphex(qtest_readq(t->qts, w + offs[0]), ==,
                    0xdd00000000000000ULL + offs[0]);
    g_assert_cmphex(qtest_readq(t->qts, w + offs[2]), ==,
                    0xdd00000000000000ULL + offs[2]);
    topo_free(t);
}

static void test_dc_interleave(void)
{
    check_dc_set("hb2-dc-ram", 0, "copy");
    check_dc_set("hb2-dc", 6, "backend-pages");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/qcxl/direct-map/1way", test_1way);
    qtest_add_func("/qcxl/direct-map/1way-off", test_1way_off);
    qtest_add_func("/qcxl/direct-map/hb-decoders", test_hb_decoders);
    qtest_add_func("/qcxl/direct-map/hb-interleave-2way",
                   test_hb_interleave_2way);
    qtest_add_func("/qcxl/direct-map/1way-pmem", test_1way_pmem);
    qtest_add_func("/qcxl/direct-map/dynamic-capacity",
                   test_dynamic_capacity);
    qtest_add_func("/qcxl/direct-map/interleave-2way", test_interleave_2way);
    qtest_add_func("/qcxl/direct-map/interleave-4way", test_interleave_4way);
    qtest_add_func("/qcxl/direct-map/interleave-8way", test_interleave_8way);
    qtest_add_func("/qcxl/direct-map/interleave-host-bridges",
                   test_interleave_host_bridges);
    qtest_add_func("/qcxl/direct-map/interleave-switch",
                   test_interleave_switch);
    qtest_add_func("/qcxl/direct-map/share-ram", test_share_ram);
    qtest_add_func("/qcxl/direct-map/pages-file", test_pages_file);
    qtest_add_func("/qcxl/direct-map/pages-pmem", test_pages_pmem);
    qtest_add_func("/qcxl/direct-map/pages-4k", test_pages_4k);
    qtest_add_func("/qcxl/direct-map/pages-refused", test_pages_refused);
    qtest_add_func("/qcxl/direct-map/pages-pmem-kill", test_pages_pmem_kill);
    qtest_add_func("/qcxl/direct-map/dc-interleave", test_dc_interleave);
    qtest_add_func("/qcxl/direct-map/hb-bad-ways", test_hb_bad_ways);
    qtest_add_func("/qcxl/direct-map/aliased", test_aliased);
    qtest_add_func("/qcxl/direct-map/decoder-write-cost",
                   test_decoder_write_cost);
    qtest_add_func("/qcxl/direct-map/switch", test_switch);
    qtest_add_func("/qcxl/direct-map/churn", test_churn);
    qtest_add_func("/qcxl/direct-map/bad-programming", test_bad_programming);
    qtest_add_func("/qcxl/direct-map/reset", test_reset);
    qtest_add_func("/qcxl/direct-map/unplug", test_unplug);
    qtest_add_func("/qcxl/direct-map/replug", test_replug);
    qtest_add_func("/qcxl/direct-map/migrate-file", test_migrate_file);
    qtest_add_func("/qcxl/direct-map/migrate-live", test_migrate_live);
    qtest_add_func("/qcxl/direct-map/migrate-refused", test_migrate_refused);
    return g_test_run();
}
