/*
 * Stress test of the shared pool: N processes allocate, resize, share,
 * move and free regions concurrently while the parent kills them with
 * SIGKILL at random instants.  After each round the metadata must be
 * clean without repair, the capacity accounting exact, every free extent
 * zero, and no extent may carry another region's data.  Output is TAP.
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   pool-stress [--procs N] [--rounds R] [--seconds S] [--seed X] [POOL]
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "hw/mem/qcxl_pool.h"

#define E           (2ULL << 20)
/* What the children attach regions for */
#define MEM         QCXL_REGION_USE_MEMORY
#define LEASE_MS    300

typedef struct Shared {
    gint commits;
    gint refused;               /* expected refusals (busy, no space...) */
    gint fenced;
    gint verified;              /* extents whose tag was checked */
    gint failures;              /* corruption seen by a child */
    char failure[256];
} Shared;

static Shared *shared;
static gint opt_procs = 6, opt_rounds = 5, opt_seconds = 3;
static gint64 opt_seed;

/* The tag a region's owner writes at the start of each of its extents */
static uint64_t tag_of(const char *name)
{
    return g_str_hash(name) | 1ULL << 63;
}

static void fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (g_atomic_int_add(&shared->failures, 1) == 0) {
        vsnprintf(shared->failure, sizeof(shared->failure), fmt, ap);
    }
    va_end(ap);
    _exit(3);
}

typedef struct Child {
    QcxlPool *pool;
    int slot;
    uint64_t inc;
    volatile bool beating;
} Child;

static gpointer beat_thread(gpointer opaque)
{
    Child *c = opaque;

    for (;;) {
        if (c->beating) {
            qcxl_pool_beat(c->pool, c->slot);
        }
        g_usleep(LEASE_MS * 1000 / 4);
    }
    return NULL;
}

static void join(Child *c, const char *name)
{
    g_autoptr(GError) err = NULL;

    c->beating = false;
    for (;;) {
        c->slot = qcxl_pool_join(c->pool, name, true, NULL, &c->inc, &err);
        if (c->slot >= 0) {
            c->beating = true;
            return;
        }
        if (!g_error_matches(err, QCXL_POOL_ERROR, QCXL_POOL_ERR_BUSY)) {
            fail("%s: join: %s", name, err->message);
        }
        g_clear_error(&err);
        /* my previous incarnation was killed: judge it, then evict it */
        g_autoptr(QcxlPoolMeta) m = qcxl_pool_read(c->pool, NULL);
        int h = m ? qcxl_pool_find_host(m, name) : -1;
        if (h >= 0 && qcxl_pool_watch_stale(c->pool, h, LEASE_MS * 5 / 4) &&
            !qcxl_pool_evict(c->pool, name, &err)) {
            g_clear_error(&err);
        }
    }
}

/* Outcome of an operation: commits count, refusals are expected races */
static void outcome(Child *c, const char *name, bool ok, GError *err)
{
    if (ok) {
        g_atomic_int_inc(&shared->commits);
        return;
    }
    switch (err->code) {
    case QCXL_POOL_ERR_BUSY:
    case QCXL_POOL_ERR_NO_SPACE:
    case QCXL_POOL_ERR_NOT_FOUND:
    case QCXL_POOL_ERR_EXISTS:
    case QCXL_POOL_ERR_PERM:
    case QCXL_POOL_ERR_INVALID:
        g_atomic_int_inc(&shared->refused);
        break;
    case QCXL_POOL_ERR_FENCED:
        /* evicted while stalled: join again, as a QEMU would */
        g_atomic_int_inc(&shared->fenced);
        join(c, name);
        break;
    default:
        fail("%s: unexpected error: %s", name, err->message);
    }
}

/* Map a region (bookkeeping only: the pool is mapped whole here), then
 * check or write the tags, then unmap. */
static void touch_region(Child *c, const char *host, const char *region,
                         bool write)
{
    g_autoptr(GError) err = NULL;
    g_autofree uint32_t *ext = NULL;
    uint64_t size, tag = tag_of(region);
    uint32_t n;

    ext = qcxl_pool_attach(c->pool, region, c->slot, c->inc, MEM, &size, &n,
                           &err);
    if (!ext) {
        outcome(c, host, false, err);
        return;
    }
    g_atomic_int_inc(&shared->commits);
    if (size != n * E) {
        fail("%s: region %s: size %" G_GUINT64_FORMAT " but %u extents",
             host, region, size, n);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t *p = (uint64_t *)(qcxl_pool_base(c->pool) +
                                   qcxl_pool_extent_offset(c->pool, ext[i]));
        uint64_t v = __atomic_load_n(p, __ATOMIC_ACQUIRE);
        if (v && v != tag) {
            fail("%s: extent %u of region %s holds tag %" G_GINT64_MODIFIER
                 "x, not %" G_GINT64_MODIFIER "x: double allocation or "
                 "stale data", host, ext[i], region, v, tag);
        }
        if (write) {
            __atomic_store_n(p, tag, __ATOMIC_RELEASE);
        }
        g_atomic_int_inc(&shared->verified);
    }
    g_clear_error(&err);
    outcome(c, host, qcxl_pool_detach(c->pool, region, c->slot, c->inc,
                                      MEM, &err), err);
}

static void child_main(const char *path, int index, guint32 seed)
{
    g_autofree char *host = g_strdup_printf("s%d", index);
    g_autoptr(GRand) rnd = g_rand_new_with_seed(seed);
    g_autoptr(GError) err = NULL;
    Child c = { 0 };
    int serial = 0;

    c.pool = qcxl_pool_open(path, &err);
    if (!c.pool) {
        fail("%s: open: %s", host, err->message);
    }
    join(&c, host);
    g_thread_new("beat", beat_thread, &c);

    for (;;) {
        g_autoptr(QcxlPoolMeta) m = qcxl_pool_read(c.pool, &err);
        const char *region = NULL, *other = NULL;
        int pick, op;
        bool ok = false;

        if (!m) {
            fail("%s: read: %s", host, err->message);
        }
        /* a random region and a random other host, if any */
        pick = g_rand_int_range(rnd, 0, QCXL_POOL_REGIONS);
        for (int i = 0; i < QCXL_POOL_REGIONS && !region; i++) {
            const QcxlPoolRegion *r = &m->regions[(pick + i) %
                                                  QCXL_POOL_REGIONS];
            region = r->state ? r->name : NULL;
        }
        pick = g_rand_int_range(rnd, 0, QCXL_POOL_HOSTS);
        for (int i = 0; i < QCXL_POOL_HOSTS && !other; i++) {
            const QcxlPoolHost *h = &m->hosts[(pick + i) % QCXL_POOL_HOSTS];
            other = h->state && strcmp(h->name, host) ? h->name : NULL;
        }
        g_autofree char *rname = g_strdup(region);
        g_autofree char *oname = g_strdup(other);

        op = g_rand_int_range(rnd, 0, 10);
        if (op <= 1 || !rname) {
            g_autofree char *name = g_strdup_printf("%s-%d-%d", host,
                                                    getpid(), serial++);
            ok = qcxl_pool_region_create(c.pool, name,
                                         g_rand_int_range(rnd, 1, 5) * E,
                                         host, g_rand_boolean(rnd), &err);
            outcome(&c, host, ok, err);
            if (ok) {
                touch_region(&c, host, name, true);
            }
        } else if (op == 2) {
            ok = qcxl_pool_region_resize(c.pool, rname,
                                         g_rand_int_range(rnd, 1, 6) * E,
                                         true, &err);
            outcome(&c, host, ok, err);
        } else if (op <= 4) {
            ok = qcxl_pool_region_delete(c.pool, rname, &err);
            outcome(&c, host, ok, err);
        } else if (op == 5 && oname) {
            ok = qcxl_pool_region_share(c.pool, rname, oname,
                                        g_rand_boolean(rnd), &err);
            outcome(&c, host, ok, err);
        } else if (op == 6 && oname) {
            ok = qcxl_pool_region_chown(c.pool, rname, oname, &err);
            outcome(&c, host, ok, err);
        } else if (op == 7) {
            /* take a region to write its tags (the new owner's data) */
            ok = qcxl_pool_region_chown(c.pool, rname, host, &err);
            outcome(&c, host, ok, err);
            if (ok) {
                touch_region(&c, host, rname, true);
            }
        } else if (op == 8) {
            touch_region(&c, host, rname, false);
        } else {
            /* a QEMU that stops cleanly and starts again */
            c.beating = false;
            ok = qcxl_pool_leave(c.pool, c.slot, c.inc, &err);
            outcome(&c, host, ok, err);
            if (ok) {
                join(&c, host);
            }
        }
        g_clear_error(&err);
    }
}

static pid_t spawn(const char *path, int index, GRand *rnd)
{
    guint32 seed = g_rand_int(rnd);
    pid_t pid = fork();

    g_assert(pid >= 0);
    if (pid == 0) {
        child_main(path, index, seed);
        _exit(0);
    }
    return pid;
}

static int tests;

static void tap(bool ok, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void tap(bool ok, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++tests, msg);
    fflush(stdout);
}

/* The checks after a round: returns the number of failures */
static int audit(QcxlPool *pool, int round)
{
    const QcxlPoolSuper *sb = qcxl_pool_super(pool);
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);
    g_autoptr(GPtrArray) problems = g_ptr_array_new_with_free_func(g_free);
    uint64_t bytes = 0;
    uint32_t used = 0, free_ext = 0, regions = 0, dirty_free = 0, bad = 0;
    int failures = 0;
    bool clean;

    if (!meta) {
        tap(false, "round %d: metadata readable: %s", round, err->message);
        return 1;
    }
    clean = qcxl_pool_check(sb, meta, problems);
    tap(clean, "round %d: metadata clean without repair (seq %"
        G_GUINT64_FORMAT ")%s%s", round, meta->seq, clean ? "" : ": ",
        clean ? "" : (char *)problems->pdata[0]);
    failures += !clean;

    for (int r = 0; r < QCXL_POOL_REGIONS; r++) {
        if (meta->regions[r].state) {
            regions++;
            bytes += meta->regions[r].size;
        }
    }
    for (uint32_t e = 0; e < sb->extents; e++) {
        uint64_t v = *(uint64_t *)(qcxl_pool_base(pool) +
                                   qcxl_pool_extent_offset(pool, e));
        if (!meta->map[e]) {
            free_ext++;
            dirty_free += !qcxl_pool_extent_is_zero(pool, e);
        } else {
            used++;
            bad += v && v != tag_of(meta->regions[meta->map[e] - 1].name);
        }
    }
    tap(used + free_ext == sb->extents && bytes == used * E,
        "round %d: capacity exact: %u regions hold %" G_GUINT64_FORMAT
        " bytes = %u extents; %u + %u free = %u", round, regions, bytes,
        used, used, free_ext, sb->extents);
    failures += !(used + free_ext == sb->extents && bytes == used * E);
    tap(dirty_free == 0 && bad == 0, "round %d: every free extent is zero "
        "(%u not), every used one carries its region's tag or none (%u not)",
        round, dirty_free, bad);
    failures += dirty_free || bad;
    return failures;
}

/* Every host left active belonged to a killed process: evict them. */
static int evict_dead(QcxlPool *pool, int round)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPoolMeta) meta = qcxl_pool_read(pool, &err);
    g_autoptr(QcxlPoolMeta) after = NULL;
    int n = 0, stale = 0, evicted = 0;
    uint64_t mapped = 0;

    for (int h = 0; meta && h < QCXL_POOL_HOSTS; h++) {
        if (meta->hosts[h].state != QCXL_HOST_ACTIVE) {
            continue;
        }
        n++;
        stale += qcxl_pool_watch_stale(pool, h, LEASE_MS * 5 / 4);
        evicted += qcxl_pool_evict(pool, meta->hosts[h].name, NULL);
    }
    after = qcxl_pool_read(pool, NULL);
    for (int r = 0; after && r < QCXL_POOL_REGIONS; r++) {
        mapped |= after->regions[r].mapped;
    }
    tap(meta && after && stale == n && evicted == n && !mapped,
        "round %d: %d hosts of killed processes: heartbeat stale %d, "
        "evicted %d, mappings left 0x%" G_GINT64_MODIFIER "x", round, n,
        stale, evicted, mapped);
    return !(meta && after && stale == n && evicted == n && !mapped);
}

static const GOptionEntry options[] = {
    { "procs", 'n', 0, G_OPTION_ARG_INT, &opt_procs, "processes", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &opt_rounds, "rounds", "R" },
    { "seconds", 's', 0, G_OPTION_ARG_INT, &opt_seconds, "per round", "S" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &opt_seed, "random seed", "X" },
    { NULL }
};

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) ctx = g_option_context_new("[POOL]");
    g_autoptr(GError) err = NULL;
    g_autoptr(QcxlPool) pool = NULL;
    g_autoptr(GRand) rnd = NULL;
    g_autofree char *path = NULL;
    g_autofree pid_t *pids = NULL;
    int failures = 0;

    g_option_context_add_main_entries(ctx, options, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err) ||
        opt_procs < 1 || opt_procs > 32 || opt_rounds < 1 ||
        opt_seconds < 1) {
        fprintf(stderr, "pool-stress: %s\n", err ? err->message :
                "--procs 1..32, --rounds and --seconds >= 1");
        return 2;
    }
    if (!opt_seed) {
        opt_seed = g_get_real_time();
    }
    path = argc > 1 ? g_strdup(argv[1]) :
           g_strdup_printf("/dev/shm/qcxl-stress-%d.pool", getpid());
    shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    g_assert(shared != MAP_FAILED);
    rnd = g_rand_new_with_seed(opt_seed);

    /* 64 extents of 2 MiB: small enough for allocations to collide */
    if (!qcxl_pool_format(path, 130ULL << 20, E, LEASE_MS, true, &err) ||
        !(pool = qcxl_pool_open(path, &err))) {
        printf("Bail out! %s\n", err->message);
        return 1;
    }
    printf("# seed %" G_GINT64_FORMAT ", %d processes, %d rounds of %d s, "
           "%u extents, lease %d ms\n", opt_seed, opt_procs, opt_rounds,
           opt_seconds, qcxl_pool_super(pool)->extents, LEASE_MS);
    printf("1..%d\n", opt_rounds * 5);
    pids = g_new0(pid_t, opt_procs);

    for (int round = 1; round <= opt_rounds; round++) {
        gint64 end = g_get_monotonic_time() + opt_seconds * G_USEC_PER_SEC;
        int kills = 0, in_tx = 0, torn = 0;

        memset(shared, 0, sizeof(*shared));
        for (int i = 0; i < opt_procs; i++) {
            pids[i] = spawn(path, i, rnd);
        }
        while (g_get_monotonic_time() < end) {
            int i = g_rand_int_range(rnd, 0, opt_procs);
            int status;

            g_usleep(g_rand_int_range(rnd, 20, 300) * 1000);
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &status, 0);
            kills++;
            /* killed holding the lock (its pid is in the word)? */
            in_tx += (qcxl_pool_lock_word(pool) & 0xffff) ==
                     (pids[i] & 0xffff);
            for (int c = 0; c < 2; c++) {
                uint64_t seq;
                torn += !qcxl_pool_copy_state(pool, c, &seq);
            }
            pids[i] = spawn(path, i, rnd);
        }
        for (int i = 0; i < opt_procs; i++) {
            int status;
            kill(pids[i], SIGKILL);
            waitpid(pids[i], &status, 0);
        }
        kills += opt_procs;
        tap(shared->failures == 0 && shared->commits > 0,
            "round %d: %d kills (%d holding the lock, %d torn copies "
            "seen); %d transactions committed, %d refused (races), %d "
            "fenced rejoins, %d extent tags checked%s%s", round, kills,
            in_tx, torn, shared->commits, shared->refused, shared->fenced,
            shared->verified, shared->failures ? ": " : "",
            shared->failures ? shared->failure : "");
        failures += shared->failures || !shared->commits;
        failures += audit(pool, round);
        failures += evict_dead(pool, round);
    }
    unlink(path);
    return failures ? 1 : 0;
}
