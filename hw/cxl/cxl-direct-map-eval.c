/*
 * qcxl: the direct map's evaluation of the committed decode
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A pure function of the HDM decoder registers (and of the two inputs
 * in CXLDMEval): the ranges that tile a fixed memory window, each mapped
 * linearly onto one device's backend or carrying the typed reason it is
 * not.  It follows upstream's per-access software decode to the letter
 * (see cxl-direct-map.c's header) and changes nothing: the direct map
 * (cxl-direct-map.c) acts on what it returns.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/cxl_direct_map.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pcie_port.h"
#include "hw/pci-bridge/pci_expander_bridge.h"
#include "system/hostmem.h"
#include "exec/cpu-common.h"
#include "cxl-direct-map-eval.h"

/* One HDM decoder, as the registers say. */
typedef struct HDMDecoder {
    uint64_t base;
    uint64_t size;
    uint64_t skip;
    bool committed;
    int ways;                   /* 0: invalid encoding */
    uint8_t target0;
} HDMDecoder;

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
    /* 0 for an encoding the spec does not define. */
    d->ways = cxl_interleave_ways_dec(FIELD_EX32(ctrl, CXL_HDM_DECODER0_CTRL,
                                                 IW), NULL);
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
                      MemoryRegion *target, uint64_t toff)
{
    CXLDMRange r = {
        .start = s, .end = e, .ct3d = ct3d, .target = target,
        .target_offset = toff, .reason = CXL_DM_MAPPED,
    };

    g_array_append_val(out, r);
}

/* [s, e) keeps the software decode, for @reason */
static void soft_range(GArray *out, hwaddr s, hwaddr e, CXLDMReason reason,
                       const char *who, int decoder, int n)
{
    CXLDMRange r = {
        .start = s, .end = e, .reason = reason, .who = g_strdup(who),
        .decoder = decoder, .n = n,
    };

    g_array_append_val(out, r);
}

/* May an interleaved set (one RAM block in HPA order) back the range? */
bool cxl_dm_reason_interleaves(CXLDMReason reason)
{
    switch (reason) {
    case CXL_DM_WINDOW_INTERLEAVES:
    case CXL_DM_DECODER_INTERLEAVES:
    case CXL_DM_ENDPOINT_INTERLEAVES:
        return true;
    default:
        return false;
    }
}

/* Why @r keeps the software decode, in words (for QMP and HMP) */
char *cxl_dm_range_why(const CXLDMRange *r)
{
    const char *who = r->who;

    switch (r->reason) {
    case CXL_DM_MAPPED:
        return NULL;
    case CXL_DM_DISABLED:
        return g_strdup("direct map disabled (cxl-direct-map=off)");
    case CXL_DM_WINDOW_INTERLEAVES:
        return g_strdup_printf("the window interleaves %d host bridges",
                               r->n);
    case CXL_DM_NO_HOST_BRIDGE:
        return g_strdup("the window's host bridge is not set up");
    case CXL_DM_NO_ROOT_PORT:
        return g_strdup("the host bridge has no root port");
    case CXL_DM_NO_COMPONENT_REGS:
        return g_strdup("the host bridge has no component registers");
    case CXL_DM_DECODER_UNCOMMITTED:
        return g_strdup_printf("%s decoder %d is not committed", who,
                               r->decoder);
    case CXL_DM_DECODER_INTERLEAVES:
        return g_strdup_printf("%s decoder %d interleaves %d ways", who,
                               r->decoder, r->n);
    case CXL_DM_DECODER_NO_PORT:
        return g_strdup_printf("%s decoder %d targets port %d, which does "
                               "not exist", who, r->decoder, r->n);
    case CXL_DM_NOT_DECODED:
        return g_strdup_printf("no %s decoder covers it", who);
    case CXL_DM_NO_DEVICE:
        return g_strdup_printf("no CXL type-3 device below %s", who);
    case CXL_DM_NO_DEVICE_OR_SWITCH:
        return g_strdup_printf("no CXL type-3 device or switch below %s",
                               who);
    case CXL_DM_ENDPOINT_BAD_WAYS:
        return g_strdup_printf("%s: endpoint decoder %d has an invalid "
                               "interleave-ways encoding", who, r->decoder);
    case CXL_DM_ENDPOINT_INTERLEAVES:
        return g_strdup_printf("%s: endpoint decoder %d interleaves %d ways",
                               who, r->decoder, r->n);
    case CXL_DM_ENDPOINT_NOT_DECODED:
        return g_strdup_printf("%s: no committed endpoint decoder covers it",
                               who);
    case CXL_DM_BEYOND_CAPACITY:
        return g_strdup_printf("%s: beyond the device's capacity", who);
    case CXL_DM_DC_UNBACKED:
        return g_strdup_printf("%s: dynamic capacity that no accepted "
                               "extent backs", who);
    }
    g_assert_not_reached();
}

/*
 * Dynamic capacity: HPA [h, h + len) decodes linearly to DPA [dpa, ...),
 * at or beyond @static_size (volatile + persistent).  Only blocks that
 * accepted extents back are mapped (onto the DC backend at DPA -
 * @static_size, as the software decode does); the rest behaves as
 * upstream (not decoded).
 */
static void eval_dc(CXLType3Dev *ct3d, hwaddr h, uint64_t dpa, uint64_t len,
                    uint64_t static_size, GArray *out, const char *id)
{
    MemoryRegion *dcmr = ct3d->dc.host_dc ?
        host_memory_backend_get_memory(ct3d->dc.host_dc) : NULL;

    while (len) {
        CXLDCRegion *reg = NULL;
        uint64_t l, blk;
        bool backed;
        int i;

        for (i = 0; dcmr && i < ct3d->dc.num_regions; i++) {
            CXLDCRegion *r = &ct3d->dc.regions[i];

            if (dpa >= r->base && dpa < r->base + r->len && r->block_size) {
                reg = r;
                break;
            }
        }
        if (!reg) {
            soft_range(out, h, h + len, CXL_DM_BEYOND_CAPACITY, id, -1, 0);
            return;
        }
        /* A run of blocks that are all backed, or all not. */
        blk = (dpa - reg->base) / reg->block_size;
        backed = test_bit(blk, reg->blk_bitmap);
        l = 0;
        while (l < len && dpa + l < reg->base + reg->len &&
               test_bit((dpa + l - reg->base) / reg->block_size,
                        reg->blk_bitmap) == backed) {
            uint64_t next = reg->base + ((dpa + l - reg->base) /
                                         reg->block_size + 1) *
                            reg->block_size;

            l = MIN(len, next - dpa);
        }
        if (backed && dpa - static_size + l <= memory_region_size(dcmr)) {
            add_range(out, h, h + l, ct3d, dcmr, dpa - static_size);
        } else {
            soft_range(out, h, h + l, CXL_DM_DC_UNBACKED, id, -1, 0);
        }
        h += l;
        dpa += l;
        len -= l;
    }
}

/*
 * Endpoint stage: the linear part of HPA [s, e) on @ct3d, split over its
 * volatile, persistent and dynamic-capacity backends.
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
                soft_range(out, p[0], p[1], CXL_DM_ENDPOINT_BAD_WAYS, id, i,
                           0);
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
                soft_range(out, cs, ce, CXL_DM_ENDPOINT_INTERLEAVES, id, i,
                           d.ways);
                continue;
            }
            /* Linear: DPA = dpa_base + (HPA - decoder base). */
            {
                uint64_t dpa = dpa_base + (cs - d.base);
                uint64_t len = ce - cs;
                hwaddr h = cs;

                if (dpa < vsize) {
                    uint64_t l = MIN(len, vsize - dpa);
                    add_range(out, h, h + l, ct3d, vmr, dpa);
                    h += l;
                    dpa += l;
                    len -= l;
                }
                if (len && dpa < vsize + psize) {
                    uint64_t l = MIN(len, vsize + psize - dpa);
                    add_range(out, h, h + l, ct3d, pmr, dpa - vsize);
                    h += l;
                    dpa += l;
                    len -= l;
                }
                if (len) {
                    eval_dc(ct3d, h, dpa, len, vsize + psize, out, id);
                }
            }
        }
        g_array_free(todo, true);
        todo = next;
        dpa_base += d.size / d.ways;
    }
    for (i = 0; i < todo->len; i++) {
        soft_range(out, g_array_index(todo, hwaddr, 2 * i),
                   g_array_index(todo, hwaddr, 2 * i + 1),
                   CXL_DM_ENDPOINT_NOT_DECODED, id, -1, 0);
    }
    g_array_free(todo, true);
}

typedef void (*RouteFn)(const CXLDMEval *ev, PCIDevice *port, hwaddr s,
                        hwaddr e, GArray *out);

/*
 * A switching level (host bridge or switch upstream port): the first
 * decoder holding an address decides.  Linear pieces go on to @route with
 * the port the decoder targets.
 */
static void eval_switching(const CXLDMEval *ev, uint32_t *cache_mem,
                           PCIBus *bus, hwaddr s, hwaddr e, GArray *out,
                           const char *what, RouteFn route)
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
                soft_range(out, cs, ce, CXL_DM_DECODER_UNCOMMITTED, what, i,
                           0);
            } else if (d.ways != 1) {
                soft_range(out, cs, ce, CXL_DM_DECODER_INTERLEAVES, what, i,
                           d.ways);
            } else if (!(port = pcie_find_port_by_pn(bus, d.target0))) {
                soft_range(out, cs, ce, CXL_DM_DECODER_NO_PORT, what, i,
                           d.target0);
            } else {
                route(ev, port, cs, ce, out);
            }
        }
        g_array_free(todo, true);
        todo = next;
    }
    for (j = 0; j < todo->len; j++) {
        soft_range(out, g_array_index(todo, hwaddr, 2 * j),
                   g_array_index(todo, hwaddr, 2 * j + 1), CXL_DM_NOT_DECODED,
                   what, -1, 0);
    }
    g_array_free(todo, true);
}

static PCIDevice *device_below(const CXLDMEval *ev, PCIDevice *port)
{
    PCIDevice *d = pci_bridge_get_sec_bus(PCI_BRIDGE(port))->devices[0];

    if (d && ev->removing && DEVICE(d) == ev->removing) {
        return NULL;
    }
    return d;
}

static void route_to_endpoint(const CXLDMEval *ev, PCIDevice *port,
                              hwaddr s, hwaddr e, GArray *out)
{
    PCIDevice *d = device_below(ev, port);

    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        soft_range(out, s, e, CXL_DM_NO_DEVICE,
                   DEVICE(port)->id ?: "a downstream port", -1, 0);
        return;
    }
    eval_endpoint(CXL_TYPE3(d), s, e, out);
}

static void route_below_root_port(const CXLDMEval *ev, PCIDevice *port,
                                  hwaddr s, hwaddr e, GArray *out)
{
    PCIDevice *d = device_below(ev, port);
    CXLComponentState *cs;

    if (d && object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        eval_endpoint(CXL_TYPE3(d), s, e, out);
        return;
    }
    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_USP) ||
        !(cs = cxl_usp_to_cstate(CXL_USP(d)))) {
        soft_range(out, s, e, CXL_DM_NO_DEVICE_OR_SWITCH,
                   DEVICE(port)->id ?: "the root port", -1, 0);
        return;
    }
    eval_switching(ev, cs->crb.cache_mem_registers,
                   &PCI_BRIDGE(d)->sec_bus, s, e, out, "switch",
                   route_to_endpoint);
}

static void eval_window(const CXLDMEval *ev, CXLFixedWindow *fw,
                        GArray *out)
{
    hwaddr s = fw->base, e = fw->base + fw->size;
    PCIHostState *hb;
    CXLComponentState *cs;

    if (!ev->enabled) {
        soft_range(out, s, e, CXL_DM_DISABLED, NULL, -1, 0);
        return;
    }
    if (fw->num_targets != 1) {
        soft_range(out, s, e, CXL_DM_WINDOW_INTERLEAVES, NULL, -1,
                   fw->num_targets);
        return;
    }
    hb = fw->target_hbs[0] ?
        PCI_HOST_BRIDGE(fw->target_hbs[0]->cxl_host_bridge) : NULL;
    if (!hb || !hb->bus || !pci_bus_is_cxl(hb->bus)) {
        soft_range(out, s, e, CXL_DM_NO_HOST_BRIDGE, NULL, -1, 0);
        return;
    }
    if (cxl_get_hb_passthrough(hb)) {
        PCIDevice *rp = pcie_find_port_first(hb->bus);

        if (!rp) {
            soft_range(out, s, e, CXL_DM_NO_ROOT_PORT, NULL, -1, 0);
            return;
        }
        route_below_root_port(ev, rp, s, e, out);
        return;
    }
    cs = cxl_get_hb_cstate(hb);
    if (!cs) {
        soft_range(out, s, e, CXL_DM_NO_COMPONENT_REGS, NULL, -1, 0);
        return;
    }
    eval_switching(ev, cs->crb.cache_mem_registers, hb->bus, s, e, out,
                   "host bridge", route_below_root_port);
}

static int range_cmp(gconstpointer a, gconstpointer b)
{
    const CXLDMRange *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

void cxl_dm_ranges_free(GArray *ranges)
{
    int i;

    for (i = 0; i < ranges->len; i++) {
        g_free(g_array_index(ranges, CXLDMRange, i).who);
    }
    g_array_free(ranges, true);
}

GArray *cxl_dm_eval_window(const CXLDMEval *ev, CXLFixedWindow *fw)
{
    GArray *ranges = g_array_new(false, true, sizeof(CXLDMRange));

    eval_window(ev, fw, ranges);
    g_array_sort(ranges, range_cmp);
    return ranges;
}
