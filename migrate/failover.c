/*
 * migrate/failover.c — `skipctl group failover G` and `skipctl group rejoin
 * G HOST:PORT` (docs/failover.md; the decisions are the pure core in
 * failover/fo.c). Steps NONE -> CHECKED -> PROMOTED -> REPOINTED ->
 * CONFIGURED -> DONE, persisted in <config dir>/failover-G.state after every
 * step, so a crashed run resumes where it stopped (like group retire).
 *
 * One failover of a group at a time, across operators and daemons: the Redis
 * lock skip:fo:lock:G (SET NX PX, compare-and-delete); after taking it the
 * config is re-read, so a second attempt finds the group already failed over
 * and does nothing. Every DB, HTTP and Redis call is bounded by a timeout.
 */
#include "migrate/migio.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failover/fo.h"
#include "selector/sel.h"
#include "order/order.h"

#define FO_DB_TIMEOUT_MS 3000
#define FO_LOCK_TTL_MS 120000
#define FO_HISTORY_MAX 50

typedef struct {
    const mig_failover_opts *o;
    conf *c;
    conf_group *g;
    kv *kv;
    char path[4096];
    char token[64];
    bool locked;
    /* the job (state file) */
    fo_state st;
    char old_primary[128], new_primary[128];
    char others[CONF_MAX_REPLICAS][128];
    int nothers;
    char promoted_gtid[512];
    int64_t started_ms;
    json_t *history;               /* owned array */
    char err[1024];
} fr;

static void say(const fr *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const fr *f, const char *fmt, ...)
{
    if (f->o->m.json)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void state_path(const char *config, int g, char *out, size_t cap)
{
    char dcopy[4096];
    snprintf(dcopy, sizeof dcopy, "%s", config);
    snprintf(out, cap, "%s/failover-%d.state", dirname(dcopy), g);
}

static json_t *load_state_json(const char *path)
{
    if (access(path, F_OK) != 0)
        return NULL;
    return json_load_file(path, 0, NULL);
}

static int save(fr *f)
{
    json_t *others = json_array();
    for (int i = 0; i < f->nothers; i++)
        json_array_append_new(others, json_string(f->others[i]));
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:I,s:O}", "group", f->o->group, "state", fo_state_name(f->st),
                          "old_primary", f->old_primary, "new_primary", f->new_primary, "others", others,
                          "promoted_gtid", f->promoted_gtid, "started_ms", (json_int_t)f->started_ms, "history",
                          f->history);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_INDENT(1)) : NULL;
    json_decref(j);
    if (s == NULL) {
        snprintf(f->err, sizeof f->err, "out of memory");
        return -1;
    }
    int rc = mu_write_atomic(f->path, s, strlen(s), f->err, sizeof f->err);
    free(s);
    return rc;
}

static int step(fr *f, fo_event e)
{
    fo_state n;
    if (fo_next(f->st, e, &n) != 0) {
        snprintf(f->err, sizeof f->err, "internal: %s in state %s", fo_event_name(e), fo_state_name(f->st));
        return -1;
    }
    f->st = n;
    return save(f);
}

static void load_job(fr *f)
{
    f->history = json_array();
    json_t *j = load_state_json(f->path);
    if (j == NULL)
        return;
    const char *st = "NONE", *op = "", *np = "", *pg = "";
    json_t *others = NULL, *hist = NULL;
    json_int_t started = 0;
    if (json_unpack(j, "{s?s,s?s,s?s,s?o,s?s,s?I,s?o}", "state", &st, "old_primary", &op, "new_primary", &np,
                    "others", &others, "promoted_gtid", &pg, "started_ms", &started, "history", &hist) == 0) {
        if (fo_state_parse(st, &f->st) != 0)
            f->st = FO_ST_NONE;
        sk_strlcpy(f->old_primary, op, sizeof f->old_primary);
        sk_strlcpy(f->new_primary, np, sizeof f->new_primary);
        sk_strlcpy(f->promoted_gtid, pg, sizeof f->promoted_gtid);
        f->started_ms = started;
        for (size_t i = 0; json_is_array(others) && i < json_array_size(others) && i < CONF_MAX_REPLICAS; i++) {
            const char *a = json_string_value(json_array_get(others, i));
            if (a)
                sk_strlcpy(f->others[f->nothers++], a, sizeof f->others[0]);
        }
        if (json_is_array(hist)) {
            json_decref(f->history);
            f->history = json_incref(hist);
        }
    }
    json_decref(j);
}

json_t *mig_failover_history(const char *config, int g)
{
    char path[4096];
    if (config == NULL)
        return NULL;
    state_path(config, g, path, sizeof path);
    json_t *j = load_state_json(path);
    json_t *h = j ? json_incref(json_object_get(j, "history")) : NULL;
    json_decref(j);
    return h;
}

/* ---------------- lock ---------------- */

static int lock_take(fr *f)
{
    if (f->kv == NULL) {
        snprintf(f->err, sizeof f->err, "Redis not reachable: the failover lock cannot be taken");
        return -1;
    }
    snprintf(f->token, sizeof f->token, "%d.%lld", (int)getpid(), (long long)sk_now_ms());
    redisReply *x = kv_cmd(f->kv, "SET skip:fo:lock:%d %s NX PX %d", f->o->group, f->token, FO_LOCK_TTL_MS);
    bool ok = x && x->type == REDIS_REPLY_STATUS;
    if (x)
        freeReplyObject(x);
    if (!ok) {
        redisReply *h = kv_cmd(f->kv, "GET skip:fo:lock:%d", f->o->group);
        snprintf(f->err, sizeof f->err, "another failover of group %d is running (lock skip:fo:lock:%d held by %s)",
                 f->o->group, f->o->group, h && h->type == REDIS_REPLY_STRING ? h->str : "?");
        if (h)
            freeReplyObject(h);
        return -1;
    }
    f->locked = true;
    return 0;
}

static void lock_drop(fr *f)
{
    if (!f->locked)
        return;
    char key[48];
    snprintf(key, sizeof key, "skip:fo:lock:%d", f->o->group);
    redisReply *x = kv_cmd(f->kv, "EVAL %s 1 %s %s",
                           "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0",
                           key, f->token);
    if (x)
        freeReplyObject(x);
    f->locked = false;
}

/* ---------------- observation ---------------- */

static fo_primary_state observe_primary(fr *f, const char *addr)
{
    char err[256];
    MYSQL *my = mu_connect(&f->o->m, f->c, addr, false, 1000, err, sizeof err);
    if (my == NULL)
        return FO_PRIMARY_DEAD;
    int64_t ro = 0;
    sk_status st = dal_query_int(my, "SELECT @@global.read_only", &ro);
    mysql_close(my);
    if (st != SK_OK)
        return FO_PRIMARY_DEAD;
    return ro ? FO_PRIMARY_READONLY : FO_PRIMARY_WRITABLE;
}

static void observe_replica(fr *f, const char *addr, fo_replica *r, char *why, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->addr = addr;
    MYSQL *my = mu_connect(&f->o->m, f->c, addr, false, FO_DB_TIMEOUT_MS, why, cap);
    if (my == NULL)
        return;
    r->reachable = true;
    static const char *const names[] = {"Slave_SQL_Running", "Gtid_IO_Pos"};
    char row[2][DAL_CELL];
    sk_status st = dal_query_named(my, "SHOW SLAVE STATUS", names, row, 2);
    char pos[1][DAL_CELL];
    sk_status st2 = dal_query_row(my, "SELECT @@global.gtid_slave_pos", pos, 1);
    if (st == SK_OK && st2 == SK_OK) {
        r->is_replica = true;
        r->sql_running = strcmp(row[0], "Yes") == 0;
        if (fo_gtid_parse(row[1], &r->received) != 0 || fo_gtid_parse(pos[0], &r->applied) != 0)
            r->is_replica = false;
    } else if (st != SK_ENOT_FOUND) {
        snprintf(why, cap, "%s", dal_strerror(my, st != SK_OK ? st : st2));
        r->reachable = false;
    }
    mysql_close(my);
}

/* Split s at '|' into at most n fields, keeping empty ones; returns the count. */
static int split_bars(char *s, char **f, int n)
{
    int k = 0;
    while (k < n) {
        f[k++] = s;
        char *bar = strchr(s, '|');
        if (bar == NULL)
            break;
        *bar = '\0';
        s = bar + 1;
    }
    return k;
}

/* The earliest end of a failed probe of `primary` after the last successful
 * sample (after_ms), over every daemon's field of skip:fo:down:G; 0 = none. */
static int64_t load_down(fr *f, const char *primary, int64_t after_ms)
{
    int64_t best = 0;
    redisReply *x = f->kv ? kv_cmd(f->kv, "HGETALL skip:fo:down:%d", f->o->group) : NULL;
    for (size_t i = 1; x && x->type == REDIS_REPLY_ARRAY && i < x->elements; i += 2) {
        const redisReply *v = x->element[i];
        char buf[400], *fl[2];
        if (v->type != REDIS_REPLY_STRING)
            continue;
        sk_strlcpy(buf, v->str, sizeof buf);
        if (split_bars(buf, fl, 2) == 2 && strcmp(fl[0], primary) == 0) {
            int64_t at = strtoll(fl[1], NULL, 10);
            if (at >= after_ms && (best == 0 || at < best))
                best = at;
        }
    }
    if (x)
        freeReplyObject(x);
    return best;
}

/* The last prober record of `primary` (Redis skip:fo:ev:G, written by
 * prober/prober.c record_evidence) and the failed-probe marks after it. */
static void load_evidence(fr *f, const char *primary, fo_evidence *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->now_ms = sk_now_ms();
    redisReply *x = f->kv ? kv_cmd(f->kv, "GET skip:fo:ev:%d", f->o->group) : NULL;
    if (x && x->type == REDIS_REPLY_STRING) {
        char buf[800], *fl[8];
        sk_strlcpy(buf, x->str, sizeof buf);
        int n = split_bars(buf, fl, 8);
        if (n >= 5 && strcmp(fl[0], primary) == 0 && fo_gtid_parse(fl[4], &ev->binlog) == 0) {
            ev->known = true;
            ev->semi_sync_on = strcmp(fl[1], "1") == 0;
            ev->no_tx = strtoll(fl[2], NULL, 10);
            ev->at_ms = strtoll(fl[3], NULL, 10);
            if (n == 8 && fo_gtid_parse(fl[6], &ev->quiet) == 0) {
                ev->quiet_ms = strtoll(fl[5], NULL, 10);
                ev->timeout_ms = strtoll(fl[7], NULL, 10);
            }
        }
    }
    if (x)
        freeReplyObject(x);
    if (ev->known)
        ev->down_ms = load_down(f, primary, ev->at_ms);
}

/* ---------------- steps ---------------- */

static int check(fr *f)
{
    const conf_group *g = f->g;
    fo_replica reps[CONF_MAX_REPLICAS];
    char why[CONF_MAX_REPLICAS][256];
    fo_evidence ev;
    fo_choice ch;
    fo_primary_state ps;
    int64_t t0 = sk_mono_ms();
    for (;;) {
        ps = observe_primary(f, g->primary);
        for (int i = 0; i < g->nreplicas; i++) {
            why[i][0] = '\0';
            observe_replica(f, g->replicas[i], &reps[i], why[i], sizeof why[i]);
        }
        load_evidence(f, g->primary, &ev);
        ch = fo_choose(ps, reps, g->nreplicas, &ev, f->o->to, !f->o->force_async);
        /* a running SQL thread still applying its relay log: wait a little */
        if (ch.why != FO_R_NOT_APPLIED || sk_mono_ms() - t0 >= f->o->apply_wait_ms)
            break;
        sk_sleep_ms(100);
    }
    char a[512], b[512], e[512];
    if (ch.why != FO_OK) {
        int n = snprintf(f->err, sizeof f->err, "refused: group %d: %s: %s", f->o->group, fo_refusal_name(ch.why),
                         fo_refusal_text(ch.why));
        if (ch.culprit >= 0 && n > 0 && (size_t)n < sizeof f->err)
            n += snprintf(f->err + n, sizeof f->err - (size_t)n, " [replica %s: received %s, applied %s%s%s]",
                          reps[ch.culprit].addr, fo_gtid_format(&reps[ch.culprit].received, a, sizeof a),
                          fo_gtid_format(&reps[ch.culprit].applied, b, sizeof b), why[ch.culprit][0] ? ", " : "",
                          why[ch.culprit]);
        if ((ch.why == FO_R_MISSING || ch.why == FO_R_ASYNC || ch.why == FO_R_UNPROVEN) && n > 0 &&
            (size_t)n < sizeof f->err) {
            char q[512];
            int64_t down = ev.down_ms > 0 ? ev.down_ms : ev.now_ms;
            snprintf(f->err + n, sizeof f->err - (size_t)n,
                     " [old primary last seen at binlog %s, semi-sync %s; last acknowledged heartbeat %s; "
                     "stopped answering %lld ms after it%s; semi-sync timeout %lld ms]",
                     fo_gtid_format(&ev.binlog, e, sizeof e), ev.semi_sync_on ? "ON" : "OFF",
                     ev.quiet_ms > 0 ? fo_gtid_format(&ev.quiet, q, sizeof q) : "none",
                     ev.quiet_ms > 0 ? (long long)(down - ev.quiet_ms) : -1LL,
                     ev.down_ms > 0 ? "" : " (no failed-probe record: counted to now)", (long long)ev.timeout_ms);
        }
        return -1;
    }
    const fo_replica *c = &reps[ch.chosen];
    sk_strlcpy(f->old_primary, g->primary, sizeof f->old_primary);
    sk_strlcpy(f->new_primary, c->addr, sizeof f->new_primary);
    f->nothers = 0;
    for (int i = 0; i < g->nreplicas; i++)
        if (i != ch.chosen)
            sk_strlcpy(f->others[f->nothers++], g->replicas[i], sizeof f->others[0]);
    fo_gtid_format(&c->applied, f->promoted_gtid, sizeof f->promoted_gtid);
    say(f, "group %d: primary %s is dead; promoting %s (applied %s; old primary last seen at %s, semi-sync %s, "
        "stopped answering %lld ms after its last acknowledged heartbeat, timeout %lld ms)",
        f->o->group, f->old_primary, f->new_primary, f->promoted_gtid, fo_gtid_format(&ev.binlog, e, sizeof e),
        ev.known ? (ev.semi_sync_on ? "ON" : "OFF") : "unknown",
        ev.quiet_ms > 0 ? (long long)((ev.down_ms > 0 ? ev.down_ms : ev.now_ms) - ev.quiet_ms) : -1LL,
        (long long)ev.timeout_ms);
    return 0;
}

static int run_sql(fr *f, MYSQL *my, const char *addr, const char *sql)
{
    sk_status st = dal_exec(my, sql, strlen(sql));
    if (st != SK_OK) {
        snprintf(f->err, sizeof f->err, "%s: %s: %s", addr, sql, dal_strerror(my, st));
        return -1;
    }
    return 0;
}

/* Stop and forget replication, writable. Idempotent (a resumed run repeats it). */
static int promote(fr *f)
{
    MYSQL *my = mu_connect(&f->o->m, f->c, f->new_primary, false, FO_DB_TIMEOUT_MS, f->err, sizeof f->err);
    if (my == NULL)
        return -1;
    char row[1][DAL_CELL];
    sk_status st = dal_query_row(my, "SHOW SLAVE STATUS", row, 1);
    int rc = 0;
    if (st == SK_OK)
        rc = run_sql(f, my, f->new_primary, "STOP SLAVE");
    if (rc == 0 && st == SK_OK)
        rc = run_sql(f, my, f->new_primary, "RESET SLAVE ALL");
    /* No replica follows it yet: semi-sync off, so its first commits do not
     * each wait rpl_semi_sync_master_timeout for an acknowledgement nobody can
     * send (wait_no_slave). repoint() and `group rejoin` turn it on again once
     * a replica follows; until then the prober's evidence says OFF and a
     * second failover is refused (ASYNC) — which is the truth. */
    if (rc == 0)
        rc = run_sql(f, my, f->new_primary, "SET GLOBAL rpl_semi_sync_master_enabled = OFF");
    if (rc == 0)
        rc = run_sql(f, my, f->new_primary, "SET GLOBAL read_only = OFF");
    mysql_close(my);
    return rc;
}

/* Semi-sync of `addr` as a primary: on when a replica follows it (commits
 * wait for its acknowledgement), off when none does. */
static int semi_sync_set(fr *f, const char *addr, bool on)
{
    MYSQL *my = mu_connect(&f->o->m, f->c, addr, false, FO_DB_TIMEOUT_MS, f->err, sizeof f->err);
    if (my == NULL)
        return -1;
    int rc = run_sql(f, my, addr,
                     on ? "SET GLOBAL rpl_semi_sync_master_enabled = ON" : "SET GLOBAL rpl_semi_sync_master_enabled = OFF");
    mysql_close(my);
    return rc;
}

static int split_hp(const char *addr, char *host, size_t cap, int *port)
{
    return sk_parse_hostport(addr, host, cap, port);
}

/* The other replicas follow the new primary (GTID slave_pos: each continues
 * from what it applied). An unreachable one is reported and left for rejoin. */
static int repoint(fr *f)
{
    char host[256], sql[512];
    int port;
    if (split_hp(f->new_primary, host, sizeof host, &port) != 0) {
        snprintf(f->err, sizeof f->err, "bad address %s", f->new_primary);
        return -1;
    }
    /* semi-sync on before the replicas connect (a dump thread started while it
     * is off stays asynchronous); off again if none of them follows */
    if (f->nothers > 0 && semi_sync_set(f, f->new_primary, true) < 0)
        return -1;
    int following = 0;
    for (int i = 0; i < f->nothers; i++) {
        char err[256];
        MYSQL *my = mu_connect(&f->o->m, f->c, f->others[i], false, FO_DB_TIMEOUT_MS, err, sizeof err);
        if (my == NULL) {
            fprintf(stderr, "skipctl: warning: replica %s unreachable (%s): left as is; point it at %s later\n",
                    f->others[i], err, f->new_primary);
            continue;
        }
        snprintf(sql, sizeof sql, "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USE_GTID=slave_pos",
                 host, port);
        int rc = run_sql(f, my, f->others[i], "STOP SLAVE");
        if (rc == 0)
            rc = run_sql(f, my, f->others[i], sql);
        if (rc == 0)
            rc = run_sql(f, my, f->others[i], "START SLAVE");
        mysql_close(my);
        if (rc < 0)
            return -1;
        following++;
    }
    if (f->nothers > 0 && following == 0 && semi_sync_set(f, f->new_primary, false) < 0)
        return -1;
    /* the old primary, should it answer (a partition, not a death): read-only now */
    char err[256];
    MYSQL *old = mu_connect(&f->o->m, f->c, f->old_primary, false, 1000, err, sizeof err);
    if (old != NULL) {
        if (dal_exec(old, "SET GLOBAL read_only = ON", 25) == SK_OK)
            say(f, "group %d: old primary %s answered: set read_only", f->o->group, f->old_primary);
        mysql_close(old);
    }
    return 0;
}

static int set_str(char **dst, const char *v)
{
    char *n = strdup(v);
    if (n == NULL)
        return -1;
    free(*dst);
    *dst = n;
    return 0;
}

/* Remove entry i of a group's former_primaries (order kept). */
static void former_remove(conf_group *g, int i)
{
    free(g->former[i]);
    memmove(&g->former[i], &g->former[i + 1], sizeof g->former[0] * (size_t)(g->nformer - i - 1));
    g->former[--g->nformer] = NULL;
}

/* New primary, the others as replicas, the old primary in former_primaries. */
static int configure(fr *f)
{
    conf_group *g = f->g;
    if (set_str(&g->primary, f->new_primary) < 0)
        return -1;
    for (int i = 0; i < g->nreplicas; i++) {
        free(g->replicas[i]);
        g->replicas[i] = NULL;
    }
    g->nreplicas = 0;
    for (int i = 0; i < f->nothers; i++)
        if (set_str(&g->replicas[g->nreplicas], f->others[i]) == 0)
            g->nreplicas++;
    bool have = false;
    for (int i = 0; i < g->nformer; i++) {
        have = have || strcmp(g->former[i], f->old_primary) == 0;
        if (strcmp(g->former[i], f->new_primary) == 0)   /* promoted back: no longer former */
            former_remove(g, i--);
    }
    if (!have) {
        if (g->nformer == CONF_MAX_REPLICAS)   /* forget the oldest */
            former_remove(g, 0);
        if (set_str(&g->former[g->nformer], f->old_primary) == 0)
            g->nformer++;
    }
    return mu_conf_write(f->c->path, f->c, f->err, sizeof f->err);
}

/* The shared failure counters are keyed by the primary (sel_fail_key), so the
 * new primary starts from zero — unless it was this group's primary earlier in
 * the window (a fail-back), when its old failures would keep the group
 * SKIPPED: delete its counters of this window and its neighbours. */
static void reset_failure_counters(fr *f)
{
    int64_t w = sel_window_index(sk_now_ms() / 1000, f->c->window_s);
    for (int64_t i = w - 1; f->kv && i <= w + 1; i++) {
        char key[96];
        sel_fail_key(key, sizeof key, f->o->group, f->new_primary, f->c->window_s, i);
        redisReply *d = kv_cmd(f->kv, "DEL %s", key);
        if (d)
            freeReplyObject(d);
    }
}

static json_t *history_entry(const fr *f, int64_t ms)
{
    char at[25];
    ord_fmt_time(sk_now_ms(), at);
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s}", "at", at, "old_primary", f->old_primary, "new_primary",
                     f->new_primary, "gtid", f->promoted_gtid, "ms", (json_int_t)ms, "mode",
                     f->o->auto_mode ? "auto" : "manual");
}

static int finish(fr *f)
{
    if (mu_reload_all(&f->o->m, f->err, sizeof f->err) < 0) {
        char e[1100];
        snprintf(e, sizeof e, "reload failed (%s); the config names the new primary: run the same command again",
                 f->err);
        sk_strlcpy(f->err, e, sizeof f->err);
        return -1;
    }
    int64_t ms = f->started_ms ? sk_now_ms() - f->started_ms : 0;
    reset_failure_counters(f);
    json_t *h = history_entry(f, ms);
    json_array_append(f->history, h);
    while (json_array_size(f->history) > FO_HISTORY_MAX)
        json_array_remove(f->history, 0);
    if (f->kv) {
        char *s = json_dumps(h, JSON_COMPACT);
        redisReply *x = s ? kv_cmd(f->kv, "LPUSH skip:fo:history:%d %s", f->o->group, s) : NULL;
        if (x)
            freeReplyObject(x);
        x = kv_cmd(f->kv, "LTRIM skip:fo:history:%d 0 %d", f->o->group, FO_HISTORY_MAX - 1);
        if (x)
            freeReplyObject(x);
        free(s);
    }
    if (step(f, FO_EV_RELOAD) < 0) {
        json_decref(h);
        return -1;
    }
    if (f->o->m.json) {
        json_object_set_new(h, "ok", json_true());
        json_object_set_new(h, "group", json_integer(f->o->group));
        char *s = json_dumps(h, JSON_COMPACT);
        if (s)
            puts(s);
        free(s);
    } else {
        say(f, "group %d: failed over %s -> %s in %lld ms; %s is a former primary (read-only, never routed to; "
               "`skipctl group rejoin %d %s` when it is back)",
            f->o->group, f->old_primary, f->new_primary, (long long)ms, f->old_primary, f->o->group, f->old_primary);
    }
    json_decref(h);
    return 0;
}

static int fail(fr *f, int code)
{
    if (f->o->m.json) {
        json_t *j = json_pack("{s:b,s:i,s:s}", "ok", 0, "group", f->o->group, "error", f->err);
        char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (s)
            puts(s);
        free(s);
        json_decref(j);
    }
    fprintf(stderr, "skipctl: group failover: %s\n", f->err);
    return code;
}

static int drive(fr *f)
{
    if (f->st == FO_ST_NONE || f->st == FO_ST_DONE) {
        if (f->o->expect_primary && strcmp(f->o->expect_primary, f->g->primary) != 0) {
            say(f, "group %d: already failed over (primary is now %s): nothing to do", f->o->group, f->g->primary);
            if (f->o->m.json)
                printf("{\"ok\":true,\"group\":%d,\"noop\":true,\"primary\":\"%s\"}\n", f->o->group, f->g->primary);
            return 0;
        }
        f->started_ms = sk_now_ms();
        if (check(f) < 0)
            return fail(f, 1);
        if (f->o->dry_run) {
            say(f, "dry run: would promote %s, re-point %d other replica(s), mark %s a former primary", f->new_primary,
                f->nothers, f->old_primary);
            if (f->o->m.json)
                printf("{\"ok\":true,\"dry_run\":true,\"group\":%d,\"old_primary\":\"%s\",\"new_primary\":\"%s\"}\n",
                       f->o->group, f->old_primary, f->new_primary);
            return 0;
        }
        if (step(f, FO_EV_CHECK) < 0)
            return fail(f, 1);
    } else {
        say(f, "group %d: resuming the failover %s -> %s at %s", f->o->group, f->old_primary, f->new_primary,
            fo_state_name(f->st));
        if (f->o->dry_run)
            return 0;
    }
    if (f->st == FO_ST_CHECKED && (promote(f) < 0 || step(f, FO_EV_PROMOTE) < 0))
        return fail(f, 1);
    if (f->st == FO_ST_PROMOTED && (repoint(f) < 0 || step(f, FO_EV_REPOINT) < 0))
        return fail(f, 1);
    if (f->st == FO_ST_REPOINTED) {
        /* a resumed run may find the config already written */
        if (strcmp(f->g->primary, f->new_primary) != 0 && configure(f) < 0)
            return fail(f, 1);
        if (step(f, FO_EV_CONFIGURE) < 0)
            return fail(f, 1);
    }
    if (f->st == FO_ST_CONFIGURED && finish(f) < 0)
        return fail(f, 1);
    return 0;
}

int mig_failover(const mig_failover_opts *o)
{
    fr f = {.o = o};
    char cerr[CONF_ERR_MAX];
    f.c = mu_conf_load(o->m.config, cerr, sizeof cerr);
    if (f.c == NULL) {
        fprintf(stderr, "skipctl: %s\n", cerr);
        return 1;
    }
    int rc = 1;
    f.g = mu_group(f.c, o->group);
    if (f.g == NULL || f.g->state == GROUP_RETIRED || f.g->primary == NULL) {
        snprintf(f.err, sizeof f.err, "group %d is not a group in service in %s", o->group, f.c->path);
        f.history = json_array();
        rc = fail(&f, 1);
        goto out;
    }
    state_path(f.c->path, o->group, f.path, sizeof f.path);
    load_job(&f);
    f.kv = mu_kv(f.c);
    if (!o->dry_run && lock_take(&f) < 0) {
        rc = fail(&f, o->auto_mode ? 3 : 1);
        goto out;
    }
    /* under the lock: the config as it is now (another run may have won) */
    if (f.locked) {
        conf *now = mu_conf_load(o->m.config, cerr, sizeof cerr);
        if (now == NULL) {
            snprintf(f.err, sizeof f.err, "%s", cerr);
            rc = fail(&f, 1);
            goto out;
        }
        conf_free(f.c);
        f.c = now;
        f.g = mu_group(f.c, o->group);
        json_decref(f.history);
        f.nothers = 0;
        f.st = FO_ST_NONE;
        load_job(&f);
    }
    rc = drive(&f);
out:
    lock_drop(&f);
    if (f.kv)
        kv_destroy(f.kv);
    json_decref(f.history);
    conf_free(f.c);
    return rc;
}

/* ---------------- rejoin ---------------- */

#define FO_SCAN_FILES 4        /* binary logs scanned back from the newest */
#define FO_SCAN_PAGE 5000      /* SHOW BINLOG EVENTS rows a statement */

/*
 * The tables touched by the old primary's transactions beyond `base` (what
 * the new line of primaries started from), from its own binary log (SHOW
 * BINLOG EVENTS, newest files first). *found counts those transactions;
 * keep gets the tables that are not discardable (comma separated). 0 / -1.
 */
static int scan_extra(MYSQL *my, const char *db, const fo_gtid *base, int want, int *found, char *keep,
                      size_t kcap, char *err, size_t ecap)
{
    MYSQL_RES *res = NULL;
    sk_status st = dal_query(my, "SHOW BINARY LOGS", 16, &res);
    if (st != SK_OK) {
        snprintf(err, ecap, "SHOW BINARY LOGS: %s", dal_strerror(my, st));
        return -1;
    }
    char files[64][DAL_CELL];
    int nf = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (nf == 64)
            memmove(files[0], files[1], sizeof files[0] * 63), nf = 63;
        sk_strlcpy(files[nf++], row[0] ? row[0] : "", DAL_CELL);
    }
    mysql_free_result(res);
    *found = 0;
    keep[0] = '\0';
    for (int f = nf - 1; f >= 0 && f >= nf - FO_SCAN_FILES && *found < want; f--) {
        bool extra = false;
        /* page by position (End_log_pos of the last row), not by offset */
        for (unsigned long long from = 4;;) {
            char sql[256];
            snprintf(sql, sizeof sql, "SHOW BINLOG EVENTS IN '%s' FROM %llu LIMIT %d", files[f], from, FO_SCAN_PAGE);
            if (strchr(files[f], '\'') || (st = dal_query(my, sql, strlen(sql), &res)) != SK_OK) {
                snprintf(err, ecap, "%s: %s", sql, dal_strerror(my, st));
                return -1;
            }
            int n = 0;
            while ((row = mysql_fetch_row(res)) != NULL) {
                n++;
                if (row[4] != NULL)
                    from = strtoull(row[4], NULL, 10);
                const char *type = row[2] ? row[2] : "", *info = row[5] ? row[5] : "";
                uint32_t d, sv;
                uint64_t seq;
                if (strcmp(type, "Gtid") == 0 && fo_binlog_gtid(info, &d, &sv, &seq) == 0) {
                    fo_gtid one = {.n = 1};
                    one.d[0].domain = d;
                    one.d[0].server = sv;
                    one.d[0].seq = seq;
                    extra = !fo_gtid_covers(base, &one);
                    if (extra)
                        (*found)++;
                } else if (extra && strcmp(type, "Table_map") == 0) {
                    char t[DAL_CELL];
                    if (fo_binlog_table(info, t, sizeof t) == 0 && !fo_extra_discardable(t, db) &&
                        strstr(keep, t) == NULL) {
                        size_t kl = strlen(keep);
                        snprintf(keep + kl, kcap - kl, "%s%s", kl ? "," : "", t);
                    }
                }
            }
            mysql_free_result(res);
            if (n < FO_SCAN_PAGE)
                break;
        }
    }
    return 0;
}

int mig_rejoin(const mig_rejoin_opts *o)
{
    char err[1024], cerr[CONF_ERR_MAX];
    conf *c = mu_conf_load(o->m.config, cerr, sizeof cerr);
    if (c == NULL) {
        fprintf(stderr, "skipctl: %s\n", cerr);
        return 1;
    }
    int rc = 1;
    MYSQL *old = NULL, *np = NULL;
    json_t *hist = NULL;
    conf_group *g = mu_group(c, o->group);
    int fi = -1;
    for (int i = 0; g && i < g->nformer; i++)
        if (strcmp(g->former[i], o->addr) == 0)
            fi = i;
    if (g == NULL || fi < 0) {
        snprintf(err, sizeof err, "%s is not a former primary of group %d", o->addr, o->group);
        goto out;
    }
    /* where the new line of primaries started: the promoted position of the
     * failover that replaced this address (the state file's history) */
    char promoted[512] = "";
    hist = mig_failover_history(c->path, o->group);
    for (size_t i = 0; json_is_array(hist) && i < json_array_size(hist); i++) {
        json_t *h = json_array_get(hist, i);
        const char *op = json_string_value(json_object_get(h, "old_primary"));
        const char *gt = json_string_value(json_object_get(h, "gtid"));
        if (op && gt && strcmp(op, o->addr) == 0)
            sk_strlcpy(promoted, gt, sizeof promoted);
    }
    old = mu_connect(&o->m, c, o->addr, false, FO_DB_TIMEOUT_MS, err, sizeof err);
    if (old == NULL)
        goto out;
    np = mu_connect(&o->m, c, g->primary, false, FO_DB_TIMEOUT_MS, err, sizeof err);
    if (np == NULL)
        goto out;
    /* read-only first: whatever happens next, it takes no writes */
    if (dal_exec(old, "SET GLOBAL read_only = ON", 25) != SK_OK) {
        snprintf(err, sizeof err, "%s: SET GLOBAL read_only: %s", o->addr, mysql_error(old));
        goto out;
    }
    char ob[1][DAL_CELL], nb[1][DAL_CELL];
    if (dal_query_row(old, "SELECT @@global.gtid_binlog_pos", ob, 1) != SK_OK ||
        dal_query_row(np, "SELECT @@global.gtid_binlog_pos", nb, 1) != SK_OK) {
        snprintf(err, sizeof err, "cannot read GTID positions: %s / %s", mysql_error(old), mysql_error(np));
        goto out;
    }
    fo_gtid og, pg, ng;
    if (fo_gtid_parse(ob[0], &og) != 0 || fo_gtid_parse(promoted[0] ? promoted : nb[0], &pg) != 0 ||
        fo_gtid_parse(nb[0], &ng) != 0) {
        snprintf(err, sizeof err, "unparsable GTID position (%s / %s)", ob[0], promoted[0] ? promoted : nb[0]);
        goto out;
    }
    /* Transactions of the old primary beyond what the new line started from
     * exist only on it (unacknowledged commits at the crash, or writes after
     * it). Joining would make them diverge silently: refuse and list them. */
    char extra[1024];
    bool discard = false;
    if (fo_gtid_extra(&og, &pg, extra, sizeof extra) > 0) {
        /* how many, and what they touched: only heartbeat probes (written
         * while it died, never acknowledged, no data) may be dropped */
        int want = 0, found = 0;
        for (int i = 0; i < og.n; i++)
            for (int j = 0; j <= pg.n; j++)
                if (j == pg.n || pg.d[j].domain == og.d[i].domain) {
                    uint64_t have = j == pg.n ? 0 : pg.d[j].seq;
                    want += og.d[i].seq > have ? (int)(og.d[i].seq - have) : 0;
                    break;
                }
        char keep[1024];
        if (scan_extra(old, c->db_name, &pg, want, &found, keep, sizeof keep, err, sizeof err) < 0)
            goto out;
        if (keep[0] != '\0' || found < want) {
            snprintf(err, sizeof err,
                     "refused: %s has transactions the new primary %s lacks: %s (promoted at %s)%s%s%s. Inspect "
                     "them (mariadb-binlog on its binary log), re-apply what must be kept on the primary, then "
                     "rebuild %s from a copy of the primary",
                     o->addr, g->primary, extra, promoted[0] ? promoted : nb[0], keep[0] ? "; they write " : "",
                     keep, found < want ? "; not all found in its recent binary logs" : "", o->addr);
            goto out;
        }
        discard = true;
        fprintf(o->m.json ? stderr : stdout, "group %d: dropping %d heartbeat-only transaction(s) of %s the new primary lacks: %s\n", o->group,
               found, o->addr, extra);
    }
    char host[256], sql[1024];
    int port;
    if (sk_parse_hostport(g->primary, host, sizeof host, &port) != 0) {
        snprintf(err, sizeof err, "bad address %s", g->primary);
        goto out;
    }
    const char *ru = getenv("SKIP_DB_REPL_USER"), *rp = getenv("SKIP_DB_REPL_PASSWORD");
    if (ru == NULL || rp == NULL) {
        snprintf(err, sizeof err, "set SKIP_DB_REPL_USER and SKIP_DB_REPL_PASSWORD (the replication account)");
        goto out;
    }
    char *qu = NULL, *qp = NULL;
    size_t lu = strlen(ru), lp = strlen(rp);
    qu = malloc(2 * lu + 1);
    qp = malloc(2 * lp + 1);
    if (qu == NULL || qp == NULL) {
        free(qu);
        free(qp);
        snprintf(err, sizeof err, "out of memory");
        goto out;
    }
    mysql_real_escape_string(old, qu, ru, (unsigned long)lu);
    mysql_real_escape_string(old, qp, rp, (unsigned long)lp);
    /* Continue from its own position; with dropped heartbeats, from where the
     * new line started, its binary log (holding those GTIDs) reset first. */
    char pos[600];
    snprintf(pos, sizeof pos, "SET GLOBAL gtid_slave_pos = '%s'", discard ? (promoted[0] ? promoted : nb[0]) : ob[0]);
    snprintf(sql, sizeof sql,
             "CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%d, MASTER_USER='%s', MASTER_PASSWORD='%s', "
             "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
             host, port, qu, qp);
    free(qu);
    free(qp);
    /* semi-sync on the primary before the replica connects: a binlog dump
     * thread started while it is off stays asynchronous */
    static const char semi_on[] = "SET GLOBAL rpl_semi_sync_master_enabled = ON";
    if (dal_exec(np, semi_on, sizeof semi_on - 1) != SK_OK) {
        snprintf(err, sizeof err, "%s: %s: %s", g->primary, semi_on, mysql_error(np));
        goto out;
    }
    const char *steps[] = {"STOP SLAVE", "RESET SLAVE ALL", discard ? "RESET MASTER" : "DO 0", pos, sql,
                           "START SLAVE"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        sk_status st = dal_exec(old, steps[i], strlen(steps[i]));
        if (st != SK_OK && i > 1) {
            snprintf(err, sizeof err, "%s: %s", o->addr, i == 4 ? "CHANGE MASTER failed" : mysql_error(old));
            goto out;
        }
    }
    /* caught up: it applied at least the new primary's position of now (30 s) */
    int64_t t0 = sk_mono_ms();
    bool caught = false;
    while (!caught && sk_mono_ms() - t0 < 30000) {
        char ap[1][DAL_CELL];
        fo_gtid a;
        if (dal_query_row(old, "SELECT @@global.gtid_slave_pos", ap, 1) == SK_OK && fo_gtid_parse(ap[0], &a) == 0)
            caught = fo_gtid_covers(&a, &ng);
        if (!caught)
            sk_sleep_ms(100);
    }
    if (!caught) {
        snprintf(err, sizeof err, "%s replicates from %s but did not catch up within 30 s; check SHOW SLAVE STATUS",
                 o->addr, g->primary);
        goto out;
    }
    /* semi-sync on the primary again: its commits wait for this replica */
    /* semi-sync ON: the primary acknowledges commits only once this replica has
     * them again (it turns ON at the replica's first acknowledgement; the
     * prober's heartbeat commits every probe interval) */
    t0 = sk_mono_ms();
    bool semi = false;
    while (!semi && sk_mono_ms() - t0 < 10000) {
        char v[1][DAL_CELL];
        semi = dal_query_row(np, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE "
                                 "VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'", v, 1) == SK_OK &&
               strcmp(v[0], "ON") == 0;
        if (!semi)
            sk_sleep_ms(100);
    }
    if (!semi)
        fprintf(stderr, "skipctl: warning: %s replicates from %s but semi-sync is not ON after 10 s: a failover of "
                        "the group is refused (ASYNC) until it is; check Rpl_semi_sync_master_clients\n",
                o->addr, g->primary);
    /* config: a replica again, no longer a former primary */
    former_remove(g, fi);
    if (g->nreplicas < CONF_MAX_REPLICAS && set_str(&g->replicas[g->nreplicas], o->addr) == 0)
        g->nreplicas++;
    if (mu_conf_write(c->path, c, err, sizeof err) < 0 || mu_reload_all(&o->m, err, sizeof err) < 0)
        goto out;
    if (o->m.json)
        printf("{\"ok\":true,\"group\":%d,\"replica\":\"%s\",\"primary\":\"%s\"}\n", o->group, o->addr, g->primary);
    else
        printf("group %d: %s is a replica of %s again (caught up)\n", o->group, o->addr, g->primary);
    rc = 0;
out:
    if (rc != 0) {
        if (o->m.json)
            printf("{\"ok\":false,\"group\":%d,\"error\":\"see stderr\"}\n", o->group);
        fprintf(stderr, "skipctl: group rejoin: %s\n", err);
    }
    if (old)
        mysql_close(old);
    if (np)
        mysql_close(np);
    json_decref(hist);
    conf_free(c);
    return rc;
}
