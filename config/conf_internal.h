/*
 * config/conf_internal.h — what the files of the config loader share
 * (conf.c, conf_schema.c, conf_validate.c): the key spec of phase 2 and the
 * validation context. Not a public header: the contract is config/conf.h.
 */
#ifndef CONFIG_CONF_INTERNAL_H
#define CONFIG_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "config/conf.h"
#include "config/yamltree.h"

typedef struct {
    errsink *e;
    conf *c;
    int groups_line;   /* line of the `groups:` key, for group-set messages */
    int tls_line;      /* line of the `tls:` key (0: absent) */
    int listen_tls_line;
} vcx;

typedef enum {
    K_INT,       /* plain decimal integer in [min, max] -> int */
    K_STR,       /* string -> char * */
    K_HOSTPORT,  /* "host:port" (sk_parse_hostport) -> char * */
    K_HOSTLIST,  /* "host:port[,host:port...]" -> char * */
    K_ENUM,      /* one of enums[] -> char * */
    K_BOOL,      /* plain true|false -> int 0/1; the default (idef) may be -1 = "decide later" */
    K_PATH,      /* "" or an absolute file path (< CONF_PATH_MAX bytes) -> char * */
    K_STRMAP,    /* mapping of name -> scalar text, at most max entries -> conf_strmap */
    K_SECTION,   /* nested mapping validated against sub[] (same base) */
    K_CUSTOM,    /* set() does it all, including the default */
} ktype;

enum {
    F_REQUIRED = 1 << 0,  /* absent -> "missing required key" */
    F_NONEMPTY = 1 << 1,  /* "" is an error */
    F_EMPTY_OK = 1 << 2,  /* K_HOSTPORT: "" is allowed (= off) */
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


/* conf_schema.c: the top-level table (every section hangs off it) */
extern const kspec top_tab[];

/* conf_validate.c: phase 2 (the first error wins: -1 after yt_fail) */
void path_join(char *out, size_t cap, const char *prefix, const char *key, size_t klen);
bool is_null_scalar(const cnode *n);
/* The value as a string, or NULL after reporting why it cannot be one. */
const char *scalar_text(vcx *v, const cnode *val, const char *path, const char *want, int keyline);
/* sk_parse_hostport plus what it lets through: whitespace, "+80", " 80". */
bool hostport_ok(const char *s, size_t len);
int set_str_field(vcx *v, char **dst, const char *s, int line);
int set_one(vcx *v, const kspec *k, const cnode *val, void *base, const char *path, int keyline);
/* Validate `map` (NULL = section absent: defaults only) against `tab`. */
int apply_map(vcx *v, const kspec *tab, const cnode *map, int line, void *base, const char *prefix);

/* conf_validate.c: phase 3, rules across fields */
int post_check(vcx *v);

#endif
