/*
 * Unit tests of the HA checkpoint format (hw/mem/qcxl-ckpt.c)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A checkpoint region is a heap buffer here.  Damaged and hostile
 * headers, records and logs are written at the offsets
 * include/hw/mem/qcxl_ckpt.h names; each must be refused with an error,
 * and replay must never write outside the images.
 */

#include <string.h>
#include "hw/mem/qcxl_ckpt.h"
#include "hw/mem/qcxl_pool.h"

#define MiB (1ULL << 20)
#define PG QCXL_CKPT_PAGE
#define REGION (24 * MiB)
#define BIG (8 * MiB)           /* block 0, an image region */
#define SMALL (64 * 1024)       /* block 1, inline */

typedef struct Fixture {
    uint8_t *base;
    QcxlCkptLayout l;
    uint8_t *big;               /* block 0's image region */
    uint64_t writes_outside;
} Fixture;

static void layout(QcxlCkptLayout *l)
{
    memset(l, 0, sizeof(*l));
    g_strlcpy(l->host, "hostA", sizeof(l->host));
    l->epoch_ms = 100;
    l->devstate_max = 2 * MiB;
    l->nblocks = 2;
    g_strlcpy(l->blocks[0].name, "ram0", sizeof(l->blocks[0].name));
    l->blocks[0].size = BIG;
    l->blocks[0].kind = QCXL_CKPT_IMAGE_REGION;
    g_strlcpy(l->blocks[0].region, "vm1-ram", sizeof(l->blocks[0].region));
    g_strlcpy(l->blocks[1].name, "/rom@etc/acpi/tables",
              sizeof(l->blocks[1].name));
    l->blocks[1].size = SMALL;
    l->blocks[1].kind = QCXL_CKPT_IMAGE_INLINE;
}

static void setup(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    QcxlCkptLayout l;

    f->base = g_malloc0(REGION);
    f->big = g_malloc0(BIG);
    f->writes_outside = 0;
    layout(&l);
    g_assert_true(qcxl_ckpt_plan(&l, REGION, &err));
    g_assert_no_error(err);
    qcxl_ckpt_format(f->base, &l);
    g_assert_true(qcxl_ckpt_open(f->base, REGION, &f->l, &err));
    g_assert_no_error(err);
}

static void teardown(Fixture *f, gconstpointer data)
{
    g_free(f->base);
    g_free(f->big);
}

static uint8_t *image(void *opaque, uint32_t block, uint64_t offset,
                      uint64_t len)
{
    Fixture *f = opaque;
    const QcxlCkptBlock *b = &f->l.blocks[block];

    if (offset > b->size || len > b->size - offset) {
        f->writes_outside++;
        return NULL;
    }
    if (b->kind == QCXL_CKPT_IMAGE_REGION) {
        return f->big + offset;
    }
    return qcxl_ckpt_inline_image(f->base, &f->l, block) + offset;
}

/* Epoch @epoch: @n pages of block 0 from page @first, each filled with @v */
static void commit_epoch(Fixture *f, uint64_t epoch, uint64_t first,
                         uint32_t n, uint8_t v)
{
    QcxlCkptLog w;
    QcxlCkptRecord rec;
    uint8_t *dst, *ds;

    qcxl_ckpt_log_init(&w, f->base, &f->l, epoch);
    dst = qcxl_ckpt_log_reserve(&w, 0, first * PG, n);
    g_assert_nonnull(dst);
    memset(dst, v, n * PG);
    dst = qcxl_ckpt_log_reserve(&w, 1, 0, 1);
    g_assert_nonnull(dst);
    memset(dst, v, PG);
    ds = qcxl_ckpt_devstate(f->base, &f->l, epoch);
    memset(ds, v, 100);
    qcxl_ckpt_record_write(f->base, &f->l, epoch, &w, 100, 1, 2, &rec);
    g_assert_true(qcxl_ckpt_commit(f->base, epoch - 1, epoch));
}

static void test_plan(void)
{
    g_autoptr(GError) err = NULL;
    QcxlCkptLayout l;

    layout(&l);
    g_assert_false(qcxl_ckpt_plan(&l, 4 * MiB + SMALL, &err));
    g_assert_error(err, QCXL_CKPT_ERROR, QCXL_CKPT_ERR_NO_SPACE);
    g_assert_nonnull(strstr(err->message, "too small"));
    g_clear_error(&err);
    layout(&l);
    g_assert_true(qcxl_ckpt_plan(&l, REGION, &err));
    g_assert_cmpuint(l.inline_size, ==, SMALL);
    g_assert_cmpuint(l.blocks[1].offset, ==, QCXL_CKPT_FIXED_END);
    g_assert_cmpuint(l.log_off[1] + l.log_max, <=, REGION);
    g_assert_cmpuint(l.log_max, >=, (REGION - 5 * MiB) / 2 - PG);
}

static void test_roundtrip(Fixture *f, gconstpointer data)
{
    g_autoptr(GError) err = NULL;
    QcxlCkptRecord rec;

    g_assert_true(qcxl_ckpt_probe(f->base, REGION));
    g_assert_cmpstr(f->l.host, ==, "hostA");
    g_assert_cmpstr(f->l.blocks[1].name, ==, "/rom@etc/acpi/tables");
    g_assert_cmpuint(qcxl_ckpt_commit_read(f->base), ==, 0);
    g_assert_false(qcxl_ckpt_record_read(f->base, &f->l, 0, &rec, &err));
    g_assert_error(err, QCXL_CKPT_ERROR, QCXL_CKPT_ERR_NONE);
    g_clear_error(&err);

    commit_epoch(f, 1, 3, 5, 0x11);
    commit_epoch(f, 2, 4, 1, 0x22);
    g_assert_cmpuint(qcxl_ckpt_commit_read(f->base), ==, 2);
    /* epoch 1's slot is intact: a replay of 1 then 2 gives the images */
    for (uint64_t e = 1; e <= 2; e++) {
        g_assert_true(qcxl_ckpt_record_read(f->base, &f->l, e, &rec, &err));
        g_assert_no_error(err);
        g_assert_cmpuint(rec.entries, ==, 2);
        g_assert_cmpuint(rec.devstate_len, ==, 100);
        g_assert_true(qcxl_ckpt_replay(f->base, &f->l, &rec, image, f,
                                       &err));
        g_assert_no_error(err);
    }
    g_assert_cmpuint(f->big[2 * PG], ==, 0);
    g_assert_cmpuint(f->big[3 * PG], ==, 0x11);
    g_assert_cmpuint(f->big[4 * PG + 7], ==, 0x22);
    g_assert_cmpuint(f->big[7 * PG + PG - 1], ==, 0x11);
    g_assert_cmpuint(f->big[8 * PG], ==, 0);
    g_assert_cmpuint(qcxl_ckpt_inline_image(f->base, &f->l, 1)[5], ==, 0x22);
    g_assert_cmpuint(f->writes_outside, ==, 0);

    /* a takeover freezes the word: the old primary's commit fails */
    g_assert_cmpuint(qcxl_ckpt_take(f->base), ==, 2);
    g_assert_false(qcxl_ckpt_commit(f->base, 2, 3));
    g_assert_cmpuint(qcxl_ckpt_commit_read(f->base), ==,
                     2 | QCXL_CKPT_TAKEN);
    qcxl_ckpt_applied_set(f->base, 2);
    g_assert_cmpuint(qcxl_ckpt_applied_read(f->base), ==, 2);
}

static void test_log_full(Fixture *f, gconstpointer data)
{
    QcxlCkptLog w;
    uint64_t pages = 0;

    qcxl_ckpt_log_init(&w, f->base, &f->l, 1);
    while (qcxl_ckpt_log_reserve(&w, 0, 0, 1)) {
        pages++;
    }
    /* each page costs PG + one 16-byte entry */
    g_assert_cmpuint(pages, ==, f->l.log_max / (PG + QCXL_CKPT_LOG_ENTRY));
    g_assert_cmpuint(w.data_bytes + w.entries * QCXL_CKPT_LOG_ENTRY, <=,
                     f->l.log_max);
}

/* Every single-byte change of the header or directory is refused */
static void test_header_damage(Fixture *f, gconstpointer data)
{
    QcxlCkptLayout l;

    for (uint64_t off = 0; off < 152; off++) {
        g_autoptr(GError) err = NULL;

        f->base[off] ^= 0x40;
        g_assert_false(qcxl_ckpt_open(f->base, REGION, &l, &err));
        g_assert_error(err, QCXL_CKPT_ERROR, QCXL_CKPT_ERR_FORMAT);
        f->base[off] ^= 0x40;
    }
    for (uint64_t off = QCXL_CKPT_DIR_OFF; off < QCXL_CKPT_RECORD_OFF;
         off += 97) {
        g_autoptr(GError) err = NULL;

        f->base[off] ^= 1;
        g_assert_false(qcxl_ckpt_open(f->base, REGION, &l, &err));
        g_assert_nonnull(strstr(err->message, "directory"));
        f->base[off] ^= 1;
    }
    /* a region smaller than the header says */
    {
        g_autoptr(GError) err = NULL;

        g_assert_false(qcxl_ckpt_open(f->base, REGION - PG, &l, &err));
        g_assert_nonnull(strstr(err->message, "do not fit"));
    }
    g_assert_true(qcxl_ckpt_open(f->base, REGION, &l, NULL));
}

/* Rewrite record @epoch's checksum after a field was changed */
static uint8_t *record(Fixture *f, uint64_t epoch)
{
    return f->base + QCXL_CKPT_RECORD_OFF +
           (epoch & 1) * QCXL_CKPT_RECORD_SIZE;
}

static void reseal(Fixture *f, uint64_t epoch)
{
    uint8_t *r = record(f, epoch);
    uint32_t crc = GUINT32_TO_LE(qcxl_crc32c(0, r, 56));

    memcpy(r + 56, &crc, 4);
}

/* And the log checksum, after an index entry was changed */
static void reseal_log(Fixture *f, uint64_t epoch)
{
    uint8_t *r = record(f, epoch), *log = f->base + f->l.log_off[epoch & 1];
    uint64_t entries, data;
    uint32_t crc;

    memcpy(&entries, r + 8, 8);
    memcpy(&data, r + 16, 8);
    crc = qcxl_crc32c(qcxl_crc32c(0, log, data),
                      log + f->l.log_max - entries * 16, entries * 16);
    crc = GUINT32_TO_LE(crc);
    memcpy(r + 32, &crc, 4);
    reseal(f, epoch);
}

static void expect_refused(Fixture *f, uint64_t epoch, const char *what)
{
    g_autoptr(GError) err = NULL;
    QcxlCkptRecord rec;

    g_assert_false(qcxl_ckpt_record_read(f->base, &f->l, epoch, &rec, &err));
    g_assert_error(err, QCXL_CKPT_ERROR, QCXL_CKPT_ERR_FORMAT);
    if (!strstr(err->message, what)) {
        g_error("expected '%s' in: %s", what, err->message);
    }
}

static void set64(uint8_t *p, uint64_t v)
{
    v = GUINT64_TO_LE(v);
    memcpy(p, &v, 8);
}

static void set32(uint8_t *p, uint32_t v)
{
    v = GUINT32_TO_LE(v);
    memcpy(p, &v, 4);
}

static void test_hostile_record(Fixture *f, gconstpointer data)
{
    g_autofree uint8_t *saved = NULL;
    uint8_t *log, *entry0;
    uint64_t span = QCXL_CKPT_RECORD_SIZE;

    commit_epoch(f, 1, 0, 2, 0x33);
    saved = g_memdup2(record(f, 1), span);
    log = f->base + f->l.log_off[1];
    entry0 = log + f->l.log_max - 16;

#define RESTORE() do { \
        memcpy(record(f, 1), saved, span); \
        memcpy(entry0, saved_entry, 16); \
        log[5] = saved_byte; \
        f->base[f->l.devstate_off[1] + 3] = saved_ds; \
    } while (0)
    uint8_t saved_entry[16], saved_byte = log[5];
    uint8_t saved_ds = f->base[f->l.devstate_off[1] + 3];
    memcpy(saved_entry, entry0, 16);

    record(f, 1)[8] ^= 1;
    expect_refused(f, 1, "record of epoch 1 is damaged");
    RESTORE();
    set64(record(f, 1), 3);             /* a record of another epoch */
    reseal(f, 1);
    expect_refused(f, 1, "is epoch 3");
    RESTORE();
    set64(record(f, 1) + 8, UINT64_MAX / 8);        /* entries */
    reseal(f, 1);
    expect_refused(f, 1, "does not fit its slot");
    RESTORE();
    set64(record(f, 1) + 16, 3 * PG + 1);           /* data bytes */
    reseal(f, 1);
    expect_refused(f, 1, "does not fit its slot");
    RESTORE();
    set64(record(f, 1) + 24, f->l.devstate_max + 1);
    reseal(f, 1);
    expect_refused(f, 1, "does not fit its slot");
    RESTORE();
    log[5] ^= 0xff;
    expect_refused(f, 1, "log of epoch 1 is damaged");
    RESTORE();
    f->base[f->l.devstate_off[1] + 3] ^= 1;
    expect_refused(f, 1, "device state of epoch 1 is damaged");
    RESTORE();
    set32(entry0, 7);                   /* block 7 of 2 */
    reseal_log(f, 1);
    expect_refused(f, 1, "does not exist");
    RESTORE();
    set32(entry0 + 4, 0);               /* no pages */
    reseal_log(f, 1);
    expect_refused(f, 1, "do not fit RAM block");
    RESTORE();
    set64(entry0 + 8, BIG - PG);        /* runs past the block */
    reseal_log(f, 1);
    expect_refused(f, 1, "do not fit RAM block");
    RESTORE();
    set64(entry0 + 8, 17);              /* not page aligned */
    reseal_log(f, 1);
    expect_refused(f, 1, "do not fit RAM block");
    RESTORE();
    set32(entry0 + 4, 3);               /* more pages than the data */
    reseal_log(f, 1);
    expect_refused(f, 1, "more pages than its data");
    RESTORE();
    set32(entry0 + 4, 1);               /* fewer */
    reseal_log(f, 1);
    expect_refused(f, 1, "fewer pages than its data");
    RESTORE();
#undef RESTORE
    {
        g_autoptr(GError) err = NULL;
        QcxlCkptRecord rec;

        g_assert_true(qcxl_ckpt_record_read(f->base, &f->l, 1, &rec, &err));
        g_assert_no_error(err);
    }
}

/*
 * Random records and index entries, sealed with valid checksums: each is
 * refused or replays within the images, never anything else.
 */
static void test_random_records(Fixture *f, gconstpointer data)
{
    GRand *rnd = g_rand_new_with_seed(20261128);
    uint8_t *log = f->base + f->l.log_off[1];
    unsigned accepted = 0;

    for (int round = 0; round < 3000; round++) {
        g_autoptr(GError) err = NULL;
        QcxlCkptRecord rec;
        uint8_t *r = record(f, 1);
        uint32_t n = g_rand_int_range(rnd, 0, 4);

        memset(r, 0, 64);
        set64(r, 1);
        set64(r + 8, n);
        set64(r + 16, g_rand_int_range(rnd, 0, 4) * PG +
                      (g_rand_boolean(rnd) ? 0 : g_rand_int(rnd) % PG));
        set64(r + 24, g_rand_int_range(rnd, 0, 200));
        for (uint32_t i = 0; i < n; i++) {
            uint8_t *e = log + f->l.log_max - (i + 1) * 16;

            set32(e, g_rand_int_range(rnd, 0, 3));
            set32(e + 4, g_rand_boolean(rnd) ? (uint32_t)g_rand_int_range(rnd, 0, 3)
                                             : g_rand_int(rnd));
            set64(e + 8, g_rand_boolean(rnd)
                         ? (uint64_t)g_rand_int_range(rnd, 0, 2100) * PG
                         : ((uint64_t)g_rand_int(rnd) << 32 |
                            g_rand_int(rnd)));
        }
        {
            uint64_t d;
            uint32_t crc;

            memcpy(&d, r + 16, 8);
            d = GUINT64_FROM_LE(d);
            crc = qcxl_crc32c(0, f->base + f->l.devstate_off[1],
                              MIN(GUINT64_FROM_LE(*(uint64_t *)(r + 24)),
                                  f->l.devstate_max));
            set32(r + 36, crc);
            if (d <= f->l.log_max - n * 16) {
                reseal_log(f, 1);
            } else {
                reseal(f, 1);
            }
        }
        if (qcxl_ckpt_record_read(f->base, &f->l, 1, &rec, &err)) {
            accepted++;
            g_assert_true(qcxl_ckpt_replay(f->base, &f->l, &rec, image, f,
                                           &err));
        } else {
            g_assert_nonnull(err);
        }
    }
    /* both outcomes happened, and nothing was written out of bounds */
    g_assert_cmpuint(accepted, >, 0);
    g_assert_cmpuint(accepted, <, 3000);
    g_assert_cmpuint(f->writes_outside, ==, 0);
    g_rand_free(rnd);
}

/* The checksum everything uses: its check value, and chaining */
static void test_crc32c(void)
{
    g_autofree uint8_t *buf = g_malloc(4099);

    g_assert_cmphex(qcxl_crc32c(0, "123456789", 9), ==, 0xe3069283);
    for (int i = 0; i < 4099; i++) {
        buf[i] = i * 7 + 3;
    }
    for (size_t cut = 0; cut <= 4099; cut += 13) {
        g_assert_cmphex(qcxl_crc32c(qcxl_crc32c(0, buf, cut), buf + cut,
                                    4099 - cut), ==,
                        qcxl_crc32c(0, buf, 4099));
    }
}

#define ADD(path, fn) \
    g_test_add("/ckpt/" path, Fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ckpt/crc32c", test_crc32c);
    g_test_add_func("/ckpt/plan", test_plan);
    ADD("roundtrip", test_roundtrip);
    ADD("log-full", test_log_full);
    ADD("header-damage", test_header_damage);
    ADD("hostile-record", test_hostile_record);
    ADD("random-records", test_random_records);
    return g_test_run();
}
