/*
 * tests/unit/test_batch.c — the leader/follower batcher of the group commit
 * (dal/batch.h): every item executed exactly once, batches form while a
 * batch is in flight, the bounds hold (batch size, leaders, queue), and an
 * item not taken in time is withdrawn and never executed.
 *
 * A "gate" holds the first batch in exec until the test opens it, so the
 * shape of the next batches does not depend on timing. Also here, being the
 * other lock-free piece of dal/: the pool's replica breaker.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "common/sk.h"
#include "dal/batch.h"
#include "dal/dal.h"
#include "unit.h"

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_closed;            /* exec waits while closed */
    int in_exec;                 /* execs running now */
    int max_in_exec;
    int nbatches;
    int sizes[256];
    atomic_int executed[64];     /* per item id: times executed */
} fake;

typedef struct {
    int id;
    int result;
} job;

static void fake_exec(void *ctx, sk_batch_item **items, int n)
{
    fake *f = ctx;
    pthread_mutex_lock(&f->mu);
    f->in_exec++;
    if (f->in_exec > f->max_in_exec)
        f->max_in_exec = f->in_exec;
    if (f->nbatches < 256)
        f->sizes[f->nbatches] = n;
    f->nbatches++;
    pthread_cond_broadcast(&f->cv);
    while (f->gate_closed)
        pthread_cond_wait(&f->cv, &f->mu);
    f->in_exec--;
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; i < n; i++) {
        job *j = items[i]->arg;
        atomic_fetch_add(&f->executed[j->id], 1);
        j->result = 1000 + j->id;
    }
}

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
}

static void wait_execs(fake *f, int nbatches)
{
    pthread_mutex_lock(&f->mu);
    while (f->nbatches < nbatches)
        pthread_cond_wait(&f->cv, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

static void open_gate(fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->gate_closed = false;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

typedef struct {
    sk_batcher *b;
    job j;
    int64_t take_by;
    sk_batch_result r;
    pthread_t t;
} sub;

static void *submit_thread(void *arg)
{
    sub *s = arg;
    sk_batch_item it = {.arg = &s->j, .take_by_ms = s->take_by};
    s->r = sk_batch_submit(s->b, &it);
    return NULL;
}

static void start(sub *s, sk_batcher *b, int id, int64_t take_by)
{
    s->b = b;
    s->j.id = id;
    s->take_by = take_by;
    ck_assert_int_eq(pthread_create(&s->t, NULL, submit_thread, s), 0);
}

/* Until n items wait in b's queue. */
static void wait_pending(sk_batcher *b, int n)
{
    while (sk_batcher_pending(b) < n)
        sk_sleep_ms(1);
}

START_TEST(test_single_item_runs_alone)
{
    fake f;
    fake_init(&f);
    sk_batcher *b = sk_batcher_new(8, 1, 16, fake_exec, &f);
    ck_assert_ptr_nonnull(b);
    job j = {.id = 3};
    sk_batch_item it = {.arg = &j, .take_by_ms = sk_mono_ms() + 1000};
    ck_assert_int_eq(sk_batch_submit(b, &it), SK_BATCH_DONE);
    ck_assert_int_eq(j.result, 1003);
    ck_assert_int_eq(f.nbatches, 1);
    ck_assert_int_eq(f.sizes[0], 1);
    uint64_t nb, ni;
    sk_batcher_stats(b, &nb, &ni);
    ck_assert_uint_eq(nb, 1);
    ck_assert_uint_eq(ni, 1);
    sk_batcher_free(b);
}
END_TEST

/* One leader slot, held by item 0 in exec: the items that arrive meanwhile
 * form the next batches, at most max_batch each, each item exactly once. */
START_TEST(test_waiting_items_share_a_batch)
{
    fake f;
    fake_init(&f);
    f.gate_closed = true;
    sk_batcher *b = sk_batcher_new(4, 1, 64, fake_exec, &f);
    sub s[11];
    int64_t far = sk_mono_ms() + 60000;
    start(&s[0], b, 0, far);
    wait_execs(&f, 1); /* item 0 is in exec, the only leader slot taken */
    for (int i = 1; i < 11; i++)
        start(&s[i], b, i, far);
    wait_pending(b, 10);
    ck_assert_int_eq(f.nbatches, 1); /* nobody else may lead meanwhile */
    open_gate(&f);
    for (int i = 0; i < 11; i++) {
        pthread_join(s[i].t, NULL);
        ck_assert_int_eq(s[i].r, SK_BATCH_DONE);
        ck_assert_int_eq(s[i].j.result, 1000 + i);
        ck_assert_int_eq(atomic_load(&f.executed[i]), 1);
    }
    /* 1 + 10 items in batches of at most 4: exactly 1 + 3 batches */
    ck_assert_int_eq(f.nbatches, 4);
    ck_assert_int_eq(f.sizes[0], 1);
    int total = 0;
    for (int i = 1; i < f.nbatches; i++) {
        ck_assert_int_le(f.sizes[i], 4);
        total += f.sizes[i];
    }
    ck_assert_int_eq(total, 10);
    ck_assert_int_eq(f.max_in_exec, 1);
    sk_batcher_free(b);
}
END_TEST

/* Two leader slots: two batches run at once, never three. */
START_TEST(test_leaders_bound)
{
    fake f;
    fake_init(&f);
    f.gate_closed = true;
    sk_batcher *b = sk_batcher_new(1, 2, 64, fake_exec, &f);
    sub s[6];
    int64_t far = sk_mono_ms() + 60000;
    for (int i = 0; i < 6; i++)
        start(&s[i], b, i, far);
    wait_execs(&f, 2);
    wait_pending(b, 4);
    ck_assert_int_eq(f.nbatches, 2);
    open_gate(&f);
    for (int i = 0; i < 6; i++) {
        pthread_join(s[i].t, NULL);
        ck_assert_int_eq(s[i].r, SK_BATCH_DONE);
        ck_assert_int_eq(atomic_load(&f.executed[i]), 1);
    }
    ck_assert_int_eq(f.nbatches, 6);
    ck_assert_int_eq(f.max_in_exec, 2);
    sk_batcher_free(b);
}
END_TEST

/* The queue is bounded: with the leader stuck, max_pending items wait and
 * the next is refused at once. */
START_TEST(test_queue_bound)
{
    fake f;
    fake_init(&f);
    f.gate_closed = true;
    sk_batcher *b = sk_batcher_new(8, 1, 2, fake_exec, &f);
    sub lead, w1, w2;
    int64_t far = sk_mono_ms() + 60000;
    start(&lead, b, 0, far);
    wait_execs(&f, 1);
    start(&w1, b, 1, far);
    start(&w2, b, 2, far);
    wait_pending(b, 2);
    job j = {.id = 3};
    sk_batch_item it = {.arg = &j, .take_by_ms = far};
    ck_assert_int_eq(sk_batch_submit(b, &it), SK_BATCH_FULL);
    open_gate(&f);
    pthread_join(lead.t, NULL);
    pthread_join(w1.t, NULL);
    pthread_join(w2.t, NULL);
    ck_assert_int_eq(w1.r, SK_BATCH_DONE);
    ck_assert_int_eq(w2.r, SK_BATCH_DONE);
    ck_assert_int_eq(atomic_load(&f.executed[3]), 0);
    ck_assert_int_eq(f.nbatches, 2);
    ck_assert_int_eq(f.sizes[1], 2);
    sk_batcher_free(b);
}
END_TEST

/* A waiting item past its take_by is withdrawn and never executed, even
 * after the leader frees up. */
START_TEST(test_withdrawal)
{
    fake f;
    fake_init(&f);
    f.gate_closed = true;
    sk_batcher *b = sk_batcher_new(8, 1, 8, fake_exec, &f);
    sub lead;
    start(&lead, b, 0, sk_mono_ms() + 60000);
    wait_execs(&f, 1);
    job j = {.id = 1};
    sk_batch_item it = {.arg = &j, .take_by_ms = sk_mono_ms() + 100};
    ck_assert_int_eq(sk_batch_submit(b, &it), SK_BATCH_TIMEOUT);
    ck_assert_int_eq(sk_batcher_pending(b), 0);
    open_gate(&f);
    pthread_join(lead.t, NULL);
    ck_assert_int_eq(lead.r, SK_BATCH_DONE);
    ck_assert_int_eq(atomic_load(&f.executed[1]), 0);
    ck_assert_int_eq(f.nbatches, 1);
    sk_batcher_free(b);
}
END_TEST

START_TEST(test_bad_arguments)
{
    fake f;
    fake_init(&f);
    ck_assert_ptr_null(sk_batcher_new(0, 1, 1, fake_exec, &f));
    ck_assert_ptr_null(sk_batcher_new(1, 0, 1, fake_exec, &f));
    ck_assert_ptr_null(sk_batcher_new(1, 1, 0, fake_exec, &f));
    ck_assert_ptr_null(sk_batcher_new(1, 1, 1, NULL, &f));
}
END_TEST

/* The non-blocking path is used only when the attempt timeout is tighter
 * than the whole-second Connector/C timeouts (rounded up). */
START_TEST(test_deadline_pays)
{
    ck_assert(dal_deadline_pays(250, 1000, 1000));
    ck_assert(dal_deadline_pays(999, 1000, 1000));
    ck_assert(!dal_deadline_pays(1000, 1000, 1000));
    ck_assert(!dal_deadline_pays(2000, 1000, 1500)); /* 1500 ms is 2 s for Connector/C */
    ck_assert(dal_deadline_pays(1500, 1000, 1500));
    ck_assert(!dal_deadline_pays(0, 1000, 1000));
}
END_TEST

/* The replica breaker of dal_pool (flow/read.c): after a failure the server is
 * avoided for the hold, then exactly one caller gets the trial; a success ends
 * the avoidance. */
START_TEST(test_pool_breaker)
{
    dal_pool_opts o = {.addr = "127.0.0.1:1", .user = "u", .db = "d", .size = 1, .max_inflight = 1};
    dal_pool *p = dal_pool_create(&o);
    ck_assert_ptr_nonnull(p);
    ck_assert(dal_pool_usable(p, 1000, 2000));      /* never failed */
    ck_assert(dal_pool_usable(p, 1000, 2000));
    dal_pool_avoid(p, 1000, 2000);
    ck_assert(!dal_pool_usable(p, 1000, 2000));
    ck_assert(!dal_pool_usable(p, 2999, 2000));
    ck_assert(dal_pool_usable(p, 3000, 2000));      /* the hold is over: one trial ... */
    ck_assert(!dal_pool_usable(p, 3000, 2000));     /* ... and only one */
    ck_assert(!dal_pool_usable(p, 4999, 2000));
    ck_assert(dal_pool_usable(p, 5000, 2000));      /* the trial failed silently: the next one */
    dal_pool_answered(p);                            /* a success */
    ck_assert(dal_pool_usable(p, 5001, 2000));
    ck_assert(dal_pool_usable(p, 5001, 2000));
    dal_pool_destroy(p);
}
END_TEST

int main(void)

{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("batch");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_single_item_runs_alone);
    tcase_add_test(tc, test_waiting_items_share_a_batch);
    tcase_add_test(tc, test_leaders_bound);
    tcase_add_test(tc, test_queue_bound);
    tcase_add_test(tc, test_withdrawal);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_deadline_pays);
    tcase_add_test(tc, test_pool_breaker);
    suite_add_tcase(s, tc);
    return ut_run(s);
}
