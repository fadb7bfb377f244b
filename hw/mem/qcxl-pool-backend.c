/*
 * qcxl: a memory backend carved from a named region of a shared pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   -object memory-backend-qcxl-pool,id=m0,pool=/dev/shm/pool,
 *           host=hostA,region=excl0:shared0
 *
 * The QEMU process joins the pool as host @host, by default the
 * machine's host name (one join per pool and
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
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qemu/module.h"
#include "qom/object_interfaces.h"
#include "hw/mem/qcxl_pool_backend.h"
#include "hw/mem/qcxl_pool_ram.h"

struct QcxlPoolBackend {
    HostMemoryBackend parent_obj;

    char *pool_path;
    char *host;
    char *region;
    bool create_host;

    QcxlPoolRam *ram;           /* once allocated */
};

static bool qcxl_pool_backend_alloc(HostMemoryBackend *backend, Error **errp)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(backend);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMember) member = NULL;
    g_autoptr(QcxlPoolMap) map = NULL;
    g_auto(GStrv) regions = NULL;
    g_autofree char *name = NULL;
    Error *local_err = NULL;
    uint64_t total;

    if (!pb->pool_path || !pb->region) {
        error_setg(errp, "memory-backend-qcxl-pool needs pool and region");
        return false;
    }
    if (!pb->host) {
        /*
         * One command line (one domain XML) for every host of the pool:
         * libvirt starts a migration's destination from the source's.
         */
        pb->host = g_strdup(g_get_host_name());
        if (!qcxl_pool_valid_name(pb->host, QCXL_POOL_HOST_NAME_LEN, &err)) {
            error_setg(errp, "qcxl pool: no host= given, and this machine's "
                       "host name will not do as the pool host's name (%s); "
                       "give host=", err->message);
            g_clear_pointer(&pb->host, g_free);
            return false;
        }
    } else if (!qcxl_pool_valid_name(pb->host, QCXL_POOL_HOST_NAME_LEN,
                                     &err)) {
        error_setg(errp, "qcxl pool: host: %s", err->message);
        return false;
    }
    regions = g_strsplit(pb->region, ":", -1);
    if (!qcxl_pool_map_check_names((const char *const *)regions, errp)) {
        return false;
    }
    member = qcxl_pool_member_get(pb->pool_path, pb->host, pb->create_host,
                                  errp);
    if (!member) {
        return false;
    }
    map = qcxl_pool_map_new(member, (const char *const *)regions,
                            QCXL_REGION_USE_MEMORY, &local_err);
    if (map && backend->size != qcxl_pool_map_size(map)) {
        total = qcxl_pool_map_size(map);
        error_setg(&local_err, "qcxl pool %s: region%s '%s' %s %" PRIu64
                   " bytes, not the %" PRIu64 " given by size= (size must "
                   "be what the regions hold)",
                   pb->pool_path, regions[1] ? "s" : "", pb->region,
                   regions[1] ? "are together" : "is", total, backend->size);
        g_clear_pointer(&map, qcxl_pool_map_free);
    }
    if (!map) {
        /*
         * A host this start added goes again, before the error is
         * reported (error_fatal exits), and the error names it.
         */
        if (qcxl_pool_member_created(member)) {
            error_prepend(&local_err, "host '%s' was not in pool %s "
                          "(create-host added it for this start only; check "
                          "host=): ", pb->host, pb->pool_path);
        }
        qcxl_pool_member_abandon(member);
        g_clear_pointer(&member, qcxl_pool_member_unref);
        error_propagate(errp, local_err);
        return false;
    }
    total = qcxl_pool_map_size(map);
    backend->share = true;
    name = host_memory_backend_get_name(backend);
    memory_region_init_ram_ptr(&backend->mr, OBJECT(backend), name, total,
                               qcxl_pool_map_ptr(map));
    pb->ram = qcxl_pool_ram_new(QCXL_POOL_RAM_BACKEND, backend,
                                g_steal_pointer(&map));
    qcxl_pool_ram_register(pb->ram);
    return true;
}

static void qcxl_pool_backend_finalize(Object *obj)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(obj);

    if (pb->ram) {
        qcxl_pool_ram_free(pb->ram);
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

/*
 * The serial number of the pool's multi-headed device: the same for
 * every head in every QEMU, derived from the pool's UUID
 */
static void get_device_serial(Object *obj, Visitor *v, const char *name,
                              void *opaque, Error **errp)
{
    QcxlPoolBackend *pb = MEMORY_BACKEND_QCXL_POOL(obj);
    uint64_t sn;

    if (!pb->ram) {
        error_setg(errp, "%s has no pool yet", TYPE_MEMORY_BACKEND_QCXL_POOL);
        return;
    }
    sn = qcxl_pool_device_serial(
        qcxl_pool_member_pool(qcxl_pool_ram_member(pb->ram)));
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
        "the pool host this QEMU is (its name in the pool; default: "
        "this machine's host name)");
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
