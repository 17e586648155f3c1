/*
 * dal/batch.h — leader/follower batching: the group commit of new orders
 * (dal/gcommit.c binds it to a group primary's pool; docs/group-commit.md).
 *
 * Callers submit items; whoever finds a free leader slot becomes a leader,
 * takes up to max_batch waiting items (oldest first, its own among them when
 * it is within the first max_batch) and runs them in one exec call while
 * the others wait. No timer: at low concurrency every batch is one item (no
 * added latency); under load the items that arrive while max_leaders batches
 * are in flight form the next batch.
 *
 * Bounded: at most max_pending items wait untaken; an item not taken by its
 * take_by_ms (monotonic) is withdrawn and nothing was executed for it. An
 * item once taken waits for its batch to finish: exec must bound its own
 * I/O (every server call has a timeout).
 */
#ifndef DAL_BATCH_H
#define DAL_BATCH_H

#include <stdint.h>

typedef struct sk_batch_item {
    void *arg;                   /* the caller's: what to execute, and where exec puts the result */
    int64_t take_by_ms;          /* monotonic: withdraw when not taken into a batch by then */
    /* private to the batcher */
    int state_;
    struct sk_batch_item *next_;
} sk_batch_item;

/* Run n (1..max_batch) items as one batch; sets each item's result in its arg. */
typedef void (*sk_batch_exec)(void *ctx, sk_batch_item **items, int n);

typedef struct sk_batcher sk_batcher;

/* NULL on bad arguments (max_batch, max_leaders, max_pending >= 1) or out of memory. */
sk_batcher *sk_batcher_new(int max_batch, int max_leaders, int max_pending, sk_batch_exec exec, void *ctx);
/* Only when no submit is running. */
void sk_batcher_free(sk_batcher *b);

typedef enum {
    SK_BATCH_DONE,      /* executed: the result is in it->arg */
    SK_BATCH_FULL,      /* max_pending items already waiting: not queued, nothing executed */
    SK_BATCH_TIMEOUT,   /* not taken by take_by_ms: withdrawn, nothing executed */
} sk_batch_result;

/* Queue it and wait for its batch (running it, or others' too, when this
 * thread becomes a leader). */
sk_batch_result sk_batch_submit(sk_batcher *b, sk_batch_item *it);

/* Items waiting untaken now. */
int sk_batcher_pending(sk_batcher *b);

/* Batches run and items executed so far (for the mean batch size). */
void sk_batcher_stats(sk_batcher *b, uint64_t *batches, uint64_t *items);

#endif
