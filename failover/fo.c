/* failover/fo.c — see fo.h. Pure: no I/O, no clock. */
#include "failover/fo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- GTID ---------------- */

static int find_domain(const fo_gtid *g, uint32_t domain)
{
    for (int i = 0; i < g->n; i++)
        if (g->d[i].domain == domain)
            return i;
    return -1;
}

static int parse_u64(const char **p, uint64_t max, uint64_t *out)
{
    const char *s = *p;
    if (*s < '0' || *s > '9')
        return -1;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (max - d) / 10)
            return -1;
        v = v * 10 + d;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

int fo_gtid_parse(const char *s, fo_gtid *out)
{
    memset(out, 0, sizeof *out);
    if (s == NULL)
        return -1;
    while (*s == ' ' || *s == '\n')
        s++;
    if (*s == '\0')
        return 0;
    for (;;) {
        uint64_t dom, srv, seq;
        while (*s == ' ' || *s == '\n')
            s++;
        if (parse_u64(&s, UINT32_MAX, &dom) < 0 || *s++ != '-' || parse_u64(&s, UINT32_MAX, &srv) < 0 ||
            *s++ != '-' || parse_u64(&s, UINT64_MAX, &seq) < 0)
            return -1;
        if (out->n == FO_MAX_DOMAINS || find_domain(out, (uint32_t)dom) >= 0)
            return -1;
        out->d[out->n].domain = (uint32_t)dom;
        out->d[out->n].server = (uint32_t)srv;
        out->d[out->n].seq = seq;
        out->n++;
        while (*s == ' ' || *s == '\n')
            s++;
        if (*s == '\0')
            return 0;
        if (*s++ != ',')
            return -1;
    }
}

char *fo_gtid_format(const fo_gtid *g, char *out, size_t cap)
{
    size_t off = 0;
    if (cap)
        out[0] = '\0';
    for (int i = 0; i < g->n && off < cap; i++) {
        int w = snprintf(out + off, cap - off, "%s%u-%u-%llu", i ? "," : "", g->d[i].domain, g->d[i].server,
                         (unsigned long long)g->d[i].seq);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return out;
}

/* Does a hold every transaction of b? (per domain, seq of a >= seq of b) */
bool fo_gtid_covers(const fo_gtid *a, const fo_gtid *b)
{
    for (int i = 0; i < b->n; i++) {
        if (b->d[i].seq == 0)
            continue;
        int j = find_domain(a, b->d[i].domain);
        if (j < 0 || a->d[j].seq < b->d[i].seq)
            return false;
    }
    return true;
}

fo_gtid_order fo_gtid_cmp(const fo_gtid *a, const fo_gtid *b)
{
    bool ab = fo_gtid_covers(a, b), ba = fo_gtid_covers(b, a);
    if (ab && ba)
        return FO_GTID_EQUAL;
    if (ab)
        return FO_GTID_AHEAD;
    if (ba)
        return FO_GTID_BEHIND;
    return FO_GTID_DIVERGED;
}

int fo_gtid_extra(const fo_gtid *a, const fo_gtid *b, char *out, size_t cap)
{
    int n = 0;
    size_t off = 0;
    if (cap)
        out[0] = '\0';
    for (int i = 0; i < a->n; i++) {
        int j = find_domain(b, a->d[i].domain);
        uint64_t have = j < 0 ? 0 : b->d[j].seq;
        if (a->d[i].seq <= have)
            continue;
        n++;
        if (off < cap) {
            int w = snprintf(out + off, cap - off, "%s%u-%u-%llu..%u-%u-%llu", off ? "," : "", a->d[i].domain,
                             a->d[i].server, (unsigned long long)(have + 1), a->d[i].domain, a->d[i].server,
                             (unsigned long long)a->d[i].seq);
            if (w > 0)
                off += (size_t)w;
        }
    }
    return n;
}

/* ---------------- refusals ---------------- */

static const struct { const char *name, *text; } refusals[FO_R_MAX] = {
    [FO_OK] = {"OK", "the candidate holds every acknowledged transaction"},
    [FO_R_PRIMARY_ALIVE] = {"PRIMARY_ALIVE", "the primary answers and is writable: nothing to fail over"},
    [FO_R_PRIMARY_READONLY] = {"PRIMARY_READONLY",
                               "the primary answers but is read-only: a restart or maintenance, not a death"},
    [FO_R_NO_REPLICA] = {"NO_REPLICA", "the group has no replica to promote"},
    [FO_R_UNREACHABLE] = {"UNREACHABLE", "no replica of the group answers"},
    [FO_R_NOT_REPLICA] = {"NOT_REPLICA", "the candidate is not replicating (no slave status)"},
    [FO_R_SQL_STOPPED] = {"SQL_STOPPED",
                          "the candidate's SQL thread is stopped, so it is behind what it received; "
                          "find out why it was stopped, START SLAVE SQL_THREAD, wait, retry"},
    [FO_R_NOT_APPLIED] = {"NOT_APPLIED", "the candidate has not applied all it received (relay log behind)"},
    [FO_R_NO_EVIDENCE] = {"NO_EVIDENCE",
                          "no prober record of the old primary's semi-sync state: cannot prove that the "
                          "replica holds every acknowledged commit"},
    [FO_R_ASYNC] = {"ASYNC",
                    "the old primary was last seen replicating asynchronously (semi-sync timed out): "
                    "commits it acknowledged may exist only on it"},
    [FO_R_MISSING] = {"MISSING",
                      "the candidate lacks transactions the old primary had in its binary log when last seen"},
    [FO_R_BEHIND_OTHER] = {"BEHIND_OTHER", "another replica holds transactions the candidate lacks"},
    [FO_R_DIVERGED] = {"DIVERGED", "the replicas hold different transactions (GTID positions diverge)"},
    [FO_R_TO_UNKNOWN] = {"TO_UNKNOWN", "--to does not name a replica of the group"},
    [FO_R_UNPROVEN] = {"UNPROVEN",
                       "the old primary stopped answering too long after its last semi-sync-acknowledged "
                       "heartbeat (longer than its semi-sync timeout): it may have fallen back to asynchronous "
                       "replication and acknowledged commits the replicas never received"},
};

const char *fo_refusal_name(fo_refusal r) { return r < FO_R_MAX ? refusals[r].name : "?"; }
const char *fo_refusal_text(fo_refusal r) { return r < FO_R_MAX ? refusals[r].text : "?"; }

static fo_choice refuse(fo_refusal why, int culprit)
{
    return (fo_choice){.why = why, .chosen = -1, .culprit = culprit};
}

fo_choice fo_choose(fo_primary_state p, const fo_replica *r, int n, const fo_evidence *ev, const char *to,
                    bool require_evidence)
{
    if (p == FO_PRIMARY_WRITABLE)
        return refuse(FO_R_PRIMARY_ALIVE, -1);
    if (p == FO_PRIMARY_READONLY)
        return refuse(FO_R_PRIMARY_READONLY, -1);
    if (n <= 0)
        return refuse(FO_R_NO_REPLICA, -1);
    /* the most advanced reachable replica by what it received */
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (!r[i].reachable || !r[i].is_replica)
            continue;
        if (best < 0) {
            best = i;
            continue;
        }
        fo_gtid_order o = fo_gtid_cmp(&r[i].received, &r[best].received);
        if (o == FO_GTID_AHEAD)
            best = i;
    }
    int cand = best;
    if (to != NULL) {
        cand = -1;
        for (int i = 0; i < n; i++)
            if (r[i].addr && strcmp(r[i].addr, to) == 0)
                cand = i;
        if (cand < 0)
            return refuse(FO_R_TO_UNKNOWN, -1);
        if (!r[cand].reachable)
            return refuse(FO_R_UNREACHABLE, cand);
        if (!r[cand].is_replica)
            return refuse(FO_R_NOT_REPLICA, cand);
    }
    if (cand < 0) {
        for (int i = 0; i < n; i++)
            if (r[i].reachable)
                return refuse(FO_R_NOT_REPLICA, i);
        return refuse(FO_R_UNREACHABLE, -1);
    }
    /* the candidate must hold what every other reachable replica holds */
    for (int i = 0; i < n; i++) {
        if (i == cand || !r[i].reachable || !r[i].is_replica)
            continue;
        fo_gtid_order o = fo_gtid_cmp(&r[cand].received, &r[i].received);
        if (o == FO_GTID_DIVERGED)
            return refuse(FO_R_DIVERGED, i);
        if (o == FO_GTID_BEHIND)
            return refuse(FO_R_BEHIND_OTHER, i);
    }
    if (!r[cand].sql_running)
        return refuse(FO_R_SQL_STOPPED, cand);
    if (!fo_gtid_covers(&r[cand].applied, &r[cand].received))
        return refuse(FO_R_NOT_APPLIED, cand);
    if (require_evidence) {
        if (ev == NULL || !ev->known)
            return refuse(FO_R_NO_EVIDENCE, -1);
        if (!ev->semi_sync_on)
            return refuse(FO_R_ASYNC, -1);
        int64_t down = ev->down_ms > 0 ? ev->down_ms : ev->now_ms;
        if (ev->quiet_ms <= 0 || ev->timeout_ms <= 0 || down - ev->quiet_ms >= ev->timeout_ms)
            return refuse(FO_R_UNPROVEN, -1);
        if (!fo_gtid_covers(&r[cand].received, &ev->quiet))
            return refuse(FO_R_MISSING, cand);
    }
    return (fo_choice){.why = FO_OK, .chosen = cand, .culprit = -1};
}

/* ---------------- steps ---------------- */

static const char *const state_names[FO_ST_MAX] = {"NONE", "CHECKED", "PROMOTED", "REPOINTED", "CONFIGURED", "DONE"};
static const char *const event_names[FO_EV_MAX] = {"CHECK", "PROMOTE", "REPOINT", "CONFIGURE", "RELOAD", "ABORT"};

const char *fo_state_name(fo_state s) { return s < FO_ST_MAX ? state_names[s] : "?"; }
const char *fo_event_name(fo_event e) { return e < FO_EV_MAX ? event_names[e] : "?"; }

int fo_state_parse(const char *s, fo_state *out)
{
    for (int i = 0; s && i < FO_ST_MAX; i++)
        if (strcmp(s, state_names[i]) == 0) {
            *out = (fo_state)i;
            return 0;
        }
    return -1;
}

int fo_next(fo_state s, fo_event e, fo_state *out)
{
    fo_state n;
    switch (e) {
    case FO_EV_CHECK: if (s != FO_ST_NONE && s != FO_ST_DONE) return -1; n = FO_ST_CHECKED; break;
    case FO_EV_PROMOTE: if (s != FO_ST_CHECKED) return -1; n = FO_ST_PROMOTED; break;
    case FO_EV_REPOINT: if (s != FO_ST_PROMOTED) return -1; n = FO_ST_REPOINTED; break;
    case FO_EV_CONFIGURE: if (s != FO_ST_REPOINTED) return -1; n = FO_ST_CONFIGURED; break;
    case FO_EV_RELOAD: if (s != FO_ST_CONFIGURED) return -1; n = FO_ST_DONE; break;
    case FO_EV_ABORT: if (s != FO_ST_CHECKED) return -1; n = FO_ST_NONE; break;
    default: return -1;
    }
    *out = n;
    return 0;
}

bool fo_auto_due(bool enabled, int64_t down_ms, int64_t after_ms)
{
    return enabled && down_ms > 0 && down_ms >= after_ms;
}

/* ---------------- rejoin: extra transactions ---------------- */

int fo_binlog_gtid(const char *info, uint32_t *domain, uint32_t *server, uint64_t *seq)
{
    if (info == NULL)
        return -1;
    const char *p = strstr(info, "GTID ");
    if (p == NULL)
        return -1;
    p += 5;
    uint64_t d, s, n;
    if (parse_u64(&p, UINT32_MAX, &d) < 0 || *p++ != '-' || parse_u64(&p, UINT32_MAX, &s) < 0 || *p++ != '-' ||
        parse_u64(&p, UINT64_MAX, &n) < 0)
        return -1;
    *domain = (uint32_t)d;
    *server = (uint32_t)s;
    *seq = n;
    return 0;
}

int fo_binlog_table(const char *info, char *out, size_t cap)
{
    const char *o = info ? strchr(info, '(') : NULL;
    const char *c = o ? strchr(o, ')') : NULL;
    if (o == NULL || c == NULL || c - o < 4 || (size_t)(c - o - 1) >= cap || memchr(o, '.', (size_t)(c - o)) == NULL)
        return -1;
    memcpy(out, o + 1, (size_t)(c - o - 1));
    out[c - o - 1] = '\0';
    return 0;
}

bool fo_extra_discardable(const char *table, const char *db)
{
    size_t n = db ? strlen(db) : 0;
    return table && n > 0 && strncmp(table, db, n) == 0 && strcmp(table + n, ".heartbeat") == 0;
}
