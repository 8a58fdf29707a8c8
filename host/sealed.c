/*
 * sealed.c: large data in sealed memfds (sealed.h).
 */
#define _GNU_SOURCE
#define G_LOG_DOMAIN "vdagent-host"

#include "host/sealed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a sealed GBytes must not allow any more. */
#define SEALS_NEEDED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

struct HostSealedBuf {
    int fd;                     /* the memfd, or -1: heap */
    void *p;                    /* writable: a shared mapping, or g_malloc */
    size_t len;
};

/* A sealed GBytes's own: its mapping and its descriptor. */
typedef struct Sealed {
    int fd;
    void *p;
    size_t len;
} Sealed;

/* Mapping address -> Sealed, of every live sealed GBytes. */
static GMutex table_lock;
static GHashTable *table;

static void sealed_free(gpointer opaque)
{
    Sealed *s = opaque;

    g_mutex_lock(&table_lock);
    g_hash_table_remove(table, s->p);
    g_mutex_unlock(&table_lock);
    munmap(s->p, s->len);
    close(s->fd);
    g_free(s);
}

/* @fd (taken) mapped read-only at @p for @len bytes, as a GBytes of ours. */
static GBytes *sealed_bytes(int fd, void *p, size_t len)
{
    Sealed *s = g_new(Sealed, 1);

    s->fd = fd;
    s->p = p;
    s->len = len;
    g_mutex_lock(&table_lock);
    if (!table) {
        table = g_hash_table_new(g_direct_hash, g_direct_equal);
    }
    g_hash_table_insert(table, p, s);
    g_mutex_unlock(&table_lock);
    return g_bytes_new_with_free_func(p, len, sealed_free, s);
}

HostSealedBuf *host_sealed_buf_new(size_t len, GError **errp)
{
    HostSealedBuf *b;

    g_return_val_if_fail(len > 0, NULL);
    b = g_new0(HostSealedBuf, 1);
    b->len = len;
    b->fd = memfd_create("vdagent-clipboard", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (b->fd >= 0) {
        b->p = MAP_FAILED;
        if (ftruncate(b->fd, (off_t)len) == 0) {
            b->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
                        b->fd, 0);
        }
        if (b->p != MAP_FAILED) {
            return b;
        }
        close(b->fd);
        b->fd = -1;
    }
    /* No memfd here (or no room for it): the heap, passed by its bytes. */
    b->p = g_try_malloc(len);
    if (!b->p) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                    "cannot allocate %zu bytes", len);
        g_free(b);
        return NULL;
    }
    return b;
}

void *host_sealed_buf_data(HostSealedBuf *b)
{
    return b->p;
}

void host_sealed_buf_free(HostSealedBuf *b)
{
    if (!b) {
        return;
    }
    if (b->fd >= 0) {
        munmap(b->p, b->len);
        close(b->fd);
    } else {
        g_free(b->p);
    }
    g_free(b);
}

/* The first @len bytes of @fd, copied to the heap; NULL when unreadable. */
static GBytes *copy_out(int fd, size_t len, GError **errp)
{
    uint8_t *copy = g_try_malloc(len);
    size_t done = 0;

    while (copy && done < len) {
        ssize_t n = pread(fd, copy + done, len - done, (off_t)done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_IO,
                        "cannot read the data back: %s",
                        n < 0 ? g_strerror(errno) : "it shrank");
            g_free(copy);
            return NULL;
        }
        done += (size_t)n;
    }
    if (!copy) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOMEM,
                    "cannot allocate %zu bytes", len);
        return NULL;
    }
    return g_bytes_new_take(copy, len);
}

GBytes *host_sealed_buf_finish(HostSealedBuf *b, size_t len, GError **errp)
{
    GBytes *data;
    void *ro = MAP_FAILED;
    int fd = b->fd;
    size_t had = b->len;

    g_return_val_if_fail(len > 0 && len <= b->len, NULL);
    if (fd < 0) {
        data = g_bytes_new_take(g_steal_pointer(&b->p), len);
        g_free(b);
        return data;
    }
    /* F_SEAL_WRITE needs no writable mapping left: unmap first. */
    munmap(b->p, had);
    g_free(b);
    if ((len == had || ftruncate(fd, (off_t)len) == 0) &&
        fcntl(fd, F_ADD_SEALS, SEALS_NEEDED | F_SEAL_SEAL) == 0) {
        ro = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    }
    if (ro != MAP_FAILED) {
        return sealed_bytes(fd, ro, len);
    }
    /* Never seen on a memfd; the data stays, on the heap, not passable. */
    data = copy_out(fd, len, errp);
    close(fd);
    return data;
}

GBytes *host_sealed_copy(const void *p, size_t len)
{
    HostSealedBuf *b = len >= HOST_SEALED_MIN ? host_sealed_buf_new(len, NULL)
                                              : NULL;
    GBytes *data;

    if (!b) {
        return g_bytes_new(p, len);
    }
    memcpy(host_sealed_buf_data(b), p, len);
    data = host_sealed_buf_finish(b, len, NULL);
    return data ? data : g_bytes_new(p, len);
}

int host_sealed_fd(GBytes *data)
{
    gsize len;
    const void *p = g_bytes_get_data(data, &len);
    Sealed *s;
    int fd = -1;

    if (!p) {
        return -1;
    }
    g_mutex_lock(&table_lock);
    s = table ? g_hash_table_lookup(table, p) : NULL;
    if (s && s->len == len) {
        fd = s->fd;
    }
    g_mutex_unlock(&table_lock);
    return fd;
}

GBytes *host_sealed_adopt(int fd, size_t len, GError **errp)
{
    struct stat st;
    int seals;
    void *p;

    g_return_val_if_fail(len > 0, NULL);
    seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "not sealed memory (%s)",
                    seals < 0 ? g_strerror(errno) : "not a regular file");
        close(fd);
        return NULL;
    }
    if ((seals & SEALS_NEEDED) != SEALS_NEEDED) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "seals 0x%x missing (has 0x%x): it could still change",
                    SEALS_NEEDED & ~seals, seals);
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size != len) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%" G_GUINT64_FORMAT " bytes, expected %zu",
                    (guint64)st.st_size, len);
        close(fd);
        return NULL;
    }
    p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot map it: %s", g_strerror(errno));
        close(fd);
        return NULL;
    }
    return sealed_bytes(fd, p, len);
}
