/*
 * qcxl: memory-backend-qcxl-pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_QCXL_POOL_BACKEND_H
#define HW_MEM_QCXL_POOL_BACKEND_H

#include "system/hostmem.h"

#define TYPE_MEMORY_BACKEND_QCXL_POOL "memory-backend-qcxl-pool"
OBJECT_DECLARE_SIMPLE_TYPE(QcxlPoolBackend, MEMORY_BACKEND_QCXL_POOL)

#endif
