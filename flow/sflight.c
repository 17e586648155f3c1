/* flow/sflight.c — single flight per idempotency key; see sflight.h. */
#include "flow/sflight.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "flow/claim.h"
#include "selector/sel.h"

#define SF_BUCKETS 256

struct sf_entry {
    struct sf_entry *next;       /* bucket chain; only while in the table */
    char key[CLAIM_KEY_MAX];
    int refs;                    /* leader + followers not yet done */
    bool done, in_table, has_order;
    sk_status st;
    order_t order;
    pthread_cond_t cv;
};

struct sflight {
    pthread_mutex_t mu;          /* guards everything below and every entry */
    sf_entry *b[SF_BUCKETS];
    int n;
};

sflight *sf_create(void)
{
    sflight *s = calloc(1, sizeof *s);
    if (s == NULL)
        abort();
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void sf_destroy(sflight *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static unsigned bucket(const char *key) { return (unsigned)(sel_hash(key, strlen(key), 0) % SF_BUCKETS); }

static void unlink_entry(sflight *s, sf_entry *e)
{
    for (sf_entry **pp = &s->b[bucket(e->key)]; *pp; pp = &(*pp)->next)
        if (*pp == e) {
            *pp = e->next;
            e->in_table = false;
            s->n--;
            return;
        }
}

/* Drop one reference; the caller holds s->mu. Frees at zero. */
static void put_locked(sflight *s, sf_entry *e)
{
    (void)s;
    if (--e->refs == 0) {
        pthread_cond_destroy(&e->cv);
        free(e);
    }
}

sf_entry *sf_join(sflight *s, const char *key, bool *leader)
{
    pthread_mutex_lock(&s->mu);
    unsigned h = bucket(key);
    for (sf_entry *e = s->b[h]; e; e = e->next)
        if (strcmp(e->key, key) == 0) {
            e->refs++;
            pthread_mutex_unlock(&s->mu);
            *leader = false;
            return e;
        }
    sf_entry *e = calloc(1, sizeof *e);
    if (e == NULL)
        abort();
    sk_strlcpy(e->key, key, sizeof e->key);
    e->refs = 1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &ca);
    pthread_condattr_destroy(&ca);
    e->next = s->b[h];
    s->b[h] = e;
    e->in_table = true;
    s->n++;
    pthread_mutex_unlock(&s->mu);
    *leader = true;
    return e;
}

void sf_finish(sflight *s, sf_entry *e, sk_status st, const order_t *o)
{
    pthread_mutex_lock(&s->mu);
    e->done = true;
    e->st = st;
    e->has_order = o != NULL;
    if (o)
        e->order = *o;
    if (e->in_table)
        unlink_entry(s, e);   /* requests from now on start a new flight */
    pthread_cond_broadcast(&e->cv);
    put_locked(s, e);
    pthread_mutex_unlock(&s->mu);
}

bool sf_wait(sflight *s, sf_entry *e, int64_t deadline_mono_ms, sk_status *st, order_t *o, bool *has_order)
{
    struct timespec ts = {deadline_mono_ms / 1000, (long)(deadline_mono_ms % 1000) * 1000000L};
    pthread_mutex_lock(&s->mu);
    while (!e->done)
        if (pthread_cond_timedwait(&e->cv, &s->mu, &ts) != 0 && !e->done)
            break; /* timed out */
    bool done = e->done;
    if (done) {
        *st = e->st;
        *has_order = e->has_order;
        if (e->has_order)
            *o = e->order;
    }
    put_locked(s, e);
    pthread_mutex_unlock(&s->mu);
    return done;
}

int sf_size(sflight *s)
{
    pthread_mutex_lock(&s->mu);
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}
