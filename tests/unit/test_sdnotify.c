/* tests/unit/test_sdnotify.c — the sd_notify protocol (common/sdnotify.c):
 * NOTIFY_SOCKET parsing (path and abstract names, limits) and real
 * datagrams received on a unix socket bound by the test. */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "common/sdnotify.h"

static const size_t HDR = offsetof(struct sockaddr_un, sun_path);

START_TEST(addr_path)
{
    struct sockaddr_un sa;
    socklen_t len = 0;
    ck_assert_int_eq(sdn_addr("/run/systemd/notify", &sa, &len), 0);
    ck_assert_int_eq(sa.sun_family, AF_UNIX);
    ck_assert_str_eq(sa.sun_path, "/run/systemd/notify");
    ck_assert_uint_eq(len, HDR + strlen("/run/systemd/notify") + 1);
}
END_TEST

START_TEST(addr_abstract)
{
    struct sockaddr_un sa;
    socklen_t len = 0;
    ck_assert_int_eq(sdn_addr("@skip/notify", &sa, &len), 0);
    ck_assert_int_eq(sa.sun_path[0], '\0');
    ck_assert_int_eq(memcmp(sa.sun_path + 1, "skip/notify", 11), 0);
    /* the name is exactly its bytes: no NUL counted, or it names another socket */
    ck_assert_uint_eq(len, HDR + 12);
}
END_TEST

START_TEST(addr_rejects)
{
    struct sockaddr_un sa;
    socklen_t len;
    ck_assert_int_eq(sdn_addr(NULL, &sa, &len), -1);
    ck_assert_int_eq(sdn_addr("", &sa, &len), -1);
    ck_assert_int_eq(sdn_addr("relative/sock", &sa, &len), -1);
    ck_assert_int_eq(sdn_addr("@", &sa, &len), -1);
    ck_assert_int_eq(sdn_addr("vsock:2:999", &sa, &len), -1);
    char big[sizeof sa.sun_path + 2];
    /* a path needs its NUL: sizeof(sun_path) - 1 characters fit, one more does not */
    memset(big, 'a', sizeof big);
    big[0] = '/';
    big[sizeof sa.sun_path - 1] = '\0';
    ck_assert_int_eq(sdn_addr(big, &sa, &len), 0);
    big[sizeof sa.sun_path - 1] = 'a';
    big[sizeof sa.sun_path] = '\0';
    ck_assert_int_eq(sdn_addr(big, &sa, &len), -1);
    /* an abstract name may use every byte of sun_path */
    big[0] = '@';
    ck_assert_int_eq(sdn_addr(big, &sa, &len), 0);
    ck_assert_uint_eq(len, HDR + sizeof sa.sun_path);
    big[sizeof sa.sun_path] = 'a';
    big[sizeof sa.sun_path + 1] = '\0';
    ck_assert_int_eq(sdn_addr(big, &sa, &len), -1);
}
END_TEST

START_TEST(fmt_reloading)
{
    char buf[64];
    sdn_fmt_reloading(buf, sizeof buf, 1234567);
    ck_assert_str_eq(buf, "RELOADING=1\nMONOTONIC_USEC=1234567");
}
END_TEST

/* bind a datagram socket at addr (sun_path bytes, len) */
static int listener(const char *name, size_t n)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, name, n);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, (socklen_t)(HDR + n)), 0);
    return fd;
}

static void recv_eq(int fd, const char *want)
{
    char buf[1024];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

START_TEST(send_to_path)
{
    char dir[] = "/tmp/sdn-test-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/notify", dir);
    int fd = listener(path, strlen(path) + 1);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(sdn_ready("serving\non two lines"), 1);
    recv_eq(fd, "READY=1\nSTATUS=serving on two lines");
    ck_assert_int_eq(sdn_stopping(), 1);
    recv_eq(fd, "STOPPING=1");
    ck_assert_int_eq(sdn_reloading(), 1);
    char buf[128];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_int_eq(strncmp(buf, "RELOADING=1\nMONOTONIC_USEC=", 27), 0);
    ck_assert_int_gt(atoll(buf + 27), 0);
    close(fd);
    unlink(path);
    rmdir(dir);
    /* nobody listening any more: a failure, reported, not a crash */
    ck_assert_int_eq(sdn_ready(NULL), -1);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(send_to_abstract)
{
    char name[64];
    int n = snprintf(name, sizeof name, "@skipstore-test-%d", (int)getpid());
    char raw[64];
    memcpy(raw, name, (size_t)n);
    raw[0] = '\0';
    int fd = listener(raw, (size_t)n);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(sdn_status("waiting for group 2"), 1);
    recv_eq(fd, "STATUS=waiting for group 2");
    ck_assert_int_eq(sdn_ready(NULL), 1);
    recv_eq(fd, "READY=1");
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(no_socket_is_a_noop)
{
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(sdn_ready("x"), 0);
    ck_assert_int_eq(sdn_stopping(), 0);
    setenv("NOTIFY_SOCKET", "", 1);
    ck_assert_int_eq(sdn_reloading(), 0);
    setenv("NOTIFY_SOCKET", "not/absolute", 1);
    errno = 0;
    ck_assert_int_eq(sdn_ready(NULL), -1);
    ck_assert_int_eq(errno, EINVAL);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sdnotify");
    TCase *tc = tcase_create("protocol");
    tcase_add_test(tc, addr_path);
    tcase_add_test(tc, addr_abstract);
    tcase_add_test(tc, addr_rejects);
    tcase_add_test(tc, fmt_reloading);
    tcase_add_test(tc, send_to_path);
    tcase_add_test(tc, send_to_abstract);
    tcase_add_test(tc, no_socket_is_a_noop);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int f = srunner_ntests_failed(sr);
    srunner_free(sr);
    return f ? EXIT_FAILURE : EXIT_SUCCESS;
}
