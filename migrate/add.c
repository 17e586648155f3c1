/*
 * migrate/add.c — `skipctl group add` (expand; runbook docs/expand.md).
 *   1. pre-checks on the new group: id free (or the same group already being
 *      added: re-runs continue the ramp), schema_version >= every group in
 *      service, the app user connects and has exactly DML on the database,
 *      a writability probe as the app user (UPDATE heartbeat), replication
 *      running on every replica (SHOW SLAVE STATUS, admin user)
 *   2. config: the group with weight 0, reload every daemon
 *   3. ramp the weight to W in steps over --ramp (config write + reload per
 *      step), checking /v1/groups of every daemon before each step: failures
 *      at/over --max-failures or a failed probe stop the ramp, fence the
 *      group (config state fenced + runtime fence) and exit 1.
 */
#include "migrate/migio.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/mig.h"

static void say(const mig_add_opts *o, const char *msg)
{
    if (!o->m.json) {
        printf("%s\n", msg);
        fflush(stdout);
    }
}

/* Does one SHOW GRANTS line give more than DML on our database, or anything
 * beyond USAGE elsewhere? Sets *dml when it grants DML on the database. */
static int grant_ok(const char *line, const char *db, bool *dml)
{
    char up[1024];
    size_t i;
    for (i = 0; line[i] && i < sizeof up - 1; i++)
        up[i] = (char)toupper((unsigned char)line[i]);
    up[i] = '\0';
    if (strncmp(up, "GRANT USAGE ON *.*", 18) == 0)
        return 0;
    if (strncmp(up, "GRANT PROXY", 11) == 0)
        return -1;
    const char *on = strstr(up, " ON ");
    if (on == NULL)
        return -1;
    char want[200], want2[200];
    snprintf(want, sizeof want, " ON `%s`.*", db);
    snprintf(want2, sizeof want2, " ON %s.*", db);
    for (char *p = want; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    for (char *p = want2; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    if (strncmp(on, " ON *.*", 7) == 0)
        return -1;   /* global rights beyond USAGE */
    bool ours = strncmp(on, want, strlen(want)) == 0 || strncmp(on, want2, strlen(want2)) == 0;
    /* privileges between "GRANT " and " ON " */
    char privs[512];
    size_t n = (size_t)(on - (up + 6));
    if (n >= sizeof privs)
        return -1;
    memcpy(privs, up + 6, n);
    privs[n] = '\0';
    int seen = 0;
    for (char *sv = NULL, *t = strtok_r(privs, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
        while (*t == ' ')
            t++;
        if (strcmp(t, "SELECT") && strcmp(t, "INSERT") && strcmp(t, "UPDATE") && strcmp(t, "DELETE"))
            return -1;
        seen++;
    }
    *dml = ours && seen == 4;
    return 0;
}

static int prechecks(const mig_add_opts *o, const conf *c, char *err, size_t cap)
{
    char e[512];
    MYSQL *adm = mu_connect(&o->m, c, o->primary, false, 5000, e, sizeof e);
    if (adm == NULL) {
        snprintf(err, cap, "admin connect %s: %s", o->primary, e);
        return -1;
    }
    static const char schema_q[] = "SELECT COALESCE(MAX(version),0) FROM schema_version";
    int64_t v = 0;
    sk_status st = dal_query_int(adm, schema_q, &v);
    if (st != SK_OK || v <= 0) {
        snprintf(err, cap, "%s: no schema_version (apply devtools/schema/group_v1.sql first): %s", o->primary,
                 st != SK_OK ? dal_strerror(adm, st) : "version 0");
        mysql_close(adm);
        return -1;
    }
    mysql_close(adm);
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        if (g->state == GROUP_RETIRED || g->primary == NULL || g->id == o->id)
            continue;
        MYSQL *my = mu_connect(&o->m, c, g->primary, false, 5000, e, sizeof e);
        if (my == NULL)
            continue;   /* a sick existing group does not block an expansion */
        int64_t gv = 0;
        if (dal_query_int(my, schema_q, &gv) != SK_OK)
            gv = 0;   /* unreadable: not newer */
        mysql_close(my);
        if (gv > v) {
            snprintf(err, cap, "%s: schema version %lld is older than group %d's %lld", o->primary, (long long)v,
                     g->id, (long long)gv);
            return -1;
        }
    }
    MYSQL *app = mu_connect(&o->m, c, o->primary, true, 2000, e, sizeof e);
    if (app == NULL) {
        snprintf(err, cap, "app user %s cannot connect to %s: %s", c->db_user, o->primary, e);
        return -1;
    }
    bool dml = false;
    int bad = 0;
    MYSQL_RES *res;
    if ((st = dal_query(app, "SHOW GRANTS", 11, &res)) == SK_OK) {
        MYSQL_ROW row;
        while ((row = mysql_fetch_row(res)) != NULL) {
            bool d = false;
            if (row[0] && grant_ok(row[0], c->db_name, &d) != 0) {
                snprintf(err, cap, "app user has more than DML on %s: %s", c->db_name, row[0]);
                bad = 1;
            }
            dml |= d;
        }
        mysql_free_result(res);
    } else {
        snprintf(err, cap, "SHOW GRANTS: %s", dal_strerror(app, st));
        bad = 1;
    }
    if (!bad && !dml) {
        snprintf(err, cap, "app user lacks SELECT, INSERT, UPDATE, DELETE on %s.*", c->db_name);
        bad = 1;
    }
    static const char probe_q[] = "UPDATE heartbeat SET ts=NOW(3), writer='skipctl-add' WHERE id=1";
    if (!bad && (st = dal_exec(app, probe_q, sizeof probe_q - 1)) != SK_OK) {
        snprintf(err, cap, "writability probe on %s failed: %s", o->primary, dal_strerror(app, st));
        bad = 1;
    }
    mysql_close(app);
    if (bad)
        return -1;
    if (o->replicas) {
        char list[1024];
        snprintf(list, sizeof list, "%s", o->replicas);
        for (char *sv = NULL, *a = strtok_r(list, ",", &sv); a; a = strtok_r(NULL, ",", &sv)) {
            MYSQL *r = mu_connect(&o->m, c, a, false, 2000, e, sizeof e);
            if (r == NULL) {
                snprintf(err, cap, "replica %s: %s", a, e);
                return -1;
            }
            static const char *const cols[] = {"Slave_IO_Running", "Slave_SQL_Running"};
            char v2[2][DAL_CELL];
            int io = 0, sql = 0;
            if (dal_query_named(r, "SHOW SLAVE STATUS", cols, v2, 2) == SK_OK) {
                io = strcmp(v2[0], "Yes") == 0;
                sql = strcmp(v2[1], "Yes") == 0;
            }
            mysql_close(r);
            if (!io || !sql) {
                snprintf(err, cap, "replica %s: replication is not running (IO %s, SQL %s)", a, io ? "Yes" : "No",
                         sql ? "Yes" : "No");
                return -1;
            }
        }
    }
    return 0;
}

/* Load, let `edit` change the group, write, reload all. */
static int apply(const mig_add_opts *o, int weight, group_state st, char *err, size_t cap)
{
    conf *c = mu_conf_load(o->m.config, err, cap);
    if (c == NULL)
        return -1;
    conf_group *g = mu_group(c, o->id);
    int rc = -1;
    if (g == NULL) {
        if (c->ngroups >= CONF_MAX_GROUPS) {
            snprintf(err, cap, "too many groups");
            goto out;
        }
        g = &c->groups[c->ngroups++];
        memset(g, 0, sizeof *g);
        g->id = o->id;
        g->primary = strdup(o->primary);
        if (o->replicas) {
            char list[1024];
            snprintf(list, sizeof list, "%s", o->replicas);
            for (char *sv = NULL, *a = strtok_r(list, ",", &sv); a && g->nreplicas < CONF_MAX_REPLICAS;
                 a = strtok_r(NULL, ",", &sv))
                g->replicas[g->nreplicas++] = strdup(a);
        }
    }
    g->weight = weight;
    g->state = st;
    if (mu_conf_write(o->m.config, c, err, cap) == 0 && mu_reload_all(&o->m, err, cap) == 0)
        rc = 0;
out:
    conf_free(c);
    return rc;
}

/* 0 healthy, 1 unhealthy (why in err), -1 cannot tell. */
static int health(const mig_add_opts *o, char *err, size_t cap)
{
    int n = mu_daemon_count(&o->m);
    for (int i = 0; i < n; i++) {
        char url[512], e[512];
        mu_daemon_url(&o->m, i, url, sizeof url);
        json_t *gs = mu_groups(&o->m, url, e, sizeof e);
        json_t *g = gs ? mu_group_obj(gs, o->id) : NULL;
        if (g == NULL) {
            snprintf(err, cap, "%s: group %d not visible: %s", url, o->id, gs ? "not in /v1/groups" : e);
            json_decref(gs);
            return -1;
        }
        json_int_t f = json_integer_value(json_object_get(g, "failures_this_window"));
        json_t *p = json_object_get(g, "last_probe");
        bool probe_bad = json_is_object(p) && json_is_false(json_object_get(p, "ok"));
        if (f >= o->max_failures || probe_bad) {
            snprintf(err, cap, "%s: group %d has %lld failure(s) this window, last probe %s", url, o->id,
                     (long long)f, probe_bad ? "failed" : "ok");
            json_decref(gs);
            return 1;
        }
        json_decref(gs);
    }
    return 0;
}

int mig_add(const mig_add_opts *o)
{
    char err[1024] = "", msg[1200];
    conf *c = mu_conf_load(o->m.config, err, sizeof err);
    if (c == NULL)
        goto fail;
    const conf_group *ex = conf_group_by_id(c, o->id);
    int start_weight = 0;
    if (ex != NULL) {
        if (ex->state == GROUP_RETIRED) {
            snprintf(err, sizeof err, "group id %d is retired (an alias of %d); a retired id never comes back — "
                     "add the server under a new id", o->id, ex->alias_of);
            conf_free(c);
            goto fail;
        }
        if (ex->primary == NULL || strcmp(ex->primary, o->primary) != 0) {
            snprintf(err, sizeof err, "group id %d is in use (primary %s)", o->id, ex->primary ? ex->primary : "-");
            conf_free(c);
            goto fail;
        }
        if (ex->state == GROUP_FENCED) {
            snprintf(err, sizeof err, "group %d is fenced (a ramp stopped on errors); fix it, set state: active "
                     "in the config, then re-run", o->id);
            conf_free(c);
            goto fail;
        }
        start_weight = ex->weight;
        snprintf(msg, sizeof msg, "group %d already configured (weight %d): continuing", o->id, ex->weight);
        say(o, msg);
    }
    if (prechecks(o, c, err, sizeof err) != 0) {
        conf_free(c);
        goto fail;
    }
    conf_free(c);
    say(o, "pre-checks ok: schema version, app user DML only, writable, replication running");
    if (ex == NULL) {
        if (apply(o, 0, GROUP_ACTIVE, err, sizeof err) != 0)
            goto fail;
        snprintf(msg, sizeof msg, "group %d added with weight 0; daemons reloaded", o->id);
        say(o, msg);
    }
    mig_ramp_step steps[MIG_RAMP_MAX_STEPS];
    int n = mig_ramp_plan(o->weight, o->ramp_ms, 1000, steps, MIG_RAMP_MAX_STEPS);
    int64_t t0 = sk_mono_ms();
    int cur = start_weight;
    for (int i = 0; i < n; i++) {
        if (steps[i].weight <= cur)
            continue;
        sk_sleep_ms(t0 + steps[i].at_ms - sk_mono_ms());
        int h = health(o, err, sizeof err);
        if (h != 0) {
            char why[1024];
            snprintf(why, sizeof why, "%s", err);
            if (h > 0) {
                (void)apply(o, cur, GROUP_FENCED, err, sizeof err);
                char url[512];
                for (int d = 0; d < mu_daemon_count(&o->m); d++) {
                    char path[64];
                    snprintf(path, sizeof path, "/v1/groups/%d/fence", o->id);
                    (void)httpc_call(mu_daemon_url(&o->m, d, url, sizeof url), o->m.token, "POST", path, NULL,
                                     MU_HTTP_TIMEOUT_MS, NULL, err, sizeof err);
                }
                snprintf(err, sizeof err, "ramp stopped at weight %d and group %d FENCED: %s", cur, o->id, why);
            } else {
                snprintf(err, sizeof err, "ramp stopped at weight %d: %s", cur, why);
            }
            goto fail;
        }
        if (apply(o, steps[i].weight, GROUP_ACTIVE, err, sizeof err) != 0)
            goto fail;
        cur = steps[i].weight;
        snprintf(msg, sizeof msg, "ramp: group %d weight %d", o->id, cur);
        say(o, msg);
    }
    if (n > 0 && cur < o->weight) {
        if (apply(o, o->weight, GROUP_ACTIVE, err, sizeof err) != 0)
            goto fail;
        cur = o->weight;
    }
    if (o->m.json)
        printf("{\"id\":%d,\"ok\":true,\"weight\":%d,\"state\":\"ACTIVE\"}\n", o->id, cur);
    else
        printf("group %d active at weight %d\n", o->id, cur);
    return 0;
fail:
    if (o->m.json)
        printf("{\"id\":%d,\"ok\":false}\n", o->id);
    fprintf(stderr, "skipctl group add: %s\n", err);
    return 1;
}
