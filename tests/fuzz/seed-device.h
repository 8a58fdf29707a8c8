/*
 * seed-device.h: the source device of the seed generators
 * (make-loader-seeds.c, make-live-seeds.c): the fuzz targets' config
 * (clipboard, mouse and monitors on, max_message SEED_MAX_MESSAGE) behind
 * a frontend that hands everything to the scripted guest agent
 * (tests/guest-agent.c), within a budget when asked, and a host-side
 * clipboard peer on the device's hub that never answers a request.
 */
#ifndef FUZZ_SEED_DEVICE_H
#define FUZZ_SEED_DEVICE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clipboard/vdc-clipboard.h"
#include "tests/guest-agent.h"
#include "vdagent/vdc-vdagent.h"

#define SEED_MAX_MESSAGE (64u * 1024)   /* FUZZ_MAX_MESSAGE of loader-checks.h */
#define AGENT_CAPS 0x00038de7u          /* spice-vdagentd 0.22.1 */

typedef struct Seed {
    VdcChardev *dev;
    GuestAgent *ga;
    bool unlimited;                 /* else the frontend takes @budget */
    size_t budget;
    VdcClipboardPeer host;          /* a host-side peer on the device's hub */
    unsigned host_requests;         /* what the hub asked it */
} Seed;

/* Print "PROGRAM: message" (g_get_prgname()) and exit(1). */
void seed_die(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

/*
 * A device and its host peer; the agent has @caps (NULL: AGENT_CAPS) and,
 * with @open, is connected.  The frontend takes everything (unlimited).
 */
void seed_start(Seed *s, const uint32_t *caps, size_t n_caps, bool open);
/* Hand the agent's pending output to the device. */
void seed_pump(Seed *s);
void seed_free(Seed *s);

#endif /* FUZZ_SEED_DEVICE_H */
