/*
 * dal/batch.c — leader/follower batching (dal/batch.h).
 *
 * One mutex and one condition variable per batcher. An item is PENDING
 * (in the queue), TAKEN (in a running batch) or DONE. Every state change
 * that a waiter may care about (a batch finished, so a leader slot is free
 * and some items are DONE) is broadcast.
 */
#include "dal/batch.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "common/sk.h"

enum { IT_PENDING = 1, IT_TAKEN, IT_DONE };

struct sk_batcher {
    int max_batch, max_leaders, max_pending;
    sk_batch_exec exec;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;           /* CLOCK_MONOTONIC */
    sk_batch_item *head, *tail;  /* PENDING, oldest first */
    int npending;
    int leaders;
    uint64_t batches, items;
};

sk_batcher *sk_batcher_new(int max_batch, int max_leaders, int max_pending, sk_batch_exec exec, void *ctx)
{
    if (max_batch < 1 || max_leaders < 1 || max_pending < 1 || exec == NULL)
        return NULL;
    sk_batcher *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->max_batch = max_batch;
    b->max_leaders = max_leaders;
    b->max_pending = max_pending;
    b->exec = exec;
    b->ctx = ctx;
    pthread_mutex_init(&b->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&b->cv, &ca);
    pthread_condattr_destroy(&ca);
    return b;
}

void sk_batcher_free(sk_batcher *b)
{
    if (b == NULL)
        return;
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static void unlink_pending(sk_batcher *b, sk_batch_item *it)
{
    sk_batch_item **pp = &b->head, *prev = NULL;
    while (*pp != NULL && *pp != it) {
        prev = *pp;
        pp = &(*pp)->next_;
    }
    if (*pp == NULL)
        return;
    *pp = it->next_;
    if (b->tail == it)
        b->tail = prev;
    it->next_ = NULL;
    b->npending--;
}

/* Lead one batch: take the oldest pending items, run them unlocked, mark
 * them DONE. Called and returns with b->mu held; b->leaders counted by the
 * caller. */
static void lead(sk_batcher *b, sk_batch_item **batch)
{
    int n = 0;
    while (b->head != NULL && n < b->max_batch) {
        sk_batch_item *it = b->head;
        b->head = it->next_;
        it->next_ = NULL;
        it->state_ = IT_TAKEN;
        batch[n++] = it;
        b->npending--;
    }
    if (b->head == NULL)
        b->tail = NULL;
    pthread_mutex_unlock(&b->mu);
    b->exec(b->ctx, batch, n);
    pthread_mutex_lock(&b->mu);
    for (int i = 0; i < n; i++)
        batch[i]->state_ = IT_DONE;
    b->batches++;
    b->items += (uint64_t)n;
}

sk_batch_result sk_batch_submit(sk_batcher *b, sk_batch_item *it)
{
    sk_batch_item **batch = malloc((size_t)b->max_batch * sizeof *batch);
    if (batch == NULL)
        return SK_BATCH_FULL;
    struct timespec until = {it->take_by_ms / 1000, (long)(it->take_by_ms % 1000) * 1000000L};
    sk_batch_result r = SK_BATCH_DONE;
    pthread_mutex_lock(&b->mu);
    if (b->npending >= b->max_pending) {
        pthread_mutex_unlock(&b->mu);
        free(batch);
        return SK_BATCH_FULL;
    }
    it->state_ = IT_PENDING;
    it->next_ = NULL;
    if (b->tail)
        b->tail->next_ = it;
    else
        b->head = it;
    b->tail = it;
    b->npending++;
    for (;;) {
        if (it->state_ == IT_DONE)
            break;
        if (b->head != NULL && b->leaders < b->max_leaders) {
            /* a free slot and work waiting (ours or older): lead */
            b->leaders++;
            lead(b, batch);
            b->leaders--;
            pthread_cond_broadcast(&b->cv);
            continue;
        }
        if (it->state_ == IT_PENDING) {
            if (pthread_cond_timedwait(&b->cv, &b->mu, &until) != 0 && it->state_ == IT_PENDING) {
                unlink_pending(b, it);
                it->state_ = 0;
                r = SK_BATCH_TIMEOUT;
                break;
            }
        } else {
            pthread_cond_wait(&b->cv, &b->mu); /* TAKEN: its leader bounds the wait */
        }
    }
    pthread_mutex_unlock(&b->mu);
    free(batch);
    return r;
}

void sk_batcher_stats(sk_batcher *b, uint64_t *batches, uint64_t *items)
{
    pthread_mutex_lock(&b->mu);
    *batches = b->batches;
    *items = b->items;
    pthread_mutex_unlock(&b->mu);
}

int sk_batcher_pending(sk_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    int n = b->npending;
    pthread_mutex_unlock(&b->mu);
    return n;
}
