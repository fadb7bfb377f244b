/*
 * qcxl: migration state of CXL type-3 devices and CXL host bridges
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CXL_VMSTATE_H
#define HW_CXL_VMSTATE_H

#include "migration/vmstate.h"
#include "hw/cxl/cxl_device.h"
#include "hw/pci/pci_device.h"
#include "hw/pci/pcie_aer.h"

extern const VMStateDescription vmstate_cxl_type3;
extern const VMStateDescription vmstate_cxl_host;
extern const VMStateDescription vmstate_cxl_component_registers;

/* The io and cache_mem registers of a CXLComponentState's block. */
#define VMSTATE_CXL_COMPONENT_REGISTERS(_field, _state)                   \
    VMSTATE_STRUCT(_field.crb, _state, 1, vmstate_cxl_component_registers, \
                   ComponentRegisters)

/*
 * The fields of a CXL port (root port, switch upstream or downstream
 * port) of type @_state: its PCI device at member path @_pci, that PCIe
 * port's AER log, and its component registers at @_cstate.
 */
#define VMSTATE_CXL_PORT(_state, _pci, _cstate)                           \
    VMSTATE_PCI_DEVICE(_pci, _state),                                     \
    VMSTATE_STRUCT(_pci.exp.aer_log, _state, 0, vmstate_pcie_aer_log,     \
                   PCIEAERLog),                                           \
    VMSTATE_CXL_COMPONENT_REGISTERS(_cstate, _state)

/* Register (or unregister) a type-3 device's backends' RAM for migration. */
void cxl_type3_register_ram(CXLType3Dev *ct3d, bool reg);

/* The post_load that re-evaluates the direct map. */
int cxl_vmstate_post_load(void *opaque, int version_id);

#endif
