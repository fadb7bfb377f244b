/*
 * qcxl tier agent: promotion and demotion of the managed processes' pages
 *
 * Copyright (c) 2026 qcxl authors
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The managed processes are those in one cgroup (v2).  Once a second the
 * agent reads each one's /proc/PID/pagemap: a page written in the last
 * cold_scans rounds (its soft-dirty bit, which every Debian kernel has,
 * is cleared after each read) is hot; any other page is cold.  Where a
 * page lives comes from its frame number and the memory blocks' nodes.
 * Then, under a cap on the pages moved per second, hot pages on slower
 * tiers move to the fast tier, and cold pages of the fast tier move down
 * to the next tier when the fast tier needs the room: for those hot
 * pages, or to keep reserve_percent of it free.  Pages move with
 * move_pages(2).
 */

#ifndef QCXL_AGENT_PROMOTE_H
#define QCXL_AGENT_PROMOTE_H

#include <sys/types.h>
#include "balancing.h"
#include "tiers.h"

typedef struct AgentPromotePolicy {
    char *cgroup;               /* the managed processes' cgroup directory */
    guint bandwidth_mbps;       /* MB moved per second, at most */
    guint reserve_percent;      /* of the fast node, kept free */
    guint cold_scans;           /* rounds without a write: cold */
    bool pause_numa_balancing;  /* the kernel's, while the agent migrates */
} AgentPromotePolicy;

/* What one round may do, in pages */
typedef struct AgentMoveBudget {
    guint64 hot_slow;           /* hot pages on slower tiers */
    guint64 cold_fast;          /* cold pages on the fast node */
    guint64 fast_room;          /* free on the fast node above its reserve */
    guint64 fast_short;         /* how far the fast node is below it */
    guint64 slow_room;          /* free on the demotion target above its */
    guint64 cap;                /* moves allowed this round */
} AgentMoveBudget;

typedef struct AgentMovePlan {
    guint64 demote, promote;
} AgentMovePlan;

/*
 * How many pages to demote and then promote: as many hot pages as the
 * cap allows, demoting cold pages to make room for them (each such
 * promotion costs two moves), then cold pages until the fast node has
 * its reserve back.
 */
AgentMovePlan agent_plan_moves(const AgentMoveBudget *b);

/* One process's pages, as one round found them */
typedef struct AgentPageScan {
    guint64 pages;              /* present, exclusively mapped, anonymous */
    guint64 hot;                /* written in the last cold_scans rounds */
    guint64 cold;               /* not written for cold_scans rounds */
    guint64 hot_on[AGENT_MAX_NODES], cold_on[AGENT_MAX_NODES];
    guint64 on[AGENT_MAX_NODES];
    guint64 unknown_node;       /* no frame number (not root?) */
} AgentPageScan;

typedef struct AgentPromoteStats {
    guint64 rounds;
    guint64 pages_promoted;
    guint64 pages_demoted;
    guint64 move_failures;      /* pages the kernel did not move */
    guint64 scan_failures;      /* processes that could not be read */
    guint managed;              /* processes in the last round */
    AgentBalancingState balancing;  /* the kernel's NUMA balancing */
} AgentPromoteStats;

/* Whether this kernel tracks soft-dirty pages (tried on a page of our own) */
bool agent_soft_dirty_works(void);

typedef struct AgentPromoter AgentPromoter;

AgentPromoter *agent_promoter_new(const char *root);
void agent_promoter_free(AgentPromoter *m);

/*
 * The agent stops migrating: what it changed in the kernel for that
 * (NUMA balancing) is put back, logged to LOG.
 */
void agent_promoter_stop(AgentPromoter *m, AgentPromoteStats *stats,
                         GPtrArray *log);

/*
 * Read process PID's pages (one round: the soft-dirty bits are cleared
 * afterwards) into SCAN.  The first round of a process only starts its
 * history: everything it wrote since it started looks hot.
 */
bool agent_promoter_scan(AgentPromoter *m, pid_t pid, guint cold_scans,
                         AgentPageScan *scan, GError **errp);

/*
 * One round over every process of the policy's cgroup: scan, plan,
 * move.  Decisions go to LOG, totals to STATS.  Once the round can
 * move pages (soft-dirty tracking, two tiers, the cgroup), the kernel's
 * NUMA balancing is paused first if the policy says so (balancing.h).
 */
void agent_promote_round(AgentPromoter *m, const AgentPromotePolicy *p,
                         const AgentTopology *t, const AgentTiers *tiers,
                         AgentPromoteStats *stats, GPtrArray *log);

#endif
