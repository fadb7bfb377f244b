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
 * - an evicted host's guest is stopped; a clean exit leaves the pool.
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"
#include "hw/mem/qcxl_pool.h"

#define MiB (1ULL << 20)

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
    const char *cxl =
        "-machine cxl=on,cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G "
        "-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1 "
        "-device cxl-rp,port=0,bus=cxl.1,id=rp0,chassis=0,slot=2 "
        "-object memory-backend-qcxl-pool,id=head,size=32M,pool=%s,"
        "host=%s,region=shared0 "
        "-device cxl-type3,bus=rp0,volatile-memdev=head,id=cxl-vmem0";
    g_autofree char *xa = NULL, *xb = NULL;
    QDict *rsp;

    setup(&f, 1000);
    xa = g_strdup_printf(cxl, f.path, "hostA");
    xb = g_strdup_printf(cxl, f.path, "hostB");
    /* guest RAM is the shared region too, to read it from the guests */
    qa = start(&f, "hostA", "shared0", 32 * MiB, xa);
    qb = start(&f, "hostB", "shared0", 32 * MiB, xb);

    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(region_of(meta, "shared0")->mapped, ==, 3);

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
static void refused(const char *args, const char *msg)
{
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
    refused(BACKEND "size=16M,host=hostA,region=privA",
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
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=bad/name,"
                            "region=privA", f.path), "bad name");
    refused(g_strdup_printf(BACKEND "size=16M,pool=%s,host=hostC,"
                            "create-host=off,region=privA", f.path),
            "no host 'hostC'");
    refused(BACKEND "size=16M,pool=/nonexistent/pool,host=a,region=b",
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

static void test_fenced(void)
{
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
    for (int i = 0; i < 200; i++) {
        qobject_unref(rsp);
        rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
        status = qdict_get_str(qdict_get_qdict(rsp, "return"), "status");
        if (!strcmp(status, "io-error")) {
            break;
        }
        g_usleep(50000);
    }
    g_assert_cmpstr(status, ==, "io-error");
    qobject_unref(rsp);
    qtest_quit(qts);

    meta = qcxl_pool_read(f.pool, NULL);
    g_assert_cmpuint(meta->hosts[0].state, ==, QCXL_HOST_FENCED);
    g_assert_cmpuint(region_of(meta, "privA")->mapped, ==, 0);
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qcxl/pool/guest-ram", test_guest_ram);
    qtest_add_func("/qcxl/pool/two-hosts", test_two_hosts);
    qtest_add_func("/qcxl/pool/bad-args", test_bad_args);
    qtest_add_func("/qcxl/pool/fenced", test_fenced);
    return g_test_run();
}
