/*
 * migration-internal.h: helpers shared by the files of migration/ only.
 *
 * Not part of the library's API: embedders include vdc-stream.h,
 * vdc-vmstate.h and vdc-savevm.h.  Defined in migration-stream.c, the bottom of
 * the room, so that vmstate.c and savevm.c can both use them.
 */
#ifndef MIGRATION_INTERNAL_H
#define MIGRATION_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/*
 * @p[0..len) (borrowed; bytes from a stream, e.g. a section or subsection
 * name) made safe for an error message: printable ASCII as is, the rest
 * and the quote characters \ and ' as \xNN.  Returns a new string (free
 * with g_free).
 */
char *vdc_migration_printable(const uint8_t *p, size_t len);

#endif /* MIGRATION_INTERNAL_H */
