/*
 * qcxl: the direct map's evaluation of a committed decode (private to
 * hw/cxl/cxl-direct-map*.c and the unit tests)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Plain data in, plain data out: libc and GLib only, so the unit tests
 * (tests/unit/direct-map/) build it without QEMU.  Devices and backends
 * are opaque pointers handed back in the mapped ranges.
 */

#ifndef HW_CXL_DIRECT_MAP_EVAL_H
#define HW_CXL_DIRECT_MAP_EVAL_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

struct CXLType3Dev;
struct MemoryRegion;

/*
 * Why a range of a window is not direct-mapped.  Decisions are taken on
 * these; the text is made from them for QMP and HMP only (range_why()).
 */
typedef enum CXLDMReason {
    CXL_DM_MAPPED,
    CXL_DM_DISABLED,                /* cxl-direct-map=off */
    CXL_DM_WINDOW_INTERLEAVES,      /* @n host bridges */
    CXL_DM_NO_HOST_BRIDGE,
    CXL_DM_NO_ROOT_PORT,
    CXL_DM_NO_COMPONENT_REGS,
    CXL_DM_DECODER_UNCOMMITTED,     /* @who's decoder @decoder */
    CXL_DM_DECODER_INTERLEAVES,     /* ... @n ways */
    CXL_DM_DECODER_NO_PORT,         /* ... targets port @n */
    CXL_DM_NOT_DECODED,             /* no @who decoder covers it */
    CXL_DM_NO_DEVICE,               /* below port @who */
    CXL_DM_NO_DEVICE_OR_SWITCH,     /* below root port @who */
    CXL_DM_ENDPOINT_BAD_WAYS,       /* device @who's decoder @decoder */
    CXL_DM_ENDPOINT_INTERLEAVES,    /* ... @n ways */
    CXL_DM_ENDPOINT_NOT_DECODED,
    CXL_DM_BEYOND_CAPACITY,
    CXL_DM_DC_UNBACKED,
    /*
     * Not from the evaluation: an interleaved block whose device bytes
     * are reached from more than one address gets no set.
     */
    CXL_DM_ALIASED,
    CXL_DM_REASON__MAX,
} CXLDMReason;

/* One HDM decoder, as its registers say. */
typedef struct CXLDMDecoder {
    uint64_t base;
    uint64_t size;
    uint64_t skip;              /* DPA skip (endpoints only) */
    bool committed;
    int ways;                   /* 0: an encoding the spec does not define */
    int target;                 /* port number of target 0 */
} CXLDMDecoder;

/* The most decoders a component may have (CXL_HDM_DECODER_COUNT) */
#define CXL_DM_MAX_DECODERS     4
/* The most dynamic capacity regions of a device (DCD_MAX_NUM_REGION) */
#define CXL_DM_MAX_DC_REGIONS   8

typedef enum CXLDMNodeKind {
    /* Host bridge or switch upstream port: decoders route to ports */
    CXL_DM_NODE_SWITCH,
    /* Pass-through host bridge: its one root port, no decoders */
    CXL_DM_NODE_PASSTHROUGH,
    /* Type-3 device: decoders translate to DPA */
    CXL_DM_NODE_ENDPOINT,
} CXLDMNodeKind;

typedef struct CXLDMNode CXLDMNode;

typedef struct CXLDMPort {
    int number;                 /* the port number decoders target */
    const char *name;           /* its id, or NULL */
    CXLDMNode *below;           /* NULL: nothing CXL below it */
} CXLDMPort;

/* A dynamic capacity region: which of its blocks accepted extents back */
typedef struct CXLDMDCRegion {
    uint64_t base;              /* DPA */
    uint64_t len;
    uint64_t block_size;        /* 0: never backed */
    const unsigned long *backed; /* bitmap, one bit a block */
} CXLDMDCRegion;

struct CXLDMNode {
    CXLDMNodeKind kind;
    int ndecoders;
    CXLDMDecoder decoders[CXL_DM_MAX_DECODERS];
    int nports;                 /* SWITCH: any; PASSTHROUGH: 1 */
    CXLDMPort *ports;

    /* ENDPOINT */
    const char *name;           /* its id, or NULL */
    struct CXLType3Dev *device;
    struct MemoryRegion *vmem, *pmem, *dcmem;  /* NULL when absent */
    uint64_t vsize, psize, dcsize;
    int ndc;
    CXLDMDCRegion dc[CXL_DM_MAX_DC_REGIONS];
};

/* A fixed memory window and what decodes it */
typedef struct CXLDMDesc {
    uint64_t base;
    uint64_t size;
    bool enabled;               /* -M cxl-direct-map */
    int ways;                   /* host bridges the window interleaves */
    /*
     * The host bridge: SWITCH or PASSTHROUGH; NULL when the window's
     * one host bridge is unusable, @absent says why
     * (CXL_DM_NO_HOST_BRIDGE, _NO_ROOT_PORT, _NO_COMPONENT_REGS).
     */
    CXLDMNode *hb;
    CXLDMReason absent;
} CXLDMDesc;

typedef struct CXLDMRange {
    uint64_t start;             /* absolute host physical address */
    uint64_t end;               /* exclusive */
    struct CXLType3Dev *ct3d;   /* NULL unless mapped */
    struct MemoryRegion *target; /* backend region, NULL unless mapped */
    uint64_t target_offset;
    CXLDMReason reason;         /* CXL_DM_MAPPED when mapped */
    char *who;                  /* the device, port or level, or NULL */
    int decoder;
    int n;
} CXLDMRange;

/*
 * The ranges that tile the window @desc describes, sorted by address:
 * each mapped (ct3d, target, target_offset) or with the reason it is
 * not.  Free them with cxl_dm_ranges_free().
 */
GArray *cxl_dm_eval(const CXLDMDesc *desc);
/* Free @node, allocated with g_new0(), its ports and what is below them */
void cxl_dm_node_free(CXLDMNode *node);
void cxl_dm_ranges_free(GArray *ranges);
/* May an interleaved set (one RAM block in HPA order) back the range? */
bool cxl_dm_reason_interleaves(CXLDMReason reason);
/* Why @r keeps the software decode, in words (for QMP and HMP) */
char *cxl_dm_range_why(const CXLDMRange *r);

#endif
