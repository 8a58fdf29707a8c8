/*
 * sim-log.c: the sim-agent's transcript (see sim-log.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "tests/tools/sim-log.h"

static const char *log_name = "guest";
static bool log_quiet;

void sim_log_init(const char *name, bool quiet)
{
    log_name = name;
    log_quiet = quiet;
}

void sim_say(const char *fmt, ...)
{
    g_autofree char *line = NULL;
    va_list ap;

    if (log_quiet) {
        return;
    }
    va_start(ap, fmt);
    line = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    printf("[%s] %s\n", log_name, line);
    fflush(stdout);
}
