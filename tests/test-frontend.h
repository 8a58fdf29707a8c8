/*
 * test-frontend.h: the fake frontend of the device suites.
 *
 * A TestFe is the guest side of one device's virtio-serial port, as an
 * emulator's chardev frontend is.  It owns a VdcChardev made with its
 * callbacks (VdcFrontendOps), and
 *  - records every byte the device writes, in order, every port event and
 *    every guest-caps notification;
 *  - gives the device room without limit, or through a budget the test
 *    refills (flow control: each write takes its length from it, and a
 *    write beyond it fails the test);
 *  - feeds what the device writes to a scripted guest agent
 *    (tests/guest-agent.h), its own or one it borrows, and pushes the
 *    agent's bytes back into the device when the test pumps;
 *  - owns host-side clipboard peers (tests/test-peer.h) on the device's
 *    hub, and frees them before the device.
 *
 * A test may re-enter the device from inside the frontend's callbacks, as
 * vdagent/vdc-vdagent.h allows (write guest bytes, accept_input,
 * set_guest_open): a hook (fe_set_hook()) runs from inside write(),
 * event() and guest_caps(), once the frontend has recorded the call.
 *
 * The fields of TestFe are the test's to read, and to set where a comment
 * says so.  Failures (a write beyond the budget, a device call after
 * fe_free_dev(), a device that cannot be made) fail the running Check test.
 */
#ifndef TEST_FRONTEND_H
#define TEST_FRONTEND_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/guest-agent.h"
#include "tests/test-peer.h"
#include "vdagent/vdc-vdagent.h"

/* What can_write() says while unlimited. */
#define FE_UNLIMITED_ROOM 65536

typedef struct TestFe TestFe;

/* The frontend callback a hook runs from. */
typedef enum TestFeCallKind {
    FE_CALL_WRITE,               /* write(): @buf, @len */
    FE_CALL_EVENT,               /* event(): @event */
    FE_CALL_GUEST_CAPS,          /* guest_caps() */
} TestFeCallKind;

typedef struct TestFeCall {
    TestFeCallKind kind;
    const uint8_t *buf;          /* FE_CALL_WRITE: the bytes, borrowed for
                                    the call (still readable after the hook
                                    re-entered the device); else NULL */
    size_t len;                  /* FE_CALL_WRITE: their number; else 0 */
    VdcEvent event;          /* FE_CALL_EVENT: the event */
} TestFeCall;

/*
 * A hook: runs from inside the device's callback described by @call, once
 * the frontend has recorded it (and fed the agent).  It may call the
 * device as vdagent/vdc-vdagent.h allows from inside a frontend callback
 * (vdc_chardev_write(), _accept_input(), _set_guest_open(),
 * _set_running()), the frontend (fe_push(), fe_pump(), fe_set_hook(), to
 * remove itself for instance) and the agent.  It must not free the device.
 */
typedef void (*TestFeHook)(TestFe *fe, const TestFeCall *call, void *opaque);

struct TestFe {
    VdcChardev *dev;         /* the device; NULL after fe_free_dev() */
    VdcConfig config;        /* the config it was made with (a copy) */
    VdcClipboardHub *hub;           /* the device's hub (its own or the
                                    config's); NULL after fe_free_dev() */
    VdcInputRouter *router;         /* the device's router, likewise */
    /*
     * The agent every written byte is fed to; NULL: fed to nobody.  Owned
     * when @owns_ga (fe_new(), fe_new_agent()), else borrowed
     * (fe_new_detached(), fe_attach()).  A test may swap an owned agent
     * for one it makes (freeing the old one itself), or set a borrowed
     * one directly while @owns_ga is false.
     */
    GuestAgent *ga;
    bool owns_ga;
    uint32_t *caps;              /* the caps words of the frontend's own */
    size_t n_caps;               /* agents (a copy; NULL when none) */
    bool unlimited;              /* set: can_write() says
                                    FE_UNLIMITED_ROOM; clear: @budget */
    size_t budget;               /* set: bytes the guest side takes until
                                    refilled; each write takes its length */
    GByteArray *wire;            /* every byte written, in order; the test
                                    may truncate it, or free it and set
                                    NULL to keep nothing */
    uint64_t written;            /* bytes written */
    unsigned writes;             /* write() calls */
    GString *events;             /* one letter per event, in order:
                                    'O' OPENED, 'C' CLOSED */
    unsigned guest_caps;         /* guest_caps() calls */
    /*
     * Set: the frontend honours vdc_chardev_input_room(), as a
     * chardev backend honours chr_can_read: fe_push() keeps what the
     * device does not take now in @held (the bytes the kernel or the
     * virtqueue would hold) and pushes it as room comes (fe_feed_held(),
     * fe_accept()).  Clear (the default): every byte is pushed at once.
     */
    bool honour_room;
    GByteArray *held;            /* guest bytes not pushed yet */
    size_t max_push;             /* the largest single push */
    GPtrArray *peers;            /* HostPeer *: freed before the device */
    TestFeHook hook;             /* see fe_set_hook() */
    void *hook_opaque;
};

/*
 * The frontend's callbacks, with a TestFe as their opaque: for a test
 * that makes a device itself.
 */
extern const VdcFrontendOps test_fe_ops;

/*
 * A config with the defaults of vdc_config_init() but @mouse,
 * @clipboard and @monitors as given.
 */
VdcConfig fe_config(bool mouse, bool clipboard, bool monitors);

/*
 * A new frontend and a device made with @config (copied; it must be
 * valid): the port closed, the device running, room unlimited, no hook.
 * Its own agent (fe->ga, owned) announces the @n_caps words of @caps
 * (copied; NULL when @n_caps is 0) and has sent nothing yet.
 * Free with fe_free().
 */
TestFe *fe_new(const VdcConfig *config, const uint32_t *caps,
               size_t n_caps);

/* fe_new() with one caps word, as the real agents announce. */
TestFe *fe_new1(const VdcConfig *config, uint32_t caps);

/*
 * The same with no agent: fe->ga stays NULL (written bytes are only
 * recorded) until fe_attach() or fe_new_agent().
 */
TestFe *fe_new_detached(const VdcConfig *config);

/*
 * Free @fe: its peers, then the device, then an owned agent.  The device
 * calls no callback while freed.  NULL is a no-op.
 */
void fe_free(TestFe *fe);

/*
 * Free the peers and the device only: the frontend stays (fe->dev, hub
 * and router become NULL), so that a late call from the device's memory
 * is caught: any callback from then on fails the test.
 */
void fe_free_dev(TestFe *fe);

/*
 * Give the frontend a fresh agent of its own (serials 0, no host caps,
 * nothing sent) announcing fe->caps, in place of the current one (freed
 * if owned).  Returns it (owned by @fe).
 */
GuestAgent *fe_new_agent(TestFe *fe);

/*
 * From now on written bytes are fed to @ga (borrowed: it must outlive its
 * attachment; NULL: to nobody).  The current agent is freed if owned.
 */
void fe_attach(TestFe *fe, GuestAgent *ga);

/*
 * Set the hook (NULL: none) and its @opaque (borrowed).  May be called
 * from inside the hook.
 */
void fe_set_hook(TestFe *fe, TestFeHook hook, void *opaque);

/*
 * A ready hook: after each write, the agent's output (its answers to what
 * it was just fed) goes back into the device from inside write(), as a
 * frontend that answers synchronously does.  @opaque is unused.
 */
void fe_hook_pump(TestFe *fe, const TestFeCall *call, void *opaque);

/*
 * Push @len guest bytes into the device (@buf borrowed for the call);
 * with @honour_room, behind what is held, as room allows.
 */
void fe_push(TestFe *fe, const uint8_t *buf, size_t len);

/*
 * With @honour_room: push what @held holds, in order, at most
 * vdc_chardev_input_room() bytes a push, until the device takes no
 * more or nothing is held.  Without: nothing.
 */
void fe_feed_held(TestFe *fe);

/* The guest side has room: vdc_chardev_accept_input(), fe_feed_held(). */
void fe_accept(TestFe *fe);

/* Push the agent's pending output into the device (fe->ga must be set). */
void fe_pump(TestFe *fe);

/*
 * Open the guest side of the port and pump the agent's answer to the
 * device's caps request; the agent must have seen no protocol error.
 * What it received stays in its list.
 */
void fe_open(TestFe *fe);

/*
 * The guest agent restarts: a fresh agent of the frontend's own
 * (fe_new_agent()).  With @reopen the port closes first and opens again
 * (the device asks for caps); else the new agent announces itself with
 * request=1 on the open port, as spice-vdagentd does when it starts.
 * Its answer is pumped; the agent must have seen no protocol error.
 */
void fe_restart_agent(TestFe *fe, bool reopen);

/* The device's counters. */
VdcCounters fe_counters(const TestFe *fe);

/*
 * A host-side peer named @name (a literal) on the device's hub, owned by
 * @fe (freed before the device); see hp_new().
 */
HostPeer *fe_peer_new_full(TestFe *fe, const char *name, bool can_request);

/* The same named "test-host", with a request callback. */
HostPeer *fe_peer_new(TestFe *fe);

#endif /* TEST_FRONTEND_H */
