/*
 * qcxl: the byte rings of the qcxl-pool: migration channel, in a shared
 * pool region (the layout, the header's checks and the positions)
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef QEMU_MIGRATION_QCXL_RING_H
#define QEMU_MIGRATION_QCXL_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define QCXL_RING_MAGIC             0x474e49524c584351ULL  /* "QCXLRING" */
#define QCXL_RING_VERSION           1
#define QCXL_RING_DATA_OFFSET       4096
#define QCXL_RING_MIN_REGION        (QCXL_RING_DATA_OFFSET + 2 * 65536)

typedef enum QcxlRingState {
    QCXL_RING_IDLE = 0,
    QCXL_RING_LISTENING = 1,
    QCXL_RING_CONNECTED = 2,
} QcxlRingState;

typedef enum QcxlRingSide {
    QCXL_RING_LISTENER = 0,
    QCXL_RING_CONNECTOR = 1,
} QcxlRingSide;

/* How a side left (the value on the media, read as one of these) */
typedef enum QcxlRingClosed {
    QCXL_RING_OPEN = 0,
    QCXL_RING_CLOSED = 1,
    QCXL_RING_ABORTED = 2,
} QcxlRingClosed;

/* What a connector found in the header */
typedef enum QcxlRingOffer {
    QCXL_RING_OFFER_OK,
    QCXL_RING_OFFER_NONE,       /* no listener: magic, version or state */
    QCXL_RING_OFFER_SIZES,      /* the listener sized the rings otherwise */
} QcxlRingOffer;

typedef struct QcxlRingSideWords {
    uint64_t heartbeat;
    uint64_t closed;
    uint8_t pad[48];
} QcxlRingSideWords;

typedef struct QcxlRingPos {
    uint64_t pos;
    uint8_t pad[56];
} QcxlRingPos;

/*
 *   0x000  magic "QCXLRING", version, state, session, ring sizes
 *   0x040  per side (listener, connector): heartbeat, closed
 *   0x0c0  per ring: head (bytes produced), on its own cache line
 *   0x140  per ring: tail (bytes consumed)
 *   4 KiB  ring 0 (connector to listener), then ring 1
 */
typedef struct QcxlRingHeader {
    uint64_t magic;
    uint32_t version;
    uint32_t state;
    uint64_t session;
    uint64_t ring_size[2];
    uint8_t pad[24];
    QcxlRingSideWords side[2];
    QcxlRingPos head[2];
    QcxlRingPos tail[2];
} QcxlRingHeader;

/*
 * One side's view of the rings: the header and data in the region
 * (written by both sides: every value read from it is checked before
 * use), and what only this side writes.
 */
typedef struct QcxlRing {
    QcxlRingHeader *hdr;
    uint8_t *data[2];
    uint64_t size[2];
    QcxlRingSide side;
    int in, out;            /* the rings this side reads and writes */
    uint64_t session;
    uint64_t rpos, wpos;    /* owned by the reader and the writer */
} QcxlRing;

/* qcxl_ring_read() and _write(): the positions make no sense */
#define QCXL_RING_CORRUPT   (-1)

/*
 * Split a region of @size bytes at @base into header and rings for
 * @side; false if it is smaller than QCXL_RING_MIN_REGION.  The return
 * path gets a sixteenth, the stream the rest.
 */
bool qcxl_ring_init(QcxlRing *r, void *base, uint64_t size,
                    QcxlRingSide side);

/* Listener: a fresh header for session @session, listening */
void qcxl_ring_listen(QcxlRing *r, uint64_t session);
/* Does the header say someone listens or is connected? */
bool qcxl_ring_claimed(QcxlRing *r);
/*
 * Connector: may it connect?  The listener's session in @session, the
 * sizes it gave the rings in @sizes
 */
QcxlRingOffer qcxl_ring_offer(QcxlRing *r, uint64_t *session,
                              uint64_t sizes[2]);
/* Connector: LISTENING to CONNECTED, if the session is still r's */
bool qcxl_ring_connect(QcxlRing *r);

bool qcxl_ring_connected(QcxlRing *r);
bool qcxl_ring_session_ours(QcxlRing *r);
uint64_t qcxl_ring_heartbeat(QcxlRing *r, QcxlRingSide side);
void qcxl_ring_beat(QcxlRing *r);
QcxlRingClosed qcxl_ring_peer_closed(QcxlRing *r);
/* Abandon (ABORTED), or close if still open and the session is ours */
void qcxl_ring_mark_aborted(QcxlRing *r);
void qcxl_ring_mark_closed(QcxlRing *r);

/* Is there data to read, or space to write, now? */
bool qcxl_ring_data_ready(QcxlRing *r);
bool qcxl_ring_space_ready(QcxlRing *r);
/* Bytes the peer produced that this side has not read, or CORRUPT */
int64_t qcxl_ring_unread(QcxlRing *r);
/* Move bytes: how many (0: none now), or QCXL_RING_CORRUPT */
int64_t qcxl_ring_read(QcxlRing *r, const struct iovec *iov, size_t niov);
int64_t qcxl_ring_write(QcxlRing *r, const struct iovec *iov, size_t niov);

#endif
