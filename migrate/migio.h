/*
 * migrate/migio.h — the I/O side of expand/shrink/audit (skipctl only):
 * shared helpers (migrate/util.c) and the three commands
 * (retire.c, add.c, audit.c). Every DB, HTTP and Redis call is
 * bounded by a timeout; no retry loop is unbounded.
 */
#ifndef MIGIO_H
#define MIGIO_H

#include <stdbool.h>
#include <stdint.h>
#include <mysql.h>
#include <jansson.h>
#include "config/conf.h"
#include "dal/dal.h"
#include "kv/kv.h"
#include "client/httpc.h"

/* Options every command shares. */
typedef struct {
    const char *config;       /* --config, default $SKIP_CONFIG */
    const char *daemons;      /* --daemons URL[,URL..] (commas or spaces), default $SKIP_DAEMON_URLS, else $SKIP_URL */
    const char *token;        /* unused: requests are signed (client/httpc.h, $SKIP_KEYS) */
    const char *admin_user;   /* --admin-user, $SKIP_DB_ADMIN_USER */
    const char *admin_password;
    bool json;
} mu_common;

/* Fill defaults from the environment. */
void mu_common_defaults(mu_common *c);

/* Connect as admin (or the app user when app=true) to addr, database db.
 * read_timeout_ms bounds every statement. NULL + err on failure. */
MYSQL *mu_connect(const mu_common *m, const conf *c, const char *addr, bool app, int read_timeout_ms,
                  char *err, size_t cap);

/* Statements on it: dal_exec, dal_query, dal_query_row, dal_query_int
 * (dal/dal.h), errors as dal_strerror(my, status). */

/* The group of c with this id (to edit before mu_conf_write), or NULL. */
conf_group *mu_group(conf *c, int id);

/* Load the config. NULL + err. */
conf *mu_conf_load(const char *path, char *err, size_t cap);
/* Write `c`'s groups into the config file atomically (temp, fsync, rename,
 * fsync dir), after validating the result with the daemon's loader. */
int mu_conf_write(const char *path, const conf *c, char *err, size_t cap);

/* Write data to path atomically: temp file, fsync, rename, fsync of the
 * directory. 0 / -1 with err. */
int mu_write_atomic(const char *path, const char *data, size_t len, char *err, size_t cap) SK_WUR;

/* POST /v1/admin/reload on every daemon in the list. 0 when all answered
 * {"reloaded":true}; -1 with the first failure in err. */
int mu_reload_all(const mu_common *m, char *err, size_t cap);

/* GET /v1/groups of one daemon url. Owned JSON or NULL. */
json_t *mu_groups(const mu_common *m, const char *url, char *err, size_t cap);
/* The object of group id in a /v1/groups answer (borrowed) or NULL. */
json_t *mu_group_obj(json_t *groups, int id);
/* Other calls to a daemon: httpc_call(url, m->token, ..., MU_HTTP_TIMEOUT_MS, ...)
 * (client/httpc.h). */
#define MU_HTTP_TIMEOUT_MS 5000

/* Number of daemon URLs in m->daemons and the i-th one (into buf). */
int mu_daemon_count(const mu_common *m);
const char *mu_daemon_url(const mu_common *m, int i, char *buf, size_t cap);

/* Redis from the config (redis.addr, its timeout). */
kv *mu_kv(const conf *c);

/* Is stdout a terminal? */
bool mu_tty(void);

/* Progress line on a tty: "\r label [#####.....] done/total rows  R rows/s  ETA Ns". */
void mu_progress(const char *label, int64_t done, int64_t total, double rate);

/* SQL text: sk_buf (common/sk.h) with values quoted by dal_sql_val
 * (dal/sqltext.h). */

/* ---- commands ---- */

typedef struct {
    mu_common m;
    int group, into;
    bool dry_run, drop, yes, abort;
    int chunk_rows;           /* --chunk-rows, default 5000 */
    int writers;              /* --writers K (1..MIG_MAX_WRITERS); 0 = $SKIP_RETIRE_WRITERS or the default */
    int throttle_ms;          /* --throttle-ms: sleep between chunks (tests, gentle runs) */
    int max_lag_s;            /* --max-lag, default 2 */
    int margin_ms;            /* --margin: clock-skew safety margin for catch-up, default 5000 */
    int freeze_ack_ms;        /* --freeze-timeout, default 1500 */
} mig_retire_opts;
int mig_retire(const mig_retire_opts *o);

typedef struct {
    mu_common m;
    int id;
    const char *primary, *replicas;
    int weight;
    int64_t ramp_ms;
    int max_failures;         /* --max-failures: failures_this_window that stop the ramp (default 1) */
} mig_add_opts;
int mig_add(const mig_add_opts *o);

typedef struct {
    mu_common m;
    bool fix;
    int settle_ms;            /* --settle: how long mirror lag may explain a difference */
} mig_audit_opts;
int mig_audit(const mig_audit_opts *o);

/* Group failover and rejoin (migrate/failover.c; docs/failover.md). */
typedef struct {
    mu_common m;
    int group;
    const char *to;              /* --to HOST:PORT, NULL = the most advanced replica */
    const char *expect_primary;  /* --expect-primary: no-op unless the config still names it (auto mode) */
    bool dry_run;
    bool auto_mode;              /* --auto: started by a daemon; a held lock is not an error */
    bool force_async;            /* --force-async: promote without semi-sync evidence (may lose commits) */
    int apply_wait_ms;           /* --apply-wait: how long the candidate may take to apply its relay log */
} mig_failover_opts;
int mig_failover(const mig_failover_opts *o);

typedef struct {
    mu_common m;
    int group;
    const char *addr;            /* the former primary to turn into a replica */
} mig_rejoin_opts;
int mig_rejoin(const mig_rejoin_opts *o);

/* Failover history of group g from its state file next to the config:
 * owned JSON array (newest last), or NULL when there is none. */
json_t *mig_failover_history(const char *config, int g);

#endif
