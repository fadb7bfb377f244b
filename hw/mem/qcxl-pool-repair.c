/*
 * qcxl: shared CXL pool, repair
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * fsck --repair: rewrite both metadata copies from the newest valid one
 * and fix what the invariants allow without guessing.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "qcxl-pool-lock.h"

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
            (h->state && !qcxl_pool_name_ok(h->name, sizeof(h->name))) ||
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
            !qcxl_pool_name_ok(r->name, sizeof(r->name)) ||
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
        if (r->use >= QCXL_REGION_USE__MAX ||
            (!r->mapped && r->use != QCXL_REGION_USE_NONE)) {
            FIXED("region '%s': use %u cleared (mapped by no host)",
                  r->name, r->use);
            r->use = QCXL_REGION_USE_NONE;
        }
    }
    for (uint32_t e = 0; e < meta->extents; e++) {
        uint16_t v = meta->map[e];
        if (v > QCXL_POOL_REGIONS ||
            (v && meta->regions[v - 1].state != QCXL_REGION_ACTIVE)) {
            if (!qcxl_pool_zero_extents(pool, &e, 1, errp)) {
                return false;
            }
            FIXED("extent %u: leaked (owner %u); zeroed and freed", e, v);
            meta->map[e] = 0;
        } else if (v) {
            counts[v - 1]++;
        } else if (!qcxl_pool_extent_is_zero(pool, e)) {
            if (!qcxl_pool_zero_extents(pool, &e, 1, errp)) {
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
