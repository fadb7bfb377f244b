/*
 * qcxl: a memory backend carved from a named region of a shared pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   -object memory-backend-qcxl-pool,id=m0,pool=/dev/shm/pool,
 *           host=hostA,region=excl0:shared0
 *
 * The QEMU process joins the pool as host @host (one join per pool and
 * host in a process, shared by its backends), heartbeats for it from a
 * thread of its own, and maps the extents of the named regions (one, or
 * several separated by ':') MAP_SHARED, region after region, into one
 * reserved range: the guest sees one contiguous RAM block that the flat
 * view holds as RAM (so KVM gets a memslot, TCG direct access).  As the
 * memdev of a cxl-type3 device it makes that device one head of the
 * pool's multi-headed device: the head's capacity is what the host was
 * given, and its serial number (property device-serial) is the pool's,
 * the same in every QEMU.
 * If the host is evicted (its lease lapsed), the guest is stopped: it
 * must not keep using memory the pool may have handed on.
 */

#include "qemu/osdep.h"
#include "system/hostmem.h"
#include "exec/ramblock.h"
#include "system/runstate.h"
#include "system/system.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-qcxl.h"
#include "qapi/qapi-events-qcxl.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/notify.h"
#include "qemu/thread.h"
#include "qemu/uuid.h"
#include "qom/object_interfaces.h"
#include "hw/mem/qcxl_pool.h"
#include "hw/mem/qcxl_pool_backend.h"

static GList *contexts;     /* of QcxlPoolHostCtx, under the BQL */
static GSList *rams;        /* of QcxlPoolRam in the pool, under the BQL */
static Notifier exit_notifier;

/*
 * Watch the other active hosts' heartbeat counters: one that has not
 * moved for a whole lease (on this machine's monotonic clock) is
 * reported, once per incarnation.  Nobody is evicted here: that is the
 * management layer's decision (qcxl-pool-evict).
 */
static void watch_leases(QcxlPoolHostCtx *ctx, const QcxlPoolMeta *meta)
{
    int64_t now = g_get_monotonic_time() / 1000;
    uint32_t lease = qcxl_pool_super(ctx->pool)->lease_ms;

    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        const QcxlPoolHost *h = &meta->hosts[i];
        HostWatch *w = &ctx->watch[i];
        uint64_t beat;
        bool report = false;

        qemu_mutex_lock(&ctx->lock);
        if (i == ctx->slot || h->state != QCXL_HOST_ACTIVE) {
            w->valid = false;
        } else {
            beat = qcxl_pool_heartbeat(ctx->pool, i);
            if (!w->valid || w->incarnation != h->incarnation ||
                w->beat != beat) {
                *w = (HostWatch) { .valid = true,
                                   .incarnation = h->incarnation,
                                   .beat = beat, .since_ms = now };
            } else if (!w->expired && now - w->since_ms >= lease) {
                w->expired = true;
                report = true;
            }
        }
        qemu_mutex_unlock(&ctx->lock);
        if (report) {
            warn_report("qcxl pool %s: host '%s' (incarnation %" PRIu64
                        ") has not heartbeat for %u ms: its lease expired",
                        ctx->path, h->name, h->incarnation, lease);
            qapi_event_send_qcxl_pool_lease_expired(ctx->path, h->name,
                                                    h->incarnation);
        }
    }
}

/* Has this QEMU seen (slot, incarnation)'s lease expire? */
static bool lease_expired(QcxlPoolHostCtx *ctx, int slot,
                          uint64_t incarnation)
{
    HostWatch *w = &ctx->watch[slot];
    bool expired;

    qemu_mutex_lock(&ctx->lock);
    expired = w->valid && w->expired && w->incarnation == incarnation;
    qemu_mutex_unlock(&ctx->lock);
    return expired;
}

static void *heartbeat_thread(void *opaque)
{
    QcxlPoolHostCtx *ctx = opaque;
    uint32_t period = qcxl_pool_super(ctx->pool)->lease_ms / 4;

    for (;;) {
        g_autoptr(QcxlPoolMeta) meta = NULL;

        qcxl_pool_beat(ctx->pool, ctx->slot);
        meta = qcxl_pool_read(ctx->pool, NULL);
        if (meta && !ctx->fenced &&
            !qcxl_pool_still_active(meta, ctx->slot, ctx->incarnation)) {
            ctx->fenced = true;
            error_report("qcxl pool %s: host '%s' was evicted (its lease "
                         "lapsed or an operator fenced it); stopping the "
                         "guest, whose pool memory may have been handed on",
                         ctx->path, ctx->host);
            qemu_system_vmstop_request_prepare();
            qemu_system_vmstop_request(RUN_STATE_IO_ERROR);
        }
        if (meta && !ctx->fenced) {
            watch_leases(ctx, meta);
        }
        if (qemu_sem_timedwait(&ctx->stop, period) == 0) {
            break;
        }
    }
    return NULL;
}

static void ctx_stop(QcxlPoolHostCtx *ctx)
{
    qemu_sem_post(&ctx->stop);
    qemu_thread_join(&ctx->thread);
    qemu_sem_destroy(&ctx->stop);
}

/* At exit, leave cleanly: the host becomes inactive, its maps are gone */
static void pool_exit(Notifier *n, void *data)
{
    for (GList *l = contexts; l; l = l->next) {
        QcxlPoolHostCtx *ctx = l->data;
        g_autoptr(GError) err = NULL;

        ctx_stop(ctx);
        if (!ctx->fenced &&
            !qcxl_pool_leave(ctx->pool, ctx->slot, ctx->incarnation, &err)) {
            warn_report("qcxl pool %s: leaving as host '%s': %s", ctx->path,
                        ctx->host, err->message);
        }
    }
}

QcxlPoolHostCtx *qcxl_pool_ctx_get(const char *path, const char *host,
                                   bool create, Error **errp)
{
    g_autoptr(GError) err = NULL;
    QcxlPoolHostCtx *ctx;
    g_autoptr(QcxlPool) pool = NULL;
    uint64_t inc;
    int slot;

    for (GList *l = contexts; l; l = l->next) {
        ctx = l->data;
        if (!strcmp(ctx->path, path) && !strcmp(ctx->host, host)) {
            ctx->refs++;
            return ctx;
        }
    }
    pool = qcxl_pool_open(path, &err);
    if (!pool) {
        error_setg(errp, "qcxl pool: %s", err->message);
        return NULL;
    }
    slot = qcxl_pool_join(pool, host, create, &inc, &err);
    if (slot < 0) {
        error_setg(errp, "qcxl pool %s: joining as host '%s': %s", path,
                   host, err->message);
        return NULL;
    }
    ctx = g_new0(QcxlPoolHostCtx, 1);
    ctx->path = g_strdup(path);
    ctx->host = g_strdup(host);
    ctx->pool = g_steal_pointer(&pool);
    ctx->slot = slot;
    ctx->incarnation = inc;
    ctx->refs = 1;
    qcxl_pool_act_as(ctx->pool, slot, inc);
    qemu_mutex_init(&ctx->lock);
    qemu_sem_init(&ctx->stop, 0);
    qemu_thread_create(&ctx->thread, "qcxl-pool-hb", heartbeat_thread, ctx,
                       QEMU_THREAD_JOINABLE);
    if (!contexts) {
        exit_notifier.notify = pool_exit;
        qemu_add_exit_notifier(&exit_notifier);
    }
    contexts = g_list_prepend(contexts, ctx);
    return ctx;
}

void qcxl_pool_ctx_put(QcxlPoolHostCtx *ctx)
{
    g_autoptr(GError) err = NULL;

    if (--ctx->refs) {
        return;
    }
    contexts = g_list_remove(contexts, ctx);
    ctx_stop(ctx);
    if (!ctx->fenced &&
        !qcxl_pool_leave(ctx->pool, ctx->slot, ctx->incarnation, &err)) {
        warn_report("qcxl pool %s: leaving as host '%s': %s", ctx->path,
                    ctx->host, err->message);
    }
    qcxl_pool_close(ctx->pool);
    qemu_mutex_destroy(&ctx->lock);
    g_free(ctx->path);
    g_free(ctx->host);
    g_free(ctx);
}

/*
 * The range is aligned to the extent size (huge-page and DAX
 * alignment); runs of consecutive extents become one mapping.
 */
void *qcxl_pool_map_extents(QcxlPoolHostCtx *ctx, const uint32_t *ext,
                            uint32_t count, Error **errp)
{
    QcxlPool *pool = ctx->pool;
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
                             "%u..%u", ctx->path, ext[i], ext[i] + run - 1);
            munmap(base, size);
            return NULL;
        }
        i += run;
    }
    return base;
}

bool qcxl_pool_ram_data_run(QcxlPoolRam *ram, uint64_t *off, uint64_t end,
                            uint64_t *len)
{
    QcxlPool *pool = ram->ctx->pool;
    uint64_t e = qcxl_pool_super(pool)->extent_size;

    /* lseek() moves the fd's offset: nothing reads the pool by it */
    if (qcxl_pool_is_dax(pool)) {
        *len = end - *off;
        return *off < end;
    }
    while (*off < end) {
        uint64_t i = *off / e;
        off_t base, stop, data, hole;

        g_assert(i < ram->ext_count);
        base = qcxl_pool_extent_offset(pool, ram->ext[i]);
        stop = base + MIN(e, end - i * e);
        data = base + *off % e;
        if (data >= ram->data_lo && data < ram->data_hi) {
            hole = ram->data_hi;
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
                ram->data_lo = data;
                ram->data_hi = hole;
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

/* fallocate() or pwrite() [@off, @off + @len) of @ram, extent by extent */
static int file_range(QcxlPoolRam *ram, uint64_t off, uint64_t len,
                      const uint8_t *buf)
{
    QcxlPool *pool = ram->ctx->pool;
    uint64_t e = qcxl_pool_super(pool)->extent_size;

    if (qcxl_pool_is_dax(pool)) {
        return -ENOTSUP;
    }
    while (len) {
        uint64_t i = off / e, n = MIN(len, e - off % e);
        off_t pos;
        ssize_t r;

        g_assert(i < ram->ext_count);
        pos = qcxl_pool_extent_offset(pool, ram->ext[i]) + off % e;
        if (buf) {
            r = pwrite(qcxl_pool_fd(pool), buf, n, pos);
        } else {
            r = fallocate(qcxl_pool_fd(pool), 0, pos, n) ? -1 : n;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r < 0 ? -errno : -EIO;
        }
        off += r;
        len -= r;
        buf = buf ? buf + r : NULL;
    }
    return 0;
}

int qcxl_pool_ram_allocate(QcxlPoolRam *ram, uint64_t off, uint64_t len)
{
    return file_range(ram, off, len, NULL);
}

int qcxl_pool_ram_write(QcxlPoolRam *ram, uint64_t off, const void *buf,
                        uint64_t len)
{
    return file_range(ram, off, len, buf);
}

void qcxl_pool_ram_detach(QcxlPoolRam *ram)
{
    if (!ram->ctx->fenced) {
        for (int i = 0; i < ram->attached; i++) {
            qcxl_pool_detach(ram->ctx->pool, ram->regions[i], ram->ctx->slot,
                             ram->ctx->incarnation, NULL);
        }
    }
    ram->attached = 0;
}

static bool qcxl_pool_backend_alloc(HostMemoryBackend *backend, Error **errp)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(backend);
    QcxlPoolRam *ram = &pb->ram;
    g_autoptr(GError) err = NULL;
    g_autoptr(GArray) ext = g_array_new(false, false, sizeof(uint32_t));
    g_autofree char *name = NULL;
    uint64_t total = 0;
    void *ptr;

    if (!pb->pool_path || !pb->host || !pb->region) {
        error_setg(errp, "memory-backend-qcxl-pool needs pool, host and "
                   "region");
        return false;
    }
    if (!qcxl_pool_valid_name(pb->host, QCXL_POOL_HOST_NAME_LEN, &err)) {
        error_setg(errp, "qcxl pool: host: %s", err->message);
        return false;
    }
    g_strfreev(ram->regions);
    ram->regions = g_strsplit(pb->region, ":", -1);
    for (int i = 0; ram->regions[i]; i++) {
        if (!qcxl_pool_valid_name(ram->regions[i], QCXL_POOL_REGION_NAME_LEN,
                                  &err)) {
            error_setg(errp, "qcxl pool: region: %s", err->message);
            return false;
        }
        for (int j = 0; j < i; j++) {
            if (!strcmp(ram->regions[i], ram->regions[j])) {
                error_setg(errp, "qcxl pool: region '%s' is named twice",
                           ram->regions[i]);
                return false;
            }
        }
    }
    if (g_strv_length(ram->regions) > QCXL_POOL_REGIONS) {
        error_setg(errp, "qcxl pool: more than %d regions", QCXL_POOL_REGIONS);
        return false;
    }
    ram->ctx = qcxl_pool_ctx_get(pb->pool_path, pb->host, pb->create_host,
                                 errp);
    if (!ram->ctx) {
        return false;
    }
    for (int i = 0; ram->regions[i]; i++) {
        g_autofree uint32_t *e = NULL;
        uint64_t size;
        uint32_t count;

        e = qcxl_pool_attach(ram->ctx->pool, ram->regions[i], ram->ctx->slot,
                             ram->ctx->incarnation, &size, &count, &err);
        if (!e) {
            error_setg(errp, "qcxl pool %s: region '%s': %s", pb->pool_path,
                       ram->regions[i], err->message);
            goto fail;
        }
        ram->attached++;
        g_array_append_vals(ext, e, count);
        total += size;
    }
    if (backend->size != total) {
        error_setg(errp, "qcxl pool %s: region%s '%s' %s %" PRIu64 " bytes, "
                   "not the %" PRIu64 " given by size= (size must be what "
                   "the regions hold)",
                   pb->pool_path, ram->regions[1] ? "s" : "", pb->region,
                   ram->regions[1] ? "are together" : "is", total,
                   backend->size);
        goto fail;
    }
    ptr = qcxl_pool_map_extents(ram->ctx, (uint32_t *)ext->data, ext->len,
                                errp);
    if (!ptr) {
        goto fail;
    }
    pb->reserved = ptr;
    pb->reserved_size = total;
    backend->size = total;
    backend->share = true;
    name = host_memory_backend_get_name(backend);
    memory_region_init_ram_ptr(&backend->mr, OBJECT(backend), name, total,
                               ptr);
    ram->backend = backend;
    ram->ptr = ptr;
    ram->size = total;
    ram->pool_end = total;
    ram->ext_count = ext->len;
    ram->ext = (uint32_t *)g_array_free(g_steal_pointer(&ext), false);
    qcxl_pool_ram_add(ram);
    return true;

fail:
    qcxl_pool_ram_detach(ram);
    qcxl_pool_ctx_put(ram->ctx);
    ram->ctx = NULL;
    return false;
}

static void qcxl_pool_backend_finalize(Object *obj)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(obj);
    QcxlPoolRam *ram = &pb->ram;

    qcxl_pool_ram_remove(ram);
    if (ram->ctx) {
        qcxl_pool_ram_detach(ram);
        qcxl_pool_ctx_put(ram->ctx);
    }
    if (pb->reserved) {
        munmap(pb->reserved, pb->reserved_size);
    }
    g_strfreev(ram->regions);
    g_free(ram->ext);
    g_free(pb->pool_path);
    g_free(pb->host);
    g_free(pb->region);
}

GSList *qcxl_pool_rams(void)
{
    return rams;
}

void qcxl_pool_ram_add(QcxlPoolRam *ram)
{
    RAMBlock *rb = ram->backend->mr.ram_block;

    /*
     * The block is memory other QEMUs map too, by name: shared, from a
     * named file.  That is what x-ignore-shared looks for, so a
     * migration to a QEMU that maps the same regions copies none of it.
     */
    rb->flags |= RAM_SHARED | RAM_NAMED_FILE;
    rams = g_slist_append(rams, ram);
    qcxl_pool_migration_init();
}

void qcxl_pool_ram_remove(QcxlPoolRam *ram)
{
    if (g_slist_find(rams, ram)) {
        ram->backend->mr.ram_block->flags &= ~(RAM_SHARED | RAM_NAMED_FILE);
        rams = g_slist_remove(rams, ram);
    }
}

void qcxl_pool_ram_fence(QcxlPoolRam *ram)
{
    if (mmap(ram->ptr, ram->size, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
             -1, 0) == MAP_FAILED) {
        /* keep the pool out of reach even without memory behind it */
        mprotect(ram->ptr, ram->size, PROT_NONE);
    }
    qcxl_pool_ram_detach(ram);
}

struct QcxlPoolMapping {
    QcxlPoolHostCtx *ctx;
    char *region;
    void *ptr;
    uint64_t size;
};

QcxlPoolMapping *qcxl_pool_mapping_new(const char *pool, const char *host,
                                       const char *region, Error **errp)
{
    QcxlPoolHostCtx *ctx = qcxl_pool_ctx_find(pool, host, errp);
    g_autoptr(GError) err = NULL;
    g_autofree uint32_t *ext = NULL;
    QcxlPoolMapping *m;
    uint64_t size;
    uint32_t count;
    void *ptr;

    if (!ctx) {
        return NULL;
    }
    if (!qcxl_pool_valid_name(region, QCXL_POOL_REGION_NAME_LEN, &err)) {
        error_setg(errp, "qcxl pool: region: %s", err->message);
        return NULL;
    }
    ext = qcxl_pool_attach(ctx->pool, region, ctx->slot, ctx->incarnation,
                           &size, &count, &err);
    if (!ext) {
        error_setg(errp, "qcxl pool %s: region '%s': %s", ctx->path, region,
                   err->message);
        return NULL;
    }
    ptr = qcxl_pool_map_extents(ctx, ext, count, errp);
    if (!ptr) {
        qcxl_pool_detach(ctx->pool, region, ctx->slot, ctx->incarnation,
                         NULL);
        return NULL;
    }
    ctx->refs++;
    m = g_new0(QcxlPoolMapping, 1);
    m->ctx = ctx;
    m->region = g_strdup(region);
    m->ptr = ptr;
    m->size = size;
    return m;
}

void *qcxl_pool_mapping_ptr(QcxlPoolMapping *m)
{
    return m->ptr;
}

uint64_t qcxl_pool_mapping_size(QcxlPoolMapping *m)
{
    return m->size;
}

void qcxl_pool_mapping_free(QcxlPoolMapping *m)
{
    BQL_LOCK_GUARD();

    munmap(m->ptr, m->size);
    if (!m->ctx->fenced) {
        qcxl_pool_detach(m->ctx->pool, m->region, m->ctx->slot,
                         m->ctx->incarnation, NULL);
    }
    qcxl_pool_ctx_put(m->ctx);
    g_free(m->region);
    g_free(m);
}

static bool not_yet(Object *obj, Error **errp)
{
    if (host_memory_backend_mr_inited(MEMORY_BACKEND(obj))) {
        error_setg(errp, "cannot change a property of %s once it is created",
                   TYPE_MEMORY_BACKEND_QCXL_POOL);
        return false;
    }
    return true;
}

#define STR_PROP(field) \
    static char *get_##field(Object *obj, Error **errp) \
    { \
        return g_strdup(MEMORY_BACKEND_QCXL_POOL(obj)->field); \
    } \
    static void set_##field(Object *obj, const char *v, Error **errp) \
    { \
        QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(obj); \
        if (not_yet(obj, errp)) { \
            g_free(pb->field); \
            pb->field = g_strdup(v); \
        } \
    }
STR_PROP(pool_path)
STR_PROP(host)
STR_PROP(region)

static bool get_create_host(Object *obj, Error **errp)
{
    return MEMORY_BACKEND_QCXL_POOL(obj)->create_host;
}

static void set_create_host(Object *obj, bool v, Error **errp)
{
    if (not_yet(obj, errp)) {
        MEMORY_BACKEND_QCXL_POOL(obj)->create_host = v;
    }
}

/*
 * The serial number of the pool's multi-headed device: the same for
 * every head in every QEMU, derived from the pool's UUID
 */
static void get_device_serial(Object *obj, Visitor *v, const char *name,
                              void *opaque, Error **errp)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(obj);
    uint64_t sn;

    if (!pb->ram.ctx) {
        error_setg(errp, "%s has no pool yet", TYPE_MEMORY_BACKEND_QCXL_POOL);
        return;
    }
    sn = qcxl_pool_device_serial(pb->ram.ctx->pool);
    visit_type_uint64(v, name, &sn, errp);
}

static void qcxl_pool_backend_init(Object *obj)
{
    MEMORY_BACKEND_QCXL_POOL(obj)->create_host = true;
}

static void qcxl_pool_backend_class_init(ObjectClass *oc, void *data)
{
    HostMemoryBackendClass *bc = MEMORY_BACKEND_CLASS(oc);

    bc->alloc = qcxl_pool_backend_alloc;
    object_class_property_add_str(oc, "pool", get_pool_path, set_pool_path);
    object_class_property_set_description(oc, "pool",
        "the pool: a file (e.g. in /dev/shm) or a /dev/daxX.Y device");
    object_class_property_add_str(oc, "host", get_host, set_host);
    object_class_property_set_description(oc, "host",
        "the pool host this QEMU is (its name in the pool)");
    object_class_property_add_str(oc, "region", get_region, set_region);
    object_class_property_set_description(oc, "region",
        "the named regions to map, in order, separated by ':' (each "
        "owned by or shared with the host)");
    object_class_property_add_bool(oc, "create-host", get_create_host,
                                   set_create_host);
    object_class_property_set_description(oc, "create-host",
        "register the host in the pool if it is not (default on)");
    object_class_property_add(oc, "device-serial", "uint64",
                              get_device_serial, NULL, NULL, NULL);
    object_class_property_set_description(oc, "device-serial",
        "serial number of the pool's multi-headed device (read-only; a "
        "cxl-type3 device on this memdev reports it unless sn= is given)");
}

static const TypeInfo qcxl_pool_backend_info = {
    .name = TYPE_MEMORY_BACKEND_QCXL_POOL,
    .parent = TYPE_MEMORY_BACKEND,
    .instance_size = sizeof(QcxlPoolBackend),
    .instance_init = qcxl_pool_backend_init,
    .instance_finalize = qcxl_pool_backend_finalize,
    .class_init = qcxl_pool_backend_class_init,
};

static void register_types(void)
{
    type_register_static(&qcxl_pool_backend_info);
}

type_init(register_types);

/* QMP */

QcxlPoolHostCtx *qcxl_pool_ctx_find(const char *pool, const char *host,
                                    Error **errp)
{
    QcxlPoolHostCtx *found = NULL;
    int n = 0;

    for (GList *l = contexts; l; l = l->next) {
        QcxlPoolHostCtx *ctx = l->data;

        if ((!pool || !strcmp(ctx->path, pool)) &&
            (!host || !strcmp(ctx->host, host))) {
            found = ctx;
            n++;
        }
    }
    if (!n) {
        error_setg(errp, "this QEMU has joined no qcxl pool%s%s%s%s%s "
                   "(a memory-backend-qcxl-pool object joins one)",
                   pool ? " " : "", pool ? pool : "",
                   host ? " as host '" : "", host ? host : "",
                   host ? "'" : "");
        return NULL;
    }
    if (n > 1) {
        error_setg(errp, "this QEMU is %d hosts of qcxl pools: say which "
                   "with 'pool' and 'host'", n);
        return NULL;
    }
    if (found->fenced) {
        error_setg(errp, "qcxl pool %s: host '%s' was evicted; this QEMU "
                   "no longer acts for it", found->path, found->host);
        return NULL;
    }
    return found;
}

static bool pool_error(QcxlPoolHostCtx *ctx, GError *err, Error **errp)
{
    error_setg(errp, "qcxl pool %s: %s", ctx->path, err->message);
    return false;
}

static strList *host_names(const QcxlPoolMeta *meta, uint64_t mask)
{
    strList *list = NULL;

    for (int i = QCXL_POOL_HOSTS - 1; i >= 0; i--) {
        if ((mask >> i & 1) && meta->hosts[i].state != QCXL_HOST_FREE) {
            QAPI_LIST_PREPEND(list, g_strdup(meta->hosts[i].name));
        }
    }
    return list;
}

static QcxlPoolInfo *pool_info(QcxlPoolHostCtx *ctx, Error **errp)
{
    const QcxlPoolSuper *sb = qcxl_pool_super(ctx->pool);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(ctx->pool, &err);
    QcxlPoolInfo *info;
    QemuUUID uuid;

    if (!meta) {
        pool_error(ctx, err, errp);
        return NULL;
    }
    memcpy(uuid.data, sb->uuid, sizeof(uuid.data));
    info = g_new0(QcxlPoolInfo, 1);
    info->pool = g_strdup(ctx->path);
    info->host = g_strdup(ctx->host);
    info->fenced = ctx->fenced;
    info->uuid = qemu_uuid_unparse_strdup(&uuid);
    info->device_serial = qcxl_pool_device_serial(ctx->pool);
    info->size = sb->size;
    info->extent_size = sb->extent_size;
    info->free = (uint64_t)qcxl_pool_free_extents(meta) * sb->extent_size;
    info->lease_ms = sb->lease_ms;

    for (int i = QCXL_POOL_REGIONS - 1; i >= 0; i--) {
        const QcxlPoolRegion *r = &meta->regions[i];
        QcxlPoolRegionInfo *ri;

        if (r->state != QCXL_REGION_ACTIVE) {
            continue;
        }
        ri = g_new0(QcxlPoolRegionInfo, 1);
        ri->name = g_strdup(r->name);
        ri->size = r->size;
        ri->shared = r->mode == QCXL_REGION_SHARED;
        if (r->owner < QCXL_POOL_HOSTS &&
            meta->hosts[r->owner].state != QCXL_HOST_FREE) {
            ri->owner = g_strdup(meta->hosts[r->owner].name);
        }
        ri->sharers = host_names(meta, r->sharers);
        ri->mapped_by = host_names(meta, r->mapped);
        ri->generation = r->generation;
        QAPI_LIST_PREPEND(info->regions, ri);
    }
    for (int i = QCXL_POOL_HOSTS - 1; i >= 0; i--) {
        const QcxlPoolHost *h = &meta->hosts[i];
        QcxlPoolHostInfo *hi;

        if (h->state == QCXL_HOST_FREE) {
            continue;
        }
        hi = g_new0(QcxlPoolHostInfo, 1);
        hi->name = g_strdup(h->name);
        hi->state = h->state == QCXL_HOST_ACTIVE ? QCXL_POOL_HOST_STATE_ACTIVE
                  : h->state == QCXL_HOST_FENCED ? QCXL_POOL_HOST_STATE_FENCED
                  : QCXL_POOL_HOST_STATE_INACTIVE;
        hi->incarnation = h->incarnation;
        hi->lease_expired = lease_expired(ctx, i, h->incarnation);
        QAPI_LIST_PREPEND(info->hosts, hi);
    }
    return info;
}

QcxlPoolInfoList *qmp_query_qcxl_pool(Error **errp)
{
    QcxlPoolInfoList *list = NULL, **tail = &list;

    for (GList *l = g_list_last(contexts); l; l = l->prev) {
        QcxlPoolInfo *info = pool_info(l->data, errp);

        if (!info) {
            qapi_free_QcxlPoolInfoList(list);
            return NULL;
        }
        QAPI_LIST_APPEND(tail, info);
    }
    return list;
}

void qmp_qcxl_pool_region_create(const char *pool, const char *host,
                                 const char *name, uint64_t size,
                                 bool has_shared, bool shared, Error **errp)
{
    QcxlPoolHostCtx *ctx = qcxl_pool_ctx_find(pool, host, errp);
    g_autoptr(GError) err = NULL;

    if (ctx && !qcxl_pool_region_create(ctx->pool, name, size, ctx->host,
                                        has_shared && shared, &err)) {
        pool_error(ctx, err, errp);
    }
}

void qmp_qcxl_pool_region_share(const char *pool, const char *host,
                                const char *name, const char *sharer,
                                bool has_share, bool share, Error **errp)
{
    QcxlPoolHostCtx *ctx = qcxl_pool_ctx_find(pool, host, errp);
    g_autoptr(GError) err = NULL;

    if (ctx && !qcxl_pool_region_share(ctx->pool, name, sharer,
                                       !has_share || share, &err)) {
        pool_error(ctx, err, errp);
    }
}

void qmp_qcxl_pool_region_release(const char *pool, const char *host,
                                  const char *name, Error **errp)
{
    QcxlPoolHostCtx *ctx = qcxl_pool_ctx_find(pool, host, errp);
    g_autoptr(GError) err = NULL;

    if (ctx && !qcxl_pool_region_delete(ctx->pool, name, &err)) {
        pool_error(ctx, err, errp);
    }
}

void qmp_qcxl_pool_evict(const char *pool, const char *host,
                         const char *target, bool has_force, bool force,
                         Error **errp)
{
    QcxlPoolHostCtx *ctx = qcxl_pool_ctx_find(pool, host, errp);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    int h;

    if (!ctx) {
        return;
    }
    if (!(has_force && force)) {
        meta = qcxl_pool_read(ctx->pool, &err);
        if (!meta) {
            pool_error(ctx, err, errp);
            return;
        }
        h = qcxl_pool_find_host(meta, target);
        if (h >= 0 && h != ctx->slot &&
            meta->hosts[h].state == QCXL_HOST_ACTIVE &&
            !lease_expired(ctx, h, meta->hosts[h].incarnation)) {
            error_setg(errp, "qcxl pool %s: host '%s' is alive as this "
                       "QEMU sees it (its heartbeat moved within the last "
                       "lease); 'force' evicts it anyway", ctx->path, target);
            return;
        }
        /* other cases: the transaction gives the precise error */
    }
    if (!qcxl_pool_evict(ctx->pool, target, &err)) {
        pool_error(ctx, err, errp);
    }
}
