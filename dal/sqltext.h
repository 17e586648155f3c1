/*
 * dal/sqltext.h — SQL text, pure: values into '...' literals. Every SQL
 * builder of the project (dal/orders.c, migrate/) quotes through here; no
 * MYSQL handle is needed, so it is unit-tested byte by byte
 * (tests/unit/test_sqltext.c).
 *
 * Why escaping without a handle is exact: every connection is utf8mb4
 * (dal_connect sets the charset) and runs with sql_mode = DAL_SQL_MODE, set
 * in its init command, which has no NO_BACKSLASH_ESCAPES — so inside '...'
 * the server reads backslash escapes, and escaping the seven bytes
 * mysql_real_escape_string escapes (\0 \n \r \\ ' " \x1a) is a complete
 * defence. In UTF-8 no byte of a multibyte character is below 0x80, so those
 * seven bytes are never part of a character and every other byte is copied
 * unchanged: no character is split and no quote gets through, for valid and
 * invalid UTF-8 alike (the server's lexer takes a byte that starts no valid
 * character on its own; strict mode then refuses to store invalid UTF-8).
 * Multibyte charsets whose trailing bytes can be 0x5c (GBK, SJIS) would not
 * be safe this way: dal_connect never uses one.
 */
#ifndef DAL_SQLTEXT_H
#define DAL_SQLTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/sk.h"
#include "order/order.h"

/* The session sql_mode of every connection (dal_connect's init command): the
 * server's usual strict default, named explicitly so that a server configured
 * with NO_BACKSLASH_ESCAPES or ANSI_QUOTES cannot change how our literals read. */
#define DAL_SQL_MODE "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

/* Escape n bytes of s (NULs included) for the inside of a '...' literal.
 * out must hold 2n+1 bytes. Returns the length written; out is NUL-terminated. */
size_t dal_escape(char *out, const char *s, size_t n);

/* The whole literal: '<escaped>'. out must hold 2n+3 bytes. Returns the
 * length written; out is NUL-terminated. */
size_t dal_quote(char *out, const char *s, size_t n);

/* Append dal_quote(v, n) to b, or NULL when v is NULL. */
void dal_sql_val(sk_buf *b, const char *v, size_t n);

/*
 * A bounded, growable SQL text buffer — the one the statement builders use
 * (dal/orders.c, the mirror's upserts). Zero-initialise, optionally with
 * .max (bytes; 0 = DAL_SB_MAX). It grows by sk_reserve; past max it sets
 * overflow and appends nothing more (the caller then sends nothing). buf is
 * NUL-terminated whenever len > 0.
 */
#define DAL_SB_MAX (4u << 20)
typedef struct {
    char *buf;
    size_t len, cap, max;
    bool overflow;
} dal_sb;

void dal_sb_free(dal_sb *b);                   /* free the text; the buffer is empty again */
void dal_sb_reset(dal_sb *b);                  /* empty, overflow cleared; keeps the memory */
void dal_sb_add(dal_sb *b, const char *fmt, ...) SK_PRINTF(2, 3);
void dal_sb_mem(dal_sb *b, const char *s, size_t n);
void dal_sb_str(dal_sb *b, const char *s, bool present);          /* 'escaped' or NULL */
void dal_sb_hex(dal_sb *b, const void *p, size_t n, bool present); /* X'hex' (any bytes) or NULL */
void dal_sb_dt(dal_sb *b, int64_t ms);         /* 'YYYY-MM-DD HH:MM:SS.mmm' UTC, or NULL for 0 */
/* The values of order o's ORD_SQL_COLS (order/order.h), comma-separated,
 * without parentheses: group stores and the merchant store share them. */
void dal_sb_order_values(dal_sb *b, const order_t *o);

#endif
