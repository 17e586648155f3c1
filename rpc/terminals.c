/*
 * rpc/terminals.c — the terminal API, the audit-log route, and the terminal
 * checks of creates and refunds (spec §11); see rpc/terminals.h.
 *
 * A change to a terminal, top to bottom (change()):
 *   parse the body (strict: unknown fields, wrong types are 400) -> scope
 *   -> one transaction on the merchant store: the store's clock, the row
 *   locked -> decide with ts_decide() -> write (a new activation code is
 *   generated here, only its salted hash stored) -> commit -> into this
 *   daemon's registry copy and PUBLISH (terminal/tsync.h) -> audit -> answer.
 * Another merchant's terminal is answered as if it did not exist (404),
 * except that a terminal_id cannot be registered twice (409).
 */
#include "rpc/terminals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "audit/audit.h"
#include "dal/terminals.h"
#include "metrics/metrics.h"
#include "rpc/errors.h"
#include "rpc/reply.h"
#include "terminal/tcode.h"
#include "terminal/tsync.h"

#define LIST_MAX 1000
#define LIST_DEFAULT 100

static const char *role_of(const auth_key *k) { return k ? auth_role_name(k->role) : NULL; }
static const char *key_of(const auth_key *k) { return k ? k->id : "-"; }

static bool id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > TERM_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void unavailable(http_resp *rs, sk_status st)
{
    if (st == SK_EOVERLOADED)
        reply_error(rs, SK_EOVERLOADED, NULL, "the terminal registry (merchant store) is at capacity; retry", NULL);
    else
        reply_error(rs, SK_EGROUP_UNAVAILABLE, NULL,
                    "the terminal registry (merchant store) is unavailable; retry (payments from ACTIVE terminals "
                    "go on)", NULL);
}

/* ---------------------------------------------------------------- bodies */

typedef enum { BF_ID, BF_TEXT, BF_CODE } bf_kind;

typedef struct {
    const char *name;
    bf_kind kind;
    bool required;
    char *dst;
    size_t cap;          /* dst holds cap - 1 bytes */
    bool *has;
} bfield;

/* Strict JSON object with the given string fields; an empty body is {}.
 * SK_OK or the 400 to answer (field — "" for none — and msg set). */
static sk_status parse_body(const http_req *rq, bfield *f, int nf, char field[48], char *msg, size_t cap)
{
    field[0] = '\0';
    json_t *j = NULL;
    if (rq->len > 0) {
        json_error_t je;
        j = json_loadb(rq->body, rq->len, JSON_REJECT_DUPLICATES, &je);
        if (j == NULL || !json_is_object(j)) {
            snprintf(msg, cap, "the body must be a JSON object");
            json_decref(j);
            return SK_EINVALID_JSON;
        }
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        int i;
        for (i = 0; i < nf && strcmp(f[i].name, key) != 0; i++)
            ;
        if (i == nf) {
            snprintf(msg, cap, "unknown field");
            size_t kl = strlen(key);
            snprintf(field, 48, "%.*s", (int)(kl > 40 ? 40 : kl), key);
            while (kl > 40 && field[0] && ((unsigned char)field[strlen(field) - 1] & 0x80))
                field[strlen(field) - 1] = '\0';   /* never cut a UTF-8 character in two */
            json_decref(j);
            return SK_EUNKNOWN_FIELD;
        }
        const char *s = json_string_value(v);
        size_t n = json_is_string(v) ? json_string_length(v) : 0;
        bool ok = s != NULL && memchr(s, '\0', n) == NULL;
        if (ok && f[i].kind == BF_ID)
            ok = id_ok(s);
        else if (ok && f[i].kind == BF_CODE)
            ok = tcode_input_ok(s, n);
        else if (ok)
            ok = n >= 1 && n < f[i].cap;
        if (!ok) {
            sk_strlcpy(field, f[i].name, 48);
            snprintf(msg, cap, "%s must be %s", f[i].name,
                     f[i].kind == BF_ID     ? "a string of [A-Za-z0-9_-]{1,32}"
                     : f[i].kind == BF_CODE ? "the activation code (letters and digits)"
                                            : "a non-empty string of at most 256 bytes");
            json_decref(j);
            return SK_EINVALID_ARGUMENT;
        }
        sk_strlcpy(f[i].dst, s, f[i].cap);
        if (f[i].has)
            *f[i].has = true;
    }
    json_decref(j);
    for (int i = 0; i < nf; i++)
        if (f[i].required && (f[i].has == NULL || !*f[i].has)) {
            sk_strlcpy(field, f[i].name, 48);
            snprintf(msg, cap, "%s is required", f[i].name);
            return SK_EINVALID_ARGUMENT;
        }
    return SK_OK;
}

/* ---------------------------------------------------------------- rendering */

static json_t *time_or_null(int64_t ms)
{
    if (ms == 0)
        return json_null();
    char b[25];
    ord_fmt_time(ms, b);
    return json_string(b);
}

static json_t *term_json(const dal_terminal *t)
{
    json_t *j = json_object();
    json_object_set_new(j, "terminal_id", json_string(t->v.terminal_id));
    json_object_set_new(j, "merchant_id", json_string(t->v.merchant_id));
    json_object_set_new(j, "store_id", t->v.has_store ? json_string(t->v.store_id) : json_null());
    json_object_set_new(j, "status", json_string(ts_status_name(t->v.status)));
    json_object_set_new(j, "failed_activations", json_integer(t->failures));
    json_object_set_new(j, "code_expires_at", time_or_null(t->has_code ? t->code_expires_ms : 0));
    json_object_set_new(j, "activated_at", time_or_null(t->activated_ms));
    json_object_set_new(j, "blocked_at", time_or_null(t->blocked_ms));
    json_object_set_new(j, "block_reason", t->has_reason ? json_string(t->block_reason) : json_null());
    json_object_set_new(j, "created_at", time_or_null(t->created_ms));
    json_object_set_new(j, "updated_at", time_or_null(t->v.updated_ms));
    return j;
}

/* ---------------------------------------------------------------- changes */

static ts_event event_of(met_route r)
{
    switch (r) {
    case RT_TERMINAL_REGISTER: return TE_REGISTER;
    case RT_TERMINAL_ACTIVATE: return TE_ACTIVATE_OK;   /* or WRONG: decided on the row */
    case RT_TERMINAL_BLOCK: return TE_BLOCK;
    case RT_TERMINAL_UNBLOCK: return TE_UNBLOCK;
    case RT_TERMINAL_CODE: return TE_NEW_CODE;
    default: return TE_RETIRE;
    }
}

static const char *action_of(met_route r)
{
    switch (r) {
    case RT_TERMINAL_REGISTER: return "terminal_register";
    case RT_TERMINAL_ACTIVATE: return "terminal_activate";
    case RT_TERMINAL_BLOCK: return "terminal_block";
    case RT_TERMINAL_UNBLOCK: return "terminal_unblock";
    case RT_TERMINAL_CODE: return "terminal_code";
    default: return "terminal_retire";
    }
}

static const char *reject_message(sk_status st, ts_event ev, ts_status s)
{
    switch (st) {
    case SK_ENOT_FOUND: return "no such terminal";
    case SK_EACTIVATION_FAILED:
        return s == TS_LOCKED ? "the terminal is locked after too many wrong codes; ask the back office for a new code"
                              : "wrong, expired or already used activation code";
    case SK_ETERMINAL_BLOCKED: return "the terminal is blocked";
    case SK_ETERMINAL_NOT_ACTIVE: return "the terminal is retired";
    case SK_EILLEGAL_TRANSITION:
        switch (ev) {
        case TE_REGISTER: return "terminal_id is already registered (a new code: POST /v1/terminals/{id}/code)";
        case TE_BLOCK: return "only an ACTIVE terminal can be blocked (retire one that was never activated)";
        case TE_UNBLOCK: return "only a BLOCKED terminal can be unblocked";
        case TE_NEW_CODE: return "a new code is only issued to a REGISTERED or LOCKED terminal";
        default: return "not allowed in the terminal's status";
        }
    default: return NULL;
    }
}

typedef struct {
    char terminal_id[TERM_ID_MAX + 1], merchant_id[TERM_ID_MAX + 1], store_id[TERM_ID_MAX + 1];
    char code[TCODE_INPUT_MAX + 1], reason[DAL_REASON_MAX + 1];
    bool has_tid, has_mid, has_store, has_code, has_reason;
} tbody;

static void audit_change(app *a, const auth_key *k, met_route route, const char *id, const char *merchant,
                         const char *result, ts_status before, ts_status after, const dal_terminal *n)
{
    json_t *d = json_pack("{s:s,s:s}", "status_before", ts_status_name(before), "status_after", ts_status_name(after));
    if (n && route == RT_TERMINAL_BLOCK && n->has_reason)
        json_object_set_new(d, "reason", json_string(n->block_reason));
    if (n && route == RT_TERMINAL_ACTIVATE)
        json_object_set_new(d, "failed_activations", json_integer(n->failures));
    if (n && route == RT_TERMINAL_REGISTER && n->v.has_store)
        json_object_set_new(d, "store_id", json_string(n->v.store_id));
    audit_event ev = {.key_id = key_of(k), .role = role_of(k), .action = action_of(route), .target = id,
                      .merchant_id = merchant && *merchant ? merchant : NULL, .result = result, .detail = d};
    audit_record(a->audit, &ev);
    json_decref(d);
}

static void change(app *a, const rt *r, const auth_key *k, met_route route, const char *path_id,
                   const http_req *rq, http_resp *rs)
{
    const conf *c = r->c;
    tbody b;
    memset(&b, 0, sizeof b);
    bfield f[3];
    int nf = 0;
    switch (route) {
    case RT_TERMINAL_REGISTER:
        f[nf++] = (bfield){"terminal_id", BF_ID, true, b.terminal_id, sizeof b.terminal_id, &b.has_tid};
        f[nf++] = (bfield){"merchant_id", BF_ID, true, b.merchant_id, sizeof b.merchant_id, &b.has_mid};
        f[nf++] = (bfield){"store_id", BF_ID, false, b.store_id, sizeof b.store_id, &b.has_store};
        break;
    case RT_TERMINAL_ACTIVATE:
        f[nf++] = (bfield){"activation_code", BF_CODE, true, b.code, sizeof b.code, &b.has_code};
        break;
    case RT_TERMINAL_BLOCK:
        f[nf++] = (bfield){"reason", BF_TEXT, true, b.reason, sizeof b.reason, &b.has_reason};
        break;
    default:
        break;
    }
    char field[48], msg[160];
    sk_status st = parse_body(rq, f, nf, field, msg, sizeof msg);
    if (st != SK_OK) {
        reply_error(rs, st, field, msg, NULL);
        return;
    }
    const char *id = route == RT_TERMINAL_REGISTER ? b.terminal_id : path_id;
    if (!id_ok(id)) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "terminal_id", "terminal_id must match [A-Za-z0-9_-]{1,32}", NULL);
        return;
    }
    if (route == RT_TERMINAL_REGISTER && k && !auth_merchant_allowed(k, b.merchant_id)) {
        reply_error(rs, SK_EFORBIDDEN, "merchant_id", "this key may not register terminals for that merchant", NULL);
        return;
    }
    if (r->merchant == NULL) {
        unavailable(rs, SK_EUNAVAILABLE);
        return;
    }
    dal_conn *dc;
    st = dal_acquire(r->merchant, sk_mono_ms() + c->db_read_timeout_ms, &dc);
    if (st != SK_OK) {
        unavailable(rs, st);
        return;
    }
    MYSQL *my = dal_mysql(dc);
    int64_t now = 0;
    dal_terminal cur, n;
    st = dal_term_begin(my, &now);
    if (st == SK_OK)
        st = dal_term_get(my, id, true, &cur);
    if (st != SK_OK && st != SK_ENOT_FOUND) {
        dal_release(r->merchant, dc, true);
        unavailable(rs, st);
        return;
    }
    bool found = st == SK_OK;
    /* another merchant's terminal does not exist for this caller, but its
     * id cannot be registered again */
    bool hidden = found && k && !auth_merchant_allowed(k, cur.v.merchant_id);
    ts_event ev = event_of(route);
    ts_input in = {.status = found && (!hidden || ev == TE_REGISTER) ? cur.v.status : TS_NONE,
                   .failures = found ? cur.failures : 0};
    if (ev == TE_ACTIVATE_OK && in.status != TS_NONE) {
        bool right = cur.has_code && now <= cur.code_expires_ms && tcode_matches(cur.code_salt, cur.code_hash, b.code);
        ev = right ? TE_ACTIVATE_OK : TE_ACTIVATE_WRONG;
    }
    ts_result d = ts_decide(ev, &in);
    if (d.outcome == TT_REJECT || d.outcome == TT_NOOP) {
        dal_term_rollback(my);
        dal_release(r->merchant, dc, false);
        if (d.outcome == TT_NOOP) {
            reply_json_body(rs, 200, term_json(&cur));
            return;
        }
        if (route == RT_TERMINAL_ACTIVATE && d.error != SK_ENOT_FOUND)
            audit_change(a, k, route, id, cur.v.merchant_id, sk_error_code(d.error), in.status, in.status, &cur);
        reply_error(rs, d.error, route == RT_TERMINAL_ACTIVATE && d.error == SK_EACTIVATION_FAILED ? "activation_code"
                                 : route == RT_TERMINAL_REGISTER                                   ? "terminal_id"
                                                                                                   : NULL,
                    reject_message(d.error, ev, in.status), NULL);
        return;
    }
    /* apply */
    if (found) {
        n = cur;
    } else {
        memset(&n, 0, sizeof n);
        sk_strlcpy(n.v.terminal_id, id, sizeof n.v.terminal_id);
        sk_strlcpy(n.v.merchant_id, b.merchant_id, sizeof n.v.merchant_id);
        if (b.has_store) {
            sk_strlcpy(n.v.store_id, b.store_id, sizeof n.v.store_id);
            n.v.has_store = true;
        }
        n.created_ms = now;
    }
    n.v.status = d.new_status;
    n.failures = d.new_failures;
    char code[TCODE_LEN + 1] = "";
    if (d.issue_code) {
        if (tcode_new(code, n.code_salt) != 0 || tcode_hash(n.code_salt, code, n.code_hash) != 0) {
            dal_term_rollback(my);
            dal_release(r->merchant, dc, false);
            reply_error(rs, SK_EINTERNAL, NULL, "could not generate an activation code", NULL);
            return;
        }
        n.has_code = true;
        n.code_expires_ms = now + (int64_t)c->terminals_code_ttl_s * 1000;
    }
    if (d.clear_code) {
        n.has_code = false;
        n.code_salt[0] = n.code_hash[0] = '\0';
        n.code_expires_ms = 0;
    }
    if (ev == TE_ACTIVATE_OK)
        n.activated_ms = now;
    if (ev == TE_BLOCK) {
        n.blocked_ms = now;
        sk_strlcpy(n.block_reason, b.reason, sizeof n.block_reason);
        n.has_reason = true;
    }
    if (ev == TE_UNBLOCK) {
        n.blocked_ms = 0;
        n.has_reason = false;
        n.block_reason[0] = '\0';
    }
    /* the store's clock, and never backwards for one row (newer-wins copies) */
    n.v.updated_ms = found && now <= cur.v.updated_ms ? cur.v.updated_ms + 1 : now;
    st = found ? dal_term_update(my, &n) : dal_term_insert(my, &n);
    if (st == SK_OK)
        st = dal_term_commit(my);
    else
        dal_term_rollback(my);
    dal_release(r->merchant, dc, st != SK_OK && st != SK_EDUPKEY);
    if (st == SK_EDUPKEY) {   /* registered by someone else a moment ago */
        reply_error(rs, SK_EILLEGAL_TRANSITION, "terminal_id", reject_message(SK_EILLEGAL_TRANSITION, TE_REGISTER, 0),
                    NULL);
        return;
    }
    if (st != SK_OK) {
        unavailable(rs, st);
        return;
    }
    if (a->term)
        term_changed(a->term, r, &n.v);
    audit_change(a, k, route, id, n.v.merchant_id, d.outcome == TT_APPLY ? "ok" : sk_error_code(d.error),
                 in.status, n.v.status, &n);
    if (d.outcome == TT_APPLY_FAIL) {
        int left = TS_MAX_WRONG - n.failures;
        reply_error(rs, d.error, "activation_code", n.v.status == TS_LOCKED
                        ? "wrong activation code; the terminal is now locked: ask the back office for a new code"
                        : "wrong, expired or already used activation code",
                    json_pack("{s:i,s:s}", "attempts_left", left > 0 ? left : 0, "status",
                              ts_status_name(n.v.status)));
        return;
    }
    json_t *j = term_json(&n);
    if (d.issue_code)
        json_object_set_new(j, "activation_code", json_string(code));   /* shown once, stored only hashed */
    reply_json_body(rs, route == RT_TERMINAL_REGISTER ? 201 : 200, j);
}

/* ---------------------------------------------------------------- reads */

static void get_one(app *a, const rt *r, const auth_key *k, const char *id, http_resp *rs)
{
    if (!id_ok(id)) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "terminal_id", "terminal_id must match [A-Za-z0-9_-]{1,32}", NULL);
        return;
    }
    if (r->merchant == NULL) {
        unavailable(rs, SK_EUNAVAILABLE);
        return;
    }
    dal_conn *dc;
    sk_status st = dal_acquire(r->merchant, sk_mono_ms() + r->c->db_read_timeout_ms, &dc);
    if (st != SK_OK) {
        unavailable(rs, st);
        return;
    }
    dal_terminal t;
    st = dal_term_get(dal_mysql(dc), id, false, &t);
    dal_release(r->merchant, dc, st != SK_OK && st != SK_ENOT_FOUND);
    if (st == SK_ENOT_FOUND || (st == SK_OK && k && !auth_merchant_allowed(k, t.v.merchant_id))) {
        reply_error(rs, SK_ENOT_FOUND, "terminal_id", "no such terminal", NULL);
        return;
    }
    if (st != SK_OK) {
        unavailable(rs, st);
        return;
    }
    /* what this daemon enforces right now: its registry copy (null when it
     * does not hold the terminal yet) — operators check a block with it */
    json_t *j = term_json(&t);
    term_view v;
    bool held = a->term && treg_get(term_registry(a->term), id, &v);
    json_object_set_new(j, "in_force", held ? json_string(ts_status_name(v.status)) : json_null());
    reply_json_body(rs, 200, j);
}

/* limit query parameter: 1..LIST_MAX, default LIST_DEFAULT; -1 when bad. */
static int parse_limit(const char *s)
{
    if (s == NULL)
        return LIST_DEFAULT;
    int v = 0;
    if (*s == '\0' || strlen(s) > 4)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v >= 1 && v <= LIST_MAX ? v : -1;
}

static void list_merchant(const rt *r, const auth_key *k, const char *mid, const route_target *t, http_resp *rs)
{
    if (!id_ok(mid)) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "merchant_id", "merchant_id must match [A-Za-z0-9_-]{1,32}", NULL);
        return;
    }
    if (k && !auth_merchant_allowed(k, mid)) {
        reply_error(rs, SK_EFORBIDDEN, NULL, "this key may not list that merchant's terminals", NULL);
        return;
    }
    for (int i = 0; i < t->nq; i++)
        if (strcmp(t->qk[i], "status") != 0 && strcmp(t->qk[i], "limit") != 0 && strcmp(t->qk[i], "cursor") != 0) {
            reply_error(rs, SK_EUNKNOWN_FIELD, t->qk[i][0] ? "query" : NULL, "unknown query parameter", NULL);
            return;
        }
    const char *status = route_query(t, "status"), *cursor = route_query(t, "cursor");
    int limit = parse_limit(route_query(t, "limit"));
    if (status && ts_status_parse(status, NULL) != 0) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "status", "status must be REGISTERED, ACTIVE, BLOCKED, LOCKED or RETIRED",
                    NULL);
        return;
    }
    if (limit < 0) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "limit", "limit must be 1..1000", NULL);
        return;
    }
    if (cursor && !id_ok(cursor)) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "cursor", "bad cursor", NULL);
        return;
    }
    if (r->merchant == NULL) {
        unavailable(rs, SK_EUNAVAILABLE);
        return;
    }
    dal_terminal *rows = calloc((size_t)limit + 1, sizeof *rows);
    if (rows == NULL) {
        reply_error(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
        return;
    }
    dal_conn *dc;
    sk_status st = dal_acquire(r->merchant, sk_mono_ms() + r->c->db_read_timeout_ms, &dc);
    int n = 0;
    if (st == SK_OK) {
        st = dal_term_list(dal_mysql(dc), mid, status, cursor, limit + 1, rows, &n);
        dal_release(r->merchant, dc, st != SK_OK);
    }
    if (st != SK_OK) {
        free(rows);
        unavailable(rs, st);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n && i < limit; i++)
        json_array_append_new(arr, term_json(&rows[i]));
    json_t *j = json_object();
    json_object_set_new(j, "terminals", arr);
    json_object_set_new(j, "next_cursor", n > limit ? json_string(rows[limit - 1].v.terminal_id) : json_null());
    free(rows);
    reply_json_body(rs, 200, j);
}

/* GET /v1/audit-events?since=RFC3339&limit=N&cursor=C (admin): oldest first. */
static void audit_events(const rt *r, const route_target *t, http_resp *rs)
{
    for (int i = 0; i < t->nq; i++)
        if (strcmp(t->qk[i], "since") != 0 && strcmp(t->qk[i], "limit") != 0 && strcmp(t->qk[i], "cursor") != 0) {
            reply_error(rs, SK_EUNKNOWN_FIELD, "query", "unknown query parameter", NULL);
            return;
        }
    int limit = parse_limit(route_query(t, "limit"));
    if (limit < 0) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "limit", "limit must be 1..1000", NULL);
        return;
    }
    int64_t after_ms = 0;
    char after_id[64] = "";
    const char *since = route_query(t, "since"), *cursor = route_query(t, "cursor");
    if (since && ord_parse_time(since, &after_ms) != 0) {
        reply_error(rs, SK_EINVALID_ARGUMENT, "since", "since must be RFC 3339 UTC like 2026-03-01T00:00:00Z", NULL);
        return;
    }
    if (cursor) {
        /* "<at ms>.<event_id>" */
        char *end;
        long long ms = strtoll(cursor, &end, 10);
        if (end == cursor || *end != '.' || ms < 0 || strlen(end + 1) >= sizeof after_id ||
            strspn(end + 1, "0123456789-") != strlen(end + 1)) {
            reply_error(rs, SK_EINVALID_ARGUMENT, "cursor", "bad cursor", NULL);
            return;
        }
        after_ms = ms;
        sk_strlcpy(after_id, end + 1, sizeof after_id);
    }
    if (r->merchant == NULL) {
        unavailable(rs, SK_EUNAVAILABLE);
        return;
    }
    dal_audit_row *rows = calloc((size_t)limit + 1, sizeof *rows);
    if (rows == NULL) {
        reply_error(rs, SK_EINTERNAL, NULL, "out of memory", NULL);
        return;
    }
    dal_conn *dc;
    int n = 0;
    sk_status st = dal_acquire(r->merchant, sk_mono_ms() + r->c->db_read_timeout_ms, &dc);
    if (st == SK_OK) {
        st = dal_audit_list(dal_mysql(dc), after_ms, after_id, limit + 1, rows, &n);
        dal_release(r->merchant, dc, st != SK_OK);
    }
    if (st != SK_OK) {
        free(rows);
        unavailable(rs, st);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < n && i < limit; i++) {
        const dal_audit_row *e = &rows[i];
        json_t *detail = e->detail ? json_loads(e->detail, 0, NULL) : NULL;
        json_t *o = json_object();
        json_object_set_new(o, "event_id", json_string(e->event_id));
        json_object_set_new(o, "at", time_or_null(e->at_ms));
        json_object_set_new(o, "key_id", json_string(e->key_id));
        json_object_set_new(o, "role", e->role[0] ? json_string(e->role) : json_null());
        json_object_set_new(o, "action", json_string(e->action));
        json_object_set_new(o, "target", e->target[0] ? json_string(e->target) : json_null());
        json_object_set_new(o, "merchant_id", e->merchant_id[0] ? json_string(e->merchant_id) : json_null());
        json_object_set_new(o, "result", json_string(e->result));
        json_object_set_new(o, "detail", detail ? detail : json_null());
        json_object_set_new(o, "node_id", json_integer(e->node_id));
        json_array_append_new(arr, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "events", arr);
    if (n > limit) {
        char cur[96];
        snprintf(cur, sizeof cur, "%lld.%s", (long long)rows[limit - 1].at_ms, rows[limit - 1].event_id);
        json_object_set_new(j, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(j, "next_cursor", json_null());
    }
    for (int i = 0; i < n; i++)
        free(rows[i].detail);
    free(rows);
    reply_json_body(rs, 200, j);
}

void tapi_route(app *a, const rt *r, const auth_key *k, const route_match_t *m, const route_target *t,
                const http_req *rq, http_resp *rs)
{
    switch (m->route) {
    case RT_TERMINAL_GET: get_one(a, r, k, m->id, rs); break;
    case RT_MERCHANT_TERMINALS: list_merchant(r, k, m->id, t, rs); break;
    case RT_AUDIT_EVENTS: audit_events(r, t, rs); break;
    default: change(a, r, k, m->route, m->id, rq, rs); break;
    }
}

/* ---------------------------------------------------------------- creates */

bool tapi_create_allowed(app *a, const conf *c, const auth_key *k, const create_req *r, http_resp *rs)
{
    if (k == NULL || k->role != ROLE_CASHIER || !c->terminals_enforce)
        return true;
    if (!term_loaded(a->term)) {
        /* no copy to decide by yet (merchant store unreachable since this
         * daemon started): another daemon may have one */
        reply_error(rs, SK_EGROUP_UNAVAILABLE, "terminal_id",
                    "this daemon has not read the terminal registry yet; retry", NULL);
        return false;
    }
    term_view v;
    bool found = r->has_terminal_id && treg_get(term_registry(a->term), r->terminal_id, &v);
    tp_verdict d = tp_create(found ? &v : NULL, r->has_terminal_id ? r->terminal_id : NULL, r->merchant_id,
                             r->has_store_id ? r->store_id : NULL);
    if (d.status == SK_OK)
        return true;
    met_term_denied(d.status == SK_ETERMINAL_BLOCKED    ? TD_BLOCKED
                    : d.status == SK_ETERMINAL_MISMATCH ? TD_MISMATCH
                                                        : TD_NOT_ACTIVE);
    reply_error(rs, d.status, d.field, d.message, NULL);
    return false;
}

/* ---------------------------------------------------------------- refunds */

/* dal_change.refund_ok: runs inside the refund transaction, on the locked
 * order row; reads only the in-memory registry. */
static sk_status refund_ok(const void *ctx, const order_t *o, const char **field, const char **message)
{
    tapi_refund_ctx *pc = (tapi_refund_ctx *)ctx;
    const refund_req *q = pc->req;
    term_view v;
    bool found = q->has_terminal_id && pc->a->term && treg_get(term_registry(pc->a->term), q->terminal_id, &v);
    tp_refund_in in = {
        .who = pc->key->role == ROLE_CASHIER ? TP_CASHIER : TP_BACKOFFICE,
        .terminal_id = q->has_terminal_id ? q->terminal_id : NULL,
        .terminal = found ? &v : NULL,
        .order_merchant_id = o->merchant_id,
        .order_terminal_id = o->has_terminal_id ? o->terminal_id : NULL,
        .order_created_ms = o->created_at_ms,
        .now_ms = sk_now_ms(),
        .tz = pc->c->refunds_tz,
        .max_age_days = pc->c->refunds_max_age_days,
    };
    pc->verdict = tp_refund(&in);
    pc->decided = true;
    sk_strlcpy(pc->merchant_id, o->merchant_id, sizeof pc->merchant_id);
    *field = pc->verdict.field;
    *message = pc->verdict.message;
    return pc->verdict.status;
}

void tapi_refund_policy(app *a, const conf *c, const auth_key *k, const refund_req *fr, tapi_refund_ctx *pc,
                        upd_req *u)
{
    *pc = (tapi_refund_ctx){.a = a, .c = c, .key = k, .req = fr};
    if (k == NULL)
        return;   /* auth off: no caller, no role to hold to a rule */
    u->refund_ok = refund_ok;
    u->refund_ctx = pc;
}

void tapi_refund_audit(const tapi_refund_ctx *pc, const char *order_no, const flow_result *f)
{
    const refund_req *q = pc->req;
    bool made = f->status == SK_OK && f->has_refund && f->refund_created;
    bool denied = f->status == SK_EREFUND_NOT_ALLOWED && pc->decided;
    if (denied)
        met_refund_denied(pc->verdict.field && strcmp(pc->verdict.field, "created_at") == 0);
    if (!made && !denied)
        return;   /* a repeat by out_refund_no, or refused for another reason: no money moved, nothing decided */
    json_t *d = json_pack("{s:s,s:I}", "out_refund_no", q->out_refund_no, "amount", (json_int_t)q->amount);
    if (q->has_terminal_id)
        json_object_set_new(d, "terminal_id", json_string(q->terminal_id));
    if (made) {
        json_object_set_new(d, "refund_no", json_string(f->refund.refund_no));
        json_object_set_new(d, "refunded_amount", json_integer(f->order.refunded_amount));
        json_object_set_new(d, "order_status", json_string(os_status_name(f->order.status)));
    } else {
        json_object_set_new(d, "field", json_string(pc->verdict.field ? pc->verdict.field : ""));
    }
    audit_event ev = {.key_id = key_of(pc->key), .role = role_of(pc->key), .action = made ? "refund" : "refund_denied",
                      .target = order_no, .merchant_id = made ? f->order.merchant_id : pc->merchant_id,
                      .result = made ? "ok" : sk_error_code(f->status), .detail = d};
    audit_record(pc->a->audit, &ev);
    json_decref(d);
}

/* ---------------------------------------------------------------- operators */

void tapi_ops_audit(app *a, const auth_key *k, met_route route, const char *id, const http_resp *rs)
{
    const char *action = route == RT_FENCE ? "fence" : route == RT_UNFENCE ? "unfence" : route == RT_RELOAD ? "reload"
                                                                                                            : NULL;
    if (action == NULL)
        return;
    char result[32] = "ok";
    json_t *d = NULL;
    if (rs->status >= 300) {
        json_t *j = rs->body ? json_loadb(rs->body, rs->len, 0, NULL) : NULL;
        json_t *e = j ? json_object_get(j, "error") : NULL;
        const char *code = e ? json_string_value(json_object_get(e, "code")) : NULL;
        const char *msg = e ? json_string_value(json_object_get(e, "message")) : NULL;
        snprintf(result, sizeof result, "%s", code ? code : "error");
        if (msg)
            d = json_pack("{s:s}", "message", msg);
        json_decref(j);
    }
    audit_event ev = {.key_id = key_of(k), .role = role_of(k), .action = action, .target = id, .result = result,
                      .detail = d};
    audit_record(a->audit, &ev);
    json_decref(d);
}
