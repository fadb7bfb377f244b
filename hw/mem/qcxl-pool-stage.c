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
 */

#include "qemu/osdep.h"
#include "block/aio.h"
#include "block/block-global-state.h"
#include "exec/ramblock.h"
#include "migration/misc.h"
#include "qapi/error.h"
#include "qapi/qapi-commands-qcxl.h"
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
#include "system/hostmem.h"
#include "system/runstate.h"
#include "hw/mem/qcxl_pool_backend.h"

#define MOVE_CHUNK_DEFAULT  (32 * MiB)
#define MOVE_CHUNK_MAX      (1 * GiB)
#define MOVE_MIN_HOLE       (64 * KiB)

typedef struct MoveJob {
    Job common;
    HostMemoryBackend *backend;
    QcxlPoolRam *ram;           /* NULL once freed */
    bool stage;                 /* DRAM -> pool; else pool -> DRAM */
    uint64_t chunk;

    /* stage: the region mapped, its pieces moved under the RAM in turn */
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
    const uint8_t *from = j->ram->ptr + off;
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
        r = qcxl_pool_ram_write(j->ram, off + o, from + o, run);
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

        for (uint64_t d = z, n; qcxl_pool_ram_data_run(j->ram, &d, end, &n);
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
         qcxl_pool_ram_data_run(j->ram, &d, off + len, &n); d += n) {
        memcpy(to + (d - off), j->ram->ptr + d, n);
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
    const uint8_t *from = j->ram->ptr + off;
    bool zero;

    if (!j->to_pool) {
        for (uint64_t d = off, n;
             qcxl_pool_ram_data_run(j->ram, &d, off + len, &n); d += n) {
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
        r = qcxl_pool_ram_allocate(j->ram, off + o, run);
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
    uint8_t *dst = j->ram->ptr + j->off;
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
    aio_co_wake(j->co);
}

/*
 * Move [@from, @to) of the RAM into the pool (@to_pool) or back into
 * private memory, a chunk at a time; stops early (returning 0) when the
 * job is cancelled and @cancellable.  Every piece moved advances
 * ram->pool_end (into the pool) or ram->pulled (out of it).
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
                                 ram->backend->mr.ram_block->idstr);
                return -ENOMEM;
            }
        }
        j->err = -prefault(j, off, j->len);
        if (j->err) {
            error_setg_errno(errp, j->err, "qcxl pool: allocating %" PRIu64
                             " bytes of region '%s' for '%s'", j->len,
                             ram->regions[0],
                             ram->backend->mr.ram_block->idstr);
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
                             off, ram->backend->mr.ram_block->idstr);
            if (!to_pool) {
                munmap(j->src, j->len);
            }
            return -j->err;
        }
        if (to_pool) {
            ram->pool_end = off + j->len;
        } else {
            ram->pulled = off + j->len;
        }
        j->max_held_ns = MAX(j->max_held_ns, j->held_ns);
        job_progress_update(&j->common, j->len);
        job_sleep_ns(&j->common, j->speed ?
                     ratelimit_calculate_delay(&j->limit, j->len) : 0);
    }
    return 0;
}

static void ram_free(QcxlPoolRam *ram)
{
    qcxl_pool_ram_detach(ram);
    qcxl_pool_ctx_put(ram->ctx);
    g_strfreev(ram->regions);
    g_free(ram->ext);
    object_unref(OBJECT(ram->backend));
    g_free(ram);
}

static int coroutine_fn stage_run(MoveJob *j, Error **errp)
{
    QcxlPoolRam *ram = j->ram;
    const char *id = ram->backend->mr.ram_block->idstr;
    Error *err = NULL;
    int ret;

    ret = move_range(j, 0, ram->size, true, true, &err);
    if (!ret && ram->pool_end == ram->size) {
        qcxl_pool_ram_add(ram);
        info_report("qcxl pool %s: '%s' (%" PRIu64 " bytes) is now in "
                    "region '%s' (the longest pause: %" PRId64 " us)",
                    ram->ctx->path, id, ram->size, ram->regions[0],
                    j->max_held_ns / 1000);
        return 0;
    }

    /* failed or cancelled: what went into the region comes back */
    munmap(j->window + ram->pool_end, ram->size - ram->pool_end);
    job_progress_increase_remaining(&j->common, ram->pool_end);
    if (move_range(j, 0, ram->pool_end, false, false,
                   err ? NULL : &err) < 0) {
        /*
         * [pulled, pool_end) stays in the region, which keeps it; this
         * memory is pool RAM now, partly, and qcxl-pool-pull finishes
         * the way back.
         */
        error_append_hint(&err, "'%s' is partly in region '%s'; "
                          "qcxl-pool-pull takes it back\n", id,
                          ram->regions[0]);
        qcxl_pool_ram_add(ram);
    } else {
        ram_free(ram);
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
    int ret;

    ret = move_range(j, ram->pulled, ram->pool_end, false, true, errp);
    if (ret < 0 || ram->pulled < ram->pool_end) {
        return ret;
    }
    info_report("qcxl pool %s: '%s' (%" PRIu64 " bytes) is in DRAM; "
                "region%s '%s' detached (the longest pause: %" PRId64 " us)",
                ram->ctx->path, ram->backend->mr.ram_block->idstr, ram->size,
                ram->regions[1] ? "s" : "", ram->regions[0],
                j->max_held_ns / 1000);
    qcxl_pool_ram_remove(ram);
    ram->pulled = 0;
    ram->pool_end = ram->size;
    if (object_dynamic_cast(OBJECT(ram->backend),
                            TYPE_MEMORY_BACKEND_QCXL_POOL)) {
        /* the backend keeps its ctx reference until it is deleted */
        qcxl_pool_ram_detach(ram);
    } else {
        ram_free(ram);
        j->ram = NULL;
    }
    return 0;
}

static int coroutine_fn move_job_run(Job *job, Error **errp)
{
    MoveJob *j = container_of(job, MoveJob, common);
    QcxlPoolRam *ram = j->ram;

    job_progress_set_remaining(job, j->stage ? ram->size
                                             : ram->pool_end - ram->pulled);
    return j->stage ? stage_run(j, errp) : pull_run(j, errp);
}

static void move_job_clean(Job *job)
{
    MoveJob *j = container_of(job, MoveJob, common);

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

const char *qcxl_pool_move_running(void)
{
    return moves ? ((MoveJob *)moves->data)->common.id : NULL;
}

static HostMemoryBackend *find_memdev(const char *id, Error **errp)
{
    Object *obj = object_resolve_path_component(object_get_objects_root(),
                                                id);
    HostMemoryBackend *backend;

    if (!obj || !object_dynamic_cast(obj, TYPE_MEMORY_BACKEND)) {
        error_setg(errp, "no memory backend '%s'", id);
        return NULL;
    }
    backend = MEMORY_BACKEND(obj);
    if (!host_memory_backend_mr_inited(backend) ||
        !backend->mr.ram_block) {
        error_setg(errp, "memory backend '%s' has no memory yet", id);
        return NULL;
    }
    return backend;
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

static uint64_t chunk_arg(bool has, uint64_t v, Error **errp)
{
    if (!has) {
        return MOVE_CHUNK_DEFAULT;
    }
    if (v < qemu_real_host_page_size() || v > MOVE_CHUNK_MAX ||
        v % qemu_real_host_page_size()) {
        error_setg(errp, "chunk-size must be a multiple of the host page "
                   "size (%zu) between one page and %" PRIu64 " bytes",
                   qemu_real_host_page_size(), (uint64_t)MOVE_CHUNK_MAX);
        return 0;
    }
    return v;
}

static QcxlPoolRam *find_ram(HostMemoryBackend *backend)
{
    for (GSList *l = qcxl_pool_rams(); l; l = l->next) {
        QcxlPoolRam *ram = l->data;

        if (ram->backend == backend) {
            return ram;
        }
    }
    return NULL;
}

static MoveJob *move_job_new(const char *job_id, QcxlPoolRam *ram,
                             bool stage, uint64_t chunk, uint64_t speed,
                             Error **errp)
{
    MoveJob *j = job_create(job_id,
                            stage ? &stage_job_driver : &pull_job_driver,
                            NULL, qemu_get_aio_context(), JOB_MANUAL_DISMISS,
                            NULL, NULL, errp);

    if (j) {
        j->backend = ram->backend;
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
    }
    return j;
}

void qmp_qcxl_pool_stage(const char *job_id, const char *memdev,
                         const char *region, const char *pool,
                         const char *host, bool has_chunk_size,
                         uint64_t chunk_size, bool has_speed, uint64_t speed,
                         Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    HostMemoryBackend *backend;
    QcxlPoolHostCtx *ctx;
    QcxlPoolRam *ram;
    RAMBlock *rb;
    g_autofree uint32_t *ext = NULL;
    uint64_t chunk, size;
    uint32_t count;
    void *window;
    MoveJob *j;

    chunk = chunk_arg(has_chunk_size, chunk_size, errp);
    backend = chunk ? find_memdev(memdev, errp) : NULL;
    if (!backend || !may_move(errp)) {
        return;
    }
    rb = backend->mr.ram_block;
    if (find_ram(backend) ||
        object_dynamic_cast(OBJECT(backend), TYPE_MEMORY_BACKEND_QCXL_POOL)) {
        error_setg(errp, "memory backend '%s' is pool memory already",
                   memdev);
        return;
    }
    if (moving(backend)) {
        error_setg(errp, "job '%s' is moving memory backend '%s'",
                   moving(backend)->common.id, memdev);
        return;
    }
    if (rb->fd >= 0 || qemu_ram_is_shared(rb) || rb->guest_memfd >= 0 ||
        qemu_ram_pagesize(rb) != qemu_real_host_page_size() ||
        (rb->flags & RAM_RESIZEABLE)) {
        error_setg(errp, "memory backend '%s' is not private anonymous "
                   "memory in host pages (a memory-backend-ram is); only "
                   "such memory can be staged", memdev);
        return;
    }
    if (!qcxl_pool_valid_name(region, QCXL_POOL_REGION_NAME_LEN, &gerr)) {
        error_setg(errp, "qcxl pool: region: %s", gerr->message);
        return;
    }

    if (pool && host) {
        if (!qcxl_pool_valid_name(host, QCXL_POOL_HOST_NAME_LEN, &gerr)) {
            error_setg(errp, "qcxl pool: host: %s", gerr->message);
            return;
        }
        ctx = qcxl_pool_ctx_get(pool, host, true, errp);
    } else {
        ctx = qcxl_pool_ctx_find(pool, host, errp);
        if (ctx) {
            ctx->refs++;
        }
    }
    if (!ctx) {
        return;
    }
    ext = qcxl_pool_attach(ctx->pool, region, ctx->slot, ctx->incarnation,
                           &size, &count, &gerr);
    if (!ext) {
        error_setg(errp, "qcxl pool %s: region '%s': %s", ctx->path, region,
                   gerr->message);
        qcxl_pool_ctx_put(ctx);
        return;
    }
    ram = g_new0(QcxlPoolRam, 1);
    ram->ctx = ctx;
    ram->regions = g_new0(char *, 2);
    ram->regions[0] = g_strdup(region);
    ram->attached = 1;
    ram->backend = backend;
    object_ref(OBJECT(backend));
    ram->ptr = qemu_ram_get_host_addr(rb);
    ram->size = qemu_ram_get_used_length(rb);
    if (size != ram->size) {
        error_setg(errp, "qcxl pool %s: region '%s' holds %" PRIu64 " bytes "
                   "and memory backend '%s' %" PRIu64 ": they must be equal",
                   ctx->path, region, size, memdev, ram->size);
        ram_free(ram);
        return;
    }
    ram->ext = g_steal_pointer(&ext);
    ram->ext_count = count;
    window = qcxl_pool_map_extents(ctx, ram->ext, count, errp);
    if (!window) {
        ram_free(ram);
        return;
    }
    j = move_job_new(job_id, ram, true, chunk, has_speed ? speed : 0, errp);
    if (!j) {
        munmap(window, size);
        ram_free(ram);
        return;
    }
    j->window = window;
    qcxl_pool_migration_init();
    job_start(&j->common);
}

void qmp_qcxl_pool_pull(const char *job_id, const char *memdev,
                        bool has_chunk_size, uint64_t chunk_size,
                        bool has_speed, uint64_t speed, Error **errp)
{
    g_autoptr(GError) gerr = NULL;
    g_autoptr(QcxlPoolMeta) meta = NULL;
    HostMemoryBackend *backend;
    QcxlPoolRam *ram;
    uint64_t chunk;
    MoveJob *j;

    chunk = chunk_arg(has_chunk_size, chunk_size, errp);
    backend = chunk ? find_memdev(memdev, errp) : NULL;
    if (!backend || !may_move(errp)) {
        return;
    }
    ram = find_ram(backend);
    if (!ram) {
        error_setg(errp, "memory backend '%s' is not in a qcxl pool (any "
                   "more)", memdev);
        return;
    }
    if (moving(backend)) {
        error_setg(errp, "a job is moving memory backend '%s' already",
                   memdev);
        return;
    }
    if (ram->ctx->fenced) {
        error_setg(errp, "qcxl pool %s: host '%s' was evicted; the memory "
                   "of '%s' is no longer its to take", ram->ctx->path,
                   ram->ctx->host, memdev);
        return;
    }
    meta = qcxl_pool_read(ram->ctx->pool, &gerr);
    if (!meta) {
        error_setg(errp, "qcxl pool %s: %s", ram->ctx->path, gerr->message);
        return;
    }
    for (int i = 0; ram->regions[i]; i++) {
        int r = qcxl_pool_find_region(meta, ram->regions[i]);

        if (r < 0 || meta->regions[r].owner != ram->ctx->slot) {
            error_setg(errp, "qcxl pool %s: region '%s' is not host '%s''s; "
                       "only its owner may take its memory into DRAM",
                       ram->ctx->path, ram->regions[i], ram->ctx->host);
            return;
        }
    }
    j = move_job_new(job_id, ram, false, chunk, has_speed ? speed : 0,
                     errp);
    if (j) {
        job_start(&j->common);
    }
}
