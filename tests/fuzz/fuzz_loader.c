/*
 * fuzz_loader.c: libFuzzer target for the device's migration loader (the
 * "vdagent" section, vdagent/vdagent-vmstate.c, through the savevm
 * container of migration/), built by `make fuzz` (clang, libFuzzer, ASan,
 * UBSan) and by the gcc replay driver tests/fuzz/replay.c.
 *
 * The input is a whole migration stream.  The fuzz targets' device
 * (loader-checks.h) loads it from memory; a failed load must leave the
 * device fresh and working, a successful one a state that saves, loads
 * again to the same bytes and keeps working (loader-checks.h says each
 * check).
 *
 * A failed check prints what failed and abort()s, so libFuzzer keeps the
 * input.  Everything is freed per input (LSan checks the failed loads
 * leave nothing behind).
 */
#include <glib.h>
#include <stdint.h>

#include "tests/fuzz/loader-checks.h"
#include "vdagent/vdc-vdagent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    VdcChardev *dev;
    GError *err = NULL;
    FuzzSink sink;

    if (!init) {
        fuzz_checks_init("fuzz_loader");
        init = true;
    }
    dev = fuzz_device_new(&sink);
    if (fuzz_device_load(dev, data, size, &err)) {
        CHECK(!err, "success with an error set");
        fuzz_check_loaded(dev, &sink);
    } else {
        CHECK(err && err->message && *err->message, "failure without an error");
        fuzz_check_fresh_and_works(dev, &sink, err->message);
        g_error_free(err);
    }
    fuzz_device_free(dev, &sink);
    return 0;
}
