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

#include <stddef.h>
#include "common/sk.h"

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

#endif
