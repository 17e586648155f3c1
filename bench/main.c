/*
 * bench/main.c — skipbench: load generator for skipstored (spec §9).
 *
 *   skipbench --url URL --duration S --concurrency C [--rate R]
 *             --mix create|read|pay|mixed|full [--merchants N] [--json FILE]
 *             [--baseline] [--config FILE] [--timeout MS] [--token T] [--terminals-ab]
 *
 * Closed loop by default (C threads, one keep-alive connection each); open
 * loop with --rate (see bench/loadgen.h). --baseline then runs the same create
 * transaction straight against the group primaries from the config (same
 * duration and concurrency, same load shape) and reports daemon/direct
 * ratios. Creates are a cashier's from ACTIVE terminals (bench/loadgen.h), so
 * terminals.enforce is exercised; --terminals-ab alternates each second
 * between those and the same creates by the admin key (which no terminal
 * rule applies to) and reports the enforced/not-enforced throughput ratio of
 * the one run. Human summary on stdout; JSON to --json FILE ("-" = stdout).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench/direct.h"
#include "common/help.h"
#include "bench/hist.h"
#include "client/httpc.h"
#include "config/conf.h"
#include "dal/dal.h"
#include "bench/loadgen.h"

/* --help: the man-style text (bench/help.c) on stdout; a usage error: its
 * SYNOPSIS on stderr (the caller exits 2). */
static void usage(FILE *f)
{
    char syn[1024];
    if (f == stdout) {
        (void)help_show(skipbench_help);
        return;
    }
    if (help_section(skipbench_help, "SYNOPSIS", syn, sizeof syn) > 0)
        fprintf(f, "usage:\n%s\n", syn);
    fprintf(f, "Try 'skipbench --help' for more information.\n");
}

static void print_result(const char *name, const lg_result *r, const rep_groups *g, double dur)
{
    double secs = r->elapsed_s > dur ? r->elapsed_s : dur;
    printf("%s: %lld requests, %lld ok, %lld failed, %.1f ok/s\n", name, (long long)(r->ok + r->failed),
           (long long)r->ok, (long long)r->failed, secs > 0 ? (double)r->ok / secs : 0);
    printf("  latency ms: p50 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n",
           (double)hist_quantile(&r->lat, 0.5) / 1000, (double)hist_quantile(&r->lat, 0.95) / 1000,
           (double)hist_quantile(&r->lat, 0.99) / 1000, (double)hist_quantile(&r->lat, 0.999) / 1000,
           (double)hist_quantile(&r->lat, 1.0) / 1000);
    for (int k = 0; k < r->ncodes; k++)
        printf("  error %-36s %lld\n", r->codes[k].code, (long long)r->codes[k].n);
    int64_t all = 0;
    for (int k = 0; k < g->n; k++)
        all += r->group_ok[k];
    if (all > 0) {
        printf("  creates per group:");
        for (int k = 0; k < g->n; k++)
            printf("  g%d %.1f%%", g->ids[k], 100.0 * (double)r->group_ok[k] / (double)all);
        printf("\n");
    }
}

int main(int argc, char **argv)
{
    const char *url = getenv("SKIP_URL"), *json_path = NULL, *cfg_path = getenv("SKIP_CONFIG");
    const char *token = getenv("SKIP_API_TOKEN"), *mix_s = "create";
    int duration = 10, concurrency = 16, merchants = 100, timeout_ms = 5000;
    double rate = 0;
    int baseline = 0, ab = 0;
    const char *ca = getenv("SKIP_CA"), *cert = getenv("SKIP_CLIENT_CERT"), *ckey = getenv("SKIP_CLIENT_KEY");
    static const struct option opts[] = {
        {"url", required_argument, NULL, 'u'},       {"duration", required_argument, NULL, 'd'},
        {"concurrency", required_argument, NULL, 'c'}, {"rate", required_argument, NULL, 'r'},
        {"mix", required_argument, NULL, 'm'},       {"merchants", required_argument, NULL, 'n'},
        {"json", required_argument, NULL, 'j'},      {"baseline", no_argument, NULL, 'b'},
        {"config", required_argument, NULL, 'f'},    {"timeout", required_argument, NULL, 't'},
        {"token", required_argument, NULL, 'k'},     {"help", no_argument, NULL, 'h'},
        {"terminals-ab", no_argument, NULL, 'A'},
        {"ca", required_argument, NULL, 'C'},        {"cert", required_argument, NULL, 'E'},
        {"key", required_argument, NULL, 'K'},
        {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'u': url = optarg; break;
        case 'd': duration = atoi(optarg); break;
        case 'c': concurrency = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'm': mix_s = optarg; break;
        case 'n': merchants = atoi(optarg); break;
        case 'j': json_path = optarg; break;
        case 'b': baseline = 1; break;
        case 'f': cfg_path = optarg; break;
        case 't': timeout_ms = atoi(optarg); break;
        case 'k': token = optarg; break;
        case 'A': ab = 1; break;
        case 'C': ca = optarg; break;
        case 'E': cert = optarg; break;
        case 'K': ckey = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int mix = lg_mix_parse(mix_s);
    if (url == NULL || mix < 0 || duration < 1 || duration > 86400 || concurrency < 1 || concurrency > 4096 ||
        merchants < 1 || rate < 0 || timeout_ms < 100 || timeout_ms > 20000 || (ab && mix != LG_CREATE)) {
        fprintf(stderr, "skipbench: bad arguments%s\n", url == NULL ? " (no --url and no $SKIP_URL)" : "");
        usage(stderr);
        return 2;
    }
    if (strncmp(url, "https://", 8) == 0) {
        /* https: the server verified against --ca ($SKIP_CA), mTLS with --cert/--key */
        char terr[512];
        if (httpc_tls_setup(ca, cert, ckey, terr, sizeof terr) != 0) {
            fprintf(stderr, "skipbench: TLS: %s\n", terr);
            return 2;
        }
    }
    conf *cfg = NULL;
    if (baseline) {
        if (cfg_path == NULL) {
            fprintf(stderr, "skipbench: --baseline needs --config FILE or $SKIP_CONFIG\n");
            return 2;
        }
        char err[CONF_ERR_MAX];
        cfg = conf_load(cfg_path, err, sizeof err);
        if (cfg == NULL) {
            fprintf(stderr, "skipbench: %s\n", err);
            return 2;
        }
        dal_library_init();
    }
    rep_groups groups;
    char err[256];
    if (lg_fetch_groups(url, token, timeout_ms, &groups, err, sizeof err) != 0) {
        fprintf(stderr, "skipbench: %s\n", err);
        conf_free(cfg);
        return 1;
    }
    char run_id[24];
    snprintf(run_id, sizeof run_id, "b%lx%x", (unsigned long)time(NULL), (unsigned)getpid() & 0xffff);
    lg_http *h = lg_http_new(url, token, (lg_mix)mix, merchants, timeout_ms, run_id);
    if (h == NULL) {
        conf_free(cfg);
        return 1;
    }
    lg_http_set_ab(h, ab);
    bool tty = isatty(2);
    lg_opts o = {.duration_s = duration, .concurrency = concurrency, .rate = rate, .timeout_ms = timeout_ms,
                 .progress = tty, .groups = &groups, .ops = lg_http_ops(h)};
    if (tty)
        fprintf(stderr, "daemon phase: %s mix=%s %s concurrency=%d duration=%ds\n", url, mix_s,
                rate > 0 ? "open loop" : "closed loop", concurrency, duration);
    lg_result dr, xr;
    memset(&xr, 0, sizeof xr);
    if (lg_run(&o, &dr) != 0) {
        lg_http_free(h);
        conf_free(cfg);
        return 1;
    }
    int64_t ab_ok[2], ab_failed[2];
    lg_http_ab_counts(h, ab_ok, ab_failed);
    lg_http_free(h);
    print_result("daemon", &dr, &groups, duration);
    /* each arm had every other second of the run, the enforced one first */
    double secs[2] = {(double)((duration + 1) / 2), (double)(duration / 2)};
    double rate_on = (double)ab_ok[0] / secs[0], rate_off = secs[1] > 0 ? (double)ab_ok[1] / secs[1] : 0;
    if (ab)
        printf("terminals A/B: enforced %.1f ok/s (%lld failed), not enforced %.1f ok/s (%lld failed), "
               "ratio %.3f\n", rate_on, (long long)ab_failed[0], rate_off, (long long)ab_failed[1],
               rate_off > 0 ? rate_on / rate_off : 0);

    bench_direct *bd = NULL;
    if (baseline) {
        char rid2[32];
        snprintf(rid2, sizeof rid2, "%.20sd", run_id);
        bd = bench_direct_new(cfg, merchants, rid2);
        if (bd == NULL) {
            fprintf(stderr, "skipbench: no active group with a primary in %s\n", cfg_path);
            free(dr.rows);
            conf_free(cfg);
            return 1;
        }
        o.ops = bench_direct_ops(bd);
        if (tty)
            fprintf(stderr, "direct phase: create transaction straight to the group primaries\n");
        if (lg_run(&o, &xr) != 0) {
            bench_direct_free(bd);
            free(dr.rows);
            conf_free(cfg);
            return 1;
        }
        print_result("direct", &xr, &groups, duration);
    }

    json_t *j = json_object();
    json_object_set_new(j, "url", json_string(url));
    json_object_set_new(j, "mix", json_string(mix_s));
    json_object_set_new(j, "concurrency", json_integer(concurrency));
    json_object_set_new(j, "rate", rate > 0 ? json_real(rate) : json_null());
    json_object_set_new(j, "duration_s", json_integer(duration));
    json_object_set_new(j, "daemon", lg_result_json(&dr, &groups, duration));
    if (ab)
        json_object_set_new(j, "terminals_ab",
                            json_pack("{s:f,s:f,s:I,s:I,s:f}", "enforced_per_s", rate_on, "not_enforced_per_s",
                                      rate_off, "enforced_failed", (json_int_t)ab_failed[0], "not_enforced_failed",
                                      (json_int_t)ab_failed[1], "ratio", rate_off > 0 ? rate_on / rate_off : 0.0));
    if (baseline) {
        json_t *dj = json_object_get(j, "daemon");
        json_t *xj = lg_result_json(&xr, &groups, duration);
        double dt = json_real_value(json_object_get(dj, "throughput_per_s"));
        double xt = json_real_value(json_object_get(xj, "throughput_per_s"));
        double dp = json_real_value(json_object_get(json_object_get(dj, "latency_ms"), "p99"));
        double xp = json_real_value(json_object_get(json_object_get(xj, "latency_ms"), "p99"));
        json_object_set_new(j, "direct", xj);
        json_object_set_new(j, "ratio_throughput", xt > 0 ? json_real(dt / xt) : json_null());
        json_object_set_new(j, "ratio_p99", xp > 0 ? json_real(dp / xp) : json_null());
        printf("daemon/direct: throughput %.3fx, p99 %.3fx\n", xt > 0 ? dt / xt : 0, xp > 0 ? dp / xp : 0);
    }
    int rc = 0;
    if (json_path) {
        if (strcmp(json_path, "-") == 0) {
            if (json_dumpf(j, stdout, JSON_INDENT(2)) != 0)
                rc = 1;
            printf("\n");
        } else if (json_dump_file(j, json_path, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "skipbench: cannot write %s\n", json_path);
            rc = 1;
        }
    }
    json_decref(j);
    free(dr.rows);
    free(xr.rows);
    bench_direct_free(bd);
    conf_free(cfg);
    return rc;
}
