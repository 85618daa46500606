/*-------------------------------------------------------------------------
 * catalog.h
 *    Reads and writes of the pgtrickle catalog (docs/catalog.md) and of
 *    storage tables, through SPI. Callers connect SPI (pgt_spi_begin/end).
 *-------------------------------------------------------------------------
 */
#ifndef PGT_CATALOG_H
#define PGT_CATALOG_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "compiler.h"

extern void pgt_spi_begin(void);
extern void pgt_spi_end(void);

/* Is relid the storage table of a stream table? */
extern bool pgt_catalog_is_stream_table(Oid relid);
/* The id of the stream table whose storage table is relid; 0 if none. */
extern int64 pgt_catalog_stream_table_id(Oid relid);
/* Does stream table `id` read (directly or through other stream tables) stream table `upstream`? */
extern bool pgt_catalog_reads_transitively(int64 id, int64 upstream);

/* Creates the storage table (user columns + __pgt_row_id); returns its OID. */
extern Oid	pgt_create_storage_table(const char *qualified_name, Oid nspid,
									 const char *relname, List *columns);

extern int64 pgt_catalog_insert(const char *name, Oid relid, const char *query,
								const char *plan_json, Interval *schedule,
								const char *sla_tier);
extern void pgt_catalog_insert_source(int64 id, PgtSourceInfo *src, const char *query);
extern bool pgt_catalog_is_v2(void);
extern void pgt_catalog_save_search_path(int64 id);
/* search_path for re-analysing a stored query (the creator's); returns a GUC nest level. */
extern int	pgt_use_search_path(const char *path);
extern void pgt_restore_search_path(int level);
/*
 * Runs fn(arg) in an internal subtransaction. NULL if it succeeded; else the error's message
 * (the error is cleared, the subtransaction rolled back, memory context and resource owner
 * restored): for DDL follow-ups that must not fail the user's command.
 */
extern char *pgt_try_in_subxact(void (*fn) (void *), void *arg);
extern void pgt_api_execute_utility(const char *sql);
/* SPI_execute_with_args (read-write) marked as the API's own catalog write. */
extern int	pgt_api_execute_with_args(const char *sql, int nargs, Oid *argtypes,
									  Datum *values, long count);

/*
 * Finds a stream table by name (resolved like a table name, or the stored
 * catalog name) and locks its catalog row; false if there is none.
 */
extern bool pgt_catalog_lookup(const char *name, int64 *id, Oid *relid);
extern void pgt_catalog_delete(int64 id);

extern void pgt_notify_catalog(const char *action, int64 id);

#endif							/* PGT_CATALOG_H */
