/*
 * check_vdagent_reentry.c: a frontend that calls back into the device from
 * inside its write() callback, as vdagent/vdc-vdagent.h allows (issue 20, A).
 *
 * Each test sets a hook on the fake frontend (tests/test-frontend.h) that
 * acts once, from inside the write() that completes a chosen message (as
 * the scripted guest agent, fed before the hook runs, decoded it): a close,
 * a close and reopen, a stop, a stop and resume.  Then it checks what the
 * defect broke:
 *   A1  the bytes write() was handed stay readable whatever it does;
 *   A2  a session reopened from inside write() starts clean: the caps
 *       request first and alone, nothing queued for the old session;
 *   A3  whatever state is left saves, loads into a fresh device and saves
 *       again to the same bytes;
 *   A4  a stop from inside write() takes effect at once (nothing more is
 *       written while stopped) and everything goes out on resume.
 * Every hook also fails the test on a write while the device is stopped.
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "vdagent/vdc-vdagent.h"

/* ---- a hook acting once, on the write that completes a message ---------- */

typedef struct OnMessage OnMessage;
typedef void (*OnMessageAct)(TestFe *fe, const TestFeCall *call,
                             OnMessage *om);

struct OnMessage {
    uint32_t type;           /* the message type to act on */
    unsigned nth;            /* its occurrence, 0 for the first */
    OnMessageAct act;
    /* progress */
    size_t seen;             /* messages the agent had decoded */
    unsigned count;          /* of @type */
    bool done;
    size_t mark;             /* fe->wire->len once @act returned */
    unsigned writes;         /* fe->writes once @act returned */
};

static void on_message_hook(TestFe *fe, const TestFeCall *call, void *opaque)
{
    OnMessage *om = opaque;
    size_t n;

    if (call->kind != FE_CALL_WRITE) {
        return;
    }
    CHECK(vdc_chardev_running(fe->dev), "a write while stopped");
    if (om->done || !fe->ga) {
        return;
    }
    n = guest_agent_n_received(fe->ga);
    for (; om->seen < n; om->seen++) {
        if (guest_agent_received(fe->ga, om->seen)->type != om->type) {
            continue;
        }
        if (om->count++ == om->nth) {
            om->done = true;
            om->act(fe, call, om);
            om->mark = fe->wire->len;
            om->writes = fe->writes;
            return;
        }
    }
}

static void set_on_message(TestFe *fe, OnMessage *om, uint32_t type,
                           unsigned nth, OnMessageAct act)
{
    *om = (OnMessage){ .type = type, .nth = nth, .act = act };
    fe_set_hook(fe, on_message_hook, om);
}

/* A device with mouse, clipboard and heads, an agent like the Linux one. */
static TestFe *fe_full(void)
{
    VdcConfig config = fe_config(true, true, true);

    return fe_new1(&config, REAL_AGENT_CAPS);
}

/* The @i-th message the agent decoded, of type @type. */
static const GuestAgentMsg *msg_at(const GuestAgent *ga, size_t i,
                                   uint32_t type)
{
    const GuestAgentMsg *m;

    ck_assert_uint_gt(guest_agent_n_received(ga), i);
    m = guest_agent_received(ga, i);
    ck_assert_uint_eq(m->type, type);
    return m;
}

/* ---- A1: the buffer write() was handed ---------------------------------- */

/*
 * Reuse what was just freed: blocks of every small size filled with 0xA5,
 * so that bytes read through a dangling pointer no longer read as they did
 * (under ASan the read itself is reported).  Free the result after use.
 */
static GPtrArray *groom_heap(void)
{
    GPtrArray *blocks = g_ptr_array_new_with_free_func(g_free);
    size_t size;
    unsigned k;

    for (size = 8; size <= 4096; size += 8) {
        for (k = 0; k < 4; k++) {
            uint8_t *p = g_malloc(size);

            memset(p, 0xA5, size);
            g_ptr_array_add(blocks, p);
        }
    }
    return blocks;
}

static void act_close_open_close(TestFe *fe, const TestFeCall *call,
                                 OnMessage *om)
{
    g_autofree uint8_t *copy = g_memdup2(call->buf, call->len);
    g_autoptr(GPtrArray) blocks = NULL;

    (void)om;
    vdc_chardev_set_guest_open(fe->dev, false);
    vdc_chardev_set_guest_open(fe->dev, true);
    vdc_chardev_set_guest_open(fe->dev, false);
    blocks = groom_heap();
    ck_assert_mem_eq(call->buf, copy, call->len);
}

/*
 * A1: close, open, close from inside the write of MONITORS_CONFIG (sent
 * while the device answers the guest's caps): @buf stays valid for the
 * whole call, and nothing of either session is written afterwards.
 */
START_TEST(test_write_buffer_outlives_close_open_close)
{
    TestFe *fe = fe_full();
    OnMessage om;

    set_on_message(fe, &om, VD_AGENT_MONITORS_CONFIG, 0, act_close_open_close);
    fe_open(fe);
    ck_assert(om.done);
    ck_assert(!vdc_chardev_connected(fe->dev));
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    /* the session ended inside its caps answer: no guest_caps() for it */
    ck_assert_uint_eq(fe->guest_caps, 0);
    ck_assert_uint_eq(fe->wire->len, om.mark);
    ck_assert(!vdc_chardev_mouse_active(fe->dev));

    /* the device works: a new session from the start */
    fe_set_hook(fe, NULL, NULL);
    g_byte_array_set_size(fe->wire, 0);
    fe_new_agent(fe);
    fe_open(fe);
    ck_assert(vdc_chardev_connected(fe->dev));
    ck_assert_uint_eq(fe->guest_caps, 1);
    ck_assert(vdc_chardev_mouse_active(fe->dev));
    fe_free(fe);
}
END_TEST

/* ---- A2: a session reopened from inside write() ------------------------- */

static void act_close_reopen_new_agent(TestFe *fe, const TestFeCall *call,
                                       OnMessage *om)
{
    (void)call;
    (void)om;
    vdc_chardev_set_guest_open(fe->dev, false);
    /* the guest's agent restarts: a fresh decoder for the new session */
    fe_new_agent(fe);
    vdc_chardev_set_guest_open(fe->dev, true);
}

/*
 * A2: a close and reopen from inside the write of MAX_CLIPBOARD, while the
 * device answers the guest's caps with the host owning the clipboard: the
 * new session gets the caps request and nothing else until its agent
 * answers (no GRAB from the old session, no serial of the old session);
 * then the host's clipboard is offered again with serial 0.
 */
START_TEST(test_reopen_in_write_starts_new_session_clean)
{
    TestFe *fe = fe_full();
    HostPeer *hp = fe_peer_new(fe);
    const GuestAgentMsg *m;
    OnMessage om;

    hp_grab(hp, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT));
    set_on_message(fe, &om, VD_AGENT_MAX_CLIPBOARD, 0,
                   act_close_reopen_new_agent);
    fe_open(fe);
    ck_assert(om.done);
    ck_assert(vdc_chardev_connected(fe->dev));
    /* the new session so far: the caps request, alone */
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    m = msg_at(fe->ga, 0, VD_AGENT_ANNOUNCE_CAPABILITIES);
    ck_assert_uint_eq(test_le32(m->data), 1);
    ck_assert_uint_eq(fe->wire->len, om.mark + 36);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(fe->guest_caps, 0);

    /* the new agent answers: caps, heads, limit, then the host's grab */
    fe_pump(fe);
    ck_assert_uint_eq(fe->guest_caps, 1);
    ck_assert_uint_eq(guest_agent_count_type(fe->ga, VD_AGENT_CLIPBOARD_GRAB), 1);
    m = guest_agent_find(fe->ga, VD_AGENT_CLIPBOARD_GRAB, 0);
    ck_assert_uint_eq(m->size, 12);
    ck_assert_uint_eq(test_le32(m->data + 4), 0);           /* serial */
    ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert_uint_eq(guest_agent_serial(fe->ga, 0), 1);
    ck_agent_clean(fe->ga);
    ck_assert_uint_eq(hp->view[VDC_CLIPBOARD_SELECTION_CLIPBOARD].owner, 'h');
    fe_free(fe);
}
END_TEST

/* ---- A3: the state left behind migrates --------------------------------- */

static void act_close(TestFe *fe, const TestFeCall *call, OnMessage *om)
{
    (void)call;
    (void)om;
    vdc_chardev_set_guest_open(fe->dev, false);
}

/* Save @fe's device, load it into a fresh one, save that: the same bytes. */
static void assert_round_trip(TestFe *fe)
{
    g_autoptr(GByteArray) first = save_dev(fe->dev);
    g_autoptr(GByteArray) again = NULL;
    TestFe *dst = dest_new(fe);

    dest_load_ok(dst, first);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, first->len);
    ck_assert_mem_eq(again->data, first->data, first->len);
    fe_free(dst);
}

/*
 * A3: a close from inside the write of MAX_CLIPBOARD (the host owning the
 * clipboard): the device ends up closed with nothing of the session left
 * (no host grab believed announced, peer unregistered), and that state
 * migrates.
 */
START_TEST(test_close_in_caps_answer_leaves_state_migratable)
{
    TestFe *fe = fe_full();
    HostPeer *hp = fe_peer_new(fe);
    uint32_t serial[N_SEL], pending[N_SEL];
    OnMessage om;

    hp_grab(hp, VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT));
    set_on_message(fe, &om, VD_AGENT_MAX_CLIPBOARD, 0, act_close);
    fe_open(fe);
    ck_assert(om.done);
    ck_assert(!vdc_chardev_connected(fe->dev));
    ck_assert_uint_eq(fe->wire->len, om.mark);
    vdc_chardev_clipboard_state(fe->dev, serial, pending);
    for (unsigned s = 0; s < N_SEL; s++) {
        ck_assert_uint_eq(serial[s], 0);
        ck_assert_uint_eq(pending[s], 0);
    }
    assert_round_trip(fe);
    vdc_chardev_set_running(fe->dev, false);
    assert_round_trip(fe);
    fe_free(fe);
}
END_TEST

/* ---- A4: stopping from inside write() ----------------------------------- */

static void act_stop(TestFe *fe, const TestFeCall *call, OnMessage *om)
{
    (void)call;
    (void)om;
    vdc_chardev_set_running(fe->dev, false);
}

static void act_stop_resume(TestFe *fe, const TestFeCall *call, OnMessage *om)
{
    (void)call;
    (void)om;
    vdc_chardev_set_running(fe->dev, false);
    vdc_chardev_set_running(fe->dev, true);
}

/*
 * A connected device with the host owning the clipboard, whose agent
 * restarted in place (asked for caps again, got our caps asking in turn)
 * and answered while the guest side had no room: the heads, the limit and
 * the host's grab of the new session are queued, nothing written.  The
 * agent's received list is cleared; room is unlimited again.
 */
static TestFe *fe_answer_queued(void)
{
    TestFe *fe = fe_full();

    hp_grab(fe_peer_new(fe), VDC_CLIPBOARD_SELECTION_CLIPBOARD, BIT(TEXT));
    fe_open(fe);
    guest_agent_send_caps(fe->ga, true);
    fe_pump(fe);
    guest_agent_clear_received(fe->ga);
    g_byte_array_set_size(fe->wire, 0);
    fe->unlimited = false;
    fe->budget = 0;
    fe_pump(fe);
    ck_assert_uint_eq(fe->wire->len, 0);
    ck_assert_uint_gt(vdc_chardev_pending_output(fe->dev), 0);
    fe->unlimited = true;
    return fe;
}

/* What fe_answer_queued()'s device writes when given room. */
static GByteArray *reference_answer(void)
{
    TestFe *fe = fe_answer_queued();
    GByteArray *wire;

    vdc_chardev_accept_input(fe->dev);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 3);
    msg_at(fe->ga, 0, VD_AGENT_MONITORS_CONFIG);
    msg_at(fe->ga, 1, VD_AGENT_MAX_CLIPBOARD);
    msg_at(fe->ga, 2, VD_AGENT_CLIPBOARD_GRAB);
    wire = g_steal_pointer(&fe->wire);
    fe_free(fe);
    return wire;
}

/*
 * A4: a stop from inside the write of the first queued message (the
 * heads): the drain stops at once, nothing more is written while stopped
 * (limit and grab wait, accept_input() included), and on resume
 * everything goes out, exactly what a device never stopped writes, with
 * nothing left behind.
 */
START_TEST(test_stop_in_write_holds_output_until_resume)
{
    g_autoptr(GByteArray) ref = reference_answer();
    TestFe *fe = fe_answer_queued();
    OnMessage om;

    set_on_message(fe, &om, VD_AGENT_MONITORS_CONFIG, 0, act_stop);
    vdc_chardev_accept_input(fe->dev);
    ck_assert(om.done);
    ck_assert(!vdc_chardev_running(fe->dev));
    ck_assert_uint_eq(fe->writes, om.writes);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), 1);
    ck_assert_uint_eq(fe->wire->len + vdc_chardev_pending_output(fe->dev),
                      ref->len);
    vdc_chardev_accept_input(fe->dev);
    ck_assert_uint_eq(fe->wire->len, om.mark);

    vdc_chardev_set_running(fe->dev, true);
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(fe->wire->len, ref->len);
    ck_assert_mem_eq(fe->wire->data, ref->data, ref->len);
    ck_agent_clean(fe->ga);
    fe_free(fe);
}
END_TEST

/*
 * A4: a stop and a resume from inside the same write: the output goes on
 * once the write returns, as if nothing happened.
 */
START_TEST(test_stop_resume_in_write_flushes)
{
    g_autoptr(GByteArray) ref = reference_answer();
    TestFe *fe = fe_answer_queued();
    OnMessage om;

    set_on_message(fe, &om, VD_AGENT_MONITORS_CONFIG, 0, act_stop_resume);
    vdc_chardev_accept_input(fe->dev);
    ck_assert(om.done);
    ck_assert(vdc_chardev_running(fe->dev));
    ck_assert_uint_eq(vdc_chardev_pending_output(fe->dev), 0);
    ck_assert_uint_eq(fe->wire->len, ref->len);
    ck_assert_mem_eq(fe->wire->data, ref->data, ref->len);
    ck_agent_clean(fe->ga);
    fe_free(fe);
}
END_TEST

/* ---- the input room asked from inside write() -------------------------- */

typedef struct ReadInWrite {
    size_t per_write;        /* bytes the guest reads on each write */
    unsigned stop_after;     /* ... on its first that many writes */
    size_t max_pushed;       /* most guest bytes pushed in one write */
    unsigned calls;
} ReadInWrite;

/*
 * A frontend that reads the guest from inside write(), as one answering
 * synchronously does: the guest side takes @per_write more bytes, the
 * frontend says so (accept_input) and pushes what the device's room
 * allows.  Bytes pushed from a callback wait for the device's call to
 * end, and count against the room meanwhile: else the frontend, asking
 * again and again, would push everything at once.
 */
static void read_in_write_hook(TestFe *fe, const TestFeCall *call,
                               void *opaque)
{
    ReadInWrite *rw = opaque;
    size_t before = fe->held->len;

    if (call->kind != FE_CALL_WRITE) {
        return;
    }
    if (rw->calls++ < rw->stop_after) {
        fe->budget += rw->per_write;
    }
    vdc_chardev_accept_input(fe->dev);
    ck_assert_uint_le(vdc_chardev_input_room(fe->dev), VDC_INPUT_ROOM);
    fe_feed_held(fe);
    rw->max_pushed = MAX(rw->max_pushed, before - fe->held->len);
    CHECK(fe->held->len == 0 || vdc_chardev_input_room(fe->dev) == 0,
          "room left with bytes held");
}

/*
 * 5000 requests nobody can serve (answered empty), read from inside
 * write(): 2 bytes a write for 20000 writes, then none (the output
 * stalls, the state must migrate), then 600 a write.  No write ever pushes more than the room; every request is
 * answered once, in order.
 */
START_TEST(test_input_room_from_inside_write)
{
    const unsigned n = 5000;
    VdcConfig config = fe_config(true, true, true);
    TestFe *fe = fe_new1(&config, REAL_AGENT_CAPS);
    ReadInWrite rw = { .per_write = 2, .stop_after = 20000 };
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    TestFe *dst;
    unsigned rounds = 0;

    fe_open(fe);
    guest_agent_clear_received(fe->ga);
    fe->unlimited = false;
    fe->budget = 2;
    fe->honour_room = true;
    fe_set_hook(fe, read_in_write_hook, &rw);
    for (unsigned i = 0; i < n; i++) {
        guest_agent_send_request(fe->ga, 2, VD_AGENT_CLIPBOARD_IMAGE_PNG);
    }
    fe_pump(fe);
    ck_assert_uint_gt(rw.calls, 0);
    ck_assert_uint_le(rw.max_pushed, VDC_INPUT_ROOM);
    ck_assert_uint_le(fe->max_push, VDC_INPUT_ROOM);
    ck_assert_uint_gt(fe->held->len, 0);
    ck_assert_uint_le(vdc_chardev_pending_output(fe->dev),
                      VDC_INPUT_PAUSE + VDC_INPUT_ROOM + 36);

    /* The state a stalled guest left saves, loads and saves the same. */
    vdc_chardev_set_running(fe->dev, false);
    stream = save_dev(fe->dev);
    dst = dest_new(fe);
    dest_load_ok(dst, stream);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, stream->len);
    ck_assert(memcmp(again->data, stream->data, stream->len) == 0);
    fe_free(dst);
    vdc_chardev_set_running(fe->dev, true);

    rw.per_write = 600;
    rw.stop_after = UINT_MAX;
    while (fe->held->len > 0 || vdc_chardev_pending_output(fe->dev)) {
        ck_assert_uint_lt(rounds++, 10000);
        fe->budget += 600;
        fe_accept(fe);
    }
    ck_assert_uint_le(rw.max_pushed, VDC_INPUT_ROOM);
    ck_assert_uint_eq(guest_agent_n_received(fe->ga), n);
    for (unsigned i = 0; i < n; i++) {
        const GuestAgentMsg *m = msg_at(fe->ga, i, VD_AGENT_CLIPBOARD);

        ck_assert_uint_eq(m->size, 8);
        ck_assert_uint_eq(m->data[0], 2);
        ck_assert_uint_eq(test_le32(m->data + 4), VD_AGENT_CLIPBOARD_IMAGE_PNG);
    }
    ck_agent_clean(fe->ga);
    fe_free(fe);
}
END_TEST

Suite *vdagent_reentry_suite(void)
{
    Suite *s = suite_create("vdagent-reentry");
    TCase *tc;

    tc = tcase_create("buffer");
    tcase_add_test(tc, test_write_buffer_outlives_close_open_close);
    suite_add_tcase(s, tc);

    tc = tcase_create("session");
    tcase_add_test(tc, test_reopen_in_write_starts_new_session_clean);
    tcase_add_test(tc, test_close_in_caps_answer_leaves_state_migratable);
    suite_add_tcase(s, tc);

    tc = tcase_create("running");
    tcase_add_test(tc, test_stop_in_write_holds_output_until_resume);
    tcase_add_test(tc, test_stop_resume_in_write_flushes);
    suite_add_tcase(s, tc);

    tc = tcase_create("input-room");
    tcase_add_test(tc, test_input_room_from_inside_write);
    suite_add_tcase(s, tc);

    return s;
}
