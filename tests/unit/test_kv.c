/*
 * tests/unit/test_kv.c — the Redis adapter's pure parts and its transport.
 *
 * kv_opts_check over a table of option sets; the AUTH command a config
 * produces; the options read from a loaded config. The transport (kv/conn.c)
 * over a socketpair: the peer is a thread that reads the command bytes and
 * answers with RESP bytes written in small pieces, so framing across reads,
 * a silent peer (deadline), a closed peer, garbage and an oversize reply are
 * each exercised without a server. TLS and AUTH against a real Redis are in
 * tests/integration/test_backend_tls.py.
 */
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/conf.h"
#include "kv/conn.h"
#include "kv/kv.h"

/* ------------------------------------------------------------------------ */
/* options                                                                   */

struct opt_case {
    const char *name;
    kv_opts o;
    const char *want; /* NULL = valid; else a substring of the error */
};

#define TLS_ON(...) {.enabled = true, __VA_ARGS__}

static const struct opt_case opt_cases[] = {
    {"plain", {.addr = "127.0.0.1:6379", .timeout_ms = 200}, NULL},
    {"password", {.addr = "h:1", .timeout_ms = 1, .password = "p"}, NULL},
    {"acl user", {.addr = "h:1", .timeout_ms = 60000, .username = "u", .password = "p"}, NULL},
    {"tls verified", {.addr = "h:1", .timeout_ms = 200, .tls = TLS_ON(.verify_server_cert = true, .ca = "/ca")}, NULL},
    {"tls mutual", {.addr = "h:1", .timeout_ms = 200,
                    .tls = TLS_ON(.verify_server_cert = true, .ca = "/ca", .cert = "/c", .key = "/k")}, NULL},
    {"tls unverified", {.addr = "h:1", .timeout_ms = 200, .tls = TLS_ON(.verify_server_cert = false)}, NULL},
    {"tls off ignores the rest", {.addr = "h:1", .timeout_ms = 200, .tls = {.cert = "/c", .verify_server_cert = true}},
     NULL},
    {"no address", {.timeout_ms = 200}, "bad address"},
    {"no port", {.addr = "localhost", .timeout_ms = 200}, "bad address 'localhost'"},
    {"port 0", {.addr = "h:0", .timeout_ms = 200}, "bad address"},
    {"timeout 0", {.addr = "h:1", .timeout_ms = 0}, "timeout 0 ms out of range 1..60000"},
    {"timeout too long", {.addr = "h:1", .timeout_ms = 60001}, "out of range"},
    {"user without password", {.addr = "h:1", .timeout_ms = 9, .username = "u"}, "a username needs a password"},
    {"cert without key", {.addr = "h:1", .timeout_ms = 9, .tls = TLS_ON(.ca = "/ca", .cert = "/c")},
     "cert and key go together"},
    {"key without cert", {.addr = "h:1", .timeout_ms = 9, .tls = TLS_ON(.ca = "/ca", .key = "/k")},
     "cert and key go together"},
    {"verify without ca", {.addr = "h:1", .timeout_ms = 9, .tls = TLS_ON(.verify_server_cert = true)},
     "verify_server_cert needs ca"},
    {"verify with empty ca", {.addr = "h:1", .timeout_ms = 9, .tls = TLS_ON(.verify_server_cert = true, .ca = "")},
     "verify_server_cert needs ca"},
};

START_TEST(opts_check_table)
{
    const struct opt_case *t = &opt_cases[_i];
    char err[256] = "";
    int rc = kv_opts_check(&t->o, err, sizeof err);
    if (t->want == NULL) {
        ck_assert_msg(rc == 0, "%s: rejected: %s", t->name, err);
    } else {
        ck_assert_msg(rc == -1, "%s: accepted, want '%s'", t->name, t->want);
        ck_assert_msg(strstr(err, t->want) != NULL, "%s: want '%s' in '%s'", t->name, t->want, err);
        /* kv_create refuses the same options, with the same reason, before any I/O */
        char err2[256] = "";
        ck_assert_ptr_null(kv_create(&t->o, err2, sizeof err2));
        ck_assert_str_eq(err2, err);
    }
}
END_TEST

START_TEST(auth_argv_follows_the_options)
{
    const char *argv[3];
    size_t lens[3];
    kv_opts o = {.addr = "h:1", .timeout_ms = 1};
    ck_assert_int_eq(kv_auth_argv(&o, argv, lens), 0);
    o.password = "";
    ck_assert_int_eq(kv_auth_argv(&o, argv, lens), 0);
    o.password = "pw with space";
    ck_assert_int_eq(kv_auth_argv(&o, argv, lens), 2);
    ck_assert_str_eq(argv[0], "AUTH");
    ck_assert_str_eq(argv[1], "pw with space");
    ck_assert_uint_eq(lens[1], 13);
    o.username = "skip";
    ck_assert_int_eq(kv_auth_argv(&o, argv, lens), 3);
    ck_assert_str_eq(argv[1], "skip");
    ck_assert_str_eq(argv[2], "pw with space");
    ck_assert_uint_eq(lens[0], 4);
}
END_TEST

START_TEST(opts_from_conf)
{
    const char *y =
        "db:\n  name: s\n  user: u\n"
        "redis:\n  addr: \"r.internal:6380\"\n  timeout_ms: 300\n  username: skip\n  password: pw\n"
        "  tls:\n    ca: \"/t/ca.pem\"\n    cert: \"/t/c.pem\"\n    key: \"/t/c.key\"\n    server_name: redis\n"
        "groups:\n  - id: 1\n    primary: \"h:1\"\n";
    char err[CONF_ERR_MAX] = "";
    conf *c = conf_load_string("t.yaml", y, strlen(y), err, sizeof err);
    ck_assert_msg(c != NULL, "%s", err);
    kv_opts o;
    kv_opts_from_conf(&o, c);
    ck_assert_str_eq(o.addr, "r.internal:6380");
    ck_assert_int_eq(o.timeout_ms, 300);
    ck_assert_str_eq(o.username, "skip");
    ck_assert_str_eq(o.password, "pw");
    ck_assert(o.tls.enabled);
    ck_assert(o.tls.verify_server_cert);
    ck_assert_str_eq(o.tls.ca, "/t/ca.pem");
    ck_assert_str_eq(o.tls.cert, "/t/c.pem");
    ck_assert_str_eq(o.tls.key, "/t/c.key");
    ck_assert_str_eq(o.tls.server_name, "redis");
    ck_assert_int_eq(kv_opts_check(&o, err, sizeof err), 0);
    conf_free(c);
}
END_TEST

START_TEST(tls_files_are_loaded_at_create)
{
    kv_opts o = {.addr = "127.0.0.1:1", .timeout_ms = 100,
                 .tls = {.enabled = true, .verify_server_cert = true, .ca = "/nonexistent/ca.pem"}};
    char err[256] = "";
    ck_assert_ptr_null(kv_create(&o, err, sizeof err));
    ck_assert_msg(strncmp(err, "tls ca: ", 8) == 0, "%s", err);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* a server nobody runs: fast failure, marked down                           */

static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &l), 0);
    close(s); /* nothing listens there now: connect is refused */
    return ntohs(a.sin_port);
}

START_TEST(refused_connect_marks_down)
{
    char addr[32], err[256] = "";
    snprintf(addr, sizeof addr, "127.0.0.1:%d", closed_port());
    kv_opts o = {.addr = addr, .timeout_ms = 500, .password = "pw"};
    kv *k = kv_create(&o, err, sizeof err);
    ck_assert_msg(k != NULL, "%s", err);
    ck_assert(kv_up(k)); /* optimistic until something fails */
    ck_assert_ptr_null(kv_cmd(k, "GET %s", "x"));
    ck_assert(!kv_up(k));
    ck_assert(!kv_check(k));
    ck_assert(!kv_up(k));
    ck_assert_ptr_null(kv_cmd(k, "GET %s", "x")); /* down: no I/O at all */
    kv_destroy(k);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* the transport over a socketpair                                           */

struct peer {
    int fd;
    const char *reply;      /* bytes to answer with */
    size_t reply_len;
    size_t chunk;           /* write in pieces of this many bytes */
    bool close_after_read;  /* close without answering */
    char got[256];          /* the command bytes received */
    size_t ngot;
    size_t expect;          /* command bytes to read before answering */
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    while (p->ngot < p->expect) {
        ssize_t r = read(p->fd, p->got + p->ngot, sizeof p->got - 1 - p->ngot);
        if (r <= 0)
            break;
        p->ngot += (size_t)r;
    }
    if (p->close_after_read) {
        close(p->fd);
        p->fd = -1;
        return NULL;
    }
    for (size_t o = 0; o < p->reply_len;) {
        size_t n = p->reply_len - o < p->chunk ? p->reply_len - o : p->chunk;
        ssize_t w = send(p->fd, p->reply + o, n, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        o += (size_t)w;
        if (p->chunk < 16)
            usleep(200);  /* let the reader see the pieces one by one */
    }
    return NULL;
}

/* Run one PING through a kvc whose peer behaves as p says. */
static int ping_through(struct peer *p, int timeout_ms, redisReply **r, char *err, size_t cap, size_t reply_max)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->fd = sv[1];
    p->expect = 14; /* "*1\r\n$4\r\nPING\r\n" */
    kvc *c = kvc_wrap_fd(sv[0]);
    ck_assert_ptr_nonnull(c);
    if (reply_max)
        kvc_set_reply_max(c, reply_max);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, peer_main, p), 0);
    char *cmd = NULL;
    const char *argv[] = {"PING"};
    int len = redisFormatCommandArgv(&cmd, 1, argv, NULL);
    ck_assert_int_eq(len, 14);
    int rc = kvc_call(c, cmd, (size_t)len, timeout_ms, r);
    redisFreeCommand(cmd);
    snprintf(err, cap, "%s", kvc_err(c));
    ck_assert(!kvc_is_tls(c));
    kvc_close(c); /* the peer's reads and writes end here too */
    pthread_join(th, NULL);
    if (p->fd >= 0)
        close(p->fd);
    p->got[p->ngot] = '\0';
    return rc;
}

START_TEST(reply_in_one_byte_pieces)
{
    static const char rep[] = "*3\r\n+OK\r\n:42\r\n$5\r\nhello\r\n";
    struct peer p = {.reply = rep, .reply_len = sizeof rep - 1, .chunk = 1};
    redisReply *r = NULL;
    char err[256];
    ck_assert_msg(ping_through(&p, 5000, &r, err, sizeof err, 0) == 0, "%s", err);
    ck_assert_str_eq(p.got, "*1\r\n$4\r\nPING\r\n");
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 3);
    ck_assert_int_eq(r->element[0]->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(r->element[0]->str, "OK");
    ck_assert_int_eq(r->element[1]->integer, 42);
    ck_assert_str_eq(r->element[2]->str, "hello");
    freeReplyObject(r);
}
END_TEST

START_TEST(error_reply_is_a_reply)
{
    static const char rep[] = "-WRONGPASS invalid username-password pair\r\n";
    struct peer p = {.reply = rep, .reply_len = sizeof rep - 1, .chunk = 1 << 20};
    redisReply *r = NULL;
    char err[256];
    ck_assert_int_eq(ping_through(&p, 5000, &r, err, sizeof err, 0), 0);
    ck_assert_int_eq(r->type, REDIS_REPLY_ERROR);
    ck_assert_str_eq(r->str, "WRONGPASS invalid username-password pair");
    freeReplyObject(r);
}
END_TEST

START_TEST(silent_peer_times_out)
{
    static const char rep[] = "+PON"; /* never completed */
    struct peer p = {.reply = rep, .reply_len = 4, .chunk = 4};
    redisReply *r = NULL;
    char err[256];
    ck_assert_int_eq(ping_through(&p, 100, &r, err, sizeof err, 0), -1);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err, "read: timed out");
}
END_TEST

START_TEST(closed_peer_fails)
{
    struct peer p = {.close_after_read = true};
    redisReply *r = NULL;
    char err[256];
    ck_assert_int_eq(ping_through(&p, 5000, &r, err, sizeof err, 0), -1);
    ck_assert_str_eq(err, "read: server closed the connection");
}
END_TEST

START_TEST(garbage_is_a_protocol_error)
{
    static const char rep[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    struct peer p = {.reply = rep, .reply_len = sizeof rep - 1, .chunk = 1 << 20};
    redisReply *r = NULL;
    char err[256];
    ck_assert_int_eq(ping_through(&p, 5000, &r, err, sizeof err, 0), -1);
    ck_assert_msg(strncmp(err, "protocol error: ", 16) == 0, "%s", err);
}
END_TEST

START_TEST(oversize_reply_is_refused)
{
    /* a bulk string of 1 MB against a 64 KB limit: refused after the limit, not buffered whole */
    size_t n = 1 << 20;
    char *rep = malloc(n + 32);
    ck_assert_ptr_nonnull(rep);
    int h = sprintf(rep, "$%zu\r\n", n);
    memset(rep + h, 'x', n);
    memcpy(rep + h + n, "\r\n", 2);
    struct peer p = {.reply = rep, .reply_len = (size_t)h + n + 2, .chunk = 1 << 20};
    redisReply *r = NULL;
    char err[256];
    ck_assert_int_eq(ping_through(&p, 5000, &r, err, sizeof err, 64 * 1024), -1);
    ck_assert_str_eq(err, "reply larger than 65536 bytes");
    free(rep);
}
END_TEST

static Suite *kv_suite(void)
{
    Suite *s = suite_create("kv");
    TCase *o = tcase_create("opts");
    tcase_add_loop_test(o, opts_check_table, 0, (int)(sizeof opt_cases / sizeof opt_cases[0]));
    tcase_add_test(o, auth_argv_follows_the_options);
    tcase_add_test(o, opts_from_conf);
    tcase_add_test(o, tls_files_are_loaded_at_create);
    tcase_add_test(o, refused_connect_marks_down);
    suite_add_tcase(s, o);
    TCase *t = tcase_create("transport");
    tcase_add_test(t, reply_in_one_byte_pieces);
    tcase_add_test(t, error_reply_is_a_reply);
    tcase_add_test(t, silent_peer_times_out);
    tcase_add_test(t, closed_peer_fails);
    tcase_add_test(t, garbage_is_a_protocol_error);
    tcase_add_test(t, oversize_reply_is_refused);
    tcase_set_timeout(t, 20);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(kv_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
