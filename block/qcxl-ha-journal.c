/*
 * qcxl: HA over CXL, a protected VM's disk writes journalled in a pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   -blockdev driver=qcxl-ha-journal,node-name=j0,file=disk0,region=jr0
 *
 * Unprotected, the filter passes everything through.  While the VM is
 * protected (migration/qcxl-ha.c maps the region and calls
 * qcxl_ha_journal_start()), a write is appended to a ring in the
 * region, tagged with the epoch it belongs to, and acknowledged; reads
 * see the disk with the writes not yet on it laid over.  When the VM is
 * paused for epoch E a seal marker closes E's writes; once E commits a
 * coroutine writes them to the disk, flushes it and moves the ring's
 * head past the marker.  A takeover at committed epoch E writes what
 * the ring holds up to E's marker and drops the rest: the disk then
 * holds exactly what the resumed VM wrote.  docs/devel/ha.rst has the
 * layout and the argument.
 *
 * Owns each journal node's ring, its writes held in memory and the
 * on-media format.  Everything read from the media at a takeover is
 * checked before a byte reaches the disk.
 */

#include "qemu/osdep.h"
#include "qemu/coroutine.h"
#include "qemu/crc32c.h"
#include "qemu/module.h"
#include "qemu/queue.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "block/block-io.h"
#include "block/block_int.h"
#include "block/qcxl-ha-journal.h"
#include "trace.h"

#define J_MAGIC         "QCXLJRNL"
#define J_VERSION       1
/* the header: fixed, checksummed */
#define H_MAGIC         0
#define H_VERSION       8
#define H_ID            16      /* the checkpoint's id, 16 bytes */
#define H_SIZE          32
#define H_CRC           40
/* the head, two slots written in turn, each checksummed */
#define HEAD_OFF        0x200
#define HEAD_SLOT       0x40
#define HD_SEQ          0
#define HD_OFF          8
#define HD_APPLIED      16
#define HD_CRC          24
/* non-zero once an epoch outgrew the ring: the disk is ahead */
#define OVERFLOW_OFF    0x300
#define RING_OFF        0x1000
#define J_MIN_SIZE      (1024 * 1024)
/* an entry: a 64-byte header, then its data rounded up to 64 bytes */
#define E_MAGIC         0
#define E_HCRC          4
#define E_ID            8
#define E_SEQ           16
#define E_EPOCH         24
#define E_OFFSET        32
#define E_LEN           40
#define E_DCRC          48
#define E_HDR           64
#define E_DATA          0x41544144u     /* "DATA" */
#define E_SEAL          0x4c414553u     /* "SEAL" */
#define E_WRAP          0x50415257u     /* "WRAP" */
/* room always kept for two seal markers */
#define SEAL_RESERVE    (2 * E_HDR)

typedef enum JournalMode {
    J_PASS,         /* unprotected: straight to the disk */
    /*
     * protected, before epoch 1's pause: straight to the disk too, as no
     * takeover can resume anything older than epoch 1
     */
    J_BASE,
    J_HOLD,         /* protected: into the ring */
    J_FENCED,       /* the VM runs elsewhere: nothing more */
} JournalMode;

typedef struct JEntry {
    uint32_t kind;              /* E_DATA or E_SEAL */
    uint64_t seq, epoch, offset, len;
    uint64_t at;                /* its header's offset in the region */
    uint64_t size;              /* ring bytes it frees (waste included) */
    QSIMPLEQ_ENTRY(JEntry) next;
} JEntry;

typedef struct BDRVQcxlHaJournal {
    BlockDriverState *bs;
    char *region;
    JournalMode mode;
    uint8_t *base;
    uint64_t size;
    uint64_t id;                /* the checkpoint id's first 8 bytes */
    uint64_t head_off, head_seq, head_slot;
    uint64_t tail_off, next_seq, used;
    uint64_t epoch;             /* what new writes are tagged with */
    uint64_t committed;
    uint64_t held_writes, held_bytes;
    QSIMPLEQ_HEAD(, JEntry) pending;
    bool applying;
    bool overflowed;
    CoQueue space;              /* writers waiting for ring space */
    CoRwlock apply_lock;        /* reads against dropping entries */
    QLIST_ENTRY(BDRVQcxlHaJournal) link;
} BDRVQcxlHaJournal;

static QLIST_HEAD(, BDRVQcxlHaJournal) journals =
    QLIST_HEAD_INITIALIZER(journals);

static BlockDriver bdrv_qcxl_ha_journal;

/* the media is little-endian */
#define ld64(p)     ldq_le_p(p)
#define ld32(p)     ldl_le_p(p)
#define st64(p, v)  stq_le_p(p, v)
#define st32(p, v)  stl_le_p(p, v)

static uint32_t crc(const uint8_t *p, uint64_t len)
{
    uint32_t c = 0xffffffff;

    while (len) {
        unsigned int n = MIN(len, 1u << 30);

        c = crc32c(c, p, n);
        p += n;
        len -= n;
    }
    return c;
}

/* An entry header's checksum: its magic and bytes 8..64 */
static uint32_t entry_hcrc(const uint8_t *e)
{
    return crc32c(crc(e + E_MAGIC, 4), e + E_ID, E_HDR - E_ID);
}

static uint64_t entry_size(uint64_t len)
{
    return E_HDR + ROUND_UP(len, E_HDR);
}

static uint64_t ring_size(BDRVQcxlHaJournal *s)
{
    return s->size - RING_OFF;
}

/* ---- Nodes ---- */

BlockDriverState *qcxl_ha_journal_next(BlockDriverState *prev)
{
    BDRVQcxlHaJournal *s = prev ? QLIST_NEXT(
        (BDRVQcxlHaJournal *)prev->opaque, link) : QLIST_FIRST(&journals);

    return s ? s->bs : NULL;
}

bool qcxl_ha_journal_is(BlockDriverState *bs)
{
    return bs && bs->drv == &bdrv_qcxl_ha_journal;
}

const char *qcxl_ha_journal_region(BlockDriverState *bs)
{
    return ((BDRVQcxlHaJournal *)bs->opaque)->region;
}

BlockDriverState *qcxl_ha_journal_find(const char *region)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        if (!strcmp(s->region, region)) {
            return s->bs;
        }
    }
    return NULL;
}

/* ---- The ring ---- */

static void head_write(BDRVQcxlHaJournal *s, uint64_t applied)
{
    uint8_t *h;

    s->head_slot ^= 1;
    h = s->base + HEAD_OFF + s->head_slot * HEAD_SLOT;
    st64(h + HD_SEQ, s->head_seq);
    st64(h + HD_OFF, s->head_off);
    st64(h + HD_APPLIED, applied);
    /* the checksum last: a torn slot is never read */
    smp_mb();
    st32(h + HD_CRC, crc(h, HD_CRC));
    /* the slot is in place before the ring's room is used again */
    smp_mb();
}

/*
 * Room for an entry of @len data bytes at the tail (wrapping if it must),
 * @reserve bytes kept free besides; its header's offset, or 0.
 */
static uint64_t ring_alloc(BDRVQcxlHaJournal *s, uint64_t len,
                           uint64_t reserve, uint64_t *taken)
{
    uint64_t need = entry_size(len), waste = 0;

    if (s->tail_off + need > s->size) {
        waste = s->size - s->tail_off;
    }
    if (s->used + waste + need + reserve > ring_size(s)) {
        return 0;
    }
    if (waste) {
        if (waste >= E_HDR) {
            uint8_t *w = s->base + s->tail_off;

            memset(w, 0, E_HDR);
            st64(w + E_ID, s->id);
            st64(w + E_SEQ, s->next_seq);
            st32(w + E_MAGIC, E_WRAP);
            st32(w + E_HCRC, entry_hcrc(w));
        }
        s->tail_off = RING_OFF;
    }
    *taken = waste + need;
    s->used += waste + need;
    s->tail_off += need;
    return s->tail_off - need;
}

/* Append an entry; its data (@len bytes) at the returned pointer */
static JEntry *append(BDRVQcxlHaJournal *s, uint32_t kind, uint64_t offset,
                      uint64_t len, uint64_t reserve)
{
    uint64_t taken, at = ring_alloc(s, len, reserve, &taken);
    JEntry *e;

    if (!at) {
        return NULL;
    }
    e = g_new0(JEntry, 1);
    e->kind = kind;
    e->seq = s->next_seq++;
    e->epoch = s->epoch;
    e->offset = offset;
    e->len = len;
    e->at = at;
    e->size = taken;
    QSIMPLEQ_INSERT_TAIL(&s->pending, e, next);
    if (kind == E_DATA) {
        s->held_writes++;
        s->held_bytes += len;
    }
    return e;
}

/* Its header, once its data is in place: the magic goes in last */
static void entry_seal(BDRVQcxlHaJournal *s, JEntry *e)
{
    uint8_t *h = s->base + e->at;

    memset(h, 0, E_HDR);
    st64(h + E_ID, s->id);
    st64(h + E_SEQ, e->seq);
    st64(h + E_EPOCH, e->epoch);
    st64(h + E_OFFSET, e->offset);
    st64(h + E_LEN, e->len);
    st32(h + E_DCRC, crc(h + E_HDR, e->len));
    /* the data and the fields before the magic that vouches for them */
    smp_wmb();
    st32(h + E_MAGIC, e->kind);
    st32(h + E_HCRC, entry_hcrc(h));
}

/* Forget the first entry (written to the disk, or dropped) */
static void drop_first(BDRVQcxlHaJournal *s)
{
    JEntry *e = QSIMPLEQ_FIRST(&s->pending);

    QSIMPLEQ_REMOVE_HEAD(&s->pending, next);
    s->used -= e->size;
    if (e->kind == E_DATA) {
        s->held_writes--;
        s->held_bytes -= e->len;
    }
    s->head_seq = e->seq + 1;
    s->head_off = e->at + entry_size(e->len);
    g_free(e);
    if (QSIMPLEQ_EMPTY(&s->pending)) {
        s->head_off = s->tail_off;
    }
}

static void drop_all(BDRVQcxlHaJournal *s)
{
    while (!QSIMPLEQ_EMPTY(&s->pending)) {
        drop_first(s);
    }
}

/*
 * Write the first entries to the disk: those of committed epochs (more
 * may commit meanwhile), or all; the head follows each whole epoch.  In
 * a coroutine.
 */
static int coroutine_fn GRAPH_RDLOCK
write_out(BDRVQcxlHaJournal *s, bool all)
{
    JEntry *e;
    int ret;

    while ((e = QSIMPLEQ_FIRST(&s->pending)) &&
           (all || e->epoch <= s->committed)) {
        uint64_t epoch = e->epoch;
        JEntry *last = NULL;

        for (JEntry *w = e; w && w->epoch == epoch;
             w = QSIMPLEQ_NEXT(w, next)) {
            if (w->kind == E_DATA) {
                ret = bdrv_co_pwrite(s->bs->file, w->offset, w->len,
                                     s->base + w->at + E_HDR, 0);
                if (ret < 0) {
                    return ret;
                }
            }
            last = w;
        }
        ret = bdrv_co_flush(s->bs->file->bs);
        if (ret < 0) {
            return ret;
        }
        /* no read may be between reading the disk and the overlay now */
        qemu_co_rwlock_wrlock(&s->apply_lock);
        while (QSIMPLEQ_FIRST(&s->pending) != last) {
            drop_first(s);
        }
        drop_first(s);
        qemu_co_rwlock_unlock(&s->apply_lock);
        if (s->base && s->mode == J_HOLD) {
            head_write(s, epoch);
        }
        trace_qcxl_ha_journal_applied(s->region, epoch, s->held_writes);
        qemu_co_queue_restart_all(&s->space);
    }
    return 0;
}

static void coroutine_fn apply_co(void *opaque)
{
    BDRVQcxlHaJournal *s = opaque;
    int ret;

    bdrv_graph_co_rdlock();
    ret = write_out(s, false);
    bdrv_graph_co_rdunlock();
    if (ret < 0) {
        /* the entries stay held: a takeover still has them */
        error_report("qcxl-ha-journal %s: writing committed writes to the "
                     "disk failed: %s", s->region, strerror(-ret));
    }
    s->applying = false;
    qemu_co_queue_restart_all(&s->space);
    bdrv_dec_in_flight(s->bs);
}

static void apply_start(BDRVQcxlHaJournal *s)
{
    JEntry *e = QSIMPLEQ_FIRST(&s->pending);

    if (s->applying || !e || e->epoch > s->committed) {
        return;
    }
    s->applying = true;
    bdrv_inc_in_flight(s->bs);
    aio_co_enter(bdrv_get_aio_context(s->bs),
                 qemu_coroutine_create(apply_co, s));
}

/*
 * An epoch wrote more than the ring holds: the disk gets everything now
 * and the journal passes writes through; the region says so, so no
 * takeover uses a checkpoint the disk is ahead of.
 */
static void overflow_mark(BDRVQcxlHaJournal *s)
{
    s->overflowed = true;
    st64(s->base + OVERFLOW_OFF, s->epoch);
    /* marked before any of the epoch's writes reaches the disk */
    smp_mb();
    trace_qcxl_ha_journal_overflow(s->region, s->epoch, s->held_writes);
    error_report("qcxl-ha-journal %s: epoch %" PRIu64 " wrote more than "
                 "the journal's %" PRIu64 " MiB hold: its writes go to the "
                 "disk at once, and protection stops", s->region, s->epoch,
                 ring_size(s) >> 20);
}

/* Every held write to the disk: protection is over for this journal */
static void coroutine_fn GRAPH_RDLOCK write_all(BDRVQcxlHaJournal *s)
{
    int ret = write_out(s, true);

    if (ret < 0) {
        error_report("qcxl-ha-journal %s: writing held writes to the disk "
                     "failed: %s; they are dropped", s->region,
                     strerror(-ret));
        drop_all(s);
    }
    qemu_co_queue_restart_all(&s->space);
}

static void coroutine_fn GRAPH_RDLOCK overflow(BDRVQcxlHaJournal *s)
{
    overflow_mark(s);
    s->mode = J_PASS;
    write_all(s);
}

/* ---- I/O ---- */

static int coroutine_fn GRAPH_RDLOCK
jrnl_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                    QEMUIOVector *qiov, size_t qiov_offset,
                    BdrvRequestFlags flags)
{
    BDRVQcxlHaJournal *s = bs->opaque;
    JEntry *e;
    int ret;

    if (s->mode == J_FENCED) {
        return -EIO;
    }
    qemu_co_rwlock_rdlock(&s->apply_lock);
    ret = bdrv_co_preadv_part(bs->file, offset, bytes, qiov, qiov_offset,
                              flags);
    /* the VM's own writes the disk has not got yet, oldest first */
    QSIMPLEQ_FOREACH(e, &s->pending, next) {
        uint64_t lo = MAX(e->offset, offset);
        uint64_t hi = MIN(e->offset + e->len, offset + bytes);

        if (ret < 0 || e->kind != E_DATA || lo >= hi) {
            continue;
        }
        qemu_iovec_from_buf(qiov, qiov_offset + lo - offset,
                            s->base + e->at + E_HDR + lo - e->offset,
                            hi - lo);
    }
    qemu_co_rwlock_unlock(&s->apply_lock);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
jrnl_co_pwritev_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                     QEMUIOVector *qiov, size_t qiov_offset,
                     BdrvRequestFlags flags)
{
    BDRVQcxlHaJournal *s = bs->opaque;
    JEntry *e;

    for (;;) {
        if (s->mode == J_FENCED) {
            return -EIO;
        }
        if (s->mode == J_PASS && !QSIMPLEQ_EMPTY(&s->pending)) {
            /* older writes are still on their way to the disk */
            qemu_co_queue_wait(&s->space, NULL);
            continue;
        }
        if (s->mode == J_PASS || s->mode == J_BASE) {
            return bdrv_co_pwritev_part(bs->file, offset, bytes, qiov,
                                        qiov_offset, flags);
        }
        e = append(s, E_DATA, offset, bytes, SEAL_RESERVE);
        if (e) {
            break;
        }
        /* writes of committed epochs free room once on the disk */
        e = QSIMPLEQ_FIRST(&s->pending);
        if (e && e->epoch <= s->committed) {
            apply_start(s);
            qemu_co_queue_wait(&s->space, NULL);
            continue;
        }
        /* this epoch alone fills the ring: waiting would never end */
        overflow(s);
    }
    qemu_iovec_to_buf(qiov, qiov_offset, s->base + e->at + E_HDR, bytes);
    entry_seal(s, e);
    return 0;
}

static int coroutine_fn GRAPH_RDLOCK jrnl_co_flush(BlockDriverState *bs)
{
    BDRVQcxlHaJournal *s = bs->opaque;

    /* held writes are in the pool, which outlives this host */
    if (s->mode == J_HOLD) {
        return 0;
    }
    return s->mode == J_FENCED ? -EIO : bdrv_co_flush(bs->file->bs);
}

static int64_t coroutine_fn GRAPH_RDLOCK
jrnl_co_getlength(BlockDriverState *bs)
{
    return bdrv_co_getlength(bs->file->bs);
}

static int jrnl_open(BlockDriverState *bs, QDict *options, int flags,
                     Error **errp)
{
    BDRVQcxlHaJournal *s = bs->opaque;
    const char *region = qdict_get_try_str(options, "region");
    int ret;

    if (!region || !region[0]) {
        error_setg(errp, "qcxl-ha-journal: 'region' (the pool region that "
                   "holds the journal) is required");
        return -EINVAL;
    }
    if (qcxl_ha_journal_find(region)) {
        error_setg(errp, "qcxl-ha-journal: region '%s' is another "
                   "journal's already", region);
        return -EINVAL;
    }
    s->region = g_strdup(region);
    qdict_del(options, "region");
    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        g_free(s->region);
        return ret;
    }
    s->bs = bs;
    s->mode = J_PASS;
    QSIMPLEQ_INIT(&s->pending);
    qemu_co_queue_init(&s->space);
    qemu_co_rwlock_init(&s->apply_lock);
    QLIST_INSERT_HEAD(&journals, s, link);
    /* zero writes become data writes: the ring holds them as such */
    bs->supported_write_flags = 0;
    bs->supported_zero_flags = 0;
    return 0;
}

static void jrnl_close(BlockDriverState *bs)
{
    BDRVQcxlHaJournal *s = bs->opaque;

    /*
     * While protected (QEMU quits, or the node is deleted) this is what
     * a crash leaves: the committed writes are in the region for a
     * takeover, the others go
     */
    drop_all(s);
    QLIST_REMOVE(s, link);
    g_free(s->region);
}

static const char *const jrnl_strong_runtime_opts[] = {
    "region",
    NULL
};

static BlockDriver bdrv_qcxl_ha_journal = {
    .format_name            = "qcxl-ha-journal",
    .instance_size          = sizeof(BDRVQcxlHaJournal),
    .bdrv_open              = jrnl_open,
    .bdrv_close             = jrnl_close,
    .bdrv_child_perm        = bdrv_default_perms,
    .bdrv_co_getlength      = jrnl_co_getlength,
    .bdrv_co_preadv_part    = jrnl_co_preadv_part,
    .bdrv_co_pwritev_part   = jrnl_co_pwritev_part,
    .bdrv_co_flush          = jrnl_co_flush,
    .strong_runtime_opts    = jrnl_strong_runtime_opts,
    /* not a filter: while protected its data is not its child's */
    .is_filter              = false,
};

static void bdrv_qcxl_ha_journal_init(void)
{
    bdrv_register(&bdrv_qcxl_ha_journal);
}

block_init(bdrv_qcxl_ha_journal_init);

/* ---- Driven by the HA engine ---- */

bool qcxl_ha_journal_start(BlockDriverState *bs, uint8_t *base,
                           uint64_t size, const uint8_t id[16],
                           uint64_t epoch, Error **errp)
{
    BDRVQcxlHaJournal *s = bs->opaque;

    if (size < J_MIN_SIZE) {
        error_setg(errp, "disk journal region '%s' holds %" PRIu64
                   " bytes; a journal needs at least 1 MiB", s->region,
                   size);
        return false;
    }
    if (s->mode != J_PASS || !QSIMPLEQ_EMPTY(&s->pending)) {
        error_setg(errp, "disk journal '%s' is in use", s->region);
        return false;
    }
    bdrv_drained_begin(bs);
    s->base = base;
    s->size = size & ~(uint64_t)(E_HDR - 1);
    s->id = ld64(id);
    s->head_off = s->tail_off = RING_OFF;
    s->head_seq = s->next_seq = 1;
    s->head_slot = 0;
    s->used = 0;
    s->epoch = epoch + 1;
    s->committed = epoch;
    s->overflowed = false;
    memset(base, 0, RING_OFF);
    memcpy(base + H_MAGIC, J_MAGIC, 8);
    st32(base + H_VERSION, J_VERSION);
    memcpy(base + H_ID, id, 16);
    st64(base + H_SIZE, s->size);
    st32(base + H_CRC, crc(base, H_CRC));
    head_write(s, epoch);
    s->mode = J_BASE;
    bdrv_drained_end(bs);
    trace_qcxl_ha_journal_start(s->region, s->size, epoch);
    return true;
}

void qcxl_ha_journal_seal(uint64_t epoch)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        JEntry *e;

        if (s->mode != J_HOLD && s->mode != J_BASE) {
            continue;
        }
        /* from epoch 1's pause on, writes are held */
        s->mode = J_HOLD;
        /* the reserve keeps room for it, unless the ring must wrap */
        e = append(s, E_SEAL, 0, 0, 0);
        if (!e) {
            /* the engine sees it and stops: pass() writes it all */
            overflow_mark(s);
            continue;
        }
        entry_seal(s, e);
        trace_qcxl_ha_journal_seal(s->region, epoch, s->held_writes);
        s->epoch = epoch + 1;
    }
}

void qcxl_ha_journal_release(uint64_t epoch)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        if (s->mode == J_HOLD) {
            s->committed = epoch;
            apply_start(s);
        }
    }
}

typedef struct PassCo {
    BDRVQcxlHaJournal *s;
    bool done;
} PassCo;

static void coroutine_fn pass_co(void *opaque)
{
    PassCo *p = opaque;

    bdrv_graph_co_rdlock();
    write_all(p->s);
    bdrv_graph_co_rdunlock();
    p->done = true;
    aio_wait_kick();
}

void qcxl_ha_journal_pass(void)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        if (s->mode == J_BASE) {
            s->mode = J_PASS;
        }
        if (s->mode != J_HOLD) {
            continue;
        }
        bdrv_drained_begin(s->bs);
        s->mode = J_PASS;
        if (!QSIMPLEQ_EMPTY(&s->pending)) {
            PassCo p = { .s = s };

            aio_co_enter(bdrv_get_aio_context(s->bs),
                         qemu_coroutine_create(pass_co, &p));
            BDRV_POLL_WHILE(s->bs, !p.done);
        }
        bdrv_drained_end(s->bs);
        trace_qcxl_ha_journal_pass(s->region);
    }
}

void qcxl_ha_journal_drop(void)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        if (s->mode == J_HOLD || s->mode == J_BASE) {
            trace_qcxl_ha_journal_drop(s->region, s->held_writes);
            s->mode = J_FENCED;
            drop_all(s);
        }
    }
}

void qcxl_ha_journal_count(uint64_t *writes, uint64_t *bytes)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        *writes += s->held_writes;
        *bytes += s->held_bytes;
    }
}

bool qcxl_ha_journal_overflowed(char **region)
{
    BDRVQcxlHaJournal *s;

    QLIST_FOREACH(s, &journals, link) {
        if (s->overflowed && s->base) {
            *region = g_strdup(s->region);
            return true;
        }
    }
    return false;
}

void qcxl_ha_journal_detach_all(void)
{
    BDRVQcxlHaJournal *s;

    qcxl_ha_journal_pass();
    QLIST_FOREACH(s, &journals, link) {
        s->base = NULL;
        s->overflowed = false;
    }
}

/* ---- Takeover ---- */

typedef struct Scan {
    const uint8_t *base;
    uint64_t size, id;
    GArray *writes;             /* const uint8_t *: entry headers */
} Scan;

/* The entry header at @off, if it is the one of @seq */
static const uint8_t *entry_at(const Scan *sc, uint64_t *off, uint64_t seq)
{
    for (int wraps = 0; wraps < 2; wraps++) {
        const uint8_t *h;

        if (*off + E_HDR > sc->size) {
            *off = RING_OFF;
            continue;
        }
        h = sc->base + *off;
        if (ld64(h + E_ID) != sc->id || ld64(h + E_SEQ) != seq ||
            ld32(h + E_HCRC) != entry_hcrc(h)) {
            return NULL;
        }
        if (ld32(h + E_MAGIC) != E_WRAP) {
            return h;
        }
        *off = RING_OFF;
    }
    return NULL;
}

static bool scan(Scan *sc, const uint8_t *head, uint64_t epoch,
                 uint64_t disk_len, const char *region, Error **errp)
{
    uint64_t seq = ld64(head + HD_SEQ), off = ld64(head + HD_OFF);
    uint64_t applied = ld64(head + HD_APPLIED);
    uint64_t max = (sc->size - RING_OFF) / E_HDR;

    if (off < RING_OFF || off > sc->size || off % E_HDR) {
        error_setg(errp, "disk journal '%s': its head (0x%" PRIx64 ") lies "
                   "outside its ring", region, off);
        return false;
    }
    for (uint64_t n = 0; n <= max; n++, seq++) {
        const uint8_t *h = entry_at(sc, &off, seq);
        uint64_t e, len, at;

        if (!h) {
            error_setg(errp, "disk journal '%s' ends at entry %" PRIu64
                       " before the end of epoch %" PRIu64 ": writes of a "
                       "committed epoch are missing or damaged", region,
                       seq, epoch);
            return false;
        }
        e = ld64(h + E_EPOCH);
        len = ld64(h + E_LEN);
        at = off;
        if (e <= applied || e > epoch) {
            error_setg(errp, "disk journal '%s': entry %" PRIu64 " is of "
                       "epoch %" PRIu64 ", outside epochs %" PRIu64 " to %"
                       PRIu64 " it must hold", region, seq, e, applied + 1,
                       epoch);
            return false;
        }
        if (len > sc->size - at - E_HDR ||
            ld32(h + E_DCRC) != crc(h + E_HDR, len)) {
            error_setg(errp, "disk journal '%s': the data of entry %"
                       PRIu64 " (epoch %" PRIu64 ") is damaged", region,
                       seq, e);
            return false;
        }
        switch (ld32(h + E_MAGIC)) {
        case E_DATA:
            if (ld64(h + E_OFFSET) > disk_len ||
                len > disk_len - ld64(h + E_OFFSET)) {
                error_setg(errp, "disk journal '%s': entry %" PRIu64
                           " writes beyond the disk's %" PRIu64 " bytes",
                           region, seq, disk_len);
                return false;
            }
            g_array_append_val(sc->writes, h);
            break;
        case E_SEAL:
            if (e == epoch) {
                return true;
            }
            break;
        default:
            error_setg(errp, "disk journal '%s': entry %" PRIu64 " has an "
                       "unknown kind", region, seq);
            return false;
        }
        off = at + entry_size(len);
    }
    error_setg(errp, "disk journal '%s' holds no end of epoch %" PRIu64,
               region, epoch);
    return false;
}

/* The head slot to start from: the valid one furthest on */
static const uint8_t *head_pick(const uint8_t *base)
{
    const uint8_t *best = NULL;

    for (int i = 0; i < 2; i++) {
        const uint8_t *h = base + HEAD_OFF + i * HEAD_SLOT;

        if (ld32(h + HD_CRC) == crc(h, HD_CRC) &&
            (!best || ld64(h + HD_SEQ) > ld64(best + HD_SEQ))) {
            best = h;
        }
    }
    return best;
}

bool qcxl_ha_journal_replay(BlockDriverState *bs, const uint8_t *base,
                            uint64_t size, const uint8_t id[16],
                            uint64_t epoch, uint64_t *applied,
                            Error **errp)
{
    BDRVQcxlHaJournal *s = bs->opaque;
    g_autoptr(GArray) writes = g_array_new(false, false,
                                           sizeof(const uint8_t *));
    Scan sc = { .base = base, .writes = writes };
    const uint8_t *head;
    int64_t disk_len;
    int ret = 0;

    *applied = 0;
    if (size < J_MIN_SIZE || memcmp(base + H_MAGIC, J_MAGIC, 8) ||
        ld32(base + H_CRC) != crc(base, H_CRC)) {
        error_setg(errp, "disk journal '%s': no journal header, or a "
                   "damaged one", s->region);
        return false;
    }
    sc.size = ld64(base + H_SIZE);
    if (ld32(base + H_VERSION) != J_VERSION || sc.size > size ||
        sc.size < J_MIN_SIZE || sc.size % E_HDR) {
        error_setg(errp, "disk journal '%s': version %u or size %" PRIu64
                   " is not one this QEMU reads", s->region,
                   ld32(base + H_VERSION), sc.size);
        return false;
    }
    if (memcmp(base + H_ID, id, 16)) {
        error_setg(errp, "disk journal '%s' belongs to another checkpoint",
                   s->region);
        return false;
    }
    if (ld64(base + OVERFLOW_OFF)) {
        error_setg(errp, "disk journal '%s' overflowed in epoch %" PRIu64
                   ": the disk holds writes no committed epoch covers",
                   s->region, ld64(base + OVERFLOW_OFF));
        return false;
    }
    head = head_pick(base);
    if (!head) {
        error_setg(errp, "disk journal '%s': both head slots are damaged",
                   s->region);
        return false;
    }
    sc.id = ld64(id);
    if (ld64(head + HD_APPLIED) > epoch) {
        error_setg(errp, "disk journal '%s' wrote epoch %" PRIu64 " to the "
                   "disk, after the checkpoint's %" PRIu64, s->region,
                   ld64(head + HD_APPLIED), epoch);
        return false;
    }
    GRAPH_RDLOCK_GUARD_MAINLOOP();
    disk_len = bdrv_getlength(bs->file->bs);
    if (disk_len < 0) {
        error_setg_errno(errp, -disk_len, "disk journal '%s': the disk's "
                         "length", s->region);
        return false;
    }
    if (ld64(head + HD_APPLIED) < epoch &&
        !scan(&sc, head, epoch, disk_len, s->region, errp)) {
        return false;
    }
    for (guint i = 0; i < writes->len && ret >= 0; i++) {
        const uint8_t *h = g_array_index(writes, const uint8_t *, i);

        ret = bdrv_pwrite(bs->file, ld64(h + E_OFFSET), ld64(h + E_LEN),
                          h + E_HDR, 0);
    }
    if (ret >= 0) {
        ret = bdrv_flush(bs->file->bs);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "disk journal '%s': writing its "
                         "committed writes to the disk", s->region);
        return false;
    }
    *applied = writes->len;
    trace_qcxl_ha_journal_replay(s->region, epoch, writes->len);
    return true;
}
