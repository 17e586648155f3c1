/*
 * skip-kafka-mock — development Kafka broker for the ./dev cluster.
 *
 * Wraps librdkafka's mock cluster (rdkafka_mock.h), which speaks the real Kafka
 * protocol (metadata, produce, fetch, consumer groups, offset commit), in a tiny
 * process: one broker, topic skipstore.orders with 4 partitions, runs until
 * SIGTERM/SIGINT. Production uses real Kafka brokers.
 *
 * Usage: skip-kafka-mock PORT [TOPIC [PARTITIONS]]   (or env SKIP_KAFKA_PORT)
 * Prints "bootstrap=127.0.0.1:PORT" on stdout once listening.
 *
 * Fixed port: librdkafka 2.0.2's mock API has no way to choose the listener
 * port; every mock broker binds 127.0.0.1:0 (ephemeral). Clients (skipstored's
 * relay, skipstore-mirror) must be able to reconnect to the same address after
 * the broker is restarted, so this program interposes bind(): the first AF_INET
 * loopback bind to port 0 is rewritten to the requested port (with SO_REUSEADDR
 * so a restart right after a kill does not hit TIME_WAIT), then forwarded to the
 * real bind via dlsym(RTLD_NEXT). Since bind is an undefined symbol of
 * librdkafka.so, the definition in this executable wins. The broker advertises
 * the port it got from getsockname(), so metadata carries the fixed port too.
 *
 * Data: the mock keeps everything in memory. `./dev fault kafka kill` + `start`
 * therefore loses all topics' contents and committed offsets (unconsumed events
 * are gone); `./dev fault kafka stop` / `cont` (SIGSTOP/SIGCONT) is the realistic
 * outage drill: clients see a broker that does not answer, and the backlog
 * drains once it resumes.
 *
 * Consumer groups and offset commits work (verified with kcat -G). One quirk of
 * the 2.0.2 mock: a consumer that rejoins a group after its predecessor left
 * waits for that member's session to expire, so dev consumers should use a short
 * session.timeout.ms (e.g. 6000) or a restart takes up to 45 s to get partitions.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_flag;
static int fixed_port;          /* port to rewrite the first port-0 bind to */
static int fixed_port_used;     /* rewrite only once: one broker, one listener */

static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    typedef int (*bind_fn)(int, const struct sockaddr *, socklen_t);
    static bind_fn real_bind;
    if (!real_bind)
        real_bind = (bind_fn)dlsym(RTLD_NEXT, "bind");
    if (!real_bind) {
        errno = ENOSYS;
        return -1;
    }
    if (fixed_port > 0 && !fixed_port_used && addr && addr->sa_family == AF_INET &&
        len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, addr, sizeof(sin));
        if (sin.sin_port == 0 && sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            int one = 1;
            fixed_port_used = 1;
            sin.sin_port = htons((unsigned short)fixed_port);
            (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            return real_bind(fd, (const struct sockaddr *)&sin, sizeof(sin));
        }
    }
    return real_bind(fd, addr, len);
}

int main(int argc, char **argv) {
    const char *port_s = argc > 1 ? argv[1] : getenv("SKIP_KAFKA_PORT");
    const char *topic = argc > 2 ? argv[2] : "skipstore.orders";
    int partitions = argc > 3 ? atoi(argv[3]) : 4;
    char errstr[512];

    if (!port_s || atoi(port_s) <= 0 || atoi(port_s) > 65535 || partitions < 1) {
        fprintf(stderr, "usage: %s PORT [TOPIC [PARTITIONS]]\n", argv[0]);
        return 2;
    }
    fixed_port = atoi(port_s);

    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The host handle never connects anywhere useful; keep its logs quiet. */
    if (rd_kafka_conf_set(conf, "bootstrap.servers", "", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafkamock: conf: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafkamock: rd_kafka_new: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        fprintf(stderr, "kafkamock: cannot create mock cluster on port %d\n", fixed_port);
        rd_kafka_destroy(rk);
        return 1;
    }
    if (!fixed_port_used) {
        fprintf(stderr, "kafkamock: bind() interposition did not take effect\n");
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topic, partitions, 1);
    if (err) {
        fprintf(stderr, "kafkamock: topic %s: %s\n", topic, rd_kafka_err2str(err));
        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("bootstrap=%s topic=%s partitions=%d\n", rd_kafka_mock_cluster_bootstraps(mc),
           topic, partitions);
    fflush(stdout);

    while (!stop_flag)
        pause();

    fprintf(stderr, "kafkamock: shutting down\n");
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
