/*
 * migrate/retire_freeze.c — the DRAINING wait and the CATCHUP -> FREEZING ->
 * FLIPPING -> RETIRED steps of a retire (docs/shrink.md): catch-up rounds,
 * full verification, the write freeze skip:freeze:G (PX TTL, acks from every
 * live daemon, compare-and-delete), the final catch-up and re-verify under
 * the freeze, the alias flip, and moving G's pending outbox rows to T.
 */
#include "migrate/retire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FREEZE_TTL_MS 10000          /* a crashed skipctl's freeze lapses after this */
#define FREEZE_ATTEMPTS 5
#define CATCHUP_ROUNDS 20

/* ---------------- freeze ---------------- */

void rt_unfreeze(rt *r)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    /* delete only our own freeze (compare-and-delete) */
    redisReply *x = kv_cmd(r->kv, "EVAL %s 1 %s %s",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                           key, r->freeze_token);
    if (x)
        freeReplyObject(x);
}

/* Keep our freeze alive; 0 if it is still ours, -1 if it lapsed. */
static int freeze_refresh(rt *r)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    redisReply *x = kv_cmd(r->kv, "EVAL %s 1 %s %s %d",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0",
                           key, r->freeze_token, FREEZE_TTL_MS);
    int ok = x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
    if (x)
        freeReplyObject(x);
    return ok ? 0 : -1;
}

/* Node ids holding a skip:node:<id> lease. Returns n or -1. */
static int live_nodes(rt *r, int *ids, int max)
{
    char cursor[32] = "0";
    int n = 0;
    for (int it = 0; it < 1000; it++) {
        redisReply *x = kv_cmd(r->kv, "SCAN %s MATCH skip:node:* COUNT 1000", cursor);
        if (x == NULL || x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
            if (x)
                freeReplyObject(x);
            snprintf(r->err, sizeof r->err, "redis %s: SCAN failed", r->c->redis_addr);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", x->element[0]->str ? x->element[0]->str : "0");
        for (size_t i = 0; i < x->element[1]->elements && n < max; i++)
            ids[n++] = atoi(x->element[1]->element[i]->str + strlen("skip:node:"));
        freeReplyObject(x);
        if (strcmp(cursor, "0") == 0)
            return n;
    }
    return n;
}

/* Take the freeze and wait for every live daemon's ack. 0 = frozen, 1 = not
 * acknowledged in time (freeze released), -1 = error (freeze released). */
static int freeze(rt *r)
{
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    snprintf(r->freeze_token, sizeof r->freeze_token, "skipctl:%d:%lld", (int)getpid(), (long long)sk_now_ms());
    redisReply *x = kv_cmd(r->kv, "SET %s %s PX %d", key, r->freeze_token, FREEZE_TTL_MS);
    if (x == NULL) {
        snprintf(r->err, sizeof r->err, "redis %s: cannot set %s", r->c->redis_addr, key);
        return -1;
    }
    freeReplyObject(x);
    int nodes[1024];
    int n = live_nodes(r, nodes, 1024);
    if (n < 0) {
        rt_unfreeze(r);
        return -1;
    }
    int64_t until = sk_mono_ms() + r->o->freeze_ack_ms;
    for (;;) {
        int acked = 0;
        for (int i = 0; i < n; i++) {
            x = kv_cmd(r->kv, "EXISTS skip:freeze_ack:%d:%d", r->j.group, nodes[i]);
            acked += x && x->type == REDIS_REPLY_INTEGER && x->integer == 1;
            if (x)
                freeReplyObject(x);
        }
        if (acked == n)
            return 0;
        if (sk_mono_ms() > until) {
            rt_say(r, "freeze: %d of %d daemons acknowledged within %d ms; released, will retry", acked, n,
                r->o->freeze_ack_ms);
            rt_unfreeze(r);
            return 1;
        }
        sk_sleep_ms(5);
    }
}

/* ---------------- outbox ---------------- */

static int move_outbox(rt *r)
{
    static char ids[32 * 1000 + 64];
    char sel[512];
    for (int rounds = 0; rounds < 100000; rounds++) {
        snprintf(sel, sizeof sel, "SELECT id, " DAL_OUTBOX_COLS " FROM outbox ORDER BY id LIMIT 1000");
        int64_t n = rt_copy_select(r, RT_OUTBOX, sel, NULL, ids, sizeof ids);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        /* T committed the copies (autocommit); now delete them from G. A
         * crash in between publishes those events twice: harmless, the
         * mirror applies by version. A row the relay was publishing is
         * locked; the DELETE waits for its commit and then finds it gone. */
        sk_buf *b = &r->buf;
        sk_buf_reset(b);
        sk_buf_str(b, "DELETE FROM outbox WHERE id IN (");
        sk_buf_str(b, ids);
        sk_buf_str(b, ")");
        sk_status st = b->oom ? SK_ENOMEM : dal_exec(r->g, b->p, b->len);
        if (st != SK_OK) {
            snprintf(r->err, sizeof r->err, "group %d: outbox delete: %s", r->j.group, dal_strerror(r->g, st));
            return -1;
        }
        r->j.outbox_moved += n;
        if (rt_save(r) != 0)
            return -1;
    }
    return 0;
}

/* ---------------- steps ---------------- */

int rt_wait_drained(rt *r)
{
    int nd = mu_daemon_count(&r->o->m);
    int64_t until = sk_mono_ms() + 2 * r->c->request_deadline_ms + 1000;
    bool *seen = calloc((size_t)nd + 1, 1);
    if (seen == NULL)
        return -1;
    int left = nd;
    while (left > 0 && sk_mono_ms() < until) {
        for (int i = 0; i < nd; i++) {
            if (seen[i])
                continue;
            char url[512], e[512];
            mu_daemon_url(&r->o->m, i, url, sizeof url);
            json_t *gs = mu_groups(&r->o->m, url, e, sizeof e);
            json_t *g = gs ? mu_group_obj(gs, r->j.group) : NULL;
            if (g && json_integer_value(json_object_get(g, "inflight")) == 0) {
                seen[i] = true;
                left--;
            }
            json_decref(gs);
        }
        if (left > 0)
            sk_sleep_ms(20);
    }
    free(seen);
    if (left > 0)
        rt_say(r, "drain: %d daemon(s) never showed 0 in flight on group %d; continuing after the request deadline "
            "(every create that chose group %d before the reload has ended)", left, r->j.group, r->j.group);
    return 0;
}


int rt_catchup_and_freeze(rt *r)
{
    /* online catch-up until a round is small and quick */
    for (int round = 0; round < CATCHUP_ROUNDS; round++) {
        int64_t t = sk_now_ms(), m0 = sk_mono_ms();
        int64_t n = rt_catch_up(r, r->j.catchup_from_ms, NULL);
        if (n < 0)
            return -1;
        r->j.catchup_from_ms = t - r->o->margin_ms;
        if (rt_save(r) != 0)
            return -1;
        if (n <= r->j.chunk_rows && sk_mono_ms() - m0 < 300)
            break;
    }
    for (int attempt = 0; attempt < FREEZE_ATTEMPTS; attempt++) {
        /* full verification online (repairs lagging chunks), then the
         * freeze re-checks only what changed after this point */
        int64_t vstart = sk_now_ms();
        int v = rt_verify(r, NULL, true);
        if (v <= 0)
            return -1;
        int64_t from = r->j.catchup_from_ms < vstart - r->o->margin_ms ? r->j.catchup_from_ms : vstart - r->o->margin_ms;
        if (rt_step(r, MIG_EV_FROZEN) != 0)
            return -1;
        int64_t f0 = sk_mono_ms();
        int fr = freeze(r);
        if (fr != 0) {
            if (rt_step(r, MIG_EV_THAWED) != 0 || fr < 0)
                return -1;
            sk_sleep_ms(1000);
            continue;
        }
        int nchunks = r->j.chunks.n ? r->j.chunks.n : 1;
        unsigned char *touched = calloc((size_t)nchunks, 1);
        int64_t n = touched ? rt_catch_up(r, from, touched) : -1;
        int ok = n >= 0 ? rt_verify(r, touched, false) : -1;
        free(touched);
        int64_t verify_ms = sk_mono_ms() - f0;
        if (ok == 1 && freeze_refresh(r) != 0) {
            snprintf(r->err, sizeof r->err, "freeze lapsed before the flip");
            ok = 0;
        }
        if (ok != 1) {
            rt_unfreeze(r);
            if (rt_step(r, MIG_EV_THAWED) != 0)
                return -1;
            if (ok < 0)
                return -1;
            rt_say(r, "verify under freeze failed (%s); freeze released, retrying", r->err);
            continue;
        }
        if (rt_step(r, MIG_EV_VERIFIED) != 0) {
            rt_unfreeze(r);
            return -1;
        }
        /* flip: G retired, alias T; reload every daemon; then lift the freeze */
        if (rt_set_group_state(r, GROUP_RETIRED, r->j.into, -1) != 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", r->err);
            /* back out: G draining again everywhere, then unfreeze */
            if (rt_set_group_state(r, GROUP_DRAINING, 0, -1) != 0)
                rt_say(r, "could not restore group %d to draining: %s", r->j.group, r->err);
            rt_unfreeze(r);
            r->j.state = MIG_CATCHUP;
            (void)rt_save(r);
            snprintf(r->err, sizeof r->err, "flip failed, rolled back to catch-up: %s", why);
            return -1;
        }
        rt_unfreeze(r);
        r->j.freeze_ms = sk_mono_ms() - f0;
        rt_say(r, "flipped: group %d -> alias of %d; write freeze %" PRId64 " ms (catch-up %" PRId64
            " rows, verify %" PRId64 " ms)", r->j.group, r->j.into, r->j.freeze_ms, n, verify_ms);
        return rt_save(r);
    }
    snprintf(r->err, sizeof r->err, "freeze not acknowledged by every daemon after %d attempts", FREEZE_ATTEMPTS);
    return -1;
}

int rt_finish_flip(rt *r)
{
    /* FLIPPING after a crash: make sure every daemon runs the flipped
     * config and no freeze is left, then pick up any write that landed on
     * G meanwhile (version-guarded) and move the outbox */
    conf_group *g = mu_group(r->c, r->j.group);
    if (g == NULL || g->state != GROUP_RETIRED) {
        r->j.state = MIG_CATCHUP;
        return rt_save(r);
    }
    if (mu_reload_all(&r->o->m, r->err, sizeof r->err) != 0)
        return -1;
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    if (r->freeze_token[0] == '\0') {
        redisReply *x = kv_cmd(r->kv, "DEL %s", key);
        if (x)
            freeReplyObject(x);
    }
    if (rt_catch_up(r, r->j.catchup_from_ms, NULL) < 0)
        return -1;
    if (move_outbox(r) != 0)
        return -1;
    return rt_step(r, MIG_EV_FLIPPED);
}

