/*
 * clipboard.c: the clipboard hub.  See clipboard.h for the model.
 */
#define G_LOG_DOMAIN "clipboard"

#include "clipboard/clipboard.h"

#include <string.h>

typedef struct HubTimer {
    ClipboardHub *hub;
    unsigned sel, type;
    GSource *source;
} HubTimer;

struct ClipboardHub {
    GPtrArray *peers;                           /* ClipboardPeer *, borrowed */
    ClipboardInfo *current[CLIPBOARD_SELECTION__COUNT];
    GMainContext *context;
    unsigned timeout_ms;
    HubTimer timers[CLIPBOARD_SELECTION__COUNT][CLIPBOARD_TYPE__COUNT];

    bool stopped;
    bool reset_on_resume;
    /* timeouts that fired while stopped, for the info that was current */
    ClipboardInfo *timeout_info[CLIPBOARD_SELECTION__COUNT];
    unsigned timeout_types[CLIPBOARD_SELECTION__COUNT];
    void *live;                 /* clipboard-live.h, borrowed */
};

static const char *const selection_names[CLIPBOARD_SELECTION__COUNT] = {
    [CLIPBOARD_SELECTION_CLIPBOARD] = "clipboard",
    [CLIPBOARD_SELECTION_PRIMARY] = "primary",
    [CLIPBOARD_SELECTION_SECONDARY] = "secondary",
};

static const char *const type_names[CLIPBOARD_TYPE__COUNT] = {
    [CLIPBOARD_TYPE_TEXT] = "text",
    [CLIPBOARD_TYPE_PNG] = "png",
    [CLIPBOARD_TYPE_BMP] = "bmp",
    [CLIPBOARD_TYPE_TIFF] = "tiff",
    [CLIPBOARD_TYPE_JPG] = "jpg",
};

const char *clipboard_selection_name(ClipboardSelection sel)
{
    return (unsigned)sel < CLIPBOARD_SELECTION__COUNT ? selection_names[sel]
                                                      : "unknown";
}

const char *clipboard_type_name(ClipboardType type)
{
    return (unsigned)type < CLIPBOARD_TYPE__COUNT ? type_names[type]
                                                  : "unknown";
}

static bool lookup_name(const char *const *names, unsigned n,
                        const char *name, unsigned *out)
{
    unsigned i;

    for (i = 0; name && i < n; i++) {
        if (strcmp(names[i], name) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

bool clipboard_selection_from_name(const char *name, ClipboardSelection *out)
{
    unsigned i;

    if (!lookup_name(selection_names, CLIPBOARD_SELECTION__COUNT, name, &i)) {
        return false;
    }
    *out = i;
    return true;
}

bool clipboard_type_from_name(const char *name, ClipboardType *out)
{
    unsigned i;

    if (!lookup_name(type_names, CLIPBOARD_TYPE__COUNT, name, &i)) {
        return false;
    }
    *out = i;
    return true;
}

/* ---- infos -------------------------------------------------------------- */

ClipboardInfo *clipboard_info_new(ClipboardPeer *owner, ClipboardSelection sel)
{
    ClipboardInfo *info;

    g_return_val_if_fail((unsigned)sel < CLIPBOARD_SELECTION__COUNT, NULL);

    info = g_new0(ClipboardInfo, 1);
    info->refcount = 1;
    info->owner = owner;
    info->selection = sel;
    return info;
}

ClipboardInfo *clipboard_info_ref(ClipboardInfo *info)
{
    g_return_val_if_fail(info != NULL && info->refcount > 0, NULL);
    info->refcount++;
    return info;
}

void clipboard_info_unref(ClipboardInfo *info)
{
    unsigned t;

    if (!info) {
        return;
    }
    g_return_if_fail(info->refcount > 0);
    if (--info->refcount > 0) {
        return;
    }
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        g_clear_pointer(&info->types[t].data, g_bytes_unref);
    }
    g_free(info);
}

unsigned clipboard_info_types(const ClipboardInfo *info)
{
    unsigned t, mask = 0;

    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available) {
            mask |= 1u << t;
        }
    }
    return mask;
}

/* ---- hub ---------------------------------------------------------------- */

ClipboardHub *clipboard_hub_new(void)
{
    ClipboardHub *hub = g_new0(ClipboardHub, 1);
    unsigned s, t;

    hub->peers = g_ptr_array_new();
    hub->context = g_main_context_ref_thread_default();
    hub->timeout_ms = CLIPBOARD_DEFAULT_TIMEOUT_MS;
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
            hub->timers[s][t] = (HubTimer){ .hub = hub, .sel = s, .type = t };
        }
    }
    return hub;
}

static void hub_cancel_timer(ClipboardHub *hub, unsigned sel, unsigned type)
{
    HubTimer *timer = &hub->timers[sel][type];

    if (timer->source) {
        g_source_destroy(timer->source);
        g_clear_pointer(&timer->source, g_source_unref);
    }
}

static void hub_cancel_timers(ClipboardHub *hub, unsigned sel)
{
    unsigned t;

    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        hub_cancel_timer(hub, sel, t);
    }
    g_clear_pointer(&hub->timeout_info[sel], clipboard_info_unref);
    hub->timeout_types[sel] = 0;
}

void clipboard_hub_free(ClipboardHub *hub)
{
    unsigned s;

    if (!hub) {
        return;
    }
    if (hub->peers->len > 0) {
        g_critical("clipboard hub freed with %u peers registered",
                   hub->peers->len);
        while (hub->peers->len > 0) {
            clipboard_peer_unregister(g_ptr_array_index(hub->peers, 0));
        }
    }
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        hub_cancel_timers(hub, s);
        g_clear_pointer(&hub->current[s], clipboard_info_unref);
    }
    g_ptr_array_unref(hub->peers);
    g_main_context_unref(hub->context);
    g_free(hub);
}

void clipboard_hub_set_timeout(ClipboardHub *hub, unsigned timeout_ms)
{
    g_return_if_fail(hub != NULL && timeout_ms > 0);
    hub->timeout_ms = timeout_ms;
}

/*
 * Notify every registered peer.  Peers may register, unregister or update
 * from inside their callback: iterate over a snapshot and skip peers that
 * left meanwhile.
 */
static void hub_notify(ClipboardHub *hub, const ClipboardNotify *notify)
{
    g_autoptr(GPtrArray) snapshot = NULL;
    unsigned i;

    if (hub->peers->len == 0) {
        return;
    }
    snapshot = g_ptr_array_copy(hub->peers, NULL, NULL);
    for (i = 0; i < snapshot->len; i++) {
        ClipboardPeer *peer = g_ptr_array_index(snapshot, i);

        /* A peer that left meanwhile may be freed: never touch it. */
        if (!g_ptr_array_find(hub->peers, peer, NULL)) {
            continue;
        }
        /* An update superseded by a nested one: later peers get that one. */
        if (notify->type == CLIPBOARD_NOTIFY_UPDATE &&
            hub->current[notify->info->selection] != notify->info) {
            break;
        }
        peer->ops->notify(peer, notify);
    }
}

static void hub_notify_update(ClipboardHub *hub, ClipboardInfo *info,
                              bool new_info)
{
    ClipboardNotify n = {
        .type = CLIPBOARD_NOTIFY_UPDATE, .info = info, .new_info = new_info,
    };

    if (hub->stopped) {
        return;
    }
    clipboard_info_ref(info);
    hub_notify(hub, &n);
    clipboard_info_unref(info);
}

ClipboardInfo *clipboard_hub_info(ClipboardHub *hub, ClipboardSelection sel)
{
    g_return_val_if_fail(hub != NULL, NULL);
    g_return_val_if_fail((unsigned)sel < CLIPBOARD_SELECTION__COUNT, NULL);
    return hub->current[sel];
}

bool clipboard_hub_update(ClipboardHub *hub, ClipboardInfo *info)
{
    ClipboardInfo *old;
    unsigned sel, t;

    g_return_val_if_fail(hub != NULL && info != NULL, false);
    g_return_val_if_fail((unsigned)info->selection < CLIPBOARD_SELECTION__COUNT,
                         false);

    /* CVE-2023-6683: never "available" with no data and nobody to ask. */
    for (t = 0; t < CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available && !info->types[t].data &&
            !(info->owner && info->owner->ops->request)) {
            g_debug("refusing %s update: %s available without data",
                    clipboard_selection_name(info->selection),
                    clipboard_type_name(t));
            return false;
        }
    }
    sel = info->selection;
    old = hub->current[sel];
    if (old == info) {
        /* The same info with more data: bug Q8 was unref before ref here. */
        hub_notify_update(hub, info, false);
        return true;
    }
    hub_cancel_timers(hub, sel);
    hub->current[sel] = clipboard_info_ref(info);
    hub_notify_update(hub, info, true);
    clipboard_info_unref(old);
    return true;
}

static gboolean hub_timer_fired(gpointer opaque)
{
    HubTimer *timer = opaque;
    ClipboardHub *hub = timer->hub;
    ClipboardInfo *info = hub->current[timer->sel];
    ClipboardNotify n = {
        .type = CLIPBOARD_NOTIFY_REQUEST_TIMEOUT, .info = info,
        .data_type = timer->type,
    };

    g_clear_pointer(&timer->source, g_source_unref);
    if (!info || !info->types[timer->type].requested) {
        return G_SOURCE_REMOVE;
    }
    g_debug("request for %s %s timed out",
            clipboard_selection_name(timer->sel),
            clipboard_type_name(timer->type));
    info->types[timer->type].requested = false;
    if (hub->stopped) {
        if (hub->timeout_info[timer->sel] != info) {
            g_clear_pointer(&hub->timeout_info[timer->sel],
                            clipboard_info_unref);
            hub->timeout_info[timer->sel] = clipboard_info_ref(info);
            hub->timeout_types[timer->sel] = 0;
        }
        hub->timeout_types[timer->sel] |= 1u << timer->type;
        return G_SOURCE_REMOVE;
    }
    clipboard_info_ref(info);
    hub_notify(hub, &n);
    clipboard_info_unref(info);
    return G_SOURCE_REMOVE;
}

bool clipboard_hub_request(ClipboardHub *hub, ClipboardInfo *info,
                           ClipboardType type)
{
    ClipboardContent *c;
    HubTimer *timer;

    g_return_val_if_fail(hub != NULL && info != NULL, false);
    g_return_val_if_fail((unsigned)type < CLIPBOARD_TYPE__COUNT, false);

    if (hub->current[info->selection] != info) {
        return false;
    }
    c = &info->types[type];
    if (!c->available) {
        return false;
    }
    if (c->data || c->requested) {
        return true;
    }
    if (!info->owner || !info->owner->ops->request) {
        return false;
    }
    c->requested = true;
    timer = &hub->timers[info->selection][type];
    hub_cancel_timer(hub, info->selection, type);
    timer->source = g_timeout_source_new(hub->timeout_ms);
    g_source_set_callback(timer->source, hub_timer_fired, timer, NULL);
    g_source_attach(timer->source, hub->context);
    info->owner->ops->request(info->owner, info, type);
    return true;
}

bool clipboard_hub_set_data(ClipboardHub *hub, ClipboardPeer *peer,
                            ClipboardInfo *info, ClipboardType type,
                            GBytes *data, bool update)
{
    ClipboardContent *c;

    g_return_val_if_fail(hub != NULL && info != NULL, false);
    g_return_val_if_fail((unsigned)type < CLIPBOARD_TYPE__COUNT, false);

    if (info->owner != peer) {
        return false;
    }
    c = &info->types[type];
    g_clear_pointer(&c->data, g_bytes_unref);
    if (data && g_bytes_get_size(data) > 0) {
        c->data = g_bytes_ref(data);
        c->available = true;
    } else {
        /* CVE-2023-6683: size 0 means "not available", never "no data". */
        c->available = false;
    }
    c->requested = false;
    if (hub->current[info->selection] != info) {
        /* A late answer for a replaced info: never made current again. */
        return true;
    }
    hub_cancel_timer(hub, info->selection, type);
    hub->timeout_types[info->selection] &= ~(1u << type);
    if (update) {
        return clipboard_hub_update(hub, info);
    }
    return true;
}

bool clipboard_hub_check_serial(ClipboardHub *hub, const ClipboardInfo *info,
                                bool wins_tie)
{
    const ClipboardInfo *cur;

    g_return_val_if_fail(hub != NULL && info != NULL, false);

    cur = hub->current[info->selection];
    if (!info->has_serial || !cur || !cur->has_serial) {
        return true;
    }
    return wins_tie ? info->serial >= cur->serial : info->serial > cur->serial;
}

void clipboard_hub_reset_serial(ClipboardHub *hub)
{
    ClipboardNotify n = { .type = CLIPBOARD_NOTIFY_RESET_SERIAL };
    unsigned s;

    g_return_if_fail(hub != NULL);

    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        if (hub->current[s]) {
            hub->current[s]->serial = 0;     /* bug Q10 */
        }
    }
    if (hub->stopped) {
        hub->reset_on_resume = true;
        return;
    }
    hub_notify(hub, &n);
}

void clipboard_hub_set_running(ClipboardHub *hub, bool running)
{
    unsigned s, t;

    g_return_if_fail(hub != NULL);

    if (running != hub->stopped) {
        return;                       /* no change */
    }
    hub->stopped = !running;
    if (!running) {
        return;
    }
    /* Resume: replay once what peers missed. */
    if (hub->reset_on_resume) {
        hub->reset_on_resume = false;
        clipboard_hub_reset_serial(hub);
    }
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT && !hub->stopped; s++) {
        if (hub->current[s]) {
            hub_notify_update(hub, hub->current[s], true);
        }
    }
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT && !hub->stopped; s++) {
        g_autoptr(ClipboardInfo) info = g_steal_pointer(&hub->timeout_info[s]);
        unsigned types = hub->timeout_types[s];

        hub->timeout_types[s] = 0;
        for (t = 0; info && t < CLIPBOARD_TYPE__COUNT; t++) {
            ClipboardNotify n = {
                .type = CLIPBOARD_NOTIFY_REQUEST_TIMEOUT, .info = info,
                .data_type = t,
            };

            if ((types & (1u << t)) && hub->current[s] == info) {
                hub_notify(hub, &n);
            }
        }
    }
}

bool clipboard_hub_running(const ClipboardHub *hub)
{
    return !hub->stopped;
}

/* ---- peers -------------------------------------------------------------- */

bool clipboard_peer_register(ClipboardHub *hub, ClipboardPeer *peer)
{
    g_return_val_if_fail(hub != NULL && peer != NULL, false);
    g_return_val_if_fail(peer->ops != NULL && peer->ops->notify != NULL, false);

    if (peer->hub == hub) {
        return true;                  /* bug P1: never twice */
    }
    if (peer->hub) {
        return false;
    }
    peer->hub = hub;
    g_ptr_array_add(hub->peers, peer);
    return true;
}

bool clipboard_peer_registered(const ClipboardPeer *peer)
{
    return peer->hub != NULL;
}

bool clipboard_peer_owns(const ClipboardPeer *peer, ClipboardSelection sel)
{
    ClipboardInfo *info;

    if (!peer->hub || (unsigned)sel >= CLIPBOARD_SELECTION__COUNT) {
        return false;
    }
    info = peer->hub->current[sel];
    return info && info->owner == peer;
}

static void hub_release(ClipboardHub *hub, ClipboardPeer *peer,
                        ClipboardSelection sel)
{
    ClipboardInfo *info = hub->current[sel];

    if (info && info->owner == peer) {
        g_autoptr(ClipboardInfo) empty = clipboard_info_new(NULL, sel);

        clipboard_hub_update(hub, empty);
    }
}

void clipboard_peer_release(ClipboardPeer *peer, ClipboardSelection sel)
{
    g_return_if_fail(peer != NULL);
    g_return_if_fail((unsigned)sel < CLIPBOARD_SELECTION__COUNT);

    if (peer->hub) {
        hub_release(peer->hub, peer, sel);
    }
}

void clipboard_peer_unregister(ClipboardPeer *peer)
{
    ClipboardHub *hub;
    unsigned s;

    g_return_if_fail(peer != NULL);

    hub = peer->hub;
    if (!hub) {
        return;
    }
    /* Leave first, so the peer is not told of its own release (bug P2). */
    g_ptr_array_remove(hub->peers, peer);
    peer->hub = NULL;
    for (s = 0; s < CLIPBOARD_SELECTION__COUNT; s++) {
        hub_release(hub, peer, s);
    }
}

void clipboard_hub_set_live(ClipboardHub *hub, void *live)
{
    g_return_if_fail(hub != NULL);
    hub->live = live;
}

void *clipboard_hub_live(const ClipboardHub *hub)
{
    g_return_val_if_fail(hub != NULL, NULL);
    return hub->live;
}
