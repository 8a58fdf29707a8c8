/*
 * replay.c: a plain main() that feeds files to a libFuzzer target, so that
 * every fuzz target also builds and runs with gcc (and any SANITIZE=) as
 * part of `make check`, without clang or libFuzzer.
 *
 *   replay PATH...
 *
 * Each PATH is a file, or a directory whose regular files (not recursing,
 * hidden files included) are replayed in byte order of their names.  Each
 * file is copied to an exact-size heap buffer, as libFuzzer does, and
 * passed to LLVMFuzzerTestOneInput().  A target reports a failed invariant
 * by aborting; replay itself fails only when a PATH cannot be read.
 */
#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gint compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Append the files @path stands for to @files (g_free'd strings): @path
 * itself, or the sorted regular files of a directory.  Returns false and
 * sets @error when the directory cannot be opened.
 */
static bool collect(GPtrArray *files, const char *path, GError **error)
{
    g_autoptr(GPtrArray) names = NULL;
    GDir *dir;
    const char *name;

    if (!g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_ptr_array_add(files, g_strdup(path));
        return true;
    }
    dir = g_dir_open(path, 0, error);
    if (!dir) {
        return false;
    }
    names = g_ptr_array_new_with_free_func(g_free);
    while ((name = g_dir_read_name(dir)) != NULL) {
        char *full = g_build_filename(path, name, NULL);

        if (g_file_test(full, G_FILE_TEST_IS_REGULAR)) {
            g_ptr_array_add(names, full);
        } else {
            g_free(full);
        }
    }
    g_dir_close(dir);
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_ptr_array_add(files, g_steal_pointer(&names->pdata[i]));
    }
    /* The strings moved to @files: free only the array. */
    g_ptr_array_set_free_func(names, NULL);
    return true;
}

/* Feed one file to the target; false (with @error) when it is unreadable. */
static bool replay_file(const char *path, GError **error)
{
    g_autofree char *contents = NULL;
    g_autofree uint8_t *copy = NULL;
    gsize len = 0;

    if (!g_file_get_contents(path, &contents, &len, error)) {
        return false;
    }
    /* g_file_get_contents() adds a NUL: copy so that overreads trap. */
    copy = g_malloc(len ? len : 1);
    memcpy(copy, contents, len);
    LLVMFuzzerTestOneInput(copy, len);
    return true;
}

int main(int argc, char **argv)
{
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *args = NULL;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        g_autoptr(GError) error = NULL;

        if (!collect(files, argv[i], &error)) {
            fprintf(stderr, "%s: %s\n", argv[0], error->message);
            return 1;
        }
    }
    for (guint i = 0; i < files->len; i++) {
        g_autoptr(GError) error = NULL;

        if (!replay_file(files->pdata[i], &error)) {
            fprintf(stderr, "%s: %s\n", argv[0], error->message);
            return 1;
        }
    }
    args = g_strjoinv(" ", argv + 1);
    printf("replayed %u inputs from %s\n", files->len, args);
    return 0;
}
