/*
 * bench/report.h — per-second load rows, their aggregation, the run summary,
 * and rendering to JSON (skipbench --json, skipctl drill report.json) and to an
 * SVG chart (drill report.svg). Pure: callers pass every timestamp; nothing
 * here reads a clock or does I/O.
 *
 * A request is attributed to the second of its *intended* send time (open
 * loop) or actual send time (closed loop), so "sent" in a row is what the
 * schedule asked for in that second and its latency includes any queueing.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "bench/hist.h"

#define REP_MAX_GROUPS 16     /* groups tracked for share/state (first 16 by id) */
#define REP_MAX_CODES 8       /* distinct error codes per row; the rest count as "OTHER" */
#define REP_CODE_LEN 48
#define REP_STATE_LEN 12

typedef struct {
    char code[REP_CODE_LEN];  /* "503 NO_WRITABLE_GROUP", "timeout", ... */
    int64_t n;
} rep_code;

typedef struct {
    int64_t sent, ok, failed;
    rep_code codes[REP_MAX_CODES];
    int ncodes;
    int64_t p50_us, p99_us, max_us;               /* of every finished request (ok or not) */
    int64_t group_ok[REP_MAX_GROUPS];             /* acknowledged creates per group slot */
    char state[REP_MAX_GROUPS][REP_STATE_LEN];    /* group state polled in this second; "" unknown */
} rep_row;

/* The group slots of a run: slot i <-> group id ids[i]. */
typedef struct {
    int n;
    int ids[REP_MAX_GROUPS];
} rep_groups;

int rep_group_slot(const rep_groups *g, int id);  /* -1 if untracked */

/* Add an error code to a code list (merging equal codes; overflow -> "OTHER"). */
void rep_codes_add(rep_code *codes, int *ncodes, const char *code, int64_t n);

/* One second being aggregated: a row plus its latency histogram. */
typedef struct {
    rep_row row;
    hist lat;
} rep_sec;

void rep_sec_init(rep_sec *s);
/* A request was sent in this second. */
void rep_sec_sent(rep_sec *s);
/* A request of this second finished: ok, or failed with code; group id of
 * an acknowledged create (0 = none / not a create). */
void rep_sec_done(rep_sec *s, const rep_groups *g, int64_t lat_us, bool ok, const char *code, int group);
/* Fill the row's percentiles from the histogram. */
void rep_sec_close(rep_sec *s);

/* A labelled stretch of time shaded on every panel (a soak's faults). */
typedef struct {
    double from_s, to_s;       /* seconds since start; to_s < 0 = still open at the end */
    char label[32];            /* "kill g1", "redis", ... */
} rep_window;

/* One line of an extra panel: n points (t[i] seconds since start, v[i]). */
#define REP_MAX_LINES 8
typedef struct {
    char label[32];
    const double *t, *v;
    int n;
    bool dashed;
} rep_line;

/* An extra panel under the three of every run (a soak's resource samples). */
typedef struct {
    char title[96];
    char ylabel[32];
    rep_line lines[REP_MAX_LINES];
    int nlines;
} rep_panel;

typedef struct {
    /* identity */
    char title[160];
    char mode[16];             /* drill: fence|stop|kill|readonly|partition|daemon-kill; "" for a plain run */
    char fault_target[16];     /* what a non-group fault hit ("daemon1"); "" for group faults */
    int fault_groups[REP_MAX_GROUPS];
    int nfault_groups;
    double fault_at_s, recover_at_s;   /* seconds since start; < 0 = not happened */
    double rate;
    int duration_s;
    rep_groups groups;
    /* rows: index t = second t since start */
    rep_row *rows;
    int nrows;
    /* exact first acknowledged create per faulted group after recovery (s since start; < 0 none) */
    double back_at_s[REP_MAX_GROUPS];
    /* optional (zeroed = none): more fault windows, shaded and labelled on
     * every panel, and extra panels drawn under the three standard ones;
     * borrowed, they must outlive rep_svg */
    const rep_window *windows;
    int nwindows;
    const rep_panel *panels;
    int npanels;
} rep_run;

typedef struct {
    int64_t sent, ok, failed;
    int worst_p99_t;           /* -1 if no rows */
    int64_t worst_p99_us;
    double recovery_s[REP_MAX_GROUPS];  /* per fault group: seconds from recovery to first ack; <0 = never */
    bool all_back;
    double fault_share_max;    /* max share of the faulted groups in fully faulted seconds */
} rep_summary;

void rep_summarize(const rep_run *r, rep_summary *out);

/* report.json: {"title","mode","groups","fault":{...},"rows":[...],"summary":{...}}. New reference. */
json_t *rep_to_json(const rep_run *r, const rep_summary *s);

/* The chart: throughput/errors, latency, per-group share, then r->panels.
 * Returns a malloc'd NUL-terminated SVG document (caller frees), NULL on OOM. */
char *rep_svg(const rep_run *r, const rep_summary *s);

#endif
