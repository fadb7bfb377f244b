/*
 * qcxl: this process as a host of a shared pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Owns QcxlPoolMember (see qcxl_pool_member.h): joining and leaving, the
 * heartbeat thread, the watch on the other hosts' leases, and fencing
 * when the pool evicts this host.  Nobody is evicted from here: that is
 * the management layer's decision (qcxl-pool-evict); a lease that
 * expires is reported (QCXL_POOL_LEASE_EXPIRED).
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qapi/qapi-events-qcxl.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/notify.h"
#include "qemu/thread.h"
#include "system/runstate.h"
#include "system/system.h"
#include "hw/mem/qcxl_pool_member.h"
#include "trace.h"

/* How this process sees another host's lease */
typedef struct LeaseWatch {
    bool valid;
    bool expired;
    uint64_t incarnation;
    uint64_t beat;
    int64_t since_ms;           /* local monotonic clock */
} LeaseWatch;

struct QcxlPoolMember {
    char *path;
    char *name;
    QcxlPool *pool;
    int slot;
    uint64_t incarnation;
    int refs;                   /* under the BQL */
    bool created;               /* joining added the host to the pool */
    bool abandoned;             /* ...for a start that then failed */
    QemuThread thread;
    QemuSemaphore stop;
    bool fenced;                /* atomic: set by the thread */
    QemuMutex lock;             /* for watch */
    LeaseWatch watch[QCXL_POOL_HOSTS];
};

static GList *members;            /* of QcxlPoolMember, newest first, BQL */
static Notifier exit_notifier;

/*
 * Watch the other active hosts' heartbeat counters: one that has not
 * moved for a whole lease (on this machine's monotonic clock) is
 * reported, once per incarnation.
 */
static void watch_leases(QcxlPoolMember *h, const QcxlPoolMeta *meta)
{
    int64_t now = g_get_monotonic_time() / 1000;
    uint32_t lease = qcxl_pool_super(h->pool)->lease_ms;

    for (int i = 0; i < QCXL_POOL_HOSTS; i++) {
        LeaseWatch *w = &h->watch[i];
        uint8_t state = meta->hosts[i].state;
        uint64_t inc = meta->hosts[i].incarnation;
        uint64_t beat;
        bool report = false;

        qemu_mutex_lock(&h->lock);
        if (i == h->slot || state != QCXL_HOST_ACTIVE) {
            w->valid = false;
        } else {
            beat = qcxl_pool_heartbeat(h->pool, i);
            if (!w->valid || w->incarnation != inc || w->beat != beat) {
                *w = (LeaseWatch) { .valid = true, .incarnation = inc,
                                    .beat = beat, .since_ms = now };
            } else if (!w->expired && now - w->since_ms >= lease) {
                w->expired = true;
                report = true;
            }
        }
        qemu_mutex_unlock(&h->lock);
        if (report) {
            trace_qcxl_pool_member_lease_expired(h->path, meta->hosts[i].name,
                                               inc, lease);
            warn_report("qcxl pool %s: host '%s' (incarnation %" PRIu64
                        ") has not heartbeat for %u ms: its lease expired",
                        h->path, meta->hosts[i].name, inc, lease);
            qapi_event_send_qcxl_pool_lease_expired(h->path,
                                                    meta->hosts[i].name,
                                                    inc);
        }
    }
}

bool qcxl_pool_member_lease_expired(QcxlPoolMember *h, int slot,
                                  uint64_t incarnation)
{
    LeaseWatch *w = &h->watch[slot];
    bool expired;

    qemu_mutex_lock(&h->lock);
    expired = w->valid && w->expired && w->incarnation == incarnation;
    qemu_mutex_unlock(&h->lock);
    return expired;
}

static void *heartbeat_thread(void *opaque)
{
    QcxlPoolMember *h = opaque;
    uint32_t period = qcxl_pool_super(h->pool)->lease_ms / 4;

    for (;;) {
        g_autoptr(QcxlPoolMeta) meta = NULL;

        qcxl_pool_beat(h->pool, h->slot);
        meta = qcxl_pool_read(h->pool, NULL);
        if (meta && !qatomic_read(&h->fenced) &&
            !qcxl_pool_still_active(meta, h->slot, h->incarnation)) {
            qatomic_set(&h->fenced, true);
            trace_qcxl_pool_member_evicted(h->path, h->name, h->incarnation);
            error_report("qcxl pool %s: host '%s' was evicted (its lease "
                         "lapsed or an operator fenced it); stopping the "
                         "guest, whose pool memory may have been handed on",
                         h->path, h->name);
            qemu_system_vmstop_request_prepare();
            qemu_system_vmstop_request(RUN_STATE_IO_ERROR);
        }
        if (meta && !qatomic_read(&h->fenced)) {
            watch_leases(h, meta);
        }
        if (qemu_sem_timedwait(&h->stop, period) == 0) {
            break;
        }
    }
    return NULL;
}

static void stop_and_leave(QcxlPoolMember *h)
{
    g_autoptr(GError) err = NULL;

    qemu_sem_post(&h->stop);
    qemu_thread_join(&h->thread);
    qemu_sem_destroy(&h->stop);
    if (qatomic_read(&h->fenced)) {
        return;
    }
    trace_qcxl_pool_member_leave(h->path, h->name, h->incarnation);
    if (!qcxl_pool_leave(h->pool, h->slot, h->incarnation, &err)) {
        warn_report("qcxl pool %s: leaving as host '%s': %s", h->path,
                    h->name, err->message);
    }
}

/* At exit, leave cleanly: the host becomes inactive, its maps are gone */
static void pool_exit(Notifier *n, void *data)
{
    for (GList *l = members; l; l = l->next) {
        stop_and_leave(l->data);
    }
}

QcxlPoolMember *qcxl_pool_member_get(const char *path, const char *host,
                                 bool create, Error **errp)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    QcxlPoolMember *h;
    uint64_t inc;
    bool created;
    int slot;

    for (GList *l = members; l; l = l->next) {
        h = l->data;
        if (!strcmp(h->path, path) && !strcmp(h->name, host)) {
            return qcxl_pool_member_ref(h);
        }
    }
    if (!qcxl_pool_valid_name(host, QCXL_POOL_HOST_NAME_LEN, &err)) {
        error_setg(errp, "qcxl pool: host: %s", err->message);
        return NULL;
    }
    pool = qcxl_pool_open(path, &err);
    if (!pool) {
        error_setg(errp, "qcxl pool: %s", err->message);
        return NULL;
    }
    slot = qcxl_pool_join(pool, host, create, &created, &inc, &err);
    if (slot < 0) {
        error_setg(errp, "qcxl pool %s: joining as host '%s': %s", path,
                   host, err->message);
        return NULL;
    }
    trace_qcxl_pool_member_join(path, host, slot, inc);
    h = g_new0(QcxlPoolMember, 1);
    h->path = g_strdup(path);
    h->name = g_strdup(host);
    h->pool = g_steal_pointer(&pool);
    h->slot = slot;
    h->incarnation = inc;
    h->created = created;
    h->refs = 1;
    qcxl_pool_act_as(h->pool, slot, inc);
    qemu_mutex_init(&h->lock);
    qemu_sem_init(&h->stop, 0);
    qemu_thread_create(&h->thread, "qcxl-pool-hb", heartbeat_thread, h,
                       QEMU_THREAD_JOINABLE);
    if (!members) {
        exit_notifier.notify = pool_exit;
        qemu_add_exit_notifier(&exit_notifier);
    }
    members = g_list_prepend(members, h);
    return h;
}

bool qcxl_pool_member_created(const QcxlPoolMember *h)
{
    return h->created;
}

void qcxl_pool_member_abandon(QcxlPoolMember *h)
{
    /* Only when no other user holds it: the caller's unref ends it. */
    if (h->refs == 1) {
        h->abandoned = true;
    }
}

QcxlPoolMember *qcxl_pool_member_ref(QcxlPoolMember *h)
{
    h->refs++;
    return h;
}

void qcxl_pool_member_unref(QcxlPoolMember *h)
{
    if (--h->refs) {
        return;
    }
    members = g_list_remove(members, h);
    if (!members) {
        qemu_remove_exit_notifier(&exit_notifier);
    }
    stop_and_leave(h);
    if (h->created && h->abandoned) {
        /* The host existed for a failed start only: nothing is left. */
        g_autoptr(GError) err = NULL;
        bool removed = qcxl_pool_host_remove(h->pool, h->name, &err);

        trace_qcxl_pool_member_forget(h->path, h->name, removed);
        if (!removed) {
            warn_report("qcxl pool %s: removing host '%s', which a failed "
                        "start added: %s", h->path, h->name, err->message);
        }
    }
    qcxl_pool_close(h->pool);
    qemu_mutex_destroy(&h->lock);
    g_free(h->path);
    g_free(h->name);
    g_free(h);
}

QcxlPoolMember *qcxl_pool_member_find(const char *pool, const char *host,
                                  Error **errp)
{
    QcxlPoolMember *found = NULL;
    int n = 0;

    for (GList *l = members; l; l = l->next) {
        QcxlPoolMember *h = l->data;

        if ((!pool || !strcmp(h->path, pool)) &&
            (!host || !strcmp(h->name, host))) {
            found = h;
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
    if (qcxl_pool_member_fenced(found)) {
        error_setg(errp, "qcxl pool %s: host '%s' was evicted; this QEMU "
                   "no longer acts for it", found->path, found->name);
        return NULL;
    }
    return qcxl_pool_member_ref(found);
}

GList *qcxl_pool_members(void)
{
    return g_list_reverse(g_list_copy(members));
}

QcxlPool *qcxl_pool_member_pool(QcxlPoolMember *h)
{
    return h->pool;
}

const char *qcxl_pool_member_path(QcxlPoolMember *h)
{
    return h->path;
}

const char *qcxl_pool_member_name(QcxlPoolMember *h)
{
    return h->name;
}

int qcxl_pool_member_slot(QcxlPoolMember *h)
{
    return h->slot;
}

uint64_t qcxl_pool_member_incarnation(QcxlPoolMember *h)
{
    return h->incarnation;
}

bool qcxl_pool_member_fenced(QcxlPoolMember *h)
{
    return qatomic_read(&h->fenced);
}

bool qcxl_pool_member_same_pool(QcxlPoolMember *h, const uint8_t *uuid)
{
    return !memcmp(qcxl_pool_super(h->pool)->uuid, uuid, 16);
}
