/*
 * qcxl: firmware-provisioned CXL memory
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * What platform firmware does for CXL memory present at boot, done by the
 * machine: for each fixed memory window that targets one host bridge,
 * every volatile type-3 device below that host bridge (directly on a
 * root port, or on a switch's downstream port) gets the next range of
 * the window, 1-way.  At every reset the decoders along each path (host
 * bridge unless it is a pass-through, switch upstream port, device) are
 * programmed and committed, the devices' HDM decode and CXL.mem are
 * enabled, and the direct map picks the ranges up.  The ranges go in the
 * E820 (hw/i386/pc.c) as usable RAM or as soft-reserved (EFI_MEMORY_SP),
 * and the window's proximity domain gets HMAT figures from the path
 * (hw/cxl/qcxl-perf.c).
 *
 * Interleaving (several host bridges behind a window, or a region
 * spread over devices) is left to the OS.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/range.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "qapi/util.h"
#include "qapi/visitor.h"
#include "qom/object.h"
#include "exec/memory.h"
#include "hw/boards.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/qcxl_firmware.h"
#include "hw/cxl/cxl_host.h"
#include "hw/pci/pci_bridge.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_host.h"
#include "hw/pci/pcie_port.h"
#include "hw/pci-bridge/cxl_upstream_port.h"
#include "hw/qdev-properties.h"
#include "system/system.h"
#include "system/hostmem.h"
#include "system/reset.h"

/* hw/pci-bridge/cxl_root_port.c keeps its type name private */
#define TYPE_CXL_ROOT_PORT "cxl-rp"

typedef enum {
    FW_OFF,
    FW_RAM,
    FW_SOFT_RESERVED,
} FwMode;

static const QEnumLookup fw_mode_lookup = {
    .array = (const char *const[]) { "off", "ram", "soft-reserved" },
    .size = 3,
};

/* One provisioned range: a device's volatile capacity in a window */
typedef struct FwRange {
    uint64_t base, size;
    int window;
    CXLHost *hb;
    int hb_dec;             /* -1: pass-through host bridge */
    uint8_t rp_port;
    CXLUpstreamPort *usp;   /* NULL: device on the root port */
    int usp_dec;
    uint8_t dsp_port;
    CXLType3Dev *dev;
    CXLPerf path;           /* end-to-end figures */
} FwRange;

static struct {
    FwMode mode;
    GArray *ranges;
} fw;

static void machine_get_fw(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    int value = fw.mode;

    visit_type_enum(v, name, &value, &fw_mode_lookup, errp);
}

static void machine_set_fw_mode(int value)
{
    fw.mode = value;
    /*
     * Firmware programs the host bridge's own HDM decoders, and Linux
     * can only assemble a firmware-committed region through real ones:
     * give host bridges with one root port their decoders too (unless
     * the user says otherwise).
     */
    if (value != FW_OFF) {
        object_register_sugar_prop(TYPE_PXB_CXL_DEV, "hdm_for_passthrough",
                                   "on", true);
    }
}

/* An enum whose error lists the values (QEMU's generic one does not) */
static void machine_set_fw(Object *obj, Visitor *v, const char *name,
                           void *opaque, Error **errp)
{
    g_autofree char *s = NULL;
    g_autofree char *all = NULL;
    int value;

    if (!visit_type_str(v, name, &s, errp)) {
        return;
    }
    value = qapi_enum_parse(&fw_mode_lookup, s, -1, NULL);
    if (value < 0) {
        all = g_strjoinv(", ", (char **)fw_mode_lookup.array);
        error_setg(errp, "cxl-firmware=%s: not one of %s", s, all);
        return;
    }
    machine_set_fw_mode(value);
}

/* Provisioning needs CXL: refuse cxl-firmware= on a machine without it */
static void fw_machine_done(Notifier *n, void *opaque)
{
    if (fw.mode != FW_OFF &&
        !object_property_get_bool(qdev_get_machine(), "cxl", NULL)) {
        error_report("cxl-firmware=%s has no effect without cxl=on",
                     fw_mode_lookup.array[fw.mode]);
        exit(1);
    }
}

static Notifier fw_done_notifier = { .notify = fw_machine_done };

void cxl_firmware_machine_init(Object *machine)
{
    object_property_add(machine, "cxl-firmware", "CxlFirmwareMode",
                        machine_get_fw, machine_set_fw, NULL, NULL);
    qemu_add_machine_init_done_notifier(&fw_done_notifier);
    object_property_set_description(machine, "cxl-firmware",
        "Commit the CXL decoders at reset and describe the memory in the "
        "E820 as 'ram' or 'soft-reserved', as platform firmware does "
        "(default: off)");
}

/* ---- the path's figures ---- */

/*
 * A link's figures, computed as Linux computes them for a CXL region
 * (drivers/cxl: cxl_pci_get_bandwidth(), cxl_pci_get_latency()), so that
 * the HMAT of firmware-provisioned memory and the kernel's own sum for a
 * region on the same path agree:
 *
 * - bandwidth: lanes x GT/s / 8, per direction, without the line
 *   encoding (4000 MB/s a lane at 32 GT/s);
 * - latency: a 68-byte flit over the whole link (CXL Memory Device
 *   Software Guide 2.11.4: flit size / link bandwidth), rounded up to a
 *   whole ns: 2 ns at 32 GT/s x16, 5 ns at 16 GT/s x8.
 *
 * Linux 6.12 adds the flit time of one lane in picoseconds instead
 * (17000 at 32 GT/s); docs/cxl-performance.rst has both kernels' sums.
 */
static uint32_t gt_tenths(PCIExpLinkSpeed s)
{
    static const uint32_t gt10[] = {
        [QEMU_PCI_EXP_LNK_2_5GT] = 25, [QEMU_PCI_EXP_LNK_5GT] = 50,
        [QEMU_PCI_EXP_LNK_8GT] = 80, [QEMU_PCI_EXP_LNK_16GT] = 160,
        [QEMU_PCI_EXP_LNK_32GT] = 320, [QEMU_PCI_EXP_LNK_64GT] = 640,
    };

    return s < ARRAY_SIZE(gt10) && gt10[s] ? gt10[s] : 25;
}

static uint32_t link_mbs(PCIExpLinkSpeed s, PCIExpLinkWidth w)
{
    return gt_tenths(s) * 100 / 8 * MAX(w, 1);
}

static uint32_t link_latency_ns(PCIExpLinkSpeed s, PCIExpLinkWidth w)
{
    return DIV_ROUND_UP(68 * 8 * 10, gt_tenths(s) * MAX(w, 1));
}

/* Add a link between two ends to PATH: its latency, its bandwidth cap. */
static void add_link(CXLPerf *path, PCIExpLinkSpeed s1, PCIExpLinkWidth w1,
                     PCIExpLinkSpeed s2, PCIExpLinkWidth w2)
{
    PCIExpLinkSpeed s = MIN(s1, s2);
    PCIExpLinkWidth w = MIN(w1, w2);
    uint32_t bw = link_mbs(s, w);

    path->read_latency += link_latency_ns(s, w);
    path->write_latency += link_latency_ns(s, w);
    path->read_bandwidth = MIN(path->read_bandwidth, bw);
    path->write_bandwidth = MIN(path->write_bandwidth, bw);
}

static void add_component(CXLPerf *path, const CXLPerf *c)
{
    path->read_latency += c->read_latency;
    path->write_latency += c->write_latency;
    path->read_bandwidth = MIN(path->read_bandwidth, c->read_bandwidth);
    path->write_bandwidth = MIN(path->write_bandwidth, c->write_bandwidth);
}

/* ---- layout ---- */

typedef struct WindowPlan {
    CXLFixedWindow *win;
    int window;
    PXBCXLDev *pxb;
    uint64_t off;
    int hb_dec;
    GHashTable *used;
} WindowPlan;

static uint64_t volatile_size(CXLType3Dev *ct3d)
{
    if (!ct3d->hostvmem) {
        return 0;
    }
    return memory_region_size(host_memory_backend_get_memory(ct3d->hostvmem));
}

static void plan_device(WindowPlan *wp, CXLType3Dev *ct3d, PCIESlot *rp,
                        CXLUpstreamPort *usp, int usp_dec, PCIESlot *dsp)
{
    uint64_t size = volatile_size(ct3d);
    const char *id = DEVICE(ct3d)->id ?: "(no id)";
    CXLHost *host = wp->pxb->cxl_host_bridge;
    bool pass = cxl_get_hb_passthrough(PCI_HOST_BRIDGE(host));
    FwRange r = { 0 };

    if (!size || g_hash_table_contains(wp->used, ct3d)) {
        return;
    }
    if (pass && !wp->off) {
        warn_report("cxl-firmware: host bridge '%s' is a pass-through "
                    "(hdm_for_passthrough=off); Linux cannot assemble a "
                    "region committed through it",
                    DEVICE(wp->pxb)->id ?: "");
    }
    if (wp->off + size > wp->win->size) {
        warn_report("cxl-firmware: cxl-type3 '%s' (%" PRIu64 " MiB) does "
                    "not fit in what is left of window %d; not provisioned",
                    id, size / MiB, wp->window);
        return;
    }
    if ((!pass && wp->hb_dec >= CXL_HDM_DECODER_COUNT) ||
        usp_dec >= CXL_HDM_DECODER_COUNT) {
        warn_report("cxl-firmware: no HDM decoder left for cxl-type3 '%s'; "
                    "not provisioned", id);
        return;
    }

    r.base = wp->win->base + wp->off;
    r.size = size;
    r.window = wp->window;
    r.hb = host;
    r.hb_dec = pass ? -1 : wp->hb_dec++;
    r.rp_port = PCIE_PORT(rp)->port;
    r.usp = usp;
    r.usp_dec = usp_dec;
    r.dsp_port = dsp ? PCIE_PORT(dsp)->port : 0;
    r.dev = ct3d;

    /* CPUs -> host bridge -> link -> [switch -> link] -> media */
    r.path = (CXLPerf) { 0, 0, UINT32_MAX, UINT32_MAX };
    add_component(&r.path, &wp->pxb->host_perf);
    if (usp) {
        add_link(&r.path, rp->speed, rp->width, usp->speed, usp->width);
        add_component(&r.path, &usp->switch_perf);
        add_link(&r.path, dsp->speed, dsp->width, ct3d->speed, ct3d->width);
    } else {
        add_link(&r.path, rp->speed, rp->width, ct3d->speed, ct3d->width);
    }
    add_component(&r.path, &ct3d->media_perf);

    g_array_append_val(fw.ranges, r);
    g_hash_table_add(wp->used, ct3d);
    wp->off += size;
}

/* The device in slot 0 of a bridge's secondary bus, if it is of TYPE. */
static PCIDevice *below(PCIDevice *bridge, int devfn, const char *type)
{
    PCIDevice *d = PCI_BRIDGE(bridge)->sec_bus.devices[devfn];

    return d && object_dynamic_cast(OBJECT(d), type) ? d : NULL;
}

static void plan_window(WindowPlan *wp)
{
    PCIBus *bus = PCI_HOST_BRIDGE(wp->pxb->cxl_host_bridge)->bus;
    int devfn, dfn;

    for (devfn = 0; devfn < ARRAY_SIZE(bus->devices); devfn++) {
        PCIDevice *rp = bus->devices[devfn];
        PCIDevice *d;

        if (!rp || !object_dynamic_cast(OBJECT(rp), TYPE_CXL_ROOT_PORT)) {
            continue;
        }
        d = below(rp, 0, TYPE_CXL_TYPE3);
        if (d) {
            plan_device(wp, CXL_TYPE3(d), PCIE_SLOT(rp), NULL, 0, NULL);
            continue;
        }
        d = below(rp, 0, TYPE_CXL_USP);
        if (d) {
            CXLUpstreamPort *usp = CXL_USP(d);
            int usp_dec = 0;

            for (dfn = 0; dfn < PCI_DEVFN_MAX; dfn++) {
                PCIDevice *dsp = below(d, dfn, TYPE_CXL_DSP);
                PCIDevice *t3 = dsp ? below(dsp, 0, TYPE_CXL_TYPE3) : NULL;
                guint before = fw.ranges->len;

                if (t3) {
                    plan_device(wp, CXL_TYPE3(t3), PCIE_SLOT(rp), usp,
                                usp_dec, PCIE_SLOT(dsp));
                    usp_dec += fw.ranges->len > before;
                }
            }
        }
    }
}

static void fw_reset(void *opaque);

/*
 * The end-to-end figures firmware reports for window @window, from its
 * slowest provisioned path; false if nothing in it is provisioned.
 */
static bool window_perf(int window, CXLPerf *p)
{
    bool found = false;

    for (int i = 0; i < fw.ranges->len; i++) {
        FwRange *r = &g_array_index(fw.ranges, FwRange, i);

        if (r->window != window) {
            continue;
        }
        if (!found) {
            *p = r->path;
            found = true;
            continue;
        }
        p->read_latency = MAX(p->read_latency, r->path.read_latency);
        p->write_latency = MAX(p->write_latency, r->path.write_latency);
        p->read_bandwidth = MIN(p->read_bandwidth, r->path.read_bandwidth);
        p->write_bandwidth = MIN(p->write_bandwidth, r->path.write_bandwidth);
    }
    return found;
}

void cxl_firmware_plan(CXLState *state, CxlFirmwareAddRange add_range,
                       Error **errp)
{
    g_autoptr(GHashTable) used = g_hash_table_new(NULL, NULL);
    GList *l;
    int w = 0;

    if (fw.mode == FW_OFF) {
        return;
    }
    if (!cxl_perf_enabled()) {
        error_setg(errp, "cxl-firmware=%s needs cxl-perf=on: the SRAT and "
                   "HMAT entries that describe the memory come from it",
                   fw_mode_lookup.array[fw.mode]);
        return;
    }
    fw.ranges = g_array_new(false, true, sizeof(FwRange));
    for (l = state->fixed_windows; l; l = l->next, w++) {
        CXLFixedWindow *win = l->data;
        WindowPlan wp = {
            .win = win, .window = w, .pxb = win->target_hbs[0],
            .used = used,
        };

        if (win->num_targets != 1) {
            warn_report("cxl-firmware: window %d interleaves %d host "
                        "bridges; left to the OS", w, win->num_targets);
            continue;
        }
        plan_window(&wp);
    }
    if (!fw.ranges->len) {
        error_setg(errp, "cxl-firmware=%s: no fixed memory window has a "
                   "volatile cxl-type3 device to provision (it needs a "
                   "window with one host bridge target, and the device "
                   "on a root port or switch below it)",
                   fw_mode_lookup.array[fw.mode]);
        return;
    }
    for (int i = 0; i < w; i++) {
        CXLPerf p;

        if (window_perf(i, &p)) {
            cxl_perf_set_window(i, &p);
        }
    }
    for (int i = 0; i < fw.ranges->len; i++) {
        FwRange *r = &g_array_index(fw.ranges, FwRange, i);

        add_range(r->base, r->size, fw.mode == FW_RAM ?
                  1 /* E820_RAM */ : QCXL_E820_SOFT_RESERVED);
    }
    qemu_register_reset(fw_reset, NULL);
}

void cxl_firmware_device_removed(DeviceState *dev)
{
    guint i = 0;

    while (fw.ranges && i < fw.ranges->len) {
        if (DEVICE(g_array_index(fw.ranges, FwRange, i).dev) == dev) {
            g_array_remove_index(fw.ranges, i);
        } else {
            i++;
        }
    }
}

/* ---- the reset: commit the decoders as firmware would ---- */

static void cm_write(CXLComponentState *c, hwaddr off, uint32_t val)
{
    memory_region_dispatch_write(&c->crb.cache_mem, off, val, MO_LEUL,
                                 MEMTXATTRS_UNSPECIFIED);
}

/*
 * Decoder N of component C: BASE/SIZE, 1-way, host-only coherent,
 * committed.  TL_OR_SKIP: the target list (ports) or the DPA skip.
 */
static void commit_decoder(CXLComponentState *c, int n, uint64_t base,
                           uint64_t size, uint64_t tl_or_skip)
{
    hwaddr d = n * 0x20;
    uint32_t ctrl = 0;

    cm_write(c, A_CXL_HDM_DECODER_GLOBAL_CONTROL,
             R_CXL_HDM_DECODER_GLOBAL_CONTROL_HDM_DECODER_ENABLE_MASK);
    cm_write(c, A_CXL_HDM_DECODER0_BASE_LO + d, base);
    cm_write(c, A_CXL_HDM_DECODER0_BASE_HI + d, base >> 32);
    cm_write(c, A_CXL_HDM_DECODER0_SIZE_LO + d, size);
    cm_write(c, A_CXL_HDM_DECODER0_SIZE_HI + d, size >> 32);
    cm_write(c, A_CXL_HDM_DECODER0_TARGET_LIST_LO + d, tl_or_skip);
    cm_write(c, A_CXL_HDM_DECODER0_TARGET_LIST_HI + d, tl_or_skip >> 32);
    ctrl = FIELD_DP32(ctrl, CXL_HDM_DECODER0_CTRL, TYPE, 1);
    ctrl = FIELD_DP32(ctrl, CXL_HDM_DECODER0_CTRL, COMMIT, 1);
    cm_write(c, A_CXL_HDM_DECODER0_CTRL + d, ctrl);
}

/* CXL r3.1 8.1.3.2 DVSEC CXL Control: Mem_Enable */
static void enable_mem(CXLType3Dev *ct3d)
{
    PCIDevice *pd = PCI_DEVICE(ct3d);
    uint32_t off = range_lob(&ct3d->cxl_cstate.dvsecs[PCIE_CXL_DEVICE_DVSEC]) +
                   offsetof(CXLDVSECDevice, ctrl);

    pci_host_config_write_common(pd, off, pci_config_size(pd),
                                 pci_get_word(pd->config + off) | BIT(2), 2);
}

static void fw_reset(void *opaque)
{
    guint i;

    for (i = 0; i < fw.ranges->len; i++) {
        FwRange *r = &g_array_index(fw.ranges, FwRange, i);

        if (r->hb_dec >= 0) {
            commit_decoder(&r->hb->cxl_cstate, r->hb_dec, r->base, r->size,
                           r->rp_port);
        }
        if (r->usp) {
            commit_decoder(&r->usp->cxl_cstate, r->usp_dec, r->base, r->size,
                           r->dsp_port);
        }
        commit_decoder(&r->dev->cxl_cstate, 0, r->base, r->size, 0);
        enable_mem(r->dev);
    }
}
