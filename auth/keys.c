/*
 * auth/keys.c — the caller key file (spec §10): parse, validate, look up.
 * The YAML tree comes from config/yamltree.c (same line-numbered errors as
 * the config). Every field is checked; a bad file is refused whole.
 */
#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config/yamltree.h"
#include "order/order.h"

#define KEYFILE_MAX (1024 * 1024)

static const char *const role_names[ROLE_MAX] = {"cashier", "backoffice", "admin", "observer"};

const char *auth_role_name(auth_role r) { return (int)r >= 0 && r < ROLE_MAX ? role_names[r] : "?"; }

void auth_keys_free(auth_keys *k)
{
    if (k == NULL)
        return;
    if (k->keys) {
        OPENSSL_cleanse(k->keys, sizeof *k->keys * (size_t)k->n);
        free(k->keys);
    }
    free(k);
}

static bool id_ok(const char *s, size_t n, size_t max)
{
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-'))
            return false;
    }
    return true;
}

static bool merchant_ok(const char *s, size_t n)
{
    if (n < 1 || n > AUTH_MERCHANT_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* One key mapping -> k. */
static int parse_key(errsink *e, const cnode *m, auth_key *k, int idx)
{
    char shown[80];
    memset(k, 0, sizeof *k);
    k->line = m->line;
    if (m->kind != CN_MAP)
        return yt_fail(e, m->line, "keys[%d]: expected a mapping, got %s", idx, yt_what(m));
    bool have_id = false, have_secret = false, have_role = false, have_merchants = false;
    for (size_t i = 0; i + 1 < m->nkid; i += 2) {
        const cnode *key = m->kid[i], *val = m->kid[i + 1];
        const char *name = key->str;
        if (strcmp(name, "merchants") == 0) {
            if (val->kind != CN_SEQ || val->nkid == 0)
                return yt_fail(e, val->line, "keys[%d].merchants: expected a non-empty list", idx);
            if (val->nkid > AUTH_MERCHANTS_MAX)
                return yt_fail(e, val->line, "keys[%d].merchants: at most %d", idx, AUTH_MERCHANTS_MAX);
            for (size_t j = 0; j < val->nkid; j++) {
                const cnode *it = val->kid[j];
                if (it->kind != CN_SCALAR)
                    return yt_fail(e, it->line, "keys[%d].merchants[%zu]: expected a string", idx, j);
                if (strcmp(it->str, "*") == 0) {
                    if (val->nkid != 1)
                        return yt_fail(e, it->line, "keys[%d].merchants: \"*\" must be alone", idx);
                    k->all_merchants = true;
                    continue;
                }
                if (!merchant_ok(it->str, it->len))
                    return yt_fail(e, it->line, "keys[%d].merchants[%zu]: bad merchant id '%s'", idx, j,
                                   yt_show(it->str, it->len, shown, sizeof shown, 40));
                sk_strlcpy(k->merchants[k->nmerchants++], it->str, AUTH_MERCHANT_MAX + 1);
            }
            have_merchants = true;
            continue;
        }
        if (val->kind != CN_SCALAR)
            return yt_fail(e, val->line, "keys[%d].%s: expected a string", idx, name);
        if (strcmp(name, "id") == 0) {
            if (!id_ok(val->str, val->len, AUTH_ID_MAX))
                return yt_fail(e, val->line, "keys[%d].id: must match [A-Za-z0-9_.-]{1,64}", idx);
            sk_strlcpy(k->id, val->str, sizeof k->id);
            have_id = true;
        } else if (strcmp(name, "caller") == 0) {
            if (!id_ok(val->str, val->len, AUTH_ID_MAX))
                return yt_fail(e, val->line, "keys[%d].caller: must match [A-Za-z0-9_.-]{1,64}", idx);
            sk_strlcpy(k->caller, val->str, sizeof k->caller);
        } else if (strcmp(name, "secret") == 0) {
            int n = auth_b64_decode(val->str, val->len, k->secret, sizeof k->secret);
            if (n < 0)
                return yt_fail(e, val->line, "keys[%d].secret: not base64", idx);
            if (n < AUTH_SECRET_MIN)
                return yt_fail(e, val->line, "keys[%d].secret: %d bytes; at least %d random bytes are required", idx,
                               n, AUTH_SECRET_MIN);
            k->secret_len = (size_t)n;
            have_secret = true;
        } else if (strcmp(name, "role") == 0) {
            int r = -1;
            for (int j = 0; j < ROLE_MAX; j++)
                if (strcmp(val->str, role_names[j]) == 0)
                    r = j;
            if (r < 0)
                return yt_fail(e, val->line, "keys[%d].role: must be cashier, backoffice, admin or observer", idx);
            k->role = (auth_role)r;
            have_role = true;
        } else if (strcmp(name, "not_after") == 0) {
            int64_t ms;
            if (ord_parse_time(val->str, &ms) != 0)
                return yt_fail(e, val->line, "keys[%d].not_after: expected RFC 3339 UTC like 2027-01-31T00:00:00Z",
                               idx);
            k->not_after_s = ms / 1000;
        } else {
            return yt_fail(e, key->line, "keys[%d]: unknown key '%s'", idx,
                           yt_show(name, key->len, shown, sizeof shown, 40));
        }
    }
    if (!have_id)
        return yt_fail(e, m->line, "keys[%d]: missing required key 'id'", idx);
    if (!have_secret)
        return yt_fail(e, m->line, "keys[%d] (%s): missing required key 'secret'", idx, k->id);
    if (!have_role)
        return yt_fail(e, m->line, "keys[%d] (%s): missing required key 'role'", idx, k->id);
    if (!have_merchants)
        return yt_fail(e, m->line, "keys[%d] (%s): missing required key 'merchants' (a list, or [\"*\"])", idx, k->id);
    if (k->caller[0] == '\0')
        sk_strlcpy(k->caller, k->id, sizeof k->caller);
    return 0;
}

static bool live(const auth_key *k, int64_t now_s) { return k->not_after_s == 0 || now_s < k->not_after_s; }

auth_keys *auth_keys_parse(const char *name, const char *text, size_t len, int64_t now_s, char *err, size_t cap)
{
    errsink e = {.name = name, .buf = err, .cap = cap};
    if (err && cap)
        err[0] = '\0';
    cnode *root = NULL;
    if (yt_parse(&e, text, len, &root) != 0)
        return NULL;
    auth_keys *ks = calloc(1, sizeof *ks);
    const cnode *list = NULL;
    if (ks == NULL) {
        yt_fail(&e, 0, "out of memory");
        goto fail;
    }
    if (root == NULL || root->kind != CN_MAP) {
        yt_fail(&e, root ? root->line : 0, "expected a mapping with a 'keys' list");
        goto fail;
    }
    for (size_t i = 0; i + 1 < root->nkid; i += 2) {
        if (strcmp(root->kid[i]->str, "keys") != 0) {
            yt_fail(&e, root->kid[i]->line, "unknown key '%s' (only 'keys')", root->kid[i]->str);
            goto fail;
        }
        list = root->kid[i + 1];
    }
    if (list == NULL || list->kind != CN_SEQ || list->nkid == 0) {
        yt_fail(&e, list ? list->line : root->line, "'keys' must be a non-empty list");
        goto fail;
    }
    if (list->nkid > AUTH_KEYS_MAX) {
        yt_fail(&e, list->line, "at most %d keys", AUTH_KEYS_MAX);
        goto fail;
    }
    ks->keys = calloc(list->nkid, sizeof *ks->keys);
    if (ks->keys == NULL) {
        yt_fail(&e, 0, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < list->nkid; i++) {
        auth_key *k = &ks->keys[ks->n];
        if (parse_key(&e, list->kid[i], k, (int)i) != 0)
            goto fail;
        for (int j = 0; j < ks->n; j++)
            if (strcmp(ks->keys[j].id, k->id) == 0) {
                yt_fail(&e, k->line, "keys[%zu]: duplicate id '%s' (first on line %d)", i, k->id, ks->keys[j].line);
                goto fail;
            }
        ks->n++;
    }
    /* rotation: at most two live keys per caller */
    for (int i = 0; i < ks->n; i++) {
        if (!live(&ks->keys[i], now_s))
            continue;
        int n = 0;
        for (int j = 0; j < ks->n; j++)
            if (live(&ks->keys[j], now_s) && strcmp(ks->keys[j].caller, ks->keys[i].caller) == 0)
                n++;
        if (n > 2) {
            yt_fail(&e, ks->keys[i].line, "caller '%s' has %d live keys; at most two (the old and the new) may be live",
                    ks->keys[i].caller, n);
            goto fail;
        }
    }
    yt_free(root);
    return ks;
fail:
    yt_free(root);
    auth_keys_free(ks);
    return NULL;
}

auth_keys *auth_keys_load(const char *path, int64_t now_s, char *err, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, cap, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, cap, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(err, cap, "%s: mode %04o: a key file must not be readable or writable by group or others (chmod 600)",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return NULL;
    }
    if (st.st_size > KEYFILE_MAX) {
        snprintf(err, cap, "%s: larger than %d bytes", path, KEYFILE_MAX);
        close(fd);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (buf == NULL || got != (size_t)st.st_size) {
        free(buf);
        snprintf(err, cap, "%s: read failed", path);
        return NULL;
    }
    buf[got] = '\0';
    auth_keys *k = auth_keys_parse(path, buf, got, now_s, err, cap);
    OPENSSL_cleanse(buf, got);
    free(buf);
    return k;
}

const auth_key *auth_key_find(const auth_keys *ks, const char *id, int64_t now_s)
{
    if (ks == NULL)
        return NULL;
    for (int i = 0; i < ks->n; i++)
        if (strcmp(ks->keys[i].id, id) == 0)
            return live(&ks->keys[i], now_s) ? &ks->keys[i] : NULL;
    return NULL;
}

bool auth_merchant_allowed(const auth_key *k, const char *merchant_id)
{
    if (k->all_merchants)
        return true;
    for (int i = 0; i < k->nmerchants; i++)
        if (strcmp(k->merchants[i], merchant_id) == 0)
            return true;
    return false;
}

/* The role x route table of spec §10 (terminal routes: §11). */
bool auth_role_allows(auth_role r, met_route route)
{
    switch (route) {
    case RT_HEALTHZ:
    case RT_READYZ:
    case RT_METRICS: return true;                                  /* unauthenticated anyway */
    case RT_GROUPS: return r == ROLE_ADMIN || r == ROLE_OBSERVER;
    case RT_FENCE:
    case RT_UNFENCE:
    case RT_RELOAD: return r == ROLE_ADMIN;
    case RT_CREATE:
    case RT_PAY: return r == ROLE_CASHIER || r == ROLE_ADMIN;
    case RT_GET:
    case RT_CLOSE:
    case RT_REFUND:
    case RT_REFUND_LIST: return r == ROLE_CASHIER || r == ROLE_BACKOFFICE || r == ROLE_ADMIN;
    case RT_MERCHANT_ORDERS: return r == ROLE_BACKOFFICE || r == ROLE_ADMIN;
    /* §11: the back office registers, blocks, re-codes, retires and lists
     * terminals; a cashier activates its own and may look one up */
    case RT_TERMINAL_REGISTER:
    case RT_TERMINAL_BLOCK:
    case RT_TERMINAL_UNBLOCK:
    case RT_TERMINAL_CODE:
    case RT_TERMINAL_RETIRE:
    case RT_MERCHANT_TERMINALS: return r == ROLE_BACKOFFICE || r == ROLE_ADMIN;
    case RT_TERMINAL_ACTIVATE: return r == ROLE_CASHIER || r == ROLE_ADMIN;
    case RT_TERMINAL_GET: return r == ROLE_CASHIER || r == ROLE_BACKOFFICE || r == ROLE_ADMIN;
    case RT_AUDIT_EVENTS: return r == ROLE_ADMIN;
    default: return false;
    }
}
