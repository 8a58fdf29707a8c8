/*
 * savevm.h: the section registry and the QEVM container around it.
 *
 * A MigrationRegistry lists sections (an idstr, an instance id, a
 * VMStateDescription and the struct it describes).  migration_save()
 * writes them all as one stream and migration_load() reads one back.
 *
 * The container follows QEMU's savevm format: magic "QEVM", version 3,
 * for each registered section a FULL section (0x04, be32 section id,
 * counted idstr, be32 instance id, be32 version, the fields, then the
 * footer 0x7e + section id), EOF 0x00, then the vmdesc (0x06, be32
 * length, JSON written with json-c in QEMU's shape: page_size, devices[]
 * with name, instance_id, vmsd_name, version, fields, subsections).  The
 * JSON is padded so that no byte of its be32 length after the last zero
 * byte is '{' (QEMU's analyze-migration.py looks for the first '{' after
 * the last NUL).
 *
 * Layering (QEMU's savevm.c / vmstate.c / qemu-file.c): this file uses
 * vmstate.h for the sections' contents and migration-stream.h for the
 * bytes; neither of them knows about it.
 */
#ifndef MIGRATION_SAVEVM_H
#define MIGRATION_SAVEVM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "migration/migration-stream.h"
#include "migration/vmstate.h"

typedef struct MigrationRegistry MigrationRegistry;

MigrationRegistry *migration_registry_new(void);
void migration_registry_free(MigrationRegistry *reg);  /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MigrationRegistry, migration_registry_free)

/*
 * Register a section @idstr (at most 255 bytes) / @instance_id described
 * by @vmsd over @opaque (both borrowed).  A duplicate returns false with
 * @errp set (VMSTATE_ERROR_DUPLICATE) and changes nothing.
 */
bool migration_register(MigrationRegistry *reg, const char *idstr,
                        uint32_t instance_id, const VMStateDescription *vmsd,
                        void *opaque, GError **errp);
void migration_unregister(MigrationRegistry *reg, const char *idstr,
                          uint32_t instance_id);

/* Write the whole stream: header, every section, EOF, vmdesc. */
bool migration_save(MigrationRegistry *reg, MigrationStream *s,
                    GError **errp);

/*
 * Read a whole stream into the registered sections.  An unknown section,
 * a version too new or too old, truncation at any byte, a bad footer, or
 * trailing garbage after the vmdesc: each a clean error naming the
 * section, the field and the offset.  On any failure the load_failed hook
 * of every section whose load began runs (a section loaded before the
 * failing byte gives its state up).  The vmdesc is optional on load and,
 * when present, must be a JSON object of the announced length: it is
 * checked strictly as it is read, in 64 KiB pieces, and never built
 * (json-scan.h; nesting at most 64), so memory does not depend on what
 * the JSON holds.  A memory
 * source must end right after the vmdesc (or EOF when there is none):
 * trailing bytes are an error.  An fd source is read up to the end of the
 * vmdesc and no further (the caller frames what follows, e.g. a reply).
 */
bool migration_load(MigrationRegistry *reg, MigrationStream *s,
                    GError **errp);

#endif /* MIGRATION_SAVEVM_H */
