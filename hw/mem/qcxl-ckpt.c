/*
 * qcxl: the HA checkpoint format in a pool region
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See include/hw/mem/qcxl_ckpt.h and docs/devel/ha.rst.  Fields are
 * little-endian and checksummed with CRC32C; the commit and applied
 * words are host-order 64-bit words changed only atomically (the pool's
 * coherence assumption, see qcxl_pool.h).
 */

#include <string.h>
#include "hw/mem/qcxl_ckpt.h"
#include "hw/mem/qcxl_pool.h"

/* Header fields (bytes from QCXL_CKPT_HEADER_OFF) */
#define H_MAGIC         0
#define H_VERSION       8
#define H_NBLOCKS       12
#define H_ID            16
#define H_HOST          32
#define H_REGION_SIZE   64
#define H_EPOCH_MS      72
#define H_INLINE_OFF    80
#define H_INLINE_SIZE   88
#define H_DEVSTATE_MAX  96
#define H_LOG_MAX       104
#define H_DEVSTATE_OFF  112     /* two */
#define H_LOG_OFF       128     /* two */
#define H_DIR_CRC       144
#define H_NJOURNALS     148
#define H_JOURNALS      152     /* QCXL_CKPT_JOURNALS region names */
#define H_CRC           (H_JOURNALS + \
                         QCXL_CKPT_JOURNALS * QCXL_CKPT_REGION_LEN)

/* Directory entry fields */
#define D_NAME          0
#define D_REGION        256
#define D_SIZE          320
#define D_OFFSET        328
#define D_KIND          336

/* Record fields */
#define R_EPOCH         0
#define R_ENTRIES       8
#define R_DATA_BYTES    16
#define R_DEVSTATE_LEN  24
#define R_LOG_CRC       32
#define R_DEVSTATE_CRC  36
#define R_COMMIT_NS     40
#define R_PAUSE_NS      48
#define R_CRC           56

/* Log index entry fields */
#define E_BLOCK         0
#define E_PAGES         4
#define E_OFFSET        8

#define PAGE            QCXL_CKPT_PAGE

GQuark qcxl_ckpt_error_quark(void)
{
    return g_quark_from_static_string("qcxl-ckpt-error-quark");
}

static uint32_t ld32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return GUINT32_FROM_LE(v);
}

static uint64_t ld64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, 8);
    return GUINT64_FROM_LE(v);
}

static void st32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

static void st64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static uint64_t align_up(uint64_t v)
{
    return (v + PAGE - 1) & ~(PAGE - 1);
}

/* [off, off + len) lies within [lo, hi), without overflow */
static bool within(uint64_t off, uint64_t len, uint64_t lo, uint64_t hi)
{
    return off >= lo && off <= hi && len <= hi - off;
}

static bool fail(GError **errp, int code, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool fail(GError **errp, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    g_propagate_error(errp, g_error_new_valist(QCXL_CKPT_ERROR, code,
                                               fmt, ap));
    va_end(ap);
    return false;
}

#define MiB_F(v) ((double)(v) / (1 << 20))

bool qcxl_ckpt_plan(QcxlCkptLayout *l, uint64_t region_size, GError **errp)
{
    uint64_t off = QCXL_CKPT_FIXED_END, rest;

    if (l->nblocks > QCXL_CKPT_BLOCKS) {
        return fail(errp, QCXL_CKPT_ERR_INVALID, "%u RAM blocks; a "
                    "checkpoint holds at most %d", l->nblocks,
                    QCXL_CKPT_BLOCKS);
    }
    l->region_size = region_size;
    l->devstate_max = align_up(l->devstate_max ? l->devstate_max
                               : QCXL_CKPT_DEFAULT_DEVSTATE);
    l->inline_off = off;
    for (uint32_t i = 0; i < l->nblocks; i++) {
        QcxlCkptBlock *b = &l->blocks[i];

        if (b->kind == QCXL_CKPT_IMAGE_INLINE) {
            b->offset = off;
            off += align_up(b->size);
        }
    }
    l->inline_size = off - l->inline_off;
    l->devstate_off[0] = off;
    l->devstate_off[1] = off + l->devstate_max;
    off += 2 * l->devstate_max;
    rest = region_size > off ? region_size - off : 0;
    l->log_max = (rest / 2) & ~(PAGE - 1);
    if (l->log_max < QCXL_CKPT_MIN_LOG) {
        return fail(errp, QCXL_CKPT_ERR_NO_SPACE,
                    "a checkpoint region of %.1f MiB is too small: the "
                    "images of RAM blocks without a region of their own "
                    "(%.1f MiB), two device-state areas (2 x %.1f MiB) "
                    "and two logs of at least %.1f MiB need %.1f MiB",
                    MiB_F(region_size), MiB_F(l->inline_size),
                    MiB_F(l->devstate_max), MiB_F(QCXL_CKPT_MIN_LOG),
                    MiB_F(off + 2 * QCXL_CKPT_MIN_LOG));
    }
    l->log_off[0] = off;
    l->log_off[1] = off + l->log_max;
    return true;
}

void qcxl_ckpt_format(uint8_t *base, const QcxlCkptLayout *l)
{
    uint8_t *h = base + QCXL_CKPT_HEADER_OFF;
    uint8_t *dir = base + QCXL_CKPT_DIR_OFF;

    memset(h, 0, PAGE);
    qcxl_ckpt_applied_set(base, 0);
    __atomic_store_n((uint64_t *)(base + QCXL_CKPT_COMMIT_OFF), 0,
                     __ATOMIC_SEQ_CST);
    memset(base + QCXL_CKPT_RECORD_OFF, 0, 2 * QCXL_CKPT_RECORD_SIZE);
    memset(dir, 0, QCXL_CKPT_BLOCKS * QCXL_CKPT_DIR_ENTRY);
    for (uint32_t i = 0; i < l->nblocks; i++) {
        const QcxlCkptBlock *b = &l->blocks[i];
        uint8_t *e = dir + i * QCXL_CKPT_DIR_ENTRY;

        g_strlcpy((char *)e + D_NAME, b->name, QCXL_CKPT_BLOCK_NAME_LEN);
        g_strlcpy((char *)e + D_REGION, b->region, QCXL_CKPT_REGION_LEN);
        st64(e + D_SIZE, b->size);
        st64(e + D_OFFSET, b->offset);
        e[D_KIND] = b->kind;
    }

    memcpy(h + H_MAGIC, QCXL_CKPT_MAGIC, 8);
    st32(h + H_VERSION, QCXL_CKPT_VERSION);
    st32(h + H_NBLOCKS, l->nblocks);
    memcpy(h + H_ID, l->id, 16);
    g_strlcpy((char *)h + H_HOST, l->host, QCXL_CKPT_HOST_LEN);
    st64(h + H_REGION_SIZE, l->region_size);
    st32(h + H_EPOCH_MS, l->epoch_ms);
    st64(h + H_INLINE_OFF, l->inline_off);
    st64(h + H_INLINE_SIZE, l->inline_size);
    st64(h + H_DEVSTATE_MAX, l->devstate_max);
    st64(h + H_LOG_MAX, l->log_max);
    for (int s = 0; s < 2; s++) {
        st64(h + H_DEVSTATE_OFF + 8 * s, l->devstate_off[s]);
        st64(h + H_LOG_OFF + 8 * s, l->log_off[s]);
    }
    st32(h + H_NJOURNALS, l->njournals);
    for (uint32_t j = 0; j < l->njournals; j++) {
        g_strlcpy((char *)h + H_JOURNALS + j * QCXL_CKPT_REGION_LEN,
                  l->journals[j], QCXL_CKPT_REGION_LEN);
    }
    st32(h + H_DIR_CRC, qcxl_crc32c(0, dir,
                                    QCXL_CKPT_BLOCKS * QCXL_CKPT_DIR_ENTRY));
    /* the header's checksum last: until then, no reader accepts it */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    st32(h + H_CRC, qcxl_crc32c(0, h, H_CRC));
}

bool qcxl_ckpt_probe(const uint8_t *base, uint64_t size)
{
    return size >= QCXL_CKPT_FIXED_END &&
           !memcmp(base + QCXL_CKPT_HEADER_OFF + H_MAGIC, QCXL_CKPT_MAGIC, 8);
}

static bool name_ok(const char *s, size_t max)
{
    return s[0] && memchr(s, 0, max);
}

static bool open_dir(const uint8_t *dir, QcxlCkptLayout *l, GError **errp)
{
    for (uint32_t i = 0; i < l->nblocks; i++) {
        const uint8_t *e = dir + i * QCXL_CKPT_DIR_ENTRY;
        QcxlCkptBlock *b = &l->blocks[i];

        if (!name_ok((const char *)e + D_NAME, QCXL_CKPT_BLOCK_NAME_LEN) ||
            !memchr(e + D_REGION, 0, QCXL_CKPT_REGION_LEN)) {
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint directory "
                        "entry %u: a name is empty or unterminated", i);
        }
        memcpy(b->name, e + D_NAME, QCXL_CKPT_BLOCK_NAME_LEN);
        memcpy(b->region, e + D_REGION, QCXL_CKPT_REGION_LEN);
        b->size = ld64(e + D_SIZE);
        b->offset = ld64(e + D_OFFSET);
        b->kind = e[D_KIND];
        if (!b->size || b->size % PAGE) {
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint: RAM block "
                        "'%s' has a size of %" G_GUINT64_FORMAT " bytes, "
                        "not a whole number of pages", b->name, b->size);
        }
        switch (b->kind) {
        case QCXL_CKPT_IMAGE_INLINE:
            if (b->offset % PAGE ||
                !within(b->offset, b->size, l->inline_off,
                        l->inline_off + l->inline_size)) {
                return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint: the "
                            "image of RAM block '%s' lies outside the "
                            "inline area", b->name);
            }
            break;
        case QCXL_CKPT_IMAGE_REGION:
            if (!b->region[0]) {
                return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint: RAM "
                            "block '%s' names no image region", b->name);
            }
            break;
        default:
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint: RAM block "
                        "'%s' has an unknown image kind %u", b->name,
                        b->kind);
        }
        for (uint32_t k = 0; k < i; k++) {
            if (!strcmp(l->blocks[k].name, b->name)) {
                return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint: RAM "
                            "block '%s' is listed twice", b->name);
            }
        }
    }
    return true;
}

bool qcxl_ckpt_open(const uint8_t *base, uint64_t size, QcxlCkptLayout *l,
                    GError **errp)
{
    const uint8_t *h = base + QCXL_CKPT_HEADER_OFF;
    const uint8_t *dir = base + QCXL_CKPT_DIR_OFF;
    uint64_t end;

    memset(l, 0, sizeof(*l));
    if (!qcxl_ckpt_probe(base, size)) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "no checkpoint header "
                    "(magic)");
    }
    if (ld32(h + H_CRC) != qcxl_crc32c(0, h, H_CRC)) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the checkpoint header is "
                    "damaged (checksum)");
    }
    if (ld32(h + H_VERSION) != QCXL_CKPT_VERSION) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "checkpoint format version "
                    "%u; this QEMU reads version %d", ld32(h + H_VERSION),
                    QCXL_CKPT_VERSION);
    }
    if (ld32(h + H_DIR_CRC) !=
        qcxl_crc32c(0, dir, QCXL_CKPT_BLOCKS * QCXL_CKPT_DIR_ENTRY)) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the checkpoint's RAM block "
                    "directory is damaged (checksum)");
    }
    l->nblocks = ld32(h + H_NBLOCKS);
    memcpy(l->id, h + H_ID, 16);
    memcpy(l->host, h + H_HOST, QCXL_CKPT_HOST_LEN);
    l->region_size = ld64(h + H_REGION_SIZE);
    l->epoch_ms = ld32(h + H_EPOCH_MS);
    l->inline_off = ld64(h + H_INLINE_OFF);
    l->inline_size = ld64(h + H_INLINE_SIZE);
    l->devstate_max = ld64(h + H_DEVSTATE_MAX);
    l->log_max = ld64(h + H_LOG_MAX);
    for (int s = 0; s < 2; s++) {
        l->devstate_off[s] = ld64(h + H_DEVSTATE_OFF + 8 * s);
        l->log_off[s] = ld64(h + H_LOG_OFF + 8 * s);
    }
    l->njournals = ld32(h + H_NJOURNALS);
    if (l->njournals > QCXL_CKPT_JOURNALS) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the checkpoint header "
                    "lists %u disk journals; at most %d", l->njournals,
                    QCXL_CKPT_JOURNALS);
    }
    for (uint32_t j = 0; j < l->njournals; j++) {
        const char *name = (const char *)h + H_JOURNALS +
                           j * QCXL_CKPT_REGION_LEN;

        if (!name_ok(name, QCXL_CKPT_REGION_LEN)) {
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "the checkpoint "
                        "header's disk journal %u has no region name", j);
        }
        memcpy(l->journals[j], name, QCXL_CKPT_REGION_LEN);
    }
    if (!name_ok(l->host, QCXL_CKPT_HOST_LEN) ||
        l->nblocks > QCXL_CKPT_BLOCKS) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the checkpoint header "
                    "names no host or too many RAM blocks (%u)",
                    l->nblocks);
    }
    /* the areas follow one another, page aligned, within the region */
    end = l->region_size;
    if (end > size || l->inline_off != QCXL_CKPT_FIXED_END ||
        (l->inline_size | l->devstate_max | l->log_max |
         l->devstate_off[0] | l->devstate_off[1] | l->log_off[0] |
         l->log_off[1]) % PAGE ||
        l->log_max < QCXL_CKPT_MIN_LOG ||
        !within(l->inline_off, l->inline_size, 0, end) ||
        l->devstate_off[0] != l->inline_off + l->inline_size ||
        !within(l->devstate_off[0], l->devstate_max, 0, end) ||
        l->devstate_off[1] != l->devstate_off[0] + l->devstate_max ||
        !within(l->devstate_off[1], l->devstate_max, 0, end) ||
        l->log_off[0] != l->devstate_off[1] + l->devstate_max ||
        !within(l->log_off[0], l->log_max, 0, end) ||
        l->log_off[1] != l->log_off[0] + l->log_max ||
        !within(l->log_off[1], l->log_max, 0, end)) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the checkpoint header's "
                    "areas do not fit a region of %" G_GUINT64_FORMAT
                    " bytes", size);
    }
    return open_dir(dir, l, errp);
}

static uint64_t *word(const uint8_t *base, uint64_t off)
{
    return (uint64_t *)(base + off);
}

uint64_t qcxl_ckpt_commit_read(const uint8_t *base)
{
    return __atomic_load_n(word(base, QCXL_CKPT_COMMIT_OFF),
                           __ATOMIC_ACQUIRE);
}

bool qcxl_ckpt_commit(uint8_t *base, uint64_t prev, uint64_t epoch)
{
    return __atomic_compare_exchange_n(word(base, QCXL_CKPT_COMMIT_OFF),
                                       &prev, epoch, false,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

uint64_t qcxl_ckpt_take(uint8_t *base)
{
    return __atomic_fetch_or(word(base, QCXL_CKPT_COMMIT_OFF),
                             QCXL_CKPT_TAKEN, __ATOMIC_SEQ_CST);
}

void qcxl_ckpt_abandon(uint8_t *base)
{
    __atomic_fetch_or(word(base, QCXL_CKPT_COMMIT_OFF), QCXL_CKPT_ABANDONED,
                      __ATOMIC_SEQ_CST);
}

uint64_t qcxl_ckpt_applied_read(const uint8_t *base)
{
    return __atomic_load_n(word(base, QCXL_CKPT_APPLIED_OFF),
                           __ATOMIC_ACQUIRE);
}

void qcxl_ckpt_applied_set(uint8_t *base, uint64_t epoch)
{
    __atomic_store_n(word(base, QCXL_CKPT_APPLIED_OFF), epoch,
                     __ATOMIC_RELEASE);
}

void qcxl_ckpt_log_init(QcxlCkptLog *w, uint8_t *base,
                        const QcxlCkptLayout *l, uint64_t epoch)
{
    w->log = base + l->log_off[epoch & 1];
    w->max = l->log_max;
    w->data_bytes = 0;
    w->entries = 0;
}

uint8_t *qcxl_ckpt_log_reserve(QcxlCkptLog *w, uint32_t block,
                               uint64_t offset, uint32_t pages)
{
    uint64_t need = (uint64_t)pages * PAGE;
    uint8_t *e, *data;

    if (w->data_bytes + need + (w->entries + 1) * QCXL_CKPT_LOG_ENTRY >
        w->max) {
        return NULL;
    }
    e = w->log + w->max - (w->entries + 1) * QCXL_CKPT_LOG_ENTRY;
    st32(e + E_BLOCK, block);
    st32(e + E_PAGES, pages);
    st64(e + E_OFFSET, offset);
    data = w->log + w->data_bytes;
    w->entries++;
    w->data_bytes += need;
    return data;
}

static uint32_t log_crc(const uint8_t *log, uint64_t max, uint64_t entries,
                        uint64_t data_bytes)
{
    uint64_t index = entries * QCXL_CKPT_LOG_ENTRY;

    return qcxl_crc32c(qcxl_crc32c(0, log, data_bytes),
                       log + max - index, index);
}

void qcxl_ckpt_record_write(uint8_t *base, const QcxlCkptLayout *l,
                            uint64_t epoch, const QcxlCkptLog *w,
                            uint64_t devstate_len, uint64_t commit_ns,
                            uint64_t pause_ns, QcxlCkptRecord *rec)
{
    uint8_t *r = base + QCXL_CKPT_RECORD_OFF +
                 (epoch & 1) * QCXL_CKPT_RECORD_SIZE;

    *rec = (QcxlCkptRecord) {
        .epoch = epoch,
        .entries = w->entries,
        .data_bytes = w->data_bytes,
        .devstate_len = devstate_len,
        .log_crc = log_crc(w->log, w->max, w->entries, w->data_bytes),
        .devstate_crc = qcxl_crc32c(0, base + l->devstate_off[epoch & 1],
                                    devstate_len),
        .commit_ns = commit_ns,
        .pause_ns = pause_ns,
    };
    memset(r, 0, QCXL_CKPT_RECORD_SIZE);
    st64(r + R_EPOCH, rec->epoch);
    st64(r + R_ENTRIES, rec->entries);
    st64(r + R_DATA_BYTES, rec->data_bytes);
    st64(r + R_DEVSTATE_LEN, rec->devstate_len);
    st32(r + R_LOG_CRC, rec->log_crc);
    st32(r + R_DEVSTATE_CRC, rec->devstate_crc);
    st64(r + R_COMMIT_NS, rec->commit_ns);
    st64(r + R_PAUSE_NS, rec->pause_ns);
    st32(r + R_CRC, qcxl_crc32c(0, r, R_CRC));
}

/* Walk log @rec's entries in order; @fn sees each, with its data */
typedef bool (*EntryFn)(void *opaque, uint32_t block, uint64_t offset,
                        uint32_t pages, const uint8_t *data, GError **errp);

static bool walk(const uint8_t *base, const QcxlCkptLayout *l,
                 const QcxlCkptRecord *rec, EntryFn fn, void *opaque,
                 GError **errp)
{
    const uint8_t *log = base + l->log_off[rec->epoch & 1];
    uint64_t data = 0;

    for (uint64_t i = 0; i < rec->entries; i++) {
        const uint8_t *e = log + l->log_max - (i + 1) * QCXL_CKPT_LOG_ENTRY;
        uint32_t block = ld32(e + E_BLOCK), pages = ld32(e + E_PAGES);
        uint64_t offset = ld64(e + E_OFFSET), len = (uint64_t)pages * PAGE;
        const QcxlCkptBlock *b;

        if (block >= l->nblocks) {
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "epoch %" G_GUINT64_FORMAT
                        " log entry %" G_GUINT64_FORMAT ": RAM block %u does "
                        "not exist", rec->epoch, i, block);
        }
        b = &l->blocks[block];
        if (!pages || offset % PAGE || !within(offset, len, 0, b->size)) {
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "epoch %" G_GUINT64_FORMAT
                        " log entry %" G_GUINT64_FORMAT ": %u pages at 0x%"
                        G_GINT64_MODIFIER "x do not fit RAM block '%s'",
                        rec->epoch, i, pages, offset, b->name);
        }
        if (len > rec->data_bytes - data) {
            return fail(errp, QCXL_CKPT_ERR_FORMAT, "epoch %" G_GUINT64_FORMAT
                        " log: its entries hold more pages than its data",
                        rec->epoch);
        }
        if (fn && !fn(opaque, block, offset, pages, log + data, errp)) {
            return false;
        }
        data += len;
    }
    if (data != rec->data_bytes) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "epoch %" G_GUINT64_FORMAT
                    " log: its entries hold fewer pages than its data",
                    rec->epoch);
    }
    return true;
}

static void record_decode(const uint8_t *r, QcxlCkptRecord *rec)
{
    *rec = (QcxlCkptRecord) {
        .epoch = ld64(r + R_EPOCH),
        .entries = ld64(r + R_ENTRIES),
        .data_bytes = ld64(r + R_DATA_BYTES),
        .devstate_len = ld64(r + R_DEVSTATE_LEN),
        .log_crc = ld32(r + R_LOG_CRC),
        .devstate_crc = ld32(r + R_DEVSTATE_CRC),
        .commit_ns = ld64(r + R_COMMIT_NS),
        .pause_ns = ld64(r + R_PAUSE_NS),
    };
}

bool qcxl_ckpt_record_peek(const uint8_t *base, uint64_t epoch,
                           QcxlCkptRecord *rec)
{
    const uint8_t *r = base + QCXL_CKPT_RECORD_OFF +
                       (epoch & 1) * QCXL_CKPT_RECORD_SIZE;

    if (!epoch || ld32(r + R_CRC) != qcxl_crc32c(0, r, R_CRC)) {
        return false;
    }
    record_decode(r, rec);
    return rec->epoch == epoch;
}

bool qcxl_ckpt_record_read(const uint8_t *base, const QcxlCkptLayout *l,
                           uint64_t epoch, QcxlCkptRecord *rec,
                           GError **errp)
{
    const uint8_t *r = base + QCXL_CKPT_RECORD_OFF +
                       (epoch & 1) * QCXL_CKPT_RECORD_SIZE;
    uint64_t index;

    if (!epoch) {
        return fail(errp, QCXL_CKPT_ERR_NONE, "no epoch has been committed "
                    "yet");
    }
    if (ld32(r + R_CRC) != qcxl_crc32c(0, r, R_CRC)) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the record of epoch %"
                    G_GUINT64_FORMAT " is damaged (checksum)", epoch);
    }
    record_decode(r, rec);
    if (rec->epoch != epoch) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the record in the slot of "
                    "epoch %" G_GUINT64_FORMAT " is epoch %" G_GUINT64_FORMAT,
                    epoch, rec->epoch);
    }
    if (rec->entries > l->log_max / QCXL_CKPT_LOG_ENTRY ||
        rec->data_bytes % PAGE ||
        rec->data_bytes > l->log_max -
                          rec->entries * QCXL_CKPT_LOG_ENTRY ||
        rec->devstate_len > l->devstate_max) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the record of epoch %"
                    G_GUINT64_FORMAT " does not fit its slot (%"
                    G_GUINT64_FORMAT " entries, %" G_GUINT64_FORMAT
                    " bytes of log, %" G_GUINT64_FORMAT " of device state)",
                    epoch, rec->entries, rec->data_bytes,
                    rec->devstate_len);
    }
    index = rec->entries;
    if (log_crc(base + l->log_off[epoch & 1], l->log_max, index,
                rec->data_bytes) != rec->log_crc) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the log of epoch %"
                    G_GUINT64_FORMAT " is damaged (checksum)", epoch);
    }
    if (qcxl_crc32c(0, base + l->devstate_off[epoch & 1],
                    rec->devstate_len) != rec->devstate_crc) {
        return fail(errp, QCXL_CKPT_ERR_FORMAT, "the device state of epoch %"
                    G_GUINT64_FORMAT " is damaged (checksum)", epoch);
    }
    return walk(base, l, rec, NULL, NULL, errp);
}

uint8_t *qcxl_ckpt_devstate(uint8_t *base, const QcxlCkptLayout *l,
                            uint64_t epoch)
{
    return base + l->devstate_off[epoch & 1];
}

typedef struct ReplayArgs {
    QcxlCkptImageFn image;
    void *opaque;
    const QcxlCkptLayout *l;
} ReplayArgs;

static bool replay_entry(void *opaque, uint32_t block, uint64_t offset,
                         uint32_t pages, const uint8_t *data, GError **errp)
{
    ReplayArgs *a = opaque;
    uint64_t len = (uint64_t)pages * PAGE;
    uint8_t *dst = a->image(a->opaque, block, offset, len);

    if (!dst) {
        return fail(errp, QCXL_CKPT_ERR_INVALID, "no image for %"
                    G_GUINT64_FORMAT " bytes of RAM block '%s' at 0x%"
                    G_GINT64_MODIFIER "x", len, a->l->blocks[block].name,
                    offset);
    }
    memcpy(dst, data, len);
    return true;
}

bool qcxl_ckpt_replay(const uint8_t *base, const QcxlCkptLayout *l,
                      const QcxlCkptRecord *rec, QcxlCkptImageFn image,
                      void *opaque, GError **errp)
{
    ReplayArgs a = { .image = image, .opaque = opaque, .l = l };

    return walk(base, l, rec, replay_entry, &a, errp);
}

uint8_t *qcxl_ckpt_inline_image(uint8_t *base, const QcxlCkptLayout *l,
                                uint32_t block)
{
    g_assert(block < l->nblocks &&
             l->blocks[block].kind == QCXL_CKPT_IMAGE_INLINE);
    return base + l->blocks[block].offset;
}

const char *qcxl_ckpt_image_kind_str(QcxlCkptImageKind kind)
{
    switch (kind) {
    case QCXL_CKPT_IMAGE_INLINE:
        return "inline";
    case QCXL_CKPT_IMAGE_REGION:
        return "region";
    default:
        return "?";
    }
}
