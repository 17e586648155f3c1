/*
 * config/conf_schema.c — what a skipstore config holds (conf.c phase 2):
 * one table of key specs {name, type, offset, min, max, default, flags} per
 * section, and the parsers of the sections a table cannot describe alone
 * (groups and their replicas, group state, the TLS sections, listen_tls,
 * string maps, refunds.timezone). The generic validation that walks these
 * tables is conf_validate.c. Pure: no I/O.
 */
#include "config/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <strings.h>
#include "common/tz.h"
#include "config/yamltree.h"
#include "config/conf_internal.h"

#define KS_INT(T, n, f, lo, hi, d) \
    {.name = n, .type = K_INT, .off = offsetof(T, f), .min = lo, .max = hi, .idef = d}
#define KS_INT_REQ(T, n, f, lo, hi) \
    {.name = n, .type = K_INT, .off = offsetof(T, f), .min = lo, .max = hi, .flags = F_REQUIRED}
#define KS_STR(T, n, f, d, fl) {.name = n, .type = K_STR, .off = offsetof(T, f), .sdef = d, .flags = fl}
#define KS_HOSTPORT(T, n, f, d, fl) \
    {.name = n, .type = K_HOSTPORT, .off = offsetof(T, f), .sdef = d, .flags = fl}
#define KS_HOSTLIST(T, n, f, d) {.name = n, .type = K_HOSTLIST, .off = offsetof(T, f), .sdef = d}
#define KS_BOOL(T, n, f, d) {.name = n, .type = K_BOOL, .off = offsetof(T, f), .idef = d}
#define KS_ENUM(T, n, f, d, e) {.name = n, .type = K_ENUM, .off = offsetof(T, f), .sdef = d, .enums = e}
#define KS_PATH(T, n, f) {.name = n, .type = K_PATH, .off = offsetof(T, f), .sdef = ""}
/* a conf_tls at offset f of the conf, validated against tab */
#define KS_TLS(n, f, tab) {.name = n, .type = K_CUSTOM, .set = set_tls, .off = offsetof(conf, f), .sub = tab}
#define KS_STRMAP(T, n, f, hi) {.name = n, .type = K_STRMAP, .off = offsetof(T, f), .min = 0, .max = hi}
#define KS_SECTION(n, t) {.name = n, .type = K_SECTION, .sub = t}
#define KS_CUSTOM(n, fn, fl, e) {.name = n, .type = K_CUSTOM, .set = fn, .flags = fl, .enums = e}

static int set_groups(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_replicas(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_state(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_tls(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_listen_tls(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_edge_tls(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_timezone(vcx *, const kspec *, const cnode *, void *, const char *, int);

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const auth_modes[] = {"on", "off", NULL};

/* Configurable group states, in the order of group_state values they map to. */
static const char *const state_words[] = {"active", "fenced", "draining", "retired", NULL};
static const group_state state_values[] = {GROUP_ACTIVE, GROUP_FENCED, GROUP_DRAINING, GROUP_RETIRED};

/*
 * The schema. Defaults and bounds are those documented in
 * config/skipstore.example.yaml (tests/unit/test_conf.c checks every bound
 * written there against this table). Secrets default to "".
 * merchant_db.user/password default to db.user/db.password (the same
 * application account), filled in after validation.
 */
static const kspec auth_tab[] = {
    KS_ENUM(conf, "mode", auth_mode, "on", auth_modes),
    KS_STR(conf, "keys_file", auth_keys_file, "", 0),
    {0},
};

/* db.tls and merchant_db.tls: Connector/C checks the server's name against
 * the host it connects to, so there is no server_name. */
static const kspec db_tls_tab[] = {
    KS_BOOL(conf_tls, "enabled", enabled, -1),
    KS_PATH(conf_tls, "ca", ca),
    KS_PATH(conf_tls, "cert", cert),
    KS_PATH(conf_tls, "key", key),
    KS_BOOL(conf_tls, "verify_server_cert", verify_server_cert, 1),
    {0},
};

static const kspec redis_tls_tab[] = {
    KS_BOOL(conf_tls, "enabled", enabled, -1),
    KS_PATH(conf_tls, "ca", ca),
    KS_PATH(conf_tls, "cert", cert),
    KS_PATH(conf_tls, "key", key),
    KS_BOOL(conf_tls, "verify_server_cert", verify_server_cert, 1),
    KS_STR(conf_tls, "server_name", server_name, "", 0),
    {0},
};

static const kspec db_tab[] = {
    KS_STR(conf, "name", db_name, NULL, F_REQUIRED | F_NONEMPTY),
    KS_STR(conf, "user", db_user, NULL, F_REQUIRED | F_NONEMPTY),
    KS_STR(conf, "password", db_password, "", 0),
    KS_PATH(conf, "password_file", db_password_file),
    KS_TLS("tls", db_tls, db_tls_tab),
    KS_INT(conf, "connect_timeout_ms", db_connect_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "read_timeout_ms", db_read_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "write_timeout_ms", db_write_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "pool_size", db_pool_size, 1, 256, 16),
    KS_INT(conf, "max_inflight", db_max_inflight, 1, 4096, 64),
    KS_INT(conf, "attempt_timeout_ms", db_attempt_timeout_ms, 50, 10000, 1000),
    KS_INT(conf, "group_commit_max_batch", db_gc_max_batch, 1, 256, 16),
    KS_INT(conf, "group_commit_leaders", db_gc_leaders, 1, 256, 2),
    {0},
};

static const kspec selector_tab[] = {
    KS_INT(conf, "window_s", window_s, 1, 3600, 60),
    KS_INT(conf, "threshold", threshold, 1, 1000000, 5),
    KS_INT(conf, "counter_refresh_ms", counter_refresh_ms, 10, 1000, 100),
    {0},
};

static const kspec prober_tab[] = {
    KS_INT(conf, "interval_ms", probe_interval_ms, 50, 10000, 200),
    KS_INT(conf, "timeout_ms", probe_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "fresh_ms", probe_fresh_ms, 100, 60000, 1000),
    {0},
};

static const kspec request_tab[] = {
    KS_INT(conf, "deadline_ms", request_deadline_ms, 500, 30000, 3000),
    KS_INT(conf, "max_body_bytes", max_body_bytes, 1024, 1048576, 65536),
    KS_INT(conf, "default_expire_s", default_expire_s, 30, 86400, 300),
    KS_INT(conf, "sweep_interval_ms", sweep_interval_ms, 100, 60000, 1000),
    {0},
};

/* the HTTPS listener's files (listen_tls); absolute paths, "" = unset */
static const kspec tls_tab[] = {
    KS_STR(conf, "cert", tls_cert, "", 0),
    KS_STR(conf, "key", tls_key, "", 0),
    KS_STR(conf, "client_ca", tls_client_ca, "", 0),
    {0},
};

static const kspec http_tab[] = {
    KS_INT(conf, "io_threads", http_io_threads, 1, 64, 2),
    KS_INT(conf, "workers", http_workers, 1, 1024, 64),
    KS_INT(conf, "max_connections", http_max_connections, 16, 1048576, 16384),
    KS_INT(conf, "header_timeout_ms", http_header_timeout_ms, 100, 600000, 10000),
    KS_INT(conf, "body_timeout_ms", http_body_timeout_ms, 100, 600000, 10000),
    KS_INT(conf, "idle_timeout_ms", http_idle_timeout_ms, 100, 3600000, 120000),
    {0},
};

static const kspec redis_tab[] = {
    KS_HOSTPORT(conf, "addr", redis_addr, "127.0.0.1:6379", 0),
    KS_STR(conf, "username", redis_username, "", 0),
    KS_STR(conf, "password", redis_password, "", 0),
    KS_PATH(conf, "password_file", redis_password_file),
    KS_TLS("tls", redis_tls, redis_tls_tab),
    KS_INT(conf, "timeout_ms", redis_timeout_ms, 10, 5000, 200),
    KS_INT(conf, "node_lease_s", node_lease_s, 3, 600, 15),
    {0},
};

static const kspec kafka_tab[] = {
    KS_HOSTLIST(conf, "brokers", kafka_brokers, "127.0.0.1:9092"),
    KS_STR(conf, "topic", kafka_topic, "skipstore.orders", F_NONEMPTY),
    KS_STR(conf, "consumer_group", kafka_group, "skipstore-mirror", F_NONEMPTY),
    KS_INT(conf, "relay_batch", relay_batch, 1, 10000, 500),
    KS_INT(conf, "relay_interval_ms", relay_interval_ms, 1, 10000, 20),
    KS_STRMAP(conf, "producer", kafka_producer, 64),
    KS_STRMAP(conf, "consumer", kafka_consumer, 64),
    KS_PATH(conf, "event_key_file", kafka_event_key_file),
    KS_PATH(conf, "event_key_previous_file", kafka_event_key_prev_file),
    {0},
};

static const kspec terminals_tab[] = {
    KS_BOOL(conf, "enforce", terminals_enforce, 1),
    KS_INT(conf, "refresh_ms", terminals_refresh_ms, 50, 1000, 500),
    KS_INT(conf, "full_refresh_s", terminals_full_refresh_s, 5, 3600, 60),
    KS_INT(conf, "code_ttl_s", terminals_code_ttl_s, 60, 604800, 86400),
    KS_INT(conf, "max", terminals_max, 1000, 10000000, 1000000),
    {0},
};

static const kspec refunds_tab[] = {
    KS_CUSTOM("timezone", set_timezone, 0, NULL),
    KS_INT(conf, "max_age_days", refunds_max_age_days, 1, 3650, 365),
    {0},
};

static const kspec audit_tab[] = {
    KS_INT(conf, "queue_max", audit_queue_max, 100, 1000000, 10000),
    {0},
};

static const kspec merchant_tab[] = {
    KS_HOSTPORT(conf, "addr", merchant_addr, "127.0.0.1:3310", 0),
    KS_STR(conf, "name", merchant_db_name, "skipstore_merchant", F_NONEMPTY),
    KS_STR(conf, "user", merchant_user, NULL, F_NONEMPTY),  /* default: db.user */
    KS_STR(conf, "password", merchant_password, NULL, 0),   /* default: db.password */
    {.name = "password_file", .type = K_PATH, .off = offsetof(conf, merchant_password_file)}, /* default: db's */
    KS_TLS("tls", merchant_tls, db_tls_tab),                /* default: db.tls */
    {0},
};

static const kspec group_tab[] = {
    KS_INT_REQ(conf_group, "id", id, 1, CONF_MAX_GROUPS),
    KS_HOSTPORT(conf_group, "primary", primary, NULL, 0),   /* required unless retired (post) */
    /* address lists: .off = the char *[] array, .idef = offset of its count */
    {.name = "replicas", .type = K_CUSTOM, .set = set_replicas, .off = offsetof(conf_group, replicas),
     .idef = offsetof(conf_group, nreplicas)},
    {.name = "former_primaries", .type = K_CUSTOM, .set = set_replicas, .off = offsetof(conf_group, former),
     .idef = offsetof(conf_group, nformer)},
    KS_INT(conf_group, "weight", weight, 0, 1000, 100),
    KS_CUSTOM("state", set_state, 0, state_words),
    KS_INT(conf_group, "alias_of", alias_of, 1, CONF_MAX_GROUPS, 0),
    {0},
};

static const kspec failover_tab[] = {
    KS_BOOL(conf, "auto", failover_auto, 0),
    KS_INT(conf, "after_s", failover_after_s, 1, 3600, 30),
    KS_STR(conf, "admin_user", failover_admin_user, "", 0),
    KS_PATH(conf, "admin_password_file", failover_admin_password_file),
    KS_STR(conf, "daemons", failover_daemons, "", 0),
    KS_PATH(conf, "skipctl", failover_skipctl),
    {0},
};

const kspec top_tab[] = {
    KS_INT(conf, "node_id", node_id, 0, 999, 1),
    KS_HOSTPORT(conf, "listen", listen, "127.0.0.1:8080", F_EMPTY_OK),
    {.name = "listen_tls", .type = K_CUSTOM, .set = set_listen_tls, .off = offsetof(conf, listen_tls),
     .sdef = "", .flags = F_EMPTY_OK},
    KS_ENUM(conf, "log_level", log_level, "info", log_levels),
    KS_CUSTOM("tls", set_edge_tls, 0, NULL),
    KS_SECTION("http", http_tab),
    KS_SECTION("auth", auth_tab),
    KS_SECTION("db", db_tab),
    KS_SECTION("selector", selector_tab),
    KS_SECTION("prober", prober_tab),
    KS_SECTION("request", request_tab),
    KS_SECTION("redis", redis_tab),
    KS_SECTION("kafka", kafka_tab),
    KS_SECTION("merchant_db", merchant_tab),
    KS_SECTION("terminals", terminals_tab),
    KS_SECTION("refunds", refunds_tab),
    KS_SECTION("audit", audit_tab),
    KS_SECTION("failover", failover_tab),
    KS_CUSTOM("groups", set_groups, F_REQUIRED, NULL),
    {0},
};

static int set_groups(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf *c = base;
    (void)k;
    v->groups_line = keyline;
    if (val == NULL)  /* F_REQUIRED: apply_map reports it */
        return -1;
    if (is_null_scalar(val) || (val->kind == CN_SEQ && val->nkid == 0))
        return yt_fail(v->e, keyline, "%s: at least one group is required", path);
    if (val->kind != CN_SEQ)
        return yt_fail(v->e, val->line, "%s: expected a list of groups, got %s", path, yt_what(val));
    if (val->nkid > CONF_MAX_GROUPS)
        return yt_fail(v->e, val->kid[CONF_MAX_GROUPS]->line, "%s: more than %d groups", path,
                    CONF_MAX_GROUPS);
    for (size_t i = 0; i < val->nkid; i++) {
        const cnode *item = val->kid[i];
        char prefix[PATH_MAX_LEN];
        snprintf(prefix, sizeof prefix, "%s[%zu]", path, i);
        if (item->kind != CN_MAP)
            return yt_fail(v->e, item->line, "%s: expected a mapping (id, primary, ...), got %s", prefix,
                        yt_what(item));
        conf_group *g = &c->groups[i];
        g->line = item->line;
        c->ngroups = (int)i + 1;
        if (apply_map(v, group_tab, item, item->line, g, prefix) < 0)
            return -1;
    }
    return 0;
}

/* A list of host:port into the char *[CONF_MAX_REPLICAS] at k->off, its
 * count into the int at k->idef (replicas, former_primaries). */
static int set_replicas(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    char **list = (char **)((char *)base + k->off);
    int *count = (int *)((char *)base + k->idef);
    char vb[64];
    if (val == NULL)
        return 0;
    if (val->kind != CN_SEQ)
        return yt_fail(v->e, val->line, "%s: expected a list of host:port, got %s", path, yt_what(val));
    if (val->nkid > CONF_MAX_REPLICAS)
        return yt_fail(v->e, val->kid[CONF_MAX_REPLICAS]->line, "%s: more than %d replicas", path,
                    CONF_MAX_REPLICAS);
    for (size_t i = 0; i < val->nkid; i++) {
        const cnode *item = val->kid[i];
        char ipath[PATH_MAX_LEN];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        const char *s = scalar_text(v, item, ipath, "a host:port string", keyline);
        if (s == NULL)
            return -1;
        if (!hostport_ok(s, item->len))
            return yt_fail(v->e, item->line, "%s: '%s' is not a valid host:port", ipath,
                        yt_show(s, item->len, vb, sizeof vb, 40));
        if (set_str_field(v, &list[i], s, item->line) < 0)
            return -1;
        *count = (int)i + 1;
    }
    return 0;
}

static int set_state(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf_group *g = base;
    char vb[64];
    if (val == NULL) {
        g->state = GROUP_ACTIVE;
        return 0;
    }
    const char *s = scalar_text(v, val, path, "a state", keyline);
    if (s == NULL)
        return -1;
    for (size_t i = 0; k->enums[i]; i++) {
        if (strcmp(s, k->enums[i]) == 0) {
            g->state = state_values[i];
            return 0;
        }
    }
    return yt_fail(v->e, val->line, "%s: '%s' is not one of active|fenced|draining|retired", path,
                yt_show(s, val->len, vb, sizeof vb, 40));
}

/* A tls: mapping into the conf_tls at k->off. Absent: left all-NULL with
 * line 0 (post_check fills the defaults, or copies db.tls for merchant_db). */
static int set_tls(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf_tls *t = (conf_tls *)((char *)base + k->off);
    if (val == NULL)
        return 0;
    if (val->kind != CN_MAP)
        return yt_fail(v->e, val->line, "%s: expected a mapping, got %s", path, yt_what(val));
    t->line = keyline;
    return apply_map(v, k->sub, val, keyline, t, path);
}

/* `tls:` (the HTTPS listener) — a plain section; its line is kept for the cross-field messages */
static int set_edge_tls(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    (void)k;
    if (val != NULL && val->kind != CN_MAP)
        return yt_fail(v->e, val->line, "%s: expected a mapping, got %s", path, yt_what(val));
    if (val != NULL)
        v->tls_line = keyline;
    return apply_map(v, tls_tab, val, keyline, base, path);
}

/* `listen_tls:` — a host:port ("" = none), its line kept */
static int set_listen_tls(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    kspec hp = *k;
    hp.type = K_HOSTPORT;
    if (val != NULL)
        v->listen_tls_line = keyline;
    return set_one(v, &hp, val, base, path, keyline);
}

/* refunds.timezone: the name only (conf_load loads the zone itself). */
static int set_timezone(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf *c = base;
    char vb[64];
    (void)k;
    const char *s = "Asia/Shanghai";
    c->refunds_timezone_line = keyline;
    if (val != NULL) {
        if ((s = scalar_text(v, val, path, "a time zone name", keyline)) == NULL)
            return -1;
        c->refunds_timezone_line = val->line;
        if (!tz_name_ok(s))
            return yt_fail(v->e, val->line, "%s: '%s' is not a time zone name (like Asia/Shanghai or UTC+08:00)",
                           path, yt_show(s, val->len, vb, sizeof vb, 40));
    }
    return set_str_field(v, &c->refunds_timezone, s, keyline);
}

