/*
 * migrate/migio.h — the I/O side of expand/shrink/audit (skipctl only):
 * shared helpers (migrate/util_io.c) and the three commands
 * (retire_io.c, add_io.c, audit_io.c). Every DB, HTTP and Redis call is
 * bounded by a timeout; no retry loop is unbounded.
 */
#ifndef MIGIO_H
#define MIGIO_H

#include <stdbool.h>
#include <stdint.h>
#include <mysql.h>
#include <jansson.h>
#include "config/conf.h"
#include "kv/kv.h"

/* Options every command shares. */
typedef struct {
    const char *config;       /* --config, default $SKIP_CONFIG */
    const char *daemons;      /* --daemons URL[,URL..], default $SKIP_URL */
    const char *token;        /* $SKIP_ADMIN_TOKEN or the config's admin_token */
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

/* Run SQL expecting one row; copies up to n columns into out[i] (cap each,
 * "" for NULL). 1 = row, 0 = no row, -1 = error (err). */
int mu_row(MYSQL *my, const char *sql, char out[][128], int n, char *err, size_t cap);
/* One integer (first column of the first row); -1 on error/no row. */
int64_t mu_int(MYSQL *my, const char *sql, char *err, size_t cap);
/* Execute (discarding results). 0 / -1 (err). */
int mu_exec(MYSQL *my, const char *sql, size_t len, char *err, size_t cap);

/* Load the config. NULL + err. */
conf *mu_conf_load(const char *path, char *err, size_t cap);
/* Write `c`'s groups into the config file atomically (temp, fsync, rename,
 * fsync dir), after validating the result with the daemon's loader. */
int mu_conf_write(const char *path, const conf *c, char *err, size_t cap);

/* POST /v1/admin/reload on every daemon in the list. 0 when all answered
 * {"reloaded":true}; -1 with the first failure in err. */
int mu_reload_all(const mu_common *m, char *err, size_t cap);

/* GET /v1/groups of one daemon url. Owned JSON or NULL. */
json_t *mu_groups(const mu_common *m, const char *url, char *err, size_t cap);
/* The object of group id in a /v1/groups answer (borrowed) or NULL. */
json_t *mu_group_obj(json_t *groups, int id);
/* POST path on one daemon with an optional JSON body; returns the HTTP
 * status (-1 transport error); *out (owned, may be NULL) gets the body. */
int mu_post(const mu_common *m, const char *url, const char *path, const char *body, json_t **out,
            char *err, size_t cap);

/* Number of daemon URLs in m->daemons and the i-th one (into buf). */
int mu_daemon_count(const mu_common *m);
const char *mu_daemon_url(const mu_common *m, int i, char *buf, size_t cap);

/* Redis from the config (redis.addr, its timeout). */
kv *mu_kv(const conf *c);

/* Is stdout a terminal? */
bool mu_tty(void);

/* Progress line on a tty: "\r label [#####.....] done/total rows  R rows/s  ETA Ns". */
void mu_progress(const char *label, int64_t done, int64_t total, double rate);

/* Escape into a growing SQL buffer. */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} mu_buf;
void mu_buf_put(mu_buf *b, const char *s, size_t n);
void mu_buf_str(mu_buf *b, const char *s);
/* Append a quoted escaped value ('...'), or NULL when v is NULL. */
void mu_buf_val(mu_buf *b, MYSQL *my, const char *v, unsigned long len);
void mu_buf_free(mu_buf *b);

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

#endif
