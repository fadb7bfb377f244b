/*
 * Unit tests of the shared pool library (hw/mem/qcxl-pool-*.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Pools are files in /dev/shm, as in the one-machine setup.  Damaged and
 * hostile metadata is written at the offsets docs/pool.rst documents,
 * which also checks that the documentation matches the code.
 */

#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "hw/mem/qcxl_pool.h"

#define MiB (1ULL << 20)
#define E (2 * MiB)
/* What most tests attach regions for */
#define MEM QCXL_REGION_USE_MEMORY

static char *pool_path;

static void remove_pool(void)
{
    unlink(pool_path);
}

static QcxlPool *fresh_pool(uint64_t size, uint32_t lease_ms)
{
    g_autoptr(GError) err = NULL;
    QcxlPool *pool;

    remove_pool();
    g_assert_true(qcxl_pool_format(pool_path, size, E, lease_ms, false,
                                   &err));
    g_assert_no_error(err);
    pool = qcxl_pool_open(pool_path, &err);
    g_assert_no_error(err);
    return pool;
}

static void assert_clean(QcxlPool *pool)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);

    g_assert_no_error(err);
    if (!qcxl_pool_check(qcxl_pool_super(pool), meta, problems)) {
        g_error("not clean: %s", (char *)problems->pdata[0]);
    }
}

static void test_format(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    const QcxlPoolSuper *sb;

    remove_pool();
    /* bad geometry and lease */
    g_assert_false(qcxl_pool_format(pool_path, 64 * MiB, 3 * MiB, 1000,
                                    false, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID);
    g_assert_nonnull(strstr(err->message, "power of two"));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_format(pool_path, 64 * MiB, 1 * MiB, 1000,
                                    false, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_format(pool_path, 64 * MiB, E, 10, false, &err));
    g_assert_nonnull(strstr(err->message, "lease period"));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_format(pool_path, 3 * MiB, E, 1000, false,
                                    &err));
    g_assert_nonnull(strstr(err->message, "hold no extent"));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_format(pool_path, 0, E, 1000, false, &err));
    g_assert_nonnull(strstr(err->message, "needs a size"));
    g_clear_error(&err);

    /* a good one: geometry as documented */
    g_assert_true(qcxl_pool_format(pool_path, 64 * MiB, E, 1000, false,
                                   &err));
    g_assert_no_error(err);
    pool = qcxl_pool_open(pool_path, &err);
    g_assert_no_error(err);
    sb = qcxl_pool_super(pool);
    g_assert_cmpuint(sb->extent_size, ==, E);
    g_assert_cmpuint(sb->data_offset % E, ==, 0);
    g_assert_cmpuint(sb->data_offset, >=, QCXL_POOL_META_OFFSET +
                     2 * sb->meta_size + QCXL_POOL_PAGE);
    g_assert_cmpuint(sb->data_offset + sb->extents * E, <=, 64 * MiB);
    g_assert_cmpuint(sb->extents, ==, 31);
    g_assert_cmpuint(sb->lease_ms, ==, 1000);
    assert_clean(pool);

    /* never over an existing pool, or other data, without force */
    g_assert_false(qcxl_pool_format(pool_path, 64 * MiB, E, 1000, false,
                                    &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_EXISTS);
    g_assert_nonnull(strstr(err->message, "a qcxl pool"));
    g_assert_nonnull(strstr(err->message, "--force"));
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(pool_path, "precious", -1, NULL));
    g_assert_false(qcxl_pool_format(pool_path, 64 * MiB, E, 1000, false,
                                    &err));
    g_assert_nonnull(strstr(err->message, "holds data"));
    g_clear_error(&err);
    g_assert_true(qcxl_pool_format(pool_path, 64 * MiB, E, 1000, true,
                                   &err));
    g_assert_no_error(err);
}

static void write_at(uint64_t off, const void *buf, size_t len)
{
    FILE *f = fopen(pool_path, "r+");

    g_assert_nonnull(f);
    g_assert_cmpint(fseek(f, off, SEEK_SET), ==, 0);
    g_assert_cmpuint(fwrite(buf, 1, len, f), ==, len);
    fclose(f);
}

static void test_open_bad(void)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    QcxlPoolSuper sb;
    uint64_t backup;
    bool used_backup = false;
    uint8_t junk[64];

    /* not a pool */
    remove_pool();
    g_assert_null(qcxl_pool_open(pool_path, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO);
    g_clear_error(&err);
    g_assert_true(g_file_set_contents(pool_path, "x", 1, NULL));
    g_assert_null(qcxl_pool_open(pool_path, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT);
    g_clear_error(&err);

    pool = fresh_pool(64 * MiB, 1000);
    sb = *qcxl_pool_super(pool);
    g_clear_pointer(&pool, qcxl_pool_close);
    backup = sb.data_offset - 4096;

    /* truncated: the superblock says more than the file has */
    g_assert_cmpint(truncate(pool_path, 32 * MiB), ==, 0);
    g_assert_null(qcxl_pool_open(pool_path, &err));
    g_assert_nonnull(strstr(err->message, "truncated"));
    g_clear_error(&err);
    g_assert_cmpint(truncate(pool_path, 64 * MiB), ==, 0);

    /* a flipped byte in a field: the checksum catches it */
    write_at(40, "\x01", 1);
    g_assert_null(qcxl_pool_open(pool_path, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT);
    g_assert_nonnull(strstr(err->message, "checksum"));
    g_assert_nonnull(strstr(err->message, "fsck"));
    g_clear_error(&err);

    /* fsck's open finds the backup and restores the primary */
    pool = qcxl_pool_open_any(pool_path, &used_backup, &err);
    g_assert_no_error(err);
    g_assert_true(used_backup);
    g_assert_cmpuint(qcxl_pool_super(pool)->extents, ==, sb.extents);
    g_assert_true(qcxl_pool_restore_super(pool, NULL));
    g_clear_pointer(&pool, qcxl_pool_close);
    pool = qcxl_pool_open(pool_path, &err);
    g_assert_no_error(err);
    g_clear_pointer(&pool, qcxl_pool_close);

    /* both superblocks gone: nothing to recover, and no reformat */
    memset(junk, 0xa5, sizeof(junk));
    write_at(0, junk, sizeof(junk));
    write_at(backup, junk, sizeof(junk));
    g_assert_null(qcxl_pool_open_any(pool_path, &used_backup, &err));
    g_assert_nonnull(strstr(err->message, "no intact backup"));
    g_clear_error(&err);
}

/* Rewrite copy @copy's CRC after a field was changed */
static void fix_crc(QcxlPool *pool, int copy)
{
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    uint8_t *b = qcxl_pool_base(pool) + QCXL_POOL_META_OFFSET +
                 copy * sb->meta_size;
    uint32_t len, crc;

    memcpy(&len, b + QCXL_POOL_META_LEN, 4);
    crc = qcxl_crc32c(qcxl_crc32c(0, b, QCXL_POOL_META_CRC),
                      b + QCXL_POOL_META_HEAD, len - QCXL_POOL_META_HEAD);
    memcpy(b + QCXL_POOL_META_CRC, &crc, 4);
}

static int current_copy(QcxlPool *pool)
{
    uint64_t s0, s1;
    bool v0 = qcxl_pool_copy_state(pool, 0, &s0);
    bool v1 = qcxl_pool_copy_state(pool, 1, &s1);

    g_assert_true(v0 || v1);
    return v1 && (!v0 || s1 > s0);
}

static void test_copies(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 1000);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    uint8_t *base = qcxl_pool_base(pool);
    int cur;

    g_assert_true(qcxl_pool_host_add(pool, "a", &err));
    g_assert_true(qcxl_pool_host_add(pool, "b", &err));
    g_assert_no_error(err);
    cur = current_copy(pool);

    /* a torn current copy: the previous one (without host b) is used */
    base[QCXL_POOL_META_OFFSET + cur * sb->meta_size + 100] ^= 0xff;
    meta = qcxl_pool_read(pool, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcxl_pool_find_host(meta, "a"), >=, 0);
    g_assert_cmpint(qcxl_pool_find_host(meta, "b"), <, 0);
    /* and the next transaction overwrites the torn copy */
    g_assert_true(qcxl_pool_host_add(pool, "c", &err));
    g_assert_no_error(err);
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpint(qcxl_pool_find_host(meta, "c"), >=, 0);
    assert_clean(pool);

    /*
     * the current copy's sequence number at its largest (hostile): the
     * next transaction renumbers the copies, and the lock is let go
     */
    cur = current_copy(pool);
    memset(base + QCXL_POOL_META_OFFSET + cur * sb->meta_size +
           QCXL_POOL_META_SEQ, 0xff, 8);
    fix_crc(pool, cur);
    g_assert_true(qcxl_pool_host_add(pool, "e", &err));
    g_assert_no_error(err);
    g_assert_cmpuint(qcxl_pool_lock_word(pool), ==, 0);
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpint(qcxl_pool_find_host(meta, "e"), >=, 0);
    g_assert_cmpint(qcxl_pool_find_host(meta, "c"), >=, 0);
    g_assert_cmpuint(meta->seq, ==, 2);
    /* both copies hold the change: the other one, torn, is not missed */
    base[QCXL_POOL_META_OFFSET + current_copy(pool) * sb->meta_size +
         100] ^= 0xff;
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpint(qcxl_pool_find_host(meta, "e"), >=, 0);
    g_assert_cmpuint(meta->seq, ==, 1);
    g_assert_true(qcxl_pool_host_add(pool, "f", &err));
    g_assert_no_error(err);
    assert_clean(pool);

    /* both damaged: reads and transactions refuse, with both reasons */
    base[QCXL_POOL_META_OFFSET + 100] ^= 0xff;
    base[QCXL_POOL_META_OFFSET + sb->meta_size + 100] ^= 0xff;
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    g_assert_null(qcxl_pool_read(pool, &err));
    g_assert_nonnull(strstr(err->message, "both metadata copies"));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_host_add(pool, "d", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_repair(pool, NULL, &err));
    g_clear_error(&err);
}

/* Hostile but checksummed metadata: check reports, repair fixes. */
static void test_hostile(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 1000);
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) fixed = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QcxlPoolMeta) meta = NULL;
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    uint8_t *copy, *region, *ext5;
    int cur;

    g_assert_true(qcxl_pool_host_add(pool, "a", &err));
    g_assert_true(qcxl_pool_region_create(pool, "r", 2 * E, "a", false,
                                          &err));
    g_assert_no_error(err);
    cur = current_copy(pool);
    copy = qcxl_pool_base(pool) + QCXL_POOL_META_OFFSET +
           cur * sb->meta_size;
    region = copy + QCXL_POOL_META_REGIONS_OFF;     /* region slot 0 */

    /* mapped by slot 5 (no host), owner slot 63 (no host), a bad mode */
    region[QCXL_POOL_REGION_MAPPED] = 1 << 5;
    region[QCXL_POOL_REGION_OWNER] = 63;
    region[QCXL_POOL_REGION_MODE] = 7;
    /* extent 20 claims region slot 9, which is free; data in it */
    copy[QCXL_POOL_META_MAP_OFF + 2 * 20] = 10;
    ext5 = qcxl_pool_base(pool) + qcxl_pool_extent_offset(pool, 20);
    memset(ext5, 0x5a, 4096);
    /* and a free extent (25) holds data */
    memset(qcxl_pool_base(pool) + qcxl_pool_extent_offset(pool, 25), 1, 8);
    fix_crc(pool, cur);

    meta = qcxl_pool_read(pool, &err);
    g_assert_no_error(err);
    g_assert_false(qcxl_pool_check(sb, meta, problems));
    g_assert_cmpuint(problems->len, >=, 4);
    /* a transaction on top of it refuses to commit */
    g_assert_false(qcxl_pool_host_add(pool, "b", &err));
    g_assert_nonnull(strstr(err->message, "refusing to commit"));
    g_clear_error(&err);

    /* repair: the invalid region entry goes, the leak is zeroed and freed */
    g_assert_true(qcxl_pool_repair(pool, fixed, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(fixed->len, >=, 3);
    assert_clean(pool);
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpuint(meta->map[20], ==, 0);
    g_assert_true(qcxl_pool_extent_is_zero(pool, 20));
    g_assert_true(qcxl_pool_extent_is_zero(pool, 25));
    g_assert_cmpuint(qcxl_pool_free_extents(meta), ==, sb->extents);

    /* a region with an unknown owner keeps its data, without owner */
    g_assert_true(qcxl_pool_region_create(pool, "keep", E, "a", false,
                                          &err));
    g_assert_no_error(err);
    cur = current_copy(pool);
    copy = qcxl_pool_base(pool) + QCXL_POOL_META_OFFSET +
           cur * sb->meta_size;
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(pool, &err);
    region = copy + QCXL_POOL_META_REGIONS_OFF +
             QCXL_POOL_META_REGION_SIZE * qcxl_pool_find_region(meta, "keep");
    region[QCXL_POOL_REGION_OWNER] = 40;
    fix_crc(pool, cur);
    g_ptr_array_set_size(fixed, 0);
    g_assert_true(qcxl_pool_repair(pool, fixed, &err));
    g_clear_pointer(&meta, qcxl_pool_meta_free);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpint(qcxl_pool_find_region(meta, "keep"), >=, 0);
    g_assert_cmpuint(meta->regions[qcxl_pool_find_region(meta, "keep")].owner,
                     ==, QCXL_POOL_NO_HOST);
    assert_clean(pool);
}

static void test_ops(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 1000);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autofree uint32_t *ext = NULL;
    uint64_t inc_a, inc_b, inc_a2, size;
    bool created = false;
    uint32_t n;
    int a, b;

    /* names */
    g_assert_false(qcxl_pool_host_add(pool, "", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_host_add(pool, "a/b", &err));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_host_add(pool,
                                      "0123456789012345678901234567890123",
                                      &err));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_create(pool, "bad name", E, "x", false,
                                           &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID);
    g_clear_error(&err);

    a = qcxl_pool_join(pool, "a", true, &created, &inc_a, &err);
    g_assert_no_error(err);
    /* "a" is new to the pool: joining added it, and says so */
    g_assert_true(created);
    b = qcxl_pool_join(pool, "b", true, NULL, &inc_b, &err);
    g_assert_no_error(err);
    g_assert_cmpint(a, !=, b);
    /* a second QEMU for an active host is refused */
    g_assert_cmpint(qcxl_pool_join(pool, "a", true, NULL, &inc_a2, &err), <, 0);
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_assert_nonnull(strstr(err->message, "evict"));
    g_clear_error(&err);
    g_assert_cmpint(qcxl_pool_join(pool, "nobody", false, NULL, &inc_a2, &err),
                    <, 0);
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_NOT_FOUND);
    g_clear_error(&err);

    g_assert_true(qcxl_pool_region_create(pool, "excl", 2 * E, "a", false,
                                          &err));
    g_assert_true(qcxl_pool_region_create(pool, "sh", E, "a", true, &err));
    g_assert_no_error(err);
    g_assert_false(qcxl_pool_region_create(pool, "excl", E, "a", false,
                                           &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_EXISTS);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_create(pool, "x", E, "ghost", false,
                                           &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_NOT_FOUND);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_create(pool, "x", 64 * E, "a", false,
                                           &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_NO_SPACE);
    g_clear_error(&err);

    /* access: exclusive is the owner's, shared needs share */
    ext = qcxl_pool_attach(pool, "excl", b, inc_b, MEM, &size, &n, &err);
    g_assert_null(ext);
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM);
    g_assert_nonnull(strstr(err->message, "exclusive"));
    g_clear_error(&err);
    g_assert_null(qcxl_pool_attach(pool, "sh", b, inc_b, MEM, &size, &n, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM);
    g_clear_error(&err);
    g_assert_true(qcxl_pool_region_share(pool, "sh", "b", true, &err));
    g_assert_false(qcxl_pool_region_share(pool, "sh", "a", true, &err));
    g_assert_nonnull(strstr(err->message, "owns"));
    g_clear_error(&err);
    ext = qcxl_pool_attach(pool, "sh", b, inc_b, MEM, &size, &n, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 1);
    g_assert_cmpuint(size, ==, E);
    g_clear_pointer(&ext, g_free);
    ext = qcxl_pool_attach(pool, "excl", a, inc_a, MEM, &size, &n, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmpuint(ext[1], ==, ext[0] + 1);      /* contiguous */
    g_clear_pointer(&ext, g_free);

    /* mapped regions cannot be deleted, resized, unshared or moved */
    g_assert_false(qcxl_pool_region_delete(pool, "excl", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_assert_nonnull(strstr(err->message, "mapped by a"));
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_resize(pool, "excl", 3 * E, false,
                                           &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_share(pool, "sh", "b", false, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_chown(pool, "excl", "b", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_host_remove(pool, "a", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);

    /* eviction fences the old incarnation, and unmaps it */
    g_assert_true(qcxl_pool_evict(pool, "a", &err));
    g_assert_no_error(err);
    g_assert_null(qcxl_pool_attach(pool, "excl", a, inc_a, MEM, &size, &n,
                                   &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_FENCED);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_leave(pool, a, inc_a, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_FENCED);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_evict(pool, "a", &err));
    g_clear_error(&err);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpuint(meta->regions[qcxl_pool_find_region(meta, "excl")].mapped,
                     ==, 0);
    g_assert_cmpuint(meta->hosts[a].state, ==, QCXL_HOST_FENCED);
    /* a fenced host joins again with a new incarnation */
    created = true;
    g_assert_cmpint(qcxl_pool_join(pool, "a", true, &created, &inc_a2, &err),
                    ==, a);
    g_assert_cmpuint(inc_a2, >, inc_a);
    g_assert_false(created);

    /* grow stays contiguous when it can; shrink needs the flag */
    g_assert_true(qcxl_pool_region_resize(pool, "excl", 4 * E, false, &err));
    g_assert_no_error(err);
    g_assert_false(qcxl_pool_region_resize(pool, "excl", E, false, &err));
    g_assert_nonnull(strstr(err->message, "--force"));
    g_clear_error(&err);

    /* chown moves the region; the old owner may not map it */
    g_assert_true(qcxl_pool_region_chown(pool, "excl", "b", &err));
    g_assert_no_error(err);
    g_assert_null(qcxl_pool_attach(pool, "excl", a, inc_a2, MEM, &size, &n,
                                   &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM);
    g_clear_error(&err);
    ext = qcxl_pool_attach(pool, "excl", b, inc_b, MEM, &size, &n, &err);
    g_assert_no_error(err);
    g_assert_cmpuint(n, ==, 4);
    g_clear_pointer(&ext, g_free);

    /* leaving unmaps; then an inactive host can be removed once unused */
    g_assert_true(qcxl_pool_leave(pool, b, inc_b, &err));
    g_assert_true(qcxl_pool_region_delete(pool, "excl", &err));
    g_assert_true(qcxl_pool_region_share(pool, "sh", "b", false, &err));
    g_assert_true(qcxl_pool_host_remove(pool, "b", &err));
    g_assert_no_error(err);
    g_assert_false(qcxl_pool_host_remove(pool, "b", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_NOT_FOUND);
    g_clear_error(&err);
    assert_clean(pool);

    /* host slots run out with a clear error */
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        g_autofree char *name = g_strdup_printf("h%d", i);
        if (!qcxl_pool_host_add(pool, name, &err)) {
            break;
        }
    }
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_NO_SPACE);
    g_clear_error(&err);
}

/*
 * #18, item 1: a region has one use at a time.  A host maps a region
 * once (a stage onto guest memory, a ring over it, a second backend are
 * refused), other hosts sharing it must use it alike, a detach drops
 * only its own use, and the use goes with the last mapping.  fsck flags
 * a use without a mapping, and repair clears it.
 */
static void test_uses(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 1000);
    g_autoptr(GError) err = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) fixed = g_ptr_array_new_with_free_func(g_free);
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    QcxlPoolMeta *meta;
    uint64_t inc_a, inc_b, size;
    uint32_t n;
    int a = qcxl_pool_join(pool, "a", true, NULL, &inc_a, &err);
    int b = qcxl_pool_join(pool, "b", true, NULL, &inc_b, &err);
    int r, cur;
    uint8_t *region;

    g_assert_true(qcxl_pool_region_create(pool, "ramA", E, "a", true,
                                          &err));
    g_assert_true(qcxl_pool_region_share(pool, "ramA", "b", true, &err));
    g_assert_no_error(err);
    g_free(qcxl_pool_attach(pool, "ramA", a, inc_a, MEM, &size, &n, &err));
    g_assert_no_error(err);

    /* The same host again, for any use: refused, naming the use */
    g_assert_null(qcxl_pool_attach(pool, "ramA", a, inc_a, MEM, &size, &n,
                                   &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_assert_nonnull(strstr(err->message, "maps region 'ramA' already "
                            "(as memory)"));
    g_clear_error(&err);
    g_assert_null(qcxl_pool_attach(pool, "ramA", a, inc_a,
                                   QCXL_REGION_USE_RING, &size, &n, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);
    /* Another host: as memory too, or not at all */
    g_assert_null(qcxl_pool_attach(pool, "ramA", b, inc_b,
                                   QCXL_REGION_USE_RING, &size, &n, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_assert_nonnull(strstr(err->message, "in use as memory, not as ring"));
    g_clear_error(&err);
    g_free(qcxl_pool_attach(pool, "ramA", b, inc_b, MEM, &size, &n, &err));
    g_assert_no_error(err);
    /* Nor as nothing */
    g_assert_null(qcxl_pool_attach(pool, "ramA", b, inc_b,
                                   QCXL_REGION_USE_NONE, &size, &n, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID);
    g_clear_error(&err);

    /* A detach for another use drops nothing; the refusals stay */
    g_assert_false(qcxl_pool_detach(pool, "ramA", a, inc_a,
                                    QCXL_REGION_USE_RING, &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);
    g_assert_false(qcxl_pool_region_delete(pool, "ramA", &err));
    g_assert_error(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY);
    g_clear_error(&err);

    /* The use goes with the last mapping; then any use may come */
    g_assert_true(qcxl_pool_detach(pool, "ramA", a, inc_a, MEM, &err));
    meta = qcxl_pool_read(pool, &err);
    r = qcxl_pool_find_region(meta, "ramA");
    g_assert_cmpuint(meta->regions[r].use, ==, QCXL_REGION_USE_MEMORY);
    qcxl_pool_meta_free(meta);
    g_assert_true(qcxl_pool_detach(pool, "ramA", b, inc_b, MEM, &err));
    /* Detaching what is not mapped is no error */
    g_assert_true(qcxl_pool_detach(pool, "ramA", b, inc_b, MEM, &err));
    g_assert_no_error(err);
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpuint(meta->regions[r].use, ==, QCXL_REGION_USE_NONE);
    g_assert_cmpuint(meta->regions[r].mapped, ==, 0);
    qcxl_pool_meta_free(meta);
    g_free(qcxl_pool_attach(pool, "ramA", b, inc_b, QCXL_REGION_USE_RING,
                            &size, &n, &err));
    g_assert_no_error(err);

    /* What b publishes that it maps agrees with the record ... */
    g_assert_true(qcxl_pool_check_maps(pool, problems, &err));
    g_assert_cmpuint(problems->len, ==, 0);
    /* ... until a hostile peer clears b's mapping in the metadata */
    cur = current_copy(pool);
    region = qcxl_pool_base(pool) + QCXL_POOL_META_OFFSET +
             cur * sb->meta_size + QCXL_POOL_META_REGIONS_OFF +
             QCXL_POOL_META_REGION_SIZE * r;
    region[QCXL_POOL_REGION_MAPPED + b / 8] &= ~(1 << (b % 8));
    fix_crc(pool, cur);
    g_assert_true(qcxl_pool_check_maps(pool, problems, &err));
    g_assert_cmpuint(problems->len, ==, 1);
    g_assert_nonnull(strstr(problems->pdata[0], "host 'b' maps it, but the "
                            "pool records it as not mapped"));
    /* ... or the reverse: recorded, but b does not say it maps it */
    region[QCXL_POOL_REGION_MAPPED + b / 8] |= 1 << (b % 8);
    fix_crc(pool, cur);
    qcxl_pool_base(pool)[QCXL_POOL_LOCK_OFFSET + QCXL_POOL_LOCK_MAPS +
                         b * QCXL_POOL_LOCK_MAP_SIZE + r / 8] &=
        ~(1 << (r % 8));
    g_ptr_array_set_size(problems, 0);
    g_assert_true(qcxl_pool_check_maps(pool, problems, &err));
    g_assert_cmpuint(problems->len, ==, 1);
    g_assert_nonnull(strstr(problems->pdata[0], "recorded as mapped by host "
                            "'b', which does not map it"));
    g_ptr_array_set_size(problems, 0);
    /* Eviction ends the use with the mapping */
    g_assert_true(qcxl_pool_evict(pool, "b", &err));
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpuint(meta->regions[r].use, ==, QCXL_REGION_USE_NONE);
    qcxl_pool_meta_free(meta);
    assert_clean(pool);

    /* Hostile metadata: a use without a mapping, a use out of range */
    cur = current_copy(pool);
    region = qcxl_pool_base(pool) + QCXL_POOL_META_OFFSET +
             cur * sb->meta_size + QCXL_POOL_META_REGIONS_OFF +
             QCXL_POOL_META_REGION_SIZE * r;
    region[QCXL_POOL_REGION_USE] = QCXL_REGION_USE_RING;
    fix_crc(pool, cur);
    meta = qcxl_pool_read(pool, &err);
    g_assert_false(qcxl_pool_check(sb, meta, problems));
    g_assert_nonnull(strstr(problems->pdata[0], "in use as ring but mapped "
                            "by no host"));
    qcxl_pool_meta_free(meta);
    region[QCXL_POOL_REGION_USE] = 200;
    fix_crc(pool, cur);
    meta = qcxl_pool_read(pool, &err);
    g_ptr_array_set_size(problems, 0);
    g_assert_false(qcxl_pool_check(sb, meta, problems));
    g_assert_nonnull(strstr(problems->pdata[0], "invalid use 200"));
    qcxl_pool_meta_free(meta);
    g_assert_true(qcxl_pool_repair(pool, fixed, &err));
    g_assert_no_error(err);
    assert_clean(pool);
}

/* Free extents are zero: deleted and shrunk data is never handed out. */
static void test_zeroing(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 1000);
    g_autoptr(GError) err = NULL;
    g_autofree uint32_t *ext = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    uint64_t inc, size;
    uint32_t n;
    int a = qcxl_pool_join(pool, "a", true, NULL, &inc, &err);

    g_assert_true(qcxl_pool_region_create(pool, "r", 3 * E, "a", false,
                                          &err));
    ext = qcxl_pool_attach(pool, "r", a, inc, MEM, &size, &n, &err);
    g_assert_no_error(err);
    for (uint32_t i = 0; i < n; i++) {
        memset(qcxl_pool_base(pool) + qcxl_pool_extent_offset(pool, ext[i]),
               0xee, E);
    }
    g_assert_true(qcxl_pool_detach(pool, "r", a, inc, MEM, &err));
    g_assert_true(qcxl_pool_region_resize(pool, "r", E, true, &err));
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_extent_is_zero(pool, ext[1]));
    g_assert_true(qcxl_pool_extent_is_zero(pool, ext[2]));
    g_assert_false(qcxl_pool_extent_is_zero(pool, ext[0]));
    g_assert_true(qcxl_pool_region_delete(pool, "r", &err));
    g_assert_true(qcxl_pool_extent_is_zero(pool, ext[0]));
    meta = qcxl_pool_read(pool, &err);
    g_assert_cmpuint(qcxl_pool_free_extents(meta), ==,
                     qcxl_pool_super(pool)->extents);
}

/*
 * The lock is taken over from a holder whose word and beat stand still
 * for the pool's lease (the lock timeout).  The live holder below shows
 * progress twenty times per lease, so only a stall of a whole lease
 * (2 s here) could make the waiter take over: the test takes its
 * timing from the pool, not from how this machine schedules threads.
 */
#define LOCK_TEST_LEASE_MS 2000

static gint holder_released;

static gpointer fake_holder(gpointer opaque)
{
    QcxlPool *pool = opaque;
    uint64_t *lock = (uint64_t *)(qcxl_pool_base(pool) +
                                  QCXL_POOL_LOCK_OFFSET);
    uint32_t step_ms = qcxl_pool_super(pool)->lease_ms / 20;

    /* hold the lock for half a lease, showing progress, then release */
    for (int i = 0; i < 10; i++) {
        __atomic_fetch_add(&lock[QCXL_POOL_LOCK_BEAT / 8], 1, __ATOMIC_RELEASE);
        g_usleep(step_ms * 1000);
    }
    g_atomic_int_set(&holder_released, 1);
    __atomic_store_n(&lock[QCXL_POOL_LOCK_WORD / 8], 0, __ATOMIC_RELEASE);
    return NULL;
}

static void test_lock(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 200);
    g_autoptr(GError) err = NULL;
    uint64_t *lock = (uint64_t *)(qcxl_pool_base(pool) +
                                  QCXL_POOL_LOCK_OFFSET);
    GThread *t;

    /* a dead holder (no progress at all): taken over after the lease */
    __atomic_store_n(&lock[QCXL_POOL_LOCK_WORD / 8], 0xdead0001ULL,
                     __ATOMIC_RELEASE);
    g_assert_true(qcxl_pool_host_add(pool, "a", &err));
    g_assert_no_error(err);
    g_assert_cmpuint(qcxl_pool_lock_word(pool), ==, 0);
    assert_clean(pool);

    /* a live holder (progress): waited for, however long it holds */
    g_clear_pointer(&pool, qcxl_pool_close);
    pool = fresh_pool(64 * MiB, LOCK_TEST_LEASE_MS);
    lock = (uint64_t *)(qcxl_pool_base(pool) +
                                  QCXL_POOL_LOCK_OFFSET);
    __atomic_store_n(&lock[QCXL_POOL_LOCK_WORD / 8], 0xbeef0001ULL,
                     __ATOMIC_RELEASE);
    t = g_thread_new("holder", fake_holder, pool);
    g_assert_true(qcxl_pool_host_add(pool, "b", &err));
    g_assert_no_error(err);
    /* the add ran only after the holder let go: the word was not stolen */
    g_assert_cmpint(g_atomic_int_get(&holder_released), ==, 1);
    g_thread_join(t);
    g_assert_cmpuint(qcxl_pool_lock_word(pool), ==, 0);
    assert_clean(pool);
}

static gint beater_stop;

/* Beat for slot 3 until told to stop (at most 10 s); returns the beats */
static gpointer beater(gpointer opaque)
{
    QcxlPool *pool = opaque;
    uintptr_t beats = 0;

    while (!g_atomic_int_get(&beater_stop) && beats < 500) {
        qcxl_pool_beat(pool, 3);
        beats++;
        g_usleep(20000);
    }
    return (gpointer)beats;
}

static void test_heartbeat(void)
{
    g_autoptr(QcxlPool) pool = fresh_pool(64 * MiB, 200);
    GThread *t = g_thread_new("beat", beater, pool);
    uintptr_t beats;

    /* a beating host is not stale: the watch returns at its first beat */
    g_assert_false(qcxl_pool_watch_stale(pool, 3, 10000));
    g_atomic_int_set(&beater_stop, 1);
    beats = (uintptr_t)g_thread_join(t);
    /* one that has stopped is, after the period watched */
    g_assert_true(qcxl_pool_watch_stale(pool, 3, 100));
    g_assert_cmpuint(qcxl_pool_heartbeat(pool, 3), ==, beats);
}

/* A handle acting as a host may change only what that host owns */
static void test_actor(void)
{
    g_autoptr(QcxlPool) op = fresh_pool(64 * MiB, 1000);
    g_autoptr(QcxlPool) b = qcxl_pool_open(pool_path, NULL);
    g_autoptr(GError) err = NULL;
    uint64_t inc;
    int slot;

    g_assert_true(qcxl_pool_host_add(op, "hostA", NULL));
    g_assert_true(qcxl_pool_region_create(op, "privA", 4 * MiB, "hostA",
                                          false, NULL));
    slot = qcxl_pool_join(b, "hostB", true, NULL, &inc, &err);
    g_assert_no_error(err);
    qcxl_pool_act_as(b, slot, inc);

#define REFUSED(call, code) \
    do { \
        g_assert_false(call); \
        g_assert_error(err, QCXL_POOL_ERROR, code); \
        g_clear_error(&err); \
    } while (0)
    REFUSED(qcxl_pool_region_create(b, "forA", 2 * MiB, "hostA", false,
                                    &err), QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_region_delete(b, "privA", &err), QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_region_resize(b, "privA", 8 * MiB, false, &err),
            QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_region_share(b, "privA", "hostB", true, &err),
            QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_region_chown(b, "privA", "hostB", &err),
            QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_evict(b, "hostB", &err), QCXL_POOL_ERR_PERM);

    /* its own region: everything */
    g_assert_true(qcxl_pool_region_create(b, "privB", 2 * MiB, "hostB",
                                          false, &err));
    g_assert_true(qcxl_pool_region_resize(b, "privB", 4 * MiB, false, &err));
    g_assert_true(qcxl_pool_region_share(b, "privB", "hostA", true, &err));
    g_assert_true(qcxl_pool_region_delete(b, "privB", &err));
    g_assert_no_error(err);

    /* once evicted, nothing */
    g_assert_true(qcxl_pool_region_create(b, "privB", 2 * MiB, "hostB",
                                          false, &err));
    g_assert_true(qcxl_pool_evict(op, "hostB", &err));
    REFUSED(qcxl_pool_region_delete(b, "privB", &err), QCXL_POOL_ERR_FENCED);
    REFUSED(qcxl_pool_region_create(b, "late", 2 * MiB, "hostB", false,
                                    &err), QCXL_POOL_ERR_FENCED);
#undef REFUSED
    /* the operator still can */
    g_assert_true(qcxl_pool_region_delete(op, "privB", &err));
    g_assert_no_error(err);
    assert_clean(op);
}

static uint64_t region_gen(QcxlPool *pool, const char *name, int *owner,
                           uint64_t *sharers)
{
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, NULL);
    int r = qcxl_pool_find_region(meta, name);

    g_assert_cmpint(r, >=, 0);
    *owner = meta->regions[r].owner;
    *sharers = meta->regions[r].sharers;
    return meta->regions[r].generation;
}

/* Migration handoff: the destination claims, the source reclaims */
static void test_handoff(void)
{
    g_autoptr(QcxlPool) op = fresh_pool(64 * MiB, 1000);
    g_autoptr(QcxlPool) a = qcxl_pool_open(pool_path, NULL);
    g_autoptr(QcxlPool) b = qcxl_pool_open(pool_path, NULL);
    g_autoptr(GError) err = NULL;
    const char *both[] = { "ram", "dev" };
    uint64_t gens[2], sharers;
    uint64_t inc_a, inc_b;
    int sa, sb, owner;

    sa = qcxl_pool_join(a, "hostA", true, NULL, &inc_a, &err);
    sb = qcxl_pool_join(b, "hostB", true, NULL, &inc_b, &err);
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_host_add(op, "hostC", NULL));
    qcxl_pool_act_as(a, sa, inc_a);
    qcxl_pool_act_as(b, sb, inc_b);
    g_assert_true(qcxl_pool_region_create(a, "ram", 4 * MiB, "hostA", false,
                                          &err));
    g_assert_true(qcxl_pool_region_create(a, "dev", 2 * MiB, "hostA", false,
                                          &err));
    g_assert_true(qcxl_pool_region_share(a, "ram", "hostB", true, &err));
    g_assert_no_error(err);

#define REFUSED(call, code) \
    do { \
        g_assert_false(call); \
        g_assert_error(err, QCXL_POOL_ERROR, code); \
        g_clear_error(&err); \
    } while (0)
    gens[0] = region_gen(op, "ram", &owner, &sharers);
    gens[1] = region_gen(op, "dev", &owner, &sharers);
    /* the operator is no host; a stale generation; not shared with B */
    REFUSED(qcxl_pool_handoff(op, "hostA", 1, both, gens, &err),
            QCXL_POOL_ERR_INVALID);
    gens[0]--;
    REFUSED(qcxl_pool_handoff(b, "hostA", 1, both, gens, &err),
            QCXL_POOL_ERR_BUSY);
    gens[0]++;
    REFUSED(qcxl_pool_handoff(b, "hostA", 2, both, gens, &err),
            QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_handoff(b, "hostC", 1, both, gens, &err),
            QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_handoff(b, "nobody", 1, both, gens, &err),
            QCXL_POOL_ERR_NOT_FOUND);
    /* all or none: "ram" was not claimed by the refused pair */
    g_assert_cmpuint(region_gen(op, "ram", &owner, &sharers), ==, gens[0]);
    g_assert_cmpint(owner, ==, sa);

    /* the source reclaims first: the offer is void */
    g_assert_true(qcxl_pool_reclaim(a, 1, both, &err));
    g_assert_no_error(err);
    REFUSED(qcxl_pool_handoff(b, "hostA", 1, both, gens, &err),
            QCXL_POOL_ERR_BUSY);

    /* a fresh offer is claimed; the old owner becomes a sharer */
    gens[0] = region_gen(op, "ram", &owner, &sharers);
    g_assert_true(qcxl_pool_handoff(b, "hostA", 1, both, gens, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(region_gen(op, "ram", &owner, &sharers), ==,
                     gens[0] + 1);
    g_assert_cmpint(owner, ==, sb);
    g_assert_cmpuint(sharers, ==, 1ULL << sa);
    /* now the source may not reclaim, and the offer cannot be used twice */
    REFUSED(qcxl_pool_reclaim(a, 1, both, &err), QCXL_POOL_ERR_PERM);
    REFUSED(qcxl_pool_handoff(b, "hostA", 1, both, gens, &err),
            QCXL_POOL_ERR_PERM);
    /* and back: B hands it to A, which is a sharer already */
    gens[0]++;
    g_assert_true(qcxl_pool_handoff(a, "hostB", 1, both, gens, &err));
    g_assert_no_error(err);
    region_gen(op, "ram", &owner, &sharers);
    g_assert_cmpint(owner, ==, sa);
    g_assert_cmpuint(sharers, ==, 1ULL << sb);
    /* an evicted host claims nothing */
    gens[0] = region_gen(op, "ram", &owner, &sharers);
    g_assert_true(qcxl_pool_evict(op, "hostB", &err));
    REFUSED(qcxl_pool_handoff(b, "hostA", 1, both, gens, &err),
            QCXL_POOL_ERR_FENCED);
#undef REFUSED
    g_assert_true(qcxl_pool_leave(a, sa, inc_a, &err));
    g_assert_no_error(err);
    g_assert_true(qcxl_pool_region_delete(op, "ram", &err));
    g_assert_true(qcxl_pool_region_delete(op, "dev", &err));
    g_assert_no_error(err);
    assert_clean(op);
}

/* HA takeover: refused while the owner's lease is live, then atomic */
static void test_takeover(void)
{
    g_autoptr(QcxlPool) op = fresh_pool(64 * MiB, 1000);
    g_autoptr(QcxlPool) a = qcxl_pool_open(pool_path, NULL);
    g_autoptr(QcxlPool) c = qcxl_pool_open(pool_path, NULL);
    g_autoptr(GError) err = NULL;
    const char *both[] = { "ckpt", "img" };
    uint64_t gen, sharers, inc_a, inc_c;
    int sa, sc, owner;

    sa = qcxl_pool_join(a, "hostA", true, NULL, &inc_a, &err);
    sc = qcxl_pool_join(c, "hostC", true, NULL, &inc_c, &err);
    g_assert_no_error(err);
    qcxl_pool_act_as(a, sa, inc_a);
    qcxl_pool_act_as(c, sc, inc_c);
    for (int i = 0; i < 2; i++) {
        g_assert_true(qcxl_pool_region_create(a, both[i], 2 * MiB, "hostA",
                                              false, &err));
        g_assert_true(qcxl_pool_region_share(a, both[i], "hostC", true,
                                             &err));
        g_assert_no_error(err);
    }
    gen = region_gen(op, "ckpt", &owner, &sharers);

#define REFUSED(call, code) \
    do { \
        g_assert_false(call); \
        g_assert_error(err, QCXL_POOL_ERROR, code); \
        g_clear_error(&err); \
    } while (0)
    /* a live lease; an expiry of an older incarnation; from itself */
    REFUSED(qcxl_pool_takeover(c, "hostA", false, 0, 2, both, &err),
            QCXL_POOL_ERR_BUSY);
    REFUSED(qcxl_pool_takeover(c, "hostA", true, inc_a - 1, 2, both, &err),
            QCXL_POOL_ERR_BUSY);
    REFUSED(qcxl_pool_takeover(c, "hostC", true, inc_c, 2, both, &err),
            QCXL_POOL_ERR_INVALID);
    REFUSED(qcxl_pool_takeover(op, "hostA", true, inc_a, 2, both, &err),
            QCXL_POOL_ERR_INVALID);
    g_assert_cmpuint(region_gen(op, "ckpt", &owner, &sharers), ==, gen);
    g_assert_cmpint(owner, ==, sa);

    /* the lease of this incarnation expired: A is fenced, C owns both */
    g_assert_true(qcxl_pool_takeover(c, "hostA", true, inc_a, 2, both,
                                     &err));
    g_assert_no_error(err);
    for (int i = 0; i < 2; i++) {
        region_gen(op, both[i], &owner, &sharers);
        g_assert_cmpint(owner, ==, sc);
        g_assert_cmpuint(sharers, ==, 1ULL << sa);
    }
    g_assert_cmpuint(region_gen(op, "ckpt", &owner, &sharers), ==, gen + 1);
    {
        g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(op, NULL);

        g_assert_cmpint(meta->hosts[sa].state, ==, QCXL_HOST_FENCED);
        g_assert_false(qcxl_pool_still_active(meta, sa, inc_a));
    }
    /* the fenced host can take nothing back */
    REFUSED(qcxl_pool_reclaim(a, 2, both, &err), QCXL_POOL_ERR_FENCED);
    /* nor can C take over twice: the regions are its own now */
    REFUSED(qcxl_pool_takeover(c, "hostA", false, 0, 2, both, &err),
            QCXL_POOL_ERR_PERM);
#undef REFUSED
    g_assert_true(qcxl_pool_leave(c, sc, inc_c, &err));
    g_assert_no_error(err);
    for (int i = 0; i < 2; i++) {
        g_assert_true(qcxl_pool_region_delete(op, both[i], &err));
        g_assert_no_error(err);
    }
}

int main(int argc, char **argv)
{
    int rc;

    g_test_init(&argc, &argv, NULL);
    pool_path = g_strdup_printf("/dev/shm/qcxl-test-pool-%d", getpid());
    g_test_add_func("/pool/format", test_format);
    g_test_add_func("/pool/open-bad", test_open_bad);
    g_test_add_func("/pool/copies", test_copies);
    g_test_add_func("/pool/hostile", test_hostile);
    g_test_add_func("/pool/ops", test_ops);
    g_test_add_func("/pool/uses", test_uses);
    g_test_add_func("/pool/zeroing", test_zeroing);
    g_test_add_func("/pool/lock", test_lock);
    g_test_add_func("/pool/heartbeat", test_heartbeat);
    g_test_add_func("/pool/actor", test_actor);
    g_test_add_func("/pool/handoff", test_handoff);
    g_test_add_func("/pool/takeover", test_takeover);
    rc = g_test_run();
    remove_pool();
    g_free(pool_path);
    return rc;
}
