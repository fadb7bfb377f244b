/*
 * qcxl: shared CXL pool, operations
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Formatting a pool, and every operation on one (hosts, regions,
 * joining and leaving, eviction, the migration handoff, attaching and
 * detaching), each one transaction: a tx_* callback checks and changes a
 * private copy, and a short public wrapper runs it.  Changes are made as
 * the handle's actor (a QEMU's host), or as the operator.
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
    if (!qcxl_pool_media_size(fd, path, &dax, &msize, errp)) {
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
    if (!qcxl_pool_geometry(size, extent_size, &sb, errp)) {
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
        qcxl_pool_persist(pool, 0, size);
    }
    meta = qcxl_pool_meta_new(sb.extents);
    meta->seq = 1;
    qcxl_pool_write_copy(pool, 0, meta);
    qcxl_pool_sb_encode(&sb, buf);
    memcpy(pool->base + backup_sb_offset(&sb), buf, sizeof(buf));
    qcxl_pool_persist(pool, backup_sb_offset(&sb), sizeof(buf));
    memcpy(pool->base, buf, sizeof(buf));
    qcxl_pool_persist(pool, 0, sizeof(buf));
    return true;
}

/* ---- Operations ---- */

typedef struct TxArgs {
    const char *name;           /* region or host */
    const char *host;
    uint64_t size;
    bool flag;
    int slot;
    uint64_t incarnation;
    QcxlRegionUse use;
    int published;              /* region slot + 1 a callback published */
    /* results */
    bool created;
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

/* Host @slot maps region @r no more: mapping bookkeeping only. */
static void unmap_region(QcxlPoolRegion *reg, int slot)
{
    reg->mapped &= ~(1ULL << slot);
    if (!reg->mapped) {
        reg->use = QCXL_REGION_USE_NONE;
    }
}

/* Mapping bookkeeping, like detach: the region itself does not change */
static void unmap_host(QcxlPool *pool, QcxlPoolMeta *meta, int slot)
{
    for (int i = 0; i < QCXL_POOL_REGIONS; i++) {
        if (meta->regions[i].mapped >> slot & 1) {
            unmap_region(&meta->regions[i], slot);
        }
    }
    qcxl_pool_publish_none(pool, slot);
}

static bool tx_join(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                    GError **errp)
{
    TxArgs *a = opaque;
    int h = qcxl_pool_find_host(meta, a->name);

    a->created = false;
    if (h < 0 && a->flag) {
        h = add_host(meta, a->name, errp);
        a->created = h >= 0;
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
    unmap_host(pool, meta, h);
    a->slot = h;
    a->incarnation = meta->hosts[h].incarnation;
    return true;
}

int qcxl_pool_join(QcxlPool *pool, const char *name, bool create,
                   bool *created, uint64_t *incarnation, GError **errp)
{
    TxArgs a = { .name = name, .flag = create };

    if (!qcxl_pool_valid_name(name, QCXL_POOL_HOST_NAME_LEN, errp) ||
        !qcxl_pool_transact(pool, tx_join, &a, errp)) {
        return -1;
    }
    qcxl_pool_beat(pool, a.slot);
    *incarnation = a.incarnation;
    if (created) {
        *created = a.created;
    }
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
    unmap_host(pool, meta, a->slot);
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
    unmap_host(pool, meta, h);
    return true;
}

bool qcxl_pool_evict(QcxlPool *pool, const char *name, GError **errp)
{
    TxArgs a = { .name = name };

    return qcxl_pool_transact(pool, tx_evict, &a, errp);
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
        if (!qcxl_pool_zero_extents(pool, ext + want, n - want, errp)) {
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
    if (!qcxl_pool_zero_extents(pool, ext, n, errp)) {
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
        !(reg->mode == QCXL_REGION_SHARED &&
          (reg->sharers >> reg->owner & 1))) {
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

/*
 * The actor takes region @name over from host slot @from (named
 * @from_name): at @generation if that is not NULL.
 */
static bool take_region(QcxlPool *pool, QcxlPoolMeta *meta, int from,
                        const char *from_name, const char *name,
                        const uint64_t *generation, GError **errp)
{
    int r = need_region(meta, name, errp);
    QcxlPoolRegion *reg;

    if (r < 0) {
        return false;
    }
    reg = &meta->regions[r];
    if (reg->owner != from) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_PERM,
                    "region '%s' no longer belongs to host '%s'",
                    reg->name, from_name);
        return false;
    }
    if (generation && reg->generation != *generation) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "region '%s' changed since host '%s' handed it "
                    "over (generation %" G_GUINT64_FORMAT ", offered %"
                    G_GUINT64_FORMAT ")", reg->name, from_name,
                    reg->generation, *generation);
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
    return true;
}

/* Only a host with a lease takes regions over; returns @from's slot */
static int taker_and_from(QcxlPool *pool, QcxlPoolMeta *meta,
                          const char *from, GError **errp)
{
    if (pool->actor < 0) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "only a host can take regions over");
        return -1;
    }
    if (!actor_active(pool, meta, errp)) {
        return -1;
    }
    return need_host(meta, from, errp);
}

static bool tx_handoff(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                       GError **errp)
{
    HandoffArgs *a = opaque;
    int from = taker_and_from(pool, meta, a->from, errp);

    if (from < 0) {
        return false;
    }
    for (guint i = 0; i < a->n; i++) {
        if (!take_region(pool, meta, from, a->from, a->names[i],
                         &a->generations[i], errp)) {
            return false;
        }
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

/*
 * HA takeover: the old owner is gone, not handing anything over.  It
 * must hold no live lease: fenced, inactive, or active at the
 * incarnation whose lease the caller watched expire (it is fenced here,
 * as by an eviction, in the same transaction).
 */
typedef struct TakeoverArgs {
    const char *from;
    bool expired;
    uint64_t incarnation;
    guint n;
    const char *const *names;
} TakeoverArgs;

static bool tx_takeover(QcxlPool *pool, QcxlPoolMeta *meta, void *opaque,
                        GError **errp)
{
    TakeoverArgs *a = opaque;
    int from = taker_and_from(pool, meta, a->from, errp);
    QcxlPoolHost *h;

    if (from < 0) {
        return false;
    }
    h = &meta->hosts[from];
    if (from == pool->actor) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "host '%s' cannot take regions over from itself",
                    a->from);
        return false;
    }
    if (h->state == QCXL_HOST_ACTIVE) {
        if (!a->expired || h->incarnation != a->incarnation) {
            g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                        "host '%s' still holds a live lease (incarnation %"
                        G_GUINT64_FORMAT "); fence it first (qcxl-pool "
                        "evict) or wait until its lease expires",
                        a->from, h->incarnation);
            return false;
        }
        h->state = QCXL_HOST_FENCED;
        h->incarnation++;
        unmap_host(pool, meta, from);
    }
    for (guint i = 0; i < a->n; i++) {
        if (!take_region(pool, meta, from, a->from, a->names[i], NULL,
                         errp)) {
            return false;
        }
    }
    return true;
}

bool qcxl_pool_takeover(QcxlPool *pool, const char *from, bool expired,
                        uint64_t incarnation, guint n,
                        const char *const *names, GError **errp)
{
    TakeoverArgs a = { .from = from, .expired = expired,
                       .incarnation = incarnation, .n = n, .names = names };

    return qcxl_pool_transact(pool, tx_takeover, &a, errp);
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
    if (reg->mapped >> a->slot & 1) {
        /* One use at a time: a stage onto guest RAM, a ring over it... */
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "host '%s' maps region '%s' already (as %s)",
                    meta->hosts[a->slot].name, a->name,
                    qcxl_pool_use_name(reg->use));
        return false;
    }
    if (reg->mapped && reg->use != a->use) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "region '%s' is in use as %s, not as %s",
                    a->name, qcxl_pool_use_name(reg->use),
                    qcxl_pool_use_name(a->use));
        return false;
    }
    reg->mapped |= 1ULL << a->slot;
    reg->use = a->use;
    qcxl_pool_publish(pool, a->slot, r, true);
    a->published = r + 1;
    a->size = reg->size;
    g_free(a->extents);
    a->extents = qcxl_pool_region_extents(meta, r, &a->count);
    return true;
}

uint32_t *qcxl_pool_attach(QcxlPool *pool, const char *region, int slot,
                           uint64_t incarnation, QcxlRegionUse use,
                           uint64_t *size, uint32_t *count, GError **errp)
{
    TxArgs a = { .name = region, .slot = slot, .incarnation = incarnation,
                 .use = use };

    if (use == QCXL_REGION_USE_NONE || use >= QCXL_REGION_USE__MAX) {
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                    "attaching region '%s' as %u: not a use", region, use);
        return NULL;
    }
    if (!qcxl_pool_transact(pool, tx_attach, &a, errp)) {
        if (a.published) {
            /* Not committed after all */
            qcxl_pool_publish(pool, slot, a.published - 1, false);
        }
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
    if (!(meta->regions[r].mapped >> a->slot & 1)) {
        return true;
    }
    if (meta->regions[r].use != a->use) {
        /* Somebody else's use of it: not ours to drop */
        g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY,
                    "region '%s' is mapped as %s, not as %s", a->name,
                    qcxl_pool_use_name(meta->regions[r].use),
                    qcxl_pool_use_name(a->use));
        return false;
    }
    unmap_region(&meta->regions[r], a->slot);
    qcxl_pool_publish(pool, a->slot, r, false);
    a->published = r + 1;
    return true;
}

bool qcxl_pool_detach(QcxlPool *pool, const char *region, int slot,
                      uint64_t incarnation, QcxlRegionUse use,
                      GError **errp)
{
    TxArgs a = { .name = region, .slot = slot, .incarnation = incarnation,
                 .use = use };

    if (!qcxl_pool_transact(pool, tx_detach, &a, errp)) {
        if (a.published) {
            /* Not committed after all: still mapped */
            qcxl_pool_publish(pool, slot, a.published - 1, true);
        }
        return false;
    }
    return true;
}
