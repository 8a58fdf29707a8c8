/*
 * main.c: vdagent-host, its command line, the control socket's
 * commands and the host's own clipboard peer.  See SPEC section 5.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/host.h"

#include <errno.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: vdagent-host [--guest pty:LINK | unix:PATH | fd:N | sim]\n"
    "                    [--qmp unix:PATH] [--mouse on|off] [--clipboard on|off]\n"
    "                    [--head WxH[+X+Y]]... [--max-message BYTES]\n"
    "                    [--incoming URI] [--verbose]\n";

void host_log(Host *h, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!h->verbose) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "[host %d] %s\n", (int)getpid(), msg);
}

void host_event(Host *h, const char *name, json_object *data)
{
    if (h->qmp) {
        qmp_server_event(h->qmp, name, data);
    } else {
        json_object_put(data);
    }
}

static const char *const status_names[] = {
    [HOST_RUNNING] = "running",
    [HOST_PAUSED] = "paused",
    [HOST_INMIGRATE] = "inmigrate",
    [HOST_POSTMIGRATE] = "postmigrate",
};

/* Run or stop the device, its hub and router, and the guest reading. */
void host_set_status(Host *h, HostStatus status)
{
    bool running = status == HOST_RUNNING;
    bool was_running = h->status == HOST_RUNNING;

    h->status = status;
    if (running == was_running) {
        return;
    }
    vdagent_chardev_set_running(h->dev, running);
    clipboard_hub_set_running(h->hub, running);
    input_router_set_running(h->router, running);
    host_guest_set_reading(h, running);
    host_event(h, running ? "RESUME" : "STOP", NULL);
}

/* ---- the host's clipboard peer ------------------------------------------- */

struct HostGetRequest {
    QmpRequest *req;
    ClipboardSelection sel;
    ClipboardType type;
    ClipboardInfo *info;            /* the info asked (a reference) */
};

static void get_answer(Host *h, HostGetRequest *g, ClipboardInfo *info,
                       const char *error)
{
    h->gets = g_list_remove(h->gets, g);
    if (error) {
        qmp_reply_error(g->req, "%s", error);
    } else {
        GBytes *data = info->types[g->type].data;
        json_object *ret = json_object_new_object();
        size_t len = data ? g_bytes_get_size(data) : 0;
        const char *p = data ? g_bytes_get_data(data, NULL) : "";

        if (g->type == CLIPBOARD_TYPE_TEXT && g_utf8_validate(p, len, NULL)) {
            json_object_object_add(ret, "data",
                                   json_object_new_string_len(p, len));
        } else {
            g_autofree char *b64 = g_base64_encode((const guchar *)p, len);

            json_object_object_add(ret, "data-base64",
                                   json_object_new_string(b64));
        }
        qmp_reply(g->req, ret);
    }
    clipboard_info_unref(g->info);
    g_free(g);
}

void host_fail_gets(Host *h, const char *why)
{
    while (h->gets) {
        get_answer(h, h->gets->data, NULL, why);
    }
}

static json_object *types_json(const ClipboardInfo *info)
{
    json_object *arr = json_object_new_array();
    unsigned t;

    for (t = 0; info && t < CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available) {
            json_object_array_add(arr,
                                  json_object_new_string(clipboard_type_name(t)));
        }
    }
    return arr;
}

static const char *owner_name(Host *h, const ClipboardInfo *info)
{
    if (!info || !info->owner) {
        return NULL;
    }
    /* The only other peer is the device's: the guest agent. */
    return info->owner == &h->peer ? "host" : "guest";
}

static void peer_notify(ClipboardPeer *peer, const ClipboardNotify *n)
{
    Host *h = peer->opaque;
    GList *l, *next;

    if (n->type == CLIPBOARD_NOTIFY_UPDATE && n->new_info &&
        n->info->owner != &h->peer) {
        json_object *data = json_object_new_object();
        const char *owner = owner_name(h, n->info);

        json_object_object_add(data, "selection", json_object_new_string(
                                   clipboard_selection_name(n->info->selection)));
        json_object_object_add(data, "owner",
                               owner ? json_object_new_string(owner) : NULL);
        json_object_object_add(data, "types", types_json(n->info));
        host_event(h, "CLIPBOARD", data);
    }
    /* Waiting clipboard-get commands. */
    for (l = h->gets; l; l = next) {
        HostGetRequest *g = l->data;

        next = l->next;
        if (n->type == CLIPBOARD_NOTIFY_UPDATE) {
            if (n->info->selection != g->sel) {
                continue;
            }
            if (n->new_info && n->info != g->info) {
                get_answer(h, g, NULL, n->info->owner
                           ? "the clipboard changed owner before answering"
                           : "the owner went away (guest disconnected?)");
            } else if (n->new_info) {
                /* The same info replayed on resume: keep waiting. */
                continue;
            } else if (n->info == g->info && !n->info->types[g->type].requested) {
                if (n->info->types[g->type].data) {
                    get_answer(h, g, n->info, NULL);
                } else {
                    get_answer(h, g, NULL, "the owner has no such data");
                }
            }
        } else if (n->type == CLIPBOARD_NOTIFY_REQUEST_TIMEOUT &&
                   n->info == g->info && n->data_type == g->type) {
            get_answer(h, g, NULL, "timed out waiting for the clipboard owner");
        }
    }
}

/* The hub asks us: our infos always carry their data already. */
static void peer_request(ClipboardPeer *peer, ClipboardInfo *info,
                         ClipboardType type)
{
    Host *h = peer->opaque;

    clipboard_hub_set_data(h->hub, peer, info, type, info->types[type].data,
                           true);
}

static const ClipboardPeerOps host_peer_ops = {
    .notify = peer_notify,
    .request = peer_request,
};

/* ---- commands ------------------------------------------------------------- */

static bool arg_selection(QmpRequest *req, json_object *args,
                          ClipboardSelection *sel)
{
    const char *name = "clipboard";

    if (!qmp_arg_string(req, args, "selection", false, &name)) {
        return false;
    }
    if (!clipboard_selection_from_name(name, sel)) {
        qmp_reply_error(req, "Parameter 'selection' expects clipboard, "
                        "primary or secondary");
        return false;
    }
    return true;
}

static bool arg_type(QmpRequest *req, json_object *args, ClipboardType *type)
{
    const char *name = "text";

    if (!qmp_arg_string(req, args, "type", false, &name)) {
        return false;
    }
    if (!clipboard_type_from_name(name, type)) {
        qmp_reply_error(req, "Parameter 'type' expects text, png, bmp, tiff "
                        "or jpg");
        return false;
    }
    return true;
}

static void cmd_query_status(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;
    json_object *ret = json_object_new_object();

    (void)args;
    json_object_object_add(ret, "running",
                           json_object_new_boolean(h->status == HOST_RUNNING));
    json_object_object_add(ret, "status",
                           json_object_new_string(status_names[h->status]));
    qmp_reply(req, ret);
}

static void cmd_stop(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;

    (void)args;
    if (h->status == HOST_RUNNING) {
        host_set_status(h, HOST_PAUSED);
    }
    qmp_reply(req, NULL);
}

static void cmd_cont(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;

    (void)args;
    if (h->status == HOST_INMIGRATE) {
        qmp_reply_error(req, "an incoming migration is expected");
        return;
    }
    host_set_status(h, HOST_RUNNING);
    qmp_reply(req, NULL);
}

static void cmd_quit(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;

    (void)args;
    qmp_reply(req, NULL);
    g_main_loop_quit(h->loop);
}

static void cmd_query_vdagent(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;
    json_object *ret = json_object_new_object();
    json_object *caps = json_object_new_array();
    json_object *serials = json_object_new_array();
    json_object *pending = json_object_new_array();
    json_object *counters = json_object_new_object();
    json_object *in = json_object_new_object(), *out = json_object_new_object();
    json_object *drops = json_object_new_object();
    const VDAgentConfig *config = vdagent_chardev_config(h->dev);
    struct {
        uint32_t last_serial[3], cbpending[3];
    } view;
    VDAgentCounters c;
    const uint32_t *words;
    size_t n, i;
    unsigned cap;

    (void)args;
    words = vdagent_chardev_guest_caps(h->dev, &n);
    for (cap = 0; cap < 32 * n; cap++) {
        if (vdagent_caps_has(words, n, cap) && vdagent_cap_name(cap)) {
            json_object_array_add(caps,
                                  json_object_new_string(vdagent_cap_name(cap)));
        }
    }
    vdagent_chardev_clipboard_state(h->dev, view.last_serial, view.cbpending);
    for (i = 0; i < CLIPBOARD_SELECTION__COUNT; i++) {
        json_object_array_add(serials, json_object_new_int64(view.last_serial[i]));
        json_object_array_add(pending, json_object_new_int64(view.cbpending[i]));
    }
    vdagent_chardev_get_counters(h->dev, &c);
    for (i = 1; i < VD_AGENT_END_MESSAGE; i++) {
        if (c.msgs_in[i]) {
            json_object_object_add(in, vdagent_msg_name(i),
                                   json_object_new_int64(c.msgs_in[i]));
        }
        if (c.msgs_out[i]) {
            json_object_object_add(out, vdagent_msg_name(i),
                                   json_object_new_int64(c.msgs_out[i]));
        }
    }
    for (i = 0; i < VDAGENT_DROP__COUNT; i++) {
        if (c.drops[i]) {
            json_object_object_add(drops, vdagent_drop_name(i),
                                   json_object_new_int64(c.drops[i]));
        }
    }
    json_object_object_add(counters, "in", in);
    json_object_object_add(counters, "out", out);
    json_object_object_add(counters, "drops", drops);
    json_object_object_add(counters, "ignored", json_object_new_int64(c.ignored));
    json_object_object_add(counters, "reply-errors",
                           json_object_new_int64(c.reply_errors));
    json_object_object_add(counters, "bytes-in", json_object_new_int64(c.bytes_in));
    json_object_object_add(counters, "bytes-out",
                           json_object_new_int64(c.bytes_out));

    json_object_object_add(ret, "connected", json_object_new_boolean(
                               vdagent_chardev_connected(h->dev)));
    json_object_object_add(ret, "guest-caps", caps);
    json_object_object_add(ret, "caps-word",
                           json_object_new_int64(n ? words[0] : 0));
    json_object_object_add(ret, "mouse", json_object_new_boolean(config->mouse));
    json_object_object_add(ret, "clipboard",
                           json_object_new_boolean(config->clipboard));
    json_object_object_add(ret, "mouse-active", json_object_new_boolean(
                               vdagent_chardev_mouse_active(h->dev)));
    json_object_object_add(ret, "last-serial", serials);
    json_object_object_add(ret, "cbpending", pending);
    json_object_object_add(ret, "counters", counters);
    qmp_reply(req, ret);
}

static void cmd_clipboard_set(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;
    g_autoptr(ClipboardInfo) info = NULL;
    g_autoptr(GBytes) bytes = NULL;
    ClipboardSelection sel;
    ClipboardType type;
    const char *data = NULL, *b64 = NULL;

    if (!arg_selection(req, args, &sel) || !arg_type(req, args, &type) ||
        !qmp_arg_string(req, args, "data", false, &data) ||
        !qmp_arg_string(req, args, "data-base64", false, &b64)) {
        return;
    }
    if (!data == !b64) {
        qmp_reply_error(req, "Give exactly one of 'data' and 'data-base64'");
        return;
    }
    if (data && type != CLIPBOARD_TYPE_TEXT) {
        qmp_reply_error(req, "'data' is for text; use 'data-base64'");
        return;
    }
    if (data) {
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
    if (g_bytes_get_size(bytes) > vdagent_chardev_max_clipboard(h->dev)) {
        qmp_reply_error(req, "data larger than the maximum %u bytes",
                        vdagent_chardev_max_clipboard(h->dev));
        return;
    }
    info = clipboard_info_new(&h->peer, sel);
    clipboard_hub_set_data(h->hub, &h->peer, info, type, bytes, false);
    clipboard_hub_update(h->hub, info);
    qmp_reply(req, NULL);
}

static void cmd_clipboard_get(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;
    HostGetRequest *g;
    ClipboardSelection sel;
    ClipboardType type;
    ClipboardInfo *info;

    if (!arg_selection(req, args, &sel) || !arg_type(req, args, &type)) {
        return;
    }
    info = clipboard_hub_info(h->hub, sel);
    if (!info || !info->owner) {
        qmp_reply_error(req, "no owner for the %s selection",
                        clipboard_selection_name(sel));
        return;
    }
    if (!info->types[type].available) {
        qmp_reply_error(req, "the %s selection has no %s",
                        clipboard_selection_name(sel), clipboard_type_name(type));
        return;
    }
    g = g_new0(HostGetRequest, 1);
    g->req = req;
    g->sel = sel;
    g->type = type;
    g->info = clipboard_info_ref(info);
    h->gets = g_list_prepend(h->gets, g);
    if (info->types[type].data) {
        get_answer(h, g, info, NULL);
        return;
    }
    if (!clipboard_hub_request(h->hub, info, type)) {
        get_answer(h, g, NULL, "the owner cannot be asked");
    }
    /* else: answered from peer_notify (data, timeout, owner change) */
}

static void cmd_clipboard_release(QmpRequest *req, json_object *args,
                                  void *opaque)
{
    Host *h = opaque;
    ClipboardSelection sel;

    if (!arg_selection(req, args, &sel)) {
        return;
    }
    clipboard_peer_release(&h->peer, sel);
    qmp_reply(req, NULL);
}

static void cmd_clipboard_query(QmpRequest *req, json_object *args,
                                void *opaque)
{
    Host *h = opaque;
    json_object *ret = json_object_new_object();
    ClipboardSelection sel;
    ClipboardInfo *info;
    const char *owner;

    if (!arg_selection(req, args, &sel)) {
        json_object_put(ret);
        return;
    }
    info = clipboard_hub_info(h->hub, sel);
    owner = owner_name(h, info);
    json_object_object_add(ret, "selection", json_object_new_string(
                               clipboard_selection_name(sel)));
    json_object_object_add(ret, "owner", owner ? json_object_new_string(owner)
                                               : NULL);
    json_object_object_add(ret, "types", types_json(info));
    if (info && info->has_serial) {
        json_object_object_add(ret, "serial", json_object_new_int64(info->serial));
    }
    qmp_reply(req, ret);
}

static void cmd_input_send_event(QmpRequest *req, json_object *args,
                                 void *opaque)
{
    Host *h = opaque;
    json_object *events;
    int64_t head = 0;
    size_t i, n;

    if (!qmp_arg_int(req, args, "head", false, &head) ||
        !qmp_arg_array(req, args, "events", true, &events)) {
        return;
    }
    if (head < 0 || head >= input_router_n_heads(h->router)) {
        qmp_reply_error(req, "no head %" G_GINT64_FORMAT, head);
        return;
    }
    n = json_object_array_length(events);
    /* Check every event before sending any. */
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(events, i), *data, *v;
        const char *type;

        if (!json_object_is_type(e, json_type_object) ||
            !json_object_object_get_ex(e, "type", &v) ||
            !(type = json_object_get_string(v)) ||
            !json_object_object_get_ex(e, "data", &data) ||
            !json_object_is_type(data, json_type_object)) {
            qmp_reply_error(req, "event %zu: expected {type, data}", i);
            return;
        }
        if (strcmp(type, "abs") == 0) {
            json_object *axis, *value;
            int64_t val;

            if (!json_object_object_get_ex(data, "axis", &axis) ||
                !json_object_object_get_ex(data, "value", &value) ||
                !json_object_is_type(value, json_type_int) ||
                (strcmp(json_object_get_string(axis), "x") != 0 &&
                 strcmp(json_object_get_string(axis), "y") != 0) ||
                (val = json_object_get_int64(value)) < INPUT_ABS_MIN ||
                val > INPUT_ABS_MAX) {
                qmp_reply_error(req, "event %zu: abs needs axis x|y and a "
                                "value 0..32767", i);
                return;
            }
        } else if (strcmp(type, "btn") == 0) {
            json_object *down, *button;
            InputButton b;

            if (!json_object_object_get_ex(data, "down", &down) ||
                !json_object_is_type(down, json_type_boolean) ||
                !json_object_object_get_ex(data, "button", &button) ||
                !input_button_from_name(json_object_get_string(button), &b)) {
                qmp_reply_error(req, "event %zu: btn needs down (bool) and "
                                "a button", i);
                return;
            }
        } else {
            qmp_reply_error(req, "event %zu: type must be abs or btn", i);
            return;
        }
    }
    for (i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(events, i), *data, *v;

        json_object_object_get_ex(e, "type", &v);
        json_object_object_get_ex(e, "data", &data);
        if (strcmp(json_object_get_string(v), "abs") == 0) {
            json_object *axis, *value;

            json_object_object_get_ex(data, "axis", &axis);
            json_object_object_get_ex(data, "value", &value);
            input_send_abs(h->router, head,
                           strcmp(json_object_get_string(axis), "x") == 0
                               ? INPUT_AXIS_X : INPUT_AXIS_Y,
                           json_object_get_int64(value));
        } else {
            json_object *down, *button;
            InputButton b;

            json_object_object_get_ex(data, "down", &down);
            json_object_object_get_ex(data, "button", &button);
            input_button_from_name(json_object_get_string(button), &b);
            input_send_btn(h->router, head, b, json_object_get_boolean(down));
        }
    }
    input_event_sync(h->router);
    qmp_reply(req, NULL);
}

static void cmd_display_configure(QmpRequest *req, json_object *args,
                                  void *opaque)
{
    Host *h = opaque;
    InputHeadGeometry heads[INPUT_MAX_HEADS];
    json_object *arr;
    size_t i, n;

    if (!qmp_arg_array(req, args, "heads", true, &arr)) {
        return;
    }
    n = json_object_array_length(arr);
    if (n == 0 || n > INPUT_MAX_HEADS) {
        qmp_reply_error(req, "between 1 and %d heads", INPUT_MAX_HEADS);
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
        if (w < 0 || w > INPUT_ABS_MAX || ht < 0 || ht > INPUT_ABS_MAX ||
            (w == 0) != (ht == 0) || x < G_MININT32 || x > G_MAXINT32 ||
            y < G_MININT32 || y > G_MAXINT32) {
            qmp_reply_error(req, "head %zu: bad geometry", i);
            return;
        }
        heads[i] = (InputHeadGeometry){ w, ht, x, y };
    }
    if (!input_router_set_geometry(h->router, heads, n)) {
        qmp_reply_error(req, "bad head geometry");
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_migrate(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;
    g_autoptr(GError) err = NULL;
    const char *uri;

    if (!qmp_arg_string(req, args, "uri", true, &uri)) {
        return;
    }
    if (!host_migrate_start(h, uri, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_migrate_incoming(QmpRequest *req, json_object *args,
                                 void *opaque)
{
    Host *h = opaque;
    g_autoptr(GError) err = NULL;
    const char *uri;

    if (!qmp_arg_string(req, args, "uri", true, &uri)) {
        return;
    }
    if (!host_incoming_start(h, uri, &err)) {
        qmp_reply_error(req, "%s", err->message);
        return;
    }
    qmp_reply(req, NULL);
}

static void cmd_query_migrate(QmpRequest *req, json_object *args, void *opaque)
{
    Host *h = opaque;
    json_object *ret = json_object_new_object();

    (void)args;
    json_object_object_add(ret, "status", json_object_new_string(
                               host_mig_status_name(h->mig_status)));
    if (h->mig_status == HOST_MIG_FAILED && h->mig_error) {
        json_object_object_add(ret, "error-desc",
                               json_object_new_string(h->mig_error));
    }
    if (h->mig_status == HOST_MIG_COMPLETED && h->downtime_us >= 0) {
        json_object_object_add(ret, "downtime-us",
                               json_object_new_int64(h->downtime_us));
    }
    qmp_reply(req, ret);
}

static const QmpCommand host_commands[] = {
    { "query-status", cmd_query_status },
    { "stop", cmd_stop },
    { "cont", cmd_cont },
    { "quit", cmd_quit },
    { "query-vdagent", cmd_query_vdagent },
    { "clipboard-set", cmd_clipboard_set },
    { "clipboard-get", cmd_clipboard_get },
    { "clipboard-release", cmd_clipboard_release },
    { "clipboard-query", cmd_clipboard_query },
    { "input-send-event", cmd_input_send_event },
    { "display-configure", cmd_display_configure },
    { "migrate", cmd_migrate },
    { "migrate-incoming", cmd_migrate_incoming },
    { "query-migrate", cmd_query_migrate },
    { NULL, NULL },
};

/* ---- command line --------------------------------------------------------- */

static bool parse_onoff(const char *opt, const char *v, bool *out)
{
    (void)opt;
    if (strcmp(v, "on") == 0) {
        *out = true;
    } else if (strcmp(v, "off") == 0) {
        *out = false;
    } else {
        return false;
    }
    return true;
}

static bool parse_head(const char *v, VDAgentHeadConfig *out)
{
    unsigned w, ht;
    int x = 0, y = 0, n = 0;

    if (sscanf(v, "%ux%u%n", &w, &ht, &n) != 2) {
        return false;
    }
    if (v[n] && (sscanf(v + n, "+%d+%d", &x, &y) != 2)) {
        return false;
    }
    if (w == 0 || ht == 0 || w > INPUT_ABS_MAX || ht > INPUT_ABS_MAX) {
        return false;
    }
    *out = (VDAgentHeadConfig){ w, ht, x, y };
    return true;
}

static int G_GNUC_PRINTF(1, 2) usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "vdagent-host: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

/* Returns 0 when parsed, else the exit status. */
static int parse_args(Host *h, int argc, char **argv)
{
    int i;

    vdagent_config_init(&h->config);
    h->config.clipboard = true;
    h->config.n_heads = 0;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--verbose") == 0) {
            h->verbose = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        }
        if (!g_str_has_prefix(a, "--")) {
            return usage_error("unexpected argument '%s'", a);
        }
        if (strcmp(a, "--guest") != 0 && strcmp(a, "--qmp") != 0 &&
            strcmp(a, "--mouse") != 0 && strcmp(a, "--clipboard") != 0 &&
            strcmp(a, "--head") != 0 && strcmp(a, "--max-message") != 0 &&
            strcmp(a, "--incoming") != 0) {
            return usage_error("unknown option '%s'", a);
        }
        if (!v) {
            return usage_error("%s needs a value", a);
        }
        i++;
        if (strcmp(a, "--guest") == 0) {
            g_free(h->guest_spec);
            h->guest_spec = g_strdup(v);
        } else if (strcmp(a, "--qmp") == 0) {
            if (!g_str_has_prefix(v, "unix:") || !v[5]) {
                return usage_error("--qmp expects unix:PATH, not '%s'", v);
            }
            g_free(h->qmp_spec);
            h->qmp_spec = g_strdup(v + 5);
        } else if (strcmp(a, "--mouse") == 0) {
            if (!parse_onoff(a, v, &h->config.mouse)) {
                return usage_error("--mouse expects on or off, not '%s'", v);
            }
        } else if (strcmp(a, "--clipboard") == 0) {
            if (!parse_onoff(a, v, &h->config.clipboard)) {
                return usage_error("--clipboard expects on or off, not '%s'", v);
            }
        } else if (strcmp(a, "--head") == 0) {
            if (h->config.n_heads >= VDAGENT_MAX_HEADS ||
                !parse_head(v, &h->config.heads[h->config.n_heads])) {
                return usage_error("--head expects WxH[+X+Y] (at most 16), "
                                   "not '%s'", v);
            }
            h->config.n_heads++;
        } else if (strcmp(a, "--max-message") == 0) {
            char *end;
            guint64 m = g_ascii_strtoull(v, &end, 10);

            if (*end || m < 4096 || m > G_MAXUINT32) {
                return usage_error("--max-message expects 4096..4294967295, "
                                   "not '%s'", v);
            }
            h->config.max_message = m;
        } else if (strcmp(a, "--incoming") == 0) {
            g_free(h->incoming_spec);
            h->incoming_spec = g_strdup(v);
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!h->guest_spec && !h->incoming_spec) {
        h->guest_spec = g_strdup("sim");       /* the embedded default */
    }
    return 0;
}

static gboolean on_signal(gpointer opaque)
{
    g_main_loop_quit(((Host *)opaque)->loop);
    return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
    Host host = { .conn_fd = -1, .listen_fd = -1,
                  .incoming_listen_fd = -1, .downtime_us = -1 };
    Host *h = &host;
    g_autoptr(GError) err = NULL;
    InputHeadGeometry heads[VDAGENT_MAX_HEADS];
    unsigned i;
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = parse_args(h, argc, argv);
    if (rc) {
        return rc < 0 ? 0 : rc;
    }
    h->loop = g_main_loop_new(NULL, FALSE);
    h->hub = clipboard_hub_new();
    h->router = input_router_new();
    if (h->config.n_heads) {
        for (i = 0; i < h->config.n_heads; i++) {
            heads[i] = (InputHeadGeometry){
                h->config.heads[i].width, h->config.heads[i].height,
                h->config.heads[i].x, h->config.heads[i].y };
        }
        input_router_set_geometry(h->router, heads, h->config.n_heads);
    }
    h->config.clipboard_hub = h->hub;
    h->config.input_router = h->router;
    h->dev = vdagent_chardev_new(&h->config, &host_frontend_ops, h, &err);
    if (!h->dev) {
        fprintf(stderr, "vdagent-host: %s\n", err->message);
        return 1;
    }
    h->peer.name = "host";
    h->peer.ops = &host_peer_ops;
    h->peer.opaque = h;
    clipboard_peer_register(h->hub, &h->peer);
    h->out = g_byte_array_new();
    host_migration_init(h);

    if (h->incoming_spec) {
        host_set_status(h, HOST_INMIGRATE);
    }
    if (h->qmp_spec) {
        h->qmp = qmp_server_new(h->qmp_spec, host_commands, h, &err);
        if (!h->qmp) {
            fprintf(stderr, "vdagent-host: --qmp: %s\n", err->message);
            h->exit_status = 1;
        }
    }
    if (!h->exit_status && !host_guest_setup(h, h->guest_spec, &err)) {
        fprintf(stderr, "vdagent-host: --guest: %s\n", err->message);
        h->exit_status = 1;
    }
    if (!h->exit_status && h->incoming_spec &&
        !host_incoming_start(h, h->incoming_spec, &err)) {
        fprintf(stderr, "vdagent-host: --incoming: %s\n", err->message);
        h->exit_status = 1;
    }
    if (!h->exit_status) {
        g_unix_signal_add(SIGINT, on_signal, h);
        g_unix_signal_add(SIGTERM, on_signal, h);
        host_log(h, "ready");
        g_main_loop_run(h->loop);
    }

    /* Shut down: a socket we still own is removed; a handed-over one not. */
    host_fail_gets(h, "vdagent-host is quitting");
    if (h->kind == HOST_GUEST_UNIX && h->listen_fd >= 0 && h->guest_path) {
        unlink(h->guest_path);
    }
    host_guest_close(h);
    host_migration_fini(h);
    /* No more notifications to us, then the device, then the socket. */
    clipboard_peer_unregister(&h->peer);
    migration_registry_free(h->reg);
    clipboard_saved_clear(&h->saved.cb);
    g_free(h->saved.out);
    vdagent_chardev_free(h->dev);
    g_clear_pointer(&h->qmp, qmp_server_free);
    clipboard_hub_free(h->hub);
    input_router_free(h->router);
    g_byte_array_unref(h->out);
    g_main_loop_unref(h->loop);
    g_free(h->guest_spec);
    g_free(h->qmp_spec);
    g_free(h->incoming_spec);
    g_free(h->guest_path);
    g_free(h->mig_error);
    return h->exit_status;
}
