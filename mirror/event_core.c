/*
 * mirror/event_core.c — event decode/validate, version guard, lag stats
 * (pure; see mirror/event.h).
 */
#include "mirror/event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const FIELDS[] = {
    "order_no", "group", "merchant_id", "out_trade_no", "store_id", "terminal_id", "amount",
    "currency", "channel", "subject", "attach", "status", "refunded_amount", "channel_txn_id",
    "version", "created_at", "updated_at", "expire_at", "paid_at", "closed_at",
};

const char *mev_res_name(mev_res r)
{
    switch (r) {
    case MEV_OK: return "ok";
    case MEV_EMPTY: return "empty";
    case MEV_BAD_JSON: return "bad_json";
    case MEV_NOT_OBJECT: return "not_object";
    case MEV_UNKNOWN_FIELD: return "unknown_field";
    case MEV_INVALID: return "invalid";
    case MEV_BAD_KEY: return "bad_key";
    case MEV_BAD_TYPE: return "bad_type";
    }
    return "?";
}

static bool known(const char *k)
{
    for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++)
        if (strcmp(FIELDS[i], k) == 0)
            return true;
    return false;
}

mev_res mev_decode(const char *val, size_t len, const char *key, size_t keylen, const char *type,
                   order_t *out, char *reason, size_t cap)
{
    if (type != NULL && strcmp(type, "order") != 0) {
        snprintf(reason, cap, "unknown event type");
        return MEV_BAD_TYPE;
    }
    if (val == NULL || len == 0) {
        snprintf(reason, cap, "empty message");
        return MEV_EMPTY;
    }
    json_error_t je;
    json_t *j = json_loadb(val, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        snprintf(reason, cap, "invalid json: %s", je.text);
        return MEV_BAD_JSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(reason, cap, "not a JSON object");
        return MEV_NOT_OBJECT;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (!known(k)) {
            snprintf(reason, cap, "unknown field %.64s", k);
            json_decref(j);
            return MEV_UNKNOWN_FIELD;
        }
    }
    sk_status st = ord_from_json(j, out);
    json_decref(j);
    if (st != SK_OK) {
        snprintf(reason, cap, "missing or invalid order field");
        return MEV_INVALID;
    }
    if (key != NULL && (keylen != strlen(out->merchant_id) || memcmp(key, out->merchant_id, keylen) != 0)) {
        snprintf(reason, cap, "message key does not match merchant_id");
        return MEV_BAD_KEY;
    }
    return MEV_OK;
}

bool mev_newer(bool have_stored, int64_t stored_version, int64_t incoming)
{
    return !have_stored || incoming > stored_version;
}

int mev_slot(int32_t partition, int nworkers)
{
    if (nworkers <= 1 || partition < 0)
        return 0;
    return (int)(partition % nworkers);
}

bool mev_want_pause(bool paused, int queued, int high, int low, bool db_failing)
{
    if (db_failing || queued >= high)
        return true;
    if (paused)
        return queued > low;
    return false;
}

void mlag_reset(mlag *l)
{
    l->n = 0;
    l->seen = 0;
    l->max = -1;
    if (l->rnd == 0)
        l->rnd = 0x9E3779B97F4A7C15ULL;
}

void mlag_add(mlag *l, int64_t lag_ms)
{
    if (lag_ms < 0)
        lag_ms = 0; /* clock skew between hosts: count as no lag */
    if (lag_ms > l->max)
        l->max = lag_ms;
    l->seen++;
    if (l->n < MLAG_CAP) {
        l->v[l->n++] = lag_ms;
        return;
    }
    /* reservoir sampling keeps a uniform sample of the interval */
    l->rnd ^= l->rnd << 13;
    l->rnd ^= l->rnd >> 7;
    l->rnd ^= l->rnd << 17;
    uint64_t r = l->rnd % (uint64_t)l->seen;
    if (r < MLAG_CAP)
        l->v[r] = lag_ms;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int64_t mlag_pct(mlag *l, double p)
{
    if (l->n == 0)
        return -1;
    qsort(l->v, (size_t)l->n, sizeof l->v[0], cmp64);
    int i = (int)(p * (double)(l->n - 1) + 0.5);
    if (i < 0) i = 0;
    if (i >= l->n) i = l->n - 1;
    return l->v[i];
}
