/*
 * qcxl: a fixed memory window's committed decode, read from the machine
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Reads what the evaluation (qcxl-direct-map-eval.c) works on: the HDM
 * decoder registers of the window's host bridge, of a switch's upstream
 * port and of the type-3 devices, the ports they target, the devices'
 * backends and dynamic capacity.  Register encodings are decoded here;
 * the rules of the decode live in the evaluation.  Reads only.
 */

#include "qemu/osdep.h"
#include "hw/cxl/cxl.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pcie_port.h"
#include "hw/pci-bridge/pci_expander_bridge.h"
#include "system/hostmem.h"
#include "qcxl-direct-map-describe.h"

QEMU_BUILD_BUG_ON(CXL_DM_MAX_DECODERS != CXL_HDM_DECODER_COUNT);
QEMU_BUILD_BUG_ON(CXL_DM_MAX_DC_REGIONS != DCD_MAX_NUM_REGION);

static void read_decoders(uint32_t *cache_mem, CXLDMNode *node)
{
    int inc = R_CXL_HDM_DECODER1_BASE_LO - R_CXL_HDM_DECODER0_BASE_LO;
    uint32_t cap = ldl_le_p(cache_mem + R_CXL_HDM_DECODER_CAPABILITY);
    int i, n = cxl_decoder_count_dec(FIELD_EX32(cap, CXL_HDM_DECODER_CAPABILITY,
                                                DECODER_COUNT));

    /* The register block only has room for CXL_HDM_DECODER_COUNT. */
    node->ndecoders = MIN(n, CXL_DM_MAX_DECODERS);
    for (i = 0; i < node->ndecoders; i++) {
        uint32_t *r = cache_mem + i * inc;
        uint32_t ctrl = ldl_le_p(r + R_CXL_HDM_DECODER0_CTRL);
        CXLDMDecoder *d = &node->decoders[i];

        d->base = ((uint64_t)ldl_le_p(r + R_CXL_HDM_DECODER0_BASE_HI) << 32) |
                  (ldl_le_p(r + R_CXL_HDM_DECODER0_BASE_LO) & 0xf0000000);
        d->size = ((uint64_t)ldl_le_p(r + R_CXL_HDM_DECODER0_SIZE_HI) << 32) |
                  (ldl_le_p(r + R_CXL_HDM_DECODER0_SIZE_LO) & 0xf0000000);
        d->skip = ((uint64_t)ldl_le_p(r + R_CXL_HDM_DECODER0_DPA_SKIP_HI)
                   << 32) |
                  (ldl_le_p(r + R_CXL_HDM_DECODER0_DPA_SKIP_LO) & 0xf0000000);
        d->committed = FIELD_EX32(ctrl, CXL_HDM_DECODER0_CTRL, COMMITTED);
        /* 0 for an encoding the spec does not define. */
        d->ways = cxl_interleave_ways_dec(FIELD_EX32(ctrl,
                                                     CXL_HDM_DECODER0_CTRL,
                                                     IW), NULL);
        d->target = extract32(ldl_le_p(r + R_CXL_HDM_DECODER0_TARGET_LIST_LO),
                              0, 8);
    }
}

static CXLDMNode *describe_endpoint(CXLType3Dev *ct3d)
{
    CXLDMNode *ep = g_new0(CXLDMNode, 1);
    int i;

    ep->kind = CXL_DM_NODE_ENDPOINT;
    read_decoders(ct3d->cxl_cstate.crb.cache_mem_registers, ep);
    ep->name = DEVICE(ct3d)->id;
    ep->device = ct3d;
    if (ct3d->hostvmem) {
        ep->vmem = host_memory_backend_get_memory(ct3d->hostvmem);
        ep->vsize = memory_region_size(ep->vmem);
    }
    if (ct3d->hostpmem) {
        ep->pmem = host_memory_backend_get_memory(ct3d->hostpmem);
        ep->psize = memory_region_size(ep->pmem);
    }
    if (ct3d->dc.host_dc) {
        ep->dcmem = host_memory_backend_get_memory(ct3d->dc.host_dc);
        ep->dcsize = memory_region_size(ep->dcmem);
    }
    ep->ndc = MIN(ct3d->dc.num_regions, CXL_DM_MAX_DC_REGIONS);
    for (i = 0; i < ep->ndc; i++) {
        CXLDCRegion *r = &ct3d->dc.regions[i];

        ep->dc[i] = (CXLDMDCRegion) {
            .base = r->base, .len = r->len, .block_size = r->block_size,
            .backed = r->blk_bitmap,
        };
    }
    return ep;
}

/* The device below downstream or root port @port, unless it is leaving */
static PCIDevice *device_below(const CXLDMEval *ev, PCIDevice *port)
{
    PCIDevice *d = pci_bridge_get_sec_bus(PCI_BRIDGE(port))->devices[0];

    if (d && ev->removing && DEVICE(d) == ev->removing) {
        return NULL;
    }
    return d;
}

typedef CXLDMNode *(*DescribeFn)(const CXLDMEval *ev, PCIDevice *d);

/* Below a switch's downstream port: only a type-3 device counts */
static CXLDMNode *describe_below_dsp(const CXLDMEval *ev, PCIDevice *d)
{
    if (d && object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        return describe_endpoint(CXL_TYPE3(d));
    }
    return NULL;
}

static CXLDMNode *describe_switching(const CXLDMEval *ev, uint32_t *cache_mem,
                                     PCIBus *bus, DescribeFn below);

/* Below a root port: a type-3 device or a switch */
static CXLDMNode *describe_below_rp(const CXLDMEval *ev, PCIDevice *d)
{
    CXLComponentState *cs;

    if (d && object_dynamic_cast(OBJECT(d), TYPE_CXL_TYPE3)) {
        return describe_endpoint(CXL_TYPE3(d));
    }
    if (!d || !object_dynamic_cast(OBJECT(d), TYPE_CXL_USP)) {
        return NULL;
    }
    cs = cxl_usp_to_cstate(CXL_USP(d));
    if (!cs) {
        return NULL;
    }
    return describe_switching(ev, cs->crb.cache_mem_registers,
                              &PCI_BRIDGE(d)->sec_bus, describe_below_dsp);
}

/*
 * A host bridge or upstream port: its decoders and the ports they may
 * target (those a decoder names, looked up as the software decode does).
 */
static CXLDMNode *describe_switching(const CXLDMEval *ev, uint32_t *cache_mem,
                                     PCIBus *bus, DescribeFn below)
{
    CXLDMNode *node = g_new0(CXLDMNode, 1);
    int i, j;

    node->kind = CXL_DM_NODE_SWITCH;
    read_decoders(cache_mem, node);
    node->ports = g_new0(CXLDMPort, node->ndecoders);
    for (i = 0; i < node->ndecoders; i++) {
        int pn = node->decoders[i].target;
        PCIDevice *port = pcie_find_port_by_pn(bus, pn);

        for (j = 0; j < node->nports && node->ports[j].number != pn; j++) {
            /* already described */
        }
        if (!port || j < node->nports) {
            continue;
        }
        node->ports[node->nports++] = (CXLDMPort) {
            .number = pn,
            .name = DEVICE(port)->id,
            .below = below(ev, device_below(ev, port)),
        };
    }
    return node;
}

static void describe_window(const CXLDMEval *ev, CXLFixedWindow *fw,
                            CXLDMDesc *desc)
{
    PCIHostState *hb;
    CXLComponentState *cs;

    *desc = (CXLDMDesc) {
        .base = fw->base, .size = fw->size, .enabled = ev->enabled,
        .ways = fw->num_targets,
    };
    if (!ev->enabled || fw->num_targets != 1) {
        return;
    }
    hb = fw->target_hbs[0] ?
        PCI_HOST_BRIDGE(fw->target_hbs[0]->cxl_host_bridge) : NULL;
    if (!hb || !hb->bus || !pci_bus_is_cxl(hb->bus)) {
        desc->absent = CXL_DM_NO_HOST_BRIDGE;
        return;
    }
    if (cxl_get_hb_passthrough(hb)) {
        PCIDevice *rp = pcie_find_port_first(hb->bus);

        if (!rp) {
            desc->absent = CXL_DM_NO_ROOT_PORT;
            return;
        }
        desc->hb = g_new0(CXLDMNode, 1);
        desc->hb->kind = CXL_DM_NODE_PASSTHROUGH;
        desc->hb->nports = 1;
        desc->hb->ports = g_new0(CXLDMPort, 1);
        desc->hb->ports[0] = (CXLDMPort) {
            .number = PCIE_PORT(rp)->port,
            .name = DEVICE(rp)->id,
            .below = describe_below_rp(ev, device_below(ev, rp)),
        };
        return;
    }
    cs = cxl_get_hb_cstate(hb);
    if (!cs) {
        desc->absent = CXL_DM_NO_COMPONENT_REGS;
        return;
    }
    desc->hb = describe_switching(ev, cs->crb.cache_mem_registers, hb->bus,
                                  describe_below_rp);
}

GArray *cxl_dm_eval_window(const CXLDMEval *ev, CXLFixedWindow *fw)
{
    CXLDMDesc desc;
    GArray *ranges;

    describe_window(ev, fw, &desc);
    ranges = cxl_dm_eval(&desc);
    cxl_dm_node_free(desc.hb);
    return ranges;
}
