/*
 * daemon/tsan_shim.c — ThreadSanitizer builds only (CMAKE_BUILD_TYPE=Tsan).
 *
 * librdkafka (loaded by the relay) runs its threads through glibc's C11
 * threads (thrd_create, mtx_*, cnd_*). ThreadSanitizer does not intercept
 * those, so a librdkafka thread is unknown to it (its first malloc crashes
 * the process) and its locking is invisible (memory handed between our
 * threads and librdkafka's would be reported as races). These definitions
 * interpose the C11 calls (librdkafka imports them through the PLT; the
 * executable exports them with -rdynamic) and forward them to the pthread
 * functions TSan does intercept. glibc's C11 types are the pthread types.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

_Static_assert(sizeof(mtx_t) == sizeof(pthread_mutex_t), "mtx_t is a pthread mutex");
_Static_assert(sizeof(cnd_t) == sizeof(pthread_cond_t), "cnd_t is a pthread cond");
_Static_assert(sizeof(thrd_t) == sizeof(pthread_t), "thrd_t is a pthread_t");

typedef struct {
    thrd_start_t fn;
    void *arg;
} tramp_arg;

static void *tramp(void *p)
{
    tramp_arg a = *(tramp_arg *)p;
    free(p);
    return (void *)(intptr_t)a.fn(a.arg);
}

static int c11(int rc) { return rc == 0 ? thrd_success : rc == ETIMEDOUT ? thrd_timedout : rc == EBUSY ? thrd_busy : thrd_error; }

int thrd_create(thrd_t *thr, thrd_start_t fn, void *arg)
{
    tramp_arg *a = malloc(sizeof *a);
    if (a == NULL)
        return thrd_nomem;
    a->fn = fn;
    a->arg = arg;
    int rc = pthread_create((pthread_t *)thr, NULL, tramp, a);
    if (rc != 0)
        free(a);
    return c11(rc);
}

int thrd_join(thrd_t thr, int *res)
{
    void *ret = NULL;
    int rc = pthread_join((pthread_t)thr, &ret);
    if (rc == 0 && res)
        *res = (int)(intptr_t)ret;
    return c11(rc);
}

int thrd_detach(thrd_t thr) { return c11(pthread_detach((pthread_t)thr)); }

int mtx_init(mtx_t *m, int type)
{
    pthread_mutexattr_t at;
    pthread_mutexattr_init(&at);
    if (type & mtx_recursive)
        pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    int rc = pthread_mutex_init((pthread_mutex_t *)m, &at);
    pthread_mutexattr_destroy(&at);
    return c11(rc);
}

int mtx_lock(mtx_t *m) { return c11(pthread_mutex_lock((pthread_mutex_t *)m)); }
int mtx_trylock(mtx_t *m) { return c11(pthread_mutex_trylock((pthread_mutex_t *)m)); }
int mtx_timedlock(mtx_t *restrict m, const struct timespec *restrict ts)
{
    return c11(pthread_mutex_timedlock((pthread_mutex_t *)m, ts));
}
int mtx_unlock(mtx_t *m) { return c11(pthread_mutex_unlock((pthread_mutex_t *)m)); }
void mtx_destroy(mtx_t *m) { pthread_mutex_destroy((pthread_mutex_t *)m); }

int cnd_init(cnd_t *c) { return c11(pthread_cond_init((pthread_cond_t *)c, NULL)); }
int cnd_signal(cnd_t *c) { return c11(pthread_cond_signal((pthread_cond_t *)c)); }
int cnd_broadcast(cnd_t *c) { return c11(pthread_cond_broadcast((pthread_cond_t *)c)); }
int cnd_wait(cnd_t *c, mtx_t *m) { return c11(pthread_cond_wait((pthread_cond_t *)c, (pthread_mutex_t *)m)); }
int cnd_timedwait(cnd_t *restrict c, mtx_t *restrict m, const struct timespec *restrict ts)
{
    return c11(pthread_cond_timedwait((pthread_cond_t *)c, (pthread_mutex_t *)m, ts));
}
void cnd_destroy(cnd_t *c) { pthread_cond_destroy((pthread_cond_t *)c); }

void call_once(once_flag *flag, void (*fn)(void))
{
    _Static_assert(sizeof(once_flag) == sizeof(pthread_once_t), "once_flag is a pthread_once_t");
    pthread_once((pthread_once_t *)flag, fn);
}

/*
 * librdkafka itself is not built with ThreadSanitizer: its reference counts
 * and atomics are invisible to it, so the hand-over of its own objects
 * between its own threads (e.g. rdk:main destroying a broker's rwlock after
 * the broker thread let go of it, synchronised by an uninstrumented atomic
 * refcount) is reported as a race it is not. Races with a frame inside
 * librdkafka are therefore suppressed; races in our code are not (they have
 * no librdkafka frame: the memory we share with it is handed over through
 * its API calls, which the C11 shims above make visible).
 */
const char *__tsan_default_suppressions(void);
const char *__tsan_default_suppressions(void) { return "race:librdkafka.so\n"; }
