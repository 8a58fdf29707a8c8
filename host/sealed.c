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

int host_sealed_file(void)
{
    return memfd_create("vdagent-clipboard", MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

GBytes *host_sealed_finish(int fd, size_t len, GError **errp)
{
    if (fcntl(fd, F_ADD_SEALS, SEALS_NEEDED | F_SEAL_SEAL) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno),
                    "cannot seal it: %s", g_strerror(errno));
        close(fd);
        return NULL;
    }
    return host_sealed_adopt(fd, len, errp);
}

GBytes *host_sealed_copy(const void *p, size_t len)
{
    const uint8_t *q = p;
    size_t done = 0;
    void *ro = MAP_FAILED;
    int fd;

    g_return_val_if_fail(len > 0, NULL);
    fd = host_sealed_file();
    if (fd < 0) {
        return NULL;
    }
    while (done < len) {
        ssize_t w = pwrite(fd, q + done, len - done, (off_t)done);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        done += (size_t)w;
    }
    /*
     * No mapping was ever writable: F_SEAL_WRITE takes at once.  Mapped
     * with its page tables filled here, off the paths that read it (a
     * sender over tcp: would otherwise fault its way through 64 MiB).
     */
    if (done == len && fcntl(fd, F_ADD_SEALS, SEALS_NEEDED | F_SEAL_SEAL) == 0) {
        ro = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    }
    if (ro == MAP_FAILED) {
        close(fd);
        return NULL;
    }
    return sealed_bytes(fd, ro, len);
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
