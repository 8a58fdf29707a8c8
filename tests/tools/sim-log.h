/*
 * sim-log.h: the sim-agent's transcript.
 *
 * One line per event, "[NAME] text", on stdout and flushed at once: the
 * host program relays it and tests read it.  Set once at start.
 */
#ifndef SIM_LOG_H
#define SIM_LOG_H

#include <glib.h>
#include <stdbool.h>

/* The transcript's prefix (borrowed, must stay valid) and whether it is
 * written at all. */
void sim_log_init(const char *name, bool quiet);

/* Write one transcript line (printf format, no newline). */
void sim_say(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

#endif /* SIM_LOG_H */
