/*
 * qcxl: pool regions attached and mapped into one range
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns QcxlPoolMap (see qcxl_pool_map.h): the one attach-and-map
 * sequence (with its undo), the extents behind the range, and the file
 * I/O on them: finding data with SEEK_DATA/SEEK_HOLE, allocating and
 * writing through the pool file.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "hw/mem/qcxl_pool_map.h"
#include "trace.h"

struct QcxlPoolMap {
    QcxlPoolMember *member;
    QcxlRegionUse use;
    char **regions;
    int attached;               /* how many of them are attached */
    uint32_t *ext;              /* the extents behind the range, in order */
    uint32_t ext_count;
    uint64_t size;
    uint8_t *ptr;
    bool owns_range;
    /*
     * A range of the pool file last found to be data.  Data stays data
     * (nothing punches guest memory), so it saves asking again: each
     * SEEK_HOLE walks the file's pages up to the answer.
     */
    off_t data_lo, data_hi;
};

bool qcxl_pool_map_check_names(const char *const *regions, Error **errp)
{
    g_autoptr(GError) err = NULL;
    int n = 0;

    if (!regions[0]) {
        /* region= (empty): the empty name, as the library words it */
        qcxl_pool_valid_name("", QCXL_POOL_REGION_NAME_LEN, &err);
        error_setg(errp, "qcxl pool: region: %s", err->message);
        return false;
    }
    for (int i = 0; regions[i]; i++, n++) {
        if (!qcxl_pool_valid_name(regions[i], QCXL_POOL_REGION_NAME_LEN,
                                  &err)) {
            error_setg(errp, "qcxl pool: region: %s", err->message);
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(regions[i], regions[j])) {
                error_setg(errp, "qcxl pool: region '%s' is named twice",
                           regions[i]);
                return false;
            }
        }
    }
    if (n > QCXL_POOL_REGIONS) {
        error_setg(errp, "qcxl pool: more than %d regions", QCXL_POOL_REGIONS);
        return false;
    }
    return true;
}

/*
 * Map @count extents of the pool, in order, into a fresh range aligned
 * to the extent size (huge-page and DAX alignment); runs of consecutive
 * extents become one mapping.
 */
static uint8_t *map_extents(QcxlPoolMember *member, const uint32_t *ext,
                            uint32_t count, Error **errp)
{
    QcxlPool *pool = qcxl_pool_member_pool(member);
    uint64_t e = qcxl_pool_super(pool)->extent_size;
    uint64_t size = count * e;
    uint8_t *raw, *base;

    raw = mmap(NULL, size + e, PROT_NONE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) {
        error_setg_errno(errp, errno, "qcxl pool: reserving %" PRIu64
                         " bytes", size);
        return NULL;
    }
    base = (uint8_t *)QEMU_ALIGN_UP((uintptr_t)raw, e);
    if (base > raw) {
        munmap(raw, base - raw);
    }
    munmap(base + size, raw + e - base);

    for (uint32_t i = 0; i < count;) {
        uint32_t run = 1;
        while (i + run < count && ext[i + run] == ext[i] + run) {
            run++;
        }
        if (mmap(base + i * e, run * e, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED, qcxl_pool_fd(pool),
                 qcxl_pool_extent_offset(pool, ext[i])) == MAP_FAILED) {
            error_setg_errno(errp, errno, "qcxl pool %s: mapping extents "
                             "%u..%u", qcxl_pool_member_path(member), ext[i],
                             ext[i] + run - 1);
            munmap(base, size);
            return NULL;
        }
        i += run;
    }
    return base;
}

QcxlPoolMap *qcxl_pool_map_new(QcxlPoolMember *member,
                               const char *const *regions, QcxlRegionUse use,
                               Error **errp)
{
    QcxlPool *pool = qcxl_pool_member_pool(member);
    g_autoptr(GArray) ext = g_array_new(false, false, sizeof(uint32_t));
    QcxlPoolMap *map;

    if (!qcxl_pool_map_check_names(regions, errp)) {
        return NULL;
    }
    map = g_new0(QcxlPoolMap, 1);
    map->member = qcxl_pool_member_ref(member);
    map->use = use;
    map->regions = g_strdupv((char **)regions);
    for (int i = 0; regions[i]; i++) {
        g_autoptr(GError) err = NULL;
        g_autofree uint32_t *e = NULL;
        uint64_t size;
        uint32_t count;

        e = qcxl_pool_attach(pool, regions[i], qcxl_pool_member_slot(member),
                             qcxl_pool_member_incarnation(member), use, &size,
                             &count, &err);
        if (!e) {
            error_setg(errp, "qcxl pool %s: region '%s': %s",
                       qcxl_pool_member_path(member), regions[i],
                       err->message);
            goto fail;
        }
        trace_qcxl_pool_map_attach(qcxl_pool_member_path(member),
                                   qcxl_pool_member_name(member), regions[i],
                                   size);
        map->attached++;
        g_array_append_vals(ext, e, count);
        map->size += size;
    }
    map->ptr = map_extents(member, (uint32_t *)ext->data, ext->len, errp);
    if (!map->ptr) {
        goto fail;
    }
    map->owns_range = true;
    map->ext_count = ext->len;
    map->ext = (uint32_t *)g_array_free(g_steal_pointer(&ext), false);
    return map;

fail:
    qcxl_pool_map_free(map);
    return NULL;
}

void qcxl_pool_map_detach(QcxlPoolMap *map)
{
    QcxlPoolMember *m = map->member;

    if (!qcxl_pool_member_fenced(m)) {
        for (int i = 0; i < map->attached; i++) {
            trace_qcxl_pool_map_detach(qcxl_pool_member_path(m),
                                       qcxl_pool_member_name(m),
                                       map->regions[i]);
            qcxl_pool_detach(qcxl_pool_member_pool(m), map->regions[i],
                             qcxl_pool_member_slot(m),
                             qcxl_pool_member_incarnation(m), map->use, NULL);
        }
    }
    map->attached = 0;
}

void qcxl_pool_map_free(QcxlPoolMap *map)
{
    BQL_LOCK_GUARD();

    if (map->owns_range) {
        munmap(map->ptr, map->size);
    }
    qcxl_pool_map_detach(map);
    qcxl_pool_member_unref(map->member);
    g_strfreev(map->regions);
    g_free(map->ext);
    g_free(map);
}

QcxlPoolMember *qcxl_pool_map_member(QcxlPoolMap *map)
{
    return map->member;
}

const char *const *qcxl_pool_map_regions(QcxlPoolMap *map)
{
    return (const char *const *)map->regions;
}

char *qcxl_pool_map_regions_str(QcxlPoolMap *map)
{
    return g_strjoinv(":", map->regions);
}

uint8_t *qcxl_pool_map_ptr(QcxlPoolMap *map)
{
    return map->ptr;
}

uint64_t qcxl_pool_map_size(QcxlPoolMap *map)
{
    return map->size;
}

uint8_t *qcxl_pool_map_take_range(QcxlPoolMap *map)
{
    map->owns_range = false;
    return map->ptr;
}

bool qcxl_pool_map_has_region(QcxlPoolMap *map, const char *name)
{
    return g_strv_contains((const char *const *)map->regions, name);
}

bool qcxl_pool_map_data_run(QcxlPoolMap *map, uint64_t *off, uint64_t end,
                            uint64_t *len)
{
    QcxlPool *pool = qcxl_pool_member_pool(map->member);
    uint64_t e = qcxl_pool_super(pool)->extent_size;

    /* lseek() moves the fd's offset: nothing reads the pool by it */
    if (qcxl_pool_is_dax(pool)) {
        *len = end - *off;
        return *off < end;
    }
    while (*off < end) {
        uint64_t i = *off / e;
        off_t base, stop, data, hole;

        g_assert(i < map->ext_count);
        base = qcxl_pool_extent_offset(pool, map->ext[i]);
        stop = base + MIN(e, end - i * e);
        data = base + *off % e;
        if (data >= map->data_lo && data < map->data_hi) {
            hole = map->data_hi;
        } else {
            data = lseek(qcxl_pool_fd(pool), data, SEEK_DATA);
            if (data < 0 && errno != ENXIO) {
                /* cannot tell: take it all as data */
                *len = stop - (base + *off % e);
                return true;
            }
            hole = data >= 0 && data < stop ?
                   lseek(qcxl_pool_fd(pool), data, SEEK_HOLE) : -1;
            if (hole > data) {
                map->data_lo = data;
                map->data_hi = hole;
            } else if (data >= 0 && data < stop) {
                hole = stop;
            }
        }
        if (data >= 0 && data < stop) {
            *off = i * e + (data - base);
            *len = MIN(hole, stop) - data;
            return true;
        }
        *off = (i + 1) * e;
    }
    *off = end;
    return false;
}

/* pwrite() [@off, @off + @len) of the map, by extent */
int qcxl_pool_map_write(QcxlPoolMap *map, uint64_t off, const void *buf,
                        uint64_t len)
{
    QcxlPool *pool = qcxl_pool_member_pool(map->member);
    uint64_t e = qcxl_pool_super(pool)->extent_size;

    if (qcxl_pool_is_dax(pool)) {
        return -ENOTSUP;
    }
    while (len) {
        uint64_t i = off / e, n = MIN(len, e - off % e);
        off_t pos;
        ssize_t r;

        g_assert(i < map->ext_count);
        pos = qcxl_pool_extent_offset(pool, map->ext[i]) + off % e;
        r = pwrite(qcxl_pool_fd(pool), buf, n, pos);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r < 0 ? -errno : -EIO;
        }
        off += r;
        len -= r;
        buf = (const uint8_t *)buf + r;
    }
    return 0;
}
