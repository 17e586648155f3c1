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
#define CONF_STRMAP_KEY_MAX 128        /* longest key of a string mapping */

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

/* Longest file path accepted in a path key (TLS files, password files), incl. NUL. */
#define CONF_PATH_MAX 1024

/*
 * TLS to one backend (db.tls, merchant_db.tls, redis.tls). Loaded values:
 * enabled is 0/1 (absent: 1 when ca, cert or key is set, else 0); strings
 * are "" or absolute paths; verify_server_cert is 0/1 (default 1, which needs
 * ca: the server certificate is checked against that pinned CA only, and its
 * name against the host of the address, or server_name). cert and key come
 * as a pair. With enabled = 1 a connection is TLS or fails: no fallback to
 * plaintext.
 */
typedef struct conf_tls {
    int enabled;
    char *ca;                      /* PEM CA bundle the server must chain to */
    char *cert;                    /* client certificate chain (PEM), "" = none */
    char *key;                     /* its private key (PEM, mode 0600 or stricter) */
    int verify_server_cert;
    char *server_name;             /* redis.tls only: name to check and send (SNI); "" = host of addr */
    int line;                      /* line of the tls: key, 0 = section absent */
} conf_tls;

typedef struct conf_group {
    int id;                        /* 1..99 */
    char *primary;                 /* "host:port"; NULL for a retired group */
    char *replicas[CONF_MAX_REPLICAS];
    int nreplicas;
    int weight;                    /* 0..1000; 0 = takes no new orders (ramp start) */
    group_state state;             /* configured state: ACTIVE, FENCED, DRAINING or RETIRED */
    int alias_of;                  /* 0 = none; else id of the group holding its rows */
    /* former_primaries: primaries replaced by a failover (docs/failover.md),
     * oldest first. Never written again and never routed to; `skipctl group
     * rejoin` moves one back into replicas. */
    char *former[CONF_MAX_REPLICAS];
    int nformer;
    int line;                      /* line in the file, for messages */
} conf_group;

/*
 * A mapping of strings to strings written in the config (e.g. librdkafka
 * properties, kafka.producer / kafka.consumer), in file order, keys unique.
 * Keys are [A-Za-z0-9._-]{1,128}; values any scalar's text (`linger.ms: 5`
 * and `linger.ms: "5"` are both "5"). Owned by the conf.
 */
typedef struct conf_kv {
    char *key;
    char *val;
    int line;                      /* line of the key in the file, for messages */
} conf_kv;

typedef struct conf_strmap {
    conf_kv *kv;                   /* n entries; NULL when n == 0 */
    int n;
} conf_strmap;

/* The value of `key` in m, or NULL when absent. */
const char *conf_strmap_get(const conf_strmap *m, const char *key);

typedef struct conf {
    char *path;                    /* file it was loaded from */

    int node_id;                   /* 0..999, stamped into order numbers */
    char *listen;                  /* "host:port" of the plain HTTP API; "" = none (then listen_tls) */
    char *listen_tls;              /* "host:port" of the HTTPS API; "" = none */
    char *tls_cert;                /* PEM certificate chain for listen_tls (absolute path) */
    char *tls_key;                 /* PEM private key, mode 0600 (checked by conf_load) */
    char *tls_client_ca;           /* PEM CA: clients must present a certificate it signed; "" = none */
    char *auth_mode;               /* "on" (default) | "off" (only when written; warned) */
    char *auth_keys_file;          /* caller keys (auth/auth.h); required when auth is on */
    char *log_level;               /* debug|info|warn|error */

    /* db: the application account used on every group */
    char *db_name;
    char *db_user;
    char *db_password;             /* from db.password or the file db.password_file */
    char *db_password_file;        /* "" or an absolute path (0600); read by conf_load */
    conf_tls db_tls;
    int db_connect_timeout_ms;     /* 100..10000, default 1000 */
    int db_read_timeout_ms;        /* 100..10000, default 1000 */
    int db_write_timeout_ms;       /* 100..10000, default 1000 */
    int db_pool_size;              /* per group, 1..256, default 16 */
    int db_max_inflight;           /* per group, 1..4096, default 64 */
    int db_attempt_timeout_ms;     /* one create attempt on a group primary (connect + insert), 50..10000, default 1000 */
    int db_gc_max_batch;           /* creates per group-commit transaction, 1..256 (1 = off), default 16 */
    int db_gc_leaders;             /* group-commit transactions in flight per group, 1..pool_size, default 2 */

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

    /* http: the edge (rpc/http.h); all need a restart */
    int http_io_threads;           /* event loops, 1..64, default 2 */
    int http_workers;              /* handler threads, 1..1024, default 64 */
    int http_max_connections;      /* 16..1048576, default 16384 */
    int http_header_timeout_ms;    /* 100..600000, default 10000 */
    int http_body_timeout_ms;      /* 100..600000, default 10000 */
    int http_idle_timeout_ms;      /* 100..3600000, default 120000 */

    /* redis */
    char *redis_addr;              /* "host:port" */
    char *redis_username;          /* ACL user for AUTH; "" = the default user */
    char *redis_password;          /* "" = no AUTH; or read from redis.password_file */
    char *redis_password_file;
    conf_tls redis_tls;
    int redis_timeout_ms;          /* 10..5000, default 200 */
    int node_lease_s;              /* 3..600, default 15 */

    /* kafka (relay in the daemon, consumer in the mirror) */
    char *kafka_brokers;           /* bootstrap list */
    char *kafka_topic;
    char *kafka_group;             /* consumer group of skipstore-mirror */
    int relay_batch;               /* 1..10000, default 500 */
    int relay_interval_ms;         /* 1..10000, default 20 */
    /* librdkafka properties passed through unchanged (0..64 each): the relay's
     * producers get kafka_producer, the mirror's consumer kafka_consumer, both
     * applied after skipstore's own defaults. What the product relies on is
     * refused at load (acks=all and enable.idempotence for the relay; manual
     * offset commits and reading from the start for the mirror; brokers and
     * group id from their own keys) — see kafka_rules in conf.c. */
    conf_strmap kafka_producer;
    conf_strmap kafka_consumer;
    /* the event HMAC key (auth/evsig.h): files 0600, read by conf_load_files
     * into the *_key strings ("" = not set). Required by skipstored and
     * skipstore-mirror while auth.mode is on; previous = the key being
     * retired (accepted by the mirror, never used to sign). */
    char *kafka_event_key_file;
    char *kafka_event_key_prev_file;
    char *kafka_event_key;
    char *kafka_event_key_prev;

    /* terminals (spec §11; terminal/) */
    int terminals_enforce;         /* 1: cashier creates need an ACTIVE terminal (default true) */
    int terminals_refresh_ms;      /* registry re-read period, 50..1000, default 500 */
    int terminals_full_refresh_s;  /* whole-registry re-read period, 5..3600, default 60 */
    int terminals_code_ttl_s;      /* activation code lifetime, 60..604800, default 86400 */
    int terminals_max;             /* registry entries held in memory, 1000..10000000, default 1000000 */

    /* refunds (spec §11) */
    char *refunds_timezone;        /* merchant-local day of the cashier rule, default Asia/Shanghai */
    int refunds_timezone_line;     /* for "FILE:LINE: unknown time zone" */
    int refunds_max_age_days;      /* backoffice refunds, 1..3650, default 365 */
    /* refunds.timezone loaded (common/tz.h) by conf_load; NULL from
     * conf_load_string (no I/O there): callers treat NULL as UTC */
    struct tz_zone *refunds_tz;

    /* audit trail (audit/) */
    int audit_queue_max;           /* events waiting for the merchant store, 100..1000000, default 10000 */

    /* merchant store */
    char *merchant_addr;           /* "host:port" */
    char *merchant_db_name;
    char *merchant_user;
    char *merchant_password;       /* default: db's (also when db's comes from a file) */
    char *merchant_password_file;
    conf_tls merchant_tls;         /* default (section absent): a copy of db.tls */

    /* failover (docs/failover.md): automatic mode runs `skipctl group
     * failover G --auto` from the daemon whose prober saw the primary dead
     * for after_s; the Redis lock in skipctl makes one of them win. */
    int failover_auto;             /* 0/1, default 0 */
    int failover_after_s;          /* 1..3600, default 30 */
    char *failover_admin_user;     /* DB admin account for the promotion ("" = none; auto needs it) */
    char *failover_admin_password_file; /* its password, a 0600 file (passed as a path, never a value) */
    char *failover_daemons;        /* daemon URLs to reload (commas), "" = $SKIP_DAEMON_URLS of the daemon */
    char *failover_skipctl;        /* skipctl binary, "" = next to skipstored */

    conf_group groups[CONF_MAX_GROUPS];
    int ngroups;
} conf;

/*
 * Load and validate FILE, and load the zone of refunds.timezone (an unknown
 * zone is an error at that key's line). On success returns an owned conf (free with
 * conf_free). On failure returns NULL and writes "FILE:LINE: message" into
 * err (errcap bytes).
 *
 * After the pure phases, conf_load reads the secret files the config names
 * (conf_load_files): each *.password_file into its password (one trailing
 * newline dropped), and checks that every tls ca/cert/key file can be read
 * and that private keys and password files are not readable by group or
 * others (mode 0600 or stricter), else it fails naming the key and file.
 *
 * It also checks the edge's files: tls.cert and tls.client_ca readable,
 * tls.key readable and not accessible by group or others.
 */
conf *conf_load(const char *path, char *err, size_t errcap) SK_WUR;

/* Same, from a string already in memory; `name` is used in messages. Pure:
 * password files are not read (the passwords they would fill stay as the
 * text says, "" by default); conf_load_files does that. */
conf *conf_load_string(const char *name, const char *text, size_t len, char *err, size_t errcap) SK_WUR;

/* The I/O phase of conf_load on a conf from conf_load_string: 0, or -1 with
 * "NAME: key: message" in err. */
int conf_load_files(conf *c, char *err, size_t errcap) SK_WUR;

/*
 * The event key rule (auth/evsig.h), for skipstored and skipstore-mirror
 * after conf_load: while auth.mode is on, kafka.event_key_file is required;
 * every event key set (current, previous) is at least 32 bytes and the two
 * differ. 0, or -1 with the reason in err.
 */
int conf_event_key_check(const conf *c, char *err, size_t errcap) SK_WUR;

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
 * The stamped group ids whose orders live in group g now: g itself and every
 * configured group that conf_route_group() maps to g (retired groups aliased
 * to it). At most CONF_MAX_GROUPS ids into ids[]; returns how many (>= 1).
 * A group's expiry sweeper closes only orders stamped with one of these, so
 * copies of another group's orders (a shrink copying them in) are left to
 * the group that owns them.
 */
int conf_routed_ids(const conf *c, int g, int ids[CONF_MAX_GROUPS]);

/*
 * Default shrink target for retiring `retired` when the groups that remain
 * (not RETIRED, excluding `retired`) are `remaining` (sorted ascending, n of
 * them): k = retired mod n, k == 0 ? remaining[n-1] : remaining[k-1] — as the
 * spec: 5 groups -> 3, retire 5 -> 2, retire 4 -> 1. Returns -1 if n == 0.
 */
int conf_default_alias_target(int retired, const int *remaining, int n);

#endif
