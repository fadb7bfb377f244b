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
 *    into a pool region.  While the guest runs, the live copy engine
 *    (migration/qcxl-live-copy.c) copies every page into the region,
 *    then in rounds the pages written meanwhile, until few are left.
 *    Then one pause, with the vCPUs stopped and the block layer
 *    drained, copies the last ones and moves the region's pages (mremap)
 *    over the RAM at the same host address: the RAMBlock, the flat view
 *    and so KVM's memslot stay as they are, and TCG's TLB stays valid.
 *    The block is marked shared and from a named file, and the region is
 *    handed over at migration like memory-backend-qcxl-pool memory: the
 *    destination maps it and runs at once.
 *
 *  - qcxl-pool-pull is the way back: the pool memory of a backend (a
 *    memory-backend-qcxl-pool, typically the destination's after such a
 *    migration, or a staged RAM backend) is copied the same way into
 *    fresh private memory, which the pause moves over the region's
 *    pages; the region is detached.
 *
 * Until the pause nothing has changed for the guest, so a job that fails
 * or is cancelled just drops its copy.  The copy runs as fast as the
 * optional speed limit (bytes per second, as for block jobs) allows.
 * Writers the pause does not stop (vhost, VFIO) must not be used with
 * these jobs, nor do their writes show in the dirty log.
 *
 * Owns the jobs (MoveJob) and, while one runs, a migration blocker.
 * The pool RAM record (qcxl-pool-ram.c) says whether the memory is in
 * the pool; only these jobs change that.  The monitor commands are in
 * qcxl-pool-cmds.c.
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
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qemu/units.h"
#include "qom/object.h"
#include "system/cpus.h"
#include "system/runstate.h"
#include "hw/mem/qcxl_pool_backend.h"
#include "hw/mem/qcxl_pool_ram.h"
#include "hw/mem/qcxl_pool_stage.h"
#include "hw/cxl/qcxl_direct_map.h"
#include "exec/target_page.h"
#include "migration/qcxl-live-copy.h"
#include "qapi/qapi-events-qcxl.h"
#include "trace.h"

#define MOVE_MIN_HOLE       (64 * KiB)
/* the pause copies what is left once a round leaves at most this */
#define MOVE_LAST_BYTES     (8 * MiB)
/* or after this many rounds, if the guest writes faster than we copy */
#define MOVE_ROUNDS         30

typedef struct MoveJob {
    Job common;
    HostMemoryBackend *backend;
    QcxlPoolRam *ram;           /* NULL once freed */
    bool stage;                 /* DRAM -> pool; else pool -> DRAM */
    Error *blocker;             /* of migration, while the job runs */
    QcxlLiveCopy *copy;
    int round_ret;              /* the last round's result */
    int rounds;
    /*
     * The new memory: the region's range (stage) or fresh DRAM (pull);
     * NULL once it is the RAM's
     */
    uint8_t *window;
    /* the pause */
    uint64_t last_bytes;        /* copied in it */
    int err;                    /* its errno, 0 if it worked */
    int64_t held_ns;            /* how long the vCPUs were held */
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

/*
 * Out of the pool, into the new DRAM: copy what the region holds; its
 * holes stay unbacked
 */
static void copy_from_pool(MoveJob *j, uint64_t off, uint64_t len)
{
    for (uint64_t d = off, n;
         qcxl_pool_map_data_run(jmap(j), &d, off + len, &n); d += n) {
        memcpy(j->window + d, qcxl_pool_ram_ptr(j->ram) + d, n);
    }
}

/* ---- The copy, while the guest runs ---- */

/* The engine's copy: in its thread, or in the pause */
static int move_copy(void *opaque, uint32_t block, uint64_t offset,
                     uint64_t len)
{
    MoveJob *j = opaque;

    if (j->stage) {
        return copy_to_pool(j, offset, len);
    }
    copy_from_pool(j, offset, len);
    return 0;
}

static void move_copied(void *opaque, uint64_t len)
{
    MoveJob *j = opaque;

    /* progress meters have a lock of their own */
    job_progress_update(&j->common, len);
}

static void move_round_done(void *opaque, int ret)
{
    MoveJob *j = opaque;

    j->round_ret = ret;
    job_enter(&j->common);
}

static const QcxlLiveCopyOps move_ops = {
    .copy = move_copy,
    .copied = move_copied,
    .done = move_round_done,
};

/* The running round's result; -ECANCELED if the job was cancelled */
static int coroutine_fn wait_round(MoveJob *j)
{
    while (qcxl_live_copy_busy(j->copy) && !job_is_cancelled(&j->common)) {
        job_yield(&j->common);
    }
    if (qcxl_live_copy_busy(j->copy)) {
        qcxl_live_copy_cancel(j->copy);
        return -ECANCELED;
    }
    return job_is_cancelled(&j->common) ? -ECANCELED : j->round_ret;
}

/* ---- The pause ---- */

/*
 * @size bytes of fresh memory (@prot) at the same offset into a huge
 * page as @host, so that mremap between the two moves whole page tables
 * rather than every entry.  NULL with errno set if there is none.
 */
static uint8_t *aligned_alloc_like(uint64_t size, const uint8_t *host,
                                   int prot)
{
    const uint64_t align = 2 * MiB;
    uint8_t *p = mmap(NULL, size + align, prot,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uint8_t *start;

    if (p == MAP_FAILED) {
        return NULL;
    }
    start = (uint8_t *)QEMU_ALIGN_DOWN((uintptr_t)p, align) +
            ((uintptr_t)host & (align - 1));
    if (start < p) {
        start += align;
    }
    if (start > p) {
        munmap(p, start - p);
    }
    munmap(start + size, p + size + align - (start + size));
    return start;
}

/*
 * Move the pages of [@from, @from + @size) to @to, replacing what is
 * there.  mremap moves one mapping at a time (before Linux 6.17), and a
 * pool range is a mapping per run of extents: a move that straddles
 * two is split, halving, until each part lies in one.  The bytes moved.
 */
static uint64_t move_pages(uint8_t *from, uint8_t *to, uint64_t size)
{
    uint64_t off = 0, len = size;

    while (off < size) {
        len = MIN(len, size - off);
        if (mremap(from + off, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
                   to + off) != MAP_FAILED) {
            off += len;
            len = size - off;
        } else if (errno == EFAULT && len > qemu_real_host_page_size()) {
            len = QEMU_ALIGN_UP(len / 2, qemu_real_host_page_size());
        } else {
            break;
        }
    }
    return off;
}

/*
 * A stage's mremap stopped after @moved bytes: the DRAM there is gone,
 * and region pages hold the same bytes.  Put them into fresh DRAM.
 */
static bool stage_undo(uint8_t *host, uint64_t moved)
{
    uint8_t *tmp;

    if (!moved) {
        return true;
    }
    tmp = aligned_alloc_like(moved, host, PROT_READ | PROT_WRITE);
    if (!tmp) {
        return false;
    }
    memcpy(tmp, host, moved);
    return move_pages(tmp, host, moved) == moved;
}

/* Nothing to run on: stop the VM, as for an I/O error */
static void lost(MoveJob *j)
{
    error_report("qcxl pool: putting '%s' back failed: %s",
                 qcxl_pool_ram_name(j->ram), strerror(errno));
    qemu_system_vmstop_request_prepare();
    qemu_system_vmstop_request(RUN_STATE_IO_ERROR);
}

/*
 * Put the new memory (j->window) in the RAM's place at @host, the old
 * memory moved to @aside first if it is given: 0, or an errno with the
 * RAM as it was.
 */
static int swap_memory(MoveJob *j, uint8_t *host, uint8_t *aside,
                       uint64_t size)
{
    uint64_t moved;
    int err;

    if (aside) {
        moved = move_pages(host, aside, size);
        if (moved != size) {
            err = errno;
            if (move_pages(aside, host, moved) != moved) {
                lost(j);
            }
            return err;
        }
    }
    moved = move_pages(j->window, host, size);
    if (moved == size) {
        j->window = NULL;
        return 0;
    }
    err = errno;
    /* undo: the new memory back, then the old */
    if (aside ? move_pages(host, j->window, moved) != moved ||
                move_pages(aside, host, size) != size
              : !stage_undo(host, moved)) {
        lost(j);
    }
    return err;
}

typedef struct Unmap {
    void *addr;
    size_t len;
} Unmap;

static void *unmap_thread(void *opaque)
{
    Unmap *u = opaque;

    munmap(u->addr, u->len);
    g_free(u);
    return NULL;
}

/*
 * The pause: with the vCPUs stopped and no block request in flight,
 * copy what was written since the last round and put the new memory in
 * the RAM's place, at the same address.  Nothing writes the old memory
 * after that copy.
 *
 * A pull first moves the region's pages aside (page tables move in
 * whole) and unmaps them once the guest runs again, in a thread of its
 * own so that the main loop does not wait either: unmapping them takes
 * about 18 ms per GiB of 4 KiB shared pages here, moving them aside
 * 0.15 ms.  A stage lets the mremap unmap the DRAM it replaces: private
 * memory in huge pages goes in about 1 ms per GiB, while moving it
 * aside took 33 ms.
 */
static void switch_bh(void *opaque)
{
    MoveJob *j = opaque;
    uint8_t *host = qcxl_pool_ram_ptr(j->ram);
    uint64_t size = qcxl_pool_ram_size(j->ram);
    uint8_t *aside = NULL;
    int64_t t0 = get_clock();

    j->err = 0;
    if (!j->stage) {
        aside = aligned_alloc_like(size, host, PROT_NONE);
        j->err = aside ? 0 : errno;
    }
    pause_all_vcpus();
    bdrv_drain_all_begin();
    if (job_is_cancelled(&j->common)) {
        j->err = ECANCELED;
    } else if (!j->err) {
        j->last_bytes = qcxl_live_copy_take(j->copy) * qemu_target_page_size();
        j->err = -qcxl_live_copy_flush(j->copy);
    }
    if (!j->err) {
        j->err = swap_memory(j, host, aside, size);
    }
    bdrv_drain_all_end();
    resume_all_vcpus();
    j->held_ns = get_clock() - t0;
    if (aside) {
        QemuThread t;
        Unmap *u = g_new(Unmap, 1);

        *u = (Unmap) { .addr = aside, .len = size };
        qemu_thread_create(&t, "qcxl-pool-unmap", unmap_thread, u,
                           QEMU_THREAD_DETACHED);
    }
    trace_qcxl_pool_move_switch(qcxl_pool_ram_name(j->ram), j->stage, size,
                                j->last_bytes, j->held_ns / 1000, j->err);
    aio_co_wake(j->co);
}

/*
 * Copy the RAM into the new memory while the guest runs, and switch it
 * over in one pause: 0 when it is the RAM's, -ECANCELED when the job was
 * cancelled, else a negative errno with @errp set.  Either way it ends
 * the live copy, and so dirty tracking.
 */
static int coroutine_fn move(MoveJob *j, Error **errp)
{
    const char *name = qcxl_pool_ram_name(j->ram);
    uint64_t left;
    int ret;

    qcxl_live_copy_round(j->copy, true);
    for (;;) {
        ret = wait_round(j);
        if (ret < 0) {
            break;
        }
        j->rounds++;
        left = qcxl_live_copy_take(j->copy) * qemu_target_page_size();
        if (left <= MOVE_LAST_BYTES || j->rounds >= MOVE_ROUNDS) {
            /* the rest in the pause; a round is on the meter already */
            job_progress_increase_remaining(&j->common, left);
            j->co = qemu_coroutine_self();
            aio_bh_schedule_oneshot(qemu_get_aio_context(), switch_bh, j);
            qemu_coroutine_yield();
            ret = -j->err;
            if (!ret) {
                job_progress_update(&j->common, left);
            }
            break;
        }
        job_progress_increase_remaining(&j->common, left);
        qcxl_live_copy_round(j->copy, false);
    }
    qcxl_live_copy_free(j->copy);
    j->copy = NULL;
    if (ret < 0 && ret != -ECANCELED) {
        error_setg_errno(errp, -ret, "qcxl pool: %s '%s' %s region '%s'",
                         j->stage ? "copying" : "copying back", name,
                         j->stage ? "into" : "from",
                         qcxl_pool_map_regions(jmap(j))[0]);
    }
    return ret;
}

static void moved(MoveJob *j, const char *what)
{
    QcxlPoolRam *ram = j->ram;

    trace_qcxl_pool_move_done(qcxl_pool_ram_name(ram), j->stage,
                              qcxl_pool_ram_size(ram), j->rounds,
                              j->held_ns / 1000);
    info_report("qcxl pool %s: '%s' (%" PRIu64 " bytes) %s (%d rounds; "
                "the pause: %" PRId64 " us for the last %" PRIu64 " bytes)",
                qcxl_pool_member_path(qcxl_pool_ram_member(ram)),
                qcxl_pool_ram_name(ram), qcxl_pool_ram_size(ram), what,
                j->rounds, j->held_ns / 1000, j->last_bytes);
    qapi_event_send_qcxl_pool_moved(j->common.id, qcxl_pool_ram_name(ram),
                                    j->stage, qcxl_pool_ram_size(ram),
                                    j->rounds, j->last_bytes,
                                    j->held_ns / 1000);
}

static int coroutine_fn stage_run(MoveJob *j, Error **errp)
{
    QcxlPoolRam *ram = j->ram;
    g_autofree char *what = g_strdup_printf("is now in region '%s'",
                                            qcxl_pool_map_regions(jmap(j))[0]);
    int ret = move(j, errp);

    if (!ret) {
        qcxl_pool_ram_moved_in(ram, qcxl_pool_ram_size(ram));
        qcxl_pool_ram_register(ram);
        moved(j, what);
        return 0;
    }
    /* failed or cancelled: the RAM never left DRAM; drop the copy */
    munmap(j->window, qcxl_pool_ram_size(ram));
    j->window = NULL;
    qcxl_pool_ram_free(ram);
    j->ram = NULL;
    return ret == -ECANCELED ? 0 : ret;
}

static int coroutine_fn pull_run(MoveJob *j, Error **errp)
{
    QcxlPoolRam *ram = j->ram;
    uint64_t size = qcxl_pool_ram_size(ram);
    g_autofree char *regions = qcxl_pool_map_regions_str(jmap(j));
    g_autofree char *what = g_strdup_printf("is in DRAM; region%s '%s' "
                                            "detached",
                                            strchr(regions, ':') ? "s" : "",
                                            regions);
    int ret;

    j->window = aligned_alloc_like(size, qcxl_pool_ram_ptr(ram),
                                   PROT_READ | PROT_WRITE);
    if (!j->window) {
        error_setg_errno(errp, errno, "qcxl pool: allocating %" PRIu64
                         " bytes of DRAM for '%s'", size,
                         qcxl_pool_ram_name(ram));
        return -ENOMEM;
    }
    ret = move(j, errp);
    if (ret < 0) {
        /* the RAM is still the region's: drop the copy */
        munmap(j->window, size);
        j->window = NULL;
        return ret == -ECANCELED ? 0 : ret;
    }
    qcxl_pool_ram_moved_out(ram, size);
    moved(j, what);
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

    job_progress_set_remaining(job, qcxl_pool_ram_size(j->ram));
    return j->stage ? stage_run(j, errp) : pull_run(j, errp);
}

static void move_job_clean(Job *job)
{
    MoveJob *j = container_of(job, MoveJob, common);

    qcxl_live_copy_free(j->copy);
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
    RAMBlock *rb = qcxl_pool_ram_backend(ram)->mr.ram_block;
    g_autofree char *owner = g_strdup_printf("job '%s' (%s)", job_id,
                                             stage ? "qcxl-pool-stage"
                                                   : "qcxl-pool-pull");
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
    /* An interleaved set must not hold the pages while they move. */
    cxl_direct_map_backend_moving(host_memory_backend_get_memory(
                                      qcxl_pool_ram_backend(ram)), true);
    /* from here on every write to the RAM is tracked */
    j->copy = qcxl_live_copy_new(owner, &rb, 1, chunk, &move_ops, j, errp);
    if (!j->copy) {
        cxl_direct_map_backend_moving(host_memory_backend_get_memory(
                                          qcxl_pool_ram_backend(ram)), false);
        migrate_del_blocker(&blocker);
        job_early_fail(&j->common);
        return NULL;
    }
    qcxl_live_copy_set_speed(j->copy, speed);
    j->blocker = blocker;
    j->backend = qcxl_pool_ram_backend(ram);
    object_ref(OBJECT(j->backend));
    j->ram = ram;
    j->stage = stage;
    moves = g_slist_prepend(moves, j);
    return j;
}

bool qcxl_pool_stage_start(const char *job_id, HostMemoryBackend *backend,
                           const char *region, const char *pool,
                           const char *host, uint64_t chunk, uint64_t speed,
                           Error **errp)
{
    /* Messages name the backend as the user did (its id), not its block */
    const char *id = object_get_canonical_path_component(
        OBJECT(backend));
    RAMBlock *rb = backend->mr.ram_block;
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
    const char *id = object_get_canonical_path_component(
        OBJECT(backend));
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
