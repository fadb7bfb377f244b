/*
 * qcxl fuzzer: an HA checkpoint region as a takeover reads it
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A takeover trusts nothing in the region a dead host left: header and
 * directory (qcxl_ckpt_open), the commit word, the epoch's record, its
 * log and device state (qcxl_ckpt_record_read), and then replays the log
 * into the RAM images (qcxl_ckpt_replay).  This target feeds all of it.
 *
 * Input: a little-endian u16 N, then N bytes laid at the region's start
 * (header, commit and applied words, directory, both records, inline
 * images) and the rest laid at its end (slot 1's log, whose index grows
 * down from there).  The rest of the region is zero.  Checksums are
 * satisfied by 0 (fuzz-crc.c).
 *
 * Checked beyond "no crash, no sanitizer report": a region that opens
 * has every area inside it; a record that reads replays only within its
 * blocks (the image callback aborts otherwise).
 */

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include "hw/mem/qcxl_ckpt.h"
#include "fuzz-seeds.h"

#define REGION      (2560 * 1024)
#define HEAD_MAX    (60 * 1024)     /* fits the u16 */
#define TAIL_MAX    (64 * 1024)
#define IMAGE_MAX   (4 * 1024 * 1024)

static uint8_t *region;
static uint8_t *scratch;        /* where replay writes an image's pages */

static uint8_t *image(void *opaque, uint32_t block, uint64_t offset,
                      uint64_t len)
{
    const QcxlCkptLayout *l = opaque;

    if (block >= l->nblocks || offset > l->blocks[block].size ||
        len > l->blocks[block].size - offset) {
        /* replay promised to check this */
        abort();
    }
    return offset + len <= IMAGE_MAX ? scratch + offset : NULL;
}

static void exercise(void)
{
    g_autoptr(GError) err = NULL;
    QcxlCkptLayout l;
    QcxlCkptRecord rec;
    uint64_t e;

    qcxl_ckpt_probe(region, REGION);
    if (!qcxl_ckpt_open(region, REGION, &l, &err)) {
        if (!err) {
            abort();
        }
        return;
    }
    if (l.nblocks > QCXL_CKPT_BLOCKS || l.log_max > REGION ||
        l.log_off[1] > REGION - l.log_max ||
        l.devstate_off[1] > REGION - l.devstate_max) {
        abort();
    }
    for (uint32_t i = 0; i < l.nblocks; i++) {
        qcxl_ckpt_image_kind_str(l.blocks[i].kind);
        if (l.blocks[i].kind == QCXL_CKPT_IMAGE_INLINE &&
            (l.blocks[i].offset > REGION ||
             l.blocks[i].size > REGION - l.blocks[i].offset)) {
            abort();
        }
    }
    e = qcxl_ckpt_commit_read(region) & QCXL_CKPT_EPOCH_MASK;
    qcxl_ckpt_applied_read(region);
    qcxl_ckpt_record_peek(region, e, &rec);
    qcxl_ckpt_record_peek(region, e + 1, &rec);
    if (!qcxl_ckpt_record_read(region, &l, e, &rec, &err)) {
        if (!err) {
            abort();
        }
        return;
    }
    if (!qcxl_ckpt_replay(region, &l, &rec, image, &l, &err) && !err) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t head, tail;

    if (size < 2) {
        return 0;
    }
    head = MIN((size_t)(data[0] | data[1] << 8), size - 2);
    head = MIN(head, HEAD_MAX);
    tail = MIN(size - 2 - head, TAIL_MAX);
    memcpy(region, data + 2, head);
    memcpy(region + REGION - tail, data + 2 + head, tail);
    exercise();
    memset(region, 0, head);
    memset(region + REGION - tail, 0, tail);
    return 0;
}

/* A seed: the region's first @head bytes and last TAIL_MAX */
static void seed(const char *name, const uint8_t *r, size_t head)
{
    g_autofree uint8_t *in = g_malloc(2 + head + TAIL_MAX);

    in[0] = head & 0xff;
    in[1] = head >> 8;
    memcpy(in + 2, r, head);
    memcpy(in + 2 + head, r + REGION - TAIL_MAX, TAIL_MAX);
    fuzz_seed_write(name, in, 2 + head + TAIL_MAX);
}

/* Seeds: a formatted region, then epochs 1 and 3 committed (slot 1) */
static void write_seeds(void)
{
    g_autofree uint8_t *r = g_malloc0(REGION);
    g_autoptr(GError) err = NULL;
    QcxlCkptLayout l = { .epoch_ms = 100, .devstate_max = 64 * 1024,
                         .nblocks = 2, .njournals = 1 };
    QcxlCkptRecord rec;
    QcxlCkptLog w;
    size_t head;

    g_strlcpy(l.host, "hostA", sizeof(l.host));
    g_strlcpy(l.blocks[0].name, "ram0", sizeof(l.blocks[0].name));
    l.blocks[0].size = 1024 * 1024;
    l.blocks[0].kind = QCXL_CKPT_IMAGE_REGION;
    g_strlcpy(l.blocks[0].region, "vm1-ram", sizeof(l.blocks[0].region));
    g_strlcpy(l.blocks[1].name, "/rom@etc/acpi/tables",
              sizeof(l.blocks[1].name));
    l.blocks[1].size = 8 * 1024;
    l.blocks[1].kind = QCXL_CKPT_IMAGE_INLINE;
    g_strlcpy(l.journals[0], "vm1-disk", sizeof(l.journals[0]));
    if (!qcxl_ckpt_plan(&l, REGION, &err)) {
        g_error("planning the seed layout: %s", err->message);
    }
    qcxl_ckpt_format(r, &l);
    head = MIN(l.inline_off + l.inline_size, HEAD_MAX);
    seed("formatted", r, head);
    for (uint64_t epoch = 1; epoch <= 3; epoch += 2) {
        qcxl_ckpt_log_init(&w, r, &l, epoch);
        memset(qcxl_ckpt_log_reserve(&w, 0, 8 * 4096, 3), 0x5a, 3 * 4096);
        memset(qcxl_ckpt_log_reserve(&w, 1, 0, 1), 0xa5, 4096);
        memset(qcxl_ckpt_devstate(r, &l, epoch), 0x11, 300);
        qcxl_ckpt_record_write(r, &l, epoch, &w, 300, 1, 2, &rec);
        if (!qcxl_ckpt_commit(r, epoch == 1 ? 0 : 2, epoch)) {
            g_error("committing seed epoch %" G_GUINT64_FORMAT, epoch);
        }
        if (epoch == 1) {
            seed("epoch1", r, head);
            /* epoch 2 committed in slot 0, whose log the input misses */
            qcxl_ckpt_commit(r, 1, 2);
        }
    }
    qcxl_ckpt_take(r);
    seed("epoch3-taken", r, head);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    region = g_malloc0(REGION);
    scratch = g_malloc0(IMAGE_MAX);
    if (fuzz_seed_dir()) {
        write_seeds();
        exit(0);
    }
    return 0;
}
