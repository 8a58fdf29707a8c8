/*
 * vdc-savevm.h: the section registry and the QEVM container around it.
 *
 * A VdcMigrationRegistry lists sections (an idstr, an instance id, a
 * VdcVMStateDescription and the struct it describes).  vdc_migration_save()
 * writes them all as one stream and vdc_migration_load() reads one back.
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
 * vdc-vmstate.h for the sections' contents and vdc-stream.h for the
 * bytes; neither of them knows about it.
 */
#ifndef VDC_SAVEVM_H
#define VDC_SAVEVM_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "migration/vdc-stream.h"
#include "migration/vdc-vmstate.h"

typedef struct VdcMigrationRegistry VdcMigrationRegistry;

VdcMigrationRegistry *vdc_migration_registry_new(void);
void vdc_migration_registry_free(VdcMigrationRegistry *reg);  /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcMigrationRegistry, vdc_migration_registry_free)

/*
 * Register a section @idstr (at most 255 bytes) / @instance_id described
 * by @vmsd over @opaque (both borrowed).  A duplicate returns false with
 * @errp set (VDC_VMSTATE_ERROR_DUPLICATE) and changes nothing.
 */
bool vdc_migration_register(VdcMigrationRegistry *reg, const char *idstr,
                            uint32_t instance_id, const VdcVMStateDescription *vmsd,
                            void *opaque, GError **errp);
void vdc_migration_unregister(VdcMigrationRegistry *reg, const char *idstr,
                              uint32_t instance_id);

/* Write the whole stream: header, every section, EOF, vmdesc. */
bool vdc_migration_save(VdcMigrationRegistry *reg, VdcMigrationStream *s,
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
bool vdc_migration_load(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                        GError **errp);

/* ---- the live phase: iterative sections (QEMU's START / PART / END) ----
 *
 * A live section moves its bulk while the device keeps running: the
 * source writes a START section (0x01, be32 section id, counted idstr,
 * be32 instance id, be32 version, payload, footer) when the migration
 * begins, PART sections (0x02, be32 section id, payload, footer) while it
 * runs, and an END section (0x03, the same shape) once the device has
 * stopped, before the FULL sections; as QEMU's RAM does.  Its payload is
 * the section's own business (VdcMigrationLiveOps).  vdc_migration_save() never
 * writes a live section: a stream without a live phase is byte for byte
 * what it was before live sections existed.
 */
typedef enum VdcMigrationLivePhase {
    VDC_MIGRATION_LIVE_START = 0x01,
    VDC_MIGRATION_LIVE_PART = 0x02,
    VDC_MIGRATION_LIVE_END = 0x03,
} VdcMigrationLivePhase;

typedef struct VdcMigrationLiveOps {
    /*
     * Source: write the payload of a START, PART or END section: at most
     * about @budget bytes for a PART (START and END: everything left).
     * The payload must be self-delimiting (the loader reads exactly it).
     */
    bool (*save)(VdcMigrationStream *s, void *opaque, VdcMigrationLivePhase phase,
                 uint64_t budget, GError **errp);
    /* Source: bytes still to send (what changed or was not sent yet). */
    uint64_t (*pending)(void *opaque);
    /* Source: the migration ended (completed, failed or cancelled). */
    void (*save_cleanup)(void *opaque);
    /*
     * Destination: read one payload (exactly its bytes) of @phase, written
     * at @version_id.  It must keep what it reads apart from the device:
     * nothing is applied before the whole stream has loaded.
     */
    bool (*load)(VdcMigrationStream *s, void *opaque, VdcMigrationLivePhase phase,
                 int version_id, GError **errp);
    /* Destination: the load failed or was abandoned: drop what it holds. */
    void (*load_failed)(void *opaque);
} VdcMigrationLiveOps;

/*
 * Register a live section (@ops and @opaque borrowed).  Register it after
 * the FULL sections so that their section ids stay what they were.
 */
bool vdc_migration_register_live(VdcMigrationRegistry *reg, const char *idstr,
                                 uint32_t instance_id, int version_id,
                                 const VdcMigrationLiveOps *ops, void *opaque,
                                 GError **errp);

/* Source: the stream's header and a START section per live section. */
bool vdc_migration_save_live_setup(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                                   GError **errp);
/* Source: a PART section per live section, each of about @budget bytes. */
bool vdc_migration_save_live_iterate(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                                     uint64_t budget, GError **errp);
/* Source: the live sections' pending bytes, summed. */
uint64_t vdc_migration_save_live_pending(VdcMigrationRegistry *reg);
/*
 * Source, the device stopped: an END section per live section, then every
 * FULL section, EOF and the vmdesc (as vdc_migration_save() writes them).
 */
bool vdc_migration_save_live_complete(VdcMigrationRegistry *reg, VdcMigrationStream *s,
                                      GError **errp);
/* Source: the live sections' save_cleanup. */
void vdc_migration_save_live_cleanup(VdcMigrationRegistry *reg);

/*
 * Destination: a load fed in pieces, each a memory stream holding whole
 * sections.  The first piece starts with the stream's header; a piece
 * that is not the last may hold only START and PART sections; the last
 * one holds the rest (END, FULL, EOF, vmdesc) and is checked as
 * vdc_migration_load() checks a stream (vdc_migration_load() is one last piece).
 * A live section must be started once, then ended once before EOF; a
 * PART or END names a started section by its id.  Offsets in errors
 * count from the first piece's first byte.  The first failure is
 * final: every section whose load began is told (load_failed), and later
 * feeds fail.  Freeing a loader that did not complete tells them too.
 */
typedef struct VdcMigrationLoader VdcMigrationLoader;

VdcMigrationLoader *vdc_migration_loader_new(VdcMigrationRegistry *reg);
bool vdc_migration_loader_feed(VdcMigrationLoader *ld, VdcMigrationStream *s, bool last,
                               GError **errp);
/* True once a last piece loaded. */
bool vdc_migration_loader_done(const VdcMigrationLoader *ld);
void vdc_migration_loader_free(VdcMigrationLoader *ld);      /* NULL: no-op */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VdcMigrationLoader, vdc_migration_loader_free)

#endif /* VDC_SAVEVM_H */
