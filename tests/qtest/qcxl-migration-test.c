/*
 * qtest: migrating through a shared qcxl pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two QEMU processes, hosts A and B of one pool:
 * - the stream runs through a ring in region mig0 (qcxl-pool:mig0);
 *   guest RAM in pool region "ram" is not copied (x-ignore-shared), its
 *   ownership passes to B at switchover, and A, told to run again, is
 *   fenced: it stops, and its range no longer reaches the pool;
 * - without x-ignore-shared the migration is refused before it
 *   connects, and the destination keeps listening;
 * - over TCP, as libvirt migrates, with the capability set on the
 *   command lines (-global migration.x-ignore-shared=on): zero copy and
 *   the same handoff;
 * - bad URIs, unknown or unshared regions, no listener: clear errors;
 * - a destination that maps other regions refuses the handoff, and the
 *   source keeps its memory and runs again;
 * - cancelled midway, with the destination stopped dead, or with the
 *   ring's positions damaged (either side's): the source runs on and
 *   still owns its memory, and the side that found the damage says so;
 * - a hostile handoff section (a saved stream, altered nine ways): the
 *   destination refuses each with its reason and the pool is unchanged;
 * - staged: A's ordinary RAM moves into region "stage" (qcxl-pool-stage)
 *   while it stays RAM in the flat view, with writes during the copy
 *   carried by dirty tracking (QCXL_POOL_MOVED reports the pause),
 *   migrates without a page copied, and B pulls it into its own memory
 *   (qcxl-pool-pull), writes during the pull carried too; a cancelled
 *   stage leaves A's memory intact and private;
 * - the HMP front ends (qcxl_pool_stage, _pull, _job_cancel,
 *   _job_dismiss, info qcxl-pool) refuse bad option lists and report
 *   the jobs' progress and outcome;
 * - a stage whose pool's file system fills up fails with ENOSPC and
 *   leaves the guest's memory whole and private (as root: a tmpfs).
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qemu/bswap.h"
#include "hw/mem/qcxl_pool.h"
#include "qcxl-wait.h"

#define MiB ((uint64_t)1 << 20)
#define PATTERN 0x4d49475241544544ULL

typedef struct Fixture {
    char *path;
    QcxlPool *pool;
} Fixture;

static void setup(Fixture *f)
{
    g_autoptr(GError) err = NULL;

    f->path = g_strdup_printf("/dev/shm/qcxl-mig-qtest-%d.pool", getpid());
    unlink(f->path);
    g_assert_true(qcxl_pool_format(f->path, 256 * MiB, 2 * MiB, 1000, false,
                                   &err));
    f->pool = qcxl_pool_open(f->path, &err);
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_host_add(f->pool, "hostA", &err));
    g_assert_true(qcxl_pool_host_add(f->pool, "hostB", &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "ram", 64 * MiB, "hostA",
                                          false, &err));
    g_assert_true(qcxl_pool_region_share(f->pool, "ram", "hostB", true,
                                         &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "ram2", 64 * MiB,
                                          "hostB", false, &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "mig0", 8 * MiB, "hostA",
                                          true, &err));
    g_assert_true(qcxl_pool_region_share(f->pool, "mig0", "hostB", true,
                                         &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "privA", 4 * MiB,
                                          "hostA", false, &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "stage", 64 * MiB,
                                          "hostA", false, &err));
    g_assert_true(qcxl_pool_region_share(f->pool, "stage", "hostB", true,
                                         &err));
    g_assert_no_error(err);
}

static void teardown(Fixture *f)
{
    qcxl_pool_close(f->pool);
    unlink(f->path);
    g_free(f->path);
}

/*
 * Guest RAM: node 0 from pool region @region (64 MiB, at 0), and with
 * @dram, node 1 of 256 MiB ordinary memory (at 64 MiB) to make the
 * stream long.
 */
static QTestState *start_with(Fixture *f, const char *host,
                              const char *region, bool dram, bool incoming,
                              const char *extra)
{
    return qtest_initf("-machine q35 -m %dM "
                       "-object memory-backend-qcxl-pool,id=m0,size=64M,"
                       "pool=%s,host=%s,region=%s -numa node,memdev=m0 "
                       "%s %s %s", dram ? 320 : 64, f->path, host, region,
                       dram ? "-object memory-backend-ram,id=m1,size=256M "
                              "-numa node,memdev=m1" : "",
                       incoming ? "-incoming defer" : "", extra);
}

static QTestState *start(Fixture *f, const char *host, const char *region,
                         bool dram, bool incoming)
{
    return start_with(f, host, region, dram, incoming, "");
}

static void ignore_shared(QTestState *qts)
{
    qtest_qmp_assert_success(qts, "{'execute': 'migrate-set-capabilities', "
                             "'arguments': {'capabilities': [{'capability': "
                             "'x-ignore-shared', 'state': true}]}}");
}

static void G_GNUC_PRINTF(3, 4) qmp_fails(QTestState *qts, const char *msg,
                                          const char *fmt, ...)
{
    va_list ap;
    QDict *rsp;
    const char *desc;

    va_start(ap, fmt);
    rsp = qtest_vqmp(qts, fmt, ap);
    va_end(ap);
    g_assert_true(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    if (!strstr(desc, msg)) {
        g_test_message("expected '%s' in: %s", msg, desc);
    }
    g_assert_nonnull(strstr(desc, msg));
    qobject_unref(rsp);
}

/* query-migrate's status, once it is one of @ends ("a|b|c") */
static char *wait_migration(QTestState *qts, const char *ends, QDict **info)
{
    g_auto(GStrv) want = g_strsplit(ends, "|", -1);
    g_auto(QcxlDeadline) d = qcxl_deadline(30, "query-migrate to say %s",
                                           ends);

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate'}");
        QDict *ret = qdict_get_qdict(rsp, "return");
        const char *st = qdict_haskey(ret, "status") ?
                         qdict_get_str(ret, "status") : "none";

        if (g_strv_contains((const char *const *)want, st)) {
            char *s = g_strdup(st);
            if (info) {
                *info = qdict_clone_shallow(ret);
            }
            qobject_unref(rsp);
            return s;
        }
        qobject_unref(rsp);
        qcxl_wait(&d, 50);
    }
}

/*
 * Both sides' migration completes, with less than 4 MiB streamed for
 * 64 MiB of guest RAM: not a page of it
 */
static void assert_completed_zero_copy(QTestState *qa, QTestState *qb)
{
    g_autofree char *sa = NULL, *sb = NULL;
    QDict *info = NULL;

    sa = wait_migration(qa, "completed|failed", &info);
    g_assert_cmpstr(sa, ==, "completed");
    g_assert_cmpuint(qdict_get_int(qdict_get_qdict(info, "ram"),
                                   "transferred"), <, 4 * MiB);
    qobject_unref(info);
    sb = wait_migration(qb, "completed|failed", NULL);
    g_assert_cmpstr(sb, ==, "completed");
}

static char *run_state(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
    char *st = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                      "status"));

    qobject_unref(rsp);
    return st;
}

static void wait_run_state(QTestState *qts, const char *want)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(10, "query-status to say %s",
                                           want);

    for (;;) {
        g_autofree char *st = run_state(qts);

        if (!strcmp(st, want)) {
            return;
        }
        qcxl_wait(&d, 50);
    }
}

static const QcxlPoolRegion *region(QcxlPoolMeta *meta, const char *name)
{
    int r = qcxl_pool_find_region(meta, name);

    if (r < 0) {
        g_test_message("no region '%s'", name);
        g_assert_not_reached();
    }
    return &meta->regions[r];
}

static void assert_owner(Fixture *f, const char *name, const char *host)
{
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(f->pool, NULL);

    g_assert_cmpint(region(meta, name)->owner, ==,
                    qcxl_pool_find_host(meta, host));
}

static void test_pool_ram(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autoptr(QcxlPoolMeta) before = NULL, after = NULL;
    g_autofree char *st = NULL;
    int a, b;

    setup(&f);
    qa = start(&f, "hostA", "ram", false, false);
    qb = start(&f, "hostB", "ram", false, true);
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    qtest_writeq(qa, 0x400000, PATTERN);
    qtest_writeq(qa, 64 * MiB - 8, ~PATTERN);
    qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'qcxl-pool:mig0'}}");

    /* refused before it connects; the destination keeps listening */
    qmp_fails(qa, "needs the capability x-ignore-shared",
              "{'execute': 'migrate', 'arguments': "
              "{'uri': 'qcxl-pool:mig0'}}");
    g_assert_cmpstr((st = run_state(qa)), ==, "running");
    g_clear_pointer(&st, g_free);

    ignore_shared(qa);
    ignore_shared(qb);
    before = qcxl_pool_read(f.pool, NULL);
    /* the channels form of the same */
    qtest_qmp_assert_success(qa, "{'execute': 'migrate', 'arguments': "
                             "{'channels': [{'channel-type': 'main', "
                             "'addr': {'transport': 'qcxl-pool', "
                             "'region': 'mig0'}}]}}");
    assert_completed_zero_copy(qa, qb);

    /* B owns the region now; A stays a sharer */
    after = qcxl_pool_read(f.pool, NULL);
    a = qcxl_pool_find_host(after, "hostA");
    b = qcxl_pool_find_host(after, "hostB");
    g_assert_cmpint(region(after, "ram")->owner, ==, b);
    g_assert_cmphex(region(after, "ram")->sharers, ==, 1ULL << a);
    g_assert_cmpuint(region(after, "ram")->generation, ==,
                     region(before, "ram")->generation + 1);
    g_assert_cmpint(region(after, "mig0")->owner, ==, a);

    /* the guest's memory is on B, untouched */
    g_assert_cmphex(qtest_readq(qb, 0x400000), ==, PATTERN);
    g_assert_cmphex(qtest_readq(qb, 64 * MiB - 8), ==, ~PATTERN);

    /* A, told to run again, is fenced and reaches the pool no more */
    g_clear_pointer(&st, g_free);
    g_assert_cmpstr((st = run_state(qa)), ==, "postmigrate");
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    wait_run_state(qa, "io-error");
    g_assert_cmphex(qtest_readq(qa, 0x400000), ==, 0);
    qtest_writeq(qa, 0x400000, 0xdead);
    g_assert_cmphex(qtest_readq(qb, 0x400000), ==, PATTERN);
    assert_owner(&f, "ram", "hostB");

    /* the source goes away; the destination runs on its own */
    qtest_quit(qa);
    qtest_qmp_assert_success(qb, "{'execute': 'cont'}");
    wait_run_state(qb, "running");
    qtest_writeq(qb, 0x400008, 0x600d);
    g_assert_cmphex(qtest_readq(qb, 0x400000), ==, PATTERN);
    qtest_quit(qb);
    teardown(&f);
}

static bool ignore_shared_on(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-migrate-capabilities'}");
    const QListEntry *e;
    bool on = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *c = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(c, "capability"), "x-ignore-shared")) {
            on = qdict_get_bool(c, "state");
        }
    }
    qobject_unref(rsp);
    return on;
}

/*
 * What libvirt does: TCP, and only the capabilities it knows.  With
 * x-ignore-shared set on both command lines (patch 0045: -global
 * migration.x-ignore-shared=on), pool RAM migrates over TCP without a
 * page copied and its ownership passes at switchover, as through the
 * pool's own transport; without it the migration is refused.
 */
/* Listen on a free TCP port of the loopback; the URI to migrate to */
static char *listen_tcp(QTestState *qb)
{
    QDict *rsp, *addr;
    char *uri;

    qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'tcp:127.0.0.1:0'}}");
    rsp = qtest_qmp(qb, "{'execute': 'query-migrate'}");
    addr = qobject_to(QDict, qlist_peek(qdict_get_qlist(
        qdict_get_qdict(rsp, "return"), "socket-address")));
    uri = g_strdup_printf("tcp:127.0.0.1:%s", qdict_get_str(addr, "port"));
    qobject_unref(rsp);
    return uri;
}

static void test_tcp_global(void)
{
    const char *on = "-global migration.x-ignore-shared=on";
    Fixture f;
    QTestState *qa, *qb;
    QDict *info = NULL;
    g_autofree char *uri = NULL, *st = NULL, *run = NULL;

    setup(&f);
    /* without the capability: refused, and A runs on with its memory */
    qa = start(&f, "hostA", "ram", false, false);
    qb = start(&f, "hostB", "ram", false, true);
    g_assert_false(ignore_shared_on(qa));
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    uri = listen_tcp(qb);
    qtest_qmp_assert_success(qa, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    st = wait_migration(qa, "completed|failed", &info);
    g_assert_cmpstr(st, ==, "failed");
    g_assert_nonnull(strstr(qdict_get_str(info, "error-desc"),
                            "needs the capability x-ignore-shared"));
    qobject_unref(info);
    g_assert_cmpstr((run = run_state(qa)), ==, "running");
    assert_owner(&f, "ram", "hostA");
    qtest_quit(qa);
    /* B, whose stream ended before it began, exits 1 (exit-on-error) */
    {
        g_auto(QcxlDeadline) d = qcxl_deadline(10, "the destination to "
                                               "exit after the refusal");

        while (qtest_probe_child(qb)) {
            qcxl_wait(&d, 20);
        }
    }
    qtest_set_expected_status(qb, 1);
    qtest_quit(qb);
    g_clear_pointer(&uri, g_free);

    /* with it on both command lines: zero copy, and the handoff */
    qa = start_with(&f, "hostA", "ram", false, false, on);
    qb = start_with(&f, "hostB", "ram", false, true, on);
    g_assert_true(ignore_shared_on(qa));
    g_assert_true(ignore_shared_on(qb));
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    qtest_writeq(qa, 0x400000, PATTERN);
    uri = listen_tcp(qb);
    qtest_qmp_assert_success(qa, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    assert_completed_zero_copy(qa, qb);
    assert_owner(&f, "ram", "hostB");
    g_assert_cmphex(qtest_readq(qb, 0x400000), ==, PATTERN);
    qtest_quit(qa);
    qtest_quit(qb);
    teardown(&f);
}

/*
 * #18, items 1 and 2: a region has one use at a time.  A stage onto a
 * region this QEMU maps as guest memory, a migration ring laid over
 * guest memory, a memory backend on a ring: each refused, and the
 * region stays recorded as its first user left it (so it cannot be
 * released under the guest).
 */
static void test_one_use(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    int a;

    setup(&f);
    /* Node 0 on region ram, node 1 on DRAM of the same size */
    qa = qtest_initf("-machine q35 -m 128M "
                     "-object memory-backend-qcxl-pool,id=m0,size=64M,"
                     "pool=%s,host=hostA,region=ram -numa node,memdev=m0 "
                     "-object memory-backend-ram,id=m1,size=64M "
                     "-numa node,memdev=m1", f.path);
    qb = start(&f, "hostB", "ram2", false, true);

    /* Stage A's DRAM node onto the region its other node is */
    qmp_fails(qa, "host 'hostA' maps region 'ram' already (as memory)",
              "{'execute': 'qcxl-pool-stage', 'arguments': {'job-id': 's0', "
              "'memdev': 'm1', 'region': 'ram'}}");
    meta = qcxl_pool_read(f.pool, NULL);
    a = qcxl_pool_find_host(meta, "hostA");
    g_assert_cmphex(region(meta, "ram")->mapped, ==, 1ULL << a);
    g_assert_cmpuint(region(meta, "ram")->use, ==, QCXL_REGION_USE_MEMORY);
    qmp_fails(qa, "region 'ram' is mapped by hostA",
              "{'execute': 'qcxl-pool-region-release', "
              "'arguments': {'name': 'ram'}}");

    /* A ring over B's guest memory */
    qmp_fails(qb, "host 'hostB' maps region 'ram2' already (as memory)",
              "{'execute': 'migrate-incoming', "
              "'arguments': {'uri': 'qcxl-pool:ram2'}}");

    /* Guest memory on B's ring */
    qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'qcxl-pool:mig0'}}");
    qmp_fails(qb, "host 'hostB' maps region 'mig0' already (as ring)",
              "{'execute': 'object-add', 'arguments': {"
              "'qom-type': 'memory-backend-qcxl-pool', 'id': 'x', "
              "'size': %" PRIu64 ", 'pool': %s, 'host': 'hostB', "
              "'region': 'mig0'}}", 8 * MiB, f.path);
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(region(meta, "mig0")->use, ==, QCXL_REGION_USE_RING);

    qtest_quit(qb);
    qtest_quit(qa);
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(region(meta, "mig0")->use, ==, QCXL_REGION_USE_NONE);
    g_assert_cmpuint(region(meta, "ram")->mapped, ==, 0);
    teardown(&f);
}

static void test_refused(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autofree char *st = NULL;

    setup(&f);
    qa = start(&f, "hostA", "ram", false, false);
    qb = start(&f, "hostB", "ram2", false, true);
    ignore_shared(qa);
    ignore_shared(qb);

#define MIGRATE(uri) \
    "{'execute': 'migrate', 'arguments': {'uri': '" uri "'}}"
#define INCOMING(uri) \
    "{'execute': 'migrate-incoming', 'arguments': {'uri': '" uri "'}}"
    qmp_fails(qa, "needs a region", MIGRATE("qcxl-pool:"));
    qmp_fails(qa, "unknown option 'bogus=1'",
              MIGRATE("qcxl-pool:mig0,bogus=1"));
    qmp_fails(qa, "given twice", MIGRATE("qcxl-pool:mig0,host=hostA,host=x"));
    qmp_fails(qa, "joined no qcxl pool /nope",
              MIGRATE("qcxl-pool:mig0,pool=/nope"));
    qmp_fails(qa, "no region 'nosuch'", MIGRATE("qcxl-pool:nosuch"));
    qmp_fails(qa, "may not map exclusive region 'ram2'",
              MIGRATE("qcxl-pool:ram2"));
    qmp_fails(qa, "no QEMU listens on this ring", MIGRATE("qcxl-pool:mig0"));
    qmp_fails(qb, "may not map exclusive region 'privA'",
              INCOMING("qcxl-pool:privA"));
    qmp_fails(qa, "addr.region' is missing",
              "{'execute': 'migrate', 'arguments': {'channels': "
              "[{'channel-type': 'main', 'addr': "
              "{'transport': 'qcxl-pool'}}]}}");
    g_assert_cmpstr((st = run_state(qa)), ==, "running");

    /*
     * B maps ram2, not the source's ram: it refuses the handoff and
     * exits; A, whose stream was complete, keeps its memory and runs.
     */
    qtest_writeq(qa, 0x1000, PATTERN);
    qtest_qmp_assert_success(qb, INCOMING("qcxl-pool:mig0"));
    qmp_fails(qb, "has already been started",
              INCOMING("qcxl-pool:mig0"));
    qtest_set_expected_status(qb, 1);
    qtest_qmp_assert_success(qa, MIGRATE("qcxl-pool:mig0"));
    g_clear_pointer(&st, g_free);
    st = wait_migration(qa, "completed|failed", NULL);
    qtest_wait_qemu(qb);
    qtest_quit(qb);
    assert_owner(&f, "ram", "hostA");
    assert_owner(&f, "ram2", "hostB");
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    wait_run_state(qa, "running");
    g_assert_cmphex(qtest_readq(qa, 0x1000), ==, PATTERN);
#undef MIGRATE
#undef INCOMING
    qtest_quit(qa);
    teardown(&f);
}

/*
 * A long migration (256 MiB of DRAM at 32 MiB/s) that does not finish:
 * cancelled, its destination stopped dead, or the ring's positions
 * damaged under it (the reader's tail, which the source checks, or the
 * writer's head, which the destination checks).
 */
static void pool_writeq(Fixture *f, const char *name, uint64_t off,
                        uint64_t v);

typedef enum Interruption {
    CANCEL,
    STOP_DEST,
    DAMAGE_TAIL,
    DAMAGE_HEAD,
} Interruption;

/* Ring header fields (migration/qcxl-pool-channel.c): ring 0 A -> B */
#define RING_HEAD0      0xc0
#define RING_TAIL0      0x140

static void interrupted(Interruption how)
{
    g_auto(QcxlDeadline) d = { 0 };
    Fixture f;
    QTestState *qa, *qb;
    g_autoptr(QcxlPoolMeta) before = NULL, after = NULL;
    g_autofree char *st = NULL, *errf = NULL, *err = NULL;
    QDict *info = NULL;

    setup(&f);
    errf = g_strdup_printf("/tmp/qcxl-mig-qtest-%d.err", getpid());
    qa = start(&f, "hostA", "ram", true, false);
    qb = qtest_initf("-machine q35 -m 320M "
                     "-object memory-backend-qcxl-pool,id=m0,size=64M,"
                     "pool=%s,host=hostB,region=ram -numa node,memdev=m0 "
                     "-object memory-backend-ram,id=m1,size=256M "
                     "-numa node,memdev=m1 -incoming defer 2>%s",
                     f.path, errf);
    ignore_shared(qa);
    ignore_shared(qb);
    qtest_qmp_assert_success(qa, "{'execute': 'migrate-set-parameters', "
                             "'arguments': {'max-bandwidth': %" PRIu64 "}}",
                             32 * MiB);
    qtest_memset(qa, 64 * MiB, 0x5a, 256 * MiB);
    qtest_writeq(qa, 0x2000, PATTERN);
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    before = qcxl_pool_read(f.pool, NULL);

    qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'qcxl-pool:mig0'}}");
    qtest_qmp_assert_success(qa, "{'execute': 'migrate', "
                             "'arguments': {'uri': 'qcxl-pool:mig0'}}");
    /* midway: some of the copied memory has gone, most has not */
    d = qcxl_deadline(30, "the migration to have sent 8 MiB");
    for (;;) {
        QDict *ram;

        g_clear_pointer(&st, g_free);
        st = wait_migration(qa, "active|failed|completed|cancelled", &info);
        g_assert_cmpstr(st, ==, "active");
        ram = qdict_get_qdict(info, "ram");
        if (ram && qdict_get_int(ram, "transferred") > 8 * MiB) {
            g_test_message("midway: %" PRId64 " bytes sent, %" PRId64
                           " to go", qdict_get_int(ram, "transferred"),
                           qdict_get_int(ram, "remaining"));
            g_assert_cmpint(qdict_get_int(ram, "remaining"), >, 64 * MiB);
            qobject_unref(info);
            info = NULL;
            break;
        }
        qobject_unref(info);
        info = NULL;
        qcxl_wait(&d, 20);
    }
    qtest_set_expected_status(qb, 1);
    switch (how) {
    case CANCEL:
        qtest_qmp_assert_success(qa, "{'execute': 'migrate_cancel'}");
        break;
    case STOP_DEST:
        kill(qtest_pid(qb), SIGSTOP);
        break;
    case DAMAGE_TAIL:
        /* B, stopped, cannot put it right: A finds it behind its head */
        kill(qtest_pid(qb), SIGSTOP);
        pool_writeq(&f, "mig0", RING_TAIL0, UINT64_MAX / 2);
        break;
    case DAMAGE_HEAD:
        /* A, stopped, cannot put it right: B finds it behind its tail */
        kill(qtest_pid(qa), SIGSTOP);
        pool_writeq(&f, "mig0", RING_HEAD0, 0);
        qtest_wait_qemu(qb);
        kill(qtest_pid(qa), SIGCONT);
        break;
    }
    g_clear_pointer(&st, g_free);
    st = wait_migration(qa, "cancelled|failed|completed", &info);
    g_assert_cmpstr(st, ==, how == CANCEL ? "cancelled" : "failed");
    if (how == DAMAGE_TAIL) {
        g_test_message("source: %s", qdict_get_str(info, "error-desc"));
        g_assert_nonnull(strstr(qdict_get_str(info, "error-desc"),
                                "the ring's positions are inconsistent "
                                "(damaged or hostile)"));
    }
    qobject_unref(info);

    /* the source runs on, with its memory, and still owns it */
    wait_run_state(qa, "running");
    g_assert_cmphex(qtest_readq(qa, 0x2000), ==, PATTERN);
    after = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpint(region(after, "ram")->owner, ==,
                    qcxl_pool_find_host(after, "hostA"));
    g_assert_cmpuint(region(after, "ram")->generation, ==,
                     region(before, "ram")->generation);

    /* the destination learns the stream was abandoned, and gives up */
    if (how == STOP_DEST || how == DAMAGE_TAIL) {
        kill(qtest_pid(qb), SIGCONT);
    }
    qtest_wait_qemu(qb);
    qtest_quit(qb);
    g_assert_true(g_file_get_contents(errf, &err, NULL, NULL));
    g_test_message("destination: %s", err);
    if (how == DAMAGE_HEAD) {
        g_assert_nonnull(strstr(err, "the ring's positions are "
                                "inconsistent (damaged or hostile)"));
    }
    unlink(errf);
    assert_owner(&f, "ram", "hostA");
    qtest_quit(qa);
    teardown(&f);
}

static void test_cancel(void)
{
    interrupted(CANCEL);
}

static void test_dest_stopped(void)
{
    interrupted(STOP_DEST);
}

static void test_ring_tail_damaged(void)
{
    interrupted(DAMAGE_TAIL);
}

static void test_ring_head_damaged(void)
{
    interrupted(DAMAGE_HEAD);
}

/* Host A with 64 MiB of ordinary RAM (m0), not yet in any pool */
static QTestState *start_dram(void)
{
    return qtest_init("-machine q35 -m 64M "
                      "-object memory-backend-ram,id=m0,size=64M "
                      "-numa node,memdev=m0");
}

/* Job @id's status once it concluded; its error, if any, in @error */
static void wait_job(QTestState *qts, const char *id, char **error)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(60, "job %s to conclude", id);

    for (;;) {
        QDict *rsp = qtest_qmp(qts, "{'execute': 'query-jobs'}");
        QList *jobs = qdict_get_qlist(rsp, "return");
        QListEntry *e;

        QLIST_FOREACH_ENTRY(jobs, e) {
            QDict *job = qobject_to(QDict, qlist_entry_obj(e));

            if (!strcmp(qdict_get_str(job, "id"), id) &&
                !strcmp(qdict_get_str(job, "status"), "concluded")) {
                *error = qdict_haskey(job, "error") ?
                         g_strdup(qdict_get_str(job, "error")) : NULL;
                qobject_unref(rsp);
                qtest_qmp_assert_success(qts, "{'execute': 'job-dismiss', "
                                         "'arguments': {'id': %s}}", id);
                return;
            }
        }
        qobject_unref(rsp);
        qcxl_wait(&d, 50);
    }
}

/* Job @id's current progress, or -1 once it is not running */
static int64_t job_progress(QTestState *qts, const char *id)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-jobs'}");
    QListEntry *e;
    int64_t cur = -1;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(rsp, "return"), e) {
        QDict *job = qobject_to(QDict, qlist_entry_obj(e));

        if (!strcmp(qdict_get_str(job, "id"), id) &&
            !strcmp(qdict_get_str(job, "status"), "running")) {
            cur = qdict_get_int(job, "current-progress");
        }
    }
    qobject_unref(rsp);
    return cur;
}

/* The file offset of byte @off of region @name */
static off_t pool_offset(Fixture *f, const char *name, uint64_t off)
{
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(f->pool, NULL);
    g_autofree uint32_t *ext = NULL;
    uint64_t e = qcxl_pool_super(f->pool)->extent_size;
    uint32_t count;

    ext = qcxl_pool_region_extents(meta, qcxl_pool_find_region(meta, name),
                                   &count);
    g_assert_cmpuint(off / e, <, count);
    return qcxl_pool_extent_offset(f->pool, ext[off / e]) + off % e;
}

static void pool_writeq(Fixture *f, const char *name, uint64_t off,
                        uint64_t v)
{
    g_assert_cmpint(pwrite(qcxl_pool_fd(f->pool), &v, 8,
                           pool_offset(f, name, off)), ==, 8);
}

/* The 8 bytes at @off of region @name, read from the pool itself */
static uint64_t pool_readq(Fixture *f, const char *name, uint64_t off)
{
    uint64_t v;

    g_assert_cmpint(pread(qcxl_pool_fd(f->pool), &v, 8,
                          pool_offset(f, name, off)), ==, 8);
    return v;
}

static bool mapped_by(Fixture *f, const char *name, const char *host)
{
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(f->pool, NULL);

    return region(meta, name)->mapped >> qcxl_pool_find_host(meta, host) & 1;
}

static void write_marks(QTestState *qts, uint64_t salt)
{
    for (uint64_t a = 0; a < 64 * MiB; a += MiB) {
        qtest_writeq(qts, a + 0x100, PATTERN ^ a ^ salt);
    }
}

static void check_marks(QTestState *qts, uint64_t salt)
{
    for (uint64_t a = 0; a < 64 * MiB; a += MiB) {
        g_assert_cmphex(qtest_readq(qts, a + 0x100), ==, PATTERN ^ a ^ salt);
    }
}

/*
 * Once job @id has copied @bytes, write the marks of @salt while it goes
 * on copying: dirty tracking must carry them into the new memory
 */
static void write_during(QTestState *qts, const char *id, int64_t bytes,
                         uint64_t salt)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(30, "job %s to have copied %"
                                           PRId64 " bytes", id, bytes);
    int64_t cur;

    while ((cur = job_progress(qts, id)) < bytes) {
        g_assert_cmpint(cur, >=, 0);
        qcxl_wait(&d, 10);
    }
    write_marks(qts, salt);
}

/*
 * The job's report of its pause: the 64 pages write_during() wrote
 * while the first round copied were copied again, in a round or in the
 * pause
 */
static void assert_moved(QTestState *qts, const char *id, bool into_pool)
{
    QDict *ev = qtest_qmp_eventwait_ref(qts, "QCXL_POOL_MOVED");
    QDict *data = qdict_get_qdict(ev, "data");

    g_test_message("%s: %" PRId64 " rounds, the pause %" PRId64 " us for %"
                   PRId64 " bytes", id, qdict_get_int(data, "rounds"),
                   qdict_get_int(data, "pause-us"),
                   qdict_get_int(data, "last-bytes"));
    g_assert_cmpstr(qdict_get_str(data, "job-id"), ==, id);
    g_assert_cmpstr(qdict_get_str(data, "memdev"), ==, "m0");
    g_assert_cmpint(qdict_get_bool(data, "into-pool"), ==, into_pool);
    g_assert_cmpint(qdict_get_int(data, "bytes"), ==, 64 * MiB);
    g_assert_cmpint(qdict_get_int(data, "rounds"), >=, 1);
    g_assert_true(qdict_get_int(data, "rounds") > 1 ||
                  qdict_get_int(data, "last-bytes") >= 64 * 4096);
    qobject_unref(ev);
}

#define STAGE(extra) \
    "{'execute': 'qcxl-pool-stage', 'arguments': {'job-id': 's0', " \
    "'memdev': 'm0', 'pool': %s, 'host': 'hostA', " extra "}}"

static void test_staged(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autofree char *err = NULL, *mtree = NULL;

    setup(&f);
    qa = start_dram();
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    write_marks(qa, 0);

    /* bad requests, each refused with its reason */
    qmp_fails(qa, "no memory backend 'nope'",
              "{'execute': 'qcxl-pool-stage', 'arguments': {'job-id': 's0',"
              " 'memdev': 'nope', 'region': 'stage', 'pool': %s, "
              "'host': 'hostA'}}", f.path);
    qmp_fails(qa, "must be equal", STAGE("'region': 'privA'"), f.path);
    qmp_fails(qa, "region 'ram2'", STAGE("'region': 'ram2'"), f.path);
    qmp_fails(qa, "region 'none'", STAGE("'region': 'none'"), f.path);
    qmp_fails(qa, "region: ", STAGE("'region': 'a/b'"), f.path);
    qmp_fails(qa, "chunk-size must be",
              STAGE("'region': 'stage', 'chunk-size': 1000"), f.path);
    qmp_fails(qa, "chunk-size must be",
              STAGE("'region': 'stage', 'chunk-size': 4294967296"), f.path);
    qmp_fails(qa, "is not in a qcxl pool",
              "{'execute': 'qcxl-pool-pull', 'arguments': {'job-id': 'p0',"
              " 'memdev': 'm0'}}");
    g_assert_false(mapped_by(&f, "stage", "hostA"));

    /*
     * A's RAM moves into the region while the guest runs and writes.
     * Stale bytes in the region where A's memory is zero must not show
     * through.
     */
    pool_writeq(&f, "stage", 3 * MiB + 0x8000, 0x57a1e);
    pool_writeq(&f, "stage", 40 * MiB + 0x10000, 0x57a1e);
    qtest_qmp_assert_success(qa, STAGE("'region': 'stage', "
                                       "'chunk-size': 1048576, "
                                       "'speed': 33554432"), f.path);
    write_during(qa, "s0", 16 * MiB, 0);
    wait_job(qa, "s0", &err);
    g_assert_null(err);
    assert_moved(qa, "s0", true);
    check_marks(qa, 0);
    g_assert_cmphex(qtest_readq(qa, 3 * MiB + 0x8000), ==, 0);
    g_assert_cmphex(pool_readq(&f, "stage", 3 * MiB + 0x8000), ==, 0);
    g_assert_cmphex(pool_readq(&f, "stage", 40 * MiB + 0x10000), ==, 0);
    /* ... and is the region's memory now, still RAM in the flat view */
    g_assert_true(mapped_by(&f, "stage", "hostA"));
    g_assert_cmphex(pool_readq(&f, "stage", 0x100), ==, PATTERN);
    qtest_writeq(qa, 5 * MiB + 0x200, 0x5747);
    g_assert_cmphex(pool_readq(&f, "stage", 5 * MiB + 0x200), ==, 0x5747);
    mtree = qtest_hmp(qa, "info mtree -f");
    g_assert_nonnull(strstr(mtree, "(prio 0, ram): m0"));
    qmp_fails(qa, "memory backend 'm0' is pool memory already",
              STAGE("'region': 'stage'"), f.path);

    /* it migrates through the pool with no page copied */
    qb = start(&f, "hostB", "stage", false, true);
    ignore_shared(qa);
    ignore_shared(qb);
    qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': 'qcxl-pool:mig0'}}");
    qtest_qmp_assert_success(qa, "{'execute': 'migrate', "
                             "'arguments': {'uri': 'qcxl-pool:mig0'}}");
    assert_completed_zero_copy(qa, qb);
    assert_owner(&f, "stage", "hostB");
    qtest_qmp_assert_success(qb, "{'execute': 'cont'}");
    check_marks(qb, 0);

    /* A may not take back what is B's */
    qmp_fails(qa, "is not host 'hostA''s",
              "{'execute': 'qcxl-pool-pull', 'arguments': {'job-id': 'p0',"
              " 'memdev': 'm0'}}");

    /* B takes the memory into its own DRAM and lets the region go */
    qtest_qmp_assert_success(qb, "{'execute': 'qcxl-pool-pull', "
                             "'arguments': {'job-id': 'p0', 'memdev': 'm0',"
                             " 'chunk-size': 2097152, "
                             "'speed': 33554432}}");
    write_during(qb, "p0", 16 * MiB, 1);
    wait_job(qb, "p0", &err);
    g_assert_null(err);
    assert_moved(qb, "p0", false);
    check_marks(qb, 1);
    g_assert_cmphex(qtest_readq(qb, 3 * MiB + 0x8000), ==, 0);
    g_assert_false(mapped_by(&f, "stage", "hostB"));
    qtest_writeq(qb, 0x100, 0xb0b);
    g_assert_cmphex(pool_readq(&f, "stage", 0x100), ==, PATTERN ^ 1);
    g_assert_cmphex(qtest_readq(qb, 0x100), ==, 0xb0b);
    qmp_fails(qb, "is not in a qcxl pool",
              "{'execute': 'qcxl-pool-pull', 'arguments': {'job-id': 'p1',"
              " 'memdev': 'm0'}}");
    qtest_quit(qa);
    qtest_quit(qb);
    teardown(&f);
}

/* A stage cancelled midway: the memory is whole, private, and A's */
static void test_stage_cancel(void)
{
    g_auto(QcxlDeadline) d = { 0 };
    Fixture f;
    QTestState *qa;
    g_autofree char *err = NULL;
    int64_t cur;

    setup(&f);
    qa = start_dram();
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    write_marks(qa, 2);
    qtest_qmp_assert_success(qa, STAGE("'region': 'stage', "
                                       "'chunk-size': 65536, "
                                       "'speed': 8388608"), f.path);
    d = qcxl_deadline(30, "job s0 to have copied 8 MiB");
    while ((cur = job_progress(qa, "s0")) < 8 * MiB) {
        g_assert_cmpint(cur, >=, 0);
        qcxl_wait(&d, 10);
    }
    g_assert_cmpint(cur, <, 48 * MiB);

    /* nothing else may move or migrate it meanwhile */
    qmp_fails(qa, "job 's0' is moving memory backend 'm0'",
              "{'execute': 'qcxl-pool-stage', 'arguments': {'job-id': 's1',"
              " 'memdev': 'm0', 'region': 'stage'}}");
    ignore_shared(qa);
    qmp_fails(qa, "job 's0' is moving guest memory",
              "{'execute': 'migrate', 'arguments': "
              "{'uri': 'qcxl-pool:mig0'}}");

    qtest_qmp_assert_success(qa, "{'execute': 'job-cancel', "
                             "'arguments': {'id': 's0'}}");
    wait_job(qa, "s0", &err);
    g_assert_nonnull(err);
    g_test_message("cancelled at %" PRId64 " bytes: %s", cur, err);
    check_marks(qa, 2);
    g_assert_false(mapped_by(&f, "stage", "hostA"));
    qtest_writeq(qa, 0x100, 0xc0de);
    g_assert_cmphex(pool_readq(&f, "stage", 0x100), !=, 0xc0de);
    assert_owner(&f, "stage", "hostA");

    /*
     * At 1 byte/s, a 32 MiB chunk asks for a wait of 3.4e9 ms, more
     * than a timed wait takes (it aborted QEMU: found by
     * tests/fuzz/qmp-fuzz.py); it is cancelled while it waits.
     */
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-stage', "
                             "'arguments': {'job-id': 's2', 'memdev': 'm0',"
                             " 'pool': %s, 'host': 'hostA', "
                             "'region': 'stage', 'chunk-size': 33554432, "
                             "'speed': 1}}", f.path);
    {
        g_auto(QcxlDeadline) d2 = qcxl_deadline(30, "job s2 to have "
                                                "copied its first chunk");

        while ((cur = job_progress(qa, "s2")) < 32 * MiB) {
            g_assert_cmpint(cur, >=, 0);
            qcxl_wait(&d2, 10);
        }
    }
    qtest_qmp_assert_success(qa, "{'execute': 'job-cancel', "
                             "'arguments': {'id': 's2'}}");
    g_clear_pointer(&err, g_free);
    wait_job(qa, "s2", &err);
    g_assert_nonnull(err);
    /* the guest's memory is still its DRAM, as it was */
    g_assert_cmphex(qtest_readq(qa, 0x100), ==, 0xc0de);
    g_assert_false(mapped_by(&f, "stage", "hostA"));
    qtest_quit(qa);
    teardown(&f);
}

/* The HMP front ends: same jobs, same refusals, progress in the info */
static char *G_GNUC_PRINTF(2, 3) hmp(QTestState *qts, const char *fmt, ...)
{
    va_list ap;
    char *out;

    va_start(ap, fmt);
    out = qtest_vhmp(qts, fmt, ap);
    va_end(ap);
    g_test_message("%s", out);
    return out;
}

static void hmp_has(QTestState *qts, const char *cmd, const char *want)
{
    g_autofree char *out = hmp(qts, "%s", cmd);

    g_assert_nonnull(strstr(out, want));
}

static void hmp_wait_concluded(QTestState *qts, const char *id)
{
    g_autofree char *want = g_strdup_printf("job %s (", id);

    g_auto(QcxlDeadline) d = qcxl_deadline(60, "info qcxl-pool to show "
                                           "job %s concluded", id);

    for (;;) {
        g_autofree char *out = hmp(qts, "info qcxl-pool");
        char *line = strstr(out, want);

        g_assert_nonnull(line);
        if (g_str_has_prefix(strchr(line, ')'), "): concluded")) {
            return;
        }
        qcxl_wait(&d, 50);
    }
}

static void test_hmp(void)
{
    g_auto(QcxlDeadline) d = { 0 };
    Fixture f;
    QTestState *qa;
    g_autofree char *cmd = NULL;

    setup(&f);
    qa = start_dram();
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    write_marks(qa, 3);
    hmp_has(qa, "info qcxl-pool", "this QEMU has joined no qcxl pool");

    /* bad input: the option list, unknown jobs, the QMP refusals */
    hmp_has(qa, "qcxl_pool_stage s0 m0 stage pool=x,colour=red",
            "unknown option 'colour'");
    hmp_has(qa, "qcxl_pool_stage s0 m0 stage speed=fast",
            "speed: 'fast' is not a size");
    hmp_has(qa, "qcxl_pool_stage s0 m0 stage chunk-size.a=1",
            "option 'chunk-size' takes one value");
    hmp_has(qa, "qcxl_pool_stage s0 m0 stage pool",
            "Expected '='");
    hmp_has(qa, "qcxl_pool_pull p0 m0 host=hostA",
            "unknown option 'host' (this command takes chunk-size");
    hmp_has(qa, "qcxl_pool_pull p0 m0", "is not in a qcxl pool");
    hmp_has(qa, "qcxl_pool_job_cancel nope", "no job 'nope'");
    hmp_has(qa, "qcxl_pool_job_dismiss nope", "no job 'nope'");
    cmd = g_strdup_printf("qcxl_pool_stage s0 m0 privA pool=%s,host=hostA",
                          f.path);
    hmp_has(qa, cmd, "must be equal");
    g_assert_false(mapped_by(&f, "stage", "hostA"));

    /* a slow stage shows its progress, and is cancelled and dismissed */
    g_free(cmd);
    cmd = g_strdup_printf("qcxl_pool_stage s0 m0 stage pool=%s,host=hostA,"
                          "chunk-size=64k,speed=16M", f.path);
    hmp_has(qa, cmd, "");
    d = qcxl_deadline(30, "job s0 to have moved 2 MiB");
    while (job_progress(qa, "s0") < 2 * MiB) {
        g_assert_cmpint(job_progress(qa, "s0"), >=, 0);
        qcxl_wait(&d, 10);
    }
    hmp_has(qa, "info qcxl-pool", "job s0 (qcxl-pool-stage): running, ");
    hmp_has(qa, "info qcxl-pool", "host hostA: active");
    hmp_has(qa, "qcxl_pool_job_dismiss s0",
            "Job 's0' in state 'running' cannot accept command verb "
            "'dismiss'");
    hmp_has(qa, "qcxl_pool_job_cancel s0", "");
    hmp_wait_concluded(qa, "s0");
    hmp_has(qa, "info qcxl-pool", "MiB moved: Operation canceled");
    hmp_has(qa, "qcxl_pool_job_dismiss s0", "");
    {
        g_autofree char *out = hmp(qa, "info qcxl-pool");

        /* the stage had joined the pool; rolled back, it left it */
        g_assert_null(strstr(out, "job s0"));
        g_assert_nonnull(strstr(out, "this QEMU has joined no qcxl pool"));
    }
    check_marks(qa, 3);
    g_assert_false(mapped_by(&f, "stage", "hostA"));

    /* a whole stage, then the pull back: the pool joined stays joined */
    g_free(cmd);
    cmd = g_strdup_printf("qcxl_pool_stage s1 m0 stage pool=%s,host=hostA",
                          f.path);
    hmp_has(qa, cmd, "");
    hmp_wait_concluded(qa, "s1");
    hmp_has(qa, "info qcxl-pool", "job s1 (qcxl-pool-stage): concluded, "
            "64 of 64 MiB moved\r\n");
    {
        g_autofree char *out = hmp(qa, "info qcxl-pool");
        g_auto(GStrv) lines = g_strsplit(out, "\r\n", -1);
        int n = 0;

        for (int i = 0; lines[i]; i++) {
            if (g_str_has_prefix(lines[i], "  region stage: 64 MiB shared, "
                                 "owner hostA, generation ")) {
                g_assert_true(g_str_has_suffix(lines[i], ", sharers hostB, "
                                               "mapped by hostA (as memory)"));
                n++;
            }
        }
        g_assert_cmpint(n, ==, 1);
    }
    g_assert_true(mapped_by(&f, "stage", "hostA"));
    check_marks(qa, 3);
    hmp_has(qa, "qcxl_pool_pull p0 m0 chunk-size=1M", "");
    hmp_wait_concluded(qa, "p0");
    hmp_has(qa, "info qcxl-pool", "job p0 (qcxl-pool-pull): concluded, "
            "64 of 64 MiB moved\r\n");
    g_assert_false(mapped_by(&f, "stage", "hostA"));
    check_marks(qa, 3);
    qtest_quit(qa);
    teardown(&f);
}

/*
 * A hostile handoff section: the destination reads a stream the source
 * saved to a file, with the qcxl-pool-handoff section altered.  Every
 * alteration must make it refuse (exit 1, with its reason) and leave
 * the pool as it was: host A still owns "ram", at the same generation.
 */
typedef struct HandoffCase {
    const char *what;
    const char *err;            /* in the destination's stderr */
    void (*alter)(GByteArray *s, size_t n_at);
} HandoffCase;

#define ENTRY_REGION    (4 + 16)
#define ENTRY_FROM      (ENTRY_REGION + 64)
#define ENTRY_GEN       (ENTRY_FROM + 32)
#define ENTRY_OWNED     (ENTRY_GEN + 8)

static void put_be32(GByteArray *s, size_t at, uint32_t v)
{
    v = cpu_to_be32(v);
    memcpy(s->data + at, &v, 4);
}

static void alter_count_big(GByteArray *s, size_t n)
{
    put_be32(s, n, 257);
}

static void alter_count_negative(GByteArray *s, size_t n)
{
    put_be32(s, n, 0xffffffff);
}

static void alter_name_unterminated(GByteArray *s, size_t n)
{
    memset(s->data + n + ENTRY_REGION, 'r', 64);
}

static void alter_owned(GByteArray *s, size_t n)
{
    s->data[n + ENTRY_OWNED] = 7;
}

static void alter_generation(GByteArray *s, size_t n)
{
    s->data[n + ENTRY_GEN + 7] ^= 0x10;
}

static void alter_from(GByteArray *s, size_t n)
{
    memcpy(s->data + n + ENTRY_FROM, "hostZ", 6);
}

static void alter_region(GByteArray *s, size_t n)
{
    memcpy(s->data + n + ENTRY_REGION, "ram2", 5);
}

static void alter_uuid(GByteArray *s, size_t n)
{
    s->data[n + 4] ^= 0xff;
}

static void alter_truncated(GByteArray *s, size_t n)
{
    g_byte_array_set_size(s, n + ENTRY_GEN);
}

static const HandoffCase handoff_cases[] = {
    { "257 regions", "handed over 257 regions; at most", alter_count_big },
    { "-1 regions", "handed over -1 regions", alter_count_negative },
    { "a name without its NUL", "malformed region entry",
      alter_name_unterminated },
    { "owned = 7", "malformed region entry", alter_owned },
    { "a stale generation", "taking the guest's regions over from host "
      "'hostA' failed", alter_generation },
    { "another source host", "taking the guest's regions over from host "
      "'hostZ' failed", alter_from },
    { "another region", "this QEMU maps region 'ram', but the source did "
      "not", alter_region },
    { "another pool", "this QEMU maps region 'ram', but the source did not",
      alter_uuid },
    { "a stream cut short", "Failed to load qcxl-pool-handoff",
      alter_truncated },
};

static void test_hostile_handoff(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autofree char *saved = NULL, *uri = NULL, *st = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autoptr(QcxlPoolMeta) meta0 = NULL;
    uint64_t gen0;
    gchar *data;
    gsize len;
    size_t n_at;
    const char *name = "qcxl-pool-handoff";
    char *hit;

    setup(&f);
    saved = g_strdup_printf("/tmp/qcxl-handoff-%d.mig", getpid());

    /* A saves its state, with the offer of "ram", to a file */
    qa = start(&f, "hostA", "ram", false, false);
    ignore_shared(qa);
    qtest_writeq(qa, 0x2000, PATTERN);
    uri = g_strdup_printf("file:%s", saved);
    qtest_qmp_assert_success(qa, "{'execute': 'migrate', 'arguments': "
                             "{'uri': %s}}", uri);
    st = wait_migration(qa, "completed|failed", NULL);
    g_assert_cmpstr(st, ==, "completed");
    qtest_quit(qa);
    meta0 = qcxl_pool_read(f.pool, NULL);
    gen0 = region(meta0, "ram")->generation;
    assert_owner(&f, "ram", "hostA");

    /* the section: type, id, name length, name, instance, version, n */
    g_assert_true(g_file_get_contents(saved, &data, &len, &gerr));
    hit = memmem(data, len, name, strlen(name));
    g_assert_nonnull(hit);
    g_assert_cmpint((uint8_t)hit[-1], ==, strlen(name));
    n_at = hit - data + strlen(name) + 8;
    g_assert_cmpuint(n_at + ENTRY_OWNED + 1, <=, len);
    g_assert_cmpint(be32_to_cpu(*(uint32_t *)(data + n_at)), ==, 1);
    g_assert_cmpstr(data + n_at + ENTRY_REGION, ==, "ram");
    g_assert_cmpstr(data + n_at + ENTRY_FROM, ==, "hostA");

    for (size_t i = 0; i < G_N_ELEMENTS(handoff_cases); i++) {
        const HandoffCase *c = &handoff_cases[i];
        g_autoptr(GByteArray) s = g_byte_array_new();
        g_autofree char *bad = g_strdup_printf("%s.%zu", saved, i);
        g_autofree char *errf = g_strdup_printf("%s.err", bad);
        g_autofree char *err = NULL, *bad_uri = NULL;
        g_autoptr(QcxlPoolMeta) meta = NULL;

        g_byte_array_append(s, (guint8 *)data, len);
        c->alter(s, n_at);
        g_assert_true(g_file_set_contents(bad, (char *)s->data, s->len,
                                          NULL));
        /* libqtest starts QEMU through the shell: catch its stderr */
        qb = qtest_initf("-machine q35 -m 64M -object "
                         "memory-backend-qcxl-pool,id=m0,size=64M,pool=%s,"
                         "host=hostB,region=ram -numa node,memdev=m0 "
                         "-incoming defer 2>%s", f.path, errf);
        ignore_shared(qb);
        qtest_set_expected_status(qb, 1);
        bad_uri = g_strdup_printf("file:%s", bad);
        qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                                 "'arguments': {'uri': %s}}", bad_uri);
        qtest_wait_qemu(qb);
        qtest_quit(qb);
        g_assert_true(g_file_get_contents(errf, &err, NULL, NULL));
        g_test_message("%s: %s", c->what, err);
        g_assert_nonnull(strstr(err, c->err));
        meta = qcxl_pool_read(f.pool, NULL);
        g_assert_cmpuint(region(meta, "ram")->generation, ==, gen0);
        assert_owner(&f, "ram", "hostA");
        g_assert_false(mapped_by(&f, "ram", "hostB"));
        unlink(bad);
        unlink(errf);
    }

    /* the stream as it was: B takes the memory over, data and all */
    qb = start(&f, "hostB", "ram", false, true);
    ignore_shared(qb);
    qtest_qmp_assert_success(qb, "{'execute': 'migrate-incoming', "
                             "'arguments': {'uri': %s}}", uri);
    wait_run_state(qb, "running");
    assert_owner(&f, "ram", "hostB");
    g_assert_cmphex(qtest_readq(qb, 0x2000), ==, PATTERN);
    qtest_quit(qb);
    unlink(saved);
    g_free(data);
    teardown(&f);
}

/*
 * The pool's file system fills up while staging: the stage fails with
 * ENOSPC, moves back what it moved, and the guest's memory is whole.
 * Needs root, for a small tmpfs of its own.
 */
static void test_stage_enospc(void)
{
    g_autofree char *dir = g_strdup_printf("/tmp/qcxl-enospc-%d", getpid());
    g_autofree char *path = g_strdup_printf("%s/pool", dir);
    g_autofree char *mnt = NULL, *err = NULL;
    g_autoptr(GError) gerr = NULL;
    QcxlPool *pool;
    QTestState *qa;
    int status;

    if (geteuid() != 0) {
        g_test_skip("needs root to mount a small tmpfs");
        return;
    }
    g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
    mnt = g_strdup_printf("mount -t tmpfs -o size=40m qcxl-enospc %s", dir);
    g_assert_true(g_spawn_command_line_sync(mnt, NULL, NULL, &status,
                                            &gerr));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* a sparse 128 MiB pool on 40 MiB of tmpfs, a 64 MiB region */
    g_assert_true(qcxl_pool_format(path, 128 * MiB, 2 * MiB, 1000, false,
                                   &gerr));
    pool = qcxl_pool_open(path, &gerr);
    g_assert_no_error(gerr);
    g_assert_true(qcxl_pool_host_add(pool, "hostA", &gerr));
    g_assert_true(qcxl_pool_region_create(pool, "stage", 64 * MiB, "hostA",
                                          false, &gerr));
    qcxl_pool_close(pool);

    qa = start_dram();
    qtest_qmp_assert_success(qa, "{'execute': 'cont'}");
    qtest_memset(qa, 0, 0x5a, 64 * MiB);
    write_marks(qa, 4);
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-stage', "
                             "'arguments': {'job-id': 's0', 'memdev': 'm0', "
                             "'region': 'stage', 'pool': %s, "
                             "'host': 'hostA', 'chunk-size': 4194304}}",
                             path);
    wait_job(qa, "s0", &err);
    g_test_message("stage on a full file system: %s", err);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err, "No space left on device"));
    check_marks(qa, 4);
    g_assert_cmphex(qtest_readq(qa, 7 * MiB + 0x800), ==,
                    0x5a5a5a5a5a5a5a5aULL);
    /* private again: writes no longer reach the region */
    qmp_fails(qa, "is not in a qcxl pool",
              "{'execute': 'qcxl-pool-pull', 'arguments': {'job-id': 'p0',"
              " 'memdev': 'm0'}}");
    qtest_quit(qa);

    g_free(mnt);
    mnt = g_strdup_printf("umount %s", dir);
    g_assert_true(g_spawn_command_line_sync(mnt, NULL, NULL, &status,
                                            NULL));
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qcxl/migration/pool-ram", test_pool_ram);
    qtest_add_func("/qcxl/migration/refused", test_refused);
    qtest_add_func("/qcxl/migration/tcp-global", test_tcp_global);
    qtest_add_func("/qcxl/migration/one-use", test_one_use);
    qtest_add_func("/qcxl/migration/cancel", test_cancel);
    qtest_add_func("/qcxl/migration/dest-stopped", test_dest_stopped);
    qtest_add_func("/qcxl/migration/ring-tail-damaged",
                   test_ring_tail_damaged);
    qtest_add_func("/qcxl/migration/ring-head-damaged",
                   test_ring_head_damaged);
    qtest_add_func("/qcxl/migration/staged", test_staged);
    qtest_add_func("/qcxl/migration/stage-cancel", test_stage_cancel);
    qtest_add_func("/qcxl/migration/hmp", test_hmp);
    qtest_add_func("/qcxl/migration/stage-enospc", test_stage_enospc);
    qtest_add_func("/qcxl/migration/hostile-handoff", test_hostile_handoff);
    return g_test_run();
}
