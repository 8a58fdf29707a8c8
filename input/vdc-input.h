/*
 * vdc-input.h: the protocol-free input router and its display heads.
 *
 * Pointer events from the embedding (a VNC server, a UI, a control socket)
 * go to ONE handler each: the first handler in the list whose event mask
 * matches (and that is bound to the event's head, or to no head).
 * Registering puts a handler inactive at the tail; activating moves it to
 * the head of the list (preferred); deactivating moves it back to the
 * tail.  A sync calls the sync callback of every handler that received
 * events since the last sync.  While stopped, events are dropped.
 *
 * Display heads: each head is a pixman image (its size) plus a position.
 * The default is one head of 1024x768.  The embedding may replace the
 * heads at any time with its own framebuffer surfaces; watchers are told.
 * Absolute coordinates 0..VDC_INPUT_ABS_MAX scale to the head's pixels: 0 is
 * the first pixel, VDC_INPUT_ABS_MAX the last (width-1, height-1).
 *
 * No globals: every router is independent.
 */
#ifndef VDC_INPUT_H
#define VDC_INPUT_H

#include <glib.h>
#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#define VDC_INPUT_ABS_MIN 0
#define VDC_INPUT_ABS_MAX 0x7FFF

/* Most display heads a router holds. */
#define VDC_INPUT_MAX_HEADS 16

typedef enum VdcInputEventKind {
    VDC_INPUT_EVENT_KIND_BTN,
    VDC_INPUT_EVENT_KIND_ABS,
    VDC_INPUT_EVENT_KIND__COUNT
} VdcInputEventKind;

#define VDC_INPUT_EVENT_MASK_BTN (1u << VDC_INPUT_EVENT_KIND_BTN)
#define VDC_INPUT_EVENT_MASK_ABS (1u << VDC_INPUT_EVENT_KIND_ABS)

typedef enum VdcInputButton {
    VDC_INPUT_BUTTON_LEFT,
    VDC_INPUT_BUTTON_MIDDLE,
    VDC_INPUT_BUTTON_RIGHT,
    VDC_INPUT_BUTTON_WHEEL_UP,
    VDC_INPUT_BUTTON_WHEEL_DOWN,
    VDC_INPUT_BUTTON_SIDE,
    VDC_INPUT_BUTTON_EXTRA,
    VDC_INPUT_BUTTON__COUNT
} VdcInputButton;

typedef enum VdcInputAxis {
    VDC_INPUT_AXIS_X,
    VDC_INPUT_AXIS_Y,
    VDC_INPUT_AXIS__COUNT
} VdcInputAxis;

typedef struct VdcInputEvent {
    VdcInputEventKind kind;
    unsigned head;                 /* source head */
    union {
        struct {
            VdcInputButton button;
            bool down;
        } btn;
        struct {
            VdcInputAxis axis;
            int32_t value;         /* VDC_INPUT_ABS_MIN..VDC_INPUT_ABS_MAX */
        } abs;
    };
} VdcInputEvent;

typedef struct VdcInputRouter VdcInputRouter;
typedef struct VdcInputHandlerState VdcInputHandlerState;

typedef struct VdcInputHandler {
    const char *name;
    uint32_t mask;                 /* INPUT_EVENT_MASK_* it takes */
    void (*event)(void *opaque, const VdcInputEvent *evt);
    void (*sync)(void *opaque);    /* optional */
} VdcInputHandler;

typedef struct VdcInputHeadGeometry {
    uint32_t width, height;        /* 0x0: a disabled head */
    int32_t x, y;
} VdcInputHeadGeometry;

/* A router with one 1024x768 head, running. */
VdcInputRouter *vdc_input_router_new(void);

/* Free @r.  Every handler must be unregistered first.  NULL is a no-op. */
void vdc_input_router_free(VdcInputRouter *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcInputRouter, vdc_input_router_free)

/*
 * Register @handler (borrowed, must outlive the registration) with
 * @opaque for its callbacks: inactive, at the tail of the list.
 */
VdcInputHandlerState *vdc_input_handler_register(VdcInputRouter *r,
                                                 const VdcInputHandler *handler,
                                                 void *opaque);
/* Move to the head of the list: the preferred handler for its mask. */
void vdc_input_handler_activate(VdcInputHandlerState *s);
/* Move back to the tail. */
void vdc_input_handler_deactivate(VdcInputHandlerState *s);
/* Remove and free @s.  NULL is a no-op. */
void vdc_input_handler_unregister(VdcInputHandlerState *s);
/* Take only events of head @head (-1: any head, the default). */
void vdc_input_handler_bind_head(VdcInputHandlerState *s, int head);
bool vdc_input_handler_active(const VdcInputHandlerState *s);

/*
 * Route @evt to its handler.  Returns false when it was dropped: stopped,
 * a head that does not exist, a value out of range, or no handler.
 */
bool vdc_input_event_send(VdcInputRouter *r, const VdcInputEvent *evt);
/*
 * Sync every handler that received events since the last sync.  While
 * stopped, nothing is synced (handlers sync after the resume).
 */
void vdc_input_event_sync(VdcInputRouter *r);

/* Convenience senders. */
bool vdc_input_send_abs(VdcInputRouter *r, unsigned head, VdcInputAxis axis,
                        int32_t value);
bool vdc_input_send_btn(VdcInputRouter *r, unsigned head, VdcInputButton button,
                        bool down);

void vdc_input_router_set_running(VdcInputRouter *r, bool running);
bool vdc_input_router_running(const VdcInputRouter *r);

/* ---- display heads ---- */

/*
 * Replace the heads with @n images (references taken; NULL for a disabled
 * head) at @pos.  Returns false, changing nothing, for n == 0 or
 * n > VDC_INPUT_MAX_HEADS.  Watchers are called.
 */
bool vdc_input_router_set_heads(VdcInputRouter *r, pixman_image_t *const *images,
                                const VdcInputHeadGeometry *pos, unsigned n);

/*
 * Replace the heads with images of the given geometry made here (a1
 * images: their pixels are never used, only their size).  Returns false,
 * changing nothing, for a bad count or a size over 32767.
 */
bool vdc_input_router_set_geometry(VdcInputRouter *r, const VdcInputHeadGeometry *heads,
                                   unsigned n);

unsigned vdc_input_router_n_heads(const VdcInputRouter *r);
/* Geometry of head @i (its image's size and position). */
bool vdc_input_router_head(const VdcInputRouter *r, unsigned i,
                           VdcInputHeadGeometry *out);
/* The image of head @i, borrowed (NULL: disabled or no such head). */
pixman_image_t *vdc_input_router_head_image(const VdcInputRouter *r, unsigned i);

/*
 * Scale @value (0..VDC_INPUT_ABS_MAX) on @axis to a pixel of a head @size
 * pixels long: 0 -> 0, VDC_INPUT_ABS_MAX -> size - 1.
 */
uint32_t vdc_input_scale_axis(int32_t value, uint32_t size);

typedef void (*VdcInputHeadsWatch)(void *opaque, VdcInputRouter *r);
/* Call @cb whenever the heads change; returns an id for the unwatch. */
unsigned vdc_input_router_watch_heads(VdcInputRouter *r, VdcInputHeadsWatch cb,
                                      void *opaque);
void vdc_input_router_unwatch_heads(VdcInputRouter *r, unsigned id);

const char *vdc_input_button_name(VdcInputButton button);
bool vdc_input_button_from_name(const char *name, VdcInputButton *out);

#endif /* VDC_INPUT_H */
