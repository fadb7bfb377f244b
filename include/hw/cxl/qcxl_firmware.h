/*
 * qcxl: firmware-provisioned CXL memory
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * With -M cxl-firmware=ram or =soft-reserved the machine behaves like
 * platform firmware that set up its CXL memory before the OS: at every
 * reset it commits the HDM decoders from each fixed memory window down to
 * the volatile type-3 devices below it, and it describes that memory in
 * the E820 (usable RAM, or soft-reserved as EFI_MEMORY_SP), the SRAT and
 * the HMAT.  See docs/cxl-performance.rst.
 */

#ifndef HW_CXL_CXL_FIRMWARE_H
#define HW_CXL_CXL_FIRMWARE_H

#include "hw/cxl/qcxl_perf.h"

/* Linux's E820_TYPE_SOFT_RESERVED: EFI_MEMORY_SP in an E820 table */
#define QCXL_E820_SOFT_RESERVED 0xefffffff

/* The "cxl-firmware" machine property (hw/cxl/cxl-host.c). */
void cxl_firmware_machine_init(Object *machine);

/* Adds a provisioned range to the memory map; TYPE is an E820 type */
typedef void (*CxlFirmwareAddRange)(uint64_t base, uint64_t size,
                                    uint32_t type);

/*
 * Lay the provisioned memory out (machine done, once the windows' host
 * bridges are linked), report each range to @add_range (the machine's
 * E820) and each window's figures to the performance model, and arm the
 * reset that commits it.
 */
void cxl_firmware_plan(CXLState *state, CxlFirmwareAddRange add_range,
                       Error **errp);

/* A type-3 device goes away: later resets leave its range alone. */
void cxl_firmware_device_removed(DeviceState *dev);

#endif
