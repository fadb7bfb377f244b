/*
 * qcxl: monitor commands for the shared pool and the jobs that move
 * guest RAM through it
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QMP (qapi/qcxl.json): query-qcxl-pool, qcxl-pool-region-create,
 * -share and -release, qcxl-pool-evict, qcxl-pool-stage and
 * qcxl-pool-pull.  They check their arguments and call the mechanisms
 * (qcxl-pool-member.c, the pool library, qcxl-pool-stage.c).
 *
 * Each HMP command is a thin front end to its QMP twin, so the two
 * report the same errors:
 *
 *   info qcxl-pool                      query-qcxl-pool + the qcxl jobs
 *   qcxl_pool_stage ID MEMDEV REGION [OPTS]          qcxl-pool-stage
 *   qcxl_pool_pull ID MEMDEV [OPTS]                  qcxl-pool-pull
 *   qcxl_pool_job_cancel ID                          job-cancel
 *   qcxl_pool_job_dismiss ID                         job-dismiss
 *
 * OPTS is a key=value list: pool=PATH, host=NAME (stage only),
 * chunk-size=SIZE and speed=SIZE (bytes per second), sizes with the
 * usual suffixes (k, M, G).
 */

#include "qemu/osdep.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-job.h"
#include "qapi/qapi-commands-qcxl.h"
#include "qobject/qdict.h"
#include "qemu/cutils.h"
#include "qemu/keyval.h"
#include "qemu/units.h"
#include "qemu/uuid.h"
#include "system/hostmem.h"
#include "hw/mem/qcxl_pool_member.h"
#include "hw/mem/qcxl_pool_stage.h"

/* QMP */

static bool pool_error(QcxlPoolMember *m, GError *err, Error **errp)
{
    error_setg(errp, "qcxl pool %s: %s", qcxl_pool_member_path(m),
               err->message);
    return false;
}

/* The pool's record of a region's use, as QMP says it */
static QcxlPoolRegionUse region_use(uint8_t use)
{
    switch ((QcxlRegionUse)use) {
    case QCXL_REGION_USE_MEMORY:
        return QCXL_POOL_REGION_USE_MEMORY;
    case QCXL_REGION_USE_RING:
        return QCXL_POOL_REGION_USE_RING;
    case QCXL_REGION_USE_CHECKPOINT:
        return QCXL_POOL_REGION_USE_CHECKPOINT;
    case QCXL_REGION_USE_NONE:
    case QCXL_REGION_USE__MAX:
        break;
    }
    /* Anything else fsck reports; QEMU refuses such metadata */
    return QCXL_POOL_REGION_USE_NONE;
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

static QcxlPoolInfo *pool_info(QcxlPoolMember *m, Error **errp)
{
    QcxlPool *pool = qcxl_pool_member_pool(m);
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);
    QcxlPoolInfo *info;
    QemuUUID uuid;

    if (!meta) {
        pool_error(m, err, errp);
        return NULL;
    }
    memcpy(uuid.data, sb->uuid, sizeof(uuid.data));
    info = g_new0(QcxlPoolInfo, 1);
    info->pool = g_strdup(qcxl_pool_member_path(m));
    info->host = g_strdup(qcxl_pool_member_name(m));
    info->fenced = qcxl_pool_member_fenced(m);
    info->uuid = qemu_uuid_unparse_strdup(&uuid);
    info->device_serial = qcxl_pool_device_serial(pool);
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
        ri->use = region_use(r->use);
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
        hi->lease_expired = qcxl_pool_member_lease_expired(m, i,
                                                           h->incarnation);
        QAPI_LIST_PREPEND(info->hosts, hi);
    }
    return info;
}

QcxlPoolInfoList *qmp_query_qcxl_pool(Error **errp)
{
    QcxlPoolInfoList *list = NULL, **tail = &list;
    g_autoptr(GList) members = qcxl_pool_members();

    for (GList *l = members; l; l = l->next) {
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
    g_autoptr(QcxlPoolMember) m = qcxl_pool_member_find(pool, host, errp);
    g_autoptr(GError) err = NULL;

    if (m && !qcxl_pool_region_create(qcxl_pool_member_pool(m), name, size,
                                      qcxl_pool_member_name(m),
                                      has_shared && shared, &err)) {
        pool_error(m, err, errp);
    }
}

void qmp_qcxl_pool_region_share(const char *pool, const char *host,
                                const char *name, const char *sharer,
                                bool has_share, bool share, Error **errp)
{
    g_autoptr(QcxlPoolMember) m = qcxl_pool_member_find(pool, host, errp);
    g_autoptr(GError) err = NULL;

    if (m && !qcxl_pool_region_share(qcxl_pool_member_pool(m), name, sharer,
                                     !has_share || share, &err)) {
        pool_error(m, err, errp);
    }
}

void qmp_qcxl_pool_region_release(const char *pool, const char *host,
                                  const char *name, Error **errp)
{
    g_autoptr(QcxlPoolMember) m = qcxl_pool_member_find(pool, host, errp);
    g_autoptr(GError) err = NULL;

    if (m && !qcxl_pool_region_delete(qcxl_pool_member_pool(m), name, &err)) {
        pool_error(m, err, errp);
    }
}

void qmp_qcxl_pool_evict(const char *pool, const char *host,
                         const char *target, bool has_force, bool force,
                         Error **errp)
{
    g_autoptr(QcxlPoolMember) m = qcxl_pool_member_find(pool, host, errp);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    int h;

    if (!m) {
        return;
    }
    if (!(has_force && force)) {
        meta = qcxl_pool_read(qcxl_pool_member_pool(m), &err);
        if (!meta) {
            pool_error(m, err, errp);
            return;
        }
        h = qcxl_pool_find_host(meta, target);
        if (h >= 0 && h != qcxl_pool_member_slot(m) &&
            meta->hosts[h].state == QCXL_HOST_ACTIVE &&
            !qcxl_pool_member_lease_expired(m, h,
                                            meta->hosts[h].incarnation)) {
            error_setg(errp, "qcxl pool %s: host '%s' is alive as this "
                       "QEMU sees it (its heartbeat moved within the last "
                       "lease); 'force' evicts it anyway",
                       qcxl_pool_member_path(m), target);
            return;
        }
        /* other cases: the transaction gives the precise error */
    }
    if (!qcxl_pool_evict(qcxl_pool_member_pool(m), target, &err)) {
        pool_error(m, err, errp);
    }
}

static HostMemoryBackend *find_memdev(const char *id, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);
    HostMemoryBackend *backend;

    if (!obj || !object_dynamic_cast(obj, TYPE_MEMORY_BACKEND)) {
        error_setg(errp, "no memory backend '%s'", id);
        return NULL;
    }
    backend = MEMORY_BACKEND(obj);
    if (!host_memory_backend_mr_inited(backend) ||
        !backend->mr.ram_block) {
        error_setg(errp, "memory backend '%s' has no memory yet", id);
        return NULL;
    }
    return backend;
}

static uint64_t chunk_arg(bool has, uint64_t v, Error **errp)
{
    if (!has) {
        return QCXL_POOL_MOVE_CHUNK_DEFAULT;
    }
    if (v < qemu_real_host_page_size() || v > QCXL_POOL_MOVE_CHUNK_MAX ||
        v % qemu_real_host_page_size()) {
        error_setg(errp, "chunk-size must be a multiple of the host page "
                   "size (%zu) between one page and %" PRIu64 " bytes",
                   qemu_real_host_page_size(),
                   (uint64_t)QCXL_POOL_MOVE_CHUNK_MAX);
        return 0;
    }
    return v;
}

void qmp_qcxl_pool_stage(const char *job_id, const char *memdev,
                         const char *region, const char *pool,
                         const char *host, bool has_chunk_size,
                         uint64_t chunk_size, bool has_speed, uint64_t speed,
                         Error **errp)
{
    uint64_t chunk = chunk_arg(has_chunk_size, chunk_size, errp);
    HostMemoryBackend *backend = chunk ? find_memdev(memdev, errp) : NULL;

    if (backend) {
        qcxl_pool_stage_start(job_id, backend, region, pool, host, chunk,
                              has_speed ? speed : 0, errp);
    }
}

void qmp_qcxl_pool_pull(const char *job_id, const char *memdev,
                        bool has_chunk_size, uint64_t chunk_size,
                        bool has_speed, uint64_t speed, Error **errp)
{
    uint64_t chunk = chunk_arg(has_chunk_size, chunk_size, errp);
    HostMemoryBackend *backend = chunk ? find_memdev(memdev, errp) : NULL;

    if (backend) {
        qcxl_pool_pull_start(job_id, backend, chunk, has_speed ? speed : 0,
                             errp);
    }
}

/* HMP */

typedef struct MoveOpts {
    const char *pool;
    const char *host;
    bool has_chunk_size;
    uint64_t chunk_size;
    bool has_speed;
    uint64_t speed;
} MoveOpts;

static bool opt_size(QDict *opts, const char *key, bool *has, uint64_t *val,
                     Error **errp)
{
    const char *s = qdict_get_try_str(opts, key);

    if (!s) {
        return true;
    }
    if (qemu_strtosz(s, NULL, val) < 0) {
        error_setg(errp, "%s: '%s' is not a size in bytes (suffixes k, M, "
                   "G and T are allowed)", key, s);
        return false;
    }
    *has = true;
    return true;
}

/*
 * Parse the optional key=value list of a move command into @o; the
 * strings in @o point into the returned dictionary.  Any key but the
 * ones the command takes (@with_pool: pool and host) is refused.
 */
static QDict *parse_move_opts(const char *str, bool with_pool, MoveOpts *o,
                              Error **errp)
{
    g_autoptr(QDict) opts = NULL;
    const QDictEntry *e;

    memset(o, 0, sizeof(*o));
    if (!str) {
        return qdict_new();
    }
    opts = keyval_parse(str, NULL, NULL, errp);
    if (!opts) {
        return NULL;
    }
    for (e = qdict_first(opts); e; e = qdict_next(opts, e)) {
        const char *k = qdict_entry_key(e);

        if (!(with_pool && (!strcmp(k, "pool") || !strcmp(k, "host"))) &&
            strcmp(k, "chunk-size") && strcmp(k, "speed")) {
            error_setg(errp, "unknown option '%s' (this command takes %s"
                       "chunk-size and speed)", k,
                       with_pool ? "pool, host, " : "");
            return NULL;
        }
        if (qobject_type(qdict_entry_value(e)) != QTYPE_QSTRING) {
            error_setg(errp, "option '%s' takes one value", k);
            return NULL;
        }
    }
    o->pool = qdict_get_try_str(opts, "pool");
    o->host = qdict_get_try_str(opts, "host");
    if (!opt_size(opts, "chunk-size", &o->has_chunk_size, &o->chunk_size,
                  errp) ||
        !opt_size(opts, "speed", &o->has_speed, &o->speed, errp)) {
        return NULL;
    }
    return g_steal_pointer(&opts);
}

void hmp_qcxl_pool_stage(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(QDict) opts = NULL;
    MoveOpts o;

    opts = parse_move_opts(qdict_get_try_str(qdict, "opts"), true, &o, &err);
    if (opts) {
        qmp_qcxl_pool_stage(qdict_get_str(qdict, "job-id"),
                            qdict_get_str(qdict, "memdev"),
                            qdict_get_str(qdict, "region"), o.pool, o.host,
                            o.has_chunk_size, o.chunk_size, o.has_speed,
                            o.speed, &err);
    }
    hmp_handle_error(mon, err);
}

void hmp_qcxl_pool_pull(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(QDict) opts = NULL;
    MoveOpts o;

    opts = parse_move_opts(qdict_get_try_str(qdict, "opts"), false, &o,
                           &err);
    if (opts) {
        qmp_qcxl_pool_pull(qdict_get_str(qdict, "job-id"),
                           qdict_get_str(qdict, "memdev"), o.has_chunk_size,
                           o.chunk_size, o.has_speed, o.speed, &err);
    }
    hmp_handle_error(mon, err);
}

/* Only qcxl's own jobs: block jobs have their own commands. */
static bool is_qcxl_job(const char *id, Error **errp)
{
    g_autoptr(JobInfoList) jobs = qmp_query_jobs(NULL);

    for (JobInfoList *l = jobs; l; l = l->next) {
        if (!strcmp(l->value->id, id)) {
            if (l->value->type == JOB_TYPE_QCXL_POOL_STAGE ||
                l->value->type == JOB_TYPE_QCXL_POOL_PULL) {
                return true;
            }
            error_setg(errp, "job '%s' is a %s job, not a qcxl pool job", id,
                       JobType_str(l->value->type));
            return false;
        }
    }
    error_setg(errp, "no job '%s'", id);
    return false;
}

/* Apply the QMP job command @verb to the qcxl job the command names */
static void job_verb(Monitor *mon, const QDict *qdict,
                     void (*verb)(const char *id, Error **errp))
{
    const char *id = qdict_get_str(qdict, "job-id");
    Error *err = NULL;

    if (is_qcxl_job(id, &err)) {
        verb(id, &err);
    }
    hmp_handle_error(mon, err);
}

void hmp_qcxl_pool_job_cancel(Monitor *mon, const QDict *qdict)
{
    job_verb(mon, qdict, qmp_job_cancel);
}

void hmp_qcxl_pool_job_dismiss(Monitor *mon, const QDict *qdict)
{
    job_verb(mon, qdict, qmp_job_dismiss);
}

static void print_hosts(Monitor *mon, strList *l)
{
    if (!l) {
        monitor_printf(mon, "-");
    }
    for (; l; l = l->next) {
        monitor_printf(mon, "%s%s", l->value, l->next ? "," : "");
    }
}

void hmp_info_qcxl_pool(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(QcxlPoolInfoList) pools = qmp_query_qcxl_pool(&err);
    g_autoptr(JobInfoList) jobs = NULL;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    if (!pools) {
        monitor_printf(mon, "this QEMU has joined no qcxl pool\n");
    }
    for (QcxlPoolInfoList *p = pools; p; p = p->next) {
        QcxlPoolInfo *i = p->value;

        monitor_printf(mon, "pool %s as host %s%s\n", i->pool, i->host,
                       i->fenced ? " (FENCED: this host was evicted)" : "");
        monitor_printf(mon, "  uuid %s, %" PRIu64 " MiB, %" PRIu64
                       " MiB free, extent %" PRIu64 " MiB, lease %" PRIu32
                       " ms\n", i->uuid, i->size / MiB, i->free / MiB,
                       i->extent_size / MiB, i->lease_ms);
        for (QcxlPoolHostInfoList *h = i->hosts; h; h = h->next) {
            monitor_printf(mon, "  host %s: %s, incarnation %" PRIu64 "%s\n",
                           h->value->name,
                           QcxlPoolHostState_str(h->value->state),
                           h->value->incarnation,
                           h->value->lease_expired ? ", lease expired" : "");
        }
        for (QcxlPoolRegionInfoList *r = i->regions; r; r = r->next) {
            QcxlPoolRegionInfo *ri = r->value;

            monitor_printf(mon, "  region %s: %" PRIu64 " MiB %s, owner %s, "
                           "generation %" PRIu64 ", sharers ", ri->name,
                           ri->size / MiB,
                           ri->shared ? "shared" : "exclusive",
                           ri->owner ? ri->owner : "-", ri->generation);
            print_hosts(mon, ri->sharers);
            monitor_printf(mon, ", mapped by ");
            print_hosts(mon, ri->mapped_by);
            if (ri->use != QCXL_POOL_REGION_USE_NONE) {
                monitor_printf(mon, " (as %s)",
                               QcxlPoolRegionUse_str(ri->use));
            }
            monitor_printf(mon, "\n");
        }
    }

    jobs = qmp_query_jobs(NULL);
    for (JobInfoList *l = jobs; l; l = l->next) {
        JobInfo *j = l->value;

        if (j->type != JOB_TYPE_QCXL_POOL_STAGE &&
            j->type != JOB_TYPE_QCXL_POOL_PULL) {
            continue;
        }
        monitor_printf(mon, "job %s (%s): %s, %" PRId64 " of %" PRId64
                       " MiB moved%s%s\n", j->id, JobType_str(j->type),
                       JobStatus_str(j->status), j->current_progress / MiB,
                       j->total_progress / MiB, j->error ? ": " : "",
                       j->error ? j->error : "");
    }
}
