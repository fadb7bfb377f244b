/*
 * qcxl: migrating a guest whose memory lives in pool regions
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_QCXL_POOL_MIGRATION_H
#define HW_MEM_QCXL_POOL_MIGRATION_H

/*
 * May this QEMU's pool memory be migrated now (x-ignore-shared is set,
 * no memory is half in DRAM, this host was not evicted)?
 */
bool qcxl_pool_migration_check(Error **errp);

/*
 * Load a "qcxl-pool-handoff" section's body from @f as a destination
 * does (for the fuzz target qcxl-mig-handoff); negative errno if refused.
 */
int qcxl_pool_migration_load_handoff(QEMUFile *f);

#endif
