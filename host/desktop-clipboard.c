/*
 * desktop-clipboard.c: the host desktop's clipboard as a hub peer, on GTK
 * 3.  See desktop-clipboard.h.
 *
 * Per selection (CLIPBOARD, PRIMARY) a DesktopSel follows two things:
 *  - `owned`/`served`: we own the desktop's selection, offering the hub
 *    info `served` (another peer's grab).  Set by desktop_sync(), cleared
 *    by GTK's clear callback (a desktop application took the selection,
 *    or we gave it up);
 *  - `grab`: the hub info we made from the desktop's last copy, with the
 *    desktop target to fetch each type from.
 * An owner change while the display says we own the selection is our own
 * offer coming back: never a grab.  Each owner change bumps `generation`; a targets answer for an
 * older one is dropped, so only the desktop's latest copy becomes a grab.
 */
#define G_LOG_DOMAIN "vdagent-host"

#include "host/desktop-clipboard.h"
#include "host/desktop-common.h"
#include "host/desktop-wayland.h"

#include <string.h>

#include <gtk/gtk.h>

/* The selections a desktop has; SECONDARY is left alone. */
#define DESKTOP_N_SEL 2

/*
 * Desktop targets and our types.  Reading, a type is fetched from its
 * first target here that the desktop offers; offering, every target of
 * each available type is listed (the index is GTK's "info").
 */
static const struct {
    const char *target;
    VdcClipboardType type;
} desktop_targets[] = {
    { "UTF8_STRING", VDC_CLIPBOARD_TYPE_TEXT },
    { "text/plain;charset=utf-8", VDC_CLIPBOARD_TYPE_TEXT },
    { "STRING", VDC_CLIPBOARD_TYPE_TEXT },       /* Latin-1 */
    { "image/png", VDC_CLIPBOARD_TYPE_PNG },
    { "image/bmp", VDC_CLIPBOARD_TYPE_BMP },
    { "image/tiff", VDC_CLIPBOARD_TYPE_TIFF },
    { "image/jpeg", VDC_CLIPBOARD_TYPE_JPG },
};
#define N_TARGETS G_N_ELEMENTS(desktop_targets)
#define TARGET_STRING 2

/* Past the hub's own timeout, a desktop paste gives up waiting. */
#define SERVE_GRACE_MS 1000

typedef struct DesktopSel {
    HostDesktopClipboard *dc;
    VdcClipboardSelection sel;
    GtkClipboard *cb;
    GdkAtom atom;                   /* CLIPBOARD or PRIMARY */
    gulong handler;                 /* owner-change */
    bool owned;                     /* we own the desktop's selection */
    VdcClipboardInfo *served;       /* what we offer there (a reference) */
    VdcClipboardInfo *offered;      /* the last info offered (a ref.),
                                       served or not any more */
    VdcClipboardInfo *grab;         /* our last grab on the hub (a ref.) */
    int fetch_from[VDC_CLIPBOARD_TYPE__COUNT];  /* target index, or -1 */
    unsigned generation;            /* owner changes seen */
    bool resync;                    /* desktop_sync() once not serving */
} DesktopSel;

struct HostDesktopClipboard {
    Host *h;
    HostDesktopWayland *wayland;    /* the native Wayland peer, if used */
    VdcClipboardPeer peer;
    DesktopSel sels[DESKTOP_N_SEL];
    unsigned serving;               /* desktop pastes waiting (nested) */
    guint resync_id;                /* idle running the deferred syncs */
    GList *fetches;                 /* DesktopFetch * in flight */
    GList *queries;                 /* DesktopQuery * in flight */
    unsigned timeout_ms;            /* the hub's request timeout */
    HostDesktopCounts n;             /* traced */
};

/* A targets request for one owner change. */
typedef struct DesktopQuery {
    DesktopSel *ds;                 /* NULL once the peer is freed */
    unsigned generation;
} DesktopQuery;

/* A data request to the desktop for the hub. */
typedef struct DesktopFetch {
    HostDesktopClipboard *dc;       /* NULL once the peer is freed */
    VdcClipboardInfo *info;         /* a reference */
    VdcClipboardType type;
    int target;
} DesktopFetch;

static const char *sel_name(const DesktopSel *ds)
{
    return vdc_clipboard_selection_name(ds->sel);
}

static DesktopSel *sel_of(HostDesktopClipboard *dc, VdcClipboardSelection s)
{
    return (unsigned)s < DESKTOP_N_SEL ? &dc->sels[s] : NULL;
}

/* ---- the hub's grabs on the desktop ------------------------------------- */

static void desktop_sync(DesktopSel *ds);

static gboolean resync_idle(gpointer opaque)
{
    HostDesktopClipboard *dc = opaque;
    unsigned i;

    if (dc->serving) {
        return G_SOURCE_CONTINUE;   /* still inside a desktop paste */
    }
    dc->resync_id = 0;
    for (i = 0; i < DESKTOP_N_SEL; i++) {
        if (dc->sels[i].resync) {
            dc->sels[i].resync = false;
            desktop_sync(&dc->sels[i]);
        }
    }
    return G_SOURCE_REMOVE;
}

/* GTK: the selection we offered is no longer ours. */
static void on_clear(GtkClipboard *cb, gpointer opaque)
{
    DesktopSel *ds = opaque;

    ds->owned = false;
    g_clear_pointer(&ds->served, vdc_clipboard_info_unref);
}

static gboolean serve_deadline(gpointer opaque)
{
    *(bool *)opaque = true;
    return G_SOURCE_REMOVE;
}

/*
 * Wait (the main loop nested) until @info's @type is known or cannot be:
 * the data came, the request timed out, @info was replaced, the deadline
 * passed, or the program is quitting.
 */
static void serve_wait(DesktopSel *ds, VdcClipboardInfo *info,
                       VdcClipboardType type)
{
    HostDesktopClipboard *dc = ds->dc;
    VdcClipboardHub *hub = dc->h->hub;
    VdcClipboardContent *c = &info->types[type];
    bool expired = false;
    guint deadline;

    deadline = g_timeout_add(dc->timeout_ms + SERVE_GRACE_MS, serve_deadline,
                             &expired);
    dc->serving++;
    while (!expired && g_main_loop_is_running(dc->h->loop) &&
           vdc_clipboard_hub_info(hub, ds->sel) == info &&
           c->available && !c->data && c->requested) {
        g_main_context_iteration(NULL, TRUE);
    }
    dc->serving--;
    if (!expired) {
        g_source_remove(deadline);
    }
}

/* GTK: a desktop application pastes target @idx of what we offer. */
static void on_get(GtkClipboard *cb, GtkSelectionData *sd, guint idx,
                   gpointer opaque)
{
    DesktopSel *ds = opaque;
    HostDesktopClipboard *dc = ds->dc;
    VdcClipboardHub *hub = dc->h->hub;
    g_autoptr(VdcClipboardInfo) info = NULL;
    VdcClipboardType type;
    GBytes *data;
    const char *p;
    gsize len;

    if (idx >= N_TARGETS || !ds->served) {
        goto empty;
    }
    type = desktop_targets[idx].type;
    info = vdc_clipboard_info_ref(ds->served);
    if (!info->types[type].data) {
        if (!vdc_clipboard_hub_request(hub, info, type)) {
            goto empty;
        }
        serve_wait(ds, info, type);
    }
    data = info->types[type].data;
    if (!data || vdc_clipboard_hub_info(hub, ds->sel) != info) {
        goto empty;
    }
    p = g_bytes_get_data(data, &len);
    if (len > G_MAXINT) {
        goto empty;                 /* GTK's lengths are ints */
    }
    if (idx == TARGET_STRING) {
        /* GTK converts to Latin-1 (false when it cannot) */
        if (!gtk_selection_data_set_text(sd, p, (gint)len)) {
            goto empty;
        }
    } else {
        gtk_selection_data_set(sd, gtk_selection_data_get_target(sd), 8,
                               (const guchar *)p, (gint)len);
    }
    dc->n.served++;
    host_log(dc->h, "desktop: served a desktop paste of %s, %zu bytes as %s "
             "(%" G_GUINT64_FORMAT ")", sel_name(ds), (size_t)len,
             desktop_targets[idx].target, dc->n.served);
    goto done;
empty:
    dc->n.unserved++;
    host_log(dc->h, "desktop: a desktop paste of %s answered empty "
             "(%" G_GUINT64_FORMAT ")", sel_name(ds), dc->n.unserved);
done:
    if (!dc->serving && !dc->resync_id &&
        (dc->sels[0].resync || dc->sels[1].resync)) {
        dc->resync_id = g_idle_add(resync_idle, dc);
    }
}

/* Make the desktop's selection show the hub's current info. */
static void desktop_sync(DesktopSel *ds)
{
    HostDesktopClipboard *dc = ds->dc;
    VdcClipboardInfo *info = vdc_clipboard_hub_info(dc->h->hub, ds->sel);
    g_autofree GtkTargetEntry *entries = g_new0(GtkTargetEntry, N_TARGETS);
    g_autofree char *types = NULL;
    unsigned i, n = 0;

    if (dc->serving) {
        /* not under GTK's feet while it waits for our answer */
        ds->resync = true;
        return;
    }
    if (info && ds->offered == info) {
        /*
         * The same grab again (replayed on resume): offered already; if
         * the desktop took the selection since, that copy is newer.
         */
        return;
    }
    for (i = 0; info && info->owner && info->owner != &dc->peer &&
         i < N_TARGETS; i++) {
        if (info->types[desktop_targets[i].type].available) {
            entries[n].target = (char *)desktop_targets[i].target;
            entries[n].info = i;
            n++;
        }
    }
    if (n == 0) {
        /* a release, a grab with nothing we can offer, or our own */
        if (ds->owned && (!info || info->owner != &dc->peer)) {
            host_log(dc->h, "desktop: %s given up on the desktop",
                     sel_name(ds));
            gtk_clipboard_clear(ds->cb);    /* on_clear() resets */
        }
        return;
    }
    vdc_clipboard_info_ref(info);
    if (!gtk_clipboard_set_with_data(ds->cb, entries, n, on_get, on_clear,
                                     ds)) {
        vdc_clipboard_info_unref(info);
        host_log(dc->h, "desktop: cannot take %s on the desktop",
                 sel_name(ds));
        return;
    }
    /* GTK called on_clear() for what we offered before, if anything */
    g_clear_pointer(&ds->served, vdc_clipboard_info_unref);
    ds->served = info;
    g_clear_pointer(&ds->offered, vdc_clipboard_info_unref);
    ds->offered = vdc_clipboard_info_ref(info);
    ds->owned = true;
    dc->n.offers++;
    types = host_desktop_types_text(info);
    host_log(dc->h, "desktop: offer %s on the desktop: %s (%" G_GUINT64_FORMAT
             ")", sel_name(ds), types, dc->n.offers);
}

/* ---- the desktop's copies on the hub ------------------------------------ */

static void on_targets(GtkClipboard *cb, GdkAtom *atoms, gint n_atoms,
                       gpointer opaque)
{
    DesktopQuery *q = opaque;
    DesktopSel *ds = q->ds;
    HostDesktopClipboard *dc;
    int from[VDC_CLIPBOARD_TYPE__COUNT];
    bool any = false;
    unsigned i;
    gint a;

    if (!ds) {
        g_free(q);                  /* the peer is gone */
        return;
    }
    dc = ds->dc;
    dc->queries = g_list_remove(dc->queries, q);
    if (q->generation != ds->generation || ds->owned) {
        g_free(q);                  /* a newer owner change, or ours */
        return;
    }
    g_free(q);
    for (i = 0; i < VDC_CLIPBOARD_TYPE__COUNT; i++) {
        from[i] = -1;
    }
    for (i = 0; i < N_TARGETS; i++) {
        VdcClipboardType t = desktop_targets[i].type;
        GdkAtom want = gdk_atom_intern_static_string(desktop_targets[i].target);

        for (a = 0; from[t] < 0 && a < n_atoms; a++) {
            if (atoms[a] == want) {
                from[t] = (int)i;
                any = true;
            }
        }
    }
    if (!any) {
        /* nothing we know (or no owner): the desktop's copy is gone */
        host_desktop_release(dc->h, &dc->peer, &dc->n, ds->sel, false);
        return;
    }
    host_desktop_grab(dc->h, &dc->peer, &dc->n, ds->sel, from, ds->fetch_from,
                      &ds->grab);
}

static void on_owner_change(GtkClipboard *cb, GdkEvent *event,
                            gpointer opaque)
{
    DesktopSel *ds = opaque;
    HostDesktopClipboard *dc = ds->dc;
    DesktopQuery *q;
    GdkWindow *owner;

    ds->generation++;
    /*
     * Our own offer: not a desktop copy.  Asked of the display (who owns
     * it now: one of our windows, not a foreign one), not of `owned`,
     * which a desktop copy right after ours may not have cleared yet when
     * its owner change comes first.
     */
    owner = gdk_selection_owner_get_for_display(gtk_clipboard_get_display(cb),
                                                ds->atom);
    if (owner && gdk_window_get_window_type(owner) != GDK_WINDOW_FOREIGN) {
        dc->n.own_changes++;
        host_log(dc->h, "desktop: %s changed owner: our own offer (%"
                 G_GUINT64_FORMAT ")", sel_name(ds), dc->n.own_changes);
        return;
    }
    if (event->owner_change.reason != GDK_OWNER_CHANGE_NEW_OWNER) {
        /* the owner quit (its window destroyed, its client gone) */
        host_desktop_release(dc->h, &dc->peer, &dc->n, ds->sel, true);
        return;
    }
    host_log(dc->h, "desktop: %s changed owner: %s", sel_name(ds),
             owner ? "another client" : "none");
    q = g_new0(DesktopQuery, 1);
    q->ds = ds;
    q->generation = ds->generation;
    dc->queries = g_list_prepend(dc->queries, q);
    gtk_clipboard_request_targets(cb, on_targets, q);
}

/* ---- the hub's side ------------------------------------------------------ */

static void on_contents(GtkClipboard *cb, GtkSelectionData *sd,
                        gpointer opaque)
{
    DesktopFetch *f = opaque;
    HostDesktopClipboard *dc = f->dc;
    g_autoptr(GBytes) data = NULL;
    const guchar *p = gtk_selection_data_get_data(sd);
    gint len = gtk_selection_data_get_length(sd);

    if (!dc) {
        goto out;                   /* the peer is gone */
    }
    dc->fetches = g_list_remove(dc->fetches, f);
    if (p && len > 0 && f->target == TARGET_STRING) {
        gsize n = 0;
        char *utf8 = g_convert((const char *)p, len, "UTF-8", "ISO-8859-1",
                               NULL, &n, NULL);

        data = utf8 ? g_bytes_new_take(utf8, n) : NULL;
    } else if (p && len > 0) {
        data = g_bytes_new(p, len);
    }
    dc->n.fetches++;
    host_log(dc->h, "desktop: fetched %s %s from the desktop: %zu bytes "
             "(%" G_GUINT64_FORMAT ")", vdc_clipboard_selection_name(
                 f->info->selection), vdc_clipboard_type_name(f->type),
             data ? g_bytes_get_size(data) : 0, dc->n.fetches);
    data = host_desktop_fit(dc->h, data);
    /* none: the type becomes unavailable and the asker gets nothing */
    vdc_clipboard_hub_set_data(dc->h->hub, &dc->peer, f->info, f->type, data,
                               true);
out:
    vdc_clipboard_info_unref(f->info);
    g_free(f);
}

/* The hub asks for the desktop's data: fetched now, answered later. */
static void peer_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                         VdcClipboardType type)
{
    HostDesktopClipboard *dc = peer->opaque;
    DesktopSel *ds = sel_of(dc, info->selection);
    DesktopFetch *f;

    if (!ds || info != ds->grab || ds->fetch_from[type] < 0) {
        vdc_clipboard_hub_set_data(dc->h->hub, peer, info, type, NULL, true);
        return;
    }
    f = g_new0(DesktopFetch, 1);
    f->dc = dc;
    f->info = vdc_clipboard_info_ref(info);
    f->type = type;
    f->target = ds->fetch_from[type];
    dc->fetches = g_list_prepend(dc->fetches, f);
    gtk_clipboard_request_contents(
        ds->cb, gdk_atom_intern_static_string(desktop_targets[f->target].target),
        on_contents, f);
}

static void peer_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    HostDesktopClipboard *dc = peer->opaque;
    DesktopSel *ds;

    if (n->type != VDC_CLIPBOARD_NOTIFY_UPDATE || !n->new_info) {
        return;         /* data for a waiting paste: serve_wait() sees it */
    }
    ds = sel_of(dc, n->info->selection);
    if (ds) {
        desktop_sync(ds);
    }
}

static const VdcClipboardPeerOps desktop_peer_ops = {
    .notify = peer_notify,
    .request = peer_request,
};

/* ---- start and end ------------------------------------------------------- */

HostDesktopClipboard *host_desktop_clipboard_new(Host *h, GError **errp)
{
    const char *x11 = g_getenv("DISPLAY");
    const char *wl = g_getenv("WAYLAND_DISPLAY");
    const char *backend = g_getenv("GDK_BACKEND");
    HostDesktopClipboard *dc;
    GdkDisplay *display;
    unsigned i;

    if ((!x11 || !*x11) && (!wl || !*wl)) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                    "no display: neither $DISPLAY nor $WAYLAND_DISPLAY is set");
        return NULL;
    }
    /*
     * On Wayland, the compositor's data-control protocol (GDK_BACKEND=x11
     * asks for XWayland instead); without it, X11 if there is one.
     */
    if (wl && *wl && g_strcmp0(backend, "x11") != 0) {
        g_autoptr(GError) err = NULL;
        HostDesktopWayland *dw = host_desktop_wayland_new(h, &err);

        if (dw) {
            dc = g_new0(HostDesktopClipboard, 1);
            dc->h = h;
            dc->wayland = dw;
            return dc;
        }
        if (!x11 || !*x11) {
            g_set_error(errp, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "%s, and $DISPLAY is not set (XWayland's X11 "
                        "clipboard would do)", err->message);
            return NULL;
        }
        host_log(h, "desktop: %s: the X11 clipboard on $DISPLAY=%s instead",
                 err->message, x11);
    }
    /*
     * GTK on X11 only: its Wayland backend gives a client without a
     * focused window no selection (see desktop-wayland.h).
     */
    gdk_set_allowed_backends("x11");
    /* No widget to make accessible; our locale stays "C". */
    g_setenv("NO_AT_BRIDGE", "1", FALSE);
    gtk_disable_setlocale();
    if (!gtk_init_check(NULL, NULL) || !(display = gdk_display_get_default())) {
        g_set_error(errp, G_IO_ERROR, G_IO_ERROR_FAILED,
                    "cannot open the display ($DISPLAY=%s, "
                    "$WAYLAND_DISPLAY=%s)", x11 && *x11 ? x11 : "unset",
                    wl && *wl ? wl : "unset");
        return NULL;
    }
    dc = g_new0(HostDesktopClipboard, 1);
    dc->h = h;
    dc->timeout_ms = VDC_CLIPBOARD_DEFAULT_TIMEOUT_MS;
    dc->peer.name = "desktop";
    dc->peer.ops = &desktop_peer_ops;
    dc->peer.opaque = dc;
    if (!gdk_display_supports_selection_notification(display)) {
        g_warning("the display (%s) does not tell when a selection "
                  "changes owner: desktop copies will not reach the guest",
                  gdk_display_get_name(display));
    }
    for (i = 0; i < DESKTOP_N_SEL; i++) {
        DesktopSel *ds = &dc->sels[i];
        unsigned t;

        ds->dc = dc;
        ds->sel = i;
        ds->atom = i == VDC_CLIPBOARD_SELECTION_CLIPBOARD
                   ? GDK_SELECTION_CLIPBOARD : GDK_SELECTION_PRIMARY;
        ds->cb = gtk_clipboard_get_for_display(display, ds->atom);
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            ds->fetch_from[t] = -1;
        }
        ds->handler = g_signal_connect(ds->cb, "owner-change",
                                       G_CALLBACK(on_owner_change), ds);
    }
    vdc_clipboard_peer_register(h->hub, &dc->peer);
    host_log(h, "desktop: clipboard peer on display %s",
             gdk_display_get_name(display));
    /* What the desktop holds already, and what the hub holds. */
    for (i = 0; i < DESKTOP_N_SEL; i++) {
        DesktopQuery *q = g_new0(DesktopQuery, 1);

        q->ds = &dc->sels[i];
        q->generation = dc->sels[i].generation;
        dc->queries = g_list_prepend(dc->queries, q);
        gtk_clipboard_request_targets(dc->sels[i].cb, on_targets, q);
        desktop_sync(&dc->sels[i]);
    }
    return dc;
}

void host_desktop_clipboard_free(HostDesktopClipboard *dc)
{
    GList *l;
    unsigned i;

    if (!dc) {
        return;
    }
    if (dc->wayland) {
        host_desktop_wayland_free(dc->wayland);
        g_free(dc);
        return;
    }
    host_desktop_log_counts(dc->h, &dc->n);
    /* Answers still to come find no peer. */
    for (l = dc->fetches; l; l = l->next) {
        ((DesktopFetch *)l->data)->dc = NULL;
    }
    for (l = dc->queries; l; l = l->next) {
        ((DesktopQuery *)l->data)->ds = NULL;
    }
    g_list_free(dc->fetches);
    g_list_free(dc->queries);
    if (dc->resync_id) {
        g_source_remove(dc->resync_id);
    }
    for (i = 0; i < DESKTOP_N_SEL; i++) {
        DesktopSel *ds = &dc->sels[i];

        g_signal_handler_disconnect(ds->cb, ds->handler);
        if (ds->owned) {
            gtk_clipboard_clear(ds->cb);
        }
        g_clear_pointer(&ds->served, vdc_clipboard_info_unref);
        g_clear_pointer(&ds->offered, vdc_clipboard_info_unref);
        g_clear_pointer(&ds->grab, vdc_clipboard_info_unref);
    }
    vdc_clipboard_peer_unregister(&dc->peer);
    /* The X server learns of the cleared selections. */
    gdk_display_flush(gdk_display_get_default());
    g_free(dc);
}
