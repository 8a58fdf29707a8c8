/*
 * prefault.c: the destination's live slots faulted in on helper threads.
 * See prefault.h.
 */
#define G_LOG_DOMAIN "vdagent-host"
#define _GNU_SOURCE                     /* mremap() */

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
    /* host_prefault_pool(): what is left, page-aligned; never at once
     * with a start, so not under the lock */
    uint8_t *pool;
    size_t pool_left;
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

/*
 * Fault in [@p, @p + @len) (page-aligned): one call where the kernel has
 * MADV_POPULATE_WRITE, else (EINVAL: before 5.14) a write to each page
 * (a write of 0 to a new anonymous page leaves it as it was).  0, or the
 * errno of the call that failed (ENOMEM: the memory is not there).
 */
static int populate(uint8_t *p, size_t len)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), off;

#ifdef MADV_POPULATE_WRITE
    if (madvise(p, len, MADV_POPULATE_WRITE) == 0) {
        return 0;
    }
    if (errno != EINVAL) {
        return errno;
    }
#endif
    for (off = 0; off < len; off += page) {
        ((volatile uint8_t *)p)[off] = 0;
    }
    return 0;
}

/*
 * The whole pages of a slot (@buf, @len) from the pool, moved there with
 * their page tables (mremap(), no copy): true when the pool had them.
 * The slot's first and last partial pages, if any, stay as they are (the
 * receive faults them in, two at most).
 */
static bool pool_take(HostPrefault *pf, uint8_t *buf, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = ((uintptr_t)buf + page - 1) & ~(page - 1);
    uintptr_t hi = ((uintptr_t)buf + len) & ~(page - 1);
    size_t n = hi > lo ? hi - lo : 0;

    if (!pf->pool || n == 0 || n > pf->pool_left) {
        return false;
    }
    if (mremap(pf->pool, n, n, MREMAP_MAYMOVE | MREMAP_FIXED,
               (void *)lo) == MAP_FAILED) {
        g_warning("the preallocated memory could not be moved: %s",
                  g_strerror(errno));
        return false;
    }
    pf->pool += n;
    pf->pool_left -= n;
    if (pf->pool_left == 0) {
        pf->pool = NULL;
    }
    return true;
}

static void prefault_start(void *opaque, uint8_t *buf, size_t len)
{
    HostPrefault *pf = opaque;
    PrefaultJob *j;

    if (pool_take(pf, buf, len)) {
        return;                         /* ready: nothing to wait for */
    }
    j = g_new0(PrefaultJob, 1);

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

bool host_prefault_pool(HostPrefault *pf, size_t size, GError **errp)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (size + page - 1) & ~(page - 1);
    void *p;
    int err;

    g_return_val_if_fail(pf != NULL && !pf->pool, false);
    if (len == 0) {
        return true;
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
             -1, 0);
    if (p == MAP_FAILED) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot reserve %zu bytes: %s", len, g_strerror(errno));
        return false;
    }
    err = populate(p, len);
    if (err) {
        munmap(p, len);
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err),
                    "cannot fault in %zu bytes: %s", len, g_strerror(err));
        return false;
    }
    pf->pool = p;
    pf->pool_left = len;
    return true;
}

size_t host_prefault_pool_left(const HostPrefault *pf)
{
    return pf ? pf->pool_left : 0;
}

typedef struct PoolGone {
    uint8_t *p;
    size_t len;
} PoolGone;

static gpointer pool_gone(gpointer opaque)
{
    PoolGone *g = opaque;

    munmap(g->p, g->len);
    g_free(g);
    return NULL;
}

void host_prefault_pool_release(HostPrefault *pf)
{
    PoolGone *g;
    GThread *t;

    if (!pf || !pf->pool) {
        return;
    }
    g = g_new(PoolGone, 1);
    *g = (PoolGone){ pf->pool, pf->pool_left };
    pf->pool = NULL;
    pf->pool_left = 0;
    /* Unmapping a large rest takes a while: not on the caller's loop. */
    t = g_thread_try_new("vdagent-prealloc", pool_gone, g, NULL);
    if (t) {
        g_thread_unref(t);
    } else {
        pool_gone(g);
    }
}

void host_prefault_free(HostPrefault *pf)
{
    if (!pf) {
        return;
    }
    if (pf->pool) {
        munmap(pf->pool, pf->pool_left);
    }
    g_warn_if_fail(pf->jobs == NULL);
    g_cond_clear(&pf->progress);
    g_mutex_clear(&pf->lock);
    g_free(pf);
}
