/*
 * clipboard.c: the clipboard hub.  See vdc-clipboard.h for the model.
 */
#define G_LOG_DOMAIN "clipboard"

#include "clipboard/vdc-clipboard.h"

#include <string.h>

typedef struct HubTimer {
    VdcClipboardHub *hub;
    unsigned sel, type;
    GSource *source;
} HubTimer;

struct VdcClipboardHub {
    GPtrArray *peers;                           /* VdcClipboardPeer *, borrowed */
    VdcClipboardInfo *current[VDC_CLIPBOARD_SELECTION__COUNT];
    GMainContext *context;
    unsigned timeout_ms;
    HubTimer timers[VDC_CLIPBOARD_SELECTION__COUNT][VDC_CLIPBOARD_TYPE__COUNT];

    bool stopped;
    bool reset_on_resume;
    /* timeouts that fired while stopped, for the info that was current */
    VdcClipboardInfo *timeout_info[VDC_CLIPBOARD_SELECTION__COUNT];
    unsigned timeout_types[VDC_CLIPBOARD_SELECTION__COUNT];
    void *live;                 /* clipboard-live.h, borrowed */
};

static const char *const selection_names[VDC_CLIPBOARD_SELECTION__COUNT] = {
    [VDC_CLIPBOARD_SELECTION_CLIPBOARD] = "clipboard",
    [VDC_CLIPBOARD_SELECTION_PRIMARY] = "primary",
    [VDC_CLIPBOARD_SELECTION_SECONDARY] = "secondary",
};

static const char *const type_names[VDC_CLIPBOARD_TYPE__COUNT] = {
    [VDC_CLIPBOARD_TYPE_TEXT] = "text",
    [VDC_CLIPBOARD_TYPE_PNG] = "png",
    [VDC_CLIPBOARD_TYPE_BMP] = "bmp",
    [VDC_CLIPBOARD_TYPE_TIFF] = "tiff",
    [VDC_CLIPBOARD_TYPE_JPG] = "jpg",
};

const char *vdc_clipboard_selection_name(VdcClipboardSelection sel)
{
    return (unsigned)sel < VDC_CLIPBOARD_SELECTION__COUNT ? selection_names[sel]
                                                      : "unknown";
}

const char *vdc_clipboard_type_name(VdcClipboardType type)
{
    return (unsigned)type < VDC_CLIPBOARD_TYPE__COUNT ? type_names[type]
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

bool vdc_clipboard_selection_from_name(const char *name, VdcClipboardSelection *out)
{
    unsigned i;

    if (!lookup_name(selection_names, VDC_CLIPBOARD_SELECTION__COUNT, name, &i)) {
        return false;
    }
    *out = i;
    return true;
}

bool vdc_clipboard_type_from_name(const char *name, VdcClipboardType *out)
{
    unsigned i;

    if (!lookup_name(type_names, VDC_CLIPBOARD_TYPE__COUNT, name, &i)) {
        return false;
    }
    *out = i;
    return true;
}

/* ---- infos -------------------------------------------------------------- */

VdcClipboardInfo *vdc_clipboard_info_new(VdcClipboardPeer *owner, VdcClipboardSelection sel)
{
    VdcClipboardInfo *info;

    g_return_val_if_fail((unsigned)sel < VDC_CLIPBOARD_SELECTION__COUNT, NULL);

    info = g_new0(VdcClipboardInfo, 1);
    info->refcount = 1;
    info->owner = owner;
    info->selection = sel;
    return info;
}

VdcClipboardInfo *vdc_clipboard_info_ref(VdcClipboardInfo *info)
{
    g_return_val_if_fail(info != NULL && info->refcount > 0, NULL);
    info->refcount++;
    return info;
}

void vdc_clipboard_info_unref(VdcClipboardInfo *info)
{
    unsigned t;

    if (!info) {
        return;
    }
    g_return_if_fail(info->refcount > 0);
    if (--info->refcount > 0) {
        return;
    }
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        g_clear_pointer(&info->types[t].data, g_bytes_unref);
    }
    g_free(info);
}

unsigned vdc_clipboard_info_types(const VdcClipboardInfo *info)
{
    unsigned t, mask = 0;

    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available) {
            mask |= 1u << t;
        }
    }
    return mask;
}

/* ---- hub ---------------------------------------------------------------- */

VdcClipboardHub *vdc_clipboard_hub_new(void)
{
    VdcClipboardHub *hub = g_new0(VdcClipboardHub, 1);
    unsigned s, t;

    hub->peers = g_ptr_array_new();
    hub->context = g_main_context_ref_thread_default();
    hub->timeout_ms = VDC_CLIPBOARD_DEFAULT_TIMEOUT_MS;
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            hub->timers[s][t] = (HubTimer){ .hub = hub, .sel = s, .type = t };
        }
    }
    return hub;
}

static void hub_cancel_timer(VdcClipboardHub *hub, unsigned sel, unsigned type)
{
    HubTimer *timer = &hub->timers[sel][type];

    if (timer->source) {
        g_source_destroy(timer->source);
        g_clear_pointer(&timer->source, g_source_unref);
    }
}

static void hub_cancel_timers(VdcClipboardHub *hub, unsigned sel)
{
    unsigned t;

    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        hub_cancel_timer(hub, sel, t);
    }
    g_clear_pointer(&hub->timeout_info[sel], vdc_clipboard_info_unref);
    hub->timeout_types[sel] = 0;
}

void vdc_clipboard_hub_free(VdcClipboardHub *hub)
{
    unsigned s;

    if (!hub) {
        return;
    }
    if (hub->peers->len > 0) {
        g_critical("clipboard hub freed with %u peers registered",
                   hub->peers->len);
        while (hub->peers->len > 0) {
            vdc_clipboard_peer_unregister(g_ptr_array_index(hub->peers, 0));
        }
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        hub_cancel_timers(hub, s);
        g_clear_pointer(&hub->current[s], vdc_clipboard_info_unref);
    }
    g_ptr_array_unref(hub->peers);
    g_main_context_unref(hub->context);
    g_free(hub);
}

void vdc_clipboard_hub_set_timeout(VdcClipboardHub *hub, unsigned timeout_ms)
{
    g_return_if_fail(hub != NULL && timeout_ms > 0);
    hub->timeout_ms = timeout_ms;
}

/*
 * Notify every registered peer.  Peers may register, unregister or update
 * from inside their callback: iterate over a snapshot and skip peers that
 * left meanwhile.
 */
static void hub_notify(VdcClipboardHub *hub, const VdcClipboardNotify *notify)
{
    g_autoptr(GPtrArray) snapshot = NULL;
    unsigned i;

    if (hub->peers->len == 0) {
        return;
    }
    snapshot = g_ptr_array_copy(hub->peers, NULL, NULL);
    for (i = 0; i < snapshot->len; i++) {
        VdcClipboardPeer *peer = g_ptr_array_index(snapshot, i);

        /* A peer that left meanwhile may be freed: never touch it. */
        if (!g_ptr_array_find(hub->peers, peer, NULL)) {
            continue;
        }
        /* An update superseded by a nested one: later peers get that one. */
        if (notify->type == VDC_CLIPBOARD_NOTIFY_UPDATE &&
            hub->current[notify->info->selection] != notify->info) {
            break;
        }
        peer->ops->notify(peer, notify);
    }
}

static void hub_notify_update(VdcClipboardHub *hub, VdcClipboardInfo *info,
                              bool new_info)
{
    VdcClipboardNotify n = {
        .type = VDC_CLIPBOARD_NOTIFY_UPDATE, .info = info, .new_info = new_info,
    };

    if (hub->stopped) {
        return;
    }
    vdc_clipboard_info_ref(info);
    hub_notify(hub, &n);
    vdc_clipboard_info_unref(info);
}

VdcClipboardInfo *vdc_clipboard_hub_info(VdcClipboardHub *hub, VdcClipboardSelection sel)
{
    g_return_val_if_fail(hub != NULL, NULL);
    g_return_val_if_fail((unsigned)sel < VDC_CLIPBOARD_SELECTION__COUNT, NULL);
    return hub->current[sel];
}

bool vdc_clipboard_hub_update(VdcClipboardHub *hub, VdcClipboardInfo *info)
{
    VdcClipboardInfo *old;
    unsigned sel, t;

    g_return_val_if_fail(hub != NULL && info != NULL, false);
    g_return_val_if_fail((unsigned)info->selection < VDC_CLIPBOARD_SELECTION__COUNT,
                         false);

    /* CVE-2023-6683: never "available" with no data and nobody to ask. */
    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (info->types[t].available && !info->types[t].data &&
            !(info->owner && info->owner->ops->request)) {
            g_debug("refusing %s update: %s available without data",
                    vdc_clipboard_selection_name(info->selection),
                    vdc_clipboard_type_name(t));
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
    hub->current[sel] = vdc_clipboard_info_ref(info);
    hub_notify_update(hub, info, true);
    vdc_clipboard_info_unref(old);
    return true;
}

static gboolean hub_timer_fired(gpointer opaque)
{
    HubTimer *timer = opaque;
    VdcClipboardHub *hub = timer->hub;
    VdcClipboardInfo *info = hub->current[timer->sel];
    VdcClipboardNotify n = {
        .type = VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT, .info = info,
        .data_type = timer->type,
    };

    g_clear_pointer(&timer->source, g_source_unref);
    if (!info || !info->types[timer->type].requested) {
        return G_SOURCE_REMOVE;
    }
    g_debug("request for %s %s timed out",
            vdc_clipboard_selection_name(timer->sel),
            vdc_clipboard_type_name(timer->type));
    info->types[timer->type].requested = false;
    if (hub->stopped) {
        if (hub->timeout_info[timer->sel] != info) {
            g_clear_pointer(&hub->timeout_info[timer->sel],
                            vdc_clipboard_info_unref);
            hub->timeout_info[timer->sel] = vdc_clipboard_info_ref(info);
            hub->timeout_types[timer->sel] = 0;
        }
        hub->timeout_types[timer->sel] |= 1u << timer->type;
        return G_SOURCE_REMOVE;
    }
    vdc_clipboard_info_ref(info);
    hub_notify(hub, &n);
    vdc_clipboard_info_unref(info);
    return G_SOURCE_REMOVE;
}

bool vdc_clipboard_hub_request(VdcClipboardHub *hub, VdcClipboardInfo *info,
                               VdcClipboardType type)
{
    VdcClipboardContent *c;
    HubTimer *timer;

    g_return_val_if_fail(hub != NULL && info != NULL, false);
    g_return_val_if_fail((unsigned)type < VDC_CLIPBOARD_TYPE__COUNT, false);

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

bool vdc_clipboard_hub_set_data(VdcClipboardHub *hub, VdcClipboardPeer *peer,
                                VdcClipboardInfo *info, VdcClipboardType type,
                                GBytes *data, bool update)
{
    VdcClipboardContent *c;

    g_return_val_if_fail(hub != NULL && info != NULL, false);
    g_return_val_if_fail((unsigned)type < VDC_CLIPBOARD_TYPE__COUNT, false);

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
        return vdc_clipboard_hub_update(hub, info);
    }
    return true;
}

bool vdc_clipboard_hub_check_serial(VdcClipboardHub *hub, const VdcClipboardInfo *info,
                                    bool wins_tie)
{
    const VdcClipboardInfo *cur;

    g_return_val_if_fail(hub != NULL && info != NULL, false);

    cur = hub->current[info->selection];
    if (!info->has_serial || !cur || !cur->has_serial) {
        return true;
    }
    return wins_tie ? info->serial >= cur->serial : info->serial > cur->serial;
}

void vdc_clipboard_hub_reset_serial(VdcClipboardHub *hub)
{
    VdcClipboardNotify n = { .type = VDC_CLIPBOARD_NOTIFY_RESET_SERIAL };
    unsigned s;

    g_return_if_fail(hub != NULL);

    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
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

void vdc_clipboard_hub_set_running(VdcClipboardHub *hub, bool running)
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
        vdc_clipboard_hub_reset_serial(hub);
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT && !hub->stopped; s++) {
        if (hub->current[s]) {
            hub_notify_update(hub, hub->current[s], true);
        }
    }
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT && !hub->stopped; s++) {
        g_autoptr(VdcClipboardInfo) info = g_steal_pointer(&hub->timeout_info[s]);
        unsigned types = hub->timeout_types[s];

        hub->timeout_types[s] = 0;
        for (t = 0; info && t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
            VdcClipboardNotify n = {
                .type = VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT, .info = info,
                .data_type = t,
            };

            if ((types & (1u << t)) && hub->current[s] == info) {
                hub_notify(hub, &n);
            }
        }
    }
}

bool vdc_clipboard_hub_running(const VdcClipboardHub *hub)
{
    return !hub->stopped;
}

/* ---- peers -------------------------------------------------------------- */

bool vdc_clipboard_peer_register(VdcClipboardHub *hub, VdcClipboardPeer *peer)
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

bool vdc_clipboard_peer_registered(const VdcClipboardPeer *peer)
{
    return peer->hub != NULL;
}

bool vdc_clipboard_peer_owns(const VdcClipboardPeer *peer, VdcClipboardSelection sel)
{
    VdcClipboardInfo *info;

    if (!peer->hub || (unsigned)sel >= VDC_CLIPBOARD_SELECTION__COUNT) {
        return false;
    }
    info = peer->hub->current[sel];
    return info && info->owner == peer;
}

static void hub_release(VdcClipboardHub *hub, VdcClipboardPeer *peer,
                        VdcClipboardSelection sel)
{
    VdcClipboardInfo *info = hub->current[sel];

    if (info && info->owner == peer) {
        g_autoptr(VdcClipboardInfo) empty = vdc_clipboard_info_new(NULL, sel);

        vdc_clipboard_hub_update(hub, empty);
    }
}

void vdc_clipboard_peer_release(VdcClipboardPeer *peer, VdcClipboardSelection sel)
{
    g_return_if_fail(peer != NULL);
    g_return_if_fail((unsigned)sel < VDC_CLIPBOARD_SELECTION__COUNT);

    if (peer->hub) {
        hub_release(peer->hub, peer, sel);
    }
}

void vdc_clipboard_peer_unregister(VdcClipboardPeer *peer)
{
    VdcClipboardHub *hub;
    unsigned s;

    g_return_if_fail(peer != NULL);

    hub = peer->hub;
    if (!hub) {
        return;
    }
    /* Leave first, so the peer is not told of its own release (bug P2). */
    g_ptr_array_remove(hub->peers, peer);
    peer->hub = NULL;
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        hub_release(hub, peer, s);
    }
}

void vdc_clipboard_hub_set_live(VdcClipboardHub *hub, void *live)
{
    g_return_if_fail(hub != NULL);
    hub->live = live;
}

void *vdc_clipboard_hub_live(const VdcClipboardHub *hub)
{
    g_return_val_if_fail(hub != NULL, NULL);
    return hub->live;
}
