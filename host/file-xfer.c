/*
 * file-xfer.c: vdagent-host's file transfers (see file-xfer.h).
 *
 * Each transfer is a host file opened at file-send (so a path that does
 * not open is an error of the command, not of the transfer), read by the
 * device as the guest takes the data, and closed when the transfer ends.
 * The FILE_TRANSFER event tells every status change and, while sending,
 * the progress at most every HOST_FILE_XFER_EVENT_MS; its last one for a
 * transfer carries its end ("success", or a failure with "error").
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/file-xfer.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host/commands.h"
#include "vdagent/vdc-file-xfer.h"

typedef struct HostXfer {
    HostFileXfers *fx;
    uint32_t id;
    char *name;
    char *path;
    int fd;                          /* -1 once closed */
    uint64_t size, sent;
    VdcFileXferStatus status;
    char *error;                     /* why it ended, NULL on success */
    bool migrated;                   /* went with the state to a
                                        migration's destination */
    gint64 last_event;               /* monotonic, µs */
} HostXfer;

struct HostFileXfers {
    Host *h;
    GPtrArray *xfers;                /* HostXfer *: under way, then the
                                        latest ended, oldest first */
};

static void xfer_free(HostXfer *x)
{
    if (x->fd >= 0) {
        close(x->fd);
    }
    g_free(x->name);
    g_free(x->path);
    g_free(x->error);
    g_free(x);
}

static HostXfer *xfer_find(HostFileXfers *fx, uint32_t id)
{
    guint i;

    for (i = 0; i < fx->xfers->len; i++) {
        HostXfer *x = g_ptr_array_index(fx->xfers, i);

        if (x->id == id) {
            return x;
        }
    }
    return NULL;
}

static bool xfer_over(const HostXfer *x)
{
    return x->status >= VDC_FILE_XFER_SUCCESS;
}

/* ---- the source ----------------------------------------------------------- */

static gssize src_read(void *opaque, uint8_t *buf, size_t len)
{
    HostXfer *x = opaque;

    for (;;) {
        ssize_t n = read(x->fd, buf, len);

        if (n >= 0) {
            return n;
        }
        if (errno != EINTR) {
            host_log(x->fx->h, "file transfer %u: reading %s: %s", x->id,
                     x->path, g_strerror(errno));
            return -1;
        }
    }
}

static void src_close(void *opaque)
{
    HostXfer *x = opaque;

    if (x->fd >= 0) {
        close(x->fd);
        x->fd = -1;
    }
}

static const VdcFileSource host_source = { src_read, src_close };

/* ---- what the device says ------------------------------------------------- */

static json_object *xfer_json(const HostXfer *x)
{
    json_object *o = json_object_new_object();

    json_object_object_add(o, "id", json_object_new_int64(x->id));
    json_object_object_add(o, "name", json_object_new_string(x->name));
    json_object_object_add(o, "size", json_object_new_int64((int64_t)x->size));
    json_object_object_add(o, "bytes",
                           json_object_new_int64((int64_t)x->sent));
    json_object_object_add(o, "status", json_object_new_string(
                               x->migrated ? "migrated"
                               : vdc_file_xfer_status_name(x->status)));
    if (x->error) {
        json_object_object_add(o, "error", json_object_new_string(x->error));
    }
    return o;
}

/* Ended ones beyond HOST_FILE_XFER_KEEP go, oldest first. */
static void trim_ended(HostFileXfers *fx)
{
    guint i, ended = 0;

    for (i = 0; i < fx->xfers->len; i++) {
        ended += xfer_over(g_ptr_array_index(fx->xfers, i));
    }
    for (i = 0; i < fx->xfers->len && ended > HOST_FILE_XFER_KEEP;) {
        HostXfer *x = g_ptr_array_index(fx->xfers, i);

        if (xfer_over(x)) {
            g_ptr_array_remove_index(fx->xfers, i);
            xfer_free(x);
            ended--;
        } else {
            i++;
        }
    }
}

/* A record for a transfer this host did not start (a migration's). */
static HostXfer *xfer_adopt(HostFileXfers *fx, const VdcFileXferInfo *info)
{
    HostXfer *x = g_new0(HostXfer, 1);

    x->fx = fx;
    x->id = info->id;
    x->name = g_strdup(info->name);
    x->path = g_strdup(info->origin ? info->origin : "");
    x->fd = -1;
    x->size = info->size;
    x->sent = info->sent;
    x->status = info->status;
    g_ptr_array_add(fx->xfers, x);
    return x;
}

static void on_update(void *opaque, const VdcFileXferInfo *info)
{
    HostFileXfers *fx = opaque;
    /* its source's opaque is the record (none: a migrated one, lost) */
    HostXfer *x = info->source_opaque ? info->source_opaque
                                      : xfer_find(fx, info->id);
    gint64 now = g_get_monotonic_time();
    bool changed;

    if (!x) {
        /* one that came in a migration and ends before its source did */
        x = xfer_adopt(fx, info);
        x->status = VDC_FILE_XFER_WAITING;
    }
    changed = x->status != info->status;
    x->status = info->status;
    x->sent = info->sent;
    if (xfer_over(x)) {
        g_free(x->error);
        x->error = g_strdup(info->message);
        /* the source's device, reset once it handed the guest over */
        if (x->status == VDC_FILE_XFER_GUEST_GONE &&
            host_status(fx->h) != HOST_RUNNING &&
            host_status(fx->h) != HOST_INMIGRATE) {
            x->migrated = true;
            g_free(x->error);
            x->error = g_strdup("moved with the VM's state to the "
                                "migration's destination");
        }
        host_log(fx->h, "file transfer %u (%s): %s%s%s", x->id, x->name,
                 vdc_file_xfer_status_name(x->status),
                 x->error ? ": " : "", x->error ? x->error : "");
    }
    /* progress: bounded; a change of status: always */
    if (!changed && now - x->last_event < HOST_FILE_XFER_EVENT_MS * 1000) {
        return;
    }
    x->last_event = now;
    host_event(fx->h, "FILE_TRANSFER", xfer_json(x));
    if (xfer_over(x)) {
        trim_ended(fx);
    }
}

/*
 * On a migration's destination: the file of a transfer the source had
 * under way, by its path, again (same size), at the first byte not sent.
 * The path is the source host's: a shared file system, or the same host.
 */
static bool on_reopen(void *opaque, const VdcFileXferInfo *info,
                      const VdcFileSource **source, void **source_opaque)
{
    HostFileXfers *fx = opaque;
    HostXfer *x = xfer_find(fx, info->id);
    struct stat st;
    int fd;

    if (!x) {
        x = xfer_adopt(fx, info);
    }
    fd = info->origin ? open(info->origin, O_RDONLY | O_CLOEXEC | O_NOCTTY)
                      : -1;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (uint64_t)st.st_size != info->size ||
        lseek(fd, (off_t)info->sent, SEEK_SET) != (off_t)info->sent) {
        host_log(fx->h, "file transfer %u (%s): %s cannot go on here%s%s",
                 info->id, info->name, info->origin ? info->origin : "?",
                 fd < 0 ? ": " : " (another file)",
                 fd < 0 ? g_strerror(errno) : "");
        if (fd >= 0) {
            close(fd);
        }
        return false;
    }
    x->fd = fd;
    host_log(fx->h, "file transfer %u (%s): goes on from byte %"
             G_GUINT64_FORMAT " of %s", x->id, x->name, info->sent, x->path);
    *source = &host_source;
    *source_opaque = x;
    return true;
}

static const VdcFileXferOps host_xfer_ops = {
    .update = on_update,
    .reopen = on_reopen,
};

HostFileXfers *host_file_xfers_new(Host *h)
{
    HostFileXfers *fx = g_new0(HostFileXfers, 1);

    fx->h = h;
    fx->xfers = g_ptr_array_new();
    vdc_chardev_set_file_xfer_ops(h->dev, &host_xfer_ops, fx);
    return fx;
}

void host_file_xfers_free(HostFileXfers *fx)
{
    guint i;

    if (!fx) {
        return;
    }
    for (i = 0; i < fx->xfers->len; i++) {
        xfer_free(g_ptr_array_index(fx->xfers, i));
    }
    g_ptr_array_unref(fx->xfers);
    g_free(fx);
}

/* ---- commands ------------------------------------------------------------ */

static HostFileXfers *fx_of(QmpRequest *req, void *opaque)
{
    HostCommands *hc = opaque;

    if (!hc->fx) {
        qmp_reply_error(req, "file transfer is not available here");
        return NULL;
    }
    return hc->fx;
}

void host_cmd_file_send(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    HostFileXfers *fx = fx_of(req, opaque);
    const char *filename = NULL, *name = NULL;
    g_autofree char *base = NULL;
    g_autoptr(GError) err = NULL;
    struct stat st;
    HostXfer *x;
    json_object *ret;
    int fd;

    if (!fx || !host_commands_arg_filename(req, args, &filename) ||
        !qmp_arg_string(req, args, "name", false, &name) ||
        !host_commands_state_here(hc, req)) {
        return;
    }
    if (!filename) {
        qmp_reply_error(req, "Parameter 'filename' is missing");
        return;
    }
    fd = open(filename, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        qmp_reply_error(req, "cannot open '%s': %s", filename,
                        g_strerror(errno));
        return;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        qmp_reply_error(req, "'%s' is not a regular file", filename);
        close(fd);
        return;
    }
    if (!name) {
        base = g_path_get_basename(filename);
        name = base;
    }
    x = g_new0(HostXfer, 1);
    x->fx = fx;
    x->name = g_strdup(name);
    x->path = g_strdup(filename);
    x->fd = fd;
    x->size = (uint64_t)st.st_size;
    x->status = VDC_FILE_XFER_WAITING;
    x->id = vdc_file_xfer_start(fx->h->dev, name, filename, x->size,
                                &host_source, x, &err);
    if (!x->id) {
        qmp_reply_error(req, "%s", err->message);
        xfer_free(x);
        return;
    }
    g_ptr_array_add(fx->xfers, x);
    host_log(fx->h, "file transfer %u: %s as '%s', %" G_GUINT64_FORMAT
             " bytes", x->id, filename, name, x->size);
    ret = json_object_new_object();
    json_object_object_add(ret, "id", json_object_new_int64(x->id));
    qmp_reply(req, ret);
}

void host_cmd_file_cancel(QmpRequest *req, json_object *args, void *opaque)
{
    HostFileXfers *fx = fx_of(req, opaque);
    int64_t id;

    if (!fx || !qmp_arg_int(req, args, "id", true, &id)) {
        return;
    }
    if (id <= 0 || id > UINT32_MAX ||
        !vdc_file_xfer_cancel(fx->h->dev, (uint32_t)id)) {
        qmp_reply_error(req, "no file transfer %" G_GINT64_FORMAT
                        " under way", id);
        return;
    }
    qmp_reply(req, NULL);
}

void host_cmd_query_file_transfers(QmpRequest *req, json_object *args,
                                   void *opaque)
{
    HostFileXfers *fx = fx_of(req, opaque);
    json_object *list;
    guint i;

    (void)args;
    if (!fx) {
        return;
    }
    list = json_object_new_array();
    for (i = 0; i < fx->xfers->len; i++) {
        HostXfer *x = g_ptr_array_index(fx->xfers, i);

        /* the state left with a migration (tcp:, file:): the source's
         * device keeps it, stopped, for good */
        if (!xfer_over(x) && host_status(fx->h) == HOST_POSTMIGRATE) {
            x->migrated = true;
        }
        json_object_array_add(list, xfer_json(x));
    }
    qmp_reply(req, list);
}
