/*
 * check_main.c: the one test runner.  `check-vdagent [SUITE...]` runs the
 * named suites (all by default) and ends with Check's summary line.  A
 * name also runs its family: "vdagent-clipboard" runs every
 * "vdagent-clipboard-..." suite.
 */
#include <glib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_suites.h"

typedef Suite *(*SuiteFn)(void);

static const struct {
    const char *name;
    SuiteFn fn;
} suites[] = {
    { "guest-agent", guest_agent_suite },
    { "reader-framing", reader_framing_suite },
    { "reader-sizes", reader_sizes_suite },
    { "reader-recycle", reader_recycle_suite },
    { "reader-reset", reader_reset_suite },
    { "writer", writer_suite },
    { "device", device_suite },
    { "vdagent-dispatch", vdagent_dispatch_suite },
    { "clipboard-peers", clipboard_peers_suite },
    { "clipboard-grabs", clipboard_grabs_suite },
    { "clipboard-requests", clipboard_requests_suite },
    { "clipboard-infos", clipboard_infos_suite },
    { "vdagent-clipboard-grabs", vdagent_clipboard_grabs_suite },
    { "vdagent-clipboard-requests", vdagent_clipboard_requests_suite },
    { "vdagent-clipboard-session", vdagent_clipboard_session_suite },
    { "vdagent-clipboard-data", vdagent_clipboard_data_suite },
    { "vdagent-clipboard-models", vdagent_clipboard_models_suite },
    { "vmstate-bytes", vmstate_bytes_suite },
    { "vmstate-bad", vmstate_bad_suite },
    { "vmstate-stream", vmstate_stream_suite },
    { "migration-channel", migration_channel_suite },
    { "qmp-protocol", qmp_protocol_suite },
    { "qmp-input", qmp_input_suite },
    { "qmp-clients", qmp_clients_suite },
    { "qmp-commands", qmp_commands_suite },
    { "vdagent-migration-canonical", vdagent_migration_canonical_suite },
    { "vdagent-migration-offsets", vdagent_migration_offsets_suite },
    { "vdagent-migration-state", vdagent_migration_state_suite },
    { "vdagent-state-blob", vdagent_state_blob_suite },
    { "vdagent-migration-output", vdagent_migration_output_suite },
    { "vdagent-migration-bad", vdagent_migration_bad_suite },
    { "vdagent-migration-reachable", vdagent_migration_reachable_suite },
    { "input", input_suite },
    { "mouse", vdagent_mouse_suite },
    { "host-migrate", host_migrate_suite },
    { "json-scan", json_scan_suite },
    { "qmp-hostile", qmp_hostile_suite },
    { "migration-hostile", migration_hostile_suite },
    { "migration-live", migration_live_suite },
    { "host-live", host_live_suite },
    { "vdagent-migration-live", vdagent_migration_live_suite },
    { "host-channel", host_channel_suite },
    { "host-seam", host_seam_suite },
    { "vdagent-reentry", vdagent_reentry_suite },
    { "vdagent-file-xfer", vdagent_file_xfer_suite },
};

static bool wanted(int argc, char **argv, const char *name)
{
    int i;

    if (argc < 2) {
        return true;
    }
    for (i = 1; i < argc; i++) {
        size_t n = strlen(argv[i]);

        if (strncmp(argv[i], name, n) == 0 &&
            (name[n] == '\0' || name[n] == '-')) {
            return true;
        }
    }
    return false;
}

int main(int argc, char **argv)
{
    SRunner *sr = NULL;
    size_t i;
    int failed;

    /* A g_return_if_fail or g_warning anywhere is a test failure. */
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
    for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
        if (!wanted(argc, argv, suites[i].name)) {
            continue;
        }
        if (!sr) {
            sr = srunner_create(suites[i].fn());
        } else {
            srunner_add_suite(sr, suites[i].fn());
        }
    }
    if (!sr) {
        return EXIT_FAILURE;
    }
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
