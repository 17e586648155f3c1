/*
 * mirror/event.c — event decode/validate, version guard, lag stats
 * (pure; see mirror/event.h).
 */
#include "mirror/event.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"

#define MEV_MERCHANT_QUOTE (ORD_MERCHANT_MAX + 1) /* a merchant id quoted in a reason */

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
    case MEV_BAD_HMAC: return "bad_hmac";
    case MEV_MOVED: return "moved";
    }
    return "?";
}

/* The reason goes into a utf8mb4 column (dead_letters.reason): always valid
 * UTF-8, even when it quotes the input (jansson's error text does: "invalid
 * escape near '\\<byte>'"; found by fuzz/fuzz_event.c). */
static void set_reason(char *reason, size_t cap, const char *fmt, ...) SK_PRINTF(3, 4);
static void set_reason(char *reason, size_t cap, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    utf8_sanitize(reason, cap, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
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
        set_reason(reason, cap, "unknown event type");
        return MEV_BAD_TYPE;
    }
    if (val == NULL || len == 0) {
        set_reason(reason, cap, "empty message");
        return MEV_EMPTY;
    }
    json_error_t je;
    json_t *j = json_loadb(val, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        set_reason(reason, cap, "invalid json: %s", je.text);
        return MEV_BAD_JSON;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        set_reason(reason, cap, "not a JSON object");
        return MEV_NOT_OBJECT;
    }
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
        if (!known(k)) {
            /* the reason goes into a utf8mb4 column: cut on a character
             * boundary (jansson keys are valid UTF-8, "%.64s" may split one) */
            char name[65];
            utf8_sanitize(name, sizeof name, k, strlen(k)); /* at most 64 bytes, whole characters */
            set_reason(reason, cap, "unknown field %s", name);
            json_decref(j);
            return MEV_UNKNOWN_FIELD;
        }
    }
    sk_status st = ord_from_json(j, out);
    json_decref(j);
    if (st != SK_OK) {
        set_reason(reason, cap, "missing or invalid order field");
        return MEV_INVALID;
    }
    ono_fields f;
    if (ono_parse(out->order_no, strlen(out->order_no), &f, NULL) != SK_OK || f.group != out->group) {
        /* an order's group is the one stamped in its number, for life (a
         * retired group's rows keep it; routing goes through alias_of) */
        set_reason(reason, cap, "group %d is not the group of order number %s", out->group, out->order_no);
        return MEV_INVALID;
    }
    if (key != NULL && (keylen != strlen(out->merchant_id) || memcmp(key, out->merchant_id, keylen) != 0)) {
        set_reason(reason, cap, "message key does not match merchant_id");
        return MEV_BAD_KEY;
    }
    return MEV_OK;
}

mev_res mev_check_hmac(const evsig_keys *k, const void *val, size_t len, const void *hdr, size_t hdrlen,
                       char *reason, size_t cap)
{
    if (k == NULL)
        return MEV_OK;
    evsig_res r = evsig_verify(k, val, len, hdr, hdrlen);
    switch (r) {
    case EVSIG_OK:
    case EVSIG_OK_PREV:
        return MEV_OK;
    case EVSIG_MISSING:
        set_reason(reason, cap, "no " EVSIG_HEADER " header (unsigned event)");
        break;
    case EVSIG_MALFORMED:
        set_reason(reason, cap, EVSIG_HEADER " header is not base64 of 32 bytes");
        break;
    case EVSIG_MISMATCH:
        set_reason(reason, cap, EVSIG_HEADER " does not verify with the current or previous event key");
        break;
    }
    return MEV_BAD_HMAC;
}

mev_res mev_check_owner(const order_t *o, const char *stored_merchant, int stored_group, char *reason, size_t cap)
{
    if (stored_merchant == NULL)
        return MEV_OK;
    if (strcmp(stored_merchant, o->merchant_id) == 0 && stored_group == o->group)
        return MEV_OK;
    char sm[MEV_MERCHANT_QUOTE], em[MEV_MERCHANT_QUOTE];
    utf8_sanitize(sm, sizeof sm, stored_merchant, strlen(stored_merchant));
    utf8_sanitize(em, sizeof em, o->merchant_id, strlen(o->merchant_id));
    set_reason(reason, cap, "order %s belongs to merchant %s group %d; event says merchant %s group %d (version %lld)",
               o->order_no, sm, stored_group, em, o->group, (long long)o->version);
    return MEV_MOVED;
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

static mev_apply isolate(const mev_isolator *iso, int from, int to, mev_apply first)
{
    mev_apply r = first;
    if (r != MEV_APPLY_ROW)
        return r;
    if (to - from > 1) {
        int mid = from + (to - from) / 2;
        r = isolate(iso, from, mid, iso->apply(iso->ctx, from, mid));
        if (r != MEV_APPLY_OK)
            return r;
        return isolate(iso, mid, to, iso->apply(iso->ctx, mid, to));
    }
    for (int lvl = MEV_LVL_DEAD; lvl <= MEV_LVL_SKIP; lvl++) {
        iso->set_level(iso->ctx, from, lvl);
        r = iso->apply(iso->ctx, from, to);
        if (r != MEV_APPLY_ROW)
            return r;
    }
    return MEV_APPLY_FAIL; /* a skipped event still "rejected": the driver is broken */
}

mev_apply mev_isolate(const mev_isolator *iso, int n)
{
    if (n <= 0)
        return MEV_APPLY_OK;
    return isolate(iso, 0, n, iso->apply(iso->ctx, 0, n));
}

bool mev_row_error(unsigned e)
{
    switch (e) {
    case 1048: /* ER_BAD_NULL_ERROR */
    case 1062: /* ER_DUP_ENTRY */
    case 1264: /* ER_WARN_DATA_OUT_OF_RANGE */
    case 1265: /* WARN_DATA_TRUNCATED */
    case 1292: /* ER_TRUNCATED_WRONG_VALUE (e.g. a datetime) */
    case 1300: /* ER_INVALID_CHARACTER_STRING */
    case 1366: /* ER_TRUNCATED_WRONG_VALUE_FOR_FIELD ("Incorrect string value") */
    case 1367: /* ER_ILLEGAL_VALUE_FOR_TYPE */
    case 1406: /* ER_DATA_TOO_LONG */
    case 1411: /* ER_WRONG_VALUE_FOR_TYPE */
    case 1690: /* ER_DATA_OUT_OF_RANGE */
    case 4025: /* ER_CONSTRAINT_FAILED (CHECK) */
        return true;
    default:
        return false;
    }
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
