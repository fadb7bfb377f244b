/*
 * qcxl: HA over CXL, protecting a VM with epoch checkpoints in a pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A protected VM commits, every epoch, the pages it dirtied and its CPU
 * and device state into a checkpoint region of a shared pool, with one
 * atomic commit; another QEMU on the pool takes it over from the last
 * committed epoch, mapping the images of its large RAM blocks as its
 * own memory.  docs/devel/ha.rst has the design and the commit
 * protocol; hw/mem/qcxl-ckpt.c owns the format.
 *
 * Owns the protection of this QEMU's VM (one at a time): its state, the
 * regions it maps, the base copy rounds and the epochs (whose dirty
 * pages the live copy engine, qcxl-live-copy.c, tracks), the migration
 * blocker, the statistics; and takeover.
 */

#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/units.h"
#include "qemu/error-report.h"
#include "qemu/madvise.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "qemu/timer.h"
#include "qemu/uuid.h"
#include "qapi/error.h"
#include "qapi/qapi-events-qcxl.h"
#include "qom/object.h"
#include "hw/qdev-core.h"
#include "exec/ramblock.h"
#include "exec/ramlist.h"
#include "exec/target_page.h"
#include "io/channel-buffer.h"
#include "migration/blocker.h"
#include "migration/global_state.h"
#include "migration/misc.h"
#include "net/filter.h"
#include "net/net.h"
#include "net/qcxl-ha-filter.h"
#include "block/qcxl-ha-journal.h"
#include "system/block-backend.h"
#include "system/cpus.h"
#include "system/hostmem.h"
#include "system/runstate.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "hw/mem/qcxl_ckpt.h"
#include "hw/mem/qcxl_pool_map.h"
#include "hw/mem/qcxl_pool_ram.h"
#include "migration.h"
#include "qemu-file.h"
#include "savevm.h"
#include "migration/qcxl-ha.h"
#include "migration/qcxl-live-copy.h"
#include "trace.h"

#define PAUSES          1024    /* pauses kept for the percentiles */
#define BASE_CHUNK      (2 * MiB)
#define BASE_ROUNDS     16      /* rounds of the base copy at most */
#define COPY_RUN_MAX    65536   /* pages per log entry */

typedef struct HaBlock {
    RAMBlock *rb;
    uint64_t size;
    uint8_t *image;             /* where its image is */
} HaBlock;

typedef struct Ha {
    QcxlHaState state;
    char *pool, *host, *region;
    QcxlPoolMap *map;           /* the checkpoint region */
    GPtrArray *images;          /* QcxlPoolMap *: image regions */
    GPtrArray *journals;        /* QcxlPoolMap *: disk journal regions */
    uint8_t *base;
    QcxlCkptLayout l;
    HaBlock blocks[QCXL_CKPT_BLOCKS];
    uint32_t epoch_ms;
    uint64_t epoch;             /* the last committed */
    int64_t commit_ms;          /* when, QEMU_CLOCK_REALTIME */
    QEMUTimer *timer;
    Error *blocker;
    QcxlLiveCopy *copy;         /* the base copy's rounds, the dirty pages */
    RAMBlockNotifier ram_notifier;
    bool ram_notifier_armed;
    /* the base copy */
    uint64_t base_done;         /* atomic */
    uint64_t base_total;
    int base_round;
    /* statistics */
    uint64_t dirty_bytes, devstate_bytes;
    uint64_t pause_last, pause_max;
    uint64_t pauses[PAUSES];
    uint64_t npauses;
    bool has_reason;
    QcxlHaStopReason reason;
    char *message;
    bool has_resumed;
    uint64_t resumed_epoch;
    bool resumed_replayed;
    uint64_t resumed_writes;    /* disk writes the journals replayed */
} Ha;

static Ha ha;
static NotifierList output_notifiers =
    NOTIFIER_LIST_INITIALIZER(output_notifiers);

static bool active(void)
{
    return ha.state == QCXL_HA_STATE_BASE ||
           ha.state == QCXL_HA_STATE_PROTECTED;
}

/* ---- Output commit ---- */

bool qcxl_ha_holding(void)
{
    return active();
}

void qcxl_ha_output_add_notifier(Notifier *n)
{
    notifier_list_add(&output_notifiers, n);
}

void qcxl_ha_output_remove_notifier(Notifier *n)
{
    notifier_remove(n);
}

static void output(QcxlHaOutput what, uint64_t epoch)
{
    QcxlHaOutputEvent e = { .what = what, .epoch = epoch };

    notifier_list_notify(&output_notifiers, &e);
    /* the disks' writes: block/qcxl-ha-journal.c */
    switch (what) {
    case QCXL_HA_OUTPUT_SEAL:
        qcxl_ha_journal_seal(epoch);
        break;
    case QCXL_HA_OUTPUT_RELEASE:
        qcxl_ha_journal_release(epoch);
        break;
    case QCXL_HA_OUTPUT_PASS:
        qcxl_ha_journal_pass();
        break;
    case QCXL_HA_OUTPUT_DROP:
        qcxl_ha_journal_drop();
        break;
    case QCXL_HA_OUTPUT_COUNT:
        break;
    }
}

/* ---- Releasing what protection holds ---- */

static void release(void)
{
    /* stops a round of the base copy, and dirty tracking */
    qcxl_live_copy_free(ha.copy);
    ha.copy = NULL;
    if (ha.timer) {
        timer_free(ha.timer);
        ha.timer = NULL;
    }
    if (ha.ram_notifier_armed) {
        /* removing replays every block's removal: not changes either */
        ha.ram_notifier_armed = false;
        ram_block_notifier_remove(&ha.ram_notifier);
    }
    migrate_del_blocker(&ha.blocker);
    cxl_direct_map_protected(false);
    memset(ha.blocks, 0, sizeof(ha.blocks));
    if (ha.images) {
        g_ptr_array_free(ha.images, true);
        ha.images = NULL;
    }
    /* the journals let go of their regions before they are unmapped */
    qcxl_ha_journal_detach_all();
    if (ha.journals) {
        g_ptr_array_free(ha.journals, true);
        ha.journals = NULL;
    }
    if (ha.map) {
        qcxl_pool_map_free(ha.map);
        ha.map = NULL;
    }
    ha.base = NULL;
}

static void stop(QcxlHaStopReason reason, const char *fmt, ...)
    G_GNUC_PRINTF(2, 3);

/* Protection stops on its own; the VM runs on unless it was fenced */
static void stop(QcxlHaStopReason reason, const char *fmt, ...)
{
    va_list ap;

    g_free(ha.message);
    va_start(ap, fmt);
    ha.message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    ha.has_reason = true;
    ha.reason = reason;
    ha.state = QCXL_HA_STATE_STOPPED;
    if (reason == QCXL_HA_STOP_REASON_FENCED) {
        output(QCXL_HA_OUTPUT_DROP, ha.epoch);
    } else {
        /* the VM runs on unprotected: its checkpoint is stale from now */
        qcxl_ckpt_abandon(ha.base);
        output(QCXL_HA_OUTPUT_PASS, ha.epoch);
    }
    trace_qcxl_ha_stop(QcxlHaStopReason_str(reason), ha.epoch);
    error_report("qcxl HA %s: protection stopped at epoch %" PRIu64 ": %s",
                 ha.region, ha.epoch, ha.message);
    qapi_event_send_qcxl_ha_stopped(reason, ha.epoch, ha.message);
    release();
}

/* ---- Epochs ---- */

static uint8_t *primary_image(void *opaque, uint32_t block, uint64_t offset,
                              uint64_t len)
{
    return ha.blocks[block].image + offset;
}

/* Log the pages block @i dirtied; false if the log is full */
static bool log_block(uint32_t i, QcxlCkptLog *w)
{
    HaBlock *b = &ha.blocks[i];
    uint64_t pages = b->size / QCXL_CKPT_PAGE;
    const uint8_t *host = qemu_ram_get_host_addr(b->rb);
    unsigned long *dirty = qcxl_live_copy_bitmap(ha.copy, i);
    uint64_t s = find_first_bit(dirty, pages);

    while (s < pages) {
        uint64_t e = find_next_zero_bit(dirty, pages, s);

        while (s < e) {
            uint32_t n = MIN(e - s, COPY_RUN_MAX);
            uint8_t *dst = qcxl_ckpt_log_reserve(w, i, s * QCXL_CKPT_PAGE,
                                                 n);

            if (!dst) {
                return false;
            }
            memcpy(dst, host + s * QCXL_CKPT_PAGE, n * QCXL_CKPT_PAGE);
            s += n;
        }
        s = find_next_bit(dirty, pages, e);
    }
    bitmap_zero(dirty, pages);
    return true;
}

/* CPU and device state into the slot of @epoch; its length, or -1 */
static int64_t save_devstate(uint64_t epoch, bool *too_big)
{
    QIOChannelBuffer *bioc = qio_channel_buffer_new(512 * KiB);
    QEMUFile *f = qemu_file_new_output(QIO_CHANNEL(bioc));
    int64_t len = -1;

    *too_big = false;
    if (qemu_save_device_state(f) == 0 && qemu_fflush(f) == 0) {
        if (bioc->usage > ha.l.devstate_max) {
            *too_big = true;
        } else {
            memcpy(qcxl_ckpt_devstate(ha.base, &ha.l, epoch), bioc->data,
                   bioc->usage);
            len = bioc->usage;
        }
    }
    qemu_fclose(f);
    object_unref(OBJECT(bioc));
    return len;
}

static void record_pause(uint64_t ns)
{
    ha.pause_last = ns;
    ha.pause_max = MAX(ha.pause_max, ns);
    ha.pauses[ha.npauses++ % PAUSES] = ns;
}

/* One epoch, with the BQL: the protocol of docs/devel/ha.rst */
static bool epoch(Error **errp)
{
    uint64_t next = ha.epoch + 1;
    bool running = runstate_is_running();
    int64_t t0 = qemu_clock_get_ns(QEMU_CLOCK_REALTIME), pause;
    bool full = false, too_big = false;
    int64_t devstate = -1;
    QcxlCkptLog w;
    QcxlCkptRecord rec;
    g_autoptr(GError) gerr = NULL;

    /* the run state the VM is in, for "globalstate", as migration does */
    global_state_store();
    if (running) {
        vm_stop(RUN_STATE_SAVE_VM);
    }
    if (ha.state != QCXL_HA_STATE_PROTECTED) {
        /* stopping the vCPUs let one unplug RAM: protection stopped */
        if (running) {
            vm_start();
        }
        error_setg(errp, "qcxl HA: protection stopped: %s",
                   ha.message ? ha.message : "it ended");
        return false;
    }
    qcxl_ckpt_log_init(&w, ha.base, &ha.l, next);
    qcxl_live_copy_take(ha.copy);
    for (uint32_t i = 0; i < ha.l.nblocks && !full; i++) {
        full = !log_block(i, &w);
    }
    if (!full) {
        devstate = save_devstate(next, &too_big);
    }
    /* what the VM sent until now is this epoch's output */
    output(QCXL_HA_OUTPUT_SEAL, next);
    if (running) {
        vm_start();
    }
    pause = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) - t0;
    record_pause(pause);

    if (full) {
        stop(QCXL_HA_STOP_REASON_LOG_FULL, "epoch %" PRIu64 " dirtied more "
             "than its log of %" PRIu64 " MiB holds", next,
             ha.l.log_max / MiB);
    } else if (too_big) {
        stop(QCXL_HA_STOP_REASON_DEVSTATE_FULL, "the device state of epoch %"
             PRIu64 " is larger than its area of %" PRIu64 " MiB", next,
             ha.l.devstate_max / MiB);
    } else if (devstate < 0) {
        stop(QCXL_HA_STOP_REASON_SAVE_FAILED, "the device state of epoch %"
             PRIu64 " could not be saved", next);
    }
    if (ha.state != QCXL_HA_STATE_STOPPED) {
        g_autofree char *journal = NULL;

        if (qcxl_ha_journal_overflowed(&journal)) {
            stop(QCXL_HA_STOP_REASON_JOURNAL_FULL, "epoch %" PRIu64 " wrote "
                 "more to disk than journal region '%s' holds; its writes "
                 "went to the disk", next, journal);
        }
    }
    for (uint32_t j = 0; j < ha.l.njournals &&
                         ha.state != QCXL_HA_STATE_STOPPED; j++) {
        if (!qcxl_ha_journal_find(ha.l.journals[j])) {
            /* its epochs would lack the seal a takeover looks for */
            stop(QCXL_HA_STOP_REASON_JOURNAL_REMOVED, "the node of disk "
                 "journal '%s' was deleted", ha.l.journals[j]);
        }
    }
    if (ha.state == QCXL_HA_STATE_STOPPED) {
        error_setg(errp, "qcxl HA: %s", ha.message);
        return false;
    }

    qcxl_ckpt_record_write(ha.base, &ha.l, next, &w, devstate,
                           g_get_real_time() * 1000, pause, &rec);
    if (!qcxl_ckpt_commit(ha.base, ha.epoch, next)) {
        /* a takeover froze the word: the VM runs elsewhere now */
        qemu_system_vmstop_request_prepare();
        qemu_system_vmstop_request(RUN_STATE_IO_ERROR);
        stop(QCXL_HA_STOP_REASON_FENCED, "another host took the VM over "
             "(commit word 0x%" PRIx64 "); this QEMU stopped it",
             qcxl_ckpt_commit_read(ha.base));
        error_setg(errp, "qcxl HA: %s", ha.message);
        return false;
    }
    ha.epoch = next;
    output(QCXL_HA_OUTPUT_RELEASE, next);
    ha.commit_ms = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    ha.dirty_bytes = w.data_bytes;
    ha.devstate_bytes = devstate;
    trace_qcxl_ha_commit(next, w.data_bytes, devstate, pause / 1000);
    /* the images follow; a crash here is what replay is for */
    if (!qcxl_ckpt_replay(ha.base, &ha.l, &rec, primary_image, NULL,
                          &gerr)) {
        /* our own log: cannot fail unless the media changed under us */
        stop(QCXL_HA_STOP_REASON_SAVE_FAILED, "applying epoch %" PRIu64
             ": %s", next, gerr->message);
        error_setg(errp, "qcxl HA: %s", ha.message);
        return false;
    }
    qcxl_ckpt_applied_set(ha.base, next);
    return true;
}

static void tick(void *opaque)
{
    if (ha.state != QCXL_HA_STATE_PROTECTED) {
        return;
    }
    epoch(NULL);
    if (ha.state == QCXL_HA_STATE_PROTECTED && ha.timer) {
        timer_mod(ha.timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                            ha.epoch_ms);
    }
}

/* ---- The base copy: every page, while the VM runs ---- */

/*
 * Before epoch 1 commits, the images are nobody's checkpoint, so pages go
 * straight into them: round 0 copies every page, and each further round
 * the pages dirtied meanwhile, until what is left fits a log
 * comfortably; epoch 1 logs the rest with the VM paused.  The rounds are
 * the live copy engine's (a thread that never takes the BQL).
 */
static int base_copy(void *opaque, uint32_t block, uint64_t offset,
                     uint64_t len)
{
    HaBlock *b = &ha.blocks[block];

    memcpy(b->image + offset, qemu_ram_get_host_addr(b->rb) + offset, len);
    return 0;
}

static void base_copied(void *opaque, uint64_t len)
{
    if (ha.base_round == 0) {
        qatomic_add(&ha.base_done, len);
    }
}

/* A round of the base copy ended: another one, or epoch 1 */
static void base_step(void *opaque, int ret)
{
    uint64_t dirty;

    if (ha.state != QCXL_HA_STATE_BASE) {
        return;
    }
    ha.base_round++;
    dirty = qcxl_live_copy_take(ha.copy) * QCXL_CKPT_PAGE;
    if (dirty > ha.l.log_max / 2 && ha.base_round < BASE_ROUNDS) {
        qcxl_live_copy_round(ha.copy, false);
        return;
    }
    trace_qcxl_ha_base_done(ha.base_total, ha.base_round,
                            qemu_clock_get_ms(QEMU_CLOCK_REALTIME) -
                            ha.commit_ms);
    ha.state = QCXL_HA_STATE_PROTECTED;
    /* epoch 1: what changed since the last round */
    if (!epoch(NULL)) {
        return;
    }
    if (ha.epoch_ms) {
        ha.timer = timer_new_ms(QEMU_CLOCK_REALTIME, tick, NULL);
        timer_mod(ha.timer, qemu_clock_get_ms(QEMU_CLOCK_REALTIME) +
                            ha.epoch_ms);
    }
}

static const QcxlLiveCopyOps base_ops = {
    .copy = base_copy,
    .copied = base_copied,
    .done = base_step,
};

/* ---- RAM that changes under protection stops it ---- */

static void ram_changed(void)
{
    if (ha.ram_notifier_armed && active()) {
        stop(QCXL_HA_STOP_REASON_RAM_CHANGED, "a RAM block was added, "
             "removed or resized");
    }
}

static void ram_added(RAMBlockNotifier *n, void *host, size_t size,
                      size_t max_size)
{
    ram_changed();
}

static void ram_removed(RAMBlockNotifier *n, void *host, size_t size,
                        size_t max_size)
{
    ram_changed();
}

static void ram_resized(RAMBlockNotifier *n, void *host, size_t old_size,
                        size_t new_size)
{
    ram_changed();
}

/* ---- Protect ---- */

static QcxlPoolMember *membership(const char *pool, const char *host,
                                  Error **errp)
{
    return pool && host ? qcxl_pool_member_get(pool, host, false, errp)
                        : qcxl_pool_member_find(pool, host, errp);
}

/* Does a filter-qcxl-ha on @nc hold what passes @dir? */
static bool holds(NetClientState *nc, NetFilterDirection dir)
{
    NetFilterState *nf;

    QTAILQ_FOREACH(nf, &nc->filters, next) {
        if (object_dynamic_cast(OBJECT(nf), TYPE_FILTER_QCXL_HA) && nf->on &&
            (nf->direction == dir ||
             nf->direction == NET_FILTER_DIRECTION_ALL)) {
            return true;
        }
    }
    return false;
}

/* A NIC whose packets no filter-qcxl-ha holds back */
static void nic_uncovered(NICState *nic, void *opaque)
{
    char **first = opaque;

    for (int i = 0; i < nic->conf->peers.queues || i == 0; i++) {
        NetClientState *nc = qemu_get_subqueue(nic, i);

        if (*first || !nc->peer) {
            continue;           /* a card without a backend sends nothing */
        }
        /* the card's own transmit queue, or the backend's receive queue */
        if (!holds(nc, NET_FILTER_DIRECTION_TX) &&
            !holds(nc->peer, NET_FILTER_DIRECTION_RX)) {
            *first = g_strdup(nc->name);
        }
    }
}

static bool output_covered(Error **errp)
{
    g_autofree char *nic = NULL;

    qemu_foreach_nic(nic_uncovered, &nic);
    if (nic) {
        error_setg(errp, "network card '%s' sends packets that no "
                   "filter-qcxl-ha holds back until their epoch commits "
                   "(add -object filter-qcxl-ha,id=...,netdev=...,queue=rx): "
                   "a takeover would roll back what its peers saw", nic);
        return false;
    }
    for (BlockBackend *blk = blk_all_next(NULL); blk;
         blk = blk_all_next(blk)) {
        DeviceState *dev = blk_get_attached_dev(blk);

        if (dev && blk_is_inserted(blk) && blk_is_writable(blk) &&
            !qcxl_ha_journal_is(blk_bs(blk))) {
            /* the device the user named: a virtio proxy, not its backend */
            while (!dev->id && dev->parent_bus && dev->parent_bus->parent) {
                dev = dev->parent_bus->parent;
            }
            error_setg(errp, "device '%s' writes to disk '%s', and no "
                       "qcxl-ha-journal filter holds its writes back until "
                       "their epoch commits (put one between the device "
                       "and its disk: -blockdev driver=qcxl-ha-journal,"
                       "node-name=...,file=...,region=...): a takeover "
                       "would roll back what the disk holds",
                       dev->id ? dev->id : object_get_typename(OBJECT(dev)),
                       blk_name(blk)[0] ? blk_name(blk)
                                        : bdrv_get_node_name(blk_bs(blk)));
            return false;
        }
    }
    return true;
}

static RAMBlock *memdev_block(const char *memdev, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                memdev);
    HostMemoryBackend *be = obj ? (HostMemoryBackend *)
        object_dynamic_cast(obj, TYPE_MEMORY_BACKEND) : NULL;

    if (!be || !host_memory_backend_is_mapped(be)) {
        error_setg(errp, "'%s' is not a memory backend the VM uses",
                   memdev);
        return NULL;
    }
    return host_memory_backend_get_memory(be)->ram_block;
}

/* The VM's RAM blocks into ha.l.blocks, each with its image's kind */
static bool plan_blocks(QcxlHaImageList *images, Error **errp)
{
    QcxlCkptLayout *l = &ha.l;
    RAMBlock *rb;

    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH(rb) {
        QcxlCkptBlock *b;

        if (!qemu_ram_is_migratable(rb)) {
            continue;
        }
        if (l->nblocks == QCXL_CKPT_BLOCKS) {
            error_setg(errp, "the VM has more than %d RAM blocks; a "
                       "checkpoint holds at most that", QCXL_CKPT_BLOCKS);
            return false;
        }
        if (strlen(rb->idstr) >= QCXL_CKPT_BLOCK_NAME_LEN) {
            error_setg(errp, "RAM block '%s': its name is too long for a "
                       "checkpoint", rb->idstr);
            return false;
        }
        ha.blocks[l->nblocks].rb = rb;
        ha.blocks[l->nblocks].size = rb->used_length;
        b = &l->blocks[l->nblocks++];
        g_strlcpy(b->name, rb->idstr, sizeof(b->name));
        b->size = rb->used_length;
        b->kind = QCXL_CKPT_IMAGE_INLINE;
    }
    for (QcxlHaImageList *i = images; i; i = i->next) {
        RAMBlock *want = memdev_block(i->value->memdev, errp);
        uint32_t k;

        if (!want) {
            return false;
        }
        for (k = 0; k < l->nblocks && ha.blocks[k].rb != want; k++) {
            /* find it */
        }
        if (k == l->nblocks) {
            error_setg(errp, "memory backend '%s' is not RAM the VM "
                       "migrates", i->value->memdev);
            return false;
        }
        if (l->blocks[k].kind == QCXL_CKPT_IMAGE_REGION) {
            error_setg(errp, "memory backend '%s' is given two image "
                       "regions", i->value->memdev);
            return false;
        }
        if (strlen(i->value->region) >= QCXL_CKPT_REGION_LEN) {
            error_setg(errp, "region name '%s' is too long",
                       i->value->region);
            return false;
        }
        l->blocks[k].kind = QCXL_CKPT_IMAGE_REGION;
        g_strlcpy(l->blocks[k].region, i->value->region,
                  sizeof(l->blocks[k].region));
    }
    for (BlockDriverState *bs = qcxl_ha_journal_next(NULL); bs;
         bs = qcxl_ha_journal_next(bs)) {
        const char *region = qcxl_ha_journal_region(bs);

        if (l->njournals == QCXL_CKPT_JOURNALS) {
            error_setg(errp, "the VM has more than %d disk journals; a "
                       "checkpoint covers at most that", QCXL_CKPT_JOURNALS);
            return false;
        }
        if (strlen(region) >= QCXL_CKPT_REGION_LEN) {
            error_setg(errp, "region name '%s' is too long", region);
            return false;
        }
        g_strlcpy(l->journals[l->njournals++], region, QCXL_CKPT_REGION_LEN);
    }
    return true;
}

/* The regions must be this host's: a takeover takes them from it */
static bool owned(QcxlPoolMember *m, const char *region, Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    g_autoptr(QcxlPoolMeta) meta =
        qcxl_pool_read(qcxl_pool_member_pool(m), &gerr);
    int r;

    if (!meta) {
        error_setg(errp, "qcxl pool %s: %s", qcxl_pool_member_path(m),
                   gerr->message);
        return false;
    }
    r = qcxl_pool_find_region(meta, region);
    if (r < 0 || meta->regions[r].owner != qcxl_pool_member_slot(m)) {
        error_setg(errp, "qcxl pool %s: region '%s' is %s; a checkpoint "
                   "goes into regions this host ('%s') owns",
                   qcxl_pool_member_path(m), region,
                   r < 0 ? "missing" : "another host's",
                   qcxl_pool_member_name(m));
        return false;
    }
    return true;
}

static bool map_regions(QcxlPoolMember *m, Error **errp)
{
    const char *ckpt[] = { ha.region, NULL };

    if (!owned(m, ha.region, errp)) {
        return false;
    }
    ha.map = qcxl_pool_map_new(m, ckpt, QCXL_REGION_USE_CHECKPOINT, errp);
    if (!ha.map) {
        return false;
    }
    ha.base = qcxl_pool_map_ptr(ha.map);
    ha.images = g_ptr_array_new_with_free_func(
        (GDestroyNotify)qcxl_pool_map_free);
    for (uint32_t i = 0; i < ha.l.nblocks; i++) {
        QcxlCkptBlock *b = &ha.l.blocks[i];
        const char *names[] = { b->region, NULL };
        QcxlPoolMap *map;

        if (b->kind != QCXL_CKPT_IMAGE_REGION) {
            continue;
        }
        if (!owned(m, b->region, errp)) {
            return false;
        }
        map = qcxl_pool_map_new(m, names, QCXL_REGION_USE_MEMORY, errp);
        if (!map) {
            return false;
        }
        g_ptr_array_add(ha.images, map);
        if (qcxl_pool_map_size(map) < b->size) {
            error_setg(errp, "qcxl pool %s: region '%s' holds %" PRIu64
                       " bytes, less than RAM block '%s' (%" PRIu64 ")",
                       qcxl_pool_member_path(m), b->region,
                       qcxl_pool_map_size(map), b->name, b->size);
            return false;
        }
        ha.blocks[i].image = qcxl_pool_map_ptr(map);
    }
    ha.journals = g_ptr_array_new_with_free_func(
        (GDestroyNotify)qcxl_pool_map_free);
    for (uint32_t j = 0; j < ha.l.njournals; j++) {
        const char *names[] = { ha.l.journals[j], NULL };
        QcxlPoolMap *map;

        if (!owned(m, names[0], errp)) {
            return false;
        }
        map = qcxl_pool_map_new(m, names, QCXL_REGION_USE_CHECKPOINT, errp);
        if (!map) {
            return false;
        }
        g_ptr_array_add(ha.journals, map);
    }
    return true;
}

/* The disks' journals hold every write from now on */
static bool start_journals(Error **errp)
{
    for (uint32_t j = 0; j < ha.l.njournals; j++) {
        QcxlPoolMap *map = g_ptr_array_index(ha.journals, j);

        if (!qcxl_ha_journal_start(qcxl_ha_journal_find(ha.l.journals[j]),
                                   qcxl_pool_map_ptr(map),
                                   qcxl_pool_map_size(map), ha.l.id, 0,
                                   errp)) {
            return false;
        }
    }
    return true;
}

static bool may_protect(Error **errp)
{
    if (active()) {
        error_setg(errp, "qcxl HA: this VM is protected already (region "
                   "'%s')", ha.region);
        return false;
    }
    if (runstate_check(RUN_STATE_INMIGRATE)) {
        error_setg(errp, "qcxl HA: this QEMU waits for an incoming "
                   "migration or a takeover; it has no VM to protect yet");
        return false;
    }
    if (qemu_target_page_size() != QCXL_CKPT_PAGE) {
        error_setg(errp, "qcxl HA: target pages of %zu bytes; checkpoints "
                   "log pages of %llu", qemu_target_page_size(),
                   QCXL_CKPT_PAGE);
        return false;
    }
    if (migration_is_running()) {
        error_setg(errp, "qcxl HA: a migration is in progress");
        return false;
    }
    if (migration_is_blocked(errp)) {
        error_prepend(errp, "qcxl HA: this VM cannot be protected, because "
                      "its state cannot be saved: ");
        return false;
    }
    return output_covered(errp);
}

bool qcxl_ha_protect(const char *region, QcxlHaImageList *images,
                     const char *pool, const char *host, uint32_t epoch_ms,
                     uint64_t devstate_size, Error **errp)
{
    g_autoptr(QcxlPoolMember) m = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autofree char *owner = NULL;
    RAMBlock *rbs[QCXL_CKPT_BLOCKS];
    QemuUUID id;

    if (!may_protect(errp)) {
        return false;
    }
    if (epoch_ms && (epoch_ms < 10 || epoch_ms > 60000)) {
        error_setg(errp, "qcxl HA: epoch-ms must be 0 or 10 to 60000, not "
                   "%u", epoch_ms);
        return false;
    }
    if (devstate_size > 1 * GiB) {
        error_setg(errp, "qcxl HA: devstate-size is at most 1 GiB");
        return false;
    }
    m = membership(pool, host, errp);
    if (!m) {
        return false;
    }

    release();
    g_free(ha.pool);
    g_free(ha.host);
    g_free(ha.region);
    g_free(ha.message);
    memset(&ha, 0, sizeof(ha));
    ha.pool = g_strdup(qcxl_pool_member_path(m));
    ha.host = g_strdup(qcxl_pool_member_name(m));
    ha.region = g_strdup(region);
    ha.epoch_ms = epoch_ms;
    ha.l.epoch_ms = epoch_ms;
    ha.l.devstate_max = devstate_size;
    g_strlcpy(ha.l.host, ha.host, sizeof(ha.l.host));
    qemu_uuid_generate(&id);
    memcpy(ha.l.id, id.data, sizeof(ha.l.id));

    if (!plan_blocks(images, errp) || !map_regions(m, errp)) {
        goto fail;
    }
    if (!qcxl_ckpt_plan(&ha.l, qcxl_pool_map_size(ha.map), &gerr)) {
        error_setg(errp, "qcxl pool %s: region '%s': %s", ha.pool, region,
                   gerr->message);
        goto fail;
    }
    for (uint32_t i = 0; i < ha.l.nblocks; i++) {
        HaBlock *b = &ha.blocks[i];

        if (ha.l.blocks[i].kind == QCXL_CKPT_IMAGE_INLINE) {
            b->image = qcxl_ckpt_inline_image(ha.base, &ha.l, i);
        }
        ha.base_total += b->size;
    }
    qcxl_ckpt_format(ha.base, &ha.l);
    /* fault the slots in now, not in the pauses of the first epochs */
    qemu_madvise(ha.base + ha.l.devstate_off[0],
                 ha.l.log_off[1] + ha.l.log_max - ha.l.devstate_off[0],
                 QEMU_MADV_POPULATE_WRITE);

    error_setg(&ha.blocker, "qcxl HA: this VM is protected into region "
               "'%s'; unprotect it (qcxl-ha-unprotect) to migrate it",
               region);
    if (migrate_add_blocker(&ha.blocker, errp) < 0) {
        goto fail;
    }
    /*
     * Interleaved CXL sets' copies are RAM nothing saves: their bytes go
     * back on the media now, before the base copy reads it
     */
    cxl_direct_map_protected(true);
    if (!start_journals(errp)) {
        goto fail;
    }
    /* from here on every write is tracked */
    owner = g_strdup_printf("HA protection into region '%s'", region);
    for (uint32_t i = 0; i < ha.l.nblocks; i++) {
        rbs[i] = ha.blocks[i].rb;
    }
    ha.copy = qcxl_live_copy_new(owner, rbs, ha.l.nblocks, BASE_CHUNK,
                                 &base_ops, NULL, errp);
    if (!ha.copy) {
        goto fail;
    }
    ha.ram_notifier = (RAMBlockNotifier) {
        .ram_block_added = ram_added,
        .ram_block_removed = ram_removed,
        .ram_block_resized = ram_resized,
    };
    /* registering replays the existing blocks: not changes */
    ram_block_notifier_add(&ha.ram_notifier);
    ha.ram_notifier_armed = true;

    ha.state = QCXL_HA_STATE_BASE;
    ha.commit_ms = qemu_clock_get_ms(QEMU_CLOCK_REALTIME);
    trace_qcxl_ha_protect(region, ha.l.nblocks, ha.l.inline_size,
                          ha.l.log_max);
    qcxl_live_copy_round(ha.copy, true);
    return true;

fail:
    release();
    ha.state = QCXL_HA_STATE_OFF;
    return false;
}

bool qcxl_ha_unprotect(Error **errp)
{
    if (!active()) {
        error_setg(errp, "qcxl HA: this VM is not protected");
        return false;
    }
    trace_qcxl_ha_unprotect(ha.region, ha.epoch);
    /* the VM runs on unprotected: its checkpoint is stale from now */
    qcxl_ckpt_abandon(ha.base);
    ha.state = QCXL_HA_STATE_OFF;
    output(QCXL_HA_OUTPUT_PASS, ha.epoch);
    release();
    ha.state = QCXL_HA_STATE_OFF;
    return true;
}

bool qcxl_ha_checkpoint(Error **errp)
{
    if (ha.state != QCXL_HA_STATE_PROTECTED) {
        error_setg(errp, "qcxl HA: %s", ha.state == QCXL_HA_STATE_BASE
                   ? "the base copy has not finished; no epoch can be "
                     "committed yet" : "this VM is not protected");
        return false;
    }
    return epoch(errp);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t percentile(int pct)
{
    uint64_t n = MIN(ha.npauses, PAUSES);
    g_autofree uint64_t *v = g_memdup2(ha.pauses, n * sizeof(uint64_t));

    if (!n) {
        return 0;
    }
    qsort(v, n, sizeof(*v), cmp_u64);
    return v[MIN(n - 1, n * pct / 100)];
}

QcxlHaInfo *qcxl_ha_info(void)
{
    QcxlHaInfo *info = g_new0(QcxlHaInfo, 1);

    info->state = ha.state;
    info->pool = g_strdup(ha.pool);
    info->host = g_strdup(ha.host);
    info->region = g_strdup(ha.region);
    info->epoch_ms = ha.epoch_ms;
    info->epoch = ha.epoch;
    if (ha.epoch) {
        info->has_last_commit_age_ms = true;
        info->last_commit_age_ms =
            qemu_clock_get_ms(QEMU_CLOCK_REALTIME) - ha.commit_ms;
    }
    info->base_done = qatomic_read(&ha.base_done);
    info->base_total = ha.base_total;
    info->dirty_bytes = ha.dirty_bytes;
    info->devstate_bytes = ha.devstate_bytes;
    info->pause_last_us = ha.pause_last / 1000;
    info->pause_median_us = percentile(50) / 1000;
    info->pause_p99_us = percentile(99) / 1000;
    info->pause_max_us = ha.pause_max / 1000;
    info->has_stop_reason = ha.has_reason;
    info->stop_reason = ha.reason;
    info->stop_message = g_strdup(ha.message);
    {
        QcxlHaOutputEvent count = { .what = QCXL_HA_OUTPUT_COUNT };

        notifier_list_notify(&output_notifiers, &count);
        info->held_packets = count.held_packets;
        info->held_bytes = count.held_bytes;
        qcxl_ha_journal_count(&info->held_writes, &info->held_write_bytes);
    }
    info->has_resumed_epoch = ha.has_resumed;
    info->resumed_epoch = ha.resumed_epoch;
    info->has_resumed_replayed = ha.has_resumed;
    info->resumed_replayed = ha.resumed_replayed;
    info->has_resumed_disk_writes = ha.has_resumed;
    info->resumed_disk_writes = ha.resumed_writes;
    return info;
}

/* ---- Takeover ---- */

typedef struct Takeover {
    QcxlPoolMember *member;
    uint8_t *base;
    QcxlCkptLayout l;
    RAMBlock *rbs[QCXL_CKPT_BLOCKS];
} Takeover;

static uint8_t *takeover_image(void *opaque, uint32_t block, uint64_t offset,
                               uint64_t len)
{
    Takeover *t = opaque;

    if (t->l.blocks[block].kind == QCXL_CKPT_IMAGE_INLINE) {
        return qcxl_ckpt_inline_image(t->base, &t->l, block) + offset;
    }
    return (uint8_t *)qemu_ram_get_host_addr(t->rbs[block]) + offset;
}

/* Is @rb this membership's pool memory in exactly region @region? */
static bool rb_is_region(Takeover *t, RAMBlock *rb, const char *region)
{
    for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolRam *ram = l->data;
        const char *const *regions =
            qcxl_pool_map_regions(qcxl_pool_ram_map(ram));

        if (qcxl_pool_ram_backend(ram)->mr.ram_block == rb) {
            return qcxl_pool_ram_member(ram) == t->member &&
                   regions[0] && !regions[1] &&
                   !strcmp(regions[0], region) && qcxl_pool_ram_whole(ram);
        }
    }
    return false;
}

/* This QEMU's RAM must be the checkpoint's, block for block */
static bool match_blocks(Takeover *t, Error **errp)
{
    RAMBlock *rb;

    for (uint32_t i = 0; i < t->l.nblocks; i++) {
        const QcxlCkptBlock *b = &t->l.blocks[i];

        rb = qemu_ram_block_by_name(b->name);
        if (!rb || !qemu_ram_is_migratable(rb) ||
            qemu_ram_get_used_length(rb) != b->size) {
            error_setg(errp, "the checkpoint holds RAM block '%s' of %"
                       PRIu64 " bytes, which this QEMU %s", b->name,
                       b->size, rb ? "has in another size" : "lacks");
            return false;
        }
        if (b->kind == QCXL_CKPT_IMAGE_REGION &&
            !rb_is_region(t, rb, b->region)) {
            error_setg(errp, "the checkpoint keeps RAM block '%s' in region "
                       "'%s': start this QEMU with that region as its "
                       "memory (-object memory-backend-qcxl-pool,id=%s,"
                       "region=%s,...)", b->name, b->region, b->name,
                       b->region);
            return false;
        }
        t->rbs[i] = rb;
    }
    for (uint32_t j = 0; j < t->l.njournals; j++) {
        if (!qcxl_ha_journal_find(t->l.journals[j])) {
            error_setg(errp, "the checkpoint journals disk writes in region "
                       "'%s', which no disk of this QEMU has: give the "
                       "disk a filter -blockdev driver=qcxl-ha-journal,"
                       "file=...,region=%s", t->l.journals[j],
                       t->l.journals[j]);
            return false;
        }
    }
    RCU_READ_LOCK_GUARD();
    RAMBLOCK_FOREACH(rb) {
        uint32_t i;

        if (!qemu_ram_is_migratable(rb)) {
            continue;
        }
        for (i = 0; i < t->l.nblocks && t->rbs[i] != rb; i++) {
            /* find it */
        }
        if (i == t->l.nblocks) {
            error_setg(errp, "this QEMU has RAM block '%s', which the "
                       "checkpoint does not hold: its configuration is "
                       "not the protected VM's", rb->idstr);
            return false;
        }
    }
    return true;
}

/* Take the regions from their owner, in one pool transaction */
static bool take_regions(Takeover *t, const char *region, char **from,
                         Error **errp)
{
    QcxlPool *pool = qcxl_pool_member_pool(t->member);
    g_autoptr(GError) gerr = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &gerr);
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    int r, owner;

    if (!meta) {
        error_setg(errp, "%s", gerr->message);
        return false;
    }
    r = qcxl_pool_find_region(meta, region);
    owner = r < 0 ? -1 : meta->regions[r].owner;
    if (owner < 0 || owner >= QCXL_POOL_HOSTS) {
        error_setg(errp, "region '%s' has no owner to take it from", region);
        return false;
    }
    *from = g_strdup(meta->hosts[owner].name);
    if (owner == qcxl_pool_member_slot(t->member)) {
        return true;            /* ours already: a takeover tried before */
    }
    g_ptr_array_add(names, (char *)region);
    for (uint32_t i = 0; i < t->l.nblocks; i++) {
        if (t->l.blocks[i].kind == QCXL_CKPT_IMAGE_REGION) {
            g_ptr_array_add(names, t->l.blocks[i].region);
        }
    }
    for (uint32_t j = 0; j < t->l.njournals; j++) {
        g_ptr_array_add(names, t->l.journals[j]);
    }
    if (!qcxl_pool_takeover(pool, *from,
                            qcxl_pool_member_lease_expired(
                                t->member, owner,
                                meta->hosts[owner].incarnation),
                            meta->hosts[owner].incarnation, names->len,
                            (const char *const *)names->pdata, &gerr)) {
        error_setg(errp, "%s", gerr->message);
        return false;
    }
    return true;
}

static bool load_devstate(uint8_t *data, uint64_t len, Error **errp)
{
    QIOChannelBuffer *bioc = qio_channel_buffer_new(len);
    QEMUFile *f;
    bool stream = false;
    int ret = 0;

    memcpy(bioc->data, data, len);
    bioc->usage = len;
    f = qemu_file_new_input(QIO_CHANNEL(bioc));
    if (len >= 8 && qemu_get_be32(f) == QEMU_VM_FILE_MAGIC &&
        qemu_get_be32(f) == QEMU_VM_FILE_VERSION) {
        stream = true;
        cpu_synchronize_all_pre_loadvm();
        ret = qemu_load_device_state(f);
    }
    qemu_fclose(f);
    object_unref(OBJECT(bioc));
    if (!stream) {
        error_setg(errp, "its CPU and device state does not load: it is "
                   "no QEMU device state stream (magic or version)");
        return false;
    }
    if (ret < 0) {
        error_setg(errp, "its CPU and device state does not load into this "
                   "QEMU (see the messages above)");
        return false;
    }
    return true;
}

/* The disks get the writes of the epochs up to @e their journals hold */
static bool replay_journals(Takeover *t, uint64_t e, Error **errp)
{
    for (uint32_t j = 0; j < t->l.njournals; j++) {
        const char *names[] = { t->l.journals[j], NULL };
        g_autoptr(QcxlPoolMap) map =
            qcxl_pool_map_new(t->member, names, QCXL_REGION_USE_CHECKPOINT,
                              errp);
        uint64_t writes;

        if (!map ||
            !qcxl_ha_journal_replay(qcxl_ha_journal_find(names[0]),
                                    qcxl_pool_map_ptr(map),
                                    qcxl_pool_map_size(map), t->l.id, e,
                                    &writes, errp)) {
            return false;
        }
        ha.resumed_writes += writes;
    }
    return true;
}

static bool takeover(Takeover *t, const char *region, bool start,
                     Error **errp)
{
    const char *ckpt[] = { region, NULL };
    g_autoptr(QcxlPoolMap) map = NULL;
    g_autoptr(GError) gerr = NULL;
    g_autofree char *from = NULL;
    QcxlCkptRecord rec;
    uint64_t word, e, applied;

    map = qcxl_pool_map_new(t->member, ckpt, QCXL_REGION_USE_CHECKPOINT,
                            errp);
    if (!map) {
        return false;
    }
    t->base = qcxl_pool_map_ptr(map);
    if (!qcxl_ckpt_open(t->base, qcxl_pool_map_size(map), &t->l, &gerr)) {
        error_setg(errp, "%s", gerr->message);
        return false;
    }
    if (!match_blocks(t, errp) || !take_regions(t, region, &from, errp)) {
        return false;
    }
    /* from here the old host can commit nothing more */
    word = qcxl_ckpt_take(t->base);
    e = word & QCXL_CKPT_EPOCH_MASK;
    if (word & QCXL_CKPT_ABANDONED) {
        error_setg(errp, "its protection ended after epoch %" PRIu64
                   " and the VM ran on unprotected: the checkpoint is "
                   "older than what the VM showed the world", e);
        return false;
    }
    applied = qcxl_ckpt_applied_read(t->base);
    if (!qcxl_ckpt_record_read(t->base, &t->l, e, &rec, &gerr)) {
        error_setg(errp, "%s", gerr->message);
        return false;
    }
    if (applied != e && applied + 1 != e) {
        error_setg(errp, "epoch %" PRIu64 " is committed but the images "
                   "hold epoch %" PRIu64 ": the checkpoint is damaged", e,
                   applied);
        return false;
    }
    /* the disks first: a damaged journal refuses before RAM is touched */
    ha.resumed_writes = 0;
    if (t->l.njournals &&
        (!migration_block_activate(errp) || !replay_journals(t, e, errp))) {
        return false;
    }
    if (applied != e) {
        if (!qcxl_ckpt_replay(t->base, &t->l, &rec, takeover_image, t,
                              &gerr)) {
            error_setg(errp, "%s", gerr->message);
            return false;
        }
        qcxl_ckpt_applied_set(t->base, e);
    }
    for (uint32_t i = 0; i < t->l.nblocks; i++) {
        if (t->l.blocks[i].kind == QCXL_CKPT_IMAGE_INLINE) {
            memcpy(qemu_ram_get_host_addr(t->rbs[i]),
                   qcxl_ckpt_inline_image(t->base, &t->l, i),
                   t->l.blocks[i].size);
        }
    }
    if (!load_devstate(qcxl_ckpt_devstate(t->base, &t->l, e),
                       rec.devstate_len, errp)) {
        error_prepend(errp, "epoch %" PRIu64 ": ", e);
        return false;
    }
    trace_qcxl_ha_takeover(region, t->l.host, e, applied);
    info_report("qcxl HA %s: host '%s' took the VM over at epoch %" PRIu64
                " (host '%s' protected it)", region,
                qcxl_pool_member_name(t->member), e, t->l.host);
    ha.has_resumed = true;
    ha.resumed_epoch = e;
    ha.resumed_replayed = applied != e;
    if (!migration_block_activate(errp)) {
        return false;
    }
    qemu_announce_self(&migration_incoming_get_current()->announce_timer,
                       migrate_announce_params());
    if (start) {
        vm_start();
    } else {
        runstate_set(RUN_STATE_PAUSED);
    }
    return true;
}

bool qcxl_ha_takeover(const char *region, const char *pool,
                      const char *host, bool start, Error **errp)
{
    Takeover t = { 0 };
    bool ok;

    if (!runstate_check(RUN_STATE_INMIGRATE) ||
        migration_incoming_get_current()->state != MIGRATION_STATUS_NONE) {
        error_setg(errp, "qcxl HA: a takeover needs a QEMU started with "
                   "-incoming defer, which has not run and receives no "
                   "migration");
        return false;
    }
    t.member = membership(pool, host, errp);
    if (!t.member) {
        return false;
    }
    ok = takeover(&t, region, start, errp);
    if (!ok) {
        error_prepend(errp, "qcxl HA: taking region '%s' over: ", region);
    }
    qcxl_pool_member_unref(t.member);
    return ok;
}
