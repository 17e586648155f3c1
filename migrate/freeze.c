/* migrate/freeze.c — the daemon's side of the write freeze; see freeze.h. */
#include "migrate/freeze.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    atomic_bool frozen;
    atomic_int writes;            /* updates in flight on this group */
} fslot;

struct frz {
    fslot s[CONF_MAX_GROUPS + 1];
};

frz *frz_create(void) { return calloc(1, sizeof(frz)); }
void frz_destroy(frz *f) { free(f); }

static fslot *get(frz *f, int id) { return id >= 1 && id <= CONF_MAX_GROUPS ? &f->s[id] : NULL; }

bool frz_enter(frz *f, int id)
{
    fslot *s = get(f, id);
    if (s == NULL)
        return true;
    atomic_fetch_add(&s->writes, 1);
    if (atomic_load(&s->frozen)) {
        atomic_fetch_sub(&s->writes, 1);
        return false;
    }
    return true;
}

void frz_exit(frz *f, int id)
{
    fslot *s = get(f, id);
    if (s)
        atomic_fetch_sub(&s->writes, 1);
}

bool frz_frozen(frz *f, int id)
{
    fslot *s = get(f, id);
    return s ? atomic_load(&s->frozen) : false;
}

bool frz_refresh(frz *f, kv *k, const conf *c, const char *token)
{
    for (int i = 0; i < c->ngroups; i++) {
        int id = c->groups[i].id;
        fslot *s = get(f, id);
        if (s == NULL)
            continue;
        char key[48];
        snprintf(key, sizeof key, "skip:freeze:%d", id);
        redisReply *r = kv_cmd(k, "EXISTS %s", key);
        if (r == NULL)
            return false;
        bool frozen = r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        freeReplyObject(r);
        bool was = atomic_exchange(&s->frozen, frozen);
        if (frozen != was)
            sk_info("event=%s group=%d", frozen ? "write_freeze" : "write_unfreeze", id);
        if (frozen && atomic_load(&s->writes) == 0) {
            char ack[64];
            snprintf(ack, sizeof ack, "skip:freeze_ack:%d:%d", id, c->node_id);
            r = kv_cmd(k, "SET %s %s PX %d", ack, token, 3000);
            if (r)
                freeReplyObject(r);
        }
    }
    return true;
}
