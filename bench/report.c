/* bench/report.c — per-second rows, summary, JSON and SVG; see report.h. */
#include "bench/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/sk.h"

int rep_group_slot(const rep_groups *g, int id)
{
    for (int i = 0; i < g->n; i++)
        if (g->ids[i] == id)
            return i;
    return -1;
}

void rep_codes_add(rep_code *codes, int *ncodes, const char *code, int64_t n)
{
    for (int i = 0; i < *ncodes; i++)
        if (strcmp(codes[i].code, code) == 0) {
            codes[i].n += n;
            return;
        }
    if (*ncodes < REP_MAX_CODES - 1 || (*ncodes == REP_MAX_CODES - 1 && strcmp(code, "OTHER") == 0)) {
        sk_strlcpy(codes[*ncodes].code, code, REP_CODE_LEN);
        codes[*ncodes].n = n;
        (*ncodes)++;
        return;
    }
    /* the last slot is reserved for OTHER */
    rep_codes_add(codes, ncodes, "OTHER", n);
}

void rep_sec_init(rep_sec *s)
{
    memset(&s->row, 0, sizeof s->row);
    hist_init(&s->lat);
}

void rep_sec_sent(rep_sec *s)
{
    s->row.sent++;
}

void rep_sec_done(rep_sec *s, const rep_groups *g, int64_t lat_us, bool ok, const char *code, int group)
{
    hist_record(&s->lat, lat_us);
    if (ok) {
        s->row.ok++;
        int slot = group > 0 ? rep_group_slot(g, group) : -1;
        if (slot >= 0)
            s->row.group_ok[slot]++;
    } else {
        s->row.failed++;
        rep_codes_add(s->row.codes, &s->row.ncodes, code ? code : "unknown", 1);
    }
}

void rep_sec_close(rep_sec *s)
{
    s->row.p50_us = hist_quantile(&s->lat, 0.50);
    s->row.p99_us = hist_quantile(&s->lat, 0.99);
    s->row.max_us = s->lat.total ? s->lat.max : 0;
}

static int64_t row_creates(const rep_row *row, int ng)
{
    int64_t n = 0;
    for (int i = 0; i < ng; i++)
        n += row->group_ok[i];
    return n;
}

static bool is_fault_group(const rep_run *r, int id)
{
    for (int i = 0; i < r->nfault_groups; i++)
        if (r->fault_groups[i] == id)
            return true;
    return false;
}

void rep_summarize(const rep_run *r, rep_summary *out)
{
    memset(out, 0, sizeof *out);
    out->worst_p99_t = -1;
    for (int t = 0; t < r->nrows; t++) {
        const rep_row *row = &r->rows[t];
        out->sent += row->sent;
        out->ok += row->ok;
        out->failed += row->failed;
        if (row->ok + row->failed > 0 && (out->worst_p99_t < 0 || row->p99_us > out->worst_p99_us)) {
            out->worst_p99_t = t;
            out->worst_p99_us = row->p99_us;
        }
    }
    out->all_back = true;
    for (int i = 0; i < r->nfault_groups; i++) {
        if (r->recover_at_s >= 0 && r->back_at_s[i] >= 0) {
            double d = r->back_at_s[i] - r->recover_at_s;
            out->recovery_s[i] = d < 0 ? 0 : d;
        } else {
            out->recovery_s[i] = -1;
            out->all_back = false;
        }
    }
    /* share of the faulted groups in the seconds wholly inside the window */
    if (r->fault_at_s >= 0) {
        double end = r->recover_at_s >= 0 ? r->recover_at_s : (double)r->nrows;
        for (int t = (int)ceil(r->fault_at_s); t + 1 <= end && t < r->nrows; t++) {
            const rep_row *row = &r->rows[t];
            int64_t all = row_creates(row, r->groups.n), f = 0;
            for (int i = 0; i < r->groups.n; i++)
                if (is_fault_group(r, r->groups.ids[i]))
                    f += row->group_ok[i];
            double sh = all ? (double)f / (double)all : 0;
            if (sh > out->fault_share_max)
                out->fault_share_max = sh;
        }
    }
}

static json_t *ms(int64_t us)
{
    return json_real(round((double)us / 10.0) / 100.0);
}

json_t *rep_to_json(const rep_run *r, const rep_summary *s)
{
    json_t *j = json_object();
    json_object_set_new(j, "title", json_string(r->title));
    json_object_set_new(j, "mode", json_string(r->mode));
    json_object_set_new(j, "rate", json_real(r->rate));
    json_object_set_new(j, "duration_s", json_integer(r->duration_s));
    json_t *gs = json_array();
    for (int i = 0; i < r->groups.n; i++)
        json_array_append_new(gs, json_integer(r->groups.ids[i]));
    json_object_set_new(j, "groups", gs);
    json_t *fg = json_array();
    for (int i = 0; i < r->nfault_groups; i++)
        json_array_append_new(fg, json_integer(r->fault_groups[i]));
    json_t *fault = json_object();
    json_object_set_new(fault, "groups", fg);
    json_object_set_new(fault, "mode", json_string(r->mode));
    if (r->fault_target[0])
        json_object_set_new(fault, "target", json_string(r->fault_target));
    json_object_set_new(fault, "from_s", r->fault_at_s >= 0 ? json_real(round(r->fault_at_s * 1000) / 1000) : json_null());
    json_object_set_new(fault, "to_s", r->recover_at_s >= 0 ? json_real(round(r->recover_at_s * 1000) / 1000) : json_null());
    json_object_set_new(j, "fault", fault);

    json_t *rows = json_array();
    for (int t = 0; t < r->nrows; t++) {
        const rep_row *row = &r->rows[t];
        json_t *o = json_object();
        json_object_set_new(o, "t", json_integer(t));
        json_object_set_new(o, "sent", json_integer(row->sent));
        json_object_set_new(o, "ok", json_integer(row->ok));
        json_object_set_new(o, "failed", json_integer(row->failed));
        json_t *errs = json_object();
        for (int k = 0; k < row->ncodes; k++)
            json_object_set_new(errs, row->codes[k].code, json_integer(row->codes[k].n));
        json_object_set_new(o, "errors", errs);
        json_object_set_new(o, "p50_ms", ms(row->p50_us));
        json_object_set_new(o, "p99_ms", ms(row->p99_us));
        json_object_set_new(o, "max_ms", ms(row->max_us));
        int64_t all = row_creates(row, r->groups.n);
        json_t *share = json_object(), *byg = json_object(), *st = json_object();
        for (int i = 0; i < r->groups.n; i++) {
            char k[8];
            snprintf(k, sizeof k, "%d", r->groups.ids[i]);
            json_object_set_new(share, k, json_real(all ? round(1000.0 * (double)row->group_ok[i] / (double)all) / 1000.0 : 0.0));
            json_object_set_new(byg, k, json_integer(row->group_ok[i]));
            json_object_set_new(st, k, row->state[i][0] ? json_string(row->state[i]) : json_null());
        }
        json_object_set_new(o, "share", share);
        json_object_set_new(o, "ok_by_group", byg);
        json_object_set_new(o, "states", st);
        json_array_append_new(rows, o);
    }
    json_object_set_new(j, "rows", rows);

    json_t *sm = json_object();
    json_object_set_new(sm, "sent", json_integer(s->sent));
    json_object_set_new(sm, "ok", json_integer(s->ok));
    json_object_set_new(sm, "failed", json_integer(s->failed));
    json_object_set_new(sm, "worst_p99_second",
                        s->worst_p99_t >= 0 ? json_pack("{s:i,s:o}", "t", s->worst_p99_t, "p99_ms", ms(s->worst_p99_us))
                                            : json_null());
    json_object_set_new(sm, "fault_window", json_pack("{s:o,s:o}", "from_s", json_deep_copy(json_object_get(fault, "from_s")),
                                                      "to_s", json_deep_copy(json_object_get(fault, "to_s"))));
    json_t *rec = json_object();
    double worst_rec = 0;
    bool any_null = false;
    for (int i = 0; i < r->nfault_groups; i++) {
        char k[8];
        snprintf(k, sizeof k, "%d", r->fault_groups[i]);
        if (s->recovery_s[i] >= 0) {
            json_object_set_new(rec, k, json_real(round(s->recovery_s[i] * 1000) / 1000));
            if (s->recovery_s[i] > worst_rec)
                worst_rec = s->recovery_s[i];
        } else {
            json_object_set_new(rec, k, json_null());
            any_null = true;
        }
    }
    json_object_set_new(sm, "recovery_s_by_group", rec);
    json_object_set_new(sm, "recovery_s",
                        r->nfault_groups == 0 || any_null ? json_null() : json_real(round(worst_rec * 1000) / 1000));
    json_object_set_new(sm, "fault_groups_share_max_in_window", json_real(round(s->fault_share_max * 1000) / 1000));
    json_object_set_new(j, "summary", sm);
    return j;
}

/* ---------------------------------------------------------------- SVG */

#define W 1100
#define PL 80     /* plot left */
#define PR 960    /* plot right (legend beyond) */

static const char *group_color(int i)
{
    static const char *c[] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948",
                              "#ff9da7", "#9c755f", "#bab0ac", "#e15759", "#86bcb6", "#8cd17d",
                              "#f1ce63", "#a0cbe8", "#ffbe7d", "#d4a6c8"};
    return c[i % 16];
}

static double nice_step(double max, int nticks);

/* The axis top: the data max plus 10%, rounded up to a whole tick. */
static double nice_top(double max)
{
    double st = nice_step(max * 1.1, 5);
    return ceil(max * 1.1 / st) * st;
}

static double nice_step(double max, int nticks)
{
    if (max <= 0)
        return 1;
    double raw = max / nticks;
    double p = pow(10, floor(log10(raw)));
    double f = raw / p;
    double n = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return n * p;
}

typedef struct {
    int top, bottom;   /* pixel rows of the plot area */
    double ymax;
    double xmax;       /* seconds */
} panel;

static double px(const panel *p, double t)
{
    return PL + (PR - PL) * (p->xmax > 0 ? t / p->xmax : 0);
}

static double py(const panel *p, double v)
{
    double f = p->ymax > 0 ? v / p->ymax : 0;
    if (f > 1)
        f = 1;
    if (f < 0)
        f = 0;
    return p->bottom - (p->bottom - p->top) * f;
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* One fault window on a panel: shaded, and labelled at its start when label != NULL. */
static void shade(FILE *f, const panel *p, double from_s, double to_s, const char *label)
{
    double x0 = px(p, from_s);
    double x1 = px(p, to_s >= 0 ? to_s : p->xmax);
    fprintf(f, "<rect class=\"fault-window\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#e15759\" fill-opacity=\"0.15\"/>\n",
            x0, p->top, x1 - x0 < 1 ? 1 : x1 - x0, p->bottom - p->top);
    if (label) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"9\" fill=\"#b03030\" transform=\"rotate(-90 %.1f %d)\">", x0 + 8,
                p->bottom - 4, x0 + 8, p->bottom - 4);
        xml_text(f, label);
        fprintf(f, "</text>\n");
    }
}

static void draw_frame(FILE *f, const rep_run *r, const panel *p, const char *title, const char *ylabel,
                       const char *yfmt_unit)
{
    (void)yfmt_unit;
    /* fault window */
    if (r->fault_at_s >= 0)
        shade(f, p, r->fault_at_s, r->recover_at_s, NULL);
    for (int i = 0; i < r->nwindows; i++)
        shade(f, p, r->windows[i].from_s, r->windows[i].to_s, r->windows[i].label);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"14\" font-weight=\"bold\">", PL, p->top - 8);
    xml_text(f, title);
    fprintf(f, "</text>\n");
    /* y grid + labels */
    double step = nice_step(p->ymax, 5);
    for (double v = 0; v <= p->ymax + step * 1e-9; v += step) {
        double y = py(p, v);
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", PL, y, PR, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n", PL - 6, y + 4, v);
    }
    /* x ticks */
    double xs = nice_step(p->xmax, 10);
    for (double t = 0; t <= p->xmax + 1e-9; t += xs) {
        double x = px(p, t);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\"/>\n", x, p->bottom, x, p->bottom + 4);
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n", x, p->bottom + 16, t);
    }
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>\n", PL, p->top,
            PR - PL, p->bottom - p->top);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 %d %d)\">",
            24, (p->top + p->bottom) / 2, 24, (p->top + p->bottom) / 2);
    xml_text(f, ylabel);
    fprintf(f, "</text>\n");
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" fill=\"#555\">seconds since start</text>\n",
            (PL + PR) / 2, p->bottom + 30);
}

static void legend(FILE *f, int x, int y, int i, const char *color, const char *label, bool dashed)
{
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"%s/>\n", x, y + i * 18,
            x + 20, y + i * 18, color, dashed ? " stroke-dasharray=\"5,3\"" : "");
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">", x + 26, y + i * 18 + 4);
    xml_text(f, label);
    fprintf(f, "</text>\n");
}

static void series(FILE *f, const rep_run *r, const panel *p, const char *cls, const char *color, bool dashed,
                   double (*val)(const rep_row *))
{
    fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", cls, color,
            dashed ? " stroke-dasharray=\"5,3\"" : "");
    for (int t = 0; t < r->nrows; t++)
        fprintf(f, "%.1f,%.1f ", px(p, t + 0.5), py(p, val(&r->rows[t])));
    fprintf(f, "\"/>\n");
}

static double v_ok(const rep_row *w) { return (double)w->ok; }
static double v_err(const rep_row *w) { return (double)w->failed; }
static double v_p50(const rep_row *w) { return (double)w->p50_us / 1000.0; }
static double v_p99(const rep_row *w) { return (double)w->p99_us / 1000.0; }

/* An extra panel (rep_panel): its lines over the run's time axis, at pixel row top. */
static void extra_panel(FILE *f, const rep_run *r, const rep_panel *e, int top, double xmax)
{
    double ymax = 0;
    for (int l = 0; l < e->nlines; l++)
        for (int i = 0; i < e->lines[l].n; i++)
            if (e->lines[l].v[i] > ymax)
                ymax = e->lines[l].v[i];
    panel p = {.top = top + 40, .bottom = top + 220, .ymax = nice_top(ymax > 0 ? ymax : 1), .xmax = xmax};
    draw_frame(f, r, &p, e->title, e->ylabel, "");
    for (int l = 0; l < e->nlines; l++) {
        const rep_line *ln = &e->lines[l];
        const char *color = group_color(l);
        fprintf(f, "<polyline class=\"extra-line\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color,
                ln->dashed ? " stroke-dasharray=\"5,3\"" : "");
        for (int i = 0; i < ln->n; i++)
            fprintf(f, "%.1f,%.1f ", px(&p, ln->t[i]), py(&p, ln->v[i]));
        fprintf(f, "\"/>\n");
        legend(f, PR + 12, p.top + 10, l, color, ln->label, ln->dashed);
    }
}

char *rep_svg(const rep_run *r, const rep_summary *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    const int H = 860 + 250 * r->npanels;
    double xmax = r->nrows > 0 ? r->nrows : 1;
    if (r->duration_s > xmax)
        xmax = r->duration_s;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"DejaVu Sans, Arial, sans-serif\">\n", W, H, W, H);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"28\" font-size=\"18\" font-weight=\"bold\">", PL);
    xml_text(f, r->title);
    fprintf(f, "</text>\n");
    /* the summary line under the title */
    char sub[400];
    char rec[120] = "";
    size_t rl = 0;
    for (int i = 0; i < r->nfault_groups && rl < sizeof rec - 30; i++) {
        int n;
        if (s->recovery_s[i] >= 0)
            n = snprintf(rec + rl, sizeof rec - rl, "%sg%d %.1f s", i ? ", " : "", r->fault_groups[i], s->recovery_s[i]);
        else
            n = snprintf(rec + rl, sizeof rec - rl, "%sg%d not back", i ? ", " : "", r->fault_groups[i]);
        if (n > 0)
            rl += (size_t)n;
    }
    snprintf(sub, sizeof sub, "sent %lld, ok %lld, failed %lld; worst p99 second: %.0f ms at t=%d s%s%s",
             (long long)s->sent, (long long)s->ok, (long long)s->failed, (double)s->worst_p99_us / 1000.0,
             s->worst_p99_t, r->nfault_groups ? "; back after recovery: " : "", rec);
    fprintf(f, "<text x=\"%d\" y=\"50\" font-size=\"13\" fill=\"#333\">", PL);
    xml_text(f, sub);
    fprintf(f, "</text>\n");
    if (r->fault_at_s >= 0) {
        fprintf(f, "<rect x=\"%d\" y=\"60\" width=\"14\" height=\"10\" fill=\"#e15759\" fill-opacity=\"0.25\"/>\n", PL);
        fprintf(f, "<text x=\"%d\" y=\"69\" font-size=\"12\" fill=\"#333\">fault window: %s on ", PL + 20, r->mode);
        for (int i = 0; i < r->nfault_groups; i++)
            fprintf(f, "%sg%d", i ? "," : "", r->fault_groups[i]);
        xml_text(f, r->fault_target);
        fprintf(f, " from t=%.1f s to t=%.1f s</text>\n", r->fault_at_s, r->recover_at_s >= 0 ? r->recover_at_s : xmax);
    }

    /* panel 1: throughput and errors */
    double ymax = 1;
    for (int t = 0; t < r->nrows; t++) {
        if (r->rows[t].ok > ymax) ymax = (double)r->rows[t].ok;
        if (r->rows[t].failed > ymax) ymax = (double)r->rows[t].failed;
    }
    panel p1 = {.top = 100, .bottom = 300, .ymax = nice_top(ymax), .xmax = xmax};
    draw_frame(f, r, &p1, "Throughput: acknowledged and failed requests per second", "requests / s", "");
    series(f, r, &p1, "series-ok", "#59a14f", false, v_ok);
    series(f, r, &p1, "series-errors", "#e15759", false, v_err);
    legend(f, PR + 12, p1.top + 10, 0, "#59a14f", "ok / s", false);
    legend(f, PR + 12, p1.top + 10, 1, "#e15759", "errors / s", false);

    /* panel 2: latency */
    ymax = 1;
    for (int t = 0; t < r->nrows; t++)
        if ((double)r->rows[t].p99_us / 1000.0 > ymax)
            ymax = (double)r->rows[t].p99_us / 1000.0;
    panel p2 = {.top = 370, .bottom = 550, .ymax = nice_top(ymax), .xmax = xmax};
    draw_frame(f, r, &p2, "Latency per second (from intended send time)", "latency (ms)", "");
    series(f, r, &p2, "series-p50", "#4e79a7", false, v_p50);
    series(f, r, &p2, "series-p99", "#f28e2b", false, v_p99);
    legend(f, PR + 12, p2.top + 10, 0, "#4e79a7", "p50", false);
    legend(f, PR + 12, p2.top + 10, 1, "#f28e2b", "p99", false);

    /* panel 3: stacked per-group share of acknowledged creates */
    panel p3 = {.top = 620, .bottom = 800, .ymax = 100, .xmax = xmax};
    draw_frame(f, r, &p3, "Share of acknowledged creates per group", "share (%)", "");
    double *base = calloc((size_t)(r->nrows > 0 ? r->nrows : 1), sizeof *base);
    for (int g = 0; g < r->groups.n && base; g++) {
        fprintf(f, "<polygon class=\"share-g%d\" fill=\"%s\" fill-opacity=\"0.85\" stroke=\"none\" points=\"",
                r->groups.ids[g], group_color(g));
        for (int t = 0; t < r->nrows; t++) {
            int64_t all = row_creates(&r->rows[t], r->groups.n);
            double top = base[t] + (all ? 100.0 * (double)r->rows[t].group_ok[g] / (double)all : 0);
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", px(&p3, t), py(&p3, top), px(&p3, t + 1), py(&p3, top));
        }
        for (int t = r->nrows - 1; t >= 0; t--)
            fprintf(f, "%.1f,%.1f %.1f,%.1f ", px(&p3, t + 1), py(&p3, base[t]), px(&p3, t), py(&p3, base[t]));
        fprintf(f, "\"/>\n");
        for (int t = 0; t < r->nrows; t++) {
            int64_t all = row_creates(&r->rows[t], r->groups.n);
            base[t] += all ? 100.0 * (double)r->rows[t].group_ok[g] / (double)all : 0;
        }
        char lab[48];
        snprintf(lab, sizeof lab, "group %d%s", r->groups.ids[g], is_fault_group(r, r->groups.ids[g]) ? " (faulted)" : "");
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"20\" height=\"12\" fill=\"%s\"/>\n", PR + 12, p3.top + 4 + g * 18,
                group_color(g));
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"12\">%s</text>\n", PR + 38, p3.top + 14 + g * 18, lab);
    }
    free(base);
    /* redraw the window outline on top of the stacked areas so it stays visible */
    if (r->fault_at_s >= 0) {
        double x0 = px(&p3, r->fault_at_s), x1 = px(&p3, r->recover_at_s >= 0 ? r->recover_at_s : xmax);
        fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#e15759\" fill-opacity=\"0.12\" "
                   "stroke=\"#e15759\" stroke-dasharray=\"4,3\"/>\n", x0, p3.top, x1 - x0, p3.bottom - p3.top);
    }
    for (int i = 0; i < r->npanels; i++)
        extra_panel(f, r, &r->panels[i], 870 + i * 250, xmax);
    fprintf(f, "</svg>\n");
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    (void)len;
    return buf;
}
