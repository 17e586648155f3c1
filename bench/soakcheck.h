/*
 * bench/soakcheck.h — the soak's resource samples and its verdict (pure: the
 * caller reads /proc and the API; nothing here does I/O or reads a clock).
 *
 * A soak samples every SAMPLE interval, per tracked process (each skipstored,
 * skipstore-mirror): RSS, threads and open descriptors; plus the outbox
 * backlog and the mirror lag. The verdict (soak_judge):
 *   - zero failed creates;
 *   - the audit found no problem other than orphans (spec §6: a CREATED
 *     order an unknown-outcome insert left, never given to anyone);
 *   - for every process that must not restart (the daemons: the soak never
 *     restarts one, so a new pid is a crash), the same pid from the baseline
 *     on, and its RSS, threads and fds at the end at most (1 + tolerance)
 *     times their baseline values.
 * "Baseline value" is the median over the quiet samples (no fault on, nor
 * in the settle time after one) in [baseline_s, baseline_s + window_s);
 * "end value" the median over the quiet samples in the last window_s. One
 * sample is a poor witness: descriptors move by a few as pools reconnect,
 * and a stalled group queues requests; a leak is a level that keeps
 * rising, which the medians show. Peaks after the baseline are reported
 * beside them (peak_*) but do not decide. A process that may restart (the
 * mirror, which the rotation restarts) is judged only when its pid did not
 * change, else reported as "restarted".
 */
#ifndef BENCH_SOAKCHECK_H
#define BENCH_SOAKCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "bench/report.h"

#define SOAK_MAX_PROCS 12

typedef struct {
    char name[16];            /* "daemon1", "mirror" */
    int pid;                  /* 0: not running when sampled */
    bool may_restart;
    int64_t rss_kb;
    int64_t threads;
    int64_t fds;
    int64_t sockets;          /* of fds: sockets (DB pools, Redis, clients); not judged, explains fds */
} soak_proc;

typedef struct {
    double t_s;               /* seconds since the soak started */
    int nproc;
    soak_proc p[SOAK_MAX_PROCS];
    int64_t outbox_pending;   /* -1 unknown */
    int64_t mirror_lag_ms;    /* -1 unknown */
} soak_sample;

typedef struct {
    double baseline_s;        /* e.g. 300 */
    double window_s;          /* e.g. 60: how many seconds of samples a median takes */
    double settle_s;          /* e.g. 10: a sample this soon after a fault's recovery is not quiet */
    double tolerance;         /* e.g. 0.10 */
    const rep_window *faults; /* the fault windows (to_s < 0: never recovered) */
    int nfaults;
} soak_limits;

typedef struct {
    char name[16];
    bool judged;              /* false: restarted (may_restart) or no baseline */
    bool ok;
    char note[128];           /* why not judged, or what failed */
    soak_proc base, end;      /* medians (pid: the baseline's / the last sample's) */
    int nbase, nend;          /* samples behind each median */
    int64_t peak_rss_kb, peak_threads, peak_fds;   /* after the baseline */
} soak_proc_verdict;

typedef struct {
    bool pass;
    bool have_baseline;
    double baseline_t_s, end_t_s;
    int64_t failed_creates;
    int64_t audit_problems;   /* -1: the audit did not run or could not be read */
    int64_t audit_orphans;
    int nproc;
    soak_proc_verdict p[SOAK_MAX_PROCS];
    char reasons[512];        /* "; "-separated failures, "" on pass */
} soak_verdict;

/* Judge n samples (in time order). audit_problems: problems other than
 * orphans, -1 = unknown (fails the verdict). */
void soak_judge(const soak_sample *s, int n, const soak_limits *lim, int64_t failed_creates,
                int64_t audit_problems, int64_t audit_orphans, soak_verdict *out);

/* {"pass","reasons","failed_creates","audit":{...},"baseline_t_s","end_t_s",
 *  "processes":[{"name","judged","ok","note","base":{...},"end":{...},"peak":{...}}]}. New reference. */
json_t *soak_verdict_json(const soak_verdict *v);

#endif
