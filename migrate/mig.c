/*
 * migrate/mig.c — pure core of expand/shrink: retire state machine,
 * chunks, SQL text, ramp schedule, default target, state file JSON, and the
 * re-emitted groups section of the config. See migrate/mig.h.
 */
#include "migrate/mig.h"

#include <errno.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------- state machine ---------------- */

static const char *const state_names[MIG_STATE_MAX] = {
    [MIG_NONE] = "NONE", [MIG_DRAINING] = "DRAINING", [MIG_COPYING] = "COPYING",
    [MIG_CATCHUP] = "CATCHUP", [MIG_FREEZING] = "FREEZING", [MIG_FLIPPING] = "FLIPPING",
    [MIG_RETIRED] = "RETIRED", [MIG_DROPPED] = "DROPPED", [MIG_ABORTED] = "ABORTED",
};

static const char *const event_names[MIG_EV_MAX] = {
    [MIG_EV_START] = "start", [MIG_EV_DRAINED] = "drained", [MIG_EV_COPIED] = "copied",
    [MIG_EV_FROZEN] = "frozen", [MIG_EV_THAWED] = "thawed", [MIG_EV_VERIFIED] = "verified",
    [MIG_EV_FLIPPED] = "flipped", [MIG_EV_DROPPED] = "dropped", [MIG_EV_ABORT] = "abort",
};

const char *mig_state_name(mig_state s)
{
    return (unsigned)s < MIG_STATE_MAX ? state_names[s] : "?";
}

const char *mig_event_name(mig_event e)
{
    return (unsigned)e < MIG_EV_MAX ? event_names[e] : "?";
}

int mig_state_parse(const char *s, mig_state *out)
{
    for (int i = 0; i < MIG_STATE_MAX; i++)
        if (s != NULL && strcmp(s, state_names[i]) == 0) {
            *out = (mig_state)i;
            return 0;
        }
    return -1;
}

int mig_next(mig_state s, mig_event e, mig_state *out)
{
    mig_state n = MIG_STATE_MAX;
    switch (e) {
    case MIG_EV_START: if (s == MIG_NONE) n = MIG_DRAINING; break;
    case MIG_EV_DRAINED: if (s == MIG_DRAINING) n = MIG_COPYING; break;
    case MIG_EV_COPIED: if (s == MIG_COPYING) n = MIG_CATCHUP; break;
    case MIG_EV_FROZEN: if (s == MIG_CATCHUP) n = MIG_FREEZING; break;
    case MIG_EV_THAWED: if (s == MIG_FREEZING) n = MIG_CATCHUP; break;
    case MIG_EV_VERIFIED: if (s == MIG_FREEZING) n = MIG_FLIPPING; break;
    case MIG_EV_FLIPPED: if (s == MIG_FLIPPING) n = MIG_RETIRED; break;
    case MIG_EV_DROPPED: if (s == MIG_RETIRED) n = MIG_DROPPED; break;
    case MIG_EV_ABORT:
        if (s == MIG_DRAINING || s == MIG_COPYING || s == MIG_CATCHUP || s == MIG_FREEZING)
            n = MIG_ABORTED;
        break;
    default: break;
    }
    if (n == MIG_STATE_MAX)
        return -1;
    *out = n;
    return 0;
}

mig_state mig_resume_point(mig_state s)
{
    return s == MIG_FREEZING ? MIG_CATCHUP : s;
}

/* ---------------- chunks ---------------- */

void mig_chunks_init(mig_chunks *c)
{
    memset(c, 0, sizeof *c);
}

void mig_chunks_free(mig_chunks *c)
{
    free(c->upper);
    memset(c, 0, sizeof *c);
}

int mig_chunks_add(mig_chunks *c, const char *upper)
{
    if (upper == NULL || strlen(upper) > MIG_KEY_LEN || upper[0] == '\0')
        return -1;
    if (c->n > 0 && strcmp(upper, c->upper[c->n - 1]) <= 0)
        return -1;
    if (c->n >= MIG_MAX_CHUNKS)
        return -1;
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 64;
        if (nc > MIG_MAX_CHUNKS)
            nc = MIG_MAX_CHUNKS;
        void *p = realloc(c->upper, (size_t)nc * sizeof *c->upper);
        if (p == NULL)
            return -1;
        c->upper = p;
        c->cap = nc;
    }
    snprintf(c->upper[c->n++], MIG_KEY_LEN + 1, "%s", upper);
    return 0;
}

int mig_chunks_find(const mig_chunks *c, const char *key)
{
    if (c->n == 0)
        return 0;
    /* first i with key <= upper[i]; past the end -> the open last chunk */
    int lo = 0, hi = c->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(key, c->upper[mid]) <= 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void mig_chunks_range(const mig_chunks *c, int i, const char **lo, const char **hi)
{
    *lo = (i <= 0 || c->n == 0) ? "" : c->upper[i - 1];
    *hi = (c->n == 0 || i >= c->n - 1) ? "" : c->upper[i];
}

int mig_parse_writers(const char *s, int *k)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < 1 || v > MIG_MAX_WRITERS)
        return -1;
    *k = (int)v;
    return 0;
}

void mig_split_range(int64_t n, int k, int i, int64_t *lo, int64_t *hi)
{
    if (k < 1 || i < 0 || i >= k || n <= 0) {
        *lo = *hi = n > 0 ? n : 0;
        return;
    }
    int64_t base = n / k, extra = n % k;
    *lo = (int64_t)i * base + (i < extra ? i : extra);
    *hi = *lo + base + (i < extra ? 1 : 0);
}

int64_t mig_plan_chunks(int64_t rows, int chunk)
{
    if (rows <= 0 || chunk <= 0)
        return 0;
    return (rows + chunk - 1) / chunk;
}

int64_t mig_eta_s(int64_t done, int64_t total, double rate)
{
    if (rate <= 0.0 || total < done)
        return -1;
    return (int64_t)((double)(total - done) / rate + 0.5);
}

/* ---------------- SQL ---------------- */

const char *mig_orders_upsert_suffix(void)
{
#define G(col) col "=IF(order_no=VALUES(order_no) AND VALUES(version)>version,VALUES(" col ")," col "),"
    return " ON DUPLICATE KEY UPDATE "
        G("group_id") G("merchant_id") G("out_trade_no") G("store_id") G("terminal_id") G("amount")
        G("currency") G("channel") G("subject") G("attach") G("status") G("refunded_amount")
        G("channel_txn_id") G("created_at") G("updated_at") G("expire_at") G("paid_at") G("closed_at")
        "version=IF(order_no=VALUES(order_no) AND VALUES(version)>version,VALUES(version),version)";
#undef G
}

static int id_list(const conf *c, int g, char *out, size_t cap, const char *head, bool quoted)
{
    int ids[CONF_MAX_GROUPS];
    int n = conf_routed_ids(c, g, ids);
    size_t len = 0;
    int w = snprintf(out, cap, "%s", head);
    if (w < 0 || (size_t)w >= cap)
        return -1;
    len = (size_t)w;
    for (int i = 0; i < n; i++) {
        w = snprintf(out + len, cap - len, quoted ? "%s'%02d'" : "%s%d", i ? "," : "", ids[i]);
        if (w < 0 || (size_t)w >= cap - len)
            return -1;
        len += (size_t)w;
    }
    w = snprintf(out + len, cap - len, ")");
    if (w < 0 || (size_t)w >= cap - len)
        return -1;
    return (int)(len + (size_t)w);
}

int mig_group_filter(const conf *c, int g, char *out, size_t cap)
{
    return id_list(c, g, out, cap, "group_id IN (", false);
}

int mig_refund_filter(const conf *c, int g, char *out, size_t cap)
{
    return id_list(c, g, out, cap, "SUBSTRING(refund_no,23,2) IN (", true);
}

static bool digits(const char *s)
{
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

#define CK_ORDER "CONCAT_WS('|',order_no,group_id,merchant_id,out_trade_no,IFNULL(store_id,'\\\\N')," \
    "IFNULL(terminal_id,'\\\\N'),amount,currency,channel,IFNULL(subject,'\\\\N'),IFNULL(attach,'\\\\N'),status," \
    "refunded_amount,IFNULL(channel_txn_id,'\\\\N'),version,created_at,updated_at,expire_at," \
    "IFNULL(paid_at,'\\\\N'),IFNULL(closed_at,'\\\\N'))"

int mig_checksum_sql(char *out, size_t cap, const char *lo, const char *hi, const char *filter)
{
    if (!digits(lo) || !digits(hi) || strlen(lo) > MIG_KEY_LEN || strlen(hi) > MIG_KEY_LEN)
        return -1;
    char lo_c[64] = "", hi_c[64] = "";
    if (lo[0])
        snprintf(lo_c, sizeof lo_c, " AND order_no>'%s'", lo);
    if (hi[0])
        snprintf(hi_c, sizeof hi_c, " AND order_no<='%s'", hi);
    int w = snprintf(out, cap,
                     "SELECT COUNT(*),COALESCE(BIT_XOR(CRC32(" CK_ORDER ")),0) FROM orders WHERE %s%s%s",
                     filter, lo_c, hi_c);
    return (w < 0 || (size_t)w >= cap) ? -1 : w;
}

int mig_refund_checksum_sql(char *out, size_t cap, const char *rfilter)
{
    int w = snprintf(out, cap,
                     "SELECT COUNT(*),COALESCE(BIT_XOR(CRC32(CONCAT_WS('|',refund_no,order_no,out_refund_no,"
                     "amount,IFNULL(reason,'\\\\N'),status,created_at))),0) FROM refunds WHERE %s",
                     rfilter);
    return (w < 0 || (size_t)w >= cap) ? -1 : w;
}

/* ---------------- key clashes ---------------- */

bool mig_given_out(const mig_clash_side *s, const char *idem)
{
    if (s->has_refunds)
        return true;
    if (strcmp(s->status, "CREATED") != 0 && strcmp(s->status, "CLOSED") != 0)
        return true;   /* PAID, REFUNDED (and anything unknown: be safe) */
    return idem != NULL && idem[0] != '\0' && strcmp(idem, s->order_no) == 0;
}

mig_clash mig_classify_clash(const mig_clash_side *g, const mig_clash_side *t, const char *idem)
{
    bool gg = mig_given_out(g, idem), tg = mig_given_out(t, idem);
    if (gg && tg)
        return MIG_CLASH_DUPLICATE;
    if (gg)
        return MIG_CLASH_T_ORPHAN;
    if (tg)
        return MIG_CLASH_G_ORPHAN;
    /* neither settled nor named: only a record naming a third number tells */
    if (idem != NULL && idem[0] != '\0')
        return MIG_CLASH_BOTH_ORPHANS;
    return MIG_CLASH_UNKNOWN;
}

const char *mig_clash_name(mig_clash c)
{
    switch (c) {
    case MIG_CLASH_G_ORPHAN: return "orphan_in_retired_group";
    case MIG_CLASH_T_ORPHAN: return "orphan_in_target";
    case MIG_CLASH_BOTH_ORPHANS: return "both_orphans";
    case MIG_CLASH_DUPLICATE: return "duplicate";
    default: return "unknown";
    }
}


int mig_idem_number(const char *val, size_t len, char out[MIG_KEY_LEN + 1])
{
    out[0] = '\0';
    if (val == NULL || len <= MIG_KEY_LEN || val[MIG_KEY_LEN] != '|')
        return -1;
    memcpy(out, val, MIG_KEY_LEN);
    out[MIG_KEY_LEN] = '\0';
    if (!digits(out)) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

void mig_keyset_init(mig_keyset *s)
{
    memset(s, 0, sizeof *s);
}

void mig_keyset_free(mig_keyset *s)
{
    free(s->no);
    memset(s, 0, sizeof *s);
}

/* first index with no[i] >= key */
static int ks_lower(const mig_keyset *s, const char *key)
{
    int lo = 0, hi = s->n;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (strcmp(s->no[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int mig_keyset_add(mig_keyset *s, const char *no)
{
    if (no == NULL || no[0] == '\0' || strlen(no) > MIG_KEY_LEN || !digits(no))
        return -1;
    int i = ks_lower(s, no);
    if (i < s->n && strcmp(s->no[i], no) == 0)
        return 0;
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 16;
        void *p = realloc(s->no, (size_t)nc * sizeof *s->no);
        if (p == NULL)
            return -1;
        s->no = p;
        s->cap = nc;
    }
    memmove(&s->no[i + 1], &s->no[i], (size_t)(s->n - i) * sizeof *s->no);
    snprintf(s->no[i], MIG_KEY_LEN + 1, "%s", no);
    s->n++;
    return 1;
}

bool mig_keyset_has(const mig_keyset *s, const char *no)
{
    if (s->n == 0 || no == NULL)
        return false;
    int i = ks_lower(s, no);
    return i < s->n && strcmp(s->no[i], no) == 0;
}

int mig_exclude_sql(const mig_keyset *s, const char *lo, const char *hi, char *out, size_t cap)
{
    if (cap == 0)
        return -1;
    out[0] = '\0';
    size_t len = 0;
    int k = lo[0] ? ks_lower(s, lo) : 0;
    if (k < s->n && lo[0] && strcmp(s->no[k], lo) == 0)
        k++;   /* lo is exclusive */
    int first = 1;
    for (; k < s->n && (hi[0] == '\0' || strcmp(s->no[k], hi) <= 0); k++) {
        int w = snprintf(out + len, cap - len, "%s'%s'", first ? " AND order_no NOT IN (" : ",", s->no[k]);
        if (w < 0 || (size_t)w >= cap - len)
            return -1;
        len += (size_t)w;
        first = 0;
    }
    if (!first) {
        if (len + 2 > cap)
            return -1;
        out[len++] = ')';
        out[len] = '\0';
    }
    return (int)len;
}

/* ---------------- ramp ---------------- */

int mig_ramp_plan(int target, int64_t ramp_ms, int64_t min_step_ms, mig_ramp_step *out, int max)
{
    if (max <= 0 || target < 0)
        return 0;
    if (ramp_ms <= 0 || target == 0) {
        out[0].weight = target;
        out[0].at_ms = 0;
        return 1;
    }
    int64_t step = ramp_ms / MIG_RAMP_MAX_STEPS;
    if (step < min_step_ms)
        step = min_step_ms;
    if (step <= 0)
        step = 1;
    int64_t n = ramp_ms / step;
    if (n < 1)
        n = 1;
    if (n > max)
        n = max;
    if (n > target)
        n = target;     /* weights are integers: no point in more steps than units */
    for (int64_t i = 1; i <= n; i++) {
        out[i - 1].weight = (int)(((int64_t)target * i + n - 1) / n);
        out[i - 1].at_ms = ramp_ms * i / n;
    }
    out[n - 1].weight = target;
    out[n - 1].at_ms = ramp_ms;
    return (int)n;
}

int mig_parse_duration(const char *s, int64_t *ms)
{
    if (s == NULL || !isdigit((unsigned char)s[0]))
        return -1;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (v < 0 || v > 100000000LL)
        return -1;
    int64_t mul;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0 || (*end == '\0' && v == 0))
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return -1;
    *ms = (int64_t)v * mul;
    return 0;
}

/* ---------------- default target ---------------- */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int mig_default_target(const conf *c, int g)
{
    int rem[CONF_MAX_GROUPS];
    int n = 0;
    for (int i = 0; i < c->ngroups; i++)
        if (c->groups[i].id != g && c->groups[i].state != GROUP_RETIRED)
            rem[n++] = c->groups[i].id;
    qsort(rem, (size_t)n, sizeof rem[0], cmp_int);
    return conf_default_alias_target(g, rem, n);
}

/* ---------------- state file ---------------- */

void mig_job_init(mig_job *j)
{
    memset(j, 0, sizeof *j);
    j->chunk_rows = 5000;
    mig_chunks_init(&j->chunks);
    mig_keyset_init(&j->skipped_orphans);
    mig_keyset_init(&j->retired_orphans);
}

void mig_job_free(mig_job *j)
{
    mig_chunks_free(&j->chunks);
    mig_keyset_free(&j->skipped_orphans);
    mig_keyset_free(&j->retired_orphans);
}

static json_t *keyset_json(const mig_keyset *s)
{
    json_t *a = json_array();
    for (int i = 0; a && i < s->n; i++)
        json_array_append_new(a, json_string(s->no[i]));
    return a;
}

static int keyset_from_json(const json_t *a, mig_keyset *s)
{
    mig_keyset_free(s);
    if (a == NULL)
        return 0;   /* state files written before orphans were handled */
    if (!json_is_array(a))
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || mig_keyset_add(s, json_string_value(v)) < 0)
            return -1;
    }
    return 0;
}

json_t *mig_job_to_json(const mig_job *j)
{
    json_t *ch = json_array();
    for (int i = 0; ch && i < j->chunks.n; i++)
        json_array_append_new(ch, json_string(j->chunks.upper[i]));
    return json_pack("{s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:o,s:o,s:o}",
                     "group", j->group, "into", j->into, "g_primary", j->g_primary, "t_primary", j->t_primary,
                     "g_replicas", j->g_replicas, "t_replicas", j->t_replicas,
                     "state", mig_state_name(j->state), "chunk_rows", j->chunk_rows,
                     "last_order", j->last_order, "last_refund", j->last_refund,
                     "copy_start_ms", (json_int_t)j->copy_start_ms,
                     "catchup_from_ms", (json_int_t)j->catchup_from_ms,
                     "rows_copied", (json_int_t)j->rows_copied, "refunds_copied", (json_int_t)j->refunds_copied,
                     "outbox_moved", (json_int_t)j->outbox_moved, "freeze_ms", (json_int_t)j->freeze_ms,
                     "g_prev_weight", j->g_prev_weight, "chunks", ch,
                     "skipped_orphans", keyset_json(&j->skipped_orphans),
                     "retired_orphans", keyset_json(&j->retired_orphans));
}

int mig_job_from_json(const json_t *o, mig_job *j, char *err, size_t cap)
{
    const char *gp = "", *tp = "", *gr = "", *tr = "", *st = "", *lo = "", *lr = "";
    json_int_t cs = 0, cf = 0, rc = 0, rfc = 0, om = 0, fm = 0;
    json_t *ch = NULL, *so = NULL, *ro = NULL;
    json_error_t je;
    if (json_unpack_ex((json_t *)o, &je, 0,
                       "{s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:o,s?o,s?o}",
                       "group", &j->group, "into", &j->into, "g_primary", &gp, "t_primary", &tp,
                       "g_replicas", &gr, "t_replicas", &tr, "state", &st, "chunk_rows", &j->chunk_rows,
                       "last_order", &lo, "last_refund", &lr, "copy_start_ms", &cs, "catchup_from_ms", &cf,
                       "rows_copied", &rc, "refunds_copied", &rfc, "outbox_moved", &om, "freeze_ms", &fm,
                       "g_prev_weight", &j->g_prev_weight, "chunks", &ch, "skipped_orphans", &so,
                       "retired_orphans", &ro) != 0) {
        snprintf(err, cap, "state file: %s", je.text);
        return -1;
    }
    if (mig_state_parse(st, &j->state) != 0) {
        snprintf(err, cap, "state file: unknown state '%s'", st);
        return -1;
    }
    if (j->chunk_rows < 1 || !json_is_array(ch) || strlen(lo) > MIG_KEY_LEN || strlen(lr) > MIG_KEY_LEN) {
        snprintf(err, cap, "state file: bad chunk_rows, chunks or keys");
        return -1;
    }
    snprintf(j->g_primary, sizeof j->g_primary, "%s", gp);
    snprintf(j->t_primary, sizeof j->t_primary, "%s", tp);
    snprintf(j->g_replicas, sizeof j->g_replicas, "%s", gr);
    snprintf(j->t_replicas, sizeof j->t_replicas, "%s", tr);
    snprintf(j->last_order, sizeof j->last_order, "%s", lo);
    snprintf(j->last_refund, sizeof j->last_refund, "%s", lr);
    j->copy_start_ms = cs;
    j->catchup_from_ms = cf;
    j->rows_copied = rc;
    j->refunds_copied = rfc;
    j->outbox_moved = om;
    j->freeze_ms = fm;
    if (keyset_from_json(so, &j->skipped_orphans) != 0 || keyset_from_json(ro, &j->retired_orphans) != 0) {
        snprintf(err, cap, "state file: bad skipped_orphans / retired_orphans");
        return -1;
    }
    mig_chunks_free(&j->chunks);
    size_t i;
    json_t *v;
    json_array_foreach(ch, i, v) {
        if (!json_is_string(v) || mig_chunks_add(&j->chunks, json_string_value(v)) != 0) {
            snprintf(err, cap, "state file: bad chunk bound #%zu", i);
            return -1;
        }
    }
    return 0;
}

/* ---------------- config text ---------------- */

static const char *state_yaml(group_state s)
{
    switch (s) {
    case GROUP_FENCED: return "fenced";
    case GROUP_DRAINING: return "draining";
    case GROUP_RETIRED: return "retired";
    default: return "active";
    }
}

static void render_groups(sk_buf *b, const conf *c)
{
    sk_buf_fmt(b, "groups:\n");
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        sk_buf_fmt(b, "  - id: %d\n", g->id);
        if (g->state == GROUP_RETIRED) {
            /* a retired id keeps routing: its rows live in alias_of */
            sk_buf_fmt(b, "    state: retired\n    alias_of: %d\n", g->alias_of);
            continue;
        }
        sk_buf_fmt(b, "    primary: \"%s\"\n", g->primary ? g->primary : "");
        sk_buf_fmt(b, "    replicas: [");
        for (int r = 0; r < g->nreplicas; r++)
            sk_buf_fmt(b, "%s\"%s\"", r ? ", " : "", g->replicas[r]);
        sk_buf_fmt(b, "]\n    weight: %d\n    state: %s\n", g->weight, state_yaml(g->state));
        if (g->nformer > 0) {
            sk_buf_fmt(b, "    former_primaries: [");
            for (int f = 0; f < g->nformer; f++)
                sk_buf_fmt(b, "%s\"%s\"", f ? ", " : "", g->former[f]);
            sk_buf_fmt(b, "]\n");
        }
    }
}

char *mig_conf_replace_groups(const char *text, const conf *c)
{
    /* find a line that is exactly "groups:" (optionally followed by spaces/comment) */
    const char *start = NULL;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n >= 7 && strncmp(p, "groups:", 7) == 0 &&
            (n == 7 || p[7] == ' ' || p[7] == '\t' || p[7] == '#' || p[7] == '\r')) {
            start = p;
            break;
        }
        p = eol ? eol + 1 : p + n;
    }
    if (start == NULL)
        return NULL;
    /* the section ends at the next top-level key: a line starting with a
     * character other than space, '-', '#' or newline */
    const char *end = strchr(start, '\n');
    end = end ? end + 1 : start + strlen(start);
    while (*end) {
        if (*end != ' ' && *end != '\t' && *end != '-' && *end != '#' && *end != '\n' && *end != '\r')
            break;
        const char *eol = strchr(end, '\n');
        end = eol ? eol + 1 : end + strlen(end);
    }
    sk_buf b = {0};
    sk_buf_put(&b, text, (size_t)(start - text));
    render_groups(&b, c);
    sk_buf_put(&b, end, strlen(end));
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
