/*
 * input.c: the input router and display heads.  See vdc-input.h.
 */
#define G_LOG_DOMAIN "input"

#include "input/vdc-input.h"

#include <string.h>

struct VdcInputHandlerState {
    VdcInputRouter *router;
    const VdcInputHandler *handler;
    void *opaque;
    GList link;                    /* in router->handlers */
    int head;                      /* bound head, -1: any */
    unsigned events;               /* since the last sync */
    bool active;
    bool dead;                     /* unregistered while dispatching */
};

typedef struct HeadsWatcher {
    unsigned id;
    VdcInputHeadsWatch cb;
    void *opaque;
} HeadsWatcher;

struct VdcInputRouter {
    GQueue handlers;               /* VdcInputHandlerState, preferred first */
    bool stopped;
    unsigned busy;                 /* dispatch depth */
    GPtrArray *graveyard;          /* states freed when busy drops to 0 */
    GPtrArray *due;                /* sync's scratch list, reused */

    pixman_image_t *images[VDC_INPUT_MAX_HEADS];
    VdcInputHeadGeometry pos[VDC_INPUT_MAX_HEADS];
    unsigned n_heads;

    GArray *watchers;              /* HeadsWatcher */
    unsigned next_watch_id;
};

static const char *const button_names[VDC_INPUT_BUTTON__COUNT] = {
    [VDC_INPUT_BUTTON_LEFT] = "left",
    [VDC_INPUT_BUTTON_MIDDLE] = "middle",
    [VDC_INPUT_BUTTON_RIGHT] = "right",
    [VDC_INPUT_BUTTON_WHEEL_UP] = "wheel-up",
    [VDC_INPUT_BUTTON_WHEEL_DOWN] = "wheel-down",
    [VDC_INPUT_BUTTON_SIDE] = "side",
    [VDC_INPUT_BUTTON_EXTRA] = "extra",
};

const char *vdc_input_button_name(VdcInputButton button)
{
    return (unsigned)button < VDC_INPUT_BUTTON__COUNT ? button_names[button]
                                                  : "unknown";
}

bool vdc_input_button_from_name(const char *name, VdcInputButton *out)
{
    unsigned i;

    for (i = 0; name && i < VDC_INPUT_BUTTON__COUNT; i++) {
        if (strcmp(button_names[i], name) == 0) {
            *out = i;
            return true;
        }
    }
    return false;
}

VdcInputRouter *vdc_input_router_new(void)
{
    VdcInputRouter *r = g_new0(VdcInputRouter, 1);
    const VdcInputHeadGeometry def = { .width = 1024, .height = 768 };

    g_queue_init(&r->handlers);
    r->graveyard = g_ptr_array_new_with_free_func(g_free);
    r->due = g_ptr_array_new();
    r->watchers = g_array_new(FALSE, FALSE, sizeof(HeadsWatcher));
    r->next_watch_id = 1;
    vdc_input_router_set_geometry(r, &def, 1);
    return r;
}

static void heads_clear(VdcInputRouter *r)
{
    unsigned i;

    for (i = 0; i < r->n_heads; i++) {
        if (r->images[i]) {
            pixman_image_unref(r->images[i]);
            r->images[i] = NULL;
        }
    }
    r->n_heads = 0;
}

void vdc_input_router_free(VdcInputRouter *r)
{
    if (!r) {
        return;
    }
    if (r->handlers.length > 0) {
        g_critical("input router freed with %u handlers registered",
                   r->handlers.length);
        while (r->handlers.head) {
            vdc_input_handler_unregister(r->handlers.head->data);
        }
    }
    heads_clear(r);
    g_ptr_array_unref(r->graveyard);
    g_ptr_array_unref(r->due);
    g_array_unref(r->watchers);
    g_free(r);
}

/* ---- handlers ------------------------------------------------------------ */

VdcInputHandlerState *vdc_input_handler_register(VdcInputRouter *r,
                                                 const VdcInputHandler *handler,
                                                 void *opaque)
{
    VdcInputHandlerState *s;

    g_return_val_if_fail(r != NULL && handler != NULL, NULL);
    g_return_val_if_fail(handler->event != NULL, NULL);

    s = g_new0(VdcInputHandlerState, 1);
    s->router = r;
    s->handler = handler;
    s->opaque = opaque;
    s->head = -1;
    s->link.data = s;
    g_queue_push_tail_link(&r->handlers, &s->link);
    return s;
}

void vdc_input_handler_activate(VdcInputHandlerState *s)
{
    g_return_if_fail(s != NULL && !s->dead);

    g_queue_unlink(&s->router->handlers, &s->link);
    g_queue_push_head_link(&s->router->handlers, &s->link);
    s->active = true;
}

void vdc_input_handler_deactivate(VdcInputHandlerState *s)
{
    g_return_if_fail(s != NULL && !s->dead);

    g_queue_unlink(&s->router->handlers, &s->link);
    g_queue_push_tail_link(&s->router->handlers, &s->link);
    s->active = false;
}

void vdc_input_handler_unregister(VdcInputHandlerState *s)
{
    VdcInputRouter *r;

    if (!s) {
        return;
    }
    g_return_if_fail(!s->dead);
    r = s->router;
    g_queue_unlink(&r->handlers, &s->link);
    s->dead = true;
    if (r->busy) {
        /* A dispatch may still hold @s in its snapshot. */
        g_ptr_array_add(r->graveyard, s);
    } else {
        g_free(s);
    }
}

void vdc_input_handler_bind_head(VdcInputHandlerState *s, int head)
{
    g_return_if_fail(s != NULL && head >= -1);
    s->head = head;
}

bool vdc_input_handler_active(const VdcInputHandlerState *s)
{
    return s->active;
}

static void router_leave(VdcInputRouter *r)
{
    if (--r->busy == 0) {
        g_ptr_array_set_size(r->graveyard, 0);
    }
}

static VdcInputHandlerState *router_find(VdcInputRouter *r, const VdcInputEvent *evt)
{
    uint32_t bit = 1u << evt->kind;
    GList *l;

    /* A handler bound to the event's head first, as QEMU does ... */
    for (l = r->handlers.head; l; l = l->next) {
        VdcInputHandlerState *s = l->data;

        if ((s->handler->mask & bit) && s->head == (int)evt->head) {
            return s;
        }
    }
    /* ... else the first unbound one. */
    for (l = r->handlers.head; l; l = l->next) {
        VdcInputHandlerState *s = l->data;

        if ((s->handler->mask & bit) && s->head == -1) {
            return s;
        }
    }
    return NULL;
}

bool vdc_input_event_send(VdcInputRouter *r, const VdcInputEvent *evt)
{
    VdcInputHandlerState *s;

    g_return_val_if_fail(r != NULL && evt != NULL, false);

    if (r->stopped || evt->head >= r->n_heads ||
        (unsigned)evt->kind >= VDC_INPUT_EVENT_KIND__COUNT) {
        return false;
    }
    if (evt->kind == VDC_INPUT_EVENT_KIND_ABS &&
        (evt->abs.value < VDC_INPUT_ABS_MIN || evt->abs.value > VDC_INPUT_ABS_MAX ||
         (unsigned)evt->abs.axis >= VDC_INPUT_AXIS__COUNT)) {
        return false;
    }
    if (evt->kind == VDC_INPUT_EVENT_KIND_BTN &&
        (unsigned)evt->btn.button >= VDC_INPUT_BUTTON__COUNT) {
        return false;
    }
    s = router_find(r, evt);
    if (!s) {
        return false;
    }
    s->events++;
    r->busy++;
    s->handler->event(s->opaque, evt);
    router_leave(r);
    return true;
}

void vdc_input_event_sync(VdcInputRouter *r)
{
    g_autoptr(GPtrArray) nested = NULL;
    GPtrArray *due;
    GList *l;
    unsigned i;

    g_return_if_fail(r != NULL);

    /* The hot path reuses one list; a sync from inside a sync gets its own. */
    if (r->busy) {
        due = nested = g_ptr_array_new();
    } else {
        due = r->due;
        g_ptr_array_set_size(due, 0);
    }

    if (r->stopped) {
        /* As events are: the pending ones sync after the resume. */
        return;
    }
    for (l = r->handlers.head; l; l = l->next) {
        VdcInputHandlerState *s = l->data;

        if (s->events) {
            s->events = 0;
            g_ptr_array_add(due, s);
        }
    }
    r->busy++;
    for (i = 0; i < due->len; i++) {
        VdcInputHandlerState *s = g_ptr_array_index(due, i);

        if (!s->dead && s->handler->sync) {
            s->handler->sync(s->opaque);
        }
    }
    router_leave(r);
}

bool vdc_input_send_abs(VdcInputRouter *r, unsigned head, VdcInputAxis axis,
                        int32_t value)
{
    VdcInputEvent evt = { .kind = VDC_INPUT_EVENT_KIND_ABS, .head = head };

    evt.abs.axis = axis;
    evt.abs.value = value;
    return vdc_input_event_send(r, &evt);
}

bool vdc_input_send_btn(VdcInputRouter *r, unsigned head, VdcInputButton button,
                        bool down)
{
    VdcInputEvent evt = { .kind = VDC_INPUT_EVENT_KIND_BTN, .head = head };

    evt.btn.button = button;
    evt.btn.down = down;
    return vdc_input_event_send(r, &evt);
}

void vdc_input_router_set_running(VdcInputRouter *r, bool running)
{
    g_return_if_fail(r != NULL);
    r->stopped = !running;
}

bool vdc_input_router_running(const VdcInputRouter *r)
{
    return !r->stopped;
}

/* ---- heads ---------------------------------------------------------------- */

uint32_t vdc_input_scale_axis(int32_t value, uint32_t size)
{
    if (size == 0 || value <= VDC_INPUT_ABS_MIN) {
        return 0;
    }
    if (value >= VDC_INPUT_ABS_MAX) {
        return size - 1;
    }
    return (uint32_t)(((uint64_t)value * (size - 1)) / VDC_INPUT_ABS_MAX);
}

static HeadsWatcher *watcher_find(VdcInputRouter *r, unsigned id)
{
    unsigned i;

    for (i = 0; i < r->watchers->len; i++) {
        HeadsWatcher *w = &g_array_index(r->watchers, HeadsWatcher, i);

        if (w->id == id) {
            return w;
        }
    }
    return NULL;
}

static void heads_changed(VdcInputRouter *r)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(unsigned));
    unsigned i;

    /*
     * A watcher may unwatch itself or others (an embedding freeing a
     * device from its own watcher): call only those still watching.
     */
    for (i = 0; i < r->watchers->len; i++) {
        g_array_append_val(ids, g_array_index(r->watchers, HeadsWatcher, i).id);
    }
    for (i = 0; i < ids->len; i++) {
        HeadsWatcher *w = watcher_find(r, g_array_index(ids, unsigned, i));

        if (w) {
            HeadsWatcher call = *w;

            call.cb(call.opaque, r);
        }
    }
}

bool vdc_input_router_set_heads(VdcInputRouter *r, pixman_image_t *const *images,
                                const VdcInputHeadGeometry *pos, unsigned n)
{
    unsigned i;

    g_return_val_if_fail(r != NULL && pos != NULL, false);

    if (n == 0 || n > VDC_INPUT_MAX_HEADS) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (images[i]) {
            pixman_image_ref(images[i]);
        }
    }
    heads_clear(r);
    for (i = 0; i < n; i++) {
        r->images[i] = images[i];
        r->pos[i].x = pos[i].x;
        r->pos[i].y = pos[i].y;
        r->pos[i].width = images[i] ? pixman_image_get_width(images[i]) : 0;
        r->pos[i].height = images[i] ? pixman_image_get_height(images[i]) : 0;
    }
    r->n_heads = n;
    heads_changed(r);
    return true;
}

bool vdc_input_router_set_geometry(VdcInputRouter *r, const VdcInputHeadGeometry *heads,
                                   unsigned n)
{
    pixman_image_t *images[VDC_INPUT_MAX_HEADS] = { NULL };
    unsigned i;
    bool ok;

    g_return_val_if_fail(r != NULL && heads != NULL, false);

    if (n == 0 || n > VDC_INPUT_MAX_HEADS) {
        return false;
    }
    for (i = 0; i < n; i++) {
        if (heads[i].width > VDC_INPUT_ABS_MAX || heads[i].height > VDC_INPUT_ABS_MAX ||
            (heads[i].width == 0) != (heads[i].height == 0)) {
            return false;
        }
    }
    for (i = 0; i < n; i++) {
        if (heads[i].width) {
            images[i] = pixman_image_create_bits(PIXMAN_a1, heads[i].width,
                                                 heads[i].height, NULL, 0);
        }
    }
    ok = vdc_input_router_set_heads(r, images, heads, n);
    for (i = 0; i < n; i++) {
        if (images[i]) {
            pixman_image_unref(images[i]);
        }
    }
    return ok;
}

unsigned vdc_input_router_n_heads(const VdcInputRouter *r)
{
    return r->n_heads;
}

bool vdc_input_router_head(const VdcInputRouter *r, unsigned i,
                           VdcInputHeadGeometry *out)
{
    if (i >= r->n_heads) {
        return false;
    }
    *out = r->pos[i];
    return true;
}

pixman_image_t *vdc_input_router_head_image(const VdcInputRouter *r, unsigned i)
{
    return i < r->n_heads ? r->images[i] : NULL;
}

unsigned vdc_input_router_watch_heads(VdcInputRouter *r, VdcInputHeadsWatch cb,
                                      void *opaque)
{
    HeadsWatcher w = { .id = r->next_watch_id++, .cb = cb, .opaque = opaque };

    g_return_val_if_fail(cb != NULL, 0);
    g_array_append_val(r->watchers, w);
    return w.id;
}

void vdc_input_router_unwatch_heads(VdcInputRouter *r, unsigned id)
{
    HeadsWatcher *w = watcher_find(r, id);

    if (w) {
        g_array_remove_index(r->watchers, w - &g_array_index(r->watchers,
                                                             HeadsWatcher, 0));
    }
}
