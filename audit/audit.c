/* audit/audit.c — the audit queue and its writer thread; see audit.h. */
#include "audit/audit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dal/terminals.h"
#include "metrics/metrics.h"

#define BATCH 100
#define DETAIL_MAX 2048
#define WAKE_MS 200
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 5000
#define STOP_FLUSH_MS 2000

typedef struct item {
    dal_audit_row row;
    struct item *next;
} item;

struct audit {
    rtref *rt;
    int node_id;
    int64_t boot_ms;
    atomic_ullong seq;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    item *head, *tail;
    int n;
    atomic_int limit;         /* audit.queue_max of the config in force */
    bool stopping;
    int64_t flush_until;      /* monotonic ms: the writer's last chance at stop */
    pthread_t th;
};

static void item_free(item *it)
{
    free(it->row.detail);
    free(it);
}

static void put(char *dst, size_t cap, const char *s) { sk_strlcpy(dst, s ? s : "", cap); }

void audit_record(audit *a, const audit_event *ev)
{
    char *detail = ev->detail ? json_dumps(ev->detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (detail && strlen(detail) > DETAIL_MAX) {
        free(detail);
        detail = strdup("{\"truncated\":true}");
    }
    /* the structured line comes first and always: the log is the trail of
     * last resort when the queue is full or the process dies */
    sk_info("event=audit action=%s key_id=%s role=%s target=%s merchant_id=%s result=%s detail=%s", ev->action,
            ev->key_id ? ev->key_id : "-", ev->role ? ev->role : "-", ev->target ? ev->target : "-",
            ev->merchant_id ? ev->merchant_id : "-", ev->result ? ev->result : "ok", detail ? detail : "{}");
    if (a == NULL) {
        free(detail);
        return;
    }
    item *it = calloc(1, sizeof *it);
    if (it == NULL) {
        free(detail);
        met_audit_dropped();
        return;
    }
    dal_audit_row *r = &it->row;
    snprintf(r->event_id, sizeof r->event_id, "%d-%lld-%llu", a->node_id, (long long)a->boot_ms,
             (unsigned long long)atomic_fetch_add(&a->seq, 1));
    r->at_ms = sk_now_ms();
    put(r->key_id, sizeof r->key_id, ev->key_id ? ev->key_id : "-");
    put(r->role, sizeof r->role, ev->role);
    put(r->action, sizeof r->action, ev->action);
    put(r->target, sizeof r->target, ev->target);
    put(r->merchant_id, sizeof r->merchant_id, ev->merchant_id);
    put(r->result, sizeof r->result, ev->result ? ev->result : "ok");
    r->detail = detail;
    r->node_id = a->node_id;
    pthread_mutex_lock(&a->mu);
    bool full = a->n >= atomic_load(&a->limit) || a->stopping;
    if (!full) {
        if (a->tail)
            a->tail->next = it;
        else
            a->head = it;
        a->tail = it;
        a->n++;
        met_audit_depth(a->n);
        if (a->n >= BATCH)
            pthread_cond_signal(&a->cv);
    }
    pthread_mutex_unlock(&a->mu);
    if (full) {
        met_audit_dropped();
        sk_warn("event=audit_dropped action=%s event_id=%s reason=queue_full", r->action, r->event_id);
        item_free(it);
    }
}

/* Write up to BATCH events from the head (they stay queued until written). */
static sk_status write_batch(audit *a, const rt *r, int *written)
{
    *written = 0;
    dal_audit_row rows[BATCH];
    int n = 0;
    pthread_mutex_lock(&a->mu);
    for (item *it = a->head; it && n < BATCH; it = it->next)
        rows[n++] = it->row;   /* shallow: detail stays owned by the item, which only this thread frees */
    pthread_mutex_unlock(&a->mu);
    if (n == 0)
        return SK_OK;
    if (r->merchant == NULL)
        return SK_EUNAVAILABLE;
    dal_conn *dc;
    sk_status st = dal_acquire(r->merchant, sk_mono_ms() + r->c->db_read_timeout_ms, &dc);
    if (st != SK_OK)
        return st;
    st = dal_audit_insert(dal_mysql(dc), rows, n);
    dal_release(r->merchant, dc, st != SK_OK);
    if (st != SK_OK)
        return st;
    pthread_mutex_lock(&a->mu);
    for (int i = 0; i < n; i++) {
        item *it = a->head;
        a->head = it->next;
        if (a->head == NULL)
            a->tail = NULL;
        a->n--;
        item_free(it);
    }
    met_audit_depth(a->n);
    pthread_mutex_unlock(&a->mu);
    *written = n;
    met_audit_written(n);
    return SK_OK;
}

static void wait_ms(audit *a, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&a->mu);
    if (!a->stopping)
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    pthread_mutex_unlock(&a->mu);
}

static void *writer(void *arg)
{
    audit *a = arg;
    sk_thread_name("sk-audit");
    int backoff = 0;
    bool down = false;
    for (;;) {
        rt *r = rt_get(a->rt);
        atomic_store(&a->limit, r->c->audit_queue_max);
        int written = 0;
        sk_status st = write_batch(a, r, &written);
        rt_put(r);
        pthread_mutex_lock(&a->mu);
        bool stopping = a->stopping, empty = a->head == NULL;
        int left = a->n;
        pthread_mutex_unlock(&a->mu);
        if (st != SK_OK) {
            met_audit_write_failed();
            if (!down)
                sk_warn("event=audit_write_failed err=%s queued=%d note=\"events wait in memory for the "
                        "merchant store\"", sk_status_name(st), left);
            down = true;
            backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : BACKOFF_MIN_MS;
        } else {
            if (down)
                sk_info("event=audit_write_resumed queued=%d", left);
            down = false;
            backoff = 0;
        }
        if (stopping && (empty || sk_mono_ms() >= a->flush_until)) {
            if (!empty)
                sk_error("event=audit_lost_at_stop events=%d note=\"merchant store unreachable at shutdown; "
                         "the log lines above hold them\"", left);
            return NULL;
        }
        if (st == SK_OK && written == BATCH)
            continue;   /* more waiting */
        wait_ms(a, stopping ? 100 : backoff ? backoff : WAKE_MS);
    }
}

audit *audit_start(rtref *ref, int node_id)
{
    audit *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->rt = ref;
    a->node_id = node_id;
    a->boot_ms = sk_now_ms();
    rt *r = rt_get(ref);
    atomic_store(&a->limit, r->c->audit_queue_max);
    rt_put(r);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->th, NULL, writer, a) != 0) {
        free(a);
        return NULL;
    }
    return a;
}

void audit_stop(audit *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    a->flush_until = sk_mono_ms() + STOP_FLUSH_MS;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->th, NULL);
    while (a->head) {
        item *it = a->head;
        a->head = it->next;
        item_free(it);
    }
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
