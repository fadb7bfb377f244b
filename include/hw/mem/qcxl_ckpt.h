/*
 * qcxl: the HA checkpoint format in a pool region
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A protected VM commits epoch checkpoints into a *checkpoint region*
 * of a shared pool: a header, a commit word, a directory of the VM's
 * RAM blocks, two epoch slots (record, device state, log) and the
 * images of the small RAM blocks; large blocks have image regions of
 * their own.  docs/devel/ha.rst describes the layout and the commit
 * protocol.  This file knows nothing of QEMU (libc and GLib only), so
 * the CLI and the unit tests use it too.
 *
 * Everything read from the media is hostile until checked: opening
 * validates the header and directory, reading a record validates the
 * record, every log entry and both checksums, before anything is used.
 */

#ifndef HW_MEM_QCXL_CKPT_H
#define HW_MEM_QCXL_CKPT_H

#include <stdbool.h>
#include <stdint.h>
#include <glib.h>

#define QCXL_CKPT_MAGIC          "QCXLCKPT"
#define QCXL_CKPT_VERSION        2
#define QCXL_CKPT_PAGE           4096ULL
#define QCXL_CKPT_BLOCKS         64
#define QCXL_CKPT_BLOCK_NAME_LEN 256     /* including the NUL */
#define QCXL_CKPT_REGION_LEN     64      /* as QCXL_POOL_REGION_NAME_LEN */
#define QCXL_CKPT_HOST_LEN       32      /* as QCXL_POOL_HOST_NAME_LEN */
/* disk journals (block/qcxl-ha-journal.c) a checkpoint covers, at most */
#define QCXL_CKPT_JOURNALS       8
/* in the commit word: a takeover has frozen it */
#define QCXL_CKPT_TAKEN          ((uint64_t)1 << 63)
/*
 * in the commit word: protection ended (unprotect, or a failure) and the
 * VM ran on unprotected, so its last epoch is older than what it showed
 * the world; no takeover may use it
 */
#define QCXL_CKPT_ABANDONED      ((uint64_t)1 << 62)
#define QCXL_CKPT_EPOCH_MASK     (QCXL_CKPT_ABANDONED - 1)
#define QCXL_CKPT_MIN_LOG        (1ULL << 20)
#define QCXL_CKPT_DEFAULT_DEVSTATE (16ULL << 20)

/* Fixed offsets from the region's start */
#define QCXL_CKPT_HEADER_OFF     0x0000
#define QCXL_CKPT_COMMIT_OFF     0x1000
#define QCXL_CKPT_APPLIED_OFF    0x1040
#define QCXL_CKPT_DIR_OFF        0x2000
#define QCXL_CKPT_DIR_ENTRY      512
#define QCXL_CKPT_RECORD_OFF     (QCXL_CKPT_DIR_OFF + \
                                  QCXL_CKPT_BLOCKS * QCXL_CKPT_DIR_ENTRY)
#define QCXL_CKPT_RECORD_SIZE    0x1000
#define QCXL_CKPT_FIXED_END      (QCXL_CKPT_RECORD_OFF + \
                                  2 * QCXL_CKPT_RECORD_SIZE)
#define QCXL_CKPT_LOG_ENTRY      16

#define QCXL_CKPT_ERROR (qcxl_ckpt_error_quark())
GQuark qcxl_ckpt_error_quark(void);

typedef enum {
    QCXL_CKPT_ERR_FORMAT,       /* not a checkpoint, or a damaged one */
    QCXL_CKPT_ERR_NO_SPACE,     /* a layout does not fit the region */
    QCXL_CKPT_ERR_NONE,         /* no epoch committed yet */
    QCXL_CKPT_ERR_INVALID,      /* a bad argument */
} QcxlCkptErrorCode;

/* Where a RAM block's image is */
typedef enum {
    QCXL_CKPT_IMAGE_INLINE = 0, /* in the checkpoint region */
    QCXL_CKPT_IMAGE_REGION = 1, /* a region of its own, page for page */
    QCXL_CKPT_IMAGE__MAX,
} QcxlCkptImageKind;

typedef struct QcxlCkptBlock {
    char name[QCXL_CKPT_BLOCK_NAME_LEN];    /* the RAM block's id */
    uint64_t size;                          /* its used length */
    uint8_t kind;                           /* QcxlCkptImageKind */
    char region[QCXL_CKPT_REGION_LEN];      /* QCXL_CKPT_IMAGE_REGION */
    uint64_t offset;                        /* QCXL_CKPT_IMAGE_INLINE */
} QcxlCkptBlock;

/* A checkpoint region's header and directory, decoded */
typedef struct QcxlCkptLayout {
    uint8_t id[16];
    char host[QCXL_CKPT_HOST_LEN];  /* the host that formatted it */
    uint64_t region_size;
    uint32_t epoch_ms;
    uint32_t nblocks;
    uint64_t inline_off, inline_size;
    uint64_t devstate_max, log_max;
    uint64_t devstate_off[2], log_off[2];
    QcxlCkptBlock blocks[QCXL_CKPT_BLOCKS];
    /* the regions of the disk journals whose writes the epochs cover */
    uint32_t njournals;
    char journals[QCXL_CKPT_JOURNALS][QCXL_CKPT_REGION_LEN];
} QcxlCkptLayout;

/* One epoch's record, decoded and checked */
typedef struct QcxlCkptRecord {
    uint64_t epoch;
    uint64_t entries;           /* log index entries */
    uint64_t data_bytes;        /* log page data */
    uint64_t devstate_len;
    uint32_t log_crc, devstate_crc;
    uint64_t commit_ns;         /* the protecting host's realtime clock */
    uint64_t pause_ns;
} QcxlCkptRecord;

/*
 * Fill in the offsets of @l, whose blocks (names, sizes, kinds, regions)
 * and devstate_max are set, for a region of @region_size bytes: the
 * inline images, then the two device-state areas, then two logs sharing
 * what is left.  Fails, saying what is needed, if the logs would be
 * smaller than QCXL_CKPT_MIN_LOG.
 */
bool qcxl_ckpt_plan(QcxlCkptLayout *l, uint64_t region_size, GError **errp);
/* Write @l's header and directory; zero the words and records */
void qcxl_ckpt_format(uint8_t *base, const QcxlCkptLayout *l);
/* Decode and check the header and directory of a region of @size */
bool qcxl_ckpt_open(const uint8_t *base, uint64_t size, QcxlCkptLayout *l,
                    GError **errp);
/* Is there a checkpoint header at @base (its magic), valid or not? */
bool qcxl_ckpt_probe(const uint8_t *base, uint64_t size);

/* The commit word: epoch | QCXL_CKPT_TAKEN | QCXL_CKPT_ABANDONED */
uint64_t qcxl_ckpt_commit_read(const uint8_t *base);
/* Commit @epoch over @prev; false if the word is not @prev (taken) */
bool qcxl_ckpt_commit(uint8_t *base, uint64_t prev, uint64_t epoch);
/* Set QCXL_CKPT_TAKEN and return the word as it was */
uint64_t qcxl_ckpt_take(uint8_t *base);
/* Set QCXL_CKPT_ABANDONED */
void qcxl_ckpt_abandon(uint8_t *base);
uint64_t qcxl_ckpt_applied_read(const uint8_t *base);
void qcxl_ckpt_applied_set(uint8_t *base, uint64_t epoch);

/* Writing one epoch's log into slot area @log of @max bytes */
typedef struct QcxlCkptLog {
    uint8_t *log;
    uint64_t max;
    uint64_t data_bytes;
    uint64_t entries;
} QcxlCkptLog;

void qcxl_ckpt_log_init(QcxlCkptLog *w, uint8_t *base,
                        const QcxlCkptLayout *l, uint64_t epoch);
/*
 * Add an entry for @pages pages of block @block at @offset and return
 * where their data goes (the caller copies it), or NULL if the log is
 * full.
 */
uint8_t *qcxl_ckpt_log_reserve(QcxlCkptLog *w, uint32_t block,
                               uint64_t offset, uint32_t pages);
/*
 * Write the record of @epoch for log @w and @devstate_len bytes of
 * device state already in its area; *@rec gets what was written.
 */
void qcxl_ckpt_record_write(uint8_t *base, const QcxlCkptLayout *l,
                            uint64_t epoch, const QcxlCkptLog *w,
                            uint64_t devstate_len, uint64_t commit_ns,
                            uint64_t pause_ns, QcxlCkptRecord *rec);
/*
 * The record of @epoch, its own checksum checked but not its log's or
 * device state's (for listing a checkpoint without reading all of it)
 */
bool qcxl_ckpt_record_peek(const uint8_t *base, uint64_t epoch,
                           QcxlCkptRecord *rec);
/* Read and check the record of @epoch, its log and its device state */
bool qcxl_ckpt_record_read(const uint8_t *base, const QcxlCkptLayout *l,
                           uint64_t epoch, QcxlCkptRecord *rec,
                           GError **errp);
uint8_t *qcxl_ckpt_devstate(uint8_t *base, const QcxlCkptLayout *l,
                            uint64_t epoch);

/*
 * Where block @block's image is, for @len bytes at @offset (checked to
 * lie within the block); NULL makes replay fail.
 */
typedef uint8_t *(*QcxlCkptImageFn)(void *opaque, uint32_t block,
                                    uint64_t offset, uint64_t len);
/* Copy log @rec (checked by qcxl_ckpt_record_read) into the images */
bool qcxl_ckpt_replay(const uint8_t *base, const QcxlCkptLayout *l,
                      const QcxlCkptRecord *rec, QcxlCkptImageFn image,
                      void *opaque, GError **errp);
/* The inline image of block @block (kind QCXL_CKPT_IMAGE_INLINE) */
uint8_t *qcxl_ckpt_inline_image(uint8_t *base, const QcxlCkptLayout *l,
                                uint32_t block);
const char *qcxl_ckpt_image_kind_str(QcxlCkptImageKind kind);

#endif
