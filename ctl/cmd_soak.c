/*
 * ctl/cmd_soak.c — `skipctl soak`: a long mixed load (create, read, pay,
 * refund) at a fixed rate with a fault every few minutes, sampling the
 * daemons' resources, then `skipctl audit`, and a verdict.
 *
 *   skipctl soak [--duration 30m] [--rate N] [--fault-every 3m] [--fault-for 20s]
 *                [--faults kill,stop,readonly,partition,redis,mirror]
 *                [--baseline-at 5m] [--median-window 60s] [--sample-every 10s] [--out DIR]
 *                [--url URL] [--dev PATH] [--run DIR] [--concurrency C] [--timeout MS]
 *                [--no-audit]
 *
 * The load is the drill's engine (bench/loadgen.c, mix "full"): open loop,
 * latency from the intended send time. Faults rotate through --faults, one
 * every --fault-every, each held for --fault-for then recovered, on their own
 * thread (group faults take the groups in turn): kill+start, stop+cont,
 * readonly+writable, partition+heal of a group primary; Redis kill+start;
 * mirror kill+start — all through `./dev fault` (local cluster only). A fault
 * is started only if it can be recovered before the load ends.
 *
 * Every --sample-every: RSS, threads and open descriptors of each process in
 * $SKIP_RUN_DIR/pids (daemon*.pid, mirror.pid; /proc), and the outbox backlog
 * and mirror lag from GET /v1/groups (polled every second, as the drill does
 * for the group states). The verdict is bench/soakcheck.c's.
 *
 * Writes DIR/report.json, DIR/report.svg (the drill's three panels with every
 * fault window shaded, plus RSS, threads, fds, backlog and lag), DIR/orders.txt
 * and DIR/audit.json. Exit 0 on a PASS verdict, 1 on FAIL or when the soak
 * could not run, 2 on bad arguments.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bench/loadgen.h"
#include "bench/report.h"
#include "bench/soakcheck.h"
#include "client/httpc.h"
#include "ctl/ctl.h"
#include "ctl/runio.h"
#include "migrate/mig.h"

#define SOAK_MAX_KINDS 8
#define SOAK_MAX_FAULTS 1024

typedef struct {
    double from_s, to_s;      /* injection start, recovery end; to_s < 0 = not recovered */
    char label[32];           /* "kill g1" */
    char target[16], inject[16], recover[16];
    bool inject_ok, recover_ok;
} soak_fault;

typedef struct {
    /* options */
    const char *url, *token, *dev, *run_dir;
    int duration_s;
    double every_s, for_s, sample_s;
    char kinds[SOAK_MAX_KINDS][16];
    int nkinds;
    /* run */
    rep_groups groups;
    httpc *poll;
    char (*states)[REP_MAX_GROUPS][REP_STATE_LEN];   /* [duration] */
    lg_http *load;
    pthread_mutex_t mu;
    lg_groups_view view;      /* the last /v1/groups poll */
    soak_fault faults[SOAK_MAX_FAULTS];
    int nfaults;
    soak_sample *samples;
    int nsamples, capsamples;
    double next_sample_s;
    int64_t start_mono_ms;
    char since[16];           /* YYYYMMDDHHMMSS (UTC) of the start: how this run's order numbers begin */
    _Atomic bool stop;
    pthread_t th;
    bool th_started;
} soak;

static double now_s(const soak *s)
{
    return (double)(sk_mono_ms() - s->start_mono_ms) / 1000.0;
}

/* "30m", "90s", "1h", "1500ms", or plain seconds. */
static int parse_dur(const char *v, double *out_s)
{
    int64_t ms;
    char buf[32];
    size_t n = strlen(v);
    if (n > 0 && n < sizeof buf - 2 && isdigit((unsigned char)v[n - 1])) {
        snprintf(buf, sizeof buf, "%ss", v);
        v = buf;
    }
    if (mig_parse_duration(v, &ms) != 0)
        return -1;
    *out_s = (double)ms / 1000.0;
    return 0;
}

/* ---------------------------------------------------------------- faults */

static bool kind_known(const char *k)
{
    static const char *known[] = {"kill", "stop", "readonly", "partition", "redis", "mirror"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(k, known[i]) == 0)
            return true;
    return false;
}

/* The k-th fault of the rotation: what to run. Group faults take the groups in turn. */
static void plan_fault(const soak *s, int k, soak_fault *f)
{
    memset(f, 0, sizeof *f);
    f->to_s = -1;
    const char *kind = s->kinds[k % s->nkinds];
    if (strcmp(kind, "redis") == 0 || strcmp(kind, "mirror") == 0) {
        sk_strlcpy(f->target, kind, sizeof f->target);
        sk_strlcpy(f->inject, "kill", sizeof f->inject);
        sk_strlcpy(f->recover, "start", sizeof f->recover);
        snprintf(f->label, sizeof f->label, "%s restart", kind);
        return;
    }
    int group_faults = 0;   /* group faults before this one */
    for (int i = 0; i < k; i++) {
        const char *x = s->kinds[i % s->nkinds];
        group_faults += strcmp(x, "redis") != 0 && strcmp(x, "mirror") != 0;
    }
    int g = s->groups.ids[group_faults % s->groups.n];
    snprintf(f->target, sizeof f->target, "g%d", g);
    sk_strlcpy(f->inject, kind, sizeof f->inject);
    sk_strlcpy(f->recover, strcmp(kind, "kill") == 0 ? "start" : strcmp(kind, "stop") == 0 ? "cont"
                           : strcmp(kind, "readonly") == 0 ? "writable" : "heal", sizeof f->recover);
    snprintf(f->label, sizeof f->label, "%s g%d", kind, g);
}

/* Sleep until t (seconds since start) or until stop is set; true if t was reached. */
static bool wait_until(soak *s, double t)
{
    while (now_s(s) < t) {
        if (atomic_load(&s->stop))
            return false;
        usleep(50000);
    }
    return true;
}

static void *fault_thread(void *arg)
{
    soak *s = arg;
    for (int k = 0; k < SOAK_MAX_FAULTS; k++) {
        double due = s->every_s * (k + 1);
        /* only a fault that is recovered (and settles a little) before the load ends */
        if (due + s->for_s + 5 > s->duration_s || !wait_until(s, due))
            break;
        soak_fault f;
        plan_fault(s, k, &f);
        f.from_s = now_s(s);
        fprintf(stderr, "soak: t=%.0f s fault %s (%s %s)\n", f.from_s, f.label, f.target, f.inject);
        f.inject_ok = ctl_dev_fault(s->dev, f.target, f.inject) == 0;
        if (!f.inject_ok)
            fprintf(stderr, "soak: %s fault %s %s failed\n", s->dev, f.target, f.inject);
        (void)wait_until(s, f.from_s + s->for_s);   /* recover early when stopped */
        f.recover_ok = ctl_dev_fault(s->dev, f.target, f.recover) == 0;
        if (!f.recover_ok)
            fprintf(stderr, "soak: %s fault %s %s failed\n", s->dev, f.target, f.recover);
        f.to_s = now_s(s);
        fprintf(stderr, "soak: t=%.0f s recovered %s (%s %s)\n", f.to_s, f.label, f.target, f.recover);
        pthread_mutex_lock(&s->mu);
        s->faults[s->nfaults++] = f;
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

/* ---------------------------------------------------------------- samples */

/* RSS (kB) and threads from /proc/PID/status, fds from /proc/PID/fd; 0 or -1. */
static int proc_read(int pid, soak_proc *p)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f)) {
        long long v;
        if (sscanf(line, "VmRSS: %lld", &v) == 1)
            p->rss_kb = v;
        else if (sscanf(line, "Threads: %lld", &v) == 1)
            p->threads = v;
    }
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    struct dirent *e;
    int64_t n = 0, socks = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char target[128];
        ssize_t l = readlinkat(dirfd(d), e->d_name, target, sizeof target - 1);
        n++;
        socks += l > 7 && strncmp(target, "socket:", 7) == 0;
    }
    closedir(d);
    p->fds = n;
    p->sockets = socks;
    return 0;
}

/* The pid in RUN/pids/NAME.pid if it is alive and runs one of our programs; else 0. */
static int pid_of(const char *run_dir, const char *name)
{
    char path[4096], buf[512];
    snprintf(path, sizeof path, "%s/pids/%s.pid", run_dir, name);
    FILE *f = fopen(path, "r");
    int pid = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';   /* argv[0] */
    return strstr(buf, "skipstore") ? pid : 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const soak_proc *)a)->name, ((const soak_proc *)b)->name);
}

static void take_sample(soak *s, double t)
{
    soak_sample x;
    memset(&x, 0, sizeof x);
    x.t_s = t;
    char pids[4096];
    snprintf(pids, sizeof pids, "%s/pids", s->run_dir);
    DIR *d = opendir(pids);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && x.nproc < SOAK_MAX_PROCS) {
        size_t l = strlen(e->d_name);
        bool daemon = strncmp(e->d_name, "daemon", 6) == 0, mirror = strcmp(e->d_name, "mirror.pid") == 0;
        if (l < 5 || l > 15 || strcmp(e->d_name + l - 4, ".pid") != 0 || !(daemon || mirror))
            continue;
        soak_proc *p = &x.p[x.nproc++];
        memcpy(p->name, e->d_name, l - 4);
        p->name[l - 4] = '\0';
        p->may_restart = mirror;
        p->pid = pid_of(s->run_dir, p->name);
        if (p->pid && proc_read(p->pid, p) != 0)
            p->pid = 0;
    }
    if (d)
        closedir(d);
    qsort(x.p, (size_t)x.nproc, sizeof x.p[0], cmp_name);
    pthread_mutex_lock(&s->mu);
    x.outbox_pending = s->view.outbox_pending;
    x.mirror_lag_ms = s->view.mirror_lag_ms;
    if (s->nsamples == s->capsamples) {
        int cap = s->capsamples ? s->capsamples * 2 : 256;
        soak_sample *n = realloc(s->samples, (size_t)cap * sizeof *n);
        if (n) {
            s->samples = n;
            s->capsamples = cap;
        }
    }
    if (s->nsamples < s->capsamples)
        s->samples[s->nsamples++] = x;
    pthread_mutex_unlock(&s->mu);
    /* one progress line per sample */
    fprintf(stderr, "soak: t=%4.0f s", t);
    for (int i = 0; i < x.nproc; i++)
        fprintf(stderr, " | %s rss %.1f MB thr %lld fds %lld (sockets %lld)", x.p[i].name,
                (double)x.p[i].rss_kb / 1024.0, (long long)x.p[i].threads, (long long)x.p[i].fds,
                (long long)x.p[i].sockets);
    fprintf(stderr, " | outbox %lld lag %lld ms | failed creates %lld\n", (long long)x.outbox_pending,
            (long long)x.mirror_lag_ms, (long long)lg_http_failed_creates(s->load));
}

static void tick(void *ctx, lg_ctl *ctl, int t, double now)
{
    soak *s = ctx;
    (void)ctl;
    lg_groups_view v;
    (void)lg_poll_groups(s->poll, s->token, &s->groups, &v);   /* failed: UNKNOWN everywhere */
    pthread_mutex_lock(&s->mu);
    s->view = v;
    pthread_mutex_unlock(&s->mu);
    if (t - 1 >= 0 && t - 1 < s->duration_s)
        for (int i = 0; i < s->groups.n; i++)
            sk_strlcpy(s->states[t - 1][i], v.state[i], REP_STATE_LEN);
    if (now >= s->next_sample_s) {
        take_sample(s, now);
        s->next_sample_s += s->sample_s;
    }
}

/* ---------------------------------------------------------------- audit */

/* `skipctl audit --json` (this program) into DIR/audit.json. Sets problems
 * other than orphans and orphans (-1 when the audit could not be read). The
 * verdict judges this run: a problem of an order numbered before the soak
 * started (an order number begins with its UTC creation second) is older
 * than the run — left by earlier tests or traffic on a shared cluster — and is
 * reported on stderr, not counted. Audit errors always count. */
static void run_audit(const soak *s, const char *out, int64_t *problems, int64_t *orphans)
{
    *problems = *orphans = -1;
    char path[4096], self[4096];
    snprintf(path, sizeof path, "%s/audit.json", out);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return;
    self[n] = '\0';
    pid_t pid = fork();
    if (pid < 0)
        return;
    if (pid == 0) {
        FILE *f = freopen(path, "w", stdout);
        if (f == NULL)
            _exit(127);
        execl(self, self, "audit", "--json", "--url", s->url, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    json_t *j = json_load_file(path, 0, NULL);
    json_t *p = j ? json_object_get(j, "problems") : NULL;
    if (!json_is_object(p)) {
        json_decref(j);
        return;
    }
    int64_t total = (int64_t)json_array_size(json_object_get(j, "errors")), older = 0;
    const char *key;
    json_t *arr;
    json_object_foreach(p, key, arr) {
        if (strcmp(key, "orphan") == 0)
            *orphans = (int64_t)json_array_size(arr);
        else if (strcmp(key, "fixed") != 0) {
            size_t i;
            json_t *e;
            json_array_foreach(arr, i, e) {
                const char *no = json_string_value(json_object_get(e, "order_no"));
                if (no != NULL && strlen(no) >= 14 && strncmp(no, s->since, 14) < 0)
                    older++;
                else
                    total++;
            }
        }
    }
    if (older > 0)
        fprintf(stderr, "soak: audit: %lld problem(s) on orders numbered before this run (not judged; see %s)\n",
                (long long)older, path);
    *problems = total;
    if (*orphans < 0)
        *orphans = 0;
    json_decref(j);
}

/* ---------------------------------------------------------------- report */

/* The resource panels of the chart; the value arrays are allocated into vals (caller frees each). */
static int build_panels(const soak *s, rep_panel *panels, double **vals, int *nvals)
{
    int n = s->nsamples;
    *nvals = 0;
    double *t = malloc((size_t)(n > 0 ? n : 1) * sizeof *t);
    if (t == NULL)
        return 0;
    vals[(*nvals)++] = t;
    for (int i = 0; i < n; i++)
        t[i] = s->samples[i].t_s;
    /* process names from the last sample (a process is in every sample once started) */
    const soak_sample *last = n > 0 ? &s->samples[n - 1] : NULL;
    int nproc = last ? last->nproc : 0;
    if (nproc > REP_MAX_LINES)
        nproc = REP_MAX_LINES;
    static const char *titles[3] = {"Resident memory per process", "Threads per process",
                                    "Open file descriptors per process"};
    static const char *ylabels[3] = {"RSS (MB)", "threads", "fds"};
    for (int m = 0; m < 3; m++) {
        rep_panel *p = &panels[m];
        memset(p, 0, sizeof *p);
        sk_strlcpy(p->title, titles[m], sizeof p->title);
        sk_strlcpy(p->ylabel, ylabels[m], sizeof p->ylabel);
        for (int k = 0; k < nproc; k++) {
            double *v = calloc((size_t)(n > 0 ? n : 1), sizeof *v);
            if (v == NULL)
                return m;
            vals[(*nvals)++] = v;
            for (int i = 0; i < n; i++)
                for (int q = 0; q < s->samples[i].nproc; q++) {
                    const soak_proc *pr = &s->samples[i].p[q];
                    if (strcmp(pr->name, last->p[k].name) != 0 || pr->pid == 0)
                        continue;
                    v[i] = m == 0 ? (double)pr->rss_kb / 1024.0 : m == 1 ? (double)pr->threads : (double)pr->fds;
                }
            rep_line *l = &p->lines[p->nlines++];
            sk_strlcpy(l->label, last->p[k].name, sizeof l->label);
            l->t = t;
            l->v = v;
            l->n = n;
            l->dashed = last->p[k].may_restart;
        }
    }
    rep_panel *p = &panels[3];
    memset(p, 0, sizeof *p);
    sk_strlcpy(p->title, "Outbox backlog (rows) and mirror lag (s)", sizeof p->title);
    sk_strlcpy(p->ylabel, "rows | s", sizeof p->ylabel);
    double *ob = calloc((size_t)(n > 0 ? n : 1), sizeof *ob), *lag = calloc((size_t)(n > 0 ? n : 1), sizeof *lag);
    if (ob == NULL || lag == NULL) {
        free(ob);
        free(lag);
        return 3;
    }
    vals[(*nvals)++] = ob;
    vals[(*nvals)++] = lag;
    for (int i = 0; i < n; i++) {
        ob[i] = s->samples[i].outbox_pending > 0 ? (double)s->samples[i].outbox_pending : 0;
        lag[i] = s->samples[i].mirror_lag_ms > 0 ? (double)s->samples[i].mirror_lag_ms / 1000.0 : 0;
    }
    p->lines[0] = (rep_line){.label = "outbox backlog", .t = t, .v = ob, .n = n};
    p->lines[1] = (rep_line){.label = "mirror lag (s)", .t = t, .v = lag, .n = n, .dashed = true};
    p->nlines = 2;
    return 4;
}

static json_t *samples_json(const soak *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->nsamples; i++) {
        const soak_sample *x = &s->samples[i];
        json_t *procs = json_object();
        for (int k = 0; k < x->nproc; k++)
            json_object_set_new(procs, x->p[k].name,
                                json_pack("{s:i,s:I,s:I,s:I,s:I}", "pid", x->p[k].pid, "rss_kb",
                                          (json_int_t)x->p[k].rss_kb, "threads", (json_int_t)x->p[k].threads, "fds",
                                          (json_int_t)x->p[k].fds, "sockets", (json_int_t)x->p[k].sockets));
        json_array_append_new(a, json_pack("{s:f,s:o,s:I,s:I}", "t", x->t_s, "processes", procs, "outbox_pending",
                                           (json_int_t)x->outbox_pending, "mirror_lag_ms", (json_int_t)x->mirror_lag_ms));
    }
    return a;
}

static json_t *faults_json(const soak *s)
{
    json_t *a = json_array();
    for (int i = 0; i < s->nfaults; i++) {
        const soak_fault *f = &s->faults[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:b,s:b}", "label", f->label, "target", f->target,
                                           "inject", f->inject, "recover", f->recover, "from_s", f->from_s, "to_s",
                                           f->to_s, "inject_ok", f->inject_ok, "recover_ok", f->recover_ok));
    }
    return a;
}

/* Wait (up to max_s) for the outbox to drain, so the audit compares settled stores. */
static void wait_outbox_drained(soak *s, double max_s)
{
    int64_t t0 = sk_mono_ms();
    while ((double)(sk_mono_ms() - t0) / 1000.0 < max_s) {
        lg_groups_view v;
        if (lg_poll_groups(s->poll, s->token, &s->groups, &v) == 0 && v.outbox_pending == 0)
            return;
        sk_sleep_ms(1000);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: skipctl soak [--duration 30m] [--rate N] [--fault-every 3m] [--fault-for 20s]\n"
               "                    [--faults kill,stop,readonly,partition,redis,mirror] [--baseline-at 5m]\n"
               "                    [--sample-every 10s] [--out DIR] [--url URL] [--dev PATH] [--run DIR]\n"
               "                    [--median-window 60s] [--tolerance PCT] [--concurrency C] [--timeout MS] [--no-audit]\n");
}

static int parse_kinds(soak *s, const char *list)
{
    char buf[256];
    sk_strlcpy(buf, list, sizeof buf);
    s->nkinds = 0;
    for (char *save = NULL, *k = strtok_r(buf, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        if (!kind_known(k) || s->nkinds >= SOAK_MAX_KINDS)
            return -1;
        sk_strlcpy(s->kinds[s->nkinds++], k, sizeof s->kinds[0]);
    }
    return s->nkinds > 0 ? 0 : -1;
}

int ctl_cmd_soak(int argc, char **argv)
{
    static soak s;   /* large (the fault log); one soak per process */
    memset(&s, 0, sizeof s);
    s.url = httpc_env_url();
    s.token = "";   /* requests are signed (SKIP_KEYS) */
    s.dev = getenv("SKIP_DEV") ? getenv("SKIP_DEV") : "./dev";
    s.run_dir = getenv("SKIP_RUN_DIR");
    double duration = 1800, rate = 50, baseline = 300, window = 60;
    s.every_s = 180;
    s.for_s = 20;
    s.sample_s = 10;
    const char *out = NULL, *kinds = "kill,stop,readonly,partition,redis,mirror";
    int concurrency = 0, timeout_ms = 5000;
    bool audit = true, bad = false;
    double tolerance_pct = 10; /* --tolerance: allowed growth of RSS, threads, fds */
    static const struct option opts[] = {
        {"duration", required_argument, NULL, 'd'}, {"rate", required_argument, NULL, 'r'},
        {"fault-every", required_argument, NULL, 'e'}, {"fault-for", required_argument, NULL, 'f'},
        {"faults", required_argument, NULL, 'k'}, {"baseline-at", required_argument, NULL, 'b'},
        {"sample-every", required_argument, NULL, 's'}, {"out", required_argument, NULL, 'o'},
        {"url", required_argument, NULL, 'u'}, {"dev", required_argument, NULL, 'v'},
        {"run", required_argument, NULL, 'R'}, {"concurrency", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 'T'}, {"no-audit", no_argument, NULL, 'A'},
        {"median-window", required_argument, NULL, 'w'}, {"tolerance", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'd': bad |= parse_dur(optarg, &duration) != 0; break;
        case 'r': rate = atof(optarg); break;
        case 'e': bad |= parse_dur(optarg, &s.every_s) != 0; break;
        case 'f': bad |= parse_dur(optarg, &s.for_s) != 0; break;
        case 'k': kinds = optarg; break;
        case 'b': bad |= parse_dur(optarg, &baseline) != 0; break;
        case 'w': bad |= parse_dur(optarg, &window) != 0; break;
        case 's': bad |= parse_dur(optarg, &s.sample_s) != 0; break;
        case 'o': out = optarg; break;
        case 'u': s.url = optarg; break;
        case 'v': s.dev = optarg; break;
        case 'R': s.run_dir = optarg; break;
        case 'c': concurrency = atoi(optarg); break;
        case 'T': timeout_ms = atoi(optarg); break;
        case 'A': audit = false; break;
        case 'L': tolerance_pct = atof(optarg); bad |= !(tolerance_pct >= 0 && tolerance_pct <= 1000); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    s.duration_s = (int)duration;
    if (bad || optind != argc || parse_kinds(&s, kinds) != 0 || s.duration_s < 10 || s.duration_s > 86400 ||
        rate <= 0 || rate > 100000 || s.every_s < 5 || s.for_s < 1 || s.for_s >= s.every_s || s.sample_s < 1 ||
        baseline < 0 || window < 1 || timeout_ms < 100 || timeout_ms > 20000 || concurrency < 0 || concurrency > 4096) {
        usage(stderr);
        return 2;
    }
    if (s.run_dir == NULL) {
        fprintf(stderr, "skipctl soak: --run DIR or $SKIP_RUN_DIR (the cluster's run dir, for its pids) is needed\n");
        return 2;
    }
    if (access(s.dev, X_OK) != 0) {
        fprintf(stderr, "skipctl soak: the faults need the cluster script (--dev PATH or $SKIP_DEV; %s not executable)\n",
                s.dev);
        return 2;
    }
    char outbuf[64];
    if (out == NULL) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(outbuf, sizeof outbuf, "soak-%Y%m%dT%H%M%SZ", &tm);
        out = outbuf;
    }
    if (concurrency == 0) {
        concurrency = (int)(rate * 1.5) + 16;
        if (concurrency > 512)
            concurrency = 512;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "skipctl soak: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char err[512], path[4096];
    if (lg_fetch_groups(s.url, s.token, 3000, &s.groups, err, sizeof err) != 0) {
        fprintf(stderr, "skipctl soak: %s\n", err);
        return 1;
    }
    snprintf(path, sizeof path, "%s/orders.txt", out);
    FILE *orders = fopen(path, "w");
    if (orders == NULL) {
        fprintf(stderr, "skipctl soak: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    char run_id[24];
    snprintf(run_id, sizeof run_id, "s%lx%x", (unsigned long)time(NULL), (unsigned)getpid() & 0xffff);
    s.load = lg_http_new(s.url, s.token, LG_FULL, 100, timeout_ms, run_id);
    s.poll = httpc_new(s.url, 900);
    s.states = calloc((size_t)s.duration_s, sizeof *s.states);
    if (s.load == NULL || s.poll == NULL || s.states == NULL) {
        fclose(orders);
        lg_http_free(s.load);
        httpc_free(s.poll);
        free(s.states);
        return 1;
    }
    pthread_mutex_init(&s.mu, NULL);
    lg_opts o = {.duration_s = s.duration_s, .concurrency = concurrency, .rate = rate, .timeout_ms = timeout_ms,
                 .progress = false, .groups = &s.groups, .orders_out = orders, .tick = tick, .tick_ctx = &s,
                 .ops = lg_http_ops(s.load)};
    fprintf(stderr, "soak: run %s, %d s at %.0f req/s, a fault every %.0f s held %.0f s (%s), samples every %.0f s, "
                    "baseline at %.0f s, out %s\n",
            run_id, s.duration_s, rate, s.every_s, s.for_s, kinds, s.sample_s, baseline, out);
    s.start_mono_ms = sk_mono_ms() + 20; /* lg_run starts its clock 20 ms after the call */
    {
        time_t t0 = time(NULL) - 1;
        struct tm tm0;
        gmtime_r(&t0, &tm0);
        strftime(s.since, sizeof s.since, "%Y%m%d%H%M%S", &tm0);
    }
    if (pthread_create(&s.th, NULL, fault_thread, &s) == 0)
        s.th_started = true;
    else
        fprintf(stderr, "skipctl soak: cannot start the fault thread; running without faults\n");
    lg_result res;
    int rc = lg_run(&o, &res);
    atomic_store(&s.stop, true);
    if (s.th_started)
        pthread_join(s.th, NULL);   /* never leave a fault behind */
    fclose(orders);
    if (rc != 0) {
        lg_http_free(s.load);
        httpc_free(s.poll);
        free(s.states);
        return 1;
    }
    take_sample(&s, now_s(&s));   /* the end, after the last request */

    int64_t problems = -1, orphans = -1;
    if (audit) {
        wait_outbox_drained(&s, 60);
        fprintf(stderr, "soak: audit\n");
        run_audit(&s, out, &problems, &orphans);
    }
    json_t *kinds_j = lg_http_kinds_json(s.load);
    int64_t failed_creates = lg_http_failed_creates(s.load);
    rep_window *win = calloc((size_t)(s.nfaults > 0 ? s.nfaults : 1), sizeof *win);
    for (int i = 0; win && i < s.nfaults; i++) {
        win[i].from_s = s.faults[i].from_s;
        win[i].to_s = s.faults[i].to_s;
        sk_strlcpy(win[i].label, s.faults[i].label, sizeof win[i].label);
    }
    soak_limits lim = {.baseline_s = baseline, .window_s = window, .settle_s = s.sample_s, .tolerance = tolerance_pct / 100.0,
                       .faults = win, .nfaults = win ? s.nfaults : 0};
    soak_verdict v;
    soak_judge(s.samples, s.nsamples, &lim, failed_creates, audit ? problems : 0, audit ? orphans : 0, &v);
    bool faults_ok = true;
    for (int i = 0; i < s.nfaults; i++)
        faults_ok = faults_ok && s.faults[i].inject_ok && s.faults[i].recover_ok;
    if (!faults_ok) {
        v.pass = false;
        size_t l = strlen(v.reasons);
        snprintf(v.reasons + l, sizeof v.reasons - l, "%sa fault could not be injected or recovered", l ? "; " : "");
    }

    /* report.json, report.svg */
    rep_run run;
    memset(&run, 0, sizeof run);
    snprintf(run.title, sizeof run.title, "skipctl soak: %d s of create/read/pay/refund at %.0f req/s, a fault every %.0f s",
             s.duration_s, rate, s.every_s);
    sk_strlcpy(run.mode, "soak", sizeof run.mode);
    run.fault_at_s = run.recover_at_s = -1;
    run.rate = rate;
    run.duration_s = s.duration_s;
    run.groups = s.groups;
    run.rows = res.rows;
    run.nrows = res.nrows;
    for (int t = 0; t < res.nrows; t++)
        memcpy(res.rows[t].state, s.states[t], sizeof res.rows[t].state);
    run.windows = win;
    run.nwindows = win ? s.nfaults : 0;
    rep_panel panels[4];
    double *vals[4 + 3 * REP_MAX_LINES];
    int nvals = 0;
    run.panels = panels;
    run.npanels = build_panels(&s, panels, vals, &nvals);
    rep_summary sum;
    rep_summarize(&run, &sum);
    json_t *j = rep_to_json(&run, &sum);
    json_object_set_new(j, "run_id", json_string(run_id));
    json_object_set_new(j, "url", json_string(s.url));
    json_object_set_new(j, "concurrency", json_integer(concurrency));
    json_object_set_new(j, "options", json_pack("{s:i,s:f,s:f,s:f,s:s,s:f,s:f,s:i}", "duration_s", s.duration_s, "rate",
                                                rate, "fault_every_s", s.every_s, "fault_for_s", s.for_s, "faults", kinds,
                                                "baseline_s", baseline, "sample_every_s", s.sample_s, "timeout_ms",
                                                timeout_ms));
    json_object_set_new(j, "total", lg_result_json(&res, &s.groups, s.duration_s));
    json_object_set_new(j, "kinds", json_deep_copy(kinds_j));
    json_object_set_new(j, "faults", faults_json(&s));
    json_object_set_new(j, "samples", samples_json(&s));
    json_object_set_new(j, "verdict", soak_verdict_json(&v));
    int wrc = ctl_write_report("soak", out, j, 1, &run, &sum);
    json_decref(j);
    free(win);
    for (int i = 0; i < nvals; i++)
        free(vals[i]);

    /* the summary */
    json_t *k;
    const char *kname;
    printf("soak %d s at %.0f req/s: sent %lld;", s.duration_s, rate, (long long)sum.sent);
    json_object_foreach(kinds_j, kname, k)
        printf(" %s ok %lld failed %lld;", kname, (long long)json_integer_value(json_object_get(k, "ok")),
               (long long)json_integer_value(json_object_get(k, "failed")));
    printf(" worst p99 second %.0f ms (t=%d s)\n", (double)sum.worst_p99_us / 1000.0, sum.worst_p99_t);
    printf("faults: %d", s.nfaults);
    for (int i = 0; i < s.nfaults; i++)
        printf("%s %s t=%.0f-%.0f s%s", i ? "," : "", s.faults[i].label, s.faults[i].from_s, s.faults[i].to_s,
               s.faults[i].inject_ok && s.faults[i].recover_ok ? "" : " (FAILED)");
    printf("\n");
    for (int i = 0; i < v.nproc; i++) {
        const soak_proc_verdict *p = &v.p[i];
        printf("%s: RSS %.1f -> %.1f MB (peak %.1f), threads %lld -> %lld (peak %lld), fds %lld -> %lld (peak %lld)%s%s%s\n",
               p->name, (double)p->base.rss_kb / 1024.0, (double)p->end.rss_kb / 1024.0, (double)p->peak_rss_kb / 1024.0,
               (long long)p->base.threads, (long long)p->end.threads, (long long)p->peak_threads,
               (long long)p->base.fds, (long long)p->end.fds, (long long)p->peak_fds, p->note[0] ? " [" : "", p->note,
               p->note[0] ? "]" : "");
    }
    if (audit)
        printf("audit: %lld problem(s) besides orphans, %lld orphan(s) (%s/audit.json)\n", (long long)problems,
               (long long)orphans, out);
    printf("verdict: %s%s%s (failed creates %lld; resources: medians of the quiet samples of the last %.0f s vs "
           "those of %.0f-%.0f s, limit +10 %%)\n",
           v.pass ? "PASS" : "FAIL", v.pass ? "" : ": ", v.reasons, (long long)failed_creates, window, baseline,
           baseline + window);
    json_decref(kinds_j);
    free(res.rows);
    free(s.states);
    free(s.samples);
    lg_http_free(s.load);
    httpc_free(s.poll);
    pthread_mutex_destroy(&s.mu);
    return wrc || !v.pass ? 1 : 0;
}
