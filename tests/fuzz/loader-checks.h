/*
 * loader-checks.h: the device checks the migration-loader fuzz targets
 * share (fuzz_loader.c for a whole stream, fuzz_live.c for one fed in
 * pieces with a live part).
 *
 * The device is the fuzz targets' one config: clipboard on, mouse on,
 * monitors on, max_message FUZZ_MAX_MESSAGE, behind a frontend that takes
 * and discards everything (keeping the first KiB of what it got), created
 * stopped, as an incoming VM's is, and registered as instance 0.
 *
 *  - After a failed load the device must be fresh (not connected, no
 *    guest caps, no output, no pointer state, nothing owned on its hub);
 *    running and opened, it sends exactly the caps request a new device
 *    sends (request=1, our caps word): fuzz_check_fresh_and_works().
 *  - After a successful load the state must be one the device can be in
 *    (guest caps only with a connected guest, at most VDC_MAX_CAPS_WORDS
 *    words, pending output within the loader's limit, nothing owned
 *    without a connected guest); saving it again succeeds, its "caps"
 *    field is the guest's caps word 0, and that stream loads into a
 *    second device and saves again byte for byte
 *    (save(load(save(load(x)))) == save(load(x))); the guest's open is
 *    not a reconnect (nothing queued); then the device runs, is opened,
 *    gets a fixed continuation built by hand (caps with request=1 and a
 *    CLIPBOARD_REQUEST, as the Linux agent lays them out) and saves once
 *    more, which must succeed, into a stream a fresh device loads (any
 *    state reached by running must migrate): fuzz_check_loaded().
 *
 * A failed check prints what failed, prefixed with the target's name, and
 * abort()s, so that libFuzzer keeps the input.
 */
#ifndef FUZZ_LOADER_CHECKS_H
#define FUZZ_LOADER_CHECKS_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdagent/vdc-vdagent.h"

/* Small, so that the parser's and the output's bounds are reachable. */
#define FUZZ_MAX_MESSAGE        (64u * 1024)

/*
 * Once per process: failed checks are prefixed with @name (a string
 * literal), and a g_return_if_fail or g_warning aborts (a bug the fuzzer
 * found).
 */
void fuzz_checks_init(const char *name);

void fuzz_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2) G_GNUC_NORETURN;

#define CHECK(cond, ...) do { if (!(cond)) { fuzz_fail(__VA_ARGS__); } } while (0)

/* The frontend: takes everything, keeps the first KiB since the device began. */
typedef struct FuzzSink {
    GByteArray *wire;
} FuzzSink;

/* A new stopped device behind @sink (initialised here). */
VdcChardev *fuzz_device_new(FuzzSink *sink);
void fuzz_device_free(VdcChardev *dev, FuzzSink *sink);

/* Load a whole stream of @size bytes into @dev alone (instance 0). */
bool fuzz_device_load(VdcChardev *dev, const uint8_t *data, size_t size,
                      GError **errp);

/* Save @dev alone: the stream, or NULL with @errp set. */
GByteArray *fuzz_device_save(VdcChardev *dev, GError **errp);

/* Nobody owns anything on @dev's hub; @when names the check's moment. */
void fuzz_check_hub_empty(VdcChardev *dev, const char *when);

/* After a failed load (see above); runs and opens @dev. */
void fuzz_check_fresh_and_works(VdcChardev *dev, FuzzSink *sink,
                                const char *when);

/* After a successful load (see above); runs, feeds and saves @dev. */
void fuzz_check_loaded(VdcChardev *dev, FuzzSink *sink);

#endif /* FUZZ_LOADER_CHECKS_H */
