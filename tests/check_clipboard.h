/*
 * check_clipboard.h: the fixture of the clipboard hub suites
 * (clipboard/vdc-clipboard.h):
 *   check_clipboard_peers.c     registration, unregistration, peers
 *                               acting from inside notify, releases
 *   check_clipboard_grabs.c     updates, serials, a stopped hub
 *   check_clipboard_requests.c  requests, their timeouts, set_data
 *   check_clipboard_infos.c     selections, types, names, lifetimes
 *
 * Every test gets a fresh hub (request timeout TIMEOUT_MS) with three
 * recording peers registered in this order: a and b, which have a request
 * callback, and n, which has none (the VNC-like peer of CVE-2023-6683).
 * A recording peer logs each notification (type, info pointer and what the
 * info said at that moment, new_info, data_type) and each request, and can
 * answer a request at once or never, or run a hook from inside notify.
 *
 * Timers run on the hub's thread-default GMainContext; every wait here is
 * a bounded loop of g_main_context_iteration() guarded by its own timeout
 * source, so a missing notification fails the test instead of hanging it.
 */
#ifndef CHECK_CLIPBOARD_H
#define CHECK_CLIPBOARD_H

#include <check.h>
#include <glib.h>
#include <stdbool.h>
#include <stddef.h>

#include "clipboard/vdc-clipboard.h"
#include "tests/test-util.h"

#define TIMEOUT_MS 30u                /* request timeout of test hubs */
#define WAIT_MS 2000u                 /* bound on any wait for a timer */
#define QUIET_MS (4 * TIMEOUT_MS)     /* "nothing comes": well past a timeout */

#define SEL_CB VDC_CLIPBOARD_SELECTION_CLIPBOARD
#define SEL_PRI VDC_CLIPBOARD_SELECTION_PRIMARY
#define SEL_SEC VDC_CLIPBOARD_SELECTION_SECONDARY
#define TEXT VDC_CLIPBOARD_TYPE_TEXT
#define PNG VDC_CLIPBOARD_TYPE_PNG
#define BIT(t) (1u << (t))

#define UPDATE VDC_CLIPBOARD_NOTIFY_UPDATE
#define RESET VDC_CLIPBOARD_NOTIFY_RESET_SERIAL
#define TIMEOUT VDC_CLIPBOARD_NOTIFY_REQUEST_TIMEOUT

/* ---- payloads ---------------------------------------------------- */

/* Distinct data per type; never empty. */
extern const char *const payloads[VDC_CLIPBOARD_TYPE__COUNT];

/* The payload of @type (static bytes, the caller owns the GBytes). */
GBytes *payload(VdcClipboardType type);

/* @data is exactly the payload of @type. */
void check_payload(GBytes *data, VdcClipboardType type);

/* ---- recording peer ------------------------------------------------ */

/*
 * A recording peer logs each notification (a Note: what the info said at
 * that moment) and each request (a Req), answers a request at once with
 * the payload (ANSWER_SYNC) or never, and runs its hook, if any, after
 * logging each notification.
 */
typedef struct Note {
    VdcClipboardNotifyType type;
    VdcClipboardInfo *info;            /* borrowed then: compare, never follow */
    VdcClipboardPeer *owner;           /* info->owner then */
    VdcClipboardSelection selection;   /* info->selection then */
    unsigned types;                 /* vdc_clipboard_info_types(info) then */
    bool new_info;
    VdcClipboardType data_type;
} Note;

typedef struct Req {
    VdcClipboardInfo *info;
    VdcClipboardType type;
} Req;

typedef enum { ANSWER_NEVER, ANSWER_SYNC } Answer;

typedef struct RecPeer RecPeer;

typedef void (*RecHook)(RecPeer *rp, const VdcClipboardNotify *n);

struct RecPeer {
    VdcClipboardPeer peer;
    VdcClipboardHub *hub;              /* where it answers requests */
    GArray *notes;                  /* Note */
    GArray *reqs;                   /* Req */
    Answer answer;
    bool answer_update;             /* set_data(..., update) when answering */
    RecHook hook;                   /* run after logging each notification */
    void *hook_arg;
    unsigned hook_calls;
};

/*
 * Make @rp (not registered) a peer named @name (a literal) answering on
 * @hub, with a request callback when @can_request; rec_fini() frees its
 * logs.  rec_new() allocates one, rec_free() frees it (unregistered).
 */
void rec_init(RecPeer *rp, const char *name, VdcClipboardHub *hub,
              bool can_request);
void rec_fini(RecPeer *rp);
RecPeer *rec_new(const char *name, VdcClipboardHub *hub, bool can_request);
void rec_free(RecPeer *rp);

/* Forget what @rp logged. */
void rec_clear(RecPeer *rp);

/* How many notifications of @type @rp saw. */
unsigned rec_count(const RecPeer *rp, VdcClipboardNotifyType type);

/* The @i-th notification @rp saw (there must be one). */
const Note *note_at(const RecPeer *rp, unsigned i);

/* How many UPDATEs of @sel @rp saw. */
unsigned count_updates(const RecPeer *rp, VdcClipboardSelection sel);

/* The last UPDATE @rp saw for @sel. */
const Note *last_update(const RecPeer *rp, VdcClipboardSelection sel);

/* The @i-th request made of @rp (there must be one). */
const Req *req_at(const RecPeer *rp, unsigned i);

/* @n is an UPDATE of @info with @new_info. */
void check_update(const Note *n, VdcClipboardInfo *info, bool new_info);

/* @n is a REQUEST_TIMEOUT of @type of @info. */
void check_timeout(const Note *n, VdcClipboardInfo *info,
                   VdcClipboardType type);

/* ---- main loop ----------------------------------------------------- */

/* Waits: test_run_until() and test_run_for() (tests/test-util.h). */

/* Preds: the RecPeer @arg saw at least one, two REQUEST_TIMEOUTs. */
bool got_timeout(const void *arg);
bool got_two_timeouts(const void *arg);

/* ---- infos --------------------------------------------------------- */

/* A grab by @owner (NULL: nobody) announcing the types of @mask, no data. */
VdcClipboardInfo *grab_info(RecPeer *owner, VdcClipboardSelection sel,
                    unsigned mask);

/* Give @info the data of the types of @mask, as a grab that carries it. */
void fill_info(VdcClipboardInfo *info, unsigned mask);

/* Stamp @info with @serial. */
void with_serial(VdcClipboardInfo *info, uint32_t serial);

/* ---- fixture ------------------------------------------------------- */

/* The fixture of each test: a fresh hub and its peers. */
typedef struct HubFixture {
    VdcClipboardHub *hub;
    RecPeer *a, *b, *n;             /* registered in this order */
    RecPeer *guarded;               /* see guarded_new() */
    bool guarded_alive;
    size_t guarded_size;
} HubFixture;
extern HubFixture fx;

/* For each peer of the fixture (a, b, n) as @rp. */
#define FOR_PEERS(rp) \
    for (RecPeer *const *rp##_p = (RecPeer *const[]){ fx.a, fx.b, fx.n, NULL }, \
         *rp; (rp = *rp##_p) != NULL; rp##_p++)

/* Forget what the fixture's peers logged. */
void clear_logs(void);

/* Make @info (borrowed) the current info of its selection. */
void install_info(VdcClipboardInfo *info);

/* No peer of the fixture saw anything. */
void check_silence(void);

/*
 * A peer in a page of its own: "freeing" it makes the page inaccessible,
 * so any later access by the hub faults at once, with or without ASan.
 * Registered after the fixture's peers.
 */
RecPeer *guarded_new(void);

/* "Free" the guarded peer (unregistered): its page becomes inaccessible. */
void guarded_destroy(RecPeer *rp);

/* A TCase named @name of @s, every test with a fresh fixture (fx). */
TCase *hub_tcase(Suite *s, const char *name);

#endif /* CHECK_CLIPBOARD_H */
