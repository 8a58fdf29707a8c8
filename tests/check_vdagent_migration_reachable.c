/*
 * check_vdagent_migration_reachable.c: states the device reaches on its
 * own must migrate (issue 20, B): a destination started with the usual
 * options loads them, and its save is byte for byte the source's.
 *
 *   B1  the display layout: a pointer on the second of two heads, and a
 *       pointer left on a head that a new layout removed;
 *   B2  a guest request for a selection the guest owns itself, before
 *       (in a paused VM) or after its grab: answered at once with no data,
 *       never left pending.
 *
 * The fixture is the vdagent-migration one (check_vdagent_migration.h):
 * a source behind the fake frontend with the scripted guest agent, saved
 * into memory, loaded into a stopped destination, resumed with the same
 * agent, which must see no reconnect and nothing it would discard.
 */
#include <check.h>
#include <string.h>

#include "input/vdc-input.h"
#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* Save @dst and compare with @stream, the source's save it loaded. */
static void assert_saves_same(TestFe *dst, const GByteArray *stream)
{
    g_autoptr(GByteArray) again = save_dev(dst->dev);

    ck_assert_uint_eq(again->len, stream->len);
    ck_assert_mem_eq(again->data, stream->data, stream->len);
}

/* ---- B2: a request for the guest's own selection ----------------------- */

/* The wire size of an empty CLIPBOARD answer: [prefix] and type, no data
 * (36 bytes; 32 for the Windows agent, without the prefix). */
#define EMPTY_ANSWER_WIRE mig_wire_len(MIG_CLIP_HEAD)

static uint32_t pending_of(TestFe *fe, unsigned sel)
{
    uint32_t serial[N_SEL], pending[N_SEL];

    vdc_chardev_clipboard_state(fe->dev, serial, pending);
    return pending[sel];
}

/* The agent received @n empty CLIPBOARD answers for CLIPBOARD text. */
static void assert_empty_answers(GuestAgent *ga, size_t n)
{
    size_t i;

    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), n);
    for (i = 0; i < n; i++) {
        const GuestAgentMsg *m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, i);

        ck_assert_uint_eq(m->size, MIG_CLIP_HEAD);
        if (MIG_PREFIX) {
            ck_assert_uint_eq(m->data[0], VDC_CLIPBOARD_SELECTION_CLIPBOARD);
        }
        ck_assert_uint_eq(test_le32(m->data + MIG_PREFIX),
                          VD_AGENT_CLIPBOARD_UTF8_TEXT);
    }
}

static void guest_request_text(TestFe *fe, GuestAgent *ga)
{
    guest_agent_send_request(ga, VDC_CLIPBOARD_SELECTION_CLIPBOARD,
                             VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(fe);
}

/*
 * B2, the case found: in a paused VM the guest requests the host's
 * CLIPBOARD text (forwarded to the host, pending), grabs CLIPBOARD itself,
 * then requests it three more times.  The first request is answered, empty,
 * by the grab; the others at once: nothing stays pending on a selection
 * the guest owns, the state migrates, and the guest gets four empty
 * answers once the VM runs (on the destination).
 */
START_TEST(test_request_own_selection_before_grab_answered_at_once)
{
    VdcConfig config = mig_config();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    GuestAgent *ga = real_agent();
    TestFe *src = fe_new_detached(&config);
    HostPeer *hp = fe_peer_new(src);
    g_autoptr(GByteArray) stream = NULL;
    TestFe *dst;
    unsigned i;

    mig_connect(src, ga);
    hp_grab(hp, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT));
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    vdc_chardev_set_running(src->dev, false);

    guest_request_text(src, ga);
    ck_assert_uint_eq(pending_of(src, VDC_CLIPBOARD_SELECTION_CLIPBOARD), BIT(TEXT));
    ck_assert_uint_eq(hp->requests->len, 1);
    guest_agent_send_grab(ga, VDC_CLIPBOARD_SELECTION_CLIPBOARD, &text, 1);
    fe_pump(src);
    ck_assert_uint_eq(pending_of(src, VDC_CLIPBOARD_SELECTION_CLIPBOARD), 0);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev),
                      EMPTY_ANSWER_WIRE);
    for (i = 0; i < 3; i++) {
        guest_request_text(src, ga);
        ck_assert_uint_eq(pending_of(src, VDC_CLIPBOARD_SELECTION_CLIPBOARD), 0);
    }
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev),
                      4 * EMPTY_ANSWER_WIRE);
    ck_assert_uint_eq(hp->requests->len, 1);
    ck_assert_uint_eq(src->wire->len, 0);

    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_saves_same(dst, stream);
    dest_resume(dst, ga);
    ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), 0);
    ck_assert_uint_eq(guest_agent_n_received(ga), 4);
    assert_empty_answers(ga, 4);
    ck_agent_clean(ga);
    ck_assert_uint_eq(pending_of(dst, VDC_CLIPBOARD_SELECTION_CLIPBOARD), 0);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/*
 * B2: a request after the guest's own grab, paused or running: answered
 * at once, empty, never forwarded and never pending.
 */
START_TEST(test_request_own_selection_after_grab_answered_at_once)
{
    VdcConfig config = mig_config();
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    bool paused = _i;
    GuestAgent *ga = real_agent();
    TestFe *src = fe_new_detached(&config);
    HostPeer *hp = fe_peer_new(src);
    g_autoptr(GByteArray) stream = NULL;
    TestFe *dst;

    mig_connect(src, ga);
    if (paused) {
        vdc_chardev_set_running(src->dev, false);
    }
    guest_agent_send_grab(ga, VDC_CLIPBOARD_SELECTION_CLIPBOARD, &text, 1);
    fe_pump(src);
    guest_request_text(src, ga);
    guest_request_text(src, ga);
    ck_assert_uint_eq(pending_of(src, VDC_CLIPBOARD_SELECTION_CLIPBOARD), 0);
    ck_assert_uint_eq(hp->requests->len, 0);
    if (!paused) {
        assert_empty_answers(ga, 2);
    } else {
        ck_assert_uint_eq(vdc_chardev_pending_output(src->dev),
                          2 * EMPTY_ANSWER_WIRE);
    }

    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_saves_same(dst, stream);
    dest_resume(dst, ga);
    assert_empty_answers(ga, 2);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/* ---- B1: the display layout ------------------------------------------- */

/* The two heads of vdagent-host's demo. */
static const VdcInputHeadGeometry two_heads[2] = {
    { .width = 1024, .height = 768, .x = 0, .y = 0 },
    { .width = 800, .height = 600, .x = 1024, .y = 0 },
};

/* The latest MOUSE_STATE the agent decoded: x, y, buttons, display. */
static void assert_agent_mouse(GuestAgent *ga, uint32_t x, uint32_t y,
                               uint32_t display)
{
    const GuestAgentMsg *m = guest_agent_find_last(ga, VD_AGENT_MOUSE_STATE);

    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->size, 13);
    ck_assert_uint_eq(test_le32(m->data), x);
    ck_assert_uint_eq(test_le32(m->data + 4), y);
    ck_assert_uint_eq(m->data[12], display);
}

static void pointer_at(VdcInputRouter *r, unsigned head, int32_t x, int32_t y)
{
    ck_assert(vdc_input_send_abs(r, head, VDC_INPUT_AXIS_X, x));
    ck_assert(vdc_input_send_abs(r, head, VDC_INPUT_AXIS_Y, y));
    vdc_input_event_sync(r);
}

static void assert_device_mouse(TestFe *fe, uint32_t x, uint32_t y,
                                uint32_t display)
{
    VdcMouse m;

    vdc_chardev_mouse_state(fe->dev, &m);
    ck_assert_uint_eq(m.x, x);
    ck_assert_uint_eq(m.y, y);
    ck_assert_uint_eq(m.display_id, display);
}

static void assert_layout(VdcInputRouter *r, const VdcInputHeadGeometry *heads,
                          unsigned n)
{
    unsigned i;

    ck_assert_uint_eq(vdc_input_router_n_heads(r), n);
    for (i = 0; i < n; i++) {
        VdcInputHeadGeometry h;

        ck_assert(vdc_input_router_head(r, i, &h));
        ck_assert_uint_eq(h.width, heads[i].width);
        ck_assert_uint_eq(h.height, heads[i].height);
        ck_assert_int_eq(h.x, heads[i].x);
        ck_assert_int_eq(h.y, heads[i].y);
    }
}

/* Where subsection @name starts in @s (its 0x05 marker), or -1. */
static long find_subsection(const GByteArray *s, const char *name)
{
    g_autoptr(GByteArray) pat = g_byte_array_new();
    guint i;

    app_u8(pat, 0x05);
    app_str8(pat, name);
    for (i = 0; i + pat->len <= s->len; i++) {
        if (memcmp(s->data + i, pat->data, pat->len) == 0) {
            return i;
        }
    }
    return -1;
}

/* The "vdagent/heads" subsection of @n @heads, as the layout writes it. */
static GByteArray *heads_subsection(const VdcInputHeadGeometry *heads, unsigned n)
{
    GByteArray *b = g_byte_array_new();
    unsigned i;

    app_u8(b, 0x05);
    app_str8(b, "vdagent/heads");
    test_append_be32(b, 1);                  /* version */
    test_append_be32(b, n);
    for (i = 0; i < n; i++) {
        test_append_be32(b, heads[i].width);
        test_append_be32(b, heads[i].height);
        test_append_be32(b, (uint32_t)heads[i].x);
        test_append_be32(b, (uint32_t)heads[i].y);
    }
    return b;
}

/* The layout's subsection is in @stream, byte for byte. */
static void assert_heads_in(const GByteArray *stream,
                            const VdcInputHeadGeometry *heads, unsigned n)
{
    g_autoptr(GByteArray) want = heads_subsection(heads, n);
    long at = find_subsection(stream, "vdagent/heads");

    ck_assert_int_ge(at, 0);
    ck_assert_uint_le(at + want->len, stream->len);
    ck_assert_mem_eq(stream->data + at, want->data, want->len);
}

/* A source, monitors on, connected to a Linux-like agent (@ga). */
static TestFe *src_with_heads(GuestAgent *ga)
{
    VdcConfig config = fe_config(true, true, true);
    TestFe *src = fe_new_detached(&config);

    mig_connect(src, ga);
    ck_assert(vdc_input_router_set_geometry(src->router, two_heads, 2));
    ck_assert(guest_agent_find_last(ga, VD_AGENT_MONITORS_CONFIG));
    return src;
}

/*
 * B1, the case found: two heads, the pointer last on the second one; a
 * destination started with the default single head loads the stream, takes
 * the source's layout (the agent was told of two heads), saves the same
 * bytes, tells the agent nothing again on resume, and moves the pointer on
 * head 1 as the source did.
 */
START_TEST(test_heads_pointer_on_second_migrates_to_default_dest)
{
    GuestAgent *ga = real_agent();
    TestFe *src = src_with_heads(ga);
    g_autoptr(GByteArray) stream = NULL;
    TestFe *dst;

    pointer_at(src->router, 1, 16384, 16384);
    assert_agent_mouse(ga, 399, 299, 1);
    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    assert_heads_in(stream, two_heads, 2);

    src->ga = NULL;
    dst = dest_new(src);
    ck_assert_uint_eq(vdc_input_router_n_heads(dst->router), 1);
    dest_load_ok(dst, stream);
    assert_layout(dst->router, two_heads, 2);
    assert_device_mouse(dst, 399, 299, 1);
    assert_saves_same(dst, stream);
    guest_agent_clear_received(ga);
    dest_resume(dst, ga);
    ck_assert_uint_eq(guest_agent_n_received(ga), 0);
    pointer_at(dst->router, 1, 32767, 16384);
    assert_agent_mouse(ga, 799, 299, 1);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/*
 * B1: a layout that drops the head the pointer was on moves the pointer's
 * display to a head that exists (the last one), and the state migrates:
 * back to the default single head (no layout in the stream), or to one
 * other head (its layout in the stream).
 */
START_TEST(test_heads_shrink_clamps_pointer_display)
{
    static const VdcInputHeadGeometry shrunk[2][1] = {
        { { .width = 1024, .height = 768 } },
        { { .width = 640, .height = 480, .x = 10, .y = 20 } },
    };
    const VdcInputHeadGeometry *layout = shrunk[_i];
    GuestAgent *ga = real_agent();
    TestFe *src = src_with_heads(ga);
    g_autoptr(GByteArray) stream = NULL;
    const GuestAgentMsg *m;
    TestFe *dst;

    pointer_at(src->router, 1, 16384, 16384);
    assert_device_mouse(src, 399, 299, 1);
    ck_assert(vdc_input_router_set_geometry(src->router, layout, 1));
    assert_device_mouse(src, 399, 299, 0);
    m = guest_agent_find_last(ga, VD_AGENT_MONITORS_CONFIG);
    ck_assert_uint_eq(test_le32(m->data), 1);
    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    if (_i == 0) {
        ck_assert_int_eq(find_subsection(stream, "vdagent/heads"), -1);
    } else {
        assert_heads_in(stream, layout, 1);
    }

    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_layout(dst->router, layout, 1);
    assert_device_mouse(dst, 399, 299, 0);
    assert_saves_same(dst, stream);
    dest_resume(dst, ga);
    pointer_at(dst->router, 0, 0, 0);
    assert_agent_mouse(ga, 0, 0, 0);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/*
 * B1: a display that loses its head to a disabled one (0x0) moves too: to
 * the last enabled head, as the agent numbers them (every head for an
 * agent with SPARSE_MONITORS_CONFIG).
 */
START_TEST(test_heads_disabled_clamps_pointer_display)
{
    static const VdcInputHeadGeometry three[3] = {
        { .width = 1024, .height = 768 },
        { .width = 800, .height = 600, .x = 1024 },
        { .width = 640, .height = 480, .x = 1824 },
    };
    static const VdcInputHeadGeometry third_off[3] = {
        { .width = 1024, .height = 768 },
        { .width = 800, .height = 600, .x = 1024 },
        { .width = 0, .height = 0 },
    };
    GuestAgent *ga = real_agent();
    TestFe *src = src_with_heads(ga);
    g_autoptr(GByteArray) stream = NULL;
    TestFe *dst;

    ck_assert(vdc_input_router_set_geometry(src->router, three, 3));
    pointer_at(src->router, 2, 0, 0);
    assert_device_mouse(src, 0, 0, 2);
    ck_assert(vdc_input_router_set_geometry(src->router, third_off, 3));
    assert_device_mouse(src, 0, 0, 1);
    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    assert_heads_in(stream, third_off, 3);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_layout(dst->router, third_off, 3);
    assert_saves_same(dst, stream);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/* A layout subsection that could not be set, or a pointer beyond it. */
static const struct {
    const char *name;
    unsigned field;              /* byte offset after the subsection start */
    uint32_t value;
    const char *error;           /* in the load's error */
} bad_layouts[] = {
    /* marker (1) + name (14) + version (4): n at 19, heads from 23 */
    { "no head", 19, 0, "heads" },
    { "17 heads", 19, 17, "heads" },
    { "a head too wide", 23 + 16, 32768, "heads" },
    { "width without height", 23 + 16 + 4, 0, "heads" },
};

START_TEST(test_heads_bad_layout_refused)
{
    GuestAgent *ga = real_agent();
    TestFe *src = src_with_heads(ga);
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GError) err = NULL;
    long at;
    TestFe *dst;

    pointer_at(src->router, 1, 0, 0);
    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    dst = dest_new(src);
    if (_i < (int)G_N_ELEMENTS(bad_layouts)) {
        at = find_subsection(stream, "vdagent/heads");
        ck_assert_int_ge(at, 0);
        test_put_be32(stream->data + at + bad_layouts[_i].field,
                      bad_layouts[_i].value);
    } else {
        /* the pointer on a head the stream's layout lacks */
        at = find_subsection(stream, "vdagent/mouse");
        ck_assert_int_ge(at, 0);
        test_put_be32(stream->data + at + 19 + 12, 2);
    }
    ck_assert(!load_dev(dst->dev, stream->data, stream->len, &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err->message, _i < (int)G_N_ELEMENTS(bad_layouts)
                                       ? bad_layouts[_i].error : "mouse"),
                  "%s", err->message);
    /* fresh, and the destination's layout untouched */
    ck_assert(!vdc_chardev_connected(dst->dev));
    ck_assert_uint_eq(vdc_input_router_n_heads(dst->router), 1);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

/* ---- the parser ----------------------------------------------------------- */

/*
 * Found by fuzz_device: a message header of a bad protocol filling its
 * chunk exactly (20 bytes) marked "skip the rest of the chunk" after the
 * chunk had ended; with part of the next chunk header pushed, that state
 * saved a skip outside any chunk, which the loader refused ("chunk bytes
 * outside a chunk").  The guest's next message still parses, on the
 * source and on the destination.
 */
START_TEST(test_bad_protocol_header_ending_its_chunk_migrates)
{
    VdcConfig config = mig_config();
    GuestAgent *ga = real_agent();
    TestFe *src = fe_new_detached(&config);
    g_autoptr(GByteArray) bad = g_byte_array_new();
    g_autoptr(GByteArray) next = g_byte_array_new();
    g_autoptr(GByteArray) stream = NULL;
    VdcCounters c;
    TestFe *dst;

    mig_connect(src, ga);
    guest_wire_message(bad, 0, VD_AGENT_REPLY, 0, 0, NULL, 0);
    ck_assert_uint_eq(bad->len, 8 + 20);
    guest_agent_send_reply(ga, VD_AGENT_MONITORS_CONFIG, VD_AGENT_SUCCESS);
    take_into(next, ga);
    fe_push(src, bad->data, bad->len);
    fe_push(src, next->data, 4);
    c = fe_counters(src);
    ck_assert_uint_eq(c.drops[VDC_DROP_BAD_PROTOCOL], 1);

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    assert_saves_same(dst, stream);
    dest_resume(dst, ga);
    fe_push(dst, next->data + 4, next->len - 4);
    c = fe_counters(dst);
    ck_assert_uint_eq(c.msgs_in[VD_AGENT_REPLY], 1);
    fe_free(dst);
    fe_free(src);
    guest_agent_free(ga);
}
END_TEST

Suite *vdagent_migration_reachable_suite(void)
{
    Suite *s = suite_create("vdagent-migration-reachable");
    TCase *tc;

    tc = tcase_create("own-selection");
    tcase_add_test(tc, test_request_own_selection_before_grab_answered_at_once);
    tcase_add_loop_test(tc, test_request_own_selection_after_grab_answered_at_once,
                        0, 2);
    suite_add_tcase(s, tc);

    /* The same with the Windows agent (issue 22). */
    tc = tcase_create("own-selection-windows");
    tcase_add_checked_fixture(tc, mig_model_windows, mig_model_linux);
    tcase_add_test(tc, test_request_own_selection_before_grab_answered_at_once);
    tcase_add_loop_test(tc, test_request_own_selection_after_grab_answered_at_once,
                        0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("parser");
    tcase_add_test(tc, test_bad_protocol_header_ending_its_chunk_migrates);
    suite_add_tcase(s, tc);

    tc = tcase_create("heads");
    tcase_add_test(tc, test_heads_pointer_on_second_migrates_to_default_dest);
    tcase_add_loop_test(tc, test_heads_shrink_clamps_pointer_display, 0, 2);
    tcase_add_test(tc, test_heads_disabled_clamps_pointer_display);
    tcase_add_loop_test(tc, test_heads_bad_layout_refused, 0,
                        G_N_ELEMENTS(bad_layouts) + 1);
    suite_add_tcase(s, tc);

    return s;
}
