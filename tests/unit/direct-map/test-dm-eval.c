/*
 * Unit tests of the direct map's decode evaluation
 * (hw/cxl/qcxl-direct-map-eval.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two kinds of test.  Named cases build one topology each, as the
 * machine would describe it, and check every range the evaluation
 * returns: its bounds, the backend and offset it maps, or its reason and
 * the words QMP shows.  The property test builds random topologies and
 * checks the evaluation, which works on whole ranges, against a decode of
 * single addresses written here from the rules in qcxl-direct-map.c's
 * header (the rules of upstream's cxl_cfmws_find_device() and
 * cxl_type3_dpa()): at every range boundary and at random addresses both
 * must agree on whether the address is linear and, if so, onto which
 * backend and offset.
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "qcxl-direct-map-eval.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define BLK (256 * MiB)         /* HDM decoder granularity */
#define WBASE (16 * GiB)        /* where the test windows start */

/* The evaluation only compares and hands these back. */
struct MemoryRegion {
    const char *name;
};
struct CXLType3Dev {
    const char *name;
};

/* ---- Building descriptions ---- */

static CXLDMDecoder dec(uint64_t base, uint64_t size, int ways, int target)
{
    return (CXLDMDecoder) {
        .base = base, .size = size, .committed = true, .ways = ways,
        .target = target,
    };
}

static CXLDMNode *node_new(CXLDMNodeKind kind)
{
    CXLDMNode *n = g_new0(CXLDMNode, 1);

    n->kind = kind;
    return n;
}

static void node_add_decoder(CXLDMNode *n, CXLDMDecoder d)
{
    g_assert_cmpint(n->ndecoders, <, CXL_DM_MAX_DECODERS);
    n->decoders[n->ndecoders++] = d;
}

static void node_add_port(CXLDMNode *n, int number, const char *name,
                          CXLDMNode *below)
{
    n->ports = g_renew(CXLDMPort, n->ports, n->nports + 1);
    n->ports[n->nports++] = (CXLDMPort) {
        .number = number, .name = name, .below = below,
    };
}

static struct MemoryRegion vmem0 = { "vmem0" }, pmem0 = { "pmem0" },
                           dcmem0 = { "dcmem0" }, vmem1 = { "vmem1" };
static struct CXLType3Dev dev0 = { "cxl-mem0" }, dev1 = { "cxl-mem1" };

static CXLDMNode *endpoint(struct CXLType3Dev *dev, struct MemoryRegion *v,
                           uint64_t vsize, struct MemoryRegion *p,
                           uint64_t psize)
{
    CXLDMNode *ep = node_new(CXL_DM_NODE_ENDPOINT);

    ep->name = dev->name;
    ep->device = dev;
    ep->vmem = v;
    ep->vsize = vsize;
    ep->pmem = p;
    ep->psize = psize;
    return ep;
}

/* A window of @blocks 256 MiB blocks on one host bridge with decoders */
static CXLDMDesc window(int blocks, CXLDMNode *hb)
{
    return (CXLDMDesc) {
        .base = WBASE, .size = blocks * BLK, .enabled = true, .ways = 1,
        .hb = hb,
    };
}

/* The usual: host bridge decoder 0 → root port 0 → endpoint decoder 0 */
static CXLDMDesc one_device(int blocks, CXLDMNode *ep)
{
    CXLDMNode *hb = node_new(CXL_DM_NODE_SWITCH);

    node_add_decoder(hb, dec(WBASE, blocks * BLK, 1, 0));
    node_add_port(hb, 0, "rp0", ep);
    node_add_decoder(ep, dec(WBASE, blocks * BLK, 1, 0));
    return window(blocks, hb);
}

/* ---- Checking results ---- */

/* The ranges tile the window: sorted, contiguous, none empty. */
static void assert_tiles(const CXLDMDesc *desc, GArray *ranges)
{
    uint64_t at = desc->base;
    guint i;

    for (i = 0; i < ranges->len; i++) {
        CXLDMRange *r = &g_array_index(ranges, CXLDMRange, i);

        g_assert_cmphex(r->start, ==, at);
        g_assert_cmphex(r->end, >, r->start);
        g_assert_cmpint(!!r->target, ==, r->reason == CXL_DM_MAPPED);
        g_assert_cmpint(!!r->ct3d, ==, !!r->target);
        at = r->end;
    }
    g_assert_cmphex(at, ==, desc->base + desc->size);
}

static GArray *eval(const CXLDMDesc *desc)
{
    GArray *ranges = cxl_dm_eval(desc);

    assert_tiles(desc, ranges);
    return ranges;
}

static CXLDMRange *range(GArray *ranges, guint i)
{
    g_assert_cmpint(i, <, ranges->len);
    return &g_array_index(ranges, CXLDMRange, i);
}

static void assert_mapped(GArray *ranges, int i, uint64_t start,
                          uint64_t end, struct MemoryRegion *target,
                          uint64_t offset)
{
    CXLDMRange *r = range(ranges, i);

    g_assert_cmphex(r->start, ==, start);
    g_assert_cmphex(r->end, ==, end);
    g_assert_cmpint(r->reason, ==, CXL_DM_MAPPED);
    g_assert_true(r->target == target);
    g_assert_cmphex(r->target_offset, ==, offset);
    g_assert_null(cxl_dm_range_why(r));
}

/* Range @i is [start, end), keeps the software decode and QMP says @why */
static void assert_soft(GArray *ranges, int i, uint64_t start, uint64_t end,
                        CXLDMReason reason, const char *why)
{
    CXLDMRange *r = range(ranges, i);
    g_autofree char *text = cxl_dm_range_why(r);

    g_assert_cmphex(r->start, ==, start);
    g_assert_cmphex(r->end, ==, end);
    g_assert_cmpint(r->reason, ==, reason);
    g_assert_null(r->target);
    g_assert_cmpstr(text, ==, why);
}

/* ---- Named cases ---- */

static void test_linear(void)
{
    CXLDMDesc d = one_device(2, endpoint(&dev0, &vmem0, 2 * BLK, NULL, 0));
    GArray *r = eval(&d);

    g_assert_cmpint(r->len, ==, 1);
    assert_mapped(r, 0, WBASE, WBASE + 2 * BLK, &vmem0, 0);
    g_assert_true(range(r, 0)->ct3d == &dev0);
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

static void test_volatile_then_persistent(void)
{
    /* DPA 0..256M volatile, 256M..768M persistent, the rest nothing */
    CXLDMDesc d = one_device(4, endpoint(&dev0, &vmem0, BLK,
                                         &pmem0, 2 * BLK));
    GArray *r = eval(&d);

    g_assert_cmpint(r->len, ==, 3);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    assert_mapped(r, 1, WBASE + BLK, WBASE + 3 * BLK, &pmem0, 0);
    assert_soft(r, 2, WBASE + 3 * BLK, WBASE + 4 * BLK,
                CXL_DM_BEYOND_CAPACITY,
                "cxl-mem0: beyond the device's capacity");
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

static void test_disabled(void)
{
    CXLDMDesc d = one_device(1, endpoint(&dev0, &vmem0, BLK, NULL, 0));
    GArray *r;

    d.enabled = false;
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 1);
    assert_soft(r, 0, WBASE, WBASE + BLK, CXL_DM_DISABLED,
                "direct map disabled (cxl-direct-map=off)");
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

static void test_window_interleaves(void)
{
    CXLDMDesc d = window(2, NULL);
    GArray *r;

    d.ways = 2;
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 1);
    assert_soft(r, 0, WBASE, WBASE + 2 * BLK, CXL_DM_WINDOW_INTERLEAVES,
                "the window interleaves 2 host bridges");
    g_assert_true(cxl_dm_reason_interleaves(range(r, 0)->reason));
    cxl_dm_ranges_free(r);
}

static void test_host_bridge_absent(void)
{
    static const struct {
        CXLDMReason absent;
        const char *why;
    } cases[] = {
        { CXL_DM_NO_HOST_BRIDGE, "the window's host bridge is not set up" },
        { CXL_DM_NO_ROOT_PORT, "the host bridge has no root port" },
        { CXL_DM_NO_COMPONENT_REGS,
          "the host bridge has no component registers" },
        /* a description that names no reason still says something */
        { CXL_DM_MAPPED, "the window's host bridge is not set up" },
    };
    guint i;

    for (i = 0; i < G_N_ELEMENTS(cases); i++) {
        CXLDMDesc d = window(1, NULL);
        GArray *r;

        d.absent = cases[i].absent;
        r = eval(&d);
        g_assert_cmpint(r->len, ==, 1);
        assert_soft(r, 0, WBASE, WBASE + BLK,
                    cases[i].absent ? cases[i].absent : CXL_DM_NO_HOST_BRIDGE,
                    cases[i].why);
        cxl_dm_ranges_free(r);
    }
}

static void test_host_bridge_decoders(void)
{
    CXLDMNode *hb = node_new(CXL_DM_NODE_SWITCH);
    CXLDMNode *ep = endpoint(&dev0, &vmem0, 8 * BLK, NULL, 0);
    CXLDMDesc d = window(6, hb);
    CXLDMDecoder uncommitted = dec(WBASE + BLK, BLK, 1, 0);
    GArray *r;

    /* block 0 linear; 1 uncommitted; 2 interleaved; 3 to no port; 4-5 none */
    uncommitted.committed = false;
    node_add_decoder(hb, dec(WBASE, BLK, 1, 0));
    node_add_decoder(hb, uncommitted);
    node_add_decoder(hb, dec(WBASE + 2 * BLK, BLK, 2, 0));
    node_add_decoder(hb, dec(WBASE + 3 * BLK, BLK, 1, 7));
    node_add_port(hb, 0, "rp0", ep);
    node_add_decoder(ep, dec(WBASE, 8 * BLK, 1, 0));
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 5);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    assert_soft(r, 1, WBASE + BLK, WBASE + 2 * BLK,
                CXL_DM_DECODER_UNCOMMITTED,
                "host bridge decoder 1 is not committed");
    assert_soft(r, 2, WBASE + 2 * BLK, WBASE + 3 * BLK,
                CXL_DM_DECODER_INTERLEAVES,
                "host bridge decoder 2 interleaves 2 ways");
    assert_soft(r, 3, WBASE + 3 * BLK, WBASE + 4 * BLK,
                CXL_DM_DECODER_NO_PORT,
                "host bridge decoder 3 targets port 7, which does not exist");
    assert_soft(r, 4, WBASE + 4 * BLK, WBASE + 6 * BLK, CXL_DM_NOT_DECODED,
                "no host bridge decoder covers it");
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(hb);
}

/* At a switching level the first decoder holding an address decides. */
static void test_first_decoder_wins(void)
{
    CXLDMNode *hb = node_new(CXL_DM_NODE_SWITCH);
    CXLDMDesc d = window(2, hb);
    CXLDMNode *ep0 = endpoint(&dev0, &vmem0, 2 * BLK, NULL, 0);
    CXLDMNode *ep1 = endpoint(&dev1, &vmem1, 2 * BLK, NULL, 0);
    GArray *r;

    node_add_decoder(hb, dec(WBASE + BLK, BLK, 1, 1));
    node_add_decoder(hb, dec(WBASE, 2 * BLK, 1, 0));
    node_add_port(hb, 0, "rp0", ep0);
    node_add_port(hb, 1, "rp1", ep1);
    node_add_decoder(ep0, dec(WBASE, 2 * BLK, 1, 0));
    node_add_decoder(ep1, dec(WBASE, 2 * BLK, 1, 0));
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 2);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    g_assert_true(range(r, 0)->ct3d == &dev0);
    assert_mapped(r, 1, WBASE + BLK, WBASE + 2 * BLK, &vmem1, BLK);
    g_assert_true(range(r, 1)->ct3d == &dev1);
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(hb);
}

/* DPA bases: skips and size / ways of the decoders before */
static void test_endpoint_dpa_base(void)
{
    CXLDMNode *ep = endpoint(&dev0, &vmem0, 8 * BLK, NULL, 0);
    CXLDMDesc d = one_device(3, ep);
    CXLDMDecoder second = dec(WBASE + BLK, 2 * BLK, 1, 0);
    GArray *r;

    /* decoder 0: HPA block 0 → DPA 0; decoder 1: skip 1 block, DPA 2.. */
    ep->decoders[0].size = BLK;
    second.skip = BLK;
    node_add_decoder(ep, second);
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 2);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    assert_mapped(r, 1, WBASE + BLK, WBASE + 3 * BLK, &vmem0, 2 * BLK);
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

static void test_endpoint_decoders(void)
{
    CXLDMNode *ep = endpoint(&dev0, &vmem0, 8 * BLK, NULL, 0);
    CXLDMDesc d = one_device(4, ep);
    CXLDMDecoder off = dec(WBASE + 2 * BLK, BLK, 1, 0);
    GArray *r;

    /* 0: interleaves; 1: linear; 2: uncommitted ends the walk; 3: unseen */
    ep->decoders[0] = dec(WBASE, BLK, 2, 0);
    node_add_decoder(ep, dec(WBASE + BLK, BLK, 1, 0));
    off.committed = false;
    node_add_decoder(ep, off);
    node_add_decoder(ep, dec(WBASE + 2 * BLK, 2 * BLK, 1, 0));
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 3);
    assert_soft(r, 0, WBASE, WBASE + BLK, CXL_DM_ENDPOINT_INTERLEAVES,
                "cxl-mem0: endpoint decoder 0 interleaves 2 ways");
    /* DPA base after decoder 0: 256M / 2 ways */
    assert_mapped(r, 1, WBASE + BLK, WBASE + 2 * BLK, &vmem0, BLK / 2);
    assert_soft(r, 2, WBASE + 2 * BLK, WBASE + 4 * BLK,
                CXL_DM_ENDPOINT_NOT_DECODED,
                "cxl-mem0: no committed endpoint decoder covers it");
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

/*
 * The bug a text match had: an invalid interleave-ways encoding says
 * "interleave" in words, but no interleaved set may back it.
 */
static void test_endpoint_bad_ways(void)
{
    CXLDMNode *ep = endpoint(&dev0, &vmem0, 8 * BLK, NULL, 0);
    CXLDMDesc d = one_device(2, ep);
    g_autofree char *why = NULL;
    GArray *r;

    ep->decoders[0].ways = 0;
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 1);
    assert_soft(r, 0, WBASE, WBASE + 2 * BLK, CXL_DM_ENDPOINT_BAD_WAYS,
                "cxl-mem0: endpoint decoder 0 has an invalid interleave-ways "
                "encoding");
    why = cxl_dm_range_why(range(r, 0));
    g_assert_nonnull(strstr(why, "interleave"));
    g_assert_false(cxl_dm_reason_interleaves(range(r, 0)->reason));
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

static void test_interleave_reasons(void)
{
    CXLDMReason x;

    for (x = CXL_DM_MAPPED; x < CXL_DM_REASON__MAX; x++) {
        bool want = x == CXL_DM_WINDOW_INTERLEAVES ||
                    x == CXL_DM_DECODER_INTERLEAVES ||
                    x == CXL_DM_ENDPOINT_INTERLEAVES;
        CXLDMRange r = { .reason = x, .who = (char *)"w", .n = 2 };
        g_autofree char *why = cxl_dm_range_why(&r);

        g_assert_cmpint(cxl_dm_reason_interleaves(x), ==, want);
        /* every reason but "mapped" has words */
        g_assert_cmpint(!!why, ==, x != CXL_DM_MAPPED);
    }
}

/* Dynamic capacity: only blocks that accepted extents back are mapped. */
static void test_dynamic_capacity(void)
{
    static unsigned long backed[1] = { 0x5 };   /* blocks 0 and 2 */
    CXLDMNode *ep = endpoint(&dev0, &vmem0, BLK, NULL, 0);
    CXLDMDesc d = one_device(3, ep);
    GArray *r;

    ep->dcmem = &dcmem0;
    ep->dcsize = BLK;
    ep->ndc = 1;
    ep->dc[0] = (CXLDMDCRegion) {
        .base = BLK, .len = BLK, .block_size = 64 * MiB, .backed = backed,
    };
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 6);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    assert_mapped(r, 1, WBASE + BLK, WBASE + BLK + 64 * MiB, &dcmem0, 0);
    assert_soft(r, 2, WBASE + BLK + 64 * MiB, WBASE + BLK + 128 * MiB,
                CXL_DM_DC_UNBACKED,
                "cxl-mem0: dynamic capacity that no accepted extent backs");
    assert_mapped(r, 3, WBASE + BLK + 128 * MiB, WBASE + BLK + 192 * MiB,
                  &dcmem0, 128 * MiB);
    assert_soft(r, 4, WBASE + BLK + 192 * MiB, WBASE + 2 * BLK,
                CXL_DM_DC_UNBACKED,
                "cxl-mem0: dynamic capacity that no accepted extent backs");
    assert_soft(r, 5, WBASE + 2 * BLK, WBASE + 3 * BLK,
                CXL_DM_BEYOND_CAPACITY,
                "cxl-mem0: beyond the device's capacity");
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

/* Root port → switch → downstream ports; and what may not sit where */
static void test_switch(void)
{
    CXLDMNode *hb = node_new(CXL_DM_NODE_SWITCH);
    CXLDMNode *usp = node_new(CXL_DM_NODE_SWITCH);
    CXLDMNode *ep = endpoint(&dev0, &vmem0, 4 * BLK, NULL, 0);
    CXLDMNode *nested = node_new(CXL_DM_NODE_SWITCH);
    CXLDMDesc d = window(5, hb);
    GArray *r;

    node_add_decoder(hb, dec(WBASE, 4 * BLK, 1, 0));
    node_add_decoder(hb, dec(WBASE + 4 * BLK, BLK, 1, 1));
    node_add_port(hb, 0, "rp0", usp);
    node_add_port(hb, 1, NULL, NULL);
    node_add_decoder(usp, dec(WBASE, 2 * BLK, 1, 3));
    node_add_decoder(usp, dec(WBASE + 2 * BLK, BLK, 1, 4));
    node_add_decoder(usp, dec(WBASE + 3 * BLK, BLK, 1, 5));
    node_add_port(usp, 3, "dsp3", ep);
    node_add_port(usp, 4, "dsp4", NULL);
    node_add_port(usp, 5, NULL, nested);     /* a switch below a switch */
    node_add_decoder(ep, dec(WBASE, 2 * BLK, 1, 0));
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 4);
    assert_mapped(r, 0, WBASE, WBASE + 2 * BLK, &vmem0, 0);
    assert_soft(r, 1, WBASE + 2 * BLK, WBASE + 3 * BLK, CXL_DM_NO_DEVICE,
                "no CXL type-3 device below dsp4");
    assert_soft(r, 2, WBASE + 3 * BLK, WBASE + 4 * BLK, CXL_DM_NO_DEVICE,
                "no CXL type-3 device below a downstream port");
    assert_soft(r, 3, WBASE + 4 * BLK, WBASE + 5 * BLK,
                CXL_DM_NO_DEVICE_OR_SWITCH,
                "no CXL type-3 device or switch below the root port");
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(hb);
}

static void test_passthrough(void)
{
    CXLDMNode *hb = node_new(CXL_DM_NODE_PASSTHROUGH);
    CXLDMNode *ep = endpoint(&dev0, &vmem0, BLK, NULL, 0);
    CXLDMDesc d = window(2, hb);
    GArray *r;

    node_add_port(hb, 0, "rp0", ep);
    node_add_decoder(ep, dec(WBASE, 2 * BLK, 1, 0));
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 2);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    assert_soft(r, 1, WBASE + BLK, WBASE + 2 * BLK, CXL_DM_BEYOND_CAPACITY,
                "cxl-mem0: beyond the device's capacity");
    cxl_dm_ranges_free(r);

    /* a pass-through host bridge with no root port */
    hb->nports = 0;
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 1);
    assert_soft(r, 0, WBASE, WBASE + 2 * BLK, CXL_DM_NO_ROOT_PORT,
                "the host bridge has no root port");
    cxl_dm_ranges_free(r);
    hb->nports = 1;
    cxl_dm_node_free(hb);
}

/* A decoder whose range wraps around the address space covers its top. */
static void test_wrapping_decoder(void)
{
    CXLDMNode *ep = endpoint(&dev0, &vmem0, 4 * BLK, NULL, 0);
    CXLDMDesc d = one_device(2, ep);
    GArray *r;

    d.hb->decoders[0] = dec(WBASE, UINT64_MAX - WBASE + 1 + BLK, 1, 0);
    r = eval(&d);
    g_assert_cmpint(r->len, ==, 1);
    assert_mapped(r, 0, WBASE, WBASE + 2 * BLK, &vmem0, 0);
    cxl_dm_ranges_free(r);
    cxl_dm_node_free(d.hb);
}

/* Hostile descriptions stay in bounds: counts beyond the arrays */
static void test_counts_clamped(void)
{
    CXLDMNode *ep = endpoint(&dev0, &vmem0, BLK, NULL, 0);
    CXLDMDesc d = one_device(1, ep);
    GArray *r;

    d.hb->ndecoders = 1000;
    ep->ndecoders = 1000;
    ep->ndc = 1000;
    r = eval(&d);
    assert_mapped(r, 0, WBASE, WBASE + BLK, &vmem0, 0);
    cxl_dm_ranges_free(r);
    d.hb->ndecoders = 1;
    cxl_dm_node_free(d.hb);
}

/* ---- Property: ranges agree with a decode of single addresses ---- */

typedef struct Point {
    struct MemoryRegion *target;    /* NULL: software decode */
    uint64_t offset;
    struct CXLType3Dev *dev;
} Point;

static bool holds(const CXLDMDecoder *d, uint64_t a)
{
    uint64_t end = d->base + d->size;

    return d->size && a >= d->base && (end < d->base || a < end);
}

static Point point_endpoint(const CXLDMNode *ep, uint64_t a)
{
    Point none = { 0 };
    uint64_t vsize = ep->vmem ? ep->vsize : 0;
    uint64_t psize = ep->pmem ? ep->psize : 0;
    uint64_t dpa_base = 0, dpa;
    int i;

    for (i = 0; i < ep->ndecoders; i++) {
        const CXLDMDecoder *d = &ep->decoders[i];

        if (!d->committed || d->ways <= 0) {
            return none;
        }
        dpa_base += d->skip;
        if (holds(d, a)) {
            break;
        }
        dpa_base += d->size / d->ways;
    }
    if (i == ep->ndecoders || ep->decoders[i].ways != 1) {
        return none;
    }
    dpa = dpa_base + a - ep->decoders[i].base;
    if (dpa < vsize) {
        return (Point) { ep->vmem, dpa, ep->device };
    }
    if (dpa < vsize + psize) {
        return (Point) { ep->pmem, dpa - vsize, ep->device };
    }
    for (i = 0; ep->dcmem && i < ep->ndc; i++) {
        const CXLDMDCRegion *r = &ep->dc[i];
        uint64_t blk;

        if (!r->block_size || dpa < r->base || dpa >= r->base + r->len) {
            continue;
        }
        blk = (dpa - r->base) / r->block_size;
        if ((r->backed[blk / (8 * sizeof(long))] >>
             (blk % (8 * sizeof(long)))) & 1 &&
            dpa - vsize - psize < ep->dcsize) {
            return (Point) { ep->dcmem, dpa - vsize - psize, ep->device };
        }
        return none;
    }
    return none;
}

static Point point_below(const CXLDMNode *n, uint64_t a, int depth);

static Point point_switch(const CXLDMNode *n, uint64_t a, int depth)
{
    Point none = { 0 };
    int i, j;

    for (i = 0; i < n->ndecoders; i++) {
        const CXLDMDecoder *d = &n->decoders[i];

        if (!holds(d, a)) {
            continue;
        }
        if (!d->committed || d->ways != 1) {
            return none;
        }
        for (j = 0; j < n->nports; j++) {
            if (n->ports[j].number == d->target) {
                return point_below(n->ports[j].below, a, depth + 1);
            }
        }
        return none;
    }
    return none;
}

/* depth 1: below a root port; 2: below a switch's downstream port */
static Point point_below(const CXLDMNode *n, uint64_t a, int depth)
{
    Point none = { 0 };

    if (!n) {
        return none;
    }
    if (n->kind == CXL_DM_NODE_ENDPOINT) {
        return point_endpoint(n, a);
    }
    if (n->kind == CXL_DM_NODE_SWITCH && depth == 1) {
        return point_switch(n, a, depth);
    }
    return none;
}

static Point point(const CXLDMDesc *desc, uint64_t a)
{
    Point none = { 0 };

    if (!desc->enabled || desc->ways != 1 || !desc->hb) {
        return none;
    }
    if (desc->hb->kind == CXL_DM_NODE_PASSTHROUGH) {
        return desc->hb->nports ?
            point_below(desc->hb->ports[0].below, a, 1) : none;
    }
    if (desc->hb->kind != CXL_DM_NODE_SWITCH) {
        return none;
    }
    return point_switch(desc->hb, a, 0);
}

/*
 * Decoders start at a block of the window (or one before it) and cover
 * up to the whole window; most are committed and linear, so that enough
 * paths reach a backend.
 */
static CXLDMDecoder random_decoder(GRand *g, int blocks, int nports,
                                   bool endpoint)
{
    static const int ways[] = { 1, 1, 1, 1, 1, 1, 2, 4, 0 };
    CXLDMDecoder d = {
        .base = WBASE + (g_rand_int_range(g, -1, blocks) * (int64_t)BLK),
        .size = g_rand_int_range(g, 0, blocks + 2) * BLK,
        .committed = g_rand_int_range(g, 0, 10) != 0,
        .ways = ways[g_rand_int_range(g, 0, G_N_ELEMENTS(ways))],
        .target = g_rand_int_range(g, 0, nports + 1),
    };

    if (endpoint && g_rand_int_range(g, 0, 4) == 0) {
        d.skip = g_rand_int_range(g, 1, 3) * BLK;
    }
    return d;
}

static unsigned long bitmaps[64][4];
static int nbitmaps;

static CXLDMNode *random_endpoint(GRand *g, int blocks, int k)
{
    static struct MemoryRegion v[64], p[64], dc[64];
    static struct CXLType3Dev dev[64];
    int slot = k % 64;
    CXLDMNode *ep = endpoint(&dev[slot],
                             g_rand_int_range(g, 0, 4) ? &v[slot] : NULL,
                             g_rand_int_range(g, 0, 5) * BLK,
                             g_rand_boolean(g) ? &p[slot] : NULL,
                             g_rand_int_range(g, 0, 3) * BLK);
    int i, n = g_rand_int_range(g, 1, CXL_DM_MAX_DECODERS + 1);

    ep->name = g_rand_boolean(g) ? "ep" : NULL;
    for (i = 0; i < n; i++) {
        node_add_decoder(ep, random_decoder(g, blocks, 0, true));
    }
    if (g_rand_boolean(g)) {
        unsigned long *bits = bitmaps[nbitmaps++ % 64];
        int w;

        for (w = 0; w < 4; w++) {
            bits[w] = ((unsigned long)g_rand_int(g) << 31) ^ g_rand_int(g);
        }
        ep->dcmem = &dc[slot];
        ep->dcsize = g_rand_int_range(g, 0, 3) * BLK;
        ep->ndc = 1;
        ep->dc[0] = (CXLDMDCRegion) {
            .base = ep->vsize + ep->psize + g_rand_int_range(g, 0, 2) * BLK,
            .len = g_rand_int_range(g, 1, 4) * BLK,
            .block_size = (uint64_t)g_rand_int_range(g, 0, 4) * 32 * MiB,
            .backed = bits,
        };
    }
    return ep;
}

static CXLDMNode *random_switch(GRand *g, int blocks, int depth, int *k)
{
    CXLDMNode *n = node_new(CXL_DM_NODE_SWITCH);
    int i, nports = g_rand_int_range(g, 0, 4);
    int ndec = g_rand_int_range(g, 1, CXL_DM_MAX_DECODERS + 1);

    for (i = 0; i < ndec; i++) {
        node_add_decoder(n, random_decoder(g, blocks, nports, false));
    }
    for (i = 0; i < nports; i++) {
        CXLDMNode *below = NULL;
        int what = g_rand_int_range(g, 0, 6);

        if (what >= 1 && what <= 4) {
            below = random_endpoint(g, blocks, (*k)++);
        } else if (what == 5 && depth < 2) {
            below = random_switch(g, blocks, depth + 1, k);
        }
        node_add_port(n, i, g_rand_boolean(g) ? "port" : NULL, below);
    }
    return n;
}

static void check_against_points(const CXLDMDesc *desc, GArray *ranges,
                                 GRand *g)
{
    guint i;
    int k;

    for (i = 0; i < ranges->len; i++) {
        CXLDMRange *r = range(ranges, i);
        uint64_t probes[6] = {
            r->start, r->end - 1, r->start + (r->end - r->start) / 2,
        };

        for (k = 3; k < 6; k++) {
            probes[k] = r->start + g_rand_double(g) * (r->end - r->start);
        }
        for (k = 0; k < 6; k++) {
            uint64_t a = MIN(probes[k], r->end - 1);
            Point p = point(desc, a);

            if (!r->target) {
                /*
                 * A run of backed dynamic-capacity blocks that passes the
                 * end of the DC backend keeps the software decode whole.
                 */
                if (r->reason != CXL_DM_DC_UNBACKED && p.target) {
                    g_autofree char *why = cxl_dm_range_why(r);

                    g_error("0x%" PRIx64 " decodes to %s+0x%" PRIx64
                            " one address at a time, but its range "
                            "[0x%" PRIx64 ", 0x%" PRIx64 ") keeps the "
                            "software decode: %s", a, p.target->name,
                            p.offset, r->start, r->end, why);
                }
                continue;
            }
            if (p.target != r->target || p.dev != r->ct3d ||
                p.offset != r->target_offset + (a - r->start)) {
                g_error("0x%" PRIx64 " decodes to %p+0x%" PRIx64 " one "
                        "address at a time, but its range [0x%" PRIx64
                        ", 0x%" PRIx64 ") maps %p+0x%" PRIx64, a,
                        (void *)p.target, p.offset, r->start, r->end,
                        (void *)r->target, r->target_offset);
            }
        }
    }
}

static void test_random_topologies(void)
{
    const char *seed_env = g_getenv("QCXL_DM_SEED");
    const char *rounds_env = g_getenv("QCXL_DM_ROUNDS");
    guint32 seed = seed_env ? strtoul(seed_env, NULL, 0) : 0x9c71;
    int rounds = rounds_env ? atoi(rounds_env) : 20000;
    g_autoptr(GRand) g = g_rand_new_with_seed(seed);
    int round, mapped = 0, soft = 0;

    /* QCXL_DM_SEED and QCXL_DM_ROUNDS: longer runs on other seeds */
    g_test_message("seed 0x%x, %d topologies", seed, rounds);
    for (round = 0; round < rounds; round++) {
        int blocks = g_rand_int_range(g, 1, 9), k = 0;
        CXLDMDesc d = window(blocks, NULL);
        int shape = g_rand_int_range(g, 0, 10);
        GArray *r;
        guint i;

        d.enabled = shape != 0;
        d.ways = shape == 1 ? 2 : 1;
        if (shape == 2) {
            d.absent = CXL_DM_NO_COMPONENT_REGS;
        } else if (shape == 3) {
            d.hb = node_new(CXL_DM_NODE_PASSTHROUGH);
            node_add_port(d.hb, 0, NULL,
                          g_rand_boolean(g) ?
                          random_endpoint(g, blocks, k++) :
                          random_switch(g, blocks, 2, &k));
        } else {
            d.hb = random_switch(g, blocks, 0, &k);
        }
        r = eval(&d);
        check_against_points(&d, r, g);
        for (i = 0; i < r->len; i++) {
            if (range(r, i)->target) {
                mapped++;
            } else {
                soft++;
            }
        }
        cxl_dm_ranges_free(r);
        cxl_dm_node_free(d.hb);
    }
    /* the generator reaches both outcomes often */
    g_assert_cmpint(mapped, >, rounds / 20);
    g_assert_cmpint(soft, >, rounds);
    g_test_message("%d mapped and %d software-decoded ranges checked",
                   mapped, soft);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dm-eval/linear", test_linear);
    g_test_add_func("/dm-eval/volatile-then-persistent",
                    test_volatile_then_persistent);
    g_test_add_func("/dm-eval/disabled", test_disabled);
    g_test_add_func("/dm-eval/window-interleaves", test_window_interleaves);
    g_test_add_func("/dm-eval/host-bridge-absent", test_host_bridge_absent);
    g_test_add_func("/dm-eval/host-bridge-decoders",
                    test_host_bridge_decoders);
    g_test_add_func("/dm-eval/first-decoder-wins", test_first_decoder_wins);
    g_test_add_func("/dm-eval/endpoint-dpa-base", test_endpoint_dpa_base);
    g_test_add_func("/dm-eval/endpoint-decoders", test_endpoint_decoders);
    g_test_add_func("/dm-eval/endpoint-bad-ways", test_endpoint_bad_ways);
    g_test_add_func("/dm-eval/interleave-reasons", test_interleave_reasons);
    g_test_add_func("/dm-eval/dynamic-capacity", test_dynamic_capacity);
    g_test_add_func("/dm-eval/switch", test_switch);
    g_test_add_func("/dm-eval/passthrough", test_passthrough);
    g_test_add_func("/dm-eval/wrapping-decoder", test_wrapping_decoder);
    g_test_add_func("/dm-eval/counts-clamped", test_counts_clamped);
    g_test_add_func("/dm-eval/random-topologies", test_random_topologies);
    return g_test_run();
}
