/*
 * qcxl: direct mapping of CXL type-3 memory into fixed memory windows
 *
 * Upstream decodes every access to a CXL fixed memory window in software:
 * the window is an I/O region whose callbacks walk the host bridge, switch
 * and endpoint HDM decoders (cxl_cfmws_find_device(), cxl_type3_dpa()).
 * Here the same decode is evaluated once per decoder change, over whole
 * address ranges instead of single addresses.  Every range that decodes
 * linearly onto one device's volatile or persistent backend gets a
 * MemoryRegion alias of that backend, placed over the window's I/O
 * region.  The aliases must give the guest exactly the bytes the software
 * decode would, so the evaluation follows its rules to the letter:
 *
 * - at the host bridge and at a switch's upstream port, the first
 *   decoder (by index) whose range holds the address decides; if it is
 *   not committed the address is not decoded;
 * - at the endpoint, decoders are walked in index order; an uncommitted
 *   decoder ends the walk; each decoder's DPA base is the sum of the
 *   skips and of size/ways of the decoders before it, plus its own skip;
 * - a DPA beyond the volatile + persistent capacity is dynamic capacity,
 *   decoded only where an accepted extent backs its block.
 *
 * The evaluation itself is in qcxl-direct-map-eval.c, over a description
 * of the decoders that qcxl-direct-map-describe.c reads.  Only ways == 1 at
 * every level is linear.  Ranges that interleave are built into "sets"
 * afterwards (qcxl-direct-map-sets.c): every 256-byte chunk is decoded
 * with upstream's own per-address functions, and where a whole 256 MiB
 * block decodes onto private volatile media that no other address
 * reaches, one RAM block holds its data in host-physical order.
 * Anything else is left to the software decode, and so are dynamic
 * capacity ranges.
 *
 * This file owns the direct map's state and lifecycle: the aliases, when
 * sets are built and torn down (decoder writes, mailbox commands, reset,
 * unplug, savevm and migration, VM start), and cxl_direct_map_query().
 *
 * What a guest's decoder writes may cost (docs/devel/isolation.rst):
 * sets are torn down only when the decode they depend on changes (the
 * fingerprint below ignores what upstream's decode ignores), and they
 * are built in steps of bounded work from a bottom half (paced by a
 * RateLimit for a while after sets were taken down), so the main loop
 * answers between steps however often the guest changes its decoders.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-qcxl.h"
#include "qobject/qdict.h"
#include "hw/boards.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "qcxl-direct-map-describe.h"
#include "qcxl-direct-map-sets.h"
#include "hw/cxl/cxl_mailbox.h"
#include "hw/cxl/qcxl_firmware.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pcie_port.h"
#include "hw/pci-bridge/pci_expander_bridge.h"
#include "system/hostmem.h"
#include "system/cpus.h"
#include "system/reset.h"
#include "system/runstate.h"
#include "system/system.h"
#include "hw/qdev-core.h"
#include "hw/core/cpu.h"
#include "migration/register.h"
#include "exec/cpu-common.h"
#include "qemu/main-loop.h"
#include "qemu/ratelimit.h"
#include "qemu/timer.h"
#include "trace.h"

/*
 * After mapped sets were taken down, building sets again takes at most
 * this share of the main loop's time, for SETS_PACE_NS: the RateLimit
 * below counts the nanoseconds the steps take, at most
 * SETS_BUILD_NS_PER_S a second, so a guest that keeps changing its
 * decoders keeps at most half of the main loop busy.  Other builds (the
 * first ones, or after a quiet while) run their steps back to back,
 * still giving the main loop back between steps.
 */
#define SETS_BUILD_NS_PER_S     (NANOSECONDS_PER_SECOND / 2)
#define SETS_BUILD_SLICE_NS     (100 * SCALE_MS)
#define SETS_PACE_NS            (10 * NANOSECONDS_PER_SECOND)

typedef struct CXLDMMapping {
    hwaddr offset;              /* within the window */
    uint64_t size;
    MemoryRegion *target;
    uint64_t target_offset;
    CXLType3Dev *ct3d;
    MemoryRegion *alias;
} CXLDMMapping;

typedef struct CXLDMWindow {
    CXLFixedWindow *fw;
    GArray *mappings;           /* CXLDMMapping */
    GArray *ranges;             /* CXLDMRange: the last evaluation */
    CXLDMSets *sets;            /* its interleaved sets */
    uint64_t teardowns;         /* sets or builds taken down */
} CXLDMWindow;

/* A build waiting for mappings to be dropped looks again after this */
#define SETS_WAIT_NS    (10 * SCALE_MS)

static struct {
    CXLState *state;
    bool enabled;
    bool migrating;             /* a savevm/migration is in progress */
    bool protected;             /* an HA protection saves every epoch */
    GArray *windows;            /* CXLDMWindow */
    DeviceState *removing;      /* a type-3 device being unplugged */
    uint64_t sets_fingerprint;  /* decode the sets (or build) are for */
    CXLDMBuild *build;          /* a build under way, or NULL */
    bool built;                 /* sets are built for sets_fingerprint */
    QEMUBH *bh;                 /* a build step, outside MMIO handlers */
    QEMUTimer *timer;           /* ... or later, when paced */
    RateLimit rate;             /* the pace of builds ... */
    int64_t pace_until;         /* ... until then (QEMU_CLOCK_REALTIME) */
    bool set_at_start;          /* cxl-direct-map= given at start-up */
    uint64_t max_maps;          /* cxl-direct-map-max-maps */
    GPtrArray *moving;          /* MemoryRegion: backends being moved */
    uint64_t moving_changes;    /* ... changed this often */
} dm = {
    .enabled = true,
    .max_maps = UINT64_MAX,
};

/* Mapped ranges of @ranges, adjacent pieces of one backend merged. */
static GArray *ranges_to_mappings(CXLFixedWindow *fw, GArray *ranges)
{
    GArray *maps = g_array_new(false, true, sizeof(CXLDMMapping));
    int i;

    for (i = 0; i < ranges->len; i++) {
        CXLDMRange *r = &g_array_index(ranges, CXLDMRange, i);
        CXLDMMapping *last = maps->len ?
            &g_array_index(maps, CXLDMMapping, maps->len - 1) : NULL;

        if (!r->target) {
            continue;
        }
        if (last && last->target == r->target &&
            last->offset + last->size == r->start - fw->base &&
            last->target_offset + last->size == r->target_offset) {
            last->size += r->end - r->start;
            continue;
        }
        g_array_append_val(maps, ((CXLDMMapping) {
            .offset = r->start - fw->base,
            .size = r->end - r->start,
            .target = r->target,
            .target_offset = r->target_offset,
            .ct3d = r->ct3d,
        }));
    }
    return maps;
}

static bool mappings_equal(GArray *a, GArray *b)
{
    int i;

    if (a->len != b->len) {
        return false;
    }
    for (i = 0; i < a->len; i++) {
        CXLDMMapping *x = &g_array_index(a, CXLDMMapping, i);
        CXLDMMapping *y = &g_array_index(b, CXLDMMapping, i);

        if (x->offset != y->offset || x->size != y->size ||
            x->target != y->target || x->target_offset != y->target_offset) {
            return false;
        }
    }
    return true;
}

static void unmap_all(CXLDMWindow *w)
{
    int i;

    for (i = 0; i < w->mappings->len; i++) {
        CXLDMMapping *m = &g_array_index(w->mappings, CXLDMMapping, i);

        memory_region_del_subregion(&w->fw->mr, m->alias);
        /* Aliases may be destroyed at any time (docs/devel/memory.rst). */
        object_unparent(OBJECT(m->alias));
        g_free(m->alias);
        trace_cxl_direct_map_del(w->fw->base + m->offset, m->size);
    }
    g_array_set_size(w->mappings, 0);
}

static void map_all(CXLDMWindow *w, GArray *maps)
{
    int i;

    for (i = 0; i < maps->len; i++) {
        CXLDMMapping *m = &g_array_index(maps, CXLDMMapping, i);
        g_autofree char *name = g_strdup_printf("cxl-direct-map[%d]", i);

        m->alias = g_new0(MemoryRegion, 1);
        memory_region_init_alias(m->alias, NULL, name, m->target,
                                 m->target_offset, m->size);
        /* Above the window's own I/O region, which stays the fallback. */
        memory_region_add_subregion_overlap(&w->fw->mr, m->offset, m->alias,
                                            1);
        trace_cxl_direct_map_add(w->fw->base + m->offset, m->size,
                                 memory_region_name(m->target),
                                 m->target_offset);
        g_array_append_val(w->mappings, *m);
    }
}

static void window_update(CXLDMWindow *w)
{
    CXLDMEval ev = { .enabled = dm.enabled, .removing = dm.removing };
    GArray *ranges = cxl_dm_eval_window(&ev, w->fw);
    GArray *maps;

    maps = ranges_to_mappings(w->fw, ranges);
    if (!mappings_equal(maps, w->mappings)) {
        memory_region_transaction_begin();
        unmap_all(w);
        map_all(w, maps);
        memory_region_transaction_commit();
    }
    g_array_free(maps, true);
    if (w->ranges) {
        cxl_dm_ranges_free(w->ranges);
    }
    w->ranges = ranges;
}

/* ---- Interleaved sets ---- */

static uint64_t fp_mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ b[i]) * 0x100000001b3ULL;
    }
    return h;
}

/*
 * An HDM decoder component's registers, as far as upstream's decode reads
 * them.  Host bridges and switches (cxl_hdm_find_target()): the first
 * decoder whose range holds the address decides, so every decoder's base
 * and size count, and whether it is committed; ways, granularity and
 * targets only when it is.  Endpoints (cxl_type3_dpa()): decoders count in
 * order up to the first uncommitted one, which ends the walk.  A write
 * that changes none of this changes no decode and costs no set.
 */
static uint64_t fp_cstate(uint64_t h, CXLComponentState *cs, bool endpoint)
{
    uint32_t *r = cs->crb.cache_mem_registers;
    int inc = R_CXL_HDM_DECODER1_BASE_LO - R_CXL_HDM_DECODER0_BASE_LO;
    uint32_t cap = r[R_CXL_HDM_DECODER_CAPABILITY];
    int i, n = cxl_decoder_count_dec(FIELD_EX32(cap,
                                                CXL_HDM_DECODER_CAPABILITY,
                                                DECODER_COUNT));

    h = fp_mix(h, &cap, sizeof(cap));
    for (i = 0; i < n && i < CXL_HDM_DECODER_COUNT; i++) {
        uint32_t *d = r + R_CXL_HDM_DECODER0_BASE_LO + i * inc;
        uint32_t ctrl = r[R_CXL_HDM_DECODER0_CTRL + i * inc];
        bool committed = FIELD_EX32(ctrl, CXL_HDM_DECODER0_CTRL, COMMITTED);

        h = fp_mix(h, &committed, sizeof(committed));
        if (endpoint && !committed) {
            break;
        }
        /* BASE_LO, BASE_HI, SIZE_LO, SIZE_HI */
        h = fp_mix(h, d, 4 * sizeof(*d));
        if (committed) {
            /* CTRL, then TARGET_LIST (switches) or DPA_SKIP (endpoints) */
            h = fp_mix(h, r + R_CXL_HDM_DECODER0_CTRL + i * inc,
                       3 * sizeof(*r));
        }
    }
    return h;
}

static int fp_device(DeviceState *dev, void *opaque)
{
    uint64_t *h = opaque;

    if (object_dynamic_cast(OBJECT(dev), TYPE_CXL_TYPE3)) {
        CXLType3Dev *c = CXL_TYPE3(dev);
        bool off = cxl_dev_media_disabled(&c->cxl_dstate);
        int r;

        *h = fp_cstate(*h, &c->cxl_cstate, true);
        *h = fp_mix(*h, &off, sizeof(off));
        *h = fp_mix(*h, &dev, sizeof(dev));
        /* Dynamic capacity decodes where accepted extents back it. */
        for (r = 0; r < c->dc.num_regions; r++) {
            CXLDCRegion *reg = &c->dc.regions[r];

            if (reg->blk_bitmap && reg->block_size) {
                *h = fp_mix(*h, reg->blk_bitmap,
                            BITS_TO_LONGS(reg->len / reg->block_size) *
                            sizeof(unsigned long));
            }
        }
    } else if (object_dynamic_cast(OBJECT(dev), TYPE_CXL_USP)) {
        CXLComponentState *cs = cxl_usp_to_cstate(CXL_USP(dev));

        if (cs) {
            *h = fp_cstate(*h, cs, false);
        }
        *h = fp_mix(*h, &dev, sizeof(dev));
    }
    return 0;
}

/*
 * Everything a set's layout depends on: the decode by the HDM decoders of
 * every host bridge, switch and type-3 device below the windows, which
 * devices are there, whether their media is enabled, and our own
 * switches.
 */
static uint64_t sets_fingerprint(void)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    int i, j;

    h = fp_mix(h, &dm.enabled, sizeof(dm.enabled));
    h = fp_mix(h, &dm.migrating, sizeof(dm.migrating));
    h = fp_mix(h, &dm.protected, sizeof(dm.protected));
    h = fp_mix(h, &dm.removing, sizeof(dm.removing));
    h = fp_mix(h, &dm.moving_changes, sizeof(dm.moving_changes));
    for (i = 0; i < dm.windows->len; i++) {
        CXLFixedWindow *fw = g_array_index(dm.windows, CXLDMWindow, i).fw;

        for (j = 0; j < fw->num_targets; j++) {
            PCIHostState *hb;
            CXLComponentState *cs;

            if (!fw->target_hbs[j]) {
                continue;
            }
            hb = PCI_HOST_BRIDGE(fw->target_hbs[j]->cxl_host_bridge);
            cs = cxl_get_hb_cstate(hb);
            if (cs) {
                h = fp_cstate(h, cs, false);
            }
            if (hb->bus) {
                qbus_walk_children(BUS(hb->bus), fp_device, NULL, NULL, NULL,
                                   &h);
            }
        }
    }
    return h;
}

/* Has @w an interleaved range? */
static bool window_interleaves(CXLDMWindow *w)
{
    int j;

    for (j = 0; w->ranges && j < w->ranges->len; j++) {
        CXLDMRange *r = &g_array_index(w->ranges, CXLDMRange, j);

        if (cxl_dm_reason_interleaves(r->reason)) {
            return true;
        }
    }
    return false;
}

/* Has any window an interleaved range? */
static bool sets_wanted(void)
{
    int i;

    for (i = 0; i < dm.windows->len; i++) {
        if (window_interleaves(&g_array_index(dm.windows, CXLDMWindow, i))) {
            return true;
        }
    }
    return false;
}

static bool vcpus_running(void)
{
    CPUState *cpu;

    CPU_FOREACH(cpu) {
        if (!cpu_is_stopped(cpu)) {
            return true;
        }
    }
    return false;
}

/* Put every set's data back on the media; drop any build under way. */
static void sets_teardown(void)
{
    uint64_t bytes = 0;
    bool pause;
    int i;

    for (i = 0; i < dm.windows->len; i++) {
        CXLDMWindow *w = &g_array_index(dm.windows, CXLDMWindow, i);

        bytes += cxl_dm_sets_bytes(w->sets);
        if (!cxl_dm_sets_empty(w->sets) ||
            (dm.build && cxl_dm_build_uses(dm.build, w->sets))) {
            w->teardowns++;
        }
    }
    trace_cxl_direct_map_teardown(bytes, dm.build);
    if (bytes) {
        /* Sets built and taken apart: pace the next builds a while. */
        dm.pace_until = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) +
                        SETS_PACE_NS;
    }
    if (dm.build) {
        cxl_dm_build_free(dm.build);
        dm.build = NULL;
        timer_del(dm.timer);
    }
    dm.built = false;
    /*
     * When the host (not the guest, by reprogramming its decoders) takes
     * a set away, vCPUs may be writing into its RAM through stale TLB
     * entries: stop them first so that no store is lost.
     */
    pause = bytes && !current_cpu && vcpus_running();
    if (pause) {
        pause_all_vcpus();
    }
    memory_region_transaction_begin();
    for (i = 0; i < dm.windows->len; i++) {
        cxl_dm_sets_unmap(g_array_index(dm.windows, CXLDMWindow, i).sets);
    }
    memory_region_transaction_commit();
    for (i = 0; i < dm.windows->len; i++) {
        cxl_dm_sets_release(g_array_index(dm.windows, CXLDMWindow, i).sets);
    }
    if (pause) {
        resume_all_vcpus();
    }
}

/* Give the RAM that no set uses back to the host */
static void sets_trim(void)
{
    int i;

    for (i = 0; i < dm.windows->len; i++) {
        cxl_dm_sets_trim(g_array_index(dm.windows, CXLDMWindow, i).sets);
    }
}

/*
 * Tear down the sets, and any build, if the decode they are for has
 * changed; then, unless one is under way, start a build where sets are
 * wanted and none was built for this decode.  The build itself runs in
 * steps from dm.bh and dm.timer.
 */
static void sets_update(void)
{
    uint64_t fp;

    if (!dm.state) {
        return;
    }
    fp = sets_fingerprint();
    if (fp != dm.sets_fingerprint) {
        if (dm.build || dm.built) {
            sets_teardown();
        }
        dm.sets_fingerprint = fp;
    }
    if (!dm.enabled || dm.migrating || dm.protected || !sets_wanted()) {
        /* No build to come: keep no RAM for one. */
        sets_trim();
    } else if (!dm.build && !dm.built) {
        qemu_bh_schedule(dm.bh);
    }
}

/* One step of a build: start it, do bounded work, or finish it. */
static void sets_build_step(void *opaque)
{
    uint64_t work;
    int64_t delay, t0, took;
    int i;

    if (!dm.state) {
        return;
    }
    /* The decoders may have changed since the last step: check. */
    sets_update();
    if (dm.built || !dm.enabled || dm.migrating || dm.protected) {
        return;
    }
    if (!dm.build) {
        if (!sets_wanted()) {
            return;
        }
        dm.build = cxl_dm_build_new(dm.removing, dm.max_maps, dm.moving);
        for (i = 0; i < dm.windows->len; i++) {
            CXLDMWindow *w = &g_array_index(dm.windows, CXLDMWindow, i);

            cxl_dm_build_add_window(dm.build, w->sets, w->ranges);
        }
        trace_cxl_direct_map_build_start(dm.sets_fingerprint);
    }
    t0 = get_clock();
    work = cxl_dm_build_step(dm.build);
    took = get_clock() - t0;
    if (!work) {
        uint64_t bytes = 0;

        cxl_dm_build_free(dm.build);
        dm.build = NULL;
        dm.built = true;
        for (i = 0; i < dm.windows->len; i++) {
            bytes += cxl_dm_sets_bytes(g_array_index(dm.windows, CXLDMWindow,
                                                     i).sets);
        }
        trace_cxl_direct_map_build_done(bytes);
        sets_trim();
        return;
    }
    delay = qemu_clock_get_ns(QEMU_CLOCK_REALTIME) < dm.pace_until ?
            ratelimit_calculate_delay(&dm.rate, MAX(took, 1)) : 0;
    if (cxl_dm_build_waiting(dm.build)) {
        delay = MAX(delay, SETS_WAIT_NS);
    }
    trace_cxl_direct_map_build_step(work, took, delay);
    if (delay > 0) {
        timer_mod(dm.timer, qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + delay);
    } else {
        qemu_bh_schedule(dm.bh);
    }
}

void cxl_direct_map_backend_moving(MemoryRegion *mr, bool moving)
{
    if (!dm.moving) {
        dm.moving = g_ptr_array_new();
    }
    if (moving == g_ptr_array_find(dm.moving, mr, NULL)) {
        return;
    }
    if (moving) {
        g_ptr_array_add(dm.moving, mr);
    } else {
        g_ptr_array_remove_fast(dm.moving, mr);
    }
    dm.moving_changes++;
    trace_cxl_direct_map_backend_moving(memory_region_name(mr), moving);
    /* A new decode fingerprint: sets holding @mr are taken down now. */
    cxl_direct_map_update();
}

/* A device-side command is about to access @dev's media by DPA */
static void device_access(DeviceState *dev)
{
    int i;

    for (i = 0; dm.state && i < dm.windows->len; i++) {
        if (cxl_dm_sets_use_device(g_array_index(dm.windows, CXLDMWindow,
                                                 i).sets, dev)) {
            /* Put everything back; rebuilt after the command. */
            sets_teardown();
            qemu_bh_schedule(dm.bh);
            return;
        }
    }
}

void cxl_direct_map_mailbox(DeviceState *dev, uint16_t effect)
{
    /*
     * Commands that change the media or run in the background (sanitize,
     * media operations) must see it at rest, not behind a direct map.
     */
    if (object_dynamic_cast(OBJECT(dev), TYPE_CXL_TYPE3) &&
        (effect & (CXL_MBOX_IMMEDIATE_DATA_CHANGE |
                   CXL_MBOX_SECURITY_STATE_CHANGE |
                   CXL_MBOX_BACKGROUND_OPERATION))) {
        device_access(dev);
    }
}

/*
 * savevm and migration: sets live in RAM that is not migrated, so their
 * data goes back on the media (which is) before anything is saved, and
 * no set is built until it is over.
 */
/*
 * HA protection saves the VM's state every epoch, as a migration does
 * once: while it lasts, the same holds.
 */
void cxl_direct_map_protected(bool on)
{
    if (dm.protected != on) {
        trace_cxl_direct_map_protected(on);
    }
    dm.protected = on;
    sets_update();
}

static int dm_save_setup(QEMUFile *f, void *opaque, Error **errp)
{
    dm.migrating = true;
    sets_update();
    return 0;
}

static void dm_save_cleanup(void *opaque)
{
    dm.migrating = false;
    sets_update();
}

static int dm_load_state(QEMUFile *f, void *opaque, int version_id)
{
    return 0;
}

static const SaveVMHandlers savevm_direct_map = {
    .save_setup = dm_save_setup,
    .save_cleanup = dm_save_cleanup,
    .load_state = dm_load_state,
};

static bool window_ready(CXLFixedWindow *fw)
{
    /* The board maps the window's region once it has placed it. */
    return fw->size && memory_region_size(&fw->mr) == fw->size &&
           fw->mr.container;
}

static void windows_update(void)
{
    GList *it;
    int i;

    /* Windows appear once; pick up the ones the board has placed. */
    for (it = dm.state->fixed_windows; it; it = it->next) {
        CXLFixedWindow *fw = it->data;
        bool known = false;

        for (i = 0; i < dm.windows->len; i++) {
            known |= g_array_index(dm.windows, CXLDMWindow, i).fw == fw;
        }
        if (!known && window_ready(fw)) {
            g_array_append_val(dm.windows, ((CXLDMWindow) {
                .fw = fw,
                .mappings = g_array_new(false, true, sizeof(CXLDMMapping)),
                .sets = cxl_dm_sets_new(fw),
            }));
        }
    }
    for (i = 0; i < dm.windows->len; i++) {
        window_update(&g_array_index(dm.windows, CXLDMWindow, i));
    }
}

void cxl_direct_map_update(void)
{
    if (!dm.state) {
        return;
    }
    windows_update();
    /*
     * Interleaved sets: tear down at once what the decoders no longer
     * support; build new ones in steps from a bottom half, outside the
     * MMIO write that committed the last decoder.
     */
    sets_update();
}

void cxl_direct_map_device_removed(DeviceState *dev)
{
    /* Firmware-provisioned memory forgets the device too. */
    cxl_firmware_device_removed(dev);
    dm.removing = dev;
    cxl_direct_map_update();
    dm.removing = NULL;
}

static void cxl_direct_map_reset(void *opaque)
{
    cxl_direct_map_update();
}

static void cxl_direct_map_vm_state(void *opaque, bool running,
                                    RunState state)
{
    if (running) {
        cxl_direct_map_update();
    }
}

void cxl_direct_map_init(CXLState *state)
{
    if (dm.state) {
        return;
    }
    dm.state = state;
    dm.windows = g_array_new(false, true, sizeof(CXLDMWindow));
    /*
     * Legacy reset handlers run in the hold phase after the devices'
     * (registered earlier), so the decoder registers are already reset.
     */
    qemu_register_reset(cxl_direct_map_reset, NULL);
    qemu_add_vm_change_state_handler(cxl_direct_map_vm_state, NULL);
    dm.bh = qemu_bh_new(sets_build_step, NULL);
    dm.timer = timer_new_ns(QEMU_CLOCK_REALTIME, sets_build_step, NULL);
    ratelimit_init(&dm.rate);
    ratelimit_set_speed(&dm.rate, SETS_BUILD_NS_PER_S, SETS_BUILD_SLICE_NS);
    register_savevm_live("qcxl-direct-map", 0, 1, &savevm_direct_map, NULL);
}

static bool machine_get_direct_map(Object *obj, Error **errp)
{
    return dm.enabled;
}

static void machine_set_direct_map(Object *obj, bool value, Error **errp)
{
    if (!phase_check(PHASE_MACHINE_READY)) {
        dm.set_at_start = true;
    }
    dm.enabled = value;
    cxl_direct_map_update();
}

/* Given on the command line of a machine without CXL: say so */
static void dm_machine_done(Notifier *n, void *opaque)
{
    if (dm.set_at_start &&
        !object_property_get_bool(qdev_get_machine(), "cxl", NULL)) {
        error_report("cxl-direct-map=%s has no effect without cxl=on",
                     dm.enabled ? "on" : "off");
        exit(1);
    }
}

static Notifier dm_done_notifier = { .notify = dm_machine_done };

void cxl_direct_map_machine_init(Object *obj)
{
    object_property_add_bool(obj, "cxl-direct-map", machine_get_direct_map,
                             machine_set_direct_map);
    qemu_add_machine_init_done_notifier(&dm_done_notifier);
    object_property_set_description(obj, "cxl-direct-map",
                                    "Map CXL type-3 memory straight into "
                                    "fixed memory windows wherever the "
                                    "committed decoders are not "
                                    "interleaved (default on)");
    object_property_add_uint64_ptr(obj, "cxl-direct-map-max-maps",
                                   &dm.max_maps, OBJ_PROP_FLAG_READWRITE);
    object_property_set_description(obj, "cxl-direct-map-max-maps",
                                    "Most memory mappings that interleaved "
                                    "sets of shared backends may hold "
                                    "(default: as many as vm.max_map_count "
                                    "leaves; taken at the next build)");
}

/* ---- What is mapped, for QMP and HMP (qcxl-direct-map-cmds.c) ---- */

static bool same_piece(const CXLDMRange *a, const CXLDMRange *b)
{
    if (a->end != b->start) {
        return false;
    }
    if (!a->target || !b->target) {
        return !a->target && !b->target && a->reason == b->reason &&
               a->decoder == b->decoder && a->n == b->n &&
               !g_strcmp0(a->who, b->who);
    }
    return a->target == b->target &&
           a->target_offset + (a->end - a->start) == b->target_offset;
}

static CxlWindowDirectMap *window_info(CXLDMWindow *w)
{
    CxlWindowDirectMap *info = g_new0(CxlWindowDirectMap, 1);
    CxlDirectMapRangeList **tail = &info->ranges;
    CxlDirectMapRange *last = NULL;
    CXLDMRange prev = { 0 };
    const CXLDMSet *prev_set = NULL;
    CXLDMSetWhy prev_refusal = CXL_DM_SET_OK;
    int i;

    info->base = w->fw->base;
    info->size = w->fw->size;
    /* Under way, or about to start */
    info->sets_building = !dm.built && dm.enabled && !dm.migrating &&
                          !dm.protected && window_interleaves(w);
    info->set_teardowns = w->teardowns;
    for (i = 0; w->ranges && i < w->ranges->len; i++) {
        CXLDMRange *whole = &g_array_index(w->ranges, CXLDMRange, i);
        hwaddr s = whole->start;

        /* Split at set boundaries: a set makes part of a range direct. */
        while (s < whole->end) {
            hwaddr e = cxl_dm_sets_boundary(w->sets, s, whole->end);
            const CXLDMSet *set = whole->target ? NULL :
                                  cxl_dm_sets_at(w->sets, s);
            CXLDMSetWhy refusal = CXL_DM_SET_OK;
            CXLDMRange r = *whole;
            int k;

            r.start = s;
            r.end = e;
            if (whole->target) {
                r.target_offset += s - whole->start;
            } else if (!set && cxl_dm_reason_interleaves(r.reason)) {
                refusal = cxl_dm_sets_refused(w->sets, s);
                if (refusal == CXL_DM_SET_ALIASED) {
                    r.reason = CXL_DM_ALIASED;
                    refusal = CXL_DM_SET_OK;
                }
            }
            s = e;
            if (r.target || set) {
                info->direct_bytes += r.end - r.start;
            }
            if (last && ((set && cxl_dm_set_continues(prev_set, set)) ||
                         (!set && !prev_set && refusal == prev_refusal &&
                          same_piece(&prev, &r)))) {
                last->size += r.end - r.start;
                prev = r;
                continue;
            }
            last = g_new0(CxlDirectMapRange, 1);
            last->start = r.start;
            last->size = r.end - r.start;
            last->direct = r.target || set;
            if (r.target) {
                Object *owner = memory_region_owner(r.target);

                last->device = object_get_canonical_path(OBJECT(r.ct3d));
                last->memdev = owner ? object_get_canonical_path(owner) :
                                       g_strdup(memory_region_name(r.target));
                last->has_offset = true;
                last->offset = r.target_offset;
            } else if (set) {
                strList **dt = &last->interleaved;

                last->has_interleaved = true;
                for (k = 0; k < cxl_dm_set_ndevs(set); k++) {
                    QAPI_LIST_APPEND(dt, object_get_canonical_path(
                                         OBJECT(cxl_dm_set_dev(set, k))));
                }
                last->has_set_backing = true;
                last->set_backing =
                    cxl_dm_set_kind(set) == CXL_DM_SET_PAGES ?
                    CXL_SET_BACKING_BACKEND_PAGES : CXL_SET_BACKING_COPY;
            } else {
                g_autofree char *why = cxl_dm_range_why(&r);
                g_autofree char *no_set = cxl_dm_set_why_text(refusal);

                last->reason = no_set ?
                    g_strdup_printf("%s; no interleaved set: %s", why,
                                    no_set) :
                    g_steal_pointer(&why);
            }
            QAPI_LIST_APPEND(tail, last);
            prev = r;
            prev_set = set;
            prev_refusal = refusal;
        }
    }
    return info;
}

CxlWindowDirectMapList *cxl_direct_map_query(Error **errp)
{
    CxlWindowDirectMapList *head = NULL, **tail = &head;
    int i;

    if (!dm.state) {
        error_setg(errp, "this machine has no CXL fixed memory windows");
        return NULL;
    }
    /*
     * Report exactly what the decoders say now; sets follow in steps
     * (sets-building says when a build is under way).
     */
    cxl_direct_map_update();
    for (i = 0; i < dm.windows->len; i++) {
        QAPI_LIST_APPEND(tail,
                         window_info(&g_array_index(dm.windows, CXLDMWindow,
                                                    i)));
    }
    return head;
}
