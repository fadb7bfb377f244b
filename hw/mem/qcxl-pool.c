/*
 * qcxl: shared CXL pool, on-media metadata and transactions
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Shared by QEMU and the host tools: libc and GLib only (no qemu/osdep.h,
 * no QEMU headers).  Everything read from the media is checked before it
 * is used: another host, a crash or a stray writer may have left anything
 * there.  See include/hw/mem/qcxl_pool.h and docs/pool.rst.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "hw/mem/qcxl_pool.h"

/* Metadata copy layout (offsets inside one copy) */
#define META_HDR_SIZE       64
#define META_HOST_SIZE      64
#define META_REGION_SIZE    128
#define META_HOSTS_OFF      META_HDR_SIZE
#define META_REGIONS_OFF    (META_HOSTS_OFF + QCXL_POOL_HOSTS * META_HOST_SIZE)
#define META_MAP_OFF        (META_REGIONS_OFF + \
                             QCXL_POOL_REGIONS * META_REGION_SIZE)

/* Lock page layout */
#define LOCK_WORD           0
#define LOCK_BEAT           8
#define LOCK_PID            16
#define LOCK_HEARTBEATS     64

#define PAGE                4096ULL

static void write_copy(QcxlPool *pool, int copy, const QcxlPoolMeta *meta);

struct QcxlPool {
    char *path;
    int fd;
    bool dax;
    uint8_t *base;
    uint64_t map_size;
    QcxlPoolSuper sb;
    uint32_t lock_timeout_ms;
    uint64_t token;             /* while this process holds the lock */
    int actor;                  /* host slot changes are made by, or -1 */
    uint64_t actor_incarnation;
};

G_DEFINE_QUARK(qcxl-pool-error-quark, qcxl_pool_error)

/* CRC32C, reflected, polynomial 0x82F63B78 */
uint32_t qcxl_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static gsize init;
    const uint8_t *p = buf;

    if (g_once_init_enter(&init)) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) {
                c = (c >> 1) ^ ((c & 1) ? 0x82F63B78u : 0);
            }
            table[i] = c;
        }
        g_once_init_leave(&init, 1);
    }
    crc = ~crc;
    while (len--) {
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    }
    return ~crc;
}

/* Little-endian field access on byte buffers */
static uint16_t ld16(const uint8_t *p)
{
    return p[0] | (uint16_t)p[1] << 8;
}

static uint32_t ld32(const uint8_t *p)
{
    return ld16(p) | (uint32_t)ld16(p + 2) << 16;
}

static uint64_t ld64(const uint8_t *p)
{
    return ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static void st16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static void st32(uint8_t *p, uint32_t v)
{
    st16(p, v);
    st16(p + 2, v >> 16);
}

static void st64(uint8_t *p, uint64_t v)
{
    st32(p, v);
    st32(p + 4, v >> 32);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static uint64_t meta_len(uint32_t extents)
{
    return META_MAP_OFF + 2ULL * extents;
}

static uint64_t data_offset_for(uint64_t meta_size, uint64_t extent_size)
{
    /* two copies, then the backup superblock in the page before data */
    return align_up(QCXL_POOL_META_OFFSET + 2 * meta_size + PAGE,
                    extent_size);
}

static uint64_t backup_sb_offset(const QcxlPoolSuper *sb)
{
    return sb->data_offset - PAGE;
}

/* ---- Superblock ---- */

static void sb_encode(const QcxlPoolSuper *sb, uint8_t *b)
{
    memset(b, 0, QCXL_POOL_SB_SIZE);
    memcpy(b, QCXL_POOL_MAGIC, 8);
    st32(b + 8, sb->version);
    st32(b + 12, sb->flags);
    memcpy(b + 16, sb->uuid, 16);
    st64(b + 32, sb->size);
    st64(b + 40, sb->extent_size);
    st64(b + 48, sb->meta_size);
    st64(b + 56, sb->data_offset);
    st32(b + 64, sb->extents);
    st16(b + 68, sb->host_slots);
    st16(b + 70, sb->region_slots);
    st32(b + 72, sb->lease_ms);
    st32(b + 76, qcxl_crc32c(0, b, 76));
}

static bool sb_decode(const uint8_t *b, uint64_t media_size,
                      QcxlPoolSuper *sb, GError **errp)
{
    if (memcmp(b, QCXL_POOL_MAGIC, 8)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "no qcxl pool superblock (magic)");
        return false;
    }
    if (ld32(b + 76) != qcxl_crc32c(0, b, 76)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "superblock checksum mismatch");
        return false;
    }
    sb->version = ld32(b + 8);
    sb->flags = ld32(b + 12);
    memcpy(sb->uuid, b + 16, 16);
    sb->size = ld64(b + 32);
    sb->extent_size = ld64(b + 40);
    sb->meta_size = ld64(b + 48);
    sb->data_offset = ld64(b + 56);
    sb->extents = ld32(b + 64);
    sb->host_slots = ld16(b + 68);
    sb->region_slots = ld16(b + 70);
    sb->lease_ms = ld32(b + 72);

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
static bool geometry(uint64_t size, uint64_t extent_size, QcxlPoolSuper *sb,
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

static bool media_size(int fd, const char *path, bool *dax, uint64_t *size,
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

static void persist(QcxlPool *pool, uint64_t off, uint64_t len)
{
#if defined(__x86_64__)
    if (pool->dax) {
        for (uint64_t a = off & ~63ULL; a < off + len; a += 64) {
            __asm__ volatile("clflush %0" : "+m"(pool->base[a]));
        }
        __asm__ volatile("sfence" ::: "memory");
        return;
    }
#endif
    if (!pool->dax) {
        uint64_t start = off & ~(PAGE - 1);
        msync(pool->base + start, align_up(off + len, PAGE) - start,
              MS_SYNC);
    }
}

bool qcxl_pool_format(const char *path, uint64_t size, uint64_t extent_size,
                      uint32_t lease_ms, bool force, GError **errp)
{
    QcxlPoolSuper sb;
    uint8_t buf[QCXL_POOL_SB_SIZE];
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    uint64_t msize = 0;
    bool dax = false;
    int fd;

    if (lease_ms < QCXL_POOL_MIN_LEASE_MS ||
        lease_ms > QCXL_POOL_MAX_LEASE_MS) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "lease period must be %u..%u ms, not %u",
                    QCXL_POOL_MIN_LEASE_MS, QCXL_POOL_MAX_LEASE_MS, lease_ms);
        return false;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO, "%s: %s",
                    path, g_strerror(errno));
        return false;
    }
    if (!media_size(fd, path, &dax, &msize, errp)) {
        close(fd);
        return false;
    }
    /* Never overwrite a pool, or anything else, without --force */
    if (msize && !force) {
        bool is_pool = pread(fd, buf, 8, 0) == 8 &&
                       !memcmp(buf, QCXL_POOL_MAGIC, 8);
        close(fd);
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_EXISTS,
                    "%s already holds %s; formatting destroys it: pass "
                    "--force", path,
                    is_pool ? "a qcxl pool" : "data");
        return false;
    }
    if (dax) {
        if (size && size != msize) {
            close(fd);
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                        "%s is a DAX device of %" G_GUINT64_FORMAT
                        " bytes: its size cannot be set", path, msize);
            return false;
        }
        size = msize;
    } else if (!size) {
        close(fd);
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "a file pool needs a size");
        return false;
    }
    if (!geometry(size, extent_size, &sb, errp)) {
        close(fd);
        return false;
    }
    sb.lease_ms = lease_ms;
    for (int i = 0; i < 4; i++) {
        uint32_t r = g_random_int();
        memcpy(sb.uuid + 4 * i, &r, 4);
    }
    sb.uuid[6] = (sb.uuid[6] & 0x0f) | 0x40;        /* RFC 4122 v4 */
    sb.uuid[8] = (sb.uuid[8] & 0x3f) | 0x80;
    if (!dax && ftruncate(fd, 0) == 0 && ftruncate(fd, size) < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO,
                    "%s: cannot size to %" G_GUINT64_FORMAT ": %s", path,
                    size, g_strerror(errno));
        close(fd);
        return false;
    }
    /* Superblock last: until it is written the media is not a pool */
    memset(buf, 0, sizeof(buf));
    if (pwrite(fd, buf, sizeof(buf), 0) != sizeof(buf)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO, "%s: %s",
                    path, g_strerror(errno));
        close(fd);
        return false;
    }
    close(fd);

    pool = g_new0(QcxlPool, 1);
    pool->path = g_strdup(path);
    pool->fd = open(path, O_RDWR | O_CLOEXEC);
    pool->dax = dax;
    pool->sb = sb;
    pool->map_size = size;
    pool->base = pool->fd < 0 ? MAP_FAILED :
                 mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
                      pool->fd, 0);
    if (pool->base == MAP_FAILED) {
        pool->base = NULL;
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_IO,
                    "%s: mmap: %s", path, g_strerror(errno));
        return false;
    }
    /* Free extents are zero: a file was truncated, a DAX device is cleared */
    if (dax) {
        memset(pool->base + QCXL_POOL_LOCK_OFFSET, 0,
               sb.data_offset - QCXL_POOL_LOCK_OFFSET);
        for (uint32_t e = 0; e < sb.extents; e++) {
            memset(pool->base + sb.data_offset + e * sb.extent_size, 0,
                   sb.extent_size);
        }
        persist(pool, 0, size);
    }
    meta = qcxl_pool_meta_new(sb.extents);
    meta->seq = 1;
    write_copy(pool, 0, meta);
    sb_encode(&sb, buf);
    memcpy(pool->base + backup_sb_offset(&sb), buf, sizeof(buf));
    persist(pool, backup_sb_offset(&sb), sizeof(buf));
    memcpy(pool->base, buf, sizeof(buf));
    persist(pool, 0, sizeof(buf));
    return true;
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
    if (!media_size(pool->fd, path, &pool->dax, &msize, errp)) {
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
            if (!geometry(msize, e, &guess, NULL)) {
                continue;
            }
            /* the pool may be smaller than the media: try this size too */
            if (pread(pool->fd, buf, sizeof(buf), backup_sb_offset(&guess))
                == sizeof(buf) && sb_decode(buf, msize, &pool->sb, NULL) &&
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

    sb_encode(&pool->sb, buf);
    memcpy(pool->base, buf, sizeof(buf));
    persist(pool, 0, sizeof(buf));
    memcpy(pool->base + backup_sb_offset(&pool->sb), buf, sizeof(buf));
    persist(pool, backup_sb_offset(&pool->sb), sizeof(buf));
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

/* ---- Metadata copies ---- */

QcxlPoolMeta *qcxl_pool_meta_new(uint32_t extents)
{
    QcxlPoolMeta *meta = g_new0(QcxlPoolMeta, 1);

    meta->extents = extents;
    meta->map = g_new0(uint16_t, extents);
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        meta->regions[i].owner = QCXL_POOL_NO_HOST;
    }
    return meta;
}

void qcxl_pool_meta_free(QcxlPoolMeta *meta)
{
    if (meta) {
        g_free(meta->map);
        g_free(meta);
    }
}

static uint8_t *copy_addr(QcxlPool *pool, int copy)
{
    return pool->base + QCXL_POOL_META_OFFSET + copy * pool->sb.meta_size;
}

static uint32_t copy_crc(const uint8_t *b, uint64_t len)
{
    return qcxl_crc32c(qcxl_crc32c(0, b, 12), b + 16, len - 16);
}

/* Encode @meta into copy @copy; the header (seq, crc) is written last. */
static void write_copy(QcxlPool *pool, int copy, const QcxlPoolMeta *meta)
{
    uint64_t len = meta_len(meta->extents);
    g_autofree uint8_t *b = g_malloc0(len);
    uint8_t *dst = copy_addr(pool, copy);

    st64(b, meta->seq);
    st32(b + 8, len);
    memcpy(b + 16, pool->sb.uuid, 16);
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        const QcxlPoolHost *h = &meta->hosts[i];
        uint8_t *p = b + META_HOSTS_OFF + i * META_HOST_SIZE;
        p[0] = h->state;
        st64(p + 8, h->incarnation);
        memcpy(p + 16, h->name, QCXL_POOL_HOST_NAME_LEN);
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        const QcxlPoolRegion *r = &meta->regions[i];
        uint8_t *p = b + META_REGIONS_OFF + i * META_REGION_SIZE;
        p[0] = r->state;
        p[1] = r->mode;
        st16(p + 2, r->owner);
        st64(p + 8, r->sharers);
        st64(p + 16, r->mapped);
        st64(p + 24, r->size);
        st64(p + 32, r->generation);
        memcpy(p + 64, r->name, QCXL_POOL_REGION_NAME_LEN);
    }
    for (uint32_t e = 0; e < meta->extents; e++) {
        st16(b + META_MAP_OFF + 2 * e, meta->map[e]);
    }
    st32(b + 12, copy_crc(b, len));

    /* Invalidate, write the body, then the header that makes it valid */
    __atomic_store_n((uint64_t *)(dst + 8), 0, __ATOMIC_SEQ_CST);
    persist(pool, dst - pool->base, 16);
    memcpy(dst + 16, b + 16, len - 16);
    persist(pool, dst - pool->base + 16, len - 16);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(dst, b, 16);
    persist(pool, dst - pool->base, 16);
}

static bool name_ok(const char *name, size_t max)
{
    size_t len = strnlen(name, max);

    if (len == 0 || len == max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isalnum(name[i]) && !strchr("._-", name[i])) {
            return false;
        }
    }
    return true;
}

bool qcxl_pool_valid_name(const char *name, size_t max, GError **errp)
{
    if (!name || !name_ok(name, max)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "bad name '%s': 1..%zu characters of [A-Za-z0-9._-]",
                    name ? name : "", max - 1);
        return false;
    }
    return true;
}

/* Decode and structurally validate a private copy of one metadata copy */
static QcxlPoolMeta *decode_copy(QcxlPool *pool, const uint8_t *b,
                                 GError **errp)
{
    uint64_t len = meta_len(pool->sb.extents);
    g_autoptr(QcxlPoolMeta) meta = NULL;

    if (ld32(b + 8) != len || ld64(b) == 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "no valid header (length %u, expected %" G_GUINT64_FORMAT
                    ")", ld32(b + 8), len);
        return NULL;
    }
    if (ld32(b + 12) != copy_crc(b, len)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "checksum mismatch");
        return NULL;
    }
    if (memcmp(b + 16, pool->sb.uuid, 16)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "left from an earlier format (pool UUID differs)");
        return NULL;
    }
    meta = qcxl_pool_meta_new(pool->sb.extents);
    meta->seq = ld64(b);
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        const uint8_t *p = b + META_HOSTS_OFF + i * META_HOST_SIZE;
        QcxlPoolHost *h = &meta->hosts[i];
        h->state = p[0];
        h->incarnation = ld64(p + 8);
        memcpy(h->name, p + 16, QCXL_POOL_HOST_NAME_LEN);
        h->name[QCXL_POOL_HOST_NAME_LEN - 1] = 0;
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        const uint8_t *p = b + META_REGIONS_OFF + i * META_REGION_SIZE;
        QcxlPoolRegion *r = &meta->regions[i];
        r->state = p[0];
        r->mode = p[1];
        r->owner = ld16(p + 2);
        r->sharers = ld64(p + 8);
        r->mapped = ld64(p + 16);
        r->size = ld64(p + 24);
        r->generation = ld64(p + 32);
        memcpy(r->name, p + 64, QCXL_POOL_REGION_NAME_LEN);
        r->name[QCXL_POOL_REGION_NAME_LEN - 1] = 0;
    }
    for (uint32_t e = 0; e < pool->sb.extents; e++) {
        meta->map[e] = ld16(b + META_MAP_OFF + 2 * e);
    }
    return g_steal_pointer(&meta);
}

/* A snapshot of copy @copy, or NULL if it is not valid. */
static QcxlPoolMeta *read_copy(QcxlPool *pool, int copy, GError **errp)
{
    uint64_t len = meta_len(pool->sb.extents);
    g_autofree uint8_t *b = g_malloc(len);

    memcpy(b, copy_addr(pool, copy), len);
    return decode_copy(pool, b, errp);
}

bool qcxl_pool_copy_state(QcxlPool *pool, int copy, uint64_t *seq)
{
    g_autoptr(QcxlPoolMeta) m = read_copy(pool, copy, NULL);

    *seq = m ? m->seq : 0;
    return m != NULL;
}

/* The current metadata and which copy holds it */
static QcxlPoolMeta *read_current(QcxlPool *pool, int *which, GError **errp)
{
    /* A copy can tear under a concurrent writer: retry a few times */
    for (int attempt = 0; attempt < 50; attempt++) {
        g_autoptr(GError) e0 = NULL;
        g_autoptr(GError) e1 = NULL;
        g_autoptr(QcxlPoolMeta) m0 = read_copy(pool, 0, &e0);
        g_autoptr(QcxlPoolMeta) m1 = read_copy(pool, 1, &e1);

        if (m0 || m1) {
            bool one = m1 && (!m0 || m1->seq > m0->seq);
            if (which) {
                *which = one;
            }
            return one ? g_steal_pointer(&m1) : g_steal_pointer(&m0);
        }
        if (attempt == 49) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                        "%s: both metadata copies are damaged (copy 0: %s; "
                        "copy 1: %s)", pool->path, e0->message, e1->message);
        }
        g_usleep(1000);
    }
    return NULL;
}

QcxlPoolMeta *qcxl_pool_read(QcxlPool *pool, GError **errp)
{
    return read_current(pool, NULL, errp);
}

/* ---- Queries and invariants ---- */

int qcxl_pool_find_host(const QcxlPoolMeta *meta, const char *name)
{
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        if (meta->hosts[i].state != QCXL_HOST_FREE &&
            !strcmp(meta->hosts[i].name, name)) {
            return i;
        }
    }
    return -1;
}

int qcxl_pool_find_region(const QcxlPoolMeta *meta, const char *name)
{
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        if (meta->regions[i].state != QCXL_REGION_FREE &&
            !strcmp(meta->regions[i].name, name)) {
            return i;
        }
    }
    return -1;
}

uint32_t qcxl_pool_free_extents(const QcxlPoolMeta *meta)
{
    uint32_t n = 0;

    for (uint32_t e = 0; e < meta->extents; e++) {
        n += meta->map[e] == 0;
    }
    return n;
}

uint32_t *qcxl_pool_region_extents(const QcxlPoolMeta *meta, int slot,
                                   uint32_t *count)
{
    GArray *a = g_array_new(false, false, sizeof(uint32_t));

    for (uint32_t e = 0; e < meta->extents; e++) {
        if (meta->map[e] == slot + 1) {
            g_array_append_val(a, e);
        }
    }
    *count = a->len;
    return (uint32_t *)g_array_free(a, false);
}

const char *qcxl_pool_host_state_str(uint8_t state)
{
    static const char *const names[] = {
        [QCXL_HOST_FREE] = "free", [QCXL_HOST_INACTIVE] = "inactive",
        [QCXL_HOST_ACTIVE] = "active", [QCXL_HOST_FENCED] = "fenced",
    };
    return state < G_N_ELEMENTS(names) ? names[state] : "invalid";
}

#define PROBLEM(...) do { \
        ok = false; \
        if (problems) { \
            g_ptr_array_add(problems, g_strdup_printf(__VA_ARGS__)); \
        } \
    } while (0)

bool qcxl_pool_check(const QcxlPoolSuper *sb, const QcxlPoolMeta *meta,
                     GPtrArray *problems)
{
    uint64_t known = 0, active = 0;
    uint32_t counts[QCXL_POOL_REGIONS] = { 0 };
    bool ok = true;

    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        const QcxlPoolHost *h = &meta->hosts[i];
        if (h->state > QCXL_HOST_FENCED) {
            PROBLEM("host slot %d: invalid state %u", i, h->state);
            continue;
        }
        if (h->state == QCXL_HOST_FREE) {
            continue;
        }
        known |= 1ULL << i;
        if (h->state == QCXL_HOST_ACTIVE) {
            active |= 1ULL << i;
        }
        if (!name_ok(h->name, QCXL_POOL_HOST_NAME_LEN)) {
            PROBLEM("host slot %d: invalid name", i);
        } else if (qcxl_pool_find_host(meta, h->name) != i) {
            PROBLEM("host slot %d: name '%s' is used twice", i, h->name);
        }
    }
    for (uint32_t e = 0; e < meta->extents; e++) {
        uint16_t v = meta->map[e];
        if (v > QCXL_POOL_REGIONS) {
            PROBLEM("extent %u: invalid owner %u", e, v);
        } else if (v && meta->regions[v - 1].state != QCXL_REGION_ACTIVE) {
            PROBLEM("extent %u: belongs to region slot %u, which is free "
                    "(leaked)", e, v - 1);
        } else if (v) {
            counts[v - 1]++;
        }
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        const QcxlPoolRegion *r = &meta->regions[i];
        if (r->state == QCXL_REGION_FREE) {
            continue;
        }
        if (r->state != QCXL_REGION_ACTIVE) {
            PROBLEM("region slot %d: invalid state %u", i, r->state);
            continue;
        }
        if (!name_ok(r->name, QCXL_POOL_REGION_NAME_LEN)) {
            PROBLEM("region slot %d: invalid name", i);
            continue;
        }
        if (qcxl_pool_find_region(meta, r->name) != i) {
            PROBLEM("region '%s': name used twice", r->name);
        }
        if (r->mode > QCXL_REGION_SHARED) {
            PROBLEM("region '%s': invalid mode %u", r->name, r->mode);
        }
        if (r->owner != QCXL_POOL_NO_HOST &&
            (r->owner >= QCXL_POOL_HOSTS || !(known >> r->owner & 1))) {
            PROBLEM("region '%s': owner slot %u is not a host", r->name,
                    r->owner);
        }
        if (r->sharers & ~known) {
            PROBLEM("region '%s': sharers 0x%" G_GINT64_MODIFIER "x include "
                    "slots that are not hosts", r->name, r->sharers);
        }
        if (r->mapped & ~active) {
            PROBLEM("region '%s': mapped by 0x%" G_GINT64_MODIFIER "x, not "
                    "all of them active hosts", r->name, r->mapped);
        }
        if (r->mapped & ~((r->owner < QCXL_POOL_HOSTS ? 1ULL << r->owner : 0)
                          | (r->mode == QCXL_REGION_SHARED ? r->sharers :
                             0))) {
            PROBLEM("region '%s': mapped by a host without access", r->name);
        }
        if (counts[i] == 0 || r->size != counts[i] * sb->extent_size) {
            PROBLEM("region '%s': size %" G_GUINT64_FORMAT " but %u extents "
                    "of %" G_GUINT64_FORMAT, r->name, r->size, counts[i],
                    sb->extent_size);
        }
    }
    return ok;
}

bool qcxl_pool_still_active(const QcxlPoolMeta *meta, int slot,
                            uint64_t incarnation)
{
    return slot >= 0 && slot < QCXL_POOL_HOSTS &&
           meta->hosts[slot].state == QCXL_HOST_ACTIVE &&
           meta->hosts[slot].incarnation == incarnation;
}

/* ---- Lock page: the lock and heartbeats ---- */

static uint64_t *lock_u64(QcxlPool *pool, uint64_t off)
{
    return (uint64_t *)(pool->base + QCXL_POOL_LOCK_OFFSET + off);
}

uint64_t qcxl_pool_lock_word(QcxlPool *pool)
{
    return __atomic_load_n(lock_u64(pool, LOCK_WORD), __ATOMIC_ACQUIRE);
}

uint64_t qcxl_pool_heartbeat(QcxlPool *pool, int slot)
{
    g_assert(slot >= 0 && slot < QCXL_POOL_HOSTS);
    return __atomic_load_n(lock_u64(pool, LOCK_HEARTBEATS + 8 * slot),
                           __ATOMIC_ACQUIRE);
}

void qcxl_pool_beat(QcxlPool *pool, int slot)
{
    g_assert(slot >= 0 && slot < QCXL_POOL_HOSTS);
    __atomic_fetch_add(lock_u64(pool, LOCK_HEARTBEATS + 8 * slot), 1,
                       __ATOMIC_RELEASE);
}

/*
 * Watch @slot's heartbeat for @ms on this host's monotonic clock: true
 * if it did not advance (the host is not beating).  Peers never compare
 * wall clocks.
 */
bool qcxl_pool_watch_stale(QcxlPool *pool, int slot, uint32_t ms)
{
    uint64_t first = qcxl_pool_heartbeat(pool, slot);
    gint64 end = g_get_monotonic_time() + ms * 1000LL;

    while (g_get_monotonic_time() < end) {
        if (qcxl_pool_heartbeat(pool, slot) != first) {
            return false;
        }
        g_usleep(MIN(50000, ms * 1000LL / 10 + 1));
    }
    return qcxl_pool_heartbeat(pool, slot) == first;
}

static void lock_acquire(QcxlPool *pool)
{
    uint64_t token, seen = 0, seen_beat = 0;
    gint64 seen_since = 0;
    gulong delay = 20;

    do {
        token = ((uint64_t)g_random_int() << 16 |
                 (uint64_t)g_random_int() << 48) & ~0xffffULL;
    } while (!token);
    token |= getpid() & 0xffff;
    for (;;) {
        uint64_t cur = 0;

        if (__atomic_compare_exchange_n(lock_u64(pool, LOCK_WORD), &cur,
                                        token, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            break;
        }
        /*
         * Held.  If neither the word nor the holder's beat moves for the
         * timeout (measured here), the holder is dead or stalled: take
         * over from the exact value seen.
         */
        uint64_t beat = __atomic_load_n(lock_u64(pool, LOCK_BEAT),
                                        __ATOMIC_ACQUIRE);
        gint64 now = g_get_monotonic_time();
        if (cur != seen || beat != seen_beat) {
            seen = cur;
            seen_beat = beat;
            seen_since = now;
        } else if (now - seen_since >= pool->lock_timeout_ms * 1000LL &&
                   __atomic_compare_exchange_n(lock_u64(pool, LOCK_WORD),
                                               &cur, token, false,
                                               __ATOMIC_ACQ_REL,
                                               __ATOMIC_ACQUIRE)) {
            g_debug("%s: took over the pool lock from a holder that made "
                    "no progress for %u ms (pid %" G_GUINT64_FORMAT ")",
                    pool->path, pool->lock_timeout_ms,
                    __atomic_load_n(lock_u64(pool, LOCK_PID),
                                    __ATOMIC_RELAXED));
            break;
        }
        g_usleep(delay);
        delay = MIN(delay * 2, 5000);
    }
    pool->token = token;
    __atomic_store_n(lock_u64(pool, LOCK_PID), getpid(), __ATOMIC_RELAXED);
    __atomic_fetch_add(lock_u64(pool, LOCK_BEAT), 1, __ATOMIC_RELEASE);
}

/* While holding the lock: still ours?  Also shows progress to waiters. */
static bool lock_held(QcxlPool *pool)
{
    __atomic_fetch_add(lock_u64(pool, LOCK_BEAT), 1, __ATOMIC_RELEASE);
    return qcxl_pool_lock_word(pool) == pool->token;
}

static bool lock_release(QcxlPool *pool)
{
    uint64_t token = pool->token;

    pool->token = 0;
    return __atomic_compare_exchange_n(lock_u64(pool, LOCK_WORD), &token, 0,
                                       false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static GError *lost_lock(QcxlPool *pool)
{
    return g_error_new(QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                       "%s: the pool lock was taken over while this process "
                       "held it (stalled for longer than %u ms); the change "
                       "was not applied", pool->path, pool->lock_timeout_ms);
}

bool qcxl_pool_transact(QcxlPool *pool, QcxlPoolTxFn fn, void *opaque,
                        GError **errp)
{
    g_autoptr(QcxlPoolMeta) meta = NULL;
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(QcxlPoolMeta) check = NULL;
    GError *err = NULL;
    int which = 0;
    uint64_t seq;

    lock_acquire(pool);
    meta = read_current(pool, &which, &err);
    if (!meta) {
        goto fail;
    }
    seq = meta->seq;
    if (!fn(pool, meta, opaque, &err)) {
        goto fail;
    }
    if (!qcxl_pool_check(&pool->sb, meta, problems)) {
        err = g_error_new(QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                          "refusing to commit metadata that breaks the "
                          "pool's invariants: %s%s",
                          (char *)problems->pdata[0],
                          problems->len > 1 ? " (and more; run fsck)" : "");
        goto fail;
    }
    if (!lock_held(pool)) {
        err = lost_lock(pool);
        pool->token = 0;
        g_propagate_error(errp, err);
        return false;
    }
    meta->seq = seq + 1;
    write_copy(pool, !which, meta);
    /* Verify the commit before letting go: a torn copy is not a commit */
    check = read_copy(pool, !which, NULL);
    if (!check || check->seq != seq + 1 || !lock_release(pool)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "%s: the pool lock was taken over during the commit "
                    "(this process stalled for longer than %u ms); the "
                    "change may not have been applied: check with "
                    "qcxl-pool list", pool->path, pool->lock_timeout_ms);
        pool->token = 0;
        return false;
    }
    return true;

fail:
    lock_release(pool);
    g_propagate_error(errp, err);
    return false;
}

/* ---- Operations ---- */

typedef struct TxArgs {
    const char *name;           /* region or host */
    const char *host;
    uint64_t size;
    bool flag;
    int slot;
    uint64_t incarnation;
    /* results */
    uint32_t *extents;
    uint32_t count;
} TxArgs;

static int need_host(const QcxlPoolMeta *meta, const char *name,
                     GError **errp)
{
    int h = qcxl_pool_find_host(meta, name);

    if (h < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_NOT_FOUND,
                    "no host '%s' in the pool", name);
    }
    return h;
}

static int need_region(const QcxlPoolMeta *meta, const char *name,
                       GError **errp)
{
    int r = qcxl_pool_find_region(meta, name);

    if (r < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_NOT_FOUND,
                    "no region '%s' in the pool", name);
    }
    return r;
}

static bool need_active(const QcxlPoolMeta *meta, int slot,
                        uint64_t incarnation, GError **errp)
{
    if (!qcxl_pool_still_active(meta, slot, incarnation)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FENCED,
                    "this host (slot %d, incarnation %" G_GUINT64_FORMAT
                    ") no longer holds its lease: it was evicted", slot,
                    incarnation);
        return false;
    }
    return true;
}

void qcxl_pool_act_as(QcxlPool *pool, int slot, uint64_t incarnation)
{
    pool->actor = slot;
    pool->actor_incarnation = incarnation;
}

/* Does this handle's actor, if it has one, still hold its lease? */
static bool actor_active(QcxlPool *pool, const QcxlPoolMeta *meta,
                         GError **errp)
{
    return pool->actor < 0 ||
           need_active(meta, pool->actor, pool->actor_incarnation, errp);
}

/*
 * May this handle's actor change region @r?  An operator (no actor) may
 * change any region; a host only those it owns, and only while it
 * holds its lease.
 */
static bool actor_may(QcxlPool *pool, const QcxlPoolMeta *meta, int r,
                      GError **errp)
{
    uint16_t owner = meta->regions[r].owner;

    if (pool->actor < 0) {
        return true;
    }
    if (!actor_active(pool, meta, errp)) {
        return false;
    }
    if (owner != pool->actor) {
        g_autofree char *who = owner < QCXL_POOL_HOSTS ?
            g_strdup_printf("host '%s'", meta->hosts[owner].name) :
            g_strdup("no host");

        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                    "region '%s' belongs to %s, not to host '%s'",
                    meta->regions[r].name, who,
                    meta->hosts[pool->actor].name);
        return false;
    }
    return true;
}

static int add_host(QcxlPoolMeta *meta, const char *name, GError **errp)
{
    if (!qcxl_pool_valid_name(name, QCXL_POOL_HOST_NAME_LEN, errp)) {
        return -1;
    }
    if (qcxl_pool_find_host(meta, name) >= 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_EXISTS,
                    "host '%s' exists", name);
        return -1;
    }
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        QcxlPoolHost *h = &meta->hosts[i];
        if (h->state == QCXL_HOST_FREE) {
            h->state = QCXL_HOST_INACTIVE;
            h->incarnation++;       /* never reuse an incarnation */
            memset(h->name, 0, sizeof(h->name));
            g_strlcpy(h->name, name, sizeof(h->name));
            return i;
        }
    }
    g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_NO_SPACE,
                "all %d host slots are in use", QCXL_POOL_HOSTS);
    return -1;
}

static bool tx_host_add(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                        GError **errp)
{
    TxArgs *a = opaque;

    a->slot = add_host(meta, a->name, errp);
    return a->slot >= 0;
}

bool qcxl_pool_host_add(QcxlPool *pool, const char *name, GError **errp)
{
    TxArgs a = { .name = name };

    return qcxl_pool_transact(pool, tx_host_add, &a, errp);
}

static bool tx_host_remove(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                           GError **errp)
{
    TxArgs *a = opaque;
    int h = need_host(meta, a->name, errp);

    if (h < 0) {
        return false;
    }
    if (meta->hosts[h].state == QCXL_HOST_ACTIVE) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "host '%s' is active: stop its QEMU, or evict it, first",
                    a->name);
        return false;
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        QcxlPoolRegion *r = &meta->regions[i];
        if (r->state == QCXL_REGION_ACTIVE &&
            (r->owner == h || (r->sharers >> h & 1))) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                        "host '%s' %s region '%s': delete it, or give it "
                        "to another host, first", a->name,
                        r->owner == h ? "owns" : "shares", r->name);
            return false;
        }
    }
    /* keep the incarnation, so a later host in this slot gets a new one */
    meta->hosts[h].state = QCXL_HOST_FREE;
    memset(meta->hosts[h].name, 0, sizeof(meta->hosts[h].name));
    return true;
}

bool qcxl_pool_host_remove(QcxlPool *pool, const char *name, GError **errp)
{
    TxArgs a = { .name = name };

    return qcxl_pool_transact(pool, tx_host_remove, &a, errp);
}

/* Mapping bookkeeping, like detach: the region itself does not change */
static void unmap_host(QcxlPoolMeta *meta, int slot)
{
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        meta->regions[i].mapped &= ~(1ULL << slot);
    }
}

static bool tx_join(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                    GError **errp)
{
    TxArgs *a = opaque;
    int h = qcxl_pool_find_host(meta, a->name);

    if (h < 0 && a->flag) {
        h = add_host(meta, a->name, errp);
    } else if (h < 0) {
        need_host(meta, a->name, errp);
    }
    if (h < 0) {
        return false;
    }
    if (meta->hosts[h].state == QCXL_HOST_ACTIVE) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "host '%s' is already active (another QEMU holds its "
                    "lease); if that process is gone, evict the host: "
                    "qcxl-pool evict %s %s", a->name, pool->path, a->name);
        return false;
    }
    meta->hosts[h].state = QCXL_HOST_ACTIVE;
    meta->hosts[h].incarnation++;
    unmap_host(meta, h);
    a->slot = h;
    a->incarnation = meta->hosts[h].incarnation;
    return true;
}

int qcxl_pool_join(QcxlPool *pool, const char *name, bool create,
                   uint64_t *incarnation, GError **errp)
{
    TxArgs a = { .name = name, .flag = create };

    if (!qcxl_pool_valid_name(name, QCXL_POOL_HOST_NAME_LEN, errp) ||
        !qcxl_pool_transact(pool, tx_join, &a, errp)) {
        return -1;
    }
    qcxl_pool_beat(pool, a.slot);
    *incarnation = a.incarnation;
    return a.slot;
}

static bool tx_leave(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                     GError **errp)
{
    TxArgs *a = opaque;

    if (!need_active(meta, a->slot, a->incarnation, errp)) {
        return false;
    }
    meta->hosts[a->slot].state = QCXL_HOST_INACTIVE;
    unmap_host(meta, a->slot);
    return true;
}

bool qcxl_pool_leave(QcxlPool *pool, int slot, uint64_t incarnation,
                     GError **errp)
{
    TxArgs a = { .slot = slot, .incarnation = incarnation };

    return qcxl_pool_transact(pool, tx_leave, &a, errp);
}

static bool tx_evict(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                     GError **errp)
{
    TxArgs *a = opaque;
    int h = need_host(meta, a->name, errp);

    if (h < 0) {
        return false;
    }
    if (!actor_active(pool, meta, errp)) {
        return false;
    }
    if (h == pool->actor) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                    "host '%s' cannot evict itself", a->name);
        return false;
    }
    if (meta->hosts[h].state != QCXL_HOST_ACTIVE) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "host '%s' is %s, not active: nothing to evict", a->name,
                    qcxl_pool_host_state_str(meta->hosts[h].state));
        return false;
    }
    meta->hosts[h].state = QCXL_HOST_FENCED;
    meta->hosts[h].incarnation++;
    unmap_host(meta, h);
    return true;
}

bool qcxl_pool_evict(QcxlPool *pool, const char *name, GError **errp)
{
    TxArgs a = { .name = name };

    return qcxl_pool_transact(pool, tx_evict, &a, errp);
}

/* Zero extents under the lock; fails if the lock was lost meanwhile. */
static bool zero_extents(QcxlPool *pool, const uint32_t *ext, uint32_t n,
                         GError **errp)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = qcxl_pool_extent_offset(pool, ext[i]);
        if (!lock_held(pool)) {
            g_propagate_error(errp, lost_lock(pool));
            return false;
        }
        memset(pool->base + off, 0, pool->sb.extent_size);
        persist(pool, off, pool->sb.extent_size);
    }
    return true;
}

/*
 * Give @n free extents to region @slot: one contiguous run if there is
 * one (after @after if it can, so a grown region stays contiguous), else
 * the lowest free extents.
 */
static bool allocate(QcxlPoolMeta *meta, int slot, uint32_t n, int64_t after,
                     GError **errp)
{
    uint32_t free = qcxl_pool_free_extents(meta), run = 0;
    int64_t start = -1;

    if (n > free) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_NO_SPACE,
                    "%u extents needed, %u free", n, free);
        return false;
    }
    if (after >= 0) {
        uint32_t e = after + 1;
        while (e < meta->extents && !meta->map[e] && e - after <= n) {
            e++;
        }
        if (e - after - 1 >= n) {
            start = after + 1;
        }
    }
    for (uint32_t e = 0; start < 0 && e < meta->extents; e++) {
        run = meta->map[e] ? 0 : run + 1;
        if (run == n) {
            start = e + 1 - n;
        }
    }
    for (uint32_t e = start < 0 ? 0 : start; n && e < meta->extents; e++) {
        if (!meta->map[e]) {
            meta->map[e] = slot + 1;
            n--;
        }
    }
    return true;
}

static bool size_ok(QcxlPool *pool, uint64_t size, GError **errp)
{
    uint64_t e = pool->sb.extent_size;

    if (size == 0 || size % e) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "size %" G_GUINT64_FORMAT " is not a positive multiple "
                    "of the extent size (%" G_GUINT64_FORMAT ")", size, e);
        return false;
    }
    if (size / e > pool->sb.extents) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_NO_SPACE,
                    "size %" G_GUINT64_FORMAT " exceeds the pool", size);
        return false;
    }
    return true;
}

static bool tx_region_create(QcxlPool *pool, QcxlPoolMeta *meta,
                             void *opaque, GError **errp)
{
    TxArgs *a = opaque;
    int owner = need_host(meta, a->host, errp);
    int slot = -1;

    if (owner < 0) {
        return false;
    }
    if (!actor_active(pool, meta, errp)) {
        return false;
    }
    if (pool->actor >= 0 && owner != pool->actor) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                    "host '%s' may create regions for itself only, not "
                    "for '%s'", meta->hosts[pool->actor].name, a->host);
        return false;
    }
    if (qcxl_pool_find_region(meta, a->name) >= 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_EXISTS,
                    "region '%s' exists", a->name);
        return false;
    }
    for (int i = 0; i < QCXL_POOL_REGIONS && slot < 0; i++) {
        if (meta->regions[i].state == QCXL_REGION_FREE) {
            slot = i;
        }
    }
    if (slot < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_NO_SPACE,
                    "all %d region slots are in use", QCXL_POOL_REGIONS);
        return false;
    }
    if (!allocate(meta, slot, a->size / pool->sb.extent_size, -1, errp)) {
        return false;
    }
    QcxlPoolRegion *r = &meta->regions[slot];
    uint64_t gen = r->generation;
    memset(r, 0, sizeof(*r));
    r->state = QCXL_REGION_ACTIVE;
    r->mode = a->flag ? QCXL_REGION_SHARED : QCXL_REGION_EXCLUSIVE;
    r->owner = owner;
    r->size = a->size;
    r->generation = gen + 1;
    g_strlcpy(r->name, a->name, sizeof(r->name));
    return true;
}

bool qcxl_pool_region_create(QcxlPool *pool, const char *name, uint64_t size,
                             const char *owner, bool shared, GError **errp)
{
    TxArgs a = { .name = name, .host = owner, .size = size, .flag = shared };

    return qcxl_pool_valid_name(name, QCXL_POOL_REGION_NAME_LEN, errp) &&
           size_ok(pool, size, errp) &&
           qcxl_pool_transact(pool, tx_region_create, &a, errp);
}

static bool not_mapped(const QcxlPoolMeta *meta, int r, GError **errp)
{
    if (meta->regions[r].mapped) {
        g_autoptr(GString) who = g_string_new(NULL);
        for (int h = 0; h < QCXL_POOL_HOSTS; h++) {
            if (meta->regions[r].mapped >> h & 1) {
                g_string_append_printf(who, "%s%s", who->len ? ", " : "",
                                       meta->hosts[h].name);
            }
        }
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "region '%s' is mapped by %s", meta->regions[r].name,
                    who->str);
        return false;
    }
    return true;
}

static bool tx_region_resize(QcxlPool *pool, QcxlPoolMeta *meta,
                             void *opaque, GError **errp)
{
    TxArgs *a = opaque;
    int r = need_region(meta, a->name, errp);
    uint64_t e = pool->sb.extent_size;
    g_autofree uint32_t *ext = NULL;
    uint32_t n, want = a->size / e;

    if (r < 0 || !actor_may(pool, meta, r, errp) ||
        !not_mapped(meta, r, errp)) {
        return false;
    }
    ext = qcxl_pool_region_extents(meta, r, &n);
    if (want > n) {
        if (!allocate(meta, r, want - n, ext[n - 1], errp)) {
            return false;
        }
    } else if (want < n) {
        if (!a->flag) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                        "shrinking region '%s' destroys its data beyond %"
                        G_GUINT64_FORMAT " bytes: pass --force", a->name,
                        a->size);
            return false;
        }
        if (!zero_extents(pool, ext + want, n - want, errp)) {
            return false;
        }
        for (uint32_t i = want; i < n; i++) {
            meta->map[ext[i]] = 0;
        }
    }
    meta->regions[r].size = a->size;
    meta->regions[r].generation++;
    return true;
}

bool qcxl_pool_region_resize(QcxlPool *pool, const char *name, uint64_t size,
                             bool allow_shrink, GError **errp)
{
    TxArgs a = { .name = name, .size = size, .flag = allow_shrink };

    return size_ok(pool, size, errp) &&
           qcxl_pool_transact(pool, tx_region_resize, &a, errp);
}

static bool tx_region_delete(QcxlPool *pool, QcxlPoolMeta *meta,
                             void *opaque, GError **errp)
{
    TxArgs *a = opaque;
    int r = need_region(meta, a->name, errp);
    g_autofree uint32_t *ext = NULL;
    uint32_t n;

    if (r < 0 || !actor_may(pool, meta, r, errp) ||
        !not_mapped(meta, r, errp)) {
        return false;
    }
    /* Free extents are zero: no host ever sees another's old data */
    ext = qcxl_pool_region_extents(meta, r, &n);
    if (!zero_extents(pool, ext, n, errp)) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        meta->map[ext[i]] = 0;
    }
    uint64_t gen = meta->regions[r].generation;
    memset(&meta->regions[r], 0, sizeof(meta->regions[r]));
    meta->regions[r].owner = QCXL_POOL_NO_HOST;
    meta->regions[r].generation = gen + 1;
    return true;
}

bool qcxl_pool_region_delete(QcxlPool *pool, const char *name, GError **errp)
{
    TxArgs a = { .name = name };

    return qcxl_pool_transact(pool, tx_region_delete, &a, errp);
}

static bool tx_region_share(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                            GError **errp)
{
    TxArgs *a = opaque;
    int r = need_region(meta, a->name, errp);
    int h = r < 0 ? -1 : need_host(meta, a->host, errp);
    QcxlPoolRegion *reg;

    if (h < 0 || !actor_may(pool, meta, r, errp)) {
        return false;
    }
    reg = &meta->regions[r];
    if (a->flag) {
        if (reg->owner == h) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                        "host '%s' owns region '%s' already", a->host,
                        a->name);
            return false;
        }
        reg->mode = QCXL_REGION_SHARED;
        reg->sharers |= 1ULL << h;
    } else {
        if (!(reg->sharers >> h & 1)) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                        "host '%s' does not share region '%s'", a->host,
                        a->name);
            return false;
        }
        if (reg->mapped >> h & 1) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                        "host '%s' has region '%s' mapped", a->host,
                        a->name);
            return false;
        }
        reg->sharers &= ~(1ULL << h);
    }
    reg->generation++;
    return true;
}

bool qcxl_pool_region_share(QcxlPool *pool, const char *name,
                            const char *host, bool share, GError **errp)
{
    TxArgs a = { .name = name, .host = host, .flag = share };

    return qcxl_pool_transact(pool, tx_region_share, &a, errp);
}

static bool tx_region_chown(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                            GError **errp)
{
    TxArgs *a = opaque;
    int r = need_region(meta, a->name, errp);
    int h = r < 0 ? -1 : need_host(meta, a->host, errp);
    QcxlPoolRegion *reg;

    if (h < 0 || !actor_may(pool, meta, r, errp)) {
        return false;
    }
    reg = &meta->regions[r];
    /* the old owner loses access unless it also shares the region */
    if (reg->owner < QCXL_POOL_HOSTS && reg->owner != h &&
        (reg->mapped >> reg->owner & 1) &&
        !(reg->mode == QCXL_REGION_SHARED && (reg->sharers >> reg->owner & 1))) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "region '%s' is mapped by its owner '%s'", a->name,
                    meta->hosts[reg->owner].name);
        return false;
    }
    reg->owner = h;
    reg->sharers &= ~(1ULL << h);
    reg->generation++;
    return true;
}

bool qcxl_pool_region_chown(QcxlPool *pool, const char *name,
                            const char *host, GError **errp)
{
    TxArgs a = { .name = name, .host = host };

    return qcxl_pool_transact(pool, tx_region_chown, &a, errp);
}

/*
 * Migration handoff.  At switchover the source host sends, with the
 * guest's state, the name and generation of each region it owns; the
 * destination (this handle's actor) claims them all in one transaction,
 * which succeeds only if each is still owned by @from at that
 * generation.  A source that runs again first reclaims its regions,
 * which bumps their generations: of the two, exactly one wins.  The old
 * owner stays a sharer, so its mapping stays legal until it leaves, and
 * a migration back needs no new sharing.
 */
typedef struct HandoffArgs {
    const char *from;
    guint n;
    const char *const *names;
    const uint64_t *generations;
} HandoffArgs;

static bool tx_handoff(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                       GError **errp)
{
    HandoffArgs *a = opaque;
    int from;

    if (pool->actor < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "only a host can take regions over");
        return false;
    }
    if (!actor_active(pool, meta, errp)) {
        return false;
    }
    from = need_host(meta, a->from, errp);
    if (from < 0) {
        return false;
    }
    for (guint i = 0; i < a->n; i++) {
        int r = need_region(meta, a->names[i], errp);
        QcxlPoolRegion *reg;

        if (r < 0) {
            return false;
        }
        reg = &meta->regions[r];
        if (reg->owner != from) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                        "region '%s' no longer belongs to host '%s'",
                        reg->name, a->from);
            return false;
        }
        if (reg->generation != a->generations[i]) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                        "region '%s' changed since host '%s' handed it "
                        "over (generation %" G_GUINT64_FORMAT ", offered %"
                        G_GUINT64_FORMAT ")", reg->name, a->from,
                        reg->generation, a->generations[i]);
            return false;
        }
        if (reg->owner != pool->actor &&
            !(reg->mode == QCXL_REGION_SHARED &&
              (reg->sharers >> pool->actor & 1))) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                        "region '%s' is not shared with host '%s'",
                        reg->name, meta->hosts[pool->actor].name);
            return false;
        }
        reg->owner = pool->actor;
        reg->sharers &= ~(1ULL << pool->actor);
        reg->sharers |= 1ULL << from;
        reg->mode = QCXL_REGION_SHARED;
        reg->generation++;
    }
    return true;
}

bool qcxl_pool_handoff(QcxlPool *pool, const char *from, guint n,
                       const char *const *names, const uint64_t *generations,
                       GError **errp)
{
    HandoffArgs a = { .from = from, .n = n, .names = names,
                      .generations = generations };

    return qcxl_pool_transact(pool, tx_handoff, &a, errp);
}

static bool tx_reclaim(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                       GError **errp)
{
    HandoffArgs *a = opaque;

    for (guint i = 0; i < a->n; i++) {
        int r = need_region(meta, a->names[i], errp);

        if (r < 0 || !actor_may(pool, meta, r, errp)) {
            return false;
        }
        meta->regions[r].generation++;
    }
    return true;
}

bool qcxl_pool_reclaim(QcxlPool *pool, guint n, const char *const *names,
                       GError **errp)
{
    HandoffArgs a = { .n = n, .names = names };

    return qcxl_pool_transact(pool, tx_reclaim, &a, errp);
}

static bool tx_attach(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                      GError **errp)
{
    TxArgs *a = opaque;
    int r;
    QcxlPoolRegion *reg;

    if (!need_active(meta, a->slot, a->incarnation, errp)) {
        return false;
    }
    r = need_region(meta, a->name, errp);
    if (r < 0) {
        return false;
    }
    reg = &meta->regions[r];
    if (reg->owner != a->slot &&
        !(reg->mode == QCXL_REGION_SHARED && (reg->sharers >> a->slot & 1))) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                    "host '%s' may not map %s region '%s' (owner: %s)",
                    meta->hosts[a->slot].name,
                    reg->mode == QCXL_REGION_SHARED ? "shared" : "exclusive",
                    a->name, reg->owner < QCXL_POOL_HOSTS ?
                    meta->hosts[reg->owner].name : "none");
        return false;
    }
    reg->mapped |= 1ULL << a->slot;
    a->size = reg->size;
    g_free(a->extents);
    a->extents = qcxl_pool_region_extents(meta, r, &a->count);
    return true;
}

uint32_t *qcxl_pool_attach(QcxlPool *pool, const char *region, int slot,
                           uint64_t incarnation, uint64_t *size,
                           uint32_t *count, GError **errp)
{
    TxArgs a = { .name = region, .slot = slot, .incarnation = incarnation };

    if (!qcxl_pool_transact(pool, tx_attach, &a, errp)) {
        g_free(a.extents);
        return NULL;
    }
    *size = a.size;
    *count = a.count;
    return a.extents;
}

static bool tx_detach(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                      GError **errp)
{
    TxArgs *a = opaque;
    int r;

    if (!need_active(meta, a->slot, a->incarnation, errp)) {
        return false;
    }
    r = need_region(meta, a->name, errp);
    if (r < 0) {
        return false;
    }
    meta->regions[r].mapped &= ~(1ULL << a->slot);
    return true;
}

bool qcxl_pool_detach(QcxlPool *pool, const char *region, int slot,
                      uint64_t incarnation, GError **errp)
{
    TxArgs a = { .name = region, .slot = slot, .incarnation = incarnation };

    return qcxl_pool_transact(pool, tx_detach, &a, errp);
}

/*
 * Repair what the invariants allow to be repaired without guessing:
 * mapped bits of hosts that are not active, sharers that are not hosts,
 * owners that are not hosts (the region keeps its data, without owner),
 * extents of free regions (zeroed and freed), region sizes that disagree
 * with their extents.  Committing also rewrites a torn copy.
 */
static bool tx_repair(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                      GError **errp)
{
    GPtrArray *fixed = opaque;
    uint64_t known = 0, active = 0;
    uint32_t counts[QCXL_POOL_REGIONS] = { 0 };

#define FIXED(...) g_ptr_array_add(fixed, g_strdup_printf(__VA_ARGS__))
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        QcxlPoolHost *h = &meta->hosts[i];
        if (h->state > QCXL_HOST_FENCED ||
            (h->state && !name_ok(h->name, sizeof(h->name))) ||
            (h->state && qcxl_pool_find_host(meta, h->name) != i)) {
            FIXED("host slot %d: invalid entry cleared", i);
            h->state = QCXL_HOST_FREE;
            memset(h->name, 0, sizeof(h->name));
        }
        known |= (uint64_t)(h->state != QCXL_HOST_FREE) << i;
        active |= (uint64_t)(h->state == QCXL_HOST_ACTIVE) << i;
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        QcxlPoolRegion *r = &meta->regions[i];
        if (r->state == QCXL_REGION_FREE) {
            continue;
        }
        if (r->state != QCXL_REGION_ACTIVE || r->mode > QCXL_REGION_SHARED ||
            !name_ok(r->name, sizeof(r->name)) ||
            qcxl_pool_find_region(meta, r->name) != i) {
            FIXED("region slot %d: invalid entry cleared (its extents are "
                  "freed)", i);
            memset(r, 0, sizeof(*r));
            r->owner = QCXL_POOL_NO_HOST;
            continue;
        }
        if (r->owner != QCXL_POOL_NO_HOST &&
            (r->owner >= QCXL_POOL_HOSTS || !(known >> r->owner & 1))) {
            FIXED("region '%s': owner slot %u is not a host; now without "
                  "owner (give it one with chown)", r->name, r->owner);
            r->owner = QCXL_POOL_NO_HOST;
        }
        if (r->sharers & ~known) {
            FIXED("region '%s': sharers that are not hosts removed",
                  r->name);
            r->sharers &= known;
        }
        uint64_t may = (r->owner < QCXL_POOL_HOSTS ? 1ULL << r->owner : 0) |
                       (r->mode == QCXL_REGION_SHARED ? r->sharers : 0);
        if (r->mapped & ~(active & may)) {
            FIXED("region '%s': stale mappings cleared", r->name);
            r->mapped &= active & may;
        }
    }
    for (uint32_t e = 0; e < meta->extents; e++) {
        uint16_t v = meta->map[e];
        if (v > QCXL_POOL_REGIONS ||
            (v && meta->regions[v - 1].state != QCXL_REGION_ACTIVE)) {
            if (!zero_extents(pool, &e, 1, errp)) {
                return false;
            }
            FIXED("extent %u: leaked (owner %u); zeroed and freed", e, v);
            meta->map[e] = 0;
        } else if (v) {
            counts[v - 1]++;
        } else if (!qcxl_pool_extent_is_zero(pool, e)) {
            if (!zero_extents(pool, &e, 1, errp)) {
                return false;
            }
            FIXED("extent %u: free but held data; zeroed", e);
        }
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        QcxlPoolRegion *r = &meta->regions[i];
        if (r->state != QCXL_REGION_ACTIVE) {
            continue;
        }
        if (counts[i] == 0) {
            FIXED("region '%s': no extents; removed", r->name);
            memset(r, 0, sizeof(*r));
            r->owner = QCXL_POOL_NO_HOST;
        } else if (r->size != counts[i] * pool->sb.extent_size) {
            FIXED("region '%s': size %" G_GUINT64_FORMAT " set to its %u "
                  "extents", r->name, r->size, counts[i]);
            r->size = counts[i] * pool->sb.extent_size;
        }
    }
#undef FIXED
    return true;
}

bool qcxl_pool_repair(QcxlPool *pool, GPtrArray *fixed, GError **errp)
{
    return qcxl_pool_transact(pool, tx_repair, fixed, errp);
}
