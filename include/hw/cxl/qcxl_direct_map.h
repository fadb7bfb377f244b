/*
 * qcxl: direct mapping of CXL type-3 memory into fixed memory windows
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef HW_CXL_DIRECT_MAP_H
#define HW_CXL_DIRECT_MAP_H

#include "hw/cxl/cxl.h"
#include "qapi/qapi-types-qcxl.h"

/*
 * Wherever the committed HDM decoders make a range of a fixed memory
 * window map linearly onto one device's DPA range (no interleaving at
 * the window, the host bridge, a switch or the endpoint), that range of
 * the device's memory backend is mapped straight into the window with a
 * MemoryRegion alias.  The flat view then holds RAM there, so TCG
 * accesses it at RAM speed and KVM gets a memslot.  Interleaved volatile
 * sets on private backends are backed by one RAM block in host-physical
 * order instead (see docs/devel/direct-map.rst).  Everything else keeps
 * upstream's software decode (the window's I/O callbacks).
 *
 * The mapping is a pure function of the decoder registers: it is
 * recomputed after every HDM decoder register write, at reset, when a
 * type-3 device goes away and when the VM starts running (so it is
 * rebuilt after loadvm and incoming migration).
 */

/* Called once the machine's fixed memory windows exist. */
void cxl_direct_map_init(CXLState *state);

/* Adds the machine property "cxl-direct-map" (bool, default on). */
void cxl_direct_map_machine_init(Object *obj);

/* Re-evaluate every window after a decoder change. */
void cxl_direct_map_update(void);

/* Re-evaluate as if @dev (a type-3 device being removed) were gone. */
void cxl_direct_map_device_removed(DeviceState *dev);

/*
 * A mailbox command with effects @effect (CXL_MBOX_* bits of its CEL
 * entry) is about to run on @dev: if it changes the media or runs in the
 * background, the device's data held in an interleaved set goes back on
 * the media first.
 */
void cxl_direct_map_mailbox(DeviceState *dev, uint16_t effect);

/*
 * The pages behind backend memory @mr are being moved (@moving: a pool
 * job moves them between DRAM and a pool region, or the pool fenced
 * this host) or have stopped moving.  While they move, no interleaved
 * set holds them: sets holding them now are taken down first (a copy's
 * bytes back on @mr), and builds leave them to the software decode.
 */
void cxl_direct_map_backend_moving(MemoryRegion *mr, bool moving);

/*
 * An HA protection (migration/qcxl-ha.c) starts or ends.  It saves the
 * VM's RAM and device state every epoch, and a set's copy is RAM that
 * is not saved: while @on, sets are taken down (their bytes back on the
 * media, now) and none is built, as during a migration.
 */
void cxl_direct_map_protected(bool on);

/*
 * What is mapped now, window by window, as query-cxl-direct-map returns
 * it (the decoders are evaluated first); NULL with @errp set on a machine
 * without CXL fixed memory windows.
 */
CxlWindowDirectMapList *cxl_direct_map_query(Error **errp);

/* Upstream's per-address software decode (exported by patches/0010). */
PCIDevice *cxl_cfmws_find_device(CXLFixedWindow *fw, hwaddr addr);
int cxl_type3_hpa_to_as_and_dpa(CXLType3Dev *ct3d, hwaddr host_addr,
                                unsigned int size, AddressSpace **as,
                                uint64_t *dpa_offset);

#endif
