/* rpc/http_io.c — libmicrohttpd edge; see http.h. */
#include "rpc/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/sk.h"

struct http_server {
    struct MHD_Daemon *d;
    size_t max_body;
    http_handler h;
    void *ctx;
};

typedef struct {
    char *buf;
    size_t len, cap;
    bool too_large;
    bool started;
} reqbuf;

const char *http_query(const http_req *rq, const char *key)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_header(const http_req *rq, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)rq->conn, MHD_HEADER_KIND, name);
}

void http_add_header(http_resp *rs, const char *name, const char *value)
{
    if (rs->nhdr >= HTTP_MAX_HDRS)
        return;
    rs->hdr_name[rs->nhdr] = name;
    sk_strlcpy(rs->hdr_value[rs->nhdr], value, sizeof rs->hdr_value[0]);
    rs->nhdr++;
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, http_resp *rs)
{
    struct MHD_Response *r;
    if (rs->body != NULL)
        r = MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
    else
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (r == NULL) {
        free(rs->body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", rs->content_type ? rs->content_type : "application/json");
    for (int i = 0; i < rs->nhdr; i++)
        MHD_add_response_header(r, rs->hdr_name[i], rs->hdr_value[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    http_server *s = cls;
    reqbuf *rb = *con_cls;
    if (rb == NULL) {
        rb = calloc(1, sizeof *rb);
        if (rb == NULL)
            return MHD_NO;
        *con_cls = rb;
        /* refuse an announced oversized body before reading it */
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > s->max_body) {
            rb->too_large = true;
            http_req rq = {.method = method, .path = url, .body = "", .len = 0, .too_large = true, .conn = conn};
            http_resp rs = {0};
            s->h(s->ctx, &rq, &rs);
            return send_resp(conn, &rs);
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        if (!rb->too_large) {
            size_t need = rb->len + *upload_data_size;
            if (need > s->max_body) {
                rb->too_large = true;
                free(rb->buf);
                rb->buf = NULL;
                rb->len = rb->cap = 0;
            } else {
                if (sk_reserve(&rb->buf, &rb->cap, need + 1, 1024) != 0)
                    return MHD_NO;
                memcpy(rb->buf + rb->len, upload_data, *upload_data_size);
                rb->len += *upload_data_size;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rb->started)
        return MHD_YES;
    rb->started = true;
    if (rb->buf)
        rb->buf[rb->len] = '\0';
    http_req rq = {.method = method, .path = url, .body = rb->buf ? rb->buf : "", .len = rb->len,
                   .too_large = rb->too_large, .conn = conn};
    http_resp rs = {0};
    s->h(s->ctx, &rq, &rs);
    return send_resp(conn, &rs);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    reqbuf *rb = *con_cls;
    if (rb) {
        free(rb->buf);
        free(rb);
        *con_cls = NULL;
    }
}

http_server *http_start(const char *listen, size_t max_body, http_handler h, void *ctx)
{
    char host[128];
    int port;
    if (sk_parse_hostport(listen, host, sizeof host, &port) != 0) {
        sk_error("event=http_bad_listen listen=%s", listen);
        return NULL;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        sk_error("event=http_bad_listen listen=%s", listen);
        return NULL;
    }
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->max_body = max_body;
    s->h = h;
    s->ctx = ctx;
    s->d = MHD_start_daemon(MHD_USE_AUTO | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG,
                            (uint16_t)port, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)8192,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                            MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 * 1024),
                            /* per-connection buffer: headers + a window of the body
                             * (bodies are copied out as they arrive); small, because
                             * 1,000 keep-alive connections must fit the RSS budget */
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(8 * 1024),
                            MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
                            MHD_OPTION_END);
    if (s->d == NULL) {
        sk_error("event=http_listen_failed listen=%s", listen);
        free(s);
        return NULL;
    }
    return s;
}

void http_stop(http_server *s)
{
    if (s == NULL)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
