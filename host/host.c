/*
 * host.c: the bottom of vdagent-host: run status, events, logging, waiting
 * requests.  See host.h.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/host.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct RunHook {
    HostRunHook fn;
    void *opaque;
} RunHook;

struct HostPrivate {
    bool verbose;
    HostStatus status;
    QmpServer *qmp;                 /* where events go, borrowed; or NULL */
    GList *waiting;                 /* HostWaiting *, newest first */
    GArray *run_hooks;              /* RunHook */
};

void host_init(Host *h, bool verbose)
{
    h->priv = g_new0(HostPrivate, 1);
    h->priv->verbose = verbose;
    h->priv->status = HOST_RUNNING;
    h->priv->run_hooks = g_array_new(FALSE, FALSE, sizeof(RunHook));
}

void host_fini(Host *h)
{
    if (!h->priv) {
        return;
    }
    if (h->priv->waiting) {
        g_critical("host_fini: requests still waiting");
        host_fail_waiting(h, "vdagent-host is quitting");
    }
    if (h->priv->run_hooks->len) {
        g_critical("host_fini: run hooks still registered");
    }
    g_array_unref(h->priv->run_hooks);
    g_clear_pointer(&h->priv, g_free);
}

void host_log(Host *h, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    if (!h->priv->verbose) {
        return;
    }
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "[host %d] %s\n", (int)getpid(), msg);
}

void host_set_qmp(Host *h, QmpServer *qmp)
{
    h->priv->qmp = qmp;
}

void host_event(Host *h, const char *name, json_object *data)
{
    if (h->priv->qmp) {
        qmp_server_event(h->priv->qmp, name, data);
    } else {
        json_object_put(data);
    }
}

void host_hold_events(Host *h, bool hold)
{
    if (h->priv->qmp) {
        qmp_server_hold_events(h->priv->qmp, hold);
    }
}

/* ---- status ------------------------------------------------------------ */

static const char *const status_names[HOST_STATUS__COUNT] = {
    [HOST_RUNNING] = "running",
    [HOST_PAUSED] = "paused",
    [HOST_INMIGRATE] = "inmigrate",
    [HOST_POSTMIGRATE] = "postmigrate",
};

HostStatus host_status(const Host *h)
{
    return h->priv->status;
}

const char *host_status_name(HostStatus status)
{
    return (unsigned)status < HOST_STATUS__COUNT ? status_names[status] : NULL;
}

void host_set_status(Host *h, HostStatus status)
{
    bool running = status == HOST_RUNNING;
    bool was_running = h->priv->status == HOST_RUNNING;
    guint i;

    g_return_if_fail((unsigned)status < HOST_STATUS__COUNT);
    h->priv->status = status;
    if (running == was_running) {
        return;
    }
    vdc_chardev_set_running(h->dev, running);
    vdc_clipboard_hub_set_running(h->hub, running);
    vdc_input_router_set_running(h->router, running);
    for (i = 0; i < h->priv->run_hooks->len; i++) {
        RunHook *r = &g_array_index(h->priv->run_hooks, RunHook, i);

        r->fn(r->opaque, running);
    }
    host_event(h, running ? "RESUME" : "STOP", NULL);
}

static gint run_hook_index(Host *h, HostRunHook fn, void *opaque)
{
    guint i;

    for (i = 0; i < h->priv->run_hooks->len; i++) {
        RunHook *r = &g_array_index(h->priv->run_hooks, RunHook, i);

        if (r->fn == fn && r->opaque == opaque) {
            return (gint)i;
        }
    }
    return -1;
}

void host_add_run_hook(Host *h, HostRunHook fn, void *opaque)
{
    RunHook r = { fn, opaque };

    g_return_if_fail(fn && run_hook_index(h, fn, opaque) < 0);
    g_array_append_val(h->priv->run_hooks, r);
}

void host_remove_run_hook(Host *h, HostRunHook fn, void *opaque)
{
    gint i = run_hook_index(h, fn, opaque);

    if (i >= 0) {
        g_array_remove_index(h->priv->run_hooks, i);
    }
}

/* ---- waiting requests -------------------------------------------------- */

void host_waiting_add(Host *h, HostWaiting *w, QmpRequest *req,
                      const HostWaitingOps *ops)
{
    w->req = req;
    w->ops = ops;
    h->priv->waiting = g_list_prepend(h->priv->waiting, w);
}

/* Take @w off the list; the caller answers w->req and releases @w. */
static QmpRequest *waiting_take(Host *h, HostWaiting *w)
{
    h->priv->waiting = g_list_remove(h->priv->waiting, w);
    return g_steal_pointer(&w->req);
}

void host_waiting_reply(Host *h, HostWaiting *w, json_object *ret)
{
    qmp_reply(waiting_take(h, w), ret);
    w->ops->release(w);
}

void host_waiting_error(Host *h, HostWaiting *w, const char *why)
{
    qmp_reply_error(waiting_take(h, w), "%s", why);
    w->ops->release(w);
}

void host_waiting_foreach(Host *h, const HostWaitingOps *ops,
                          void (*fn)(HostWaiting *w, void *opaque),
                          void *opaque)
{
    GList *l, *next;

    for (l = h->priv->waiting; l; l = next) {
        HostWaiting *w = l->data;

        next = l->next;
        if (w->ops == ops) {
            fn(w, opaque);
        }
    }
}

void host_fail_waiting(Host *h, const char *why)
{
    while (h->priv->waiting) {
        host_waiting_error(h, h->priv->waiting->data, why);
    }
}

/* ---- descriptors ------------------------------------------------------- */

bool host_parse_fd(const char *s, int *fd, GError **errp)
{
    size_t len = strspn(s, "0123456789");
    guint64 n = 0;
    size_t i;

    if (len == 0 || s[len]) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "fd: expects a descriptor number, not '%s'", s);
        return false;
    }
    for (i = 0; i < len; i++) {
        n = n * 10 + (guint64)(s[i] - '0');
        if (n > G_MAXINT) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "fd: descriptor number out of range: %s", s);
            return false;
        }
    }
    if (fcntl((int)n, F_GETFD) < 0) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_BADF,
                    "not an open descriptor: %s", s);
        return false;
    }
    *fd = (int)n;
    return true;
}
