/*
 * check_vdagent_migration_output.c: output queued at the save (bug R5): a
 * reply the frontend had not taken, whole or half streamed, reaches the
 * guest from the destination exactly once; a guest that asks again and
 * again without reading cannot make the save fail (issue 11) (fixture:
 * check_vdagent_migration.h).
 */
#include <check.h>
#include <string.h>

#include "tests/check_suites.h"
#include "tests/check_vdagent_migration.h"

/* ---- tests: output in flight ------------------------------------------- */

/*
 * Output the frontend took @taken bytes of: three empty clipboard
 * replies, two MOUSE_STATEs (the second with a coalesced motion), and
 * the answer to a restarted agent's caps request (our caps, asking in
 * turn: the new session starts on its answer, not given here).
 */
static void queue_output(TestFe *src, GuestAgent *ga, size_t taken)
{
    VdcInputRouter *r = vdc_chardev_input_router(src->dev);

    src->unlimited = false;
    src->budget = taken;
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    guest_agent_send_request(ga, MIG_SEL(1), VD_AGENT_CLIPBOARD_IMAGE_PNG);
    guest_agent_send_request(ga, MIG_SEL(2), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(src);
    ck_assert(vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, ABS_X_100));
    ck_assert(vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_Y, ABS_Y_200));
    vdc_input_event_sync(r);
    ck_assert(vdc_input_send_btn(r, 0, VDC_INPUT_BUTTON_RIGHT, true));
    vdc_input_event_sync(r);
    ck_assert(vdc_input_send_abs(r, 0, VDC_INPUT_AXIS_X, VDC_INPUT_ABS_MAX));
    vdc_input_event_sync(r);
    guest_agent_send_caps(ga, true);
    fe_pump(src);
}

/* Bytes of queue_output() in all. */
static size_t queued_output_len(void)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    TestFe *p = fe_new_detached(&config);
    size_t n;

    mig_connect(p, ga);
    queue_output(p, ga, 0);
    n = vdc_chardev_pending_output(p->dev);
    fe_free(p);
    return n;
}

/*
 * For every amount the frontend took before the stop: the destination
 * delivers exactly the bytes the source would have delivered when resumed
 * instead, and the agent decodes the whole stream (the part the source
 * wrote, then the destination's) without an error.
 */
START_TEST(test_queued_output)
{
    const size_t total = queued_output_len();

    ck_assert_uint_gt(total, 200);
    for (size_t taken = 0; taken <= total + 45; taken++) {
        VdcConfig config = mig_config();
        g_autoptr(GuestAgent) ga = real_agent();
        g_autoptr(GByteArray) stream = NULL;
        g_autoptr(GByteArray) would = NULL;
        TestFe *src, *dst;
        const GuestAgentMsg *m;
        size_t pending, n_mouse;

        src = fe_new_detached(&config);
        mig_connect(src, ga);
        g_byte_array_set_size(src->wire, 0);
        queue_output(src, ga, taken);
        /* A motion is merged only into a MOUSE_STATE not yet started. */
        pending = vdc_chardev_pending_output(src->dev);
        ck_assert(src->wire->len == taken ||
                  (src->wire->len < taken && pending == 0));
        vdc_chardev_set_running(src->dev, false);
        stream = save_dev(src->dev);

        /* The source resumed instead: what it would have written. */
        src->ga = NULL;
        g_byte_array_set_size(src->wire, 0);
        src->unlimited = true;
        vdc_chardev_set_running(src->dev, true);
        vdc_chardev_accept_input(src->dev);
        would = bytes_copy(src->wire->data, src->wire->len);
        ck_assert_uint_eq(would->len, pending);

        dst = dest_new(src);
        dest_load_ok(dst, stream);
        ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), pending);
        dest_resume(dst, ga);
        ck_assert_msg(dst->wire->len == would->len &&
                      (would->len == 0 ||
                       memcmp(dst->wire->data, would->data, would->len) == 0),
                      "taken %zu: the destination wrote %u bytes, the source "
                      "would have written %u", taken, dst->wire->len,
                      would->len);
        ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), 0);

        ck_agent_clean(ga);
        ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 3);
        n_mouse = guest_agent_count_type(ga, VD_AGENT_MOUSE_STATE);
        ck_assert_uint_ge(n_mouse, 2);
        ck_assert_uint_le(n_mouse, 3);
        ck_assert_uint_eq(
            guest_agent_count_type(ga, VD_AGENT_ANNOUNCE_CAPABILITIES), 1);
        /* the restart's limit follows the agent's answer, not sent here */
        ck_assert_uint_eq(
            guest_agent_count_type(ga, VD_AGENT_MAX_CLIPBOARD), 0);
        m = guest_agent_find(ga, VD_AGENT_MOUSE_STATE, n_mouse - 1);
        ck_assert_uint_eq(test_le32(m->data), 1023);
        ck_assert_uint_eq(test_le32(m->data + 4), 200);
        ck_assert_uint_eq(test_le32(m->data + 8), VD_AGENT_RBUTTON_MASK);
        /* an agent asking again restarted: our caps ask in turn */
        m = guest_agent_find(ga, VD_AGENT_ANNOUNCE_CAPABILITIES, 0);
        ck_assert_uint_eq(test_le32(m->data), 1);
        fe_free(dst);
        fe_free(src);
    }
}
END_TEST

/*
 * Host text towards the model's agent (the pattern holds LFs: the Windows
 * agent gets them as CRLF): the bytes it receives after the CLIPBOARD
 * head, and the wire bytes of the whole answer (mig_wire_len()).
 */
typedef struct Answer {
    GByteArray *text;            /* mig_text_to_guest() */
    size_t size;                 /* the message's size */
    size_t wire;
} Answer;

static Answer answer_of(const uint8_t *data, size_t n)
{
    Answer a;

    a.text = mig_text_to_guest(data, n);
    ck_assert(mig_model == GUEST_AGENT_LINUX || a.text->len > n);
    a.size = MIG_CLIP_HEAD + a.text->len;
    a.wire = mig_wire_len(a.size);
    return a;
}

/* @m is that answer, of @sel (the model's selection), byte-exact. */
static void ck_answer(const GuestAgentMsg *m, const Answer *a, unsigned sel)
{
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, a->size);
    if (MIG_PREFIX) {
        ck_assert_uint_eq(m->data[0], sel);
    }
    ck_assert_uint_eq(test_le32(m->data + MIG_PREFIX),
                      VD_AGENT_CLIPBOARD_UTF8_TEXT);
    ck_assert(memcmp(m->data + MIG_CLIP_HEAD, a->text->data,
                     a->text->len) == 0);
}

/* @m is an empty answer (no data) for text. */
static void ck_empty_answer(const GuestAgentMsg *m)
{
    ck_assert_uint_eq(m->type, VD_AGENT_CLIPBOARD);
    ck_assert_uint_eq(m->size, MIG_CLIP_HEAD);
    ck_assert_uint_eq(test_le32(m->data + MIG_PREFIX),
                      VD_AGENT_CLIPBOARD_UTF8_TEXT);
}

/* Bytes of an answer the frontend took: from its start, from its end
 * (TAKEN_END(n): n bytes before it), or half of it (TAKEN_HALF). */
#define TAKEN_HALF (-1L)
#define TAKEN_END(n) (-2L - (long)(n))

static size_t taken_of(long t, size_t wire)
{
    if (t == TAKEN_HALF) {
        return wire / 2;
    }
    return t < 0 ? wire - (size_t)(-2L - t) : (size_t)t;
}

#define BIG_REPLY (1024u * 1024)

/* How much of the reply (1 MiB, the head and the header of 20 bytes, in
 * 2048-byte chunks) the frontend took before the stop. */
static const long big_taken[] = {
    0, 3, 8, 8 + 11, 8 + 20, 8 + 20 + 5, 2056, 2056 + 7, 2056 * 3 + 8,
    2056 * 100 + 1000, TAKEN_HALF, TAKEN_END(2048 + 8 + 4), TAKEN_END(9),
    TAKEN_END(1),
};

/*
 * A 1 MiB host clipboard reply half streamed: the frontend took
 * big_taken[_i] bytes (inside a chunk header, a message header, a
 * payload...).  The agent receives the complete reply across the two
 * devices, byte-exact (the Windows agent: converted once, whatever the
 * source had converted and written).
 */
START_TEST(test_large_reply_half_streamed)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(BIG_REPLY, 11);
    const uint32_t text = VD_AGENT_CLIPBOARD_UTF8_TEXT;
    const unsigned sel = MIG_SEL(2);
    Answer a = answer_of(data, BIG_REPLY);
    const size_t taken = taken_of(big_taken[_i], a.wire);
    const GuestAgentMsg *m;
    HostPeer *hp;
    TestFe *src, *dst;

    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, sel, VDC_CLIPBOARD_TYPE_TEXT, data, BIG_REPLY);
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    src->unlimited = false;
    src->budget = taken;
    guest_agent_send_request(ga, sel, text);
    fe_pump(src);
    ck_assert_uint_eq(src->wire->len, taken);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), a.wire - taken);

    dst = migrate(src, false);
    ck_assert_uint_eq(dst->wire->len, a.wire - taken);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    m = guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0);
    ck_answer(m, &a, sel);
    ck_assert_uint_eq(m->n_chunks, (a.size + 20 + 2047) / 2048);
    g_byte_array_unref(a.text);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/* Host text whose answer is cut at every byte: LF first, LFs every 41
 * bytes up to CUT_LF_END, a CRLF already there, and one LF placed where,
 * converted for the Windows agent, its CR ends the device's first chunk
 * and the LF starts the second. */
#define CUT_TEXT 2100u
#define CUT_LF_END 1800u

static uint8_t *cut_text(void)
{
    uint8_t *t = g_malloc(CUT_TEXT);
    /* the first chunk's text bytes (converted), after header and head */
    const size_t first = 2048 - 20 - MIG_CLIP_HEAD;
    size_t bare = 0;

    for (size_t i = 0; i < CUT_TEXT; i++) {
        t[i] = 'a' + i % 26;
    }
    t[0] = '\n';
    for (size_t i = 37; i < CUT_LF_END; i += 41) {
        t[i] = '\n';
    }
    t[500] = '\r';
    t[501] = '\n';
    for (size_t i = 0; i < CUT_LF_END; i++) {
        bare += t[i] == '\n' && (i == 0 || t[i - 1] != '\r');
    }
    /* Windows: the source byte at converted offset first - 1 */
    t[first - 1 - (mig_model == GUEST_AGENT_WINDOWS ? bare : 0)] = '\n';
    return t;
}

/*
 * For every amount of the answer to the guest's request for that text the
 * frontend took before the stop (a chunk header, the message header, an
 * inserted CR, its LF, ...): the agent gets it whole across the two
 * devices, converted exactly once for the Windows agent.
 */
START_TEST(test_text_answer_every_cut)
{
    g_autofree uint8_t *data = cut_text();
    Answer a = answer_of(data, CUT_TEXT);

    if (mig_model == GUEST_AGENT_WINDOWS) {
        /* the first chunk ends with an inserted CR */
        const size_t c = 2048 - 20 - MIG_CLIP_HEAD;

        ck_assert_uint_eq(a.text->data[c - 1], '\r');
        ck_assert_uint_eq(a.text->data[c], '\n');
    }
    for (size_t taken = 0; taken <= a.wire; taken++) {
        VdcConfig config = mig_config();
        g_autoptr(GuestAgent) ga = real_agent();
        TestFe *src, *dst;
        HostPeer *hp;

        src = fe_new_detached(&config);
        mig_connect(src, ga);
        hp = fe_peer_new(src);
        hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, CUT_TEXT);
        guest_agent_clear_received(ga);
        g_byte_array_set_size(src->wire, 0);
        src->unlimited = false;
        src->budget = taken;
        guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(src);
        ck_assert_uint_eq(src->wire->len, taken);
        ck_assert_uint_eq(vdc_chardev_pending_output(src->dev),
                          a.wire - taken);

        dst = migrate(src, false);
        ck_assert_msg(dst->wire->len == a.wire - taken,
                      "taken %zu: the destination wrote %u of %zu", taken,
                      dst->wire->len, a.wire - taken);
        ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
        ck_answer(guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0), &a, 0);
        ck_agent_clean(ga);
        fe_free(dst);
        fe_free(src);
    }
    g_byte_array_unref(a.text);
}
END_TEST

/* ---- a guest that asks again and again without reading ----------------- */

/* A small max_message: the saver's bound is 4 x 64 KiB + 1 MiB. */
#define FLOOD_MAX_MESSAGE (64u * 1024)
#define FLOOD_BOUND ((uint64_t)FLOOD_MAX_MESSAGE * 4 + 1024 * 1024)
/* The host's clipboard: each answer carries 1 MiB (of LF text: the
 * Windows agent's answers are longer, answer_of()). */
#define FLOOD_DATA (1024u * 1024)
/* Requests sent: 12 MiB of answers, far above the saver's bound, within
 * the 16 that may wait behind the one answered at once. */
#define FLOOD_N 12

/*
 * A source whose host peer owns CLIPBOARD text of FLOOD_DATA bytes (the
 * pattern of @seed) and whose guest sent @n requests for it while the
 * frontend gave no room.  The queued output stays within max_message and
 * one answer: the rest wait, counted (past 16 waiting, answered empty).
 */
static TestFe *flood_start(GuestAgent *ga, unsigned n, const uint8_t *data)
{
    VdcConfig config = mig_config();
    Answer a = answer_of(data, FLOOD_DATA);
    const size_t wire = a.wire;
    TestFe *src;
    HostPeer *hp;

    g_byte_array_unref(a.text);
    config.max_message = FLOOD_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, FLOOD_DATA);
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    src->unlimited = false;
    src->budget = 0;
    for (unsigned i = 0; i < n; i++) {
        guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(src);
        ck_assert_uint_le(vdc_chardev_pending_output(src->dev),
                          FLOOD_MAX_MESSAGE + wire);
    }
    ck_assert_uint_eq(src->wire->len, 0);
    /* One answer queued, and an empty one past the limit (36 wire bytes,
     * 32 without the selection prefix). */
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev),
                      wire + mig_wire_len(MIG_CLIP_HEAD) *
                      (n > 17 ? n - 17 : 0));
    return src;
}

/* @n answers, each the whole data, byte-exact, and nothing else. */
static void ck_flood_answers(const GuestAgent *ga, unsigned n,
                             const uint8_t *data)
{
    Answer a = answer_of(data, FLOOD_DATA);

    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), n);
    ck_assert_uint_eq(guest_agent_n_received(ga), n);
    for (unsigned i = 0; i < n; i++) {
        ck_answer(guest_agent_find(ga, VD_AGENT_CLIPBOARD, i), &a, 0);
    }
    g_byte_array_unref(a.text);
    ck_agent_clean(ga);
}

/*
 * Issue 11 (fuzz_device): the guest asks FLOOD_N times without reading.
 * The answers were queued each time (a 1 MiB copy each in the save), and
 * the save refused the queue: the guest made the migration fail.  Now one
 * answer is queued and the others wait as pending requests: the save
 * succeeds, loads into a fresh device that saves the same bytes, and the
 * guest reading on the destination gets every answer once, in order.
 */
START_TEST(test_request_flood_migrates)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(FLOOD_DATA, 23);
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    TestFe *src, *dst;

    src = flood_start(ga, FLOOD_N, data);
    ck_assert_uint_eq(fe_counters(src).requests_deferred, FLOOD_N - 1);
    ck_assert_uint_eq(fe_counters(src).requests_refused, 0);

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    ck_assert_uint_lt(stream->len, FLOOD_BOUND);
    src->ga = NULL;
    dst = dest_new(src);
    hp_restore(g_ptr_array_index(src->peers, 0), dst);
    dest_load_ok(dst, stream);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, stream->len);
    ck_assert(memcmp(again->data, stream->data, stream->len) == 0);

    dest_resume(dst, ga);
    ck_flood_answers(ga, FLOOD_N, data);
    ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), 0);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The same without a migration: the guest reads slowly (@_i + 1 bytes of
 * 100 KiB steps); every request is answered once, in order, and the
 * queued output never passes max_message + one answer.
 */
START_TEST(test_request_flood_drains)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(FLOOD_DATA, 29);
    Answer a = answer_of(data, FLOOD_DATA);
    const size_t steps[] = { 100 * 1024, 2056, a.wire };
    TestFe *src = flood_start(ga, FLOOD_N, data);
    unsigned rounds = 0;

    g_byte_array_unref(a.text);
    while (guest_agent_count_type(ga, VD_AGENT_CLIPBOARD) < FLOOD_N) {
        ck_assert_uint_lt(rounds++, 100000);
        src->budget = steps[_i];
        vdc_chardev_accept_input(src->dev);
        ck_assert_uint_le(vdc_chardev_pending_output(src->dev),
                          FLOOD_MAX_MESSAGE + a.wire);
    }
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), 0);
    ck_flood_answers(ga, FLOOD_N, data);
    fe_free(src);
}
END_TEST

/*
 * At the limit: 16 requests wait; the 18th and later are answered empty
 * at once (behind the answer already queued, ahead of the 16 waiting),
 * counted as refused.  Every request still gets exactly one answer.
 */
START_TEST(test_request_flood_limit)
{
    const unsigned n = 1 + 16 + 3;
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(FLOOD_DATA, 31);
    TestFe *src = flood_start(ga, n, data);
    VdcCounters c = fe_counters(src);

    ck_assert_uint_eq(c.requests_deferred, 16);
    ck_assert_uint_eq(c.requests_refused, 3);
    src->unlimited = true;
    vdc_chardev_accept_input(src->dev);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), 0);
    Answer a = answer_of(data, FLOOD_DATA);

    ck_assert_uint_eq(guest_agent_n_received(ga), n);
    for (unsigned i = 0; i < n; i++) {
        const GuestAgentMsg *m = guest_agent_received(ga, i);

        if (i >= 1 && i <= 3) {
            ck_empty_answer(m);
        } else {
            ck_answer(m, &a, 0);
        }
    }
    g_byte_array_unref(a.text);
    ck_agent_clean(ga);
    fe_free(src);
}
END_TEST

/*
 * Requests waiting for room when the host grabs again: answered empty
 * before the new grab reaches the guest (the old data is moot, as for a
 * request waiting for the owner); a port close forgets them.
 */
START_TEST(test_request_flood_regrab)
{
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(FLOOD_DATA, 37);
    TestFe *src = flood_start(ga, 4, data);
    HostPeer *hp = g_ptr_array_index(src->peers, 0);

    hp_grab(hp, 0, BIT(PNG));
    src->unlimited = true;
    vdc_chardev_accept_input(src->dev);
    ck_assert_uint_eq(guest_agent_n_received(ga), 5);
    {
        Answer a = answer_of(data, FLOOD_DATA);

        ck_answer(guest_agent_received(ga, 0), &a, 0);
        g_byte_array_unref(a.text);
    }
    for (unsigned i = 1; i < 4; i++) {
        ck_empty_answer(guest_agent_received(ga, i));
    }
    ck_assert_uint_eq(guest_agent_received(ga, 4)->type,
                      VD_AGENT_CLIPBOARD_GRAB);
    ck_agent_clean(ga);

    /* Again, then the port closes: nothing waits in the next session. */
    guest_agent_clear_received(ga);
    hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, FLOOD_DATA);
    src->unlimited = false;
    src->budget = 0;
    for (unsigned i = 0; i < 3; i++) {
        guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(src);
    }
    vdc_chardev_set_guest_open(src->dev, false);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), 0);
    src->unlimited = true;
    vdc_chardev_accept_input(src->dev);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), 0);
    {
        uint32_t serials[3], pending[3];

        vdc_chardev_clipboard_state(src->dev, serials, pending);
        ck_assert_uint_eq(pending[0] | pending[1] | pending[2], 0);
    }
    fe_free(src);
}
END_TEST

/*
 * Requests waiting for the owner when its 1 MiB answer comes with no room:
 * one answered, the others now wait for room, not for the owner: the
 * hub's request timer (20 ms, run for 100 ms) answers none of them empty;
 * the guest reading gets every answer with the data.
 */
START_TEST(test_request_flood_owner_answers)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(FLOOD_DATA, 41);
    Answer a = answer_of(data, FLOOD_DATA);
    TestFe *src;
    HostPeer *hp;
    gint64 end;

    g_byte_array_unref(a.text);
    config.max_message = FLOOD_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    vdc_clipboard_hub_set_timeout(src->hub, 20);
    hp = fe_peer_new(src);
    hp_grab(hp, 0, BIT(TEXT));
    guest_agent_clear_received(ga);
    src->unlimited = false;
    src->budget = 0;
    for (unsigned i = 0; i < 5; i++) {
        guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(src);
    }
    ck_assert_uint_eq(hp->requests->len, 1);
    hp_answer(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, FLOOD_DATA);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), a.wire);
    end = g_get_monotonic_time() + 100 * 1000;
    while (g_get_monotonic_time() < end) {
        g_main_context_iteration(NULL, FALSE);
    }
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), a.wire);
    src->unlimited = true;
    vdc_chardev_accept_input(src->dev);
    ck_flood_answers(ga, 5, data);
    fe_free(src);
}
END_TEST

/*
 * A shared hub stopped while the device runs, and the host grabs again in
 * it (the guest is not told until the hub resumes): requests waiting for
 * room are not answered from the new info as the guest reads; the resume's
 * replay answers them empty, before the new grab.
 */
START_TEST(test_request_flood_stopped_hub)
{
    VdcClipboardHub *hub = vdc_clipboard_hub_new();
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(FLOOD_DATA, 43);
    g_autofree uint8_t *data2 = test_pattern(FLOOD_DATA, 47);
    TestFe *src;
    HostPeer *hp;

    config.max_message = FLOOD_MAX_MESSAGE;
    config.clipboard_hub = hub;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, FLOOD_DATA);
    guest_agent_clear_received(ga);
    src->unlimited = false;
    src->budget = 0;
    for (unsigned i = 0; i < 3; i++) {
        guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
        fe_pump(src);
    }
    vdc_clipboard_hub_set_running(hub, false);
    hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data2, FLOOD_DATA);
    src->unlimited = true;
    vdc_chardev_accept_input(src->dev);
    ck_assert_uint_eq(guest_agent_n_received(ga), 1);
    {
        Answer a = answer_of(data, FLOOD_DATA);

        ck_answer(guest_agent_received(ga, 0), &a, 0);
        g_byte_array_unref(a.text);
    }
    vdc_clipboard_hub_set_running(hub, true);
    ck_assert_uint_eq(guest_agent_n_received(ga), 4);
    ck_empty_answer(guest_agent_received(ga, 1));
    ck_empty_answer(guest_agent_received(ga, 2));
    ck_assert_uint_eq(guest_agent_received(ga, 3)->type,
                      VD_AGENT_CLIPBOARD_GRAB);
    ck_agent_clean(ga);
    fe_free(src);
    vdc_clipboard_hub_free(hub);
}
END_TEST

/* ---- guest input the device answers without data ----------------------- */

/*
 * 50000 messages of 36 bytes, each answered with 36 bytes: 1.7 MiB of
 * answers, above the saver's bound of a 64 KiB max_message (which the
 * request-flood backpressure does not touch: no answer carries data).
 */
#define QUIET_FLOOD_N 50000u
#define QUIET_FLOOD_MSG 36u

/* _i 0: requests for a selection nobody owns; 1: caps requests. */
static void quiet_flood_send(GuestAgent *ga, int kind)
{
    if (kind == 0) {
        guest_agent_send_request(ga, MIG_SEL(1), VD_AGENT_CLIPBOARD_UTF8_TEXT);
    } else {
        guest_agent_send_caps(ga, true);
    }
}

/*
 * Hole (a): a guest writes requests whose answers carry no data (empty
 * answers, caps answers to caps requests) and never reads.  Each was
 * answered at once and queued: the output grew one byte per byte sent,
 * and past the saver's bound the save failed.  Now the frontend honours
 * vdc_chardev_input_room(): the device takes no byte while 64 KiB of
 * output is unread, the rest waits in the channel (fe->held).  The save
 * succeeds, loads and saves the same bytes; the channel moves with its
 * unread bytes, and the guest reading on the destination gets every
 * answer once.
 */
START_TEST(test_quiet_flood_migrates)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    uint32_t type = _i == 0 ? VD_AGENT_CLIPBOARD
                            : VD_AGENT_ANNOUNCE_CAPABILITIES;
    TestFe *src, *dst;
    unsigned rounds = 0;

    config.max_message = FLOOD_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    g_byte_array_set_size(src->wire, 0);
    src->unlimited = false;
    src->budget = 0;
    src->honour_room = true;
    for (unsigned i = 0; i < QUIET_FLOOD_N; i++) {
        quiet_flood_send(ga, _i);
        fe_pump(src);
        ck_assert_uint_le(vdc_chardev_pending_output(src->dev),
                          VDC_INPUT_PAUSE + VDC_INPUT_ROOM +
                          QUIET_FLOOD_MSG);
    }
    ck_assert_uint_eq(src->wire->len, 0);
    ck_assert_uint_le(src->max_push, VDC_INPUT_ROOM);
    ck_assert_uint_gt(src->held->len, QUIET_FLOOD_N * QUIET_FLOOD_MSG / 2);
    ck_assert_uint_eq(vdc_chardev_input_room(src->dev), 0);

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    dest_load_ok(dst, stream);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, stream->len);
    ck_assert(memcmp(again->data, stream->data, stream->len) == 0);

    /* The channel moves: what the guest wrote and nobody read goes too. */
    dst->honour_room = true;
    g_byte_array_append(dst->held, src->held->data, src->held->len);
    dest_resume(dst, ga);
    while (dst->held->len > 0) {
        ck_assert_uint_lt(rounds++, 100000);
        fe_accept(dst);
    }
    ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), 0);
    ck_assert_uint_eq(guest_agent_count_type(ga, type), QUIET_FLOOD_N);
    ck_assert_uint_eq(guest_agent_n_received(ga), QUIET_FLOOD_N);
    ck_assert_uint_eq(guest_agent_errors(ga), 0);
    for (unsigned i = 0; i < QUIET_FLOOD_N; i += 997) {
        const GuestAgentMsg *m = guest_agent_received(ga, i);

        ck_assert_uint_eq(m->type, type);
        /* empty: [sel 1] type 1; caps: request=1 (the agent asked again) */
        ck_assert_uint_eq(m->size, _i == 0 ? MIG_CLIP_HEAD : 8);
        ck_assert_uint_eq(test_le32(m->data), 1);
    }
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The same guest reading slowly, with no migration: every answer comes,
 * once, in order, and the queued output stays within the pause and one
 * room's answers whatever the reads.
 */
START_TEST(test_quiet_flood_drains)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    TestFe *src;
    unsigned rounds = 0;

    config.max_message = FLOOD_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    src->unlimited = false;
    src->budget = 0;
    src->honour_room = true;
    for (unsigned i = 0; i < QUIET_FLOOD_N / 10; i++) {
        quiet_flood_send(ga, 0);
    }
    fe_pump(src);
    ck_assert_uint_gt(src->held->len, 0);
    while (src->held->len > 0 ||
           vdc_chardev_pending_output(src->dev) > 0) {
        ck_assert_uint_lt(rounds++, 100000);
        src->budget = 1000 + rounds % 5000;
        fe_accept(src);
        ck_assert_uint_le(vdc_chardev_pending_output(src->dev),
                          VDC_INPUT_PAUSE + VDC_INPUT_ROOM +
                          QUIET_FLOOD_MSG);
    }
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD),
                      QUIET_FLOOD_N / 10);
    ck_assert_uint_eq(guest_agent_n_received(ga), QUIET_FLOOD_N / 10);
    ck_agent_clean(ga);
    fe_free(src);
}
END_TEST

/* ---- a host clipboard far larger than max_message ----------------------- */

/* 6 MiB of host text; max_message 64 KiB (the old bound: 1.25 MiB). */
#define HUGE_DATA (6u * 1024 * 1024)

static const long huge_taken[] = { 0, 5000, TAKEN_HALF, TAKEN_END(9) };

/*
 * Hole (b): the saver's bound (4 x max_message + 1 MiB) did not scale
 * with the host's data: one legitimate answer in flight, larger than it,
 * failed the save.  The bound now counts the largest answer queued: the
 * state saves, loads, saves the same bytes, and the guest gets the
 * answer byte-exact from the destination, however much of it the source
 * had written.
 */
START_TEST(test_huge_answer_in_flight_migrates)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(HUGE_DATA, 53);
    g_autoptr(GByteArray) stream = NULL;
    g_autoptr(GByteArray) again = NULL;
    Answer a = answer_of(data, HUGE_DATA);
    const size_t taken = taken_of(huge_taken[_i], a.wire);
    TestFe *src, *dst;
    HostPeer *hp;

    config.max_message = FLOOD_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, HUGE_DATA);
    guest_agent_clear_received(ga);
    g_byte_array_set_size(src->wire, 0);
    src->unlimited = false;
    src->budget = taken;
    src->honour_room = true;
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(src);
    ck_assert_uint_eq(vdc_chardev_pending_output(src->dev), a.wire - taken);

    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    src->ga = NULL;
    dst = dest_new(src);
    hp_restore(hp, dst);
    dest_load_ok(dst, stream);
    again = save_dev(dst->dev);
    ck_assert_uint_eq(again->len, stream->len);
    ck_assert(memcmp(again->data, stream->data, stream->len) == 0);

    dest_resume(dst, ga);
    ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), 0);
    ck_assert_uint_eq(guest_agent_count_type(ga, VD_AGENT_CLIPBOARD), 1);
    ck_answer(guest_agent_find(ga, VD_AGENT_CLIPBOARD, 0), &a, 0);
    g_byte_array_unref(a.text);
    ck_agent_clean(ga);
    fe_free(dst);
    fe_free(src);
}
END_TEST

/*
 * The bound of a loaded stream: a largest answer at or below max_message
 * (never written so), or beyond a message's 32 bits, or output beyond
 * what the announced answer allows, are refused, and the device is fresh.
 */
START_TEST(test_huge_answer_stream_checked)
{
    VdcConfig config = mig_config();
    g_autoptr(GuestAgent) ga = real_agent();
    g_autofree uint8_t *data = test_pattern(HUGE_DATA, 59);
    g_autoptr(GByteArray) stream = NULL;
    Answer a = answer_of(data, HUGE_DATA);
    static const char name[] = "vdagent/output-answer";
    TestFe *src, *dst;
    HostPeer *hp;
    uint8_t *p;
    uint32_t bad[] = { FLOOD_MAX_MESSAGE, 1, UINT32_MAX - 27, 1024 * 1024 };

    config.max_message = FLOOD_MAX_MESSAGE;
    src = fe_new_detached(&config);
    mig_connect(src, ga);
    hp = fe_peer_new(src);
    hp_grab_data(hp, 0, VDC_CLIPBOARD_TYPE_TEXT, data, HUGE_DATA);
    src->unlimited = false;
    src->budget = 0;
    guest_agent_send_request(ga, 0, VD_AGENT_CLIPBOARD_UTF8_TEXT);
    fe_pump(src);
    vdc_chardev_set_running(src->dev, false);
    stream = save_dev(src->dev);
    p = NULL;
    for (size_t at = 0; !p && at + sizeof(name) <= stream->len; at++) {
        if (memcmp(stream->data + at, name, sizeof(name) - 1) == 0) {
            p = stream->data + at;
        }
    }
    ck_assert_ptr_nonnull(p);
    /* the subsection: name, version (be32), then the answer (be32): its
     * data as the guest gets it (the Windows agent: converted to CRLF) */
    p += sizeof(name) - 1 + 4;
    ck_assert_uint_eq((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3],
                      a.text->len);
    g_byte_array_unref(a.text);
    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) err = NULL;

        p[0] = bad[i] >> 24;
        p[1] = bad[i] >> 16;
        p[2] = bad[i] >> 8;
        p[3] = bad[i];
        dst = dest_new(src);
        ck_assert(!load_dev(dst->dev, stream->data, stream->len, &err));
        ck_assert_ptr_nonnull(err);
        ck_assert_msg(strstr(err->message, "answer") ||
                      strstr(err->message, "output above the limit"),
                      "%s", err->message);
        ck_assert(!vdc_chardev_connected(dst->dev));
        ck_assert_uint_eq(vdc_chardev_pending_output(dst->dev), 0);
        fe_free(dst);
    }
    fe_free(src);
}
END_TEST

/* ---- the suite --------------------------------------------------------- */

/*
 * The tcases, once per agent model (issue 22): the Windows agent has
 * CLIPBOARD only, no selection prefix, and gets host text with CRLF.
 */
static void add_tcases(Suite *s, const char *suffix, void (*model)(void))
{
    g_autofree char *output = g_strconcat("output", suffix, NULL);
    g_autofree char *flood = g_strconcat("request-flood", suffix, NULL);
    g_autofree char *room = g_strconcat("input-room", suffix, NULL);
    g_autofree char *huge = g_strconcat("huge-answer", suffix, NULL);
    TCase *tc;

    /* Check keeps the name pointer: interned strings. */
    tc = tcase_create(g_intern_string(output));
    tcase_add_checked_fixture(tc, model, mig_model_linux);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_queued_output);
    tcase_add_loop_test(tc, test_large_reply_half_streamed, 0,
                        G_N_ELEMENTS(big_taken));
    tcase_add_test(tc, test_text_answer_every_cut);
    suite_add_tcase(s, tc);

    tc = tcase_create(g_intern_string(flood));
    tcase_add_checked_fixture(tc, model, mig_model_linux);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_request_flood_migrates);
    tcase_add_loop_test(tc, test_request_flood_drains, 0, 3);
    tcase_add_test(tc, test_request_flood_limit);
    tcase_add_test(tc, test_request_flood_regrab);
    tcase_add_test(tc, test_request_flood_owner_answers);
    tcase_add_test(tc, test_request_flood_stopped_hub);
    suite_add_tcase(s, tc);

    tc = tcase_create(g_intern_string(room));
    tcase_add_checked_fixture(tc, model, mig_model_linux);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_quiet_flood_migrates, 0, 2);
    tcase_add_test(tc, test_quiet_flood_drains);
    suite_add_tcase(s, tc);

    tc = tcase_create(g_intern_string(huge));
    tcase_add_checked_fixture(tc, model, mig_model_linux);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_huge_answer_in_flight_migrates, 0,
                        G_N_ELEMENTS(huge_taken));
    tcase_add_test(tc, test_huge_answer_stream_checked);
    suite_add_tcase(s, tc);
}

Suite *vdagent_migration_output_suite(void)
{
    Suite *s = suite_create("vdagent-migration-output");

    add_tcases(s, "", mig_model_linux);
    add_tcases(s, "-windows", mig_model_windows);
    return s;
}
