/*
 * qcxl: firmware-provisioned CXL memory when CXL is not built
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "hw/cxl/qcxl_firmware.h"

void cxl_firmware_plan(CXLState *state, CxlFirmwareAddRange add_range,
                       Error **errp)
{
}
