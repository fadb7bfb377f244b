/*
 * qcxl: shared CXL pool, metadata copies, queries and invariants
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns the two metadata copies: their encoding, the lock-free reading of
 * the current one (a copy can tear under a writer: it is then invalid),
 * names, the queries on a snapshot and the invariants qcxl_pool_check()
 * holds every transaction to.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "qcxl-pool-meta.h"

/* Host slot @i and region slot @i of an encoded copy @b */
static uint8_t *host_entry(const uint8_t *b, int i)
{
    return (uint8_t *)b + QCXL_POOL_META_HOSTS_OFF +
           i * QCXL_POOL_META_HOST_SIZE;
}

static uint8_t *region_entry(const uint8_t *b, int i)
{
    return (uint8_t *)b + QCXL_POOL_META_REGIONS_OFF +
           i * QCXL_POOL_META_REGION_SIZE;
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
    return qcxl_crc32c(qcxl_crc32c(0, b, QCXL_POOL_META_CRC),
                       b + QCXL_POOL_META_HEAD, len - QCXL_POOL_META_HEAD);
}

/* Encode @meta into copy @copy; the header (seq, crc) is written last. */
void qcxl_pool_write_copy(QcxlPool *pool, int copy, const QcxlPoolMeta *meta)
{
    uint64_t len = meta_len(meta->extents);
    g_autofree uint8_t *b = g_malloc0(len);
    uint8_t *dst = copy_addr(pool, copy);

    st64(b + QCXL_POOL_META_SEQ, meta->seq);
    st32(b + QCXL_POOL_META_LEN, len);
    memcpy(b + QCXL_POOL_META_UUID, pool->sb.uuid, 16);
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        const QcxlPoolHost *h = &meta->hosts[i];
        uint8_t *p = host_entry(b, i);
        p[QCXL_POOL_HOST_STATE] = h->state;
        st64(p + QCXL_POOL_HOST_INCARNATION, h->incarnation);
        memcpy(p + QCXL_POOL_HOST_NAME, h->name, QCXL_POOL_HOST_NAME_LEN);
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        const QcxlPoolRegion *r = &meta->regions[i];
        uint8_t *p = region_entry(b, i);
        p[QCXL_POOL_REGION_STATE] = r->state;
        p[QCXL_POOL_REGION_MODE] = r->mode;
        st16(p + QCXL_POOL_REGION_OWNER, r->owner);
        p[QCXL_POOL_REGION_USE] = r->use;
        st64(p + QCXL_POOL_REGION_SHARERS, r->sharers);
        st64(p + QCXL_POOL_REGION_MAPPED, r->mapped);
        st64(p + QCXL_POOL_REGION_SIZE, r->size);
        st64(p + QCXL_POOL_REGION_GENERATION, r->generation);
        memcpy(p + QCXL_POOL_REGION_NAME, r->name, QCXL_POOL_REGION_NAME_LEN);
    }
    for (uint32_t e = 0; e < meta->extents; e++) {
        st16(b + QCXL_POOL_META_MAP_OFF + 2 * e, meta->map[e]);
    }
    st32(b + QCXL_POOL_META_CRC, copy_crc(b, len));

    /* Invalidate, write the body, then the header that makes it valid */
    __atomic_store_n((uint64_t *)(dst + QCXL_POOL_META_LEN), 0,
                     __ATOMIC_SEQ_CST);
    qcxl_pool_persist(pool, dst - pool->base, QCXL_POOL_META_HEAD);
    memcpy(dst + QCXL_POOL_META_HEAD, b + QCXL_POOL_META_HEAD,
           len - QCXL_POOL_META_HEAD);
    qcxl_pool_persist(pool, dst - pool->base + QCXL_POOL_META_HEAD,
            len - QCXL_POOL_META_HEAD);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(dst, b, QCXL_POOL_META_HEAD);
    qcxl_pool_persist(pool, dst - pool->base, QCXL_POOL_META_HEAD);
}

bool qcxl_pool_name_ok(const char *name, size_t max)
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
    if (!name || !qcxl_pool_name_ok(name, max)) {
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

    if (ld32(b + QCXL_POOL_META_LEN) != len ||
        ld64(b + QCXL_POOL_META_SEQ) == 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "no valid header (length %u, expected %" G_GUINT64_FORMAT
                    ")", ld32(b + QCXL_POOL_META_LEN), len);
        return NULL;
    }
    if (ld32(b + QCXL_POOL_META_CRC) != copy_crc(b, len)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "checksum mismatch");
        return NULL;
    }
    if (memcmp(b + QCXL_POOL_META_UUID, pool->sb.uuid, 16)) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_FORMAT,
                    "left from an earlier format (pool UUID differs)");
        return NULL;
    }
    meta = qcxl_pool_meta_new(pool->sb.extents);
    meta->seq = ld64(b + QCXL_POOL_META_SEQ);
    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        const uint8_t *p = host_entry(b, i);
        QcxlPoolHost *h = &meta->hosts[i];
        h->state = p[QCXL_POOL_HOST_STATE];
        h->incarnation = ld64(p + QCXL_POOL_HOST_INCARNATION);
        memcpy(h->name, p + QCXL_POOL_HOST_NAME, QCXL_POOL_HOST_NAME_LEN);
        h->name[QCXL_POOL_HOST_NAME_LEN - 1] = 0;
    }
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        const uint8_t *p = region_entry(b, i);
        QcxlPoolRegion *r = &meta->regions[i];
        r->state = p[QCXL_POOL_REGION_STATE];
        r->mode = p[QCXL_POOL_REGION_MODE];
        r->owner = ld16(p + QCXL_POOL_REGION_OWNER);
        r->use = p[QCXL_POOL_REGION_USE];
        r->sharers = ld64(p + QCXL_POOL_REGION_SHARERS);
        r->mapped = ld64(p + QCXL_POOL_REGION_MAPPED);
        r->size = ld64(p + QCXL_POOL_REGION_SIZE);
        r->generation = ld64(p + QCXL_POOL_REGION_GENERATION);
        memcpy(r->name, p + QCXL_POOL_REGION_NAME, QCXL_POOL_REGION_NAME_LEN);
        r->name[QCXL_POOL_REGION_NAME_LEN - 1] = 0;
    }
    for (uint32_t e = 0; e < pool->sb.extents; e++) {
        meta->map[e] = ld16(b + QCXL_POOL_META_MAP_OFF + 2 * e);
    }
    return g_steal_pointer(&meta);
}

/* A snapshot of copy @copy, or NULL if it is not valid. */
QcxlPoolMeta *qcxl_pool_read_copy(QcxlPool *pool, int copy, GError **errp)
{
    uint64_t len = meta_len(pool->sb.extents);
    g_autofree uint8_t *b = g_malloc(len);

    memcpy(b, copy_addr(pool, copy), len);
    return decode_copy(pool, b, errp);
}

bool qcxl_pool_copy_state(QcxlPool *pool, int copy, uint64_t *seq)
{
    g_autoptr(QcxlPoolMeta) m = qcxl_pool_read_copy(pool, copy, NULL);

    *seq = m ? m->seq : 0;
    return m != NULL;
}

/* The current metadata and which copy holds it */
QcxlPoolMeta *qcxl_pool_read_current(QcxlPool *pool, int *which, GError **errp)
{
    /* A copy can tear under a concurrent writer: retry a few times */
    for (int attempt = 0; attempt < 50; attempt++) {
        g_autoptr(GError) e0 = NULL;
        g_autoptr(GError) e1 = NULL;
        g_autoptr(QcxlPoolMeta) m0 = qcxl_pool_read_copy(pool, 0, &e0);
        g_autoptr(QcxlPoolMeta) m1 = qcxl_pool_read_copy(pool, 1, &e1);

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
    return qcxl_pool_read_current(pool, NULL, errp);
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

const char *qcxl_pool_use_name(QcxlRegionUse use)
{
    static const char *const names[] = {
        [QCXL_REGION_USE_NONE] = "none",
        [QCXL_REGION_USE_MEMORY] = "memory",
        [QCXL_REGION_USE_RING] = "ring",
        [QCXL_REGION_USE_CHECKPOINT] = "checkpoint",
    };
    return use < G_N_ELEMENTS(names) ? names[use] : "invalid";
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
        if (!qcxl_pool_name_ok(h->name, QCXL_POOL_HOST_NAME_LEN)) {
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
        if (!qcxl_pool_name_ok(r->name, QCXL_POOL_REGION_NAME_LEN)) {
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
        if (r->use >= QCXL_REGION_USE__MAX) {
            PROBLEM("region '%s': invalid use %u", r->name, r->use);
        } else if (!r->mapped && r->use != QCXL_REGION_USE_NONE) {
            PROBLEM("region '%s': in use as %s but mapped by no host",
                    r->name, qcxl_pool_use_name(r->use));
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
