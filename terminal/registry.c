/* terminal/registry.c — the in-memory terminal registry; see registry.h.
 *
 * Open addressing (linear probing) over an array of entries; entries are
 * never deleted one by one (a terminal is retired, not removed), a full
 * read builds a new table aside and swaps it in under the write lock. */
#include "terminal/registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    term_view *ents;
    int n, cap;
    int32_t *slots;          /* index + 1 into ents; 0 empty */
    uint64_t mask;           /* nslots - 1, nslots a power of two >= 2 * cap */
} table;

struct treg {
    pthread_rwlock_t lk;
    table t;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void table_free(table *t)
{
    free(t->ents);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Room for cap entries (rehashing what is there). 0 or -1. */
static int table_reserve(table *t, int cap)
{
    if (cap <= t->cap)
        return 0;
    int ncap = t->cap ? t->cap : 64;
    while (ncap < cap)
        ncap *= 2;
    uint64_t nslots = 2;
    while (nslots < (uint64_t)ncap * 2)
        nslots *= 2;
    term_view *e = realloc(t->ents, (size_t)ncap * sizeof *e);
    if (e == NULL)
        return -1;
    t->ents = e;
    int32_t *s = calloc(nslots, sizeof *s);
    if (s == NULL)
        return -1;
    free(t->slots);
    t->slots = s;
    t->mask = nslots - 1;
    t->cap = ncap;
    for (int i = 0; i < t->n; i++) {
        uint64_t h = hash(t->ents[i].terminal_id) & t->mask;
        while (t->slots[h])
            h = (h + 1) & t->mask;
        t->slots[h] = i + 1;
    }
    return 0;
}

static term_view *table_find(const table *t, const char *id, uint64_t *slot)
{
    if (t->slots == NULL)
        return NULL;
    uint64_t h = hash(id) & t->mask;
    while (t->slots[h]) {
        term_view *e = &t->ents[t->slots[h] - 1];
        if (strcmp(e->terminal_id, id) == 0)
            return e;
        h = (h + 1) & t->mask;
    }
    if (slot)
        *slot = h;
    return NULL;
}

/* 1 stored, 0 kept the newer entry, -1 refused (full or out of memory). */
static int table_put(table *t, const term_view *row, int max)
{
    term_view *e = table_find(t, row->terminal_id, NULL);
    if (e != NULL) {
        if (row->updated_ms < e->updated_ms)
            return 0;
        *e = *row;
        return 1;
    }
    if (t->n >= max || table_reserve(t, t->n + 1) != 0)
        return -1;
    uint64_t slot;
    (void)table_find(t, row->terminal_id, &slot);
    t->ents[t->n] = *row;
    t->slots[slot] = ++t->n;
    return 1;
}

treg *treg_create(void)
{
    treg *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    pthread_rwlockattr_t at;
    pthread_rwlockattr_init(&at);
    pthread_rwlockattr_setkind_np(&at, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&r->lk, &at);
    pthread_rwlockattr_destroy(&at);
    return r;
}

void treg_destroy(treg *r)
{
    if (r == NULL)
        return;
    table_free(&r->t);
    pthread_rwlock_destroy(&r->lk);
    free(r);
}

bool treg_get(treg *r, const char *id, term_view *out)
{
    pthread_rwlock_rdlock(&r->lk);
    const term_view *e = table_find(&r->t, id, NULL);
    if (e)
        *out = *e;
    pthread_rwlock_unlock(&r->lk);
    return e != NULL;
}

int treg_upsert(treg *r, const term_view *rows, int n, int max)
{
    int refused = 0;
    pthread_rwlock_wrlock(&r->lk);
    for (int i = 0; i < n; i++)
        refused += table_put(&r->t, &rows[i], max) < 0;
    pthread_rwlock_unlock(&r->lk);
    return refused;
}

int treg_replace(treg *r, const term_view *rows, int n, int max)
{
    /* build aside: lookups go on against the old table meanwhile */
    table nt = {0};
    int refused = 0;
    int64_t newest = 0;
    if (table_reserve(&nt, n < max ? n + 1 : max) != 0)
        return n;
    for (int i = 0; i < n; i++) {
        refused += table_put(&nt, &rows[i], max) < 0;
        if (rows[i].updated_ms > newest)
            newest = rows[i].updated_ms;
    }
    pthread_rwlock_wrlock(&r->lk);
    for (int i = 0; i < r->t.n; i++) {
        const term_view *old = &r->t.ents[i];
        term_view *e = table_find(&nt, old->terminal_id, NULL);
        if ((e != NULL && old->updated_ms > e->updated_ms) || (e == NULL && old->updated_ms > newest))
            refused += table_put(&nt, old, max) < 0;
    }
    table old = r->t;
    r->t = nt;
    pthread_rwlock_unlock(&r->lk);
    table_free(&old);
    return refused;
}

int64_t treg_size(treg *r)
{
    pthread_rwlock_rdlock(&r->lk);
    int64_t n = r->t.n;
    pthread_rwlock_unlock(&r->lk);
    return n;
}
