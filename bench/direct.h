/*
 * bench/direct.h — the baseline: the daemon's create transaction
 * (dal_order_insert: order row + outbox row, one transaction) sent straight
 * to a randomly chosen group primary, as load-engine operations. Each thread
 * keeps one connection per group (connect/read/write timeouts from the config).
 */
#ifndef BENCH_DIRECT_H
#define BENCH_DIRECT_H

#include "config/conf.h"
#include "bench/loadgen.h"

typedef struct bench_direct bench_direct;

/* cfg is borrowed and must outlive the result. NULL if no group has a primary. */
bench_direct *bench_direct_new(const conf *cfg, int merchants, const char *run_id);
void bench_direct_free(bench_direct *d);
const lg_ops *bench_direct_ops(bench_direct *d);

#endif
