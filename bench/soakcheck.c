/* bench/soakcheck.c — the soak's verdict over its samples; see soakcheck.h. */
#include "bench/soakcheck.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "common/sk.h"

static void add_reason(soak_verdict *v, const char *fmt, ...) SK_PRINTF(2, 3);
static void add_reason(soak_verdict *v, const char *fmt, ...)
{
    char one[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(one, sizeof one, fmt, ap);
    va_end(ap);
    size_t l = strlen(v->reasons);
    snprintf(v->reasons + l, sizeof v->reasons - l, "%s%s", l ? "; " : "", one);
    v->pass = false;
}

static const soak_proc *find(const soak_sample *s, const char *name)
{
    for (int i = 0; i < s->nproc; i++)
        if (strcmp(s->p[i].name, name) == 0)
            return &s->p[i];
    return NULL;
}

/* over the limit: end > base * (1 + tol) */
static bool over(int64_t base, int64_t end, double tol)
{
    return (double)end > (double)base * (1.0 + tol);
}

static bool quiet(const soak_limits *lim, double t)
{
    for (int i = 0; i < lim->nfaults; i++) {
        const rep_window *w = &lim->faults[i];
        if (t >= w->from_s && (w->to_s < 0 || t <= w->to_s + lim->settle_s))
            return false;
    }
    return true;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Medians of name's metrics (same pid) over samples [from, to) with t in [t0, t1];
 * quiet ones only when there are any. Returns how many samples. */
static int median_of(const soak_sample *s, int from, int to, const soak_limits *lim, const char *name, int pid,
                     double t0, double t1, soak_proc *out)
{
    int64_t v[3][64];
    int n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int i = from; i < to && n < 64; i++) {
            const soak_proc *p = find(&s[i], name);
            if (p == NULL || p->pid != pid || s[i].t_s < t0 || s[i].t_s > t1 || (pass == 0 && !quiet(lim, s[i].t_s)))
                continue;
            v[0][n] = p->rss_kb;
            v[1][n] = p->threads;
            v[2][n] = p->fds;
            n++;
        }
    if (n == 0)
        return 0;
    for (int m = 0; m < 3; m++)
        qsort(v[m], (size_t)n, sizeof v[m][0], cmp_i64);
    out->rss_kb = v[0][n / 2];
    out->threads = v[1][n / 2];
    out->fds = v[2][n / 2];
    return n;
}

static void judge_proc(const soak_sample *s, int n, int b, const soak_limits *lim, const char *name,
                       soak_proc_verdict *pv)
{
    memset(pv, 0, sizeof *pv);
    sk_strlcpy(pv->name, name, sizeof pv->name);
    const soak_proc *base = find(&s[b], name), *end = find(&s[n - 1], name);
    bool may_restart = (base && base->may_restart) || (end && end->may_restart);
    if (base == NULL || base->pid == 0) {
        pv->judged = !may_restart;
        snprintf(pv->note, sizeof pv->note, "not running at the baseline (t=%.0f s)", s[b].t_s);
        return;
    }
    pv->base = *base;
    for (int i = b; i < n; i++) {
        const soak_proc *p = find(&s[i], name);
        if (p == NULL || p->pid != base->pid) {
            pv->judged = !may_restart;
            snprintf(pv->note, sizeof pv->note, "%s at t=%.0f s (pid %d -> %d)",
                     p == NULL || p->pid == 0 ? "gone" : "restarted", s[i].t_s, base->pid, p ? p->pid : 0);
            if (p)
                pv->end = *p;
            return;
        }
        if (p->rss_kb > pv->peak_rss_kb) pv->peak_rss_kb = p->rss_kb;
        if (p->threads > pv->peak_threads) pv->peak_threads = p->threads;
        if (p->fds > pv->peak_fds) pv->peak_fds = p->fds;
    }
    pv->end = *end;
    double t_end = s[n - 1].t_s;
    /* [baseline, baseline + window) and (end - window, end] */
    pv->nbase = median_of(s, b, n, lim, name, base->pid, s[b].t_s, lim->baseline_s + lim->window_s - 1e-6, &pv->base);
    pv->nend = median_of(s, b, n, lim, name, base->pid, t_end - lim->window_s + 1e-6, t_end, &pv->end);
    pv->judged = true;
    pv->ok = true;
    struct { const char *what; int64_t b, e; } m[] = {
        {"RSS", pv->base.rss_kb, pv->end.rss_kb}, {"threads", pv->base.threads, pv->end.threads},
        {"fds", pv->base.fds, pv->end.fds}};
    size_t l = 0;
    for (size_t k = 0; k < sizeof m / sizeof m[0]; k++)
        if (over(m[k].b, m[k].e, lim->tolerance)) {
            pv->ok = false;
            l += (size_t)snprintf(pv->note + l, l < sizeof pv->note ? sizeof pv->note - l : 0, "%s%s %lld -> %lld",
                                  l ? ", " : "", m[k].what, (long long)m[k].b, (long long)m[k].e);
            if (l >= sizeof pv->note)
                l = sizeof pv->note - 1;
        }
}

void soak_judge(const soak_sample *s, int n, const soak_limits *lim, int64_t failed_creates,
                int64_t audit_problems, int64_t audit_orphans, soak_verdict *out)
{
    memset(out, 0, sizeof *out);
    out->pass = true;
    out->failed_creates = failed_creates;
    out->audit_problems = audit_problems;
    out->audit_orphans = audit_orphans;
    if (failed_creates != 0)
        add_reason(out, "failed creates: %lld", (long long)failed_creates);
    if (audit_problems < 0)
        add_reason(out, "the audit did not run or could not be read");
    else if (audit_problems > 0)
        add_reason(out, "audit: %lld problem(s) besides orphans", (long long)audit_problems);
    int b = -1;   /* the first sample at or after the baseline time */
    for (int i = 0; i < n && b < 0; i++)
        if (s[i].t_s >= lim->baseline_s)
            b = i;
    if (b < 0 || b == n - 1) {
        add_reason(out, "no samples after the baseline (%.0f s)", lim->baseline_s);
        return;
    }
    out->have_baseline = true;
    out->baseline_t_s = s[b].t_s;
    out->end_t_s = s[n - 1].t_s;
    /* every process seen at the baseline or at the end */
    const soak_sample *pick[2] = {&s[b], &s[n - 1]};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < pick[k]->nproc && out->nproc < SOAK_MAX_PROCS; i++) {
            const char *name = pick[k]->p[i].name;
            bool seen = false;
            for (int j = 0; j < out->nproc; j++)
                seen = seen || strcmp(out->p[j].name, name) == 0;
            if (!seen)
                judge_proc(s, n, b, lim, name, &out->p[out->nproc++]);
        }
    for (int i = 0; i < out->nproc; i++) {
        const soak_proc_verdict *pv = &out->p[i];
        if (pv->judged && !pv->ok)
            add_reason(out, "%s: %s", pv->name, pv->note);
    }
}

static json_t *proc_json(int64_t rss, int64_t threads, int64_t fds)
{
    return json_pack("{s:I,s:I,s:I}", "rss_kb", (json_int_t)rss, "threads", (json_int_t)threads, "fds", (json_int_t)fds);
}

json_t *soak_verdict_json(const soak_verdict *v)
{
    json_t *procs = json_array();
    for (int i = 0; i < v->nproc; i++) {
        const soak_proc_verdict *p = &v->p[i];
        json_t *o = json_pack("{s:s,s:b,s:b,s:s,s:i,s:i,s:i,s:i}", "name", p->name, "judged", p->judged, "ok", p->ok,
                              "note", p->note, "pid_base", p->base.pid, "pid_end", p->end.pid, "base_samples", p->nbase,
                              "end_samples", p->nend);
        json_object_set_new(o, "base", proc_json(p->base.rss_kb, p->base.threads, p->base.fds));
        json_object_set_new(o, "end", proc_json(p->end.rss_kb, p->end.threads, p->end.fds));
        json_object_set_new(o, "peak", proc_json(p->peak_rss_kb, p->peak_threads, p->peak_fds));
        json_array_append_new(procs, o);
    }
    json_t *j = json_pack("{s:b,s:s,s:I,s:{s:I,s:I},s:b,s:f,s:f}", "pass", v->pass, "reasons", v->reasons,
                          "failed_creates", (json_int_t)v->failed_creates, "audit", "problems_besides_orphans",
                          (json_int_t)v->audit_problems, "orphans", (json_int_t)v->audit_orphans, "have_baseline",
                          v->have_baseline, "baseline_t_s", v->baseline_t_s, "end_t_s", v->end_t_s);
    json_object_set_new(j, "processes", procs);
    return j;
}
