/*
 * rpc/ops.c — the operator routes: health, readiness, Prometheus metrics,
 * the group table (GET /v1/groups), fence/unfence, reload. Everything here
 * reads the in-memory views (selector/grt.h); fence writes one Redis key.
 */
#include "rpc/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rpc/reply.h"

#define SLOW_PROBE_FACTOR 2

static int slow_ms(const conf *c) { return c->probe_timeout_ms / SLOW_PROBE_FACTOR; }

/* ---------- health ---------- */

int ops_writable_groups(app *a, const rt *r)
{
    const conf *c = r->c;
    sel_view v[CONF_MAX_GROUPS];
    int64_t now = sk_mono_ms();
    int n = grt_views(a->grt, r, now, v), k = 0;
    for (int i = 0; i < n; i++)
        if (sel_can_take(&v[i], now, c->probe_fresh_ms, slow_ms(c)))
            k++;
    return k;
}

static void readyz(app *a, const rt *r, http_resp *rs)
{
    int k = ops_writable_groups(a, r);
    json_t *j = json_pack("{s:s,s:i,s:s,s:s}", "status", k > 0 ? "ready" : "not_ready", "writable_groups", k,
                          "counters", grt_counters_local(a->grt) ? "local" : "shared", "auth", r->c->auth_mode);
    reply_json_body(rs, k > 0 ? 200 : 503, j);
}

static void metrics(app *a, const rt *r, http_resp *rs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL) {
        reply_error(rs, SK_EINTERNAL, NULL, NULL, NULL);
        return;
    }
    met_render(f);
    sel_view v[CONF_MAX_GROUPS];
    int n = grt_views(a->grt, r, sk_mono_ms(), v);
    fprintf(f, "# HELP skipstore_group_state 1 for the group's current state.\n# TYPE skipstore_group_state gauge\n");
    for (int i = 0; i < n; i++) {
        group_state s = sel_state(&v[i]);
        for (int k = 0; k < GROUP_STATE_MAX; k++)
            fprintf(f, "skipstore_group_state{group=\"%d\",state=\"%s\"} %d\n", v[i].id,
                    conf_group_state_name((group_state)k), k == (int)s);
    }
    fprintf(f, "# HELP skipstore_group_failures Failures counted in the current window.\n# TYPE skipstore_group_failures gauge\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "skipstore_group_failures{group=\"%d\"} %lld\n", v[i].id, (long long)v[i].failures);
    fprintf(f, "# HELP skipstore_outbox_pending Outbox rows not yet published.\n# TYPE skipstore_outbox_pending gauge\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "skipstore_outbox_pending{group=\"%d\"} %lld\n", v[i].id,
                (long long)grt_outbox_pending(a->grt, v[i].id));
    fprintf(f, "# HELP skipstore_counters_local 1 while Redis is unreachable and counters are local.\n"
               "# TYPE skipstore_counters_local gauge\nskipstore_counters_local %d\n", grt_counters_local(a->grt));
    http_stats hs;
    http_stats_get(&hs);
    fprintf(f, "# HELP skipstore_http_connections Open client connections by listener.\n"
               "# TYPE skipstore_http_connections gauge\n"
               "skipstore_http_connections{listener=\"plain\"} %ld\nskipstore_http_connections{listener=\"tls\"} %ld\n"
               "# HELP skipstore_http_queued Complete requests waiting for a worker.\n"
               "# TYPE skipstore_http_queued gauge\nskipstore_http_queued %ld\n"
               "# HELP skipstore_http_workers_busy Workers running a request.\n"
               "# TYPE skipstore_http_workers_busy gauge\nskipstore_http_workers_busy %ld\n"
               "# HELP skipstore_http_overloaded_total Requests answered on the I/O thread because no worker was free.\n"
               "# TYPE skipstore_http_overloaded_total counter\nskipstore_http_overloaded_total %lld\n"
               "# HELP skipstore_http_refused_total Connections closed at once (http.max_connections).\n"
               "# TYPE skipstore_http_refused_total counter\nskipstore_http_refused_total %lld\n"
               "# HELP skipstore_http_timeouts_total Connections cut at a header, body or write deadline.\n"
               "# TYPE skipstore_http_timeouts_total counter\nskipstore_http_timeouts_total %lld\n"
               "# HELP skipstore_http_bad_requests_total Requests the edge refused (400, 431, 501, 505).\n"
               "# TYPE skipstore_http_bad_requests_total counter\nskipstore_http_bad_requests_total %lld\n"
               "# HELP skipstore_http_tls_handshake_failures_total TLS handshakes that failed.\n"
               "# TYPE skipstore_http_tls_handshake_failures_total counter\nskipstore_http_tls_handshake_failures_total %lld\n",
            hs.conns_plain, hs.conns_tls, hs.queued, hs.busy, hs.overloaded, hs.refused, hs.timeouts,
            hs.bad_requests, hs.tls_failures);
    fprintf(f, "# HELP skipstore_auth_off 1 while auth.mode is off (every caller trusted).\n"
               "# TYPE skipstore_auth_off gauge\nskipstore_auth_off %d\n", r->keys == NULL);
    fprintf(f, "# HELP skipstore_nonce_store_local 1 while signed requests' nonces are checked only locally "
               "(Redis unreachable).\n# TYPE skipstore_nonce_store_local gauge\nskipstore_nonce_store_local %d\n",
            nonce_local(a->nonces));
    fprintf(f, "# HELP skipstore_creates_in_flight_keys Idempotency keys with a create in flight on this daemon.\n"
               "# TYPE skipstore_creates_in_flight_keys gauge\nskipstore_creates_in_flight_keys %d\n", sf_size(a->sf));
    fclose(f);
    rs->status = 200;
    rs->body = buf;
    rs->len = len;
    rs->content_type = "text/plain; version=0.0.4";
}

void ops_health(app *a, const rt *r, met_route route, const http_req *rq, http_resp *rs)
{
    (void)rq;
    switch (route) {
    case RT_HEALTHZ: reply_json_body(rs, 200, json_pack("{s:s}", "status", "ok")); break;
    case RT_READYZ: readyz(a, r, rs); break;
    default: metrics(a, r, rs); break;
    }
}

/* ---------- groups, fence, reload ---------- */

static json_t *addr_list(char *const *a, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(a[i]));
    return arr;
}

/* The group's failover history, newest first: the JSON records `skipctl
 * group failover` pushes to Redis skip:fo:history:<G> (docs/failover.md).
 * An admin/observer route, not the order path: one LRANGE bounded by the
 * Redis timeout; Redis down gives null ("unknown"), not an empty list. */
static json_t *failover_history(const rt *r, int id)
{
    if (r->kv == NULL || !kv_up(r->kv))
        return json_null();
    redisReply *rep = kv_cmd(r->kv, "LRANGE skip:fo:history:%d 0 19", id);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return json_null();
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type != REDIS_REPLY_STRING)
            continue;
        json_t *o = json_loadb(e->str, e->len, 0, NULL);
        if (o)
            json_array_append_new(arr, o);
    }
    freeReplyObject(rep);
    return arr;
}

static json_t *group_json(app *a, const rt *r, const sel_view *v, const conf_group *cg)
{
    const conf *c = r->c;
    grt_probe p = grt_probe_get(a->grt, cg->id);
    json_t *probe;
    if (p.at_wall_ms == 0) {
        probe = json_null();
    } else {
        char at[25];
        ord_fmt_time(p.at_wall_ms, at);
        probe = json_pack("{s:s,s:b,s:i,s:s?}", "at", at, "ok", p.ok, "ms", p.ms, "error", p.ok ? NULL : p.error);
    }
    json_t *reps = addr_list(cg->replicas, cg->nreplicas);
    dal_pool *pool = rt_primary(r, cg->id);
    json_t *g = json_object();
    json_object_set_new(g, "id", json_integer(cg->id));
    json_object_set_new(g, "state", json_string(conf_group_state_name(sel_state(v))));
    json_object_set_new(g, "weight", json_integer(cg->weight));
    json_object_set_new(g, "failures_this_window", json_integer(v->failures));
    json_object_set_new(g, "threshold", json_integer(c->threshold));
    json_object_set_new(g, "window_s", json_integer(c->window_s));
    json_object_set_new(g, "last_probe", probe);
    json_object_set_new(g, "primary", cg->primary ? json_string(cg->primary) : json_null());
    json_object_set_new(g, "replicas", reps);
    json_object_set_new(g, "alias_of", cg->alias_of ? json_integer(cg->alias_of) : json_null());
    json_object_set_new(g, "former_primaries", addr_list(cg->former, cg->nformer));
    json_object_set_new(g, "failovers", failover_history(r, cg->id));
    json_object_set_new(g, "fenced", json_boolean(v->fenced || cg->state == GROUP_FENCED));
    json_object_set_new(g, "inflight", json_integer(pool ? dal_pool_inflight(pool) : 0));
    json_object_set_new(g, "outbox_pending", json_integer(grt_outbox_pending(a->grt, cg->id)));
    uint64_t gcb = 0, gco = 0;
    if (pool)
        dal_pool_gc_stats(pool, &gcb, &gco);
    json_object_set_new(g, "group_commit", json_pack("{s:I,s:I}", "batches", (json_int_t)gcb, "orders", (json_int_t)gco));
    return g;
}

static void groups(app *a, const rt *r, http_resp *rs)
{
    const conf *c = r->c;
    sel_view v[CONF_MAX_GROUPS];
    int n = grt_views(a->grt, r, sk_mono_ms(), v);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, group_json(a, r, &v[i], &c->groups[i]));
    json_t *j = json_object();
    json_object_set_new(j, "groups", arr);
    json_object_set_new(j, "counters", json_string(grt_counters_local(a->grt) ? "local" : "shared"));
    json_object_set_new(j, "node_id", json_integer(c->node_id));
    json_object_set_new(j, "auth", json_string(c->auth_mode));
    int64_t lag = met_mirror_lag_ms();
    json_object_set_new(j, "mirror_lag_ms", lag >= 0 ? json_integer(lag) : json_null());
    reply_json_body(rs, 200, j);
}

/* A group id path segment: decimal 1..99, nothing else. */
static int parse_group_id(const char *s)
{
    int v = 0;
    if (s == NULL || *s == '\0' || strlen(s) > 2)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v >= 1 && v <= CONF_MAX_GROUPS ? v : -1;
}

static void fence(app *a, const rt *r, const char *id_s, bool on, http_resp *rs)
{
    int id = parse_group_id(id_s);
    const conf_group *cg = id > 0 ? conf_group_by_id(r->c, id) : NULL;
    if (cg == NULL) {
        reply_error(rs, SK_ENOT_FOUND, "id", "no such group", NULL);
        return;
    }
    if (cg->state == GROUP_RETIRED) {
        reply_error(rs, SK_EILLEGAL_TRANSITION, "id", "a retired group cannot be fenced or unfenced", NULL);
        return;
    }
    sk_status st = grt_set_fence(a->grt, r->kv, cg->id, on);
    if (st != SK_OK) {
        reply_error(rs, st, NULL, NULL, NULL);
        return;
    }
    sk_info("event=%s group=%d", on ? "fence" : "unfence", cg->id);
    sel_view v[CONF_MAX_GROUPS];
    int n = grt_views(a->grt, r, sk_mono_ms(), v);
    for (int i = 0; i < n; i++)
        if (v[i].id == cg->id) {
            reply_json_body(rs, 200, group_json(a, r, &v[i], cg));
            return;
        }
    reply_error(rs, SK_EINTERNAL, NULL, NULL, NULL);
}

static void reload(app *a, http_resp *rs)
{
    char e[CONF_ERR_MAX] = "";
    if (a->reload == NULL || a->reload(a, e, sizeof e) != 0)
        reply_error(rs, SK_EINVALID_ARGUMENT, "config", e[0] ? e : "reload not available", NULL);
    else
        reply_json_body(rs, 200, json_pack("{s:b}", "reloaded", 1));
}

void ops_admin(app *a, const rt *r, met_route route, const char *id, http_resp *rs)
{
    switch (route) {
    case RT_GROUPS: groups(a, r, rs); break;
    case RT_FENCE: fence(a, r, id, true, rs); break;
    case RT_UNFENCE: fence(a, r, id, false, rs); break;
    case RT_RELOAD: reload(a, rs); break;
    default: reply_error(rs, SK_ENOT_FOUND, NULL, "no such route", NULL); break;
    }
}
