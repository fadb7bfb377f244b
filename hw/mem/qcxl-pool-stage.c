/*
 * qcxl: moving guest RAM between local DRAM and a pool region, live
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * Two background jobs (query-jobs shows their progress, job-cancel
 * stops them):
 *
 *  - qcxl-pool-stage moves the memory of a RAM backend (private DRAM)
 *    into a pool region.  Piece by piece, with the vCPUs paused and the
 *    block layer drained, the bytes are copied into the region and the
 *    region's pages are moved (mremap) over the piece, at the same host
 *    address: the RAMBlock, the flat view and so KVM's memslot stay as
 *    they are, and TCG's TLB stays valid.  Once all of it is in the
 *    region the block is marked shared and from a named file, and the
 *    region is handed over at migration like memory-backend-qcxl-pool
 *    memory: the destination maps it and runs at once.
 *
 *  - qcxl-pool-pull is the way back: the pool memory of a backend (a
 *    memory-backend-qcxl-pool, typically the destination's after such a
 *    migration, or a staged RAM backend) is copied into fresh private
 *    memory, moved over the region's pages piece by piece, and the
 *    region is detached.  A pull that stops half way can be run again
 *    and goes on where it stopped; until it has finished the memory
 *    cannot be migrated.
 *
 * A piece holds the vCPUs for as long as it takes to copy it
 * (chunk-size bounds that); between pieces the guest runs while the
 * next piece's memory is allocated, and as long as the optional speed
 * limit (bytes per second, as for block jobs) asks.  Writers the pause
 * does not stop (vhost, VFIO) must not be used with these jobs.
 *
 * Owns the jobs (MoveJob) and, while one runs, a migration blocker.
 * The pool RAM record (qcxl-pool-ram.c) says how much has moved; only
 * these jobs advance it.  The monitor commands are in qcxl-pool-cmds.c.
 */

#include "qemu/osdep.h"
#include "block/aio.h"
#include "block/block-global-state.h"
#include "exec/ramblock.h"
#include "migration/blocker.h"
#include "migration/misc.h"
#include "qapi/error.h"
#include "qapi/qapi-types-job.h"
#include "qemu/error-report.h"
#include "qemu/job.h"
#include "qemu/madvise.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/ratelimit.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qom/object.h"
#include "system/cpus.h"
#include "system/runstate.h"
#include "hw/mem/qcxl_pool_backend.h"
#include "hw/mem/qcxl_pool_ram.h"
#include "hw/mem/qcxl_pool_stage.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "trace.h"

#define MOVE_MIN_HOLE       (64 * KiB)

typedef struct MoveJob {
    Job common;
    HostMemoryBackend *backend;
    QcxlPoolRam *ram;           /* NULL once freed */
    bool stage;                 /* DRAM -> pool; else pool -> DRAM */
    uint64_t chunk;
    Error *blocker;             /* of migration, while the job runs */

    /* stage: the region's range, its pieces moved under the RAM in turn */
    uint8_t *window;

    /* the piece the bottom half moves */
    uint64_t off, len;
    uint8_t *src;               /* its new memory */
    bool to_pool;
    int err;                    /* errno of the move, 0 if it worked */
    int64_t held_ns;            /* how long the vCPUs were held */
    int64_t max_held_ns;
    RateLimit limit;            /* with a speed given */
    uint64_t speed;
    Coroutine *co;
} MoveJob;

static GSList *moves;           /* running MoveJobs, under the BQL */

static QcxlPoolMap *jmap(MoveJob *j)
{
    return qcxl_pool_ram_map(j->ram);
}

/* The length of the run of pages at @p, all zero or (*zero false) not */
static size_t page_run(const uint8_t *p, size_t len, bool *zero)
{
    size_t ps = qemu_real_host_page_size(), run = ps;

    *zero = buffer_is_zero(p, ps);
    while (run < len && buffer_is_zero(p + run, ps) == *zero) {
        run += ps;
    }
    return run;
}

/*
 * The run at @p the stage treats alike: data (*zero false) or zero
 * pages.  Zero pages between data count as data unless there are at
 * least MOVE_MIN_HOLE of them: copying a few zero pages costs less than
 * the system calls around each hole.
 */
static size_t move_run(const uint8_t *p, size_t len, bool *zero)
{
    size_t run = page_run(p, len, zero), next;
    bool z;

    if (*zero && (run >= MOVE_MIN_HOLE || run == len)) {
        return run;
    }
    *zero = false;
    while (run < len) {
        next = page_run(p + run, len - run, &z);
        if (z && (next >= MOVE_MIN_HOLE || run + next == len)) {
            break;
        }
        run += next;
    }
    return run;
}

/*
 * Into the pool: copy what is not zero, through the file where the
 * pool is one (no page of the region gets mapped; the guest maps what
 * it touches later), else through the region's mapping.  Then the runs
 * of zero pages: they need nothing where the region has holes (they
 * read as zero); what the region holds there is cleared, not punched,
 * so media that is allocated stays so.  Like upstream's zero-page
 * detection, this keeps the cost to the guest's data.  0 or a negative
 * errno (a full file system): nothing was moved then.
 */
static int copy_to_pool(MoveJob *j, uint64_t off, uint64_t len)
{
    const uint8_t *from = qcxl_pool_ram_ptr(j->ram) + off;
    g_autoptr(GArray) zeros = g_array_new(false, false, sizeof(uint64_t));
    bool zero;
    int r;

    for (uint64_t o = 0, run; o < len; o += run) {
        run = move_run(from + o, len - o, &zero);
        if (zero) {
            uint64_t z[2] = { off + o, run };

            g_array_append_vals(zeros, z, 2);
            continue;
        }
        r = qcxl_pool_map_write(jmap(j), off + o, from + o, run);
        if (r == -ENOTSUP) {
            memcpy(j->window + off + o, from + o, run);
        } else if (r < 0) {
            return r;
        }
    }
    /* after the data: what was just written ends each hole search */
    for (guint i = 0; i < zeros->len; i += 2) {
        uint64_t z = g_array_index(zeros, uint64_t, i);
        uint64_t end = z + g_array_index(zeros, uint64_t, i + 1);

        for (uint64_t d = z, n; qcxl_pool_map_data_run(jmap(j), &d, end, &n);
             d += n) {
            memset(j->window + d, 0, n);
        }
    }
    return 0;
}

/* Out of the pool: copy what the region holds; its holes stay unbacked */
static void copy_from_pool(MoveJob *j, uint8_t *to, uint64_t off,
                           uint64_t len)
{
    for (uint64_t d = off, n;
         qcxl_pool_map_data_run(jmap(j), &d, off + len, &n); d += n) {
        memcpy(to + (d - off), qcxl_pool_ram_ptr(j->ram) + d, n);
    }
}

/*
 * Before a piece moves, allocate the pages its data will need, while
 * the guest still runs (what it writes later is allocated during the
 * pause): the region's pages for the RAM's data (into the pool), or
 * DRAM for the region's data (out of it).  0 or a negative errno.
 */
static int prefault(MoveJob *j, uint64_t off, uint64_t len)
{
    const uint8_t *from = qcxl_pool_ram_ptr(j->ram) + off;
    bool zero;

    if (!j->to_pool) {
        for (uint64_t d = off, n;
             qcxl_pool_map_data_run(jmap(j), &d, off + len, &n); d += n) {
            qemu_madvise(j->src + (d - off), n, QEMU_MADV_POPULATE_WRITE);
        }
        return 0;
    }
    for (uint64_t o = 0, run; o < len; o += run) {
        int r;

        run = move_run(from + o, len - o, &zero);
        if (zero) {
            continue;
        }
        r = qcxl_pool_map_allocate(jmap(j), off + o, run);
        if (r == -ENOTSUP) {
            qemu_madvise(j->window + off + o, run, QEMU_MADV_POPULATE_WRITE);
        } else if (r < 0) {
            return r;
        }
    }
    return 0;
}

/*
 * With the vCPUs paused and no block request in flight, copy the
 * guest's bytes of the piece into its new memory and put that memory in
 * the piece's place.  Nothing can write the old memory after the copy.
 */
static void move_piece_bh(void *opaque)
{
    MoveJob *j = opaque;
    uint8_t *dst = qcxl_pool_ram_ptr(j->ram) + j->off;
    int64_t t0 = get_clock();

    pause_all_vcpus();
    bdrv_drain_all_begin();
    if (j->to_pool) {
        j->err = -copy_to_pool(j, j->off, j->len);
    } else {
        copy_from_pool(j, j->src, j->off, j->len);
        j->err = 0;
    }
    if (!j->err) {
        j->err = mremap(j->src, j->len, j->len,
                        MREMAP_MAYMOVE | MREMAP_FIXED, dst) == MAP_FAILED ?
                 errno : 0;
    }
    bdrv_drain_all_end();
    resume_all_vcpus();
    j->held_ns = get_clock() - t0;
    trace_qcxl_pool_move_piece(qcxl_pool_ram_name(j->ram), j->to_pool, j->off,
                               j->len, j->held_ns / 1000, j->err);
    aio_co_wake(j->co);
}

/*
 * Move [@from, @to) of the RAM into the pool (@to_pool) or back into
 * private memory, a chunk at a time; stops early (returning 0) when the
 * job is cancelled and @cancellable.  Every piece moved advances
 * the record's pool range: into the pool, or out of it.
 */
static int coroutine_fn move_range(MoveJob *j, uint64_t from, uint64_t to,
                                   bool to_pool, bool cancellable,
                                   Error **errp)
{
    QcxlPoolRam *ram = j->ram;

    for (uint64_t off = from; off < to; off += j->len) {
        if (cancellable && job_is_cancelled(&j->common)) {
            return 0;
        }
        j->off = off;
        j->len = MIN(j->chunk, to - off);
        j->to_pool = to_pool;
        if (to_pool) {
            j->src = j->window + off;
        } else {
            j->src = mmap(NULL, j->len, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (j->src == MAP_FAILED) {
                error_setg_errno(errp, errno, "qcxl pool: allocating %" PRIu64
                                 " bytes of DRAM for '%s'", j->len,
                                 qcxl_pool_ram_name(ram));
                return -ENOMEM;
            }
        }
        j->err = -prefault(j, off, j->len);
        if (j->err) {
            error_setg_errno(errp, j->err, "qcxl pool: allocating %" PRIu64
                             " bytes of region '%s' for '%s'", j->len,
                             qcxl_pool_map_regions(jmap(j))[0],
                             qcxl_pool_ram_name(ram));
            if (!to_pool) {
                munmap(j->src, j->len);
            }
            return -j->err;
        }
        j->co = qemu_coroutine_self();
        aio_bh_schedule_oneshot(qemu_get_aio_context(), move_piece_bh, j);
        qemu_coroutine_yield();
        if (j->err) {
            error_setg_errno(errp, j->err, "qcxl pool: moving %" PRIu64
                             " bytes at offset %" PRIu64 " of '%s'", j->len,
                             off, qcxl_pool_ram_name(ram));
            if (!to_pool) {
                munmap(j->src, j->len);
            }
            return -j->err;
        }
        if (to_pool) {
            qcxl_pool_ram_moved_in(ram, off + j->len);
        } else {
            qcxl_pool_ram_moved_out(ram, off + j->len);
        }
        j->max_held_ns = MAX(j->max_held_ns, j->held_ns);
        job_progress_update(&j->common, j->len);
        job_sleep_ns(&j->common, j->speed ?
                     ratelimit_calculate_delay(&j->limit, j->len) : 0);
    }
    return 0;
}

static int coroutine_fn stage_run(MoveJob *j, Error **errp)
{
    QcxlPoolRam *ram = j->ram;
    const char *region = qcxl_pool_map_regions(jmap(j))[0];
    uint64_t size = qcxl_pool_ram_size(ram), pulled, pool_end;
    Error *err = NULL;
    int ret;

    ret = move_range(j, 0, size, true, true, &err);
    qcxl_pool_ram_pool_range(ram, &pulled, &pool_end);
    if (!ret && pool_end == size) {
        qcxl_pool_ram_register(ram);
        trace_qcxl_pool_move_done(qcxl_pool_ram_name(ram), true, size,
                                  j->max_held_ns / 1000);
        info_report("qcxl pool %s: '%s' (%" PRIu64 " bytes) is now in "
                    "region '%s' (the longest pause: %" PRId64 " us)",
                    qcxl_pool_member_path(qcxl_pool_ram_member(ram)),
                    qcxl_pool_ram_name(ram), size, region,
                    j->max_held_ns / 1000);
        return 0;
    }

    /* failed or cancelled: what went into the region comes back */
    munmap(j->window + pool_end, size - pool_end);
    job_progress_increase_remaining(&j->common, pool_end);
    if (move_range(j, 0, pool_end, false, false, err ? NULL : &err) < 0) {
        /*
         * [pulled, pool_end) stays in the region, which keeps it; this
         * memory is pool RAM now, partly, and qcxl-pool-pull finishes
         * the way back.
         */
        error_append_hint(&err, "'%s' is partly in region '%s'; "
                          "qcxl-pool-pull takes it back\n",
                          qcxl_pool_ram_name(ram), region);
        qcxl_pool_ram_register(ram);
    } else {
        qcxl_pool_ram_free(ram);
        j->ram = NULL;
    }
    if (err) {
        error_propagate(errp, err);
        return ret < 0 ? ret : -EIO;
    }
    return 0;       /* cancelled: the job concludes as cancelled */
}

static int coroutine_fn pull_run(MoveJob *j, Error **errp)
{
    QcxlPoolRam *ram = j->ram;
    g_autofree char *regions = qcxl_pool_map_regions_str(jmap(j));
    uint64_t pulled, pool_end;
    int ret;

    qcxl_pool_ram_pool_range(ram, &pulled, &pool_end);
    ret = move_range(j, pulled, pool_end, false, true, errp);
    qcxl_pool_ram_pool_range(ram, &pulled, &pool_end);
    if (ret < 0 || pulled < pool_end) {
        return ret;
    }
    trace_qcxl_pool_move_done(qcxl_pool_ram_name(ram), false,
                              qcxl_pool_ram_size(ram), j->max_held_ns / 1000);
    info_report("qcxl pool %s: '%s' (%" PRIu64 " bytes) is in DRAM; "
                "region%s '%s' detached (the longest pause: %" PRId64 " us)",
                qcxl_pool_member_path(qcxl_pool_ram_member(ram)),
                qcxl_pool_ram_name(ram), qcxl_pool_ram_size(ram),
                strchr(regions, ':') ? "s" : "", regions,
                j->max_held_ns / 1000);
    qcxl_pool_ram_unregister(ram);
    switch (qcxl_pool_ram_kind(ram)) {
    case QCXL_POOL_RAM_BACKEND:
        /* the backend keeps its record until it is deleted */
        qcxl_pool_map_detach(jmap(j));
        break;
    case QCXL_POOL_RAM_STAGED:
        qcxl_pool_ram_free(ram);
        j->ram = NULL;
        break;
    }
    return 0;
}

static int coroutine_fn move_job_run(Job *job, Error **errp)
{
    MoveJob *j = container_of(job, MoveJob, common);
    uint64_t pulled, pool_end;

    qcxl_pool_ram_pool_range(j->ram, &pulled, &pool_end);
    job_progress_set_remaining(job, j->stage ? qcxl_pool_ram_size(j->ram)
                                             : pool_end - pulled);
    return j->stage ? stage_run(j, errp) : pull_run(j, errp);
}

static void move_job_clean(Job *job)
{
    MoveJob *j = container_of(job, MoveJob, common);

    migrate_del_blocker(&j->blocker);
    cxl_direct_map_backend_moving(host_memory_backend_get_memory(j->backend),
                                  false);
    object_unref(OBJECT(j->backend));
    moves = g_slist_remove(moves, j);
}

static const JobDriver stage_job_driver = {
    .instance_size = sizeof(MoveJob),
    .job_type = JOB_TYPE_QCXL_POOL_STAGE,
    .run = move_job_run,
    .clean = move_job_clean,
};

static const JobDriver pull_job_driver = {
    .instance_size = sizeof(MoveJob),
    .job_type = JOB_TYPE_QCXL_POOL_PULL,
    .run = move_job_run,
    .clean = move_job_clean,
};

/* The running job that moves @backend's memory, if any */
static MoveJob *moving(HostMemoryBackend *backend)
{
    for (GSList *l = moves; l; l = l->next) {
        if (((MoveJob *)l->data)->backend == backend) {
            return l->data;
        }
    }
    return NULL;
}

static bool may_move(Error **errp)
{
    if (migration_is_running() || runstate_check(RUN_STATE_INMIGRATE)) {
        error_setg(errp, "qcxl pool: a migration is in progress; guest "
                   "memory moves between DRAM and the pool before or "
                   "after one, not during it");
        return false;
    }
    return true;
}

/*
 * Create job @job_id moving @ram, with its migration blocker; NULL
 * with @errp set if either cannot be had.
 */
static MoveJob *move_job_new(const char *job_id, QcxlPoolRam *ram,
                             bool stage, uint64_t chunk, uint64_t speed,
                             Error **errp)
{
    Error *blocker = NULL;
    MoveJob *j;

    j = job_create(job_id, stage ? &stage_job_driver : &pull_job_driver,
                   NULL, qemu_get_aio_context(), JOB_MANUAL_DISMISS, NULL,
                   NULL, errp);
    if (!j) {
        return NULL;
    }
    error_setg(&blocker, "qcxl pool: job '%s' is moving guest memory "
               "between DRAM and the pool; migrate once it has ended "
               "(query-jobs)", job_id);
    if (migrate_add_blocker_internal(&blocker, errp) < 0) {
        job_early_fail(&j->common);
        return NULL;
    }
    j->blocker = blocker;
    j->backend = qcxl_pool_ram_backend(ram);
    object_ref(OBJECT(j->backend));
    j->ram = ram;
    j->stage = stage;
    j->chunk = chunk;
    j->speed = speed;
    if (speed) {
        ratelimit_init(&j->limit);
        ratelimit_set_speed(&j->limit, speed, 100 * SCALE_MS);
    }
    moves = g_slist_prepend(moves, j);
    /* An interleaved set must not hold the pages while they move. */
    cxl_direct_map_backend_moving(host_memory_backend_get_memory(j->backend),
                                  true);
    return j;
}

bool qcxl_pool_stage_start(const char *job_id, HostMemoryBackend *backend,
                           const char *region, const char *pool,
                           const char *host, uint64_t chunk, uint64_t speed,
                           Error **errp)
{
    RAMBlock *rb = backend->mr.ram_block;
    const char *id = rb->idstr;
    const char *regions[] = { region, NULL };
    g_autoptr(QcxlPoolMember) member = NULL;
    g_autoptr(QcxlPoolMap) map = NULL;
    QcxlPoolRam *ram;
    MoveJob *j;

    if (!may_move(errp)) {
        return false;
    }
    if (qcxl_pool_ram_find(backend) ||
        object_dynamic_cast(OBJECT(backend), TYPE_MEMORY_BACKEND_QCXL_POOL)) {
        error_setg(errp, "memory backend '%s' is pool memory already", id);
        return false;
    }
    if (moving(backend)) {
        error_setg(errp, "job '%s' is moving memory backend '%s'",
                   moving(backend)->common.id, id);
        return false;
    }
    if (rb->fd >= 0 || qemu_ram_is_shared(rb) || rb->guest_memfd >= 0 ||
        qemu_ram_pagesize(rb) != qemu_real_host_page_size() ||
        (rb->flags & RAM_RESIZEABLE)) {
        error_setg(errp, "memory backend '%s' is not private anonymous "
                   "memory in host pages (a memory-backend-ram is); only "
                   "such memory can be staged", id);
        return false;
    }
    if (!qcxl_pool_map_check_names(regions, errp)) {
        return false;
    }
    member = pool && host ? qcxl_pool_member_get(pool, host, true, errp)
                          : qcxl_pool_member_find(pool, host, errp);
    if (!member) {
        return false;
    }
    map = qcxl_pool_map_new(member, regions, QCXL_REGION_USE_MEMORY, errp);
    if (!map) {
        return false;
    }
    if (qcxl_pool_map_size(map) != qemu_ram_get_used_length(rb)) {
        error_setg(errp, "qcxl pool %s: region '%s' holds %" PRIu64 " bytes "
                   "and memory backend '%s' %" PRIu64 ": they must be equal",
                   qcxl_pool_member_path(member), region,
                   qcxl_pool_map_size(map), id,
                   (uint64_t)qemu_ram_get_used_length(rb));
        return false;
    }
    ram = qcxl_pool_ram_new(QCXL_POOL_RAM_STAGED, backend,
                            g_steal_pointer(&map));
    j = move_job_new(job_id, ram, true, chunk, speed, errp);
    if (!j) {
        qcxl_pool_ram_free(ram);
        return false;
    }
    /* the job moves the range's pages away: it is the job's now */
    j->window = qcxl_pool_map_take_range(qcxl_pool_ram_map(ram));
    job_start(&j->common);
    return true;
}

bool qcxl_pool_pull_start(const char *job_id, HostMemoryBackend *backend,
                          uint64_t chunk, uint64_t speed, Error **errp)
{
    const char *id = backend->mr.ram_block->idstr;
    QcxlPoolRam *ram = qcxl_pool_ram_find(backend);
    g_autoptr(GError) gerr = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    QcxlPoolMember *m;
    MoveJob *j;

    if (!may_move(errp)) {
        return false;
    }
    if (!ram) {
        error_setg(errp, "memory backend '%s' is not in a qcxl pool (any "
                   "more)", id);
        return false;
    }
    if (moving(backend)) {
        error_setg(errp, "a job is moving memory backend '%s' already", id);
        return false;
    }
    m = qcxl_pool_ram_member(ram);
    if (qcxl_pool_member_fenced(m)) {
        error_setg(errp, "qcxl pool %s: host '%s' was evicted; the memory "
                   "of '%s' is no longer its to take",
                   qcxl_pool_member_path(m), qcxl_pool_member_name(m), id);
        return false;
    }
    meta = qcxl_pool_read(qcxl_pool_member_pool(m), &gerr);
    if (!meta) {
        error_setg(errp, "qcxl pool %s: %s", qcxl_pool_member_path(m),
                   gerr->message);
        return false;
    }
    for (const char *const *r = qcxl_pool_map_regions(qcxl_pool_ram_map(ram));
         *r; r++) {
        int i = qcxl_pool_find_region(meta, *r);

        if (i < 0 || meta->regions[i].owner != qcxl_pool_member_slot(m)) {
            error_setg(errp, "qcxl pool %s: region '%s' is not host '%s''s; "
                       "only its owner may take its memory into DRAM",
                       qcxl_pool_member_path(m), *r,
                       qcxl_pool_member_name(m));
            return false;
        }
    }
    j = move_job_new(job_id, ram, false, chunk, speed, errp);
    if (!j) {
        return false;
    }
    job_start(&j->common);
    return true;
}
