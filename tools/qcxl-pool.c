/*
 * qcxl-pool: administer a shared CXL pool
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Every change is one transaction on the pool's own metadata (see
 * hw/mem/qcxl-pool-*.c), so this tool can run while QEMUs use the pool.
 * Nothing that destroys data happens without --force.  See qcxl-pool(1)
 * and docs/pool.rst.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "hw/mem/qcxl_pool.h"
#include "hw/mem/qcxl_ckpt.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };
/* fsck, as fsck(8): 0 clean, 1 repaired, 4 problems left, 8 error */
enum { FSCK_CLEAN = 0, FSCK_REPAIRED = 1, FSCK_LEFT = 4, FSCK_ERROR = 8 };

static gchar *opt_size, *opt_extent, *opt_owner;
static gint opt_lease = QCXL_POOL_DEFAULT_LEASE_MS;
static gboolean opt_force, opt_shared, opt_json, opt_repair, opt_now;

static const GOptionEntry options[] = {
    { "size", 's', 0, G_OPTION_ARG_STRING, &opt_size,
      "format: pool size (file pools; K, M, G, T suffixes)", "SIZE" },
    { "extent-size", 'e', 0, G_OPTION_ARG_STRING, &opt_extent,
      "format: allocation unit, a power of two >= 2M (default 2M)", "SIZE" },
    { "lease-ms", 'l', 0, G_OPTION_ARG_INT, &opt_lease,
      "format: lease period in ms (default 5000)", "MS" },
    { "owner", 'o', 0, G_OPTION_ARG_STRING, &opt_owner,
      "create: the host that owns the region", "HOST" },
    { "shared", 0, 0, G_OPTION_ARG_NONE, &opt_shared,
      "create: a shared region (sharers may map it too)", NULL },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &opt_force,
      "allow what destroys data (format over data, shrink, delete)", NULL },
    { "repair", 0, 0, G_OPTION_ARG_NONE, &opt_repair,
      "fsck: repair what can be repaired", NULL },
    { "now", 0, 0, G_OPTION_ARG_NONE, &opt_now,
      "evict: do not watch the heartbeat first", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
      "list, inspect, fsck: JSON output", NULL },
    { NULL }
};

static const char summary[] =
    "Commands:\n"
    "  format POOL --size SIZE [--extent-size SIZE] [--lease-ms MS] "
    "[--force]\n"
    "  inspect POOL                superblock, metadata copies, lock\n"
    "  list POOL                   hosts, regions and capacity\n"
    "  host-add POOL HOST          register a host\n"
    "  host-remove POOL HOST       unregister an inactive host\n"
    "  create POOL REGION SIZE --owner HOST [--shared]\n"
    "  resize POOL REGION SIZE [--force to shrink]\n"
    "  delete POOL REGION --force  destroys the region's data\n"
    "  share POOL REGION HOST      let HOST map the region too\n"
    "  unshare POOL REGION HOST\n"
    "  chown POOL REGION HOST      give the region to HOST\n"
    "  evict POOL HOST [--now]     fence a host whose heartbeat stopped\n"
    "  fsck POOL [--repair]        check (and repair) the metadata\n"
    "\n"
    "POOL is a file (e.g. in /dev/shm) or a /dev/daxX.Y device.";

static bool parse_size(const char *s, uint64_t *out, GError **errp)
{
    char *end = NULL;
    guint64 v, mul = 1;

    if (!s || !g_ascii_isdigit(*s)) {
        goto bad;
    }
    errno = 0;
    v = g_ascii_strtoull(s, &end, 10);
    if (errno) {
        goto bad;
    }
    switch (g_ascii_toupper(*end)) {
    case 'K': mul = 1ULL << 10; end++; break;
    case 'M': mul = 1ULL << 20; end++; break;
    case 'G': mul = 1ULL << 30; end++; break;
    case 'T': mul = 1ULL << 40; end++; break;
    case 0: break;
    default: goto bad;
    }
    if (*end == 'i' || *end == 'B') {
        end += *end == 'i' ? 1 : 0;
        end += *end == 'B' ? 1 : 0;
    }
    if (*end || v > G_MAXUINT64 / mul) {
        goto bad;
    }
    *out = v * mul;
    return true;
bad:
    g_set_error(errp, QCXL_POOL_ERROR, QCXL_POOL_ERR_INVALID,
                "bad size '%s' (a number with an optional K, M, G or T)",
                s ? s : "");
    return false;
}

static char *human(uint64_t v)
{
    return g_format_size_full(v, G_FORMAT_SIZE_IEC_UNITS);
}

static void print_json(JsonBuilder *b)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *text = NULL;

    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, true);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

static char *uuid_str(const uint8_t *u)
{
    return g_strdup_printf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                           "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3],
                           u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
                           u[12], u[13], u[14], u[15]);
}

static char *hosts_in(const QcxlPoolMeta *meta, uint64_t bits)
{
    g_autoptr(GString) s = g_string_new(NULL);

    for (int h = 0; h < QCXL_POOL_HOSTS; h++) {
        if (bits >> h & 1) {
            g_string_append_printf(s, "%s%s", s->len ? "," : "",
                                   meta->hosts[h].state ?
                                   meta->hosts[h].name : "?");
        }
    }
    return g_string_free(g_steal_pointer(&s), s->len == 0);
}

static void add_hosts_array(JsonBuilder *b, const QcxlPoolMeta *meta,
                            uint64_t bits)
{
    json_builder_begin_array(b);
    for (int h = 0; h < QCXL_POOL_HOSTS; h++) {
        if (bits >> h & 1) {
            json_builder_add_string_value(b, meta->hosts[h].name);
        }
    }
    json_builder_end_array(b);
}

/* An HA checkpoint in region @r, as its first extent shows it */
typedef struct CkptView {
    QcxlCkptLayout l;
    uint64_t word, applied;
    bool has_rec;
    QcxlCkptRecord rec;
    char *error;                /* the header is damaged: why */
} CkptView;

static bool ckpt_view(QcxlPool *pool, const QcxlPoolMeta *meta, int r,
                      CkptView *v)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint32_t *ext = NULL;
    const uint8_t *base;
    uint32_t n;

    memset(v, 0, sizeof(*v));
    ext = qcxl_pool_region_extents(meta, r, &n);
    if (!n) {
        return false;
    }
    /* header, directory, words and records lie in the first extent */
    base = qcxl_pool_base(pool) + qcxl_pool_extent_offset(pool, ext[0]);
    if (!qcxl_ckpt_probe(base, qcxl_pool_super(pool)->extent_size)) {
        return false;
    }
    if (!qcxl_ckpt_open(base, meta->regions[r].size, &v->l, &err)) {
        v->error = g_strdup(err->message);
        return true;
    }
    v->word = qcxl_ckpt_commit_read(base);
    v->applied = qcxl_ckpt_applied_read(base);
    v->has_rec = qcxl_ckpt_record_peek(base, v->word & QCXL_CKPT_EPOCH_MASK,
                                       &v->rec);
    return true;
}

static const char *ckpt_state(const CkptView *v)
{
    return v->error ? "damaged" :
           v->word & QCXL_CKPT_TAKEN ? "taken-over" :
           v->word & QCXL_CKPT_ABANDONED ? "abandoned" :
           !(v->word & QCXL_CKPT_EPOCH_MASK) ? "no-epoch" : "protected";
}

static void json_checkpoints(JsonBuilder *b, QcxlPool *pool,
                             const QcxlPoolMeta *meta)
{
    json_builder_set_member_name(b, "checkpoints");
    json_builder_begin_array(b);
    for (int r = 0; r < QCXL_POOL_REGIONS; r++) {
        CkptView v;

        if (!meta->regions[r].state || !ckpt_view(pool, meta, r, &v)) {
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "region");
        json_builder_add_string_value(b, meta->regions[r].name);
        json_builder_set_member_name(b, "state");
        json_builder_add_string_value(b, ckpt_state(&v));
        if (v.error) {
            json_builder_set_member_name(b, "error");
            json_builder_add_string_value(b, v.error);
            g_free(v.error);
            json_builder_end_object(b);
            continue;
        }
        json_builder_set_member_name(b, "host");
        json_builder_add_string_value(b, v.l.host);
        json_builder_set_member_name(b, "epoch");
        json_builder_add_int_value(b, v.word & QCXL_CKPT_EPOCH_MASK);
        json_builder_set_member_name(b, "applied");
        json_builder_add_int_value(b, v.applied);
        json_builder_set_member_name(b, "epoch-ms");
        json_builder_add_int_value(b, v.l.epoch_ms);
        if (v.has_rec) {
            json_builder_set_member_name(b, "committed-ns");
            json_builder_add_int_value(b, v.rec.commit_ns);
            json_builder_set_member_name(b, "pause-us");
            json_builder_add_int_value(b, v.rec.pause_ns / 1000);
        }
        json_builder_set_member_name(b, "images");
        json_builder_begin_array(b);
        for (uint32_t i = 0; i < v.l.nblocks; i++) {
            if (v.l.blocks[i].kind != QCXL_CKPT_IMAGE_REGION) {
                continue;
            }
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "block");
            json_builder_add_string_value(b, v.l.blocks[i].name);
            json_builder_set_member_name(b, "region");
            json_builder_add_string_value(b, v.l.blocks[i].region);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_set_member_name(b, "journals");
        json_builder_begin_array(b);
        for (uint32_t j = 0; j < v.l.njournals; j++) {
            json_builder_add_string_value(b, v.l.journals[j]);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void print_checkpoints(QcxlPool *pool, const QcxlPoolMeta *meta)
{
    bool header = false;

    for (int r = 0; r < QCXL_POOL_REGIONS; r++) {
        CkptView v;
        g_autofree char *age = NULL, *images = NULL;
        GString *im;

        if (!meta->regions[r].state || !ckpt_view(pool, meta, r, &v)) {
            continue;
        }
        if (!header) {
            printf("\n%-24s %-12s %-11s %10s %-14s %s\n", "CHECKPOINT",
                   "HOST", "STATE", "EPOCH", "COMMITTED", "IMAGES");
            header = true;
        }
        if (v.error) {
            printf("%-24s %-12s %-11s %10s %-14s %s\n",
                   meta->regions[r].name, "-", ckpt_state(&v), "-", "-",
                   v.error);
            g_free(v.error);
            continue;
        }
        if (v.has_rec) {
            int64_t ms = (g_get_real_time() * 1000 -
                          (int64_t)v.rec.commit_ns) / 1000000;

            age = g_strdup_printf("%.1f s ago", MAX(ms, 0) / 1000.0);
        }
        im = g_string_new(NULL);
        for (uint32_t i = 0; i < v.l.nblocks; i++) {
            if (v.l.blocks[i].kind == QCXL_CKPT_IMAGE_REGION) {
                g_string_append_printf(im, "%s%s=%s", im->len ? "," : "",
                                       v.l.blocks[i].name,
                                       v.l.blocks[i].region);
            }
        }
        for (uint32_t j = 0; j < v.l.njournals; j++) {
            g_string_append_printf(im, "%sjournal=%s", im->len ? "," : "",
                                   v.l.journals[j]);
        }
        images = g_string_free(im, false);
        printf("%-24s %-12s %-11s %10" G_GUINT64_FORMAT " %-14s %s\n",
               meta->regions[r].name, v.l.host, ckpt_state(&v),
               (uint64_t)(v.word & QCXL_CKPT_EPOCH_MASK), age ? age : "-",
               images[0] ? images : "-");
    }
}

static int cmd_list(QcxlPool *pool)
{
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);
    uint32_t free_ext;

    if (!meta) {
        g_printerr("qcxl-pool: %s\n", err->message);
        return EXIT_FAIL;
    }
    free_ext = qcxl_pool_free_extents(meta);
    if (opt_json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "extent-size");
        json_builder_add_int_value(b, sb->extent_size);
        json_builder_set_member_name(b, "extents");
        json_builder_add_int_value(b, sb->extents);
        json_builder_set_member_name(b, "free-extents");
        json_builder_add_int_value(b, free_ext);
        json_builder_set_member_name(b, "hosts");
        json_builder_begin_array(b);
        for (int h = 0; h < QCXL_POOL_HOSTS; h++) {
            const QcxlPoolHost *ho = &meta->hosts[h];
            if (!ho->state) {
                continue;
            }
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "name");
            json_builder_add_string_value(b, ho->name);
            json_builder_set_member_name(b, "slot");
            json_builder_add_int_value(b, h);
            json_builder_set_member_name(b, "state");
            json_builder_add_string_value(b,
                                          qcxl_pool_host_state_str(ho->state));
            json_builder_set_member_name(b, "incarnation");
            json_builder_add_int_value(b, ho->incarnation);
            json_builder_set_member_name(b, "heartbeat");
            json_builder_add_int_value(b, qcxl_pool_heartbeat(pool, h));
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_set_member_name(b, "regions");
        json_builder_begin_array(b);
        for (int r = 0; r < QCXL_POOL_REGIONS; r++) {
            const QcxlPoolRegion *re = &meta->regions[r];
            g_autofree uint32_t *ext = NULL;
            uint32_t n;
            if (!re->state) {
                continue;
            }
            ext = qcxl_pool_region_extents(meta, r, &n);
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "name");
            json_builder_add_string_value(b, re->name);
            json_builder_set_member_name(b, "size");
            json_builder_add_int_value(b, re->size);
            json_builder_set_member_name(b, "mode");
            json_builder_add_string_value(b, re->mode == QCXL_REGION_SHARED ?
                                          "shared" : "exclusive");
            json_builder_set_member_name(b, "owner");
            if (re->owner < QCXL_POOL_HOSTS) {
                json_builder_add_string_value(b,
                                              meta->hosts[re->owner].name);
            } else {
                json_builder_add_null_value(b);
            }
            json_builder_set_member_name(b, "sharers");
            add_hosts_array(b, meta, re->sharers);
            json_builder_set_member_name(b, "mapped-by");
            add_hosts_array(b, meta, re->mapped);
            json_builder_set_member_name(b, "use");
            json_builder_add_string_value(b, qcxl_pool_use_name(re->use));
            json_builder_set_member_name(b, "generation");
            json_builder_add_int_value(b, re->generation);
            json_builder_set_member_name(b, "extents");
            json_builder_begin_array(b);
            for (uint32_t i = 0; i < n; i++) {
                json_builder_add_int_value(b, ext[i]);
            }
            json_builder_end_array(b);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_checkpoints(b, pool, meta);
        json_builder_end_object(b);
        print_json(b);
        return EXIT_OK;
    }

    g_autofree char *total = human((uint64_t)sb->extents * sb->extent_size);
    g_autofree char *freeb = human((uint64_t)free_ext * sb->extent_size);
    printf("%s: %s in %u extents, %s free\n\n", qcxl_pool_path(pool), total,
           sb->extents, freeb);
    printf("%-4s %-20s %-9s %12s %12s\n", "SLOT", "HOST", "STATE",
           "INCARNATION", "HEARTBEAT");
    for (int h = 0; h < QCXL_POOL_HOSTS; h++) {
        const QcxlPoolHost *ho = &meta->hosts[h];
        if (ho->state) {
            printf("%-4d %-20s %-9s %12" G_GUINT64_FORMAT " %12"
                   G_GUINT64_FORMAT "\n", h, ho->name,
                   qcxl_pool_host_state_str(ho->state), ho->incarnation,
                   qcxl_pool_heartbeat(pool, h));
        }
    }
    printf("\n%-24s %10s %-9s %-12s %-20s %s\n", "REGION", "SIZE", "MODE",
           "OWNER", "SHARERS", "MAPPED BY");
    for (int r = 0; r < QCXL_POOL_REGIONS; r++) {
        const QcxlPoolRegion *re = &meta->regions[r];
        g_autofree char *size = NULL, *sh = NULL, *mp = NULL;
        if (!re->state) {
            continue;
        }
        size = human(re->size);
        sh = hosts_in(meta, re->sharers);
        mp = hosts_in(meta, re->mapped);
        printf("%-24s %10s %-9s %-12s %-20s %s%s%s%s\n", re->name, size,
               re->mode == QCXL_REGION_SHARED ? "shared" : "exclusive",
               re->owner < QCXL_POOL_HOSTS ? meta->hosts[re->owner].name :
               "-", sh ? sh : "-", mp ? mp : "-", mp ? " (as " : "",
               mp ? qcxl_pool_use_name(re->use) : "", mp ? ")" : "");
    }
    print_checkpoints(pool, meta);
    return EXIT_OK;
}

static int cmd_inspect(QcxlPool *pool)
{
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    g_autofree char *uuid = uuid_str(sb->uuid);
    uint64_t seq[2];
    bool valid[2];
    uint64_t lock = qcxl_pool_lock_word(pool);

    for (int c = 0; c < 2; c++) {
        valid[c] = qcxl_pool_copy_state(pool, c, &seq[c]);
    }
    if (opt_json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "version");
        json_builder_add_int_value(b, sb->version);
        json_builder_set_member_name(b, "uuid");
        json_builder_add_string_value(b, uuid);
        json_builder_set_member_name(b, "size");
        json_builder_add_int_value(b, sb->size);
        json_builder_set_member_name(b, "extent-size");
        json_builder_add_int_value(b, sb->extent_size);
        json_builder_set_member_name(b, "extents");
        json_builder_add_int_value(b, sb->extents);
        json_builder_set_member_name(b, "meta-size");
        json_builder_add_int_value(b, sb->meta_size);
        json_builder_set_member_name(b, "data-offset");
        json_builder_add_int_value(b, sb->data_offset);
        json_builder_set_member_name(b, "lease-ms");
        json_builder_add_int_value(b, sb->lease_ms);
        json_builder_set_member_name(b, "locked");
        json_builder_add_boolean_value(b, lock != 0);
        json_builder_set_member_name(b, "copies");
        json_builder_begin_array(b);
        for (int c = 0; c < 2; c++) {
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "valid");
            json_builder_add_boolean_value(b, valid[c]);
            json_builder_set_member_name(b, "seq");
            json_builder_add_int_value(b, seq[c]);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
        print_json(b);
        return EXIT_OK;
    }
    printf("pool        %s\nuuid        %s\nversion     %u\n"
           "size        %" G_GUINT64_FORMAT "\n"
           "extents     %u x %" G_GUINT64_FORMAT " bytes from offset 0x%"
           G_GINT64_MODIFIER "x\n"
           "metadata    2 copies of %" G_GUINT64_FORMAT " bytes at 0x%x\n"
           "lease       %u ms\n", qcxl_pool_path(pool), uuid, sb->version,
           sb->size, sb->extents, sb->extent_size, sb->data_offset,
           sb->meta_size, QCXL_POOL_META_OFFSET, sb->lease_ms);
    for (int c = 0; c < 2; c++) {
        if (valid[c]) {
            printf("copy %d      seq %" G_GUINT64_FORMAT "%s\n", c, seq[c],
                   valid[!c] && seq[!c] > seq[c] ? "" : " (current)");
        } else {
            printf("copy %d      invalid\n", c);
        }
    }
    printf("lock        %s\n", lock ? "held" : "free");
    return EXIT_OK;
}

static int cmd_fsck(QcxlPool *pool, bool used_backup)
{
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) fixed = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    uint64_t lock = qcxl_pool_lock_word(pool);
    uint64_t seq[2], used = 0;
    uint32_t free_ext = 0;
    int rc;

    if (used_backup) {
        g_ptr_array_add(problems, g_strdup("the primary superblock is "
                                           "damaged; the backup is intact"));
    }
    for (int c = 0; c < 2; c++) {
        if (!qcxl_pool_copy_state(pool, c, &seq[c])) {
            g_ptr_array_add(notes, g_strdup_printf(
                "metadata copy %d is not valid (an interrupted transaction "
                "or never written); the next transaction rewrites it", c));
        }
    }
    if (lock) {
        g_ptr_array_add(notes, g_strdup_printf(
            "the pool lock is held (pid %u on its host); a holder that makes "
            "no progress for %u ms is taken over", (unsigned)(lock & 0xffff),
            sb->lease_ms));
    }
    meta = qcxl_pool_read(pool, &err);
    if (!meta) {
        /* Nothing to recover from: never reformat on the user's behalf */
        g_printerr("qcxl-pool: fsck: %s: cannot be repaired; restore the "
                   "pool's contents or format it again (--force)\n",
                   err->message);
        return FSCK_ERROR;
    }
    qcxl_pool_check(sb, meta, problems);
    /* What live hosts say they map against what the pool records */
    if (!qcxl_pool_check_maps(pool, problems, &err)) {
        g_ptr_array_add(problems, g_strdup(err->message));
        g_clear_error(&err);
    }
    for (uint32_t e = 0; e < sb->extents; e++) {
        if (meta->map[e]) {
            used++;
        } else {
            free_ext++;
            if (!qcxl_pool_extent_is_zero(pool, e)) {
                g_ptr_array_add(problems, g_strdup_printf(
                    "extent %u is free but holds data", e));
            }
        }
    }
    rc = problems->len ? FSCK_LEFT : FSCK_CLEAN;
    if (problems->len && opt_repair) {
        if (used_backup) {
            qcxl_pool_restore_super(pool, NULL);
            g_ptr_array_add(fixed, g_strdup("primary superblock restored"));
        }
        if (!qcxl_pool_repair(pool, fixed, &err)) {
            g_printerr("qcxl-pool: fsck: repair failed: %s\n", err->message);
            return FSCK_ERROR;
        }
        rc = FSCK_REPAIRED;
    }
    if (opt_json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "clean");
        json_builder_add_boolean_value(b, problems->len == 0);
        json_builder_set_member_name(b, "seq");
        json_builder_add_int_value(b, meta->seq);
        json_builder_set_member_name(b, "extents");
        json_builder_add_int_value(b, sb->extents);
        json_builder_set_member_name(b, "used-extents");
        json_builder_add_int_value(b, used);
        json_builder_set_member_name(b, "free-extents");
        json_builder_add_int_value(b, free_ext);
        const char *names[] = { "problems", "notes", "repaired" };
        GPtrArray *lists[] = { problems, notes, fixed };
        for (int l = 0; l < 3; l++) {
            json_builder_set_member_name(b, names[l]);
            json_builder_begin_array(b);
            for (guint i = 0; i < lists[l]->len; i++) {
                json_builder_add_string_value(b, lists[l]->pdata[i]);
            }
            json_builder_end_array(b);
        }
        json_builder_end_object(b);
        print_json(b);
        return rc;
    }
    for (guint i = 0; i < notes->len; i++) {
        printf("note: %s\n", (char *)notes->pdata[i]);
    }
    for (guint i = 0; i < problems->len; i++) {
        printf("problem: %s\n", (char *)problems->pdata[i]);
    }
    for (guint i = 0; i < fixed->len; i++) {
        printf("repaired: %s\n", (char *)fixed->pdata[i]);
    }
    printf("%s: seq %" G_GUINT64_FORMAT ", %" G_GUINT64_FORMAT " of %u "
           "extents in regions, %u free: %s\n", qcxl_pool_path(pool),
           meta->seq, used, sb->extents, free_ext,
           rc == FSCK_CLEAN ? "clean" : rc == FSCK_REPAIRED ? "repaired" :
           "problems found (run with --repair)");
    return rc;
}

static int cmd_evict(QcxlPool *pool, const char *host)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);
    uint32_t lease = qcxl_pool_super(pool)->lease_ms;
    int h;

    if (!meta) {
        g_printerr("qcxl-pool: %s\n", err->message);
        return EXIT_FAIL;
    }
    h = qcxl_pool_find_host(meta, host);
    if (h < 0) {
        g_printerr("qcxl-pool: no host '%s' in the pool\n", host);
        return EXIT_FAIL;
    }
    if (!opt_now && meta->hosts[h].state == QCXL_HOST_ACTIVE) {
        /* judged by the counter, on this machine's clock: one lease + 1/4 */
        fprintf(stderr, "qcxl-pool: watching host '%s''s heartbeat for "
                "%u ms\n", host, lease + lease / 4);
        if (!qcxl_pool_watch_stale(pool, h, lease + lease / 4)) {
            g_printerr("qcxl-pool: host '%s' is alive (its heartbeat "
                       "advances): not evicted; --now evicts it anyway\n",
                       host);
            return EXIT_FAIL;
        }
    }
    if (!qcxl_pool_evict(pool, host, &err)) {
        g_printerr("qcxl-pool: %s\n", err->message);
        return EXIT_FAIL;
    }
    printf("host '%s' fenced: its mappings are gone and its QEMU, if it "
           "wakes, stops using the pool\n", host);
    return EXIT_OK;
}

static int usage(GOptionContext *ctx, const char *msg)
{
    g_printerr("qcxl-pool: %s (qcxl-pool --help lists the commands)\n", msg);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx =
        g_option_context_new("COMMAND POOL [ARGS...]");
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    const char *cmd, *path;
    uint64_t size = 0, extent = QCXL_POOL_MIN_EXTENT;
    bool ok = false, used_backup = false;
    int nargs;

    g_option_context_add_main_entries(ctx, options, NULL);
    g_option_context_set_summary(ctx, "Administer a shared CXL pool.");
    g_option_context_set_description(ctx, summary);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        return usage(ctx, err->message);
    }
    if (argc < 3) {
        return usage(ctx, "a command and a pool are needed");
    }
    cmd = argv[1];
    path = argv[2];
    nargs = argc - 3;

#define NARGS(n) do { \
        if (nargs != (n)) { \
            return usage(ctx, "wrong number of arguments for this command"); \
        } \
    } while (0)

    if (!strcmp(cmd, "format")) {
        NARGS(0);
        if (opt_size && !parse_size(opt_size, &size, &err)) {
            return usage(ctx, err->message);
        }
        if (opt_extent && !parse_size(opt_extent, &extent, &err)) {
            return usage(ctx, err->message);
        }
        if (opt_lease <= 0) {
            return usage(ctx, "--lease-ms must be positive");
        }
        if (!qcxl_pool_format(path, size, extent, opt_lease, opt_force,
                              &err)) {
            g_printerr("qcxl-pool: format: %s\n", err->message);
            return EXIT_FAIL;
        }
        pool = qcxl_pool_open(path, &err);
        if (!pool) {
            g_printerr("qcxl-pool: %s\n", err->message);
            return EXIT_FAIL;
        }
        return cmd_inspect(pool);
    }

    if (!strcmp(cmd, "fsck")) {
        NARGS(0);
        pool = qcxl_pool_open_any(path, &used_backup, &err);
        if (!pool) {
            g_printerr("qcxl-pool: fsck: %s\n", err->message);
            return FSCK_ERROR;
        }
        return cmd_fsck(pool, used_backup);
    }

    pool = qcxl_pool_open(path, &err);
    if (!pool) {
        g_printerr("qcxl-pool: %s\n", err->message);
        return EXIT_FAIL;
    }
    if (!strcmp(cmd, "inspect")) {
        NARGS(0);
        return cmd_inspect(pool);
    } else if (!strcmp(cmd, "list")) {
        NARGS(0);
        return cmd_list(pool);
    } else if (!strcmp(cmd, "host-add")) {
        NARGS(1);
        ok = qcxl_pool_host_add(pool, argv[3], &err);
    } else if (!strcmp(cmd, "host-remove")) {
        NARGS(1);
        ok = qcxl_pool_host_remove(pool, argv[3], &err);
    } else if (!strcmp(cmd, "create")) {
        NARGS(2);
        if (!opt_owner) {
            return usage(ctx, "create needs --owner HOST");
        }
        if (!parse_size(argv[4], &size, &err)) {
            return usage(ctx, err->message);
        }
        ok = qcxl_pool_region_create(pool, argv[3], size, opt_owner,
                                     opt_shared, &err);
    } else if (!strcmp(cmd, "resize")) {
        NARGS(2);
        if (!parse_size(argv[4], &size, &err)) {
            return usage(ctx, err->message);
        }
        ok = qcxl_pool_region_resize(pool, argv[3], size, opt_force, &err);
    } else if (!strcmp(cmd, "delete")) {
        NARGS(1);
        if (!opt_force) {
            g_printerr("qcxl-pool: deleting region '%s' destroys its data: "
                       "pass --force\n", argv[3]);
            return EXIT_FAIL;
        }
        ok = qcxl_pool_region_delete(pool, argv[3], &err);
    } else if (!strcmp(cmd, "share") || !strcmp(cmd, "unshare")) {
        NARGS(2);
        ok = qcxl_pool_region_share(pool, argv[3], argv[4],
                                    !strcmp(cmd, "share"), &err);
    } else if (!strcmp(cmd, "chown")) {
        NARGS(2);
        ok = qcxl_pool_region_chown(pool, argv[3], argv[4], &err);
    } else if (!strcmp(cmd, "evict")) {
        NARGS(1);
        return cmd_evict(pool, argv[3]);
    } else {
        g_autofree char *msg = g_strdup_printf("unknown command '%s'", cmd);
        return usage(ctx, msg);
    }
    if (!ok) {
        g_printerr("qcxl-pool: %s: %s\n", cmd, err->message);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}
