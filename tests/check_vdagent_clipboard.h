/*
 * check_vdagent_clipboard.h: the fixture of the vdagent-clipboard suites.
 *
 * They test the guest agent as a clipboard peer
 * (vdagent/vdagent-clipboard.c), between the scripted guest agent
 * (tests/guest-agent.c) behind the fake frontend (tests/test-frontend.h)
 * and host-side peers of our own on the device's hub (tests/test-peer.h):
 *   check_vdagent_clipboard_grabs.c     caps and registration, grab
 *                                       serials, grabs, releases
 *   check_vdagent_clipboard_requests.c  round trips both ways, requests
 *                                       and their answers
 *   check_vdagent_clipboard_session.c   serial resets and port events,
 *                                       the port closing and reopening,
 *                                       a stopped hub
 *   check_vdagent_clipboard_data.c      MAX_CLIPBOARD, large clipboards
 *                                       streamed through flow control
 *
 * Guest input is built with the guest agent's encoder and the device's
 * output is decoded by the guest agent's decoder, never by the library;
 * expected message bodies are built here (body(), body32(), ...).  The
 * agent counts the host's grab serials like spice-vdagentd, so a grab it
 * would discard shows up in guest_agent_ignored().
 *
 * Tests named after a row of shared/reference/bug-history.md (q1, r7,
 * v10, i5...) are that row's regression test.
 *
 * The scripted agent is spice-vdagentd: it has SELECTION and GRAB_SERIAL
 * and lays its messages out after the host's caps; the caps sets loop over
 * its layouts and over the Windows agent (caps_sets[3], the agent's
 * Windows model: WINDOWS_AGENT_CAPS, its chunks and its rules, issue 22).  Guests lacking those
 * caps (older agents) get their messages written here in their own
 * layout (ga_send_*), see cb_real_layout().
 */
#ifndef CHECK_VDAGENT_CLIPBOARD_H
#define CHECK_VDAGENT_CLIPBOARD_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "clipboard/vdc-clipboard.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "vdagent/vdc-vdagent.h"

#define CAP(c) (1u << VD_AGENT_CAP_##c)

#define CAPS_FULL (CAP(CLIPBOARD_BY_DEMAND) | CAP(CLIPBOARD_SELECTION) | \
                   CAP(CLIPBOARD_GRAB_SERIAL))
#define CAPS_SEL (CAP(CLIPBOARD_BY_DEMAND) | CAP(CLIPBOARD_SELECTION))
#define CAPS_PLAIN CAP(CLIPBOARD_BY_DEMAND)

#define SEL_CLIPBOARD VDC_CLIPBOARD_SELECTION_CLIPBOARD
#define SEL_PRIMARY VDC_CLIPBOARD_SELECTION_PRIMARY
#define SEL_SECONDARY VDC_CLIPBOARD_SELECTION_SECONDARY
#define N_SEL VDC_CLIPBOARD_SELECTION__COUNT

#define BIT(t) (1u << VDC_CLIPBOARD_TYPE_##t)

/* A type no spice-protocol version defines. */
#define VD_TYPE_UNKNOWN 0x1000u

/* The hub's request timeout in the tests that wait for it. */
#define SHORT_TIMEOUT_MS 20

/* The guest's clipboard caps the tables run over. */
typedef struct CapsSet {
    const char *name;
    uint32_t caps;
    bool sel;            /* CLIPBOARD_SELECTION: prefix, 3 selections */
    bool serial;         /* CLIPBOARD_GRAB_SERIAL */
} CapsSet;
extern const CapsSet caps_sets[4];
#define N_CAPS_SETS G_N_ELEMENTS(caps_sets)

/* Guest-to-host cases: every selection the guest can name. */
typedef struct SelCase {
    unsigned caps;       /* index in caps_sets */
    unsigned sel;
} SelCase;
extern const SelCase g2h_cases[8];

/* ---- the frontend ------------------------------------------------------- */

/* Clipboard on, no mouse, no MONITORS_CONFIG (less unrelated traffic). */
VdcConfig cb_config(void);

/* A device (port closed) and an agent announcing @caps. */
TestFe *cb_new(uint32_t caps);

/*
 * Open the port, let the agent answer the caps request (the device then
 * has BY_DEMAND exactly when the agent announced it), forget the messages
 * of the handshake.
 */
void cb_open(TestFe *fe);

/* cb_new() then cb_open(). */
TestFe *cb_connect(uint32_t caps);

/* The device's counters of @reason, of accepted messages of @type. */
uint64_t drops(const TestFe *fe, VdcDrop reason);
uint64_t msgs_in(const TestFe *fe, uint32_t type);

/* The device's own clipboard peer (to tell its ownership from nobody's). */
VdcClipboardPeer *dev_peer(TestFe *fe);

/* The owner of @sel on the device's hub, NULL for nobody. */
VdcClipboardPeer *owner_of(TestFe *fe, unsigned sel);

/* The agent has CLIPBOARD_SELECTION, CLIPBOARD_GRAB_SERIAL. */
bool cb_has_sel(const TestFe *fe);
bool cb_has_serial(const TestFe *fe);

/*
 * The scripted agent lays clipboard messages out after the HOST's caps,
 * which always carry SELECTION and GRAB_SERIAL: like spice-vdagentd, which
 * has both.  An older agent lacking one does not know it and never writes
 * it: for such a guest the messages are written here, in its layout, and
 * the agent's size and serial judgements (guest_agent_ignored(), its S)
 * do not apply to what it receives.  True when the agent has both.
 */
bool cb_real_layout(const TestFe *fe);

/* ---- expected message bodies (our own encoding) ------------------------- */

/* A new body: the selection prefix (@sel, 3 zero bytes) when @prefix. */
GByteArray *body(bool prefix, unsigned sel);

/* Append a little-endian word, @len bytes of @data.  Return @b. */
GByteArray *body32(GByteArray *b, uint32_t v);
GByteArray *body_bytes(GByteArray *b, const void *data, size_t len);

/* @m has @type and exactly the bytes of @expect (freed). */
void ck_msg(const GuestAgentMsg *m, uint32_t type, GByteArray *expect);

/* The guest's GRAB as the host should send it: serial only with the cap. */
GByteArray *grab_body(const TestFe *fe, unsigned sel, uint32_t serial);

/* ---- what the agent received ------------------------------------------- */

/* The @n-th (0-based) received message of @type, or NULL. */
const GuestAgentMsg *ga_nth(const TestFe *fe, uint32_t type, size_t n);

/* The latest received message (there must be one). */
const GuestAgentMsg *ga_last(const TestFe *fe);

/* How many received messages have @type. */
size_t ga_count(const TestFe *fe, uint32_t type);

/* The last GRAB the agent received is for @sel and carries @serial. */
void ck_last_grab(TestFe *fe, unsigned sel, uint32_t serial);

/*
 * The agent saw no protocol error, and (when its model applies) would
 * have dropped nothing we sent.
 */
void ck_agent_ok(const TestFe *fe);

/* ---- what the agent sends, in the guest's layout ------------------------ */

/* The agent sends a GRAB with a serial of our choosing (FULL caps), pumped. */
void ga_raw_grab(TestFe *fe, unsigned sel, uint32_t serial,
                 const uint32_t *types, size_t n);

/*
 * GRAB, REQUEST, CLIPBOARD, RELEASE as the guest would lay them out (see
 * cb_real_layout()); queued in the agent's output, not pumped.
 */
void ga_send_grab(TestFe *fe, unsigned sel, const uint32_t *types, size_t n);
void ga_send_request(TestFe *fe, unsigned sel, uint32_t vdtype);
void ga_send_clipboard(TestFe *fe, unsigned sel, uint32_t vdtype,
                       const void *data, size_t len);
void ga_send_release(TestFe *fe, unsigned sel);

/* A GRAB of one type, pumped. */
void ga_grab1(TestFe *fe, unsigned sel, uint32_t vdtype);

/*
 * @hp grabs CLIPBOARD offering @type with @data (referenced) as its
 * answer; the agent forgets what it received and asks for it (@vdtype,
 * the same type on the wire); pumped.
 */
void cb_offer_and_request(TestFe *fe, HostPeer *hp, VdcClipboardType type,
                          uint32_t vdtype, GBytes *data);

/* ---- data and the main loop --------------------------------------------- */

/* A binary payload (every byte value) of @len bytes. */
GBytes *binary_payload(size_t len, unsigned seed);

/* Iterate the thread-default context until @cond holds, at most 2 s. */
#define WAIT_UNTIL(cond)                                                    \
    do {                                                                    \
        gint64 end_ = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;          \
        while (!(cond) && g_get_monotonic_time() < end_) {                  \
            if (!g_main_context_iteration(NULL, FALSE)) {                   \
                g_usleep(200);                                              \
            }                                                               \
        }                                                                   \
    } while (0)

/* Iterate for @ms milliseconds (to see that nothing more happens). */
void iterate_ms(unsigned ms);

#endif /* CHECK_VDAGENT_CLIPBOARD_H */
