/*
 * qcxl: shared CXL pool, the library's private view of the media
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Private to the pool library (hw/mem/qcxl-pool-*.c): the pool handle,
 * byte access and geometry helpers, and what qcxl-pool-media.c offers
 * the library's other files.  Users include hw/mem/qcxl_pool.h.
 */

#ifndef HW_MEM_QCXL_POOL_MEDIA_H
#define HW_MEM_QCXL_POOL_MEDIA_H

#include "hw/mem/qcxl_pool.h"

#define PAGE                QCXL_POOL_PAGE

struct QcxlPool {
    /* set when the pool is opened (qcxl-pool-media.c) */
    char *path;
    int fd;
    bool dax;
    uint8_t *base;
    uint64_t map_size;
    QcxlPoolSuper sb;
    uint32_t lock_timeout_ms;
    /* while this process holds the lock (qcxl-pool-lock.c) */
    uint64_t token;
    /* the host changes are made by, or -1 (qcxl-pool-ops.c) */
    int actor;
    uint64_t actor_incarnation;
};

/* Little-endian field access on byte buffers */
static inline uint16_t ld16(const uint8_t *p)
{
    return p[0] | (uint16_t)p[1] << 8;
}

static inline uint32_t ld32(const uint8_t *p)
{
    return ld16(p) | (uint32_t)ld16(p + 2) << 16;
}

static inline uint64_t ld64(const uint8_t *p)
{
    return ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

static inline void st16(uint8_t *p, uint16_t v)
{
    p[0] = v;
    p[1] = v >> 8;
}

static inline void st32(uint8_t *p, uint32_t v)
{
    st16(p, v);
    st16(p + 2, v >> 16);
}

static inline void st64(uint8_t *p, uint64_t v)
{
    st32(p, v);
    st32(p + 4, v >> 32);
}

static inline uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static inline uint64_t meta_len(uint32_t extents)
{
    return QCXL_POOL_META_MAP_OFF + 2ULL * extents;
}

static inline uint64_t data_offset_for(uint64_t meta_size, uint64_t extent_size)
{
    /* two copies, then the backup superblock in the page before data */
    return align_up(QCXL_POOL_META_OFFSET + 2 * meta_size + PAGE,
                    extent_size);
}

static inline uint64_t backup_sb_offset(const QcxlPoolSuper *sb)
{
    return sb->data_offset - PAGE;
}

/* The superblock of @sb in its on-media form (QCXL_POOL_SB_SIZE bytes) */
void qcxl_pool_sb_encode(const QcxlPoolSuper *sb, uint8_t *b);
/* Geometry for a new pool of @size bytes */
bool qcxl_pool_geometry(uint64_t size, uint64_t extent_size,
                        QcxlPoolSuper *sb, GError **errp);
/* The size of the media behind @fd; *@dax for a DAX device */
bool qcxl_pool_media_size(int fd, const char *path, bool *dax,
                          uint64_t *size, GError **errp);
/* Make [@off, @off + @len) of the pool durable (flush or msync) */
void qcxl_pool_persist(QcxlPool *pool, uint64_t off, uint64_t len);

#endif
