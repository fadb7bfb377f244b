/*
 * qcxl: the direct map's evaluation of the committed decode
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A pure function of a window's description (CXLDMDesc: the decoders
 * of every level as their registers say, the ports, the devices'
 * capacities; qcxl-direct-map-describe.c reads it from the machine): the
 * ranges that tile the window, each mapped linearly onto one device's
 * backend or carrying the typed reason it is not.  It follows upstream's
 * per-access software decode to the letter (see qcxl-direct-map.c's
 * header) and changes nothing: the direct map acts on what it returns.
 *
 * libc and GLib only; tests/unit/direct-map/ tests it without QEMU.
 */

#include <string.h>
#include "qcxl-direct-map-eval.h"

#define BITS_PER_ULONG  (8 * sizeof(unsigned long))

static bool bit_set(const unsigned long *map, uint64_t bit)
{
    return map && (map[bit / BITS_PER_ULONG] >> (bit % BITS_PER_ULONG)) & 1;
}

/* Append the piece [s, e) to @pieces (pairs of addresses) */
static void push_piece(GArray *pieces, uint64_t s, uint64_t e)
{
    uint64_t p[2] = { s, e };

    g_array_append_vals(pieces, p, 1);
}

/* [*s, *e) intersected with the decoder's range; false if empty. */
static bool hdm_clip(const CXLDMDecoder *d, uint64_t s, uint64_t e,
                     uint64_t *cs, uint64_t *ce)
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
static bool claim_piece(GArray *todo, guint j, const CXLDMDecoder *d,
                        GArray *next, uint64_t *cs, uint64_t *ce)
{
    uint64_t ps = g_array_index(todo, uint64_t, 2 * j);
    uint64_t pe = g_array_index(todo, uint64_t, 2 * j + 1);

    if (!hdm_clip(d, ps, pe, cs, ce)) {
        push_piece(next, ps, pe);
        return false;
    }
    if (ps < *cs) {
        push_piece(next, ps, *cs);
    }
    if (*ce < pe) {
        push_piece(next, *ce, pe);
    }
    return true;
}

static void add_range(GArray *out, uint64_t s, uint64_t e,
                      struct CXLType3Dev *ct3d, struct MemoryRegion *target,
                      uint64_t toff)
{
    CXLDMRange r = {
        .start = s, .end = e, .ct3d = ct3d, .target = target,
        .target_offset = toff, .reason = CXL_DM_MAPPED,
    };

    g_array_append_val(out, r);
}

/* [s, e) keeps the software decode, for @reason */
static void soft_range(GArray *out, uint64_t s, uint64_t e, CXLDMReason reason,
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
    case CXL_DM_ALIASED:
        return g_strdup("interleaved, and some of its device bytes are "
                        "reached from more than one address: a set would "
                        "hold a second copy of them");
    case CXL_DM_REASON__MAX:
        break;
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
static void eval_dc(const CXLDMNode *ep, uint64_t h, uint64_t dpa,
                    uint64_t len, uint64_t static_size, GArray *out,
                    const char *id)
{
    while (len) {
        const CXLDMDCRegion *reg = NULL;
        uint64_t l, gap = len;
        bool backed;
        int i;

        for (i = 0; ep->dcmem && i < MIN(ep->ndc, CXL_DM_MAX_DC_REGIONS);
             i++) {
            const CXLDMDCRegion *r = &ep->dc[i];

            if (!r->block_size) {
                continue;
            }
            if (dpa >= r->base && dpa - r->base < r->len) {
                reg = r;
                break;
            }
            if (r->base > dpa) {
                gap = MIN(gap, r->base - dpa);
            }
        }
        if (!reg) {
            /* Up to the next region that may hold some of the rest */
            soft_range(out, h, h + gap, CXL_DM_BEYOND_CAPACITY, id, -1, 0);
            h += gap;
            dpa += gap;
            len -= gap;
            continue;
        }
        /* A run of blocks that are all backed, or all not. */
        backed = bit_set(reg->backed, (dpa - reg->base) / reg->block_size);
        l = 0;
        while (l < len && dpa + l - reg->base < reg->len &&
               bit_set(reg->backed,
                       (dpa + l - reg->base) / reg->block_size) == backed) {
            /* the next block, or the region's end if that comes first */
            uint64_t next = MIN(((dpa + l - reg->base) / reg->block_size + 1) *
                                reg->block_size, reg->len);

            l = MIN(len, reg->base + next - dpa);
        }
        if (backed && dpa - static_size + l <= ep->dcsize) {
            add_range(out, h, h + l, ep->device, ep->dcmem, dpa - static_size);
        } else {
            soft_range(out, h, h + l, CXL_DM_DC_UNBACKED, id, -1, 0);
        }
        h += l;
        dpa += l;
        len -= l;
    }
}

/*
 * Endpoint stage: the linear part of HPA [s, e) on @ep, split over its
 * volatile, persistent and dynamic-capacity backends.
 */
static void eval_endpoint(const CXLDMNode *ep, uint64_t s, uint64_t e,
                          GArray *out)
{
    const char *id = ep->name ? ep->name : "cxl-type3";
    uint64_t vsize = ep->vmem ? ep->vsize : 0;
    uint64_t psize = ep->pmem ? ep->psize : 0;
    uint64_t dpa_base = 0;
    GArray *todo = g_array_new(false, false, sizeof(uint64_t) * 2);
    int i, n = MIN(ep->ndecoders, CXL_DM_MAX_DECODERS);
    guint k;

    /* Pieces of [s, e) no decoder has claimed yet. */
    push_piece(todo, s, e);
    for (i = 0; i < n && todo->len; i++) {
        const CXLDMDecoder *d = &ep->decoders[i];
        GArray *next;
        guint j;

        if (!d->committed) {
            /* The software decode gives up at the first such decoder. */
            break;
        }
        if (d->ways <= 0) {
            for (j = 0; j < todo->len; j++) {
                uint64_t *p = &g_array_index(todo, uint64_t, 2 * j);
                soft_range(out, p[0], p[1], CXL_DM_ENDPOINT_BAD_WAYS, id, i,
                           0);
            }
            g_array_set_size(todo, 0);
            break;
        }
        dpa_base += d->skip;
        next = g_array_new(false, false, sizeof(uint64_t) * 2);
        for (j = 0; j < todo->len; j++) {
            uint64_t cs, ce;

            if (!claim_piece(todo, j, d, next, &cs, &ce)) {
                continue;
            }
            if (d->ways != 1) {
                soft_range(out, cs, ce, CXL_DM_ENDPOINT_INTERLEAVES, id, i,
                           d->ways);
                continue;
            }
            /* Linear: DPA = dpa_base + (HPA - decoder base). */
            {
                uint64_t dpa = dpa_base + (cs - d->base);
                uint64_t len = ce - cs;
                uint64_t h = cs;

                if (dpa < vsize) {
                    uint64_t l = MIN(len, vsize - dpa);
                    add_range(out, h, h + l, ep->device, ep->vmem, dpa);
                    h += l;
                    dpa += l;
                    len -= l;
                }
                if (len && dpa < vsize + psize) {
                    uint64_t l = MIN(len, vsize + psize - dpa);
                    add_range(out, h, h + l, ep->device, ep->pmem,
                              dpa - vsize);
                    h += l;
                    dpa += l;
                    len -= l;
                }
                if (len) {
                    eval_dc(ep, h, dpa, len, vsize + psize, out, id);
                }
            }
        }
        g_array_free(todo, true);
        todo = next;
        dpa_base += d->size / d->ways;
    }
    for (k = 0; k < todo->len; k++) {
        soft_range(out, g_array_index(todo, uint64_t, 2 * k),
                   g_array_index(todo, uint64_t, 2 * k + 1),
                   CXL_DM_ENDPOINT_NOT_DECODED, id, -1, 0);
    }
    g_array_free(todo, true);
}

typedef void (*RouteFn)(const CXLDMPort *port, uint64_t s, uint64_t e,
                        GArray *out);

static const CXLDMPort *find_port(const CXLDMNode *node, int number)
{
    int i;

    for (i = 0; i < node->nports; i++) {
        if (node->ports[i].number == number) {
            return &node->ports[i];
        }
    }
    return NULL;
}

/*
 * A switching level (host bridge or switch upstream port): the first
 * decoder holding an address decides.  Linear pieces go on to @route with
 * the port the decoder targets.
 */
static void eval_switching(const CXLDMNode *node, uint64_t s, uint64_t e,
                           GArray *out, const char *what, RouteFn route)
{
    GArray *todo = g_array_new(false, false, sizeof(uint64_t) * 2);
    int i, n = MIN(node->ndecoders, CXL_DM_MAX_DECODERS);
    guint j;

    push_piece(todo, s, e);
    for (i = 0; i < n && todo->len; i++) {
        const CXLDMDecoder *d = &node->decoders[i];
        GArray *next = g_array_new(false, false, sizeof(uint64_t) * 2);

        for (j = 0; j < todo->len; j++) {
            uint64_t cs, ce;
            const CXLDMPort *port;

            if (!claim_piece(todo, j, d, next, &cs, &ce)) {
                continue;
            }
            port = find_port(node, d->target);
            if (!d->committed) {
                soft_range(out, cs, ce, CXL_DM_DECODER_UNCOMMITTED, what, i,
                           0);
            } else if (d->ways != 1) {
                soft_range(out, cs, ce, CXL_DM_DECODER_INTERLEAVES, what, i,
                           d->ways);
            } else if (!port) {
                soft_range(out, cs, ce, CXL_DM_DECODER_NO_PORT, what, i,
                           d->target);
            } else {
                route(port, cs, ce, out);
            }
        }
        g_array_free(todo, true);
        todo = next;
    }
    for (j = 0; j < todo->len; j++) {
        soft_range(out, g_array_index(todo, uint64_t, 2 * j),
                   g_array_index(todo, uint64_t, 2 * j + 1),
                   CXL_DM_NOT_DECODED, what, -1, 0);
    }
    g_array_free(todo, true);
}

/* Below a switch's downstream port: a type-3 device, or nothing */
static void route_to_endpoint(const CXLDMPort *port, uint64_t s, uint64_t e,
                              GArray *out)
{
    const CXLDMNode *d = port->below;

    if (!d || d->kind != CXL_DM_NODE_ENDPOINT) {
        soft_range(out, s, e, CXL_DM_NO_DEVICE,
                   port->name ? port->name : "a downstream port", -1, 0);
        return;
    }
    eval_endpoint(d, s, e, out);
}

/* Below a root port: a type-3 device, a switch, or nothing */
static void route_below_root_port(const CXLDMPort *port, uint64_t s,
                                  uint64_t e, GArray *out)
{
    const CXLDMNode *d = port->below;

    if (d && d->kind == CXL_DM_NODE_ENDPOINT) {
        eval_endpoint(d, s, e, out);
    } else if (d && d->kind == CXL_DM_NODE_SWITCH) {
        eval_switching(d, s, e, out, "switch", route_to_endpoint);
    } else {
        soft_range(out, s, e, CXL_DM_NO_DEVICE_OR_SWITCH,
                   port->name ? port->name : "the root port", -1, 0);
    }
}

static void eval_window(const CXLDMDesc *desc, GArray *out)
{
    uint64_t s = desc->base, e = desc->base + desc->size;
    const CXLDMNode *hb = desc->hb;

    if (!desc->enabled) {
        soft_range(out, s, e, CXL_DM_DISABLED, NULL, -1, 0);
    } else if (desc->ways != 1) {
        soft_range(out, s, e, CXL_DM_WINDOW_INTERLEAVES, NULL, -1,
                   desc->ways);
    } else if (!hb || hb->kind == CXL_DM_NODE_ENDPOINT) {
        soft_range(out, s, e,
                   hb || desc->absent == CXL_DM_MAPPED ?
                   CXL_DM_NO_HOST_BRIDGE : desc->absent, NULL, -1, 0);
    } else if (hb->kind == CXL_DM_NODE_PASSTHROUGH) {
        if (hb->nports < 1) {
            soft_range(out, s, e, CXL_DM_NO_ROOT_PORT, NULL, -1, 0);
        } else {
            route_below_root_port(&hb->ports[0], s, e, out);
        }
    } else {
        eval_switching(hb, s, e, out, "host bridge", route_below_root_port);
    }
}

static int range_cmp(gconstpointer a, gconstpointer b)
{
    const CXLDMRange *x = a, *y = b;

    return x->start < y->start ? -1 : x->start > y->start;
}

void cxl_dm_node_free(CXLDMNode *node)
{
    int i;

    if (!node) {
        return;
    }
    for (i = 0; i < node->nports; i++) {
        cxl_dm_node_free(node->ports[i].below);
    }
    g_free(node->ports);
    g_free(node);
}

void cxl_dm_ranges_free(GArray *ranges)
{
    guint i;

    for (i = 0; i < ranges->len; i++) {
        g_free(g_array_index(ranges, CXLDMRange, i).who);
    }
    g_array_free(ranges, true);
}

GArray *cxl_dm_eval(const CXLDMDesc *desc)
{
    GArray *ranges = g_array_new(false, true, sizeof(CXLDMRange));

    if (desc->size) {
        eval_window(desc, ranges);
    }
    g_array_sort(ranges, range_cmp);
    return ranges;
}
