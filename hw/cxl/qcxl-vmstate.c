/*
 * qcxl: migration state of CXL type-3 devices and CXL host bridges
 *
 * Upstream QEMU 10.0 migrates nothing of a cxl-type3 device, of a CXL
 * root port or switch port (they have no VMState at all, not even their
 * PCI configuration) or of a CXL host bridge's component registers, so
 * after savevm/loadvm or live migration the guest finds its bridges and
 * BARs unprogrammed and its HDM decoders uncommitted.  The ports' VMState
 * lives in their own files (patches/0008) and uses the component
 * register description below.  Here they get VMState: PCI configuration,
 * MSI-X and AER state, the component registers (HDM decoders and RAS),
 * the device status, capability and mailbox registers, the memory
 * device status, the timestamp and the event logs' interrupt settings.
 * The media, the LSA and the dynamic-capacity backend are memory
 * backends and migrate as RAM once registered (cxl_type3_register_ram(),
 * which upstream lacked too).  The direct map is rebuilt from the
 * decoders when the VM runs.
 *
 * State that is not migrated makes migration fail, with a message,
 * rather than be lost silently: queued event records, an injected poison
 * list, accepted or pending dynamic-capacity extents, and a background
 * mailbox command still running.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/timer.h"
#include "hw/cxl/cxl.h"
#include "hw/cxl/qcxl_vmstate.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "hw/pci/msix.h"
#include "hw/pci/pcie_aer.h"
#include "migration/vmstate.h"
#include "system/hostmem.h"

const VMStateDescription vmstate_cxl_component_registers = {
    .name = "cxl-component-registers",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT32_ARRAY(io_registers, ComponentRegisters,
                             CXL2_COMPONENT_IO_REGION_SIZE >> 2),
        VMSTATE_UINT32_ARRAY(cache_mem_registers, ComponentRegisters,
                             CXL2_COMPONENT_CM_REGION_SIZE >> 2),
        VMSTATE_END_OF_LIST()
    }
};

static const VMStateDescription vmstate_cxl_event_log = {
    .name = "cxl-event-log",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (const VMStateField[]) {
        VMSTATE_UINT16(next_handle, CXLEventLog),
        VMSTATE_UINT16(overflow_err_count, CXLEventLog),
        VMSTATE_UINT64(first_overflow_timestamp, CXLEventLog),
        VMSTATE_UINT64(last_overflow_timestamp, CXLEventLog),
        VMSTATE_BOOL(irq_enabled, CXLEventLog),
        VMSTATE_INT32(irq_vec, CXLEventLog),
        VMSTATE_END_OF_LIST()
    }
};

static const char *ct3_unmigratable_state(CXLType3Dev *ct3d)
{
    int i;

    for (i = 0; i < CXL_EVENT_TYPE_MAX; i++) {
        if (!QSIMPLEQ_EMPTY(&ct3d->cxl_dstate.event_logs[i].events)) {
            return "event records are queued";
        }
    }
    if (!QLIST_EMPTY(&ct3d->poison_list) ||
        !QLIST_EMPTY(&ct3d->poison_list_bkp)) {
        return "poison has been injected";
    }
    if (!QTAILQ_EMPTY(&ct3d->dc.extents) ||
        !QTAILQ_EMPTY(&ct3d->dc.extents_pending)) {
        return "dynamic-capacity extents are allocated";
    }
    if (ct3d->cci.bg.timer && timer_pending(ct3d->cci.bg.timer)) {
        return "a background mailbox command is running";
    }
    return NULL;
}

static int ct3_pre_save(void *opaque)
{
    CXLType3Dev *ct3d = opaque;
    const char *why = ct3_unmigratable_state(ct3d);

    if (why) {
        error_report("%s: cannot migrate this CXL type-3 device: %s "
                     "(qcxl does not migrate that state)",
                     DEVICE(ct3d)->id ?: object_get_typename(OBJECT(ct3d)),
                     why);
        return -EBUSY;
    }
    return 0;
}

/*
 * The direct map is a function of decoder state spread over several
 * devices; re-evaluate whenever one of them has loaded (the last load
 * gives the final answer, and the VM start re-checks it).
 */
int cxl_vmstate_post_load(void *opaque, int version_id)
{
    cxl_direct_map_update();
    return 0;
}

const VMStateDescription vmstate_cxl_type3 = {
    .name = "cxl-type3",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = ct3_pre_save,
    .post_load = cxl_vmstate_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_PCI_DEVICE(parent_obj, CXLType3Dev),
        VMSTATE_MSIX(parent_obj, CXLType3Dev),
        VMSTATE_STRUCT(parent_obj.exp.aer_log, CXLType3Dev, 0,
                       vmstate_pcie_aer_log, PCIEAERLog),
        VMSTATE_CXL_COMPONENT_REGISTERS(cxl_cstate, CXLType3Dev),
        VMSTATE_UINT8_ARRAY(cxl_dstate.dev_reg_state, CXLType3Dev,
                            CXL_DEVICE_STATUS_REGISTERS_LENGTH),
        VMSTATE_UINT64(cxl_dstate.event_status, CXLType3Dev),
        VMSTATE_UINT32_ARRAY(cxl_dstate.caps_reg_state32, CXLType3Dev,
                             CXL_CAPS_SIZE / 4),
        VMSTATE_UINT8_ARRAY(cxl_dstate.mbox_reg_state, CXLType3Dev,
                            CXL_MAILBOX_REGISTERS_LENGTH),
        VMSTATE_UINT64(cxl_dstate.memdev_status, CXLType3Dev),
        VMSTATE_BOOL(cxl_dstate.timestamp.set, CXLType3Dev),
        VMSTATE_UINT64(cxl_dstate.timestamp.last_set, CXLType3Dev),
        VMSTATE_UINT64(cxl_dstate.timestamp.host_set, CXLType3Dev),
        VMSTATE_STRUCT_ARRAY(cxl_dstate.event_logs, CXLType3Dev,
                             CXL_EVENT_TYPE_MAX, 1, vmstate_cxl_event_log,
                             CXLEventLog),
        VMSTATE_END_OF_LIST()
    }
};

/*
 * The device's media, LSA and dynamic-capacity backends are RAM blocks,
 * but RAM only migrates when its user registers it, as pc-dimm and NUMA
 * nodes do.  Upstream cxl-type3 never did, so the media's contents were
 * silently left behind.
 */
void cxl_type3_register_ram(CXLType3Dev *ct3d, bool reg)
{
    HostMemoryBackend *b[] = {
        ct3d->hostvmem, ct3d->hostpmem, ct3d->lsa, ct3d->dc.host_dc,
    };
    int i;

    for (i = 0; i < ARRAY_SIZE(b); i++) {
        MemoryRegion *mr;

        if (!b[i]) {
            continue;
        }
        mr = host_memory_backend_get_memory(b[i]);
        if (reg) {
            vmstate_register_ram(mr, DEVICE(ct3d));
        } else {
            vmstate_unregister_ram(mr, DEVICE(ct3d));
        }
    }
}

const VMStateDescription vmstate_cxl_host = {
    .name = "pxb-cxl-host",
    .version_id = 1,
    .minimum_version_id = 1,
    .post_load = cxl_vmstate_post_load,
    .fields = (const VMStateField[]) {
        VMSTATE_CXL_COMPONENT_REGISTERS(cxl_cstate, CXLHost),
        VMSTATE_BOOL(passthrough, CXLHost),
        VMSTATE_END_OF_LIST()
    }
};
