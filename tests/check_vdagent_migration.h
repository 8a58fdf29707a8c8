/*
 * check_vdagent_migration.h: the fixture of the vdagent-migration suites.
 *
 * They test the device's "vdagent" migration section
 * (vdagent/vdagent-vmstate.c) through the savevm container (migration/):
 *   check_vdagent_migration_canonical.c  canonical states byte for byte,
 *                                        their vmdesc, the RFC's layout
 *   check_vdagent_migration_offsets.c    migration at every byte of a
 *                                        guest stream
 *   check_vdagent_migration_state.c      clipboard in flight, session
 *                                        state (mouse, caps, serials)
 *   check_vdagent_migration_output.c     output queued at the save
 *   check_vdagent_migration_bad.c        truncated and corrupted streams
 *
 * The agent model is a parameter (issue 22): real_agent() is the Linux
 * agent unless a tcase's checked fixture chose the Windows one
 * (mig_model_windows()), and the tests follow it through MIG_PREFIX,
 * MIG_SERIAL, MIG_SEL, MIG_CHUNK, MIG_CLIP_HEAD and mig_text_*().  The
 * tcases named "-windows" of the offsets, state, output, reachable, live
 * and blob suites run so; the canonical and bad suites stay the Linux
 * agent's (fixed byte streams of one agent, see their headers).
 *
 * The pattern of every test: a source device connected to the scripted
 * guest agent (tests/guest-agent.c) behind the fake frontend
 * (tests/test-frontend.h) is driven into a state, stopped and saved into
 * a memory stream; a destination device with the same config (stopped, as
 * an incoming VM is) loads it; its next guest open must be a no-op (Q19:
 * no caps request, no reset); it runs; then the SAME guest agent (borrowed
 * by each frontend in turn) continues against it and must see no
 * reconnect, no second caps request, no protocol error and no discarded
 * grab.
 *
 * Guest input is built with the guest agent's encoder and the device's
 * output decoded by its decoder, never by the library.  Expected streams
 * are written byte by byte (the idle one as a literal, the others with a
 * small independent builder, Spec below), and the expected vmdesc JSON of
 * each canonical state is tests/data/vdagent-desc-<state>.json, found
 * through $TEST_DATA_DIR (default "tests/data").
 *
 * Host-side clipboard peers (tests/test-peer.h) live on each device's
 * private hub.  A host peer that owned a selection on the source is
 * "restored" on the destination with vdc_clipboard_saved_collect()/
 * vdc_clipboard_saved_restore() (a host peer migrating its own state), or
 * re-created after the run.
 *
 * Rows of shared/reference/bug-history.md tested: Q7 (save with an owned
 * clipboard and a pending request: answered, serials continue), Q19 (open
 * after load is not a reconnect), Q21 (versions), R3 (migration mid-chunk,
 * at every byte), R4 (n and selection bounds), R5 (output length bounded),
 * S18 (every parser length checked).
 */
#ifndef CHECK_VDAGENT_MIGRATION_H
#define CHECK_VDAGENT_MIGRATION_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

#include "clipboard/vdc-clipboard.h"
#include "migration/vdc-savevm.h"
#include "tests/guest-agent.h"
#include "tests/test-frontend.h"
#include "tests/test-util.h"
#include "vdagent/vdc-vdagent.h"

#define CAP(c) (1u << VD_AGENT_CAP_##c)
#define N_SEL VDC_CLIPBOARD_SELECTION__COUNT
#define N_TYPES VDC_CLIPBOARD_TYPE__COUNT
#define BIT(t) (1u << VDC_CLIPBOARD_TYPE_##t)

/* ---- bytes ------------------------------------------------------------- */

/* Append one byte; a counted string (u8 length, bytes), as idstrs and
 * subsection names are written. */
void app_u8(GByteArray *b, uint8_t v);
void app_str8(GByteArray *b, const char *s);

/* A new array holding a copy of @n bytes of @p. */
GByteArray *bytes_copy(const uint8_t *p, size_t n);

/* Append the agent's pending output to @out. */
void take_into(GByteArray *out, GuestAgent *ga);

/* ---- the frontend and host peers --------------------------------------- */

/* Mouse and clipboard on, no MONITORS_CONFIG (less unrelated traffic). */
VdcConfig mig_config(void);

/* Attach @ga (borrowed), open the port, let the agent answer the caps
 * request, forget what it received. */
void mig_connect(TestFe *p, GuestAgent *ga);

/*
 * A fresh agent of the model under test (the caller owns it): the Linux
 * agent (REAL_AGENT_CAPS) unless a tcase's checked fixture chose another
 * (mig_model_linux(), mig_model_windows(): a loop over the models).
 */
GuestAgent *real_agent(void);
extern GuestAgentModel mig_model;
void mig_model_linux(void);
void mig_model_windows(void);
/* Under the model under test: the selection prefix's length (0 or 4),
 * whether grabs carry a serial, the selection a test uses for @sel
 * (the Windows agent has CLIPBOARD only). */
#define MIG_PREFIX (mig_model == GUEST_AGENT_LINUX ? 4u : 0u)
#define MIG_SERIAL (mig_model == GUEST_AGENT_LINUX)
#define MIG_SEL(sel) (mig_model == GUEST_AGENT_LINUX ? (unsigned)(sel) : 0u)
/* The payload of the agent's chunks when a script splits a message as
 * the model's agent does: the Windows agent's chunks are
 * GUEST_AGENT_WINDOWS_CHUNK bytes with their header; the Linux agent
 * writes one chunk per message (a split one: VD_AGENT_MAX_DATA_SIZE). */
#define MIG_CHUNK (mig_model == GUEST_AGENT_WINDOWS ? \
                   GUEST_AGENT_WINDOWS_CHUNK - 8u : 2048u)
/* Bytes before the data in a CLIPBOARD message: [selection] type. */
#define MIG_CLIP_HEAD (MIG_PREFIX + 4u)

/*
 * Text under the model (the library converts, issue 22; these are written
 * here, independent of it): what the agent receives for the host's LF
 * text @p (the Windows agent, GUEST_LINEEND_CRLF: every LF not after a CR
 * becomes CRLF), and what host peers get for the agent's text (Windows:
 * CRLF -> LF, a lone CR kept).  The Linux agent: @p as is.  The caller
 * owns the array.
 */
GByteArray *mig_text_to_guest(const void *p, size_t n);
GByteArray *mig_text_from_guest(const void *p, size_t n);

/* Wire bytes of a host->guest message of @size bytes: its header and the
 * device's chunks of VD_AGENT_MAX_DATA_SIZE bytes with theirs. */
size_t mig_wire_len(size_t size);

/* The agent is happy: no protocol error, nothing it would discard. */
void ck_agent_clean(const GuestAgent *ga);

/*
 * The host peer migrating its own state: a peer on @dst's hub owning what
 * @src owned (serials, types, data), knowing what @src knew.  Done while
 * @dst is stopped, before its load, as an emulator restores its devices.
 */
HostPeer *hp_restore(HostPeer *src, TestFe *dst);

/* ---- migration --------------------------------------------------------- */

/* Save @dev alone (instance 0) into memory. */
GByteArray *save_dev(VdcChardev *dev);

/* Load @n bytes of @p into @dev (instance 0); false with @errp set. */
bool load_dev(VdcChardev *dev, const uint8_t *p, size_t n,
              GError **errp);

/* A destination for @src: same config, stopped (an incoming VM). */
TestFe *dest_new(const TestFe *src);

/* Load @stream into @dst; it must succeed. */
void dest_load_ok(TestFe *dst, const GByteArray *stream);

/*
 * After a successful load: the guest's open is not a reconnect and
 * nothing reaches the guest before the run; then attach @ga and run.
 */
void dest_resume(TestFe *dst, GuestAgent *ga);

/*
 * Stop @src, save it, load it into a new destination (host peers of @src
 * restored there first when @restore_peers) and resume it with @src's
 * agent.  @src stays stopped and no longer feeds the agent.
 */
TestFe *migrate(TestFe *src, bool restore_peers);

/* ---- a stream builder, independent of the engine ----------------------- */

/*
 * Everything a "vdagent" section can carry, field by field, written as the
 * layout says (SPEC section 4, QEMU's savevm format): the three fields,
 * then each subsection present in table order, the footer, EOF and an
 * optional vmdesc.  Values are written as given, so a test can write any
 * corruption; counts and lengths have a separate "bytes actually written"
 * where a lie needs one.
 */
typedef struct SpecInfo {
    uint32_t selection;
    uint8_t has_serial;          /* the raw byte */
    uint32_t serial;
    uint32_t types;
    uint32_t len[N_TYPES];
    const uint8_t *data[N_TYPES];/* len bytes (NULL: a pattern) */
    bool no_data;                /* lengths only, no bytes (a lie) */
} SpecInfo;

typedef struct Spec {
    uint32_t version;            /* the section's version */
    uint32_t caps;
    uint32_t last_serial[N_SEL];
    uint32_t cbpending[N_SEL];
    /* vdagent/session */
    bool session;
    uint8_t connected, reconnect;
    int32_t gmc;                 /* guest_max_clipboard */
    uint32_t n_caps;
    uint32_t words[VDC_MAX_CAPS_WORDS];
    /* vdagent/parser */
    bool parser;
    uint8_t chdr[8];
    uint32_t chdr_have, chunk_left;
    uint8_t chunk_skip;
    uint32_t msg;
    uint8_t mhdr[20];
    uint32_t mhdr_have, msg_left, len;
    const uint8_t *body;         /* len bytes */
    /* vdagent/output */
    bool output;
    uint32_t out_len;
    const uint8_t *out;
    uint32_t out_written;        /* bytes written (normally out_len) */
    /* vdagent/mouse */
    bool mouse;
    uint32_t mouse_x, mouse_y, mouse_buttons, mouse_display;
    /* vdagent/clipboard */
    bool clipboard;
    uint32_t n;
    SpecInfo infos[4];
    uint32_t host_pending[N_SEL];
    uint8_t cbpending_n[N_SEL * N_TYPES];
    uint32_t host_announced;     /* selections the guest holds host grabs of */
    /* extras for corruptions */
    const char *extra_sub;       /* another subsection, after the others */
    bool no_footer;
    const char *vmdesc;          /* NULL: none */
} Spec;

/* The stream @sp describes (the caller owns it). */
GByteArray *spec_stream(const Spec *sp);

/* Offset of the EOF byte in a saved stream of one section with a vmdesc. */
size_t eof_offset(const GByteArray *s);

/* ---- canonical states -------------------------------------------------- */

/* The clipboard text of the clipboard and full states. */
extern const uint8_t canon_hello[5];

/* The REQUEST for PNG the frontend has not taken in the full state, as the
 * wire has it. */
extern const uint8_t full_out[36];

/* Pointer values that land on exact pixels of the 1024x768 head. */
#define ABS_X_100 3204
#define ABS_Y_200 8545

/* A source driven into a canonical state. */
typedef struct Canon {
    TestFe *src;
    GuestAgent *ga;              /* borrowed by src's frontend */
    HostPeer *hp;                /* on src's hub */
    GByteArray *rest;            /* guest bytes not pushed yet */
} Canon;

/* A connected source (mig_config(), real_agent()) with a host peer. */
void canon_start(Canon *c);
void canon_stop(Canon *c);

/*
 * The canonical states: idle (connected, nothing else), clipboard (the
 * guest owns CLIPBOARD text and answered the host's request) and full
 * (every subsection, see drive_full()): how to drive a source there, and
 * the Spec of the stream its save must be.
 */
typedef struct CanonState {
    const char *name;
    void (*drive)(Canon *c);
    Spec (*spec)(void);
} CanonState;
extern const CanonState canon_states[3];

/* The Specs of the idle and full states; driving a source to full. */
Spec spec_idle(void);
Spec spec_full(void);
void drive_full(Canon *c);

#endif /* CHECK_VDAGENT_MIGRATION_H */
