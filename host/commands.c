/*
 * commands.c: the QMP commands of vdagent-host.  See commands.h and SPEC
 * section 5.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/commands.h"
#include "host/prefault.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool arg_selection(QmpRequest *req, json_object *args,
                          VdcClipboardSelection *sel)
{
    const char *name = "clipboard";

    if (!qmp_arg_string(req, args, "selection", false, &name)) {
        return false;
    }
    if (!vdc_clipboard_selection_from_name(name, sel)) {
        qmp_reply_error(req, "Parameter 'selection' expects clipboard, "
                        "primary or secondary");
        return false;
    }
    return true;
}

static bool arg_type(QmpRequest *req, json_object *args, VdcClipboardType *type)
{
    const char *name = "text";

    if (!qmp_arg_string(req, args, "type", false, &name)) {
        return false;
    }
    if (!vdc_clipboard_type_from_name(name, type)) {
        qmp_reply_error(req, "Parameter 'type' expects text, png, bmp, tiff "
                        "or jpg");
        return false;
    }
    return true;
}

/*
 * Commands that act on the guest's state (the clipboard, the pointer, the
 * heads, running it) take effect only where the state lives.  While an
 * outgoing migration runs, the state is already saved: a change would be
 * lost, or reach the guest from the source as well.  After one, the VM's
 * backend is the destination's (QEMU refuses most commands in postmigrate
 * the same way).  Before an incoming one loads, the state is not here yet.
 * Replies with the error and returns false in those three cases.
 */
static bool state_here(HostCommands *hc, QmpRequest *req)
{
    HostMigInfo info;

    host_migration_info(hc->mig, &info);
    if (host_status(hc->h) == HOST_INMIGRATE) {
        qmp_reply_error(req, "an incoming migration is expected: the state "
                        "is not here yet");
        return false;
    }
    if (host_status(hc->h) == HOST_POSTMIGRATE &&
        info.status != HOST_MIG_ACTIVE) {
        qmp_reply_error(req, "the VM's backend has moved to the migration's "
                        "destination (status postmigrate)");
        return false;
    }
    /* A live phase keeps the state here and running (issue 21). */
    if ((info.status == HOST_MIG_ACTIVE && !info.live) ||
        info.status == HOST_MIG_DEVICE ||
        (info.status == HOST_MIG_CANCELLING && !info.live)) {
        qmp_reply_error(req, "a migration is in progress: the state is "
                        "saved and moving to the destination");
        return false;
    }
    return true;
}

static void cmd_query_status(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;
    json_object *ret = json_object_new_object();

    (void)args;
    json_object_object_add(ret, "running", json_object_new_boolean(
                               host_status(h) == HOST_RUNNING));
    json_object_object_add(ret, "status", json_object_new_string(
                               host_status_name(host_status(h))));
    qmp_reply(req, ret);
}

static void cmd_stop(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;

    (void)args;
    if (!state_here(hc, req)) {
        return;
    }
    if (host_status(h) == HOST_RUNNING) {
        host_set_status(h, HOST_PAUSED);
    }
    qmp_reply(req, NULL);
}

static void cmd_cont(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;

    HostMigInfo info;

    (void)args;
    host_migration_info(hc->mig, &info);
    if (host_status(h) == HOST_INMIGRATE) {
        qmp_reply_error(req, "an incoming migration is expected");
        return;
    }
    /* After a migration, cont takes the VM back, as in QEMU. */
    if ((info.status == HOST_MIG_ACTIVE && !info.live) ||
        info.status == HOST_MIG_DEVICE) {
        qmp_reply_error(req, "a migration is in progress: the state is "
                        "saved and moving to the destination");
        return;
    }
    host_set_status(h, HOST_RUNNING);
    qmp_reply(req, NULL);
}

static void cmd_quit(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;

    (void)args;
    qmp_reply(req, NULL);
    g_main_loop_quit(h->loop);
}

static void cmd_query_vdagent(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;
    json_object *ret = json_object_new_object();
    json_object *caps = json_object_new_array();
    json_object *serials = json_object_new_array();
    json_object *pending = json_object_new_array();
    json_object *counters = json_object_new_object();
    json_object *in = json_object_new_object(), *out = json_object_new_object();
    json_object *drops = json_object_new_object();
    const VdcConfig *config = vdc_chardev_config(h->dev);
    struct {
        uint32_t last_serial[3], cbpending[3];
    } view;
    VdcCounters c;
    const uint32_t *words;
    size_t n, i;
    unsigned cap;

    (void)args;
    words = vdc_chardev_guest_caps(h->dev, &n);
    for (cap = 0; cap < 32 * n; cap++) {
        if (vdagent_caps_has(words, n, cap) && vdc_cap_name(cap)) {
            json_object_array_add(caps,
                                  json_object_new_string(vdc_cap_name(cap)));
        }
    }
    vdc_chardev_clipboard_state(h->dev, view.last_serial, view.cbpending);
    for (i = 0; i < VDC_CLIPBOARD_SELECTION__COUNT; i++) {
        json_object_array_add(serials, json_object_new_int64(view.last_serial[i]));
        json_object_array_add(pending, json_object_new_int64(view.cbpending[i]));
    }
    vdc_chardev_get_counters(h->dev, &c);
    for (i = 1; i < VD_AGENT_END_MESSAGE; i++) {
        if (c.msgs_in[i]) {
            json_object_object_add(in, vdc_msg_name(i),
                                   json_object_new_int64(c.msgs_in[i]));
        }
        if (c.msgs_out[i]) {
            json_object_object_add(out, vdc_msg_name(i),
                                   json_object_new_int64(c.msgs_out[i]));
        }
    }
    for (i = 0; i < VDC_DROP__COUNT; i++) {
        if (c.drops[i]) {
            json_object_object_add(drops, vdc_drop_name(i),
                                   json_object_new_int64(c.drops[i]));
        }
    }
    json_object_object_add(counters, "in", in);
    json_object_object_add(counters, "out", out);
    json_object_object_add(counters, "drops", drops);
    json_object_object_add(counters, "ignored", json_object_new_int64(c.ignored));
    json_object_object_add(counters, "reply-errors",
                           json_object_new_int64(c.reply_errors));
    json_object_object_add(counters, "caps-truncated",
                           json_object_new_int64(c.caps_truncated));
    json_object_object_add(counters, "requests-deferred",
                           json_object_new_int64(c.requests_deferred));
    json_object_object_add(counters, "requests-refused",
                           json_object_new_int64(c.requests_refused));
    json_object_object_add(counters, "bytes-in", json_object_new_int64(c.bytes_in));
    json_object_object_add(counters, "bytes-out",
                           json_object_new_int64(c.bytes_out));

    json_object_object_add(ret, "connected", json_object_new_boolean(
                               vdc_chardev_connected(h->dev)));
    json_object_object_add(ret, "guest-caps", caps);
    json_object_object_add(ret, "caps-word",
                           json_object_new_int64(n ? words[0] : 0));
    json_object_object_add(ret, "mouse", json_object_new_boolean(config->mouse));
    json_object_object_add(ret, "clipboard",
                           json_object_new_boolean(config->clipboard));
    json_object_object_add(ret, "mouse-active", json_object_new_boolean(
                               vdc_chardev_mouse_active(h->dev)));
    json_object_object_add(ret, "last-serial", serials);
    json_object_object_add(ret, "cbpending", pending);
    json_object_object_add(ret, "counters", counters);
    qmp_reply(req, ret);
}

/*
 * The "filename" of clipboard-get and clipboard-set (NULL when absent): an
 * absolute path of the host program's file system (a relative one is
 * refused: the host's working directory is nobody's business), without
 * an embedded NUL.
 */
static bool arg_filename(QmpRequest *req, json_object *args,
                         const char **filename)
{
    json_object *o;

    *filename = NULL;
    if (!qmp_arg_string(req, args, "filename", false, filename)) {
        return false;
    }
    if (!*filename) {
        return true;
    }
    json_object_object_get_ex(args, "filename", &o);
    if ((size_t)json_object_get_string_len(o) != strlen(*filename) ||
        !g_path_is_absolute(*filename)) {
        qmp_reply_error(req, "Parameter 'filename' expects an absolute path");
        return false;
    }
    return true;
}

/* A file this large is read while a helper thread faults in its buffer. */
#define CLIPBOARD_FILE_PREFAULT_MIN (4u * 1024 * 1024)

/*
 * clipboard-set's "filename": the whole of @path, a regular file of at
 * most @max bytes, read into one new buffer (the hub's only copy).  NULL
 * after answering @req with the error.  A large file's new buffer is
 * faulted in (zeroed by the kernel) on a helper thread ahead of the
 * reads (host/prefault.h): on the reading thread that cost about as much
 * as the reading (issue 16).
 */
static GBytes *read_clipboard_file(QmpRequest *req, const char *path,
                                   uint32_t max)
{
    struct stat st;
    size_t size, done = 0;
    HostPrefault *pf = NULL;
    char *buf;
    int fd;

    /* O_NONBLOCK: a FIFO must not block the opening; refused below */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        qmp_reply_error(req, "cannot open %s: %s", path, g_strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        qmp_reply_error(req, "cannot stat %s: %s", path, g_strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        qmp_reply_error(req, "%s is %s, not a regular file", path,
                        S_ISDIR(st.st_mode) ? "a directory" : "a special file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        qmp_reply_error(req, "%s has %" G_GUINT64_FORMAT " bytes, more than "
                        "the maximum %u", path, (guint64)st.st_size, max);
        close(fd);
        return NULL;
    }
    size = st.st_size;
    buf = g_malloc(size);
    if (size >= CLIPBOARD_FILE_PREFAULT_MIN) {
        pf = host_prefault_new();
        host_prefault_ops.start(pf, (uint8_t *)buf, size);
    }
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);

        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            qmp_reply_error(req, "cannot read %s: %s", path,
                            n < 0 ? g_strerror(errno)
                                  : "it shrank while being read");
            break;
        }
        done += n;
    }
    close(fd);
    if (pf) {
        host_prefault_ops.finish(pf, (uint8_t *)buf);
        host_prefault_free(pf);
    }
    if (done < size) {
        g_free(buf);
        return NULL;
    }
    return g_bytes_new_take(buf, size);
}

static void cmd_clipboard_set(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;
    g_autoptr(GBytes) bytes = NULL;
    VdcClipboardSelection sel;
    VdcClipboardType type;
    const char *data = NULL, *b64 = NULL, *filename = NULL;

    if (!state_here(hc, req)) {
        return;
    }

    if (!arg_selection(req, args, &sel) || !arg_type(req, args, &type) ||
        !qmp_arg_string(req, args, "data", false, &data) ||
        !qmp_arg_string(req, args, "data-base64", false, &b64) ||
        !arg_filename(req, args, &filename)) {
        return;
    }
    if (!!data + !!b64 + !!filename != 1) {
        qmp_reply_error(req, "Give exactly one of 'data', 'data-base64' and "
                        "'filename'");
        return;
    }
    if (data && type != VDC_CLIPBOARD_TYPE_TEXT) {
        qmp_reply_error(req, "'data' is for text; use 'data-base64'");
        return;
    }
    if (filename) {
        bytes = read_clipboard_file(req, filename,
                                    vdc_chardev_max_clipboard(h->dev));
        if (!bytes) {
            return;
        }
    } else if (data) {
        bytes = g_bytes_new(data, strlen(data));
    } else {
        gsize len, n = strlen(b64), i;
        guchar *raw;

        for (i = 0; i < n; i++) {
            if (!g_ascii_isalnum(b64[i]) && b64[i] != '+' && b64[i] != '/' &&
                !(b64[i] == '=' && i + 2 >= n)) {
                break;
            }
        }
        if (i < n || n % 4) {
            qmp_reply_error(req, "'data-base64' is not valid base64");
            return;
        }
        raw = g_base64_decode(b64, &len);
        bytes = g_bytes_new_take(raw, len);
    }
    if (g_bytes_get_size(bytes) > vdc_chardev_max_clipboard(h->dev)) {
        qmp_reply_error(req, "data larger than the maximum %u bytes",
                        vdc_chardev_max_clipboard(h->dev));
        return;
    }
    host_clipboard_peer_set(hc->peer, sel, type, bytes);
    qmp_reply(req, NULL);
}

static void cmd_clipboard_get(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    VdcClipboardSelection sel;
    VdcClipboardType type;
    const char *filename;

    if (!state_here(hc, req)) {
        return;
    }

    if (!arg_selection(req, args, &sel) || !arg_type(req, args, &type) ||
        !arg_filename(req, args, &filename)) {
        return;
    }
    host_clipboard_peer_get(hc->peer, req, sel, type, filename);
}

static void cmd_clipboard_release(QmpRequest *req, json_object *args,
                                  void *opaque)
{
    HostCommands *hc = opaque;
    VdcClipboardSelection sel;

    if (!state_here(hc, req)) {
        return;
    }

    if (!arg_selection(req, args, &sel)) {
        return;
    }
    host_clipboard_peer_release(hc->peer, sel);
    qmp_reply(req, NULL);
}

static void cmd_clipboard_query(QmpRequest *req, json_object *args,
                                void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;
    json_object *ret = json_object_new_object();
    VdcClipboardSelection sel;
    VdcClipboardInfo *info;
    const char *owner;

    if (!arg_selection(req, args, &sel)) {
        json_object_put(ret);
        return;
    }
    info = vdc_clipboard_hub_info(h->hub, sel);
    owner = host_clipboard_owner_name(hc->peer, info);
    json_object_object_add(ret, "selection", json_object_new_string(
                               vdc_clipboard_selection_name(sel)));
    json_object_object_add(ret, "owner", owner ? json_object_new_string(owner)
                                               : NULL);
    json_object_object_add(ret, "types", host_clipboard_types_json(info));
    if (info && info->has_serial) {
        json_object_object_add(ret, "serial", json_object_new_int64(info->serial));
    }
    qmp_reply(req, ret);
}

/* The data of an input-send-event event, per type. */
static const QmpArg args_abs_data[] = {
    { "axis", QMP_ARG_STRING, true, NULL },
    { "value", QMP_ARG_INT, true, NULL },
    { NULL },
};
static const QmpArg args_btn_data[] = {
    { "down", QMP_ARG_BOOL, true, NULL },
    { "button", QMP_ARG_STRING, true, NULL },
    { NULL },
};

/* One checked event of input-send-event. */
typedef struct InputEventArg {
    bool abs;                   /* abs, else btn */
    VdcInputAxis axis;
    int64_t value;
    VdcInputButton button;
    bool down;
} InputEventArg;

/*
 * Check event @i, @e (borrowed), into @out.  The dispatcher checked its
 * type and data members (args_event); its data's members depend on the
 * type, checked here against their table (args_abs_data, args_btn_data),
 * then read through the typed helpers, so a member of the wrong type
 * (JSON null included) is an error and never reaches a string compare.
 * False after answering @req.
 */
static bool input_event_arg(QmpRequest *req, json_object *e, size_t i,
                            InputEventArg *out)
{
    json_object *data;
    const char *type, *name;

    if (!json_object_is_type(e, json_type_object)) {
        qmp_reply_error(req, "event %zu: expected {type, data}", i);
        return false;
    }
    if (!qmp_arg_string(req, e, "type", true, &type) ||
        !qmp_arg_object(req, e, "data", true, &data)) {
        return false;
    }
    if (strcmp(type, "abs") == 0 || strcmp(type, "btn") == 0) {
        g_autofree char *path = g_strdup_printf("events[%zu].data", i);

        if (!qmp_args_check(req, data, path, strcmp(type, "abs") == 0
                                             ? args_abs_data
                                             : args_btn_data)) {
            return false;
        }
    }
    if (strcmp(type, "abs") == 0) {
        out->abs = true;
        if (!qmp_arg_string(req, data, "axis", true, &name) ||
            !qmp_arg_int(req, data, "value", true, &out->value)) {
            return false;
        }
        if ((strcmp(name, "x") != 0 && strcmp(name, "y") != 0) ||
            out->value < VDC_INPUT_ABS_MIN || out->value > VDC_INPUT_ABS_MAX) {
            qmp_reply_error(req, "event %zu: abs needs axis x|y and a "
                            "value 0..32767", i);
            return false;
        }
        out->axis = strcmp(name, "x") == 0 ? VDC_INPUT_AXIS_X : VDC_INPUT_AXIS_Y;
        return true;
    }
    if (strcmp(type, "btn") == 0) {
        out->abs = false;
        if (!qmp_arg_bool(req, data, "down", true, &out->down) ||
            !qmp_arg_string(req, data, "button", true, &name)) {
            return false;
        }
        if (!vdc_input_button_from_name(name, &out->button)) {
            qmp_reply_error(req, "event %zu: btn needs down (bool) and "
                            "a button", i);
            return false;
        }
        return true;
    }
    qmp_reply_error(req, "event %zu: type must be abs or btn", i);
    return false;
}

static void cmd_input_send_event(QmpRequest *req, json_object *args,
                                 void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;
    g_autofree InputEventArg *ev = NULL;
    json_object *events;
    int64_t head = 0;
    size_t i, n;

    if (!state_here(hc, req)) {
        return;
    }

    if (!qmp_arg_int(req, args, "head", false, &head) ||
        !qmp_arg_array(req, args, "events", true, &events)) {
        return;
    }
    if (head < 0 || head >= vdc_input_router_n_heads(h->router)) {
        qmp_reply_error(req, "no head %" G_GINT64_FORMAT, head);
        return;
    }
    n = json_object_array_length(events);
    ev = g_new0(InputEventArg, MAX(n, 1));
    /* Check every event before sending any. */
    for (i = 0; i < n; i++) {
        if (!input_event_arg(req, json_object_array_get_idx(events, i), i,
                             &ev[i])) {
            return;
        }
    }
    for (i = 0; i < n; i++) {
        if (ev[i].abs) {
            vdc_input_send_abs(h->router, head, ev[i].axis, ev[i].value);
        } else {
            vdc_input_send_btn(h->router, head, ev[i].button, ev[i].down);
        }
    }
    vdc_input_event_sync(h->router);
    qmp_reply(req, NULL);
}

static void cmd_display_configure(QmpRequest *req, json_object *args,
                                  void *opaque)
{
    HostCommands *hc = opaque;
    Host *h = hc->h;
    VdcInputHeadGeometry heads[VDC_INPUT_MAX_HEADS];
    json_object *arr;
    size_t i, n;

    if (!state_here(hc, req)) {
        return;
    }

    if (!qmp_arg_array(req, args, "heads", true, &arr)) {
        return;
    }
    n = json_object_array_length(arr);
    if (n == 0 || n > VDC_INPUT_MAX_HEADS) {
        qmp_reply_error(req, "between 1 and %d heads", VDC_INPUT_MAX_HEADS);
        return;
    }
    for (i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(arr, i);
        int64_t w = 0, ht = 0, x = 0, y = 0;

        if (!json_object_is_type(o, json_type_object) ||
            !qmp_arg_int(req, o, "width", true, &w) ||
            !qmp_arg_int(req, o, "height", true, &ht) ||
            !qmp_arg_int(req, o, "x", false, &x) ||
            !qmp_arg_int(req, o, "y", false, &y)) {
            if (!json_object_is_type(o, json_type_object)) {
                qmp_reply_error(req, "head %zu: expected an object", i);
            }
            return;
        }
        if (w < 0 || w > VDC_INPUT_ABS_MAX || ht < 0 || ht > VDC_INPUT_ABS_MAX ||
            (w == 0) != (ht == 0) || x < G_MININT32 || x > G_MAXINT32 ||
            y < G_MININT32 || y > G_MAXINT32) {
            qmp_reply_error(req, "head %zu: bad geometry", i);
            return;
        }
        heads[i] = (VdcInputHeadGeometry){ w, ht, x, y };
    }
    if (!vdc_input_router_set_geometry(h->router, heads, n)) {
        qmp_reply_error(req, "bad head geometry");
        return;
    }
    qmp_reply(req, NULL);
}

/*
 * A migration URI: a string of at most HOST_URI_MAX bytes (a path or a
 * host:port is far shorter), so that no error or MIGRATION event repeats
 * more of it.
 */
#define HOST_URI_MAX 4096

static bool arg_uri(QmpRequest *req, json_object *args, const char **uri)
{
    if (!qmp_arg_string(req, args, "uri", true, uri)) {
        return false;
    }
    if (strlen(*uri) > HOST_URI_MAX) {
        qmp_reply_error(req, "Parameter 'uri' is longer than %d bytes",
                        HOST_URI_MAX);
        return false;
    }
    return true;
}

static void cmd_migrate(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    g_autoptr(GError) err = NULL;
    const char *uri;

    if (!arg_uri(req, args, &uri)) {
        return;
    }
    if (!host_migrate_start(hc->mig, uri, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_migrate_incoming(QmpRequest *req, json_object *args,
                                 void *opaque)
{
    HostCommands *hc = opaque;
    g_autoptr(GError) err = NULL;
    const char *uri;

    if (!arg_uri(req, args, &uri)) {
        return;
    }
    if (!host_incoming_start(hc->mig, uri, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_query_migrate(QmpRequest *req, json_object *args, void *opaque)
{
    HostCommands *hc = opaque;
    json_object *ret = json_object_new_object();
    HostMigInfo info;

    (void)args;
    host_migration_info(hc->mig, &info);
    json_object_object_add(ret, "status", json_object_new_string(
                               host_mig_status_name(info.status)));
    if (info.error) {
        json_object_object_add(ret, "error-desc",
                               json_object_new_string(info.error));
    }
    if (info.downtime_us >= 0) {
        json_object_object_add(ret, "downtime-us",
                               json_object_new_int64(info.downtime_us));
    }
    qmp_reply(req, ret);
}

/* QEMU's MigrationCapability names that vdagent-host knows. */
#define CAP_PAUSE "pause-before-switchover"

static void cmd_migrate_set_capabilities(QmpRequest *req, json_object *args,
                                         void *opaque)
{
    HostCommands *hc = opaque;
    g_autoptr(GError) err = NULL;
    json_object *caps = json_object_object_get(args, "capabilities");
    bool pause = host_migration_pause(hc->mig);
    size_t i, n = json_object_array_length(caps);

    /* The dispatcher checked the members' types; the names are ours. */
    for (i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx(caps, i);
        const char *name = json_object_get_string(
            json_object_object_get(c, "capability"));

        if (strcmp(name, CAP_PAUSE) != 0) {
            qmp_reply_error(req, "Parameter 'capability' does not accept "
                            "value '%.64s' (vdagent-host knows "
                            CAP_PAUSE ")", name);
            return;
        }
        pause = json_object_get_boolean(json_object_object_get(c, "state"));
    }
    if (!host_migration_set_pause(hc->mig, pause, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_query_migrate_capabilities(QmpRequest *req, json_object *args,
                                           void *opaque)
{
    HostCommands *hc = opaque;
    json_object *ret = json_object_new_array();
    json_object *cap = json_object_new_object();

    (void)args;
    json_object_object_add(cap, "capability",
                           json_object_new_string(CAP_PAUSE));
    json_object_object_add(cap, "state", json_object_new_boolean(
                               host_migration_pause(hc->mig)));
    json_object_array_add(ret, cap);
    qmp_reply(req, ret);
}

static void cmd_migrate_continue(QmpRequest *req, json_object *args,
                                 void *opaque)
{
    HostCommands *hc = opaque;
    g_autoptr(GError) err = NULL;
    const char *state;

    if (!qmp_arg_string(req, args, "state", true, &state)) {
        return;
    }
    if (!host_migrate_continue(hc->mig, state, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_migrate_cancel(QmpRequest *req, json_object *args,
                               void *opaque)
{
    HostCommands *hc = opaque;
    g_autoptr(GError) err = NULL;

    (void)args;
    if (!host_migrate_cancel(hc->mig, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

bool host_commands_state_here(HostCommands *hc, QmpRequest *req)
{
    return state_here(hc, req);
}

bool host_commands_arg_filename(QmpRequest *req, json_object *args,
                                const char **filename)
{
    return arg_filename(req, args, filename);
}

/*
 * Every command's arguments (host/qmp.h, QmpCommand.args): the dispatcher
 * refuses an unknown member, a missing required one and a member of the
 * wrong JSON type before the handler runs, so nothing happens then.
 */
static const QmpArg args_none[] = {
    { NULL },
};
static const QmpArg args_selection[] = {
    { "selection", QMP_ARG_STRING, false, NULL },
    { NULL },
};
static const QmpArg args_clipboard_set[] = {
    { "selection", QMP_ARG_STRING, false, NULL },
    { "type", QMP_ARG_STRING, false, NULL },
    { "data", QMP_ARG_STRING, false, NULL },
    { "data-base64", QMP_ARG_STRING, false, NULL },
    { "filename", QMP_ARG_STRING, false, NULL },
    { NULL },
};
static const QmpArg args_clipboard_get[] = {
    { "selection", QMP_ARG_STRING, false, NULL },
    { "type", QMP_ARG_STRING, false, NULL },
    { "filename", QMP_ARG_STRING, false, NULL },
    { NULL },
};
/* An event's data depends on its type: input_event_arg() checks it. */
static const QmpArg args_event[] = {
    { "type", QMP_ARG_STRING, true, NULL },
    { "data", QMP_ARG_OBJECT, true, NULL },
    { NULL },
};
static const QmpArg args_input_send_event[] = {
    { "head", QMP_ARG_INT, false, NULL },
    { "events", QMP_ARG_ARRAY, true, args_event },
    { NULL },
};
static const QmpArg args_head[] = {
    { "width", QMP_ARG_INT, true, NULL },
    { "height", QMP_ARG_INT, true, NULL },
    { "x", QMP_ARG_INT, false, NULL },
    { "y", QMP_ARG_INT, false, NULL },
    { NULL },
};
static const QmpArg args_display_configure[] = {
    { "heads", QMP_ARG_ARRAY, true, args_head },
    { NULL },
};
static const QmpArg args_uri[] = {
    { "uri", QMP_ARG_STRING, true, NULL },
    { NULL },
};
static const QmpArg args_capability[] = {
    { "capability", QMP_ARG_STRING, true, NULL },
    { "state", QMP_ARG_BOOL, true, NULL },
    { NULL },
};
static const QmpArg args_set_capabilities[] = {
    { "capabilities", QMP_ARG_ARRAY, true, args_capability },
    { NULL },
};
static const QmpArg args_file_send[] = {
    { "filename", QMP_ARG_STRING, true, NULL },
    { "name", QMP_ARG_STRING, false, NULL },
    { NULL },
};
static const QmpArg args_id[] = {
    { "id", QMP_ARG_INT, true, NULL },
    { NULL },
};
static const QmpArg args_migrate_continue[] = {
    { "state", QMP_ARG_STRING, true, NULL },
    { NULL },
};

const QmpCommand host_commands[] = {
    { "query-status", cmd_query_status, args_none },
    { "stop", cmd_stop, args_none },
    { "cont", cmd_cont, args_none },
    { "quit", cmd_quit, args_none },
    { "query-vdagent", cmd_query_vdagent, args_none },
    { "clipboard-set", cmd_clipboard_set, args_clipboard_set },
    { "clipboard-get", cmd_clipboard_get, args_clipboard_get },
    { "clipboard-release", cmd_clipboard_release, args_selection },
    { "clipboard-query", cmd_clipboard_query, args_selection },
    { "input-send-event", cmd_input_send_event, args_input_send_event },
    { "display-configure", cmd_display_configure, args_display_configure },
    { "migrate", cmd_migrate, args_uri },
    { "migrate-incoming", cmd_migrate_incoming, args_uri },
    { "query-migrate", cmd_query_migrate, args_none },
    { "migrate-set-capabilities", cmd_migrate_set_capabilities,
      args_set_capabilities },
    { "query-migrate-capabilities", cmd_query_migrate_capabilities,
      args_none },
    { "migrate-continue", cmd_migrate_continue, args_migrate_continue },
    { "migrate-cancel", cmd_migrate_cancel, args_none },
    { "file-send", host_cmd_file_send, args_file_send },
    { "file-cancel", host_cmd_file_cancel, args_id },
    { "query-file-transfers", host_cmd_query_file_transfers, args_none },
    { NULL, NULL, NULL },
};
