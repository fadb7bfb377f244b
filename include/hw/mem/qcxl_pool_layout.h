/*
 * qcxl: the on-media layout of a shared pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every byte position the pool library reads and writes, in one place:
 * the library (hw/mem/qcxl-pool-*.c), the tests that damage pools on
 * purpose and docs/pool.rst (which includes this file) use these names.
 * All fields are little-endian; every checksum is CRC32C.
 *
 *   0x0000  superblock (QCXL_POOL_SB_*), 4 KiB
 *   0x1000  lock page: the lock, its holder's progress, heartbeats, what
 *           each host maps
 *   0x2000  metadata copy 0, then copy 1 (each meta_size bytes, a whole
 *           number of pages): header, host slots, region slots, map
 *   ...     a backup of the superblock in the page before the data
 *   data    extents of extent_size bytes, aligned to extent_size
 */

#ifndef HW_MEM_QCXL_POOL_LAYOUT_H
#define HW_MEM_QCXL_POOL_LAYOUT_H

#define QCXL_POOL_PAGE             4096ULL

/* Fixed offsets (bytes from the start of the pool) */
#define QCXL_POOL_SB_SIZE          4096
#define QCXL_POOL_LOCK_OFFSET      0x1000
#define QCXL_POOL_META_OFFSET      0x2000

/* Superblock fields; the CRC covers bytes [0, QCXL_POOL_SB_CRC) */
#define QCXL_POOL_SB_MAGIC         0       /* 8 bytes, QCXL_POOL_MAGIC */
#define QCXL_POOL_SB_VERSION       8       /* u32 */
#define QCXL_POOL_SB_FLAGS         12      /* u32, 0 */
#define QCXL_POOL_SB_UUID          16      /* 16 bytes */
#define QCXL_POOL_SB_POOL_SIZE     32      /* u64 */
#define QCXL_POOL_SB_EXTENT_SIZE   40      /* u64 */
#define QCXL_POOL_SB_META_SIZE     48      /* u64: one metadata copy */
#define QCXL_POOL_SB_DATA_OFFSET   56      /* u64 */
#define QCXL_POOL_SB_EXTENTS       64      /* u32 */
#define QCXL_POOL_SB_HOST_SLOTS    68      /* u16 */
#define QCXL_POOL_SB_REGION_SLOTS  70      /* u16 */
#define QCXL_POOL_SB_LEASE_MS      72      /* u32 */
#define QCXL_POOL_SB_CRC           76      /* u32 */

/* Lock page fields (offsets from QCXL_POOL_LOCK_OFFSET), each a u64 */
#define QCXL_POOL_LOCK_WORD        0       /* holder's token, 0: free */
#define QCXL_POOL_LOCK_BEAT        8       /* holder's progress */
#define QCXL_POOL_LOCK_PID         16      /* holder's pid (informative) */
#define QCXL_POOL_LOCK_HEARTBEATS  64      /* one counter per host slot */
/*
 * Per host slot, the region slots it maps, one bit each, as the host
 * itself publishes them (under the pool lock, with each attach and
 * detach): fsck compares them with the metadata's record.
 */
#define QCXL_POOL_LOCK_MAPS        1024
#define QCXL_POOL_LOCK_MAP_SIZE    (QCXL_POOL_REGIONS / 8)

/*
 * A metadata copy: a header, QCXL_POOL_HOSTS host slots, QCXL_POOL_REGIONS
 * region slots, then the extent map (a u16 per extent: 0 free, else the
 * region slot + 1).  The header is written last: a copy whose length or
 * CRC is wrong is not valid, and of two valid copies the higher seq wins.
 */
#define QCXL_POOL_META_SEQ         0       /* u64, 0: invalid */
#define QCXL_POOL_META_LEN         8       /* u32: bytes used */
#define QCXL_POOL_META_CRC         12      /* u32: of all but this field */
/* seq, len and crc make a copy valid: they are written last */
#define QCXL_POOL_META_HEAD        16
#define QCXL_POOL_META_UUID        16      /* 16 bytes: the pool's */
#define QCXL_POOL_META_HDR_SIZE    64

#define QCXL_POOL_META_HOST_SIZE   64
#define QCXL_POOL_HOST_STATE       0       /* u8, QcxlHostState */
#define QCXL_POOL_HOST_INCARNATION 8       /* u64 */
#define QCXL_POOL_HOST_NAME        16      /* NUL-terminated, 32 bytes */

#define QCXL_POOL_META_REGION_SIZE 128
#define QCXL_POOL_REGION_STATE     0       /* u8, QcxlRegionState */
#define QCXL_POOL_REGION_MODE      1       /* u8, QcxlRegionMode */
#define QCXL_POOL_REGION_OWNER     2       /* u16, host slot */
#define QCXL_POOL_REGION_USE       4       /* u8, QcxlRegionUse */
#define QCXL_POOL_REGION_SHARERS   8       /* u64, host slot bitmap */
#define QCXL_POOL_REGION_MAPPED    16      /* u64, host slot bitmap */
#define QCXL_POOL_REGION_SIZE      24      /* u64 */
#define QCXL_POOL_REGION_GENERATION 32     /* u64 */
#define QCXL_POOL_REGION_NAME      64      /* NUL-terminated, 64 bytes */

#define QCXL_POOL_META_HOSTS_OFF   QCXL_POOL_META_HDR_SIZE
#define QCXL_POOL_META_REGIONS_OFF (QCXL_POOL_META_HOSTS_OFF + \
                                    QCXL_POOL_HOSTS * \
                                    QCXL_POOL_META_HOST_SIZE)
#define QCXL_POOL_META_MAP_OFF     (QCXL_POOL_META_REGIONS_OFF + \
                                    QCXL_POOL_REGIONS * \
                                    QCXL_POOL_META_REGION_SIZE)

#endif
