/*
 * fuzz_device.c: stateful libFuzzer target for the whole device (issues 20
 * and 11), built by `make fuzz` (clang, libFuzzer, ASan, UBSan) and by the
 * gcc replay driver tests/fuzz/replay.c.
 *
 * The input is a program.  Byte 0 sets up the run (see setup()): one
 * device, clipboard on, with a hub (its own or the harness's) holding two
 * host peers (one answers requests, now or when told, the other gives its
 * data with its grabs), a router with heads (its own or the harness's),
 * the scripted guest agent (tests/guest-agent.h) with one of a few caps
 * words, and a frontend whose write(), event() and guest_caps() callbacks
 * run the re-entrant actions armed by the program: push the agent's bytes,
 * make the agent send, accept_input, set_guest_open false/true in any
 * sequence, set_running false/true, change the room.  The frontend honours
 * the device's input room (vdc_chardev_input_room(): what it does not
 * take stays in the agent's output, as in the kernel, and raw bytes beyond
 * it are not pushed) unless the program's act 0xff made it ignore the room
 * for the rest of the run (vdc_chardev_write() then takes all, as for
 * a frontend that never asks).  Every following byte
 * is an operation (enum Op) taking its operands from the bytes after it;
 * running out of bytes ends the program.  Among them (issue 11):
 *  - OP_MIGRATE: stop, save, free the source, load into a new device (new
 *    harness hub and router too; the host peers restore their selections
 *    or not) and go on with it: the same agent, its stream and its session
 *    continue against the destination;
 *  - OP_TIMEOUT: every request timer of the hub fires now.  The hubs run
 *    their timers on the run's own GMainContext; the harness finds them by
 *    id and makes them ready, so no time passes (deterministic);
 *  - OP_INPUT: a batch of pointer motions, buttons and syncs on several
 *    heads (a missing one included), the last batch possibly unsynced.
 *
 * After every operation (outside any callback):
 *  P1  the state saves, loads into a fresh device (default config, its own
 *      hub and router, stopped) and saves again to the identical bytes
 *      (every save succeeds, floods included: with the room honoured the
 *      device bounds the queued output itself; ignoring it, a flood
 *      reaching the saver's bound needs about 1 MiB of guest bytes, far
 *      more than a program gives, so P7's allowance stays as it was);
 *  P2  running with room to write, nothing is left pending (output never
 *      stuck);
 *  P3  the guest requests the device accepted this session were each
 *      answered exactly once, when the device is quiet (running, room,
 *      nothing pending, no request outstanding) and the session's count is
 *      exact (one agent caps, no raw bytes pushed); the counts run across
 *      migrations and timeouts;
 *  P3b right after OP_TIMEOUT, in such a session, running with room: every
 *      guest request the device accepted before the timers fired was
 *      answered, and none is left outstanding unless the agent asked again
 *      while they fired (an armed action in the write of a timeout's
 *      answer: the device forwards that request, the hub starts a new
 *      timer that is not due yet; the next OP_TIMEOUT answers it);
 *  P7  memory: the device holds (its saved state: reader buffers, the
 *      guest's clipboard contents, the session, the queued output as a
 *      save writes it) at most HELD_CONST + OUTPUT_ROOM + 2 x what it was
 *      given (guest bytes pushed, host clipboard bytes, 16 bytes an input
 *      event) + HELD_PER_OP per operation run.  OUTPUT_ROOM is the
 *      backpressure on guest requests: an answer carrying data is queued
 *      only while less than max_message is; the others wait as pending
 *      requests (a guest asking again and again without reading used to
 *      queue the whole data each time, and the save refused it).
 * On every write():
 *  P4  the device runs, the port is open, the length is within the room;
 *      the bytes are the same (and readable: ASan) after the action the
 *      callback ran;
 *  P5  the agent decodes the session's stream without a protocol error
 *      (port 1, payload <= 2048, protocol 1, one message per chunk, a
 *      header never split: tests/guest-agent.h);
 *      before the device took the agent's caps in this session, the only
 *      message is the caps request (request=1), once; later caps requests
 *      only as answers to the agent asking again; never more answers
 *      (CLIPBOARD) than requests accepted this session;
 *  P6  the frontend also frames the chunks itself (port 1, 1..2048 bytes)
 *      and feeds the agent one chunk at a time; the agent ignores no
 *      message (its size table under the host's caps, MONITORS_CONFIG
 *      sizes, unknown types), except a host GRAB its serial counter
 *      discards, and that only with a serial behind the counter while one
 *      of its own newer grabs is on the way (in its output, being pushed,
 *      pushed from a callback and deferred by the device, or dropped by
 *      the device this session); never a serial ahead of the counter
 *      unless the agent's new caps are on the way.  After the device took
 *      a second agent caps in the session (an agent that asked again, or
 *      a restarted one: the counters of both sides went back to 0), grabs
 *      it queued before may still come with its old counter:
 *      serials are checked again once they settled (nothing on the way,
 *      the two sides' counters equal: settle_serials()).  Serials are
 *      not checked after raw bytes in the session (see check_ignored()).
 *      The agent lays out and parses by the caps both sides announced.
 *
 * File transfers (issue 14): act 15 with a parameter of 1..8 (callbacks
 * included) starts a transfer (0 B, 1000 B, 20000 B, 70000 B, or one whose
 * source fails half-way), cancels the oldest or the newest, or makes the
 * agent send a STATUS (each result in turn, unknown ones too, for the
 * newest id or one not under way); the agent runs its file-transfer model
 * (tests/guest-agent.h: it answers START and DATA).
 *  P8  every transfer ends at most once (no update after its end, none
 *      for an unknown id), its source is read only while it is under way,
 *      never past its size, and closed exactly once, when it ended or
 *      its device went.
 * P6 allows the agent to ignore a DATA for a transfer it no longer has
 * (queued before its own end, or after it dropped it), as spice-vdagentd
 * does silently.
 *
 * A failed check prints what failed and abort()s, so libFuzzer keeps the
 * input.  Nothing outlives one call.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipboard/vdc-clipboard.h"
#include "clipboard/vdc-clipboard-vmstate.h"
#include "input/vdc-input.h"
#include "migration/vdc-stream.h"
#include "migration/vdc-savevm.h"
#include "tests/guest-agent.h"
#include "tests/test-util.h"
#include "vdagent/vdc-file-xfer.h"
#include "vdagent/vdc-vdagent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that the bounds are reachable. */
#define FUZZ_MAX_MESSAGE        (64u * 1024)
/* Actions armed at once, and how deep callbacks nest actions. */
#define MAX_ACTS                16
#define MAX_NEST                3
/* Host requests kept for a later answer. */
#define MAX_HOST_REQS           8
/* P7: what the device may hold beyond what it was given (see the header). */
#define HELD_CONST              4096u
#define HELD_PER_OP             256u
/* max_message of output, with its chunk headers (vdagent-clipboard.c). */
#define OUTPUT_ROOM             (FUZZ_MAX_MESSAGE + FUZZ_MAX_MESSAGE / 256)

#define CAP(c) (1u << VD_AGENT_CAP_##c)

/* The agent's caps word, by byte 0 bits 5-7. */
static const uint32_t agent_caps[8] = {
    REAL_AGENT_CAPS,
    REAL_AGENT_CAPS & ~CAP(CLIPBOARD_SELECTION),
    REAL_AGENT_CAPS & ~CAP(CLIPBOARD_GRAB_SERIAL),
    REAL_AGENT_CAPS & ~CAP(SPARSE_MONITORS_CONFIG),
    REAL_AGENT_CAPS & ~CAP(MOUSE_STATE),
    REAL_AGENT_CAPS & ~CAP(CLIPBOARD_BY_DEMAND),
    REAL_AGENT_CAPS & ~CAP(MAX_CLIPBOARD),
    CAP(MOUSE_STATE) | CAP(MONITORS_CONFIG),
};

/* The VD_AGENT_CLIPBOARD_* types an operand picks (0 and 7: unknown). */
static const uint32_t vd_types[8] = { 0, 1, 2, 3, 4, 5, 7, 1 };

/* ---- checks ------------------------------------------------------------ */

static void G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("fuzz_device: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

#define CHECK(cond, ...) do { if (!(cond)) { fail(__VA_ARGS__); } } while (0)

/* ---- the run ----------------------------------------------------------- */

typedef struct HostReq {
    VdcClipboardInfo *info;         /* a reference */
    VdcClipboardType type;
} HostReq;

typedef struct Fz Fz;
struct Fz {
    const uint8_t *p;            /* the program left */
    size_t left;

    VdcConfig config;
    VdcClipboardHub *own_hub;       /* the harness's, when the device uses it */
    VdcInputRouter *own_router;
    VdcChardev *dev;
    VdcClipboardHub *hub;           /* the device's (either) */
    VdcInputRouter *router;
    GuestAgent *ga;
    uint32_t ga_caps;            /* the agent's caps word */

    /* host peers */
    VdcClipboardPeer host;          /* answers requests (now or when told) */
    VdcClipboardPeer host2;         /* data with its grabs, no request */
    bool host_sync;              /* answer from inside the request */
    HostReq reqs[MAX_HOST_REQS];
    unsigned n_reqs;

    /* the frontend */
    bool ignore_room;            /* pushes all, whatever the input room
                                    says (from act 0xff on) */
    bool unlimited;
    size_t budget;
    size_t room;                 /* what can_write() said last */
    uint8_t acts[MAX_ACTS];      /* armed actions, run by the callbacks */
    unsigned n_acts, next_act;
    unsigned nest;               /* actions under way */

    /* the session, as the harness drove it */
    bool open;
    uint64_t caps_base;          /* caps_in() at open */
    unsigned agent_caps_base;    /* the agent's caps sent, at open */
    uint64_t caps_seen;          /* caps_in() when the harness last looked */
    bool resync;                 /* serials unchecked until they settle
                                    (note_caps_taken(), settle_serials()) */
    uint64_t req_base;           /* requests_in() at open */
    uint64_t drops_base;         /* drops_in() at open */
    size_t seen;                 /* agent messages checked */
    unsigned caps_requests;      /* request=1 caps decoded this session */
    unsigned agent_asks;         /* request=1 caps the agent sent this session */
    uint64_t answers;            /* CLIPBOARD decoded this session */
    unsigned sessions;           /* started (the port opened) */
    bool inexact;                /* raw bytes or a second agent caps */
    bool raw;                    /* raw bytes pushed this session */
    bool forged;                 /* ... and they made the device take caps
                                    the agent does not have: note_forged() */
    unsigned ignored_seen;       /* guest_agent_ignored() checked */

    /* the frontend's chunk framing of the host->guest stream (P6) */
    uint8_t hdr[8];
    unsigned hdr_have;
    uint32_t chunk_left;

    /* counters carried over migrations: the destination starts at 0 */
    uint64_t caps_carry, req_carry, drops_carry;
    unsigned pushing;            /* inside vdc_chardev_write() */
    bool deferred;               /* pushed from a callback this operation:
                                    the device feeds it after its call */

    /* P7: what the device was given, what it held at most */
    uint64_t given;
    size_t held_max;
    unsigned ops, migrations, timeouts_fired;
    bool trace;                  /* FUZZ_DEVICE_TRACE: each operation */

    GMainContext *ctx;           /* the hubs' request timers run here */

    /* file transfers (P8), in the order started */
    struct FzXfer {
        struct Fz *fz;
        uint32_t id;
        uint64_t size, pos;
        bool failing;
        unsigned closes, ends;
    } xfers[64];
    unsigned n_xfers;
    unsigned xfer_result;        /* the next STATUS the agent sends */
};

static uint8_t take(Fz *fz)
{
    if (fz->left == 0) {
        return 0;
    }
    fz->left--;
    return *fz->p++;
}

static VdcCounters counters(const Fz *fz)
{
    VdcCounters c;

    vdc_chardev_get_counters(fz->dev, &c);
    return c;
}

/* Counters over the run, across migrations. */
static uint64_t caps_in(const Fz *fz)
{
    return counters(fz).msgs_in[VD_AGENT_ANNOUNCE_CAPABILITIES] + fz->caps_carry;
}

static uint64_t requests_in(const Fz *fz)
{
    return counters(fz).msgs_in[VD_AGENT_CLIPBOARD_REQUEST] + fz->req_carry;
}

static uint64_t drops_in(const Fz *fz)
{
    VdcCounters c = counters(fz);
    uint64_t sum = fz->drops_carry;
    unsigned i;

    for (i = 0; i < VDC_DROP__COUNT; i++) {
        sum += c.drops[i];
    }
    return sum;
}

/*
 * The agent's caps on the way: sent this session and not yet taken by the
 * device (in its output, being pushed, or deferred).  The agent's counters
 * went to 0 when it sent them; the device's go to 0 when it takes them, and
 * its grabs meanwhile carry the old counter.
 */
static bool caps_on_the_way(const Fz *fz)
{
    return guest_agent_caps_sent(fz->ga) - fz->agent_caps_base >
           caps_in(fz) - fz->caps_base;
}

/*
 * And the other way: once the device took the agent's caps (a second one
 * in the session: the first comes before any grab), its grabs queued
 * before carry its old counter and may reach the agent after its reset,
 * moving the agent's counter away from the device's (a fiction of a
 * restart on a live connection: a restarted spice-vdagentd reopens the
 * port, which drops them).  Serials go unchecked until they settle.
 */
static void note_caps_taken(Fz *fz)
{
    uint64_t now = caps_in(fz);

    if (now != fz->caps_seen) {
        fz->caps_seen = now;
        if (now - fz->caps_base > 1) {
            fz->resync = true;
        }
    }
}

/*
 * Between operations: the serials have settled when nothing is on the
 * way either way and the agent's counters are the device's.
 */
static void settle_serials(Fz *fz)
{
    uint32_t serial[VDC_CLIPBOARD_SELECTION__COUNT], pending[VDC_CLIPBOARD_SELECTION__COUNT];
    unsigned s;

    note_caps_taken(fz);
    if (!fz->resync || !fz->open || caps_on_the_way(fz) ||
        guest_agent_output(fz->ga)->len > 0 ||
        vdc_chardev_pending_output(fz->dev) > 0) {
        return;
    }
    vdc_chardev_clipboard_state(fz->dev, serial, pending);
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        if (serial[s] != guest_agent_serial(fz->ga, s)) {
            return;
        }
    }
    fz->resync = false;
}

/*
 * Raw bytes announced caps for the agent: what the device holds as the
 * guest's caps is not what the agent announced (a forged or spliced caps
 * message).  The device lays its messages out by those caps, so the agent
 * may reject any of them for their size, and may still after the agent's
 * own caps came (messages queued before): the device is right to.  Looked
 * at whenever the agent decodes and after every operation; the rest of
 * the session is marked.
 */
static void note_forged(Fz *fz)
{
    size_t n;
    const uint32_t *caps = vdc_chardev_guest_caps(fz->dev, &n);

    if (fz->raw && n > 0 && caps[0] != fz->ga_caps) {
        fz->forged = true;
    }
}

/*
 * P6: the agent ignored the message it just decoded (at most one: the
 * frontend feeds it a chunk at a time).  Only a host GRAB the agent's
 * counter discards may be ignored, and only for a reason: the agent's own
 * grab of a newer serial on the way (in its output, being pushed, pushed
 * from a callback and waiting for the device's call to end, or dropped by
 * the device this session).  A serial ahead of the agent's
 * counter is never right.
 */
static void check_ignored(Fz *fz)
{
    size_t n = guest_agent_n_received(fz->ga);
    const GuestAgentMsg *m = n ? guest_agent_received(fz->ga, n - 1) : NULL;
    const char *why = guest_agent_last_ignored(fz->ga);
    bool sel_prefix;
    uint32_t serial, s;
    unsigned sel = 0;

    if (m && m->type == VD_AGENT_FILE_XFER_DATA && why &&
        g_str_has_prefix(why, "file-xfer: data for unknown id")) {
        return;                 /* queued before the agent's own end */
    }
    if (fz->forged) {
        return;
    }
    CHECK(m && m->type == VD_AGENT_CLIPBOARD_GRAB && why &&
          g_str_has_prefix(why, "grab discard"),
          "the agent ignored a %s: %s", m ? vdc_msg_name(m->type) : "?",
          why ? why : "?");
    if (fz->raw || caps_on_the_way(fz) || fz->resync) {
        /*
         * Raw bytes may forge a guest grab; a grab the device queued
         * before it took the agent's new caps carries the counter the
         * agent has reset on sending them (see note_caps_taken()).
         */
        return;
    }
    /* Laid out by the caps both sides announced, as the agent parses. */
    sel_prefix = (fz->ga_caps & CAP(CLIPBOARD_SELECTION)) &&
                 guest_agent_host_has_cap(fz->ga,
                                          VD_AGENT_CAP_CLIPBOARD_SELECTION);
    if (sel_prefix) {
        sel = m->data[0];
    }
    serial = test_le32(m->data + (sel_prefix ? 4 : 0));
    s = guest_agent_serial(fz->ga, sel);
    CHECK(serial < s, "a host grab with serial %u, ahead of the agent's %u",
          serial, s);
    CHECK(guest_agent_output(fz->ga)->len > 0 || fz->pushing > 0 ||
          fz->deferred || drops_in(fz) > fz->drops_base,
          "a host grab with stale serial %u (the agent's counter is %u) and "
          "no agent grab on the way", serial, s);
}

/* P5: what the agent decoded since the last look. */
static void observe(Fz *fz)
{
    uint64_t caps_in_session = caps_in(fz) - fz->caps_base;
    uint64_t requests = requests_in(fz) - fz->req_base;
    size_t n = guest_agent_n_received(fz->ga);
    unsigned ignored = guest_agent_ignored(fz->ga);

    CHECK(guest_agent_errors(fz->ga) == 0, "the agent saw a protocol error: %s",
          guest_agent_last_error(fz->ga));
    note_caps_taken(fz);
    note_forged(fz);
    for (; fz->seen < n; fz->seen++) {
        const GuestAgentMsg *m = guest_agent_received(fz->ga, fz->seen);
        bool request = m->type == VD_AGENT_ANNOUNCE_CAPABILITIES &&
                       m->size >= 4 && m->data[0] == 1;

        if (request) {
            /* ours at the start, then one for each time the agent asked
             * again (a restart in place: our answer asks in turn) */
            CHECK(fz->caps_requests++ <= fz->agent_asks || fz->raw,
                  "%u caps requests in a session where the agent asked %u "
                  "times", fz->caps_requests, fz->agent_asks);
        }
        CHECK(caps_in_session > 0 || request,
              "%s before the agent's caps", vdc_msg_name(m->type));
        if (m->type == VD_AGENT_CLIPBOARD) {
            fz->answers++;
        }
    }
    if (caps_in_session > 1) {
        fz->inexact = true;      /* a restarted agent: its requests are moot */
    }
    if (ignored != fz->ignored_seen) {
        CHECK(ignored == fz->ignored_seen + 1,
              "the agent ignored %u messages of one chunk",
              ignored - fz->ignored_seen);
        check_ignored(fz);
        fz->ignored_seen = ignored;
    }
    CHECK(fz->answers <= requests, "%" G_GUINT64_FORMAT " answers to %"
          G_GUINT64_FORMAT " requests", fz->answers, requests);
}

/* A new session starts (the harness opens the port). */
static void session_start(Fz *fz)
{
    /* A reconnecting agent starts clean: a new stream, nothing half sent. */
    g_bytes_unref(guest_agent_take_output(fz->ga));
    guest_agent_reset_stream(fz->ga);
    guest_agent_clear_received(fz->ga);
    fz->seen = 0;
    fz->sessions++;
    fz->caps_base = caps_in(fz);
    fz->agent_caps_base = guest_agent_caps_sent(fz->ga);
    fz->caps_seen = fz->caps_base;
    fz->resync = false;
    fz->req_base = requests_in(fz);
    fz->drops_base = drops_in(fz);
    fz->caps_requests = 0;
    fz->agent_asks = 0;
    fz->answers = 0;
    fz->inexact = false;
    fz->raw = false;
    fz->forged = false;
    fz->hdr_have = 0;
    fz->chunk_left = 0;
}

/*
 * The agent announces its caps on its own.  Asking (request=1), it is
 * spice-vdagentd whose session agent restarted: it keeps its grab
 * counters, and resets them when the device's answer asks in turn.  Not
 * asking, it is a restarted agent that does not ask: its counters start
 * at 0 (the device resets its own when it takes the caps).
 */
static void agent_announce(Fz *fz, bool ask)
{
    if (ask) {
        fz->agent_asks++;
    } else {
        guest_agent_reset_serials(fz->ga);
    }
    guest_agent_send_caps(fz->ga, ask);
}

/* ---- the device's frontend --------------------------------------------- */

static void run_act(Fz *fz, uint8_t act);

/* The next armed action, from inside a callback. */
static void callback_act(Fz *fz)
{
    if (fz->next_act < fz->n_acts && fz->nest < MAX_NEST) {
        uint8_t act = fz->acts[fz->next_act++];

        fz->nest++;
        run_act(fz, act);
        fz->nest--;
    }
}

static size_t fe_can_write(void *opaque)
{
    Fz *fz = opaque;

    fz->room = fz->unlimited ? 65536 : fz->budget;
    return fz->room;
}

/*
 * P6: the written bytes go to the agent a chunk at a time, so that at most
 * one message completes per feed and each is checked on its own (the agent
 * itself checks the protocol, one message per chunk, and the sizes of its
 * table under the host's caps).
 */
static void feed_agent(Fz *fz, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        size_t n;

        if (fz->hdr_have < 8) {
            n = MIN(len, 8 - fz->hdr_have);
            memcpy(fz->hdr + fz->hdr_have, buf, n);
            fz->hdr_have += n;
            if (fz->hdr_have == 8) {
                uint32_t port = test_le32(fz->hdr);

                fz->chunk_left = test_le32(fz->hdr + 4);
                CHECK(port == VDP_CLIENT_PORT, "a chunk on port %u", port);
                CHECK(fz->chunk_left > 0 &&
                      fz->chunk_left <= VD_AGENT_MAX_DATA_SIZE,
                      "a chunk of %u bytes", fz->chunk_left);
            }
        } else {
            n = MIN(len, fz->chunk_left);
            fz->chunk_left -= n;
        }
        guest_agent_feed(fz->ga, buf, n);
        buf += n;
        len -= n;
        if (fz->hdr_have == 8 && fz->chunk_left == 0) {
            fz->hdr_have = 0;
            observe(fz);
        }
    }
    observe(fz);
}

static void fe_write(void *opaque, const uint8_t *buf, size_t len)
{
    Fz *fz = opaque;

    /* P4 */
    CHECK(vdc_chardev_running(fz->dev), "a write while stopped");
    CHECK(fz->open && vdc_chardev_connected(fz->dev),
          "a write while the port is closed");
    CHECK(len > 0 && len <= fz->room, "a write of %zu bytes, room %zu", len,
          fz->room);
    if (!fz->unlimited) {
        fz->budget -= len;
    }
    fz->room -= len;
    feed_agent(fz, buf, len);
    if (fz->next_act < fz->n_acts) {
        /* @buf is read again after the action: still there, unchanged. */
        uint64_t before = test_fnv1a64(TEST_FNV1A64_INIT, buf, len);

        callback_act(fz);
        CHECK(test_fnv1a64(TEST_FNV1A64_INIT, buf, len) == before,
              "the bytes of a write changed under it");
    }
}

static void fe_event(void *opaque, VdcEvent event)
{
    (void)event;
    callback_act(opaque);
}

static void fe_guest_caps(void *opaque)
{
    callback_act(opaque);
}

static const VdcFrontendOps fe_ops = {
    .can_write = fe_can_write,
    .write = fe_write,
    .event = fe_event,
    .guest_caps = fe_guest_caps,
};

/* The fresh device of P1 writes nothing: it is loaded stopped, never run. */
static size_t mute_can_write(void *opaque)
{
    (void)opaque;
    return 65536;
}

static void mute_write(void *opaque, const uint8_t *buf, size_t len)
{
    (void)opaque;
    (void)buf;
    fail("the loaded device wrote %zu bytes", len);
}

static const VdcFrontendOps mute_ops = {
    .can_write = mute_can_write,
    .write = mute_write,
};

/* ---- the harness's side of the device ----------------------------------- */

/* The harness's view first: the call's own callbacks may open or close. */
static void set_open(Fz *fz, bool open)
{
    if (open != vdc_chardev_connected(fz->dev)) {
        if (open) {
            session_start(fz);
        }
        fz->open = open;
    }
    vdc_chardev_set_guest_open(fz->dev, open);
}

/* More room means accept_input(), as a frontend does. */
static void set_room(Fz *fz, bool unlimited, size_t budget)
{
    bool more = (unlimited && !fz->unlimited) ||
                (!unlimited && !fz->unlimited && budget > fz->budget);

    fz->unlimited = unlimited;
    fz->budget = budget;
    if (more) {
        vdc_chardev_accept_input(fz->dev);
    }
}

/*
 * What the frontend pushes of @n guest bytes: all of them when it ignores
 * the input room, else at most what vdc_chardev_input_room() says (the
 * rest waits, as in the kernel).
 */
static size_t room_for(Fz *fz, size_t n)
{
    return fz->ignore_room ? n
                           : MIN(n, vdc_chardev_input_room(fz->dev));
}

/*
 * Push what the agent has sent: all of it, or its first @piece bytes, as
 * far as the input room allows (the rest stays in its output).
 */
static void pump(Fz *fz, size_t piece)
{
    GByteArray *out = guest_agent_output(fz->ga);
    size_t n = room_for(fz, piece && piece < out->len ? piece : out->len);
    g_autofree uint8_t *bytes = g_memdup2(out->data, n);

    g_byte_array_remove_range(out, 0, n);
    if (fz->nest > 0) {
        fz->deferred = true;
    }
    fz->given += n;
    fz->pushing++;
    vdc_chardev_write(fz->dev, bytes, n);
    fz->pushing--;
}

/* The selection in bits 0-1 of an operand (3 wraps to 0). */
static unsigned sel_of(uint8_t b)
{
    return (b & 3) % 3;
}

/* A request: the selection in bits 0-1, the type in bits 2-4. */
static void agent_request(Fz *fz, uint8_t b)
{
    guest_agent_send_request(fz->ga, sel_of(b), vd_types[(b >> 2) & 7]);
}

static void agent_grab(Fz *fz, uint8_t b, uint8_t mask)
{
    uint32_t types[8];
    size_t n = 0;
    unsigned i;

    for (i = 0; i < 8; i++) {
        if (mask & (1u << i)) {
            types[n++] = vd_types[i];
        }
    }
    guest_agent_send_grab(fz->ga, b % 3, types, n);
}

/* ---- host peers ---------------------------------------------------------- */

static void host_notify(VdcClipboardPeer *peer, const VdcClipboardNotify *n)
{
    (void)peer;
    (void)n;
}

static GBytes *host_bytes(Fz *fz, size_t len)
{
    uint8_t *buf = g_malloc(len);
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (uint8_t)(i * 7 + len);
    }
    fz->given += len;
    return g_bytes_new_take(buf, len);
}

static void host_request(VdcClipboardPeer *peer, VdcClipboardInfo *info,
                         VdcClipboardType type)
{
    Fz *fz = peer->opaque;

    if (fz->host_sync || fz->n_reqs == MAX_HOST_REQS) {
        g_autoptr(GBytes) data = fz->host_sync ? host_bytes(fz, 5) : NULL;

        vdc_clipboard_hub_set_data(fz->hub, peer, info, type, data, true);
        return;
    }
    fz->reqs[fz->n_reqs++] = (HostReq){ vdc_clipboard_info_ref(info), type };
}

static const VdcClipboardPeerOps host_ops = {
    .notify = host_notify,
    .request = host_request,
};

static const VdcClipboardPeerOps host2_ops = {
    .notify = host_notify,
};

/*
 * The oldest request the host keeps: answered with @b bytes (0: none),
 * from 128 on with (@b - 127) KiB (up to 128 KiB: many chunks, above the
 * guest's MAX_CLIPBOARD when it sent a small one).
 */
static void host_answer(Fz *fz, uint8_t b)
{
    size_t len = b < 128 ? b : (size_t)(b - 127) * 1024;
    HostReq r;
    g_autoptr(GBytes) data = NULL;

    if (fz->n_reqs == 0) {
        return;
    }
    r = fz->reqs[0];
    memmove(fz->reqs, fz->reqs + 1, --fz->n_reqs * sizeof(fz->reqs[0]));
    if (len) {
        data = host_bytes(fz, len);
    }
    vdc_clipboard_hub_set_data(fz->hub, &fz->host, r.info, r.type, data, true);
    vdc_clipboard_info_unref(r.info);
}

static void host_grab(Fz *fz, VdcClipboardPeer *peer, uint8_t b, uint8_t mask)
{
    g_autoptr(VdcClipboardInfo) info = vdc_clipboard_info_new(peer, b % 3);
    unsigned t;

    for (t = 0; t < VDC_CLIPBOARD_TYPE__COUNT; t++) {
        if (mask & (1u << t)) {
            info->types[t].available = true;
            if (peer == &fz->host2) {
                info->types[t].data = host_bytes(fz, (uint8_t)(mask + t + 1));
            }
        }
    }
    vdc_clipboard_hub_update(fz->hub, info);
}

/* ---- actions (also from inside callbacks) -------------------------------- */

enum Act {
    ACT_PUMP,                    /* push the agent's bytes */
    ACT_PUMP_PIECE,              /* ... their first (param + 1) * 4 */
    ACT_AGENT_CAPS,              /* the agent asks for caps, pushed */
    ACT_AGENT_REQUEST,           /* a request, pushed */
    ACT_AGENT_GRAB,              /* a grab of one type, pushed */
    ACT_ACCEPT,
    ACT_CLOSE,
    ACT_OPEN,
    ACT_CLOSE_OPEN,
    ACT_CLOSE_OPEN_CLOSE,
    ACT_STOP,
    ACT_RESUME,
    ACT_STOP_RESUME,
    ACT_BUDGET,                  /* room: param * 8 bytes */
    ACT_UNLIMITED,
    ACT_NOTHING,
    ACT__COUNT
};

/* ---- file transfers (P8) ---------------------------------------------- */

typedef struct FzXfer FzXfer;

static gssize xfer_read(void *opaque, uint8_t *buf, size_t len)
{
    struct FzXfer *x = opaque;

    CHECK(x->closes == 0 && x->ends == 0,
          "transfer %u read after its end or close", x->id);
    CHECK(x->pos + len <= x->size, "transfer %u read past its size", x->id);
    if (x->failing && x->pos >= x->size / 2) {
        return -1;
    }
    memset(buf, 'f', len);
    x->pos += len;
    x->fz->given += len;
    return (gssize)len;
}

static void xfer_close(void *opaque)
{
    struct FzXfer *x = opaque;

    CHECK(x->closes == 0, "transfer %u closed twice", x->id);
    x->closes++;
}

static const VdcFileSource xfer_source = { xfer_read, xfer_close };

/* The latest transfer started with @id (ids of a device lineage). */
static struct FzXfer *xfer_of(Fz *fz, uint32_t id)
{
    unsigned i;

    for (i = fz->n_xfers; i > 0; i--) {
        if (fz->xfers[i - 1].id == id) {
            return &fz->xfers[i - 1];
        }
    }
    return NULL;
}

static void xfer_update(void *opaque, const VdcFileXferInfo *info)
{
    Fz *fz = opaque;
    /* maybe from inside the start: the id is not known yet */
    struct FzXfer *x = info->source_opaque ? info->source_opaque
                                           : xfer_of(fz, info->id);

    CHECK(x, "an update for transfer %u, never started", info->id);
    x->id = info->id;
    CHECK(x->ends == 0, "transfer %u updated after its end (%s)", info->id,
          vdc_file_xfer_status_name(info->status));
    CHECK(info->sent <= info->size && info->size == x->size,
          "transfer %u: %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT,
          info->id, info->sent, info->size);
    if (info->status >= VDC_FILE_XFER_SUCCESS) {
        x->ends++;
    }
}

static const VdcFileXferOps xfer_ops = { .update = xfer_update };

static void file_act(Fz *fz, unsigned param)
{
    static const uint64_t sizes[] = { 0, 1000, 20000, 70000, 40000 };
    uint32_t ids[VDC_FILE_XFER_MAX];
    size_t n = vdc_file_xfer_list(fz->dev, ids, G_N_ELEMENTS(ids));

    if (param <= 5) {
        struct FzXfer *x;
        g_autofree char *name = NULL;
        uint32_t id;

        if (fz->n_xfers == G_N_ELEMENTS(fz->xfers)) {
            return;
        }
        x = &fz->xfers[fz->n_xfers];
        *x = (struct FzXfer){ .fz = fz, .size = sizes[param - 1],
                              .failing = param == 5 };
        /* counted first: its updates may come from inside the start */
        fz->n_xfers++;
        name = g_strdup_printf("f%u", fz->n_xfers);
        id = vdc_file_xfer_start(fz->dev, name, "origin", x->size,
                                 &xfer_source, x, NULL);
        if (id) {
            CHECK(x->id == 0 || x->id == id, "transfer %u updated as %u",
                  id, x->id);
            x->id = id;
        } else {
            fz->n_xfers--;
        }
    } else if (param <= 7) {
        if (n > 0) {
            CHECK(vdc_file_xfer_cancel(fz->dev, ids[param == 6 ? 0 : n - 1]),
                  "cancel of a listed transfer refused");
        }
    } else {
        /* each result in turn (8: unknown), a detail of 0..9 bytes */
        static const uint8_t detail[9] = { 0, 12, 0, 0, 0, 0, 1, 0, 0 };
        unsigned r = fz->xfer_result++;
        uint32_t id = n ? ids[n - 1] : 77;

        if (r % 11 == 10) {
            id += 1000;                 /* not under way */
        }
        guest_agent_fx_send_status(fz->ga, id, r % 9, detail, r % 10);
    }
}

/* @act: bits 0-3 the action, bits 4-7 its parameter. */
static void run_act(Fz *fz, uint8_t act)
{
    unsigned param = act >> 4;

    switch (act & 15) {
    case ACT_PUMP:
        pump(fz, 0);
        break;
    case ACT_PUMP_PIECE:
        pump(fz, (param + 1) * 4);
        break;
    case ACT_AGENT_CAPS:
        agent_announce(fz, true);
        pump(fz, 0);
        break;
    case ACT_AGENT_REQUEST:
        agent_request(fz, (uint8_t)param);
        pump(fz, 0);
        break;
    case ACT_AGENT_GRAB:
        agent_grab(fz, (uint8_t)param, (uint8_t)(1u << (param & 7)));
        pump(fz, 0);
        break;
    case ACT_ACCEPT:
        vdc_chardev_accept_input(fz->dev);
        break;
    case ACT_CLOSE:
        set_open(fz, false);
        break;
    case ACT_OPEN:
        set_open(fz, true);
        break;
    case ACT_CLOSE_OPEN:
        set_open(fz, false);
        set_open(fz, true);
        break;
    case ACT_CLOSE_OPEN_CLOSE:
        set_open(fz, false);
        set_open(fz, true);
        set_open(fz, false);
        break;
    case ACT_STOP:
        vdc_chardev_set_running(fz->dev, false);
        break;
    case ACT_RESUME:
        vdc_chardev_set_running(fz->dev, true);
        break;
    case ACT_STOP_RESUME:
        vdc_chardev_set_running(fz->dev, false);
        vdc_chardev_set_running(fz->dev, true);
        break;
    case ACT_BUDGET:
        set_room(fz, false, param * 8);
        break;
    case ACT_UNLIMITED:
        set_room(fz, true, 0);
        break;
    case ACT_NOTHING:
        if (param == 15) {
            /* A frontend that ignores the input room, from now on. */
            fz->ignore_room = true;
        } else if (param >= 1 && param <= 8) {
            file_act(fz, param);
        }
        break;
    default:
        break;
    }
}

/* ---- operations (the program) --------------------------------------------- */

enum Op {
    OP_ACT,                      /* one action now: its byte */
    OP_ARM,                      /* n (1..16), then n action bytes */
    OP_AGENT_CAPS,               /* request bit */
    OP_AGENT_GRAB,               /* selection, type mask */
    OP_AGENT_REQUEST,            /* selection | type << 2 */
    OP_AGENT_DATA,               /* selection | type << 2, length */
    OP_AGENT_RELEASE,            /* selection */
    OP_AGENT_REPLY,              /* error */
    OP_AGENT_MAX,                /* the guest's MAX_CLIPBOARD (signed byte) */
    OP_PUSH_RAW,                 /* n (0..31), then n bytes */
    OP_HOST_GRAB,                /* selection, type mask */
    OP_HOST2_GRAB,               /* selection, type mask */
    OP_HOST_RELEASE,             /* selection | peer << 2 */
    OP_HOST_ANSWER,              /* length (0: none; >= 128: KiB) */
    OP_HOST_REQUEST,             /* selection | type << 2 */
    OP_HOST_SYNC,                /* bit: answer from inside the request */
    OP_HOST_RESET_SERIAL,
    OP_POINTER,                  /* head, axis | value << 1 */
    OP_BUTTON,                   /* head, button | down << 3 */
    OP_HEADS,                    /* n, then 2 bytes a head */
    OP_NEW_AGENT,                /* caps index (only with the port closed) */
    OP_MIGRATE,                  /* bit 0: the host peers restore theirs */
    OP_TIMEOUT,                  /* every request timer fires now */
    OP_INPUT,                    /* n (1..8), then 2 bytes an event */
    OP__COUNT
};

static void migrate(Fz *fz, uint8_t b);
static void fire_timeouts(Fz *fz);
static void check_timed_out(Fz *fz, uint64_t before);

/*
 * An input event: @a the head (modulo 5: head 4 never exists); @b bits 0-1
 * the kind (X, Y, a button, a sync), bits 2-7 the value (for a button:
 * bits 2-4 the button, bit 7 down).
 */
static void input_event(Fz *fz, uint8_t a, uint8_t b)
{
    unsigned v = b >> 2;

    switch (b & 3) {
    case 0:
    case 1:
        vdc_input_send_abs(fz->router, a % 5, b & 1,
                           (int32_t)v * (VDC_INPUT_ABS_MAX / 63));
        break;
    case 2:
        vdc_input_send_btn(fz->router, a % 5, (v & 7) % VDC_INPUT_BUTTON__COUNT,
                           b & 0x80);
        break;
    default:
        vdc_input_event_sync(fz->router);
        break;
    }
    fz->given += 16;
}

static void run_op(Fz *fz, uint8_t op)
{
    uint8_t a, b;
    unsigned i, n;

    if (fz->trace) {
        fprintf(stderr, "fuzz_device: op %u: %u, next byte %d\n", fz->ops,
                op % OP__COUNT, fz->left ? fz->p[0] : -1);
    }
    switch (op % OP__COUNT) {
    case OP_ACT:
        run_act(fz, take(fz));
        break;
    case OP_ARM:
        n = take(fz) % MAX_ACTS + 1;
        for (i = 0; i < n; i++) {
            fz->acts[i] = take(fz);
        }
        fz->n_acts = n;
        fz->next_act = 0;
        break;
    case OP_AGENT_CAPS:
        agent_announce(fz, take(fz) & 1);
        break;
    case OP_AGENT_GRAB:
        a = take(fz);
        agent_grab(fz, a, take(fz));
        break;
    case OP_AGENT_REQUEST:
        agent_request(fz, take(fz));
        break;
    case OP_AGENT_DATA: {
        uint8_t buf[128];

        a = take(fz);
        b = take(fz) & 127;
        memset(buf, 'd', b);
        guest_agent_send_clipboard(fz->ga, sel_of(a), vd_types[(a >> 2) & 7],
                                   buf, b);
        break;
    }
    case OP_AGENT_RELEASE:
        guest_agent_send_release(fz->ga, take(fz) % 3);
        break;
    case OP_AGENT_REPLY:
        guest_agent_send_reply(fz->ga, VD_AGENT_MONITORS_CONFIG, take(fz) & 1);
        break;
    case OP_AGENT_MAX: {
        /* -128..127, little-endian: negative is "no limit" */
        uint32_t v = (uint32_t)(int32_t)(int8_t)take(fz);
        uint8_t max[4] = { v, v >> 8, v >> 16, v >> 24 };

        guest_agent_send_message(fz->ga, VD_AGENT_MAX_CLIPBOARD, max, 4);
        break;
    }
    case OP_PUSH_RAW: {
        uint8_t buf[32];

        n = take(fz) % 32;
        for (i = 0; i < n; i++) {
            buf[i] = take(fz);
        }
        /* What the room does not take is lost: raw bytes have no agent. */
        n = room_for(fz, n);
        fz->inexact = true;
        fz->raw = true;
        fz->given += n;
        vdc_chardev_write(fz->dev, buf, n);
        note_forged(fz);
        break;
    }
    case OP_HOST_GRAB:
        a = take(fz);
        host_grab(fz, &fz->host, a, take(fz));
        break;
    case OP_HOST2_GRAB:
        a = take(fz);
        host_grab(fz, &fz->host2, a, take(fz));
        break;
    case OP_HOST_RELEASE:
        a = take(fz);
        vdc_clipboard_peer_release(a & 4 ? &fz->host2 : &fz->host, sel_of(a));
        break;
    case OP_HOST_ANSWER:
        host_answer(fz, take(fz));
        break;
    case OP_HOST_REQUEST: {
        VdcClipboardInfo *info;

        a = take(fz);
        info = vdc_clipboard_hub_info(fz->hub, sel_of(a));
        if (info && info->owner && info->owner != &fz->host &&
            info->owner != &fz->host2) {
            vdc_clipboard_hub_request(fz->hub, info,
                                      ((a >> 2) & 7) % VDC_CLIPBOARD_TYPE__COUNT);
        }
        break;
    }
    case OP_HOST_SYNC:
        fz->host_sync = take(fz) & 1;
        break;
    case OP_HOST_RESET_SERIAL:
        vdc_clipboard_hub_reset_serial(fz->hub);
        break;
    case OP_POINTER:
        a = take(fz);
        b = take(fz);
        vdc_input_send_abs(fz->router, a % 5, b & 1,
                           (int32_t)(b >> 1) * (VDC_INPUT_ABS_MAX / 127));
        vdc_input_event_sync(fz->router);
        break;
    case OP_BUTTON:
        a = take(fz);
        b = take(fz);
        vdc_input_send_btn(fz->router, a % 5, (b & 7) % VDC_INPUT_BUTTON__COUNT,
                           b & 8);
        vdc_input_event_sync(fz->router);
        break;
    case OP_HEADS: {
        VdcInputHeadGeometry heads[4];

        n = take(fz) % 4 + 1;
        for (i = 0; i < n; i++) {
            a = take(fz);
            b = take(fz);
            heads[i] = (VdcInputHeadGeometry){
                .width = a ? a * 8u : 0, .height = a ? b * 8u + 8 : 0,
                .x = (int32_t)(i * 2048), .y = (int8_t)b,
            };
        }
        vdc_input_router_set_geometry(fz->router, heads, n);
        break;
    }
    case OP_NEW_AGENT:
        a = take(fz);
        if (!vdc_chardev_connected(fz->dev)) {
            guest_agent_free(fz->ga);
            fz->ga_caps = agent_caps[a & 7];
            fz->ga = guest_agent_new(&fz->ga_caps, 1);
            guest_agent_fx_enable(fz->ga, NULL);
            fz->ignored_seen = 0;
        }
        break;
    case OP_MIGRATE:
        migrate(fz, take(fz));
        break;
    case OP_TIMEOUT: {
        uint64_t before = requests_in(fz) - fz->req_base;
        unsigned session = fz->sessions;

        fire_timeouts(fz);
        if (fz->sessions == session) {
            /* (a callback that reopened the port started another one) */
            check_timed_out(fz, before);
        }
        break;
    }
    case OP_INPUT:
        n = take(fz) % 8 + 1;
        for (i = 0; i < n; i++) {
            a = take(fz);
            input_event(fz, a, take(fz));
        }
        break;
    }
}

/* ---- properties after every operation ------------------------------------ */

static GByteArray *save(VdcChardev *dev, GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_buffer();
    GByteArray *out;
    const uint8_t *p;
    size_t n;

    CHECK(vdc_chardev_register_migration(dev, reg, 0, NULL), "register");
    if (!vdc_migration_save(reg, s, errp)) {
        return NULL;
    }
    p = vdc_migration_stream_data(s, &n);
    out = g_byte_array_sized_new(n);
    g_byte_array_append(out, p, n);
    return out;
}

static bool load(VdcChardev *dev, const GByteArray *stream, GError **errp)
{
    g_autoptr(VdcMigrationRegistry) reg = vdc_migration_registry_new();
    g_autoptr(VdcMigrationStream) s = vdc_migration_stream_new_reader(stream->data,
                                                                      stream->len);

    CHECK(vdc_chardev_register_migration(dev, reg, 0, NULL), "register");
    return vdc_migration_load(reg, s, errp);
}

/* P1: save -> load into a fresh device -> save: the same bytes. */
static void check_round_trip(Fz *fz)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) first = save(fz->dev, &err);
    g_autoptr(GByteArray) again = NULL;
    VdcConfig config = fz->config;
    VdcChardev *fresh;
    size_t held;

    CHECK(first, "a reached state does not save (%" G_GUINT64_FORMAT
          " bytes of output queued): %s",
          vdc_chardev_pending_output(fz->dev), err->message);
    /* P7: the whole saved state, its queued output included */
    held = first->len;
    fz->held_max = MAX(fz->held_max, held);
    CHECK(held <= HELD_CONST + OUTPUT_ROOM + 2 * fz->given +
                  HELD_PER_OP * fz->ops,
          "the device holds %zu bytes, given %" G_GUINT64_FORMAT " in %u "
          "operations", held, fz->given, fz->ops);
    config.clipboard_hub = NULL;
    config.input_router = NULL;
    fresh = vdc_chardev_new(&config, &mute_ops, NULL, &err);
    CHECK(fresh, "fresh device: %s", err ? err->message : "?");
    vdc_chardev_set_running(fresh, false);
    CHECK(load(fresh, first, &err), "a reached state does not load: %s",
          err->message);
    again = save(fresh, &err);
    CHECK(again, "a loaded state does not save: %s", err ? err->message : "?");
    CHECK(again->len == first->len &&
          memcmp(again->data, first->data, first->len) == 0,
          "save -> load -> save differs (%u and %u bytes)", first->len,
          again->len);
    vdc_chardev_free(fresh);
}

/*
 * Fire every request timer of the hubs now: they are the only sources on
 * the run's own context, found by id (ids are per context, from 1) and
 * made ready at once, so no time passes and the run stays deterministic.
 */
static void fire_timeouts(Fz *fz)
{
    GSource *probe = g_idle_source_new();
    guint last = g_source_attach(probe, fz->ctx);
    guint id;
    unsigned i;

    g_source_destroy(probe);
    g_source_unref(probe);
    for (id = 1; id < last; id++) {
        GSource *src = g_main_context_find_source_by_id(fz->ctx, id);

        if (src && !g_source_is_destroyed(src)) {
            g_source_set_ready_time(src, 0);
        }
    }
    for (i = 0; i < 64 && g_main_context_iteration(fz->ctx, FALSE); i++) {
        fz->timeouts_fired++;
    }
}

/*
 * Migrate: stop, save, free the source (its hub and router when the
 * harness made them), make the destination (a new device with the same
 * config and frontend, new harness hub and router), register the host
 * peers there (restoring what they owned: bit 0), load, reopen the port
 * when it was open (the session continues: no reconnect), resume when the
 * source ran.  The agent and its stream go on with the destination.  The
 * host's unanswered requests die with the source.
 */
static void migrate(Fz *fz, uint8_t b)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GByteArray) stream = NULL;
    bool was_running = vdc_chardev_running(fz->dev);
    VdcClipboardSaved saved[2];
    unsigned i, n_acts = fz->n_acts;
    uint64_t caps = caps_in(fz), reqs = requests_in(fz), drops = drops_in(fz);

    vdc_chardev_set_running(fz->dev, false);
    stream = save(fz->dev, &err);
    CHECK(stream, "a reached state does not save (%" G_GUINT64_FORMAT
          " bytes of output queued): %s",
          vdc_chardev_pending_output(fz->dev), err->message);
    memset(saved, 0, sizeof(saved));
    if (b & 1) {
        vdc_clipboard_saved_collect(&saved[0], &fz->host);
        vdc_clipboard_saved_collect(&saved[1], &fz->host2);
    }
    for (i = 0; i < fz->n_reqs; i++) {
        vdc_clipboard_info_unref(fz->reqs[i].info);
    }
    fz->n_reqs = 0;
    fz->n_acts = 0;              /* the source is gone: no actions from it */
    vdc_clipboard_peer_unregister(&fz->host);
    vdc_clipboard_peer_unregister(&fz->host2);
    vdc_chardev_free(fz->dev);
    fz->dev = NULL;
    if (fz->own_hub) {
        vdc_clipboard_hub_free(fz->own_hub);
        fz->own_hub = vdc_clipboard_hub_new();
        fz->config.clipboard_hub = fz->own_hub;
    }
    if (fz->own_router) {
        vdc_input_router_free(fz->own_router);
        fz->own_router = vdc_input_router_new();
        fz->config.input_router = fz->own_router;
    }

    fz->dev = vdc_chardev_new(&fz->config, &fe_ops, fz, &err);
    CHECK(fz->dev, "destination device: %s", err ? err->message : "?");
    vdc_chardev_set_file_xfer_ops(fz->dev, &xfer_ops, fz);
    vdc_chardev_set_running(fz->dev, false);
    fz->hub = vdc_chardev_clipboard_hub(fz->dev);
    fz->router = vdc_chardev_input_router(fz->dev);
    vdc_clipboard_peer_register(fz->hub, &fz->host);
    vdc_clipboard_peer_register(fz->hub, &fz->host2);
    vdc_clipboard_saved_restore(&saved[0], fz->hub, &fz->host);
    vdc_clipboard_saved_restore(&saved[1], fz->hub, &fz->host2);
    vdc_clipboard_saved_clear(&saved[0]);
    vdc_clipboard_saved_clear(&saved[1]);
    CHECK(load(fz->dev, stream, &err), "a reached state does not load: %s",
          err->message);
    /* The counters go on from the source's. */
    fz->caps_carry += caps - caps_in(fz);
    fz->req_carry += reqs - requests_in(fz);
    fz->drops_carry += drops - drops_in(fz);
    fz->migrations++;
    CHECK(vdc_chardev_connected(fz->dev) == fz->open,
          "the destination's port is %s, the source's was %s",
          vdc_chardev_connected(fz->dev) ? "open" : "closed",
          fz->open ? "open" : "closed");
    fz->n_acts = n_acts;
    if (fz->open) {
        vdc_chardev_set_guest_open(fz->dev, true);
    }
    vdc_chardev_set_running(fz->dev, was_running);
}

/*
 * P3b, after every timer fired: running with room, a session with one
 * agent caps and no raw bytes has answered the @before guest requests it
 * accepted before the timers fired (each got its one answer, from the
 * host or empty; P5 forbids more answers than requests).  Unless the
 * agent asked again while the timers fired (a callback's action pushed a
 * request: the device forwards it and the hub starts a timer for it that
 * is not due yet), no request is left outstanding.  P3 then counts them
 * once the device is quiet.
 */
static void check_timed_out(Fz *fz, uint64_t before)
{
    uint32_t serial[VDC_CLIPBOARD_SELECTION__COUNT], pending[VDC_CLIPBOARD_SELECTION__COUNT];
    uint64_t requests = requests_in(fz) - fz->req_base;
    unsigned s;

    if (!fz->open || fz->inexact || !vdc_chardev_running(fz->dev) ||
        fe_can_write(fz) == 0 || caps_in(fz) - fz->caps_base != 1) {
        return;
    }
    CHECK(fz->answers >= before, "%" G_GUINT64_FORMAT " answers after every "
          "timer fired, to %" G_GUINT64_FORMAT " requests accepted before",
          fz->answers, before);
    if (requests > before) {
        return;                  /* asked again while they fired */
    }
    vdc_chardev_clipboard_state(fz->dev, serial, pending);
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        CHECK(pending[s] == 0, "%s requests still outstanding after every "
              "timer fired (types 0x%x)", vdc_clipboard_selection_name(s),
              pending[s]);
    }
}

static bool quiet(Fz *fz)
{
    uint32_t serial[VDC_CLIPBOARD_SELECTION__COUNT], pending[VDC_CLIPBOARD_SELECTION__COUNT];
    unsigned s;

    if (!vdc_chardev_running(fz->dev) || fe_can_write(fz) == 0 ||
        vdc_chardev_pending_output(fz->dev) > 0) {
        return false;
    }
    vdc_chardev_clipboard_state(fz->dev, serial, pending);
    for (s = 0; s < VDC_CLIPBOARD_SELECTION__COUNT; s++) {
        if (pending[s]) {
            return false;
        }
    }
    return true;
}

static void check_all(Fz *fz)
{
    fz->deferred = false;        /* no device call under way: all fed */
    settle_serials(fz);
    note_forged(fz);

    CHECK(fz->open == vdc_chardev_connected(fz->dev),
          "the port is %s, the harness left it %s",
          vdc_chardev_connected(fz->dev) ? "open" : "closed",
          fz->open ? "open" : "closed");
    check_round_trip(fz);
    /* P2 */
    if (vdc_chardev_running(fz->dev) && fe_can_write(fz) > 0) {
        CHECK(vdc_chardev_pending_output(fz->dev) == 0,
              "%" G_GUINT64_FORMAT " bytes stuck with room to write",
              vdc_chardev_pending_output(fz->dev));
    }
    if (!fz->open) {
        return;
    }
    observe(fz);
    /* P3 */
    if (!fz->inexact && quiet(fz) && caps_in(fz) - fz->caps_base == 1) {
        uint64_t requests = requests_in(fz) - fz->req_base;

        CHECK(fz->answers == requests, "%" G_GUINT64_FORMAT " requests, %"
              G_GUINT64_FORMAT " answers", requests, fz->answers);
    }
}

/* ---- the run --------------------------------------------------------------- */

/*
 * Byte 0: bit 0 the harness's hub, bit 1 the harness's router, bit 2
 * monitors off, bit 3 mouse off, bit 4 the port opened at once; bits 5-7
 * the agent's caps (agent_caps[]).
 */
static void setup(Fz *fz)
{
    uint8_t b = take(fz);
    g_autoptr(GError) err = NULL;

    fz->trace = g_getenv("FUZZ_DEVICE_TRACE") != NULL;
    fz->ctx = g_main_context_new();
    g_main_context_push_thread_default(fz->ctx);
    vdc_config_init(&fz->config);
    fz->config.clipboard = true;
    fz->config.monitors = !(b & 4);
    fz->config.mouse = !(b & 8);
    fz->config.max_message = FUZZ_MAX_MESSAGE;
    if (b & 1) {
        fz->own_hub = vdc_clipboard_hub_new();
        fz->config.clipboard_hub = fz->own_hub;
    }
    if (b & 2) {
        fz->own_router = vdc_input_router_new();
        fz->config.input_router = fz->own_router;
    }
    fz->unlimited = true;
    fz->dev = vdc_chardev_new(&fz->config, &fe_ops, fz, &err);
    CHECK(fz->dev, "device: %s", err ? err->message : "?");
    fz->hub = vdc_chardev_clipboard_hub(fz->dev);
    fz->router = vdc_chardev_input_router(fz->dev);
    fz->host = (VdcClipboardPeer){ .name = "host", .ops = &host_ops, .opaque = fz };
    fz->host2 = (VdcClipboardPeer){ .name = "host2", .ops = &host2_ops,
                                 .opaque = fz };
    vdc_clipboard_peer_register(fz->hub, &fz->host);
    vdc_clipboard_peer_register(fz->hub, &fz->host2);
    fz->ga_caps = agent_caps[b >> 5];
    fz->ga = guest_agent_new(&fz->ga_caps, 1);
    guest_agent_fx_enable(fz->ga, NULL);
    vdc_chardev_set_file_xfer_ops(fz->dev, &xfer_ops, fz);
    if (b & 16) {
        set_open(fz, true);
    }
}

static unsigned xfers_ended(const Fz *fz)
{
    unsigned i, n = 0;

    for (i = 0; i < fz->n_xfers; i++) {
        n += fz->xfers[i].ends;
    }
    return n;
}

static void teardown(Fz *fz)
{
    unsigned i;

    if (g_getenv("FUZZ_DEVICE_TRACE")) {
        /* What a seed reached, to check that it reaches what it says. */
        fprintf(stderr, "fuzz_device: %u ops, %u migrations, %u timers "
                "fired, %" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT
                " answers this session, %u ignored by the agent, held at most "
                "%zu bytes, given %" G_GUINT64_FORMAT ", %u file transfers "
                "(%u ended, %u completed in the agent)\n", fz->ops,
                fz->migrations, fz->timeouts_fired,
                requests_in(fz) - fz->req_base, fz->answers,
                guest_agent_ignored(fz->ga), fz->held_max, fz->given,
                fz->n_xfers, xfers_ended(fz), guest_agent_fx_completed(fz->ga));
    }

    fz->n_acts = 0;              /* the host peers' release may still write */
    for (i = 0; i < fz->n_reqs; i++) {
        vdc_clipboard_info_unref(fz->reqs[i].info);
    }
    vdc_clipboard_peer_unregister(&fz->host);
    vdc_clipboard_peer_unregister(&fz->host2);
    vdc_chardev_free(fz->dev);
    for (i = 0; i < fz->n_xfers; i++) {
        CHECK(fz->xfers[i].closes == 1, "transfer %u closed %u times",
              fz->xfers[i].id, fz->xfers[i].closes);
    }
    vdc_clipboard_hub_free(fz->own_hub);
    vdc_input_router_free(fz->own_router);
    guest_agent_free(fz->ga);
    g_main_context_pop_thread_default(fz->ctx);
    g_main_context_unref(fz->ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    Fz fz = { .p = data, .left = size };

    if (!init) {
        /* A g_return_if_fail or g_warning is a bug the fuzzer found. */
        g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
        init = true;
    }
    setup(&fz);
    check_all(&fz);
    while (fz.left > 0) {
        fz.ops++;
        run_op(&fz, take(&fz));
        check_all(&fz);
    }
    teardown(&fz);
    return 0;
}
