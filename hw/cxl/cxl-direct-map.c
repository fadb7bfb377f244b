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
 * - a DPA beyond the volatile + persistent capacity is not decoded.
 *
 * Only ways == 1 at every level is linear; anything else is left to the
 * software decode, and so are dynamic capacity ranges.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "qapi/visitor.h"
#include "qapi/qapi-commands-qcxl.h"
#include "qobject/qdict.h"
#include "monitor/hmp.h"
#include "monitor/monitor.h"
#include "hw/boards.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/cxl_direct_map.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pcie_port.h"
#include "hw/pci-bridge/pci_expander_bridge.h"
#include "system/hostmem.h"
#include "system/reset.h"
#include "system/runstate.h"
#include "trace.h"

/* Why a range of a window is not direct-mapped. */
typedef struct CXLDMRange {
    hwaddr start;               /* absolute host physical address */
    hwaddr end;                 /* exclusive */
    CXLType3Dev *ct3d;          /* NULL unless mapped */
    MemoryRegion *target;       /* backend region, NULL unless mapped */
    uint64_t target_offset;
    char *why;                  /* NULL when mapped */
} CXLDMRange;

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
} CXLDMWindow;

static struct {
    CXLState *state;
    bool enabled;
    bool initialized;
    GArray *windows;            /* CXLDMWindow */
    DeviceState *removing;      /* a type-3 device being unplugged */
} dm = {
    .enabled = true,
};

/* One HDM decoder, as the registers say. */
typedef struct HDMDecoder {
    uint64_t base;
    uint64_t size;
    uint64_t skip;
    bool committed;
    int ways;                   /* 0: invalid encoding */
    uint8_t target0;
} HDMDecoder;

static int hdm_ways(uint8_t iw_enc)
{
    switch (iw_enc) {
    case 0x0: return 1;
    case 0x1: return 2;
    case 0x2: return 4;
    case 0x3: return 8;
    case 0x4: return 16;
    case 0x8: return 3;
    case 0x9: return 6;
    case 0xa: return 12;
    default: return 0;
    }
}

static int hdm_count(uint32_t *cache_mem)
{
    uint32_t cap = ldl_le_p(cache_mem + R_CXL_HDM_DECODER_CAPABILITY);
    int n = cxl_decoder_count_dec(FIELD_EX32(cap, CXL_HDM_DECODER_CAPABILITY,
                                             DECODER_COUNT));

    /* The register block only has room for CXL_HDM_DECODER_COUNT. */
    return MIN(n, CXL_HDM_DECODER_COUNT);
}

static void hdm_read(uint32_t *cache_mem, int i, HDMDecoder *d)
{
    int inc = R_CXL_HDM_DECODER1_BASE_LO - R_CXL_HDM_DECODER0_BASE_LO;
    uint32_t *r = cache_mem + i * inc;
    uint32_t ctrl = ldl_le_p(r + R_CXL_HDM_DECODER0_CTRL);

    d->base = ((uint64_t)ldl_le_p(r + R_CXL_HDM_DECODER0_BASE_HI) << 32) |
              (ldl_le_p(r + R_CXL_HDM_DECODER0_BASE_LO) & 0xf0000000);
    d->size = ((uint64_t)ldl_le_p(r + R_CXL_HDM_DECODER0_SIZE_HI) << 32) |
              (ldl_le_p(r + R_CXL_HDM_DECODER0_SIZE_LO) & 0xf0000000);
    d->skip = ((uint64_t)ldl_le_p(r + R_CXL_HDM_DECODER0_DPA_SKIP_HI) << 32) |
              (ldl_le_p(r + R_CXL_HDM_DECODER0_DPA_SKIP_LO) & 0xf0000000);
    d->committed = FIELD_EX32(ctrl, CXL_HDM_DECODER0_CTRL, COMMITTED);
    d->ways = hdm_ways(FIELD_EX32(ctrl, CXL_HDM_DECODER0_CTRL, IW));
    d->target0 = extract32(ldl_le_p(r + R_CXL_HDM_DECODER0_TARGET_LIST_LO),
                           0, 8);
}

/* [*s, *e) intersected with the decoder's range; false if empty. */
static bool hdm_clip(const HDMDecoder *d, hwaddr s, hwaddr e,
                     hwaddr *cs, hwaddr *ce)
{
    uint64_t dend;

    if (d->size == 0) {
        return false;
    }
    /* A range that wraps around the address space covers its top. */
    dend = d->base + d->size < d->base ? UINT64_MAX : d->base + d->size;
    *cs = MAX(s, d->base);
    *ce = MIN(e, dend);
    return *cs < *ce;
}

/*
 * Piece @j of @todo against decoder @d: the part the decoder holds goes
 * to [*cs, *ce) (returns true if there is one), the rest to @next, still
 * unclaimed.
 */
static bool claim_piece(GArray *todo, int j, const HDMDecoder *d,
                        GArray *next, hwaddr *cs, hwaddr *ce)
{
    hwaddr ps = g_array_index(todo, hwaddr, 2 * j);
    hwaddr pe = g_array_index(todo, hwaddr, 2 * j + 1);

    if (!hdm_clip(d, ps, pe, cs, ce)) {
        g_array_append_vals(next, ((hwaddr[2]){ ps, pe }), 1);
        return false;
    }
    if (ps < *cs) {
        g_array_append_vals(next, ((hwaddr[2]){ ps, *cs }), 1);
    }
    if (*ce < pe) {
        g_array_append_vals(next, ((hwaddr[2]){ *ce, pe }), 1);
    }
    return true;
}

static void add_range(GArray *out, hwaddr s, hwaddr e, CXLType3Dev *ct3d,
                      MemoryRegion *target, uint64_t toff, char *why)
{
    CXLDMRange r = {
        .start = s, .end = e, .ct3d = ct3d, .target = target,
        .target_offset = toff, .why = why,
    };

    g_array_append_val(out, r);
}

/*
 * Endpoint stage: the linear part of HPA [s, e) on @ct3d, split over its
 * volatile and persistent backends.
 */
static void eval_endpoint(CXLType3Dev *ct3d, hwaddr s, hwaddr e, GArray *out)
{
    uint32_t *cache_mem = ct3d->cxl_cstate.crb.cache_mem_registers;
    const char *id = DEVICE(ct3d)->id ? DEVICE(ct3d)->id : "cxl-type3";
    uint64_t vsize = 0, psize = 0, dpa_base = 0;
    MemoryRegion *vmr = NULL, *pmr = NULL;
    GArray *todo = g_array_new(false, false, sizeof(hwaddr) * 2);
    int i, n = hdm_count(cache_mem);

    if (ct3d->hostvmem) {
        vmr = host_memory_backend_get_memory(ct3d->hostvmem);
        vsize = memory_region_size(vmr);
    }
    if (ct3d->hostpmem) {
        pmr = host_memory_backend_get_memory(ct3d->hostpmem);
        psize = memory_region_size(pmr);
    }

    /* Pieces of [s, e) no decoder has claimed yet. */
    g_array_append_vals(todo, ((hwaddr[2]){ s, e }), 1);
    for (i = 0; i < n && todo->len; i++) {
        HDMDecoder d;
        GArray *next;
        int j;

        hdm_read(cache_mem, i, &d);
        if (!d.committed) {
            /* The software decode gives up at the first such decoder. */
            break;
        }
        if (d.ways == 0) {
            for (j = 0; j < todo->len; j++) {
                hwaddr *p = &g_array_index(todo, hwaddr, 2 * j);
                add_range(out, p[0], p[1], NULL, NULL, 0,
                          g_strdup_printf("%s: endpoint decoder %d has an "
                                          "invalid interleave-ways encoding",
                                          id, i));
            }
            g_array_set_size(todo, 0);
            break;
        }
        dpa_base += d.skip;
        next = g_array_new(false, false, sizeof(hwaddr) * 2);
        for (j = 0; j < todo->len; j++) {
            hwaddr cs, ce;

            if (!claim_piece(todo, j, &d, next, &cs, &ce)) {
                continue;
            }
            if (d.ways != 1) {
                add_range(out, cs, ce, NULL, NULL, 0,
                          g_strdup_printf("%s: endpoint decoder %d "
                                          "interleaves %d ways", id, i,
                                          d.ways));
                continue;
            }
            /* Linear: DPA = dpa_base + (HPA - decoder base). */
            {
                uint64_t dpa = dpa_base + (cs - d.base);
                uint64_t len = ce - cs;
                hwaddr h = cs;

                if (dpa < vsize) {
                    uint64_t l = MIN(len, vsize - dpa);
                    add_range(out, h, h + l, ct3d, vmr, dpa, NULL);
                    h += l;
                    dpa += l;
                    len -= l;
                }
                if (len && dpa < vsize + psize) {
                    uint64_t l = MIN(len, vsize + psize - dpa);
                    add_range(out, h, h + l, ct3d, pmr, dpa - vsize, NULL);
                    h += l;
                    len -= l;
                }
                if (len) {
                    add_range(out, h, h + len, NULL, NULL, 0,
                              g_strdup_printf("%s: beyond the volatile and "
                                              "persistent capacity (dynamic "
                                              "capacity or no media)", id));
                }
            }
        }
        g_array_free(todo, true);
        todo = next;
        dpa_base += d.size / d.ways;
    }
    for (i = 0; i < todo->len; i++) {
        add_range(out, g_array_index(todo, hwaddr, 2 * i),
                  g_array_index(todo, hwaddr, 2 * i + 1), NULL, NULL, 0,
                  g_strdup_printf("%s: no committed endpoint decoder "
                                  "covers it", id));
    }
    g_array_free(todo, true);
}

typedef void (*RouteFn)(PCIDevice *port, hwaddr s, hwaddr e, GArray *out);

/*
 * A switching level (host bridge or switch upstream port): the first
 * decoder holding an address decides.  Linear pieces go on to @route with
 * the port the decoder targets.
 */
static void eval_switching(uint32_t *cache_mem, PCIBus *bus, hwaddr s,
                           hwaddr e, GArray *out, const char *what,
                           RouteFn route)
{
    GArray *todo = g_array_new(false, false, sizeof(hwaddr) * 2);
    int i, j, n = hdm_count(cache_mem);

    g_array_append_vals(todo, ((hwaddr[2]){ s, e }), 1);
    for (i = 0; i < n && todo->len; i++) {
        HDMDecoder d;
        GArray *next = g_array_new(false, false, sizeof(hwaddr) * 2);

        hdm_read(cache_mem, i, &d);
        for (j = 0; j < todo->len; j++) {
            hwaddr cs, ce;
            PCIDevice *port;

            if (!claim_piece(todo, j, &d, next, &cs, &ce)) {
                continue;
            }
            if (!d.committed) {
                add_range(out, cs, ce, NULL, NULL, 0,
                          g_strdup_printf("%s decoder %d is not committed",
                                          what, i));
            } else if (d.ways != 1) {
                add_range(out, cs, ce, NULL, NULL, 0,
                          g_strdup_printf("%s decoder %d interleaves %d "
                                          "ways", what, i, d.ways));
            } else if (!(port = pcie_find_port_by_pn(bus, d.target0))) {
                add_range(out, cs, ce, NULL, NULL, 0,
                          g_strdup_printf("%s decoder %d targets port %d, "
                                          "which does not exist", what, i,
                                          d.target0));
            } else {
                route(port, cs, ce, out);
            }
        }
        g_array_free(todo, true);
        todo = next;
    }
    for (j = 0; j < todo->len; j++) {
        add_range(out, g_array_index(todo, hwaddr, 2 * j),
                  g_array_index(todo, hwaddr, 2 * j + 1), NULL, NULL, 0,
                  g_strdup_printf("no %s decoder covers it", what));
    }
    g_array_free(todo, true);
}

static PCIDevice *device_below(PCIDevice *port)
{
    PCIDevice *d = pci_bridge_get_sec_bus(PCI_BRIDGE(port))->devices[0];

    if (d && dm.removing && DEVICE(d) == dm.removing) {
        return NULL;
    }
    return d;
}

static void route_to_endpoint(PCIDevice *port, hwaddr s, hwaddr e,
                              GArray *out)
{
    PCIDevice *d = device_below(port);

    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        add_range(out, s, e, NULL, NULL, 0,
                  g_strdup_printf("no CXL type-3 device below %s",
                                  DEVICE(port)->id ?: "a downstream port"));
        return;
    }
    eval_endpoint(CXL_TYPE3(d), s, e, out);
}

static void route_below_root_port(PCIDevice *port, hwaddr s, hwaddr e,
                                  GArray *out)
{
    PCIDevice *d = device_below(port);
    CXLComponentState *cs;

    if (d && object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        eval_endpoint(CXL_TYPE3(d), s, e, out);
        return;
    }
    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_USP) ||
        !(cs = cxl_usp_to_cstate(CXL_USP(d)))) {
        add_range(out, s, e, NULL, NULL, 0,
                  g_strdup_printf("no CXL type-3 device or switch below %s",
                                  DEVICE(port)->id ?: "the root port"));
        return;
    }
    eval_switching(cs->crb.cache_mem_registers, &PCI_BRIDGE(d)->sec_bus,
                   s, e, out, "switch", route_to_endpoint);
}

static void eval_window(CXLFixedWindow *fw, GArray *out)
{
    hwaddr s = fw->base, e = fw->base + fw->size;
    PCIHostState *hb;
    CXLComponentState *cs;

    if (!dm.enabled) {
        add_range(out, s, e, NULL, NULL, 0,
                  g_strdup("direct map disabled (cxl-direct-map=off)"));
        return;
    }
    if (fw->num_targets != 1) {
        add_range(out, s, e, NULL, NULL, 0,
                  g_strdup_printf("the window interleaves %d host bridges",
                                  fw->num_targets));
        return;
    }
    hb = fw->target_hbs[0] ?
        PCI_HOST_BRIDGE(fw->target_hbs[0]->cxl_host_bridge) : NULL;
    if (!hb || !hb->bus || !pci_bus_is_cxl(hb->bus)) {
        add_range(out, s, e, NULL, NULL, 0,
                  g_strdup("the window's host bridge is not set up"));
        return;
    }
    if (cxl_get_hb_passthrough(hb)) {
        PCIDevice *rp = pcie_find_port_first(hb->bus);

        if (!rp) {
            add_range(out, s, e, NULL, NULL, 0,
                      g_strdup("the host bridge has no root port"));
            return;
        }
        route_below_root_port(rp, s, e, out);
        return;
    }
    cs = cxl_get_hb_cstate(hb);
    if (!cs) {
        add_range(out, s, e, NULL, NULL, 0,
                  g_strdup("the host bridge has no component registers"));
        return;
    }
    eval_switching(cs->crb.cache_mem_registers, hb->bus, s, e, out,
                   "host bridge", route_below_root_port);
}

static int range_cmp(gconstpointer a, gconstpointer b)
{
    const CXLDMRange *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

static void free_ranges(GArray *ranges)
{
    int i;

    for (i = 0; i < ranges->len; i++) {
        g_free(g_array_index(ranges, CXLDMRange, i).why);
    }
    g_array_free(ranges, true);
}

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
    GArray *ranges = g_array_new(false, true, sizeof(CXLDMRange));
    GArray *maps;

    eval_window(w->fw, ranges);
    g_array_sort(ranges, range_cmp);
    maps = ranges_to_mappings(w->fw, ranges);
    if (!mappings_equal(maps, w->mappings)) {
        memory_region_transaction_begin();
        unmap_all(w);
        map_all(w, maps);
        memory_region_transaction_commit();
    }
    g_array_free(maps, true);
    if (w->ranges) {
        free_ranges(w->ranges);
    }
    w->ranges = ranges;
}

static bool window_ready(CXLFixedWindow *fw)
{
    /* The board maps the window's region once it has placed it. */
    return fw->size && memory_region_size(&fw->mr) == fw->size &&
           fw->mr.container;
}

void cxl_direct_map_update(void)
{
    GList *it;
    int i;

    if (!dm.state) {
        return;
    }
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
            }));
        }
    }
    for (i = 0; i < dm.windows->len; i++) {
        window_update(&g_array_index(dm.windows, CXLDMWindow, i));
    }
}

void cxl_direct_map_device_removed(DeviceState *dev)
{
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
    if (dm.initialized) {
        return;
    }
    dm.initialized = true;
    dm.state = state;
    dm.windows = g_array_new(false, true, sizeof(CXLDMWindow));
    /*
     * Legacy reset handlers run in the hold phase after the devices'
     * (registered earlier), so the decoder registers are already reset.
     */
    qemu_register_reset(cxl_direct_map_reset, NULL);
    qemu_add_vm_change_state_handler(cxl_direct_map_vm_state, NULL);
}

static bool machine_get_direct_map(Object *obj, Error **errp)
{
    return dm.enabled;
}

static void machine_set_direct_map(Object *obj, bool value, Error **errp)
{
    dm.enabled = value;
    cxl_direct_map_update();
}

void cxl_direct_map_machine_init(Object *obj)
{
    object_property_add_bool(obj, "cxl-direct-map", machine_get_direct_map,
                             machine_set_direct_map);
    object_property_set_description(obj, "cxl-direct-map",
                                    "Map CXL type-3 memory straight into "
                                    "fixed memory windows wherever the "
                                    "committed decoders are not "
                                    "interleaved (default on)");
}

/* ---- QMP and HMP ---- */

static bool same_piece(const CXLDMRange *a, const CXLDMRange *b)
{
    if (a->end != b->start) {
        return false;
    }
    if (!a->target || !b->target) {
        return !a->target && !b->target && !g_strcmp0(a->why, b->why);
    }
    return a->target == b->target &&
           a->target_offset + (a->end - a->start) == b->target_offset;
}

static CxlWindowDirectMap *window_info(CXLDMWindow *w)
{
    CxlWindowDirectMap *info = g_new0(CxlWindowDirectMap, 1);
    CxlDirectMapRangeList **tail = &info->ranges;
    CxlDirectMapRange *last = NULL;
    CXLDMRange *prev = NULL;
    int i;

    info->base = w->fw->base;
    info->size = w->fw->size;
    for (i = 0; w->ranges && i < w->ranges->len; i++) {
        CXLDMRange *r = &g_array_index(w->ranges, CXLDMRange, i);

        if (r->target) {
            info->direct_bytes += r->end - r->start;
        }
        if (last && prev && same_piece(prev, r)) {
            last->size += r->end - r->start;
            prev = r;
            continue;
        }
        last = g_new0(CxlDirectMapRange, 1);
        last->start = r->start;
        last->size = r->end - r->start;
        last->direct = r->target != NULL;
        if (r->target) {
            Object *owner = memory_region_owner(r->target);

            last->device = object_get_canonical_path(OBJECT(r->ct3d));
            last->memdev = owner ? object_get_canonical_path(owner) :
                                   g_strdup(memory_region_name(r->target));
            last->has_offset = true;
            last->offset = r->target_offset;
        } else {
            last->reason = g_strdup(r->why);
        }
        QAPI_LIST_APPEND(tail, last);
        prev = r;
    }
    return info;
}

CxlWindowDirectMapList *qmp_query_cxl_direct_map(Error **errp)
{
    CxlWindowDirectMapList *head = NULL, **tail = &head;
    int i;

    if (!dm.state) {
        error_setg(errp, "this machine has no CXL fixed memory windows");
        return NULL;
    }
    /* Report exactly what the decoders say now. */
    cxl_direct_map_update();
    for (i = 0; i < dm.windows->len; i++) {
        QAPI_LIST_APPEND(tail,
                         window_info(&g_array_index(dm.windows, CXLDMWindow,
                                                    i)));
    }
    return head;
}

void hmp_info_cxl_direct_map(Monitor *mon, const QDict *qdict)
{
    Error *err = NULL;
    g_autoptr(CxlWindowDirectMapList) list = qmp_query_cxl_direct_map(&err);
    CxlWindowDirectMapList *w;

    if (hmp_handle_error(mon, err)) {
        return;
    }
    for (w = list; w; w = w->next) {
        CxlDirectMapRangeList *r;

        monitor_printf(mon, "window 0x%" PRIx64 "-0x%" PRIx64 ": 0x%" PRIx64
                       " of 0x%" PRIx64 " bytes direct-mapped\n",
                       w->value->base, w->value->base + w->value->size - 1,
                       w->value->direct_bytes, w->value->size);
        for (r = w->value->ranges; r; r = r->next) {
            CxlDirectMapRange *x = r->value;

            if (x->direct) {
                monitor_printf(mon, "  0x%" PRIx64 "-0x%" PRIx64 " direct: %s"
                               " @ %s + 0x%" PRIx64 "\n", x->start,
                               x->start + x->size - 1, x->device, x->memdev,
                               x->offset);
            } else {
                monitor_printf(mon, "  0x%" PRIx64 "-0x%" PRIx64
                               " software decode: %s\n", x->start,
                               x->start + x->size - 1, x->reason);
            }
        }
    }
}
