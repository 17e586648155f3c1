/*
 * tests/unit/test_conf.c — config loading and validation (config/conf.c).
 *
 * The example file must load with the documented values; absent keys get the
 * documented defaults; every bound written in the example's comments is
 * enforced (parsed from the file, so doc and code cannot drift apart); a
 * table of bad inputs each fails with the expected line and message; alias
 * routing and the default shrink target follow spec §6.
 * Independent of cwd: files are found through SKIP_SOURCE_DIR.
 */
#include <check.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/tz.h"
#include "common/utf8.h"
#include "config/conf.h"

#ifndef SKIP_SOURCE_DIR
#error "SKIP_SOURCE_DIR must be defined by the build"
#endif

#define EXAMPLE SKIP_SOURCE_DIR "/config/skipstore.example.yaml"
#define CASES SKIP_SOURCE_DIR "/tests/unit/conf_cases"

/* The smallest valid config: lines 1-3 and 4-6. */
#define MIN_DB "db:\n  name: s\n  user: u\n"
#define G1 "groups:\n  - id: 1\n    primary: \"h:1\"\n"

static conf *load(const char *text, char *err, size_t cap)
{
    return conf_load_string("t.yaml", text, strlen(text), err, cap);
}

/* Load must fail with "t.yaml:LINE: ...SUB...". */
static void expect_error(const char *what, const char *text, size_t len, int line, const char *sub)
{
    char err[CONF_ERR_MAX], prefix[64];
    conf *c = conf_load_string("t.yaml", text, len, err, sizeof err);
    if (c != NULL) {
        conf_free(c);
        ck_abort_msg("%s: loaded, expected error at line %d containing '%s'", what, line, sub);
    }
    if (line > 0)
        snprintf(prefix, sizeof prefix, "t.yaml:%d: ", line);
    else
        snprintf(prefix, sizeof prefix, "t.yaml: ");
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s: want prefix '%s', got '%s'", what,
                  prefix, err);
    ck_assert_msg(strstr(err, sub) != NULL, "%s: want '%s' in '%s'", what, sub, err);
}

/* ------------------------------------------------------------------------ */

START_TEST(example_loads_with_documented_values)
{
    char err[CONF_ERR_MAX] = "";
    conf *c = conf_load(EXAMPLE, err, sizeof err);
    ck_assert_msg(c != NULL, "example failed: %s", err);

    ck_assert_str_eq(c->path, EXAMPLE);
    ck_assert_int_eq(c->node_id, 1);
    ck_assert_str_eq(c->listen, "127.0.0.1:8080");
    ck_assert_str_eq(c->log_level, "info");
    ck_assert_str_eq(c->auth_mode, "on");
    ck_assert_str_eq(c->auth_keys_file, "/etc/skipstore/keys.yaml");
    ck_assert_str_eq(c->listen_tls, "");
    ck_assert_str_eq(c->tls_cert, "");
    ck_assert_str_eq(c->tls_key, "");
    ck_assert_str_eq(c->tls_client_ca, "");
    ck_assert_int_eq(c->http_io_threads, 2);
    ck_assert_int_eq(c->http_workers, 64);
    ck_assert_int_eq(c->http_max_connections, 16384);
    ck_assert_int_eq(c->http_header_timeout_ms, 10000);
    ck_assert_int_eq(c->http_body_timeout_ms, 10000);
    ck_assert_int_eq(c->http_idle_timeout_ms, 120000);

    ck_assert_str_eq(c->db_name, "skipstore");
    ck_assert_str_eq(c->db_user, "app");
    ck_assert_str_eq(c->db_password, "app-pw");
    ck_assert_str_eq(c->db_password_file, "");
    ck_assert_int_eq(c->db_connect_timeout_ms, 1000);
    ck_assert_int_eq(c->db_read_timeout_ms, 1000);
    ck_assert_int_eq(c->db_write_timeout_ms, 1000);
    ck_assert_int_eq(c->db_pool_size, 16);
    ck_assert_int_eq(c->db_max_inflight, 64);
    ck_assert_int_eq(c->db_attempt_timeout_ms, 1000);
    ck_assert_int_eq(c->db_gc_max_batch, 16);
    ck_assert_int_eq(c->db_gc_leaders, 2);
    /* TLS written out but off */
    const conf_tls *tl[] = {&c->db_tls, &c->merchant_tls, &c->redis_tls};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tl[i]->enabled, 0);
        ck_assert_str_eq(tl[i]->ca, "");
        ck_assert_str_eq(tl[i]->cert, "");
        ck_assert_str_eq(tl[i]->key, "");
        ck_assert_int_eq(tl[i]->verify_server_cert, 1);
        ck_assert_str_eq(tl[i]->server_name, "");
    }
    ck_assert_str_eq(c->redis_username, "");
    ck_assert_str_eq(c->redis_password, "");
    ck_assert_str_eq(c->redis_password_file, "");
    ck_assert_str_eq(c->merchant_password_file, "");

    ck_assert_int_eq(c->window_s, 60);
    ck_assert_int_eq(c->threshold, 5);
    ck_assert_int_eq(c->counter_refresh_ms, 100);
    ck_assert_int_eq(c->probe_interval_ms, 200);
    ck_assert_int_eq(c->probe_timeout_ms, 1000);
    ck_assert_int_eq(c->probe_fresh_ms, 1000);
    ck_assert_int_eq(c->request_deadline_ms, 3000);
    ck_assert_int_eq(c->max_body_bytes, 65536);
    ck_assert_int_eq(c->default_expire_s, 300);
    ck_assert_int_eq(c->sweep_interval_ms, 1000);

    ck_assert_str_eq(c->redis_addr, "127.0.0.1:6379");
    ck_assert_int_eq(c->redis_timeout_ms, 200);
    ck_assert_int_eq(c->node_lease_s, 15);

    ck_assert_str_eq(c->kafka_brokers, "127.0.0.1:9092");
    ck_assert_str_eq(c->kafka_topic, "skipstore.orders");
    ck_assert_str_eq(c->kafka_group, "skipstore-mirror");
    ck_assert_int_eq(c->relay_batch, 500);
    ck_assert_int_eq(c->relay_interval_ms, 20);
    ck_assert_int_eq(c->kafka_producer.n, 1);
    ck_assert_str_eq(c->kafka_producer.kv[0].key, "compression.type");
    ck_assert_str_eq(c->kafka_producer.kv[0].val, "lz4");
    ck_assert_int_eq(c->kafka_producer.kv[0].line, 99);
    ck_assert_int_eq(c->kafka_consumer.n, 1);
    ck_assert_str_eq(conf_strmap_get(&c->kafka_consumer, "fetch.wait.max.ms"), "20");

    ck_assert_str_eq(c->merchant_addr, "127.0.0.1:3310");
    ck_assert_str_eq(c->merchant_db_name, "skipstore_merchant");
    ck_assert_str_eq(c->merchant_user, "app");
    ck_assert_str_eq(c->merchant_password, "app-pw");

    ck_assert_int_eq(c->terminals_enforce, 1);
    ck_assert_int_eq(c->terminals_refresh_ms, 500);
    ck_assert_int_eq(c->terminals_full_refresh_s, 60);
    ck_assert_int_eq(c->terminals_code_ttl_s, 86400);
    ck_assert_int_eq(c->terminals_max, 1000000);
    ck_assert_str_eq(c->refunds_timezone, "Asia/Shanghai");
    ck_assert_int_eq(c->refunds_max_age_days, 365);
    ck_assert_int_eq(c->audit_queue_max, 10000);
    ck_assert_int_eq(c->failover_auto, 0);
    ck_assert_int_eq(c->failover_after_s, 30);
    ck_assert_str_eq(c->failover_admin_user, "");
    ck_assert_str_eq(c->failover_daemons, "");
    /* conf_load loads the zone: 2026-03-01 00:00:00.000 +08:00 starts a new local day */
    ck_assert_ptr_nonnull(c->refunds_tz);
    ck_assert_str_eq(tz_name(c->refunds_tz), "Asia/Shanghai");
    ck_assert_int_eq(tz_local_day(c->refunds_tz, 1772294400000LL), tz_local_day(c->refunds_tz, 1772294399999LL) + 1);

    ck_assert_int_eq(c->ngroups, 3);
    static const char *const prim[] = {"127.0.0.1:3311", "127.0.0.1:3321", "127.0.0.1:3331"};
    static const char *const repl[] = {"127.0.0.1:3312", "127.0.0.1:3322", "127.0.0.1:3332"};
    static const int lines[] = {151, 157, 161};
    for (int i = 0; i < 3; i++) {
        const conf_group *g = &c->groups[i];
        ck_assert_int_eq(g->id, i + 1);
        ck_assert_str_eq(g->primary, prim[i]);
        ck_assert_int_eq(g->nreplicas, 1);
        ck_assert_str_eq(g->replicas[0], repl[i]);
        ck_assert_int_eq(g->weight, 100);
        ck_assert_int_eq(g->state, GROUP_ACTIVE);
        ck_assert_int_eq(g->alias_of, 0);
        ck_assert_int_eq(g->nformer, 0);
        ck_assert_int_eq(g->line, lines[i]);
        ck_assert_ptr_eq(conf_group_by_id(c, i + 1), g);
        ck_assert_int_eq(conf_route_group(c, i + 1), i + 1);
    }
    ck_assert_ptr_null(conf_group_by_id(c, 4));
    conf_free(c);
}
END_TEST

START_TEST(example_with_retired_group_uncommented_loads)
{
    /* The commented-out retired group in the example is a valid entry too. */
    FILE *f = fopen(EXAMPLE, "rb");
    ck_assert_ptr_nonnull(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strstr(buf, "  # - id: 4");
    ck_assert_ptr_nonnull(p);
    /* drop "# " from the commented lines from there on: "  # - id: 4" -> "  - id: 4" */
    char *w = p;
    for (char *q = p; *q;) {
        if ((q == p || q[-1] == '\n') && strncmp(q, "  # ", 4) == 0) {
            *w++ = ' ';
            *w++ = ' ';
            q += 4;
        } else {
            *w++ = *q++;
        }
    }
    *w = '\0';
    char err[CONF_ERR_MAX] = "";
    conf *c = conf_load_string("example+4", buf, strlen(buf), err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->ngroups, 4);
    const conf_group *g4 = conf_group_by_id(c, 4);
    ck_assert_ptr_nonnull(g4);
    ck_assert_int_eq(g4->state, GROUP_RETIRED);
    ck_assert_ptr_null(g4->primary);
    ck_assert_int_eq(conf_route_group(c, 4), 1);
    conf_free(c);
}
END_TEST

START_TEST(absent_keys_get_documented_defaults)
{
    char err[CONF_ERR_MAX] = "";
    conf *c = load(MIN_DB G1, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->path, "t.yaml");
    ck_assert_int_eq(c->node_id, 1);
    ck_assert_str_eq(c->listen, "127.0.0.1:8080");
    ck_assert_str_eq(c->log_level, "info");
    ck_assert_str_eq(c->auth_mode, "on");
    ck_assert_str_eq(c->auth_keys_file, ""); /* required by skipstored only (runtime/runtime.c) */
    ck_assert_str_eq(c->listen_tls, "");
    ck_assert_str_eq(c->tls_cert, "");
    ck_assert_str_eq(c->tls_key, "");
    ck_assert_str_eq(c->tls_client_ca, "");
    ck_assert_int_eq(c->http_io_threads, 2);
    ck_assert_int_eq(c->http_workers, 64);
    ck_assert_int_eq(c->http_max_connections, 16384);
    ck_assert_int_eq(c->http_header_timeout_ms, 10000);
    ck_assert_int_eq(c->http_body_timeout_ms, 10000);
    ck_assert_int_eq(c->http_idle_timeout_ms, 120000);
    ck_assert_str_eq(c->db_name, "s");
    ck_assert_str_eq(c->db_user, "u");
    ck_assert_str_eq(c->db_password, "");
    ck_assert_int_eq(c->db_connect_timeout_ms, 1000);
    ck_assert_int_eq(c->db_read_timeout_ms, 1000);
    ck_assert_int_eq(c->db_write_timeout_ms, 1000);
    ck_assert_int_eq(c->db_pool_size, 16);
    ck_assert_int_eq(c->db_max_inflight, 64);
    ck_assert_int_eq(c->window_s, 60);
    ck_assert_int_eq(c->threshold, 5);
    ck_assert_int_eq(c->counter_refresh_ms, 100);
    ck_assert_int_eq(c->probe_interval_ms, 200);
    ck_assert_int_eq(c->probe_timeout_ms, 1000);
    ck_assert_int_eq(c->probe_fresh_ms, 1000);
    ck_assert_int_eq(c->request_deadline_ms, 3000);
    ck_assert_int_eq(c->max_body_bytes, 65536);
    ck_assert_int_eq(c->default_expire_s, 300);
    ck_assert_int_eq(c->sweep_interval_ms, 1000);
    ck_assert_str_eq(c->redis_addr, "127.0.0.1:6379");
    ck_assert_int_eq(c->redis_timeout_ms, 200);
    ck_assert_int_eq(c->node_lease_s, 15);
    ck_assert_str_eq(c->kafka_brokers, "127.0.0.1:9092");
    ck_assert_str_eq(c->kafka_topic, "skipstore.orders");
    ck_assert_str_eq(c->kafka_group, "skipstore-mirror");
    ck_assert_int_eq(c->relay_batch, 500);
    ck_assert_int_eq(c->relay_interval_ms, 20);
    ck_assert_int_eq(c->kafka_producer.n, 0);
    ck_assert_ptr_null(c->kafka_producer.kv);
    ck_assert_int_eq(c->kafka_consumer.n, 0);
    ck_assert_ptr_null(conf_strmap_get(&c->kafka_consumer, "fetch.wait.max.ms"));
    ck_assert_str_eq(c->merchant_addr, "127.0.0.1:3310");
    ck_assert_str_eq(c->merchant_db_name, "skipstore_merchant");
    /* merchant store: the same application account unless configured */
    ck_assert_str_eq(c->merchant_user, "u");
    ck_assert_str_eq(c->merchant_password, "");
    ck_assert_str_eq(c->db_password_file, "");
    ck_assert_str_eq(c->merchant_password_file, "");
    ck_assert_str_eq(c->redis_username, "");
    ck_assert_str_eq(c->redis_password, "");
    ck_assert_str_eq(c->redis_password_file, "");
    const conf_tls *tl[] = {&c->db_tls, &c->merchant_tls, &c->redis_tls};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(tl[i]->enabled, 0);
        ck_assert_str_eq(tl[i]->ca, "");
        ck_assert_str_eq(tl[i]->cert, "");
        ck_assert_str_eq(tl[i]->key, "");
        ck_assert_int_eq(tl[i]->verify_server_cert, 1);
        ck_assert_str_eq(tl[i]->server_name, "");
        ck_assert_int_eq(tl[i]->line, 0);
    }
    ck_assert_int_eq(c->terminals_enforce, 1);
    ck_assert_int_eq(c->terminals_refresh_ms, 500);
    ck_assert_str_eq(c->refunds_timezone, "Asia/Shanghai");
    ck_assert_int_eq(c->refunds_max_age_days, 365);
    ck_assert_int_eq(c->audit_queue_max, 10000);
    ck_assert_ptr_null(c->refunds_tz);   /* conf_load_string does no I/O */

    ck_assert_int_eq(c->ngroups, 1);
    const conf_group *g = &c->groups[0];
    ck_assert_int_eq(g->id, 1);
    ck_assert_str_eq(g->primary, "h:1");
    ck_assert_int_eq(g->nreplicas, 0);
    ck_assert_int_eq(g->weight, 100);
    ck_assert_int_eq(g->state, GROUP_ACTIVE);
    ck_assert_int_eq(g->alias_of, 0);
    ck_assert_int_eq(g->line, 5);
    conf_free(c);
}
END_TEST

START_TEST(failover_keys)
{
    /* former_primaries: loaded in order; never also the primary or a replica;
     * failover.auto needs the admin account and its password file */
    const char *base =
        "auth: {mode: \"off\"}\n"
        "db: {name: s, user: u, password: p}\n"
        "%s"
        "groups:\n"
        "  - id: 2\n    primary: \"b:2\"\n    replicas: [\"c:3\"]\n    former_primaries: [%s]\n";
    char y[1024], err[CONF_ERR_MAX] = "";
    snprintf(y, sizeof y, base, "failover: {auto: true, after_s: 5, admin_user: adm, admin_password_file: /x/pw}\n",
             "\"a:1\", \"d:4\"");
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->groups[0].nformer, 2);
    ck_assert_str_eq(c->groups[0].former[0], "a:1");
    ck_assert_str_eq(c->groups[0].former[1], "d:4");
    ck_assert_int_eq(c->failover_auto, 1);
    ck_assert_int_eq(c->failover_after_s, 5);
    ck_assert_str_eq(c->failover_admin_user, "adm");
    conf_free(c);
    snprintf(y, sizeof y, base, "", "\"b:2\"");
    ck_assert_ptr_null(load(y, err, sizeof err));
    ck_assert_msg(strstr(err, "former primary b:2 is also its primary or a replica") != NULL, "%s", err);
    snprintf(y, sizeof y, base, "", "\"c:3\"");
    ck_assert_ptr_null(load(y, err, sizeof err));
    snprintf(y, sizeof y, base, "", "\"nope\"");
    ck_assert_ptr_null(load(y, err, sizeof err));
    snprintf(y, sizeof y, base, "failover: {auto: true}\n", "");
    ck_assert_ptr_null(load(y, err, sizeof err));
    ck_assert_msg(strstr(err, "failover.auto: needs failover.admin_user") != NULL, "%s", err);
    snprintf(y, sizeof y, base, "failover: {after_s: 0}\n", "");
    ck_assert_ptr_null(load(y, err, sizeof err));
}
END_TEST

START_TEST(explicit_values_override_defaults)
{
    const char *y =
        "node_id: 0\n"
        "log_level: debug\n"
        "auth: {mode: \"off\"}\n"
        "db:\n  name: s\n  user: u\n  password: \"\"\n  pool_size: 256\n"
        "selector:\n  window_s: 3600\n  threshold: 1\n"
        "kafka:\n  brokers: \"k1:9092,k2:9093\"\n"
        "merchant_db:\n  user: m\n  password: mp\n"
        "groups:\n"
        "  - id: 99\n    primary: \"[::1]:3306\"\n    replicas: [\"a:1\", \"b:2\"]\n"
        "    weight: 0\n    state: fenced\n"
        "  - id: 2\n    primary: \"db2.example:3306\"\n    state: draining\n    weight: 1000\n"
        "  - id: 3\n    state: retired\n    alias_of: 2\n"
        "  - id: 4\n    primary: \"c:1\"\n    replicas: []\n    weight: 1\n";
    char err[CONF_ERR_MAX] = "";
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->node_id, 0);
    ck_assert_str_eq(c->log_level, "debug");
    ck_assert_str_eq(c->auth_mode, "off");
    ck_assert_str_eq(c->auth_keys_file, "");
    ck_assert_str_eq(c->db_password, "");
    ck_assert_int_eq(c->db_pool_size, 256);
    ck_assert_int_eq(c->window_s, 3600);
    ck_assert_int_eq(c->threshold, 1);
    ck_assert_str_eq(c->kafka_brokers, "k1:9092,k2:9093");
    ck_assert_str_eq(c->merchant_user, "m");
    ck_assert_str_eq(c->merchant_password, "mp");
    ck_assert_int_eq(c->ngroups, 4);
    ck_assert_int_eq(c->groups[0].id, 99);
    ck_assert_str_eq(c->groups[0].primary, "[::1]:3306");
    ck_assert_int_eq(c->groups[0].nreplicas, 2);
    ck_assert_str_eq(c->groups[0].replicas[1], "b:2");
    ck_assert_int_eq(c->groups[0].weight, 0);
    ck_assert_int_eq(c->groups[0].state, GROUP_FENCED);
    ck_assert_int_eq(c->groups[1].state, GROUP_DRAINING);
    ck_assert_int_eq(c->groups[1].weight, 1000);
    ck_assert_int_eq(c->groups[2].state, GROUP_RETIRED);
    ck_assert_ptr_null(c->groups[2].primary);
    ck_assert_int_eq(c->groups[2].alias_of, 2);
    ck_assert_int_eq(c->groups[3].nreplicas, 0);
    ck_assert_int_eq(c->groups[3].line, 30);
    conf_free(c);
}
END_TEST

START_TEST(tls_and_secret_keys_load)
{
    const char *y =
        "db:\n  name: s\n  user: u\n  password_file: \"/run/pw\"\n"
        "  tls:\n    ca: \"/t/ca.pem\"\n    cert: \"/t/c.pem\"\n    key: \"/t/c.key\"\n"
        "redis:\n  username: skip\n  password: rpw\n"
        "  tls:\n    enabled: true\n    ca: \"/t/ca.pem\"\n    verify_server_cert: true\n    server_name: redis.internal\n"
        G1;
    char err[CONF_ERR_MAX] = "";
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->db_password_file, "/run/pw");
    ck_assert_str_eq(c->db_password, ""); /* filled by conf_load_files */
    ck_assert_int_eq(c->db_tls.enabled, 1);    /* auto: ca is set */
    ck_assert_int_eq(c->db_tls.verify_server_cert, 1);
    ck_assert_str_eq(c->db_tls.ca, "/t/ca.pem");
    ck_assert_str_eq(c->db_tls.cert, "/t/c.pem");
    ck_assert_str_eq(c->db_tls.key, "/t/c.key");
    ck_assert_int_eq(c->db_tls.line, 5);
    /* merchant_db: the application account's password file and TLS */
    ck_assert_str_eq(c->merchant_password_file, "/run/pw");
    ck_assert_int_eq(c->merchant_tls.enabled, 1);
    ck_assert_str_eq(c->merchant_tls.ca, "/t/ca.pem");
    ck_assert_str_eq(c->merchant_tls.cert, "/t/c.pem");
    ck_assert_str_eq(c->merchant_tls.key, "/t/c.key");
    ck_assert_str_eq(c->redis_username, "skip");
    ck_assert_str_eq(c->redis_password, "rpw");
    ck_assert_int_eq(c->redis_tls.enabled, 1);
    ck_assert_str_eq(c->redis_tls.cert, "");
    ck_assert_str_eq(c->redis_tls.server_name, "redis.internal");
    conf_free(c);
}
END_TEST

START_TEST(kafka_properties_pass_through_as_written)
{
    const char *y =
        MIN_DB G1
        "kafka:\n"                                       /* 7 */
        "  producer:\n"
        "    linger.ms: 5\n"                             /* 9: plain number -> "5" */
        "    security.protocol: SASL_SSL\n"
        "    sasl.password: \"p w: #1\"\n"
        "    enable.idempotence: TRUE\n"                 /* allowed: librdkafka reads it case-insensitively */
        "    acks: -1\n"
        "    ssl.ca.location: ''\n"
        "  consumer: {fetch.wait.max.ms: \"20\", auto.offset.reset: smallest, enable.auto.commit: false,\n"
        "             client_rack: r-1}\n";
    char err[CONF_ERR_MAX] = "";
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    static const char *const pk[] = {"linger.ms", "security.protocol", "sasl.password", "enable.idempotence", "acks",
                                     "ssl.ca.location"};
    static const char *const pv[] = {"5", "SASL_SSL", "p w: #1", "TRUE", "-1", ""};
    ck_assert_int_eq(c->kafka_producer.n, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_str_eq(c->kafka_producer.kv[i].key, pk[i]);
        ck_assert_str_eq(c->kafka_producer.kv[i].val, pv[i]);
        ck_assert_int_eq(c->kafka_producer.kv[i].line, 9 + i);
    }
    ck_assert_int_eq(c->kafka_consumer.n, 4);
    ck_assert_str_eq(conf_strmap_get(&c->kafka_consumer, "fetch.wait.max.ms"), "20");
    ck_assert_str_eq(conf_strmap_get(&c->kafka_consumer, "auto.offset.reset"), "smallest");
    ck_assert_str_eq(conf_strmap_get(&c->kafka_consumer, "enable.auto.commit"), "false");
    ck_assert_str_eq(conf_strmap_get(&c->kafka_consumer, "client_rack"), "r-1");
    ck_assert_ptr_null(conf_strmap_get(&c->kafka_consumer, "linger.ms"));
    ck_assert_ptr_null(conf_strmap_get(NULL, "x"));
    conf_free(c);

    /* an empty mapping, written either way */
    c = load(MIN_DB G1 "kafka:\n  producer:\n  consumer: {}\n", err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->kafka_producer.n, 0);
    ck_assert_int_eq(c->kafka_consumer.n, 0);
    conf_free(c);
}
END_TEST

START_TEST(tls_explicit_off_and_merchant_own_settings)
{
    const char *y =
        "db:\n  name: s\n  user: u\n  password: p\n"
        "  tls:\n    enabled: false\n    ca: \"/t/ca.pem\"\n"
        "merchant_db:\n  password: mp\n  tls:\n    ca: \"/m/ca.pem\"\n    verify_server_cert: false\n"
        "redis:\n  tls:\n    enabled: true\n    verify_server_cert: false\n"
        G1;
    char err[CONF_ERR_MAX] = "";
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->db_tls.enabled, 0); /* explicit false wins over ca */
    ck_assert_str_eq(c->db_tls.ca, "/t/ca.pem");
    ck_assert_int_eq(c->merchant_tls.enabled, 1);
    ck_assert_str_eq(c->merchant_tls.ca, "/m/ca.pem");
    ck_assert_int_eq(c->merchant_tls.verify_server_cert, 0);
    ck_assert_str_eq(c->merchant_password, "mp");
    ck_assert_str_eq(c->merchant_password_file, "");
    /* encryption without verification only when written down */
    ck_assert_int_eq(c->redis_tls.enabled, 1);
    ck_assert_int_eq(c->redis_tls.verify_server_cert, 0);
    ck_assert_str_eq(c->redis_tls.ca, "");
    conf_free(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* the I/O phase: password files and TLS files (conf_load_files)             */

static char tmpdir[64];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_conf.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tmp_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* tmpdir/name with content, mode; returns the path (static buffer rotation) */
static const char *tmp_file(const char *name, const char *content, mode_t mode)
{
    static char paths[4][128];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 128, "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs(content, f);
    fclose(f);
    ck_assert_int_eq(chmod(p, mode), 0);
    return p;
}

/* conf_load on a file written with this text */
static conf *load_file(const char *text, char *err, size_t cap)
{
    const char *path = tmp_file("c.yaml", text, 0644);
    return conf_load(path, err, cap);
}

START_TEST(password_files_are_read)
{
    char y[1024], err[CONF_ERR_MAX] = "";
    const char *dbpw = tmp_file("db.pw", "s3cret\n", 0600);
    char dbp[128];
    snprintf(dbp, sizeof dbp, "%s", dbpw);
    const char *rpw = tmp_file("redis.pw", "r3dis pw\r\n", 0400);
    snprintf(y, sizeof y, "db:\n  name: s\n  user: u\n  password_file: \"%s\"\nredis:\n  password_file: \"%s\"\n" G1,
             dbp, rpw);
    conf *c = load_file(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->db_password, "s3cret");
    ck_assert_str_eq(c->merchant_password, "s3cret"); /* the same account, the same file */
    ck_assert_str_eq(c->redis_password, "r3dis pw");
    conf_free(c);
}
END_TEST

START_TEST(password_file_readable_by_others_is_refused)
{
    char y[1024], err[CONF_ERR_MAX] = "";
    const char *pw = tmp_file("db.pw", "s3cret\n", 0644);
    snprintf(y, sizeof y, "db:\n  name: s\n  user: u\n  password_file: \"%s\"\n" G1, pw);
    ck_assert_ptr_null(load_file(y, err, sizeof err));
    ck_assert_msg(strstr(err, "db.password_file: ") && strstr(err, "mode 0644 lets group or others read a secret"),
                  "%s", err);
    ck_assert_ptr_null(strstr(err, "s3cret"));
}
END_TEST

START_TEST(password_file_missing_or_empty_is_an_error)
{
    char y[1024], err[CONF_ERR_MAX] = "";
    snprintf(y, sizeof y, MIN_DB G1 "redis:\n  password_file: \"%s/nope\"\n", tmpdir);
    ck_assert_ptr_null(load_file(y, err, sizeof err));
    ck_assert_msg(strstr(err, "redis.password_file: cannot open ") && strstr(err, "No such file"), "%s", err);

    const char *pw = tmp_file("empty.pw", "\n", 0600);
    snprintf(y, sizeof y, MIN_DB G1 "redis:\n  password_file: \"%s\"\n", pw);
    ck_assert_ptr_null(load_file(y, err, sizeof err));
    ck_assert_msg(strstr(err, "is empty") != NULL, "%s", err);

    pw = tmp_file("two.pw", "a\nb\n", 0600);
    snprintf(y, sizeof y, MIN_DB G1 "redis:\n  password_file: \"%s\"\n", pw);
    ck_assert_ptr_null(load_file(y, err, sizeof err));
    ck_assert_msg(strstr(err, "control character in the password") != NULL, "%s", err);
}
END_TEST

START_TEST(tls_key_mode_and_files_are_checked)
{
    char y[2048], err[CONF_ERR_MAX] = "", ca[128], crt[128];
    snprintf(ca, sizeof ca, "%s", tmp_file("ca.pem", "x", 0644));
    snprintf(crt, sizeof crt, "%s", tmp_file("c.pem", "x", 0644));
    const char *key = tmp_file("c.key", "x", 0640);
    snprintf(y, sizeof y, MIN_DB G1 "redis:\n  tls:\n    ca: \"%s\"\n    cert: \"%s\"\n    key: \"%s\"\n", ca, crt, key);
    ck_assert_ptr_null(load_file(y, err, sizeof err));
    ck_assert_msg(strstr(err, "redis.tls.key: ") && strstr(err, "mode 0640"), "%s", err);

    ck_assert_int_eq(chmod(key, 0600), 0);
    conf *c = load_file(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    conf_free(c);

    /* a missing CA is found at load, not at the first connect */
    snprintf(y, sizeof y, "db:\n  name: s\n  user: u\n  tls:\n    ca: \"%s/none.pem\"\n" G1, tmpdir);
    ck_assert_ptr_null(load_file(y, err, sizeof err));
    ck_assert_msg(strstr(err, "db.tls.ca: cannot open ") != NULL, "%s", err);

    /* TLS explicitly off: the files are not looked at */
    snprintf(y, sizeof y, "db:\n  name: s\n  user: u\n  tls:\n    enabled: false\n    ca: \"%s/none.pem\"\n" G1, tmpdir);
    c = load_file(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    conf_free(c);
}
END_TEST

START_TEST(kafka_properties_at_most_64)
{
    char y[8192];
    size_t o = (size_t)snprintf(y, sizeof y, MIN_DB G1 "kafka:\n  producer:\n");
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(y + o, sizeof y - o, "    p%d.x: v\n", i);
    char err[CONF_ERR_MAX] = "";
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->kafka_producer.n, 64);
    ck_assert_str_eq(c->kafka_producer.kv[63].key, "p63.x");
    conf_free(c);
    snprintf(y + o, sizeof y - o, "    p64.x: v\n");
    expect_error("65 producer properties", y, strlen(y), 9 + 64, "kafka.producer: more than 64 entries");
}
END_TEST

/* ------------------------------------------------------------------------ */
/* bad inputs: each fails at the named line with the named message           */

struct bad_case {
    const char *name;
    const char *yaml;
    int line;
    const char *sub;
};

static const struct bad_case bad[] = {
    /* phase 1: YAML */
    {"syntax: bad indentation", "db:\n  name: s\n   user: u\n", 3, "mapping values are not allowed"},
    {"syntax: unclosed flow list", MIN_DB "groups: [\n  {id: 1}\nnode_id: 2\n", 6, "did not find expected ',' or ']'"},
    {"syntax: tab indentation", MIN_DB "selector:\n\twindow_s: 5\n", 5, "cannot start any token"},
    {"syntax: unterminated quote", MIN_DB G1 "listen: \"127.0.0.1:80\n", 8, "unexpected end of stream"},
    {"duplicate top-level key", MIN_DB G1 "node_id: 1\nnode_id: 2\n", 8, "duplicate key 'node_id' (first on line 7)"},
    {"duplicate section", MIN_DB G1 "db:\n  name: x\n", 7, "duplicate key 'db'"},
    {"duplicate key in section", "db:\n  name: s\n  user: u\n  user: v\n" G1, 4, "duplicate key 'db.user'"},
    {"duplicate key in group", MIN_DB "groups:\n  - id: 1\n    primary: \"h:1\"\n    weight: 5\n    weight: 6\n", 8,
     "duplicate key 'groups[0].weight'"},
    {"duplicate key in second group", MIN_DB G1 "  - id: 2\n    id: 3\n", 8, "duplicate key 'groups[1].id'"},
    {"alias rejected", MIN_DB "x: &a 1\n" G1, 4, "anchors are not supported"},
    {"alias use rejected", MIN_DB "groups:\n  - &g {id: 1, primary: \"h:1\"}\n  - *g\n", 5, "not supported"},
    {"tag rejected", MIN_DB G1 "node_id: !!int 5\n", 7, "tags are not supported"},
    {"two documents", MIN_DB G1 "---\nnode_id: 2\n", 7, "only one YAML document"},
    {"non-scalar key", MIN_DB G1 "? [a, b]\n: 1\n", 7, "keys must be scalars"},
    {"top level is a list", "- a\n- b\n", 1, "top level must be a mapping"},
    {"top level is a scalar", "hello\n", 1, "top level must be a mapping"},
    {"invalid utf-8", MIN_DB G1 "listen: \"\xff\xfe\"\n", 7, "invalid"},
    /* phase 2: keys and types */
    {"unknown top-level key", MIN_DB G1 "nodeid: 3\n", 7, "unknown key 'nodeid'"},
    {"unknown nested key", "db:\n  name: s\n  user: u\n  passwrd: x\n" G1, 4, "unknown key 'db.passwrd'"},
    {"unknown key in group", MIN_DB "groups:\n  - id: 1\n    primry: \"h:1\"\n", 6, "unknown key 'groups[0].primry'"},
    {"unknown section", MIN_DB G1 "metrics:\n  port: 9\n", 7, "unknown key 'metrics'"},
    {"bool not true or false", MIN_DB G1 "terminals:\n  enforce: yes\n", 8,
     "terminals.enforce: expected true or false, got 'yes'"},
    {"quoted bool", MIN_DB G1 "terminals:\n  enforce: \"true\"\n", 8, "terminals.enforce: expected true or false"},
    {"bool as a list", MIN_DB G1 "terminals:\n  enforce: [true]\n", 8, "terminals.enforce: expected true or false"},
    {"time zone with ..", MIN_DB G1 "refunds:\n  timezone: \"../../etc/passwd\"\n", 8,
     "refunds.timezone: '../../etc/passwd' is not a time zone name"},
    {"time zone empty", MIN_DB G1 "refunds:\n  timezone: \"\"\n", 8, "is not a time zone name"},
    {"int: 0 below min", MIN_DB G1 "selector:\n  window_s: 0\n", 8, "selector.window_s: 0 out of range 1..3600"},
    {"int: above max", MIN_DB G1 "selector:\n  window_s: 3601\n", 8, "selector.window_s: 3601 out of range 1..3600"},
    {"int: negative", "node_id: -1\n" MIN_DB G1, 1, "node_id: -1 out of range 0..999"},
    {"int: node_id above max", "node_id: 1000\n" MIN_DB G1, 1, "node_id: 1000 out of range 0..999"},
    {"int: pool_size 0", "db:\n  name: s\n  user: u\n  pool_size: 0\n" G1, 4, "db.pool_size: 0 out of range 1..256"},
    {"int: max_inflight 4097", "db:\n  name: s\n  user: u\n  max_inflight: 4097\n" G1, 4,
     "db.max_inflight: 4097 out of range 1..4096"},
    {"int: threshold 1000001", MIN_DB G1 "selector:\n  threshold: 1000001\n", 8, "out of range 1..1000000"},
    {"int: max_body_bytes 1023", MIN_DB G1 "request:\n  max_body_bytes: 1023\n", 8,
     "request.max_body_bytes: 1023 out of range 1024..1048576"},
    {"int: overflows int64", MIN_DB G1 "prober:\n  fresh_ms: 99999999999999999999999\n", 8,
     "prober.fresh_ms: 99999999999999999999999 out of range 100..60000"},
    {"int: just over int32", MIN_DB G1 "prober:\n  fresh_ms: 4294967396\n", 8, "4294967396 out of range"},
    {"int: 6o is not an integer", MIN_DB G1 "selector:\n  window_s: 6o\n", 8,
     "selector.window_s: expected a plain decimal integer, got '6o'"},
    {"int: hex", MIN_DB G1 "selector:\n  window_s: 0x10\n", 8, "plain decimal integer"},
    {"int: octal-looking leading zero", MIN_DB G1 "selector:\n  window_s: 060\n", 8, "plain decimal integer"},
    {"int: exponent", MIN_DB G1 "selector:\n  window_s: 1e3\n", 8, "plain decimal integer"},
    {"int: plus sign", MIN_DB G1 "selector:\n  window_s: +5\n", 8, "plain decimal integer"},
    {"int: fraction", MIN_DB G1 "selector:\n  window_s: 1.5\n", 8, "plain decimal integer"},
    {"int: underscore", MIN_DB G1 "selector:\n  threshold: 1_000\n", 8, "plain decimal integer"},
    {"int: quoted", MIN_DB G1 "selector:\n  window_s: \"60\"\n", 8, "got quoted '60'"},
    {"int: empty value", MIN_DB G1 "selector:\n  window_s:\n", 8, "selector.window_s: missing value"},
    {"type: mapping for int", MIN_DB G1 "selector:\n  window_s: {a: 1}\n", 8,
     "selector.window_s: expected an integer, got a mapping"},
    {"type: list for int", MIN_DB G1 "node_id: [1]\n", 7, "node_id: expected an integer, got a list"},
    {"type: list for section", "db: [1, 2]\n" G1, 1, "db: expected a mapping, got a list"},
    {"type: scalar for section", MIN_DB G1 "selector: 5\n", 7, "selector: expected a mapping, got a scalar"},
    {"type: mapping for string", MIN_DB G1 "listen:\n  host: x\n", 8, "listen: expected a host:port string, got a mapping"},
    {"type: list for password", "db:\n  name: s\n  user: u\n  password: [a]\n" G1, 4,
     "db.password: expected a string, got a list"},
    {"type: group entry is a scalar", MIN_DB "groups:\n  - 3\n", 5, "groups[0]: expected a mapping"},
    {"type: groups is a mapping", MIN_DB "groups:\n  id: 1\n", 5, "groups: expected a list"},
    {"type: replicas is a string", MIN_DB G1 "    replicas: \"h:2\"\n", 7, "groups[0].replicas: expected a list"},
    {"null string value", MIN_DB G1 "listen:\n", 7, "listen: missing value"},
    {"NUL byte in string", "db:\n  name: \"a\\0b\"\n  user: u\n" G1, 2, "db.name: value contains a NUL byte"},
    {"required db.user missing", "db:\n  name: s\n" G1, 1, "missing required key 'db.user'"},
    {"required db section missing", G1, 1, "missing required key 'db.name'"},
    {"db.name empty", "db:\n  name: \"\"\n  user: u\n" G1, 2, "db.name: must not be empty"},
    {"kafka.topic empty", MIN_DB G1 "kafka:\n  topic: \"\"\n", 8, "kafka.topic: must not be empty"},
    {"bad enum log_level", "log_level: verbose\n" MIN_DB G1, 1, "log_level: 'verbose' is not one of debug|info|warn|error"},
    {"bad enum log_level case", "log_level: INFO\n" MIN_DB G1, 1, "is not one of"},
    {"bad enum group state", MIN_DB G1 "    state: skipped\n", 7,
     "groups[0].state: 'skipped' is not one of active|fenced|draining|retired"},
    {"hostport: no port", MIN_DB "groups:\n  - id: 1\n    primary: \"h\"\n", 6,
     "groups[0].primary: 'h' is not a valid host:port"},
    {"hostport: port 0", MIN_DB "groups:\n  - id: 1\n    primary: \"h:0\"\n", 6, "not a valid host:port"},
    {"hostport: port 65536", MIN_DB "groups:\n  - id: 1\n    primary: \"h:65536\"\n", 6, "not a valid host:port"},
    {"hostport: signed port", MIN_DB "groups:\n  - id: 1\n    primary: \"h:+80\"\n", 6, "not a valid host:port"},
    {"hostport: space", MIN_DB "groups:\n  - id: 1\n    primary: \"h: 80\"\n", 6, "not a valid host:port"},
    {"hostport: no host", MIN_DB "groups:\n  - id: 1\n    primary: \":80\"\n", 6, "not a valid host:port"},
    {"hostport: listen", "listen: localhost\n" MIN_DB G1, 1, "listen: 'localhost' is not a valid host:port"},
    {"hostport: redis", MIN_DB G1 "redis:\n  addr: \"r:x\"\n", 8, "redis.addr: 'r:x' is not a valid host:port"},
    {"hostport: merchant", MIN_DB G1 "merchant_db:\n  addr: m\n", 8, "merchant_db.addr"},
    {"hostport: replica", MIN_DB G1 "    replicas:\n      - \"h:2\"\n      - bad\n", 9,
     "groups[0].replicas[1]: 'bad' is not a valid host:port"},
    {"hostlist: empty element", MIN_DB G1 "kafka:\n  brokers: \"a:1,,b:2\"\n", 8, "kafka.brokers"},
    /* kafka.producer / kafka.consumer: shape */
    {"kafka props: a list", MIN_DB G1 "kafka:\n  producer: [a, b]\n", 8,
     "kafka.producer: expected a mapping of name: value, got a list"},
    {"kafka props: a scalar", MIN_DB G1 "kafka:\n  consumer: x\n", 8, "kafka.consumer: expected a mapping"},
    {"kafka props: value is a mapping", MIN_DB G1 "kafka:\n  producer:\n    linger.ms: {a: 1}\n", 9,
     "kafka.producer.linger.ms: expected a string, got a mapping"},
    {"kafka props: value is a list", MIN_DB G1 "kafka:\n  consumer:\n    debug: [a]\n", 9,
     "kafka.consumer.debug: expected a string, got a list"},
    {"kafka props: value missing", MIN_DB G1 "kafka:\n  producer:\n    linger.ms:\n", 9,
     "kafka.producer.linger.ms: missing value"},
    {"kafka props: bad name", MIN_DB G1 "kafka:\n  producer:\n    \"linger ms\": 5\n", 9,
     "kafka.producer: 'linger ms' is not a valid name"},
    {"kafka props: name too long", MIN_DB G1 "kafka:\n  producer:\n    "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: 1\n",
     9, "is not a valid name ([A-Za-z0-9._-], 1..128 characters)"},
    {"kafka props: duplicate", MIN_DB G1 "kafka:\n  producer:\n    acks: all\n    acks: all\n", 10,
     "duplicate key 'kafka.producer.acks'"},
    /* kafka.producer / kafka.consumer: what the product relies on is refused */
    {"relay acks 1", MIN_DB G1 "kafka:\n  producer:\n    acks: 1\n", 9,
     "kafka.producer.acks: '1' is refused (must be all|-1): the relay deletes an outbox row only after every "
     "in-sync replica has the event"},
    {"relay acks 0", MIN_DB G1 "kafka:\n  producer:\n    linger.ms: 5\n    acks: \"0\"\n", 10,
     "kafka.producer.acks: '0' is refused"},
    {"relay request.required.acks", MIN_DB G1 "kafka:\n  producer:\n    request.required.acks: 1\n", 9,
     "kafka.producer.request.required.acks: '1' is refused (must be all|-1)"},
    {"relay idempotence off", MIN_DB G1 "kafka:\n  producer:\n    enable.idempotence: false\n", 9,
     "kafka.producer.enable.idempotence: 'false' is refused (must be true): a retried send must not duplicate"},
    {"relay transactional.id", MIN_DB G1 "kafka:\n  producer:\n    transactional.id: t\n", 9,
     "kafka.producer.transactional.id: not allowed here: the relay does not use Kafka transactions"},
    {"relay bootstrap.servers", MIN_DB G1 "kafka:\n  producer:\n    bootstrap.servers: \"a:1\"\n", 9,
     "kafka.producer.bootstrap.servers: not allowed here: set kafka.brokers"},
    {"relay metadata.broker.list", MIN_DB G1 "kafka:\n  producer:\n    metadata.broker.list: \"a:1\"\n", 9,
     "set kafka.brokers"},
    {"mirror auto commit", MIN_DB G1 "kafka:\n  consumer:\n    enable.auto.commit: true\n", 9,
     "kafka.consumer.enable.auto.commit: 'true' is refused (must be false): the mirror commits an offset only "
     "after the merchant-store commit"},
    {"mirror auto offset store", MIN_DB G1 "kafka:\n  consumer:\n    enable.auto.offset.store: \"true\"\n", 9,
     "kafka.consumer.enable.auto.offset.store: 'true' is refused (must be false)"},
    {"mirror offset reset latest", MIN_DB G1 "kafka:\n  consumer:\n    auto.offset.reset: latest\n", 9,
     "kafka.consumer.auto.offset.reset: 'latest' is refused (must be earliest|smallest|beginning)"},
    {"mirror group.id", MIN_DB G1 "kafka:\n  consumer:\n    group.id: g\n", 9,
     "kafka.consumer.group.id: not allowed here: set kafka.consumer_group"},
    {"mirror bootstrap.servers", MIN_DB G1 "kafka:\n  consumer:\n    bootstrap.servers: \"a:1\"\n", 9,
     "kafka.consumer.bootstrap.servers: not allowed here: set kafka.brokers"},
    {"producer rule is not a consumer rule", MIN_DB G1 "kafka:\n  consumer:\n    acks: all\n  producer:\n"
     "    enable.auto.commit: true\n    acks: 1\n", 12, "kafka.producer.acks: '1' is refused"},
    {"too many replicas", MIN_DB G1 "    replicas: [\"r:1\", \"r:2\", \"r:3\", \"r:4\",\n"
                                    "      \"r:5\", \"r:6\", \"r:7\", \"r:8\", \"r:9\"]\n", 8, "more than 8 replicas"},
    {"group id 0", MIN_DB "groups:\n  - id: 0\n    primary: \"h:1\"\n", 5, "groups[0].id: 0 out of range 1..99"},
    {"group id 100", MIN_DB "groups:\n  - id: 100\n    primary: \"h:1\"\n", 5, "groups[0].id: 100 out of range 1..99"},
    {"group id missing", MIN_DB "groups:\n  - primary: \"h:1\"\n", 5, "missing required key 'groups[0].id'"},
    {"weight -1", MIN_DB G1 "    weight: -1\n", 7, "groups[0].weight: -1 out of range 0..1000"},
    {"weight 1001", MIN_DB G1 "    weight: 1001\n", 7, "groups[0].weight: 1001 out of range 0..1000"},
    {"alias_of 0", MIN_DB G1 "  - id: 2\n    state: retired\n    alias_of: 0\n", 9, "groups[1].alias_of: 0 out of range 1..99"},
    {"alias_of 100", MIN_DB G1 "  - id: 2\n    state: retired\n    alias_of: 100\n", 9, "out of range 1..99"},
    {"no groups key", MIN_DB, 1, "missing required key 'groups'"},
    {"empty groups list", MIN_DB "groups: []\n", 4, "groups: at least one group is required"},
    {"null groups", MIN_DB "groups:\n", 4, "groups: at least one group is required"},
    /* tls and secrets */
    {"tls: scalar", "db:\n  name: s\n  user: u\n  tls: on\n" G1, 4, "db.tls: expected a mapping, got a scalar"},
    {"tls: unknown key", "db:\n  name: s\n  user: u\n  tls:\n    cafile: \"/x\"\n" G1, 5,
     "unknown key 'db.tls.cafile'"},
    {"tls: server_name is redis only", "db:\n  name: s\n  user: u\n  tls:\n    server_name: h\n" G1, 5,
     "unknown key 'db.tls.server_name'"},
    {"tls: yes is not a bool", MIN_DB G1 "redis:\n  tls:\n    enabled: yes\n", 9,
     "redis.tls.enabled: expected true or false, got 'yes'"},
    {"tls: quoted bool", MIN_DB G1 "redis:\n  tls:\n    verify_server_cert: \"false\"\n", 9,
     "redis.tls.verify_server_cert: expected true or false, got quoted 'false'"},
    {"tls: bool is a list", MIN_DB G1 "redis:\n  tls:\n    enabled: [true]\n", 9, "expected true or false, got a list"},
    {"tls: relative path", "db:\n  name: s\n  user: u\n  tls:\n    ca: \"certs/ca.pem\"\n" G1, 5,
     "db.tls.ca: 'certs/ca.pem' is not an absolute path"},
    {"tls: control char in path", "db:\n  name: s\n  user: u\n  tls:\n    ca: \"/a\\tb\"\n" G1, 5,
     "db.tls.ca: control character in a file path"},
    {"tls: cert without key", "db:\n  name: s\n  user: u\n  tls:\n    ca: \"/ca\"\n    cert: \"/c\"\n" G1, 4,
     "db.tls: cert and key go together"},
    {"tls: key without cert", MIN_DB G1 "redis:\n  tls:\n    ca: \"/ca\"\n    key: \"/k\"\n", 8,
     "redis.tls: cert and key go together"},
    {"tls: verify without ca", MIN_DB G1 "redis:\n  tls:\n    enabled: true\n", 8,
     "redis.tls: verify_server_cert needs ca"},
    {"tls: client cert only still verifies", MIN_DB G1 "merchant_db:\n  tls:\n    cert: \"/c\"\n    key: \"/k\"\n",
     8, "merchant_db.tls: verify_server_cert needs ca"},
    {"password_file relative", "db:\n  name: s\n  user: u\n  password_file: pw\n" G1, 4,
     "db.password_file: 'pw' is not an absolute path"},
    {"password and password_file", "db:\n  name: s\n  user: u\n  password: x\n  password_file: \"/pw\"\n" G1, 0,
     "db.password and db.password_file are exclusive"},
    {"redis password and file", MIN_DB G1 "redis:\n  password: x\n  password_file: \"/pw\"\n", 0,
     "redis.password and redis.password_file are exclusive"},
    /* phase 3: across fields */
    {"duplicate group id", MIN_DB "groups:\n  - id: 1\n    primary: \"h:1\"\n  - id: 1\n    primary: \"h:2\"\n", 7,
     "groups[1]: duplicate group id 1 (first on line 5)"},
    {"active group without primary", MIN_DB "groups:\n  - id: 1\n    primary: \"h:1\"\n  - id: 2\n    weight: 5\n", 7,
     "group 2: missing required key 'primary'"},
    {"retired without alias", MIN_DB G1 "  - id: 5\n    state: retired\n", 7, "group 5: a retired group needs alias_of"},
    {"alias on active group", MIN_DB G1 "  - id: 2\n    primary: \"h:2\"\n    alias_of: 1\n", 7,
     "group 2: alias_of is only allowed on a retired group (state is ACTIVE)"},
    {"alias on fenced group", MIN_DB G1 "  - id: 2\n    primary: \"h:2\"\n    state: fenced\n    alias_of: 1\n", 7,
     "(state is FENCED)"},
    {"alias to unknown group", MIN_DB G1 "  - id: 5\n    state: retired\n    alias_of: 7\n", 7,
     "group 5: alias_of 7: no such group"},
    {"alias cycle", MIN_DB G1 "  - id: 4\n    state: retired\n    alias_of: 5\n  - id: 5\n    state: retired\n    alias_of: 4\n",
     7, "group 4: alias chain 4 -> 5 -> 4 is a cycle"},
    {"alias to itself", MIN_DB G1 "  - id: 4\n    state: retired\n    alias_of: 4\n", 7, "alias chain 4 -> 4 is a cycle"},
    {"every group retired", MIN_DB "groups:\n  - id: 1\n    state: retired\n    alias_of: 2\n"
                            "  - id: 2\n    state: retired\n    alias_of: 1\n", 4, "every group is retired"},
    {"active groups all weight 0", MIN_DB G1 "    weight: 0\n  - id: 2\n    primary: \"h:2\"\n    weight: 0\n", 5,
     "every active group has weight 0"},
    {"same primary in two groups", MIN_DB G1 "  - id: 2\n    primary: \"h:1\"\n", 7,
     "group 2: address h:1 is already used by group 1 (line 5)"},
    {"replica is another group's primary", MIN_DB G1 "  - id: 2\n    primary: \"h:2\"\n    replicas: [\"h:1\"]\n", 7,
     "address h:1 is already used by group 1"},
    {"replica equals own primary", MIN_DB G1 "    replicas: [\"h:1\"]\n", 5, "group 1: address h:1 is listed twice"},
    /* the HTTP edge */
    {"no listener", "listen: \"\"\nlisten_tls: \"\"\n" MIN_DB G1, 2, "listen and listen_tls are both empty"},
    {"listen_tls bad", "listen_tls: x\n" MIN_DB G1, 1, "listen_tls: 'x' is not a valid host:port"},
    {"listen_tls without files", "listen_tls: \"h:443\"\n" MIN_DB G1, 1, "listen_tls needs tls.cert and tls.key"},
    {"listen_tls without key", "listen_tls: \"h:443\"\ntls:\n  cert: /c\n" MIN_DB G1, 2,
     "listen_tls needs tls.cert and tls.key"},
    {"tls files without listen_tls", "tls:\n  cert: /c\n  key: /k\n" MIN_DB G1, 1,
     "tls: files set but listen_tls is empty"},
    {"client_ca without listen_tls", "tls:\n  client_ca: /ca\n" MIN_DB G1, 1, "listen_tls is empty"},
    {"tls relative path", "listen_tls: \"h:443\"\ntls:\n  cert: c.pem\n  key: /k\n" MIN_DB G1, 2,
     "tls.cert: 'c.pem' is not an absolute path"},
    {"tls control byte in path", "listen_tls: \"h:443\"\ntls:\n  cert: /c\n  key: \"/k\\t\"\n" MIN_DB G1, 2,
     "tls.key: control character in a file path"},
    {"tls unknown key", "tls:\n  ca: /x\n" MIN_DB G1, 2, "unknown key 'tls.ca'"},
    {"tls not a mapping", "tls: 5\n" MIN_DB G1, 1, "tls: expected a mapping, got a scalar"},
    {"same address twice", "listen: \"h:1\"\nlisten_tls: \"h:1\"\ntls: {cert: /c, key: /k}\n" MIN_DB G1, 2,
     "listen_tls: same address as listen"},
    {"http unknown key", MIN_DB G1 "http:\n  threads: 2\n", 8, "unknown key 'http.threads'"},
};

START_TEST(bad_input_fails_at_line_with_message)
{
    const struct bad_case *b = &bad[_i];
    expect_error(b->name, b->yaml, strlen(b->yaml), b->line, b->sub);
}
END_TEST

START_TEST(bad_input_without_error_buffer_does_not_crash)
{
    const struct bad_case *b = &bad[_i];
    ck_assert_ptr_null(conf_load_string("t.yaml", b->yaml, strlen(b->yaml), NULL, 0));
    char tiny[8];
    ck_assert_ptr_null(conf_load_string("t.yaml", b->yaml, strlen(b->yaml), tiny, sizeof tiny));
    ck_assert_uint_lt(strlen(tiny), sizeof tiny);
}
END_TEST

START_TEST(embedded_nul_in_input_is_an_error)
{
    static const char y[] = MIN_DB G1 "node_id: 1\0\n";
    expect_error("NUL in input", y, sizeof y - 1, 7, "control characters are not allowed");
}
END_TEST

START_TEST(empty_input_reports_missing_required_keys)
{
    expect_error("empty", "", 0, 1, "missing required key 'db.name'");
    expect_error("comment only", "# nothing\n", 10, 1, "missing required key 'db.name'");
}
END_TEST

START_TEST(deep_nesting_is_rejected_cleanly)
{
    size_t depth = 100000;
    char *y = malloc(depth * 2 + 16);
    ck_assert_ptr_nonnull(y);
    size_t o = 0;
    o += (size_t)sprintf(y, "x: ");
    for (size_t i = 0; i < depth; i++)
        y[o++] = '[';
    for (size_t i = 0; i < depth; i++)
        y[o++] = ']';
    y[o] = '\0';
    expect_error("deep nesting", y, o, 1, "nesting deeper than");
    free(y);
}
END_TEST

START_TEST(ten_megabyte_string_is_rejected_cleanly)
{
    size_t big = 10 * 1024 * 1024;
    const char *head = "db:\n  name: s\n  user: u\n  password: \"";
    const char *tail = "\"\n" G1;
    size_t hl = strlen(head), tl = strlen(tail);
    char *y = malloc(hl + big + tl + 1);
    ck_assert_ptr_nonnull(y);
    memcpy(y, head, hl);
    memset(y + hl, 'x', big);
    memcpy(y + hl + big, tail, tl + 1);
    expect_error("10 MB quoted string", y, hl + big + tl, 4, "db.password: value too long (10485760 bytes");

    /* the same as a plain scalar in a flow list */
    const char *head2 = MIN_DB G1 "    replicas: [";
    hl = strlen(head2);
    char *y2 = malloc(hl + big + 3);
    ck_assert_ptr_nonnull(y2);
    memcpy(y2, head2, hl);
    memset(y2 + hl, 'x', big);
    memcpy(y2 + hl + big, "]\n", 3);
    expect_error("10 MB plain scalar", y2, hl + big + 2, 7, "value too long");
    free(y);
    free(y2);
}
END_TEST

START_TEST(ninety_nine_groups_load_and_one_hundred_fail)
{
    size_t cap = 64 * 1024;
    char *y = malloc(cap);
    ck_assert_ptr_nonnull(y);
    size_t o = (size_t)snprintf(y, cap, MIN_DB "groups:\n");
    for (int i = 1; i <= 99; i++)
        o += (size_t)snprintf(y + o, cap - o, "  - {id: %d, primary: \"h:%d\"}\n", i, i);
    char err[CONF_ERR_MAX] = "";
    conf *c = conf_load_string("t.yaml", y, o, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(c->ngroups, 99);
    ck_assert_int_eq(c->groups[98].id, 99);
    ck_assert_int_eq(c->groups[98].line, 103);
    conf_free(c);
    o += (size_t)snprintf(y + o, cap - o, "  - {id: 1, primary: \"h:100\"}\n");
    expect_error("100 groups", y, o, 104, "groups: more than 99 groups");
    free(y);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* every bound documented in the example file is enforced                    */

struct bound {
    char section[32]; /* "" = top level */
    char key[48];
    long lo, hi;
};

static struct bound bounds[64];
static int nbounds;

/* First "N..M" in the comment of a "key: value  # ..." line. */
static int comment_range(const char *comment, long *lo, long *hi)
{
    for (const char *p = comment; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > comment && isdigit((unsigned char)p[-1])))
            continue;
        char *end;
        long a = strtol(p, &end, 10);
        if (strncmp(end, "..", 2) == 0 && isdigit((unsigned char)end[2])) {
            *lo = a;
            *hi = strtol(end + 2, NULL, 10);
            return 0;
        }
    }
    return -1;
}

static void read_documented_bounds(void)
{
    FILE *f = fopen(EXAMPLE, "r");
    ck_assert_ptr_nonnull(f);
    char line[512], section[32] = "";
    nbounds = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        const char *p = line;
        while (*p == ' ')
            p++;
        size_t indent = (size_t)(p - line);
        size_t kl = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        if (kl == 0 || p[kl] != ':')
            continue; /* comment, list item, blank */
        const char *val = p + kl + 1;
        while (*val == ' ')
            val++;
        bool has_value = *val != '#' && *val != '\n' && *val != '\0';
        if (indent == 0) {
            snprintf(section, sizeof section, "%.*s", has_value ? 0 : (int)kl, p);
            if (!has_value)
                continue;
        }
        const char *hash = strchr(val, '#');
        long lo, hi;
        if (!has_value || hash == NULL || comment_range(hash, &lo, &hi) != 0)
            continue;
        ck_assert_int_lt(nbounds, (int)(sizeof bounds / sizeof bounds[0]));
        struct bound *b = &bounds[nbounds++];
        snprintf(b->section, sizeof b->section, "%s", section);
        snprintf(b->key, sizeof b->key, "%.*s", (int)kl, p);
        b->lo = lo;
        b->hi = hi;
    }
    fclose(f);
}

/* A minimal config with SECTION.KEY set to V; *line gets the key's line and
 * *path the name used in messages. */
static void with_value(const struct bound *b, long v, char *out, size_t cap, int *line, char *path, size_t pcap)
{
    if (b->section[0] == '\0') {
        snprintf(out, cap, "%s: %ld\n" MIN_DB G1, b->key, v);
        *line = 1;
        snprintf(path, pcap, "%s", b->key);
    } else if (strcmp(b->section, "db") == 0) {
        snprintf(out, cap, MIN_DB "  %s: %ld\n" G1, b->key, v);
        *line = 4;
        snprintf(path, pcap, "db.%s", b->key);
    } else if (strcmp(b->section, "groups") == 0) {
        /* a second group keeps weight 0 on the first from being "all weights 0" */
        snprintf(out, cap, MIN_DB G1 "    %s: %ld\n  - {id: 2, primary: \"h:2\"}\n", b->key, v);
        *line = 7;
        snprintf(path, pcap, "groups[0].%s", b->key);
    } else {
        snprintf(out, cap, MIN_DB G1 "%s:\n  %s: %ld\n", b->section, b->key, v);
        *line = 8;
        snprintf(path, pcap, "%s.%s", b->section, b->key);
    }
}

START_TEST(every_documented_bound_is_enforced)
{
    read_documented_bounds();
    /* node_id, 5 in db, 3 selector, 3 prober, 4 request, 2 redis, 2 kafka, weight */
    ck_assert_int_ge(nbounds, 27);
    for (int i = 0; i < nbounds; i++) {
        const struct bound *b = &bounds[i];
        long ok[] = {b->lo, b->hi}, badv[] = {b->lo - 1, b->hi + 1};
        char y[1024], path[128], err[CONF_ERR_MAX], want[256], what[160];
        int line;
        for (int k = 0; k < 2; k++) {
            with_value(b, ok[k], y, sizeof y, &line, path, sizeof path);
            conf *c = load(y, err, sizeof err);
            ck_assert_msg(c != NULL, "%s = %ld (documented bound) rejected: %s", path, ok[k], err);
            conf_free(c);

            with_value(b, badv[k], y, sizeof y, &line, path, sizeof path);
            snprintf(want, sizeof want, "%s: %ld out of range %ld..%ld", path, badv[k], b->lo, b->hi);
            snprintf(what, sizeof what, "%s = %ld", path, badv[k]);
            expect_error(what, y, strlen(y), line, want);
        }
    }
}
END_TEST

/* ------------------------------------------------------------------------ */
/* files                                                                     */

START_TEST(missing_file_reports_cannot_open)
{
    char err[CONF_ERR_MAX];
    ck_assert_ptr_null(conf_load(CASES "/no-such-file.yaml", err, sizeof err));
    ck_assert_str_eq(err, CASES "/no-such-file.yaml: cannot open: No such file or directory");
}
END_TEST

START_TEST(bad_file_reports_its_path_and_line)
{
    char err[CONF_ERR_MAX];
    ck_assert_ptr_null(conf_load(CASES "/bad_window.yaml", err, sizeof err));
    ck_assert_str_eq(err, CASES "/bad_window.yaml:9: selector.window_s: expected a plain decimal integer, got '6o'");
}
END_TEST

START_TEST(unknown_time_zone_reports_its_line)
{
    char path[] = "/tmp/skip-test-conf-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char text[] = MIN_DB G1 "auth: {keys_file: k.yaml}\nrefunds:\n  timezone: Nowhere/Atlantis\n";
    ck_assert_int_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    char err[CONF_ERR_MAX], want[128];
    conf *c = conf_load(path, err, sizeof err);
    unlink(path);
    ck_assert_ptr_null(c);
    snprintf(want, sizeof want, "%s:9: refunds.timezone: unknown time zone 'Nowhere/Atlantis'", path);
    ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
}
END_TEST

START_TEST(directory_is_not_a_config)
{
    char err[CONF_ERR_MAX];
    ck_assert_ptr_null(conf_load(CASES, err, sizeof err));
    ck_assert_msg(strncmp(err, CASES ": cannot", strlen(CASES ": cannot")) == 0, "%s", err);
}
END_TEST

START_TEST(tls_only_listener_loads)
{
    const char *y = "listen: \"\"\nlisten_tls: \"0.0.0.0:8443\"\n"
                    "tls:\n  cert: /etc/s/c.pem\n  key: /etc/s/k.pem\n  client_ca: /etc/s/ca.pem\n"
                    "http: {io_threads: 4, workers: 8, max_connections: 100, header_timeout_ms: 100,\n"
                    "       body_timeout_ms: 200, idle_timeout_ms: 300}\n" MIN_DB G1;
    char err[CONF_ERR_MAX] = "";
    conf *c = load(y, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_str_eq(c->listen, "");
    ck_assert_str_eq(c->listen_tls, "0.0.0.0:8443");
    ck_assert_str_eq(c->tls_cert, "/etc/s/c.pem");
    ck_assert_str_eq(c->tls_key, "/etc/s/k.pem");
    ck_assert_str_eq(c->tls_client_ca, "/etc/s/ca.pem");
    ck_assert_int_eq(c->http_io_threads, 4);
    ck_assert_int_eq(c->http_workers, 8);
    ck_assert_int_eq(c->http_max_connections, 100);
    ck_assert_int_eq(c->http_header_timeout_ms, 100);
    ck_assert_int_eq(c->http_body_timeout_ms, 200);
    ck_assert_int_eq(c->http_idle_timeout_ms, 300);
    conf_free(c);
}
END_TEST

/* conf_load checks the TLS files: readable, the key mode 0600 */
START_TEST(tls_files_are_checked_at_load)
{
    char dir[] = "/tmp/skip-conf-tls-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char cert[128], key[128], ca[128], cfg[128], y[1024], err[CONF_ERR_MAX];
    snprintf(cert, sizeof cert, "%s/c.pem", dir);
    snprintf(key, sizeof key, "%s/k.pem", dir);
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cfg, sizeof cfg, "%s/s.yaml", dir);
    const char *files[] = {cert, key, ca};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(files[i], "w");
        ck_assert_ptr_nonnull(f);
        fputs("x\n", f);
        fclose(f);
    }
    snprintf(y, sizeof y, "listen_tls: \"127.0.0.1:1\"\ntls: {cert: %s, key: %s, client_ca: %s}\n" MIN_DB G1,
             cert, key, ca);
    FILE *f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs(y, f);
    fclose(f);

    ck_assert_int_eq(chmod(key, 0644), 0);
    ck_assert_ptr_null(conf_load(cfg, err, sizeof err));
    ck_assert_msg(strstr(err, "tls.key") && strstr(err, "mode 0644 lets group or others read the private key"), "%s",
                  err);
    ck_assert_int_eq(chmod(key, 0640), 0);
    ck_assert_ptr_null(conf_load(cfg, err, sizeof err));
    ck_assert_msg(strstr(err, "mode 0640"), "%s", err);
    ck_assert_int_eq(chmod(key, 0600), 0);
    conf *c = conf_load(cfg, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    conf_free(c);
    /* missing files */
    unlink(ca);
    ck_assert_ptr_null(conf_load(cfg, err, sizeof err));
    ck_assert_msg(strstr(err, "tls.client_ca: cannot open") != NULL, "%s", err);
    unlink(cert);
    ck_assert_ptr_null(conf_load(cfg, err, sizeof err));
    ck_assert_msg(strstr(err, "tls.cert: cannot open") != NULL, "%s", err);
    /* a directory is not a key file */
    ck_assert_int_eq(mkdir(cert, 0700), 0);
    ck_assert_ptr_null(conf_load(cfg, err, sizeof err));
    ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
    rmdir(cert);
    unlink(key);
    unlink(cfg);
    rmdir(dir);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* routing and aliases                                                       */

static const char *route_yaml =
    MIN_DB "groups:\n"
    "  - {id: 1, primary: \"h:1\"}\n"
    "  - {id: 2, primary: \"h:2\"}\n"
    "  - {id: 3, primary: \"h:3\", state: fenced}\n"
    "  - {id: 4, state: retired, alias_of: 2}\n"
    "  - {id: 5, state: retired, alias_of: 4}\n";

START_TEST(route_follows_alias_chain)
{
    char err[CONF_ERR_MAX] = "";
    conf *c = load(route_yaml, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(conf_route_group(c, 5), 2); /* 5 -> 4 -> 2 */
    ck_assert_int_eq(conf_route_group(c, 4), 2);
    ck_assert_int_eq(conf_route_group(c, 2), 2);
    ck_assert_int_eq(conf_route_group(c, 1), 1);
    ck_assert_int_eq(conf_route_group(c, 3), 3); /* fenced groups still serve their rows */
    conf_free(c);
}
END_TEST

/* The stamps a group's sweeper may expire: its own and those aliased to it,
 * never another live group's (whose copies a shrink may be moving in). */
START_TEST(routed_ids_are_the_stamps_a_group_owns)
{
    char err[CONF_ERR_MAX] = "";
    conf *c = load(route_yaml, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    int ids[CONF_MAX_GROUPS];
    int n = conf_routed_ids(c, 2, ids);
    ck_assert_int_eq(n, 3);   /* 2, and 4 -> 2, 5 -> 4 -> 2 */
    bool seen[CONF_MAX_GROUPS + 1] = {false};
    for (int i = 0; i < n; i++)
        seen[ids[i]] = true;
    ck_assert(seen[2] && seen[4] && seen[5]);
    ck_assert_int_eq(conf_routed_ids(c, 1, ids), 1);
    ck_assert_int_eq(ids[0], 1);
    ck_assert_int_eq(conf_routed_ids(c, 3, ids), 1);   /* fenced: still its own rows */
    ck_assert_int_eq(ids[0], 3);
    /* every stamp of the config is owned by exactly the group it routes to */
    for (int s = 1; s <= 5; s++) {
        int owners = 0;
        for (int g = 1; g <= 3; g++) {
            int k = conf_routed_ids(c, g, ids);
            for (int i = 0; i < k; i++)
                owners += ids[i] == s;
        }
        ck_assert_int_eq(owners, 1);
    }
    conf_free(c);
}
END_TEST

START_TEST(route_unknown_group_is_minus_one)
{
    char err[CONF_ERR_MAX] = "";
    conf *c = load(route_yaml, err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(conf_route_group(c, 6), -1);
    ck_assert_int_eq(conf_route_group(c, 0), -1);
    ck_assert_int_eq(conf_route_group(c, -3), -1);
    ck_assert_int_eq(conf_route_group(c, 100), -1);
    ck_assert_ptr_null(conf_group_by_id(c, 6));
    ck_assert_int_eq(conf_route_group(NULL, 1), -1);
    conf_free(c);
}
END_TEST

START_TEST(route_broken_chain_is_minus_one)
{
    /* A hand-built conf (not via the loader) with a cycle and a dangling alias:
     * routing must terminate and refuse. */
    conf *c = calloc(1, sizeof *c);
    ck_assert_ptr_nonnull(c);
    c->ngroups = 3;
    c->groups[0] = (conf_group){.id = 1, .state = GROUP_RETIRED, .alias_of = 2};
    c->groups[1] = (conf_group){.id = 2, .state = GROUP_RETIRED, .alias_of = 1};
    c->groups[2] = (conf_group){.id = 3, .state = GROUP_RETIRED, .alias_of = 9};
    ck_assert_int_eq(conf_route_group(c, 1), -1);
    ck_assert_int_eq(conf_route_group(c, 3), -1);
    conf_free(c);
}
END_TEST

START_TEST(default_alias_target_follows_spec)
{
    const int rem[] = {1, 2, 3};
    ck_assert_int_eq(conf_default_alias_target(5, rem, 3), 2); /* 5 groups -> 3: 5 -> 2 */
    ck_assert_int_eq(conf_default_alias_target(4, rem, 3), 1); /* 4 -> 1 */
    ck_assert_int_eq(conf_default_alias_target(6, rem, 3), 3); /* k == 0 -> last */
    const int rem2[] = {2, 7};
    ck_assert_int_eq(conf_default_alias_target(9, rem2, 2), 2);
    ck_assert_int_eq(conf_default_alias_target(8, rem2, 2), 7);
    const int one[] = {4};
    ck_assert_int_eq(conf_default_alias_target(5, one, 1), 4);
}
END_TEST

START_TEST(default_alias_target_without_remaining_is_minus_one)
{
    const int rem[] = {1};
    ck_assert_int_eq(conf_default_alias_target(5, rem, 0), -1);
    ck_assert_int_eq(conf_default_alias_target(5, NULL, 0), -1);
    ck_assert_int_eq(conf_default_alias_target(0, rem, 1), -1);
}
END_TEST

START_TEST(group_state_names)
{
    ck_assert_str_eq(conf_group_state_name(GROUP_ACTIVE), "ACTIVE");
    ck_assert_str_eq(conf_group_state_name(GROUP_SKIPPED), "SKIPPED");
    ck_assert_str_eq(conf_group_state_name(GROUP_FENCED), "FENCED");
    ck_assert_str_eq(conf_group_state_name(GROUP_DRAINING), "DRAINING");
    ck_assert_str_eq(conf_group_state_name(GROUP_RETIRED), "RETIRED");
    ck_assert_str_eq(conf_group_state_name(GROUP_STATE_MAX), "UNKNOWN");
}
END_TEST

START_TEST(conf_free_null_is_a_no_op)
{
    conf_free(NULL);
}
END_TEST

/* fuzz_conf (long run of 2 Dec 2026): an over-long bad value was cut in the
 * middle of a multi-byte character ("\342..."), so the error text was not
 * UTF-8. The message must stay valid UTF-8 and say where it was cut. */
START_TEST(error_text_is_cut_on_a_character_boundary)
{
    static const char y[] = "db:\n  name: s\n  user: u\ngroups:\n  - id: 1\n    primary: \"h:1\"\nprober:\n"
                            "  fresh_ms: 99999# ipstor2147483648e configuration \342\200\224 every .600\n";
    for (size_t cap = 8; cap <= CONF_ERR_MAX; cap++) {
        char err[CONF_ERR_MAX];
        conf *c = conf_load_string("fz.yaml", y, sizeof y - 1, err, cap);
        ck_assert_ptr_null(c);
        ck_assert_msg(utf8_valid(err, strlen(err)), "cap %zu: not UTF-8: %s", cap, err);
    }
    char err[CONF_ERR_MAX];
    ck_assert_ptr_null(conf_load_string("fz.yaml", y, sizeof y - 1, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "prober.fresh_ms"));
    ck_assert_ptr_nonnull(strstr(err, "...'"));
    /* a value cut right after a whole character keeps it */
    static const char z[] = "db:\n  name: s\n  user: u\ngroups:\n  - id: 1\n    primary: \"h:1\"\nprober:\n"
                            "  fresh_ms: \303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
                            "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
                            "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251"
                            "\303\251\303\251\303\251\303\251\303\251\303\251\303\251\303\251x\n";
    ck_assert_ptr_null(conf_load_string("fz.yaml", z, sizeof z - 1, err, sizeof err));
    ck_assert_msg(utf8_valid(err, strlen(err)), "not UTF-8: %s", err);
    ck_assert_ptr_nonnull(strstr(err, "\303\251..."));
    /* fuzz_conf (CI, 2026-12-02): the value of a listen address with a CJK
     * character, its message cut by the buffer itself */
    static const char w[] = "listen: lo\350\235\220:rhos";
    for (size_t cap = 8; cap <= CONF_ERR_MAX; cap++) {
        conf *c = conf_load_string("fz.yaml", w, sizeof w - 1, err, cap);
        ck_assert_ptr_null(c);
        ck_assert_msg(utf8_valid(err, strlen(err)), "cap %zu: not UTF-8: %s", cap, err);
    }
}
END_TEST

/* spec §10: order events are signed; the key is required with auth on */
START_TEST(event_key_rule)
{
    char err[CONF_ERR_MAX];
    conf *c = conf_load_string("t.yaml", MIN_DB G1, strlen(MIN_DB G1), err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), -1);     /* auth on, no key */
    ck_assert(strstr(err, "kafka.event_key_file is required") != NULL);
    c->kafka_event_key = strdup("short");
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), -1);
    ck_assert(strstr(err, "shorter than 32 bytes") != NULL);
    free(c->kafka_event_key);
    c->kafka_event_key = strdup("0123456789abcdef0123456789abcdef");
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), 0);
    c->kafka_event_key_prev = strdup("0123456789abcdef0123456789abcdef");
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), -1);     /* same as current */
    free(c->kafka_event_key_prev);
    c->kafka_event_key_prev = strdup("previous-key-0123456789abcdef0123");
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), 0);
    free(c->kafka_event_key);
    c->kafka_event_key = NULL;
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), -1);     /* previous alone */
    free(c->auth_mode);
    c->auth_mode = strdup("off");
    free(c->kafka_event_key_prev);
    c->kafka_event_key_prev = NULL;
    ck_assert_int_eq(conf_event_key_check(c, err, sizeof err), 0);      /* off: unsigned allowed */
    conf_free(c);
}
END_TEST

static Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *t = tcase_create("load");
    tcase_add_test(t, example_loads_with_documented_values);
    tcase_add_test(t, failover_keys);
    tcase_add_test(t, example_with_retired_group_uncommented_loads);
    tcase_add_test(t, absent_keys_get_documented_defaults);
    tcase_add_test(t, explicit_values_override_defaults);
    tcase_add_test(t, tls_and_secret_keys_load);
    tcase_add_test(t, tls_explicit_off_and_merchant_own_settings);
    tcase_add_test(t, kafka_properties_pass_through_as_written);
    tcase_add_test(t, kafka_properties_at_most_64);
    tcase_add_test(t, every_documented_bound_is_enforced);
    tcase_add_test(t, unknown_time_zone_reports_its_line);
    tcase_add_test(t, missing_file_reports_cannot_open);
    tcase_add_test(t, bad_file_reports_its_path_and_line);
    tcase_add_test(t, directory_is_not_a_config);
    tcase_add_test(t, tls_only_listener_loads);
    tcase_add_test(t, tls_files_are_checked_at_load);
    suite_add_tcase(s, t);

    TCase *f = tcase_create("files");
    tcase_add_checked_fixture(f, tmp_setup, tmp_teardown);
    tcase_add_test(f, password_files_are_read);
    tcase_add_test(f, password_file_readable_by_others_is_refused);
    tcase_add_test(f, password_file_missing_or_empty_is_an_error);
    tcase_add_test(f, tls_key_mode_and_files_are_checked);
    suite_add_tcase(s, f);

    TCase *b = tcase_create("bad");
    int nbad = (int)(sizeof bad / sizeof bad[0]);
    tcase_add_loop_test(b, bad_input_fails_at_line_with_message, 0, nbad);
    tcase_add_loop_test(b, bad_input_without_error_buffer_does_not_crash, 0, nbad);
    tcase_add_test(b, error_text_is_cut_on_a_character_boundary);
    tcase_add_test(b, embedded_nul_in_input_is_an_error);
    tcase_add_test(b, empty_input_reports_missing_required_keys);
    tcase_add_test(b, deep_nesting_is_rejected_cleanly);
    tcase_add_test(b, ten_megabyte_string_is_rejected_cleanly);
    tcase_add_test(b, ninety_nine_groups_load_and_one_hundred_fail);
    tcase_set_timeout(b, 30);
    suite_add_tcase(s, b);

    TCase *r = tcase_create("route");
    tcase_add_test(r, route_follows_alias_chain);
    tcase_add_test(r, routed_ids_are_the_stamps_a_group_owns);
    tcase_add_test(r, route_unknown_group_is_minus_one);
    tcase_add_test(r, route_broken_chain_is_minus_one);
    tcase_add_test(r, default_alias_target_follows_spec);
    tcase_add_test(r, default_alias_target_without_remaining_is_minus_one);
    tcase_add_test(r, group_state_names);
    tcase_add_test(r, conf_free_null_is_a_no_op);
    tcase_add_test(r, event_key_rule);
    suite_add_tcase(s, r);
    return s;
}


int main(void)
{
    SRunner *sr = srunner_create(conf_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
