/*
 * config/conf.h — skipstored / skipctl / skipstore-mirror configuration.
 *
 * Loading is three phases (see conf.c): libyaml parse to a node tree with
 * line numbers; table-driven validation of every key (unknown and duplicate
 * keys are errors, every number bounded); cross-field post-checks (unique
 * group ids, alias targets exist, weights > 0 for active groups, ...).
 *
 * A conf is immutable once loaded. Reload builds a complete new conf and the
 * daemon swaps the pointer (RCU-style, refcounted) or keeps the old one.
 * All strings are owned by the conf and freed by conf_free().
 */
#ifndef CONF_H
#define CONF_H

#include <stdint.h>
#include <stddef.h>
#include "common/sk.h"

#define CONF_MAX_GROUPS 99
#define CONF_MAX_REPLICAS 8
#define CONF_ERR_MAX 512

typedef enum {
    GROUP_ACTIVE = 0, /* takes new orders (unless SKIPPED at runtime) */
    GROUP_SKIPPED,    /* runtime only: failure counter over threshold this window */
    GROUP_FENCED,     /* operator: no new creates; reads/updates continue */
    GROUP_DRAINING,   /* shrink in progress: no new creates; rows being copied */
    GROUP_RETIRED,    /* rows moved; its id is an alias of another group */
    GROUP_STATE_MAX
} group_state;

/* "ACTIVE", "SKIPPED", ... */
const char *conf_group_state_name(group_state s);

typedef struct conf_group {
    int id;                        /* 1..99 */
    char *primary;                 /* "host:port"; NULL for a retired group */
    char *replicas[CONF_MAX_REPLICAS];
    int nreplicas;
    int weight;                    /* 0..1000; 0 = takes no new orders (ramp start) */
    group_state state;             /* configured state: ACTIVE, FENCED, DRAINING or RETIRED */
    int alias_of;                  /* 0 = none; else id of the group holding its rows */
    int line;                      /* line in the file, for messages */
} conf_group;

typedef struct conf {
    char *path;                    /* file it was loaded from */

    int node_id;                   /* 0..999, stamped into order numbers */
    char *listen;                  /* "host:port" of the HTTP API */
    char *admin_token;             /* bearer token for admin routes; "" = auth off */
    char *api_token;               /* bearer token for cashier routes; "" = auth off */
    char *log_level;               /* debug|info|warn|error */

    /* db: the application account used on every group */
    char *db_name;
    char *db_user;
    char *db_password;
    int db_connect_timeout_ms;     /* 100..10000, default 1000 */
    int db_read_timeout_ms;        /* 100..10000, default 1000 */
    int db_write_timeout_ms;       /* 100..10000, default 1000 */
    int db_pool_size;              /* per group, 1..256, default 16 */
    int db_max_inflight;           /* per group, 1..4096, default 64 */

    /* selector */
    int window_s;                  /* failure window, 1..3600, default 60 */
    int threshold;                 /* failures per window to skip, 1..1000000, default 5 */
    int counter_refresh_ms;        /* 10..1000, default 100 */

    /* prober */
    int probe_interval_ms;         /* 50..10000, default 200 */
    int probe_timeout_ms;          /* 100..10000, default 1000 */
    int probe_fresh_ms;            /* 100..60000, default 1000 */

    /* request */
    int request_deadline_ms;       /* whole create incl. retries, 500..30000, default 3000 */
    int max_body_bytes;            /* 1024..1048576, default 65536 */
    int default_expire_s;          /* 30..86400, default 300 */
    int sweep_interval_ms;         /* expiry sweeper, 100..60000, default 1000 */

    /* redis */
    char *redis_addr;              /* "host:port" */
    int redis_timeout_ms;          /* 10..5000, default 200 */
    int node_lease_s;              /* 3..600, default 15 */

    /* kafka (relay in the daemon, consumer in the mirror) */
    char *kafka_brokers;           /* bootstrap list */
    char *kafka_topic;
    char *kafka_group;             /* consumer group of skipstore-mirror */
    int relay_batch;               /* 1..10000, default 500 */
    int relay_interval_ms;         /* 1..10000, default 20 */

    /* merchant store */
    char *merchant_addr;           /* "host:port" */
    char *merchant_db_name;
    char *merchant_user;
    char *merchant_password;

    conf_group groups[CONF_MAX_GROUPS];
    int ngroups;
} conf;

/*
 * Load and validate FILE. On success returns an owned conf (free with
 * conf_free). On failure returns NULL and writes "FILE:LINE: message" into
 * err (errcap bytes).
 */
conf *conf_load(const char *path, char *err, size_t errcap) SK_WUR;

/* Same, from a string already in memory; `name` is used in messages. */
conf *conf_load_string(const char *name, const char *text, size_t len, char *err, size_t errcap) SK_WUR;

void conf_free(conf *c);

/* The configured group with this id, or NULL. */
const conf_group *conf_group_by_id(const conf *c, int id);

/*
 * Route an order's stamped group to the group that holds its rows now:
 * follows alias_of (a chain is followed up to CONF_MAX_GROUPS steps).
 * Returns the target group id, or -1 for an unknown group / broken chain.
 */
int conf_route_group(const conf *c, int group_id);

/*
 * Default shrink target for retiring `retired` when the groups that remain
 * (not RETIRED, excluding `retired`) are `remaining` (sorted ascending, n of
 * them): k = retired mod n, k == 0 ? remaining[n-1] : remaining[k-1] — as the
 * spec: 5 groups -> 3, retire 5 -> 2, retire 4 -> 1. Returns -1 if n == 0.
 */
int conf_default_alias_target(int retired, const int *remaining, int n);

#endif
