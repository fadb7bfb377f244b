/*
 * qtest: HA over CXL, epoch checkpoints in a pool and takeover
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * - protect refuses what it cannot protect, with the reason;
 * - a takeover QEMU resumes exactly the last committed epoch: the
 *   markers the test wrote into RAM and into a device (the RTC's CMOS)
 *   before each commit, and nothing written after it; it is refused
 *   while the primary holds a live lease, and the primary that lost the
 *   VM can commit nothing more;
 * - a primary killed between commit and the images' update, or in the
 *   middle of an epoch, leaves a checkpoint the takeover completes or
 *   ignores;
 * - damaged records, logs, device state and headers are refused, and
 *   nothing is loaded;
 * - hmp: the HMP commands (bad options refused; protect, info,
 *   unprotect, takeover), with epochs on their 20 ms timer;
 * - interleaved: an interleaved CXL set (a copy, RAM nothing saves) is
 *   down while the VM is protected, and the checkpoint holds what the
 *   guest wrote to the window, on the devices' media; it comes back
 *   after;
 * - journal: a disk behind a qcxl-ha-journal filter gets the writes of
 *   committed epochs only, also when the old host died before it wrote
 *   them (a takeover writes them from the journal); a write of an epoch
 *   not committed never reaches it; a journal with a damaged entry
 *   header or data is refused before anything is written, and the same
 *   QEMU takes over once it is repaired; a disk without the filter is
 *   refused; journal-full: an epoch that writes more than the journal
 *   holds sends its writes to the disk at once and stops protection
 *   (journal-full), and the VM runs on; a journal node deleted while
 *   protected stops protection (journal-removed);
 * - kill-random: the primary is killed with SIGKILL at random instants
 *   of a checkpoint, over and over; each time a new QEMU takes the VM
 *   over, checks it is exactly the epoch last acknowledged or the one in
 *   flight (RAM, CMOS and the disk behind a journal, which the test
 *   writes the epoch's marker to as well), protects it again into the
 *   other regions and becomes the next primary.
 *
 * The RAM checks read the image region straight from the pool: after a
 * takeover it is the new QEMU's RAM.
 */

#include "qemu/osdep.h"
#include <sys/wait.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "hw/mem/qcxl_pool.h"
#include "hw/mem/qcxl_ckpt.h"
#include "qobject/qnum.h"
#include "qcxl-wait.h"

#define MiB ((uint64_t)1 << 20)
#include "qcxl-cxl-topo.h"
#define RAM_MB 32
#define CKPT_MB 48
#define MARK_OFF (8 * MiB)
#define MARK_LEN (16 * MiB)
#define CMOS_INDEX 0x40
#define KILLS 100

typedef struct Fixture {
    char *path;
    QcxlPool *pool;
} Fixture;

/* Two region sets: checkpoint and RAM image; set 1 hostA's, 2 hostC's */
static const char *ckpt_of[] = { NULL, "ckpt1", "ckpt2" };
static const char *img_of[] = { NULL, "img1", "img2" };

static void setup(Fixture *f)
{
    g_autoptr(GError) err = NULL;
    const char *owner[] = { NULL, "hostA", "hostC" };
    const char *other[] = { NULL, "hostC", "hostA" };

    f->path = g_strdup_printf("/dev/shm/qcxl-ha-qtest-%d.pool", getpid());
    unlink(f->path);
    /* sparse: tmpfs holds only what regions' pages are written */
    g_assert_true(qcxl_pool_format(f->path, 1536 * MiB, 2 * MiB, 200, false,
                                   &err));
    f->pool = qcxl_pool_open(f->path, &err);
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_host_add(f->pool, "hostA", &err));
    g_assert_true(qcxl_pool_host_add(f->pool, "hostC", &err));
    for (int s = 1; s <= 2; s++) {
        g_assert_true(qcxl_pool_region_create(f->pool, ckpt_of[s],
                                              CKPT_MB * MiB,
                                              owner[s], true, &err));
        g_assert_true(qcxl_pool_region_share(f->pool, ckpt_of[s], other[s],
                                             true, &err));
        g_assert_true(qcxl_pool_region_create(f->pool, img_of[s],
                                              RAM_MB * MiB, owner[s], true,
                                              &err));
        g_assert_true(qcxl_pool_region_share(f->pool, img_of[s], other[s],
                                             true, &err));
    }
    /* the disk journal of the journal test */
    g_assert_true(qcxl_pool_region_create(f->pool, "jrnl1", 4 * MiB,
                                          "hostA", true, &err));
    g_assert_true(qcxl_pool_region_share(f->pool, "jrnl1", "hostC", true,
                                         &err));
    /* a second one, for a journal no device uses */
    g_assert_true(qcxl_pool_region_create(f->pool, "jrnl2", 2 * MiB,
                                          "hostA", true, &err));
    g_assert_true(qcxl_pool_region_create(f->pool, "small", 2 * MiB,
                                          "hostA", true, &err));
    /* for a VM whose RAM (a CXL machine's) all goes inline */
    g_assert_true(qcxl_pool_region_create(f->pool, "big", 1024 * MiB,
                                          "hostA", true, &err));
    g_assert_no_error(err);
}

static void teardown(Fixture *f)
{
    qcxl_pool_close(f->pool);
    unlink(f->path);
    g_free(f->path);
}

/* The host address of byte @off of region @name */
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

/* Region @name, @size bytes, which a fresh pool allocates in one run */
static uint8_t *region_ptr(Fixture *f, const char *name, uint64_t size)
{
    uint8_t *p = region_byte(f, name, 0);

    g_assert_true(region_byte(f, name, size - 1) == p + size - 1);
    return p;
}

#define MACHINE "-machine q35 -nodefaults -m " G_STRINGIFY(RAM_MB) "M "

/* A VM in DRAM, as any protected VM starts */
static QTestState *start_primary(const char *extra)
{
    return qtest_initf(MACHINE "-object memory-backend-ram,id=ram0,size=%d"
                       "M -machine memory-backend=ram0 %s", RAM_MB,
                       extra ? extra : "");
}

/*
 * A QEMU ready to take over the VM whose RAM image is region @img, with
 * the primary's other options @extra
 */
static QTestState *start_standby_with(Fixture *f, const char *host,
                                      const char *img, const char *extra)
{
    return qtest_initf(MACHINE "-object memory-backend-qcxl-pool,id=ram0,"
                       "size=%dM,pool=%s,host=%s,region=%s "
                       "-machine memory-backend=ram0 -incoming defer %s",
                       RAM_MB, f->path, host, img, extra ? extra : "");
}

static QTestState *start_standby(Fixture *f, const char *host,
                                 const char *img)
{
    return start_standby_with(f, host, img, NULL);
}

static QDict *ha_info(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-qcxl-ha'}");
    QDict *ret = qdict_get_qdict(rsp, "return");

    g_assert_nonnull(ret);
    qobject_ref(ret);
    qobject_unref(rsp);
    return ret;
}

static char *status_of(QTestState *qts)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-status'}");
    char *s = g_strdup(qdict_get_str(qdict_get_qdict(rsp, "return"),
                                     "status"));

    qobject_unref(rsp);
    return s;
}

/* Protect into set @set as @host; wait for the first commit */
static void protect(Fixture *f, QTestState *qts, const char *host, int set)
{
    g_auto(QcxlDeadline) dl = qcxl_deadline(60, "the protection of %s into "
                                            "%s to commit its first epoch",
                                            host, ckpt_of[set]);

    qtest_qmp_assert_success(qts, "{'execute': 'qcxl-ha-protect', "
                             "'arguments': {'region': %s, 'pool': %s, "
                             "'host': %s, 'epoch-ms': 0, "
                             "'devstate-size': %d, 'images': [{'memdev': "
                             "'ram0', 'region': %s}]}}", ckpt_of[set],
                             f->path, host, 2 * 1024 * 1024, img_of[set]);
    for (;;) {
        g_autoptr(QDict) i = ha_info(qts);

        if (!strcmp(qdict_get_str(i, "state"), "protected") &&
            qdict_get_int(i, "epoch") >= 1) {
            return;
        }
        g_assert_cmpstr(qdict_get_str(i, "state"), ==, "base");
        qcxl_wait(&dl, 5);
    }
}

/*
 * The byte of marker @m: nonzero, and never that of m - 1 or m + 1.  The
 * test writes marker m + 1 into RAM and CMOS before each commit.
 */
static uint8_t mark_value(uint64_t m)
{
    return m % 251 + 1;
}

static void mark(QTestState *qts, uint64_t m)
{
    qtest_memset(qts, MARK_OFF, mark_value(m), MARK_LEN);
    qtest_outb(qts, 0x70, CMOS_INDEX);
    qtest_outb(qts, 0x71, mark_value(m));
}

static void checkpoint(QTestState *qts)
{
    qtest_qmp_assert_success(qts, "{'execute': 'qcxl-ha-checkpoint'}");
}

/* The VM in @qts holds marker @m: its RAM (the image region), its CMOS */
static void assert_epoch(Fixture *f, QTestState *qts, const char *img,
                         uint64_t m)
{
    uint8_t v = mark_value(m);

    for (uint64_t off = MARK_OFF; off < MARK_OFF + MARK_LEN; off += 4096) {
        uint8_t *p = region_byte(f, img, off);

        if (p[0] != v || p[4095] != v) {
            g_error("the image of marker %" PRIu64 " holds 0x%02x/0x%02x "
                    "at 0x%" PRIx64 ", not 0x%02x", m, p[0], p[4095], off,
                    v);
        }
    }
    g_assert_cmpuint(qtest_readb(qts, MARK_OFF), ==, v);
    g_assert_cmpuint(qtest_readb(qts, MARK_OFF + MARK_LEN - 1), ==, v);
    g_assert_cmpuint(qtest_readb(qts, MARK_OFF + MARK_LEN), !=, v);
    qtest_outb(qts, 0x70, CMOS_INDEX);
    g_assert_cmpuint(qtest_inb(qts, 0x71), ==, v);
}

/*
 * SIGKILL: the QEMU dies at once, with no chance to tidy up.  @qts is
 * freed: reaped here, libqtest sees no child left and does not ask
 * the dead QEMU for an exit status.
 */
static void kill_qemu(QTestState *qts)
{
    pid_t pid = qtest_pid(qts);
    int st;

    g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
    g_assert_cmpint(waitpid(pid, &st, 0), ==, pid);
    g_assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    g_assert_false(qtest_probe_child(qts));
    qtest_quit(qts);
}

/* What the cluster manager's fence agent does: evict the host */
static void fence(Fixture *f, const char *host)
{
    g_autoptr(GError) err = NULL;

    g_assert_true(qcxl_pool_evict(f->pool, host, &err));
    g_assert_no_error(err);
}

static void takeover(QTestState *qts, const char *host, int set)
{
    qtest_qmp_assert_success(qts, "{'execute': 'qcxl-ha-takeover', "
                             "'arguments': {'region': %s, 'host': %s}}",
                             ckpt_of[set], host);
}

static void assert_error(QDict *rsp, const char *text)
{
    const char *desc;

    g_assert_true(qdict_haskey(rsp, "error"));
    desc = qdict_get_str(qdict_get_qdict(rsp, "error"), "desc");
    if (!strstr(desc, text)) {
        g_error("expected an error with '%s', got: %s", text, desc);
    }
    qobject_unref(rsp);
}

static void test_refused(void)
{
    Fixture f;
    QTestState *qts;

    setup(&f);
    /* a card's packets must be held: no filter, or one on the wrong queue */
    qts = start_primary("-netdev user,id=n0 "
                        "-device virtio-net-pci,id=nic0,netdev=n0");
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-protect', "
                           "'arguments': {'region': 'ckpt1', 'pool': %s, "
                           "'host': 'hostA'}}", f.path),
                 "network card 'nic0' sends packets that no "
                 "filter-qcxl-ha holds back");
    qtest_quit(qts);
    qts = start_primary("-netdev user,id=n0 "
                        "-device virtio-net-pci,id=nic0,netdev=n0 "
                        "-object filter-qcxl-ha,id=f0,netdev=n0,queue=tx");
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-protect', "
                           "'arguments': {'region': 'ckpt1', 'pool': %s, "
                           "'host': 'hostA'}}", f.path),
                 "network card 'nic0' sends packets that no");
    qtest_quit(qts);
    /* with the filter on the right queue it protects; the filter stays */
    qts = start_primary("-netdev user,id=n0 "
                        "-device virtio-net-pci,id=nic0,netdev=n0 "
                        "-object filter-qcxl-ha,id=f0,netdev=n0,queue=rx");
    protect(&f, qts, "hostA", 1);
    assert_error(qtest_qmp(qts, "{'execute': 'qom-set', 'arguments': "
                           "{'path': '/objects/f0', 'property': 'status', "
                           "'value': 'off'}}"),
                 "holds a protected VM's packets");
    assert_error(qtest_qmp(qts, "{'execute': 'object-del', 'arguments': "
                           "{'id': 'f0'}}"), "can not be deleted");
    /*
     * A journal whose disk is a null-co node of negative size: refused
     * (it aborted QEMU; found by tests/fuzz/qmp-fuzz.py, patch 0044)
     */
    assert_error(qtest_qmp(qts, "{'execute': 'blockdev-add', 'arguments': "
                           "{'driver': 'qcxl-ha-journal', 'node-name': 'jx',"
                           " 'region': 'jx', 'file': {'driver': 'null-co', "
                           "'size': -1704902615897512384}}}"),
                 "out of range for parameter 'size'");
    qtest_qmp_assert_success(qts, "{'execute': 'qcxl-ha-unprotect'}");
    qtest_qmp_assert_success(qts, "{'execute': 'qom-set', 'arguments': "
                             "{'path': '/objects/f0', 'property': "
                             "'status', 'value': 'off'}}");
    qtest_qmp_assert_success(qts, "{'execute': 'object-del', 'arguments': "
                             "{'id': 'f0'}}");
    qtest_quit(qts);

    qts = start_primary("-drive if=none,id=d0,file=null-co://,format=raw "
                        "-device virtio-blk-pci,drive=d0,id=disk0");
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-protect', "
                           "'arguments': {'region': 'ckpt1', 'pool': %s, "
                           "'host': 'hostA'}}", f.path),
                 "device 'disk0' writes to disk 'd0', and no "
                 "qcxl-ha-journal");
    qtest_quit(qts);

    qts = start_primary("-object memory-backend-ram,id=spare,size=2M");
#define PROTECT(args, text) \
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-protect', " \
                           "'arguments': {'pool': %s, " args "}}", f.path), \
                 text)
    PROTECT("'host': 'hostA', 'region': 'nowhere'", "'nowhere' is missing");
    PROTECT("'host': 'hostA', 'region': 'ckpt2'", "another host's");
    PROTECT("'host': 'nobody', 'region': 'ckpt1'", "nobody");
    PROTECT("'host': 'hostA', 'region': 'ckpt1', 'epoch-ms': 5",
            "epoch-ms must be 0 or 10 to 60000");
    PROTECT("'host': 'hostA', 'region': 'ckpt1', 'images': "
            "[{'memdev': 'nope', 'region': 'img1'}]",
            "'nope' is not a memory backend");
    PROTECT("'host': 'hostA', 'region': 'ckpt1', 'images': "
            "[{'memdev': 'ram0', 'region': 'img1'}, "
            "{'memdev': 'ram0', 'region': 'img1'}]", "two image regions");
    /* RAM inline, with two 16 MiB device-state areas: not in 48 MiB */
    PROTECT("'host': 'hostA', 'region': 'ckpt1'", "too small");
    PROTECT("'host': 'hostA', 'region': 'small', 'images': "
            "[{'memdev': 'ram0', 'region': 'img1'}]", "too small");
#undef PROTECT
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-unprotect'}"),
                 "not protected");
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-checkpoint'}"),
                 "not protected");
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-takeover', "
                           "'arguments': {'region': 'ckpt1', 'pool': %s, "
                           "'host': 'hostA'}}", f.path),
                 "needs a QEMU started with -incoming defer");
    /* and after all that, it protects, once */
    protect(&f, qts, "hostA", 1);
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-protect', "
                           "'arguments': {'region': 'ckpt1'}}"),
                 "protected already");
    /* a stage or pull would take the dirty pages protection lives on */
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-pool-stage', "
                           "'arguments': {'job-id': 's0', 'memdev': "
                           "'spare', 'region': 'small'}}"),
                 "HA protection into region 'ckpt1' is copying guest "
                 "memory while the VM runs");
    assert_error(qtest_qmp(qts, "{'execute': 'migrate', 'arguments': "
                           "{'uri': 'exec:cat > /dev/null'}}"),
                 "qcxl-ha-unprotect");
    qtest_qmp_assert_success(qts, "{'execute': 'qcxl-ha-unprotect'}");
    qtest_quit(qts);

    /* unprotected, the VM ran on: no takeover may resume its checkpoint */
    qts = start_standby(&f, "hostC", "img1");
    assert_error(qtest_qmp(qts, "{'execute': 'qcxl-ha-takeover', "
                           "'arguments': {'region': 'ckpt1'}}"),
                 "its protection ended after epoch 1");
    qtest_quit(qts);
    teardown(&f);
}

/*
 * Epochs 2..4 committed, epoch 5 written but not committed; the primary
 * lives on.  A takeover is refused while its lease is live; once it is
 * fenced, the new QEMU runs epoch 4, and the old one can commit nothing.
 */
static void test_takeover(void)
{
    Fixture f;
    QTestState *a, *c;
    g_autoptr(QDict) info = NULL;
    g_autofree char *st = NULL;

    setup(&f);
    a = start_primary(NULL);
    protect(&f, a, "hostA", 1);
    for (uint64_t e = 2; e <= 4; e++) {
        mark(a, e);
        checkpoint(a);
    }
    mark(a, 5);
    info = ha_info(a);
    g_assert_cmpint(qdict_get_int(info, "epoch"), ==, 4);
    g_assert_cmpint(qdict_get_int(info, "dirty-bytes"), >=, MARK_LEN);
    g_assert_cmpint(qdict_get_int(info, "devstate-bytes"), >, 0);

    c = start_standby(&f, "hostC", "img1");
    assert_error(qtest_qmp(c, "{'execute': 'qcxl-ha-takeover', "
                           "'arguments': {'region': 'ckpt1'}}"),
                 "'hostA' still holds a live lease");
    st = status_of(c);
    g_assert_cmpstr(st, ==, "inmigrate");

    fence(&f, "hostA");
    takeover(c, "hostC", 1);
    g_free(st);
    st = status_of(c);
    g_assert_cmpstr(st, ==, "running");
    qobject_unref(info);
    info = ha_info(c);
    g_assert_cmpint(qdict_get_int(info, "resumed-epoch"), ==, 4);
    assert_epoch(&f, c, "img1", 4);
    /* the VM taken over runs: no incoming migration may load into it */
    assert_error(qtest_qmp(c, "{'execute': 'migrate-incoming', "
                           "'arguments': {'uri': 'tcp:127.0.0.1:0'}}"),
                 "'-incoming' was not specified");

    /* the old primary is fenced: it stops, and commits nothing more */
    {
        g_auto(QcxlDeadline) dl = qcxl_deadline(10, "the fenced primary to "
                                                "stop its VM");

        for (;;) {
            g_autofree char *sa = status_of(a);

            if (strcmp(sa, "running")) {
                break;
            }
            qcxl_wait(&dl, 20);
        }
    }
    assert_error(qtest_qmp(a, "{'execute': 'qcxl-ha-checkpoint'}"),
                 "another host took the VM over");
    qobject_unref(info);
    info = ha_info(a);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==, "stopped");
    g_assert_cmpstr(qdict_get_str(info, "stop-reason"), ==, "fenced");
    qtest_quit(a);
    qtest_quit(c);
    teardown(&f);
}

/* @out, an HMP command's output, contains @text */
static void assert_hmp(char *out, const char *text)
{
    if (!strstr(out, text)) {
        g_error("expected '%s' in HMP's output: %s", text, out);
    }
    g_free(out);
}

/* An HMP command that succeeds prints nothing (errors: "Error: ...") */
static void assert_hmp_ok(char *out)
{
    g_assert_cmpstr(out, ==, "");
    g_free(out);
}

/* Timer-driven epochs (every @ms) until epoch @epoch is committed */
static void wait_epoch(QTestState *qts, int64_t epoch)
{
    g_auto(QcxlDeadline) dl = qcxl_deadline(60, "epoch %" PRId64 " to be "
                                            "committed by the timer",
                                            epoch);

    for (;;) {
        g_autoptr(QDict) i = ha_info(qts);

        if (!strcmp(qdict_get_str(i, "state"), "protected") &&
            qdict_get_int(i, "epoch") >= epoch) {
            return;
        }
        qcxl_wait(&dl, 10);
    }
}

/*
 * The HMP front ends, and epochs on their timer (every other test takes
 * its checkpoints by hand): qcxl_ha_protect refuses bad options, then
 * protects every 20 ms; info qcxl-ha reports it; qcxl_ha_unprotect
 * stops it; protected again, killed and fenced, qcxl_ha_takeover on a
 * standby resumes the VM.
 */
static void test_hmp(void)
{
    Fixture f;
    QTestState *a, *c;
    g_autofree char *want = NULL, *st = NULL;
    g_autoptr(QDict) info = NULL;

    setup(&f);
    a = start_primary(NULL);
    assert_hmp(qtest_hmp(a, "qcxl_ha_protect ckpt1 x"),
               "'x': expected NAME=VALUE");
    assert_hmp(qtest_hmp(a, "qcxl_ha_protect ckpt1 ram0=img1,pool=%s,"
                         "host=hostA,epoch-ms=abc", f.path),
               "epoch-ms: 'abc' is not a number");
    info = ha_info(a);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==, "off");

    assert_hmp_ok(qtest_hmp(a, "qcxl_ha_protect ckpt1 ram0=img1,pool=%s,"
                         "host=hostA,epoch-ms=20", f.path));
    wait_epoch(a, 3);
    want = g_strdup_printf("qcxl HA: protected, region 'ckpt1' of %s as "
                           "host 'hostA'", f.path);
    assert_hmp(qtest_hmp(a, "info qcxl-ha"), want);
    assert_hmp(qtest_hmp(a, "info qcxl-ha"), "(every 20 ms)");
    assert_hmp_ok(qtest_hmp(a, "qcxl_ha_unprotect"));
    qobject_unref(info);
    info = ha_info(a);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==, "off");

    assert_hmp_ok(qtest_hmp(a, "qcxl_ha_protect ckpt1 ram0=img1,pool=%s,"
                         "host=hostA,epoch-ms=20", f.path));
    wait_epoch(a, 2);
    kill_qemu(a);
    fence(&f, "hostA");
    c = start_standby(&f, "hostC", "img1");
    /* its report goes to the monitor that asked */
    assert_hmp(qtest_hmp(c, "qcxl_ha_takeover ckpt1 %s hostC", f.path),
               "host 'hostC' took the VM over at epoch");
    st = status_of(c);
    g_assert_cmpstr(st, ==, "running");
    assert_hmp(qtest_hmp(c, "info qcxl-ha"), "taken over at epoch");
    qtest_quit(c);
    teardown(&f);
}

/*
 * A primary killed after committing epoch 3 but before its images held
 * it: the takeover replays the log.  Then a primary killed in the middle
 * of epoch 6 (its slot holds junk): the takeover runs epoch 5.
 */
static void test_replay(void)
{
    Fixture f;
    QTestState *a, *c;
    g_autoptr(QDict) info = NULL;
    uint8_t *base;

    setup(&f);
    a = start_primary(NULL);
    protect(&f, a, "hostA", 1);
    mark(a, 2);
    checkpoint(a);
    mark(a, 3);
    checkpoint(a);
    kill_qemu(a);
    /* undo what step 7 of epoch 3 did: the images hold epoch 2 */
    base = region_ptr(&f, "ckpt1", CKPT_MB * MiB);
    g_assert_cmpuint(qcxl_ckpt_applied_read(base), ==, 3);
    qcxl_ckpt_applied_set(base, 2);
    for (uint64_t off = MARK_OFF; off < MARK_OFF + MARK_LEN; off += 4096) {
        memset(region_byte(&f, "img1", off), mark_value(2), 4096);
    }
    fence(&f, "hostA");
    c = start_standby(&f, "hostC", "img1");
    takeover(c, "hostC", 1);
    info = ha_info(c);
    g_assert_cmpint(qdict_get_int(info, "resumed-epoch"), ==, 3);
    g_assert_true(qdict_get_bool(info, "resumed-replayed"));
    assert_epoch(&f, c, "img1", 3);

    /*
     * C protects into set 2 (its epochs count from 1 again): markers 4
     * and 5 are epochs 2 and 3, and epoch 4 is half written
     */
    protect(&f, c, "hostC", 2);
    mark(c, 4);
    checkpoint(c);
    mark(c, 5);
    checkpoint(c);
    kill_qemu(c);
    base = region_ptr(&f, "ckpt2", CKPT_MB * MiB);
    g_assert_cmpuint(qcxl_ckpt_commit_read(base), ==, 3);
    memset(base + QCXL_CKPT_RECORD_OFF, 0x5a, QCXL_CKPT_RECORD_SIZE);
    {
        QcxlCkptLayout l;

        g_assert_true(qcxl_ckpt_open(base, CKPT_MB * MiB, &l, NULL));
        memset(base + l.log_off[0], 0xa5, 1 * MiB);
        memset(base + l.devstate_off[0], 0xa5, 4096);
    }
    fence(&f, "hostC");
    a = start_standby(&f, "hostA", "img2");
    takeover(a, "hostA", 2);
    qobject_unref(info);
    info = ha_info(a);
    g_assert_cmpint(qdict_get_int(info, "resumed-epoch"), ==, 3);
    g_assert_false(qdict_get_bool(info, "resumed-replayed"));
    assert_epoch(&f, a, "img2", 5);
    qtest_quit(a);
    teardown(&f);
}

/* Flip a byte of the checkpoint; the takeover must refuse, saying @what */
static void refused_damage(Fixture *f, QTestState *c, uint8_t *p,
                           const char *what)
{
    g_autofree char *st = NULL;

    *p ^= 0x10;
    assert_error(qtest_qmp(c, "{'execute': 'qcxl-ha-takeover', "
                           "'arguments': {'region': 'ckpt1'}}"), what);
    *p ^= 0x10;
    st = status_of(c);
    g_assert_cmpstr(st, ==, "inmigrate");
}

static void test_hostile(void)
{
    Fixture f;
    QTestState *a, *c;
    QcxlCkptLayout l;
    QcxlCkptRecord rec;
    uint8_t *base;

    setup(&f);
    a = start_primary(NULL);
    protect(&f, a, "hostA", 1);
    mark(a, 2);
    checkpoint(a);
    kill_qemu(a);
    fence(&f, "hostA");
    base = region_ptr(&f, "ckpt1", CKPT_MB * MiB);
    g_assert_true(qcxl_ckpt_open(base, CKPT_MB * MiB, &l, NULL));
    g_assert_true(qcxl_ckpt_record_read(base, &l, 2, &rec, NULL));

    c = start_standby(&f, "hostC", "img1");
    refused_damage(&f, c, base + 20, "header is damaged");
    refused_damage(&f, c, base + QCXL_CKPT_DIR_OFF + 3, "directory is "
                   "damaged");
    refused_damage(&f, c, base + QCXL_CKPT_RECORD_OFF + 8, "record of "
                   "epoch 2 is damaged");
    refused_damage(&f, c, base + l.log_off[0] + 100, "log of epoch 2 is "
                   "damaged");
    refused_damage(&f, c, base + l.devstate_off[0] + rec.devstate_len - 2,
                   "device state of epoch 2 is damaged");
    /* a commit word from the future: no such record */
    {
        uint64_t *w = (uint64_t *)(base + QCXL_CKPT_COMMIT_OFF);
        uint64_t saved = *w;

        *w = 7 | QCXL_CKPT_TAKEN;
        assert_error(qtest_qmp(c, "{'execute': 'qcxl-ha-takeover', "
                               "'arguments': {'region': 'ckpt1'}}"),
                     "slot of epoch 7");
        *w = saved;
    }
    /* a device state that is no migration stream: checksummed anew */
    {
        uint8_t *ds = base + l.devstate_off[0];
        uint8_t saved[8];
        QcxlCkptLog w = {
            .log = base + l.log_off[0], .max = l.log_max,
            .data_bytes = rec.data_bytes, .entries = rec.entries,
        };

        memcpy(saved, ds, 8);
        memset(ds, 0x77, 8);
        qcxl_ckpt_record_write(base, &l, 2, &w, rec.devstate_len, 0, 0,
                               &rec);
        assert_error(qtest_qmp(c, "{'execute': 'qcxl-ha-takeover', "
                               "'arguments': {'region': 'ckpt1'}}"),
                     "does not load");
        memcpy(ds, saved, 8);
        qcxl_ckpt_record_write(base, &l, 2, &w, rec.devstate_len, 0, 0,
                               &rec);
    }
    /* repaired, the same QEMU takes it over */
    takeover(c, "hostC", 1);
    assert_epoch(&f, c, "img1", 2);
    qtest_quit(c);
    teardown(&f);
}

/* ---- Disk writes ---- */

#define DISK_MB 8

/* A raw disk behind a journal in region jrnl1, as device vd0 */
static char *disk_args(const char *disk, bool failing)
{
    /* failing: every write to the disk fails, so the journal keeps all */
    return g_strdup_printf(
        "-blockdev driver=file,filename=%s,node-name=f0 %s "
        "-blockdev driver=qcxl-ha-journal,node-name=j0,file=%s,region=jrnl1 "
        "-device virtio-blk-pci,drive=j0,id=vd0", disk,
        failing ? "-blockdev '{\"driver\":\"blkdebug\",\"node-name\":"
                  "\"dbg\",\"image\":\"f0\",\"inject-error\":[{"
                  "\"event\":\"pwritev\",\"iotype\":\"write\","
                  "\"errno\":5,\"once\":false}]}'" : "",
        failing ? "dbg" : "f0");
}

/* A fresh, zeroed raw disk of DISK_MB MiB: its path */
static char *make_disk(void)
{
    char *disk = g_strdup_printf("/dev/shm/qcxl-ha-qtest-%d.disk",
                                 getpid());
    int fd = open(disk, O_RDWR | O_CREAT | O_TRUNC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, DISK_MB * MiB), ==, 0);
    close(fd);
    return disk;
}

/* qemu-io on device vd0; its output must not hold an error */
static void qemu_io(QTestState *qts, const char *cmd)
{
    g_autofree char *out = qtest_hmp(qts, "qemu-io -d vd0/virtio-backend "
                                     "\"%s\"", cmd);

    if (strstr(out, "fail") || strstr(out, "error") ||
        strstr(out, "Error")) {
        g_error("qemu-io %s: %s", cmd, out);
    }
}

/* The disk file holds @v at [@off, @off + @len) */
static void assert_disk(const char *disk, uint64_t off, uint64_t len,
                        uint8_t v)
{
    g_autofree uint8_t *buf = g_malloc(len);
    int fd = open(disk, O_RDONLY);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(pread(fd, buf, len, off), ==, len);
    close(fd);
    for (uint64_t i = 0; i < len; i++) {
        if (buf[i] != v) {
            g_error("disk byte 0x%" PRIx64 " is 0x%02x, not 0x%02x",
                    off + i, buf[i], v);
        }
    }
}

#define DISK_MARK (256 * 1024)

/* Marker @m in RAM, CMOS and the first DISK_MARK bytes of disk vd0 */
static void mark_disk(QTestState *qts, uint64_t m)
{
    g_autofree char *cmd = g_strdup_printf("write -P 0x%02x 0 %d",
                                           mark_value(m), DISK_MARK);

    mark(qts, m);
    qemu_io(qts, cmd);
}

/* Byte @off of journal jrnl1 flipped, a takeover is refused with @text */
static void refused_journal(Fixture *f, QTestState *c, uint64_t off,
                            const char *text)
{
    uint8_t *p = region_byte(f, "jrnl1", off);

    *p ^= 0x01;
    assert_error(qtest_qmp(c, "{'execute': 'qcxl-ha-takeover', 'arguments': "
                           "{'region': 'ckpt1', 'host': 'hostC'}}"), text);
    *p ^= 0x01;
}

static void test_journal(void)
{
    Fixture f;
    QTestState *a, *c;
    g_autofree char *disk = NULL;
    g_autofree char *args = NULL;
    g_autoptr(QDict) info = NULL;

    setup(&f);
    disk = make_disk();

    /* a disk with no journal: refused, naming the device */
    args = g_strdup_printf("-blockdev driver=file,filename=%s,node-name=f0 "
                           "-device virtio-blk-pci,drive=f0,id=vd0", disk);
    a = start_primary(args);
    assert_error(qtest_qmp(a, "{'execute': 'qcxl-ha-protect', 'arguments': "
                           "{'region': 'ckpt1', 'pool': %s, 'host': "
                           "'hostA'}}", f.path),
                 "device 'vd0' writes to disk 'f0', and no qcxl-ha-journal");
    qtest_quit(a);

    /* writes to the disk fail here: committed writes stay in the journal */
    g_free(args);
    args = disk_args(disk, true);
    a = start_primary(args);
    protect(&f, a, "hostA", 1);
    qemu_io(a, "write -P 0x11 0 64k");
    qobject_unref(info);
    info = ha_info(a);
    g_assert_cmpint(qdict_get_int(info, "held-writes"), ==, 1);
    g_assert_cmpint(qdict_get_int(info, "held-write-bytes"), ==, 65536);
    checkpoint(a);
    qemu_io(a, "write -P 0x22 64k 64k");
    checkpoint(a);
    /* epoch 4, never committed */
    qemu_io(a, "write -P 0x33 0 4k");
    /* the VM reads its own writes */
    qemu_io(a, "read -P 0x33 0 4k");
    qemu_io(a, "read -P 0x11 4k 60k");
    qemu_io(a, "read -P 0x22 64k 64k");
    assert_disk(disk, 0, 256 * 1024, 0);
    qobject_unref(info);
    info = ha_info(a);
    g_assert_cmpint(qdict_get_int(info, "epoch"), ==, 3);
    g_assert_cmpint(qdict_get_int(info, "held-writes"), ==, 3);
    kill_qemu(a);
    fence(&f, "hostA");

    /* a flipped byte in the first write's data: refused, nothing written */
    g_free(args);
    args = disk_args(disk, false);
    c = start_standby_with(&f, "hostC", "img1", args);
    /*
     * The ring (at 0x1000): epoch 1's seal marker (64 bytes, written to
     * the disk already), then the first write's 64-byte header and data.
     * A flipped bit in its header ends the journal before epoch 3 does.
     */
    refused_journal(&f, c, 0x1040 + 24, "disk journal 'jrnl1' ends at "
                    "entry 2 before the end of epoch 3");
    refused_journal(&f, c, 0x1080 + 4000, "disk journal 'jrnl1': the data "
                    "of entry 2 (epoch 2) is damaged");
    assert_disk(disk, 0, 256 * 1024, 0);

    /* repaired: epochs 2 and 3 reach the disk, epoch 4 does not */
    takeover(c, "hostC", 1);
    assert_disk(disk, 0, 64 * 1024, 0x11);
    assert_disk(disk, 64 * 1024, 64 * 1024, 0x22);
    assert_disk(disk, 128 * 1024, 128 * 1024, 0);
    qobject_unref(info);
    info = ha_info(c);
    g_assert_cmpint(qdict_get_int(info, "resumed-epoch"), ==, 3);
    g_assert_cmpint(qdict_get_int(info, "resumed-disk-writes"), ==, 2);
    qemu_io(c, "read -P 0x11 0 64k");

    /* protected again on hostC: the journal holds, then writes, again */
    protect(&f, c, "hostC", 2);
    qemu_io(c, "write -P 0x44 128k 4k");
    assert_disk(disk, 128 * 1024, 4096, 0);
    checkpoint(c);
    {
        g_auto(QcxlDeadline) dl = qcxl_deadline(10, "epoch 2's write to "
                                                "reach the disk");

        for (;;) {
            g_autoptr(QDict) i = ha_info(c);

            if (qdict_get_int(i, "held-writes") == 0) {
                break;
            }
            qcxl_wait(&dl, 10);
        }
    }
    assert_disk(disk, 128 * 1024, 4096, 0x44);
    /* unprotected, writes pass straight through */
    qtest_qmp_assert_success(c, "{'execute': 'qcxl-ha-unprotect'}");
    qemu_io(c, "write -P 0x55 192k 4k");
    assert_disk(disk, 192 * 1024, 4096, 0x55);
    qtest_quit(c);
    unlink(disk);
    teardown(&f);
}

/* One epoch writes 6 MiB; the 4 MiB journal cannot hold it */
static void test_journal_full(void)
{
    Fixture f;
    QTestState *a;
    g_autofree char *disk = NULL;
    g_autofree char *args = NULL;
    g_autofree char *extra = NULL;
    g_autoptr(QDict) info = NULL;
    g_autofree char *st = NULL;

    setup(&f);
    disk = make_disk();
    args = disk_args(disk, false);
    extra = g_strdup_printf("%s -blockdev driver=null-co,node-name=n1 "
                            "-blockdev driver=qcxl-ha-journal,node-name=j1,"
                            "file=n1,region=jrnl2", args);
    a = start_primary(extra);
    protect(&f, a, "hostA", 1);
    qemu_io(a, "write -P 0x66 64k 4k");
    assert_disk(disk, 64 * 1024, 4096, 0);
    qemu_io(a, "write -P 0x77 1M 6M");
    /* the overflow wrote everything: the held write, and the big one */
    assert_disk(disk, 64 * 1024, 4096, 0x66);
    assert_disk(disk, MiB, 6 * MiB, 0x77);
    assert_error(qtest_qmp(a, "{'execute': 'qcxl-ha-checkpoint'}"),
                 "wrote more to disk than journal region 'jrnl1' holds");
    info = ha_info(a);
    g_assert_cmpstr(qdict_get_str(info, "state"), ==, "stopped");
    g_assert_cmpstr(qdict_get_str(info, "stop-reason"), ==, "journal-full");
    g_assert_cmpint(qdict_get_int(info, "held-writes"), ==, 0);
    qtest_qmp_eventwait(a, "QCXL_HA_STOPPED");
    st = status_of(a);
    g_assert_cmpstr(st, ==, "running");
    /* unprotected now: writes go straight to the disk */
    qemu_io(a, "write -P 0x88 0 4k");
    assert_disk(disk, 0, 4096, 0x88);

    /* a journal's node deleted while protected: protection stops */
    protect(&f, a, "hostA", 1);
    qtest_qmp_assert_success(a, "{'execute': 'blockdev-del', 'arguments': "
                             "{'node-name': 'j1'}}");
    assert_error(qtest_qmp(a, "{'execute': 'qcxl-ha-checkpoint'}"),
                 "the node of disk journal 'jrnl2' was deleted");
    qobject_unref(info);
    info = ha_info(a);
    g_assert_cmpstr(qdict_get_str(info, "stop-reason"), ==,
                    "journal-removed");
    qtest_quit(a);
    unlink(disk);
    teardown(&f);
}

static uint64_t dict_u64(QDict *d, const char *key)
{
    QNum *n = qobject_to(QNum, qdict_get(d, key));

    g_assert_nonnull(n);
    return qnum_get_uint(n);
}

/* Is @addr of the CXL window in an interleaved set? */
static bool in_set(QTestState *qts, uint64_t addr)
{
    QDict *rsp = qtest_qmp(qts, "{'execute': 'query-cxl-direct-map'}");
    QList *wins = qdict_get_qlist(rsp, "return");
    QDict *win = qobject_to(QDict, qlist_peek(wins));
    const QListEntry *e;
    bool set = false;

    QLIST_FOREACH_ENTRY(qdict_get_qlist(win, "ranges"), e) {
        QDict *r = qobject_to(QDict, qlist_entry_obj(e));
        uint64_t start = dict_u64(r, "start");

        if (addr >= start && addr < start + dict_u64(r, "size")) {
            set = qdict_haskey(r, "interleaved");
        }
    }
    qobject_unref(rsp);
    return set;
}

static void wait_set(QTestState *qts, uint64_t addr, bool want)
{
    g_auto(QcxlDeadline) dl = qcxl_deadline(30, "the window at 0x%" PRIx64
                                            " to be %s an interleaved set",
                                            addr, want ? "in" : "out of");

    while (in_set(qts, addr) != want) {
        qcxl_wait(&dl, 10);
    }
}

/* The checkpoint's inline image of the RAM block whose name ends @name */
static uint8_t *inline_image(Fixture *f, const char *region,
                             const char *name)
{
    uint8_t *base = region_ptr(f, region, 1024 * MiB);
    QcxlCkptLayout l;

    g_assert_true(qcxl_ckpt_open(base, 1024 * MiB, &l, NULL));
    for (uint32_t i = 0; i < l.nblocks; i++) {
        if (g_str_has_suffix(l.blocks[i].name, name) &&
            l.blocks[i].kind == QCXL_CKPT_IMAGE_INLINE) {
            return qcxl_ckpt_inline_image(base, &l, i);
        }
    }
    g_error("no inline image of RAM block '%s'", name);
}

static void test_interleaved(void)
{
    Fixture f;
    Topo *t;
    uint64_t dpa;

    setup(&f);
    t = topo_new_full("hb2-ram", "-nic none", 0, NULL);
    topo_commit_set(t, 2);
    wait_set(t->qts, t->win, true);
    qtest_writeq(t->qts, t->win, 0x1122334455667788ULL);

    qtest_qmp_assert_success(t->qts, "{'execute': 'qcxl-ha-protect', "
                             "'arguments': {'region': 'big', 'pool': %s, "
                             "'host': 'hostA', 'epoch-ms': 0, "
                             "'devstate-size': %d}}", f.path,
                             2 * 1024 * 1024);
    /* the copy went back on the media before anything was saved */
    g_assert_false(in_set(t->qts, t->win));
    {
        g_auto(QcxlDeadline) dl = qcxl_deadline(60, "the first epoch");

        for (;;) {
            g_autoptr(QDict) i = ha_info(t->qts);

            if (qdict_get_int(i, "epoch") >= 1) {
                break;
            }
            qcxl_wait(&dl, 5);
        }
    }
    /* through the software decode, onto the second device's media */
    qtest_writeq(t->qts, t->win + 256, 0x99aabbccddeeff00ULL);
    checkpoint(t->qts);
    g_assert_false(in_set(t->qts, t->win));
    g_assert_cmphex(ldq_le_p(inline_image(&f, "big", "cxl-mem0")), ==,
                    0x1122334455667788ULL);
    g_assert_cmpint(topo_set_dpa(t, 2, 256, &dpa), ==, 1);
    g_assert_cmphex(ldq_le_p(inline_image(&f, "big", "cxl-mem1") + dpa), ==,
                    0x99aabbccddeeff00ULL);

    qtest_qmp_assert_success(t->qts, "{'execute': 'qcxl-ha-unprotect'}");
    wait_set(t->qts, t->win, true);
    g_assert_cmphex(qtest_readq(t->qts, t->win), ==, 0x1122334455667788ULL);
    g_assert_cmphex(qtest_readq(t->qts, t->win + 256), ==,
                    0x99aabbccddeeff00ULL);
    topo_free(t);
    teardown(&f);
}

static int64_t now_us(void)
{
    return g_get_monotonic_time();
}

/*
 * Kill the primary at random instants of a checkpoint, KILLS times; each
 * takeover QEMU is the next primary, protected into the other set.
 */
static void test_kill_random(void)
{
    Fixture f;
    GRand *rnd = g_rand_new();
    const char *hosts[] = { "hostA", "hostC" };
    QTestState *p;
    int set = 1;
    uint64_t m = 2, window_us, t0;
    unsigned before = 0, replayed = 0, after = 0, disk_replays = 0;
    g_autofree char *disk = NULL;
    g_autofree char *dargs = NULL;

    setup(&f);
    disk = make_disk();
    dargs = disk_args(disk, false);
    p = start_primary(dargs);
    protect(&f, p, hosts[0], 1);
    /* how long a checkpoint of MARK_LEN takes: the window to kill in */
    mark_disk(p, m);
    t0 = now_us();
    checkpoint(p);
    window_us = MAX(2000, (now_us() - t0) * 3 / 2);
    g_test_message("a checkpoint of %" PRIu64 " MiB takes %" PRIu64 " us; "
                   "kills land in [0, %" PRIu64 ") us of the next one",
                   MARK_LEN / MiB, window_us * 2 / 3, window_us);

    for (int i = 0; i < KILLS; i++) {
        int next = 3 - set;
        const char *victim = hosts[i % 2];
        const char *taker = hosts[(i + 1) % 2];
        g_autoptr(QDict) before_kill = ha_info(p);
        g_autoptr(QDict) info = NULL;
        uint64_t acked = qdict_get_int(before_kill, "epoch"), resumed;
        g_autoptr(GError) err = NULL;

        /* marker m + 1 in flight, as epoch acked + 1, when SIGKILL comes */
        mark_disk(p, m + 1);
        qtest_qmp_send(p, "{'execute': 'qcxl-ha-checkpoint'}");
        g_usleep(g_rand_int_range(rnd, 0, window_us));
        kill_qemu(p);
        fence(&f, victim);

        p = start_standby_with(&f, taker, img_of[set], dargs);
        takeover(p, taker, set);
        info = ha_info(p);
        resumed = qdict_get_int(info, "resumed-epoch");
        if (resumed == acked) {
            before++;
        } else if (resumed == acked + 1) {
            m++;
            if (qdict_get_bool(info, "resumed-replayed")) {
                replayed++;
            } else {
                after++;
            }
        } else {
            g_error("kill %d: epoch %" PRIu64 " acknowledged, the takeover "
                    "resumed epoch %" PRIu64, i, acked, resumed);
        }
        assert_epoch(&f, p, img_of[set], m);
        assert_disk(disk, 0, DISK_MARK, mark_value(m));
        disk_replays += qdict_get_int(info, "resumed-disk-writes") > 0;

        /*
         * The other set becomes the new primary's, shared with the other
         * host (a change of owner drops the sharers): protect into it
         */
        for (int k = 0; k < 2; k++) {
            const char *r = k ? img_of[next] : ckpt_of[next];

            g_assert_true(qcxl_pool_region_chown(f.pool, r, taker, &err));
            g_assert_true(qcxl_pool_region_share(f.pool, r, victim, true,
                                                 &err));
            g_assert_no_error(err);
        }
        /* the journal went with the VM: the next taker must reach it */
        g_assert_true(qcxl_pool_region_share(f.pool, "jrnl1", victim, true,
                                             &err));
        g_assert_no_error(err);
        protect(&f, p, taker, next);
        set = next;
    }
    g_test_message("%d kills: %u before the commit, %u after it with the "
                   "images still to update, %u after both; %u takeovers "
                   "wrote committed disk writes the old host had not",
                   KILLS, before, replayed, after, disk_replays);
    g_assert_cmpuint(before + replayed + after, ==, KILLS);
    qtest_quit(p);
    g_rand_free(rnd);
    unlink(disk);
    teardown(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/qcxl/ha/refused", test_refused);
    qtest_add_func("/qcxl/ha/takeover", test_takeover);
    qtest_add_func("/qcxl/ha/hmp", test_hmp);
    qtest_add_func("/qcxl/ha/replay", test_replay);
    qtest_add_func("/qcxl/ha/hostile", test_hostile);
    qtest_add_func("/qcxl/ha/interleaved", test_interleaved);
    qtest_add_func("/qcxl/ha/journal", test_journal);
    qtest_add_func("/qcxl/ha/journal-full", test_journal_full);
    qtest_add_func("/qcxl/ha/kill-random", test_kill_random);
    return g_test_run();
}
