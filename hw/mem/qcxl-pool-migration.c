/*
 * qcxl: migrating a guest whose memory lives in pool regions
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The destination QEMU maps the same regions as the source (they are
 * shared with its host), and x-ignore-shared keeps RAM migration away
 * from them: no page is copied.  That holds for memory-backend-qcxl-pool
 * and for RAM staged into the pool (qcxl-pool-stage.c) alike.  What
 * moves is ownership:
 *
 *  - at switchover the source, stopped, sends the name and generation
 *    of every region its backends map (section "qcxl-pool-handoff",
 *    the last of the stream);
 *  - the destination checks that it maps exactly those regions of the
 *    same pools and claims the ones the source owned, in one pool
 *    transaction per pool, before it may run (qcxl_pool_handoff());
 *  - a source that runs again (a failed or cancelled migration, or
 *    'cont' after one) first reclaims its regions; that voids the
 *    offer.  If the destination was first, the source is fenced: its
 *    ranges become private anonymous memory and it stays stopped.
 *
 * So the guest never runs on both sides: the pool's lock orders the two
 * transactions, and each side runs only after winning.
 *
 * Owns the handoff state.  It listens to the pool RAM registry from
 * module init on, and installs its section and hooks when the first
 * pool RAM appears, so a QEMU without any migrates as upstream does.
 */

#include "qemu/osdep.h"
#include "exec/ramblock.h"
#include "migration/misc.h"
#include "migration/vmstate.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "system/runstate.h"
#include "hw/mem/qcxl_pool_migration.h"
#include "hw/mem/qcxl_pool_ram.h"
#include "trace.h"

#define HANDOFF_MAX QCXL_POOL_REGIONS

typedef struct HandoffEntry {
    uint8_t uuid[16];
    /* NUL-terminated names (uint8_t for VMSTATE_BUFFER) */
    uint8_t region[QCXL_POOL_REGION_NAME_LEN];
    uint8_t from[QCXL_POOL_HOST_NAME_LEN];  /* the source's host name */
    uint64_t generation;
    uint8_t owned;                          /* by @from, so handed over */
} HandoffEntry;

typedef struct Handoff {
    int32_t n;
    HandoffEntry *e;
    /* source side: regions offered at switchover and not yet reclaimed */
    bool offered;
} Handoff;

static Handoff handoff;
static bool installed;
static NotifierWithReturn migration_notifier;
static Notifier ram_notifier;

static const VMStateDescription vmstate_handoff_entry = {
    .name = "qcxl-pool-handoff/region",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_BUFFER(uuid, HandoffEntry),
        VMSTATE_BUFFER(region, HandoffEntry),
        VMSTATE_BUFFER(from, HandoffEntry),
        VMSTATE_UINT64(generation, HandoffEntry),
        VMSTATE_UINT8(owned, HandoffEntry),
        VMSTATE_END_OF_LIST()
    },
};

static bool entries_fit(void *opaque, int version_id)
{
    Handoff *h = opaque;

    if (h->n < 0 || h->n > HANDOFF_MAX) {
        error_report("qcxl pool migration: the source handed over %d "
                     "regions; at most %d can be", h->n, HANDOFF_MAX);
        return false;
    }
    return true;
}

/* Source, at switchover (the guest is stopped): describe our regions */
static int handoff_pre_save(void *opaque)
{
    Handoff *h = opaque;
    GArray *a = g_array_new(false, true, sizeof(HandoffEntry));

    for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolRam *ram = l->data;
        QcxlPoolMember *m = qcxl_pool_ram_member(ram);
        QcxlPool *pool = qcxl_pool_member_pool(m);
        const char *const *regions = qcxl_pool_map_regions(
            qcxl_pool_ram_map(ram));
        g_autoptr(GError) err = NULL;
        g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);

        if (!meta) {
            error_report("qcxl pool %s: handing over: %s",
                         qcxl_pool_member_path(m), err->message);
            g_array_free(a, true);
            return -EIO;
        }
        for (int i = 0; regions[i]; i++) {
            int r = qcxl_pool_find_region(meta, regions[i]);
            HandoffEntry e = { 0 };

            if (r < 0) {
                error_report("qcxl pool %s: region '%s' is gone",
                             qcxl_pool_member_path(m), regions[i]);
                g_array_free(a, true);
                return -ENOENT;
            }
            memcpy(e.uuid, qcxl_pool_super(pool)->uuid, 16);
            g_strlcpy((char *)e.region, regions[i], sizeof(e.region));
            g_strlcpy((char *)e.from, qcxl_pool_member_name(m),
                      sizeof(e.from));
            e.generation = meta->regions[r].generation;
            e.owned = meta->regions[r].owner == qcxl_pool_member_slot(m);
            trace_qcxl_pool_handoff_offer(qcxl_pool_member_path(m),
                                          regions[i], e.generation, e.owned);
            g_array_append_val(a, e);
        }
    }
    g_free(h->e);
    h->n = a->len;
    h->e = (HandoffEntry *)g_array_free(a, false);
    h->offered = true;
    return 0;
}

static int handoff_pre_load(void *opaque)
{
    Handoff *h = opaque;

    g_free(h->e);
    h->e = NULL;
    h->n = 0;
    return 0;
}

static const HandoffEntry *find_entry(Handoff *h, QcxlPoolMember *m,
                                      const char *region)
{
    for (int i = 0; i < h->n; i++) {
        if (qcxl_pool_member_same_pool(m, h->e[i].uuid) &&
            !strcmp((char *)h->e[i].region, region)) {
            return &h->e[i];
        }
    }
    return NULL;
}

/* Does a backend of this QEMU map region @name of pool @uuid? */
static bool maps_region(const uint8_t *uuid, const char *name)
{
    for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolRam *ram = l->data;

        if (qcxl_pool_member_same_pool(qcxl_pool_ram_member(ram), uuid) &&
            qcxl_pool_map_has_region(qcxl_pool_ram_map(ram), name)) {
            return true;
        }
    }
    return false;
}

/*
 * Destination, after the whole state has arrived: the source must have
 * mapped exactly what we map, and what it owned becomes ours.
 */
static int handoff_post_load(void *opaque, int version_id)
{
    Handoff *h = opaque;
    GSList *l;
    int mapped = 0;

    for (int i = 0; i < h->n; i++) {
        HandoffEntry *e = &h->e[i];

        /* hostile until checked: names must end within their fields */
        if (!memchr(e->region, 0, sizeof(e->region)) ||
            !memchr(e->from, 0, sizeof(e->from)) || e->owned > 1) {
            error_report("qcxl pool migration: the source sent a malformed "
                         "region entry");
            return -EINVAL;
        }
    }
    for (l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolMember *m = qcxl_pool_ram_member(l->data);
        const char *const *regions = qcxl_pool_map_regions(
            qcxl_pool_ram_map(l->data));

        for (int i = 0; regions[i]; i++, mapped++) {
            if (!find_entry(h, m, regions[i])) {
                error_report("qcxl pool %s: this QEMU maps region '%s', but "
                             "the source did not (its memory would not be "
                             "the guest's)", qcxl_pool_member_path(m),
                             regions[i]);
                return -EINVAL;
            }
        }
    }
    for (int i = 0; i < h->n; i++) {
        if (!maps_region(h->e[i].uuid, (char *)h->e[i].region)) {
            error_report("qcxl pool migration: the source's memory "
                         "includes region '%s', which this QEMU does not "
                         "map", (char *)h->e[i].region);
            return -EINVAL;
        }
    }
    if (mapped != h->n) {       /* only if the source named one twice */
        error_report("qcxl pool migration: the source maps %d regions, "
                     "this QEMU %d", h->n, mapped);
        return -EINVAL;
    }

    /* one transaction per pool membership: all its regions or none */
    for (l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolMember *m = qcxl_pool_ram_member(l->data);
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        g_autoptr(GArray) gens = g_array_new(false, false, sizeof(uint64_t));
        g_autoptr(GError) err = NULL;
        const char *from = NULL, *ef;
        bool seen = false;

        for (GSList *k = qcxl_pool_rams(); k != l; k = k->next) {
            seen |= qcxl_pool_ram_member(k->data) == m;
        }
        if (seen) {
            continue;
        }
        for (int i = 0; i < h->n; i++) {
            if (!h->e[i].owned ||
                !qcxl_pool_member_same_pool(m, h->e[i].uuid)) {
                continue;
            }
            ef = (const char *)h->e[i].from;
            if (from && strcmp(from, ef)) {
                error_report("qcxl pool %s: the source was two hosts of "
                             "one pool ('%s' and '%s')",
                             qcxl_pool_member_path(m), from, ef);
                return -EINVAL;
            }
            from = ef;
            g_ptr_array_add(names, h->e[i].region);
            g_array_append_val(gens, h->e[i].generation);
        }
        if (!names->len) {
            continue;
        }
        if (!qcxl_pool_handoff(qcxl_pool_member_pool(m), from, names->len,
                               (const char *const *)names->pdata,
                               (uint64_t *)gens->data, &err)) {
            trace_qcxl_pool_handoff_take(qcxl_pool_member_path(m), from,
                                         names->len, false);
            error_report("qcxl pool %s: taking the guest's regions over from "
                         "host '%s' failed: %s", qcxl_pool_member_path(m),
                         from, err->message);
            return -EPERM;
        }
        trace_qcxl_pool_handoff_take(qcxl_pool_member_path(m), from,
                                     names->len, true);
        info_report("qcxl pool %s: host '%s' took %u region%s over from "
                    "host '%s'", qcxl_pool_member_path(m),
                    qcxl_pool_member_name(m), names->len,
                    names->len == 1 ? "" : "s", from);
    }
    return 0;
}

/*
 * Only a migration hands memory over: an HA checkpoint saves the device
 * state too (qemu_save_device_state()), and a takeover claims the
 * regions itself.
 */
static bool handoff_needed(void *opaque)
{
    return migration_is_running();
}

static const VMStateDescription vmstate_handoff = {
    .name = "qcxl-pool-handoff",
    .version_id = 1,
    .minimum_version_id = 1,
    .needed = handoff_needed,
    .pre_save = handoff_pre_save,
    .pre_load = handoff_pre_load,
    .post_load = handoff_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_INT32(n, Handoff),
        VMSTATE_VALIDATE("region count", entries_fit),
        VMSTATE_STRUCT_VARRAY_ALLOC(e, Handoff, n, 1, vmstate_handoff_entry,
                                    HandoffEntry),
        VMSTATE_END_OF_LIST()
    },
};

/*
 * A "qcxl-pool-handoff" section's body, loaded from @f as a destination
 * loads it, checks and claims included: what the fuzz target
 * qcxl-mig-handoff feeds (tests/qtest/fuzz/qcxl_migration_fuzz.c).
 * Negative errno on a refused section, as vmstate_load_state() returns.
 */
int qcxl_pool_migration_load_handoff(QEMUFile *f)
{
    return vmstate_load_state(f, &vmstate_handoff, &handoff, 1);
}

/*
 * Source, before the guest runs again: take back what was offered.
 * False if another host took it first; the source is then fenced.
 */
static bool reclaim(Error **errp)
{
    bool ok = true;

    if (!handoff.offered) {
        return true;
    }
    for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolRam *ram = l->data;
        QcxlPoolMember *m = qcxl_pool_ram_member(ram);
        g_autoptr(GPtrArray) names = g_ptr_array_new();
        g_autoptr(GError) err = NULL;
        bool won;

        for (int i = 0; i < handoff.n; i++) {
            if (handoff.e[i].owned &&
                qcxl_pool_member_same_pool(m, handoff.e[i].uuid) &&
                qcxl_pool_map_has_region(qcxl_pool_ram_map(ram),
                                         (char *)handoff.e[i].region)) {
                g_ptr_array_add(names, handoff.e[i].region);
            }
        }
        if (!names->len) {
            continue;
        }
        info_report("qcxl pool %s: the guest runs here again; host "
                    "'%s' takes back the %u region%s it offered",
                    qcxl_pool_member_path(m), qcxl_pool_member_name(m),
                    names->len, names->len == 1 ? "" : "s");
        won = qcxl_pool_reclaim(qcxl_pool_member_pool(m), names->len,
                                (const char *const *)names->pdata, &err);
        trace_qcxl_pool_handoff_reclaim(qcxl_pool_member_path(m),
                                        names->len, won);
        if (!won) {
            if (ok) {
                error_setg(errp, "qcxl pool %s: the guest's memory was "
                           "handed over (%s); it runs on the destination, "
                           "not here", qcxl_pool_member_path(m),
                           err->message);
            }
            ok = false;
        }
    }
    if (!ok) {
        for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
            qcxl_pool_ram_fence(l->data);
        }
    }
    handoff.offered = false;
    return ok;
}

bool qcxl_pool_migration_check(Error **errp)
{
    for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolRam *ram = l->data;
        QcxlPoolMember *m = qcxl_pool_ram_member(ram);
        RAMBlock *rb = qcxl_pool_ram_backend(ram)->mr.ram_block;
        g_autofree char *names = qcxl_pool_map_regions_str(
            qcxl_pool_ram_map(ram));

        if (qcxl_pool_member_fenced(m)) {
            error_setg(errp, "qcxl pool %s: host '%s' was evicted; the "
                       "guest's memory is no longer its to hand over",
                       qcxl_pool_member_path(m), qcxl_pool_member_name(m));
            return false;
        }
        if (!qcxl_pool_ram_whole(ram)) {
            error_setg(errp, "qcxl pool %s: '%s' is partly in DRAM and "
                       "partly in region '%s'; finish moving it "
                       "(qcxl-pool-pull) first", qcxl_pool_member_path(m),
                       rb->idstr, names);
            return false;
        }
        if (!migrate_ram_is_ignored(rb)) {
            error_setg(errp, "qcxl pool %s: '%s' is memory in regions "
                       "'%s': migrating it needs the capability "
                       "x-ignore-shared, else the destination would "
                       "write into memory this guest still runs on",
                       qcxl_pool_member_path(m), rb->idstr, names);
            return false;
        }
    }
    return true;
}

static int migration_event(NotifierWithReturn *n, MigrationEvent *e,
                           Error **errp)
{
    switch (e->type) {
    case MIG_EVENT_PRECOPY_SETUP:
        if (!qcxl_pool_migration_check(errp)) {
            return -EINVAL;
        }
        /* be the last section, so a destination claims after all else */
        vmstate_unregister(NULL, &vmstate_handoff, &handoff);
        vmstate_register(NULL, 0, &vmstate_handoff, &handoff);
        return 0;
    case MIG_EVENT_PRECOPY_RESUME:
        return reclaim(errp) ? 0 : -EPERM;
    default:
        return 0;
    }
}

/* Any other way back to running ('cont' after a migration) */
static void vm_state_change(void *opaque, bool running, RunState state)
{
    Error *err = NULL;

    if (running && !reclaim(&err)) {
        error_report_err(err);
        qemu_system_vmstop_request_prepare();
        qemu_system_vmstop_request(RUN_STATE_IO_ERROR);
    }
}

/* The first pool RAM of this QEMU: from now on, migration hands over */
static void pool_ram_registered(Notifier *n, void *data)
{
    if (installed) {
        return;
    }
    installed = true;
    vmstate_register(NULL, 0, &vmstate_handoff, &handoff);
    migration_add_notifier(&migration_notifier, migration_event);
    qemu_add_vm_change_state_handler(vm_state_change, NULL);
}

static void qcxl_pool_migration_register(void)
{
    ram_notifier.notify = pool_ram_registered;
    qcxl_pool_ram_add_notifier(&ram_notifier);
}

migration_init(qcxl_pool_migration_register);
