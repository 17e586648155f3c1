/*
 * config/conf.c — load and validate the skipstore configuration (conf.h).
 *
 * Three phases, the first error wins and is reported as "FILE:LINE: message":
 *
 *  1. parse:    libyaml events -> a small node tree (cnode) that keeps the
 *               1-based line of every key and value. Syntax errors, duplicate
 *               keys, non-scalar keys, anchors/aliases, tags, several
 *               documents and absurd shapes (deep nesting, huge mappings)
 *               are rejected here.
 *  2. validate: every mapping is checked against a table of key specs
 *               {name, type, offset, min, max, default, flags}. Unknown keys,
 *               wrong types, non-decimal integers, out-of-range numbers, bad
 *               host:port strings and bad enum values are errors; absent
 *               optional keys get the default documented in
 *               config/skipstore.example.yaml.
 *  3. post:     rules across fields and groups (unique ids, alias chains,
 *               primaries, at least one group in service, ...).
 *
 * Pure: conf_load_string() does no I/O; conf_load() only reads the file.
 * A loaded conf is immutable and owns all its strings (conf_free()).
 * Every char * field of a successfully loaded conf is non-NULL, except
 * conf_group.primary of a retired group that has none.
 */
#include "config/conf.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define CONF_FILE_MAX  (1024 * 1024) /* a config is a few KB; also stops /dev/zero */
#define CONF_STR_MAX   4096          /* longest string value accepted */
#define CONF_DEPTH_MAX 32            /* our schema is 4 deep */
#define CONF_NODES_MAX 100000
#define CONF_KEYS_MAX  1024          /* per mapping; keeps the duplicate check cheap */
#define PATH_MAX_LEN   256           /* "groups[12].replicas[3]" and friends */
#define HOST_MAX       256

/* ------------------------------------------------------------------------ */
/* errors                                                                    */

typedef struct {
    const char *name;  /* file name used in messages */
    char *buf;         /* caller's buffer, may be NULL */
    size_t cap;
    bool failed;
} errsink;

static int fail(errsink *e, int line, const char *fmt, ...) SK_PRINTF(3, 4);

/* Record the first error only; always returns -1 so callers can `return fail(...)`. */
static int fail(errsink *e, int line, const char *fmt, ...)
{
    if (e->failed)
        return -1;
    e->failed = true;
    if (e->buf == NULL || e->cap == 0)
        return -1;
    int n = line > 0 ? snprintf(e->buf, e->cap, "%s:%d: ", e->name, line)
                     : snprintf(e->buf, e->cap, "%s: ", e->name);
    if (n >= 0 && (size_t)n < e->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf + n, e->cap - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Printable, bounded rendering of user text for messages: control bytes
 * become '?', more than `max` bytes are cut with "...". */
static const char *show(const char *s, size_t len, char *buf, size_t cap, size_t max)
{
    size_t o = 0;
    bool cut = len > max;
    if (cut)
        len = max;
    for (size_t i = 0; i < len && o + 4 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (cut && o + 4 <= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ------------------------------------------------------------------------ */
/* phase 1: YAML -> node tree                                                */

typedef enum { CN_SCALAR, CN_MAP, CN_SEQ } cn_kind;

typedef struct cnode {
    cn_kind kind;
    int line;              /* 1-based line where the node starts */
    bool plain;            /* scalar written without quotes or block style */
    char *str;             /* scalar: NUL-terminated copy of the value */
    size_t len;            /* scalar: length (may contain NUL bytes) */
    struct cnode **kid;    /* MAP: key0, val0, key1, val1, ...; SEQ: items */
    size_t nkid, capkid;
} cnode;

static const char *cn_what(const cnode *n)
{
    switch (n->kind) {
    case CN_MAP: return "a mapping";
    case CN_SEQ: return "a list";
    default: return "a scalar";
    }
}

/* Depth is bounded by CONF_DEPTH_MAX, so recursion is safe. */
static void cn_free(cnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkid; i++)
        cn_free(n->kid[i]);
    free(n->kid);
    free(n->str);
    free(n);
}

static int mark_line(yaml_mark_t m)
{
    return m.line >= (size_t)INT_MAX ? INT_MAX : (int)m.line + 1;
}

static int line_at_offset(const char *text, size_t len, size_t off)
{
    int line = 1;
    for (size_t i = 0; i < off && i < len; i++)
        if (text[i] == '\n' && line < INT_MAX)
            line++;
    return line;
}

/* "db", "groups[2]", "groups[2].replicas" — where stack[depth-1] sits. */
static void stack_path(cnode *const *stack, int depth, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int l = 0; l + 1 < depth && o < cap; l++) {
        const cnode *p = stack[l];
        int n;
        if (p->kind == CN_MAP) {
            char kb[64];
            const cnode *k = p->kid[p->nkid - 2];
            n = snprintf(out + o, cap - o, "%s%s", o ? "." : "", show(k->str, k->len, kb, sizeof kb, 40));
        } else {
            n = snprintf(out + o, cap - o, "[%zu]", p->nkid - 1);
        }
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

typedef struct {
    errsink *e;
    const char *text;
    size_t len;
    cnode *stack[CONF_DEPTH_MAX];
    int depth;
    size_t nnodes;
    cnode *root;
} pcx;

static int attach(pcx *p, cnode *n)
{
    if (p->depth == 0) {
        p->root = n;
        return 0;
    }
    cnode *parent = p->stack[p->depth - 1];
    if (parent->kind == CN_MAP) {
        if (parent->nkid % 2 == 0 && n->kind != CN_SCALAR) {
            int line = n->line;
            cn_free(n);
            return fail(p->e, line, "mapping keys must be scalars");
        }
        if (parent->nkid / 2 >= CONF_KEYS_MAX) {
            int line = n->line;
            cn_free(n);
            return fail(p->e, line, "more than %d keys in one mapping", CONF_KEYS_MAX);
        }
    }
    if (parent->nkid == parent->capkid) {
        size_t nc = parent->capkid ? parent->capkid * 2 : 8;
        cnode **k = realloc(parent->kid, nc * sizeof *k);
        if (k == NULL) {
            cn_free(n);
            return fail(p->e, 0, "out of memory");
        }
        parent->kid = k;
        parent->capkid = nc;
    }
    parent->kid[parent->nkid++] = n;
    return 0;
}

static cnode *new_node(pcx *p, cn_kind kind, int line)
{
    if (++p->nnodes > CONF_NODES_MAX) {
        fail(p->e, line, "document too large (more than %d nodes)", CONF_NODES_MAX);
        return NULL;
    }
    cnode *n = calloc(1, sizeof *n);
    if (n == NULL) {
        fail(p->e, 0, "out of memory");
        return NULL;
    }
    n->kind = kind;
    n->line = line;
    return n;
}

/* Checked when a mapping closes: the first key that repeats an earlier one. */
static int check_dups(pcx *p, const cnode *m)
{
    for (size_t i = 2; i < m->nkid; i += 2) {
        const cnode *ki = m->kid[i];
        for (size_t j = 0; j < i; j += 2) {
            const cnode *kj = m->kid[j];
            if (ki->len == kj->len && memcmp(ki->str, kj->str, ki->len) == 0) {
                char path[PATH_MAX_LEN], kb[64];
                stack_path(p->stack, p->depth, path, sizeof path);
                return fail(p->e, ki->line, "duplicate key '%s%s%s' (first on line %d)", path,
                            path[0] ? "." : "", show(ki->str, ki->len, kb, sizeof kb, 40),
                            kj->line);
            }
        }
    }
    return 0;
}

static int on_event(pcx *p, const yaml_event_t *ev, int *ndocs)
{
    int line = mark_line(ev->start_mark);
    cnode *n;

    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++*ndocs > 1)
            return fail(p->e, line, "only one YAML document is allowed");
        return 0;
    case YAML_ALIAS_EVENT:
        return fail(p->e, line, "aliases are not supported");
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor != NULL)
            return fail(p->e, line, "anchors are not supported");
        if (ev->data.scalar.tag != NULL)
            return fail(p->e, line, "tags are not supported");
        if ((n = new_node(p, CN_SCALAR, line)) == NULL)
            return -1;
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->str = malloc(n->len + 1);
        if (n->str == NULL) {
            cn_free(n);
            return fail(p->e, 0, "out of memory");
        }
        memcpy(n->str, ev->data.scalar.value, n->len);
        n->str[n->len] = '\0';
        return attach(p, n);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        const yaml_char_t *anchor = map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor;
        const yaml_char_t *tag = map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
        if (anchor != NULL)
            return fail(p->e, line, "anchors are not supported");
        if (tag != NULL)
            return fail(p->e, line, "tags are not supported");
        if (p->depth >= CONF_DEPTH_MAX)
            return fail(p->e, line, "nesting deeper than %d levels", CONF_DEPTH_MAX);
        if ((n = new_node(p, map ? CN_MAP : CN_SEQ, line)) == NULL)
            return -1;
        if (attach(p, n) < 0)
            return -1;
        p->stack[p->depth++] = n;
        return 0;
    }
    case YAML_MAPPING_END_EVENT:
        if (check_dups(p, p->stack[p->depth - 1]) < 0)
            return -1;
        p->depth--;
        return 0;
    case YAML_SEQUENCE_END_EVENT:
        p->depth--;
        return 0;
    default:
        return 0;
    }
}

/* Returns 0 and the tree (NULL for an empty stream) or -1 with the error set. */
static int parse_tree(errsink *e, const char *text, size_t len, cnode **out)
{
    pcx p = {.e = e, .text = text, .len = len};
    yaml_parser_t parser;
    int ndocs = 0, rc = 0;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return fail(e, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), text ? len : 0);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *problem = parser.problem ? parser.problem : "YAML syntax error";
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = fail(e, 0, "out of memory");
            } else if (parser.error == YAML_READER_ERROR) {
                rc = fail(e, line_at_offset(text, len, parser.problem_offset), "%s", problem);
            } else if (parser.context != NULL) {
                rc = fail(e, mark_line(parser.problem_mark), "%s (%s that started on line %d)",
                          problem, parser.context, mark_line(parser.context_mark));
            } else {
                rc = fail(e, mark_line(parser.problem_mark), "%s", problem);
            }
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&p, &ev, &ndocs);
        yaml_event_delete(&ev);
        if (rc < 0 || end)
            break;
    }
    yaml_parser_delete(&parser);
    if (rc < 0) {
        cn_free(p.root);
        return -1;
    }
    *out = p.root;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* phase 2: table-driven validation                                          */

typedef struct {
    errsink *e;
    conf *c;
    int groups_line;   /* line of the `groups:` key, for group-set messages */
} vcx;

typedef enum {
    K_INT,       /* plain decimal integer in [min, max] -> int */
    K_STR,       /* string -> char * */
    K_HOSTPORT,  /* "host:port" (sk_parse_hostport) -> char * */
    K_HOSTLIST,  /* "host:port[,host:port...]" -> char * */
    K_ENUM,      /* one of enums[] -> char * */
    K_SECTION,   /* nested mapping validated against sub[] (same base) */
    K_CUSTOM,    /* set() does it all, including the default */
} ktype;

enum {
    F_REQUIRED = 1 << 0,  /* absent -> "missing required key" */
    F_NONEMPTY = 1 << 1,  /* "" is an error */
};

typedef struct kspec kspec;

/* val == NULL: key absent, apply the default. keyline: line of the key (or of
 * the enclosing mapping when absent). */
typedef int (*kset_fn)(vcx *v, const kspec *k, const cnode *val, void *base, const char *path,
                       int keyline);

struct kspec {
    const char *name;
    ktype type;
    size_t off;                 /* into the base struct (conf or conf_group) */
    long min, max, idef;        /* K_INT */
    const char *sdef;           /* string default; NULL = leave NULL (filled later) */
    unsigned flags;
    const char *const *enums;   /* K_ENUM / K_CUSTOM enum: NULL-terminated */
    const kspec *sub;           /* K_SECTION */
    kset_fn set;                /* K_CUSTOM */
};

#define KS_INT(T, n, f, lo, hi, d) \
    {.name = n, .type = K_INT, .off = offsetof(T, f), .min = lo, .max = hi, .idef = d}
#define KS_INT_REQ(T, n, f, lo, hi) \
    {.name = n, .type = K_INT, .off = offsetof(T, f), .min = lo, .max = hi, .flags = F_REQUIRED}
#define KS_STR(T, n, f, d, fl) {.name = n, .type = K_STR, .off = offsetof(T, f), .sdef = d, .flags = fl}
#define KS_HOSTPORT(T, n, f, d, fl) \
    {.name = n, .type = K_HOSTPORT, .off = offsetof(T, f), .sdef = d, .flags = fl}
#define KS_HOSTLIST(T, n, f, d) {.name = n, .type = K_HOSTLIST, .off = offsetof(T, f), .sdef = d}
#define KS_ENUM(T, n, f, d, e) {.name = n, .type = K_ENUM, .off = offsetof(T, f), .sdef = d, .enums = e}
#define KS_SECTION(n, t) {.name = n, .type = K_SECTION, .sub = t}
#define KS_CUSTOM(n, fn, fl, e) {.name = n, .type = K_CUSTOM, .set = fn, .flags = fl, .enums = e}

static int set_groups(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_replicas(vcx *, const kspec *, const cnode *, void *, const char *, int);
static int set_state(vcx *, const kspec *, const cnode *, void *, const char *, int);

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* Configurable group states, in the order of group_state values they map to. */
static const char *const state_words[] = {"active", "fenced", "draining", "retired", NULL};
static const group_state state_values[] = {GROUP_ACTIVE, GROUP_FENCED, GROUP_DRAINING, GROUP_RETIRED};

/*
 * The schema. Defaults and bounds are those documented in
 * config/skipstore.example.yaml (tests/unit/test_conf.c checks every bound
 * written there against this table). Secrets default to "".
 * merchant_db.user/password default to db.user/db.password (the same
 * application account), filled in after validation.
 */
static const kspec auth_tab[] = {
    KS_STR(conf, "admin_token", admin_token, "", 0),
    KS_STR(conf, "api_token", api_token, "", 0),
    {0},
};

static const kspec db_tab[] = {
    KS_STR(conf, "name", db_name, NULL, F_REQUIRED | F_NONEMPTY),
    KS_STR(conf, "user", db_user, NULL, F_REQUIRED | F_NONEMPTY),
    KS_STR(conf, "password", db_password, "", 0),
    KS_INT(conf, "connect_timeout_ms", db_connect_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "read_timeout_ms", db_read_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "write_timeout_ms", db_write_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "pool_size", db_pool_size, 1, 256, 16),
    KS_INT(conf, "max_inflight", db_max_inflight, 1, 4096, 64),
    {0},
};

static const kspec selector_tab[] = {
    KS_INT(conf, "window_s", window_s, 1, 3600, 60),
    KS_INT(conf, "threshold", threshold, 1, 1000000, 5),
    KS_INT(conf, "counter_refresh_ms", counter_refresh_ms, 10, 1000, 100),
    {0},
};

static const kspec prober_tab[] = {
    KS_INT(conf, "interval_ms", probe_interval_ms, 50, 10000, 200),
    KS_INT(conf, "timeout_ms", probe_timeout_ms, 100, 10000, 1000),
    KS_INT(conf, "fresh_ms", probe_fresh_ms, 100, 60000, 1000),
    {0},
};

static const kspec request_tab[] = {
    KS_INT(conf, "deadline_ms", request_deadline_ms, 500, 30000, 3000),
    KS_INT(conf, "max_body_bytes", max_body_bytes, 1024, 1048576, 65536),
    KS_INT(conf, "default_expire_s", default_expire_s, 30, 86400, 300),
    KS_INT(conf, "sweep_interval_ms", sweep_interval_ms, 100, 60000, 1000),
    {0},
};

static const kspec redis_tab[] = {
    KS_HOSTPORT(conf, "addr", redis_addr, "127.0.0.1:6379", 0),
    KS_INT(conf, "timeout_ms", redis_timeout_ms, 10, 5000, 200),
    KS_INT(conf, "node_lease_s", node_lease_s, 3, 600, 15),
    {0},
};

static const kspec kafka_tab[] = {
    KS_HOSTLIST(conf, "brokers", kafka_brokers, "127.0.0.1:9092"),
    KS_STR(conf, "topic", kafka_topic, "skipstore.orders", F_NONEMPTY),
    KS_STR(conf, "consumer_group", kafka_group, "skipstore-mirror", F_NONEMPTY),
    KS_INT(conf, "relay_batch", relay_batch, 1, 10000, 500),
    KS_INT(conf, "relay_interval_ms", relay_interval_ms, 1, 10000, 20),
    {0},
};

static const kspec merchant_tab[] = {
    KS_HOSTPORT(conf, "addr", merchant_addr, "127.0.0.1:3310", 0),
    KS_STR(conf, "name", merchant_db_name, "skipstore_merchant", F_NONEMPTY),
    KS_STR(conf, "user", merchant_user, NULL, F_NONEMPTY),  /* default: db.user */
    KS_STR(conf, "password", merchant_password, NULL, 0),   /* default: db.password */
    {0},
};

static const kspec group_tab[] = {
    KS_INT_REQ(conf_group, "id", id, 1, CONF_MAX_GROUPS),
    KS_HOSTPORT(conf_group, "primary", primary, NULL, 0),   /* required unless retired (post) */
    KS_CUSTOM("replicas", set_replicas, 0, NULL),
    KS_INT(conf_group, "weight", weight, 0, 1000, 100),
    KS_CUSTOM("state", set_state, 0, state_words),
    KS_INT(conf_group, "alias_of", alias_of, 1, CONF_MAX_GROUPS, 0),
    {0},
};

static const kspec top_tab[] = {
    KS_INT(conf, "node_id", node_id, 0, 999, 1),
    KS_HOSTPORT(conf, "listen", listen, "127.0.0.1:8080", 0),
    KS_ENUM(conf, "log_level", log_level, "info", log_levels),
    KS_SECTION("auth", auth_tab),
    KS_SECTION("db", db_tab),
    KS_SECTION("selector", selector_tab),
    KS_SECTION("prober", prober_tab),
    KS_SECTION("request", request_tab),
    KS_SECTION("redis", redis_tab),
    KS_SECTION("kafka", kafka_tab),
    KS_SECTION("merchant_db", merchant_tab),
    KS_CUSTOM("groups", set_groups, F_REQUIRED, NULL),
    {0},
};

static void path_join(char *out, size_t cap, const char *prefix, const char *key, size_t klen)
{
    char kb[64];
    snprintf(out, cap, "%s%s%s", prefix, prefix[0] ? "." : "", show(key, klen, kb, sizeof kb, 40));
}

static bool is_null_scalar(const cnode *n)
{
    if (n->kind != CN_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

/* The value as a string, or NULL after reporting why it cannot be one. */
static const char *scalar_text(vcx *v, const cnode *val, const char *path, const char *want, int keyline)
{
    if (val->kind != CN_SCALAR) {
        fail(v->e, val->line, "%s: expected %s, got %s", path, want, cn_what(val));
        return NULL;
    }
    if (is_null_scalar(val)) {
        fail(v->e, keyline, "%s: missing value (write \"\" for an empty string)", path);
        return NULL;
    }
    if (memchr(val->str, '\0', val->len) != NULL) {
        fail(v->e, val->line, "%s: value contains a NUL byte", path);
        return NULL;
    }
    if (val->len > CONF_STR_MAX) {
        fail(v->e, val->line, "%s: value too long (%zu bytes, max %d)", path, val->len, CONF_STR_MAX);
        return NULL;
    }
    return val->str;
}

/* sk_parse_hostport plus what it lets through: whitespace, "+80", " 80". */
static bool hostport_ok(const char *s, size_t len)
{
    char host[HOST_MAX];
    int port;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == ',')
            return false;
    if (sk_parse_hostport(s, host, sizeof host, &port) != 0)
        return false;
    const char *c = strrchr(s, ':');
    for (c++; *c; c++)
        if (*c < '0' || *c > '9')
            return false;
    return true;
}

static bool hostlist_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t n = comma ? (size_t)(comma - s) : strlen(s);
        char one[HOST_MAX + 8];
        if (n == 0 || n >= sizeof one)
            return false;
        memcpy(one, s, n);
        one[n] = '\0';
        if (!hostport_ok(one, n))
            return false;
        if (comma == NULL)
            return true;
        s = comma + 1;
    }
}

/* Plain decimal only: -?[0-9]+ without leading zeros, not quoted. */
static int parse_int(vcx *v, const kspec *k, const cnode *val, const char *path, int keyline, int *out)
{
    char vb[64];
    if (val->kind != CN_SCALAR)
        return fail(v->e, val->line, "%s: expected an integer, got %s", path, cn_what(val));
    if (is_null_scalar(val))
        return fail(v->e, keyline, "%s: missing value (expected an integer)", path);
    const char *s = val->str;
    size_t i = 0, len = val->len;
    bool neg = false;
    if (len > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    bool ok = val->plain && i < len && (s[i] != '0' || i + 1 == len);
    long long mag = 0;
    bool big = false;
    for (size_t j = i; ok && j < len; j++) {
        if (s[j] < '0' || s[j] > '9')
            ok = false;
        else if (!big && (mag = mag * 10 + (s[j] - '0')) > 1000000000000LL)
            big = true;
    }
    if (!ok)
        return fail(v->e, val->line, "%s: expected a plain decimal integer, got %s'%s'", path,
                    val->plain ? "" : "quoted ", show(s, len, vb, sizeof vb, 40));
    long long x = neg ? -mag : mag;
    if (big || x < k->min || x > k->max)
        return fail(v->e, val->line, "%s: %s out of range %ld..%ld", path,
                    show(s, len, vb, sizeof vb, 40), k->min, k->max);
    *out = (int)x;
    return 0;
}

static int set_str_field(vcx *v, char **dst, const char *s, int line)
{
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : fail(v->e, line, "out of memory");
}

static int apply_map(vcx *v, const kspec *tab, const cnode *map, int line, void *base, const char *prefix);

static int set_one(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    char vb[64];
    void *field = (char *)base + k->off;

    switch (k->type) {
    case K_SECTION:
        if (val != NULL && val->kind != CN_MAP)
            return fail(v->e, val->line, "%s: expected a mapping, got %s", path, cn_what(val));
        /* missing keys are reported at the section's own key */
        return apply_map(v, k->sub, val, keyline, base, path);
    case K_CUSTOM:
        return k->set(v, k, val, base, path, keyline);
    case K_INT:
        if (val == NULL) {
            *(int *)field = (int)k->idef;
            return 0;
        }
        return parse_int(v, k, val, path, keyline, (int *)field);
    case K_STR:
    case K_HOSTPORT:
    case K_HOSTLIST:
    case K_ENUM: {
        const char *s = k->sdef;
        if (val != NULL) {
            static const char *const want[] = {
                [K_STR] = "a string", [K_HOSTPORT] = "a host:port string",
                [K_HOSTLIST] = "a host:port list", [K_ENUM] = "a string",
            };
            if ((s = scalar_text(v, val, path, want[k->type], keyline)) == NULL)
                return -1;
        }
        if (s == NULL)
            return 0;  /* no default: filled in later (merchant_db.user/password) */
        if ((k->flags & F_NONEMPTY) && s[0] == '\0')
            return fail(v->e, val ? val->line : keyline, "%s: must not be empty", path);
        if (val != NULL && k->type == K_HOSTPORT && !hostport_ok(s, val->len))
            return fail(v->e, val->line, "%s: '%s' is not a valid host:port", path,
                        show(s, val->len, vb, sizeof vb, 40));
        if (val != NULL && k->type == K_HOSTLIST && !hostlist_ok(s))
            return fail(v->e, val->line, "%s: '%s' is not a valid host:port[,host:port...] list",
                        path, show(s, val->len, vb, sizeof vb, 40));
        if (val != NULL && k->type == K_ENUM) {
            bool found = false;
            for (size_t i = 0; k->enums[i]; i++)
                found = found || strcmp(s, k->enums[i]) == 0;
            if (!found) {
                char allowed[128] = "";
                for (size_t i = 0; k->enums[i]; i++)
                    snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                             i ? "|" : "", k->enums[i]);
                return fail(v->e, val->line, "%s: '%s' is not one of %s", path,
                            show(s, val->len, vb, sizeof vb, 40), allowed);
            }
        }
        return set_str_field(v, (char **)field, s, val ? val->line : keyline);
    }
    }
    return fail(v->e, keyline, "%s: internal error: bad key type", path);
}

/* Validate `map` (NULL = section absent: defaults only) against `tab`. */
static int apply_map(vcx *v, const kspec *tab, const cnode *map, int line, void *base, const char *prefix)
{
    bool seen[32] = {false};
    size_t ntab = 0;
    char path[PATH_MAX_LEN];

    while (tab[ntab].name != NULL)
        ntab++;
    if (ntab > sizeof seen / sizeof seen[0])
        return fail(v->e, line, "internal error: key table too large");
    for (size_t i = 0; map != NULL && i + 1 < map->nkid; i += 2) {
        const cnode *key = map->kid[i], *val = map->kid[i + 1];
        size_t t;
        for (t = 0; t < ntab; t++)
            if (strlen(tab[t].name) == key->len && memcmp(tab[t].name, key->str, key->len) == 0)
                break;
        path_join(path, sizeof path, prefix, key->str, key->len);
        if (t == ntab)
            return fail(v->e, key->line, "unknown key '%s'", path);
        seen[t] = true;
        if (set_one(v, &tab[t], val, base, path, key->line) < 0)
            return -1;
    }
    for (size_t t = 0; t < ntab; t++) {
        if (seen[t])
            continue;
        path_join(path, sizeof path, prefix, tab[t].name, strlen(tab[t].name));
        if (tab[t].flags & F_REQUIRED)
            return fail(v->e, line, "missing required key '%s'", path);
        if (set_one(v, &tab[t], NULL, base, path, line) < 0)
            return -1;
    }
    return 0;
}

static int set_groups(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf *c = base;
    (void)k;
    v->groups_line = keyline;
    if (val == NULL)  /* F_REQUIRED: apply_map reports it */
        return -1;
    if (is_null_scalar(val) || (val->kind == CN_SEQ && val->nkid == 0))
        return fail(v->e, keyline, "%s: at least one group is required", path);
    if (val->kind != CN_SEQ)
        return fail(v->e, val->line, "%s: expected a list of groups, got %s", path, cn_what(val));
    if (val->nkid > CONF_MAX_GROUPS)
        return fail(v->e, val->kid[CONF_MAX_GROUPS]->line, "%s: more than %d groups", path,
                    CONF_MAX_GROUPS);
    for (size_t i = 0; i < val->nkid; i++) {
        const cnode *item = val->kid[i];
        char prefix[PATH_MAX_LEN];
        snprintf(prefix, sizeof prefix, "%s[%zu]", path, i);
        if (item->kind != CN_MAP)
            return fail(v->e, item->line, "%s: expected a mapping (id, primary, ...), got %s", prefix,
                        cn_what(item));
        conf_group *g = &c->groups[i];
        g->line = item->line;
        c->ngroups = (int)i + 1;
        if (apply_map(v, group_tab, item, item->line, g, prefix) < 0)
            return -1;
    }
    return 0;
}

static int set_replicas(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf_group *g = base;
    char vb[64];
    (void)k;
    if (val == NULL)
        return 0;
    if (val->kind != CN_SEQ)
        return fail(v->e, val->line, "%s: expected a list of host:port, got %s", path, cn_what(val));
    if (val->nkid > CONF_MAX_REPLICAS)
        return fail(v->e, val->kid[CONF_MAX_REPLICAS]->line, "%s: more than %d replicas", path,
                    CONF_MAX_REPLICAS);
    for (size_t i = 0; i < val->nkid; i++) {
        const cnode *item = val->kid[i];
        char ipath[PATH_MAX_LEN];
        snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
        const char *s = scalar_text(v, item, ipath, "a host:port string", keyline);
        if (s == NULL)
            return -1;
        if (!hostport_ok(s, item->len))
            return fail(v->e, item->line, "%s: '%s' is not a valid host:port", ipath,
                        show(s, item->len, vb, sizeof vb, 40));
        if (set_str_field(v, &g->replicas[i], s, item->line) < 0)
            return -1;
        g->nreplicas = (int)i + 1;
    }
    return 0;
}

static int set_state(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf_group *g = base;
    char vb[64];
    if (val == NULL) {
        g->state = GROUP_ACTIVE;
        return 0;
    }
    const char *s = scalar_text(v, val, path, "a state", keyline);
    if (s == NULL)
        return -1;
    for (size_t i = 0; k->enums[i]; i++) {
        if (strcmp(s, k->enums[i]) == 0) {
            g->state = state_values[i];
            return 0;
        }
    }
    return fail(v->e, val->line, "%s: '%s' is not one of active|fenced|draining|retired", path,
                show(s, val->len, vb, sizeof vb, 40));
}

/* ------------------------------------------------------------------------ */
/* phase 3: post-checks across fields                                        */

static int post_check(vcx *v)
{
    conf *c = v->c;

    /* merchant_db uses the application account unless told otherwise */
    if (c->merchant_user == NULL && set_str_field(v, &c->merchant_user, c->db_user, 0) < 0)
        return -1;
    if (c->merchant_password == NULL && set_str_field(v, &c->merchant_password, c->db_password, 0) < 0)
        return -1;

    int in_service = 0, nactive = 0, active_weight = 0, first_active = 0;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        for (int j = 0; j < i; j++)
            if (c->groups[j].id == g->id)
                return fail(v->e, g->line, "groups[%d]: duplicate group id %d (first on line %d)", i,
                            g->id, c->groups[j].line);
        if (g->state == GROUP_RETIRED) {
            if (g->alias_of == 0)
                return fail(v->e, g->line,
                            "group %d: a retired group needs alias_of (the group that now holds its rows)",
                            g->id);
            continue;
        }
        in_service++;
        if (g->alias_of != 0)
            return fail(v->e, g->line, "group %d: alias_of is only allowed on a retired group (state is %s)",
                        g->id, conf_group_state_name(g->state));
        if (g->primary == NULL)
            return fail(v->e, g->line, "group %d: missing required key 'primary'", g->id);
        if (g->state == GROUP_ACTIVE) {
            if (nactive++ == 0)
                first_active = g->line;
            active_weight += g->weight;
        }
    }
    if (in_service == 0)
        return fail(v->e, v->groups_line, "groups: every group is retired; at least one must be in service");
    /* weight 0 is a ramp start for one group; all active groups at 0 would
     * silently refuse every create */
    if (nactive > 0 && active_weight == 0)
        return fail(v->e, first_active, "groups: every active group has weight 0; no group would take new orders");

    /* alias targets exist and every chain ends at a group in service */
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        if (g->alias_of == 0)
            continue;
        if (conf_group_by_id(c, g->alias_of) == NULL)
            return fail(v->e, g->line, "group %d: alias_of %d: no such group", g->id, g->alias_of);
        /* ids are 1..99 (validated), so a seen[] set by id finds any loop */
        bool seen[CONF_MAX_GROUPS + 1] = {false};
        char chain[512];
        int n = snprintf(chain, sizeof chain, "%d", g->id);
        seen[g->id] = true;
        for (const conf_group *h = g; h != NULL && h->alias_of != 0;) {
            int next = h->alias_of;
            if (n >= 0 && (size_t)n < sizeof chain)
                n += snprintf(chain + n, sizeof chain - (size_t)n, " -> %d", next);
            if (seen[next])
                return fail(v->e, g->line, "group %d: alias chain %s is a cycle", g->id, chain);
            seen[next] = true;
            h = conf_group_by_id(c, next);  /* NULL: reported at that group's own entry */
        }
    }

    /* two groups in service on one server would share one database */
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        if (g->state == GROUP_RETIRED)
            continue;
        const char *addr[1 + CONF_MAX_REPLICAS];
        int na = 0;
        addr[na++] = g->primary;
        for (int r = 0; r < g->nreplicas; r++)
            addr[na++] = g->replicas[r];
        for (int a = 0; a < na; a++) {
            for (int b = 0; b < a; b++)
                if (strcmp(addr[a], addr[b]) == 0)
                    return fail(v->e, g->line, "group %d: address %s is listed twice", g->id, addr[a]);
            for (int j = 0; j < i; j++) {
                const conf_group *o = &c->groups[j];
                if (o->state == GROUP_RETIRED)
                    continue;
                bool same = strcmp(addr[a], o->primary) == 0;
                for (int r = 0; r < o->nreplicas && !same; r++)
                    same = strcmp(addr[a], o->replicas[r]) == 0;
                if (same)
                    return fail(v->e, g->line, "group %d: address %s is already used by group %d (line %d)",
                                g->id, addr[a], o->id, o->line);
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* public API                                                                */

conf *conf_load_string(const char *name, const char *text, size_t len, char *err, size_t errcap)
{
    errsink e = {.name = name ? name : "(config)", .buf = err, .cap = errcap};
    cnode *root = NULL;
    conf *c = NULL;

    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (parse_tree(&e, text, len, &root) < 0)
        return NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(e.name)) == NULL) {
        fail(&e, 0, "out of memory");
        goto bad;
    }
    vcx v = {.e = &e, .c = c};
    int rootline = root ? root->line : 1;
    if (root != NULL && root->kind != CN_MAP && !is_null_scalar(root)) {
        fail(&e, root->line, "top level must be a mapping of keys, got %s", cn_what(root));
        goto bad;
    }
    if (apply_map(&v, top_tab, root && root->kind == CN_MAP ? root : NULL, rootline, c, "") < 0)
        goto bad;
    if (post_check(&v) < 0)
        goto bad;
    cn_free(root);
    return c;
bad:
    cn_free(root);
    conf_free(c);
    return NULL;
}

conf *conf_load(const char *path, char *err, size_t errcap)
{
    errsink e = {.name = path ? path : "(null)", .buf = err, .cap = errcap};
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (path == NULL) {
        fail(&e, 0, "cannot open: %s", strerror(EINVAL));
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail(&e, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONF_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        fail(&e, 0, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, CONF_FILE_MAX + 1, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    conf *c = NULL;
    if (rerr != 0)
        fail(&e, 0, "cannot read: %s", strerror(rerr));
    else if (n > CONF_FILE_MAX)
        fail(&e, 0, "file too large (more than %d bytes)", CONF_FILE_MAX);
    else
        c = conf_load_string(path, buf, n, err, errcap);
    free(buf);
    return c;
}

void conf_free(conf *c)
{
    if (c == NULL)
        return;
    char **strs[] = {
        &c->path, &c->listen, &c->admin_token, &c->api_token, &c->log_level,
        &c->db_name, &c->db_user, &c->db_password, &c->redis_addr,
        &c->kafka_brokers, &c->kafka_topic, &c->kafka_group,
        &c->merchant_addr, &c->merchant_db_name, &c->merchant_user, &c->merchant_password,
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    /* all slots: a failed load may have filled part of an entry past ngroups */
    for (int i = 0; i < CONF_MAX_GROUPS; i++) {
        free(c->groups[i].primary);
        for (int r = 0; r < CONF_MAX_REPLICAS; r++)
            free(c->groups[i].replicas[r]);
    }
    free(c);
}

const conf_group *conf_group_by_id(const conf *c, int id)
{
    if (c == NULL)
        return NULL;
    for (int i = 0; i < c->ngroups; i++)
        if (c->groups[i].id == id)
            return &c->groups[i];
    return NULL;
}

int conf_route_group(const conf *c, int group_id)
{
    const conf_group *g = conf_group_by_id(c, group_id);
    for (int step = 0; g != NULL && step <= CONF_MAX_GROUPS; step++) {
        if (g->alias_of == 0)
            return g->state == GROUP_RETIRED ? -1 : g->id;
        g = conf_group_by_id(c, g->alias_of);
    }
    return -1;
}

int conf_default_alias_target(int retired, const int *remaining, int n)
{
    if (n <= 0 || remaining == NULL || retired < 1)
        return -1;
    int k = retired % n;
    return k == 0 ? remaining[n - 1] : remaining[k - 1];
}

const char *conf_group_state_name(group_state s)
{
    static const char *const names[GROUP_STATE_MAX] = {
        [GROUP_ACTIVE] = "ACTIVE",     [GROUP_SKIPPED] = "SKIPPED", [GROUP_FENCED] = "FENCED",
        [GROUP_DRAINING] = "DRAINING", [GROUP_RETIRED] = "RETIRED",
    };
    if ((int)s < 0 || s >= GROUP_STATE_MAX)
        return "UNKNOWN";
    return names[s];
}
