/*
 * ctl/cmd_drill.c — `skipctl drill`: a fault or fence drill under open-loop
 * create load, with a per-second report (JSON + SVG) and one summary line.
 *
 *   skipctl drill --groups G[,G...] --mode fence|stop|kill|readonly|partition
 *                 --at S --for S --duration S --rate R --out DIR
 *                 [--url URL] [--dev PATH] [--key ID] [--concurrency C] [--timeout MS]
 *   skipctl drill --mode daemon-kill [--daemon N] --at S --for S ... (no --groups)
 *
 * At --at seconds the fault is injected on every listed group (fence: the
 * API, safe in production; stop/kill/readonly/partition: `./dev fault gN ...`,
 * local cluster only; partition drops every packet to and from the primary, so
 * the daemon's connections go silent instead of failing); --for seconds after the
 * injection started it is recovered (unfence / cont / start / writable / heal).
 * failover: `./dev fault gN kill`, and --for seconds later (the operator's
 * reaction time) `skipctl group failover G` then `./dev fault gN
 * start` (the old primary comes back read-only, a former primary; rejoin is left
 * to the operator). Creates must not fail; the summary says when the group was
 * failed over (docs/failover.md).
 * daemon-kill SIGKILLs one skipstored behind the balancer (`./dev fault daemonN
 * kill`, then `start`, which returns once the balancer calls the daemon UP
 * again): the load goes through --url, the balancer, and must not lose a create.
 * Injection runs on its own thread so the once-a-second /v1/groups poll and the
 * load never wait for it. The fault is always recovered before the command
 * exits, even when --duration ends first.
 *
 * Writes DIR/report.json, DIR/report.svg and DIR/orders.txt (every
 * acknowledged order number, one a line). Exit 0 when the drill ran (the
 * numbers say how it went), 1 when it could not run or a fault could not be
 * injected/recovered, 2 on bad arguments.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "bench/report.h"
#include "ctl/api.h"
#include "ctl/ctl.h"
#include "ctl/runio.h"
#include "client/httpc.h"
#include "bench/loadgen.h"

typedef struct {
    /* options */
    const char *url, *token, *dev, *mode;
    int daemon;              /* daemon-kill: which ./dev daemon (1..9) */
    int fgroups[REP_MAX_GROUPS];
    int nfg;
    double at, for_s;
    /* run */
    rep_groups groups;
    httpc *poll;
    char (*states)[REP_MAX_GROUPS][REP_STATE_LEN];   /* [duration] */
    int nstates;
    pthread_mutex_t mu;
    lg_ctl *ctl;             /* valid while running */
    bool running;
    pthread_t th;
    bool th_started;
    _Atomic int phase;       /* 0 idle, 1 injecting, 2 injected, 3 recovering, 4 recovered */
    double fault_at, recover_at;
    int64_t start_mono_ms;
    char errors[4][160];
    int nerrors;
} drill;

static void add_error(drill *d, const char *fmt, const char *a, int g, const char *b)
{
    pthread_mutex_lock(&d->mu);
    if (d->nerrors < 4) {
        snprintf(d->errors[d->nerrors], sizeof d->errors[0], fmt, a, g, b);
        d->nerrors++;
    }
    pthread_mutex_unlock(&d->mu);
    fprintf(stderr, fmt, a, g, b);
    fprintf(stderr, "\n");
}

static bool daemon_mode(const drill *d)
{
    return strcmp(d->mode, "daemon-kill") == 0;
}


/* `./dev fault TARGET ACTION` with a timeout (ctl/runio.h); 0 on exit status 0. */
static int run_dev(drill *d, const char *target, const char *action)
{
    return ctl_dev_fault(d->dev, target, action);
}

static bool failover_mode(const drill *d)
{
    return strcmp(d->mode, "failover") == 0;
}

/* The operator's answer in --mode failover: `skipctl group failover G` (this
 * binary), then the old primary started again — read-only, a former primary. */
static int failover_group(int g)
{
    char self[1024], gid[8];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    snprintf(gid, sizeof gid, "%d", g);
    char *argv[] = {self, "group", "failover", gid, NULL};
    return ctl_run(argv, 60000);
}

static int fence_api(drill *d, int g, bool fence)
{
    char path[64], err[512];
    snprintf(path, sizeof path, "/v1/groups/%d/%s", g, fence ? "fence" : "unfence");
    json_t *j;
    if (ctl_api_call(d->url, d->token, "POST", path, 3000, &j, err, sizeof err) != 0) {
        add_error(d, "drill: %s (group %d)%s", err, g, "");
        return -1;
    }
    json_decref(j);
    return 0;
}

static const char *recover_action(const char *mode)
{
    if (strcmp(mode, "stop") == 0) return "cont";
    if (strcmp(mode, "kill") == 0 || strcmp(mode, "daemon-kill") == 0 || strcmp(mode, "failover") == 0)
        return "start";
    if (strcmp(mode, "readonly") == 0) return "writable";
    if (strcmp(mode, "partition") == 0) return "heal";
    return "unfence";
}

static double now_s(const drill *d)
{
    return (double)(sk_mono_ms() - d->start_mono_ms) / 1000.0;
}

static void do_fault(drill *d, bool recover)
{
    bool fence = strcmp(d->mode, "fence") == 0;
    char target[16];
    if (daemon_mode(d)) {
        snprintf(target, sizeof target, "daemon%d", d->daemon);
        if (run_dev(d, target, recover ? "start" : "kill") != 0)
            add_error(d, "drill: %s fault daemon%d %s failed", d->dev, d->daemon, recover ? "start" : "kill");
        return;
    }
    for (int i = 0; i < d->nfg; i++) {
        int g = d->fgroups[i];
        snprintf(target, sizeof target, "g%d", g);
        int rc;
        if (failover_mode(d) && !recover) {
            rc = run_dev(d, target, "kill");
        } else if (failover_mode(d)) {
            if (failover_group(g) != 0)
                add_error(d, "drill: skipctl group failover %s%d%s failed (see stderr)", "", g, "");
            rc = run_dev(d, target, "start");   /* back read-only, a former primary */
        } else {
            rc = fence ? fence_api(d, g, !recover) : run_dev(d, target, recover ? recover_action(d->mode) : d->mode);
        }
        if (rc != 0 && !fence)
            add_error(d, "drill: %s fault g%d %s failed", d->dev, g, recover ? recover_action(d->mode) : d->mode);
    }
}

static void *fault_thread(void *arg)
{
    drill *d = arg;
    /* inject; the window starts when the fault is in effect — `./dev fault`
     * returns once the process is stopped/killed/read-only, which can take
     * seconds on a loaded machine */
    do_fault(d, false);
    double t0 = now_s(d);
    pthread_mutex_lock(&d->mu);
    d->fault_at = t0;
    pthread_mutex_unlock(&d->mu);
    atomic_store(&d->phase, 2);
    /* wait --for seconds from then, then recover */
    double due = t0 + d->for_s;
    while (now_s(d) < due)
        usleep(20000);
    atomic_store(&d->phase, 3);
    do_fault(d, true);
    double t1 = now_s(d);
    pthread_mutex_lock(&d->mu);
    d->recover_at = t1;
    if (d->running && d->ctl)
        lg_ctl_recovered(d->ctl, t1);
    pthread_mutex_unlock(&d->mu);
    atomic_store(&d->phase, 4);
    return NULL;
}

static void poll_groups(drill *d, int row)
{
    if (row < 0 || row >= d->nstates)
        return;
    lg_groups_view v;
    (void)lg_poll_groups(d->poll, d->token, &d->groups, &v);   /* failed: every state "UNKNOWN" */
    for (int i = 0; i < d->groups.n; i++)
        sk_strlcpy(d->states[row][i], v.state[i], REP_STATE_LEN);
}

static void tick(void *ctx, lg_ctl *ctl, int t, double now)
{
    drill *d = ctx;
    (void)now;
    pthread_mutex_lock(&d->mu);
    d->ctl = ctl;
    pthread_mutex_unlock(&d->mu);
    if (atomic_load(&d->phase) == 0 && now_s(d) + 0.5 >= d->at) {
        atomic_store(&d->phase, 1);
        if (pthread_create(&d->th, NULL, fault_thread, d) == 0)
            d->th_started = true;
        else
            add_error(d, "drill: %s%d%s", "cannot start the fault thread", 0, "");
    }
    poll_groups(d, t - 1);
}

static int parse_groups(const char *s, int *out, int *n)
{
    *n = 0;
    while (*s) {
        char *end;
        long g = strtol(s, &end, 10);
        if (end == s || g < 1 || g > 99 || *n >= REP_MAX_GROUPS)
            return -1;
        out[(*n)++] = (int)g;
        if (*end == ',')
            end++;
        else if (*end != '\0')
            return -1;
        s = end;
    }
    return *n > 0 ? 0 : -1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: skipctl drill --groups G[,G...] --mode fence|stop|kill|readonly|partition|failover --at S --for S\n"
               "                     --duration S --rate R --out DIR [--url URL] [--dev PATH] [--key ID]\n"
               "                     [--concurrency C] [--timeout MS]\n"
               "       skipctl drill --mode daemon-kill [--daemon N] --at S --for S --duration S --rate R\n"
               "                     --out DIR [...]   (SIGKILL daemonN behind the balancer at --url;\n"
               "                     --timeout defaults to 15000 ms here)\n");
}

int ctl_cmd_drill(int argc, char **argv)
{
    drill d;
    memset(&d, 0, sizeof d);
    d.url = httpc_env_url();
    d.token = "";   /* requests are signed (SKIP_KEYS) */
    d.dev = getenv("SKIP_DEV") ? getenv("SKIP_DEV") : "./dev";
    d.mode = NULL;
    d.at = -1;
    d.for_s = -1;
    const char *groups_s = NULL, *out = NULL;
    int duration = 0, concurrency = 0, timeout_ms = 0;
    d.daemon = 1;
    double rate = 0;
    static const struct option opts[] = {
        {"groups", required_argument, NULL, 'g'}, {"mode", required_argument, NULL, 'm'},
        {"at", required_argument, NULL, 'a'},     {"for", required_argument, NULL, 'f'},
        {"duration", required_argument, NULL, 'd'}, {"rate", required_argument, NULL, 'r'},
        {"out", required_argument, NULL, 'o'},    {"url", required_argument, NULL, 'u'},
        {"dev", required_argument, NULL, 'v'},    {"key", required_argument, NULL, 't'},
        {"concurrency", required_argument, NULL, 'c'}, {"timeout", required_argument, NULL, 'T'},
        {"daemon", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'g': groups_s = optarg; break;
        case 'm': d.mode = optarg; break;
        case 'a': d.at = atof(optarg); break;
        case 'f': d.for_s = atof(optarg); break;
        case 'd': duration = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'o': out = optarg; break;
        case 'u': d.url = optarg; break;
        case 'v': d.dev = optarg; break;
        case 't': setenv("SKIP_KEY_ID", optarg, 1); break; /* a key id, never a secret */
        case 'c': concurrency = atoi(optarg); break;
        case 'T': timeout_ms = atoi(optarg); break;
        case 'n': d.daemon = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    bool mode_ok = d.mode && (strcmp(d.mode, "fence") == 0 || strcmp(d.mode, "stop") == 0 ||
                              strcmp(d.mode, "kill") == 0 || strcmp(d.mode, "readonly") == 0 ||
                              strcmp(d.mode, "partition") == 0 || strcmp(d.mode, "daemon-kill") == 0 ||
                              strcmp(d.mode, "failover") == 0);
    /* daemon-kill: a create the balancer re-sends past a killed daemon's
     * unfinished idempotency claim takes up to ~8 s (README "The balancer") */
    if (timeout_ms == 0)
        timeout_ms = mode_ok && daemon_mode(&d) ? 15000 : 5000;
    bool targets_ok = mode_ok && (daemon_mode(&d) ? groups_s == NULL && d.daemon >= 1 && d.daemon <= 9
                                                  : groups_s != NULL && parse_groups(groups_s, d.fgroups, &d.nfg) == 0);
    if (!targets_ok || d.at < 0 ||
        d.for_s <= 0 || duration < 1 || duration > 86400 || rate <= 0 || rate > 100000 || out == NULL ||
        timeout_ms < 100 || timeout_ms > 20000 || concurrency < 0 || concurrency > 4096) {
        usage(stderr);
        return 2;
    }
    if (strcmp(d.mode, "fence") != 0 && access(d.dev, X_OK) != 0) {
        fprintf(stderr, "skipctl drill: --mode %s needs the cluster script (--dev PATH or $SKIP_DEV; %s not executable)\n",
                d.mode, d.dev);
        return 2;
    }
    if (concurrency == 0) {
        /* enough threads to keep the schedule through a 1 s stall of a group */
        concurrency = (int)(rate * 1.5) + 16;
        if (concurrency > 512)
            concurrency = 512;
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "skipctl drill: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    char err[512];
    if (lg_fetch_groups(d.url, d.token, 3000, &d.groups, err, sizeof err) != 0) {
        fprintf(stderr, "skipctl drill: %s\n", err);
        return 1;
    }
    for (int i = 0; i < d.nfg; i++)
        if (rep_group_slot(&d.groups, d.fgroups[i]) < 0) {
            fprintf(stderr, "skipctl drill: group %d is not served by %s\n", d.fgroups[i], d.url);
            return 2;
        }
    char path[4096];
    snprintf(path, sizeof path, "%s/orders.txt", out);
    FILE *orders = fopen(path, "w");
    if (orders == NULL) {
        fprintf(stderr, "skipctl drill: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    char run_id[24];
    snprintf(run_id, sizeof run_id, "d%lx%x", (unsigned long)time(NULL), (unsigned)getpid() & 0xffff);
    lg_http *h = lg_http_new(d.url, d.token, LG_CREATE, 100, timeout_ms, run_id);
    d.poll = httpc_new(d.url, 900);
    d.states = calloc((size_t)duration, sizeof *d.states);
    d.nstates = duration;
    if (h == NULL || d.poll == NULL || d.states == NULL) {
        fclose(orders);
        lg_http_free(h);
        httpc_free(d.poll);
        free(d.states);
        return 1;
    }
    pthread_mutex_init(&d.mu, NULL);
    d.fault_at = d.recover_at = -1;
    d.running = true;
    lg_opts o = {.duration_s = duration, .concurrency = concurrency, .rate = rate, .timeout_ms = timeout_ms,
                 .progress = isatty(2), .groups = &d.groups, .orders_out = orders, .tick = tick, .tick_ctx = &d,
                 .ops = lg_http_ops(h)};
    d.start_mono_ms = sk_mono_ms() + 20; /* lg_run starts its clock 20 ms after the call */
    lg_result res;
    int rc = lg_run(&o, &res);
    pthread_mutex_lock(&d.mu);
    d.running = false;
    d.ctl = NULL;
    pthread_mutex_unlock(&d.mu);
    /* never leave a fault behind */
    if (d.th_started)
        pthread_join(d.th, NULL);
    else if (atomic_load(&d.phase) == 0)
        fprintf(stderr, "skipctl drill: the run ended before --at; no fault injected\n");
    fclose(orders);
    lg_http_free(h);
    httpc_free(d.poll);
    if (rc != 0) {
        free(d.states);
        return 1;
    }

    rep_run run;
    memset(&run, 0, sizeof run);
    char gl[64] = "";
    size_t gll = 0;
    for (int i = 0; i < d.nfg && gll < sizeof gl - 4; i++)
        gll += (size_t)snprintf(gl + gll, sizeof gl - gll, "%sg%d", i ? "," : "", d.fgroups[i]);
    if (daemon_mode(&d)) {
        snprintf(gl, sizeof gl, "daemon%d", d.daemon);
        sk_strlcpy(run.fault_target, gl, sizeof run.fault_target);
    }
    snprintf(run.title, sizeof run.title, "skipctl drill: %s %s under %.0f creates/s", d.mode, gl, rate);
    sk_strlcpy(run.mode, d.mode, sizeof run.mode);
    memcpy(run.fault_groups, d.fgroups, sizeof d.fgroups);
    run.nfault_groups = d.nfg;
    run.fault_at_s = d.fault_at;
    run.recover_at_s = d.recover_at;
    run.rate = rate;
    run.duration_s = duration;
    run.groups = d.groups;
    run.rows = res.rows;
    run.nrows = res.nrows;
    for (int t = 0; t < res.nrows; t++)
        memcpy(res.rows[t].state, d.states[t], sizeof res.rows[t].state);
    for (int i = 0; i < d.nfg; i++) {
        int s = rep_group_slot(&d.groups, d.fgroups[i]);
        run.back_at_s[i] = s >= 0 ? res.back_at_s[s] : -1;
    }
    rep_summary sum;
    rep_summarize(&run, &sum);
    json_t *j = rep_to_json(&run, &sum);
    json_object_set_new(j, "run_id", json_string(run_id));
    json_object_set_new(j, "url", json_string(d.url));
    json_object_set_new(j, "concurrency", json_integer(concurrency));
    json_object_set_new(j, "total", lg_result_json(&res, &d.groups, duration));
    json_t *errs = json_array();
    for (int i = 0; i < d.nerrors; i++)
        json_array_append_new(errs, json_string(d.errors[i]));
    json_object_set_new(json_object_get(j, "fault"), "errors", errs);
    int wrc = ctl_write_report("drill", out, j, 2, &run, &sum);
    json_decref(j);

    /* the summary line */
    printf("drill %s %s: sent %lld, failed creates %lld; worst p99 second %.0f ms (t=%d s); ", d.mode, gl,
           (long long)sum.sent, (long long)sum.failed, (double)sum.worst_p99_us / 1000.0, sum.worst_p99_t);
    for (int i = 0; i < d.nfg; i++) {
        if (sum.recovery_s[i] >= 0)
            printf("%sg%d back %.1f s after recovery", i ? ", " : "", d.fgroups[i], sum.recovery_s[i]);
        else
            printf("%sg%d not back by the end", i ? ", " : "", d.fgroups[i]);
    }
    if (failover_mode(&d) && d.recover_at >= 0)
        printf("; %s killed at t=%.1f s, failed over and old primary back read-only at t=%.1f s", gl, d.fault_at,
               d.recover_at);
    if (daemon_mode(&d) && d.recover_at >= 0)
        printf("%s killed at t=%.1f s, UP in the balancer again at t=%.1f s", gl, d.fault_at, d.recover_at);
    else if (daemon_mode(&d))
        printf("%s not started again", gl);
    printf("\n");
    free(res.rows);
    free(d.states);
    pthread_mutex_destroy(&d.mu);
    return wrc || d.nerrors ? 1 : 0;
}
