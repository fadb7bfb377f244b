/*
 * qcxl: a memory backend carved from a named region of a shared pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   -object memory-backend-qcxl-pool,id=m0,pool=/dev/shm/pool,
 *           host=hostA,region=shared0
 *
 * The QEMU process joins the pool as host @host (one join per pool and
 * host in a process, shared by its backends), heartbeats for it from a
 * thread of its own, and maps the region's extents MAP_SHARED, in order,
 * into one reserved range: the guest sees one contiguous RAM block that
 * the flat view holds as RAM (so KVM gets a memslot, TCG direct access).
 * If the host is evicted (its lease lapsed), the guest is stopped: it
 * must not keep using memory the pool may have handed on.
 */

#include "qemu/osdep.h"
#include "system/hostmem.h"
#include "system/runstate.h"
#include "system/system.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/module.h"
#include "qemu/notify.h"
#include "qemu/thread.h"
#include "qom/object_interfaces.h"
#include "hw/mem/qcxl_pool.h"

#define TYPE_MEMORY_BACKEND_QCXL_POOL "memory-backend-qcxl-pool"
OBJECT_DECLARE_SIMPLE_TYPE(QcxlPoolBackend, MEMORY_BACKEND_QCXL_POOL)

/* One pool membership of this process: (pool, host) */
typedef struct QcxlPoolHostCtx {
    char *path;
    char *host;
    QcxlPool *pool;
    int slot;
    uint64_t incarnation;
    int refs;
    QemuThread thread;
    QemuSemaphore stop;
    bool fenced;
} QcxlPoolHostCtx;

struct QcxlPoolBackend {
    HostMemoryBackend parent_obj;

    char *pool_path;
    char *host;
    char *region;
    bool create_host;

    QcxlPoolHostCtx *ctx;
    void *reserved;
    uint64_t reserved_size;
};

static GList *contexts;     /* of QcxlPoolHostCtx, under the BQL */
static Notifier exit_notifier;

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

static QcxlPoolHostCtx *ctx_get(const char *path, const char *host,
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

static void ctx_put(QcxlPoolHostCtx *ctx)
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
    g_free(ctx->path);
    g_free(ctx->host);
    g_free(ctx);
}

/*
 * Map @count extents, in order, into a reserved range aligned to the
 * extent size (huge-page and DAX alignment); runs of consecutive
 * extents become one mapping.
 */
static void *map_extents(QcxlPoolBackend *pb, const uint32_t *ext,
                         uint32_t count, Error **errp)
{
    QcxlPool *pool = pb->ctx->pool;
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
    pb->reserved = base;
    pb->reserved_size = size;

    for (uint32_t i = 0; i < count;) {
        uint32_t run = 1;
        while (i + run < count && ext[i + run] == ext[i] + run) {
            run++;
        }
        if (mmap(base + i * e, run * e, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_FIXED, qcxl_pool_fd(pool),
                 qcxl_pool_extent_offset(pool, ext[i])) == MAP_FAILED) {
            error_setg_errno(errp, errno, "qcxl pool %s: mapping extents "
                             "%u..%u", pb->pool_path, ext[i],
                             ext[i] + run - 1);
            munmap(base, size);
            pb->reserved = NULL;
            return NULL;
        }
        i += run;
    }
    return base;
}

static bool qcxl_pool_backend_alloc(HostMemoryBackend *backend, Error **errp)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(backend);
    g_autoptr(GError) err = NULL;
    g_autofree uint32_t *ext = NULL;
    g_autofree char *name = NULL;
    uint64_t size;
    uint32_t count;
    void *ptr;

    if (!pb->pool_path || !pb->host || !pb->region) {
        error_setg(errp, "memory-backend-qcxl-pool needs pool, host and "
                   "region");
        return false;
    }
    if (!qcxl_pool_valid_name(pb->host, QCXL_POOL_HOST_NAME_LEN, &err) ||
        !qcxl_pool_valid_name(pb->region, QCXL_POOL_REGION_NAME_LEN, &err)) {
        error_setg(errp, "qcxl pool: %s", err->message);
        return false;
    }
    pb->ctx = ctx_get(pb->pool_path, pb->host, pb->create_host, errp);
    if (!pb->ctx) {
        return false;
    }
    ext = qcxl_pool_attach(pb->ctx->pool, pb->region, pb->ctx->slot,
                           pb->ctx->incarnation, &size, &count, &err);
    if (!ext) {
        error_setg(errp, "qcxl pool %s: region '%s': %s", pb->pool_path,
                   pb->region, err->message);
        goto fail;
    }
    if (backend->size && backend->size != size) {
        error_setg(errp, "qcxl pool %s: region '%s' is %" PRIu64 " bytes, "
                   "not the %" PRIu64 " given by size= (leave size out)",
                   pb->pool_path, pb->region, size, backend->size);
        goto fail_detach;
    }
    ptr = map_extents(pb, ext, count, errp);
    if (!ptr) {
        goto fail_detach;
    }
    backend->size = size;
    backend->share = true;
    name = host_memory_backend_get_name(backend);
    memory_region_init_ram_ptr(&backend->mr, OBJECT(backend), name, size,
                               ptr);
    return true;

fail_detach:
    qcxl_pool_detach(pb->ctx->pool, pb->region, pb->ctx->slot,
                     pb->ctx->incarnation, NULL);
fail:
    ctx_put(pb->ctx);
    pb->ctx = NULL;
    return false;
}

static void qcxl_pool_backend_finalize(Object *obj)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(obj);

    if (pb->ctx) {
        if (!pb->ctx->fenced) {
            qcxl_pool_detach(pb->ctx->pool, pb->region, pb->ctx->slot,
                             pb->ctx->incarnation, NULL);
        }
        ctx_put(pb->ctx);
    }
    if (pb->reserved) {
        munmap(pb->reserved, pb->reserved_size);
    }
    g_free(pb->pool_path);
    g_free(pb->host);
    g_free(pb->region);
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
        "the named region to map (owned by or shared with the host)");
    object_class_property_add_bool(oc, "create-host", get_create_host,
                                   set_create_host);
    object_class_property_set_description(oc, "create-host",
        "register the host in the pool if it is not (default on)");
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
