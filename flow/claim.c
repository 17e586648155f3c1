/* flow/claim.c — the idempotency claim in Redis; see claim.h. */
#include "flow/claim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void claim_key(char out[CLAIM_KEY_MAX], const char *merchant_id, const char *out_trade_no)
{
    snprintf(out, CLAIM_KEY_MAX, "skip:idem:%s:%s", merchant_id, out_trade_no);
}

void claim_value(char out[CLAIM_VAL_MAX], const char *order_no, int64_t deadline_wall_ms, const char *token)
{
    snprintf(out, CLAIM_VAL_MAX, "%s|%lld|%s", order_no, (long long)deadline_wall_ms, token);
}

void claim_parse(const char *raw, claim_holder *h)
{
    memset(h, 0, sizeof *h);
    sk_strlcpy(h->raw, raw, sizeof h->raw);
    const char *bar = strchr(raw, '|');
    if (bar == NULL || bar - raw != ONO_LEN)
        return;
    char *end;
    long long d = strtoll(bar + 1, &end, 10);
    if (end == bar + 1 || *end != '|')
        return;
    memcpy(h->order_no, raw, ONO_LEN);
    h->order_no[ONO_LEN] = '\0';
    h->deadline_wall_ms = d;
    h->valid = true;
}

bool claim_holder_gone(const claim_holder *h, int64_t now_wall_ms)
{
    return !h->valid || now_wall_ms > h->deadline_wall_ms + CLAIM_TAKEOVER_MARGIN_MS;
}

sk_status claim_take(kv *k, const char *key, const char *val, claim_holder *h)
{
    for (int i = 0; i < 2; i++) {
        redisReply *r = kv_cmd(k, "SET %s %s NX PX %lld", key, val, CLAIM_TTL_MS);
        if (r == NULL)
            return SK_EUNAVAILABLE;
        bool ok = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (ok)
            return SK_OK;
        r = kv_cmd(k, "GET %s", key);
        if (r == NULL)
            return SK_EUNAVAILABLE;
        bool nil = r->type == REDIS_REPLY_NIL;
        claim_parse(r->type == REDIS_REPLY_STRING ? r->str : "", h);
        freeReplyObject(r);
        if (!nil)
            return SK_EHELD;
        /* released between our SET and GET: try once more */
    }
    return SK_EHELD;
}

static const char GUARDED_TAKE[] =
    "if not redis.call('set',KEYS[1],'1','NX','EX',ARGV[1]) then return 0 end "
    "if redis.call('set',KEYS[2],ARGV[2],'NX','PX',ARGV[3]) then return 1 end "
    "return redis.call('get',KEYS[2])";

sk_status claim_take_guarded(kv *k, const char *guard, int guard_ttl_s, const char *key, const char *val,
                             claim_holder *h)
{
    redisReply *r = kv_cmd(k, "EVAL %s 2 %s %s %d %s %lld", GUARDED_TAKE, guard, key, guard_ttl_s, val,
                           CLAIM_TTL_MS);
    if (r == NULL)
        return SK_EUNAVAILABLE;
    sk_status st;
    if (r->type == REDIS_REPLY_INTEGER) {
        st = r->integer == 1 ? SK_OK : SK_EREPLAYED;
    } else if (r->type == REDIS_REPLY_STRING) {
        claim_parse(r->str, h);
        st = SK_EHELD;
    } else {
        st = SK_EUNAVAILABLE; /* an error reply (script refused): as if Redis were down */
    }
    freeReplyObject(r);
    return st;
}

static const char CAS_SET[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('set',KEYS[1],ARGV[2],'PX',ARGV[3]) "
    "else return 0 end";
static const char CAS_DEL[] =
    "if redis.call('get',KEYS[1])==ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end";

sk_status claim_takeover(kv *k, const char *key, const claim_holder *h, const char *val)
{
    redisReply *r = kv_cmd(k, "EVAL %s 1 %s %s %s %lld", CAS_SET, key, h->raw, val, CLAIM_TTL_MS);
    if (r == NULL)
        return SK_EUNAVAILABLE;
    bool ok = r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok ? SK_OK : SK_EHELD;
}

sk_status claim_move(kv *k, const char *key, const char *val)
{
    redisReply *r = kv_cmd(k, "SET %s %s XX PX %lld", key, val, CLAIM_TTL_MS);
    if (r == NULL)
        return SK_EUNAVAILABLE;
    freeReplyObject(r);
    return SK_OK;
}

sk_status claim_release(kv *k, const char *key, const char *val)
{
    redisReply *r = kv_cmd(k, "EVAL %s 1 %s %s", CAS_DEL, key, val);
    if (r == NULL)
        return SK_EUNAVAILABLE;
    freeReplyObject(r);
    return SK_OK;
}
