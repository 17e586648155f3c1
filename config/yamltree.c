/*
 * config/yamltree.c — phase 1 of the config loader; see yamltree.h.
 */
#include "config/yamltree.h"
#include "common/utf8.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* ------------------------------------------------------------------------ */
/* errors                                                                    */

/* Record the first error only; always returns -1 so callers can `return yt_fail(...)`. */
int yt_fail(errsink *e, int line, const char *fmt, ...)
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
    /* a message cut by the buffer ends on a whole character (fuzz_conf: a
     * listen address with a CJK character cut at 24 bytes) */
    e->buf[utf8_valid_prefix(e->buf, strlen(e->buf))] = '\0';
    return -1;
}

/* Printable, bounded rendering of user text for messages: control bytes and
 * bytes that are not UTF-8 become '?', more than `max` bytes are cut with
 * "..." — on a character boundary, so the message stays valid UTF-8 (fuzz_conf
 * found a cut through an em dash). */
const char *yt_show(const char *s, size_t len, char *buf, size_t cap, size_t max)
{
    size_t o = 0, full = len;
    bool cut = len > max;
    if (cut)
        len = max;
    if (cap == 0)
        return buf;
    for (size_t i = 0; i < len;) {
        const unsigned char *p = (const unsigned char *)s + i;
        size_t n = utf8_char_len(p, len - i);
        if (n == 0 && cut && utf8_char_len(p, full - i) > 0)
            break; /* a character cut by `max`: end before it */
        if (n <= 1) {
            if (o + 4 >= cap)
                break;
            buf[o++] = (n == 0 || *p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
            i++;
            continue;
        }
        if (o + n + 3 >= cap)
            break;
        memcpy(buf + o, p, n);
        o += n;
        i += n;
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


const char *yt_what(const cnode *n)
{
    switch (n->kind) {
    case CN_MAP: return "a mapping";
    case CN_SEQ: return "a list";
    default: return "a scalar";
    }
}

/* Depth is bounded by CONF_DEPTH_MAX, so recursion is safe. */
void yt_free(cnode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nkid; i++)
        yt_free(n->kid[i]);
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
            n = snprintf(out + o, cap - o, "%s%s", o ? "." : "", yt_show(k->str, k->len, kb, sizeof kb, 40));
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
            yt_free(n);
            return yt_fail(p->e, line, "mapping keys must be scalars");
        }
        if (parent->nkid / 2 >= CONF_KEYS_MAX) {
            int line = n->line;
            yt_free(n);
            return yt_fail(p->e, line, "more than %d keys in one mapping", CONF_KEYS_MAX);
        }
    }
    if (parent->nkid == parent->capkid) {
        size_t nc = parent->capkid ? parent->capkid * 2 : 8;
        cnode **k = realloc(parent->kid, nc * sizeof *k);
        if (k == NULL) {
            yt_free(n);
            return yt_fail(p->e, 0, "out of memory");
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
        yt_fail(p->e, line, "document too large (more than %d nodes)", CONF_NODES_MAX);
        return NULL;
    }
    cnode *n = calloc(1, sizeof *n);
    if (n == NULL) {
        yt_fail(p->e, 0, "out of memory");
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
                return yt_fail(p->e, ki->line, "duplicate key '%s%s%s' (first on line %d)", path,
                            path[0] ? "." : "", yt_show(ki->str, ki->len, kb, sizeof kb, 40),
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
            return yt_fail(p->e, line, "only one YAML document is allowed");
        return 0;
    case YAML_ALIAS_EVENT:
        return yt_fail(p->e, line, "aliases are not supported");
    case YAML_SCALAR_EVENT:
        if (ev->data.scalar.anchor != NULL)
            return yt_fail(p->e, line, "anchors are not supported");
        if (ev->data.scalar.tag != NULL)
            return yt_fail(p->e, line, "tags are not supported");
        if ((n = new_node(p, CN_SCALAR, line)) == NULL)
            return -1;
        n->len = ev->data.scalar.length;
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        n->str = malloc(n->len + 1);
        if (n->str == NULL) {
            yt_free(n);
            return yt_fail(p->e, 0, "out of memory");
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
            return yt_fail(p->e, line, "anchors are not supported");
        if (tag != NULL)
            return yt_fail(p->e, line, "tags are not supported");
        if (p->depth >= CONF_DEPTH_MAX)
            return yt_fail(p->e, line, "nesting deeper than %d levels", CONF_DEPTH_MAX);
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
int yt_parse(errsink *e, const char *text, size_t len, cnode **out)
{
    pcx p = {.e = e, .text = text, .len = len};
    yaml_parser_t parser;
    int ndocs = 0, rc = 0;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return yt_fail(e, 0, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), text ? len : 0);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            const char *problem = parser.problem ? parser.problem : "YAML syntax error";
            if (parser.error == YAML_MEMORY_ERROR) {
                rc = yt_fail(e, 0, "out of memory");
            } else if (parser.error == YAML_READER_ERROR) {
                rc = yt_fail(e, line_at_offset(text, len, parser.problem_offset), "%s", problem);
            } else if (parser.context != NULL) {
                rc = yt_fail(e, mark_line(parser.problem_mark), "%s (%s that started on line %d)",
                          problem, parser.context, mark_line(parser.context_mark));
            } else {
                rc = yt_fail(e, mark_line(parser.problem_mark), "%s", problem);
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
        yt_free(p.root);
        return -1;
    }
    *out = p.root;
    return 0;
}

