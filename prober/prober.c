/* prober/prober.c — see prober.h. */
#include "prober/prober.h"

#include "failover/fo.h"

#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    prober *p;
    int id;
    pthread_t th;
    bool started;
    /* failover (owned by this thread) */
    int64_t down_since;       /* mono ms of the first failed probe of a run of failures; 0 = up */
    bool down_marked;         /* our field of skip:fo:down:G written for this run of failures */
    /* the quiet point (failover evidence): see record_evidence */
    char quiet_primary[300];  /* the primary it belongs to */
    int64_t quiet_ms;         /* wall ms: start of the last acknowledged heartbeat's probe */
    char quiet_gtid[64];      /* that heartbeat's GTID */
    char seen_gtid[64];       /* @@last_gtid after the previous probe: a heartbeat that
                                 binlogged nothing (same GTID) proves nothing */
    pid_t child;              /* running `skipctl group failover --auto`, 0 = none */
    int64_t child_at;         /* mono ms it was started */
} pthr;

struct prober {
    rtref *rt;
    grt *g;
    atomic_bool stop;
    pthread_mutex_t mu;
    pthr t[CONF_MAX_GROUPS + 1];
};

/* Publish a probe result; a failure counts against the group and drops
 * its idle pooled connections (they are probably dead too). */
static void record(grt *g, const rt *r, int id, sk_status st, int64_t t0, const char *err)
{
    int ms = (int)(sk_mono_ms() - t0);
    bool ok = st == SK_OK;
    grt_probe_end(g, id, ok, ms, ok ? NULL : err);
    if (!ok) {
        grt_record_failure(g, id, r->c->window_s);
        dal_pool *pool = rt_primary(r, id);
        if (pool)
            dal_pool_invalidate(pool);
    }
}

bool probe_inline(grt *g, const rt *r, int id, MYSQL *my)
{
    int64_t t0 = sk_mono_ms();
    grt_probe_begin(g, id, t0);
    sk_status st = dal_probe(my, r->c->node_id);
    char err[160];
    snprintf(err, sizeof err, "%s: %s", sk_status_name(st), mysql_error(my));
    record(g, r, id, st, t0, err);
    return st == SK_OK;
}

/*
 * Failover evidence (docs/failover.md "What proves a replica complete"): after
 * each successful probe, in the probe's own session, the primary's semi-sync
 * state, binary log position and semi-sync timeout, and the GTID of the
 * heartbeat UPDATE the probe just committed (@@last_gtid), go to Redis
 *   skip:fo:ev:<G> = "<primary>|<semi 0/1>|<no_tx>|<wall ms>|<gtid_binlog_pos>
 *                     |<quiet wall ms>|<quiet gtid>|<timeout ms>"   (EX 1 day)
 * The quiet point: a heartbeat that was binlogged (a new GTID) and followed by
 * semi-sync ON was received by the replica — and so was everything binlogged
 * before it (AFTER_SYNC acks in binlog order). A later fall-back to async
 * needs a commit that began waiting after the heartbeat and timed out, so it
 * cannot happen before the probe's start + timeout. `skipctl group failover`
 * promotes only when the primary stopped answering before that moment.
 * Best effort: a failure here is logged at debug only.
 */
static void record_evidence(pthr *t, const rt *r, const char *primary, MYSQL *my, int64_t probe_wall_ms)
{
    static const char sql[] =
        "SELECT @@global.gtid_binlog_pos,"
        " (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
        "   WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS'),"
        " (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
        "   WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_NO_TX'),"
        " @@session.last_gtid, @@global.rpl_semi_sync_master_timeout";
    char row[5][DAL_CELL];
    sk_status st = dal_query_row(my, sql, row, 5);
    if (st != SK_OK) {
        sk_debug("event=failover_evidence_failed group=%d err=\"%s\"", t->id, dal_strerror(my, st));
        return;
    }
    bool on = strcmp(row[1], "ON") == 0;
    if (strcmp(t->quiet_primary, primary) != 0) {
        sk_strlcpy(t->quiet_primary, primary, sizeof t->quiet_primary);
        t->quiet_ms = 0;
        t->quiet_gtid[0] = '\0';
        t->seen_gtid[0] = '\0';
    }
    if (on && row[3][0] != '\0' && strcmp(row[3], t->seen_gtid) != 0) {
        t->quiet_ms = probe_wall_ms;
        sk_strlcpy(t->quiet_gtid, row[3], sizeof t->quiet_gtid);
    }
    sk_strlcpy(t->seen_gtid, row[3], sizeof t->seen_gtid);
    if (r->kv == NULL || !kv_up(r->kv))
        return;
    char val[700];
    snprintf(val, sizeof val, "%s|%d|%s|%lld|%s|%lld|%s|%s", primary, on, row[2][0] ? row[2] : "0",
             (long long)sk_now_ms(), row[0], (long long)t->quiet_ms, t->quiet_gtid, row[4]);
    redisReply *rep = kv_cmd(r->kv, "SET skip:fo:ev:%d %s EX 86400", t->id, val);
    if (rep)
        freeReplyObject(rep);
}

/* Redis hash skip:fo:down:<G>, field <node id> = "<primary>|<wall ms>": when
 * this daemon's first failed probe of a run ended — the latest moment the
 * primary can have been alive, for the failover's proof. The field goes when
 * a probe succeeds again (or answers read-only). */
static void mark_down(pthr *t, const rt *r, const char *primary, bool down)
{
    if (down == t->down_marked || r->kv == NULL || !kv_up(r->kv))
        return;
    redisReply *rep = down ? kv_cmd(r->kv, "HSET skip:fo:down:%d %d %s|%lld", t->id, r->c->node_id, primary,
                                    (long long)sk_now_ms())
                           : kv_cmd(r->kv, "HDEL skip:fo:down:%d %d", t->id, r->c->node_id);
    if (rep == NULL)
        return;
    freeReplyObject(rep);
    t->down_marked = down;
    if (down && (rep = kv_cmd(r->kv, "EXPIRE skip:fo:down:%d 86400", t->id)) != NULL)
        freeReplyObject(rep);
}

/* The skipctl binary: failover.skipctl, else next to this executable. */
static void skipctl_path(const conf *c, char *out, size_t cap)
{
    if (c->failover_skipctl && c->failover_skipctl[0]) {
        sk_strlcpy(out, c->failover_skipctl, cap);
        return;
    }
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        sk_strlcpy(out, "skipctl", cap);
        return;
    }
    self[n] = '\0';
    snprintf(out, cap, "%s/skipctl", dirname(self));
}

extern char **environ;

/*
 * Automatic failover (failover.auto): when every probe of the primary has
 * failed for failover.after_s (a read-only answer resets the clock: that is a
 * restart, not a death), run `skipctl group failover G --auto
 * --expect-primary ADDR --json`, at most one at a time per group and one
 * attempt per 10 s. skipctl takes the Redis lock every daemon and operator
 * respects, re-reads the config (a group already failed over is a no-op) and
 * applies the same refusal rules as the manual command. The admin password
 * travels as a file path in the environment, never as a value.
 */
static void auto_failover(pthr *t, const conf *c, const conf_group *cg, int64_t now)
{
    if (t->child > 0) {
        int ws;
        pid_t w = waitpid(t->child, &ws, WNOHANG);
        if (w == t->child) {
            sk_info("event=failover_auto_exit group=%d pid=%d status=%d", t->id, (int)t->child,
                    WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
            t->child = 0;
        }
        return;
    }
    if (!fo_auto_due(c->failover_auto != 0, t->down_since ? now - t->down_since : 0,
                     (int64_t)c->failover_after_s * 1000))
        return;
    if (t->child_at != 0 && now - t->child_at < 10000)
        return;
    char bin[1100], gid[16], cfg[1100], keys[1100], user[300], pwf[1100], daemons[2100];
    skipctl_path(c, bin, sizeof bin);
    snprintf(gid, sizeof gid, "%d", t->id);
    snprintf(cfg, sizeof cfg, "SKIP_CONFIG=%s", c->path ? c->path : "");
    snprintf(keys, sizeof keys, "SKIP_KEYS=%s", c->auth_keys_file ? c->auth_keys_file : "");
    snprintf(user, sizeof user, "SKIP_DB_ADMIN_USER=%s", c->failover_admin_user);
    snprintf(pwf, sizeof pwf, "SKIP_DB_ADMIN_PASSWORD_FILE=%s", c->failover_admin_password_file);
    const char *urls = c->failover_daemons[0] ? c->failover_daemons : getenv("SKIP_DAEMON_URLS");
    snprintf(daemons, sizeof daemons, "SKIP_DAEMON_URLS=%s", urls ? urls : "");
    /* the child's environment: ours minus what we set, plus ours */
    const char *set[] = {cfg, keys, user, pwf, daemons};
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 8, sizeof *envp);
    if (envp == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool ours = strncmp(environ[i], "SKIP_DB_ADMIN_PASSWORD=", 23) == 0;
        for (size_t j = 0; j < sizeof set / sizeof set[0] && !ours; j++) {
            size_t eq = (size_t)(strchr(set[j], '=') - set[j]) + 1;
            ours = strncmp(environ[i], set[j], eq) == 0;
        }
        if (!ours)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < sizeof set / sizeof set[0]; j++)
        envp[k++] = (char *)set[j];
    envp[k] = NULL;
    char *argv[] = {bin, "group", "failover", gid, "--auto", "--expect-primary", cg->primary, "--json", NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, bin, NULL, NULL, argv, envp);
    free(envp);
    t->child_at = now;
    if (rc != 0) {
        sk_warn("event=failover_auto_spawn_failed group=%d bin=%s err=\"%s\"", t->id, bin, strerror(rc));
        return;
    }
    t->child = pid;
    sk_warn("event=failover_auto_started group=%d primary=%s down_ms=%lld pid=%d", t->id, cg->primary,
            (long long)(now - t->down_since), (int)pid);
}

static void *run(void *arg)
{
    pthr *t = arg;
    prober *p = t->p;
    sk_thread_name("sk-probe-g%d", t->id);
    MYSQL *my = NULL;
    char addr[600] = "";
    while (!atomic_load(&p->stop)) {
        rt *r = rt_get(p->rt);
        const conf *c = r->c;
        const conf_group *cg = conf_group_by_id(c, t->id);
        int interval = c->probe_interval_ms;
        if (cg == NULL || cg->primary == NULL || cg->state == GROUP_RETIRED) {
            rt_put(r);
            sk_sleep_ms(interval);
            continue;
        }
        /* a new primary address or new credentials (a reload): reconnect */
        char want[600];
        snprintf(want, sizeof want, "%s|%s|%s|%s|%d", cg->primary, c->db_user, c->db_password, c->db_name,
                 c->probe_timeout_ms);
        if (my != NULL && strcmp(addr, want) != 0) {
            mysql_close(my);
            my = NULL;
        }
        int64_t t0 = sk_mono_ms(), t0_wall = sk_now_ms();
        grt_probe_begin(p->g, t->id, t0);
        sk_status st;
        char err[200] = "";
        if (my == NULL) {
            dal_pool_opts o = {
                .addr = cg->primary, .user = c->db_user, .password = c->db_password, .db = c->db_name,
                .connect_timeout_ms = c->probe_timeout_ms, .read_timeout_ms = c->probe_timeout_ms,
                .write_timeout_ms = c->probe_timeout_ms,
            };
            dal_tls_set(&o.tls, &c->db_tls);
            sk_strlcpy(addr, want, sizeof addr);
            my = dal_connect(&o, err, sizeof err);
        }
        if (my == NULL) {
            st = SK_ECONNECT;
        } else {
            st = dal_probe(my, c->node_id);
            if (st != SK_OK) {
                snprintf(err, sizeof err, "%s", mysql_error(my));
                if (st != SK_EREADONLY) { /* connection may be broken */
                    mysql_close(my);
                    my = NULL;
                }
            }
        }
        char msg[240];
        snprintf(msg, sizeof msg, "%s: %s", sk_status_name(st), err);
        record(p->g, r, t->id, st, t0, msg);
        if (st != SK_OK)
            sk_debug("event=probe_failed group=%d err=\"%s\"", t->id, msg);
        /* a read-only answer is a restart or an operator, never a death */
        if (st == SK_OK || st == SK_EREADONLY)
            t->down_since = 0;
        else if (t->down_since == 0)
            t->down_since = t0 ? t0 : 1;
        if (st == SK_OK && my != NULL)
            record_evidence(t, r, cg->primary, my, t0_wall);
        if (st == SK_OK || st == SK_EREADONLY)
            mark_down(t, r, cg->primary, false);
        else
            mark_down(t, r, cg->primary, true);
        auto_failover(t, c, cg, sk_mono_ms());
        rt_put(r);
        int64_t spent = sk_mono_ms() - t0;
        if (spent < interval)
            sk_sleep_ms(interval - spent);
    }
    if (my)
        mysql_close(my);
    if (t->child > 0)
        (void)waitpid(t->child, NULL, WNOHANG);
    return NULL;
}

void prober_sync(prober *p)
{
    rt *r = rt_get(p->rt);
    const conf *c = r->c;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < c->ngroups; i++) {
        int id = c->groups[i].id;
        pthr *t = &p->t[id];
        if (t->started)
            continue;
        t->p = p;
        t->id = id;
        if (pthread_create(&t->th, NULL, run, t) == 0)
            t->started = true;
    }
    pthread_mutex_unlock(&p->mu);
    rt_put(r);
}

prober *prober_start(rtref *rt, grt *g)
{
    prober *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->rt = rt;
    p->g = g;
    pthread_mutex_init(&p->mu, NULL);
    prober_sync(p);
    return p;
}

void prober_stop(prober *p)
{
    if (p == NULL)
        return;
    atomic_store(&p->stop, true);
    for (int i = 0; i <= CONF_MAX_GROUPS; i++)
        if (p->t[i].started)
            pthread_join(p->t[i].th, NULL);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
