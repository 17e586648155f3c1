/*
 * mirror/consumer_internal.h — what the files of skipstore-mirror's apply
 * path share (consumer.c, apply.c, poison.c): the worker and context
 * structs, the SQL buffer, the transaction writer. Not a public header: the
 * contract is mirror/consumer.h.
 */
#ifndef MIRROR_CONSUMER_INTERNAL_H
#define MIRROR_CONSUMER_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "dal/dal.h"
#include "mirror/event.h"
#include "auth/evsig.h"

#define MIR_WORKERS_MAX 16       /* worker threads (created on first use); partition p -> p mod 16 */
#define MIR_BATCH 500             /* events per merchant-store transaction */
#define MIR_QUEUE 32768           /* per-worker queue capacity (messages) */
#define MIR_QUEUE_HIGH 24576      /* pause the worker's partitions at this depth ... */
#define MIR_QUEUE_LOW 4096        /* ... resume at this depth */
#define MIR_QBYTES_HIGH (16 << 20) /* ... or at this many payload bytes queued (like the old */
#define MIR_QBYTES_LOW (4 << 20)   /* single consumer's 16 MB prefetch: the dev mock broker keeps
                                      only a few MB per partition, so a consumer that stops
                                      fetching far behind the producer gets an offset reset) */
#define MIR_DEAD_PAYLOAD_MAX (4u << 20) /* dead letter payload kept byte-exact up to this (Kafka's
                                          default message.max.bytes is 1 MB); beyond: truncated=1 */
#define MIR_DEAD_KEY_MAX 4096      /* message key kept up to this */
#define MIR_SQL_MAX (8u << 20)     /* one round trip's SQL at most (and under max_allowed_packet) */
#define MIR_SQL_MIN (64u << 10)    /* floor for a server with a tiny max_allowed_packet */
#define MIR_REASON_MAX 255         /* dead_letters.reason VARCHAR(255) */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define STATS_EVERY_MS 10000

struct mctx;

/* One apply worker: a bounded FIFO of messages (filled by the poll thread),
 * the batch it is applying, its own merchant-store connection. */
typedef struct {
    struct mctx *x;
    int idx;
    bool started;
    pthread_t th;
    pthread_mutex_t mu;           /* guards everything down to `quit` */
    pthread_cond_t cv;            /* worker waits: work, drain request, quit */
    pthread_cond_t done_cv;       /* poll thread waits: drained, queue space */
    rd_kafka_message_t *q[MIR_QUEUE];
    int qhead, qn;
    int held;                     /* messages in the worker's batch (not in q) */
    int64_t qbytes;               /* payload+key bytes in q and batch */
    bool db_failing;              /* last apply failed, batch held, retrying */
    int64_t held_oldest_ms;       /* Kafka timestamp of the oldest held event (lag while failing) */
    bool drain_req, quit;
    bool paused;                  /* poll thread only */
    rd_kafka_topic_partition_list_t *last; /* offsets last committed async (re-committed sync on drain) */
    /* worker thread only */
    rd_kafka_message_t *batch[MIR_BATCH];
    int nb;
    MYSQL *my;
    size_t sql_max;               /* bytes per round trip: min(MIR_SQL_MAX, max_allowed_packet - margin) */
    int backoff;
    char sqlerr[256];
    unsigned sqlerrno;            /* mysql_errno of the last failure (0: not a server error) */
    /* the batch, decoded once per attempt (mev_isolate escalates `level`) */
    order_t ord[MIR_BATCH];
    mev_res res[MIR_BATCH];
    char why[MIR_BATCH][256];
    char rejected[MIR_BATCH][200]; /* the store's error for this event's row */
    unsigned char level[MIR_BATCH]; /* MEV_LVL_* */
    int64_t n_ok, n_dead, n_lost, n_isolations; /* this attempt */
} mworker;

typedef struct mctx {
    const conf *c;
    evsig_keys keys;              /* the event keys (auth/evsig.h) */
    const evsig_keys *pkeys;      /* &keys, or NULL: no key (auth.mode off only) */
    rd_kafka_t *rk;
    kv *kv;
    mworker w[MIR_WORKERS_MAX];
    pthread_mutex_t smu;          /* guards the stats below */
    mlag lag_sec, lag_10s;
    int64_t applied, dead, dead_lost, isolations, batches, db_failures, commit_failures;
    int64_t apply_us, commit_us, exec_us;  /* summed over workers (stats) */
    /* poll thread only */
    int64_t last_report, last_stats, last_kv_check;
} mctx;



/* The transaction writer: statements go out in round trips of at most
 * w->sql_max bytes; the transaction spans them (START ... COMMIT). */
typedef struct {
    mworker *w;
    dal_sb pk;          /* the pending round trip */
    bool in_upsert;   /* pk ends inside a multi-row INSERT (needs the tail) */
    sk_status st;
} txw;


/* apply.c: SQL text is dal_sb (dal/sqltext.h) */
void build_tail(void);            /* the upsert's ON DUPLICATE KEY UPDATE part, built once */
void sb_upsert_row(dal_sb *b, const order_t *o);

/* apply.c: the worker's merchant-store connection and batch (worker thread) */
bool db_ensure(mworker *w);
void db_drop(mworker *w);
void decode_batch(mworker *w);    /* once per attempt; every event starts at level EVENT */

/* apply.c: the transaction writer */
void tx_fail(txw *t, sk_status st);
void tx_send(txw *t);
void tx_close_upsert(txw *t);
void tx_stmt(txw *t, const char *s, size_t n); /* one complete statement (without ';') */
void tx_row(txw *t, const char *row, size_t n);

/* poison.c: apply the whole batch (isolating poison pills). SK_OK when durable. */
sk_status apply_batch(mworker *w, int64_t *n_ok, int64_t *n_dead, int64_t *n_lost, int64_t *n_iso);

#endif
