/*
 * migrate/audit.c — `skipctl audit [--fix]`: scans every group in service
 * and the merchant store and reports
 *   duplicate        the same order_no in two groups
 *   misplaced        an order in a group its number does not route to
 *   duplicate_live   the same merchant_id+out_trade_no not CLOSED twice, and
 *                    no way to tell which number the client got
 *   orphan           a CREATED order whose merchant_id+out_trade_no also exists
 *                    as another live order that the client was given (Redis
 *                    idempotency record <order_no>|<deadline>|<token>, or the other one is
 *                    PAID/REFUNDED): left by an insert whose outcome was
 *                    unknown (spec §6). --fix closes it through the daemon
 *                    (POST /v1/orders/{no}/close), so outbox and mirror see it.
 *   missing_in_mirror / version_mismatch / mirror_only
 *                    merchant store vs groups; differences that mirror lag or
 *                    a group moving on during the scan can explain are
 *                    re-checked for up to --settle ms first.
 *                    A mirror-only order listed in a group's retired_orphans
 *                    table (an orphan a shrink closed and left out or removed,
 *                    docs/shrink.md "Key clashes") is accounted for: reported
 *                    under retired_orphans, not a problem.
 * Memory: one small record per order (about 150 bytes).
 */
#include "migrate/migio.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "migrate/mig.h"

typedef struct {
    char no[26];
    char merchant[33];
    char otn[65];
    char status[11];
    int64_t version;
    int in_group;       /* group whose database holds the row */
} arec;

typedef struct {
    arec *v;
    size_t n, cap;
} avec;

typedef struct {
    json_t *dup, *misplaced, *dup_live, *orphan, *missing, *mismatch, *mirror_only, *fixed, *errors, *retired;
} report;

/* order_nos in the retired_orphans tables of the groups in service (written
 * by `group retire`; a group without the table has none). */
static void scan_retired_orphans(const mig_audit_opts *o, const conf *c, mig_keyset *out, json_t *errors)
{
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        if (g->state == GROUP_RETIRED || g->primary == NULL)
            continue;
        char e[512];
        MYSQL *my = mu_connect(&o->m, c, g->primary, false, 60000, e, sizeof e);
        if (my == NULL)
            continue;   /* scan_group reported it */
        const char *sql = "SELECT order_no FROM retired_orphans";
        MYSQL_RES *res;
        sk_status st = dal_query(my, sql, strlen(sql), &res);
        if (st != SK_OK) {
            if (mysql_errno(my) != 1146)   /* ER_NO_SUCH_TABLE: no retire wrote one here */
                json_array_append_new(errors, json_sprintf("group %d retired_orphans: %s", g->id,
                                                           dal_strerror(my, st)));
            mysql_close(my);
            continue;
        }
        MYSQL_ROW row;
        while ((row = mysql_fetch_row(res)) != NULL)
            if (row[0])
                (void)mig_keyset_add(out, row[0]);
        mysql_free_result(res);
        mysql_close(my);
    }
}

static int push(avec *a, const arec *r)
{
    if (a->n == a->cap) {
        size_t nc = a->cap ? a->cap * 2 : 4096;
        arec *p = realloc(a->v, nc * sizeof *p);
        if (p == NULL)
            return -1;
        a->v = p;
        a->cap = nc;
    }
    a->v[a->n++] = *r;
    return 0;
}

static int by_no(const void *a, const void *b)
{
    return strcmp(((const arec *)a)->no, ((const arec *)b)->no);
}

static int by_key(const void *a, const void *b)
{
    const arec *x = a, *y = b;
    int c = strcmp(x->merchant, y->merchant);
    if (c == 0)
        c = strcmp(x->otn, y->otn);
    return c ? c : strcmp(x->no, y->no);
}

static int scan_group(const mig_audit_opts *o, const conf *c, const conf_group *g, avec *all, char *err, size_t cap)
{
    char e[512];
    MYSQL *my = mu_connect(&o->m, c, g->primary, false, 60000, e, sizeof e);
    if (my == NULL)
        my = mu_connect(&o->m, c, g->primary, true, 60000, e, sizeof e);   /* app user will do */
    if (my == NULL) {
        snprintf(err, cap, "group %d %s: %s", g->id, g->primary, e);
        return -1;
    }
    const char *sql = "SELECT order_no, merchant_id, out_trade_no, status, version FROM orders";
    if (mysql_real_query(my, sql, strlen(sql)) != 0) {
        snprintf(err, cap, "group %d: %s", g->id, mysql_error(my));
        mysql_close(my);
        return -1;
    }
    MYSQL_RES *res = mysql_use_result(my);
    MYSQL_ROW row;
    int rc = 0;
    while (res && (row = mysql_fetch_row(res)) != NULL) {
        arec r;
        memset(&r, 0, sizeof r);
        snprintf(r.no, sizeof r.no, "%s", row[0] ? row[0] : "");
        snprintf(r.merchant, sizeof r.merchant, "%s", row[1] ? row[1] : "");
        snprintf(r.otn, sizeof r.otn, "%s", row[2] ? row[2] : "");
        snprintf(r.status, sizeof r.status, "%s", row[3] ? row[3] : "");
        r.version = row[4] ? strtoll(row[4], NULL, 10) : 0;
        r.in_group = g->id;
        if (push(all, &r) != 0) {
            snprintf(err, cap, "out of memory");
            rc = -1;
            break;
        }
    }
    if (res == NULL || mysql_errno(my) != 0) {
        snprintf(err, cap, "group %d: %s", g->id, mysql_error(my));
        rc = -1;
    }
    if (res)
        mysql_free_result(res);
    mysql_close(my);
    return rc;
}

static int stamped(const char *no)
{
    return strlen(no) == 25 ? (no[22] - '0') * 10 + (no[23] - '0') : -1;
}

/* The order number the client was given for merchant+out_trade_no, from the
 * idempotency record "<order_no>|<holder deadline ms>|<daemon token>" that
 * skipstored keeps pointing at the number it inserted last (rpc/api.c);
 * "" if none. */
static void idem_number(kv *k, const char *m, const char *otn, char out[26])
{
    out[0] = '\0';
    if (k == NULL)
        return;
    redisReply *x = kv_cmd(k, "GET skip:idem:%s:%s", m, otn);
    if (x && x->type == REDIS_REPLY_STRING && x->len > 25 && x->str[25] == '|') {
        memcpy(out, x->str, 25);
        out[25] = '\0';
    }
    if (x)
        freeReplyObject(x);
}

static void check_keys(const mig_audit_opts *o, avec *all, kv *k, report *rp)
{
    qsort(all->v, all->n, sizeof *all->v, by_key);
    for (size_t i = 0; i < all->n;) {
        size_t j = i + 1;
        while (j < all->n && strcmp(all->v[j].merchant, all->v[i].merchant) == 0 &&
               strcmp(all->v[j].otn, all->v[i].otn) == 0)
            j++;
        int live = 0;
        for (size_t x = i; x < j; x++)
            live += strcmp(all->v[x].status, "CLOSED") != 0;
        if (j - i > 1 && live > 1) {
            char given[26];
            idem_number(k, all->v[i].merchant, all->v[i].otn, given);
            int settled = 0;    /* live orders that are past CREATED */
            for (size_t x = i; x < j; x++)
                settled += strcmp(all->v[x].status, "CLOSED") != 0 && strcmp(all->v[x].status, "CREATED") != 0;
            bool known = given[0] != '\0' || settled == 1;
            for (size_t x = i; x < j; x++) {
                arec *r = &all->v[x];
                if (strcmp(r->status, "CREATED") != 0)
                    continue;
                bool is_orphan = known && (given[0] ? strcmp(r->no, given) != 0 : true);
                if (!is_orphan)
                    continue;
                json_array_append_new(rp->orphan, json_pack("{s:s,s:s,s:s,s:i,s:s}", "order_no", r->no,
                                                            "merchant_id", r->merchant, "out_trade_no", r->otn,
                                                            "group", r->in_group, "client_has",
                                                            given[0] ? given : "(the paid one)"));
            }
            if (!known)
                json_array_append_new(rp->dup_live, json_pack("{s:s,s:s,s:i}", "merchant_id", all->v[i].merchant,
                                                              "out_trade_no", all->v[i].otn, "live", live));
        }
        i = j;
    }
    (void)o;
}

/* mirror rows: order_no -> version */
typedef struct {
    char no[26];
    int64_t version;
} mrec;

static int by_mno(const void *a, const void *b)
{
    return strcmp(((const mrec *)a)->no, ((const mrec *)b)->no);
}

static MYSQL *merchant_conn(const mig_audit_opts *o, const conf *c, char *err, size_t cap)
{
    char e[512];
    /* the merchant store uses its own database name */
    conf mc = *c;
    mc.db_name = c->merchant_db_name;
    mc.db_user = c->merchant_user;
    mc.db_password = c->merchant_password;
    mc.db_tls = c->merchant_tls;
    MYSQL *my = mu_connect(&o->m, &mc, c->merchant_addr, false, 60000, e, sizeof e);
    if (my == NULL)
        my = mu_connect(&o->m, &mc, c->merchant_addr, true, 60000, e, sizeof e);
    if (my == NULL)
        snprintf(err, cap, "merchant store %s: %s", c->merchant_addr, e);
    return my;
}

static int scan_mirror(MYSQL *my, const char *where, mrec **out, size_t *n, char *err, size_t cap)
{
    char sql[8192];
    snprintf(sql, sizeof sql, "SELECT order_no, version FROM merchant_orders%s", where);
    if (mysql_real_query(my, sql, strlen(sql)) != 0) {
        snprintf(err, cap, "merchant store: %s", mysql_error(my));
        return -1;
    }
    MYSQL_RES *res = mysql_use_result(my);
    MYSQL_ROW row;
    size_t cnt = 0, mc = 0;
    mrec *v = NULL;
    while (res && (row = mysql_fetch_row(res)) != NULL) {
        if (cnt == mc) {
            mc = mc ? mc * 2 : 4096;
            mrec *p = realloc(v, mc * sizeof *p);
            if (p == NULL) {
                free(v);
                mysql_free_result(res);
                snprintf(err, cap, "out of memory");
                return -1;
            }
            v = p;
        }
        snprintf(v[cnt].no, sizeof v[cnt].no, "%s", row[0] ? row[0] : "");
        v[cnt].version = row[1] ? strtoll(row[1], NULL, 10) : 0;
        cnt++;
    }
    if (res)
        mysql_free_result(res);
    qsort(v, cnt, sizeof *v, by_mno);
    *out = v;
    *n = cnt;
    return 0;
}

typedef struct {
    char no[26];
    int kind;   /* 0 missing, 1 mirror older, 2 mirror newer, 3 mirror only */
    int64_t gv, mv;
} diff;

/* Compare sorted group records with sorted mirror records. */
static size_t compare(const avec *all, const mrec *m, size_t nm, diff *out, size_t max)
{
    size_t i = 0, j = 0, n = 0;
    while ((i < all->n || j < nm) && n < max) {
        int c = i >= all->n ? 1 : j >= nm ? -1 : strcmp(all->v[i].no, m[j].no);
        if (c < 0) {
            out[n++] = (diff){.kind = 0, .gv = all->v[i].version};
            snprintf(out[n - 1].no, 26, "%s", all->v[i].no);
            i++;
        } else if (c > 0) {
            out[n++] = (diff){.kind = 3, .mv = m[j].version};
            snprintf(out[n - 1].no, 26, "%s", m[j].no);
            j++;
        } else {
            if (all->v[i].version != m[j].version) {
                out[n++] = (diff){.kind = all->v[i].version > m[j].version ? 1 : 2, .gv = all->v[i].version,
                                  .mv = m[j].version};
                snprintf(out[n - 1].no, 26, "%s", all->v[i].no);
            }
            i++;
            j++;
        }
    }
    return n;
}

#define MAX_DIFFS 100000

int mig_audit(const mig_audit_opts *o)
{
    char err[1024] = "";
    conf *c = mu_conf_load(o->m.config, err, sizeof err);
    if (c == NULL) {
        fprintf(stderr, "skipctl audit: %s\n", err);
        return 1;
    }
    report rp = {json_array(), json_array(), json_array(), json_array(), json_array(), json_array(), json_array(),
                 json_array(), json_array(), json_array()};
    mig_keyset retired;
    mig_keyset_init(&retired);
    scan_retired_orphans(o, c, &retired, rp.errors);
    avec all = {0};
    int ngroups = 0;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        if (g->state == GROUP_RETIRED || g->primary == NULL)
            continue;
        ngroups++;
        if (scan_group(o, c, g, &all, err, sizeof err) != 0)
            json_array_append_new(rp.errors, json_string(err));
    }
    /* same number twice; numbers in the wrong group */
    qsort(all.v, all.n, sizeof *all.v, by_no);
    for (size_t i = 0; i < all.n; i++) {
        if (i + 1 < all.n && strcmp(all.v[i].no, all.v[i + 1].no) == 0)
            json_array_append_new(rp.dup, json_pack("{s:s,s:[i,i]}", "order_no", all.v[i].no, "groups",
                                                    all.v[i].in_group, all.v[i + 1].in_group));
        int route = conf_route_group(c, stamped(all.v[i].no));
        if (route != all.v[i].in_group)
            json_array_append_new(rp.misplaced, json_pack("{s:s,s:i,s:i}", "order_no", all.v[i].no, "in_group",
                                                          all.v[i].in_group, "routes_to", route));
    }
    kv *k = mu_kv(c);
    check_keys(o, &all, k, &rp);
    qsort(all.v, all.n, sizeof *all.v, by_no);

    /* mirror vs groups; what lag can explain is re-checked until --settle */
    MYSQL *mm = merchant_conn(o, c, err, sizeof err);
    if (mm == NULL) {
        json_array_append_new(rp.errors, json_string(err));
    } else {
        diff *d = calloc(MAX_DIFFS, sizeof *d);
        mrec *m = NULL;
        size_t nm = 0, nd = 0;
        int64_t until = sk_mono_ms() + o->settle_ms;
        for (int round = 0; d != NULL; round++) {
            free(m);
            m = NULL;
            if (scan_mirror(mm, "", &m, &nm, err, sizeof err) != 0) {
                json_array_append_new(rp.errors, json_string(err));
                break;
            }
            nd = compare(&all, m, nm, d, MAX_DIFFS);
            /* mirror behind (0, 1), or ahead of group rows read before the
             * group moved on (2, 3: e.g. the expiry sweeper closed an order
             * between the group scan and the mirror scan; found by a soak).
             * A real difference outlives --settle and is reported. */
            bool lagging = nd > 0;
            if (!lagging || sk_mono_ms() > until)
                break;
            sk_sleep_ms(500);
            /* groups move on too: re-read the group versions */
            all.n = 0;
            for (int i = 0; i < c->ngroups; i++) {
                const conf_group *g = &c->groups[i];
                if (g->state != GROUP_RETIRED && g->primary != NULL)
                    (void)scan_group(o, c, g, &all, err, sizeof err);
            }
            qsort(all.v, all.n, sizeof *all.v, by_no);
            (void)round;
        }
        for (size_t i = 0; d && i < nd; i++) {
            json_t *e = json_pack("{s:s,s:I,s:I}", "order_no", d[i].no, "group_version", (json_int_t)d[i].gv,
                                  "mirror_version", (json_int_t)d[i].mv);
            if (d[i].kind == 3 && mig_keyset_has(&retired, d[i].no))
                json_array_append_new(rp.retired, e);   /* accounted for by a shrink */
            else
                json_array_append_new(d[i].kind == 0 ? rp.missing : d[i].kind == 3 ? rp.mirror_only : rp.mismatch, e);
        }
        free(d);
        free(m);
        mysql_close(mm);
    }

    /* --fix: close orphans through the daemon (outbox + mirror see it) */
    if (o->fix) {
        char url[512];
        const char *u = mu_daemon_url(&o->m, 0, url, sizeof url);
        size_t i;
        json_t *x;
        json_array_foreach(rp.orphan, i, x) {
            const char *no = json_string_value(json_object_get(x, "order_no"));
            char path[128];
            snprintf(path, sizeof path, "/v1/orders/%s/close", no);
            int st = u ? httpc_call(u, o->m.token, "POST", path, "{}", MU_HTTP_TIMEOUT_MS, NULL, err, sizeof err) : -1;
            if (st == 200)
                json_array_append_new(rp.fixed, json_string(no));
            else
                json_array_append_new(rp.errors, json_sprintf("close %s: %s", no, err));
        }
    }

    size_t problems = json_array_size(rp.dup) + json_array_size(rp.misplaced) + json_array_size(rp.dup_live) +
                      json_array_size(rp.orphan) - json_array_size(rp.fixed) + json_array_size(rp.missing) +
                      json_array_size(rp.mismatch) + json_array_size(rp.mirror_only) + json_array_size(rp.errors);
    if (o->m.json) {
        json_t *j = json_pack("{s:I,s:i,s:b,s:{s:O,s:O,s:O,s:O,s:O,s:O,s:O},s:O,s:O,s:O}", "orders", (json_int_t)all.n,
                              "groups", ngroups, "clean", problems == 0, "problems", "duplicate", rp.dup, "misplaced",
                              rp.misplaced, "duplicate_live", rp.dup_live, "orphan", rp.orphan, "missing_in_mirror",
                              rp.missing, "version_mismatch", rp.mismatch, "mirror_only", rp.mirror_only, "fixed",
                              rp.fixed, "errors", rp.errors, "retired_orphans", rp.retired);
        if (j) {
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        }
    } else {
        printf("audit: %zu orders in %d groups\n", all.n, ngroups);
        struct { const char *name; json_t *a; } sec[] = {
            {"duplicate", rp.dup}, {"misplaced", rp.misplaced}, {"duplicate_live", rp.dup_live},
            {"orphan", rp.orphan}, {"missing_in_mirror", rp.missing}, {"version_mismatch", rp.mismatch},
            {"mirror_only", rp.mirror_only}, {"fixed", rp.fixed}, {"error", rp.errors},
            {"retired_orphan (accounted)", rp.retired}};
        for (size_t s = 0; s < sizeof sec / sizeof sec[0]; s++) {
            size_t i;
            json_t *x;
            json_array_foreach(sec[s].a, i, x) {
                if (i >= 50) {
                    printf("  %s: ... %zu more\n", sec[s].name, json_array_size(sec[s].a) - 50);
                    break;
                }
                char *t = json_dumps(x, JSON_COMPACT | JSON_ENCODE_ANY);
                printf("  %s: %s\n", sec[s].name, t ? t : "?");
                free(t);
            }
        }
        printf(problems == 0 ? "audit: clean\n" : "audit: %zu problem(s)\n", problems);
    }
    json_decref(rp.dup);
    json_decref(rp.misplaced);
    json_decref(rp.dup_live);
    json_decref(rp.orphan);
    json_decref(rp.missing);
    json_decref(rp.mismatch);
    json_decref(rp.mirror_only);
    json_decref(rp.fixed);
    json_decref(rp.errors);
    json_decref(rp.retired);
    mig_keyset_free(&retired);
    if (k)
        kv_destroy(k);
    free(all.v);
    conf_free(c);
    return problems == 0 ? 0 : 1;
}
