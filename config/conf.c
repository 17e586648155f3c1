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
 * Files: conf.c (this one: the public API, reading the file, the I/O phase
 * of secret and TLS files), conf_schema.c (the key tables and the
 * per-section parsers), conf_validate.c (the table-driven validation of
 * phase 2, defaults, and the post-checks of phase 3).
 * Phase 1 lives in config/yamltree.c.
 *
 * Pure: conf_load_string() does no I/O. conf_load() reads the file, then
 * (conf_load_files) the password files it names, and checks the TLS files
 * (backends' and the HTTPS listener's: readable; keys secret).
 * A loaded conf is immutable and owns all its strings (conf_free()).
 * Every char * field of a successfully loaded conf is non-NULL, except
 * conf_group.primary of a retired group that has none.
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

#define CONF_FILE_MAX  (1024 * 1024) /* a config is a few KB; also stops /dev/zero */

/* ------------------------------------------------------------------------ */
/* public API                                                                */

conf *conf_load_string(const char *name, const char *text, size_t len, char *err, size_t errcap)
{
    errsink e = {.name = name ? name : "(config)", .buf = err, .cap = errcap};
    cnode *root = NULL;
    conf *c = NULL;

    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (yt_parse(&e, text, len, &root) < 0)
        return NULL;
    c = calloc(1, sizeof *c);
    if (c == NULL || (c->path = strdup(e.name)) == NULL) {
        yt_fail(&e, 0, "out of memory");
        goto bad;
    }
    vcx v = {.e = &e, .c = c};
    int rootline = root ? root->line : 1;
    if (root != NULL && root->kind != CN_MAP && !is_null_scalar(root)) {
        yt_fail(&e, root->line, "top level must be a mapping of keys, got %s", yt_what(root));
        goto bad;
    }
    if (apply_map(&v, top_tab, root && root->kind == CN_MAP ? root : NULL, rootline, c, "") < 0)
        goto bad;
    if (post_check(&v) < 0)
        goto bad;
    yt_free(root);
    return c;
bad:
    yt_free(root);
    conf_free(c);
    return NULL;
}

/* The HTTPS files: readable; the private key a regular file that group and
 * others cannot access (the daemon refuses to start otherwise). */
static int tls_files_check(errsink *e, const conf *c)
{
    const char *keys[] = {"tls.cert", "tls.key", "tls.client_ca"};
    const char *files[] = {c->tls_cert, c->tls_key, c->tls_client_ca};
    for (int i = 0; i < 3; i++) {
        if (files[i][0] == '\0')
            continue;
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return yt_fail(e, 0, "%s: cannot open %s: %s", keys[i], files[i], strerror(errno));
        struct stat st;
        int rc = 0;
        if (fstat(fd, &st) != 0)
            rc = yt_fail(e, 0, "%s: %s: %s", keys[i], files[i], strerror(errno));
        else if (!S_ISREG(st.st_mode))
            rc = yt_fail(e, 0, "%s: %s: not a regular file", keys[i], files[i]);
        else if (i == 1 && (st.st_mode & 077) != 0)
            rc = yt_fail(e, 0, "%s: %s: mode %04o lets group or others read the private key; chmod 600 it",
                         keys[i], files[i], (unsigned)(st.st_mode & 07777));
        close(fd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

conf *conf_load(const char *path, char *err, size_t errcap)
{
    errsink e = {.name = path ? path : "(null)", .buf = err, .cap = errcap};
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (path == NULL) {
        yt_fail(&e, 0, "cannot open: %s", strerror(EINVAL));
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        yt_fail(&e, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    char *buf = malloc(CONF_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        yt_fail(&e, 0, "out of memory");
        return NULL;
    }
    size_t n = fread(buf, 1, CONF_FILE_MAX + 1, f);
    int rerr = ferror(f) ? errno : 0;
    fclose(f);
    conf *c = NULL;
    if (rerr != 0)
        yt_fail(&e, 0, "cannot read: %s", strerror(rerr));
    else if (n > CONF_FILE_MAX)
        yt_fail(&e, 0, "file too large (more than %d bytes)", CONF_FILE_MAX);
    else
        c = conf_load_string(path, buf, n, err, errcap);
    free(buf);
    if (c != NULL && (conf_load_files(c, err, errcap) < 0 || tls_files_check(&e, c) < 0)) {
        conf_free(c);
        return NULL;
    }
    if (c != NULL) {
        char terr[256];
        if ((c->refunds_tz = tz_load(c->refunds_timezone, terr, sizeof terr)) == NULL) {
            yt_fail(&e, c->refunds_timezone_line, "refunds.timezone: %s", terr);
            conf_free(c);
            return NULL;
        }
    }
    return c;
}

/* ------------------------------------------------------------------------ */
/* the I/O phase: secret files                                               */

/* A secret file (private key, password file): a regular file that group and
 * others cannot access at all. */
static int secret_mode_ok(errsink *e, const char *key, const char *file, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return yt_fail(e, 0, "%s: %s: %s", key, file, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return yt_fail(e, 0, "%s: %s: not a regular file", key, file);
    if ((st.st_mode & 077) != 0)
        return yt_fail(e, 0, "%s: %s: mode %04o lets group or others read a secret; chmod 600 it", key, file,
                       (unsigned)(st.st_mode & 07777));
    return 0;
}

/* Read a password file into *dst: at most CONF_STR_MAX bytes, one trailing
 * "\n" or "\r\n" dropped, no other control byte allowed, not empty. */
static int read_password(errsink *e, const char *key, const char *file, char **dst)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);  /* symlinks allowed: mounted secrets are links */
    if (fd < 0)
        return yt_fail(e, 0, "%s: cannot open %s: %s", key, file, strerror(errno));
    char buf[CONF_STR_MAX + 2];
    size_t n = 0;
    int rc = secret_mode_ok(e, key, file, fd);
    while (rc == 0 && n < sizeof buf) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = yt_fail(e, 0, "%s: cannot read %s: %s", key, file, strerror(errno));
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (rc < 0)
        return -1;
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n > CONF_STR_MAX)
        return yt_fail(e, 0, "%s: %s: longer than %d bytes", key, file, CONF_STR_MAX);
    if (n == 0)
        return yt_fail(e, 0, "%s: %s is empty", key, file);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f)
            return yt_fail(e, 0, "%s: %s: control character in the password", key, file);
    char *p = strndup(buf, n);
    explicit_bzero(buf, sizeof buf);
    if (p == NULL)
        return yt_fail(e, 0, "out of memory");
    if (*dst != NULL)
        explicit_bzero(*dst, strlen(*dst));
    free(*dst);
    *dst = p;
    return 0;
}

/* ca/cert: readable; key: readable and a secret */
static int check_tls_files(errsink *e, const conf_tls *t, const char *name)
{
    if (!t->enabled)
        return 0;
    const char *files[] = {t->ca, t->cert, t->key};
    const char *keys[] = {"ca", "cert", "key"};
    for (int i = 0; i < 3; i++) {
        if (files[i][0] == '\0')
            continue;
        char key[64];
        snprintf(key, sizeof key, "%s.tls.%s", name, keys[i]);
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return yt_fail(e, 0, "%s: cannot open %s: %s", key, files[i], strerror(errno));
        int rc = i == 2 ? secret_mode_ok(e, key, files[i], fd) : 0;
        close(fd);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int conf_load_files(conf *c, char *err, size_t errcap)
{
    errsink e = {.name = c && c->path ? c->path : "(config)", .buf = err, .cap = errcap};
    if (err != NULL && errcap > 0)
        err[0] = '\0';
    if (c == NULL)
        return yt_fail(&e, 0, "no config");
    struct {
        const char *key, *file;
        char **dst;
    } pw[] = {
        {"db.password_file", c->db_password_file, &c->db_password},
        {"merchant_db.password_file", c->merchant_password_file, &c->merchant_password},
        {"redis.password_file", c->redis_password_file, &c->redis_password},
        {"kafka.event_key_file", c->kafka_event_key_file, &c->kafka_event_key},
        {"kafka.event_key_previous_file", c->kafka_event_key_prev_file, &c->kafka_event_key_prev},
    };
    for (size_t i = 0; i < sizeof pw / sizeof pw[0]; i++)
        if (pw[i].file != NULL && pw[i].file[0] != '\0' && read_password(&e, pw[i].key, pw[i].file, pw[i].dst) < 0)
            return -1;
    if (check_tls_files(&e, &c->db_tls, "db") < 0 || check_tls_files(&e, &c->merchant_tls, "merchant_db") < 0 ||
        check_tls_files(&e, &c->redis_tls, "redis") < 0)
        return -1;
    return 0;
}

int conf_event_key_check(const conf *c, char *err, size_t errcap)
{
    const char *path = c->path ? c->path : "(config)";
    const char *cur = c->kafka_event_key ? c->kafka_event_key : "";
    const char *prev = c->kafka_event_key_prev ? c->kafka_event_key_prev : "";
    if (cur[0] == '\0' && strcmp(c->auth_mode, "on") == 0) {
        snprintf(err, errcap, "%s: kafka.event_key_file is required while auth.mode is on (the default): "
                              "order events are signed with it (docs/security.md)", path);
        return -1;
    }
    if (cur[0] == '\0' && prev[0] != '\0') {
        snprintf(err, errcap, "%s: kafka.event_key_previous_file without kafka.event_key_file", path);
        return -1;
    }
    if ((cur[0] != '\0' && strlen(cur) < 32) || (prev[0] != '\0' && strlen(prev) < 32)) {
        snprintf(err, errcap, "%s: kafka.event_key%s_file: shorter than 32 bytes (make one with "
                              "`openssl rand -base64 48`)", path, cur[0] != '\0' && strlen(cur) < 32 ? "" : "_previous");
        return -1;
    }
    if (cur[0] != '\0' && strcmp(cur, prev) == 0) {
        snprintf(err, errcap, "%s: kafka.event_key_previous_file holds the same key as kafka.event_key_file", path);
        return -1;
    }
    return 0;
}

void conf_free(conf *c)
{
    if (c == NULL)
        return;
    char **strs[] = {
        &c->path, &c->listen, &c->listen_tls, &c->tls_cert, &c->tls_key, &c->tls_client_ca,
        &c->auth_mode, &c->auth_keys_file, &c->log_level,
        &c->db_name, &c->db_user, &c->db_password, &c->db_password_file, &c->redis_addr,
        &c->redis_username, &c->redis_password, &c->redis_password_file,
        &c->kafka_brokers, &c->kafka_topic, &c->kafka_group,
        &c->kafka_event_key_file, &c->kafka_event_key_prev_file, &c->kafka_event_key, &c->kafka_event_key_prev,
        &c->merchant_addr, &c->merchant_db_name, &c->merchant_user, &c->merchant_password,
        &c->merchant_password_file,
        &c->refunds_timezone,
        &c->failover_admin_user, &c->failover_admin_password_file, &c->failover_daemons, &c->failover_skipctl,
    };
    tz_free(c->refunds_tz);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    conf_tls *tls[] = {&c->db_tls, &c->merchant_tls, &c->redis_tls};
    for (size_t i = 0; i < sizeof tls / sizeof tls[0]; i++) {
        free(tls[i]->ca);
        free(tls[i]->cert);
        free(tls[i]->key);
        free(tls[i]->server_name);
    }
    conf_strmap *maps[] = {&c->kafka_producer, &c->kafka_consumer};
    for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
        for (int j = 0; j < maps[i]->n; j++) {
            free(maps[i]->kv[j].key);
            free(maps[i]->kv[j].val);
        }
        free(maps[i]->kv);
    }
    /* all slots: a failed load may have filled part of an entry past ngroups */
    for (int i = 0; i < CONF_MAX_GROUPS; i++) {
        free(c->groups[i].primary);
        for (int r = 0; r < CONF_MAX_REPLICAS; r++) {
            free(c->groups[i].replicas[r]);
            free(c->groups[i].former[r]);
        }
    }
    free(c);
}

const char *conf_strmap_get(const conf_strmap *m, const char *key)
{
    for (int i = 0; m != NULL && key != NULL && i < m->n; i++)
        if (strcmp(m->kv[i].key, key) == 0)
            return m->kv[i].val;
    return NULL;
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

int conf_routed_ids(const conf *c, int g, int ids[CONF_MAX_GROUPS])
{
    int n = 0;
    for (int i = 0; i < c->ngroups && n < CONF_MAX_GROUPS; i++)
        if (c->groups[i].id == g || conf_route_group(c, c->groups[i].id) == g)
            ids[n++] = c->groups[i].id;
    if (n == 0)
        ids[n++] = g;
    return n;
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
