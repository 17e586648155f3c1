/*
 * tests/unit/test_sqltext.c — escaping values into SQL literals
 * (dal/sqltext.c), the one quoting path of dal/orders.c's and migrate/'s SQL
 * builders, without a server.
 *
 * The oracle is written from the server's side: lit_read() reads a '...'
 * literal the way MariaDB's lexer does for a utf8mb4 connection with
 * backslash escapes on (sql_mode without NO_BACKSLASH_ESCAPES, as
 * DAL_SQL_MODE). Every value must come back byte for byte AND the literal
 * must end exactly where the builder ended it — so nothing after it can be
 * read as SQL (no stacked or appended statement).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "dal/sqltext.h"

static uint64_t rng_state = 0xD1B54A32D192ED03ULL;
static uint64_t rnd(void) { return ut_rnd(&rng_state); }

/*
 * Read the literal that starts at sql[0] (a quote). Writes the value into
 * out (its length into *olen) and returns the length of the literal
 * (through its closing quote), or -1 when it does not end.
 * Lexer rules: \0 \b \n \r \t \Z are control bytes, \% and \_ stay two
 * bytes (LIKE escapes), \x is x for any other x; '' is one quote.
 */
static long lit_read(const char *sql, size_t len, char *out, size_t *olen)
{
    size_t o = 0;
    if (len == 0 || sql[0] != '\'')
        return -1;
    for (size_t i = 1; i < len; i++) {
        char c = sql[i];
        if (c == '\\' && i + 1 < len) {
            char e = sql[++i];
            switch (e) {
            case '0': out[o++] = '\0'; break;
            case 'b': out[o++] = '\b'; break;
            case 'n': out[o++] = '\n'; break;
            case 'r': out[o++] = '\r'; break;
            case 't': out[o++] = '\t'; break;
            case 'Z': out[o++] = '\032'; break;
            case '%': case '_': out[o++] = '\\'; out[o++] = e; break;
            default: out[o++] = e; break;
            }
        } else if (c == '\'') {
            if (i + 1 < len && sql[i + 1] == '\'') {
                out[o++] = '\'';
                i++;
            } else {
                *olen = o;
                return (long)(i + 1);
            }
        } else {
            out[o++] = c;
        }
    }
    return -1;
}

/* quote(v) read back is v, and the literal is the whole text */
static void roundtrip(const char *v, size_t n)
{
    char *q = malloc(2 * n + 3), *back = malloc(2 * n + 3);
    REQ(q && back);
    size_t ql = dal_quote(q, v, n);
    REQ(ql <= 2 * n + 2 && q[ql] == '\0');
    size_t bl = 0;
    long end = lit_read(q, ql, back, &bl);
    if (end != (long)ql || bl != n || memcmp(back, v, n) != 0)
        ck_abort_msg("value of %zu bytes did not survive quoting (literal ends at %ld of %zu)", n, end, ql);
    free(q);
    free(back);
}

START_TEST(every_byte)
{
    static const char *const esc[256] = {
        ['\0'] = "\\0", ['\n'] = "\\n", ['\r'] = "\\r", ['\\'] = "\\\\",
        ['\''] = "\\'", ['"'] = "\\\"", ['\032'] = "\\Z",
    };
    for (int c = 0; c < 256; c++) {
        char in = (char)c, out[3];
        size_t n = dal_escape(out, &in, 1);
        if (esc[c]) {
            ck_assert_uint_eq(n, 2);
            ck_assert_mem_eq(out, esc[c], 2);
        } else {
            /* everything else, every byte >= 0x80 included, is copied */
            ck_assert_uint_eq(n, 1);
            ck_assert_int_eq((unsigned char)out[0], c);
        }
        ck_assert_int_eq(out[n], '\0');
        roundtrip(&in, 1);
    }
}
END_TEST

START_TEST(every_pair)
{
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            char v[2] = {(char)a, (char)b};
            roundtrip(v, 2);
        }
}
END_TEST

START_TEST(hostile)
{
    static const char *const vals[] = {
        "'; DROP TABLE orders; --",
        "' OR '1'='1",
        "\\'; DROP TABLE orders; --",       /* backslash-quote: the escape must not be undone */
        "\\", "\\\\", "'", "''", "\"", "\\\"", "\\0", "%_\\%\\_",
        ("a\x1a" "b"), "\r\n\t\b",
        "\xe4\xb8\xad\xe6\x96\x87'\\",       /* UTF-8 text next to specials */
        "\xc3'", "\xf0\x9f'\\", "\xbf\x5c'", /* invalid UTF-8: lead bytes before a quote, 0x5c trail */
        "\xff\xfe'--",
        "*/; DELETE FROM outbox; /*",
        "",
    };
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        roundtrip(vals[i], strlen(vals[i]));
    /* NUL inside a value */
    static const char nul[] = "a\0'; DROP TABLE orders; --";
    roundtrip(nul, sizeof nul - 1);
}
END_TEST

START_TEST(random_bytes)
{
    char v[300];
    for (int k = 0; k < 100000; k++) {
        size_t n = rnd() % sizeof v;
        for (size_t i = 0; i < n; i++) {
            /* half the time from the special bytes and their neighbours */
            static const char sp[] = "\\'\"\0\n\r\x1aZ0%_-;";
            v[i] = (rnd() & 1) ? sp[rnd() % (sizeof sp - 1)] : (char)(rnd() & 0xff);
        }
        roundtrip(v, n);
    }
}
END_TEST

/* In a statement: the value never reaches past its literal. */
START_TEST(in_a_statement)
{
    static const char *const vals[] = {"'; DROP TABLE orders; --", "\\'; SELECT 1; --", "x' AND '1'='1"};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        sk_buf b = {0};
        sk_buf_str(&b, "UPDATE orders SET subject=");
        dal_sql_val(&b, vals[i], strlen(vals[i]));
        sk_buf_str(&b, " WHERE order_no='1'");
        REQ(!b.oom);
        const char *lit = strchr(b.p, '\'');
        char back[128];
        size_t bl = 0;
        long end = lit_read(lit, strlen(lit), back, &bl);
        REQ(end > 0);
        ck_assert_str_eq(lit + end, " WHERE order_no='1'");
        REQ(bl == strlen(vals[i]) && memcmp(back, vals[i], bl) == 0);
        sk_buf_free(&b);
    }
}
END_TEST

START_TEST(sql_val)
{
    sk_buf b = {0};
    dal_sql_val(&b, NULL, 0);
    sk_buf_str(&b, ",");
    dal_sql_val(&b, "", 0);
    sk_buf_str(&b, ",");
    dal_sql_val(&b, "it's", 4);
    REQ(!b.oom);
    ck_assert_str_eq(b.p, "NULL,'','it\\'s'");
    ck_assert_uint_eq(b.len, strlen(b.p));
    /* a long value grows the buffer */
    char big[10000];
    memset(big, '\'', sizeof big);
    sk_buf_reset(&b);
    dal_sql_val(&b, big, sizeof big);
    REQ(!b.oom && b.len == 2 * sizeof big + 2);
    sk_buf_free(&b);
}
END_TEST

START_TEST(sql_mode_has_backslash_escapes)
{
    /* the contract the escaping relies on */
    REQ(strstr(DAL_SQL_MODE, "NO_BACKSLASH_ESCAPES") == NULL);
    REQ(strstr(DAL_SQL_MODE, "ANSI_QUOTES") == NULL && strstr(DAL_SQL_MODE, "ANSI,") == NULL);
}
END_TEST

/* dal_sb: grows past its first block, escapes like dal_quote, renders NULLs
 * and datetimes, and stops at .max with overflow set and nothing more added. */
START_TEST(sb_builder)
{
    dal_sb b = {0};
    dal_sb_add(&b, "SELECT %d,", 1);
    dal_sb_str(&b, "it's", true);
    dal_sb_add(&b, ",");
    dal_sb_str(&b, "x", false);
    dal_sb_add(&b, ",");
    dal_sb_hex(&b, "\x00\xff", 2, true);
    dal_sb_add(&b, ",");
    dal_sb_dt(&b, 86400000 + 1234);
    dal_sb_add(&b, ",");
    dal_sb_dt(&b, 0);
    ck_assert(!b.overflow);
    ck_assert_str_eq(b.buf, "SELECT 1,'it\\'s',NULL,X'00ff','1970-01-02 00:00:01.234',NULL");
    ck_assert_uint_eq(b.len, strlen(b.buf));
    for (int i = 0; i < 3000; i++) /* 9000 bytes: past the first 4 KiB block */
        dal_sb_add(&b, "%03d", i % 1000);
    ck_assert(!b.overflow);
    ck_assert_uint_eq(b.len, strlen(b.buf));
    dal_sb_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    dal_sb_free(&b);

    dal_sb small = {.max = 16};
    dal_sb_add(&small, "0123456789");
    ck_assert(!small.overflow);
    dal_sb_str(&small, "abcdef", true); /* 10 + 8 + NUL > 16 */
    ck_assert(small.overflow);
    dal_sb_add(&small, "x");
    ck_assert_uint_eq(small.len, 10);
    ck_assert_str_eq(small.buf, "0123456789");
    dal_sb_free(&small);
}
END_TEST

/* The shared order tuple: column order of ORD_SQL_COLS, NULL for absent
 * optional fields and unset times. */
START_TEST(sb_order_values)
{
    order_t o = {0};
    strcpy(o.order_no, "2026120207154800200000038");
    o.group = 3;
    strcpy(o.merchant_id, "m1");
    strcpy(o.out_trade_no, "o'1");
    o.amount = 100;
    strcpy(o.currency, "CNY");
    strcpy(o.channel, "alipay");
    o.status = OS_CREATED;
    o.version = 1;
    o.created_at_ms = o.updated_at_ms = 1000;
    dal_sb b = {0};
    dal_sb_order_values(&b, &o);
    ck_assert_str_eq(b.buf, "'2026120207154800200000038',3,'m1','o\\'1',NULL,NULL,100,'CNY','alipay',NULL,NULL,"
                            "'CREATED',0,NULL,1,'1970-01-01 00:00:01.000','1970-01-01 00:00:01.000',NULL,NULL,NULL");
    dal_sb_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sqltext");
    TCase *tc = tcase_create("escape");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_byte);
    tcase_add_test(tc, every_pair);
    tcase_add_test(tc, hostile);
    tcase_add_test(tc, random_bytes);
    tcase_add_test(tc, in_a_statement);
    tcase_add_test(tc, sql_val);
    tcase_add_test(tc, sql_mode_has_backslash_escapes);
    tcase_add_test(tc, sb_builder);
    tcase_add_test(tc, sb_order_values);
    suite_add_tcase(s, tc);
    return ut_run(s);
}
