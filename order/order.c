/*
 * order/order.c — request validation (spec §4), building a new order, the
 * idempotent-replay comparison, and the JSON order/refund objects both ways.
 *
 * Pure: plain data in, plain data out. Request bodies are validated against
 * one table per request type ({name, kind, pattern or bounds, target}), so
 * every field is checked the same way and every error names its field.
 *
 * Error text never echoes request bytes except an unknown key's name, which
 * is valid UTF-8 (jansson guarantees it) and is cut on a character boundary,
 * so the rpc layer can always render ord_err as JSON.
 */
#include "order/order.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/civil.h"

/* ---------------------------------------------------------------- charsets */

#define CC_UPPER 1
#define CC_LOWER 2
#define CC_DIGIT 4

typedef struct {
    int classes;
    const char *extra;   /* other allowed bytes */
    const char *pattern; /* for messages, without the {m,n} */
} charset;

static const charset CS_ID = {CC_UPPER | CC_LOWER | CC_DIGIT, "_-", "[A-Za-z0-9_-]"};
static const charset CS_NO = {CC_UPPER | CC_LOWER | CC_DIGIT, "_.-", "[A-Za-z0-9_.-]"};
static const charset CS_CHANNEL = {CC_LOWER | CC_DIGIT, "_", "[a-z0-9_]"};
static const charset CS_CURRENCY = {CC_UPPER, "", "[A-Z]"};

static bool cs_match(const charset *cs, const char *s, size_t n, size_t minlen, size_t maxlen)
{
    if (n < minlen || n > maxlen)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = ((cs->classes & CC_UPPER) && c >= 'A' && c <= 'Z') ||
                  ((cs->classes & CC_LOWER) && c >= 'a' && c <= 'z') ||
                  ((cs->classes & CC_DIGIT) && c >= '0' && c <= '9') ||
                  (c != '\0' && strchr(cs->extra, c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

/* Longest prefix of s (n bytes) of at most cap bytes that does not split a
 * UTF-8 sequence. */
static size_t utf8_prefix(const char *s, size_t n, size_t cap)
{
    if (n <= cap)
        return n;
    size_t k = cap;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* ------------------------------------------------------------ field table */

typedef enum {
    FK_TOKEN, /* string over a charset, minlen..maxlen bytes */
    FK_TEXT,  /* any (UTF-8) string, at most maxlen bytes */
    FK_INT    /* JSON integer, min..max */
} fkind;

#define NOFLAG ((size_t)-1)

typedef struct {
    const char *name;
    fkind kind;
    bool required;
    const charset *cs;      /* FK_TOKEN */
    size_t minlen, maxlen;  /* FK_TOKEN, FK_TEXT (bytes) */
    int64_t min, max;       /* FK_INT */
    size_t off, size;       /* target member: char[size], int64_t or int */
    size_t has_off;         /* bool member set when present, or NOFLAG */
} fspec;

#define AT(T, m) .off = offsetof(T, m), .size = sizeof(((T *)0)->m)
#define HAS(T, m) .has_off = offsetof(T, m)
#define TOKEN(cset, lo, hi) .kind = FK_TOKEN, .cs = &(cset), .minlen = (lo), .maxlen = (hi)
#define TEXT(hi) .kind = FK_TEXT, .minlen = 0, .maxlen = (hi)
#define INT(lo, hi) .kind = FK_INT, .min = (lo), .max = (hi)

static const fspec create_fields[] = {
    {.name = "merchant_id", .required = true, TOKEN(CS_ID, 1, ORD_MERCHANT_MAX),
     AT(create_req, merchant_id), .has_off = NOFLAG},
    {.name = "out_trade_no", .required = true, TOKEN(CS_NO, 1, ORD_OUT_TRADE_MAX),
     AT(create_req, out_trade_no), .has_off = NOFLAG},
    {.name = "amount", .required = true, INT(1, ORD_AMOUNT_MAX),
     AT(create_req, amount), .has_off = NOFLAG},
    {.name = "currency", TOKEN(CS_CURRENCY, 3, 3),
     AT(create_req, currency), .has_off = NOFLAG},
    {.name = "channel", .required = true, TOKEN(CS_CHANNEL, 1, ORD_CHANNEL_MAX),
     AT(create_req, channel), .has_off = NOFLAG},
    {.name = "store_id", TOKEN(CS_ID, 1, ORD_ID_MAX),
     AT(create_req, store_id), HAS(create_req, has_store_id)},
    {.name = "terminal_id", TOKEN(CS_ID, 1, ORD_ID_MAX),
     AT(create_req, terminal_id), HAS(create_req, has_terminal_id)},
    {.name = "subject", TEXT(ORD_SUBJECT_MAX),
     AT(create_req, subject), HAS(create_req, has_subject)},
    {.name = "attach", TEXT(ORD_ATTACH_MAX),
     AT(create_req, attach), HAS(create_req, has_attach)},
    {.name = "expire_seconds", INT(30, 86400),
     AT(create_req, expire_seconds), .has_off = NOFLAG},
};

static const fspec pay_fields[] = {
    {.name = "channel_txn_id", .required = true, TOKEN(CS_NO, 1, ORD_TXN_MAX),
     AT(pay_req, channel_txn_id), .has_off = NOFLAG},
    {.name = "paid_amount", .required = true, INT(1, ORD_AMOUNT_MAX),
     AT(pay_req, paid_amount), .has_off = NOFLAG},
    {.name = "expected_version", INT(1, INT64_MAX),
     AT(pay_req, expected_version), HAS(pay_req, has_expected_version)},
};

static const fspec close_fields[] = {
    {.name = "expected_version", INT(1, INT64_MAX),
     AT(close_req, expected_version), HAS(close_req, has_expected_version)},
};

static const fspec refund_fields[] = {
    {.name = "out_refund_no", .required = true, TOKEN(CS_NO, 1, ORD_REFUND_NO_MAX),
     AT(refund_req, out_refund_no), .has_off = NOFLAG},
    {.name = "amount", .required = true, INT(1, ORD_AMOUNT_MAX),
     AT(refund_req, amount), .has_off = NOFLAG},
    {.name = "reason", TEXT(ORD_REASON_MAX),
     AT(refund_req, reason), HAS(refund_req, has_reason)},
    {.name = "expected_version", INT(1, INT64_MAX),
     AT(refund_req, expected_version), HAS(refund_req, has_expected_version)},
    {.name = "terminal_id", TOKEN(CS_ID, 1, ORD_ID_MAX),
     AT(refund_req, terminal_id), HAS(refund_req, has_terminal_id)},
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------- errors */

static sk_status fail(ord_err *err, sk_status st, const char *field, const char *fmt, ...)
    SK_PRINTF(4, 5);

static sk_status fail(ord_err *err, sk_status st, const char *field, const char *fmt, ...)
{
    if (err == NULL)
        return st;
    size_t fl = utf8_prefix(field, strlen(field), sizeof err->field - 1);
    memcpy(err->field, field, fl);
    err->field[fl] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return st;
}

/* The one message per field, used for wrong type and bad value alike. */
static sk_status fail_field(ord_err *err, const fspec *f)
{
    switch (f->kind) {
    case FK_TOKEN:
        if (f->minlen == f->maxlen)
            return fail(err, SK_EINVALID_ARGUMENT, f->name, "%s must be a string matching %s{%zu}",
                        f->name, f->cs->pattern, f->maxlen);
        return fail(err, SK_EINVALID_ARGUMENT, f->name, "%s must be a string matching %s{%zu,%zu}",
                    f->name, f->cs->pattern, f->minlen, f->maxlen);
    case FK_TEXT:
        return fail(err, SK_EINVALID_ARGUMENT, f->name, "%s must be a string of at most %zu bytes",
                    f->name, f->maxlen);
    case FK_INT:
    default:
        if (f->max == INT64_MAX)
            return fail(err, SK_EINVALID_ARGUMENT, f->name, "%s must be an integer >= %lld", f->name,
                        (long long)f->min);
        return fail(err, SK_EINVALID_ARGUMENT, f->name, "%s must be an integer between %lld and %lld",
                    f->name, (long long)f->min, (long long)f->max);
    }
}

static const char *json_error_text(enum json_error_code code)
{
    switch (code) {
    case json_error_invalid_utf8: return "invalid UTF-8";
    case json_error_premature_end_of_input: return "unexpected end of input";
    case json_error_end_of_input_expected: return "unexpected data after the JSON value";
    case json_error_invalid_syntax: return "syntax error";
    case json_error_null_character: return "NUL character";
    case json_error_null_byte_in_key: return "NUL character in a key";
    case json_error_duplicate_key: return "duplicate key";
    case json_error_stack_overflow: return "nested too deeply";
    case json_error_numeric_overflow: return "number out of range";
    default: return "malformed JSON";
    }
}

/* ------------------------------------------------------------ validation */

/*
 * Integer of a field. JSON integers only; in `lenient` mode (see load_body)
 * an integral real within int64 is taken too.
 */
static bool get_int(const json_t *v, bool lenient, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (lenient && json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -9.2e18 && d < 9.2e18 && (double)(int64_t)d == d) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

static sk_status validate(const json_t *obj, const fspec *fs, size_t n, bool lenient, void *out,
                          ord_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        size_t i;
        for (i = 0; i < n; i++)
            if (strcmp(key, fs[i].name) == 0)
                break;
        if (i == n) {
            size_t kl = utf8_prefix(key, strlen(key), 40);
            return fail(err, SK_EUNKNOWN_FIELD, key, "unknown field \"%.*s\"", (int)kl, key);
        }
    }
    char *base = out;
    for (size_t i = 0; i < n; i++) {
        const fspec *f = &fs[i];
        v = json_object_get(obj, f->name);
        if (v == NULL || json_is_null(v)) {
            if (f->required)
                return fail(err, SK_EINVALID_ARGUMENT, f->name, "%s is required", f->name);
            continue; /* optional: absent, default stays */
        }
        if (f->kind == FK_INT) {
            int64_t x;
            if (!get_int(v, lenient, &x) || x < f->min || x > f->max)
                return fail_field(err, f);
            if (f->size == sizeof(int)) {
                int xi = (int)x; /* bounds of int fields fit in int */
                memcpy(base + f->off, &xi, sizeof xi);
            } else {
                memcpy(base + f->off, &x, sizeof x);
            }
        } else {
            if (!json_is_string(v))
                return fail_field(err, f);
            const char *s = json_string_value(v);
            size_t sl = json_string_length(v);
            if (sl >= f->size || memchr(s, '\0', sl) != NULL)
                return fail_field(err, f);
            if (f->kind == FK_TOKEN ? !cs_match(f->cs, s, sl, f->minlen, f->maxlen)
                                    : sl > f->maxlen)
                return fail_field(err, f);
            memcpy(base + f->off, s, sl);
            base[f->off + sl] = '\0';
        }
        if (f->has_off != NOFLAG)
            *(bool *)(base + f->has_off) = true;
    }
    return SK_OK;
}

static bool all_space(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/*
 * Load and validate. An integer too big for int64 makes jansson fail the
 * whole parse; the body is still valid JSON, so it is loaded again with
 * integers as reals ("lenient") only to find and name the offending field:
 * such a body is always rejected, as INVALID_ARGUMENT with its field.
 */
static sk_status parse_body(const char *body, size_t len, bool empty_ok, const fspec *fs, size_t n,
                            void *out, ord_err *err)
{
    if (err != NULL) {
        err->field[0] = '\0';
        err->message[0] = '\0';
    }
    if (body == NULL) {
        if (len != 0)
            return fail(err, SK_EINVALID_JSON, "", "request body missing");
        body = "";
    }
    if (empty_ok && all_space(body, len))
        return SK_OK;

    json_error_t je;
    bool lenient = false;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL && json_error_code(&je) == json_error_numeric_overflow) {
        json_error_t je2;
        root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &je2);
        if (root == NULL && json_error_code(&je2) == json_error_numeric_overflow)
            return fail(err, SK_EINVALID_ARGUMENT, "", "a number in the body is out of range");
        if (root == NULL)
            je = je2;
        lenient = true;
    }
    if (root == NULL) {
        enum json_error_code code = json_error_code(&je);
        if (code == json_error_out_of_memory)
            return fail(err, SK_ENOMEM, "", "out of memory");
        if (len == 0)
            return fail(err, SK_EINVALID_JSON, "", "request body is empty; a JSON object is required");
        return fail(err, SK_EINVALID_JSON, "", "invalid JSON: %s at line %d, column %d",
                    json_error_text(code), je.line, je.column);
    }
    sk_status st;
    if (!json_is_object(root))
        st = fail(err, SK_EINVALID_JSON, "", "request body must be a JSON object");
    else
        st = validate(root, fs, n, lenient, out, err);
    if (st == SK_OK && lenient) /* cannot happen: some field held the huge number */
        st = fail(err, SK_EINVALID_ARGUMENT, "", "a number in the body is out of range");
    json_decref(root);
    return st;
}

sk_status ord_parse_create(const char *body, size_t len, int default_expire_s, create_req *out,
                           ord_err *err)
{
    memset(out, 0, sizeof *out);
    memcpy(out->currency, "CNY", 4);
    out->expire_seconds = default_expire_s;
    return parse_body(body, len, false, create_fields, NFIELDS(create_fields), out, err);
}

sk_status ord_parse_pay(const char *body, size_t len, pay_req *out, ord_err *err)
{
    memset(out, 0, sizeof *out);
    return parse_body(body, len, false, pay_fields, NFIELDS(pay_fields), out, err);
}

sk_status ord_parse_close(const char *body, size_t len, close_req *out, ord_err *err)
{
    memset(out, 0, sizeof *out);
    return parse_body(body, len, true, close_fields, NFIELDS(close_fields), out, err);
}

sk_status ord_parse_refund(const char *body, size_t len, refund_req *out, ord_err *err)
{
    memset(out, 0, sizeof *out);
    return parse_body(body, len, false, refund_fields, NFIELDS(refund_fields), out, err);
}

/* ------------------------------------------------------------ build, compare */

void ord_build(const create_req *r, const char *order_no, int group, int64_t now_ms, order_t *out)
{
    memset(out, 0, sizeof *out);
    sk_strlcpy(out->order_no, order_no, sizeof out->order_no);
    out->group = group;
    sk_strlcpy(out->merchant_id, r->merchant_id, sizeof out->merchant_id);
    sk_strlcpy(out->out_trade_no, r->out_trade_no, sizeof out->out_trade_no);
    if (r->has_store_id) {
        sk_strlcpy(out->store_id, r->store_id, sizeof out->store_id);
        out->has_store_id = true;
    }
    if (r->has_terminal_id) {
        sk_strlcpy(out->terminal_id, r->terminal_id, sizeof out->terminal_id);
        out->has_terminal_id = true;
    }
    out->amount = r->amount;
    sk_strlcpy(out->currency, r->currency, sizeof out->currency);
    sk_strlcpy(out->channel, r->channel, sizeof out->channel);
    if (r->has_subject) {
        sk_strlcpy(out->subject, r->subject, sizeof out->subject);
        out->has_subject = true;
    }
    if (r->has_attach) {
        sk_strlcpy(out->attach, r->attach, sizeof out->attach);
        out->has_attach = true;
    }
    out->status = OS_CREATED;
    out->refunded_amount = 0;
    out->has_channel_txn_id = false;
    out->version = 1;
    out->created_at_ms = now_ms;
    out->updated_at_ms = now_ms;
    out->expire_at_ms = now_ms + (int64_t)r->expire_seconds * 1000;
    out->paid_at_ms = 0;
    out->closed_at_ms = 0;
}

static bool same_opt(bool has_a, const char *a, bool has_b, const char *b)
{
    return has_a == has_b && (!has_a || strcmp(a, b) == 0);
}

/*
 * expire_seconds is deliberately not compared: a replay answers with the
 * original order, which keeps its own expiry; a retry that computes a
 * different default (config reload) is still the same payment request.
 */
bool ord_same_request(const order_t *e, const create_req *r)
{
    return strcmp(e->merchant_id, r->merchant_id) == 0 &&
           strcmp(e->out_trade_no, r->out_trade_no) == 0 &&
           e->amount == r->amount &&
           strcmp(e->currency, r->currency) == 0 &&
           strcmp(e->channel, r->channel) == 0 &&
           same_opt(e->has_store_id, e->store_id, r->has_store_id, r->store_id) &&
           same_opt(e->has_terminal_id, e->terminal_id, r->has_terminal_id, r->terminal_id) &&
           same_opt(e->has_subject, e->subject, r->has_subject, r->subject) &&
           same_opt(e->has_attach, e->attach, r->has_attach, r->attach);
}

/* ------------------------------------------------------------ times */

void ord_fmt_time(int64_t epoch_ms, char out[25]) { sk_fmt_time(epoch_ms, 'T', true, out); }

static bool digits_at(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return true;
}

/* "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (T and Z also lower case, as RFC 3339
 * allows); fractions beyond milliseconds are truncated. UTC only. */
int ord_parse_time(const char *s, int64_t *out_ms)
{
    int y, mo, d, h, mi, sec;
    if (s == NULL || strlen(s) < 20)
        return -1;
    if (!digits_at(s, 4, &y) || s[4] != '-' || !digits_at(s + 5, 2, &mo) || s[7] != '-' ||
        !digits_at(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits_at(s + 11, 2, &h) ||
        s[13] != ':' || !digits_at(s + 14, 2, &mi) || s[16] != ':' || !digits_at(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    int ms = 0;
    if (*p == '.') {
        p++;
        int nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3)
                ms = ms * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd < 1 || nd > 9)
            return -1;
        for (; nd < 3; nd++)
            ms *= 10;
    }
    if ((*p != 'Z' && *p != 'z') || p[1] != '\0')
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > sk_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return -1;
    sk_civil c = {.year = y, .month = mo, .day = d, .hour = h, .min = mi, .sec = sec, .ms = ms};
    if (out_ms != NULL)
        *out_ms = sk_civil_to_ms(&c);
    return 0;
}

/* ------------------------------------------------------------ render */

/* Adds v under k; remembers a failure (v NULL: out of memory or invalid
 * UTF-8) in *ok. json_object_set_new takes v's reference either way. */
static void put(json_t *obj, const char *k, json_t *v, bool *ok)
{
    if (v == NULL || json_object_set_new(obj, k, v) != 0)
        *ok = false;
}

static json_t *opt_str(bool has, const char *s) { return has ? json_string(s) : json_null(); }

static json_t *time_str(int64_t ms)
{
    char buf[25];
    ord_fmt_time(ms, buf);
    return json_string(buf);
}

static json_t *opt_time(int64_t ms) { return ms != 0 ? time_str(ms) : json_null(); }

/* Both renderers return NULL, leaking nothing, when a value cannot be
 * rendered: out of memory, or a string that is not valid UTF-8 (possible only
 * for a record that did not come through this module's validation). */
json_t *ord_to_json(const order_t *o)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    bool ok = true;
    put(j, "order_no", json_string(o->order_no), &ok);
    put(j, "group", json_integer(o->group), &ok);
    put(j, "merchant_id", json_string(o->merchant_id), &ok);
    put(j, "out_trade_no", json_string(o->out_trade_no), &ok);
    put(j, "store_id", opt_str(o->has_store_id, o->store_id), &ok);
    put(j, "terminal_id", opt_str(o->has_terminal_id, o->terminal_id), &ok);
    put(j, "amount", json_integer(o->amount), &ok);
    put(j, "currency", json_string(o->currency), &ok);
    put(j, "channel", json_string(o->channel), &ok);
    put(j, "subject", opt_str(o->has_subject, o->subject), &ok);
    put(j, "attach", opt_str(o->has_attach, o->attach), &ok);
    put(j, "status", json_string(os_status_name(o->status)), &ok);
    put(j, "refunded_amount", json_integer(o->refunded_amount), &ok);
    put(j, "channel_txn_id", opt_str(o->has_channel_txn_id, o->channel_txn_id), &ok);
    put(j, "version", json_integer(o->version), &ok);
    put(j, "created_at", time_str(o->created_at_ms), &ok);
    put(j, "updated_at", time_str(o->updated_at_ms), &ok);
    put(j, "expire_at", time_str(o->expire_at_ms), &ok);
    put(j, "paid_at", opt_time(o->paid_at_ms), &ok);
    put(j, "closed_at", opt_time(o->closed_at_ms), &ok);
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

json_t *refund_to_json(const refund_t *r)
{
    json_t *j = json_object();
    if (j == NULL)
        return NULL;
    bool ok = true;
    put(j, "refund_no", json_string(r->refund_no), &ok);
    put(j, "order_no", json_string(r->order_no), &ok);
    put(j, "out_refund_no", json_string(r->out_refund_no), &ok);
    put(j, "amount", json_integer(r->amount), &ok);
    put(j, "reason", opt_str(r->has_reason, r->reason), &ok);
    put(j, "status", json_string(r->status), &ok);
    put(j, "created_at", time_str(r->created_at_ms), &ok);
    if (!ok) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------ parse back */

/* String member k into dst (cap bytes). nullable: JSON null -> *has = false.
 * cs != NULL: must match cs{minlen,cap-1}; else any string < cap bytes. */
static bool fj_str(const json_t *j, const char *k, bool nullable, const charset *cs, size_t minlen,
                   char *dst, size_t cap, bool *has)
{
    const json_t *v = json_object_get(j, k);
    if (v == NULL)
        return false;
    if (json_is_null(v) && nullable) {
        dst[0] = '\0';
        if (has != NULL)
            *has = false;
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n >= cap || memchr(s, '\0', n) != NULL)
        return false;
    if (cs != NULL && !cs_match(cs, s, n, minlen, cap - 1))
        return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    if (has != NULL)
        *has = true;
    return true;
}

static bool fj_int(const json_t *j, const char *k, int64_t min, int64_t max, int64_t *out)
{
    const json_t *v = json_object_get(j, k);
    if (v == NULL || !json_is_integer(v))
        return false;
    int64_t x = (int64_t)json_integer_value(v);
    if (x < min || x > max)
        return false;
    *out = x;
    return true;
}

/* nullable: null -> 0 (the "unset" value of order_t times). */
static bool fj_time(const json_t *j, const char *k, bool nullable, int64_t *out)
{
    const json_t *v = json_object_get(j, k);
    if (v == NULL)
        return false;
    if (nullable && json_is_null(v)) {
        *out = 0;
        return true;
    }
    return json_is_string(v) && ord_parse_time(json_string_value(v), out) == 0;
}

/*
 * Strict on every field ord_to_json writes: each must be present with its
 * type, pattern and bounds (null only where the object allows null), and
 * order_no must be a valid order number. Keys it does not know are ignored,
 * so a reader accepts objects from a newer writer and read responses that
 * carry extra keys (read_from).
 */
sk_status ord_from_json(const json_t *j, order_t *o)
{
    memset(o, 0, sizeof *o);
    if (!json_is_object(j))
        return SK_EINVALID_ARGUMENT;
    int64_t group = 0;
    char status[16];
    bool ok =
        fj_str(j, "order_no", false, NULL, 0, o->order_no, sizeof o->order_no, NULL) &&
        ono_parse(o->order_no, strlen(o->order_no), NULL, NULL) == SK_OK &&
        fj_int(j, "group", 1, 99, &group) &&
        fj_str(j, "merchant_id", false, &CS_ID, 1, o->merchant_id, sizeof o->merchant_id, NULL) &&
        fj_str(j, "out_trade_no", false, &CS_NO, 1, o->out_trade_no, sizeof o->out_trade_no, NULL) &&
        fj_str(j, "store_id", true, &CS_ID, 1, o->store_id, sizeof o->store_id, &o->has_store_id) &&
        fj_str(j, "terminal_id", true, &CS_ID, 1, o->terminal_id, sizeof o->terminal_id,
               &o->has_terminal_id) &&
        fj_int(j, "amount", 1, ORD_AMOUNT_MAX, &o->amount) &&
        fj_str(j, "currency", false, &CS_CURRENCY, 3, o->currency, sizeof o->currency, NULL) &&
        fj_str(j, "channel", false, &CS_CHANNEL, 1, o->channel, sizeof o->channel, NULL) &&
        fj_str(j, "subject", true, NULL, 0, o->subject, sizeof o->subject, &o->has_subject) &&
        fj_str(j, "attach", true, NULL, 0, o->attach, sizeof o->attach, &o->has_attach) &&
        fj_str(j, "status", false, NULL, 0, status, sizeof status, NULL) &&
        os_status_parse(status, &o->status) == 0 &&
        fj_int(j, "refunded_amount", 0, o->amount, &o->refunded_amount) &&
        fj_str(j, "channel_txn_id", true, &CS_NO, 1, o->channel_txn_id, sizeof o->channel_txn_id,
               &o->has_channel_txn_id) &&
        fj_int(j, "version", 1, INT64_MAX, &o->version) &&
        fj_time(j, "created_at", false, &o->created_at_ms) &&
        fj_time(j, "updated_at", false, &o->updated_at_ms) &&
        fj_time(j, "expire_at", false, &o->expire_at_ms) &&
        fj_time(j, "paid_at", true, &o->paid_at_ms) &&
        fj_time(j, "closed_at", true, &o->closed_at_ms);
    if (!ok) {
        memset(o, 0, sizeof *o);
        return SK_EINVALID_ARGUMENT;
    }
    o->group = (int)group;
    return SK_OK;
}
