/*
 * qcxl: shared CXL pool, superblock and media
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns opening and closing a pool: the media (a file or a DAX device),
 * its superblock (and backup) and their checks, the handle's accessors
 * and the CRC32C every checksum uses.  Shared by QEMU and the host
 * tools: libc and GLib only.  Everything read from the media is checked
 * before it is used.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif
#include "qcxl-pool-media.h"

GQuark qcxl_pool_error_quark(void)
{
    return g_quark_from_static_string("qcxl-pool-error-quark");
}

/* CRC32C, reflected, polynomial 0x82F63B78 */
#if defined(__x86_64__)
/* The SSE4.2 instruction computes the same CRC, 8 bytes at a time. */
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;

    while (len >= 8) {
        uint64_t v;

        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    crc = c;
    while (len--) {
        crc = __builtin_ia32_crc32qi(crc, *p++);
    }
    return crc;
}
#endif

uint32_t qcxl_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static gsize init;
    static bool sse42;
    const uint8_t *p = buf;

    if (g_once_init_enter(&init)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0);
            }
            table[i] = c;
        }
#if defined(__x86_64__)
        sse42 = __builtin_cpu_supports("sse4.2");
#endif
        g_once_init_leave(&init, 1);
    }
#if defined(__x86_64__)
    if (sse42) {
        return ~crc32c_sse42(~crc, p, len);
    }
#endif
    crc = ~crc;
    while (len--) {
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* ---- Superblock ---- */

void qcxl_pool_sb_encode(const QcxlPoolSuper *sb, uint8_t *b)
{
    memset(b, 0, QCXL_POOL_SB_SIZE);
    memcpy(b + QCXL_POOL_SB_MAGIC, QCXL_POOL_MAGIC, 8);
    st32(b + QCXL_POOL_SB_VERSION, sb->version);
    st32(b + QCXL_POOL_SB_FLAGS, sb->flags);
    memcpy(b + QCXL_POOL_SB_UUID, sb->uuid, 16);
    st64(b + QCXL_POOL_SB_POOL_SIZE, sb->size);
    st64(b + QCXL_POOL_SB_EXTENT_SIZE, sb->extent_size);
    st64(b + QCXL_POOL_SB_META_SIZE, sb->meta_size);
    st64(b + QCXL_POOL_SB_DATA_OFFSET, sb->data_offset);
    st32(b + QCXL_POOL_SB_EXTENTS, sb->extents);
    st16(b + QCXL_POOL_SB_HOST_SLOTS, sb->host_slots);
    st16(b + QCXL_POOL_SB_REGION_SLOTS, sb->region_slots);
    st32(b + QCXL_POOL_SB_LEASE_MS, sb->lease_ms);
    st32(b + QCXL_POOL_SB_CRC, qcxl_crc32c(0, b, QCXL_POOL_SB_CRC));
}

static bool sb_decode(const uint8_t *b, uint64_t media_size,
                      QcxlPoolSuper *sb, GError **errp)
{
    if (memcmp(b + QCXL_POOL_SB_MAGIC, QCXL_POOL_MAGIC, 8)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "no qcxl pool superblock (magic)");
        return false;
    }
    if (ld32(b + QCXL_POOL_SB_CRC) != qcxl_crc32c(0, b, QCXL_POOL_SB_CRC)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "superblock checksum mismatch");
        return false;
    }
    sb->version = ld32(b + QCXL_POOL_SB_VERSION);
    sb->flags = ld32(b + QCXL_POOL_SB_FLAGS);
    memcpy(sb->uuid, b + QCXL_POOL_SB_UUID, 16);
    sb->size = ld64(b + QCXL_POOL_SB_POOL_SIZE);
    sb->extent_size = ld64(b + QCXL_POOL_SB_EXTENT_SIZE);
    sb->meta_size = ld64(b + QCXL_POOL_SB_META_SIZE);
    sb->data_offset = ld64(b + QCXL_POOL_SB_DATA_OFFSET);
    sb->extents = ld32(b + QCXL_POOL_SB_EXTENTS);
    sb->host_slots = ld16(b + QCXL_POOL_SB_HOST_SLOTS);
    sb->region_slots = ld16(b + QCXL_POOL_SB_REGION_SLOTS);
    sb->lease_ms = ld32(b + QCXL_POOL_SB_LEASE_MS);

    if (sb->version != QCXL_POOL_VERSION || sb->flags) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "pool version %u flags 0x%x, this build knows version "
                    "%u flags 0", sb->version, sb->flags, QCXL_POOL_VERSION);
        return false;
    }
    if (sb->extent_size < QCXL_POOL_MIN_EXTENT ||
        sb->extent_size > QCXL_POOL_MAX_EXTENT ||
        (sb->extent_size & (sb->extent_size - 1)) ||
        sb->extents == 0 || sb->extents > QCXL_POOL_MAX_EXTENTS ||
        sb->host_slots != QCXL_POOL_HOSTS ||
        sb->region_slots != QCXL_POOL_REGIONS ||
        sb->meta_size != align_up(meta_len(sb->extents), PAGE) ||
        sb->data_offset != data_offset_for(sb->meta_size, sb->extent_size) ||
        sb->data_offset + (uint64_t)sb->extents * sb->extent_size >
        sb->size ||
        sb->lease_ms < QCXL_POOL_MIN_LEASE_MS ||
        sb->lease_ms > QCXL_POOL_MAX_LEASE_MS) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "superblock geometry is inconsistent");
        return false;
    }
    if (sb->size > media_size) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "pool size %" G_GUINT64_FORMAT " exceeds the media "
                    "(%" G_GUINT64_FORMAT " bytes): truncated?", sb->size,
                    media_size);
        return false;
    }
    return true;
}

/* Geometry for a new pool of @size bytes. */
bool qcxl_pool_geometry(uint64_t size, uint64_t extent_size, QcxlPoolSuper *sb,
                     GError **errp)
{
    uint64_t n, d;

    if (extent_size < QCXL_POOL_MIN_EXTENT ||
        extent_size > QCXL_POOL_MAX_EXTENT ||
        (extent_size & (extent_size - 1))) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "extent size must be a power of two from 2 MiB to "
                    "1 TiB, not %" G_GUINT64_FORMAT, extent_size);
        return false;
    }
    n = size / extent_size;
    for (int i = 0; i < 3; i++) {
        d = data_offset_for(align_up(meta_len(MIN(n, QCXL_POOL_MAX_EXTENTS)),
                                     PAGE), extent_size);
        n = d < size ? (size - d) / extent_size : 0;
    }
    if (n == 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "%" G_GUINT64_FORMAT " bytes hold no extent of %"
                    G_GUINT64_FORMAT " bytes after the metadata", size,
                    extent_size);
        return false;
    }
    if (n > QCXL_POOL_MAX_EXTENTS) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "%" G_GUINT64_FORMAT " extents; the limit is %u: use "
                    "a larger extent size", n, QCXL_POOL_MAX_EXTENTS);
        return false;
    }
    memset(sb, 0, sizeof(*sb));
    sb->version = QCXL_POOL_VERSION;
    sb->size = size;
    sb->extent_size = extent_size;
    sb->extents = n;
    sb->meta_size = align_up(meta_len(n), PAGE);
    sb->data_offset = data_offset_for(sb->meta_size, extent_size);
    sb->host_slots = QCXL_POOL_HOSTS;
    sb->region_slots = QCXL_POOL_REGIONS;
    return true;
}

/* ---- Media ---- */

bool qcxl_pool_media_size(int fd, const char *path, bool *dax, uint64_t *size,
                       GError **errp)
{
    struct stat st;

    if (fstat(fd, &st) < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO, "%s: %s",
                    path, g_strerror(errno));
        return false;
    }
    if (S_ISCHR(st.st_mode)) {
        g_autofree char *sysfs = g_strdup_printf(
            "/sys/dev/char/%u:%u/size", major(st.st_rdev),
            minor(st.st_rdev));
        g_autofree char *text = NULL;

        if (!g_file_get_contents(sysfs, &text, NULL, NULL) ||
            !g_ascii_string_to_unsigned(g_strstrip(text), 10, 1, G_MAXUINT64,
                                        size, NULL)) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO,
                        "%s: a character device, but not a DAX device "
                        "(no size in %s)", path, sysfs);
            return false;
        }
        *dax = true;
        return true;
    }
    if (!S_ISREG(st.st_mode)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO,
                    "%s: neither a regular file nor a DAX device", path);
        return false;
    }
    *dax = false;
    *size = st.st_size;
    return true;
}

void qcxl_pool_persist(QcxlPool *pool, uint64_t off, uint64_t len)
{
#if defined(__x86_64__)
    if (pool->dax) {
        for (uint64_t a = off & ~63ULL; a < off + len; a += 64) {
            _mm_clflush(pool->base + a);
        }
        _mm_sfence();
        return;
    }
#endif
    if (!pool->dax) {
        uint64_t start = off & ~(PAGE - 1);
        msync(pool->base + start, align_up(off + len, PAGE) - start,
              MS_SYNC);
    }
}

static QcxlPool *pool_open(const char *path, bool allow_backup,
                           bool *used_backup, GError **errp)
{
    g_autoptr(QcxlPool) pool = g_new0(QcxlPool, 1);
    uint8_t buf[QCXL_POOL_SB_SIZE];
    g_autoptr(GError) err = NULL;
    uint64_t msize;

    pool->path = g_strdup(path);
    pool->fd = open(path, O_RDWR | O_CLOEXEC);
    if (pool->fd < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO, "%s: %s",
                    path, g_strerror(errno));
        return NULL;
    }
    if (!qcxl_pool_media_size(pool->fd, path, &pool->dax, &msize, errp)) {
        return NULL;
    }
    if (used_backup) {
        *used_backup = false;
    }
    if (msize < QCXL_POOL_SB_SIZE ||
        pread(pool->fd, buf, sizeof(buf), 0) != sizeof(buf)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "%s: not a qcxl pool (too small)", path);
        return NULL;
    }
    if (!sb_decode(buf, msize, &pool->sb, &err)) {
        /* The backup sits before the data, where depends on E: try each */
        bool found = false;

        for (uint64_t e = QCXL_POOL_MIN_EXTENT;
             allow_backup && !found && e <= QCXL_POOL_MAX_EXTENT; e <<= 1) {
            QcxlPoolSuper guess;
            if (!qcxl_pool_geometry(msize, e, &guess, NULL)) {
                continue;
            }
            /* the pool may be smaller than the media: try this size too */
            if (pread(pool->fd, buf, sizeof(buf), backup_sb_offset(&guess))
                == sizeof(buf) &&
                sb_decode(buf, msize, &pool->sb, NULL) &&
                backup_sb_offset(&pool->sb) == backup_sb_offset(&guess)) {
                found = true;
            }
        }
        if (!found) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                        "%s: %s%s", path, err->message,
                        allow_backup ? ", and no intact backup" :
                        " (qcxl-pool fsck may find the backup)");
            return NULL;
        }
        *used_backup = true;
    }
    pool->map_size = pool->sb.size;
    pool->base = mmap(NULL, pool->map_size, PROT_READ | PROT_WRITE,
                      MAP_SHARED, pool->fd, 0);
    if (pool->base == MAP_FAILED) {
        pool->base = NULL;
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO,
                    "%s: mmap: %s", path, g_strerror(errno));
        return NULL;
    }
    pool->lock_timeout_ms = pool->sb.lease_ms;
    pool->actor = -1;
    return g_steal_pointer(&pool);
}

QcxlPool *qcxl_pool_open(const char *path, GError **errp)
{
    return pool_open(path, false, NULL, errp);
}

QcxlPool *qcxl_pool_open_any(const char *path, bool *used_backup,
                             GError **errp)
{
    return pool_open(path, true, used_backup, errp);
}

bool qcxl_pool_restore_super(QcxlPool *pool, GError **errp)
{
    uint8_t buf[QCXL_POOL_SB_SIZE];

    qcxl_pool_sb_encode(&pool->sb, buf);
    memcpy(pool->base, buf, sizeof(buf));
    qcxl_pool_persist(pool, 0, sizeof(buf));
    memcpy(pool->base + backup_sb_offset(&pool->sb), buf, sizeof(buf));
    qcxl_pool_persist(pool, backup_sb_offset(&pool->sb), sizeof(buf));
    return true;
}

void qcxl_pool_close(QcxlPool *pool)
{
    if (!pool) {
        return;
    }
    if (pool->base) {
        munmap(pool->base, pool->map_size);
    }
    if (pool->fd >= 0) {
        close(pool->fd);
    }
    g_free(pool->path);
    g_free(pool);
}

const QcxlPoolSuper *qcxl_pool_super(QcxlPool *pool)
{
    return &pool->sb;
}

uint64_t qcxl_pool_device_serial(QcxlPool *pool)
{
    uint64_t sn = ld64(pool->sb.uuid) ^ ld64(pool->sb.uuid + 8);

    /* all ones means "no serial number" to cxl-type3 */
    return sn == UINT64_MAX ? sn - 1 : sn;
}

const char *qcxl_pool_path(QcxlPool *pool)
{
    return pool->path;
}

int qcxl_pool_fd(QcxlPool *pool)
{
    return pool->fd;
}

uint8_t *qcxl_pool_base(QcxlPool *pool)
{
    return pool->base;
}

bool qcxl_pool_is_dax(QcxlPool *pool)
{
    return pool->dax;
}

uint64_t qcxl_pool_extent_offset(QcxlPool *pool, uint32_t extent)
{
    return pool->sb.data_offset + (uint64_t)extent * pool->sb.extent_size;
}

bool qcxl_pool_extent_is_zero(QcxlPool *pool, uint32_t extent)
{
    const uint64_t *p = (const uint64_t *)(pool->base +
                                           qcxl_pool_extent_offset(pool,
                                                                   extent));
    uint64_t acc = 0;

    for (uint64_t i = 0; i < pool->sb.extent_size / 8; i++) {
        acc |= p[i];
    }
    return acc == 0;
}
