/*
 * check_qmp_clients.c: the server's clients and its socket.  Several
 * clients, events, clients that go away or never read, handlers that free
 * the server, running out of fds; the socket file in use, stale, replaced,
 * unlinked (fixture: check_qmp.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <check.h>
#include <glib-unix.h>
#include <glib/gstdio.h>

#include "tests/check_qmp.h"
#include "tests/check_suites.h"

/* ---- several clients, events ---------------------------------------- */

START_TEST(test_many_clients)
{
    Client *c[3];
    gint64 before;
    unsigned i;

    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        c[i] = ready_client();
    }
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 3);
    /* Interleaved: each gets its own replies, in its own order. */
    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        g_autofree char *cmd = g_strdup_printf(
            "{\"execute\": \"later\", \"id\": %u, \"arguments\": "
            "{\"ms\": %u, \"value\": \"slow%u\"}}\n"
            "{\"execute\": \"echo\", \"id\": %u, \"arguments\": {\"c\": %u}}\n",
            i, 20 + 10 * (2 - i), i, 10 + i, i);

        client_send(c[i], cmd);
    }
    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        g_autofree char *fast = g_strdup_printf(
            "{\"return\": {\"c\": %u}, \"id\": %u}", i, 10 + i);
        g_autofree char *slow = g_strdup_printf(
            "{\"return\": {\"value\": \"slow%u\"}, \"id\": %u}", i, i);

        expect(c[i], fast);
        expect(c[i], slow);
    }
    before = g_get_real_time();
    qmp_server_event(qfx.server, "TEST_EVENT", json_tokener_parse("{\"n\": 1}"));
    qmp_server_event(qfx.server, "NO_DATA", NULL);
    for (i = 0; i < G_N_ELEMENTS(c); i++) {
        expect_event(c[i], "TEST_EVENT", "{\"n\": 1}", before);
        expect_event(c[i], "NO_DATA", NULL, before);
        expect_quiet(c[i]);
    }
}
END_TEST

/* Events go to negotiated clients only, never queued for later. */
START_TEST(test_events_need_negotiation)
{
    Client *a = ready_client();
    Client *b = client_new();
    gint64 before;

    expect(b, greeting);
    before = g_get_real_time();
    qmp_server_event(qfx.server, "EARLY", json_tokener_parse("{}"));
    expect_event(a, "EARLY", "{}", before);
    expect_quiet(b);
    client_send(b, "{\"execute\": \"qmp_capabilities\"}\n");
    expect(b, "{\"return\": {}}");
    expect_quiet(b);
    qmp_server_event(qfx.server, "LATE", NULL);
    expect_event(a, "LATE", NULL, before);
    expect_event(b, "LATE", NULL, before);
}
END_TEST

/* An event sent from inside a handler comes before that command's reply. */
START_TEST(test_event_from_handler)
{
    Client *a = ready_client();
    Client *b = ready_client();
    gint64 before = g_get_real_time();

    client_send(a, "{\"execute\": \"emit\", \"id\": 1, \"arguments\": "
                   "{\"name\": \"INNER\", \"size\": 3}}\n");
    expect_event(a, "INNER", "{\"pad\": \"ppp\"}", before);
    expect(a, "{\"return\": {}, \"id\": 1}");
    expect_event(b, "INNER", "{\"pad\": \"ppp\"}", before);
    expect_quiet(b);
}
END_TEST

/*
 * Held events are made when they happen (their stamps) but go only when
 * released, in order; a hold without events releases nothing.
 */
START_TEST(test_events_held)
{
    Client *a = ready_client();
    gint64 before = g_get_real_time(), made;

    qmp_server_hold_events(qfx.server, true);
    qmp_server_event(qfx.server, "FIRST", json_tokener_parse("{\"n\": 1}"));
    qmp_server_hold_events(qfx.server, true);       /* still held */
    qmp_server_event(qfx.server, "SECOND", NULL);
    made = g_get_real_time();
    expect_quiet(a);
    qmp_server_hold_events(qfx.server, false);
    ck_assert_int_le(expect_event(a, "FIRST", "{\"n\": 1}", before), made);
    ck_assert_int_le(expect_event(a, "SECOND", NULL, before), made);
    expect_quiet(a);
    qmp_server_hold_events(qfx.server, true);
    qmp_server_hold_events(qfx.server, false);
    expect_quiet(a);
    qmp_server_event(qfx.server, "THIRD", NULL);
    expect_event(a, "THIRD", NULL, made);
}
END_TEST

START_TEST(test_event_no_clients)
{
    qmp_server_event(qfx.server, "NOBODY", json_tokener_parse("{\"x\": 1}"));
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 0);
}
END_TEST

START_TEST(test_client_count)
{
    Client *a = client_new();
    Client *b = ready_client();

    expect(a, greeting);
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 2);
    client_close(a);
    wait_n_clients(1);
    client_send(b, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(b, "{\"return\": {}, \"id\": 1}");
    client_close(b);
    wait_n_clients(0);
}
END_TEST

/* The client goes while its async command runs: the answer goes nowhere,
 * the request says so, and the other clients are served. */
START_TEST(test_disconnect_while_pending)
{
    Client *a = ready_client();
    Client *b = ready_client();
    unsigned one = 1, zero = 0;

    client_send(a, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 100, \"value\": \"lost\"}}\n");
    ck_assert(test_run_until(NULL, pending_is, &one, WAIT_MS));
    client_close(a);
    wait_n_clients(1);
    ck_assert(!qmp_request_alive(((Pending *)qfx.pending->pdata[0])->req));
    ck_assert(test_run_until(NULL, pending_is, &zero, WAIT_MS));
    ck_assert_uint_eq(qfx.answered_dead, 1);
    ck_assert_uint_eq(qfx.answered_alive, 0);
    client_send(b, "{\"execute\": \"later\", \"id\": 2, \"arguments\": "
                   "{\"ms\": 1, \"value\": \"kept\"}}\n");
    expect(b, "{\"return\": {\"value\": \"kept\"}, \"id\": 2}");
    ck_assert_uint_eq(qfx.answered_alive, 1);
}
END_TEST

/* A client that sends and then half-closes still gets its answers, even
 * ones too big for the socket buffer, then the end of the stream. */
START_TEST(test_half_close)
{
    Client *c = ready_client();
    size_t n = 4u << 20;
    g_autofree char *big = g_malloc(n + 1);
    g_autoptr(json_object) msg = NULL;
    json_object *ret = NULL, *v = NULL;

    memset(big, 'h', n);
    big[n] = '\0';
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n"
                   "{\"execute\": \"fail\", \"id\": 2}\n"
                   "{\"execute\": \"echo\", \"id\": 3, \"arguments\": {\"big\": \"");
    client_send_len(c, big, n);
    client_send(c, "\"}}\n{\"execute\": \"later\", \"id\": 4, "
                   "\"arguments\": {\"ms\": 1}}\n");
    ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_generic(c, "failed on purpose (42)", "2");
    msg = client_msg(c);
    ck_assert(json_object_object_get_ex(msg, "return", &ret));
    ck_assert(json_object_object_get_ex(ret, "big", &v));
    ck_assert_str_eq(json_object_get_string(v), big);
    /* The async answer may or may not beat the end; nothing else comes. */
    expect_eof(c);
    if (c->in->len > 0) {
        expect(c, "{\"return\": {}, \"id\": 4}");
    }
    ck_assert_ptr_null(client_line(c));
    wait_n_clients(0);
}
END_TEST

/* A client that never reads while events pour in is dropped once its
 * output passes the bound; a reading client gets every event. */
START_TEST(test_flood_drops_nonreader)
{
    Client *lazy = ready_client();
    Client *busy = ready_client();
    size_t size = 256u * 1024;
    g_autofree char *pad = g_malloc(size + 1);
    unsigned sent = 0;
    gint64 before = g_get_real_time();

    memset(pad, 'f', size);
    pad[size] = '\0';
    client_read_stop(lazy);
    while (qmp_server_n_clients(qfx.server) == 2 && sent < 4 * BOUND / size) {
        json_object *data = json_object_new_object();
        g_autoptr(json_object) msg = NULL;
        json_object *v = NULL, *p = NULL;

        json_object_object_add(data, "pad", json_object_new_string(pad));
        qmp_server_event(qfx.server, "FLOOD", data);
        sent++;
        msg = client_msg(busy);
        ck_assert(json_object_object_get_ex(msg, "event", &v));
        ck_assert_str_eq(json_object_get_string(v), "FLOOD");
        ck_assert(json_object_object_get_ex(msg, "data", &v));
        ck_assert(json_object_object_get_ex(v, "pad", &p));
        ck_assert_uint_eq(json_object_get_string_len(p), size);
    }
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 1);
    /* Not before the bound (socket buffers hold a little more). */
    ck_assert_uint_ge((size_t)sent * size, BOUND);
    ck_assert_uint_le((size_t)sent * size, BOUND + 8u * 1024 * 1024);
    /* The lazy client finds what the kernel had taken (events, the last
     * one maybe cut short), then the end. */
    client_read_start(lazy);
    expect_eof(lazy);
    ck_assert_uint_gt(lazy->in->len, 0);
    ck_assert_uint_lt(lazy->in->len, (size_t)sent * size);
    qmp_server_event(qfx.server, "AFTER", NULL);
    expect_event(busy, "AFTER", NULL, before);
    client_send(busy, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(busy, "{\"return\": {}, \"id\": 1}");
}
END_TEST

/* A handler's own events overflow its caller, who is dropped inside its
 * own dispatch; the reply after that goes nowhere. */
START_TEST(test_drop_inside_handler)
{
    Client *a = ready_client();
    Client *b = client_new();
    /*
     * One message of any size goes out; the second finds a backlog over
     * the bound (the client does not read) and drops the client.
     */
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"emit\", \"id\": 1, \"arguments\": "
        "{\"name\": \"HUGE\", \"size\": %u}}\n"
        "{\"execute\": \"emit\", \"id\": 2, \"arguments\": "
        "{\"name\": \"HUGE\", \"size\": 1}}\n"
        "{\"execute\": \"echo\", \"id\": 3}\n", 2 * BOUND);

    expect(b, greeting);
    client_send(a, cmd);
    wait_n_clients(1);
    /* What the kernel took of the first event may still arrive: a cut
     * line, then the end of the stream. */
    ck_assert(test_run_until(NULL, client_eof, a, WAIT_MS));
    client_send(b, "{\"execute\": \"qmp_capabilities\", \"id\": 3}\n");
    expect(b, "{\"return\": {}, \"id\": 3}");
}
END_TEST

/* A handler frees the server: its reply is dropped, every client ends. */
START_TEST(test_free_inside_handler)
{
    Client *a = ready_client();
    Client *b = ready_client();

    client_send(a, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 20}}\n"
                   "{\"execute\": \"quit\", \"id\": 2}\n"
                   "{\"execute\": \"echo\", \"id\": 3}\n");
    expect_eof(a);
    ck_assert_ptr_null(client_line(a));
    expect_eof(b);
    ck_assert_ptr_null(qfx.server);
    ck_assert(!g_file_test(qfx.path, G_FILE_TEST_EXISTS));
    /* The timer answers into the void after the server is gone. */
    test_run_for(60);
    ck_assert_uint_eq(qfx.pending->len, 0);
    ck_assert_uint_eq(qfx.answered_dead, 1);
}
END_TEST

/* Freeing the server with a request pending: the request stays valid, and
 * answering it later frees it (teardown answers it). */
START_TEST(test_free_with_pending)
{
    Client *a = ready_client();
    unsigned one = 1;

    client_send(a, "{\"execute\": \"later\", \"id\": 1, \"arguments\": "
                   "{\"ms\": 100000}}\n");
    ck_assert(test_run_until(NULL, pending_is, &one, WAIT_MS));
    ck_assert(qmp_request_alive(((Pending *)qfx.pending->pdata[0])->req));
    qmp_server_free(g_steal_pointer(&qfx.server));
    ck_assert(!qmp_request_alive(((Pending *)qfx.pending->pdata[0])->req));
    ck_assert_str_eq(qmp_request_command(
                         ((Pending *)qfx.pending->pdata[0])->req), "later");
    expect_eof(a);
}
END_TEST

/* Out of fds: the connection waits in the backlog, the listener pauses
 * instead of spinning, and accepts it once fds are back.  (Under valgrind
 * this fails: its accept() wrapper takes the connection and closes it.) */
START_TEST(test_accept_out_of_fds)
{
    struct rlimit saved, low;
    Client *c;
    int lowest = dup(0);

    ck_assert_int_ge(lowest, 0);
    close(lowest);
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)lowest + 1;      /* room for the client only */
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    c = client_new();
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 0);
    ck_assert_uint_eq(c->in->len, 0);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    wait_n_clients(1);
    negotiate(c);
}
END_TEST

/* ---- the socket file ------------------------------------------------ */

START_TEST(test_path_in_use)
{
    g_autoptr(GError) err = NULL;
    QmpServer *s2 = qmp_server_new(qfx.path, test_commands, &qfx, &err);
    Client *c;

    ck_assert_ptr_null(s2);
    ck_assert_ptr_nonnull(err);
    ck_assert(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_EXIST));
    ck_assert_ptr_nonnull(strstr(err->message, "socket path in use"));
    /* The first server is untouched. */
    c = ready_client();
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
    g_autofree char *path = g_build_filename(qfx.dir, "stale.sock", NULL);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    g_autoptr(GError) err = NULL;
    g_autoptr(QmpServer) s2 = NULL;
    Client *c;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct stat st;

    /* A socket file left by a dead process: bound, never listening. */
    memcpy(addr.sun_path, path, strlen(path));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    close(fd);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));

    s2 = qmp_server_new(path, test_commands, &qfx, &err);
    ck_assert_msg(s2 != NULL, "%s", err ? err->message : "?");
    c = client_new_at(path);
    expect(c, greeting);
    ck_assert_uint_eq(qmp_server_n_clients(s2), 1);
    qmp_server_free(g_steal_pointer(&s2));
    ck_assert(!g_file_test(path, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_non_socket_file)
{
    g_autofree char *file = g_build_filename(qfx.dir, "file", NULL);
    g_autofree char *dir = g_build_filename(qfx.dir, "dir", NULL);
    g_autofree char *link = g_build_filename(qfx.dir, "link", NULL);
    g_autofree char *contents = NULL;
    const char *paths[] = { file, dir, link };
    size_t i;

    ck_assert(g_file_set_contents(file, "keep me", -1, NULL));
    ck_assert_int_eq(g_mkdir(dir, 0700), 0);
    ck_assert_int_eq(symlink(qfx.path, link), 0);   /* even to a socket */
    for (i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autoptr(GError) err = NULL;

        ck_assert_ptr_null(qmp_server_new(paths[i], test_commands, &qfx, &err));
        ck_assert(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_EXIST));
        ck_assert_ptr_nonnull(strstr(err->message, "not a socket"));
    }
    ck_assert(g_file_get_contents(file, &contents, NULL, NULL));
    ck_assert_str_eq(contents, "keep me");
    ck_assert(g_file_test(dir, G_FILE_TEST_IS_DIR));
    ck_assert_int_eq(g_unlink(file), 0);
    ck_assert_int_eq(g_rmdir(dir), 0);
    ck_assert_int_eq(g_unlink(link), 0);
}
END_TEST

START_TEST(test_bad_paths)
{
    g_autoptr(GError) err = NULL;
    g_autoptr(GError) err2 = NULL;
    g_autofree char *longpath = g_strnfill(200, 'x');
    g_autofree char *nodir = g_build_filename(qfx.dir, "no", "such", NULL);

    ck_assert_ptr_null(qmp_server_new(longpath, test_commands, &qfx, &err));
    ck_assert(g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NAMETOOLONG));
    ck_assert_ptr_null(qmp_server_new(nodir, test_commands, &qfx, &err2));
    ck_assert_ptr_nonnull(err2);
    ck_assert(!g_file_test(longpath, G_FILE_TEST_EXISTS));
}
END_TEST

START_TEST(test_unlinked_on_free)
{
    struct stat st;
    Client *c = ready_client();

    ck_assert_int_eq(lstat(qfx.path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    qmp_server_free(g_steal_pointer(&qfx.server));
    ck_assert_int_eq(lstat(qfx.path, &st), -1);
    ck_assert_int_eq(errno, ENOENT);
    expect_eof(c);
    qmp_server_free(NULL);
}
END_TEST

/* A file that replaced our socket is someone else's: free leaves it. */
START_TEST(test_replaced_file_kept)
{
    g_autofree char *contents = NULL;

    ck_assert_int_eq(g_unlink(qfx.path), 0);
    ck_assert(g_file_set_contents(qfx.path, "other", -1, NULL));
    qmp_server_free(g_steal_pointer(&qfx.server));
    ck_assert(g_file_get_contents(qfx.path, &contents, NULL, NULL));
    ck_assert_str_eq(contents, "other");
    ck_assert_int_eq(g_unlink(qfx.path), 0);
}
END_TEST

/* Sources attach to the context that was thread-default at creation. */
START_TEST(test_thread_default_context)
{
    g_autofree char *path = g_build_filename(qfx.dir, "ctx.sock", NULL);
    GMainContext *ctx = g_main_context_new();
    g_autoptr(GError) err = NULL;
    QmpServer *s2;
    Client *c;
    unsigned i;

    g_main_context_push_thread_default(ctx);
    s2 = qmp_server_new(path, test_commands, &qfx, &err);
    g_main_context_pop_thread_default(ctx);
    ck_assert_ptr_nonnull(s2);
    c = client_new_at(path);
    test_run_for(QUIET_MS);                 /* the default context: nothing */
    ck_assert_uint_eq(c->in->len, 0);
    ck_assert_uint_eq(qmp_server_n_clients(s2), 0);
    for (i = 0; i < 100 && qmp_server_n_clients(s2) == 0; i++) {
        g_main_context_iteration(ctx, FALSE);
        g_usleep(1000);
    }
    ck_assert_uint_eq(qmp_server_n_clients(s2), 1);
    expect(c, greeting);
    qmp_server_free(s2);
    g_main_context_unref(ctx);
}
END_TEST

/* ---- suite ---------------------------------------------------------- */

Suite *qmp_clients_suite(void)
{
    Suite *s = suite_create("qmp-clients");
    TCase *tc;

    tc = qmp_tcase(s, "clients");
    tcase_add_test(tc, test_many_clients);
    tcase_add_test(tc, test_events_need_negotiation);
    tcase_add_test(tc, test_event_from_handler);
    tcase_add_test(tc, test_events_held);
    tcase_add_test(tc, test_event_no_clients);
    tcase_add_test(tc, test_client_count);
    tcase_add_test(tc, test_disconnect_while_pending);
    tcase_add_test(tc, test_half_close);
    tcase_add_test(tc, test_flood_drops_nonreader);
    tcase_add_test(tc, test_drop_inside_handler);
    tcase_add_test(tc, test_free_inside_handler);
    tcase_add_test(tc, test_free_with_pending);
    tcase_add_test(tc, test_accept_out_of_fds);

    tc = qmp_tcase(s, "socket");
    tcase_add_test(tc, test_path_in_use);
    tcase_add_test(tc, test_stale_socket_replaced);
    tcase_add_test(tc, test_non_socket_file);
    tcase_add_test(tc, test_bad_paths);
    tcase_add_test(tc, test_unlinked_on_free);
    tcase_add_test(tc, test_replaced_file_kept);
    tcase_add_test(tc, test_thread_default_context);
    return s;
}
