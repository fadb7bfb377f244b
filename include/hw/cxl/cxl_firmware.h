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

#include "hw/cxl/cxl_perf.h"

/* Linux's E820_TYPE_SOFT_RESERVED: EFI_MEMORY_SP in an E820 table */
#define QCXL_E820_SOFT_RESERVED 0xefffffff

/* The "cxl-firmware" machine property. */
void cxl_firmware_machine_init(Object *machine);

/*
 * Lay the provisioned memory out (machine done, once the windows' host
 * bridges are linked) and arm the reset that commits it.
 */
void cxl_firmware_plan(CXLState *state, Error **errp);

/* A type-3 device goes away: later resets leave its range alone. */
void cxl_firmware_device_removed(DeviceState *dev);

/* The provisioned ranges, for the E820; TYPE is an E820 type. */
int cxl_firmware_num_ranges(void);
void cxl_firmware_range(int i, uint64_t *base, uint64_t *size,
                        uint32_t *type);

/*
 * The end-to-end figures firmware reports for window WINDOW (its index
 * in the machine's windows), from its slowest provisioned path; false if
 * nothing in it is provisioned.
 */
bool cxl_firmware_window_perf(int window, CXLPerf *p);

#endif
