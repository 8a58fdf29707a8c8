/*
 * vdagent-file-xfer.c: files to the guest (FILE_XFER_START / DATA /
 * STATUS), the device's side of spice's file transfer.
 *
 * The exchange (spice-protocol's vd_agent.h; the Linux agent 0.22.1):
 *  - host: START {id, "[vdagent-file-xfer]\nname=N\nsize=S\n" NUL}; the
 *    agent parses it as a GKeyFile, NUL-terminated, so the NUL is sent;
 *  - agent: STATUS {id, CAN_SEND_DATA}, or a failure (NOT_ENOUGH_SPACE
 *    with the free bytes as detail, SESSION_LOCKED, VDAGENT_NOT_CONNECTED
 *    from a daemon without a session agent, DISABLED, ERROR);
 *  - host: DATA {id, size, bytes}...; the agent counts the bytes and
 *    answers SUCCESS once it has S of them (a 0-byte file takes one empty
 *    DATA), ERROR when it got more or could not write;
 *  - either side: STATUS {id, CANCELLED}; the agent then removes its
 *    partial file.
 * Rules here:
 *  - the file never sits in memory: DATA is read from the embedding's
 *    source only while less than VDC_FILE_XFER_WINDOW bytes of output
 *    wait for the guest (vdc_file_xfer_pump(), at the end of the
 *    outermost device call, as the clipboard's deferred answers), so the
 *    guest's input room (VDC_INPUT_PAUSE) and a save's output bound
 *    hold whatever is in flight;
 *  - transfers take turns, one DATA each;
 *  - every end is told to the embedding exactly once (update()), then the
 *    source is closed: success, a guest status, a host cancel, a port
 *    close, a reset, an agent restart, a failing source, a migration that
 *    could not take the source along;
 *  - a guest STATUS for an id not under way is dropped (UNKNOWN_XFER).
 */
#define G_LOG_DOMAIN "vdagent"

#include "vdagent/vdagent-internal.h"
#include "vdagent/vdc-file-xfer.h"

#define STATUS_HEAD 8u          /* id, result */

struct VdcXfer {
    uint32_t id;
    char *name;
    char *origin;               /* NULL: none */
    uint64_t size;
    uint64_t sent;
    VdcFileXferStatus status;
    const VdcFileSource *src;   /* NULL: loaded, waiting for reopen() */
    void *src_opaque;
    bool data_done;             /* every DATA queued (a 0-byte file: the
                                   empty one) */
    bool needs_source;          /* loaded, its source not asked for yet */
};

static const char *const status_names[VDC_FILE_XFER_STATUS__COUNT] = {
    [VDC_FILE_XFER_WAITING] = "waiting",
    [VDC_FILE_XFER_SENDING] = "sending",
    [VDC_FILE_XFER_SUCCESS] = "success",
    [VDC_FILE_XFER_CANCELLED] = "cancelled",
    [VDC_FILE_XFER_GUEST_CANCELLED] = "guest-cancelled",
    [VDC_FILE_XFER_ERROR] = "error",
    [VDC_FILE_XFER_NOT_ENOUGH_SPACE] = "not-enough-space",
    [VDC_FILE_XFER_SESSION_LOCKED] = "session-locked",
    [VDC_FILE_XFER_AGENT_NOT_CONNECTED] = "agent-not-connected",
    [VDC_FILE_XFER_DISABLED] = "disabled",
    [VDC_FILE_XFER_GUEST_GONE] = "guest-gone",
    [VDC_FILE_XFER_SOURCE_ERROR] = "source-error",
    [VDC_FILE_XFER_PROTOCOL_ERROR] = "protocol-error",
    [VDC_FILE_XFER_MIGRATION_LOST] = "migration-lost",
};

const char *vdc_file_xfer_status_name(VdcFileXferStatus status)
{
    return (unsigned)status < VDC_FILE_XFER_STATUS__COUNT
           ? status_names[status] : "unknown";
}

static void xfer_free(VdcXfer *x)
{
    g_free(x->origin);
    g_free(x->name);
    g_free(x);
}

static VdcXfer *xfer_find(const VdcChardev *dev, uint32_t id, guint *index)
{
    guint i;

    for (i = 0; i < dev->xfers->len; i++) {
        VdcXfer *x = g_ptr_array_index(dev->xfers, i);

        if (x->id == id) {
            if (index) {
                *index = i;
            }
            return x;
        }
    }
    return NULL;
}

static void xfer_info(const VdcXfer *x, VdcFileXferInfo *out)
{
    *out = (VdcFileXferInfo){
        .id = x->id, .name = x->name, .origin = x->origin,
        .source_opaque = x->src_opaque, .size = x->size, .sent = x->sent,
        .status = x->status,
    };
}

static void xfer_update(VdcChardev *dev, const VdcFileXferInfo *info)
{
    if (dev->xfer_ops && dev->xfer_ops->update) {
        dev->xfer_ops->update(dev->xfer_opaque, info);
    }
}

/* STATUS {id, result} to the guest. */
static void send_status(VdcChardev *dev, uint32_t id, uint32_t result)
{
    uint8_t head[STATUS_HEAD];

    vdagent_put_le32(head, id);
    vdagent_put_le32(head + 4, result);
    vdc_send(dev, VD_AGENT_FILE_XFER_STATUS, head, sizeof(head), NULL);
}

/*
 * The end of @x: out of the device first (the callback may start or
 * cancel others), told once, its source closed.  @info carries the
 * status, message and detail.
 */
static void xfer_end(VdcChardev *dev, VdcXfer *x, VdcFileXferInfo *info)
{
    guint i;

    if (xfer_find(dev, x->id, &i)) {
        g_ptr_array_remove_index(dev->xfers, i);
    }
    x->status = info->status;
    info->id = x->id;
    info->name = x->name;
    info->origin = x->origin;
    info->source_opaque = x->src_opaque;
    info->size = x->size;
    info->sent = x->sent;
    g_debug("file transfer %u (%s): %s%s%s", x->id, x->name,
            vdc_file_xfer_status_name(info->status),
            info->message ? ": " : "", info->message ? info->message : "");
    xfer_update(dev, info);
    if (x->src && x->src->close) {
        x->src->close(x->src_opaque);
    }
    xfer_free(x);
}

static void xfer_fail(VdcChardev *dev, VdcXfer *x, VdcFileXferStatus status,
                      const char *message)
{
    VdcFileXferInfo info = { .status = status, .message = message };

    xfer_end(dev, x, &info);
}

/* ---- the name ------------------------------------------------------------ */

static bool name_ok(const char *name, GError **errp)
{
    const char *p;
    size_t len = name ? strlen(name) : 0;

    if (len == 0 || len > VDC_FILE_XFER_NAME_MAX ||
        !g_utf8_validate(name, -1, NULL) || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        g_set_error(errp, VDC_ERROR, VDC_ERROR_INVALID_ARGUMENT,
                    "file name must be 1..%d bytes of UTF-8, not . or ..",
                    VDC_FILE_XFER_NAME_MAX);
        return false;
    }
    for (p = name; *p; p++) {
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f) {
            g_set_error(errp, VDC_ERROR, VDC_ERROR_INVALID_ARGUMENT,
                        "file name with a '/' or a control character");
            return false;
        }
    }
    return true;
}

/*
 * The START text: a GKeyFile group, the value escaped as GKeyFile reads
 * it back (a backslash doubled, a leading or trailing space as "\s": the
 * parser trims unescaped blanks around a value), NUL-terminated.
 */
static GBytes *start_text(const char *name, uint64_t size)
{
    GString *s = g_string_new("[vdagent-file-xfer]\nname=");
    size_t len = strlen(name), i;

    for (i = 0; i < len; i++) {
        char c = name[i];

        if (c == '\\') {
            g_string_append(s, "\\\\");
        } else if (c == ' ' && (i == 0 || i == len - 1)) {
            g_string_append(s, "\\s");
        } else {
            g_string_append_c(s, c);
        }
    }
    g_string_append_printf(s, "\nsize=%" G_GUINT64_FORMAT "\n", size);
    /* with the NUL the agent's parser stops at */
    len = s->len + 1;
    return g_bytes_new_take(g_string_free(s, FALSE), len);
}

/* ---- public calls ---------------------------------------------------------- */

void vdc_chardev_set_file_xfer_ops(VdcChardev *dev,
                                   const VdcFileXferOps *ops, void *opaque)
{
    g_return_if_fail(dev != NULL);
    dev->xfer_ops = ops;
    dev->xfer_opaque = opaque;
}

static uint32_t next_id(VdcChardev *dev)
{
    do {
        dev->xfer_next_id++;
    } while (dev->xfer_next_id == 0 || xfer_find(dev, dev->xfer_next_id, NULL));
    return dev->xfer_next_id;
}

uint32_t vdc_file_xfer_start(VdcChardev *dev, const char *name,
                             const char *origin, uint64_t size,
                             const VdcFileSource *source,
                             void *source_opaque, GError **errp)
{
    g_autoptr(GBytes) text = NULL;
    uint8_t head[4];
    VdcXfer *x;
    unsigned outer;
    uint32_t id;

    g_return_val_if_fail(dev != NULL, 0);
    g_return_val_if_fail(source != NULL && source->read != NULL, 0);
    g_return_val_if_fail(errp == NULL || *errp == NULL, 0);

    if (!name_ok(name, errp)) {
        return 0;
    }
    if (origin && strlen(origin) > VDC_FILE_XFER_ORIGIN_MAX) {
        g_set_error(errp, VDC_ERROR, VDC_ERROR_INVALID_ARGUMENT,
                    "origin longer than %d bytes", VDC_FILE_XFER_ORIGIN_MAX);
        return 0;
    }
    if (!dev->connected || dev->n_guest_caps == 0) {
        g_set_error(errp, VDC_ERROR, VDC_ERROR_NOT_CONNECTED,
                    "no guest agent on the port");
        return 0;
    }
    if (vdc_chardev_guest_has_cap(dev, VD_AGENT_CAP_FILE_XFER_DISABLED)) {
        g_set_error(errp, VDC_ERROR, VDC_ERROR_FILE_XFER_DISABLED,
                    "the guest agent has file transfer disabled");
        return 0;
    }
    if (dev->xfers->len >= VDC_FILE_XFER_MAX) {
        g_set_error(errp, VDC_ERROR, VDC_ERROR_BUSY,
                    "%d file transfers under way already", VDC_FILE_XFER_MAX);
        return 0;
    }
    x = g_new0(VdcXfer, 1);
    x->id = id = next_id(dev);
    x->name = g_strdup(name);
    x->origin = g_strdup(origin);
    x->size = size;
    x->status = VDC_FILE_XFER_WAITING;
    x->src = source;
    x->src_opaque = source_opaque;
    g_ptr_array_add(dev->xfers, x);

    text = start_text(name, size);
    vdagent_put_le32(head, id);
    outer = vdc_enter(dev);
    vdc_send(dev, VD_AGENT_FILE_XFER_START, head, sizeof(head), text);
    vdc_leave(dev, outer);
    return id;
}

bool vdc_file_xfer_cancel(VdcChardev *dev, uint32_t id)
{
    VdcXfer *x;
    unsigned outer;

    g_return_val_if_fail(dev != NULL, false);
    x = xfer_find(dev, id, NULL);
    if (!x) {
        return false;
    }
    outer = vdc_enter(dev);
    send_status(dev, id, VD_AGENT_FILE_XFER_STATUS_CANCELLED);
    /* The same transfer, unless the frontend's write reached it. */
    x = xfer_find(dev, id, NULL);
    if (x) {
        xfer_fail(dev, x, VDC_FILE_XFER_CANCELLED, "cancelled by the host");
    }
    vdc_leave(dev, outer);
    return true;
}

bool vdc_file_xfer_get(const VdcChardev *dev, uint32_t id,
                       VdcFileXferInfo *out)
{
    VdcXfer *x;

    g_return_val_if_fail(dev != NULL && out != NULL, false);
    x = xfer_find(dev, id, NULL);
    if (!x) {
        return false;
    }
    xfer_info(x, out);
    return true;
}

size_t vdc_file_xfer_list(const VdcChardev *dev, uint32_t *ids, size_t max)
{
    guint i;

    g_return_val_if_fail(dev != NULL, 0);
    for (i = 0; i < dev->xfers->len && i < max; i++) {
        ids[i] = ((VdcXfer *)g_ptr_array_index(dev->xfers, i))->id;
    }
    return dev->xfers->len;
}

/* ---- from the guest -------------------------------------------------------- */

void vdc_file_xfer_recv_status(VdcChardev *dev, VdcClipboardSelection sel,
                               GBytes *payload)
{
    size_t size;
    const uint8_t *data = g_bytes_get_data(payload, &size);
    uint32_t id = vdagent_le32(data);
    uint32_t result = vdagent_le32(data + 4);
    const uint8_t *detail = data + STATUS_HEAD;
    size_t detail_len = size - STATUS_HEAD;
    VdcFileXferInfo info = { 0 };
    g_autofree char *message = NULL;
    VdcXfer *x;

    (void)sel;
    x = xfer_find(dev, id, NULL);
    if (!x) {
        g_debug("guest file transfer status %u for id %u: no such transfer",
                result, id);
        vdc_count_drop(dev, VDC_DROP_UNKNOWN_XFER);
        return;
    }
    switch (result) {
    case VD_AGENT_FILE_XFER_STATUS_CAN_SEND_DATA:
        if (x->status != VDC_FILE_XFER_WAITING) {
            dev->counters.ignored++;    /* said twice: nothing changes */
            return;
        }
        x->status = VDC_FILE_XFER_SENDING;
        xfer_info(x, &info);
        xfer_update(dev, &info);
        /* The data goes at the end of the call (vdc_file_xfer_pump()). */
        return;
    case VD_AGENT_FILE_XFER_STATUS_SUCCESS:
        if (!x->data_done) {
            message = g_strdup_printf("the agent said success after %"
                                      G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                                      " bytes", x->sent, x->size);
            send_status(dev, id, VD_AGENT_FILE_XFER_STATUS_CANCELLED);
            if ((x = xfer_find(dev, id, NULL))) {
                xfer_fail(dev, x, VDC_FILE_XFER_PROTOCOL_ERROR, message);
            }
            return;
        }
        info.status = VDC_FILE_XFER_SUCCESS;
        break;
    case VD_AGENT_FILE_XFER_STATUS_CANCELLED:
        info.status = VDC_FILE_XFER_GUEST_CANCELLED;
        info.message = "cancelled by the guest";
        break;
    case VD_AGENT_FILE_XFER_STATUS_ERROR:
        info.status = VDC_FILE_XFER_ERROR;
        if (detail_len >= sizeof(VDAgentFileXferStatusError)) {
            info.has_detail = true;
            info.error_type = detail[0];
            info.error_code = vdagent_le32(detail + 1);
            message = g_strdup_printf("the guest failed (error type %u, "
                                      "code %u)", info.error_type,
                                      info.error_code);
        }
        info.message = message ? message : "the guest failed";
        break;
    case VD_AGENT_FILE_XFER_STATUS_NOT_ENOUGH_SPACE:
        info.status = VDC_FILE_XFER_NOT_ENOUGH_SPACE;
        if (detail_len >= sizeof(VDAgentFileXferStatusNotEnoughSpace)) {
            info.has_detail = true;
            info.disk_free = vdagent_le64(detail);
            message = g_strdup_printf("not enough space in the guest (%"
                                      G_GUINT64_FORMAT " bytes free, %"
                                      G_GUINT64_FORMAT " needed)",
                                      info.disk_free, x->size);
        }
        info.message = message ? message : "not enough space in the guest";
        break;
    case VD_AGENT_FILE_XFER_STATUS_SESSION_LOCKED:
        info.status = VDC_FILE_XFER_SESSION_LOCKED;
        info.message = "the guest's session is locked";
        break;
    case VD_AGENT_FILE_XFER_STATUS_VDAGENT_NOT_CONNECTED:
        info.status = VDC_FILE_XFER_AGENT_NOT_CONNECTED;
        info.message = "no session agent in the guest";
        break;
    case VD_AGENT_FILE_XFER_STATUS_DISABLED:
        info.status = VDC_FILE_XFER_DISABLED;
        info.message = "file transfer is disabled in the guest";
        break;
    default:
        message = g_strdup_printf("unknown status %u from the agent", result);
        send_status(dev, id, VD_AGENT_FILE_XFER_STATUS_CANCELLED);
        if ((x = xfer_find(dev, id, NULL))) {
            xfer_fail(dev, x, VDC_FILE_XFER_PROTOCOL_ERROR, message);
        }
        return;
    }
    xfer_end(dev, x, &info);
}

/* ---- to the guest ---------------------------------------------------------- */

/* The next transfer whose data may go, in turn after the last one served. */
static VdcXfer *next_sender(VdcChardev *dev)
{
    guint n = dev->xfers->len, i;

    for (i = 0; i < n; i++) {
        VdcXfer *x = g_ptr_array_index(dev->xfers,
                                       (dev->xfer_turn + i) % n);

        if (x->status == VDC_FILE_XFER_SENDING && !x->data_done &&
            !x->needs_source) {
            dev->xfer_turn = (dev->xfer_turn + i + 1) % n;
            return x;
        }
    }
    return NULL;
}

/* One DATA of @x: false when the transfer ended instead. */
static bool send_one(VdcChardev *dev, VdcXfer *x)
{
    uint64_t want = MIN(x->size - x->sent, (uint64_t)VDC_FILE_XFER_CHUNK);
    g_autofree uint8_t *buf = g_malloc(want ? want : 1);
    g_autoptr(GBytes) tail = NULL;
    uint8_t head[12];
    uint32_t id = x->id;
    VdcFileXferInfo info;
    size_t got = 0;

    while (got < want) {
        gssize n = x->src->read(x->src_opaque, buf + got, want - got);

        if (n <= 0) {
            send_status(dev, id, VD_AGENT_FILE_XFER_STATUS_CANCELLED);
            if ((x = xfer_find(dev, id, NULL))) {
                xfer_fail(dev, x, VDC_FILE_XFER_SOURCE_ERROR,
                          n < 0 ? "reading the file failed"
                                : "the file ended before its size");
            }
            return false;
        }
        got += (size_t)n;
    }
    vdagent_put_le32(head, id);
    vdagent_put_le64(head + 4, got);
    tail = g_bytes_new_take(g_steal_pointer(&buf), got);
    x->sent += got;
    x->data_done = x->sent == x->size;
    vdc_send(dev, VD_AGENT_FILE_XFER_DATA, head, sizeof(head), tail);
    /* The write may have closed the port: the transfer is then gone. */
    if (!(x = xfer_find(dev, id, NULL))) {
        return false;
    }
    if (got > 0) {
        xfer_info(x, &info);
        xfer_update(dev, &info);
    }
    return true;
}

bool vdc_file_xfer_pump(VdcChardev *dev)
{
    bool sent = false;

    while (dev->connected && dev->running && !dev->resolve_pending &&
           !vdc_session_ended(dev) &&
           vdc_chardev_pending_output(dev) < VDC_FILE_XFER_WINDOW) {
        VdcXfer *x = next_sender(dev);

        if (!x) {
            break;
        }
        send_one(dev, x);
        sent = true;
    }
    return sent;
}

/* ---- session ----------------------------------------------------------- */

void vdc_file_xfer_init(VdcChardev *dev)
{
    dev->xfers = g_ptr_array_new();
}

/* Every transfer ends, told; no message to the guest (it is gone). */
void vdc_file_xfer_fail_all(VdcChardev *dev, VdcFileXferStatus status,
                            const char *message)
{
    while (dev->xfers->len > 0) {
        xfer_fail(dev, g_ptr_array_index(dev->xfers, 0), status, message);
    }
}

void vdc_file_xfer_fini(VdcChardev *dev)
{
    /* No callback from a device being freed: sources are closed only. */
    while (dev->xfers->len > 0) {
        VdcXfer *x = g_ptr_array_steal_index(dev->xfers, 0);

        if (x->src && x->src->close) {
            x->src->close(x->src_opaque);
        }
        xfer_free(x);
    }
    g_ptr_array_unref(dev->xfers);
}

/* ---- migration ----------------------------------------------------------- */

G_STATIC_ASSERT(VDC_SAVED_XFER_MAX == VDC_FILE_XFER_MAX);

void vdc_file_xfer_save(const VdcChardev *dev, VdcSaved *saved)
{
    guint i;

    saved->n_xfers = dev->xfers->len;
    /* ids are never given twice to one guest, migrations included */
    saved->xfer_next_id = dev->xfer_next_id;
    for (i = 0; i < dev->xfers->len; i++) {
        const VdcXfer *x = g_ptr_array_index(dev->xfers, i);
        VdcSavedXfer *s = &saved->xfers[i];

        s->id = x->id;
        s->status = x->status;
        s->size = x->size;
        s->sent = x->sent;
        s->data_done = x->data_done;
        s->name_len = strlen(x->name);
        s->name = g_memdup2(x->name, s->name_len);
        s->origin_len = x->origin ? strlen(x->origin) : 0;
        s->origin = s->origin_len ? g_memdup2(x->origin, s->origin_len)
                                  : NULL;
    }
}

void vdc_file_xfer_saved_clear(VdcSaved *saved)
{
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(saved->xfers); i++) {
        g_clear_pointer(&saved->xfers[i].name, g_free);
        g_clear_pointer(&saved->xfers[i].origin, g_free);
    }
}

static bool saved_fail(GError **errp, unsigned i, const char *what)
{
    g_set_error(errp, VDC_VMSTATE_ERROR, VDC_VMSTATE_ERROR_INVALID,
                "vdagent: file transfer %u: %s", i, what);
    return false;
}

/* Every value as the device itself could have made it. */
bool vdc_file_xfer_check(const VdcSaved *saved, GError **errp)
{
    unsigned i, j;

    if (saved->n_xfers == 0) {
        return true;
    }
    if (saved->xfer_next_id == 0) {
        return saved_fail(errp, 0, "no id given yet");
    }
    for (i = 0; i < saved->n_xfers; i++) {
        const VdcSavedXfer *s = &saved->xfers[i];
        g_autofree char *name = g_strndup((const char *)s->name, s->name_len);

        if (s->id == 0) {
            return saved_fail(errp, i, "id 0");
        }
        for (j = 0; j < i; j++) {
            if (saved->xfers[j].id == s->id) {
                return saved_fail(errp, i, "an id twice");
            }
        }
        if (s->status != VDC_FILE_XFER_WAITING &&
            s->status != VDC_FILE_XFER_SENDING) {
            return saved_fail(errp, i, "not in flight");
        }
        if (s->sent > s->size ||
            s->data_done != (s->status == VDC_FILE_XFER_SENDING &&
                             s->sent == s->size &&
                             (s->size > 0 || s->data_done)) ||
            (s->status == VDC_FILE_XFER_WAITING && s->sent > 0)) {
            return saved_fail(errp, i, "bytes sent out of step");
        }
        if (s->name_len == 0 || memchr(s->name, 0, s->name_len) ||
            !name_ok(name, NULL)) {
            return saved_fail(errp, i, "a name the device refuses");
        }
        if (s->origin_len && memchr(s->origin, 0, s->origin_len)) {
            return saved_fail(errp, i, "an origin with a NUL");
        }
    }
    return true;
}

/* Loaded without a source: vdc_file_xfer_resolve() asks for it. */
void vdc_file_xfer_load(VdcChardev *dev, VdcSaved *saved)
{
    unsigned i;

    for (i = 0; i < saved->n_xfers; i++) {
        VdcSavedXfer *s = &saved->xfers[i];
        VdcXfer *x = g_new0(VdcXfer, 1);

        x->id = s->id;
        x->status = s->status;
        x->size = s->size;
        x->sent = s->sent;
        x->data_done = s->data_done;
        x->name = g_strndup((const char *)s->name, s->name_len);
        x->origin = s->origin_len ? g_strndup((const char *)s->origin,
                                              s->origin_len) : NULL;
        /* All its data queued: only the agent's answer is left. */
        x->needs_source = !x->data_done;
        g_ptr_array_add(dev->xfers, x);
    }
    dev->xfer_next_id = saved->xfer_next_id;
}

void vdc_file_xfer_resolve(VdcChardev *dev)
{
    guint i = 0;

    while (i < dev->xfers->len && !vdc_session_ended(dev)) {
        VdcXfer *x = g_ptr_array_index(dev->xfers, i);
        const VdcFileSource *src = NULL;
        void *src_opaque = NULL;
        VdcFileXferInfo info;
        uint32_t id = x->id;

        if (!x->needs_source) {
            i++;
            continue;
        }
        xfer_info(x, &info);
        if (dev->xfer_ops && dev->xfer_ops->reopen &&
            dev->xfer_ops->reopen(dev->xfer_opaque, &info, &src,
                                  &src_opaque) && src && src->read) {
            /* The callback may have ended it (a cancel): looked up again. */
            if ((x = xfer_find(dev, id, NULL))) {
                x->src = src;
                x->src_opaque = src_opaque;
                x->needs_source = false;
            } else if (src->close) {
                src->close(src_opaque);
            }
            i = 0;
            continue;
        }
        /* The agent removes its partial file. */
        send_status(dev, id, VD_AGENT_FILE_XFER_STATUS_CANCELLED);
        if ((x = xfer_find(dev, id, NULL))) {
            xfer_fail(dev, x, VDC_FILE_XFER_MIGRATION_LOST,
                      "migrated, and its source could not be opened again");
        }
        i = 0;
    }
}
