/*
 * qtest: memory-backend-qcxl-pool, QEMU processes sharing one pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * - guest RAM carved from a pool region is the pool's memory (what the
 *   guest writes is in the region's extent), held as RAM in the flat view;
 * - two QEMU processes with a shared region see each other's writes, and
 *   a cxl-type3 head on it in each reports the region's size;
 * - bad arguments and damaged pools are refused at start with a clear
 *   error, and the pool is never reformatted;
 * - without host=, a backend joins as the machine's host name;
 * - an evicted host's guest is stopped; a clean exit leaves the pool;
 * - a head maps several regions in order and reports the pool's serial
 *   number, the same in every QEMU;
 * - the QMP commands query, allocate, share, release and evict, refuse
 *   what the host may not do, report damaged metadata as an error, and
 *   a stuck host's expired lease is an event;
 * - a region interleaved across two heads is an interleaved set of the
 *   pool's own pages, in each of two QEMU processes that map the same
 *   regions: each guest sees the other's writes at once.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qobject/qlist.h"
#include "qobject/qnum.h"
#include "qobject/qstring.h"
#include "hw/mem/qcxl_pool.h"
#include "qcxl-wait.h"

#define MiB ((uint64_t)1 << 20)

#include "qcxl-cxl-topo.h"

typedef struct Fixture {
    char *path;
    QcxlPool *pool;
} Fixture;

static void setup(Fixture *f, uint32_t lease_ms)
{
    g_autoptr(GError) err = NULL;

    f->path = g_strdup_printf("/dev/shm/qcxl-qtest-%d.pool", getpid());
    unlink(f->path);
    g_assert_true(qcxl_pool_format(f->path, 256 * MiB, 2 * MiB, lease_ms,
                                   false, &err));
    f->pool = qcxl_pool_open(f->path, &err);
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_host_add(f->pool, "hostA", &err));
    g_assert_true(qcxl_pool_host_add(f->pool, "hostB", &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "shared0", 32 * MiB,
                                          "hostA", true, &err));
    g_assert_true(qcxl_pool_region_share(f->pool, "shared0", "hostB", true,
                                         &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "privA", 16 * MiB,
                                          "hostA", false, &err));
    g_assert_no_error(err);
}

static void teardown(Fixture *f)
{
    qcxl_pool_close(f->pool);
    unlink(f->path);
    g_free(f->path);
}

/* Guest RAM (one NUMA node) from @region, as @host */
static QTestState *start(Fixture *f, const char *host, const char *region,
                         uint64_t size, const char *extra)
{
    return qtest_initf("-machine q35 -m %" PRIu64 "M "
                       "-object memory-backend-qcxl-pool,id=m0,size=%"
                       PRIu64 "M,pool=%s,host=%s,region=%s "
                       "-numa node,memdev=m0 %s", size / MiB, size / MiB,
                       f->path, host, region, extra);
}

/*
 * A CXL machine whose type-3 device is a head: size (MiB), pool, host,
 * regions
 */
#define CXL_HEAD \
    "-machine cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G " \
    "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 " \
    "-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2 " \
    "-object memory-backend-qcxl-pool,id=head,size=%dM,pool=%s," \
    "host=%s,region=%s " \
    "-device cxl-type3,bus=rp0,volatile-memdev=head,id=cxl-vmem0"

static const QcxlPoolRegion *region_of(QcxlPoolMeta *meta, const char *name)
{
    int r = qcxl_pool_find_region(meta, name);

    g_assert_cmpint(r, >=, 0);
    return &meta->regions[r];
}

/* The host address of byte @off of region @name, in this process's map */
static uint8_t *region_byte(Fixture *f, const char *name, uint64_t off)
{
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(f->pool, NULL);
    g_autofree uint32_t *ext = NULL;
    uint64_t e = qcxl_pool_super(f->pool)->extent_size;
    uint32_t n;

    ext = qcxl_pool_region_extents(meta, qcxl_pool_find_region(meta, name),
                                   &n);
    g_assert_cmpuint(off / e, <, n);
    return qcxl_pool_base(f->pool) + qcxl_pool_extent_offset(f->pool,
                                                             ext[off / e]) +
           off % e;
}

static void test_guest_ram(void)
{
    Fixture f;
    QTestState *qts;
    g_autofree char *mtree = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    uint64_t v;
    int a;

    setup(&f, 1000);
    qts = start(&f, "hostA", "privA", 16 * MiB, "");

    /* the pool records the mapping, and the host is active */
    meta = qcxl_pool_read(f.pool, NULL);
    a = qcxl_pool_find_host(meta, "hostA");
    g_assert_cmpuint(meta->hosts[a].state, ==, QCXL_HOST_ACTIVE);
    g_assert_cmpuint(region_of(meta, "privA")->mapped, ==, 1ULL << a);

    /* a guest write lands in the region's memory, and back */
    qtest_writeq(qts, 0x300000, 0x5143584c504f4f4cULL);
    memcpy(&v, region_byte(&f, "privA", 0x300000), 8);
    g_assert_cmphex(v, ==, 0x5143584c504f4f4cULL);
    v = 0x1122334455667788ULL;
    memcpy(region_byte(&f, "privA", 0xa00008), &v, 8);
    g_assert_cmphex(qtest_readq(qts, 0xa00008), ==, v);

    /* the flat view holds it as RAM: KVM gets a memslot */
    mtree = qtest_hmp(qts, "info mtree -f");
    g_assert_nonnull(strstr(mtree, "(prio 0, ram): m0"));

    /* a clean exit leaves the pool: inactive, unmapped */
    qtest_quit(qts);
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(meta->hosts[a].state, ==, QCXL_HOST_INACTIVE);
    g_assert_cmpuint(region_of(meta, "privA")->mapped, ==, 0);
    teardown(&f);
}

static void test_two_hosts(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autofree char *xa = NULL, *xb = NULL;
    QDict *rsp;

    setup(&f, 1000);
    /*
     * Guest RAM is the shared region, to read it from the guests; the
     * heads share another (a host maps a region once: #18, item 1).
     */
    g_assert_true(qcxl_pool_region_create(f.pool, "shared1", 32 * MiB,
                                          "hostA", true, NULL));
    g_assert_true(qcxl_pool_region_share(f.pool, "shared1", "hostB", true,
                                         NULL));
    xa = g_strdup_printf(CXL_HEAD, 32, f.path, "hostA", "shared1");
    xb = g_strdup_printf(CXL_HEAD, 32, f.path, "hostB", "shared1");
    qa = start(&f, "hostA", "shared0", 32 * MiB, xa);
    qb = start(&f, "hostB", "shared0", 32 * MiB, xb);

    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(region_of(meta, "shared0")->mapped, ==, 3);
    g_assert_cmpuint(region_of(meta, "shared1")->mapped, ==, 3);
    g_assert_cmpuint(region_of(meta, "shared1")->use, ==,
                     QCXL_REGION_USE_MEMORY);

    qtest_writeq(qa, 0x200000, 0xa5a5000011112222ULL);
    g_assert_cmphex(qtest_readq(qb, 0x200000), ==, 0xa5a5000011112222ULL);
    qtest_writeq(qb, 0x1fff000, 0x0badcafe);
    g_assert_cmphex(qtest_readq(qa, 0x1fff000), ==, 0x0badcafe);

    /* each head is backed by the same 32 MiB */
    for (QTestState *q = qa; q; q = q == qa ? qb : NULL) {
        rsp = qtest_qmp(q, "{'execute': 'qom-get', 'arguments': "
                        "{'path': '/objects/head', 'property': 'size'}}");
        g_assert_cmpint(qdict_get_int(rsp, "return"), ==, 32 * MiB);
        qobject_unref(rsp);
    }

    qtest_quit(qa);
    qtest_quit(qb);
    teardown(&f);
}

/* Start QEMU with @args; it must exit non-zero printing @msg. */
/* QEMU with @args (freed here) exits with @msg in its error */
static void refused(char *args, const char *msg)
{
    g_autofree char *owned = args;
    const char *qemu = g_getenv("QTEST_QEMU_BINARY");
    g_autofree char *cmd = g_strdup_printf("%s -machine q35 -display none "
                                           "-S %s", qemu, args);
    g_autofree char *out = NULL, *err = NULL;
    g_auto(GStrv) argv = NULL;
    int status;

    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_DEFAULT, NULL,
                               NULL, &out, &err, &status, NULL));
    if (!strstr(err, msg)) {
        g_test_message("expected '%s' in: %s", msg, err);
    }
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    g_assert_nonnull(strstr(err, msg));
}

static void test_bad_args(void)
{
    Fixture f;
    g_autofree char *junk = g_strdup_printf("/dev/shm/qcxl-qtest-junk-%d",
                                            getpid());
    g_autofree char *contents = NULL;
    const QcxlPoolSuper *sb;
    QTestState *qa;
    uint8_t *base;

#define BACKEND "-object memory-backend-qcxl-pool,id=m0,"
    setup(&f, 1000);
    refused(g_strdup(BACKEND "size=16M,host=hostA,region=privA"),
            "Parameter 'pool' is missing");
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostA,"
                            "region=nope", f.path),
            "no region 'nope' in the pool");
    refused(g_strdup_printf(BACKEND "size=8M,pool=%s,host=hostA,"
                            "region=privA", f.path),
            "is 16777216 bytes, not the 8388608 given by size=");
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostB,"
                            "region=privA", f.path),
            "host 'hostB' may not map exclusive region 'privA'");
    /*
     * A mistyped host: named in the error, and not left in the pool (it
     * used to stay registered, one of 64 slots gone for each typo).
     */
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostZ,"
                            "region=privA", f.path),
            "host 'hostZ' was not in pool");
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostZ,"
                            "region=privA", f.path),
            "may not map exclusive region 'privA'");
    refused(g_strdup_printf(BACKEND "size=8M,pool=%s,host=hostY,"
                            "region=shared0", f.path),
            "host 'hostY' was not in pool");
    {
        g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(f.pool, NULL);

        g_assert_nonnull(meta);
        g_assert_cmpint(qcxl_pool_find_host(meta, "hostZ"), <, 0);
        g_assert_cmpint(qcxl_pool_find_host(meta, "hostY"), <, 0);
        /* a host that was there before a failed start stays */
        g_assert_cmpint(qcxl_pool_find_host(meta, "hostB"), >=, 0);
        g_assert_cmpint(qcxl_pool_find_host(meta, "hostA"), >=, 0);
    }
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=bad/name,"
                            "region=privA", f.path), "bad name");
    /* region= (empty) was "region '' is 0 bytes, not the ..." */
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostA,"
                            "region=", f.path), "region: bad name");
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostC,"
                            "create-host=off,region=privA", f.path),
            "no host 'hostC'");
    refused(g_strdup(BACKEND "size=16M,pool=/nonexistent/pool,host=a,"
                     "region=b"),
            "No such file");

    /* a second QEMU for a host that is active */
    qa = start(&f, "hostA", "privA", 16 * MiB, "");
    refused(g_strdup_printf(BACKEND "size=32M,pool=%s,host=hostA,"
                            "region=shared0", f.path),
            "host 'hostA' is already active");
    qtest_quit(qa);

    /* a file that is not a pool is refused and left as it was */
    g_assert_true(g_file_set_contents(junk, "not a pool, keep me", -1,
                                      NULL));
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=a,region=b",
                            junk), "not a qcxl pool");
    g_assert_true(g_file_get_contents(junk, &contents, NULL, NULL));
    g_assert_cmpstr(contents, ==, "not a pool, keep me");
    unlink(junk);

    /* both metadata copies damaged: refused, never reformatted */
    sb = qcxl_pool_super(f.pool);
    base = qcxl_pool_base(f.pool);
    base[QCXL_POOL_META_OFFSET + 100] ^= 0xff;
    base[QCXL_POOL_META_OFFSET + sb->meta_size + 100] ^= 0xff;
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostA,"
                            "region=privA", f.path),
            "both metadata copies are damaged");
    g_assert_cmpmem(base, 8, QCXL_POOL_MAGIC, 8);
    /* a damaged superblock: refused, pointing at fsck */
    base[40] ^= 1;
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostA,"
                            "region=privA", f.path), "fsck");
    teardown(&f);
}

/*
 * Without host=, the backend joins as the machine's host name, so that
 * one command line (one libvirt domain, which libvirt also starts a
 * migration's destination from) serves every host; a host name that is
 * no pool name is refused, saying so.
 */
static void test_default_host(void)
{
    Fixture f;
    QTestState *qts;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autofree char *mtree = NULL, *cmd = NULL, *err = NULL;
    g_auto(GStrv) argv = NULL;
    const char *me = g_get_host_name();
    int h, status;

    setup(&f, 1000);
    if (!qcxl_pool_valid_name(me, QCXL_POOL_HOST_NAME_LEN, NULL)) {
        g_test_message("host name '%s' is no pool name: only the refusal "
                       "is checked", me);
    } else {
        g_assert_true(qcxl_pool_host_add(f.pool, me, NULL));
        g_assert_true(qcxl_pool_region_share(f.pool, "shared0", me, true,
                                             NULL));
        qts = qtest_initf("-machine q35 -m 32M "
                          "-object memory-backend-qcxl-pool,id=m0,size=32M,"
                          "pool=%s,region=shared0 -numa node,memdev=m0",
                          f.path);
        meta = qcxl_pool_read(f.pool, NULL);
        h = qcxl_pool_find_host(meta, me);
        g_assert_cmpint(h, >=, 0);
        g_assert_cmpuint(meta->hosts[h].state, ==, QCXL_HOST_ACTIVE);
        g_assert_cmpuint(region_of(meta, "shared0")->mapped, ==, 1ULL << h);
        mtree = qtest_hmp(qts, "info mtree -f");
        g_assert_nonnull(strstr(mtree, "(prio 0, ram): m0"));
        qtest_quit(qts);
    }

    /* a host name of 40 characters, in a UTS namespace of its own */
    if (geteuid() != 0) {
        g_test_message("not root: the long host name is not tried");
        teardown(&f);
        return;
    }
    cmd = g_strdup_printf("unshare --uts sh -c 'hostname "
                          "a-host-name-much-longer-than-a-pool-allows && "
                          "exec %s -machine q35 -display none -S -m 32M "
                          "-object memory-backend-qcxl-pool,id=m0,size=32M,"
                          "pool=%s,region=shared0 -numa node,memdev=m0'",
                          g_getenv("QTEST_QEMU_BINARY"), f.path);
    g_assert_true(g_shell_parse_argv(cmd, NULL, &argv, NULL));
    g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL,
                               NULL, NULL, &err, &status, NULL));
    g_test_message("%s", err);
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    g_assert_nonnull(strstr(err, "no host= given, and this machine's host "
                                 "name will not do"));
    teardown(&f);
}

static void test_fenced(void)
{
    g_auto(QcxlDeadline) d = { 0 };
    Fixture f;
    QTestState *qts;
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    const char *status = NULL;
    QDict *rsp = NULL;

    setup(&f, 300);
    qts = start(&f, "hostA", "privA", 16 * MiB, "");
    qtest_qmp_assert_success(qts, "{'execute': 'cont'}");
    /* the QEMU beats: its lease is alive */
    g_assert_false(qcxl_pool_watch_stale(f.pool, 0, 300));

    g_assert_true(qcxl_pool_evict(f.pool, "hostA", &err));
    g_assert_no_error(err);
    /* within a few heartbeats QEMU notices and stops the guest */
    d = qcxl_deadline(10, "the evicted QEMU to stop its guest (io-error)");
    for (;;) {
        qobject_unref(rsp);
        rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
        status = qdict_get_str(qdict_get_qdict(rsp, "return"), "status");
        if (!strcmp(status, "io-error")) {
            break;
        }
        qcxl_wait(&d, 50);
    }
    qobject_unref(rsp);
    qtest_quit(qts);

    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(meta->hosts[0].state, ==, QCXL_HOST_FENCED);
    g_assert_cmpuint(region_of(meta, "privA")->mapped, ==, 0);
    teardown(&f);
}

/* The pool's host slot of @name */
static int host_slot(Fixture *f, const char *name)
{
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(f->pool, NULL);

    return qcxl_pool_find_host(meta, name);
}

static uint64_t dict_u64(QDict *d, const char *key)
{
    uint64_t v;

    g_assert_true(qnum_get_try_uint(qobject_to(QNum, qdict_get(d, key)),
                                    &v));
    return v;
}

static uint64_t qom_get_uint(QTestState *qts, const char *path,
                             const char *prop)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'qom-get', 'arguments': "
                           "{'path': %s, 'property': %s}}", path, prop);
    uint64_t v = dict_u64(rsp, "return");

    qobject_unref(rsp);
    return v;
}

static void test_head(void)
{
    Fixture f;
    QTestState *qa, *qb;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autofree char *xa = NULL, *xb = NULL;
    uint64_t v, sn;
    int a;

    setup(&f, 1000);
    sn = qcxl_pool_device_serial(f.pool);
    /* hostA's head: its exclusive region, then the shared one */
    xa = g_strdup_printf(CXL_HEAD, 48, f.path, "hostA", "privA:shared0");
    xb = g_strdup_printf(CXL_HEAD, 32, f.path, "hostB", "shared0");
    qa = qtest_initf("-machine q35 -m 16M %s", xa);
    qb = qtest_initf("-machine q35 -m 16M %s", xb);

    /* each head holds exactly what its host was given */
    g_assert_cmpuint(qom_get_uint(qa, "/objects/head", "size"), ==,
                     48 * MiB);
    g_assert_cmpuint(qom_get_uint(qb, "/objects/head", "size"), ==,
                     32 * MiB);
    /* and both are the same device: the pool's serial number */
    g_assert_cmpuint(sn, !=, UINT64_MAX);
    g_assert_cmpuint(qom_get_uint(qa, "/objects/head", "device-serial"), ==,
                     sn);
    g_assert_cmpuint(qom_get_uint(qa, "/machine/peripheral/cxl-vmem0", "sn"),
                     ==, sn);
    g_assert_cmpuint(qom_get_uint(qb, "/machine/peripheral/cxl-vmem0", "sn"),
                     ==, sn);
    qtest_quit(qb);
    qtest_quit(qa);

    /* the regions are laid out in the order given */
    qa = start(&f, "hostA", "privA:shared0", 48 * MiB, "");
    meta = qcxl_pool_read(f.pool, NULL);
    a = qcxl_pool_find_host(meta, "hostA");
    g_assert_cmpuint(region_of(meta, "privA")->mapped, ==, 1ULL << a);
    g_assert_cmpuint(region_of(meta, "shared0")->mapped, ==, 1ULL << a);
    qtest_writeq(qa, 0x100000, 0x1111);
    qtest_writeq(qa, 16 * MiB + 0x100000, 0x2222);
    memcpy(&v, region_byte(&f, "privA", 0x100000), 8);
    g_assert_cmphex(v, ==, 0x1111);
    memcpy(&v, region_byte(&f, "shared0", 0x100000), 8);
    g_assert_cmphex(v, ==, 0x2222);
    qtest_quit(qa);

    /* bad lists are refused, and nothing stays mapped */
    refused(g_strdup_printf("-object memory-backend-qcxl-pool,id=m0,"
                            "size=48M,pool=%s,host=hostA,"
                            "region=privA:privA", f.path),
            "region 'privA' is named twice");
    refused(g_strdup_printf("-object memory-backend-qcxl-pool,id=m0,"
                            "size=48M,pool=%s,host=hostA,"
                            "region=privA::shared0", f.path),
            "bad name");
    refused(g_strdup_printf("-object memory-backend-qcxl-pool,id=m0,"
                            "size=48M,pool=%s,host=hostA,"
                            "region=privA:nope", f.path),
            "no region 'nope' in the pool");
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(region_of(meta, "privA")->mapped, ==, 0);
    g_assert_cmpuint(meta->hosts[a].state, ==, QCXL_HOST_INACTIVE);
    teardown(&f);
}

/* How window 0 of @qts maps @addr: "copy", "backend-pages" or NULL */
static const char *set_backing_at(QTestState *qts, uint64_t addr)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(60, "interleaved sets to be "
                                           "built (sets-building false)");
    static char backing[32];
    const QListEntry *e;
    QDict *resp, *win;

    for (;;) {
        resp = qtest_qmp(qts, "{ 'execute': 'query-cxl-direct-map' }");
        win = qobject_to(QDict, qlist_peek(qdict_get_qlist(resp, "return")));
        if (!qdict_get_bool(win, "sets-building")) {
            break;
        }
        qobject_unref(resp);
        qcxl_wait(&d, 20);
    }
    backing[0] = 0;
    QLIST_FOREACH_ENTRY(qdict_get_qlist(win, "ranges"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t s = dict_u64(r, "start");

        if (addr >= s && addr - s < dict_u64(r, "size")) {
            if (qdict_haskey(r, "set-backing")) {
                g_strlcpy(backing, qdict_get_str(r, "set-backing"),
                          sizeof(backing));
            } else {
                g_test_message("0x%" PRIx64 ": %s", addr,
                               qdict_get_try_str(r, "reason"));
            }
        }
    }
    qobject_unref(resp);
    return backing[0] ? backing : NULL;
}

/* Pull @memdev out of the pool as job @id, and wait for it to end well */
static void pull(QTestState *qts, const char *id, const char *memdev)
{
    g_auto(QcxlDeadline) d = qcxl_deadline(60, "job %s pulling %s to "
                                           "conclude", id, memdev);

    qtest_qmp_assert_success(qts, "{'execute': 'qcxl-pool-pull', "
                             "'arguments': {'job-id': %s, 'memdev': %s}}",
                             id, memdev);
    for (;;) {
        QDict *resp = qtest_qmp(qts, "{'execute': 'query-jobs'}");
        QDict *job = qobject_to(QDict,
                                qlist_peek(qdict_get_qlist(resp, "return")));
        bool done = job && !strcmp(qdict_get_str(job, "status"),
                                   "concluded");

        if (done) {
            g_assert_false(qdict_haskey(job, "error"));
        }
        qobject_unref(resp);
        if (done) {
            break;
        }
        qcxl_wait(&d, 20);
    }
    qtest_qmp_assert_success(qts, "{'execute': 'job-dismiss', "
                             "'arguments': {'id': %s}}", id);
}

/*
 * #19: a region interleaved across two pool heads (two type-3 devices on
 * two pool regions) at 16 KiB, in two QEMU processes of two hosts that
 * share both regions.  Each set is the pool's own pages: what one guest
 * writes is in the regions, in the devices' layout, and the other guest
 * reads it through its own set at once.
 */
static void test_interleaved_heads(void)
{
    g_autoptr(GError) err = NULL;
    g_autofree char *xa = NULL, *xb = NULL;
    Topo *ta, *tb;
    uint64_t off, dpa, size;
    Fixture f;
    int dev;

    f.path = g_strdup_printf("/dev/shm/qcxl-qtest-%d.pool", getpid());
    unlink(f.path);
    g_assert_true(qcxl_pool_format(f.path, 640 * MiB, 2 * MiB, 1000, false,
                                   &err));
    f.pool = qcxl_pool_open(f.path, &err);
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_host_add(f.pool, "hostA", &err));
    g_assert_true(qcxl_pool_host_add(f.pool, "hostB", &err));
    for (dev = 0; dev < 2; dev++) {
        g_autofree char *name = g_strdup_printf("head%d", dev);

        g_assert_true(qcxl_pool_region_create(f.pool, name, 256 * MiB,
                                              "hostA", true, &err));
        g_assert_true(qcxl_pool_region_share(f.pool, name, "hostB", true,
                                             &err));
    }
    g_assert_no_error(err);
#define HEADS "-object memory-backend-qcxl-pool,id=cxl-mem0,size=256M," \
              "pool=%s,host=%s,region=head0 " \
              "-object memory-backend-qcxl-pool,id=cxl-mem1,size=256M," \
              "pool=%s,host=%s,region=head1 "
    xa = g_strdup_printf(HEADS, f.path, "hostA", f.path, "hostA");
    xb = g_strdup_printf(HEADS, f.path, "hostB", f.path, "hostB");
#undef HEADS
    ta = topo_new_full("hb2-ext", xa, 6, NULL);
    tb = topo_new_full("hb2-ext", xb, 6, NULL);
    size = topo_commit_set(ta, 2);
    topo_commit_set(tb, 2);
    g_assert_cmpstr(set_backing_at(ta->qts, ta->win), ==, "backend-pages");
    g_assert_cmpstr(set_backing_at(tb->qts, tb->win + size - 1), ==,
                    "backend-pages");

    for (off = 8; off < size; off += 3 * MiB + 16 * KiB + 8) {
        uint64_t v = 0x6865616400000000ULL ^ off, got;
        g_autofree char *name = NULL;

        qtest_writeq(ta->qts, ta->win + off, v);
        dev = topo_set_dpa(ta, 2, off, &dpa);
        name = g_strdup_printf("head%d", dev);
        memcpy(&got, region_byte(&f, name, dpa), 8);
        g_assert_cmphex(got, ==, v);
        g_assert_cmphex(qtest_readq(tb->qts, tb->win + off), ==, v);
        qtest_writeq(tb->qts, tb->win + off, ~v);
        g_assert_cmphex(qtest_readq(ta->qts, ta->win + off), ==, ~v);
    }

    /*
     * hostA pulls head0 into its DRAM: the set of the pool's pages goes
     * first (left mapped, it would keep writing into the pool).  With
     * head0 private and head1 the pool's, no set can hold both.
     */
    pull(ta->qts, "p0", "cxl-mem0");
    g_assert_null(set_backing_at(ta->qts, ta->win));
    g_assert_cmphex(qtest_readq(ta->qts, ta->win + 8), ==,
                    ~(0x6865616400000000ULL ^ 8));
    qtest_writeq(ta->qts, ta->win + 8, 0x70756c6c);
    g_assert_cmphex(qtest_readq(tb->qts, tb->win + 8), ==,
                    ~(0x6865616400000000ULL ^ 8));
    /* Both pulled: private media, a copy */
    pull(ta->qts, "p1", "cxl-mem1");
    g_assert_cmpstr(set_backing_at(ta->qts, ta->win), ==, "copy");
    g_assert_cmphex(qtest_readq(ta->qts, ta->win + 8), ==, 0x70756c6c);
    topo_free(tb);
    topo_free(ta);
    teardown(&f);
}

/* Run a QMP command that must fail with @msg in its description */
static void G_GNUC_PRINTF(3, 4) qmp_fails(QTestState *qts, const char *msg,
                                          const char *fmt, ...)
{
    va_list ap;
    QDict *rsp, *err;
    const char *desc;

    va_start(ap, fmt);
    rsp = qtest_vqmp(qts, fmt, ap);
    va_end(ap);
    err = qdict_get_qdict(rsp, "error");
    g_assert_nonnull(err);
    desc = qdict_get_str(err, "desc");
    if (!strstr(desc, msg)) {
        g_test_message("expected '%s' in: %s", msg, desc);
    }
    g_assert_nonnull(strstr(desc, msg));
    qobject_unref(rsp);
}

/* query-qcxl-pool's entry for region @name (a new reference), or NULL */
static QDict *query_region(QTestState *qts, const char *name, QDict **pool)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-qcxl-pool'}");
    QList *pools = qdict_get_qlist(rsp, "return");
    QDict *found = NULL;
    QListEntry *e;

    g_assert_cmpint(qlist_size(pools), ==, 1);
    *pool = qobject_to(QDict, qlist_peek(pools));
    qobject_ref(*pool);
    QLIST_FOREACH_ENTRY(qdict_get_qlist(*pool, "regions"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        if (!strcmp(qdict_get_str(r, "name"), name)) {
            found = r;
            qobject_ref(found);
        }
    }
    qobject_unref(rsp);
    return found;
}

/* The names in QList @l, joined with ',' */
static char *names(QList *l)
{
    GString *s = g_string_new("");
    QListEntry *e;

    QLIST_FOREACH_ENTRY(l, e) {
        g_string_append_printf(s, "%s%s", s->len ? "," : "",
                               qstring_get_str(qobject_to(QString,
                                                          qlist_entry_obj(e))));
    }
    return g_string_free(s, false);
}

static void test_qmp(void)
{
    g_auto(QcxlDeadline) d = { 0 };
    Fixture f;
    QTestState *qa, *qb;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autofree char *sharers = NULL, *mapped = NULL;
    QDict *pool, *reg, *rsp, *data;
    uint32_t n;
    g_autofree uint32_t *ext = NULL;

    setup(&f, 300);
    qa = start(&f, "hostA", "privA", 16 * MiB, "");
    qb = start(&f, "hostB", "shared0", 32 * MiB, "");

    /* query: the pool as hostA sees it */
    reg = query_region(qa, "shared0", &pool);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpstr(qdict_get_str(pool, "pool"), ==, f.path);
    g_assert_cmpstr(qdict_get_str(pool, "host"), ==, "hostA");
    g_assert_false(qdict_get_bool(pool, "fenced"));
    g_assert_cmpuint(dict_u64(pool, "free"), ==,
                     qcxl_pool_free_extents(meta) * 2 * MiB);
    g_assert_cmpuint(dict_u64(pool, "device-serial"), ==,
                     qcxl_pool_device_serial(f.pool));
    g_assert_cmpint(qlist_size(qdict_get_qlist(pool, "hosts")), ==, 2);
    g_assert_nonnull(reg);
    g_assert_true(qdict_get_bool(reg, "shared"));
    g_assert_cmpstr(qdict_get_str(reg, "owner"), ==, "hostA");
    sharers = names(qdict_get_qlist(reg, "sharers"));
    mapped = names(qdict_get_qlist(reg, "mapped-by"));
    g_assert_cmpstr(sharers, ==, "hostB");
    g_assert_cmpstr(mapped, ==, "hostB");
    g_assert_cmpuint(dict_u64(reg, "size"), ==, 32 * MiB);
    qobject_unref(reg);
    qobject_unref(pool);

    /* allocate, with bad arguments first */
    qmp_fails(qa, "bad name", "{'execute': 'qcxl-pool-region-create', "
              "'arguments': {'name': 'a/b', 'size': 8388608}}");
    qmp_fails(qa, "exists", "{'execute': 'qcxl-pool-region-create', "
              "'arguments': {'name': 'privA', 'size': 8388608}}");
    qmp_fails(qa, "multiple", "{'execute': 'qcxl-pool-region-create', "
              "'arguments': {'name': 'newA', 'size': 3145728}}");
    qmp_fails(qa, "exceeds the pool", "{'execute': "
              "'qcxl-pool-region-create', 'arguments': {'name': 'newA', "
              "'size': %" PRIu64 "}}", (uint64_t)1 << 40);
    qmp_fails(qa, "free", "{'execute': 'qcxl-pool-region-create', "
              "'arguments': {'name': 'newA', 'size': %" PRIu64 "}}",
              220 * MiB);
    qmp_fails(qa, "joined no qcxl pool", "{'execute': "
              "'qcxl-pool-region-create', 'arguments': {'pool': '/nope', "
              "'name': 'newA', 'size': 8388608}}");
    qmp_fails(qa, "Parameter 'name' is missing", "{'execute': "
              "'qcxl-pool-region-create', 'arguments': {'size': 8388608}}");
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-region-create', "
                             "'arguments': {'name': 'newA', "
                             "'size': 8388608}}");
    reg = query_region(qa, "newA", &pool);
    g_assert_nonnull(reg);
    g_assert_false(qdict_get_bool(reg, "shared"));
    g_assert_cmpstr(qdict_get_str(reg, "owner"), ==, "hostA");
    qobject_unref(reg);
    qobject_unref(pool);

    /* hostB may not touch hostA's regions */
    qmp_fails(qb, "belongs to host 'hostA'", "{'execute': "
              "'qcxl-pool-region-release', 'arguments': {'name': 'newA'}}");
    qmp_fails(qb, "belongs to host 'hostA'", "{'execute': "
              "'qcxl-pool-region-share', 'arguments': {'name': 'newA', "
              "'sharer': 'hostB'}}");
    qmp_fails(qb, "no region", "{'execute': 'qcxl-pool-region-release', "
              "'arguments': {'name': 'nope'}}");

    /* share it: hostB maps it with object-add; then it cannot go */
    qmp_fails(qa, "no host 'hostZ'", "{'execute': "
              "'qcxl-pool-region-share', 'arguments': {'name': 'newA', "
              "'sharer': 'hostZ'}}");
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-region-share', "
                             "'arguments': {'name': 'newA', "
                             "'sharer': 'hostB'}}");
    qtest_qmp_assert_success(qb, "{'execute': 'object-add', 'arguments': "
                             "{'qom-type': 'memory-backend-qcxl-pool', "
                             "'id': 'n', 'size': 8388608, 'pool': %s, "
                             "'host': 'hostB', 'region': 'newA'}}", f.path);
    qmp_fails(qa, "mapped", "{'execute': 'qcxl-pool-region-release', "
              "'arguments': {'name': 'newA'}}");
    qmp_fails(qa, "mapped", "{'execute': 'qcxl-pool-region-share', "
              "'arguments': {'name': 'newA', 'sharer': 'hostB', "
              "'share': false}}");
    qtest_qmp_assert_success(qb, "{'execute': 'object-del', 'arguments': "
                             "{'id': 'n'}}");
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-region-share', "
                             "'arguments': {'name': 'newA', "
                             "'sharer': 'hostB', 'share': false}}");
    /* released: its extents are zero and free again */
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    ext = qcxl_pool_region_extents(meta, qcxl_pool_find_region(meta, "newA"),
                                   &n);
    g_assert_cmpuint(n, ==, 4);
    memset(qcxl_pool_base(f.pool) + qcxl_pool_extent_offset(f.pool, ext[0]),
           0x5a, 4096);
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-region-release', "
                             "'arguments': {'name': 'newA'}}");
    g_assert_true(qcxl_pool_extent_is_zero(f.pool, ext[0]));
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpint(qcxl_pool_find_region(meta, "newA"), <, 0);

    /* eviction: never of oneself, never of a live host unless forced */
    qmp_fails(qa, "cannot evict itself", "{'execute': 'qcxl-pool-evict', "
              "'arguments': {'target': 'hostA', 'force': true}}");
    qmp_fails(qa, "is alive", "{'execute': 'qcxl-pool-evict', "
              "'arguments': {'target': 'hostB'}}");
    qmp_fails(qa, "no host", "{'execute': 'qcxl-pool-evict', "
              "'arguments': {'target': 'hostQ'}}");

    /* hostB's QEMU gets stuck: hostA reports its lease expired */
    kill(qtest_pid(qb), SIGSTOP);
    rsp = qtest_qmp_eventwait_ref(qa, "QCXL_POOL_LEASE_EXPIRED");
    data = qdict_get_qdict(rsp, "data");
    g_assert_cmpstr(qdict_get_str(data, "host"), ==, "hostB");
    g_assert_cmpstr(qdict_get_str(data, "pool"), ==, f.path);
    g_assert_cmpuint(dict_u64(data, "incarnation"), ==,
                     meta->hosts[host_slot(&f, "hostB")].incarnation);
    qobject_unref(rsp);
    rsp = qtest_qmp(qa, "{'execute': 'query-qcxl-pool'}");
    {
        QDict *p = qobject_to(QDict, qlist_peek(qdict_get_qlist(rsp,
                                                                "return")));
        QListEntry *e;
        int seen = 0;

        QLIST_FOREACH_ENTRY(qdict_get_qlist(p, "hosts"), e) {
            QDict *h = qobject_to(QDict, qlist_entry_obj(e));
            bool b = !strcmp(qdict_get_str(h, "name"), "hostB");

            g_assert_cmpint(qdict_get_bool(h, "lease-expired"), ==, b);
            seen += b;
        }
        g_assert_cmpint(seen, ==, 1);
    }
    qobject_unref(rsp);
    /* now hostA may evict it; hostB, when it wakes, stops its guest */
    qtest_qmp_assert_success(qa, "{'execute': 'qcxl-pool-evict', "
                             "'arguments': {'target': 'hostB'}}");
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(meta->hosts[host_slot(&f, "hostB")].state, ==,
                     QCXL_HOST_FENCED);
    g_assert_cmpuint(region_of(meta, "shared0")->mapped, ==, 0);
    kill(qtest_pid(qb), SIGCONT);
    d = qcxl_deadline(10, "hostB's QEMU, resumed, to stop its guest "
                      "(io-error)");
    for (;;) {
        rsp = qtest_qmp(qb, "{'execute': 'query-status'}");
        n = !strcmp(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    "io-error");
        qobject_unref(rsp);
        if (n) {
            break;
        }
        qcxl_wait(&d, 50);
    }
    qmp_fails(qb, "was evicted", "{'execute': 'qcxl-pool-region-create', "
              "'arguments': {'name': 'late', 'size': 2097152}}");
    qtest_quit(qb);

    /* metadata damaged under a running QEMU: clear errors, no crash */
    {
        const QcxlPoolSuper *sb = qcxl_pool_super(f.pool);
        uint8_t *base = qcxl_pool_base(f.pool);

        base[QCXL_POOL_META_OFFSET + 100] ^= 0xff;
        base[QCXL_POOL_META_OFFSET + sb->meta_size + 100] ^= 0xff;
        qmp_fails(qa, "both metadata copies are damaged",
                  "{'execute': 'query-qcxl-pool'}");
        qmp_fails(qa, "damaged", "{'execute': 'qcxl-pool-region-create', "
                  "'arguments': {'name': 'late', 'size': 2097152}}");
        base[QCXL_POOL_META_OFFSET + 100] ^= 0xff;
        base[QCXL_POOL_META_OFFSET + sb->meta_size + 100] ^= 0xff;
        rsp = qtest_qmp(qa, "{'execute': 'query-qcxl-pool'}");
        g_assert_true(qdict_haskey(rsp, "return"));
        qobject_unref(rsp);
    }
    qtest_quit(qa);
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qcxl/pool/guest-ram", test_guest_ram);
    qtest_add_func("/qcxl/pool/two-hosts", test_two_hosts);
    qtest_add_func("/qcxl/pool/bad-args", test_bad_args);
    qtest_add_func("/qcxl/pool/default-host", test_default_host);
    qtest_add_func("/qcxl/pool/fenced", test_fenced);
    qtest_add_func("/qcxl/pool/head", test_head);
    qtest_add_func("/qcxl/pool/qmp", test_qmp);
    qtest_add_func("/qcxl/pool/interleaved-heads", test_interleaved_heads);
    return g_test_run();
}
