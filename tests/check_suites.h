/*
 * check_suites.h: every Check suite of the project, run by check_main.c,
 * and what every suite may use.
 */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

/*
 * ck_assert_msg() without its check point on success: Check reports each
 * passing assertion to the runner through a pipe, too slow for loops over
 * every byte or split point.
 */
#define CHECK(expr, ...) \
    do { \
        if (!(expr)) { \
            ck_abort_msg(__VA_ARGS__); \
        } \
    } while (0)

Suite *guest_agent_suite(void);
Suite *reader_framing_suite(void);
Suite *reader_sizes_suite(void);
Suite *reader_recycle_suite(void);
Suite *reader_reset_suite(void);
Suite *writer_suite(void);
Suite *device_suite(void);
Suite *vdagent_dispatch_suite(void);
Suite *clipboard_peers_suite(void);
Suite *clipboard_grabs_suite(void);
Suite *clipboard_requests_suite(void);
Suite *clipboard_infos_suite(void);
Suite *vdagent_clipboard_grabs_suite(void);
Suite *vdagent_clipboard_requests_suite(void);
Suite *vdagent_clipboard_session_suite(void);
Suite *vdagent_clipboard_data_suite(void);
Suite *vdagent_clipboard_models_suite(void);
Suite *input_suite(void);
Suite *vdagent_mouse_suite(void);
Suite *vmstate_bytes_suite(void);
Suite *vmstate_bad_suite(void);
Suite *vmstate_stream_suite(void);
Suite *migration_channel_suite(void);
Suite *qmp_protocol_suite(void);
Suite *qmp_input_suite(void);
Suite *qmp_clients_suite(void);
Suite *qmp_commands_suite(void);
Suite *vdagent_migration_canonical_suite(void);
Suite *vdagent_migration_offsets_suite(void);
Suite *vdagent_migration_state_suite(void);
Suite *vdagent_state_blob_suite(void);
Suite *vdagent_migration_output_suite(void);
Suite *vdagent_migration_bad_suite(void);
Suite *host_migrate_suite(void);
Suite *json_scan_suite(void);
Suite *qmp_hostile_suite(void);
Suite *migration_hostile_suite(void);
Suite *migration_live_suite(void);
Suite *host_live_suite(void);
Suite *vdagent_migration_live_suite(void);
Suite *host_channel_suite(void);
Suite *vdagent_reentry_suite(void);
Suite *vdagent_migration_reachable_suite(void);
Suite *host_seam_suite(void);
Suite *vdagent_file_xfer_suite(void);

#endif /* CHECK_SUITES_H */
