/*
 * qcxl fuzzer: a shared pool's metadata, damaged or hostile
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every QEMU and every qcxl-pool command on a host trusts the pool's
 * metadata no more than the other hosts that write it.  Input: the
 * bytes of both metadata copies (host slots, region slots, the extent
 * map), laid over a small pool that has two hosts and two regions (the
 * superblock and the lock page stay valid: the lock has its own
 * deadline tests).  Then what fsck and a user do on it: open, read and
 * check, check what hosts map, create a region (a transaction), repair,
 * read again.  Checked: a read that fails says why; after a repair that
 * worked, the pool reads; the lock is free again at the end.
 */

#include <glib.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hw/mem/qcxl_pool.h"
#include "hw/mem/qcxl_pool_layout.h"
#include "fuzz-seeds.h"

#define POOL_SIZE   (16 * 1024 * 1024)
#define EXTENT      (2 * 1024 * 1024)

/*
 * Linked with -Wl,--wrap=g_usleep: the library's waits (a torn metadata
 * copy is read again 50 times, 1 ms apart) return at once, so a damaged
 * pool costs the fuzzer microseconds, not 50 ms.  Nothing else runs
 * alongside, so no wait is for anything.
 */
void __wrap_g_usleep(gulong microseconds);

void __wrap_g_usleep(gulong microseconds)
{
}

static char *path;
static int fd;
static uint8_t *template;       /* the pool's bytes before the data */
static size_t template_len;
static size_t meta_len;         /* both copies */

static void restore(void)
{
    if (pwrite(fd, template, template_len, 0) != (ssize_t)template_len) {
        abort();
    }
}

static void exercise(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    bool backup;

    pool = qcxl_pool_open_any(path, &backup, &err);
    if (!pool) {
        return;
    }
    meta = qcxl_pool_read(pool, &err);
    if (!meta) {
        if (!err) {
            abort();
        }
        g_clear_error(&err);
    } else {
        qcxl_pool_check(qcxl_pool_super(pool), meta, problems);
        qcxl_pool_free_extents(meta);
        qcxl_pool_find_host(meta, "hostA");
        for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
            g_autofree uint32_t *ext = NULL;
            uint32_t n;

            if (meta->regions[i].name[0]) {
                ext = qcxl_pool_region_extents(meta, i, &n);
                for (uint32_t j = 0; ext && j < n; j++) {
                    if (ext[j] >= meta->extents) {
                        abort();
                    }
                }
            }
        }
    }
    qcxl_pool_check_maps(pool, problems, NULL);
    qcxl_pool_region_create(pool, "fz", EXTENT, "hostA", true, NULL);
    if (qcxl_pool_repair(pool, problems, NULL)) {
        g_autoptr(QcxlPoolMeta) again = qcxl_pool_read(pool, &err);

        if (!again) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t lock;

    size = MIN(size, meta_len);
    if (pwrite(fd, data, size, QCXL_POOL_META_OFFSET) != (ssize_t)size) {
        abort();
    }
    exercise();
    /* every operation lets go of the lock, whatever it met */
    if (pread(fd, &lock, 8, QCXL_POOL_LOCK_OFFSET + QCXL_POOL_LOCK_WORD) !=
        8 || lock) {
        abort();
    }
    restore();
    return 0;
}

uint32_t __real_qcxl_crc32c(uint32_t crc, const void *buf, size_t len);

/*
 * Give the pool a fixed UUID, so that seeds from one run (whose
 * metadata names the pool's UUID) fit the next: both superblocks, with
 * their real checksums (the superblock's check is not wrapped), and
 * both metadata copies.
 */
static void fix_uuid(void)
{
    g_autofree uint8_t *sb = g_malloc(QCXL_POOL_SB_SIZE);
    int f = open(path, O_RDWR | O_CLOEXEC);
    uint64_t data_off, meta_size;
    uint32_t crc;

    if (f < 0 || pread(f, sb, QCXL_POOL_SB_SIZE, 0) != QCXL_POOL_SB_SIZE) {
        g_error("reading the superblock of %s", path);
    }
    memset(sb + QCXL_POOL_SB_UUID, 0x51, 16);
    crc = GUINT32_TO_LE(__real_qcxl_crc32c(0, sb, QCXL_POOL_SB_CRC));
    memcpy(sb + QCXL_POOL_SB_CRC, &crc, 4);
    memcpy(&data_off, sb + QCXL_POOL_SB_DATA_OFFSET, 8);
    data_off = GUINT64_FROM_LE(data_off);
    memcpy(&meta_size, sb + QCXL_POOL_SB_META_SIZE, 8);
    meta_size = GUINT64_FROM_LE(meta_size);
    /* the metadata copies name it too (their checksums are 0 here) */
    for (int c = 0; c < 2; c++) {
        if (pwrite(f, sb + QCXL_POOL_SB_UUID, 16, QCXL_POOL_META_OFFSET +
                   c * meta_size + QCXL_POOL_META_UUID) != 16) {
            g_error("writing the metadata of %s", path);
        }
    }
    if (pwrite(f, sb, QCXL_POOL_SB_SIZE, 0) != QCXL_POOL_SB_SIZE ||
        pwrite(f, sb, QCXL_POOL_SB_SIZE, data_off - QCXL_POOL_PAGE) !=
        QCXL_POOL_SB_SIZE) {
        g_error("writing the superblocks of %s", path);
    }
    close(f);
}

static void make_pool(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    const QcxlPoolSuper *sb;

    path = g_strdup_printf("/dev/shm/qcxl-fuzz-pool-%d", getpid());
    if (!qcxl_pool_format(path, POOL_SIZE, EXTENT, 1000, true, &err)) {
        g_error("formatting %s: %s", path, err->message);
    }
    fix_uuid();
    pool = qcxl_pool_open(path, &err);
    if (!pool ||
        !qcxl_pool_host_add(pool, "hostA", &err) ||
        !qcxl_pool_host_add(pool, "hostB", &err) ||
        !qcxl_pool_region_create(pool, "vm1-ram", 2 * EXTENT, "hostA", true,
                                 &err) ||
        !qcxl_pool_region_share(pool, "vm1-ram", "hostB", true, &err) ||
        !qcxl_pool_region_create(pool, "ckpt", EXTENT, "hostB", false,
                                 &err)) {
        g_error("setting up %s: %s", path, err->message);
    }
    sb = qcxl_pool_super(pool);
    meta_len = 2 * sb->meta_size;
    template_len = QCXL_POOL_META_OFFSET + meta_len;
    template = g_malloc(template_len);
    memcpy(template, qcxl_pool_base(pool), template_len);
    fd = open(path, O_RDWR | O_CLOEXEC);
    /* the file goes with the process; the fd keeps it */
    g_unlink(path);
    if (fd < 0) {
        g_error("opening %s again", path);
    }
    g_free(path);
    path = g_strdup_printf("/proc/self/fd/%d", fd);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autofree uint8_t *meta = NULL;

    make_pool();
    if (fuzz_seed_dir()) {
        fuzz_seed_write("two-hosts-two-regions",
                        template + QCXL_POOL_META_OFFSET, meta_len);
        /* both copies' sequence numbers at the largest there is */
        meta = g_memdup2(template + QCXL_POOL_META_OFFSET, meta_len);
        memset(meta + QCXL_POOL_META_SEQ, 0xff, 8);
        memset(meta + meta_len / 2 + QCXL_POOL_META_SEQ, 0xff, 8);
        fuzz_seed_write("sequence-at-its-largest", meta, meta_len);
        exit(0);
    }
    return 0;
}
