/*
 * migration-stream.c: byte sources and sinks, and the QEVM container.
 * See migration-stream.h for the model and vmstate.h for the engine.
 *
 * Sources never read ahead: an fd source takes from the fd exactly the
 * bytes the loader consumes, plus the few it peeks at (a subsection marker
 * and name prefix).  So when migration_load() returns, the fd is positioned
 * right after the vmdesc and the caller can read its own framing next.
 */
#define G_LOG_DOMAIN "migration"

#include "migration/migration-stream.h"
#include "migration/vmstate.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* QEMU's savevm constants (migration/savevm.h). */
#define QEVM_MAGIC              0x5145564du
#define QEVM_VERSION            3u
#define QEVM_EOF                0x00
#define QEVM_SECTION_FULL       0x04
#define QEVM_VMDESCRIPTION      0x06
#define QEVM_SECTION_FOOTER     0x7e

#define QEVM_PAGE_SIZE          4096
/* An fd source's vmdesc must not announce more than this. */
#define QEVM_VMDESC_MAX         (16u * 1024 * 1024)
/* fd sinks flush when this much is buffered. */
#define FD_WBUF_SIZE            (64u * 1024)
/* The vmdesc of an fd source is read in pieces of this size. */
#define FD_READ_PIECE           (64u * 1024)
/* Nesting depth accepted when parsing a vmdesc. */
#define VMDESC_JSON_DEPTH       64

typedef enum {
    MS_BUFFER,      /* memory sink */
    MS_READER,      /* memory source */
    MS_FD_SINK,
    MS_FD_SOURCE,
} StreamKind;

struct MigrationStream {
    StreamKind kind;
    uint64_t offset;        /* bytes written (accepted) or consumed */
    GError *error;          /* sticky */

    /* MS_BUFFER: the bytes; MS_FD_SINK: bytes not yet written */
    GByteArray *out;

    /* MS_READER */
    const uint8_t *data;
    size_t len, pos;

    /* fd streams */
    int fd;
    bool use_send;          /* sink: try send(MSG_NOSIGNAL) first */
    bool eof;               /* source: read() returned 0 */
    GByteArray *ahead;      /* source: peeked, not yet consumed */
};

static bool is_sink(const MigrationStream *s)
{
    return s->kind == MS_BUFFER || s->kind == MS_FD_SINK;
}

static bool is_source(const MigrationStream *s)
{
    return s->kind == MS_READER || s->kind == MS_FD_SOURCE;
}

static void set_io_error(MigrationStream *s, int err, const char *what)
{
    if (!s->error) {
        s->error = g_error_new(VMSTATE_ERROR, VMSTATE_ERROR_IO,
                               "%s fd %d: %s", what, s->fd, g_strerror(err));
    }
}

static void set_truncated(MigrationStream *s)
{
    if (!s->error) {
        s->error = g_error_new_literal(VMSTATE_ERROR, VMSTATE_ERROR_TRUNCATED,
                                       "stream truncated");
    }
}

/* ---- construction ---------------------------------------------------- */

MigrationStream *migration_stream_new_buffer(void)
{
    MigrationStream *s = g_new0(MigrationStream, 1);

    s->kind = MS_BUFFER;
    s->fd = -1;
    s->out = g_byte_array_new();
    return s;
}

MigrationStream *migration_stream_new_reader(const uint8_t *data, size_t len)
{
    MigrationStream *s;

    g_return_val_if_fail(data != NULL || len == 0, NULL);

    s = g_new0(MigrationStream, 1);
    s->kind = MS_READER;
    s->fd = -1;
    s->data = data;
    s->len = len;
    return s;
}

MigrationStream *migration_stream_new_fd(int fd, bool write)
{
    MigrationStream *s;

    g_return_val_if_fail(fd >= 0, NULL);

    s = g_new0(MigrationStream, 1);
    s->fd = fd;
    if (write) {
        s->kind = MS_FD_SINK;
        s->out = g_byte_array_sized_new(FD_WBUF_SIZE);
        s->use_send = true;
    } else {
        s->kind = MS_FD_SOURCE;
        s->ahead = g_byte_array_new();
    }
    return s;
}

static bool fd_flush(MigrationStream *s);

/*
 * Free @s; an fd sink first writes what it still buffers (an error there
 * is only logged: call migration_stream_flush() to see it).  The fd stays
 * open.  NULL is a no-op.
 */
void migration_stream_free(MigrationStream *s)
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
    g_clear_error(&s->error);
    g_free(s);
}

uint64_t migration_stream_offset(const MigrationStream *s)
{
    g_return_val_if_fail(s != NULL, 0);
    return s->offset;
}

const uint8_t *migration_stream_data(const MigrationStream *s, size_t *len)
{
    g_return_val_if_fail(s != NULL && s->kind == MS_BUFFER, NULL);

    if (len) {
        *len = s->out->len;
    }
    return s->out->data;
}

const GError *migration_stream_error(const MigrationStream *s)
{
    g_return_val_if_fail(s != NULL, NULL);
    return s->error;
}

/* ---- fd I/O ---------------------------------------------------------- */

/* Wait until @fd is ready for @events (a non-blocking fd said EAGAIN). */
static int fd_wait(int fd, short events)
{
    struct pollfd pfd = { .fd = fd, .events = events };

    for (;;) {
        int r = poll(&pfd, 1, -1);

        if (r >= 0) {
            return 0;
        }
        if (errno != EINTR) {
            return errno;
        }
    }
}

/*
 * Write all @len bytes at @p, retrying on EINTR, EAGAIN and partial
 * writes.  Sockets get send(MSG_NOSIGNAL) so a vanished peer is EPIPE,
 * not SIGPIPE (for a pipe the caller must ignore SIGPIPE).
 */
static bool fd_write_all(MigrationStream *s, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n;

        if (s->use_send) {
            n = send(s->fd, p, len, MSG_NOSIGNAL);
            if (n < 0 && errno == ENOTSOCK) {
                s->use_send = false;
                continue;
            }
        } else {
            n = write(s->fd, p, len);
        }
        if (n < 0) {
            int err = errno;

            if (err == EINTR) {
                continue;
            }
            if (err == EAGAIN || err == EWOULDBLOCK) {
                err = fd_wait(s->fd, POLLOUT);
                if (err == 0) {
                    continue;
                }
            }
            set_io_error(s, err, "write to");
            return false;
        }
        if (n == 0) {
            /* No progress and no errno: do not spin. */
            set_io_error(s, ENOSPC, "write to");
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static bool fd_flush(MigrationStream *s)
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
static ssize_t fd_read_some(MigrationStream *s, uint8_t *p, size_t len)
{
    if (s->eof) {
        return 0;
    }
    for (;;) {
        ssize_t n = read(s->fd, p, len);

        if (n > 0) {
            return n;
        }
        if (n == 0) {
            s->eof = true;
            return 0;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int err = fd_wait(s->fd, POLLIN);

            if (err == 0) {
                continue;
            }
            set_io_error(s, err, "read from");
            return -1;
        }
        set_io_error(s, errno, "read from");
        return -1;
    }
}

/* Make the lookahead hold at least @len bytes; false at EOF or error. */
static bool fd_fill_ahead(MigrationStream *s, size_t len)
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

/* ---- writing --------------------------------------------------------- */

/*
 * Append @len bytes.  A failed sink drops everything after its first
 * error (see migration_stream_flush()).
 */
void migration_put_bytes(MigrationStream *s, const void *buf, size_t len)
{
    g_return_if_fail(s != NULL && is_sink(s));
    g_return_if_fail(buf != NULL || len == 0);

    if (s->error || len == 0) {
        return;
    }
    if (s->kind == MS_BUFFER) {
        /* GByteArray lengths are guint. */
        if (len > G_MAXUINT - s->out->len) {
            s->error = g_error_new_literal(VMSTATE_ERROR, VMSTATE_ERROR_IO,
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

void migration_put_u8(MigrationStream *s, uint8_t v)
{
    migration_put_bytes(s, &v, 1);
}

void migration_put_be16(MigrationStream *s, uint16_t v)
{
    uint16_t be = GUINT16_TO_BE(v);

    migration_put_bytes(s, &be, sizeof(be));
}

void migration_put_be32(MigrationStream *s, uint32_t v)
{
    uint32_t be = GUINT32_TO_BE(v);

    migration_put_bytes(s, &be, sizeof(be));
}

void migration_put_be64(MigrationStream *s, uint64_t v)
{
    uint64_t be = GUINT64_TO_BE(v);

    migration_put_bytes(s, &be, sizeof(be));
}

/*
 * Write what an fd sink buffers.  False with a copy of the sticky error
 * when the sink (of any kind) has failed; a source just returns true.
 */
bool migration_stream_flush(MigrationStream *s, GError **errp)
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
bool migration_get_bytes(MigrationStream *s, void *buf, size_t len)
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

bool migration_get_u8(MigrationStream *s, uint8_t *v)
{
    return migration_get_bytes(s, v, 1);
}

bool migration_get_be16(MigrationStream *s, uint16_t *v)
{
    uint16_t be;
    bool ok = migration_get_bytes(s, &be, sizeof(be));

    *v = GUINT16_FROM_BE(be);
    return ok;
}

bool migration_get_be32(MigrationStream *s, uint32_t *v)
{
    uint32_t be;
    bool ok = migration_get_bytes(s, &be, sizeof(be));

    *v = GUINT32_FROM_BE(be);
    return ok;
}

bool migration_get_be64(MigrationStream *s, uint64_t *v)
{
    uint64_t be;
    bool ok = migration_get_bytes(s, &be, sizeof(be));

    *v = GUINT64_FROM_BE(be);
    return ok;
}

bool migration_peek_bytes(MigrationStream *s, void *buf, size_t len)
{
    g_return_val_if_fail(s != NULL && is_source(s), false);
    g_return_val_if_fail(len <= MIGRATION_PEEK_MAX, false);
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
    if (!fd_fill_ahead(s, len)) {
        return false;
    }
    if (len) {
        memcpy(buf, s->ahead->data, len);
    }
    return true;
}

bool migration_peek_u8(MigrationStream *s, uint8_t *v)
{
    return migration_peek_bytes(s, v, 1);
}

/*
 * True when a source has nothing more: a memory source at its end, an fd
 * source whose read() returned 0 (this may block until the writer sends a
 * byte or closes).  A failed source is at its end.
 */
uint64_t migration_stream_remaining(const MigrationStream *s)
{
    if (s->kind == MS_READER && !s->error) {
        return s->len - s->pos;
    }
    return s->error ? 0 : UINT64_MAX;
}

bool migration_stream_at_end(MigrationStream *s)
{
    uint8_t b;

    g_return_val_if_fail(s != NULL && is_source(s), true);

    if (s->error) {
        return true;
    }
    if (s->kind == MS_READER) {
        return s->pos == s->len;
    }
    return !migration_peek_bytes(s, &b, 1);
}

/* ---- the registry ---------------------------------------------------- */

typedef struct MigrationSection {
    char *idstr;
    uint32_t instance_id;
    const VMStateDescription *vmsd;
    void *opaque;
} MigrationSection;

struct MigrationRegistry {
    GArray *sections;       /* MigrationSection, in registration order */
};

static void section_clear(gpointer p)
{
    MigrationSection *sec = p;

    g_free(sec->idstr);
}

MigrationRegistry *migration_registry_new(void)
{
    MigrationRegistry *reg = g_new0(MigrationRegistry, 1);

    reg->sections = g_array_new(FALSE, TRUE, sizeof(MigrationSection));
    g_array_set_clear_func(reg->sections, section_clear);
    return reg;
}

void migration_registry_free(MigrationRegistry *reg)
{
    if (!reg) {
        return;
    }
    g_array_unref(reg->sections);
    g_free(reg);
}

static MigrationSection *find_section(MigrationRegistry *reg,
                                      const char *idstr, size_t idlen,
                                      uint32_t instance_id, guint *index)
{
    guint i;

    for (i = 0; i < reg->sections->len; i++) {
        MigrationSection *sec = &g_array_index(reg->sections,
                                               MigrationSection, i);

        if (sec->instance_id == instance_id &&
            strlen(sec->idstr) == idlen &&
            memcmp(sec->idstr, idstr, idlen) == 0) {
            if (index) {
                *index = i;
            }
            return sec;
        }
    }
    return NULL;
}

/*
 * Sections are saved in registration order with section ids 0, 1, ...;
 * see the header for the rest of the contract.
 */
bool migration_register(MigrationRegistry *reg, const char *idstr,
                        uint32_t instance_id, const VMStateDescription *vmsd,
                        void *opaque, GError **errp)
{
    MigrationSection sec;
    size_t idlen;

    g_return_val_if_fail(reg != NULL && idstr != NULL && vmsd != NULL, false);
    idlen = strlen(idstr);
    g_return_val_if_fail(idlen >= 1 && idlen <= 255, false);

    if (find_section(reg, idstr, idlen, instance_id, NULL)) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_DUPLICATE,
                    "section '%s' instance %" PRIu32 " is already registered",
                    idstr, instance_id);
        return false;
    }
    sec.idstr = g_strdup(idstr);
    sec.instance_id = instance_id;
    sec.vmsd = vmsd;
    sec.opaque = opaque;
    g_array_append_val(reg->sections, sec);
    return true;
}

/* Remove @idstr / @instance_id; an unknown one is a no-op. */
void migration_unregister(MigrationRegistry *reg, const char *idstr,
                          uint32_t instance_id)
{
    guint i;

    g_return_if_fail(reg != NULL && idstr != NULL);

    if (find_section(reg, idstr, strlen(idstr), instance_id, &i)) {
        g_array_remove_index(reg->sections, i);
    }
}

/* ---- saving ---------------------------------------------------------- */

/*
 * QEMU's analyze-migration.py finds the vmdesc by searching for the first
 * '{' after the last NUL byte of the file, and the JSON itself holds no
 * NUL.  So the last NUL is either the EOF marker before 0x06 or a zero
 * byte of the be32 length, and no length byte after it may be '{'.
 */
static bool vmdesc_len_ok(uint32_t len)
{
    uint8_t b[4] = { len >> 24, len >> 16, len >> 8, len };
    int i;

    for (i = 3; i >= 0 && b[i] != 0; i--) {
        if (b[i] == '{') {
            return false;
        }
    }
    return true;
}

/*
 * The vmdesc text: @root serialized plain (no spaces, '/' not escaped),
 * with spaces inserted before the final '}' until the length is safe.
 */
static char *vmdesc_text(json_object *root, size_t *lenp)
{
    const char *json = json_object_to_json_string_ext(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    size_t len = strlen(json);
    GString *out;

    if (len > G_MAXUINT32 - 256) {
        return NULL;
    }
    out = g_string_new_len(json, (gssize)len - 1);   /* without the '}' */
    while (!vmdesc_len_ok((uint32_t)len)) {
        g_string_append_c(out, ' ');
        len++;
    }
    g_string_append_c(out, '}');
    *lenp = out->len;
    return g_string_free(out, FALSE);
}

/*
 * Write magic, version, one FULL section per registered section (section
 * ids in registration order), EOF and the vmdesc; flush an fd sink.
 * Errors: a section's pre_save or table, the sink.
 */
bool migration_save(MigrationRegistry *reg, MigrationStream *s,
                    GError **errp)
{
    json_object *root = NULL;
    json_object *devices;
    g_autofree char *text = NULL;
    size_t text_len = 0;
    guint i;

    g_return_val_if_fail(reg != NULL && s != NULL && is_sink(s), false);

    root = json_object_new_object();
    json_object_object_add(root, "page_size",
                           json_object_new_int(QEVM_PAGE_SIZE));
    devices = json_object_new_array();
    json_object_object_add(root, "devices", devices);

    migration_put_be32(s, QEVM_MAGIC);
    migration_put_be32(s, QEVM_VERSION);
    for (i = 0; i < reg->sections->len; i++) {
        MigrationSection *sec = &g_array_index(reg->sections,
                                               MigrationSection, i);
        size_t idlen = strlen(sec->idstr);
        json_object *dev = json_object_new_object();

        json_object_array_add(devices, dev);
        json_object_object_add(dev, "name", json_object_new_string(sec->idstr));
        json_object_object_add(dev, "instance_id",
                               json_object_new_int64(sec->instance_id));

        migration_put_u8(s, QEVM_SECTION_FULL);
        migration_put_be32(s, i);
        migration_put_u8(s, (uint8_t)idlen);
        migration_put_bytes(s, sec->idstr, idlen);
        migration_put_be32(s, sec->instance_id);
        migration_put_be32(s, (uint32_t)sec->vmsd->version_id);
        if (!vmstate_save(s, sec->vmsd, sec->opaque, dev, errp)) {
            g_prefix_error(errp, "section '%s' instance %" PRIu32 ": ",
                           sec->idstr, sec->instance_id);
            goto err;
        }
        migration_put_u8(s, QEVM_SECTION_FOOTER);
        migration_put_be32(s, i);
    }
    migration_put_u8(s, QEVM_EOF);

    text = vmdesc_text(root, &text_len);
    if (!text) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "vmdesc too large");
        goto err;
    }
    migration_put_u8(s, QEVM_VMDESCRIPTION);
    migration_put_be32(s, (uint32_t)text_len);
    migration_put_bytes(s, text, text_len);
    if (!migration_stream_flush(s, errp)) {
        goto err;
    }
    json_object_put(root);
    return true;

err:
    json_object_put(root);
    return false;
}

/* ---- loading --------------------------------------------------------- */

/* @p[0..len) for an error message: printable ASCII, the rest as \xNN. */
static char *printable(const uint8_t *p, size_t len)
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

/* The stream failed while reading @what at @off: its error, named. */
static bool fail_read(MigrationStream *s, GError **errp, const char *what,
                      uint64_t off)
{
    g_set_error(errp, VMSTATE_ERROR,
                s->error ? s->error->code : VMSTATE_ERROR_TRUNCATED,
                "%s at offset %" PRIu64 ": %s", what, off,
                s->error ? s->error->message : "stream truncated");
    return false;
}

/* Read the vmdesc after its 0x06 marker; see migration_load(). */
static bool load_vmdesc(MigrationStream *s, GError **errp)
{
    g_autoptr(GByteArray) json = g_byte_array_new();
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    uint64_t off = s->offset;
    uint32_t len;
    size_t end;

    if (!migration_get_be32(s, &len)) {
        return fail_read(s, errp, "vmdesc length", off);
    }
    /* Bound the length before allocating anything. */
    if (s->kind == MS_READER && len > s->len - s->pos) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_TRUNCATED,
                    "vmdesc at offset %" PRIu64 ": length %" PRIu32
                    " but only %zu bytes left", off, len, s->len - s->pos);
        return false;
    }
    if (s->kind == MS_FD_SOURCE && len > QEVM_VMDESC_MAX) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "vmdesc at offset %" PRIu64 ": length %" PRIu32
                    " above maximum %u", off, len, QEVM_VMDESC_MAX);
        return false;
    }
    /* In pieces: a lying length costs no more memory than the bytes sent. */
    while (json->len < len) {
        guint have = json->len;
        guint piece = MIN(len - have, FD_READ_PIECE);

        g_byte_array_set_size(json, have + piece);
        if (!migration_get_bytes(s, json->data + have, piece)) {
            return fail_read(s, errp, "vmdesc", off + 4);
        }
    }
    if (len == 0 || memchr(json->data, 0, len)) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "vmdesc at offset %" PRIu64 ": %s", off + 4,
                    len == 0 ? "empty" : "contains a NUL byte");
        return false;
    }
    tok = json_tokener_new_ex(VMDESC_JSON_DEPTH);
    obj = json_tokener_parse_ex(tok, (const char *)json->data, (int)len);
    end = json_tokener_get_parse_end(tok);
    if (!obj || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(obj, json_type_object)) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "vmdesc at offset %" PRIu64 ": not a JSON object (%s)",
                    off + 4, obj ? "wrong type"
                    : json_tokener_error_desc(json_tokener_get_error(tok)));
        goto err;
    }
    for (; end < len; end++) {
        if (!g_ascii_isspace(json->data[end])) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "vmdesc at offset %" PRIu64 ": bytes after the "
                        "JSON object", off + 4);
            goto err;
        }
    }
    json_object_put(obj);
    json_tokener_free(tok);
    return true;

err:
    json_object_put(obj);
    json_tokener_free(tok);
    return false;
}

/* One FULL section after its 0x04 marker, read at @start. */
static bool load_section(MigrationRegistry *reg, MigrationStream *s,
                         bool *loaded, uint64_t start, GError **errp)
{
    uint8_t idstr[256];
    g_autofree char *name = NULL;
    MigrationSection *sec;
    uint32_t section_id, instance_id, version, footer_id;
    uint8_t idlen, footer;
    uint64_t off;
    guint index;

    if (!migration_get_be32(s, &section_id) ||
        !migration_get_u8(s, &idlen) ||
        !migration_get_bytes(s, idstr, idlen) ||
        !migration_get_be32(s, &instance_id) ||
        !migration_get_be32(s, &version)) {
        return fail_read(s, errp, "section header", start);
    }
    name = printable(idstr, idlen);
    sec = find_section(reg, (const char *)idstr, idlen, instance_id, &index);
    if (!sec) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_UNKNOWN,
                    "unknown section '%s' instance %" PRIu32
                    " at offset %" PRIu64, name, instance_id, start);
        return false;
    }
    if (loaded[index]) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": appears twice", name, instance_id, start);
        return false;
    }
    if (version > (uint32_t)sec->vmsd->version_id ||
        version < (uint32_t)sec->vmsd->minimum_version_id) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_VERSION,
                    "section '%s' instance %" PRIu32 " at offset %" PRIu64
                    ": unsupported version %" PRIu32 " (supported %d..%d)",
                    name, instance_id, start, version,
                    sec->vmsd->minimum_version_id, sec->vmsd->version_id);
        return false;
    }
    /* From here on the section's hooks run: it is told of a failure. */
    loaded[index] = true;
    if (!vmstate_load(s, sec->vmsd, sec->opaque, (int)version, errp)) {
        g_prefix_error(errp, "section '%s' instance %" PRIu32 ": ",
                       name, instance_id);
        return false;
    }

    off = s->offset;
    if (!migration_get_u8(s, &footer) || !migration_get_be32(s, &footer_id)) {
        g_autofree char *what = g_strdup_printf(
            "section '%s' instance %" PRIu32 ": footer", name, instance_id);

        return fail_read(s, errp, what, off);
    }
    if (footer != QEVM_SECTION_FOOTER || footer_id != section_id) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "section '%s' instance %" PRIu32 ": bad footer at offset "
                    "%" PRIu64 " (0x%02x id %" PRIu32 ", expected 0x%02x id "
                    "%" PRIu32 ")", name, instance_id, off, footer, footer_id,
                    QEVM_SECTION_FOOTER, section_id);
        return false;
    }
    return true;
}

/*
 * Sections may come in any order, each at most once; registered sections
 * missing from the stream are left alone (QEMU does the same).  See the
 * header for the rest.
 */
static bool migration_load_stream(MigrationRegistry *reg, MigrationStream *s,
                                  bool *loaded, GError **errp);

bool migration_load(MigrationRegistry *reg, MigrationStream *s,
                    GError **errp)
{
    g_autofree bool *loaded = NULL;
    unsigned i;

    g_return_val_if_fail(reg != NULL && s != NULL, false);

    loaded = g_new0(bool, reg->sections->len + 1);
    if (migration_load_stream(reg, s, loaded, errp)) {
        return true;
    }
    /*
     * The stream as a whole failed: a section whose load began (it may
     * even have committed, its post_load running before a later byte
     * failed) must not keep that state.  Sections never reached are left
     * as they were.
     */
    for (i = 0; i < reg->sections->len; i++) {
        MigrationSection *sec = &g_array_index(reg->sections,
                                               MigrationSection, i);

        if (loaded[i] && sec->vmsd->load_failed) {
            sec->vmsd->load_failed(sec->opaque);
        }
    }
    return false;
}

static bool migration_load_stream(MigrationRegistry *reg, MigrationStream *s,
                                  bool *loaded, GError **errp)
{
    uint32_t magic, version;
    uint8_t type;
    uint64_t off;

    g_return_val_if_fail(is_source(s), false);

    off = s->offset;
    if (!migration_get_be32(s, &magic) || !migration_get_be32(s, &version)) {
        return fail_read(s, errp, "stream header", off);
    }
    if (magic != QEVM_MAGIC) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "not a migration stream (magic 0x%08" PRIx32
                    " at offset %" PRIu64 ")", magic, off);
        return false;
    }
    if (version != QEVM_VERSION) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_VERSION,
                    "unsupported stream version %" PRIu32 " at offset %"
                    PRIu64 " (supported %u)", version, off + 4, QEVM_VERSION);
        return false;
    }

    for (;;) {
        off = s->offset;
        if (!migration_get_u8(s, &type)) {
            return fail_read(s, errp, "section type", off);
        }
        if (type == QEVM_EOF) {
            break;
        }
        if (type != QEVM_SECTION_FULL) {
            g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                        "unexpected section type 0x%02x at offset %" PRIu64,
                        type, off);
            return false;
        }
        if (!load_section(reg, s, loaded, off, errp)) {
            return false;
        }
    }

    /* The vmdesc: optional in memory, required (and the end) on an fd. */
    off = s->offset;
    if (s->kind == MS_READER && migration_stream_at_end(s)) {
        return true;
    }
    if (!migration_get_u8(s, &type)) {
        return fail_read(s, errp, "vmdesc", off);
    }
    if (type != QEVM_VMDESCRIPTION) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "unexpected byte 0x%02x after EOF at offset %" PRIu64
                    " (expected the vmdesc 0x%02x)", type, off,
                    QEVM_VMDESCRIPTION);
        return false;
    }
    if (!load_vmdesc(s, errp)) {
        return false;
    }
    if (s->kind == MS_READER && !migration_stream_at_end(s)) {
        g_set_error(errp, VMSTATE_ERROR, VMSTATE_ERROR_INVALID,
                    "%zu bytes of trailing garbage at offset %" PRIu64,
                    s->len - s->pos, s->offset);
        return false;
    }
    return true;
}
