/*
 * migration-stream.c: byte sources and sinks.  See vdc-stream.h.
 *
 * Sources never read ahead: an fd source takes from the fd exactly the
 * bytes the loader consumes, plus the few it peeks at (a subsection marker
 * and name prefix).  So when vdc_migration_load() returns, the fd is positioned
 * right after the vmdesc and the caller can read its own framing next.
 */
#define G_LOG_DOMAIN "migration"

#include "migration/vdc-stream.h"
#include "migration/channel.h"
#include "migration/migration-internal.h"
#include "migration/stream-live.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* fd sinks flush when this much is buffered. */
#define FD_WBUF_SIZE            (64u * 1024)
/* A pull source reads ahead at most this much for small reads; larger
 * ones go straight to the caller's buffer. */
#define PULL_AHEAD              (16u * 1024)
/* A memory sink copies slices shorter than this instead of referencing. */
#define REF_MIN                 (64u * 1024)
/* vdc_migration_get_bytes_file() through memory: this much at a time. */
#define FILE_STEP               (256u * 1024)

typedef enum {
    MS_BUFFER,      /* memory sink */
    MS_READER,      /* memory source */
    MS_FD_SINK,
    MS_FD_SOURCE,
    MS_PULL,        /* bounded source through a callback (stream-live.h) */
} StreamKind;

struct VdcMigrationStream {
    StreamKind kind;
    uint64_t offset;        /* bytes written (accepted) or consumed */
    GError *error;          /* sticky */

    /* MS_BUFFER: the bytes; MS_FD_SINK: bytes not yet written */
    GByteArray *out;
    /* MS_BUFFER: GBytes before out, once a slice was referenced, or NULL */
    GPtrArray *pieces;
    uint64_t base;          /* MS_BUFFER: offset at the last steal */

    /* MS_READER */
    const uint8_t *data;
    size_t len, pos;

    /* fd streams */
    int fd;
    bool eof;               /* source: read() returned 0 */
    GByteArray *ahead;      /* source: peeked, not yet consumed (also
                               MS_PULL's read-ahead) */

    /* MS_PULL */
    VdcMigrationPull pull;
    VdcMigrationPullFile pull_file;     /* or NULL */
    void *pull_opaque;
    uint64_t pull_left;     /* bytes not yet pulled */
    size_t ahead_pos;       /* consumed bytes at the start of ahead */
};

G_DEFINE_QUARK(vmstate-error-quark, vdc_vmstate_error)

static bool is_sink(const VdcMigrationStream *s)
{
    return s->kind == MS_BUFFER || s->kind == MS_FD_SINK;
}

static bool is_source(const VdcMigrationStream *s)
{
    return s->kind == MS_READER || s->kind == MS_FD_SOURCE ||
           s->kind == MS_PULL;
}

static void set_io_error(VdcMigrationStream *s, int err, const char *what)
{
    if (!s->error) {
        s->error = g_error_new(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                               "%s fd %d: %s", what, s->fd, g_strerror(err));
    }
}

static void set_truncated(VdcMigrationStream *s)
{
    if (!s->error) {
        s->error = g_error_new_literal(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_TRUNCATED,
                                       "stream truncated");
    }
}

/* ---- construction ---------------------------------------------------- */

VdcMigrationStream *vdc_migration_stream_new_buffer(void)
{
    VdcMigrationStream *s = g_new0(VdcMigrationStream, 1);

    s->kind = MS_BUFFER;
    s->fd = -1;
    s->out = g_byte_array_new();
    return s;
}

VdcMigrationStream *vdc_migration_stream_new_reader(const uint8_t *data, size_t len)
{
    VdcMigrationStream *s;

    g_return_val_if_fail(data != NULL || len == 0, NULL);

    s = g_new0(VdcMigrationStream, 1);
    s->kind = MS_READER;
    s->fd = -1;
    s->data = data;
    s->len = len;
    return s;
}

VdcMigrationStream *vdc_migration_stream_new_fd(int fd, bool write)
{
    VdcMigrationStream *s;

    g_return_val_if_fail(fd >= 0, NULL);

    s = g_new0(VdcMigrationStream, 1);
    s->fd = fd;
    if (write) {
        s->kind = MS_FD_SINK;
        s->out = g_byte_array_sized_new(FD_WBUF_SIZE);
    } else {
        s->kind = MS_FD_SOURCE;
        s->ahead = g_byte_array_new();
    }
    return s;
}

VdcMigrationStream *vdc_migration_stream_new_pull(VdcMigrationPull pull,
                                               void *opaque, uint64_t len)
{
    VdcMigrationStream *s;

    g_return_val_if_fail(pull != NULL, NULL);

    s = g_new0(VdcMigrationStream, 1);
    s->kind = MS_PULL;
    s->fd = -1;
    s->pull = pull;
    s->pull_opaque = opaque;
    s->pull_left = len;
    s->ahead = g_byte_array_new();
    return s;
}

void vdc_migration_stream_set_pull_file(VdcMigrationStream *s,
                                        VdcMigrationPullFile pull_file)
{
    g_return_if_fail(s != NULL && s->kind == MS_PULL);

    s->pull_file = pull_file;
}

static bool fd_flush(VdcMigrationStream *s);

/*
 * Free @s; an fd sink first writes what it still buffers (an error there
 * is only logged: call vdc_migration_stream_flush() to see it).  The fd stays
 * open.  NULL is a no-op.
 */
void vdc_migration_stream_free(VdcMigrationStream *s)
{
    if (!s) {
        return;
    }
    if (s->kind == MS_FD_SINK && !fd_flush(s)) {
        g_debug("unflushed migration output lost: %s", s->error->message);
    }
    if (s->out) {
        g_byte_array_unref(s->out);
    }
    if (s->ahead) {
        g_byte_array_unref(s->ahead);
    }
    if (s->pieces) {
        g_ptr_array_unref(s->pieces);
    }
    g_clear_error(&s->error);
    g_free(s);
}

uint64_t vdc_migration_stream_offset(const VdcMigrationStream *s)
{
    g_return_val_if_fail(s != NULL, 0);
    return s->offset;
}

/*
 * A memory sink holding referenced slices: make its bytes one buffer
 * again (a copy), for the callers that want them contiguous.
 */
static void flatten(VdcMigrationStream *s)
{
    GByteArray *all;
    guint i;

    if (!s->pieces) {
        return;
    }
    all = g_byte_array_sized_new((guint)(s->offset - s->base));
    for (i = 0; i < s->pieces->len; i++) {
        gsize n;
        const uint8_t *p = g_bytes_get_data(s->pieces->pdata[i], &n);

        g_byte_array_append(all, p, (guint)n);
    }
    g_byte_array_append(all, s->out->data, s->out->len);
    g_byte_array_unref(s->out);
    s->out = all;
    g_clear_pointer(&s->pieces, g_ptr_array_unref);
}

const uint8_t *vdc_migration_stream_data(const VdcMigrationStream *s, size_t *len)
{
    g_return_val_if_fail(s != NULL && s->kind == MS_BUFFER, NULL);

    /* Its bytes do not change: only how they are held. */
    flatten((VdcMigrationStream *)s);
    if (len) {
        *len = s->out->len;
    }
    return s->out->data;
}

void vdc_migration_stream_set_offset(VdcMigrationStream *s, uint64_t offset)
{
    g_return_if_fail(s != NULL && (s->kind == MS_READER || s->kind == MS_PULL));
    s->offset = offset;
}

GBytes *vdc_migration_stream_steal(VdcMigrationStream *s)
{
    GBytes *b;

    g_return_val_if_fail(s != NULL && s->kind == MS_BUFFER, NULL);
    flatten(s);
    b = g_byte_array_free_to_bytes(s->out);
    s->out = g_byte_array_new();
    s->base = s->offset;
    return b;
}

GPtrArray *vdc_migration_stream_steal_pieces(VdcMigrationStream *s)
{
    GPtrArray *pieces;

    g_return_val_if_fail(s != NULL && s->kind == MS_BUFFER, NULL);
    pieces = s->pieces ? g_steal_pointer(&s->pieces)
                       : g_ptr_array_new_with_free_func(
                             (GDestroyNotify)g_bytes_unref);
    if (s->out->len) {
        g_ptr_array_add(pieces, g_byte_array_free_to_bytes(s->out));
        s->out = g_byte_array_new();
    }
    s->base = s->offset;
    return pieces;
}

const GError *vdc_migration_stream_error(const VdcMigrationStream *s)
{
    g_return_val_if_fail(s != NULL, NULL);
    return s->error;
}

bool vdc_migration_stream_is_sink(const VdcMigrationStream *s)
{
    g_return_val_if_fail(s != NULL, false);
    return is_sink(s);
}

bool vdc_migration_stream_is_memory(const VdcMigrationStream *s)
{
    g_return_val_if_fail(s != NULL, false);
    return s->kind == MS_BUFFER || s->kind == MS_READER || s->kind == MS_PULL;
}

/* ---- error messages -------------------------------------------------- */

/* See migration-internal.h. */
char *vdc_migration_printable(const uint8_t *p, size_t len)
{
    GString *out = g_string_sized_new(len);
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' && p[i] != '\'') {
            g_string_append_c(out, (char)p[i]);
        } else {
            g_string_append_printf(out, "\\x%02x", p[i]);
        }
    }
    return g_string_free(out, FALSE);
}

/* ---- fd I/O ---------------------------------------------------------- */

/*
 * Write all @len bytes at @p (migration/channel.h's loop: EINTR, EAGAIN
 * and partial writes retried, sockets with MSG_NOSIGNAL so that a
 * vanished peer is EPIPE, not SIGPIPE; for a pipe the caller must ignore
 * SIGPIPE).  False with the sticky error set.
 */
static bool fd_write_all(VdcMigrationStream *s, const uint8_t *p, size_t len)
{
    g_autoptr(GError) err = NULL;

    if (vdc_migration_channel_write(s->fd, p, len, VDC_MIGRATION_CHANNEL_FOREVER,
                                    &err)) {
        return true;
    }
    set_io_error(s, err->code, "write to");
    return false;
}

static bool fd_flush(VdcMigrationStream *s)
{
    bool ok;

    if (s->error) {
        return false;
    }
    ok = fd_write_all(s, s->out->data, s->out->len);
    g_byte_array_set_size(s->out, 0);
    return ok;
}

/*
 * Read up to @len bytes (at least one) into @p.  Returns the count, 0 at
 * end of stream (remembered), or -1 with the sticky error set.
 */
static ssize_t fd_read_some(VdcMigrationStream *s, uint8_t *p, size_t len)
{
    g_autoptr(GError) err = NULL;
    gssize n;

    if (s->eof) {
        return 0;
    }
    n = vdc_migration_channel_read(s->fd, p, len, VDC_MIGRATION_CHANNEL_FOREVER,
                                   &err);
    if (n == 0) {
        s->eof = true;
    } else if (n < 0) {
        set_io_error(s, err->code, "read from");
    }
    return n;
}

/* Make the lookahead hold at least @len bytes; false at EOF or error. */
static bool fd_fill_ahead(VdcMigrationStream *s, size_t len)
{
    while (s->ahead->len < len) {
        size_t have = s->ahead->len;
        ssize_t n;

        /* Ask for exactly the missing bytes: never read past the need. */
        g_byte_array_set_size(s->ahead, (guint)len);
        n = fd_read_some(s, s->ahead->data + have, len - have);
        g_byte_array_set_size(s->ahead, (guint)(have + (n > 0 ? (size_t)n : 0)));
        if (n <= 0) {
            return false;
        }
    }
    return true;
}

/* ---- pull sources ------------------------------------------------------ */

/* MS_PULL: bytes it still holds or may pull. */
static uint64_t pull_remaining(const VdcMigrationStream *s)
{
    return (s->ahead->len - s->ahead_pos) + s->pull_left;
}

/* Pull exactly @len (at most pull_left) bytes into @p; false with the
 * sticky error set. */
static bool pull_exactly(VdcMigrationStream *s, uint8_t *p, size_t len)
{
    while (len > 0) {
        g_autoptr(GError) err = NULL;
        gssize n = s->pull(s->pull_opaque, p, len, &err);

        if (n <= 0 || (size_t)n > len) {
            if (n < 0 && err && !s->error) {
                s->error = g_error_new(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                                       "read: %s", err->message);
            }
            set_truncated(s);       /* the first error stays */
            return false;
        }
        p += n;
        len -= (size_t)n;
        s->pull_left -= (uint64_t)n;
    }
    return true;
}

/*
 * Make the read-ahead hold at least @want (at most pull_remaining())
 * unconsumed bytes, pulling up to PULL_AHEAD at a time; false with the
 * sticky error set.
 */
static bool pull_ahead(VdcMigrationStream *s, size_t want)
{
    size_t have = s->ahead->len - s->ahead_pos, n;

    if (have >= want) {
        return true;
    }
    if (s->ahead_pos) {
        memmove(s->ahead->data, s->ahead->data + s->ahead_pos, have);
        s->ahead_pos = 0;
    }
    n = (size_t)MIN((uint64_t)MAX(want, PULL_AHEAD) - have, s->pull_left);
    g_byte_array_set_size(s->ahead, (guint)(have + n));
    if (!pull_exactly(s, s->ahead->data + have, n)) {
        g_byte_array_set_size(s->ahead, (guint)have);
        return false;
    }
    return true;
}

/* MS_PULL's vdc_migration_get_bytes(), @len within pull_remaining(). */
static bool pull_get(VdcMigrationStream *s, uint8_t *p, size_t len)
{
    size_t have = s->ahead->len - s->ahead_pos;
    size_t from = MIN(len, have);

    if (from) {
        memcpy(p, s->ahead->data + s->ahead_pos, from);
        s->ahead_pos += from;
    }
    if (s->ahead_pos == s->ahead->len) {
        s->ahead_pos = 0;
        g_byte_array_set_size(s->ahead, 0);
    }
    if (len - from >= PULL_AHEAD) {
        /* Large: straight into the caller's buffer. */
        return pull_exactly(s, p + from, len - from);
    }
    if (len > from) {
        if (!pull_ahead(s, len - from)) {
            return false;
        }
        memcpy(p + from, s->ahead->data, len - from);
        s->ahead_pos = len - from;
    }
    return true;
}

/* ---- into a file ------------------------------------------------------- */

/* Write @len bytes at @p to @fd at @off; false with the sticky error set. */
static bool file_write_all(VdcMigrationStream *s, int fd, uint64_t off,
                           const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);

        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            if (!s->error) {
                s->error = g_error_new(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                                       "write to file: %s",
                                       g_strerror(w < 0 ? errno : ENOSPC));
            }
            return false;
        }
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return true;
}

/* MS_PULL with pull_file: @len (at most pull_left) bytes into @fd at @off. */
static bool pull_file_exactly(VdcMigrationStream *s, int fd, uint64_t off,
                              size_t len)
{
    while (len > 0) {
        g_autoptr(GError) err = NULL;
        gssize n = s->pull_file(s->pull_opaque, fd, off, len, &err);

        if (n <= 0 || (size_t)n > len) {
            if (n < 0 && err && !s->error) {
                s->error = g_error_new(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                                       "read: %s", err->message);
            }
            set_truncated(s);
            return false;
        }
        off += (uint64_t)n;
        len -= (size_t)n;
        s->pull_left -= (uint64_t)n;
    }
    return true;
}

bool vdc_migration_get_bytes_file(VdcMigrationStream *s, int fd, uint64_t off,
                                  size_t len)
{
    g_return_val_if_fail(s != NULL && is_source(s), false);
    g_return_val_if_fail(fd >= 0, false);

    if (s->error) {
        return false;
    }
    if (len > vdc_migration_stream_remaining(s)) {
        set_truncated(s);
        return false;
    }
    if (s->kind == MS_READER) {
        if (!file_write_all(s, fd, off, s->data + s->pos, len)) {
            return false;
        }
        s->pos += len;
    } else if (s->kind == MS_PULL && s->pull_file) {
        size_t from = MIN(len, (size_t)(s->ahead->len - s->ahead_pos));

        if (from > 0 &&
            !file_write_all(s, fd, off, s->ahead->data + s->ahead_pos, from)) {
            return false;
        }
        s->ahead_pos += from;
        if (s->ahead_pos == s->ahead->len) {
            s->ahead_pos = 0;
            g_byte_array_set_size(s->ahead, 0);
        }
        if (!pull_file_exactly(s, fd, off + from, len - from)) {
            return false;
        }
    } else {
        /* Through memory, a step at a time. */
        g_autofree uint8_t *buf = g_malloc(MIN(len, (size_t)FILE_STEP));
        size_t done, n;

        for (done = 0; done < len; done += n) {
            n = MIN(len - done, (size_t)FILE_STEP);
            if (!vdc_migration_get_bytes(s, buf, n) ||
                !file_write_all(s, fd, off + done, buf, n)) {
                return false;
            }
        }
        return true;            /* get_bytes counted the offset */
    }
    s->offset += len;
    return true;
}

/* ---- writing --------------------------------------------------------- */

/*
 * Append @len bytes.  A failed sink drops everything after its first
 * error (see vdc_migration_stream_flush()).
 */
void vdc_migration_put_bytes(VdcMigrationStream *s, const void *buf, size_t len)
{
    g_return_if_fail(s != NULL && is_sink(s));
    g_return_if_fail(buf != NULL || len == 0);

    if (s->error || len == 0) {
        return;
    }
    if (s->kind == MS_BUFFER) {
        /* GByteArray lengths are guint. */
        if (len > G_MAXUINT - (s->offset - s->base)) {
            s->error = g_error_new_literal(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                                           "memory sink full");
            return;
        }
        g_byte_array_append(s->out, buf, (guint)len);
    } else {
        if (s->out->len + len > FD_WBUF_SIZE && !fd_flush(s)) {
            return;
        }
        if (len >= FD_WBUF_SIZE) {
            if (!fd_write_all(s, buf, len)) {
                return;
            }
        } else {
            g_byte_array_append(s->out, buf, (guint)len);
        }
    }
    s->offset += len;
}

void vdc_migration_put_bytes_ref(VdcMigrationStream *s, GBytes *bytes,
                                 size_t off, size_t len)
{
    gsize size;
    const uint8_t *p;

    g_return_if_fail(s != NULL && is_sink(s) && bytes != NULL);
    p = g_bytes_get_data(bytes, &size);
    g_return_if_fail(off <= size && len <= size - off);

    if (s->kind != MS_BUFFER || len < REF_MIN || s->error) {
        vdc_migration_put_bytes(s, p + off, len);
        return;
    }
    if (len > G_MAXUINT - (s->offset - s->base)) {
        /* As vdc_migration_put_bytes(): the sink's bytes fit a guint. */
        s->error = g_error_new_literal(VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_IO,
                                       "memory sink full");
        return;
    }
    if (!s->pieces) {
        s->pieces = g_ptr_array_new_with_free_func(
            (GDestroyNotify)g_bytes_unref);
    }
    if (s->out->len) {
        g_ptr_array_add(s->pieces, g_byte_array_free_to_bytes(s->out));
        s->out = g_byte_array_new();
    }
    g_ptr_array_add(s->pieces, g_bytes_new_from_bytes(bytes, off, len));
    s->offset += len;
}

void vdc_migration_put_u8(VdcMigrationStream *s, uint8_t v)
{
    vdc_migration_put_bytes(s, &v, 1);
}

void vdc_migration_put_be16(VdcMigrationStream *s, uint16_t v)
{
    uint16_t be = GUINT16_TO_BE(v);

    vdc_migration_put_bytes(s, &be, sizeof(be));
}

void vdc_migration_put_be32(VdcMigrationStream *s, uint32_t v)
{
    uint32_t be = GUINT32_TO_BE(v);

    vdc_migration_put_bytes(s, &be, sizeof(be));
}

void vdc_migration_put_be64(VdcMigrationStream *s, uint64_t v)
{
    uint64_t be = GUINT64_TO_BE(v);

    vdc_migration_put_bytes(s, &be, sizeof(be));
}

/*
 * Write what an fd sink buffers.  False with a copy of the sticky error
 * when the sink (of any kind) has failed; a source just returns true.
 */
bool vdc_migration_stream_flush(VdcMigrationStream *s, GError **errp)
{
    g_return_val_if_fail(s != NULL, false);

    if (s->kind == MS_FD_SINK) {
        fd_flush(s);
    }
    if (is_sink(s) && s->error) {
        g_propagate_error(errp, g_error_copy(s->error));
        return false;
    }
    return true;
}

/* ---- reading --------------------------------------------------------- */

/*
 * Read exactly @len bytes into @buf.  At end of stream or on an I/O
 * error: @buf is zeroed, the sticky error set, false returned.
 */
bool vdc_migration_get_bytes(VdcMigrationStream *s, void *buf, size_t len)
{
    uint8_t *p = buf;

    g_return_val_if_fail(s != NULL && is_source(s), false);
    g_return_val_if_fail(buf != NULL || len == 0, false);

    if (s->error) {
        goto err;
    }
    if (s->kind == MS_READER) {
        if (len > s->len - s->pos) {
            set_truncated(s);
            goto err;
        }
        if (len) {
            memcpy(p, s->data + s->pos, len);
        }
        s->pos += len;
    } else if (s->kind == MS_PULL) {
        if (len > pull_remaining(s)) {
            set_truncated(s);
            goto err;
        }
        if (!pull_get(s, p, len)) {
            goto err;
        }
    } else {
        size_t from_ahead = MIN(len, (size_t)s->ahead->len);
        size_t done = from_ahead;

        if (from_ahead) {
            memcpy(p, s->ahead->data, from_ahead);
            g_byte_array_remove_range(s->ahead, 0, (guint)from_ahead);
        }
        while (done < len) {
            ssize_t n = fd_read_some(s, p + done, len - done);

            if (n <= 0) {
                if (n == 0) {
                    set_truncated(s);
                }
                /* The consumed bytes are gone either way. */
                s->offset += done;
                goto err;
            }
            done += (size_t)n;
        }
    }
    s->offset += len;
    return true;

err:
    if (len) {
        memset(p, 0, len);
    }
    return false;
}

bool vdc_migration_get_u8(VdcMigrationStream *s, uint8_t *v)
{
    return vdc_migration_get_bytes(s, v, 1);
}

bool vdc_migration_get_be16(VdcMigrationStream *s, uint16_t *v)
{
    uint16_t be;
    bool ok = vdc_migration_get_bytes(s, &be, sizeof(be));

    *v = GUINT16_FROM_BE(be);
    return ok;
}

bool vdc_migration_get_be32(VdcMigrationStream *s, uint32_t *v)
{
    uint32_t be;
    bool ok = vdc_migration_get_bytes(s, &be, sizeof(be));

    *v = GUINT32_FROM_BE(be);
    return ok;
}

bool vdc_migration_get_be64(VdcMigrationStream *s, uint64_t *v)
{
    uint64_t be;
    bool ok = vdc_migration_get_bytes(s, &be, sizeof(be));

    *v = GUINT64_FROM_BE(be);
    return ok;
}

bool vdc_migration_peek_bytes(VdcMigrationStream *s, void *buf, size_t len)
{
    g_return_val_if_fail(s != NULL && is_source(s), false);
    g_return_val_if_fail(len <= VDC_MIGRATION_PEEK_MAX, false);
    g_return_val_if_fail(buf != NULL || len == 0, false);

    if (s->error) {
        return false;
    }
    if (s->kind == MS_READER) {
        if (len > s->len - s->pos) {
            return false;
        }
        if (len) {
            memcpy(buf, s->data + s->pos, len);
        }
        return true;
    }
    if (s->kind == MS_PULL) {
        if (len > pull_remaining(s) || !pull_ahead(s, len)) {
            return false;
        }
        memcpy(buf, s->ahead->data + s->ahead_pos, len);
        return true;
    }
    if (!fd_fill_ahead(s, len)) {
        return false;
    }
    if (len) {
        memcpy(buf, s->ahead->data, len);
    }
    return true;
}

bool vdc_migration_peek_u8(VdcMigrationStream *s, uint8_t *v)
{
    return vdc_migration_peek_bytes(s, v, 1);
}

/*
 * True when a source has nothing more: a memory source at its end, an fd
 * source whose read() returned 0 (this may block until the writer sends a
 * byte or closes).  A failed source is at its end.
 */
uint64_t vdc_migration_stream_remaining(const VdcMigrationStream *s)
{
    if (s->kind == MS_READER && !s->error) {
        return s->len - s->pos;
    }
    if (s->kind == MS_PULL && !s->error) {
        return pull_remaining(s);
    }
    return s->error ? 0 : UINT64_MAX;
}

bool vdc_migration_stream_at_end(VdcMigrationStream *s)
{
    uint8_t b;

    g_return_val_if_fail(s != NULL && is_source(s), true);

    if (s->error) {
        return true;
    }
    if (s->kind == MS_READER) {
        return s->pos == s->len;
    }
    if (s->kind == MS_PULL) {
        return pull_remaining(s) == 0;
    }
    return !vdc_migration_peek_bytes(s, &b, 1);
}
