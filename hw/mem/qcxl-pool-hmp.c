/*
 * qcxl: HMP commands for the shared pool and the jobs that move guest
 * RAM through it
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Each command is a thin front end to its QMP twin (qapi/qcxl.json), so
 * the two report the same errors:
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
