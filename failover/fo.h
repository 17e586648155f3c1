/*
 * failover/fo.h — the pure core of group failover (spec §6 "Failover";
 * docs/failover.md): MariaDB GTID positions and their order, the choice of
 * the replica to promote and the rules that refuse a promotion, and the
 * failover step state machine persisted in failover-G.state.
 *
 * Plain data in, plain data out: no sockets, no clock reads (callers pass
 * what they observed). The I/O is migrate/failover.c (skipctl) and the
 * automatic trigger in prober/prober.c (skipstored).
 */
#ifndef FO_H
#define FO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"

/* ---------------- GTID positions ---------------- */

#define FO_MAX_DOMAINS 16

/* A MariaDB GTID position ("0-18020-57,1-18021-3"): the last GTID of each
 * replication domain. Under gtid_strict_mode sequence numbers grow within a
 * domain, so positions are ordered domain by domain. */
typedef struct {
    struct { uint32_t domain, server; uint64_t seq; } d[FO_MAX_DOMAINS];
    int n;
} fo_gtid;

/* Parse "" (empty) or a comma list of D-S-N. 0 / -1. */
int fo_gtid_parse(const char *s, fo_gtid *out) SK_WUR;
/* Render into out ("" for empty); returns out. */
char *fo_gtid_format(const fo_gtid *g, char *out, size_t cap);

typedef enum {
    FO_GTID_EQUAL = 0,
    FO_GTID_AHEAD,      /* a holds every transaction of b and more */
    FO_GTID_BEHIND,     /* b holds every transaction of a and more */
    FO_GTID_DIVERGED,   /* each holds something the other lacks */
} fo_gtid_order;

/* Order of a against b. */
fo_gtid_order fo_gtid_cmp(const fo_gtid *a, const fo_gtid *b);
/* Does a hold every transaction of b (EQUAL or AHEAD)? */
bool fo_gtid_covers(const fo_gtid *a, const fo_gtid *b);
/* The transactions a has beyond b, as "D-S-LO..D-S-HI" ranges (comma
 * separated) into out; returns how many domains have extra transactions. */
int fo_gtid_extra(const fo_gtid *a, const fo_gtid *b, char *out, size_t cap);

/* ---------------- the old primary's extra transactions (rejoin) ---------------- */

/* From a SHOW BINLOG EVENTS row: the GTID of a Gtid event's Info ("BEGIN GTID
 * 0-18020-57", "GTID 0-18020-58"): 0 and the parts, -1 if not one. */
int fo_binlog_gtid(const char *info, uint32_t *domain, uint32_t *server, uint64_t *seq) SK_WUR;
/* The "db.table" of a Table_map event's Info ("table_id: 19 (skipstore.heartbeat)")
 * into out: 0 / -1. */
int fo_binlog_table(const char *info, char *out, size_t cap) SK_WUR;
/* May a transaction the new primary lacks, touching table `table` ("db.t"),
 * be dropped when the old primary rejoins? Only the prober's heartbeat row
 * (`db`.heartbeat): it carries no data; the next probe rewrites it. An order,
 * refund or outbox row must never be dropped silently. */
bool fo_extra_discardable(const char *table, const char *db);

/* ---------------- what was observed ---------------- */

typedef enum {
    FO_PRIMARY_DEAD = 0,   /* does not answer (connect / query fails) */
    FO_PRIMARY_READONLY,   /* answers, read_only=ON: a restart or an operator, not a death */
    FO_PRIMARY_WRITABLE,   /* answers and takes writes */
} fo_primary_state;

/* One replica of the group, as skipctl saw it. */
typedef struct {
    const char *addr;
    bool reachable;
    bool is_replica;       /* SHOW SLAVE STATUS has a row */
    bool sql_running;      /* Slave_SQL_Running = Yes */
    fo_gtid received;      /* Gtid_IO_Pos: what the IO thread wrote to the relay log */
    fo_gtid applied;       /* gtid_slave_pos: what the SQL thread applied */
} fo_replica;

/* The last observation of the old primary by a prober (Redis skip:fo:ev:G):
 * semi-sync state and binary log position while it was alive, and the
 * "quiet point" that bounds when it could have fallen back to asynchronous
 * replication (docs/failover.md "What proves a replica complete"). */
typedef struct {
    bool known;            /* a record exists for this primary address */
    bool semi_sync_on;     /* Rpl_semi_sync_master_status was ON */
    int64_t no_tx;         /* Rpl_semi_sync_master_no_tx at that moment */
    int64_t at_ms;         /* wall clock of the observation */
    fo_gtid binlog;        /* @@gtid_binlog_pos of the primary then */
    /* The start (wall ms) of the latest probe whose heartbeat transaction
     * committed and was followed by semi-sync ON: everything binlogged before
     * that heartbeat is on the replica, and any later fall-back to async needs
     * a commit that began waiting after it, so it cannot happen before
     * quiet_ms + timeout_ms. 0 = none seen. */
    int64_t quiet_ms;
    fo_gtid quiet;         /* the heartbeat's own GTID (@@last_gtid) */
    int64_t timeout_ms;    /* @@rpl_semi_sync_master_timeout of the primary */
    /* Wall ms by which the primary had stopped answering: the end of the
     * earliest failed probe after the last successful one (Redis
     * hash skip:fo:down:G, one field per daemon); 0 = unknown, then the time
     * of the check. */
    int64_t down_ms;
    int64_t now_ms;        /* wall clock of the check */
} fo_evidence;

/* ---------------- the decision ---------------- */

typedef enum {
    FO_OK = 0,
    FO_R_PRIMARY_ALIVE,     /* primary answers and is writable: nothing to fail over */
    FO_R_PRIMARY_READONLY,  /* primary answers read-only: a restart, not a death */
    FO_R_NO_REPLICA,        /* the group has no replica */
    FO_R_UNREACHABLE,       /* no replica answers */
    FO_R_NOT_REPLICA,       /* the candidate is not replicating (no slave status) */
    FO_R_SQL_STOPPED,       /* the candidate's SQL thread is stopped: it is behind */
    FO_R_NOT_APPLIED,       /* relay log not applied yet (applied < received) */
    FO_R_NO_EVIDENCE,       /* no semi-sync record of the old primary */
    FO_R_ASYNC,             /* the old primary had fallen back to async replication */
    FO_R_MISSING,           /* the candidate lacks transactions the primary had logged */
    FO_R_BEHIND_OTHER,      /* another replica holds more than the candidate */
    FO_R_DIVERGED,          /* replicas hold different transactions */
    FO_R_TO_UNKNOWN,        /* --to is not a replica of the group */
    FO_R_UNPROVEN,          /* the primary may have fallen back to async before it died */
    FO_R_MAX
} fo_refusal;

/* Short machine name ("SQL_STOPPED") and a sentence for the operator. */
const char *fo_refusal_name(fo_refusal r);
const char *fo_refusal_text(fo_refusal r);

typedef struct {
    fo_refusal why;        /* FO_OK or the first rule that refused */
    int chosen;            /* index into the replicas (FO_OK), else -1 */
    int culprit;           /* replica the refusal is about, -1 = none */
} fo_choice;

/*
 * Choose the replica to promote and check that it provably holds every
 * transaction the old primary acknowledged (docs/failover.md):
 *   - the primary is dead (not answering; a read-only answer is a restart);
 *   - the old primary was last seen with semi-sync ON (evidence) and stopped
 *     answering less than its semi-sync timeout after its last quiet point,
 *     so it cannot have fallen back to async before it died: every commit it
 *     made visible had reached a replica's relay log;
 *   - the candidate received the quiet point's heartbeat transaction and has
 *     applied all it received with its SQL thread running;
 *   - the candidate holds every transaction any other reachable replica
 *     holds (the most advanced by GTID; `to` (NULL = choose) must be it).
 * require_evidence=false skips the evidence rules (--force-async).
 */
fo_choice fo_choose(fo_primary_state p, const fo_replica *r, int n, const fo_evidence *ev, const char *to,
                    bool require_evidence);

/* ---------------- steps ---------------- */

/*
 * NONE -> CHECKED -> PROMOTED -> REPOINTED -> CONFIGURED -> DONE
 *
 * CHECKED: candidate chosen, written to the state file (resume re-checks).
 * PROMOTED: the candidate's replication stopped and reset, read_only OFF.
 * REPOINTED: the other replicas replicate from the new primary.
 * CONFIGURED: config written (new primary, old one in former_primaries).
 * DONE: every daemon reloaded.
 * ABORT from CHECKED only (a refusal on re-check): back to NONE. Once the
 * candidate is promoted there is no way back — a resumed run goes forward.
 */
typedef enum {
    FO_ST_NONE = 0,
    FO_ST_CHECKED,
    FO_ST_PROMOTED,
    FO_ST_REPOINTED,
    FO_ST_CONFIGURED,
    FO_ST_DONE,
    FO_ST_MAX
} fo_state;

typedef enum {
    FO_EV_CHECK = 0,   /* NONE|DONE -> CHECKED (DONE: a new failover of the group) */
    FO_EV_PROMOTE,     /* CHECKED -> PROMOTED */
    FO_EV_REPOINT,     /* PROMOTED -> REPOINTED */
    FO_EV_CONFIGURE,   /* REPOINTED -> CONFIGURED */
    FO_EV_RELOAD,      /* CONFIGURED -> DONE */
    FO_EV_ABORT,       /* CHECKED -> NONE */
    FO_EV_MAX
} fo_event;

const char *fo_state_name(fo_state s);
int fo_state_parse(const char *s, fo_state *out) SK_WUR;
const char *fo_event_name(fo_event e);
/* The one transition function: 0 and *out, or -1 (illegal). */
int fo_next(fo_state s, fo_event e, fo_state *out) SK_WUR;

/* Should an automatic failover be attempted? down_ms: how long every probe
 * of the primary has failed (0 = the last probe succeeded or answered
 * read-only); after_ms: failover.after_s. */
bool fo_auto_due(bool enabled, int64_t down_ms, int64_t after_ms);

#endif
