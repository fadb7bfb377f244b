/*
 * qcxl tier agent: promotion and demotion of the managed processes' pages
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <glib/gstdio.h>
#include "promote.h"

#define PM_PRESENT      (1ULL << 63)
#define PM_FILE         (1ULL << 61)
#define PM_EXCLUSIVE    (1ULL << 56)
#define PM_SOFT_DIRTY   (1ULL << 55)
#define PM_PFN_MASK     ((1ULL << 55) - 1)
#define MPOL_MF_MOVE    (1 << 1)
#define PAGEMAP_CHUNK   4096
#define MOVE_CHUNK      1024
#define STATUS_UNTRIED  G_MININT
#define SKIP_ROUNDS     30      /* rounds before retrying an unmovable page */

typedef enum PageClass { PAGE_WARM, PAGE_HOT, PAGE_COLD } PageClass;

typedef struct Page {
    guint64 addr;
    gint16 node;                /* -1: not known */
    guint8 cls;                 /* PageClass */
} Page;

typedef struct Proc {
    guint64 first_round;
    GHashTable *last_write;     /* page number -> round + 1 */
    GArray *pages;              /* of Page: the last scan */
    GHashTable *moved;          /* page numbers the agent moved last round */
    GHashTable *skip;           /* page number -> round to try it again */
    bool seen;                  /* in this round's cgroup */
} Proc;

struct AgentPromoter {
    char *root;
    guint64 round;
    GHashTable *procs;          /* pid -> Proc */
    char *last_problem;         /* logged once until it changes */
    long page_size;
    bool soft_dirty;            /* the kernel tracks soft-dirty pages */
    AgentBalancing balancing;   /* the kernel's NUMA balancing */
};

static void proc_free(gpointer p)
{
    Proc *proc = p;

    g_hash_table_unref(proc->last_write);
    g_hash_table_unref(proc->moved);
    g_hash_table_unref(proc->skip);
    g_array_unref(proc->pages);
    g_free(proc);
}

AgentPromoter *agent_promoter_new(const char *root)
{
    AgentPromoter *m = g_new0(AgentPromoter, 1);

    m->root = g_strdup(root);
    m->procs = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                     proc_free);
    m->page_size = sysconf(_SC_PAGESIZE);
    m->soft_dirty = agent_soft_dirty_works();
    return m;
}

void agent_promoter_free(AgentPromoter *m)
{
    if (m) {
        agent_balancing_clear(&m->balancing);
        g_hash_table_unref(m->procs);
        g_free(m->root);
        g_free(m->last_problem);
        g_free(m);
    }
}

void agent_promoter_stop(AgentPromoter *m, AgentPromoteStats *stats,
                         GPtrArray *log)
{
    agent_balancing_restore(&m->balancing, m->root, log);
    stats->balancing = m->balancing.state;
}

AgentMovePlan agent_plan_moves(const AgentMoveBudget *b)
{
    AgentMovePlan plan = { 0, 0 };
    guint64 cap = b->cap, d;

    /* Hot pages that fit without demoting anything */
    plan.promote = MIN(MIN(b->hot_slow, b->fast_room), cap);
    cap -= plan.promote;
    /* Then pairs: one cold page down, one hot page up */
    d = MIN(MIN(b->hot_slow - plan.promote, cap / 2),
            MIN(b->cold_fast, b->slow_room));
    plan.demote = d;
    plan.promote += d;
    cap -= 2 * d;
    /* Then the fast node's reserve */
    d = MIN(MIN(b->fast_short, cap),
            MIN(b->cold_fast - plan.demote, b->slow_room - plan.demote));
    plan.demote += d;
    return plan;
}

/* Clear PID's soft-dirty bits ("self" if 0) */
static bool clear_soft_dirty(pid_t pid, int *err)
{
    g_autofree char *path = pid ? g_strdup_printf("/proc/%d/clear_refs", pid)
                                : g_strdup("/proc/self/clear_refs");
    FILE *f = fopen(path, "w");
    bool ok;

    if (!f) {
        *err = errno;
        return false;
    }
    ok = fputs("4", f) >= 0;
    ok = (fclose(f) == 0) && ok;
    *err = ok ? 0 : errno;
    return ok;
}

bool agent_soft_dirty_works(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    volatile char *page = mmap(NULL, ps, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    guint64 ent = 0;
    bool ok = false;
    int err;

    if (page != MAP_FAILED && fd >= 0) {
        page[0] = 1;
        if (clear_soft_dirty(0, &err)) {
            page[0] = 2;
            ok = pread(fd, &ent, sizeof(ent),
                       (guintptr)page / ps * sizeof(ent)) == sizeof(ent) &&
                 (ent & PM_SOFT_DIRTY);
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    if (page != MAP_FAILED) {
        munmap((void *)page, ps);
    }
    return ok;
}

/* ---- memory blocks: frame number -> node ---- */

typedef struct BlockMap {
    GArray *node;               /* of gint16, by block number */
    guint64 block_pages;
} BlockMap;

static bool block_map_read(const char *root, long page_size, BlockMap *bm)
{
    g_autofree char *dirname = g_build_filename(root,
                                                "sys/devices/system/memory",
                                                NULL);
    g_autofree char *bsf = g_build_filename(dirname, "block_size_bytes",
                                            NULL);
    g_autofree char *bs = NULL;
    g_autoptr(GDir) dir = NULL;
    guint64 bytes;
    const char *e;

    bm->node = g_array_new(false, false, sizeof(gint16));
    if (!g_file_get_contents(bsf, &bs, NULL, NULL) ||
        !g_ascii_string_to_unsigned(g_strstrip(bs), 16, page_size,
                                    G_MAXUINT64, &bytes, NULL)) {
        return false;
    }
    bm->block_pages = bytes / page_size;
    dir = g_dir_open(dirname, 0, NULL);
    while (dir && (e = g_dir_read_name(dir))) {
        g_autofree char *bdir = NULL;
        guint64 b;
        gint16 node;

        if (!g_str_has_prefix(e, "memory") ||
            !g_ascii_string_to_unsigned(e + strlen("memory"), 10, 0,
                                        1 << 24, &b, NULL)) {
            continue;
        }
        bdir = g_build_filename(dirname, e, NULL);
        node = agent_block_node(bdir);
        if (b >= bm->node->len) {
            gint16 none = -1;

            while (bm->node->len <= b) {
                g_array_append_val(bm->node, none);
            }
        }
        g_array_index(bm->node, gint16, b) = node;
    }
    return true;
}

static int block_map_node(const BlockMap *bm, guint64 pfn)
{
    guint64 b = pfn / bm->block_pages;

    return pfn && b < bm->node->len ? g_array_index(bm->node, gint16, b) : -1;
}

/* ---- one process ---- */

static Proc *proc_get(AgentPromoter *m, pid_t pid)
{
    Proc *proc = g_hash_table_lookup(m->procs, GINT_TO_POINTER(pid));

    if (!proc) {
        proc = g_new0(Proc, 1);
        proc->first_round = m->round;
        proc->last_write = g_hash_table_new(g_direct_hash, g_direct_equal);
        proc->pages = g_array_new(false, false, sizeof(Page));
        proc->moved = g_hash_table_new(g_direct_hash, g_direct_equal);
        proc->skip = g_hash_table_new(g_direct_hash, g_direct_equal);
        g_hash_table_insert(m->procs, GINT_TO_POINTER(pid), proc);
    }
    return proc;
}

static gboolean skip_expired(gpointer key, gpointer value, gpointer opaque)
{
    return GPOINTER_TO_SIZE(value) <= *(guint64 *)opaque;
}

static gboolean written_before(gpointer key, gpointer value, gpointer opaque)
{
    return GPOINTER_TO_SIZE(value) - 1 < *(guint64 *)opaque;
}

/* Anonymous private writable mappings: "start-end rw-p off dev 0 ..." */
static bool parse_maps_line(const char *line, guint64 *start, guint64 *end)
{
    unsigned long long s, e, inode;
    char perms[5];

    if (sscanf(line, "%llx-%llx %4s %*s %*s %llu", &s, &e, perms,
               &inode) != 4) {
        return false;
    }
    *start = s;
    *end = e;
    return perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p' &&
           inode == 0 && e > s;
}

static bool scan_pid(AgentPromoter *m, const BlockMap *bm, pid_t pid,
                     guint cold_scans, AgentPageScan *scan, GError **errp)
{
    g_autofree char *maps_path = g_strdup_printf("/proc/%d/maps", pid);
    g_autofree char *pm_path = g_strdup_printf("/proc/%d/pagemap", pid);
    g_autofree char *cr_path = g_strdup_printf("/proc/%d/clear_refs", pid);
    g_autofree char *maps = NULL;
    g_autofree guint64 *ent = g_new(guint64, PAGEMAP_CHUNK);
    g_auto(GStrv) lines = NULL;
    Proc *proc;
    guint64 cold_before;
    int fd, i, err;

    memset(scan, 0, sizeof(*scan));
    if (!g_file_get_contents(maps_path, &maps, NULL, NULL) ||
        (fd = open(pm_path, O_RDONLY | O_CLOEXEC)) < 0) {
        g_set_error(errp, AGENT_ERROR, 0, "process %d: %s", pid,
                    g_strerror(errno));
        return false;
    }
    proc = proc_get(m, pid);
    proc->seen = true;
    g_array_set_size(proc->pages, 0);
    lines = g_strsplit(maps, "\n", -1);
    for (i = 0; lines[i]; i++) {
        guint64 start, end, addr;

        if (!parse_maps_line(lines[i], &start, &end)) {
            continue;
        }
        for (addr = start; addr < end;) {
            guint64 want = MIN((end - addr) / m->page_size, PAGEMAP_CHUNK);
            ssize_t got = pread(fd, ent, want * sizeof(guint64),
                                addr / m->page_size * sizeof(guint64));
            guint64 n, k;

            if (got <= 0) {
                break;          /* unmapped since maps was read */
            }
            n = got / sizeof(guint64);
            for (k = 0; k < n; k++, addr += m->page_size) {
                gpointer vpn = GSIZE_TO_POINTER(addr / m->page_size);
                guint64 last;
                Page pg;

                if (!(ent[k] & PM_PRESENT) || (ent[k] & PM_FILE) ||
                    !(ent[k] & PM_EXCLUSIVE)) {
                    continue;
                }
                /*
                 * Migration keeps the hardware dirty bit, and on x86
                 * that sets the soft-dirty bit too: a page the agent
                 * just moved tells nothing this round.
                 */
                if ((ent[k] & PM_SOFT_DIRTY) && proc->first_round != m->round &&
                    !g_hash_table_contains(proc->moved, vpn)) {
                    g_hash_table_insert(proc->last_write, vpn,
                                        GSIZE_TO_POINTER(m->round + 1));
                }
                last = GPOINTER_TO_SIZE(g_hash_table_lookup(proc->last_write,
                                                            vpn));
                pg.addr = addr;
                pg.node = block_map_node(bm, ent[k] & PM_PFN_MASK);
                if (last && last - 1 + cold_scans > m->round) {
                    /* Written in the last cold_scans rounds */
                    pg.cls = PAGE_HOT;
                } else if (m->round - proc->first_round >= cold_scans) {
                    pg.cls = PAGE_COLD;
                } else {
                    /* The first round only starts the history */
                    pg.cls = PAGE_WARM;
                }
                g_array_append_val(proc->pages, pg);
                scan->pages++;
                if (pg.node < 0 || pg.node >= AGENT_MAX_NODES) {
                    scan->unknown_node++;
                    continue;
                }
                scan->on[pg.node]++;
                if (pg.cls == PAGE_HOT) {
                    scan->hot++;
                    scan->hot_on[pg.node]++;
                } else if (pg.cls == PAGE_COLD) {
                    scan->cold++;
                    scan->cold_on[pg.node]++;
                }
            }
            if (n < want) {
                break;          /* a short read: the mapping changed */
            }
        }
    }
    close(fd);
    g_hash_table_remove_all(proc->moved);
    g_hash_table_foreach_remove(proc->skip, skip_expired, &m->round);
    /* Pages not written for cold_scans rounds need no entry to be cold */
    cold_before = m->round >= cold_scans ? m->round - cold_scans + 1 : 0;
    if (cold_before > proc->first_round) {
        g_hash_table_foreach_remove(proc->last_write, written_before,
                                    &cold_before);
    }
    /* The next round sees the writes from now on */
    if (!clear_soft_dirty(pid, &err)) {
        g_set_error(errp, AGENT_ERROR, 0, "%s: %s", cr_path,
                    g_strerror(err));
        return false;
    }
    return true;
}

bool agent_promoter_scan(AgentPromoter *m, pid_t pid, guint cold_scans,
                         AgentPageScan *scan, GError **errp)
{
    BlockMap bm;
    bool ok;

    if (!block_map_read(m->root, m->page_size, &bm)) {
        g_array_unref(bm.node);
        g_set_error(errp, AGENT_ERROR, 0, "no memory blocks in sysfs");
        return false;
    }
    ok = scan_pid(m, &bm, pid, cold_scans, scan, errp);
    g_array_unref(bm.node);
    m->round++;
    return ok;
}

/*
 * Move up to MAX pages of class CLS that are on a node FROM accepts to
 * node TO.  Returns the pages moved; *FAILED counts those the kernel
 * kept where they were.
 */
static guint64 move_class(AgentPromoter *m, pid_t pid, Proc *proc,
                          PageClass cls, const bool *from, int to,
                          guint64 max, guint64 *failed, int *err,
                          int *why)
{
    g_autofree void **pages = g_new(void *, MOVE_CHUNK);
    g_autofree int *nodes = g_new(int, MOVE_CHUNK);
    g_autofree int *status = g_new(int, MOVE_CHUNK);
    guint64 moved = 0, i = 0;

    *err = 0;
    *why = 0;
    while (moved < max && i < proc->pages->len) {
        guint n = 0, k;

        for (; i < proc->pages->len && n < MOVE_CHUNK &&
               moved + n < max; i++) {
            Page *pg = &g_array_index(proc->pages, Page, i);

            gpointer vpn = GSIZE_TO_POINTER(pg->addr / m->page_size);
            gpointer again = g_hash_table_lookup(proc->skip, vpn);

            if (again && GPOINTER_TO_SIZE(again) > m->round) {
                continue;       /* failed for good recently */
            }
            if (pg->cls == cls && pg->node >= 0 && from[pg->node]) {
                pages[n] = GSIZE_TO_POINTER(pg->addr);
                nodes[n] = to;
                status[n] = STATUS_UNTRIED;
                n++;
                pg->node = to;
            }
        }
        if (!n) {
            break;
        }
        /*
         * When some page of a batch fails to migrate, move_pages returns
         * the number not migrated and stores no status for that batch
         * nor for anything after it: ask where those pages are now.
         */
        if (syscall(SYS_move_pages, pid, n, pages, nodes, status,
                    MPOL_MF_MOVE) < 0) {
            /* Gone, not allowed, or out of memory: stop here */
            *err = errno;
            max = moved;
        }
        k = 0;
        while (k < n && status[k] != STATUS_UNTRIED) {
            k++;
        }
        if (k < n) {
            syscall(SYS_move_pages, pid, n - k, pages + k, NULL, status + k,
                    0);
        }
        for (k = 0; k < n; k++) {
            if (status[k] == to) {
                moved++;
                g_hash_table_add(proc->moved, GSIZE_TO_POINTER(
                    (guintptr)pages[k] / m->page_size));
            } else {
                (*failed)++;
                /* The first reason: -errno, or the node it stayed on */
                if (!*why) {
                    *why = status[k] < 0 ? status[k] : status[k] + 1;
                }
                /*
                 * Not there (Linux 6.1 cannot see a page NUMA balancing
                 * has unmapped for a hinting fault) or not movable: not
                 * again for a while.  Busy or out of memory: next round.
                 */
                if (status[k] == -ENOENT || status[k] == -EFAULT ||
                    status[k] == -EACCES || status[k] == -EINVAL) {
                    g_hash_table_insert(proc->skip, GSIZE_TO_POINTER(
                        (guintptr)pages[k] / m->page_size),
                        GSIZE_TO_POINTER(m->round + SKIP_ROUNDS));
                }
            }
        }
    }
    return moved;
}

/* What a move's log line says about the pages that did not move */
static char *move_note(int err, guint64 failed, int why)
{
    if (err) {
        return g_strdup_printf(": %s", g_strerror(err));
    }
    if (!failed) {
        return g_strdup("");
    }
    if (why < 0) {
        return g_strdup_printf("; %" G_GUINT64_FORMAT " not moved (%s)",
                               failed, g_strerror(-why));
    }
    return g_strdup_printf("; %" G_GUINT64_FORMAT " not moved (still on "
                           "node %d)", failed, why - 1);
}

/*
 * move_class, counting the pages that did not move and logging the
 * decision (FROM_NODE: the node demoted from, for the log)
 */
static guint64 move_logged(AgentPromoter *m, pid_t pid, const char *comm,
                           Proc *proc, PageClass cls, const bool *from,
                           int from_node, int to, guint64 max, guint64 of,
                           AgentPromoteStats *stats, GPtrArray *log)
{
    g_autofree char *note = NULL;
    guint64 done, failed = 0;
    int e, why;

    done = move_class(m, pid, proc, cls, from, to, max, &failed, &e, &why);
    stats->move_failures += failed;
    if (!done && !failed && !e) {
        return 0;               /* every candidate is being skipped */
    }
    note = move_note(e, failed, why);
    if (cls == PAGE_COLD) {
        g_ptr_array_add(log, g_strdup_printf(
            "migration: %d (%s): demoted %" G_GUINT64_FORMAT " of %"
            G_GUINT64_FORMAT " cold pages, node %d -> %d%s", pid, comm, done,
            of, from_node, to, note));
    } else {
        g_ptr_array_add(log, g_strdup_printf(
            "migration: %d (%s): promoted %" G_GUINT64_FORMAT " of %"
            G_GUINT64_FORMAT " hot pages to node %d%s", pid, comm, done, of,
            to, note));
    }
    return done;
}

static char *proc_comm(pid_t pid)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/comm", pid);
    char *comm = NULL;

    if (!g_file_get_contents(path, &comm, NULL, NULL)) {
        return g_strdup("?");
    }
    return g_strchomp(comm);
}

static void problem(AgentPromoter *m, GPtrArray *log, char *msg)
{
    if (g_strcmp0(msg, m->last_problem)) {
        g_ptr_array_add(log, g_strdup(msg));
    }
    g_free(m->last_problem);
    m->last_problem = msg;
}

/* Pids in CGROUP's cgroup.procs (creating the cgroup if it is missing) */
static GArray *cgroup_pids(AgentPromoter *m, const char *cgroup,
                           GPtrArray *log)
{
    g_autofree char *procs = g_build_filename(cgroup, "cgroup.procs", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) err = NULL;
    g_auto(GStrv) v = NULL;
    GArray *pids;
    int i;

    if (!g_file_test(cgroup, G_FILE_TEST_IS_DIR) &&
        g_mkdir(cgroup, 0755) == 0) {
        g_ptr_array_add(log, g_strdup_printf(
            "migration: created cgroup %s for the managed processes",
            cgroup));
    }
    if (!g_file_get_contents(procs, &text, NULL, &err)) {
        problem(m, log, g_strdup_printf(
            "migration: no managed processes: %s (is cgroup2 mounted?)",
            err->message));
        return NULL;
    }
    pids = g_array_new(false, false, sizeof(pid_t));
    v = g_strsplit(text, "\n", -1);
    for (i = 0; v[i]; i++) {
        guint64 pid;

        if (g_ascii_string_to_unsigned(v[i], 10, 1, G_MAXINT32, &pid, NULL)) {
            pid_t p = pid;

            g_array_append_val(pids, p);
        }
    }
    return pids;
}

static gboolean not_seen(gpointer key, gpointer value, gpointer opaque)
{
    return !((Proc *)value)->seen;
}

static void clear_seen(gpointer key, gpointer value, gpointer opaque)
{
    ((Proc *)value)->seen = false;
}

/* Free pages of node N above PERCENT of it */
static gint64 free_pages(const AgentNode *n, guint percent, long page_size)
{
    return ((gint64)n->free_kb - (gint64)(n->mem_kb * percent / 100)) *
           1024 / page_size;
}

void agent_promote_round(AgentPromoter *m, const AgentPromotePolicy *p,
                         const AgentTopology *t, const AgentTiers *tiers,
                         AgentPromoteStats *stats, GPtrArray *log)
{
    g_autoptr(GArray) pids = NULL;
    bool slow[AGENT_MAX_NODES] = { false }, fastset[AGENT_MAX_NODES] = {
        false };
    int n, fast = -1, down = -1, top = G_MAXINT;
    gint64 fast_free, down_free;
    guint64 cap;
    BlockMap bm;
    guint i;

    if (!m->soft_dirty) {
        problem(m, log, g_strdup("migration: off: this kernel does not "
                                 "track soft-dirty pages "
                                 "(CONFIG_MEM_SOFT_DIRTY), so hot pages "
                                 "cannot be found"));
        return;
    }
    pids = cgroup_pids(m, p->cgroup, log);
    if (!pids) {
        return;
    }
    /* The fast node takes promotions, the next tier's takes demotions */
    for (n = 0; n < t->nr_nodes; n++) {
        if (t->nodes[n].present && t->nodes[n].mem_kb && tiers->tier[n] >= 0) {
            top = MIN(top, tiers->tier[n]);
        }
    }
    for (n = 0; n < t->nr_nodes; n++) {
        const AgentNode *node = &t->nodes[n];

        if (!node->present || !node->mem_kb || tiers->tier[n] < 0) {
            continue;
        }
        if (tiers->tier[n] == top) {
            if (fast < 0 || node->free_kb > t->nodes[fast].free_kb) {
                fast = n;
            }
            continue;
        }
        slow[n] = true;
        if (down < 0 || tiers->tier[n] < tiers->tier[down] ||
            (tiers->tier[n] == tiers->tier[down] &&
             node->free_kb > t->nodes[down].free_kb)) {
            down = n;
        }
    }
    if (fast < 0 || down < 0) {
        problem(m, log, g_strdup("migration: one tier only, nothing to do"));
        return;
    }
    fastset[fast] = true;
    if (!block_map_read(m->root, m->page_size, &bm)) {
        g_array_unref(bm.node);
        problem(m, log, g_strdup("migration: no memory blocks in sysfs"));
        return;
    }
    g_clear_pointer(&m->last_problem, g_free);
    stats->balancing = agent_balancing_check(&m->balancing, m->root,
                                             p->pause_numa_balancing, log);
    g_hash_table_foreach(m->procs, clear_seen, NULL);
    cap = (guint64)p->bandwidth_mbps * 1000000 / m->page_size;
    /* Kept up to date below, as processes' pages move */
    fast_free = free_pages(&t->nodes[fast], p->reserve_percent, m->page_size);
    down_free = free_pages(&t->nodes[down], p->reserve_percent, m->page_size);
    stats->managed = 0;
    for (i = 0; i < pids->len; i++) {
        pid_t pid = g_array_index(pids, pid_t, i);
        g_autoptr(GError) err = NULL;
        g_autofree char *comm = proc_comm(pid);
        AgentMoveBudget b = { 0 };
        AgentPageScan scan;
        AgentMovePlan plan;
        guint64 done;
        Proc *proc;

        if (!scan_pid(m, &bm, pid, p->cold_scans, &scan, &err)) {
            stats->scan_failures++;
            g_ptr_array_add(log, g_strdup_printf("migration: %s",
                                                 err->message));
            continue;
        }
        stats->managed++;
        proc = g_hash_table_lookup(m->procs, GINT_TO_POINTER(pid));
        for (n = 0; n < AGENT_MAX_NODES; n++) {
            b.hot_slow += slow[n] ? scan.hot_on[n] : 0;
        }
        b.cold_fast = scan.cold_on[fast];
        b.fast_room = MAX(fast_free, 0);
        b.fast_short = MAX(-fast_free, 0);
        b.slow_room = MAX(down_free, 0);
        b.cap = cap;
        plan = agent_plan_moves(&b);
        if (plan.demote) {
            done = move_logged(m, pid, comm, proc, PAGE_COLD, fastset, fast,
                               down, plan.demote, b.cold_fast, stats, log);
            stats->pages_demoted += done;
            cap -= MIN(cap, done);
            fast_free += done;
            down_free -= done;
            /* What did not go down leaves no room for going up */
            plan.promote = MIN(plan.promote, b.fast_room + done);
        }
        if (plan.promote) {
            done = move_logged(m, pid, comm, proc, PAGE_HOT, slow, -1, fast,
                               plan.promote, b.hot_slow, stats, log);
            stats->pages_promoted += done;
            cap -= MIN(cap, done);
            fast_free -= done;
        }
    }
    g_hash_table_foreach_remove(m->procs, not_seen, NULL);
    g_array_unref(bm.node);
    stats->rounds++;
    m->round++;
}
