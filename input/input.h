/*
 * input.h: the protocol-free input router and its display heads.
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
 * Absolute coordinates 0..INPUT_ABS_MAX scale to the head's pixels: 0 is
 * the first pixel, INPUT_ABS_MAX the last (width-1, height-1).
 *
 * No globals: every router is independent.
 */
#ifndef INPUT_H
#define INPUT_H

#include <glib.h>
#include <pixman.h>
#include <stdbool.h>
#include <stdint.h>

#define INPUT_ABS_MIN 0
#define INPUT_ABS_MAX 0x7FFF

/* Most display heads a router holds. */
#define INPUT_MAX_HEADS 16

typedef enum InputEventKind {
    INPUT_EVENT_KIND_BTN,
    INPUT_EVENT_KIND_ABS,
    INPUT_EVENT_KIND__COUNT
} InputEventKind;

#define INPUT_EVENT_MASK_BTN (1u << INPUT_EVENT_KIND_BTN)
#define INPUT_EVENT_MASK_ABS (1u << INPUT_EVENT_KIND_ABS)

typedef enum InputButton {
    INPUT_BUTTON_LEFT,
    INPUT_BUTTON_MIDDLE,
    INPUT_BUTTON_RIGHT,
    INPUT_BUTTON_WHEEL_UP,
    INPUT_BUTTON_WHEEL_DOWN,
    INPUT_BUTTON_SIDE,
    INPUT_BUTTON_EXTRA,
    INPUT_BUTTON__COUNT
} InputButton;

typedef enum InputAxis {
    INPUT_AXIS_X,
    INPUT_AXIS_Y,
    INPUT_AXIS__COUNT
} InputAxis;

typedef struct InputEvent {
    InputEventKind kind;
    unsigned head;                 /* source head */
    union {
        struct {
            InputButton button;
            bool down;
        } btn;
        struct {
            InputAxis axis;
            int32_t value;         /* INPUT_ABS_MIN..INPUT_ABS_MAX */
        } abs;
    };
} InputEvent;

typedef struct InputRouter InputRouter;
typedef struct InputHandlerState InputHandlerState;

typedef struct InputHandler {
    const char *name;
    uint32_t mask;                 /* INPUT_EVENT_MASK_* it takes */
    void (*event)(void *opaque, const InputEvent *evt);
    void (*sync)(void *opaque);    /* optional */
} InputHandler;

typedef struct InputHeadGeometry {
    uint32_t width, height;        /* 0x0: a disabled head */
    int32_t x, y;
} InputHeadGeometry;

/* A router with one 1024x768 head, running. */
InputRouter *input_router_new(void);

/* Free @r.  Every handler must be unregistered first.  NULL is a no-op. */
void input_router_free(InputRouter *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(InputRouter, input_router_free)

/*
 * Register @handler (borrowed, must outlive the registration) with
 * @opaque for its callbacks: inactive, at the tail of the list.
 */
InputHandlerState *input_handler_register(InputRouter *r,
                                          const InputHandler *handler,
                                          void *opaque);
/* Move to the head of the list: the preferred handler for its mask. */
void input_handler_activate(InputHandlerState *s);
/* Move back to the tail. */
void input_handler_deactivate(InputHandlerState *s);
/* Remove and free @s.  NULL is a no-op. */
void input_handler_unregister(InputHandlerState *s);
/* Take only events of head @head (-1: any head, the default). */
void input_handler_bind_head(InputHandlerState *s, int head);
bool input_handler_active(const InputHandlerState *s);

/*
 * Route @evt to its handler.  Returns false when it was dropped: stopped,
 * a head that does not exist, a value out of range, or no handler.
 */
bool input_event_send(InputRouter *r, const InputEvent *evt);
/*
 * Sync every handler that received events since the last sync.  While
 * stopped, nothing is synced (handlers sync after the resume).
 */
void input_event_sync(InputRouter *r);

/* Convenience senders. */
bool input_send_abs(InputRouter *r, unsigned head, InputAxis axis,
                    int32_t value);
bool input_send_btn(InputRouter *r, unsigned head, InputButton button,
                    bool down);

void input_router_set_running(InputRouter *r, bool running);
bool input_router_running(const InputRouter *r);

/* ---- display heads ---- */

/*
 * Replace the heads with @n images (references taken; NULL for a disabled
 * head) at @pos.  Returns false, changing nothing, for n == 0 or
 * n > INPUT_MAX_HEADS.  Watchers are called.
 */
bool input_router_set_heads(InputRouter *r, pixman_image_t *const *images,
                            const InputHeadGeometry *pos, unsigned n);

/*
 * Replace the heads with images of the given geometry made here (a1
 * images: their pixels are never used, only their size).  Returns false,
 * changing nothing, for a bad count or a size over 32767.
 */
bool input_router_set_geometry(InputRouter *r, const InputHeadGeometry *heads,
                               unsigned n);

unsigned input_router_n_heads(const InputRouter *r);
/* Geometry of head @i (its image's size and position). */
bool input_router_head(const InputRouter *r, unsigned i,
                       InputHeadGeometry *out);
/* The image of head @i, borrowed (NULL: disabled or no such head). */
pixman_image_t *input_router_head_image(const InputRouter *r, unsigned i);

/*
 * Scale @value (0..INPUT_ABS_MAX) on @axis to a pixel of a head @size
 * pixels long: 0 -> 0, INPUT_ABS_MAX -> size - 1.
 */
uint32_t input_scale_axis(int32_t value, uint32_t size);

typedef void (*InputHeadsWatch)(void *opaque, InputRouter *r);
/* Call @cb whenever the heads change; returns an id for the unwatch. */
unsigned input_router_watch_heads(InputRouter *r, InputHeadsWatch cb,
                                  void *opaque);
void input_router_unwatch_heads(InputRouter *r, unsigned id);

const char *input_button_name(InputButton button);
bool input_button_from_name(const char *name, InputButton *out);

#endif /* INPUT_H */
