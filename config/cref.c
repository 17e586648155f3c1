/* config/cref.c — see cref.h. */
#include "config/cref.h"

#include <pthread.h>
#include <stdlib.h>

struct cref_hold {
    conf *c;
    int refs;                 /* guarded by the owning cref's mutex */
    pthread_mutex_t *mu;
};

struct cref {
    pthread_mutex_t mu;
    cref_hold *cur;
};

static cref_hold *hold_new(conf *c, pthread_mutex_t *mu)
{
    cref_hold *h = calloc(1, sizeof *h);
    if (h == NULL)
        abort();
    h->c = c;
    h->refs = 1; /* the cref's own reference */
    h->mu = mu;
    return h;
}

cref *cref_create(conf *c)
{
    cref *r = calloc(1, sizeof *r);
    if (r == NULL)
        abort();
    pthread_mutex_init(&r->mu, NULL);
    r->cur = hold_new(c, &r->mu);
    return r;
}

void cref_destroy(cref *r)
{
    if (r == NULL)
        return;
    cref_put(r->cur);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

cref_hold *cref_get(cref *r)
{
    pthread_mutex_lock(&r->mu);
    cref_hold *h = r->cur;
    h->refs++;
    pthread_mutex_unlock(&r->mu);
    return h;
}

const conf *cref_conf(const cref_hold *h) { return h->c; }

void cref_put(cref_hold *h)
{
    pthread_mutex_lock(h->mu);
    int left = --h->refs;
    pthread_mutex_unlock(h->mu);
    if (left == 0) {
        conf_free(h->c);
        free(h);
    }
}

void cref_swap(cref *r, conf *c)
{
    cref_hold *n = hold_new(c, &r->mu);
    pthread_mutex_lock(&r->mu);
    cref_hold *old = r->cur;
    r->cur = n;
    pthread_mutex_unlock(&r->mu);
    cref_put(old);
}
