/*
 * check_qmp_input.c: what the server reads.  Framing at every split
 * point, malformed JSON and the resync after it, lines that are not
 * commands, oversize input (fixture: check_qmp.h).
 */
#include <check.h>
#include <string.h>
#include <unistd.h>

#include "tests/check_qmp.h"
#include "tests/check_suites.h"

/* ---- input: framing, malformed JSON, resync ------------------------- */

START_TEST(test_malformed_then_valid)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": oops}\n");
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_quiet(c);
}
END_TEST

/* Everything up to the newline after an error is dropped, even a valid
 * command on that line; the next line is parsed afresh. */
START_TEST(test_garbage_line_resync)
{
    Client *c = ready_client();

    client_send(c, "hello world {\"execute\": \"echo\", \"id\": 1}\n"
                   "{\"execute\": \"echo\", \"id\": 2}\n");
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    expect(c, "{\"return\": {}, \"id\": 2}");
    expect_quiet(c);
}
END_TEST

/* The error may come in one read and its newline in a later one. */
START_TEST(test_resync_across_reads)
{
    Client *c = ready_client();

    client_send(c, "{\"a\": bad");
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    client_send(c, " more garbage {\"execute\": \"echo\", \"id\": 1}");
    expect_quiet(c);
    client_send(c, " still\n{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
    expect_quiet(c);
}
END_TEST

static const struct {
    const char *what;
    const char *bytes;
    size_t len;
} bad_lines[] = {
#define BAD(what, s) { what, s, sizeof(s) - 1 }
    BAD("NUL byte", "{\"execute\": \"echo\"\0}\n"),
    BAD("lone NUL", "\0\n"),
    BAD("invalid UTF-8", "{\"execute\": \"echo\", \"id\": \"\xff\"}\n"),
    BAD("closing brace", "}\n"),
    BAD("trailing comma", "{\"execute\": \"echo\",}\n"),
    BAD("bare word", "execute\n"),
    BAD("too deep",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"),
    BAD("NaN", "{\"execute\": \"echo\", \"arguments\": {\"x\": NaN}}\n"),
    BAD("Infinity id", "{\"execute\": \"echo\", \"id\": [-Infinity]}\n"),
#undef BAD
};

/* Each bad line: one parse error (no id: it may never have been read),
 * then the connection works. */
START_TEST(test_bad_line)
{
    Client *c = ready_client();

    client_send_len(c, bad_lines[_i].bytes, bad_lines[_i].len);
    expect_error(c, "GenericError", "JSON parse error: ", true, NULL);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_quiet(c);
}
END_TEST

static const char split_cmd[] =
    "{\"execute\": \"echo\", \"arguments\": {\"k\": \"v\\\"\\u00e9\", "
    "\"n\": -12.5e1, \"t\": true}, \"id\": [7]}\n";
static const char split_reply[] =
    "{\"return\": {\"k\": \"v\\\"\\u00e9\", \"n\": -12.5e1, \"t\": true}, "
    "\"id\": [7]}";

/* Every split point of one command into two writes. */
START_TEST(test_split_every_point)
{
    Client *c = ready_client();
    size_t at = (size_t)_i;

    ck_assert_uint_lt(at, sizeof(split_cmd) - 1);
    client_send_len(c, split_cmd, at);
    run_ready();
    if (at < sizeof(split_cmd) - 2) {
        ck_assert_uint_eq(c->in->len, 0);   /* the object is not complete */
    }
    client_send(c, split_cmd + at);
    expect(c, split_reply);
}
END_TEST

START_TEST(test_byte_by_byte)
{
    Client *c = ready_client();
    size_t i;

    for (i = 0; i < sizeof(split_cmd) - 1; i++) {
        client_send_len(c, split_cmd + i, 1);
        run_ready();
    }
    expect(c, split_reply);
    expect_quiet(c);
}
END_TEST

START_TEST(test_several_in_one_write)
{
    Client *c = ready_client();

    client_send(c, "{\"execute\": \"echo\", \"id\": 1}{\"execute\": \"echo\", "
                   "\"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect(c, "{\"return\": {}, \"id\": 2}");
    client_send(c, "\n\n  {\"execute\": \"echo\", \"id\": 3}\r\n"
                   "{\"execute\": \"fail\", \"id\": 4} {\"execute\": \"nope\", "
                   "\"id\": 5}\n{\"execute\": \"echo\", \"id\": 6}");
    expect(c, "{\"return\": {}, \"id\": 3}");
    expect_generic(c, "failed on purpose (42)", "4");
    expect_error(c, "CommandNotFound", "The command nope has not been found",
                 false, "5");
    expect(c, "{\"return\": {}, \"id\": 6}");
    expect_quiet(c);
}
END_TEST

/* A number ends only at the next byte: here the first byte of a later
 * read, which then starts the next value. */
START_TEST(test_number_then_object)
{
    Client *c = ready_client();

    client_send(c, "42");
    test_run_for(QUIET_MS);
    ck_assert_uint_eq(c->in->len, 0);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect_generic(c, "Expected a JSON object with 'execute'", NULL);
    expect(c, "{\"return\": {}, \"id\": 1}");
    expect_quiet(c);
}
END_TEST

static const char *const non_objects[] = {
    "[1]", "42 ", "\"execute\"", "null ", "true ", "[{\"execute\": \"echo\"}]",
};

START_TEST(test_non_object)
{
    Client *c = ready_client();

    client_send(c, non_objects[_i]);
    client_send(c, "\n");
    expect_generic(c, "Expected a JSON object with 'execute'", NULL);
    client_send(c, "{\"execute\": \"echo\", \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

START_TEST(test_bad_execute)
{
    Client *c = ready_client();

    client_send(c, "{\"id\": 1}\n");
    expect_generic(c, "Expected 'execute' with a command name", "1");
    client_send(c, "{\"execute\": 5, \"id\": 2}\n");
    expect_generic(c, "Expected 'execute' with a command name", "2");
    client_send(c, "{\"execute\": null, \"id\": 3}\n");
    expect_generic(c, "Expected 'execute' with a command name", "3");
    client_send(c, "{}\n");
    expect_generic(c, "Expected 'execute' with a command name", NULL);
    /* A misspelt member is an error, not silently ignored. */
    client_send(c, "{\"execute\": \"echo\", \"argument\": {}, \"id\": 4}\n");
    expect_error(c, "GenericError", "Unexpected member 'argument'", true, "4");
    client_send(c, "{\"execute\": \"echo\", \"id\": 5}\n");
    expect(c, "{\"return\": {}, \"id\": 5}");
}
END_TEST

static const char *const non_object_args[] = {
    "[]", "\"x\"", "1", "null", "true", "[{}]",
};

START_TEST(test_arguments_not_object)
{
    Client *c = ready_client();
    g_autofree char *cmd = g_strdup_printf(
        "{\"execute\": \"echo\", \"arguments\": %s, \"id\": \"a\"}\n",
        non_object_args[_i]);

    client_send(c, cmd);
    expect_generic(c, "Expected 'arguments' to be an object", "\"a\"");
    client_send(c, "{\"execute\": \"echo\", \"arguments\": {}, \"id\": 1}\n");
    expect(c, "{\"return\": {}, \"id\": 1}");
}
END_TEST

/* One value larger than the bound: an error, then the rest of that line is
 * skipped and the connection goes on. */
START_TEST(test_oversize_input)
{
    Client *c = ready_client();
    static const char head[] = "{\"execute\": \"echo\", \"id\": 1, "
                               "\"arguments\": {\"s\": \"";
    size_t n = BOUND + 65536;
    g_autofree char *body = g_malloc(n);
    g_autofree char *desc =
        g_strdup_printf("JSON parse error: a value is longer than %u bytes",
                        BOUND);

    memset(body, 'x', n);
    client_send(c, head);
    client_send_len(c, body, n);
    expect_generic(c, desc, NULL);
    client_send_len(c, body, 1000);
    client_send(c, "\"}}\n{\"execute\": \"echo\", \"id\": 2}\n");
    expect(c, "{\"return\": {}, \"id\": 2}");
    expect_quiet(c);
    ck_assert_uint_eq(qmp_server_n_clients(qfx.server), 1);
}
END_TEST

/* ---- suite ---------------------------------------------------------- */

Suite *qmp_input_suite(void)
{
    Suite *s = suite_create("qmp-input");
    TCase *tc;

    tc = qmp_tcase(s, "input");
    tcase_add_test(tc, test_malformed_then_valid);
    tcase_add_test(tc, test_garbage_line_resync);
    tcase_add_test(tc, test_resync_across_reads);
    tcase_add_loop_test(tc, test_bad_line, 0, G_N_ELEMENTS(bad_lines));
    tcase_add_loop_test(tc, test_split_every_point, 1, sizeof(split_cmd) - 1);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_several_in_one_write);
    tcase_add_test(tc, test_number_then_object);
    tcase_add_loop_test(tc, test_non_object, 0, G_N_ELEMENTS(non_objects));
    tcase_add_test(tc, test_bad_execute);
    tcase_add_loop_test(tc, test_arguments_not_object, 0,
                        G_N_ELEMENTS(non_object_args));
    tcase_add_test(tc, test_oversize_input);
    return s;
}
