/*
 * qcxl: moving guest RAM between local DRAM and a pool region, live
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_MEM_QCXL_POOL_STAGE_H
#define HW_MEM_QCXL_POOL_STAGE_H

#include "system/hostmem.h"

#define QCXL_POOL_MOVE_CHUNK_DEFAULT  (32 * MiB)
#define QCXL_POOL_MOVE_CHUNK_MAX      (1 * GiB)

/*
 * Start job @job_id, which moves the memory of @backend (private
 * anonymous memory) into region @region of the pool this QEMU is
 * member of as (@pool, @host): joining it if both are given, else an
 * existing membership that fits.  The memory is copied while the
 * guest runs, @chunk bytes at a time and at most @speed bytes per
 * second (0: no limit), and switched in one pause.  Refused while
 * another live copy runs (a job, or HA protection).
 */
bool qcxl_pool_stage_start(const char *job_id, HostMemoryBackend *backend,
                           const char *region, const char *pool,
                           const char *host, uint64_t chunk, uint64_t speed,
                           Error **errp);
/*
 * Start job @job_id, which moves @backend's pool memory into DRAM, the
 * same way
 */
bool qcxl_pool_pull_start(const char *job_id, HostMemoryBackend *backend,
                          uint64_t chunk, uint64_t speed, Error **errp);

#endif
