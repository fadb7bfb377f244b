/*
 * qcxl: pool regions attached and mapped into one range
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A QcxlPoolMap is a list of regions of one pool that one member of
 * this process attached (the pool records that the host maps them), in
 * order, with their extents mapped MAP_SHARED into one fresh range
 * aligned to the extent size.  All regions are attached and mapped, or
 * none.  The range belongs to the map (freeing the map unmaps it) until
 * a user takes it.
 *
 * Under the BQL, except qcxl_pool_map_free(), which takes it.
 */

#ifndef HW_MEM_QCXL_POOL_MAP_H
#define HW_MEM_QCXL_POOL_MAP_H

#include "hw/mem/qcxl_pool_member.h"

typedef struct QcxlPoolMap QcxlPoolMap;

/*
 * Are @regions (NULL-terminated) a list a map can be made of: valid
 * names, none twice, at most QCXL_POOL_REGIONS?  Checks nothing in the
 * pool, so it can run before joining one.
 */
bool qcxl_pool_map_check_names(const char *const *regions, Error **errp);
/*
 * Attach @regions as @member, for @use, and map them, in order: a map
 * holding its own reference to @member, or NULL with @errp set and
 * nothing attached.  A region this host maps already (for any use), or
 * that other hosts use otherwise, is refused.
 */
QcxlPoolMap *qcxl_pool_map_new(QcxlPoolMember *member,
                               const char *const *regions, QcxlRegionUse use,
                               Error **errp);
/* Detach what is still attached, unmap the range if the map owns it */
void qcxl_pool_map_free(QcxlPoolMap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QcxlPoolMap, qcxl_pool_map_free)

QcxlPoolMember *qcxl_pool_map_member(QcxlPoolMap *map);
/* The regions, NULL-terminated, in the order they are mapped */
const char *const *qcxl_pool_map_regions(QcxlPoolMap *map);
/* The regions joined by ':', as a user names them (g_free it) */
char *qcxl_pool_map_regions_str(QcxlPoolMap *map);
uint8_t *qcxl_pool_map_ptr(QcxlPoolMap *map);
uint64_t qcxl_pool_map_size(QcxlPoolMap *map);
/*
 * The range is the caller's from now on (it moves pages out of it, or
 * maps over it): freeing the map leaves it alone.
 */
uint8_t *qcxl_pool_map_take_range(QcxlPoolMap *map);
/* Is region @name (of the map's pool) one of the map's? */
bool qcxl_pool_map_has_region(QcxlPoolMap *map, const char *name);
/*
 * Tell the pool this host maps the regions no more, for the map's use
 * (the range stays as it is).  Nothing is recorded if the member was
 * fenced.
 */
void qcxl_pool_map_detach(QcxlPoolMap *map);

/*
 * The first run of data at or after *@off and before @end (offsets in
 * the range): true with the run in [*@off, *@off + *@len), false if all
 * of [*@off, @end) is holes (reads as zero, holds no memory).  On media
 * that cannot tell (a DAX device), everything is data.
 */
bool qcxl_pool_map_data_run(QcxlPoolMap *map, uint64_t *off, uint64_t end,
                            uint64_t *len);
/*
 * For a pool in a file: write @buf to [@off, @off + @len) through the
 * file rather than the range, so no page is mapped.  0, or a negative
 * errno: -ENOTSUP for a DAX device (use the range), -ENOSPC when the
 * file system is full.
 */
int qcxl_pool_map_write(QcxlPoolMap *map, uint64_t off, const void *buf,
                        uint64_t len);

#endif
