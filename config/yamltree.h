/*
 * config/yamltree.h — phase 1 of the config loader (config/conf.c): libyaml
 * events -> a small node tree that keeps the 1-based line of every key and
 * value, plus the first-error sink every phase reports into. Internal to
 * config/; pure (no I/O).
 */
#ifndef CONFIG_YAMLTREE_H
#define CONFIG_YAMLTREE_H

#include <stdbool.h>
#include <stddef.h>
#include "common/sk.h"

#define CONF_STR_MAX   4096          /* longest string value accepted */
#define CONF_DEPTH_MAX 32            /* our schema is 4 deep */
#define CONF_NODES_MAX 100000
#define CONF_KEYS_MAX  1024          /* per mapping; keeps the duplicate check cheap */
#define PATH_MAX_LEN   256           /* "groups[12].replicas[3]" and friends */

typedef struct {
    const char *name;  /* file name used in messages */
    char *buf;         /* caller's buffer, may be NULL */
    size_t cap;
    bool failed;
} errsink;

/* Record the first error only ("NAME:LINE: message"); always returns -1 so
 * callers can `return yt_fail(...)`. */
int yt_fail(errsink *e, int line, const char *fmt, ...) SK_PRINTF(3, 4);

/* Printable, bounded rendering of user text for messages: control bytes
 * become '?', more than `max` bytes are cut with "...". Returns buf. */
const char *yt_show(const char *s, size_t len, char *buf, size_t cap, size_t max);

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

/* "a mapping", "a list", "a string" ... for messages. */
const char *yt_what(const cnode *n);
void yt_free(cnode *n);

/* Parse text into a tree: 0 and the tree (NULL for an empty stream), or -1
 * with the error recorded in e. Rejects syntax errors, duplicate keys,
 * non-scalar keys, anchors/aliases, tags, several documents and absurd
 * shapes (deep nesting, huge mappings). */
int yt_parse(errsink *e, const char *text, size_t len, cnode **out);

#endif
