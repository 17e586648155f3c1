/*
 * migrate/retire.c — `skipctl group retire G [--into T]` (shrink).
 * The mechanism and its invariants are described in docs/shrink.md; the
 * state machine is migrate/mig.c (mig_next). In short:
 *   DRAINING  config G: draining, reload all daemons, wait for in-flight 0
 *   COPYING   orders, then refunds, G -> T in PK chunks (version-guarded
 *             upsert / INSERT IGNORE), throttled by T's replica lag; the
 *             state file records every chunk bound, so a crash resumes at
 *             the last copied key
 *   CATCHUP   rows changed since copy start (updated_at >= start - margin),
 *             repeated until a round is small; then every chunk verified
 *   FREEZING  skip:freeze:G (PX TTL, so a crashed skipctl cannot leave it
 *             behind for long), acks from every live daemon, final catch-up,
 *             re-verify the chunks touched since the full verification
 *   FLIPPING  config G: retired, alias_of T; reload all; DEL freeze; then
 *             move G's pending outbox rows to T's outbox
 *   RETIRED   (--drop --yes deletes G's rows later)
 *
 * This file is the step driver: the state file, the config flips, abort,
 * drop and dry-run, and the entry; the steps live in retire_copy.c,
 * retire_verify.c, retire_clash.c and retire_freeze.c (migrate/retire.h).
 */
#include "migrate/retire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rt_say(rt *r, const char *fmt, ...)
{
    if (r->o->m.json)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (mu_tty())
        printf("\r\033[K");
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

/* ---------------- state file ---------------- */

int rt_save(rt *r)
{
    json_t *j = mig_job_to_json(&r->j);
    if (j == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL) {
        snprintf(r->err, sizeof r->err, "out of memory");
        return -1;
    }
    int rc = mu_write_atomic(r->path, s, strlen(s), r->err, sizeof r->err);
    free(s);
    if (rc < 0)
        return -1;
    return 0;
}

int rt_step(rt *r, mig_event e)
{
    mig_state n;
    if (mig_next(r->j.state, e, &n) != 0) {
        snprintf(r->err, sizeof r->err, "illegal transition %s on %s", mig_event_name(e),
                 mig_state_name(r->j.state));
        return -1;
    }
    sk_info("event=retire_step group=%d from=%s to=%s", r->j.group, mig_state_name(r->j.state), mig_state_name(n));
    r->j.state = n;
    return rt_save(r);
}

static int load_state(rt *r, bool *found)
{
    *found = false;
    json_error_t je;
    FILE *f = fopen(r->path, "r");
    if (f == NULL)
        return errno == ENOENT ? 0 : -1;
    json_t *j = json_loadf(f, 0, &je);
    fclose(f);
    if (j == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->path, je.text);
        return -1;
    }
    int rc = mig_job_from_json(j, &r->j, r->err, sizeof r->err);
    json_decref(j);
    if (rc == 0)
        *found = true;
    return rc;
}

/* ---------------- config ---------------- */

/* Set G's configured state (and alias) in the file and reload every daemon;
 * a no-op write when it is already so (the reload still happens: a daemon
 * may have missed it before a crash). */
int rt_set_group_state(rt *r, group_state st, int alias, int weight)
{
    conf_free(r->c);
    r->c = mu_conf_load(r->o->m.config, r->err, sizeof r->err);
    if (r->c == NULL)
        return -1;
    conf_group *g = mu_group(r->c, r->j.group);
    if (g == NULL) {
        snprintf(r->err, sizeof r->err, "group %d is no longer in %s", r->j.group, r->o->m.config);
        return -1;
    }
    if (g->state != st || g->alias_of != alias || (weight >= 0 && g->weight != weight)) {
        g->state = st;
        g->alias_of = alias;
        if (weight >= 0)
            g->weight = weight;
        if (mu_conf_write(r->o->m.config, r->c, r->err, sizeof r->err) != 0)
            return -1;
        conf_free(r->c);
        r->c = mu_conf_load(r->o->m.config, r->err, sizeof r->err);
        if (r->c == NULL)
            return -1;
    }
    return mu_reload_all(&r->o->m, r->err, sizeof r->err);
}

/* ---------------- connections ---------------- */

static int connect_both(rt *r)
{
    char e[512];
    if (r->g == NULL && (r->g = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "group %d primary %s: %s", r->j.group, r->j.g_primary, e);
        return -1;
    }
    if (r->t == NULL && (r->t = mu_connect(&r->o->m, r->c, r->j.t_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "group %d primary %s: %s", r->j.into, r->j.t_primary, e);
        return -1;
    }
    return 0;
}


/* ---------------- abort / drop / dry-run ---------------- */

/* The catch-up's helper index on G (rt_ensure_index) goes with the retire;
 * best effort: an index left behind only costs G some write work. */
static void drop_helper_index(rt *r)
{
    static const char di[] = "ALTER TABLE orders DROP INDEX IF EXISTS mig_updated_at";
    if (dal_exec(r->g, di, sizeof di - 1) != SK_OK)
        sk_warn("event=retire_drop_index_failed group=%d err=\"%s\"", r->j.group, mysql_error(r->g));
}

static int do_abort(rt *r)
{
    if (r->j.state == MIG_RETIRED || r->j.state == MIG_DROPPED || r->j.state == MIG_FLIPPING) {
        snprintf(r->err, sizeof r->err, "group %d is past the alias flip (%s); abort is only possible before it",
                 r->j.group, mig_state_name(r->j.state));
        return -1;
    }
    char key[48];
    snprintf(key, sizeof key, "skip:freeze:%d", r->j.group);
    redisReply *x = kv_cmd(r->kv, "DEL %s", key);
    if (x)
        freeReplyObject(x);
    if (rt_set_group_state(r, GROUP_ACTIVE, 0, r->j.g_prev_weight > 0 ? r->j.g_prev_weight : -1) != 0)
        return -1;
    if (connect_both(r) != 0)
        return -1;
    char sql[1024];
    sk_status st;
    int64_t del = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM orders WHERE %s LIMIT 5000", r->filter);
        int64_t n;
        if ((st = dal_exec_n(r->t, sql, strlen(sql), &n)) != SK_OK) {
            snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, dal_strerror(r->t, st));
            return -1;
        }
        del += n;
        if (n < 5000)
            break;
    }
    snprintf(sql, sizeof sql, "DELETE FROM refunds WHERE %s", r->rfilter);
    if ((st = dal_exec(r->t, sql, strlen(sql))) != SK_OK) {
        snprintf(r->err, sizeof r->err, "group %d: %s", r->j.into, dal_strerror(r->t, st));
        return -1;
    }
    drop_helper_index(r);
    unlink(r->path);
    rt_say(r, "aborted: group %d active again; %" PRId64 " copied orders removed from group %d", r->j.group, del, r->j.into);
    if (r->o->m.json)
        printf("{\"group\":%d,\"state\":\"ABORTED\",\"removed_orders\":%" PRId64 "}\n", r->j.group, del);
    return 0;
}

static int do_drop(rt *r)
{
    if (r->j.state != MIG_RETIRED && r->j.state != MIG_DROPPED) {
        snprintf(r->err, sizeof r->err, "group %d is %s; --drop needs a finished retire", r->j.group,
                 mig_state_name(r->j.state));
        return -1;
    }
    if (!r->o->yes) {
        snprintf(r->err, sizeof r->err, "--drop deletes every row of group %d on %s; add --yes to confirm",
                 r->j.group, r->j.g_primary);
        return -1;
    }
    char e[512];
    if ((r->g = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->j.g_primary, e);
        return -1;
    }
    static const char *const tabs[] = {"orders", "refunds", "outbox"};
    int64_t total = 0;
    for (int t = 0; t < 3; t++) {
        for (int i = 0; i < 1000000; i++) {
            char sql[128];
            snprintf(sql, sizeof sql, "DELETE FROM %s LIMIT 5000", tabs[t]);
            int64_t n;
            sk_status st = dal_exec_n(r->g, sql, strlen(sql), &n);
            if (st != SK_OK) {
                snprintf(r->err, sizeof r->err, "%s: %s", r->j.g_primary, dal_strerror(r->g, st));
                return -1;
            }
            total += n;
            if (n < 5000)
                break;
        }
    }
    drop_helper_index(r);
    if (r->j.state == MIG_RETIRED && rt_step(r, MIG_EV_DROPPED) != 0)
        return -1;
    rt_say(r, "dropped: %" PRId64 " rows deleted from %s (group %d's old primary)", total, r->j.g_primary, r->j.group);
    if (r->o->m.json)
        printf("{\"group\":%d,\"state\":\"DROPPED\",\"deleted_rows\":%" PRId64 "}\n", r->j.group, total);
    return 0;
}

static int do_dry_run(rt *r)
{
    char e[512];
    if ((r->g = mu_connect(&r->o->m, r->c, r->j.g_primary, false, COPY_READ_TIMEOUT_MS, e, sizeof e)) == NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", r->j.g_primary, e);
        return -1;
    }
    int64_t no = rt_count_g(r, "SELECT COUNT(*) FROM orders");
    int64_t nr = rt_count_g(r, "SELECT COUNT(*) FROM refunds");
    int64_t nb = rt_count_g(r, "SELECT COUNT(*) FROM outbox");
    if (no < 0 || nr < 0 || nb < 0)
        return -1;
    if (r->o->m.json) {
        printf("{\"group\":%d,\"into\":%d,\"state\":\"%s\",\"orders\":%" PRId64 ",\"refunds\":%" PRId64
               ",\"outbox_pending\":%" PRId64 ",\"chunks\":%" PRId64 ",\"chunk_rows\":%d}\n",
               r->j.group, r->j.into, mig_state_name(r->j.state), no, nr, nb, mig_plan_chunks(no, r->j.chunk_rows),
               r->j.chunk_rows);
        return 0;
    }
    printf("retire plan for group %d (%s) into group %d (%s) — current state %s\n", r->j.group, r->j.g_primary,
           r->j.into, r->j.t_primary, mig_state_name(r->j.state));
    printf("  rows: %" PRId64 " orders (%" PRId64 " chunks of %d), %" PRId64 " refunds, %" PRId64 " outbox pending\n",
           no, mig_plan_chunks(no, r->j.chunk_rows), r->j.chunk_rows, nr, nb);
    printf("  1. config: group %d state draining; reload %d daemon(s); wait for 0 in flight\n", r->j.group,
           mu_daemon_count(&r->o->m));
    printf("  2. copy orders+refunds in PK chunks, throttled at replica lag <= %ds\n", r->o->max_lag_s);
    printf("  3. catch up rows changed since the copy began (margin %d ms); verify every chunk by checksum\n",
           r->o->margin_ms);
    printf("  4. write freeze skip:freeze:%d, acks from every live daemon, final catch-up, re-verify\n", r->j.group);
    printf("  5. config: group %d retired, alias_of %d; reload; lift freeze; move outbox\n", r->j.group, r->j.into);
    printf("  6. RETIRED (later: --drop --yes deletes group %d's rows)\n", r->j.group);
    printf("  state file: %s\n", r->path);
    return 0;
}

/* ---------------- entry ---------------- */

static void join_replicas(const conf_group *g, char *out, size_t cap)
{
    size_t l = 0;
    out[0] = '\0';
    for (int i = 0; i < g->nreplicas; i++) {
        int w = snprintf(out + l, cap - l, "%s%s", i ? "," : "", g->replicas[i]);
        if (w < 0 || (size_t)w >= cap - l)
            break;
        l += (size_t)w;
    }
}

static int run(rt *r)
{
    const mig_retire_opts *o = r->o;
    r->c = mu_conf_load(o->m.config, r->err, sizeof r->err);
    if (r->c == NULL)
        return -1;
    char dcopy[4096];
    snprintf(dcopy, sizeof dcopy, "%s", o->m.config);
    snprintf(r->path, sizeof r->path, "%s/retire-%d.state", dirname(dcopy), o->group);
    bool found;
    if (load_state(r, &found) != 0)
        return -1;
    if (found && o->into && o->into != r->j.into) {
        snprintf(r->err, sizeof r->err, "a retire of group %d into group %d is in progress (%s); --into %d conflicts",
                 o->group, r->j.into, r->path, o->into);
        return -1;
    }
    if (!found) {
        const conf_group *g = conf_group_by_id(r->c, o->group);
        if (g == NULL || g->state == GROUP_RETIRED || g->primary == NULL) {
            snprintf(r->err, sizeof r->err, "group %d is not a group in service in %s", o->group, o->m.config);
            return -1;
        }
        int into = o->into ? o->into : mig_default_target(r->c, o->group);
        const conf_group *t = into > 0 ? conf_group_by_id(r->c, into) : NULL;
        if (t == NULL || into == o->group || t->state == GROUP_RETIRED || t->primary == NULL) {
            snprintf(r->err, sizeof r->err, "target group %d is not a group in service", into);
            return -1;
        }
        r->j.group = o->group;
        r->j.into = into;
        r->j.chunk_rows = o->chunk_rows;
        r->j.g_prev_weight = g->weight;
        snprintf(r->j.g_primary, sizeof r->j.g_primary, "%s", g->primary);
        snprintf(r->j.t_primary, sizeof r->j.t_primary, "%s", t->primary);
        join_replicas(g, r->j.g_replicas, sizeof r->j.g_replicas);
        join_replicas(t, r->j.t_replicas, sizeof r->j.t_replicas);
    } else {
        r->j.chunk_rows = o->chunk_rows;
        r->j.state = mig_resume_point(r->j.state);
        if (!o->abort && !o->drop && !o->dry_run && r->j.state != MIG_RETIRED && r->j.state != MIG_DROPPED)
            rt_say(r, "resuming retire of group %d into %d at %s (%" PRId64 " orders copied)", r->j.group, r->j.into,
                mig_state_name(r->j.state), r->j.rows_copied);
    }
    /* the filters name the ids routed to G *before* the flip */
    conf *pre = r->c;
    conf_group *cg = mu_group(pre, r->j.group);
    group_state keep = cg ? cg->state : GROUP_ACTIVE;
    int keep_alias = cg ? cg->alias_of : 0;
    if (cg) {
        cg->state = GROUP_DRAINING;
        cg->alias_of = 0;
    }
    if (mig_group_filter(pre, r->j.group, r->filter, sizeof r->filter) < 0 ||
        mig_refund_filter(pre, r->j.group, r->rfilter, sizeof r->rfilter) < 0) {
        snprintf(r->err, sizeof r->err, "group filter too long");
        return -1;
    }
    if (cg) {
        cg->state = keep;
        cg->alias_of = keep_alias;
    }
    r->kv = mu_kv(r->c);
    if (r->kv == NULL) {
        snprintf(r->err, sizeof r->err, "redis %s: cannot create client", r->c->redis_addr);
        return -1;
    }
    if (o->dry_run)
        return do_dry_run(r);
    if (o->abort) {
        if (!found) {
            rt_say(r, "nothing to abort: no retire of group %d in progress", o->group);
            return 0;
        }
        return do_abort(r);
    }
    if (o->drop) {
        if (!found) {
            snprintf(r->err, sizeof r->err, "no retire state for group %d (%s)", o->group, r->path);
            return -1;
        }
        return do_drop(r);
    }
    if (r->j.state == MIG_NONE) {
        if (rt_step(r, MIG_EV_START) != 0)
            return -1;
    }
    if (r->j.state == MIG_DRAINING) {
        rt_say(r, "group %d: draining (no new creates), reloading %d daemon(s)", r->j.group, mu_daemon_count(&o->m));
        if (rt_set_group_state(r, GROUP_DRAINING, 0, -1) != 0)
            return -1;
        if (rt_wait_drained(r) != 0 || connect_both(r) != 0 || rt_ensure_index(r) != 0)
            return -1;
        r->j.copy_start_ms = sk_now_ms();
        r->j.catchup_from_ms = r->j.copy_start_ms - o->margin_ms;
        if (rt_step(r, MIG_EV_DRAINED) != 0)
            return -1;
    }
    if (r->j.state == MIG_COPYING || r->j.state == MIG_CATCHUP || r->j.state == MIG_FLIPPING) {
        if (connect_both(r) != 0)
            return -1;
    }
    if (r->j.state == MIG_COPYING) {
        if (rt_copy(r) != 0 || rt_step(r, MIG_EV_COPIED) != 0)
            return -1;
    }
    if (r->j.state == MIG_CATCHUP) {
        if (rt_catchup_and_freeze(r) != 0)
            return -1;
    }
    if (r->j.state == MIG_FLIPPING) {
        conf_free(r->c);
        if ((r->c = mu_conf_load(o->m.config, r->err, sizeof r->err)) == NULL)
            return -1;
        if (rt_finish_flip(r) != 0)
            return -1;
        if (r->j.state == MIG_CATCHUP)
            return run(r);   /* config was never flipped: go round again */
    }
    if (r->j.state == MIG_RETIRED || r->j.state == MIG_DROPPED) {
        rt_say(r, "group %d is %s: alias of group %d; %" PRId64 " orders, %" PRId64 " refunds copied, %" PRId64
            " outbox events moved; freeze %" PRId64 " ms", r->j.group, mig_state_name(r->j.state), r->j.into,
            r->j.rows_copied, r->j.refunds_copied, r->j.outbox_moved, r->j.freeze_ms);
        if (r->j.skipped_orphans.n || r->j.retired_orphans.n)
            rt_say(r, "orphans (never given out, closed; archived in group %d's retired_orphans): %d left in group %d, "
                "%d removed from group %d", r->j.into, r->j.skipped_orphans.n, r->j.group, r->j.retired_orphans.n,
                r->j.into);
        if (o->m.json) {
            json_t *so = json_array(), *ro = json_array();
            for (int i = 0; so && i < r->j.skipped_orphans.n; i++)
                json_array_append_new(so, json_string(r->j.skipped_orphans.no[i]));
            for (int i = 0; ro && i < r->j.retired_orphans.n; i++)
                json_array_append_new(ro, json_string(r->j.retired_orphans.no[i]));
            char *sos = json_dumps(so, JSON_COMPACT), *ros = json_dumps(ro, JSON_COMPACT);
            printf("{\"group\":%d,\"into\":%d,\"state\":\"%s\",\"orders_copied\":%" PRId64 ",\"refunds_copied\":%" PRId64
                   ",\"outbox_moved\":%" PRId64 ",\"freeze_ms\":%" PRId64 ",\"skipped_orphans\":%s,\"retired_orphans\":%s"
                   ",\"seconds\":%.3f}\n",
                   r->j.group, r->j.into, mig_state_name(r->j.state), r->j.rows_copied, r->j.refunds_copied,
                   r->j.outbox_moved, r->j.freeze_ms, sos ? sos : "[]", ros ? ros : "[]",
                   (double)(sk_mono_ms() - r->t0_ms) / 1000.0);
            free(sos);
            free(ros);
            json_decref(so);
            json_decref(ro);
        }
    }
    return 0;
}

int mig_retire(const mig_retire_opts *o)
{
    rt r;
    memset(&r, 0, sizeof r);
    r.o = o;
    r.t0_ms = sk_mono_ms();
    mig_job_init(&r.j);
    int rc = run(&r);
    if (rc != 0) {
        if (r.kv && r.freeze_token[0])
            rt_unfreeze(&r);   /* never leave a freeze behind on error */
        if (o->m.json)
            printf("{\"group\":%d,\"ok\":false,\"state\":\"%s\",\"error\":\"%s\"}\n", o->group,
                   mig_state_name(r.j.state), "see stderr");
        fprintf(stderr, "%sskipctl group retire: %s\n", mu_tty() ? "\n" : "", r.err);
    }
    if (r.g)
        mysql_close(r.g);
    if (r.t)
        mysql_close(r.t);
    if (r.kv)
        kv_destroy(r.kv);
    sk_buf_free(&r.buf);
    mig_job_free(&r.j);
    conf_free(r.c);
    return rc == 0 ? 0 : 1;
}
