/*
 * qcxl: this process as a host of a shared pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A QcxlPoolMember is the membership of this QEMU in one pool as one
 * host: it joined, it heartbeats from a thread of its own, and it
 * watches the other hosts' heartbeats.  There is one per (pool, host)
 * in a process, shared by reference; the last reference leaves the
 * pool, and at exit every membership leaves.  If the pool evicts this
 * host, the membership is fenced: the guest is stopped, and nothing
 * done through it reaches the pool's bookkeeping any more.
 *
 * Used under the BQL, except the heartbeat thread, which owns the
 * lease watch behind qcxl_pool_member_lease_expired().
 */

#ifndef HW_MEM_QCXL_POOL_MEMBER_H
#define HW_MEM_QCXL_POOL_MEMBER_H

#include "hw/mem/qcxl_pool.h"

typedef struct QcxlPoolMember QcxlPoolMember;

/*
 * The membership of pool @path as host @host, joining (and registering
 * the host in the pool if @create) when this process has none: a new
 * reference, or NULL with @errp set.
 */
QcxlPoolMember *qcxl_pool_member_get(const char *path, const char *host,
                                 bool create, Error **errp);
/*
 * The membership named by @pool and @host (either may be NULL when this
 * process has only one that fits), not fenced: a new reference, or NULL
 * with @errp set.
 */
QcxlPoolMember *qcxl_pool_member_find(const char *pool, const char *host,
                                  Error **errp);
QcxlPoolMember *qcxl_pool_member_ref(QcxlPoolMember *h);
void qcxl_pool_member_unref(QcxlPoolMember *h);
/* Did joining add the host to the pool (create-host=on, a new name)? */
bool qcxl_pool_member_created(const QcxlPoolMember *h);
/*
 * The start that holds the only reference to @h failed: if joining
 * added the host, the unref that follows removes it again, so that a
 * mistyped host= leaves nothing behind.
 */
void qcxl_pool_member_abandon(QcxlPoolMember *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QcxlPoolMember, qcxl_pool_member_unref)

/* Every membership of this process, oldest first (for queries) */
GList *qcxl_pool_members(void);

QcxlPool *qcxl_pool_member_pool(QcxlPoolMember *h);
const char *qcxl_pool_member_path(QcxlPoolMember *h);
const char *qcxl_pool_member_name(QcxlPoolMember *h);
int qcxl_pool_member_slot(QcxlPoolMember *h);
uint64_t qcxl_pool_member_incarnation(QcxlPoolMember *h);
/* Was this host evicted while this process acted for it? */
bool qcxl_pool_member_fenced(QcxlPoolMember *h);
/* Does this membership's pool have UUID @uuid (16 bytes)? */
bool qcxl_pool_member_same_pool(QcxlPoolMember *h, const uint8_t *uuid);
/*
 * Has this process seen host (@slot, @incarnation)'s heartbeat stand
 * still for a whole lease?
 */
bool qcxl_pool_member_lease_expired(QcxlPoolMember *h, int slot,
                                  uint64_t incarnation);

#endif
