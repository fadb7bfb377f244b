/*
 * qcxl: the migration channel through a shared CXL pool region
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 *   destination:  migrate-incoming qcxl-pool:mig0
 *   source:       migrate qcxl-pool:mig0
 *
 * Both QEMUs map region mig0 of a pool they have joined (it is shared
 * between their hosts).  The region holds two single-producer,
 * single-consumer byte rings, source to destination (the stream) and
 * back (the return path), behind a header page: qcxl-ring.c owns that
 * layout and every access to it, and checks every field the other side
 * writes before use.
 *
 * The destination listens (it writes a fresh header with a random
 * session); the source connects by moving the state from LISTENING to
 * CONNECTED with a compare-and-swap.
 *
 * Nothing signals across hosts but memory, so each channel has a thread
 * that beats its side's heartbeat, watches the peer's (a peer silent for
 * QCXL_RING_PEER_TIMEOUT_MS is gone, as a dead TCP peer would be) and
 * turns "data arrived" or "space freed" into an eventfd the main loop or
 * a coroutine can wait on.  Blocking reads and writes (the migration
 * thread, the return-path thread) poll with backoff instead.
 */

#include "qemu/osdep.h"
#include "qemu/atomic.h"
#include "qemu/error-report.h"
#include "qemu/event_notifier.h"
#include "qemu/main-loop.h"
#include "qemu/thread.h"
#include "qapi/error.h"
#include "io/channel.h"
#include "io/channel-watch.h"
#include "block/aio.h"
#include "channel.h"
#include "migration.h"
#include "qcxl-pool-channel.h"
#include "qcxl-ring.h"
#include "trace.h"
#include "hw/mem/qcxl_pool_map.h"
#include "hw/mem/qcxl_pool_migration.h"

#define TYPE_QIO_CHANNEL_QCXL_POOL "qio-channel-qcxl-pool"
OBJECT_DECLARE_SIMPLE_TYPE(QIOChannelQcxlPool, QIO_CHANNEL_QCXL_POOL)

#define QCXL_RING_PEER_TIMEOUT_MS   2000
#define QCXL_RING_BEAT_US           2000

struct QIOChannelQcxlPool {
    QIOChannel parent;

    QcxlPoolMap *map;
    char *region;
    QcxlRing ring;          /* in the map; ring.hdr NULL once closed */
    bool connected;         /* this side is part of the session */
    bool blocking;

    EventNotifier rd_ev, wr_ev;
    int want_read, want_write;  /* atomic: a waiter wants a kick */
    bool shut_rd, shut_wr;      /* atomic */
    int failure;                /* atomic: why the channel is broken */

    QemuThread thread;
    QemuSemaphore stop;
    bool thread_running;
    uint64_t peer_beat;
    int64_t peer_seen_ms;
};

enum {
    FAIL_NONE,
    FAIL_PEER_GONE,         /* no heartbeat for the timeout */
    FAIL_SESSION,           /* someone else took the ring over */
    FAIL_CORRUPT,           /* the other side's positions make no sense */
};

static bool fail_error(QIOChannelQcxlPool *c, Error **errp);

/*
 * The channel is broken for good (the first reason sticks).  The
 * destination says why: its migration code reports only that the
 * stream failed to load; the source's reason reaches query-migrate.
 */
static void fail(QIOChannelQcxlPool *c, int why)
{
    Error *err = NULL;

    if (qatomic_cmpxchg(&c->failure, FAIL_NONE, why) != FAIL_NONE) {
        return;
    }
    trace_qcxl_ring_fail(c->region, c->ring.side, why);
    if (c->ring.side == QCXL_RING_LISTENER && fail_error(c, &err)) {
        error_report_err(err);
    }
}

static bool fail_error(QIOChannelQcxlPool *c, Error **errp)
{
    switch (qatomic_read(&c->failure)) {
    case FAIL_PEER_GONE:
        error_setg(errp, "qcxl-pool:%s: the other QEMU stopped responding "
                   "(no heartbeat for %d ms)", c->region,
                   QCXL_RING_PEER_TIMEOUT_MS);
        return true;
    case FAIL_SESSION:
        error_setg(errp, "qcxl-pool:%s: another migration took the ring "
                   "over", c->region);
        return true;
    case FAIL_CORRUPT:
        error_setg(errp, "qcxl-pool:%s: the ring's positions are "
                   "inconsistent (damaged or hostile)", c->region);
        return true;
    }
    return false;
}

static bool readable(QIOChannelQcxlPool *c)
{
    return qcxl_ring_data_ready(&c->ring) || qatomic_read(&c->failure) ||
           qatomic_read(&c->shut_rd) ||
           qcxl_ring_peer_closed(&c->ring) != QCXL_RING_OPEN;
}

static bool writable(QIOChannelQcxlPool *c)
{
    return qcxl_ring_space_ready(&c->ring) || qatomic_read(&c->failure) ||
           qatomic_read(&c->shut_wr) ||
           qcxl_ring_peer_closed(&c->ring) != QCXL_RING_OPEN;
}

static void kick(QIOChannelQcxlPool *c)
{
    if (qatomic_read(&c->want_read) && readable(c) &&
        qatomic_xchg(&c->want_read, 0)) {
        event_notifier_set(&c->rd_ev);
    }
    if (qatomic_read(&c->want_write) && writable(c) &&
        qatomic_xchg(&c->want_write, 0)) {
        event_notifier_set(&c->wr_ev);
    }
}

static void *ring_thread(void *opaque)
{
    QIOChannelQcxlPool *c = opaque;
    int64_t last_beat = 0;
    int wait_us = 50;

    for (;;) {
        int64_t now_us = g_get_monotonic_time();

        if (now_us - last_beat >= QCXL_RING_BEAT_US) {
            uint64_t beat;

            last_beat = now_us;
            qcxl_ring_beat(&c->ring);
            if (!qcxl_ring_session_ours(&c->ring)) {
                fail(c, FAIL_SESSION);
            }
            if (qcxl_ring_connected(&c->ring)) {
                beat = qcxl_ring_heartbeat(&c->ring, 1 - c->ring.side);
                if (beat != c->peer_beat || !c->peer_seen_ms) {
                    c->peer_beat = beat;
                    c->peer_seen_ms = now_us / 1000;
                } else if (qcxl_ring_peer_closed(&c->ring) ==
                           QCXL_RING_OPEN &&
                           now_us / 1000 - c->peer_seen_ms >
                           QCXL_RING_PEER_TIMEOUT_MS) {
                    fail(c, FAIL_PEER_GONE);
                }
            }
        }
        kick(c);
        /* poll fast while someone waits, slowly otherwise */
        if (qatomic_read(&c->want_read) || qatomic_read(&c->want_write)) {
            wait_us = MIN(wait_us * 2, 1000);
        } else {
            wait_us = QCXL_RING_BEAT_US;
        }
        if (qemu_sem_timedwait(&c->stop, 0) == 0) {
            break;
        }
        g_usleep(wait_us);
    }
    return NULL;
}

/* A waiter was just registered: start polling fast */
static void want(QIOChannelQcxlPool *c, int *flag, EventNotifier *ev)
{
    event_notifier_test_and_clear(ev);
    qatomic_set(flag, 1);
    kick(c);
}

/* Blocking callers wait here, polling with backoff */
static void backoff(int *us)
{
    g_usleep(*us);
    *us = MIN(*us * 2, 500);
}

static ssize_t qcxl_ring_readv(QIOChannel *ioc, const struct iovec *iov,
                               size_t niov, int **fds, size_t *nfds,
                               int flags, Error **errp)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(ioc);
    int us = 5;

    for (;;) {
        int64_t done = qcxl_ring_read(&c->ring, iov, niov);
        QcxlRingClosed closed;

        if (done == QCXL_RING_CORRUPT) {
            fail(c, FAIL_CORRUPT);
        }
        if (fail_error(c, errp)) {
            return -1;
        }
        if (qatomic_read(&c->shut_rd)) {
            return 0;
        }
        if (done) {
            return done;
        }
        closed = qcxl_ring_peer_closed(&c->ring);
        if (closed != QCXL_RING_OPEN) {
            if (qcxl_ring_unread(&c->ring) != 0) {
                continue;           /* written just before it closed */
            }
            if (closed == QCXL_RING_ABORTED) {
                error_setg(errp, "qcxl-pool:%s: the other QEMU abandoned "
                           "the migration", c->region);
                return -1;
            }
            return 0;
        }
        if (!c->blocking) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        backoff(&us);
    }
}

static ssize_t qcxl_ring_writev(QIOChannel *ioc, const struct iovec *iov,
                                size_t niov, int *fds, size_t nfds,
                                int flags, Error **errp)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(ioc);
    int us = 5;

    if (nfds) {
        error_setg(errp, "qcxl-pool:%s: cannot pass file descriptors",
                   c->region);
        return -1;
    }
    for (;;) {
        int64_t done;

        if (fail_error(c, errp)) {
            return -1;
        }
        if (qatomic_read(&c->shut_wr)) {
            error_setg(errp, "qcxl-pool:%s: the channel was shut down",
                       c->region);
            return -1;
        }
        if (qcxl_ring_peer_closed(&c->ring) != QCXL_RING_OPEN) {
            error_setg(errp, "qcxl-pool:%s: the other QEMU closed the "
                       "channel", c->region);
            return -1;
        }
        done = qcxl_ring_write(&c->ring, iov, niov);
        if (done == QCXL_RING_CORRUPT) {
            fail(c, FAIL_CORRUPT);
            continue;
        }
        if (done) {
            return done;
        }
        if (!c->blocking) {
            return QIO_CHANNEL_ERR_BLOCK;
        }
        backoff(&us);
    }
}

static int qcxl_ring_set_blocking(QIOChannel *ioc, bool enabled,
                                  Error **errp)
{
    QIO_CHANNEL_QCXL_POOL(ioc)->blocking = enabled;
    return 0;
}

static int qcxl_ring_shutdown(QIOChannel *ioc, QIOChannelShutdown how,
                              Error **errp)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(ioc);

    if (how & QIO_CHANNEL_SHUTDOWN_READ) {
        qatomic_set(&c->shut_rd, true);
    }
    if (how & QIO_CHANNEL_SHUTDOWN_WRITE) {
        qatomic_set(&c->shut_wr, true);
        /* the other side must not wait for more: it is abandoned */
        if (c->connected && c->ring.hdr) {
            qcxl_ring_mark_aborted(&c->ring);
        }
    }
    event_notifier_set(&c->rd_ev);
    event_notifier_set(&c->wr_ev);
    return 0;
}

static void stop_thread(QIOChannelQcxlPool *c)
{
    if (c->thread_running) {
        qemu_sem_post(&c->stop);
        qemu_thread_join(&c->thread);
        c->thread_running = false;
    }
}

static int qcxl_ring_close(QIOChannel *ioc, Error **errp)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(ioc);

    if (!c->map) {
        return 0;
    }
    stop_thread(c);
    if (c->connected) {
        qcxl_ring_mark_closed(&c->ring);
    }
    qcxl_pool_map_free(c->map);
    c->map = NULL;
    c->ring.hdr = NULL;
    return 0;
}

static GSource *qcxl_ring_create_watch(QIOChannel *ioc,
                                       GIOCondition condition)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(ioc);
    bool out = condition & G_IO_OUT;
    EventNotifier *ev = out ? &c->wr_ev : &c->rd_ev;

    want(c, out ? &c->want_write : &c->want_read, ev);
    /* the notifier is readable when the ring is, whichever way */
    return qio_channel_create_fd_watch(ioc, event_notifier_get_fd(ev),
                                       G_IO_IN);
}

static void qcxl_ring_set_aio_fd_handler(QIOChannel *ioc,
                                         AioContext *read_ctx,
                                         IOHandler *io_read,
                                         AioContext *write_ctx,
                                         IOHandler *io_write,
                                         void *opaque)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(ioc);

    if (read_ctx) {
        aio_set_fd_handler(read_ctx, event_notifier_get_fd(&c->rd_ev),
                           io_read, NULL, NULL, NULL, opaque);
        if (io_read) {
            want(c, &c->want_read, &c->rd_ev);
        } else {
            qatomic_set(&c->want_read, 0);
        }
    }
    if (write_ctx) {
        /* the write notifier too signals by becoming readable */
        aio_set_fd_handler(write_ctx, event_notifier_get_fd(&c->wr_ev),
                           io_write, NULL, NULL, NULL, opaque);
        if (io_write) {
            want(c, &c->want_write, &c->wr_ev);
        } else {
            qatomic_set(&c->want_write, 0);
        }
    }
}

static void qcxl_ring_finalize(Object *obj)
{
    QIOChannelQcxlPool *c = QIO_CHANNEL_QCXL_POOL(obj);

    qcxl_ring_close(QIO_CHANNEL(obj), NULL);
    event_notifier_cleanup(&c->rd_ev);
    event_notifier_cleanup(&c->wr_ev);
    qemu_sem_destroy(&c->stop);
    g_free(c->region);
}

static void qcxl_ring_class_init(ObjectClass *klass, void *data)
{
    QIOChannelClass *k = QIO_CHANNEL_CLASS(klass);

    k->io_writev = qcxl_ring_writev;
    k->io_readv = qcxl_ring_readv;
    k->io_set_blocking = qcxl_ring_set_blocking;
    k->io_close = qcxl_ring_close;
    k->io_shutdown = qcxl_ring_shutdown;
    k->io_create_watch = qcxl_ring_create_watch;
    k->io_set_aio_fd_handler = qcxl_ring_set_aio_fd_handler;
}

static const TypeInfo qcxl_ring_info = {
    .parent = TYPE_QIO_CHANNEL,
    .name = TYPE_QIO_CHANNEL_QCXL_POOL,
    .instance_size = sizeof(QIOChannelQcxlPool),
    .instance_finalize = qcxl_ring_finalize,
    .class_init = qcxl_ring_class_init,
};

static void qcxl_ring_register_types(void)
{
    type_register_static(&qcxl_ring_info);
}

type_init(qcxl_ring_register_types);

/* Map the region and split it into header and rings */
static QIOChannelQcxlPool *ring_open(QcxlPoolMigrationArgs *args,
                                     QcxlRingSide side, Error **errp)
{
    const char *regions[] = { args->region, NULL };
    g_autoptr(QcxlPoolMember) member = NULL;
    QIOChannelQcxlPool *c;
    QcxlPoolMap *map;
    QcxlRing ring;
    uint64_t size;

    member = qcxl_pool_member_find(args->pool, args->host, errp);
    map = member ? qcxl_pool_map_new(member, regions, QCXL_REGION_USE_RING,
                                     errp) : NULL;
    if (!map) {
        return NULL;
    }
    size = qcxl_pool_map_size(map);
    if (!qcxl_ring_init(&ring, qcxl_pool_map_ptr(map), size, side)) {
        error_setg(errp, "qcxl-pool:%s: the region has %" PRIu64 " bytes; a "
                   "ring needs at least %d", args->region, size,
                   QCXL_RING_MIN_REGION);
        qcxl_pool_map_free(map);
        return NULL;
    }
    c = QIO_CHANNEL_QCXL_POOL(object_new(TYPE_QIO_CHANNEL_QCXL_POOL));
    c->map = map;
    c->region = g_strdup(args->region);
    c->ring = ring;
    c->blocking = true;
    trace_qcxl_ring_open(args->region, side, ring.size[0], ring.size[1]);
    event_notifier_init(&c->rd_ev, false);
    event_notifier_init(&c->wr_ev, false);
    qemu_sem_init(&c->stop, 0);
    return c;
}

static void ring_start_thread(QIOChannelQcxlPool *c)
{
    qemu_thread_create(&c->thread, "qcxl-ring", ring_thread, c,
                       QEMU_THREAD_JOINABLE);
    c->thread_running = true;
}

/* Is the side's heartbeat moving?  Watch it for a few beats. */
static bool side_alive(QcxlRing *ring, QcxlRingSide side)
{
    uint64_t beat = qcxl_ring_heartbeat(ring, side);

    for (int i = 0; i < 10; i++) {
        g_usleep(QCXL_RING_BEAT_US * 2);
        if (qcxl_ring_heartbeat(ring, side) != beat) {
            return true;
        }
    }
    return false;
}

static gboolean incoming_connected(QIOChannel *ioc, GIOCondition condition,
                                   gpointer opaque)
{
    migration_channel_process_incoming(ioc);
    return G_SOURCE_REMOVE;
}

/* A refused migrate-incoming may be retried, as before it */
static void incoming_refused(void)
{
    MigrationIncomingState *mis = migration_incoming_get_current();

    migrate_set_state(&mis->state, MIGRATION_STATUS_SETUP,
                      MIGRATION_STATUS_NONE);
}

void qcxl_pool_start_incoming_migration(QcxlPoolMigrationArgs *args,
                                        Error **errp)
{
    QIOChannelQcxlPool *c = ring_open(args, QCXL_RING_LISTENER, errp);

    if (!c) {
        incoming_refused();
        return;
    }
    if (qcxl_ring_claimed(&c->ring) &&
        side_alive(&c->ring, QCXL_RING_LISTENER)) {
        error_setg(errp, "qcxl-pool:%s: another QEMU is listening on this "
                   "ring", args->region);
        object_unref(OBJECT(c));
        incoming_refused();
        return;
    }
    c->connected = true;
    qcxl_ring_listen(&c->ring, (uint64_t)g_random_int() << 32 |
                     g_random_int());
    ring_start_thread(c);

    qio_channel_set_name(QIO_CHANNEL(c), "migration-qcxl-pool-incoming");
    qio_channel_set_blocking(QIO_CHANNEL(c), false, NULL);
    /* like a listening socket: the stream starts when data arrives */
    qio_channel_add_watch_full(QIO_CHANNEL(c), G_IO_IN, incoming_connected,
                               NULL, NULL,
                               g_main_context_get_thread_default());
    object_unref(OBJECT(c));
}

void qcxl_pool_start_outgoing_migration(MigrationState *s,
                                        QcxlPoolMigrationArgs *args,
                                        Error **errp)
{
    QIOChannelQcxlPool *c;
    uint64_t session, sizes[2];

    /* refuse before connecting, so the destination keeps listening */
    if (!qcxl_pool_migration_check(errp)) {
        return;
    }
    c = ring_open(args, QCXL_RING_CONNECTOR, errp);
    if (!c) {
        return;
    }
    switch (qcxl_ring_offer(&c->ring, &session, sizes)) {
    case QCXL_RING_OFFER_NONE:
        error_setg(errp, "qcxl-pool:%s: no QEMU listens on this ring "
                   "(migrate-incoming qcxl-pool:%s on the destination)",
                   args->region, args->region);
        goto fail;
    case QCXL_RING_OFFER_SIZES:
        error_setg(errp, "qcxl-pool:%s: the destination sized the rings "
                   "differently (%" PRIu64 "+%" PRIu64 ", here %" PRIu64
                   "+%" PRIu64 ")", args->region, sizes[0], sizes[1],
                   c->ring.size[0], c->ring.size[1]);
        goto fail;
    case QCXL_RING_OFFER_OK:
        break;
    }
    if (!side_alive(&c->ring, QCXL_RING_LISTENER)) {
        error_setg(errp, "qcxl-pool:%s: the QEMU that listened on this ring "
                   "is gone", args->region);
        goto fail;
    }
    c->ring.session = session;
    ring_start_thread(c);
    if (!qcxl_ring_connect(&c->ring)) {
        error_setg(errp, "qcxl-pool:%s: another source connected first",
                   args->region);
        goto fail;
    }
    c->connected = true;
    qio_channel_set_name(QIO_CHANNEL(c), "migration-qcxl-pool-outgoing");
    migration_channel_connect(s, QIO_CHANNEL(c), NULL, NULL);
    object_unref(OBJECT(c));
    return;

fail:
    object_unref(OBJECT(c));
}

bool qcxl_pool_migration_parse(const char *spec, QcxlPoolMigrationArgs *args,
                               Error **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);

    if (!parts[0] || !*parts[0]) {
        error_setg(errp, "qcxl-pool: needs a region: "
                   "qcxl-pool:REGION[,pool=PATH][,host=NAME]");
        return false;
    }
    args->region = g_strdup(parts[0]);
    for (int i = 1; parts[i]; i++) {
        char **field;
        const char *v;

        if (g_str_has_prefix(parts[i], "pool=")) {
            field = &args->pool;
        } else if (g_str_has_prefix(parts[i], "host=")) {
            field = &args->host;
        } else {
            error_setg(errp, "qcxl-pool: unknown option '%s' (pool= and "
                       "host= are known)", parts[i]);
            return false;
        }
        v = strchr(parts[i], '=') + 1;
        if (*field || !*v) {
            error_setg(errp, "qcxl-pool: '%s' is empty or given twice",
                       parts[i]);
            return false;
        }
        *field = g_strdup(v);
    }
    return true;
}
