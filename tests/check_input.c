/*
 * check_input.c: the protocol-free input router (handlers, routing, sync,
 * stop/resume) and its display heads (geometry, pixman images, watchers).
 *
 * Handlers here are recorders: each counts its events and syncs and keeps
 * the last event, and may be told to unregister a handler from inside one
 * of its callbacks.
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "input/vdc-input.h"

Suite *input_suite(void);

/* ---- a recording handler ------------------------------------------------- */

typedef enum RecKill {
    KILL_NONE,
    KILL_ON_EVENT,      /* unregister @victim from inside the next event */
    KILL_ON_SYNC,       /* ... from inside the next sync */
} RecKill;

typedef struct Rec {
    VdcInputHandler h;                /* borrowed by the router: lives here */
    char name;                     /* 'a', 'b', ... */
    VdcInputHandlerState *hs;         /* NULL once unregistered */
    unsigned events, syncs;
    VdcInputEvent last;
    RecKill kill;
    struct Rec *victim;
    GString *log;                  /* shared: names of receivers, in order */
} Rec;

static void rec_kill(Rec *r)
{
    Rec *v = r->victim;

    r->kill = KILL_NONE;
    vdc_input_handler_unregister(v->hs);
    v->hs = NULL;
}

static void rec_event(void *opaque, const VdcInputEvent *evt)
{
    Rec *r = opaque;

    /* Called after being unregistered: a use of a dead registration. */
    ck_assert_ptr_nonnull(r->hs);
    r->events++;
    r->last = *evt;
    if (r->log) {
        g_string_append_c(r->log, r->name);
    }
    if (r->kill == KILL_ON_EVENT) {
        rec_kill(r);
    }
}

static void rec_sync(void *opaque)
{
    Rec *r = opaque;

    ck_assert_ptr_nonnull(r->hs);
    r->syncs++;
    if (r->kill == KILL_ON_SYNC) {
        rec_kill(r);
    }
}

static void rec_init(Rec *r, char name, uint32_t mask)
{
    memset(r, 0, sizeof(*r));
    r->name = name;
    r->h.name = "rec";
    r->h.mask = mask;
    r->h.event = rec_event;
    r->h.sync = rec_sync;
}

static void rec_register(Rec *r, VdcInputRouter *router)
{
    r->hs = vdc_input_handler_register(router, &r->h, r);
    ck_assert_ptr_nonnull(r->hs);
}

static void rec_unregister(Rec *r)
{
    vdc_input_handler_unregister(r->hs);
    r->hs = NULL;
}

#define MASK_ALL (VDC_INPUT_EVENT_MASK_BTN | VDC_INPUT_EVENT_MASK_ABS)

/* ---- handler order --------------------------------------------------------- */

/*
 * Operations on handlers a, b, c (all masks): "+x" register, "^x" activate,
 * "vx" deactivate, "-x" unregister.  @order is the list afterwards, read
 * by sending an event, noting who took it, unregistering that one, and
 * again until nobody takes it.
 */
static const struct {
    const char *ops;
    const char *order;
} order_cases[] = {
    { "", "" },
    { "+a", "a" },
    { "+a+b+c", "abc" },                 /* registered at the tail */
    { "+a+b+c^c", "cab" },               /* activated to the head */
    { "+a+b+c^b^c", "cba" },
    { "+a+b+c^a^b^c", "cba" },
    { "+a+b+c^c^a", "acb" },
    { "+a+b+c^cvc", "abc" },             /* deactivated back to the tail */
    { "+a+b+c^c^bvc", "bac" },
    { "+a+b+c^avb", "acb" },
    { "+a+b+cva", "bca" },               /* an inactive one moves too */
    { "+a^a+b", "ab" },                  /* the newcomer goes behind */
    { "+a+b^b+c^a", "abc" },
    { "+a+b^a^a", "ab" },                /* twice: still listed once */
    { "+a+bvbvb", "ab" },
    { "+a+b+c-b", "ac" },
    { "+a+b+c^c-c", "ab" },
    { "+a-a", "" },
    { "+a+b-a+a", "ba" },                /* registered again: at the tail */
    { "+a+b+c^c-a^b-c", "b" },
};

START_TEST(test_handler_order)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    g_autoptr(GString) log = g_string_new(NULL);
    Rec rec[3];
    const char *p;
    unsigned i;

    for (i = 0; i < 3; i++) {
        rec_init(&rec[i], 'a' + i, MASK_ALL);
        rec[i].log = log;
    }
    for (p = order_cases[_i].ops; *p; p += 2) {
        Rec *r = &rec[p[1] - 'a'];

        switch (p[0]) {
        case '+':
            rec_register(r, router);
            ck_assert(!vdc_input_handler_active(r->hs));
            break;
        case '^':
            vdc_input_handler_activate(r->hs);
            ck_assert(vdc_input_handler_active(r->hs));
            break;
        case 'v':
            vdc_input_handler_deactivate(r->hs);
            ck_assert(!vdc_input_handler_active(r->hs));
            break;
        case '-':
            rec_unregister(r);
            break;
        default:
            ck_abort_msg("bad op %c", p[0]);
        }
    }
    /* Read the list from the front, taking each receiver out. */
    for (i = 0; i < 4; i++) {
        size_t before = log->len;
        bool ok = vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 0);

        if (!ok) {
            ck_assert_uint_eq(log->len, before);
            break;
        }
        ck_assert_uint_eq(log->len, before + 1);
        rec_unregister(&rec[log->str[before] - 'a']);
    }
    ck_assert_str_eq(log->str, order_cases[_i].order);
    for (i = 0; i < 3; i++) {
        ck_assert_ptr_null(rec[i].hs);
    }
}
END_TEST

/* ---- mask matching ----------------------------------------------------------- */

/*
 * Handler a (mask @a) registered and activated after b (mask @b): who gets
 * a BTN and who an ABS event ('-': dropped).
 */
static const struct {
    uint32_t a, b;
    char btn, abs;
} mask_cases[] = {
    { VDC_INPUT_EVENT_MASK_BTN, MASK_ALL, 'a', 'b' },
    { VDC_INPUT_EVENT_MASK_ABS, MASK_ALL, 'b', 'a' },
    { VDC_INPUT_EVENT_MASK_BTN, VDC_INPUT_EVENT_MASK_ABS, 'a', 'b' },
    { VDC_INPUT_EVENT_MASK_BTN, VDC_INPUT_EVENT_MASK_BTN, 'a', '-' },
    { VDC_INPUT_EVENT_MASK_ABS, VDC_INPUT_EVENT_MASK_ABS, '-', 'a' },
    { MASK_ALL, MASK_ALL, 'a', 'a' },
    { 0, MASK_ALL, 'b', 'b' },
    { 0, VDC_INPUT_EVENT_MASK_BTN, 'b', '-' },
    { 0, 0, '-', '-' },
};

START_TEST(test_mask_matching)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    g_autoptr(GString) log = g_string_new(NULL);
    Rec a, b;
    char got;

    rec_init(&a, 'a', mask_cases[_i].a);
    rec_init(&b, 'b', mask_cases[_i].b);
    a.log = b.log = log;
    rec_register(&b, router);
    rec_register(&a, router);
    vdc_input_handler_activate(a.hs);

    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true) ==
              (mask_cases[_i].btn != '-'));
    got = log->len ? log->str[log->len - 1] : '-';
    ck_assert_int_eq(got, mask_cases[_i].btn);
    g_string_truncate(log, 0);

    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_Y, 7) ==
              (mask_cases[_i].abs != '-'));
    got = log->len ? log->str[log->len - 1] : '-';
    ck_assert_int_eq(got, mask_cases[_i].abs);
    ck_assert_uint_eq(a.events + b.events,
                      (mask_cases[_i].btn != '-') + (mask_cases[_i].abs != '-'));
    rec_unregister(&a);
    rec_unregister(&b);
}
END_TEST

/* The event arrives as sent. */
START_TEST(test_event_delivered_as_sent)
{
    static const VdcInputHeadGeometry two[2] = {
        { .width = 640, .height = 480 },
        { .width = 640, .height = 480, .x = 640 },
    };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec a;

    ck_assert(vdc_input_router_set_geometry(router, two, 2));
    rec_init(&a, 'a', MASK_ALL);
    rec_register(&a, router);

    ck_assert(vdc_input_send_abs(router, 1, VDC_INPUT_AXIS_Y, 0x1234));
    ck_assert_int_eq(a.last.kind, VDC_INPUT_EVENT_KIND_ABS);
    ck_assert_uint_eq(a.last.head, 1);
    ck_assert_int_eq(a.last.abs.axis, VDC_INPUT_AXIS_Y);
    ck_assert_int_eq(a.last.abs.value, 0x1234);

    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_EXTRA, true));
    ck_assert_int_eq(a.last.kind, VDC_INPUT_EVENT_KIND_BTN);
    ck_assert_uint_eq(a.last.head, 0);
    ck_assert_int_eq(a.last.btn.button, VDC_INPUT_BUTTON_EXTRA);
    ck_assert(a.last.btn.down);

    ck_assert(vdc_input_send_btn(router, 1, VDC_INPUT_BUTTON_MIDDLE, false));
    ck_assert_uint_eq(a.last.head, 1);
    ck_assert_int_eq(a.last.btn.button, VDC_INPUT_BUTTON_MIDDLE);
    ck_assert(!a.last.btn.down);
    ck_assert_uint_eq(a.events, 3);
    rec_unregister(&a);
}
END_TEST

/* ---- head binding ------------------------------------------------------------- */

START_TEST(test_bound_head_first)
{
    static const VdcInputHeadGeometry three[3] = {
        { .width = 1024, .height = 768 },
        { .width = 800, .height = 600, .x = 1024 },
        { .width = 640, .height = 480, .x = 1824 },
    };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec u, b1, b1btn;

    ck_assert(vdc_input_router_set_geometry(router, three, 3));
    rec_init(&u, 'u', MASK_ALL);
    rec_init(&b1, '1', MASK_ALL);
    rec_init(&b1btn, 'B', VDC_INPUT_EVENT_MASK_BTN);
    rec_register(&b1, router);
    vdc_input_handler_bind_head(b1.hs, 1);
    rec_register(&u, router);
    vdc_input_handler_activate(u.hs);          /* unbound, at the head */

    /* head 1: the bound handler, although it is behind */
    ck_assert(vdc_input_send_abs(router, 1, VDC_INPUT_AXIS_X, 5));
    ck_assert_uint_eq(b1.events, 1);
    ck_assert_uint_eq(u.events, 0);
    ck_assert_uint_eq(b1.last.head, 1);
    /* heads 0 and 2: never the handler bound to head 1 */
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 5));
    ck_assert(vdc_input_send_btn(router, 2, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert_uint_eq(b1.events, 1);
    ck_assert_uint_eq(u.events, 2);

    /* a bound handler whose mask does not match: the unbound one */
    rec_register(&b1btn, router);
    vdc_input_handler_bind_head(b1btn.hs, 1);
    rec_unregister(&b1);
    ck_assert(vdc_input_send_abs(router, 1, VDC_INPUT_AXIS_Y, 5));
    ck_assert_uint_eq(u.events, 3);
    ck_assert_uint_eq(b1btn.events, 0);
    ck_assert(vdc_input_send_btn(router, 1, VDC_INPUT_BUTTON_LEFT, false));
    ck_assert_uint_eq(b1btn.events, 1);
    ck_assert_uint_eq(u.events, 3);

    /* only bound handlers left: other heads' events are dropped */
    rec_unregister(&u);
    ck_assert(!vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert(!vdc_input_send_btn(router, 2, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert_uint_eq(b1btn.events, 1);

    /* unbound again (-1): any head */
    vdc_input_handler_bind_head(b1btn.hs, -1);
    ck_assert(vdc_input_send_btn(router, 2, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert_uint_eq(b1btn.events, 2);
    ck_assert_uint_eq(b1btn.last.head, 2);
    rec_unregister(&b1btn);
}
END_TEST

/* Two handlers bound to the same head: list order among them. */
START_TEST(test_bound_head_order)
{
    static const VdcInputHeadGeometry two[2] = {
        { .width = 1024, .height = 768 },
        { .width = 800, .height = 600, .x = 1024 },
    };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec a, b;

    ck_assert(vdc_input_router_set_geometry(router, two, 2));
    rec_init(&a, 'a', MASK_ALL);
    rec_init(&b, 'b', MASK_ALL);
    rec_register(&a, router);
    rec_register(&b, router);
    vdc_input_handler_bind_head(a.hs, 1);
    vdc_input_handler_bind_head(b.hs, 1);
    ck_assert(vdc_input_send_abs(router, 1, VDC_INPUT_AXIS_X, 1));
    ck_assert_uint_eq(a.events, 1);
    vdc_input_handler_activate(b.hs);
    ck_assert(vdc_input_send_abs(router, 1, VDC_INPUT_AXIS_X, 1));
    ck_assert_uint_eq(a.events, 1);
    ck_assert_uint_eq(b.events, 1);
    ck_assert(!vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 1));
    rec_unregister(&a);
    rec_unregister(&b);
}
END_TEST

/* ---- sync ------------------------------------------------------------------ */

START_TEST(test_sync_receivers_only)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec btn, abs, all;

    rec_init(&btn, 'b', VDC_INPUT_EVENT_MASK_BTN);
    rec_init(&abs, 'a', VDC_INPUT_EVENT_MASK_ABS);
    rec_init(&all, 'c', MASK_ALL);
    rec_register(&all, router);
    rec_register(&btn, router);
    rec_register(&abs, router);
    vdc_input_handler_activate(btn.hs);
    vdc_input_handler_activate(abs.hs);

    /* nobody received anything: nobody synced */
    vdc_input_event_sync(router);
    ck_assert_uint_eq(btn.syncs + abs.syncs + all.syncs, 0);

    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(btn.syncs, 1);
    ck_assert_uint_eq(abs.syncs, 0);
    ck_assert_uint_eq(all.syncs, 0);

    /* not twice for the same events */
    vdc_input_event_sync(router);
    ck_assert_uint_eq(btn.syncs, 1);

    /* once per sync, however many events */
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, false));
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_RIGHT, true));
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 1));
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_Y, 2));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(btn.syncs, 2);
    ck_assert_uint_eq(abs.syncs, 1);
    ck_assert_uint_eq(all.syncs, 0);
    vdc_input_event_sync(router);
    ck_assert_uint_eq(btn.syncs, 2);
    ck_assert_uint_eq(abs.syncs, 1);

    /* the third one gets ABS once the ABS handler is gone */
    rec_unregister(&abs);
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 3));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(all.syncs, 1);
    ck_assert_uint_eq(btn.syncs, 2);
    ck_assert_uint_eq(btn.events, 3);
    ck_assert_uint_eq(abs.events, 2);
    ck_assert_uint_eq(all.events, 1);
    rec_unregister(&btn);
    rec_unregister(&all);
}
END_TEST

/* A handler without a sync callback receives events; sync skips it. */
START_TEST(test_sync_optional)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec a, b;

    rec_init(&a, 'a', VDC_INPUT_EVENT_MASK_BTN);
    rec_init(&b, 'b', VDC_INPUT_EVENT_MASK_ABS);
    a.h.sync = NULL;
    rec_register(&a, router);
    rec_register(&b, router);
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 1));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(a.events, 1);
    ck_assert_uint_eq(a.syncs, 0);
    ck_assert_uint_eq(b.syncs, 1);
    rec_unregister(&a);
    rec_unregister(&b);
}
END_TEST

/* ---- stop / resume ---------------------------------------------------------- */

START_TEST(test_stopped_drops)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec a;

    rec_init(&a, 'a', MASK_ALL);
    rec_register(&a, router);
    ck_assert(vdc_input_router_running(router));

    vdc_input_router_set_running(router, false);
    ck_assert(!vdc_input_router_running(router));
    ck_assert(!vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 10));
    ck_assert(!vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(a.events, 0);
    ck_assert_uint_eq(a.syncs, 0);

    /* resumed: the dropped events are not owed a sync; new ones flow */
    vdc_input_router_set_running(router, true);
    ck_assert(vdc_input_router_running(router));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(a.syncs, 0);
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 10));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(a.events, 1);
    ck_assert_uint_eq(a.syncs, 1);
    rec_unregister(&a);
}
END_TEST

/* ---- invalid events ---------------------------------------------------------- */

static const struct {
    const char *what;
    VdcInputEvent evt;
    bool ok;
} event_cases[] = {
    { "abs 0", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                 .abs = { VDC_INPUT_AXIS_X, 0 } }, true },
    { "abs max", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                   .abs = { VDC_INPUT_AXIS_Y, 0x7FFF } }, true },
    { "abs -1", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                  .abs = { VDC_INPUT_AXIS_X, -1 } }, false },
    { "abs max+1", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                     .abs = { VDC_INPUT_AXIS_Y, 0x8000 } }, false },
    { "abs int32 min", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                         .abs = { VDC_INPUT_AXIS_X, INT32_MIN } }, false },
    { "abs int32 max", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                         .abs = { VDC_INPUT_AXIS_X, INT32_MAX } }, false },
    { "axis count", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                      .abs = { VDC_INPUT_AXIS__COUNT, 1 } }, false },
    { "axis -1", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                   .abs = { (VdcInputAxis)-1, 1 } }, false },
    { "axis 1000", { .kind = VDC_INPUT_EVENT_KIND_ABS,
                     .abs = { (VdcInputAxis)1000, 1 } }, false },
    { "button extra", { .kind = VDC_INPUT_EVENT_KIND_BTN,
                        .btn = { VDC_INPUT_BUTTON_EXTRA, true } }, true },
    { "button count", { .kind = VDC_INPUT_EVENT_KIND_BTN,
                        .btn = { VDC_INPUT_BUTTON__COUNT, true } }, false },
    { "button -1", { .kind = VDC_INPUT_EVENT_KIND_BTN,
                     .btn = { (VdcInputButton)-1, false } }, false },
    { "button 255", { .kind = VDC_INPUT_EVENT_KIND_BTN,
                      .btn = { (VdcInputButton)255, true } }, false },
    { "kind count", { .kind = VDC_INPUT_EVENT_KIND__COUNT }, false },
    { "kind 31", { .kind = (VdcInputEventKind)31 }, false },
    { "kind -1", { .kind = (VdcInputEventKind)-1 }, false },
    { "head 1 of 2", { .kind = VDC_INPUT_EVENT_KIND_BTN, .head = 1,
                       .btn = { VDC_INPUT_BUTTON_LEFT, true } }, true },
    { "head 2 of 2", { .kind = VDC_INPUT_EVENT_KIND_BTN, .head = 2,
                       .btn = { VDC_INPUT_BUTTON_LEFT, true } }, false },
    { "head 16", { .kind = VDC_INPUT_EVENT_KIND_ABS, .head = 16,
                   .abs = { VDC_INPUT_AXIS_X, 1 } }, false },
    { "head uint max", { .kind = VDC_INPUT_EVENT_KIND_ABS, .head = UINT32_MAX,
                         .abs = { VDC_INPUT_AXIS_X, 1 } }, false },
};

START_TEST(test_invalid_events_dropped)
{
    static const VdcInputHeadGeometry two[2] = {
        { .width = 1024, .height = 768 },
        { .width = 800, .height = 600, .x = 1024 },
    };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec a;
    bool ok;

    ck_assert(vdc_input_router_set_geometry(router, two, 2));
    rec_init(&a, 'a', MASK_ALL | 0xFFFFFFFCu);   /* takes every kind bit */
    rec_register(&a, router);
    vdc_input_handler_activate(a.hs);

    ok = vdc_input_event_send(router, &event_cases[_i].evt);
    ck_assert_msg(ok == event_cases[_i].ok, "%s", event_cases[_i].what);
    ck_assert_uint_eq(a.events, event_cases[_i].ok);
    vdc_input_event_sync(router);
    ck_assert_uint_eq(a.syncs, event_cases[_i].ok);
    rec_unregister(&a);
}
END_TEST

/* The default router has one head: head 1 does not exist. */
START_TEST(test_missing_head_default)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec a;

    rec_init(&a, 'a', MASK_ALL);
    rec_register(&a, router);
    ck_assert(!vdc_input_send_abs(router, 1, VDC_INPUT_AXIS_X, 0));
    ck_assert(!vdc_input_send_btn(router, 1, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert_uint_eq(a.events, 1);
    rec_unregister(&a);
}
END_TEST

/* ---- unregistering from inside a callback ------------------------------------ */

/*
 * a takes BTN and is ahead of b, which takes ABS.  The script: BTN, ABS,
 * sync, BTN, ABS, sync.  @killer unregisters @victim from inside its first
 * event or sync.  Afterwards: the sends' results and each one's counts.
 */
static const struct {
    char killer;
    RecKill when;
    char victim;
    const char *sent;           /* '1' delivered, '0' dropped */
    unsigned a_events, a_syncs, b_events, b_syncs;
} kill_cases[] = {
    { 'a', KILL_ON_EVENT, 'a', "1101", 1, 0, 2, 2 },
    { 'a', KILL_ON_EVENT, 'b', "1010", 2, 2, 0, 0 },
    { 'a', KILL_ON_SYNC, 'a', "1101", 1, 1, 2, 2 },
    { 'a', KILL_ON_SYNC, 'b', "1110", 2, 2, 1, 0 },
    { 'b', KILL_ON_EVENT, 'a', "1101", 1, 0, 2, 2 },
    { 'b', KILL_ON_EVENT, 'b', "1110", 2, 2, 1, 0 },
    { 'b', KILL_ON_SYNC, 'a', "1101", 1, 1, 2, 2 },
    { 'b', KILL_ON_SYNC, 'b', "1110", 2, 2, 1, 1 },
};

START_TEST(test_unregister_inside_callback)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    char sent[5] = { 0 };
    Rec rec[2], *killer;

    rec_init(&rec[0], 'a', VDC_INPUT_EVENT_MASK_BTN);
    rec_init(&rec[1], 'b', VDC_INPUT_EVENT_MASK_ABS);
    rec_register(&rec[0], router);
    rec_register(&rec[1], router);
    killer = &rec[kill_cases[_i].killer - 'a'];
    killer->kill = kill_cases[_i].when;
    killer->victim = &rec[kill_cases[_i].victim - 'a'];

    sent[0] = '0' + vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true);
    sent[1] = '0' + vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 1);
    vdc_input_event_sync(router);
    sent[2] = '0' + vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, false);
    sent[3] = '0' + vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 2);
    vdc_input_event_sync(router);

    ck_assert_str_eq(sent, kill_cases[_i].sent);
    ck_assert_uint_eq(rec[0].events, kill_cases[_i].a_events);
    ck_assert_uint_eq(rec[0].syncs, kill_cases[_i].a_syncs);
    ck_assert_uint_eq(rec[1].events, kill_cases[_i].b_events);
    ck_assert_uint_eq(rec[1].syncs, kill_cases[_i].b_syncs);
    ck_assert_ptr_null(rec[kill_cases[_i].victim - 'a'].hs);
    ck_assert_int_eq(killer->kill, KILL_NONE);
    rec_unregister(&rec[0]);
    rec_unregister(&rec[1]);
}
END_TEST

/* A sync that unregisters everybody, the caller included. */
static Rec *all_recs;
static unsigned n_all_recs;

static void sync_kill_all(void *opaque)
{
    Rec *r = opaque;
    unsigned i;

    r->syncs++;
    for (i = 0; i < n_all_recs; i++) {
        rec_unregister(&all_recs[i]);
    }
}

START_TEST(test_unregister_all_inside_sync)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    Rec rec[3];
    unsigned i;

    for (i = 0; i < 3; i++) {
        rec_init(&rec[i], 'a' + i, MASK_ALL);
        rec_register(&rec[i], router);
        vdc_input_handler_bind_head(rec[i].hs, -1);
    }
    rec[1].h.sync = sync_kill_all;
    all_recs = rec;
    n_all_recs = 3;
    /* each gets one event: take the first out of the way each time */
    vdc_input_handler_deactivate(rec[0].hs);      /* b c a */
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));   /* b */
    vdc_input_handler_deactivate(rec[1].hs);      /* c a b */
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));   /* c */
    vdc_input_handler_deactivate(rec[2].hs);      /* a b c */
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));   /* a */
    vdc_input_event_sync(router);                 /* a, then b kills all */
    ck_assert_uint_eq(rec[0].syncs, 1);
    ck_assert_uint_eq(rec[1].syncs, 1);
    ck_assert_uint_eq(rec[2].syncs, 0);
    for (i = 0; i < 3; i++) {
        ck_assert_uint_eq(rec[i].events, 1);
        ck_assert_ptr_null(rec[i].hs);
    }
    ck_assert(!vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(router);
    all_recs = NULL;
    n_all_recs = 0;
}
END_TEST

/* ---- scaling ------------------------------------------------------------------ */

/* floor(value * (size - 1) / 0x7FFF), worked out by hand. */
static const struct {
    uint32_t size;
    int32_t value;
    uint32_t pixel;
} scale_cases[] = {
    { 1, 0, 0 }, { 1, 0x4000, 0 }, { 1, 0x7FFF, 0 },
    { 2, 0, 0 }, { 2, 0x4000, 0 }, { 2, 0x7FFF, 1 },
    { 800, 0, 0 }, { 800, 0x4000, 399 }, { 800, 0x7FFF, 799 },
    { 1024, 0, 0 }, { 1024, 0x4000, 511 }, { 1024, 0x7FFF, 1023 },
    { 1920, 0, 0 }, { 1920, 0x4000, 959 }, { 1920, 0x7FFF, 1919 },
    { 32767, 0, 0 }, { 32767, 0x4000, 16383 }, { 32767, 0x7FFF, 32766 },
    /* next to the ends */
    { 32767, 1, 0 }, { 32767, 0x7FFE, 32765 },
    { 1024, 3204, 100 }, { 1024, 3203, 99 },
    { 768, 8545, 200 }, { 768, 8544, 199 },
};

START_TEST(test_scale_axis)
{
    ck_assert_uint_eq(vdc_input_scale_axis(scale_cases[_i].value,
                                           scale_cases[_i].size),
                      scale_cases[_i].pixel);
}
END_TEST

/* ---- heads --------------------------------------------------------------------- */

static void assert_head(const VdcInputRouter *r, unsigned i, uint32_t w,
                        uint32_t h, int32_t x, int32_t y)
{
    VdcInputHeadGeometry g;
    pixman_image_t *img;

    ck_assert(vdc_input_router_head(r, i, &g));
    ck_assert_uint_eq(g.width, w);
    ck_assert_uint_eq(g.height, h);
    ck_assert_int_eq(g.x, x);
    ck_assert_int_eq(g.y, y);
    img = vdc_input_router_head_image(r, i);
    if (w == 0) {
        ck_assert_ptr_null(img);
    } else {
        ck_assert_ptr_nonnull(img);
        ck_assert_int_eq(pixman_image_get_width(img), (int)w);
        ck_assert_int_eq(pixman_image_get_height(img), (int)h);
    }
}

START_TEST(test_heads_default)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcInputHeadGeometry g = { 1, 2, 3, 4 };

    ck_assert_uint_eq(vdc_input_router_n_heads(router), 1);
    assert_head(router, 0, 1024, 768, 0, 0);
    ck_assert(!vdc_input_router_head(router, 1, &g));
    ck_assert_uint_eq(g.width, 1);          /* untouched */
    ck_assert_ptr_null(vdc_input_router_head_image(router, 1));
}
END_TEST

typedef struct WatchRec {
    unsigned calls;
    unsigned n_heads_seen;
    VdcInputRouter *router_seen;
    VdcInputRouter *router;
    unsigned unwatch_id;           /* unwatched from inside the callback */
} WatchRec;

static void watch_cb(void *opaque, VdcInputRouter *r)
{
    WatchRec *w = opaque;

    w->calls++;
    w->router_seen = r;
    w->n_heads_seen = vdc_input_router_n_heads(r);
    if (w->unwatch_id) {
        vdc_input_router_unwatch_heads(w->router, w->unwatch_id);
        w->unwatch_id = 0;
    }
}

START_TEST(test_heads_geometry)
{
    static const VdcInputHeadGeometry two[2] = {
        { .width = 1024, .height = 768 },
        { .width = 800, .height = 600, .x = 1024, .y = 0 },
    };
    static const VdcInputHeadGeometry sparse[3] = {
        { .width = 1920, .height = 1080, .x = -1920, .y = -8 },
        { .width = 0, .height = 0, .x = 5, .y = 6 },
        { .width = 1, .height = 1, .x = 0, .y = 1080 },
    };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    WatchRec w = { 0 };

    vdc_input_router_watch_heads(router, watch_cb, &w);
    ck_assert(vdc_input_router_set_geometry(router, two, 2));
    ck_assert_uint_eq(w.calls, 1);
    ck_assert_uint_eq(w.n_heads_seen, 2);
    ck_assert_ptr_eq(w.router_seen, router);
    ck_assert_uint_eq(vdc_input_router_n_heads(router), 2);
    assert_head(router, 0, 1024, 768, 0, 0);
    assert_head(router, 1, 800, 600, 1024, 0);
    ck_assert(!vdc_input_router_head(router, 2, &(VdcInputHeadGeometry){ 0 }));

    /* a disabled head: 0x0, no image, still a head */
    ck_assert(vdc_input_router_set_geometry(router, sparse, 3));
    ck_assert_uint_eq(w.calls, 2);
    ck_assert_uint_eq(w.n_heads_seen, 3);
    ck_assert_uint_eq(vdc_input_router_n_heads(router), 3);
    assert_head(router, 0, 1920, 1080, -1920, -8);
    assert_head(router, 1, 0, 0, 5, 6);
    assert_head(router, 2, 1, 1, 0, 1080);

    /* back to one */
    ck_assert(vdc_input_router_set_geometry(router, two, 1));
    ck_assert_uint_eq(w.calls, 3);
    ck_assert_uint_eq(vdc_input_router_n_heads(router), 1);
    ck_assert_ptr_null(vdc_input_router_head_image(router, 1));
}
END_TEST

/* Refused geometry changes nothing and tells nobody. */
static const struct {
    const char *what;
    unsigned n;
    VdcInputHeadGeometry bad;         /* used as head 0 when n is 1 or 2 */
} refused_cases[] = {
    { "0 heads", 0, { 0 } },
    { "17 heads", VDC_INPUT_MAX_HEADS + 1, { 0 } },
    { "width 32768", 1, { .width = 32768, .height = 100 } },
    { "height 32768", 2, { .width = 100, .height = 32768 } },
    { "width 4G", 1, { .width = UINT32_MAX, .height = 1 } },
    { "0 wide", 1, { .width = 0, .height = 100 } },
    { "0 high", 2, { .width = 100, .height = 0 } },
};

START_TEST(test_heads_geometry_refused)
{
    static const VdcInputHeadGeometry two[2] = {
        { .width = 640, .height = 480, .x = 1, .y = 2 },
        { .width = 320, .height = 200, .x = 640, .y = 0 },
    };
    VdcInputHeadGeometry heads[VDC_INPUT_MAX_HEADS + 1];
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    WatchRec w = { 0 };
    pixman_image_t *img0, *img1;
    unsigned i;

    ck_assert(vdc_input_router_set_geometry(router, two, 2));
    img0 = vdc_input_router_head_image(router, 0);
    img1 = vdc_input_router_head_image(router, 1);
    vdc_input_router_watch_heads(router, watch_cb, &w);
    for (i = 0; i < G_N_ELEMENTS(heads); i++) {
        heads[i] = (VdcInputHeadGeometry){ .width = 10, .height = 10 };
    }
    heads[0] = refused_cases[_i].bad;
    if (refused_cases[_i].n == 2) {
        /* the bad head second: the good first one must not be applied */
        heads[1] = heads[0];
        heads[0] = (VdcInputHeadGeometry){ .width = 10, .height = 10 };
    }
    ck_assert_msg(!vdc_input_router_set_geometry(router, heads,
                                                 refused_cases[_i].n),
                  "%s accepted", refused_cases[_i].what);
    ck_assert_uint_eq(w.calls, 0);
    ck_assert_uint_eq(vdc_input_router_n_heads(router), 2);
    assert_head(router, 0, 640, 480, 1, 2);
    assert_head(router, 1, 320, 200, 640, 0);
    ck_assert_ptr_eq(vdc_input_router_head_image(router, 0), img0);
    ck_assert_ptr_eq(vdc_input_router_head_image(router, 1), img1);
}
END_TEST

/* The largest sizes are accepted: 32767, and 16 heads. */
START_TEST(test_heads_geometry_limits)
{
    VdcInputHeadGeometry heads[VDC_INPUT_MAX_HEADS];
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    unsigned i;

    for (i = 0; i < VDC_INPUT_MAX_HEADS; i++) {
        heads[i] = (VdcInputHeadGeometry){ .width = i + 1, .height = 2 * i + 1,
                                        .x = (int32_t)i * 100 };
    }
    heads[3] = (VdcInputHeadGeometry){ .width = 32767, .height = 1 };
    heads[4] = (VdcInputHeadGeometry){ .width = 1, .height = 32767 };
    ck_assert(vdc_input_router_set_geometry(router, heads, VDC_INPUT_MAX_HEADS));
    ck_assert_uint_eq(vdc_input_router_n_heads(router), VDC_INPUT_MAX_HEADS);
    assert_head(router, 0, 1, 1, 0, 0);
    assert_head(router, 3, 32767, 1, 0, 0);
    assert_head(router, 4, 1, 32767, 0, 0);
    assert_head(router, 15, 16, 31, 1500, 0);
}
END_TEST

/* ---- heads from the embedding's own images ------------------------------------ */

static unsigned destroyed[4];

static void image_destroyed(pixman_image_t *img, void *data)
{
    (void)img;
    destroyed[GPOINTER_TO_UINT(data)]++;
}

static pixman_image_t *watched_image(int w, int h, unsigned idx)
{
    pixman_image_t *img = pixman_image_create_bits(PIXMAN_x8r8g8b8, w, h,
                                                   NULL, 0);

    ck_assert_ptr_nonnull(img);
    pixman_image_set_destroy_function(img, image_destroyed,
                                      GUINT_TO_POINTER(idx));
    return img;
}

START_TEST(test_heads_images_referenced)
{
    static const VdcInputHeadGeometry pos[3] = {
        { .x = 0, .y = 0 }, { .x = 7, .y = 9 }, { .x = 640, .y = 0 },
    };
    VdcInputRouter *router = vdc_input_router_new();
    pixman_image_t *img[3], *cur, *extra;
    pixman_image_t *many[VDC_INPUT_MAX_HEADS + 1];
    VdcInputHeadGeometry many_pos[VDC_INPUT_MAX_HEADS + 1];
    WatchRec w = { 0 };
    unsigned i;

    memset(destroyed, 0, sizeof(destroyed));
    img[0] = watched_image(640, 480, 0);
    img[1] = NULL;                         /* a disabled head */
    img[2] = watched_image(320, 200, 2);
    vdc_input_router_watch_heads(router, watch_cb, &w);

    ck_assert(vdc_input_router_set_heads(router, img, pos, 3));
    ck_assert_uint_eq(w.calls, 1);
    ck_assert_uint_eq(w.n_heads_seen, 3);
    pixman_image_unref(img[0]);
    pixman_image_unref(img[2]);
    /* the router's references keep them alive */
    ck_assert_uint_eq(destroyed[0], 0);
    ck_assert_uint_eq(destroyed[2], 0);
    ck_assert_ptr_eq(vdc_input_router_head_image(router, 0), img[0]);
    ck_assert_ptr_null(vdc_input_router_head_image(router, 1));
    ck_assert_ptr_eq(vdc_input_router_head_image(router, 2), img[2]);
    /* sizes are the images', positions as given */
    assert_head(router, 0, 640, 480, 0, 0);
    assert_head(router, 1, 0, 0, 7, 9);
    assert_head(router, 2, 320, 200, 640, 0);
    ck_assert_ptr_nonnull(pixman_image_get_data(img[2]));

    /* the router's own image handed back to it survives the swap */
    cur = vdc_input_router_head_image(router, 0);
    ck_assert(vdc_input_router_set_heads(router, &cur, pos, 1));
    ck_assert_uint_eq(w.calls, 2);
    ck_assert_uint_eq(destroyed[0], 0);
    ck_assert_uint_eq(destroyed[2], 1);    /* head 2 released, once */
    ck_assert_ptr_eq(vdc_input_router_head_image(router, 0), img[0]);
    assert_head(router, 0, 640, 480, 0, 0);
    ck_assert_ptr_nonnull(pixman_image_get_data(img[0]));

    /* refused: no reference taken, nothing released, nobody told */
    extra = watched_image(16, 16, 3);
    for (i = 0; i < G_N_ELEMENTS(many); i++) {
        many[i] = extra;
        many_pos[i] = (VdcInputHeadGeometry){ .x = (int32_t)i };
    }
    ck_assert(!vdc_input_router_set_heads(router, many, many_pos, 0));
    ck_assert(!vdc_input_router_set_heads(router, many, many_pos,
                                          VDC_INPUT_MAX_HEADS + 1));
    ck_assert_uint_eq(w.calls, 2);
    ck_assert_uint_eq(destroyed[0], 0);
    ck_assert_uint_eq(vdc_input_router_n_heads(router), 1);
    pixman_image_unref(extra);
    ck_assert_uint_eq(destroyed[3], 1);    /* ours was the only reference */

    /* freeing the router releases its images */
    vdc_input_router_free(router);
    ck_assert_uint_eq(destroyed[0], 1);
    ck_assert_uint_eq(destroyed[2], 1);
    ck_assert_uint_eq(destroyed[3], 1);
}
END_TEST

/* Replaced by new heads: the embedding's images are released, once each. */
START_TEST(test_heads_images_released_on_replace)
{
    static const VdcInputHeadGeometry pos[2] = { { .x = 0 }, { .x = 100 } };
    static const VdcInputHeadGeometry one = { .width = 1024, .height = 768 };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    pixman_image_t *img[2];

    memset(destroyed, 0, sizeof(destroyed));
    img[0] = watched_image(100, 100, 0);
    img[1] = watched_image(200, 50, 1);
    ck_assert(vdc_input_router_set_heads(router, img, pos, 2));
    pixman_image_unref(img[0]);
    pixman_image_unref(img[1]);
    ck_assert_uint_eq(destroyed[0] + destroyed[1], 0);
    assert_head(router, 1, 200, 50, 100, 0);

    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(destroyed[0], 1);
    ck_assert_uint_eq(destroyed[1], 1);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(destroyed[0], 1);
    ck_assert_uint_eq(destroyed[1], 1);

    /* one image on two heads: two references */
    img[0] = watched_image(64, 32, 2);
    img[1] = img[0];
    ck_assert(vdc_input_router_set_heads(router, img, pos, 2));
    pixman_image_unref(img[0]);
    ck_assert_uint_eq(destroyed[2], 0);
    assert_head(router, 0, 64, 32, 0, 0);
    assert_head(router, 1, 64, 32, 100, 0);
    ck_assert(vdc_input_router_set_heads(router, img, pos, 1));
    ck_assert_uint_eq(destroyed[2], 0);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(destroyed[2], 1);
}
END_TEST

/* ---- watchers ------------------------------------------------------------------ */

START_TEST(test_watchers)
{
    static const VdcInputHeadGeometry one = { .width = 800, .height = 600 };
    static const VdcInputHeadGeometry bad = { .width = 40000, .height = 600 };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    WatchRec a = { 0 }, b = { 0 };
    pixman_image_t *img;
    unsigned ida, idb;

    ida = vdc_input_router_watch_heads(router, watch_cb, &a);
    idb = vdc_input_router_watch_heads(router, watch_cb, &b);
    ck_assert_uint_ne(ida, 0);
    ck_assert_uint_ne(idb, 0);
    ck_assert_uint_ne(ida, idb);
    /* watching calls nobody */
    ck_assert_uint_eq(a.calls + b.calls, 0);

    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 1);
    ck_assert_uint_eq(b.calls, 1);

    img = pixman_image_create_bits(PIXMAN_a8, 10, 10, NULL, 0);
    ck_assert(vdc_input_router_set_heads(router, &img, &one, 1));
    pixman_image_unref(img);
    ck_assert_uint_eq(a.calls, 2);
    ck_assert_uint_eq(b.calls, 2);

    /* refused: nobody told */
    ck_assert(!vdc_input_router_set_geometry(router, &bad, 1));
    ck_assert(!vdc_input_router_set_geometry(router, &one, 0));
    ck_assert_uint_eq(a.calls, 2);
    ck_assert_uint_eq(b.calls, 2);

    /* unwatched: never again; unknown ids and a second unwatch are harmless */
    vdc_input_router_unwatch_heads(router, ida);
    vdc_input_router_unwatch_heads(router, ida);
    vdc_input_router_unwatch_heads(router, ida + idb + 100);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 2);
    ck_assert_uint_eq(b.calls, 3);
    vdc_input_router_unwatch_heads(router, idb);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 2);
    ck_assert_uint_eq(b.calls, 3);

    /* a new watch gets a fresh id */
    ck_assert_uint_ne(vdc_input_router_watch_heads(router, watch_cb, &a), ida);
}
END_TEST

/* A watcher that unwatches itself from inside its callback. */
START_TEST(test_watcher_unwatch_self)
{
    static const VdcInputHeadGeometry one = { .width = 800, .height = 600 };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    WatchRec a = { .router = NULL }, b = { 0 };

    a.router = router;
    a.unwatch_id = vdc_input_router_watch_heads(router, watch_cb, &a);
    vdc_input_router_watch_heads(router, watch_cb, &b);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 1);
    ck_assert_uint_eq(b.calls, 2);
}
END_TEST

/*
 * A watcher that unwatches another from inside its callback: the other is
 * not called after the unwatch, not even for the change under way (its
 * owner may have been freed: the embedding tearing a device down when the
 * heads change).
 */
START_TEST(test_watcher_unwatch_other)
{
    static const VdcInputHeadGeometry one = { .width = 800, .height = 600 };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    WatchRec a = { 0 }, b = { 0 };
    unsigned ida;

    a.router = b.router = router;
    ida = vdc_input_router_watch_heads(router, watch_cb, &a);
    a.unwatch_id = vdc_input_router_watch_heads(router, watch_cb, &b);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 1);
    ck_assert_uint_eq(b.calls, 0);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 2);
    ck_assert_uint_eq(b.calls, 0);

    /* the other way round: the earlier one was already called */
    b.unwatch_id = ida;
    vdc_input_router_watch_heads(router, watch_cb, &b);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 3);
    ck_assert_uint_eq(b.calls, 1);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(a.calls, 3);
    ck_assert_uint_eq(b.calls, 2);
}
END_TEST

/* ---- button names ---------------------------------------------------------------- */

static const char *const button_names[VDC_INPUT_BUTTON__COUNT] = {
    [VDC_INPUT_BUTTON_LEFT] = "left",
    [VDC_INPUT_BUTTON_MIDDLE] = "middle",
    [VDC_INPUT_BUTTON_RIGHT] = "right",
    [VDC_INPUT_BUTTON_WHEEL_UP] = "wheel-up",
    [VDC_INPUT_BUTTON_WHEEL_DOWN] = "wheel-down",
    [VDC_INPUT_BUTTON_SIDE] = "side",
    [VDC_INPUT_BUTTON_EXTRA] = "extra",
};

START_TEST(test_button_names)
{
    VdcInputButton b = VDC_INPUT_BUTTON__COUNT;
    const char *name = vdc_input_button_name(_i);

    ck_assert_str_eq(name, button_names[_i]);
    ck_assert(vdc_input_button_from_name(name, &b));
    ck_assert_int_eq(b, _i);
}
END_TEST

START_TEST(test_button_names_unknown)
{
    static const char *const bad[] = {
        "", "LEFT", "Left", "left ", "wheel_up", "wheelup", "unknown", "0",
    };
    VdcInputButton b = VDC_INPUT_BUTTON_SIDE;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert_msg(!vdc_input_button_from_name(bad[i], &b), "%s", bad[i]);
    }
    ck_assert(!vdc_input_button_from_name(NULL, &b));
    ck_assert_int_eq(b, VDC_INPUT_BUTTON_SIDE);     /* untouched */
    ck_assert_str_eq(vdc_input_button_name(VDC_INPUT_BUTTON__COUNT), "unknown");
    ck_assert_str_eq(vdc_input_button_name((VdcInputButton)-1), "unknown");
}
END_TEST

/* ---- lifetime ---------------------------------------------------------------------- */

START_TEST(test_router_free_null)
{
    VdcInputRouter *a = vdc_input_router_new(), *b = vdc_input_router_new();
    Rec ra, rb;

    vdc_input_router_free(NULL);
    vdc_input_handler_unregister(NULL);
    /* routers are independent: no globals */
    rec_init(&ra, 'a', MASK_ALL);
    rec_init(&rb, 'b', MASK_ALL);
    rec_register(&ra, a);
    rec_register(&rb, b);
    vdc_input_router_set_running(b, false);
    ck_assert(vdc_input_send_btn(a, 0, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert(!vdc_input_send_btn(b, 0, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert_uint_eq(ra.events, 1);
    ck_assert_uint_eq(rb.events, 0);
    ck_assert(vdc_input_router_running(a));
    rec_unregister(&ra);
    rec_unregister(&rb);
    vdc_input_router_free(a);
    vdc_input_router_free(b);
}
END_TEST

Suite *input_suite(void)
{
    Suite *s = suite_create("input");
    TCase *tc;

    tc = tcase_create("handlers");
    tcase_add_loop_test(tc, test_handler_order, 0, G_N_ELEMENTS(order_cases));
    tcase_add_loop_test(tc, test_mask_matching, 0, G_N_ELEMENTS(mask_cases));
    tcase_add_test(tc, test_event_delivered_as_sent);
    tcase_add_test(tc, test_bound_head_first);
    tcase_add_test(tc, test_bound_head_order);
    tcase_add_test(tc, test_router_free_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("sync");
    tcase_add_test(tc, test_sync_receivers_only);
    tcase_add_test(tc, test_sync_optional);
    suite_add_tcase(s, tc);

    tc = tcase_create("drops");
    tcase_add_test(tc, test_stopped_drops);
    tcase_add_loop_test(tc, test_invalid_events_dropped, 0,
                        G_N_ELEMENTS(event_cases));
    tcase_add_test(tc, test_missing_head_default);
    suite_add_tcase(s, tc);

    tc = tcase_create("reentrancy");
    tcase_add_loop_test(tc, test_unregister_inside_callback, 0,
                        G_N_ELEMENTS(kill_cases));
    tcase_add_test(tc, test_unregister_all_inside_sync);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_add_loop_test(tc, test_scale_axis, 0, G_N_ELEMENTS(scale_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("heads");
    tcase_add_test(tc, test_heads_default);
    tcase_add_test(tc, test_heads_geometry);
    tcase_add_loop_test(tc, test_heads_geometry_refused, 0,
                        G_N_ELEMENTS(refused_cases));
    tcase_add_test(tc, test_heads_geometry_limits);
    tcase_add_test(tc, test_heads_images_referenced);
    tcase_add_test(tc, test_heads_images_released_on_replace);
    suite_add_tcase(s, tc);

    tc = tcase_create("watchers");
    tcase_add_test(tc, test_watchers);
    tcase_add_test(tc, test_watcher_unwatch_self);
    tcase_add_test(tc, test_watcher_unwatch_other);
    suite_add_tcase(s, tc);

    tc = tcase_create("buttons");
    tcase_add_loop_test(tc, test_button_names, 0, VDC_INPUT_BUTTON__COUNT);
    tcase_add_test(tc, test_button_names_unknown);
    suite_add_tcase(s, tc);

    return s;
}
