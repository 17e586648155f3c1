/*
 * config/conf_validate.c — phases 2 and 3 of loading a config (conf.c):
 * validate a node tree (yamltree.c) against a table of key specs
 * (conf_schema.c) — types, bounds, host:port strings, enums, unknown and
 * missing keys, defaults of absent keys — then the post-checks across
 * fields and groups (TLS defaults, secrets, listeners, Kafka properties,
 * group ids, primaries, aliases). Pure: no I/O.
 */
#include "config/conf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <strings.h>
#include "common/tz.h"
#include "config/yamltree.h"
#include "config/conf_internal.h"

#define HOST_MAX       256

/* ------------------------------------------------------------------------ */
/* phase 2: table-driven validation                                          */

void path_join(char *out, size_t cap, const char *prefix, const char *key, size_t klen)
{
    char kb[64];
    snprintf(out, cap, "%s%s%s", prefix, prefix[0] ? "." : "", yt_show(key, klen, kb, sizeof kb, 40));
}

bool is_null_scalar(const cnode *n)
{
    if (n->kind != CN_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 ||
           strcmp(n->str, "Null") == 0 || strcmp(n->str, "NULL") == 0;
}

/* The value as a string, or NULL after reporting why it cannot be one. */
const char *scalar_text(vcx *v, const cnode *val, const char *path, const char *want, int keyline)
{
    if (val->kind != CN_SCALAR) {
        yt_fail(v->e, val->line, "%s: expected %s, got %s", path, want, yt_what(val));
        return NULL;
    }
    if (is_null_scalar(val)) {
        yt_fail(v->e, keyline, "%s: missing value (write \"\" for an empty string)", path);
        return NULL;
    }
    if (memchr(val->str, '\0', val->len) != NULL) {
        yt_fail(v->e, val->line, "%s: value contains a NUL byte", path);
        return NULL;
    }
    if (val->len > CONF_STR_MAX) {
        yt_fail(v->e, val->line, "%s: value too long (%zu bytes, max %d)", path, val->len, CONF_STR_MAX);
        return NULL;
    }
    return val->str;
}

/* sk_parse_hostport plus what it lets through: whitespace, "+80", " 80". */
bool hostport_ok(const char *s, size_t len)
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
        return yt_fail(v->e, val->line, "%s: expected an integer, got %s", path, yt_what(val));
    if (is_null_scalar(val))
        return yt_fail(v->e, keyline, "%s: missing value (expected an integer)", path);
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
        return yt_fail(v->e, val->line, "%s: expected a plain decimal integer, got %s'%s'", path,
                    val->plain ? "" : "quoted ", yt_show(s, len, vb, sizeof vb, 40));
    long long x = neg ? -mag : mag;
    if (big || x < k->min || x > k->max)
        return yt_fail(v->e, val->line, "%s: %s out of range %ld..%ld", path,
                    yt_show(s, len, vb, sizeof vb, 40), k->min, k->max);
    *out = (int)x;
    return 0;
}

int set_str_field(vcx *v, char **dst, const char *s, int line)
{
    free(*dst);
    *dst = strdup(s);
    return *dst ? 0 : yt_fail(v->e, line, "out of memory");
}

static bool strmap_key_ok(const char *s, size_t len)
{
    if (len == 0 || len > CONF_STRMAP_KEY_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* K_STRMAP: absent or empty -> no entries; else a mapping of property names to
 * scalars (their text, quoted or not), at most k->max entries. Duplicate keys
 * are already refused by phase 1. */
static int set_strmap(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    conf_strmap *m = (conf_strmap *)((char *)base + k->off);
    char vb[64], ipath[PATH_MAX_LEN];
    (void)keyline;
    if (val == NULL || is_null_scalar(val))
        return 0;
    if (val->kind != CN_MAP)
        return yt_fail(v->e, val->line, "%s: expected a mapping of name: value, got %s", path, yt_what(val));
    size_t n = val->nkid / 2;
    if (n > (size_t)k->max)
        return yt_fail(v->e, val->kid[2 * (size_t)k->max]->line, "%s: more than %ld entries", path, k->max);
    if (n == 0)
        return 0;
    m->kv = calloc(n, sizeof *m->kv);
    if (m->kv == NULL)
        return yt_fail(v->e, val->line, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const cnode *key = val->kid[2 * i], *item = val->kid[2 * i + 1];
        path_join(ipath, sizeof ipath, path, key->str, key->len);
        if (!strmap_key_ok(key->str, key->len))
            return yt_fail(v->e, key->line, "%s: '%s' is not a valid name ([A-Za-z0-9._-], 1..%d characters)", path,
                        yt_show(key->str, key->len, vb, sizeof vb, 40), CONF_STRMAP_KEY_MAX);
        const char *s = scalar_text(v, item, ipath, "a string", key->line);
        if (s == NULL)
            return -1;
        conf_kv *e = &m->kv[m->n++]; /* counted first: conf_free frees a half-filled entry */
        e->line = key->line;
        if (set_str_field(v, &e->key, key->str, key->line) < 0 || set_str_field(v, &e->val, s, item->line) < 0)
            return -1;
    }
    return 0;
}


int set_one(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline)
{
    char vb[64];
    void *field = (char *)base + k->off;

    switch (k->type) {
    case K_SECTION:
        if (val != NULL && val->kind != CN_MAP)
            return yt_fail(v->e, val->line, "%s: expected a mapping, got %s", path, yt_what(val));
        /* missing keys are reported at the section's own key */
        return apply_map(v, k->sub, val, keyline, base, path);
    case K_CUSTOM:
        return k->set(v, k, val, base, path, keyline);
    case K_STRMAP:
        return set_strmap(v, k, val, base, path, keyline);
    case K_INT:
        if (val == NULL) {
            *(int *)field = (int)k->idef;
            return 0;
        }
        return parse_int(v, k, val, path, keyline, (int *)field);
    case K_BOOL:
        if (val == NULL) {
            *(int *)field = (int)k->idef;
            return 0;
        }
        if (val->kind != CN_SCALAR)
            return yt_fail(v->e, val->line, "%s: expected true or false, got %s", path, yt_what(val));
        if (val->plain && strcmp(val->str, "true") == 0)
            *(int *)field = 1;
        else if (val->plain && strcmp(val->str, "false") == 0)
            *(int *)field = 0;
        else
            return yt_fail(v->e, val->line, "%s: expected true or false, got %s'%s'", path,
                           val->plain ? "" : "quoted ", yt_show(val->str, val->len, vb, sizeof vb, 40));
        return 0;
    case K_PATH: {
        if (val == NULL)
            return k->sdef ? set_str_field(v, (char **)field, k->sdef, keyline) : 0;
        const char *s = scalar_text(v, val, path, "a file path", keyline);
        if (s == NULL)
            return -1;
        for (size_t i = 0; i < val->len; i++)
            if ((unsigned char)s[i] < ' ' || s[i] == 0x7f)
                return yt_fail(v->e, val->line, "%s: control character in a file path", path);
        if (s[0] != '\0' && s[0] != '/')
            return yt_fail(v->e, val->line, "%s: '%s' is not an absolute path", path,
                           yt_show(s, val->len, vb, sizeof vb, 40));
        if (val->len >= CONF_PATH_MAX)
            return yt_fail(v->e, val->line, "%s: path too long (%zu bytes, max %d)", path, val->len,
                           CONF_PATH_MAX - 1);
        return set_str_field(v, (char **)field, s, val->line);
    }
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
            return yt_fail(v->e, val ? val->line : keyline, "%s: must not be empty", path);
        if (val != NULL && k->type == K_HOSTPORT && !(s[0] == '\0' && (k->flags & F_EMPTY_OK)) &&
            !hostport_ok(s, val->len))
            return yt_fail(v->e, val->line, "%s: '%s' is not a valid host:port", path,
                        yt_show(s, val->len, vb, sizeof vb, 40));
        if (val != NULL && k->type == K_HOSTLIST && !hostlist_ok(s))
            return yt_fail(v->e, val->line, "%s: '%s' is not a valid host:port[,host:port...] list",
                        path, yt_show(s, val->len, vb, sizeof vb, 40));
        if (val != NULL && k->type == K_ENUM) {
            bool found = false;
            for (size_t i = 0; k->enums[i]; i++)
                found = found || strcmp(s, k->enums[i]) == 0;
            if (!found) {
                char allowed[128] = "";
                for (size_t i = 0; k->enums[i]; i++)
                    snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s",
                             i ? "|" : "", k->enums[i]);
                return yt_fail(v->e, val->line, "%s: '%s' is not one of %s", path,
                            yt_show(s, val->len, vb, sizeof vb, 40), allowed);
            }
        }
        return set_str_field(v, (char **)field, s, val ? val->line : keyline);
    }
    }
    return yt_fail(v->e, keyline, "%s: internal error: bad key type", path);
}

/* Validate `map` (NULL = section absent: defaults only) against `tab`. */
int apply_map(vcx *v, const kspec *tab, const cnode *map, int line, void *base, const char *prefix)
{
    bool seen[32] = {false};
    size_t ntab = 0;
    char path[PATH_MAX_LEN];

    while (tab[ntab].name != NULL)
        ntab++;
    if (ntab > sizeof seen / sizeof seen[0])
        return yt_fail(v->e, line, "internal error: key table too large");
    for (size_t i = 0; map != NULL && i + 1 < map->nkid; i += 2) {
        const cnode *key = map->kid[i], *val = map->kid[i + 1];
        size_t t;
        for (t = 0; t < ntab; t++)
            if (strlen(tab[t].name) == key->len && memcmp(tab[t].name, key->str, key->len) == 0)
                break;
        path_join(path, sizeof path, prefix, key->str, key->len);
        if (t == ntab)
            return yt_fail(v->e, key->line, "unknown key '%s'", path);
        seen[t] = true;
        if (set_one(v, &tab[t], val, base, path, key->line) < 0)
            return -1;
    }
    for (size_t t = 0; t < ntab; t++) {
        if (seen[t])
            continue;
        path_join(path, sizeof path, prefix, tab[t].name, strlen(tab[t].name));
        if (tab[t].flags & F_REQUIRED)
            return yt_fail(v->e, line, "missing required key '%s'", path);
        if (set_one(v, &tab[t], NULL, base, path, line) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* phase 3: post-checks across fields                                        */

static int tls_copy(vcx *v, conf_tls *dst, const conf_tls *src)
{
    dst->enabled = src->enabled;
    dst->verify_server_cert = src->verify_server_cert;
    if (set_str_field(v, &dst->ca, src->ca, 0) < 0 || set_str_field(v, &dst->cert, src->cert, 0) < 0 ||
        set_str_field(v, &dst->key, src->key, 0) < 0 || set_str_field(v, &dst->server_name, src->server_name, 0) < 0)
        return -1;
    return 0;
}

/* Defaults of an absent section, "auto" enabled, and the rules of conf.h. */
static int tls_check(vcx *v, conf_tls *t, const char *name)
{
    if (t->line == 0) {  /* section absent: TLS off */
        t->enabled = 0;
        t->verify_server_cert = 1;
        char **strs[] = {&t->ca, &t->cert, &t->key, &t->server_name};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
            if (*strs[i] == NULL && set_str_field(v, strs[i], "", 0) < 0)
                return -1;
        return 0;
    }
    if (t->server_name == NULL && set_str_field(v, &t->server_name, "", t->line) < 0)
        return -1;
    if (t->enabled < 0)
        t->enabled = t->ca[0] || t->cert[0] || t->key[0];
    if (!t->cert[0] != !t->key[0])
        return yt_fail(v->e, t->line, "%s.tls: cert and key go together (one of them is empty)", name);
    if (t->enabled && t->verify_server_cert && t->ca[0] == '\0')
        return yt_fail(v->e, t->line,
                       "%s.tls: verify_server_cert needs ca (the CA the server certificate must chain to); "
                       "set ca, or verify_server_cert: false", name);
    return 0;
}

/* password and password_file of one account: not both */
static int secret_check(vcx *v, const char *pw, const char *file, const char *name, int line)
{
    if (pw != NULL && pw[0] != '\0' && file != NULL && file[0] != '\0')
        return yt_fail(v->e, line, "%s.password and %s.password_file are exclusive (set one)", name, name);
    return 0;
}

/* "" or an absolute path without control bytes */
static int path_check(vcx *v, const char *name, const char *p)
{
    char vb[64];
    if (p[0] == '\0')
        return 0;
    for (const char *q = p; *q; q++)
        if ((unsigned char)*q < ' ' || *q == 0x7f)
            return yt_fail(v->e, v->tls_line, "%s: control character in a file path", name);
    if (p[0] != '/')
        return yt_fail(v->e, v->tls_line, "%s: '%s' is not an absolute path", name,
                       yt_show(p, strlen(p), vb, sizeof vb, 40));
    return 0;
}

/* listen / listen_tls / tls.*: at least one listener; HTTPS has its files */
static int http_check(vcx *v)
{
    const conf *c = v->c;
    if (path_check(v, "tls.cert", c->tls_cert) < 0 || path_check(v, "tls.key", c->tls_key) < 0 ||
        path_check(v, "tls.client_ca", c->tls_client_ca) < 0)
        return -1;
    bool https = c->listen_tls[0] != '\0';
    if (c->listen[0] == '\0' && !https)
        return yt_fail(v->e, v->listen_tls_line, "listen and listen_tls are both empty: no listener");
    if (https && (c->tls_cert[0] == '\0' || c->tls_key[0] == '\0'))
        return yt_fail(v->e, v->tls_line ? v->tls_line : v->listen_tls_line,
                       "listen_tls needs tls.cert and tls.key");
    if (!https && (c->tls_cert[0] || c->tls_key[0] || c->tls_client_ca[0]))
        return yt_fail(v->e, v->tls_line, "tls: files set but listen_tls is empty (no HTTPS listener)");
    if (https && strcmp(c->listen, c->listen_tls) == 0)
        return yt_fail(v->e, v->listen_tls_line, "listen_tls: same address as listen");
    return 0;
}

/*
 * What the product relies on in its Kafka clients, so kafka.producer and
 * kafka.consumer may not change it (spec §7): the relay deletes an outbox row
 * only after its delivery report, which must mean "stored on every in-sync
 * replica, once" (acks=all, idempotence); the mirror commits an offset itself,
 * only after the merchant-store commit, and a new consumer group must read the
 * topic from its start. Brokers and the group id have keys of their own.
 * allowed == NULL: the property may not be set there at all. Values compare
 * case-insensitively, as librdkafka reads them.
 */
static const char *const only_all[] = {"all", "-1", NULL};
static const char *const only_true[] = {"true", NULL};
static const char *const only_false[] = {"false", NULL};
static const char *const only_earliest[] = {"earliest", "smallest", "beginning", NULL};

static const struct kafka_rule {
    const char *section;          /* "producer" | "consumer" */
    const char *prop;
    const char *const *allowed;
    const char *why;
} kafka_rules[] = {
    {"producer", "acks", only_all, "the relay deletes an outbox row only after every in-sync replica has the event"},
    {"producer", "request.required.acks", only_all,
     "the relay deletes an outbox row only after every in-sync replica has the event"},
    {"producer", "enable.idempotence", only_true, "a retried send must not duplicate or reorder events"},
    {"producer", "transactional.id", NULL, "the relay does not use Kafka transactions"},
    {"producer", "bootstrap.servers", NULL, "set kafka.brokers"},
    {"producer", "metadata.broker.list", NULL, "set kafka.brokers"},
    {"consumer", "enable.auto.commit", only_false, "the mirror commits an offset only after the merchant-store commit"},
    {"consumer", "enable.auto.offset.store", only_false,
     "the mirror commits an offset only after the merchant-store commit"},
    {"consumer", "auto.offset.reset", only_earliest,
     "a new consumer group must read the topic from its start, or events are skipped"},
    {"consumer", "group.id", NULL, "set kafka.consumer_group"},
    {"consumer", "bootstrap.servers", NULL, "set kafka.brokers"},
    {"consumer", "metadata.broker.list", NULL, "set kafka.brokers"},
};

static int check_kafka_rules(vcx *v)
{
    const conf *c = v->c;
    for (size_t r = 0; r < sizeof kafka_rules / sizeof kafka_rules[0]; r++) {
        const struct kafka_rule *k = &kafka_rules[r];
        const conf_strmap *m = strcmp(k->section, "producer") == 0 ? &c->kafka_producer : &c->kafka_consumer;
        for (int i = 0; i < m->n; i++) {
            const conf_kv *e = &m->kv[i];
            if (strcmp(e->key, k->prop) != 0)
                continue;
            if (k->allowed == NULL)
                return yt_fail(v->e, e->line, "kafka.%s.%s: not allowed here: %s", k->section, k->prop, k->why);
            bool ok = false;
            char allowed[64] = "";
            for (size_t j = 0; k->allowed[j]; j++) {
                ok = ok || strcasecmp(e->val, k->allowed[j]) == 0;
                snprintf(allowed + strlen(allowed), sizeof allowed - strlen(allowed), "%s%s", j ? "|" : "",
                         k->allowed[j]);
            }
            if (!ok) {
                char vb[64];
                return yt_fail(v->e, e->line, "kafka.%s.%s: '%s' is refused (must be %s): %s", k->section, k->prop,
                            yt_show(e->val, strlen(e->val), vb, sizeof vb, 40), allowed, k->why);
            }
        }
    }
    return 0;
}

int post_check(vcx *v)
{
    conf *c = v->c;

    if (secret_check(v, c->db_password, c->db_password_file, "db", 0) < 0 ||
        secret_check(v, c->merchant_password, c->merchant_password_file, "merchant_db", 0) < 0 ||
        secret_check(v, c->redis_password, c->redis_password_file, "redis", 0) < 0)
        return -1;
    if (http_check(v) < 0)
        return -1;
    /* merchant_db uses the application account unless told otherwise: its
     * password (from the text or the same file) and its TLS settings */
    if (c->merchant_user == NULL && set_str_field(v, &c->merchant_user, c->db_user, 0) < 0)
        return -1;
    if (c->merchant_password == NULL && c->merchant_password_file == NULL) {
        if (set_str_field(v, &c->merchant_password, c->db_password, 0) < 0 ||
            set_str_field(v, &c->merchant_password_file, c->db_password_file, 0) < 0)
            return -1;
    }
    if (c->merchant_password == NULL && set_str_field(v, &c->merchant_password, "", 0) < 0)
        return -1;
    if (c->merchant_password_file == NULL && set_str_field(v, &c->merchant_password_file, "", 0) < 0)
        return -1;
    if (tls_check(v, &c->db_tls, "db") < 0 || tls_check(v, &c->redis_tls, "redis") < 0)
        return -1;
    if (c->merchant_tls.line == 0) {
        if (tls_copy(v, &c->merchant_tls, &c->db_tls) < 0)
            return -1;
    } else if (tls_check(v, &c->merchant_tls, "merchant_db") < 0) {
        return -1;
    }
    if (check_kafka_rules(v) < 0)
        return -1;

    int in_service = 0, nactive = 0, active_weight = 0, first_active = 0;
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        for (int j = 0; j < i; j++)
            if (c->groups[j].id == g->id)
                return yt_fail(v->e, g->line, "groups[%d]: duplicate group id %d (first on line %d)", i,
                            g->id, c->groups[j].line);
        if (g->state == GROUP_RETIRED) {
            if (g->alias_of == 0)
                return yt_fail(v->e, g->line,
                            "group %d: a retired group needs alias_of (the group that now holds its rows)",
                            g->id);
            continue;
        }
        in_service++;
        if (g->alias_of != 0)
            return yt_fail(v->e, g->line, "group %d: alias_of is only allowed on a retired group (state is %s)",
                        g->id, conf_group_state_name(g->state));
        if (g->primary == NULL)
            return yt_fail(v->e, g->line, "group %d: missing required key 'primary'", g->id);
        if (g->state == GROUP_ACTIVE) {
            if (nactive++ == 0)
                first_active = g->line;
            active_weight += g->weight;
        }
    }
    if (in_service == 0)
        return yt_fail(v->e, v->groups_line, "groups: every group is retired; at least one must be in service");
    /* weight 0 is a ramp start for one group; all active groups at 0 would
     * silently refuse every create */
    if (nactive > 0 && active_weight == 0)
        return yt_fail(v->e, first_active, "groups: every active group has weight 0; no group would take new orders");

    /* alias targets exist and every chain ends at a group in service */
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        if (g->alias_of == 0)
            continue;
        if (conf_group_by_id(c, g->alias_of) == NULL)
            return yt_fail(v->e, g->line, "group %d: alias_of %d: no such group", g->id, g->alias_of);
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
                return yt_fail(v->e, g->line, "group %d: alias chain %s is a cycle", g->id, chain);
            seen[next] = true;
            h = conf_group_by_id(c, next);  /* NULL: reported at that group's own entry */
        }
    }

    /* a former primary is never written again: it cannot also be the primary
     * or a replica (rejoin moves it out of former_primaries first) */
    for (int i = 0; i < c->ngroups; i++) {
        const conf_group *g = &c->groups[i];
        for (int f = 0; f < g->nformer; f++) {
            bool clash = g->primary != NULL && strcmp(g->former[f], g->primary) == 0;
            for (int r = 0; r < g->nreplicas && !clash; r++)
                clash = strcmp(g->former[f], g->replicas[r]) == 0;
            if (clash)
                return yt_fail(v->e, g->line, "group %d: former primary %s is also its primary or a replica",
                               g->id, g->former[f]);
        }
    }
    if (c->failover_auto && (c->failover_admin_user[0] == '\0' || c->failover_admin_password_file[0] == '\0'))
        return yt_fail(v->e, v->groups_line,
                       "failover.auto: needs failover.admin_user and failover.admin_password_file");

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
                    return yt_fail(v->e, g->line, "group %d: address %s is listed twice", g->id, addr[a]);
            for (int j = 0; j < i; j++) {
                const conf_group *o = &c->groups[j];
                if (o->state == GROUP_RETIRED)
                    continue;
                bool same = strcmp(addr[a], o->primary) == 0;
                for (int r = 0; r < o->nreplicas && !same; r++)
                    same = strcmp(addr[a], o->replicas[r]) == 0;
                if (same)
                    return yt_fail(v->e, g->line, "group %d: address %s is already used by group %d (line %d)",
                                g->id, addr[a], o->id, o->line);
            }
        }
    }
    return 0;
}

