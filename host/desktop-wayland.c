/*
 * desktop-wayland.c: the host desktop's clipboard as a hub peer on a
 * Wayland compositor, through wlroots' data-control protocol.  See
 * desktop-wayland.h.
 *
 * Per selection (CLIPBOARD; PRIMARY with version 2) a WlSel follows:
 *  - `offer`: the desktop's current selection as the compositor last
 *    announced it (another client's copy, or our own source);
 *  - `source`/`offered`: the source we set there for another peer's grab,
 *    while it is the selection, and the last hub info we offered;
 *  - `grab`: the hub info we made from `offer`, with the MIME type to
 *    fetch each of our types from.
 * Desktop pastes (sends) and hub requests (fetches) are pipes serviced by
 * main-loop watches, so nothing here ever blocks or nests the main loop.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/desktop-wayland.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>
#include <wayland-client.h>

#include "host/desktop-common.h"
#include "host/wlr-data-control-unstable-v1-client.h"

/* The selections the protocol has: CLIPBOARD, and PRIMARY since v2. */
#define WL_N_SEL 2
#define WL_MANAGER_VERSION 2

/*
 * MIME types and our types.  Reading, a type is fetched from its first
 * MIME type here that the offer lists; offering, every MIME type of each
 * available type is listed.
 */
static const struct {
    const char *mime;
    VdcClipboardType type;
    bool latin1;
} wl_mimes[] = {
    { "text/plain;charset=utf-8", VDC_CLIPBOARD_TYPE_TEXT, false },
    { "UTF8_STRING", VDC_CLIPBOARD_TYPE_TEXT, false },
    { "text/plain", VDC_CLIPBOARD_TYPE_TEXT, false },
    { "TEXT", VDC_CLIPBOARD_TYPE_TEXT, false },
    { "STRING", VDC_CLIPBOARD_TYPE_TEXT, true },    /* Latin-1 */
    { "image/png", VDC_CLIPBOARD_TYPE_PNG, false },
    { "image/bmp", VDC_CLIPBOARD_TYPE_BMP, false },
    { "image/tiff", VDC_CLIPBOARD_TYPE_TIFF, false },
    { "image/jpeg", VDC_CLIPBOARD_TYPE_JPG, false },
};
#define N_MIMES G_N_ELEMENTS(wl_mimes)

/* Past the hub's own timeout, a desktop paste or a fetch gives up. */
#define WL_GRACE_MS 1000
/* The errors of host_desktop_wayland_new(). */
#define WL_ERROR g_quark_from_static_string("host-desktop-wayland-error")

/* Bytes per read() of a fetch, per write() of a send. */
#define WL_IO_CHUNK (256 * 1024)

typedef struct HostDesktopWayland HostDesktopWayland;

/* The user data of every offer proxy. */
typedef struct WlOffer {
    HostDesktopWayland *dw;
    struct zwlr_data_control_offer_v1 *proxy;
    GPtrArray *mimes;               /* char *, as announced */
    bool ours;                      /* carries our private MIME type */
} WlOffer;

/* A source we set, until the compositor cancels it. */
typedef struct WlSource {
    HostDesktopWayland *dw;
    struct zwlr_data_control_source_v1 *proxy;
    VdcClipboardInfo *info;         /* what it offers (a reference) */
} WlSource;

typedef struct WlSel {
    HostDesktopWayland *dw;
    VdcClipboardSelection sel;
    WlOffer *offer;                 /* the desktop's selection, or NULL */
    WlSource *source;               /* ours while it is the selection */
    VdcClipboardInfo *offered;      /* the last info offered (a ref.) */
    VdcClipboardInfo *grab;         /* our grab from `offer` (a ref.) */
    int fetch_from[VDC_CLIPBOARD_TYPE__COUNT];  /* wl_mimes index or -1 */
} WlSel;

/* A desktop paste of one of our sources: the hub's data into its pipe. */
typedef struct WlSend {
    HostDesktopWayland *dw;
    VdcClipboardInfo *info;         /* a reference */
    VdcClipboardType type;
    unsigned mime;
    int fd;
    GBytes *data;                   /* what is written, once known */
    gsize off;
    guint watch, deadline;
} WlSend;

/* A hub request: the desktop's data read from a pipe. */
typedef struct WlFetch {
    HostDesktopWayland *dw;
    VdcClipboardInfo *info;         /* a reference */
    VdcClipboardType type;
    unsigned mime;
    int fd;
    GByteArray *buf;
    guint watch, deadline;
} WlFetch;

struct HostDesktopWayland {
    Host *h;
    VdcClipboardPeer peer;
    struct wl_display *display;
    struct wl_registry *registry;
    struct wl_seat *seat;
    uint32_t seat_name, manager_name;
    struct zwlr_data_control_manager_v1 *manager;
    uint32_t version;               /* the manager's, as bound */
    struct zwlr_data_control_device_v1 *device;
    WlSel sels[WL_N_SEL];
    unsigned n_sels;                /* 2 with PRIMARY, else 1 */
    char *marker;                   /* the MIME type that says "ours" */
    guint watch, out_watch;
    GList *sources;                 /* WlSource * not cancelled yet */
    GList *sends;                   /* WlSend * in flight */
    GList *fetches;                 /* WlFetch * in flight */
    unsigned timeout_ms;            /* the hub's request timeout */
    bool lost;                      /* the compositor is gone */
    HostDesktopCounts n;             /* traced */
};

static void dw_lost(HostDesktopWayland *dw, const char *why);

static const char *sel_name(const WlSel *ws)
{
    return vdc_clipboard_selection_name(ws->sel);
}

static WlSel *sel_of(HostDesktopWayland *dw, VdcClipboardSelection s)
{
    return (unsigned)s < dw->n_sels ? &dw->sels[s] : NULL;
}

static bool set_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

/* ---- the connection ------------------------------------------------------ */

static gboolean on_writable(int fd, GIOCondition cond, gpointer opaque)
{
    HostDesktopWayland *dw = opaque;

    if (wl_display_flush(dw->display) >= 0) {
        dw->out_watch = 0;
        return G_SOURCE_REMOVE;
    }
    if (errno == EAGAIN) {
        return G_SOURCE_CONTINUE;
    }
    dw->out_watch = 0;
    dw_lost(dw, g_strerror(errno));
    return G_SOURCE_REMOVE;
}

/* Send what our requests queued; the rest once the socket takes it. */
static void dw_flush(HostDesktopWayland *dw)
{
    if (dw->lost || dw->out_watch) {
        return;
    }
    if (wl_display_flush(dw->display) >= 0) {
        return;
    }
    if (errno == EAGAIN) {
        dw->out_watch = g_unix_fd_add(wl_display_get_fd(dw->display),
                                      G_IO_OUT, on_writable, dw);
    } else {
        dw_lost(dw, g_strerror(errno));
    }
}

static gboolean on_readable(int fd, GIOCondition cond, gpointer opaque)
{
    HostDesktopWayland *dw = opaque;

    /* readable: wl_display_dispatch() reads without waiting */
    if (wl_display_dispatch(dw->display) < 0) {
        int err = wl_display_get_error(dw->display);

        dw->watch = 0;
        dw_lost(dw, err == EPROTO ? "a protocol error"
                                  : g_strerror(err ? err : EPIPE));
        return G_SOURCE_REMOVE;
    }
    dw_flush(dw);
    return G_SOURCE_CONTINUE;
}

/* ---- desktop pastes of our sources ---------------------------------------- */

static void send_finish(WlSend *s, const char *failure)
{
    HostDesktopWayland *dw = s->dw;
    WlSel *ws = &dw->sels[s->info->selection];

    if (s->watch) {
        g_source_remove(s->watch);
    }
    if (s->deadline) {
        g_source_remove(s->deadline);
    }
    close(s->fd);
    dw->sends = g_list_remove(dw->sends, s);
    if (!failure) {
        dw->n.served++;
        host_log(dw->h, "desktop: served a desktop paste of %s, %zu bytes as "
                 "%s (%" G_GUINT64_FORMAT ")", sel_name(ws), (size_t)s->off,
                 wl_mimes[s->mime].mime, dw->n.served);
    } else {
        dw->n.unserved++;
        host_log(dw->h, "desktop: a desktop paste of %s answered empty: %s "
                 "(%" G_GUINT64_FORMAT ")", sel_name(ws), failure,
                 dw->n.unserved);
    }
    g_clear_pointer(&s->data, g_bytes_unref);
    vdc_clipboard_info_unref(s->info);
    g_free(s);
}

static gboolean send_deadline(gpointer opaque);

static gboolean send_write(int fd, GIOCondition cond, gpointer opaque)
{
    WlSend *s = opaque;
    gsize len, off0 = s->off;
    const char *p = g_bytes_get_data(s->data, &len);

    while (s->off < len) {
        ssize_t n = write(fd, p + s->off, MIN(len - s->off, WL_IO_CHUNK));

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            if (s->off > off0) {
                /* progress: the reader gets another stall limit */
                g_source_remove(s->deadline);
                s->deadline = g_timeout_add(s->dw->timeout_ms + WL_GRACE_MS,
                                            send_deadline, s);
            }
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            s->watch = 0;
            send_finish(s, n < 0 ? g_strerror(errno) : "nothing written");
            return G_SOURCE_REMOVE;
        }
        s->off += n;
    }
    s->watch = 0;
    send_finish(s, NULL);
    return G_SOURCE_REMOVE;
}

/* The data is at hand: write it (converted for STRING). */
static void send_data(WlSend *s)
{
    GBytes *data = s->info->types[s->type].data;

    if (wl_mimes[s->mime].latin1) {
        gsize len, n = 0;
        const char *p = g_bytes_get_data(data, &len);
        char *l1 = g_convert(p, len, "ISO-8859-1", "UTF-8", NULL, &n, NULL);

        if (!l1) {
            send_finish(s, "the text is not Latin-1");
            return;
        }
        s->data = g_bytes_new_take(l1, n);
    } else {
        s->data = g_bytes_ref(data);
    }
    /*
     * A paste that stops reading is given up after as long as a request
     * may take, counted from its last progress.
     */
    if (s->deadline) {
        g_source_remove(s->deadline);
    }
    s->deadline = g_timeout_add(s->dw->timeout_ms + WL_GRACE_MS,
                                send_deadline, s);
    s->watch = g_unix_fd_add(s->fd, G_IO_OUT, send_write, s);
}

static gboolean send_deadline(gpointer opaque)
{
    WlSend *s = opaque;

    s->deadline = 0;
    send_finish(s, s->data ? "the paste stopped reading" : "no data in time");
    return G_SOURCE_REMOVE;
}

/* Sends waiting for the hub's data: served, or failed when it cannot come. */
static void sends_check(HostDesktopWayland *dw)
{
    g_autoptr(GList) waiting = g_list_copy(dw->sends);
    GList *l;

    for (l = waiting; l; l = l->next) {
        WlSend *s = l->data;
        VdcClipboardContent *c = &s->info->types[s->type];

        if (s->data || !g_list_find(dw->sends, s)) {
            continue;               /* writing, or finished meanwhile */
        }
        if (c->data) {
            send_data(s);
        } else if (!c->available || !c->requested) {
            send_finish(s, "the owner had no data");
        } else if (vdc_clipboard_hub_info(dw->h->hub, s->info->selection) !=
                   s->info) {
            send_finish(s, "the clipboard changed meanwhile");
        }
    }
}

static void source_send(void *opaque,
                        struct zwlr_data_control_source_v1 *proxy,
                        const char *mime, int32_t fd)
{
    WlSource *src = opaque;
    HostDesktopWayland *dw = src->dw;
    VdcClipboardInfo *info = src->info;
    WlSend *s;
    unsigned i;

    for (i = 0; i < N_MIMES; i++) {
        if (strcmp(mime, wl_mimes[i].mime) == 0 &&
            info->types[wl_mimes[i].type].available) {
            break;
        }
    }
    if (i == N_MIMES || dw->lost || !set_nonblocking(fd)) {
        close(fd);                  /* our marker, or a type not offered */
        return;
    }
    s = g_new0(WlSend, 1);
    s->dw = dw;
    s->info = vdc_clipboard_info_ref(info);
    s->type = wl_mimes[i].type;
    s->mime = i;
    s->fd = fd;
    dw->sends = g_list_prepend(dw->sends, s);
    if (info->types[s->type].data) {
        send_data(s);
        return;
    }
    if (vdc_clipboard_hub_info(dw->h->hub, info->selection) != info ||
        !vdc_clipboard_hub_request(dw->h->hub, info, s->type)) {
        send_finish(s, "the owner cannot be asked");
        return;
    }
    /* the request may have been answered at once */
    if (g_list_find(dw->sends, s) && !s->data) {
        if (info->types[s->type].data) {
            send_data(s);
        } else {
            s->deadline = g_timeout_add(dw->timeout_ms + WL_GRACE_MS,
                                        send_deadline, s);
        }
    }
}

static void source_free(WlSource *src)
{
    HostDesktopWayland *dw = src->dw;

    dw->sources = g_list_remove(dw->sources, src);
    zwlr_data_control_source_v1_destroy(src->proxy);
    vdc_clipboard_info_unref(src->info);
    g_free(src);
}

/* No longer the selection (replaced, or we destroyed it). */
static void source_cancelled(void *opaque,
                             struct zwlr_data_control_source_v1 *proxy)
{
    WlSource *src = opaque;
    HostDesktopWayland *dw = src->dw;
    unsigned i;

    for (i = 0; i < dw->n_sels; i++) {
        if (dw->sels[i].source == src) {
            dw->sels[i].source = NULL;
        }
    }
    source_free(src);
}

static const struct zwlr_data_control_source_v1_listener source_listener = {
    .send = source_send,
    .cancelled = source_cancelled,
};

/* Make the desktop's selection show the hub's current info. */
static void desktop_sync(WlSel *ws)
{
    HostDesktopWayland *dw = ws->dw;
    VdcClipboardInfo *info = vdc_clipboard_hub_info(dw->h->hub, ws->sel);
    g_autofree char *types = NULL;
    WlSource *src;
    unsigned i, n = 0;

    if (dw->lost || (info && ws->offered == info)) {
        /*
         * The same grab again (replayed on resume): offered already; if
         * the desktop took the selection since, that copy is newer.
         */
        return;
    }
    for (i = 0; info && info->owner && info->owner != &dw->peer &&
         i < N_MIMES; i++) {
        n += info->types[wl_mimes[i].type].available;
    }
    if (n == 0) {
        /* a release, a grab with nothing we can offer, or our own */
        if (ws->source && (!info || info->owner != &dw->peer)) {
            host_log(dw->h, "desktop: %s given up on the desktop",
                     sel_name(ws));
            /* the compositor clears the selection if it is still ours */
            source_free(ws->source);
            ws->source = NULL;
            dw_flush(dw);
        }
        return;
    }
    src = g_new0(WlSource, 1);
    src->dw = dw;
    src->info = vdc_clipboard_info_ref(info);
    src->proxy = zwlr_data_control_manager_v1_create_data_source(dw->manager);
    zwlr_data_control_source_v1_add_listener(src->proxy, &source_listener, src);
    for (i = 0; i < N_MIMES; i++) {
        if (info->types[wl_mimes[i].type].available) {
            zwlr_data_control_source_v1_offer(src->proxy, wl_mimes[i].mime);
        }
    }
    zwlr_data_control_source_v1_offer(src->proxy, dw->marker);
    if (ws->sel == VDC_CLIPBOARD_SELECTION_PRIMARY) {
        zwlr_data_control_device_v1_set_primary_selection(dw->device,
                                                          src->proxy);
    } else {
        zwlr_data_control_device_v1_set_selection(dw->device, src->proxy);
    }
    dw->sources = g_list_prepend(dw->sources, src);
    /* the one it replaces is freed when the compositor cancels it */
    ws->source = src;
    g_clear_pointer(&ws->offered, vdc_clipboard_info_unref);
    ws->offered = vdc_clipboard_info_ref(info);
    dw->n.offers++;
    types = host_desktop_types_text(info);
    host_log(dw->h, "desktop: offer %s on the desktop: %s (%" G_GUINT64_FORMAT
             ")", sel_name(ws), types, dw->n.offers);
    dw_flush(dw);
}

/* ---- the desktop's copies on the hub ------------------------------------- */

static void offer_free(WlOffer *o)
{
    if (o) {
        zwlr_data_control_offer_v1_destroy(o->proxy);
        g_ptr_array_free(o->mimes, TRUE);
        g_free(o);
    }
}

static void offer_offer(void *opaque, struct zwlr_data_control_offer_v1 *proxy,
                        const char *mime)
{
    WlOffer *o = opaque;

    if (strcmp(mime, o->dw->marker) == 0) {
        o->ours = true;
    }
    g_ptr_array_add(o->mimes, g_strdup(mime));
}

static const struct zwlr_data_control_offer_v1_listener offer_listener = {
    .offer = offer_offer,
};

static void device_data_offer(void *opaque,
                              struct zwlr_data_control_device_v1 *device,
                              struct zwlr_data_control_offer_v1 *proxy)
{
    WlOffer *o = g_new0(WlOffer, 1);

    o->dw = opaque;
    o->proxy = proxy;
    o->mimes = g_ptr_array_new_with_free_func(g_free);
    zwlr_data_control_offer_v1_add_listener(proxy, &offer_listener, o);
}

/* The compositor names @proxy (NULL: none) as @sel's selection. */
static void on_selection(HostDesktopWayland *dw, VdcClipboardSelection sel,
                         struct zwlr_data_control_offer_v1 *proxy)
{
    WlOffer *o = proxy ? zwlr_data_control_offer_v1_get_user_data(proxy) : NULL;
    WlSel *ws = sel_of(dw, sel);
    int from[VDC_CLIPBOARD_TYPE__COUNT];
    bool any = false;
    unsigned i, m;

    if (!ws || dw->lost) {
        offer_free(o);
        return;
    }
    /* the previous offer, and the grab made from it, are over */
    offer_free(ws->offer);
    ws->offer = o;
    g_clear_pointer(&ws->grab, vdc_clipboard_info_unref);
    for (i = 0; i < VDC_CLIPBOARD_TYPE__COUNT; i++) {
        ws->fetch_from[i] = -1;
        from[i] = -1;
    }
    if (o && o->ours) {
        dw->n.own_changes++;
        host_log(dw->h, "desktop: %s changed owner: our own offer (%"
                 G_GUINT64_FORMAT ")", sel_name(ws), dw->n.own_changes);
        return;
    }
    for (i = 0; o && i < N_MIMES; i++) {
        VdcClipboardType t = wl_mimes[i].type;

        for (m = 0; from[t] < 0 && m < o->mimes->len; m++) {
            if (strcmp(o->mimes->pdata[m], wl_mimes[i].mime) == 0) {
                from[t] = (int)i;
                any = true;
            }
        }
    }
    if (!any) {
        host_desktop_release(dw->h, &dw->peer, &dw->n, ws->sel, !o);
        return;
    }
    host_log(dw->h, "desktop: %s changed owner: another client",
             sel_name(ws));
    host_desktop_grab(dw->h, &dw->peer, &dw->n, ws->sel, from, ws->fetch_from,
                      &ws->grab);
}

static void device_selection(void *opaque,
                             struct zwlr_data_control_device_v1 *device,
                             struct zwlr_data_control_offer_v1 *proxy)
{
    on_selection(opaque, VDC_CLIPBOARD_SELECTION_CLIPBOARD, proxy);
}

static void device_primary_selection(void *opaque,
                                     struct zwlr_data_control_device_v1 *device,
                                     struct zwlr_data_control_offer_v1 *proxy)
{
    on_selection(opaque, VDC_CLIPBOARD_SELECTION_PRIMARY, proxy);
}

static void device_finished(void *opaque,
                            struct zwlr_data_control_device_v1 *device)
{
    dw_lost(opaque, "the seat went away");
}

static const struct zwlr_data_control_device_v1_listener device_listener = {
    .data_offer = device_data_offer,
    .selection = device_selection,
    .finished = device_finished,
    .primary_selection = device_primary_selection,
};

/* ---- the hub's side ------------------------------------------------------ */

static void fetch_finish(WlFetch *f, bool whole)
{
    HostDesktopWayland *dw = f->dw;
    g_autoptr(GBytes) data = NULL;

    if (f->watch) {
        g_source_remove(f->watch);
    }
    if (f->deadline) {
        g_source_remove(f->deadline);
    }
    close(f->fd);
    dw->fetches = g_list_remove(dw->fetches, f);
    if (whole && f->buf->len && wl_mimes[f->mime].latin1) {
        gsize n = 0;
        char *utf8 = g_convert((const char *)f->buf->data, f->buf->len,
                               "UTF-8", "ISO-8859-1", NULL, &n, NULL);

        data = utf8 ? g_bytes_new_take(utf8, n) : NULL;
        g_byte_array_free(f->buf, TRUE);
    } else if (whole && f->buf->len) {
        data = g_byte_array_free_to_bytes(f->buf);
    } else {
        g_byte_array_free(f->buf, TRUE);
    }
    dw->n.fetches++;
    host_log(dw->h, "desktop: fetched %s %s from the desktop: %zu bytes "
             "(%" G_GUINT64_FORMAT ")",
             vdc_clipboard_selection_name(f->info->selection),
             vdc_clipboard_type_name(f->type),
             data ? g_bytes_get_size(data) : 0, dw->n.fetches);
    data = host_desktop_fit(dw->h, data);
    /* none: the type becomes unavailable and the asker gets nothing */
    if (!dw->lost) {
        vdc_clipboard_hub_set_data(dw->h->hub, &dw->peer, f->info, f->type,
                                   data, true);
    }
    vdc_clipboard_info_unref(f->info);
    g_free(f);
}

static gboolean fetch_read(int fd, GIOCondition cond, gpointer opaque)
{
    WlFetch *f = opaque;
    /* read one byte past the maximum at most: then it is too large */
    gsize limit = (gsize)vdc_chardev_max_clipboard(f->dw->h->dev) + 1;

    for (;;) {
        guint len = f->buf->len;
        gsize room = MIN(WL_IO_CHUNK, limit - len);
        ssize_t n;

        if (room == 0) {
            break;                  /* too large: answered empty */
        }
        g_byte_array_set_size(f->buf, len + room);
        n = read(fd, f->buf->data + len, room);
        g_byte_array_set_size(f->buf, len + MAX(n, 0));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            f->watch = 0;
            fetch_finish(f, n == 0);
            return G_SOURCE_REMOVE;
        }
    }
    f->watch = 0;
    fetch_finish(f, true);
    return G_SOURCE_REMOVE;
}

static gboolean fetch_deadline(gpointer opaque)
{
    WlFetch *f = opaque;

    f->deadline = 0;
    host_log(f->dw->h, "desktop: the desktop's owner sent no end of data in "
             "time");
    fetch_finish(f, false);
    return G_SOURCE_REMOVE;
}

/* The hub asks for the desktop's data: a pipe to the owner, read later. */
static void peer_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                         VdcClipboardType type)
{
    HostDesktopWayland *dw = peer->opaque;
    WlSel *ws = sel_of(dw, info->selection);
    WlFetch *f;
    int p[2];

    if (dw->lost || !ws || info != ws->grab || !ws->offer ||
        ws->fetch_from[type] < 0 || !g_unix_open_pipe(p, FD_CLOEXEC, NULL)) {
        vdc_clipboard_hub_set_data(dw->h->hub, peer, info, type, NULL, true);
        return;
    }
    zwlr_data_control_offer_v1_receive(ws->offer->proxy,
                                       wl_mimes[ws->fetch_from[type]].mime,
                                       p[1]);
    dw_flush(dw);
    close(p[1]);                    /* the owner has its own copy now */
    set_nonblocking(p[0]);
    f = g_new0(WlFetch, 1);
    f->dw = dw;
    f->info = vdc_clipboard_info_ref(info);
    f->type = type;
    f->mime = ws->fetch_from[type];
    f->fd = p[0];
    f->buf = g_byte_array_new();
    dw->fetches = g_list_prepend(dw->fetches, f);
    f->watch = g_unix_fd_add(f->fd, G_IO_IN | G_IO_HUP | G_IO_ERR,
                             fetch_read, f);
    f->deadline = g_timeout_add(dw->timeout_ms + WL_GRACE_MS,
                                fetch_deadline, f);
}

static void peer_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    HostDesktopWayland *dw = peer->opaque;
    WlSel *ws;

    if (n->type == VDC_CLIPBOARD_NOTIFY_UPDATE && n->new_info &&
        (ws = sel_of(dw, n->info->selection))) {
        desktop_sync(ws);
    }
    /* data, a timeout or a new owner: the pastes waiting may end */
    sends_check(dw);
}

static const VdcClipboardPeerOps wayland_peer_ops = {
    .notify = peer_notify,
    .request = peer_request,
};

/* ---- start and end ------------------------------------------------------- */

/*
 * Nothing more to or from the compositor: the watches go, the pastes in
 * flight end empty, the fetches unanswered (the hub hears of the release
 * of our grabs instead).
 */
static void dw_teardown(HostDesktopWayland *dw, const char *why)
{
    dw->lost = true;
    if (dw->watch) {
        g_source_remove(dw->watch);
        dw->watch = 0;
    }
    if (dw->out_watch) {
        g_source_remove(dw->out_watch);
        dw->out_watch = 0;
    }
    while (dw->sends) {
        send_finish(dw->sends->data, why);
    }
    while (dw->fetches) {
        fetch_finish(dw->fetches->data, false);
    }
    vdc_clipboard_peer_unregister(&dw->peer);
}

/* The compositor is gone (or spoke a protocol error): the peer ends. */
static void dw_lost(HostDesktopWayland *dw, const char *why)
{
    if (dw->lost) {
        return;
    }
    g_warning("desktop clipboard: the Wayland display is gone (%s): desktop "
              "copies no longer reach the guest", why);
    dw_teardown(dw, "the display is gone");
}

static void registry_global(void *opaque, struct wl_registry *registry,
                            uint32_t name, const char *iface, uint32_t version)
{
    HostDesktopWayland *dw = opaque;

    if (!dw->manager &&
        strcmp(iface, zwlr_data_control_manager_v1_interface.name) == 0) {
        dw->version = MIN(version, WL_MANAGER_VERSION);
        dw->manager = wl_registry_bind(registry, name,
                                       &zwlr_data_control_manager_v1_interface,
                                       dw->version);
        dw->manager_name = name;
    } else if (!dw->seat && strcmp(iface, wl_seat_interface.name) == 0) {
        /* the first seat; none of its events is needed */
        dw->seat = wl_registry_bind(registry, name, &wl_seat_interface, 1);
        dw->seat_name = name;
    }
}

static void registry_global_remove(void *opaque, struct wl_registry *registry,
                                   uint32_t name)
{
    HostDesktopWayland *dw = opaque;

    if ((dw->seat && name == dw->seat_name) ||
        (dw->manager && name == dw->manager_name)) {
        dw_lost(dw, "the seat or the data-control global went away");
    }
}

static const struct wl_registry_listener registry_listener = {
    .global = registry_global,
    .global_remove = registry_global_remove,
};

HostDesktopWayland *host_desktop_wayland_new(Host *h, GError **errp)
{
    const char *name = g_getenv("WAYLAND_DISPLAY");
    HostDesktopWayland *dw;
    unsigned i, t;

    dw = g_new0(HostDesktopWayland, 1);
    dw->h = h;
    dw->display = wl_display_connect(NULL);
    if (!dw->display) {
        g_set_error(errp, WL_ERROR, 0,
                    "cannot connect to the Wayland display "
                    "($WAYLAND_DISPLAY=%s): %s", name ? name : "unset",
                    g_strerror(errno));
        g_free(dw);
        return NULL;
    }
    dw->registry = wl_display_get_registry(dw->display);
    wl_registry_add_listener(dw->registry, &registry_listener, dw);
    if (wl_display_roundtrip(dw->display) < 0 || !dw->manager || !dw->seat) {
        g_set_error(errp, WL_ERROR, 1,
                    "the Wayland compositor ($WAYLAND_DISPLAY=%s) offers %s",
                    name ? name : "unset",
                    !dw->manager ? "no data-control protocol "
                                   "(zwlr_data_control_manager_v1)"
                                 : "no seat");
        dw->lost = true;
        host_desktop_wayland_free(dw);
        return NULL;
    }
    dw->timeout_ms = VDC_CLIPBOARD_DEFAULT_TIMEOUT_MS;
    dw->n_sels = dw->version >= 2 ? 2 : 1;
    dw->marker = g_strdup_printf("application/x-vdagent-host-offer-%d-%08x",
                                 (int)getpid(), g_random_int());
    dw->peer.name = "desktop";
    dw->peer.ops = &wayland_peer_ops;
    dw->peer.opaque = dw;
    for (i = 0; i < WL_N_SEL; i++) {
        dw->sels[i].dw = dw;
        dw->sels[i].sel = i;
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            dw->sels[i].fetch_from[t] = -1;
        }
    }
    vdc_clipboard_peer_register(h->hub, &dw->peer);
    dw->device = zwlr_data_control_manager_v1_get_data_device(dw->manager,
                                                              dw->seat);
    zwlr_data_control_device_v1_add_listener(dw->device, &device_listener, dw);
    /* The desktop's current selections arrive (grabs), then the hub's. */
    if (wl_display_roundtrip(dw->display) < 0) {
        g_set_error(errp, WL_ERROR, 0,
                    "the Wayland display ($WAYLAND_DISPLAY=%s) failed: %s",
                    name ? name : "unset",
                    g_strerror(wl_display_get_error(dw->display)));
        dw->lost = true;
        host_desktop_wayland_free(dw);
        return NULL;
    }
    host_log(h, "desktop: clipboard peer on Wayland display %s "
             "(data-control version %u%s)", name ? name : "wayland-0",
             dw->version, dw->n_sels == 2 ? ", with PRIMARY" : "");
    for (i = 0; i < dw->n_sels; i++) {
        desktop_sync(&dw->sels[i]);
    }
    dw->watch = g_unix_fd_add(wl_display_get_fd(dw->display),
                              G_IO_IN | G_IO_ERR | G_IO_HUP, on_readable, dw);
    dw_flush(dw);
    return dw;
}

void host_desktop_wayland_free(HostDesktopWayland *dw)
{
    unsigned i;

    if (!dw) {
        return;
    }
    if (dw->marker) {
        host_desktop_log_counts(dw->h, &dw->n);
    }
    if (!dw->lost) {
        dw_teardown(dw, "the host is quitting");
    }
    /* our sources: the compositor clears the selections they hold */
    while (dw->sources) {
        source_free(dw->sources->data);
    }
    for (i = 0; i < WL_N_SEL; i++) {
        offer_free(dw->sels[i].offer);
        g_clear_pointer(&dw->sels[i].offered, vdc_clipboard_info_unref);
        g_clear_pointer(&dw->sels[i].grab, vdc_clipboard_info_unref);
    }
    vdc_clipboard_peer_unregister(&dw->peer);
    if (dw->device) {
        zwlr_data_control_device_v1_destroy(dw->device);
    }
    if (dw->manager) {
        zwlr_data_control_manager_v1_destroy(dw->manager);
    }
    if (dw->seat) {
        wl_seat_destroy(dw->seat);
    }
    wl_registry_destroy(dw->registry);
    wl_display_flush(dw->display);
    wl_display_disconnect(dw->display);
    g_free(dw->marker);
    g_free(dw);
}
