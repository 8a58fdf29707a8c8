/*
 * sim-session.h: the sim-agent's session model.
 *
 * What spice-vdagentd 0.22.1 and its GTK session agent do with the host's
 * messages (see shared/real-agent.md), over the scripted guest agent
 * (tests/guest-agent.h), which does the wire work with its own encoder
 * and decoder (nothing from vdagent/ is used):
 *  - at the first connection it announces its caps with request=1 (unless
 *    told not to); after a reconnect it sends nothing by itself, keeps the
 *    host's caps, serials and MAX_CLIPBOARD, and releases its clipboards
 *    as for a new client;
 *  - host caps with request=1: reply (request=0), reset the serials (both
 *    done by the guest agent) and, if a client was already connected,
 *    release everything: RELEASE for guest-owned selections, host-owned
 *    ones are dropped silently, pending pastes fail;
 *  - a per-selection "X clipboard": owned by a guest app (text or image
 *    bytes), by the host (its announced types), or by nobody;
 *  - host REQUEST: CLIPBOARD with the data if a guest app owns the
 *    selection with that type, else CLIPBOARD type NONE with no data;
 *    there is no cache: every paste makes a new REQUEST;
 *  - MOUSE_STATE and MONITORS_CONFIG are recorded; MONITORS_CONFIG is
 *    answered with REPLY{MONITORS_CONFIG, SUCCESS}.
 * Where the real agent drops the connection on a protocol error, this one
 * counts it and goes on.
 *
 * The host's bytes come in through sim_session_input(), one chunk at a
 * time to the guest agent, so that each chunk's outcome (one message at
 * most) is known; what the agent writes goes out through the transport
 * (tests/tools/sim-transport.h).  Pastes (a guest app waiting for the
 * host's data) and the first host caps are reported through
 * SimSessionOps, to the control socket.  Each event is a transcript line
 * (tests/tools/sim-log.h).
 */
#ifndef SIM_SESSION_H
#define SIM_SESSION_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <spice/vd_agent.h>

#include "tests/guest-agent.h"
#include "tests/tools/sim-transport.h"

#define SIM_N_SEL 3                     /* clipboard, primary, secondary */
#define SIM_MAX_HEADS 64                /* heads kept of a MONITORS_CONFIG */

typedef struct SimSession SimSession;

typedef enum SimOwner {
    SIM_OWNER_NONE,
    SIM_OWNER_GUEST,                    /* a guest app */
    SIM_OWNER_HOST,                     /* the agent, for the host */
} SimOwner;

typedef struct SimSessionOps {
    /*
     * A paste asked with @waiter (sim_session_paste()) ended: with
     * @error (a reason, borrowed for the call), or with the host's @len
     * bytes of @data (borrowed for the call; @error NULL).  Called from
     * inside message handling or a timeout.
     */
    void (*paste_done)(void *opaque, void *waiter, const char *error,
                       const uint8_t *data, size_t len);
    /* The host's caps arrived for the first time. */
    void (*caps_received)(void *opaque);
} SimSessionOps;

/* The numbers of the control socket's "stats". */
typedef struct SimStats {
    uint32_t host_caps;                 /* the host's first caps word */
    unsigned errors, ignored;           /* the guest agent's counters */
    uint64_t chunks;
    unsigned reconnects;
    unsigned sessions;                  /* host caps with request=1: each
                                           starts a session for the host */
    uint64_t messages;                  /* host messages decoded */
    uint64_t unsolicited;               /* host data nobody asked for */
    uint64_t flood_answers;             /* answers to sim_session_flood() */
    uint32_t max_chunk;
    uint32_t serials[SIM_N_SEL];
    int32_t max_clipboard;
    uint64_t out_bytes;                 /* queued, not written */
    bool connected;
} SimStats;

/*
 * A session whose agent announces the @n_caps words of @caps (copied), at
 * the first connection only with @announce, and writes through @t
 * (borrowed, must outlive the session).  Free with sim_session_free().
 */
SimSession *sim_session_new(const uint32_t *caps, size_t n_caps,
                            bool announce, SimTransport *t);

/*
 * The agent follows @model's rules (tests/guest-agent.h, the models):
 * for the Windows one, its chunks, RELEASE before a regrab, NONE for
 * data over the host's MAX_CLIPBOARD.  Linux until set.
 */
void sim_session_set_model(SimSession *s, GuestAgentModel model);

/* Free @s: its pastes are dropped without a callback.  NULL: no-op. */
void sim_session_free(SimSession *s);

/* File transfers are taken into @dir (guest_agent_fx_enable()). */
void sim_session_set_save_dir(SimSession *s, const char *dir);

/* Report pastes and caps to @ops (borrowed) with @opaque. */
void sim_session_set_ops(SimSession *s, const SimSessionOps *ops,
                         void *opaque);

/* ---- the transport's events --------------------------------------------- */

/* @len bytes from the host (borrowed for the call). */
void sim_session_input(SimSession *s, const uint8_t *p, size_t len);

/*
 * The channel is open: the first time the agent announces (if told to);
 * after a reconnect it releases as for a new client.
 */
void sim_session_opened(SimSession *s, bool first);

/* The channel closed: the partial chunk and message are forgotten. */
void sim_session_closed(SimSession *s);

/* ---- what a guest app or the agent does (the control socket) ----------- */

/*
 * A guest app takes @sel (< SIM_N_SEL) with @data (referenced) of
 * VD_AGENT_CLIPBOARD_* @type: GRAB.  Returns NULL if the GRAB went out,
 * else why the real agent would not send it (a literal).
 */
const char *sim_session_copy(SimSession *s, unsigned sel, GBytes *data,
                             uint32_t type);

/*
 * A guest app asks the host for @type of @sel: REQUEST.  Returns NULL if
 * it went out (paste_done() reports for @waiter later, or times out after
 * 5 s), else the error (the caller frees it).
 */
char *sim_session_paste(SimSession *s, unsigned sel, uint32_t type,
                        void *waiter);

/* @waiter is gone: its pastes stay queued (the host's answers still
 * match them) but report to nobody. */
void sim_session_forget_waiter(SimSession *s, void *waiter);

/*
 * The guest app owning @sel releases it: RELEASE.  Returns false if the
 * guest does not own @sel; else true, with *@blocked NULL if the RELEASE
 * went out, else why not.
 */
bool sim_session_release(SimSession *s, unsigned sel, const char **blocked);

/* The agent restarts: caps with request=1.  False when not connected. */
bool sim_session_announce(SimSession *s);

/*
 * A guest that writes without reading (issue 11): @n REQUESTs for @type
 * of @sel queued at once, for nobody (no paste waits for them).  Their
 * answers count in SimStats.flood_answers instead of being logged one by
 * one.  False when not connected.
 */
bool sim_session_flood(SimSession *s, unsigned sel, uint32_t type,
                       unsigned n);

/* ---- what the session knows --------------------------------------------- */

/* The host's caps have arrived. */
bool sim_session_caps_received(const SimSession *s);

/*
 * The owner of @sel, and in *@types the host's types (a bit per
 * VD_AGENT_CLIPBOARD_* type) or the guest app's type.
 */
SimOwner sim_session_owner(const SimSession *s, unsigned sel,
                           uint32_t *types);

/* The length and FNV-1a of the X contents of @sel, from either side. */
void sim_session_checksum(const SimSession *s, unsigned sel, size_t *len,
                          uint64_t *fnv);

/* The last MOUSE_STATE: false if none arrived. */
bool sim_session_pointer(const SimSession *s, uint32_t *x, uint32_t *y,
                         uint32_t *buttons, uint32_t *display);

/*
 * The last MONITORS_CONFIG: false if none arrived; else its number of
 * heads in *@n and the first MIN(n, SIM_MAX_HEADS) of them (host byte
 * order, borrowed).
 */
bool sim_session_monitors(const SimSession *s, uint32_t *n,
                          const VDAgentMonConfig **heads);

/* Fill @out. */
void sim_session_stats(const SimSession *s, SimStats *out);

/* ---- names --------------------------------------------------------------- */

/* The name of a type ("text", "png"...), or "type-N" written in @buf. */
const char *sim_type_name(uint32_t type, char *buf, size_t size);

/* "text, png" for a bit mask of types, "none" for 0 (caller frees). */
char *sim_types_string(uint32_t mask, const char *sep);

/* The selection of @s (a name or 0..2), -1 if unknown. */
int sim_parse_selection(const char *s);

/* The VD_AGENT_CLIPBOARD_* type of a name other than "none", 0 (NONE) if
 * unknown. */
uint32_t sim_parse_type(const char *s);

#endif /* SIM_SESSION_H */
