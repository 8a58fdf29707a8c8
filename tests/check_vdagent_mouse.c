/*
 * check_vdagent_mouse.c: the device's mouse handler (MOUSE_STATE) and the
 * display heads it describes (MONITORS_CONFIG), driven through the input
 * router and checked with the scripted guest agent.
 *
 * Every byte the device writes is decoded by the guest agent's own decoder
 * (tests/guest-agent.c), never by the library's reader.  Expected wire
 * bytes are written out by hand (shared/reference/wire-vectors.md).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "vdagent/vdc-vdagent.h"

Suite *vdagent_mouse_suite(void);

#define CAP(c) (1u << VD_AGENT_CAP_##c)
/* An agent with positions and no sparse heads. */
#define POS_AGENT_CAPS \
    (CAP(MOUSE_STATE) | CAP(MONITORS_CONFIG) | CAP(REPLY) | \
     CAP(MONITORS_CONFIG_POSITION))

/* ---- the frontend (tests/test-frontend.h) ------------------------------- */

/* Neither side saw anything wrong. */
static void assert_clean(TestFe *fe)
{
    VdcCounters c;
    unsigned i;

    ck_assert_uint_eq(guest_agent_errors(fe->ga), 0);
    ck_assert_msg(guest_agent_ignored(fe->ga) == 0, "agent ignored: %s",
                  guest_agent_last_ignored(fe->ga));
    vdc_chardev_get_counters(fe->dev, &c);
    for (i = 0; i < VDC_DROP__COUNT; i++) {
        ck_assert_uint_eq(c.drops[i], 0);
    }
}

/* ---- decoding what the agent received ------------------------------------ */

typedef struct Mouse {
    uint32_t x, y, buttons, display_id;
} Mouse;

/* The latest MOUSE_STATE, as the agent decoded it. */
static Mouse last_mouse(const TestFe *fe)
{
    const GuestAgentMsg *m = guest_agent_find_last(fe->ga,
                                                   VD_AGENT_MOUSE_STATE);
    Mouse ms;

    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->size, 13);
    ms.x = test_le32(m->data);
    ms.y = test_le32(m->data + 4);
    ms.buttons = test_le32(m->data + 8);
    ms.display_id = m->data[12];
    return ms;
}

static void assert_mouse(const TestFe *fe, uint32_t x, uint32_t y,
                         uint32_t buttons, uint32_t display_id)
{
    Mouse ms = last_mouse(fe);

    ck_assert_uint_eq(ms.x, x);
    ck_assert_uint_eq(ms.y, y);
    ck_assert_uint_eq(ms.buttons, buttons);
    ck_assert_uint_eq(ms.display_id, display_id);
}

/*
 * The smallest absolute value that lands on @pixel of a head @size long:
 * floor(v * (size - 1) / 0x7FFF) == pixel, found by search.
 */
static int32_t abs_for(uint32_t size, uint32_t pixel)
{
    int32_t v;

    for (v = 0; v <= 0x7FFF; v++) {
        if ((uint64_t)v * (size - 1) / 0x7FFF == pixel) {
            return v;
        }
    }
    ck_abort_msg("no value for pixel %u of %u", pixel, size);
    return -1;
}

typedef struct ExpectHead {
    uint32_t width, height;
    int32_t x, y;
} ExpectHead;

/* The MONITORS_CONFIG data we expect: written out here, field by field. */
static GByteArray *monitors_data(uint32_t flags, const ExpectHead *h,
                                 unsigned n)
{
    GByteArray *b = g_byte_array_new();
    unsigned i;

    test_append_le32(b, n);
    test_append_le32(b, flags);
    for (i = 0; i < n; i++) {
        /* VDAgentMonConfig: height, width, depth, x, y */
        test_append_le32(b, h[i].height);
        test_append_le32(b, h[i].width);
        test_append_le32(b, 32);
        test_append_le32(b, (uint32_t)h[i].x);
        test_append_le32(b, (uint32_t)h[i].y);
    }
    return b;
}

static void assert_monitors(const TestFe *fe, uint32_t flags,
                            const ExpectHead *h, unsigned n)
{
    const GuestAgentMsg *m = guest_agent_find_last(fe->ga, VD_AGENT_MONITORS_CONFIG);
    g_autoptr(GByteArray) want = monitors_data(flags, h, n);

    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->size, want->len);
    ck_assert_mem_eq(m->data, want->data, want->len);
}

/* Move the pointer on @head and sync. */
static void move(VdcInputRouter *r, unsigned head, int32_t x, int32_t y)
{
    ck_assert(vdc_input_send_abs(r, head, VDC_INPUT_AXIS_X, x));
    ck_assert(vdc_input_send_abs(r, head, VDC_INPUT_AXIS_Y, y));
    vdc_input_event_sync(r);
}

/* ---- a competing pointer: an emulated tablet ------------------------------- */

typedef struct Tablet {
    VdcInputHandler h;
    VdcInputHandlerState *hs;
    unsigned events, syncs;
} Tablet;

static void tablet_event(void *opaque, const VdcInputEvent *evt)
{
    Tablet *t = opaque;

    t->events++;
}

static void tablet_sync(void *opaque)
{
    Tablet *t = opaque;

    t->syncs++;
}

static void tablet_register(Tablet *t, VdcInputRouter *r, bool activate)
{
    memset(t, 0, sizeof(*t));
    t->h = (VdcInputHandler){
        .name = "tablet",
        .mask = VDC_INPUT_EVENT_MASK_BTN | VDC_INPUT_EVENT_MASK_ABS,
        .event = tablet_event,
        .sync = tablet_sync,
    };
    t->hs = vdc_input_handler_register(r, &t->h, t);
    ck_assert_ptr_nonnull(t->hs);
    if (activate) {
        vdc_input_handler_activate(t->hs);
    }
}

/* ---- MOUSE_STATE: exact bytes ------------------------------------------------- */

START_TEST(test_mouse_state_bytes)
{
    /* wire-vectors.md: x=100 y=200 buttons=left display 0, 41 bytes */
    static const uint8_t expect[41] = {
        0x01, 0x00, 0x00, 0x00, 0x21, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x0d, 0x00, 0x00, 0x00,
        0x64, 0x00, 0x00, 0x00, 0xc8, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x00,
    };
    VdcConfig config = fe_config(true, false, false);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);
    int32_t vx = abs_for(1024, 100), vy = abs_for(768, 200);
    VdcMouse ms;

    /* mouse on: we announce MOUSE_STATE */
    ck_assert_uint_eq(vdc_chardev_host_caps(fe->dev) & CAP(MOUSE_STATE),
                      CAP(MOUSE_STATE));
    fe_open(fe);
    ck_assert(guest_agent_host_has_cap(fe->ga, VD_AGENT_CAP_MOUSE_STATE));
    g_byte_array_set_size(fe->wire, 0);
    ck_assert(vdc_input_send_abs(fe->router, 0, VDC_INPUT_AXIS_X, vx));
    ck_assert(vdc_input_send_abs(fe->router, 0, VDC_INPUT_AXIS_Y, vy));
    ck_assert(vdc_input_send_btn(fe->router, 0, VDC_INPUT_BUTTON_LEFT, true));
    /* nothing before the sync */
    ck_assert_uint_eq(fe->wire->len, 0);
    vdc_input_event_sync(fe->router);
    ck_assert_uint_eq(fe->wire->len, sizeof(expect));
    ck_assert_mem_eq(fe->wire->data, expect, sizeof(expect));

    assert_mouse(fe, 100, 200, 0x02, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_MOUSE_STATE], 1);
    vdc_chardev_mouse_state(fe->dev, &ms);
    ck_assert_uint_eq(ms.x, 100);
    ck_assert_uint_eq(ms.y, 200);
    ck_assert_uint_eq(ms.buttons, 0x02);
    ck_assert_uint_eq(ms.display_id, 0);

    /* a sync without new events sends nothing */
    vdc_input_event_sync(fe->router);
    ck_assert_uint_eq(fe->wire->len, sizeof(expect));
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* ---- MONITORS_CONFIG: exact bytes ------------------------------------------------ */

START_TEST(test_monitors_one_head_bytes)
{
    /* wire-vectors.md: one head 1024x768 depth 32 at 0,0 */
    static const uint8_t expect[56] = {
        0x01, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x1c, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,
        0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);

    vdc_chardev_set_guest_open(fe->dev, true);
    /* before the guest's caps: only our caps request */
    ck_assert_uint_eq(fe->wire->len, 36);
    g_byte_array_set_size(fe->wire, 0);
    fe_pump(fe);
    ck_assert_uint_eq(fe->wire->len, sizeof(expect));
    ck_assert_mem_eq(fe->wire->data, expect, sizeof(expect));
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG), 1);
    ck_assert(guest_agent_host_has_cap(fe->ga, VD_AGENT_CAP_MONITORS_CONFIG));
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

START_TEST(test_monitors_two_heads_pos_bytes)
{
    static const uint8_t expect[76] = {
        0x01, 0x00, 0x00, 0x00, 0x44, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x30, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  /* 2, USE_POS */
        0x00, 0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,  /* 768, 1024 */
        0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  /* 32, x 0 */
        0x00, 0x00, 0x00, 0x00,                          /* y 0 */
        0x58, 0x02, 0x00, 0x00, 0x20, 0x03, 0x00, 0x00,  /* 600, 800 */
        0x20, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00,  /* 32, x 1024 */
        0x00, 0x00, 0x00, 0x00,                          /* y 0 */
    };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe;

    config.n_heads = 2;
    config.heads[0] = (VdcHeadConfig){ 1024, 768, 0, 0 };
    config.heads[1] = (VdcHeadConfig){ 800, 600, 1024, 0 };
    fe = fe_new1(&config, POS_AGENT_CAPS);
    vdc_chardev_set_guest_open(fe->dev, true);
    g_byte_array_set_size(fe->wire, 0);
    fe_pump(fe);
    ck_assert_uint_eq(fe->wire->len, sizeof(expect));
    ck_assert_mem_eq(fe->wire->data, expect, sizeof(expect));
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* The real agent has no MONITORS_CONFIG_POSITION: flags 0. */
START_TEST(test_monitors_two_heads_no_pos)
{
    static const ExpectHead heads[2] = {
        { 1024, 768, 0, 0 }, { 800, 600, 1024, 0 },
    };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe;

    config.n_heads = 2;
    config.heads[0] = (VdcHeadConfig){ 1024, 768, 0, 0 };
    config.heads[1] = (VdcHeadConfig){ 800, 600, 1024, 0 };
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    fe_open(fe);
    assert_monitors(fe, 0, heads, 2);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* A disabled (0x0) head only for agents with SPARSE_MONITORS_CONFIG. */
static const struct {
    uint32_t caps;
    uint32_t flags;
    unsigned n;
    ExpectHead heads[3];
} sparse_cases[] = {
    { REAL_AGENT_CAPS, 0, 3,
      { { 1024, 768, 0, 0 }, { 0, 0, 0, 0 }, { 800, 600, 1024, 0 } } },
    { POS_AGENT_CAPS | CAP(SPARSE_MONITORS_CONFIG), 1, 3,
      { { 1024, 768, 0, 0 }, { 0, 0, 0, 0 }, { 800, 600, 1024, 0 } } },
    { POS_AGENT_CAPS, 1, 2,
      { { 1024, 768, 0, 0 }, { 800, 600, 1024, 0 } } },
    { REAL_AGENT_CAPS & ~CAP(SPARSE_MONITORS_CONFIG), 0, 2,
      { { 1024, 768, 0, 0 }, { 800, 600, 1024, 0 } } },
};

START_TEST(test_monitors_disabled_head)
{
    static const VdcInputHeadGeometry geo[3] = {
        { .width = 1024, .height = 768 },
        { .width = 0, .height = 0 },
        { .width = 800, .height = 600, .x = 1024 },
    };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe = fe_new1(&config, sparse_cases[_i].caps);

    ck_assert(vdc_input_router_set_geometry(fe->router, geo, 3));
    ck_assert_uint_eq(fe->wire->len, 0);       /* port closed: nothing */
    fe_open(fe);
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG), 1);
    assert_monitors(fe, sparse_cases[_i].flags, sparse_cases[_i].heads,
                    sparse_cases[_i].n);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* ---- MONITORS_CONFIG: when ------------------------------------------------------ */

static const struct {
    bool monitors;
    uint32_t caps;
    unsigned after_caps, after_change;
} when_cases[] = {
    { true, REAL_AGENT_CAPS, 1, 2 },
    { true, POS_AGENT_CAPS, 1, 2 },
    { true, CAP(MONITORS_CONFIG), 1, 2 },
    { true, REAL_AGENT_CAPS & ~CAP(MONITORS_CONFIG), 0, 0 },
    { true, CAP(MOUSE_STATE), 0, 0 },
    { true, 0, 0, 0 },
    { false, REAL_AGENT_CAPS, 0, 0 },
    { false, POS_AGENT_CAPS, 0, 0 },
};

START_TEST(test_monitors_when)
{
    static const VdcInputHeadGeometry one = { .width = 800, .height = 600 };
    static const VdcInputHeadGeometry bad = { .width = 40000, .height = 600 };
    static const ExpectHead def = { 1024, 768, 0, 0 };
    static const ExpectHead changed = { 800, 600, 0, 0 };
    VdcConfig config = fe_config(true, false, when_cases[_i].monitors);
    TestFe *fe = fe_new1(&config, when_cases[_i].caps);
    uint32_t flags = (when_cases[_i].caps & CAP(MONITORS_CONFIG_POSITION)) ? 1
                                                                           : 0;

    ck_assert(guest_agent_host_has_cap(fe->ga, VD_AGENT_CAP_MONITORS_CONFIG) ==
              false);
    fe_open(fe);
    /* our caps say MONITORS_CONFIG exactly when the config does */
    ck_assert(guest_agent_host_has_cap(fe->ga, VD_AGENT_CAP_MONITORS_CONFIG) ==
              when_cases[_i].monitors);
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG),
        when_cases[_i].after_caps);
    if (when_cases[_i].after_caps) {
        assert_monitors(fe, flags, &def, 1);
    }

    ck_assert(vdc_input_router_set_geometry(fe->router, &one, 1));
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG),
        when_cases[_i].after_change);
    if (when_cases[_i].after_change) {
        assert_monitors(fe, flags, &changed, 1);
    }
    /* a refused change is no change */
    ck_assert(!vdc_input_router_set_geometry(fe->router, &bad, 1));
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG),
        when_cases[_i].after_change);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_MONITORS_CONFIG],
                      when_cases[_i].after_change);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* Heads changed while the port is closed: described on the next caps. */
START_TEST(test_monitors_change_while_closed)
{
    static const VdcInputHeadGeometry two[2] = {
        { .width = 640, .height = 480 },
        { .width = 320, .height = 240, .x = 640, .y = 100 },
    };
    static const ExpectHead want[2] = {
        { 640, 480, 0, 0 }, { 320, 240, 640, 100 },
    };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);

    fe_open(fe);
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG), 1);
    vdc_chardev_set_guest_open(fe->dev, false);
    g_byte_array_set_size(fe->wire, 0);
    ck_assert(vdc_input_router_set_geometry(fe->router, two, 2));
    ck_assert_uint_eq(fe->wire->len, 0);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);

    /* open, but no caps yet: still nothing but our request */
    vdc_chardev_set_guest_open(fe->dev, true);
    ck_assert_uint_eq(fe->wire->len, 36);
    ck_assert(vdc_input_router_set_geometry(fe->router, two, 2));
    ck_assert_uint_eq(fe->wire->len, 36);
    fe_pump(fe);
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG), 2);
    assert_monitors(fe, 0, want, 2);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* ---- REPLY ---------------------------------------------------------------------- */

START_TEST(test_reply_consumed)
{
    /* wire-vectors.md: REPLY to MONITORS_CONFIG, success */
    static const uint8_t reply_ok[36] = {
        0x01, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x00, 0x00,
        0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);
    VdcCounters c;
    guint wire;

    fe_open(fe);
    wire = fe->wire->len;

    vdc_chardev_write(fe->dev, reply_ok, sizeof(reply_ok));
    c = fe_counters(fe);
    ck_assert_uint_eq(c.msgs_in[VD_AGENT_REPLY], 1);
    ck_assert_uint_eq(c.reply_errors, 0);
    ck_assert_uint_eq(c.ignored, 0);

    guest_agent_send_reply(fe->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_ERROR);
    fe_pump(fe);
    c = fe_counters(fe);
    ck_assert_uint_eq(c.msgs_in[VD_AGENT_REPLY], 2);
    ck_assert_uint_eq(c.reply_errors, 1);

    guest_agent_send_reply(fe->ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    guest_agent_send_reply(fe->ga, VD_AGENT_DISPLAY_CONFIG, VD_AGENT_ERROR);
    guest_agent_send_reply(fe->ga, VD_AGENT_MONITORS_CONFIG, 77);
    fe_pump(fe);
    c = fe_counters(fe);
    ck_assert_uint_eq(c.msgs_in[VD_AGENT_REPLY], 5);
    ck_assert_uint_eq(c.reply_errors, 3);
    ck_assert_uint_eq(c.ignored, 0);
    /* a reply is answered with nothing */
    ck_assert_uint_eq(fe->wire->len, wire);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* ---- scaling through the device ---------------------------------------------------- */

/* floor(0x4000 * (size - 1) / 0x7FFF), worked out by hand. */
static uint32_t middle_of(uint32_t size)
{
    static const uint32_t table[][2] = {
        { 1, 0 }, { 2, 0 }, { 600, 299 }, { 768, 383 }, { 800, 399 },
        { 1024, 511 }, { 1080, 539 }, { 1920, 959 }, { 32767, 16383 },
    };
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(table); i++) {
        if (table[i][0] == size) {
            return table[i][1];
        }
    }
    ck_abort_msg("no middle for %u", size);
    return 0;
}

static const VdcHeadConfig scale_heads[] = {
    { 1, 1, 0, 0 }, { 2, 2, 0, 0 }, { 800, 600, 0, 0 },
    { 1024, 768, 0, 0 }, { 1920, 1080, 0, 0 }, { 32767, 2, 0, 0 },
    { 1, 32767, 0, 0 },
};

START_TEST(test_scale_device)
{
    const VdcHeadConfig *h = &scale_heads[_i / 3];
    VdcConfig config = fe_config(true, false, false);
    TestFe *fe;
    uint32_t ex, ey;
    int32_t v;

    config.n_heads = 1;
    config.heads[0] = *h;
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    fe_open(fe);
    switch (_i % 3) {
    case 0:
        v = 0;
        ex = ey = 0;
        break;
    case 1:
        v = 0x4000;
        ex = middle_of(h->width);
        ey = middle_of(h->height);
        break;
    default:
        v = 0x7FFF;
        ex = h->width - 1;
        ey = h->height - 1;
        break;
    }
    /* start somewhere else so that 0 is a change too */
    move(fe->router, 0, 0x1111, 0x2222);
    move(fe->router, 0, v, v);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 2);
    assert_mouse(fe, ex, ey, 0, 0);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* The scale follows the heads when they change. */
START_TEST(test_scale_follows_heads)
{
    static const VdcInputHeadGeometry one = { .width = 800, .height = 600 };
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);

    fe_open(fe);
    move(fe->router, 0, 0x7FFF, 0x7FFF);
    assert_mouse(fe, 1023, 767, 0, 0);
    ck_assert(vdc_input_router_set_geometry(fe->router, &one, 1));
    move(fe->router, 0, 0x7FFF, 0x4000);
    assert_mouse(fe, 799, 299, 0, 0);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* R8: the second head sends display_id 1, scaled to that head's size. */
START_TEST(test_display_id_second_head)
{
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe;

    config.n_heads = 2;
    config.heads[0] = (VdcHeadConfig){ 1024, 768, 0, 0 };
    config.heads[1] = (VdcHeadConfig){ 800, 600, 1024, 0 };
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    fe_open(fe);

    move(fe->router, 1, 0x7FFF, 0x7FFF);
    assert_mouse(fe, 799, 599, 0, 1);
    move(fe->router, 1, 0x4000, 0x4000);
    assert_mouse(fe, 399, 299, 0, 1);
    move(fe->router, 1, abs_for(800, 123), abs_for(600, 456));
    assert_mouse(fe, 123, 456, 0, 1);
    move(fe->router, 1, 0, 0);
    assert_mouse(fe, 0, 0, 0, 1);
    /* back on the first head */
    move(fe->router, 0, 0x7FFF, 0x7FFF);
    assert_mouse(fe, 1023, 767, 0, 0);
    move(fe->router, 0, 0x4000, 0x4000);
    assert_mouse(fe, 511, 383, 0, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 6);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/*
 * A disabled head in the middle: an agent without SPARSE_MONITORS_CONFIG
 * numbers only the enabled heads it was sent, so the third head is its
 * display 1; a sparse agent keeps the router's index.
 */
START_TEST(test_display_id_disabled_head)
{
    static const uint32_t caps[2] = {
        (1u << VD_AGENT_CAP_MOUSE_STATE) | (1u << VD_AGENT_CAP_MONITORS_CONFIG),
        (1u << VD_AGENT_CAP_MOUSE_STATE) | (1u << VD_AGENT_CAP_MONITORS_CONFIG) |
            (1u << VD_AGENT_CAP_SPARSE_MONITORS_CONFIG),
    };
    const VdcInputHeadGeometry heads[3] = {
        { 1024, 768, 0, 0 }, { 0, 0, 0, 0 }, { 800, 600, 1024, 0 },
    };
    VdcConfig config = fe_config(true, false, false);
    TestFe *fe = fe_new1(&config, caps[_i]);

    fe_open(fe);
    ck_assert(vdc_input_router_set_geometry(fe->router, heads, 3));
    move(fe->router, 2, 0x7FFF, 0x7FFF);
    assert_mouse(fe, 799, 599, 0, _i == 0 ? 1 : 2);
    fe_free(fe);
}
END_TEST

/* ---- buttons ------------------------------------------------------------------------ */

/* spice-protocol's VD_AGENT_*BUTTON_MASK, as numbers. */
static const uint32_t button_bits[VDC_INPUT_BUTTON__COUNT] = {
    [VDC_INPUT_BUTTON_LEFT] = 0x02,
    [VDC_INPUT_BUTTON_MIDDLE] = 0x04,
    [VDC_INPUT_BUTTON_RIGHT] = 0x08,
    [VDC_INPUT_BUTTON_WHEEL_UP] = 0x10,
    [VDC_INPUT_BUTTON_WHEEL_DOWN] = 0x20,
    [VDC_INPUT_BUTTON_SIDE] = 0x40,
    [VDC_INPUT_BUTTON_EXTRA] = 0x80,
};

START_TEST(test_button_bit)
{
    VdcConfig config = fe_config(true, false, false);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);
    VdcInputRouter *r;

    fe_open(fe);
    r = fe->router;
    move(r, 0, 0x7FFF, 0);
    ck_assert(vdc_input_send_btn(r, 0, _i, true));
    vdc_input_event_sync(r);
    assert_mouse(fe, 1023, 0, button_bits[_i], 0);
    ck_assert(vdc_input_send_btn(r, 0, _i, false));
    vdc_input_event_sync(r);
    assert_mouse(fe, 1023, 0, 0, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 3);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

START_TEST(test_buttons_accumulate)
{
    VdcConfig config = fe_config(true, false, false);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);
    VdcInputRouter *r;
    uint32_t want = 0;
    unsigned b;

    fe_open(fe);
    r = fe->router;
    for (b = 0; b < VDC_INPUT_BUTTON__COUNT; b++) {
        ck_assert(vdc_input_send_btn(r, 0, b, true));
        vdc_input_event_sync(r);
        want |= button_bits[b];
        assert_mouse(fe, 0, 0, want, 0);
    }
    ck_assert_uint_eq(want, 0xFE);
    /* pressed twice: still one bit; a release of an up button: no change */
    ck_assert(vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_LEFT, true));
    ck_assert(vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(r);
    assert_mouse(fe, 0, 0, 0xFE, 0);
    for (b = 0; b < VDC_INPUT_BUTTON__COUNT; b++) {
        ck_assert(vdc_input_send_btn(r, 0, b, false));
        ck_assert(vdc_input_send_btn(r, 0, b, false));
        vdc_input_event_sync(r);
        want &= ~button_bits[b];
        assert_mouse(fe, 0, 0, want, 0);
    }
    ck_assert_uint_eq(want, 0);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* ---- the guest's MOUSE_STATE cap and the competing tablet -------------------------- */

/*
 * An agent without MOUSE_STATE: no MOUSE_STATE, ever.  Where the events go
 * follows the router's rule (the first handler in the list whose mask
 * matches, active or not): the device's handler stays inactive where it
 * was registered.
 */
static const struct {
    int tablet;          /* 0: none, 1: registered before the device,
                            2: registered and activated before,
                            3: registered after the device (inactive) */
    bool tablet_gets;
} nocap_cases[] = {
    { 0, false },
    { 1, true },
    { 2, true },
    { 3, false },        /* the inactive device handler is ahead of it */
};

START_TEST(test_no_cap_no_mouse_state)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcConfig config = fe_config(true, false, true);
    Tablet tablet = { 0 };
    TestFe *fe;

    config.input_router = router;
    if (nocap_cases[_i].tablet == 1 || nocap_cases[_i].tablet == 2) {
        tablet_register(&tablet, router, nocap_cases[_i].tablet == 2);
    }
    fe = fe_new1(&config, REAL_AGENT_CAPS & ~CAP(MOUSE_STATE));
    if (nocap_cases[_i].tablet == 3) {
        tablet_register(&tablet, router, false);
    }
    /* the port open, the caps not in yet */
    vdc_chardev_set_guest_open(fe->dev, true);
    move(router, 0, 100, 200);
    /* the caps in */
    fe_pump(fe);
    ck_assert(!vdc_chardev_guest_has_cap(fe->dev,
                                         VD_AGENT_CAP_MOUSE_STATE));
    move(router, 0, 300, 400);
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(router);

    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 0);
    ck_assert_uint_eq(fe_counters(fe).msgs_out[VD_AGENT_MOUSE_STATE], 0);
    ck_assert_uint_eq(tablet.events, nocap_cases[_i].tablet_gets ? 5 : 0);
    ck_assert_uint_eq(tablet.syncs, nocap_cases[_i].tablet_gets ? 3 : 0);
    /* the heads are still described */
    ck_assert_uint_eq(
        guest_agent_count_type(fe->ga, VD_AGENT_MONITORS_CONFIG), 1);
    assert_clean(fe);
    fe_free(fe);
    vdc_input_handler_unregister(tablet.hs);
}
END_TEST

/*
 * Caps with MOUSE_STATE make the device's handler the preferred one: a
 * tablet activated before loses the events.  The guest closing its port
 * hands the pointer back (Q13, V12); the next caps take it again.
 */
START_TEST(test_caps_activate_close_hands_back)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcConfig config = fe_config(true, false, false);
    Tablet tablet;
    TestFe *fe;

    config.input_router = router;
    tablet_register(&tablet, router, true);
    fe = fe_new1(&config, REAL_AGENT_CAPS);

    /* before any agent: the tablet */
    move(router, 0, 1, 2);
    ck_assert_uint_eq(tablet.events, 2);
    ck_assert_uint_eq(tablet.syncs, 1);

    fe_open(fe);
    move(router, 0, 0x7FFF, 0);
    ck_assert_uint_eq(tablet.events, 2);
    ck_assert_uint_eq(tablet.syncs, 1);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);
    assert_mouse(fe, 1023, 0, 0, 0);

    /* a tablet activated later wins again: the most recent activation */
    vdc_input_handler_activate(tablet.hs);
    move(router, 0, 5, 5);
    ck_assert_uint_eq(tablet.events, 4);
    /* the agent re-announces: the device takes the pointer back */
    guest_agent_send_caps(fe->ga, false);
    fe_pump(fe);
    move(router, 0, 0, 0x7FFF);
    ck_assert_uint_eq(tablet.events, 4);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 2);
    assert_mouse(fe, 0, 767, 0, 0);

    /* Q13: the guest closes the port: the tablet again, nothing written */
    vdc_chardev_set_guest_open(fe->dev, false);
    g_byte_array_set_size(fe->wire, 0);
    move(router, 0, 7, 7);
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(tablet.events, 7);
    ck_assert_uint_eq(tablet.syncs, 4);
    ck_assert_uint_eq(fe->wire->len, 0);

    /* reopened with caps: the device again */
    guest_agent_clear_received(fe->ga);
    fe_open(fe);
    move(router, 0, 0x7FFF, 0x7FFF);
    ck_assert_uint_eq(tablet.events, 7);
    assert_mouse(fe, 1023, 767, 0, 0);

    assert_clean(fe);
    fe_free(fe);
    vdc_input_handler_unregister(tablet.hs);
}
END_TEST

/*
 * The agent's caps re-announced without MOUSE_STATE: it can no longer
 * take MOUSE_STATE, so the device must not keep the pointer (the symptom
 * of Q13: events swallowed, nothing sent).
 */
START_TEST(test_caps_lose_mouse_state)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcConfig config = fe_config(true, false, false);
    uint8_t caps_msg[8];
    Tablet tablet;
    TestFe *fe;

    config.input_router = router;
    tablet_register(&tablet, router, true);
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    fe_open(fe);
    move(router, 0, 0x7FFF, 0);
    ck_assert_uint_eq(tablet.events, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);

    test_put_le32(caps_msg, 0);                                  /* request */
    test_put_le32(caps_msg + 4, REAL_AGENT_CAPS & ~CAP(MOUSE_STATE));
    guest_agent_send_message(fe->ga, VD_AGENT_ANNOUNCE_CAPABILITIES,
                             caps_msg, sizeof(caps_msg));
    fe_pump(fe);
    ck_assert(!vdc_chardev_guest_has_cap(fe->dev,
                                         VD_AGENT_CAP_MOUSE_STATE));
    move(router, 0, 1, 1);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);
    ck_assert_uint_eq(tablet.events, 2);
    ck_assert_uint_eq(tablet.syncs, 1);
    assert_clean(fe);
    fe_free(fe);
    vdc_input_handler_unregister(tablet.hs);
}
END_TEST

/*
 * Q14 / Q2: freeing the device unregisters its handler and its heads
 * watch; later events go to the tablet and nothing calls into the freed
 * device (ASan).
 */
START_TEST(test_free_unregisters)
{
    static const VdcInputHeadGeometry one = { .width = 800, .height = 600 };
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcConfig config = fe_config(true, false, true);
    Tablet tablet;
    TestFe *fe;
    unsigned writes;

    config.input_router = router;
    tablet_register(&tablet, router, false);
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    fe_open(fe);
    move(router, 0, 10, 10);
    ck_assert_uint_eq(tablet.events, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);

    /* events for the device, then the device goes before the sync */
    ck_assert(vdc_input_send_abs(router, 0, VDC_INPUT_AXIS_X, 20));
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_RIGHT, true));
    writes = fe->writes;
    fe_free_dev(fe);
    vdc_input_event_sync(router);
    ck_assert_uint_eq(tablet.syncs, 0);

    /* the tablet has the pointer; the heads change reaches nobody freed */
    move(router, 0, 30, 30);
    ck_assert_uint_eq(tablet.events, 2);
    ck_assert_uint_eq(tablet.syncs, 1);
    ck_assert(vdc_input_router_set_geometry(router, &one, 1));
    ck_assert_uint_eq(fe->writes, writes);

    vdc_input_handler_unregister(tablet.hs);
    ck_assert(!vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    fe_free(fe);
}
END_TEST

/* A device never connected, freed: its handler is gone from a shared router. */
START_TEST(test_free_unconnected)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcConfig config = fe_config(true, false, true);
    TestFe *fe;

    config.input_router = router;
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    /* the inactive handler is the only one: it takes the event */
    ck_assert(vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    fe_free_dev(fe);
    ck_assert(!vdc_input_send_btn(router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(router);
    ck_assert_uint_eq(fe->writes, 0);
    fe_free(fe);
}
END_TEST

/* ---- stopped router ------------------------------------------------------------------ */

START_TEST(test_stopped_no_mouse_state)
{
    VdcConfig config = fe_config(true, false, false);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);
    VdcInputRouter *r;

    fe_open(fe);
    r = fe->router;
    move(r, 0, 0, 0);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);

    vdc_input_router_set_running(r, false);
    ck_assert(!vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, 0x7FFF));
    ck_assert(!vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_Y, 0x7FFF));
    ck_assert(!vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);

    /* resumed: the dropped events left no trace */
    vdc_input_router_set_running(r, true);
    vdc_input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 1);
    ck_assert(vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_Y, 0x4000));
    vdc_input_event_sync(r);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 2);
    assert_mouse(fe, 0, 383, 0, 0);
    assert_clean(fe);
    fe_free(fe);
}
END_TEST

/* ---- mouse off ----------------------------------------------------------------------- */

START_TEST(test_mouse_off)
{
    g_autoptr(VdcInputRouter) router = vdc_input_router_new();
    VdcConfig config = fe_config(false, false, true);
    Tablet tablet;
    TestFe *fe, *priv;

    /* a private router: no handler at all */
    priv = fe_new1(&config, REAL_AGENT_CAPS);
    ck_assert_uint_eq(vdc_chardev_host_caps(priv->dev) &
                      CAP(MOUSE_STATE), 0);
    fe_open(priv);
    ck_assert(!guest_agent_host_has_cap(priv->ga, VD_AGENT_CAP_MOUSE_STATE));
    ck_assert(guest_agent_host_has_cap(priv->ga, VD_AGENT_CAP_MONITORS_CONFIG));
    ck_assert(!vdc_input_send_abs(priv->router, 0, VDC_INPUT_AXIS_X, 1));
    ck_assert(!vdc_input_send_btn(priv->router, 0, VDC_INPUT_BUTTON_LEFT, true));
    vdc_input_event_sync(priv->router);
    ck_assert_uint_eq(
        guest_agent_count_type(priv->ga, VD_AGENT_MOUSE_STATE), 0);
    ck_assert_uint_eq(
        guest_agent_count_type(priv->ga, VD_AGENT_MONITORS_CONFIG), 1);
    assert_clean(priv);
    fe_free(priv);

    /* a shared router: the tablet keeps the pointer after the caps */
    config.input_router = router;
    tablet_register(&tablet, router, false);
    fe = fe_new1(&config, REAL_AGENT_CAPS);
    fe_open(fe);
    move(router, 0, 0x7FFF, 0x7FFF);
    ck_assert_uint_eq(tablet.events, 2);
    ck_assert_uint_eq(tablet.syncs, 1);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_MOUSE_STATE), 0);
    assert_clean(fe);
    fe_free(fe);
    vdc_input_handler_unregister(tablet.hs);
}
END_TEST

Suite *vdagent_mouse_suite(void)
{
    Suite *s = suite_create("vdagent-mouse");
    TCase *tc;

    tc = tcase_create("wire");
    tcase_add_test(tc, test_mouse_state_bytes);
    tcase_add_test(tc, test_monitors_one_head_bytes);
    tcase_add_test(tc, test_monitors_two_heads_pos_bytes);
    tcase_add_test(tc, test_monitors_two_heads_no_pos);
    tcase_add_loop_test(tc, test_monitors_disabled_head, 0,
                        G_N_ELEMENTS(sparse_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("monitors");
    tcase_add_loop_test(tc, test_monitors_when, 0, G_N_ELEMENTS(when_cases));
    tcase_add_test(tc, test_monitors_change_while_closed);
    tcase_add_test(tc, test_reply_consumed);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_add_loop_test(tc, test_scale_device, 0,
                        3 * G_N_ELEMENTS(scale_heads));
    tcase_add_test(tc, test_scale_follows_heads);
    tcase_add_test(tc, test_display_id_second_head);
    tcase_add_loop_test(tc, test_display_id_disabled_head, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("buttons");
    tcase_add_loop_test(tc, test_button_bit, 0, VDC_INPUT_BUTTON__COUNT);
    tcase_add_test(tc, test_buttons_accumulate);
    suite_add_tcase(s, tc);

    tc = tcase_create("handler");
    tcase_add_loop_test(tc, test_no_cap_no_mouse_state, 0,
                        G_N_ELEMENTS(nocap_cases));
    tcase_add_test(tc, test_caps_activate_close_hands_back);
    tcase_add_test(tc, test_caps_lose_mouse_state);
    tcase_add_test(tc, test_free_unregisters);
    tcase_add_test(tc, test_free_unconnected);
    tcase_add_test(tc, test_stopped_no_mouse_state);
    tcase_add_test(tc, test_mouse_off);
    suite_add_tcase(s, tc);

    return s;
}
