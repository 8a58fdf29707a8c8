/*
 * prefault.c: the destination's live slots faulted in on helper threads.
 * See prefault.h.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/prefault.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

/* Faulted in per madvise(): the receive is never far behind. */
#define PREFAULT_STEP (1u << 20)

typedef struct PrefaultJob {
    HostPrefault *pf;
    uint8_t *buf;
    size_t len;
    GThread *thread;
    size_t done;                    /* faulted in from buf, len once the
                                       thread ends or gives up (pf->lock) */
} PrefaultJob;

struct HostPrefault {
    GMutex lock;                    /* start and finish may be on other
                                       threads than the one freeing */
    GCond progress;                 /* a job's done grew */
    unsigned waiters;               /* in host_prefault_wait() */
    GList *jobs;                    /* PrefaultJob * started, not finished */
};

static void prefault_progress(PrefaultJob *j, size_t done)
{
    HostPrefault *pf = j->pf;

    g_mutex_lock(&pf->lock);
    j->done = done;
    if (pf->waiters) {
        g_cond_broadcast(&pf->progress);
    }
    g_mutex_unlock(&pf->lock);
}

static gpointer prefault_thread(gpointer opaque)
{
    PrefaultJob *j = opaque;
#ifdef MADV_POPULATE_WRITE
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)j->buf + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)j->buf + j->len) & ~(page - 1);

    while (lo < hi) {
        uintptr_t end = MIN(hi, lo + PREFAULT_STEP);

        if (madvise((void *)lo, end - lo, MADV_POPULATE_WRITE) != 0 &&
            errno != EINTR && errno != EAGAIN) {
            break;          /* an older kernel: the receive faults them */
        }
        lo = end;
        prefault_progress(j, lo - (uintptr_t)j->buf);
    }
#endif
    prefault_progress(j, j->len);       /* done, or given up: no waiting */
    return NULL;
}

static void prefault_start(void *opaque, uint8_t *buf, size_t len)
{
    HostPrefault *pf = opaque;
    PrefaultJob *j = g_new0(PrefaultJob, 1);

    j->pf = pf;
    j->buf = buf;
    j->len = len;
    /* Listed first: host_prefault_wait() may look for it at once. */
    g_mutex_lock(&pf->lock);
    pf->jobs = g_list_prepend(pf->jobs, j);
    g_mutex_unlock(&pf->lock);
    j->thread = g_thread_try_new("vdagent-prefault", prefault_thread, j, NULL);
    if (!j->thread) {
        /* The receive faults the pages as it copies. */
        g_mutex_lock(&pf->lock);
        pf->jobs = g_list_remove(pf->jobs, j);
        g_mutex_unlock(&pf->lock);
        g_free(j);
    }
}

void host_prefault_wait(HostPrefault *pf, const void *p, size_t len)
{
    const uint8_t *q = p;
    PrefaultJob *j = NULL;
    GList *l;
    size_t want;

    if (!pf || len == 0) {
        return;
    }
    g_mutex_lock(&pf->lock);
    for (l = pf->jobs; l; l = l->next) {
        PrefaultJob *k = l->data;

        if (q >= k->buf && q < k->buf + k->len) {
            j = k;
            break;
        }
    }
    if (j) {
        want = MIN((size_t)(q - j->buf) + len, j->len);
        pf->waiters++;
        while (j->done < want) {
            g_cond_wait(&pf->progress, &pf->lock);
        }
        pf->waiters--;
    }
    g_mutex_unlock(&pf->lock);
}

static void prefault_finish(void *opaque, uint8_t *buf)
{
    HostPrefault *pf = opaque;
    PrefaultJob *j = NULL;
    GList *l;

    g_mutex_lock(&pf->lock);
    for (l = pf->jobs; l; l = l->next) {
        if (((PrefaultJob *)l->data)->buf == buf) {
            j = l->data;
            pf->jobs = g_list_delete_link(pf->jobs, l);
            break;
        }
    }
    g_mutex_unlock(&pf->lock);
    if (j) {
        g_thread_join(j->thread);
        g_free(j);
    }
}

const VdcPrefaultOps host_prefault_ops = {
    .start = prefault_start,
    .finish = prefault_finish,
};

HostPrefault *host_prefault_new(void)
{
    HostPrefault *pf = g_new0(HostPrefault, 1);

    g_mutex_init(&pf->lock);
    g_cond_init(&pf->progress);
    return pf;
}

void host_prefault_free(HostPrefault *pf)
{
    if (!pf) {
        return;
    }
    g_warn_if_fail(pf->jobs == NULL);
    g_cond_clear(&pf->progress);
    g_mutex_clear(&pf->lock);
    g_free(pf);
}
