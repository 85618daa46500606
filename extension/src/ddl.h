/*-------------------------------------------------------------------------
 * ddl.h
 *    DDL on sources (event triggers), restore of dumped catalogs, re-planning
 *    of stream tables, backpressure. See extension/README.md.
 *-------------------------------------------------------------------------
 */
#ifndef PGT_DDL_H
#define PGT_DDL_H

#include "postgres.h"
#include "nodes/nodes.h"
#include "nodes/pg_list.h"
#include "utils/array.h"

/* source_columns.c: attnums of relid the query reads (plus the key), ascending. */
extern List *pgt_source_columns(const char *query_text, Oid relid);
extern ArrayType *pgt_attnum_array(List *attnums);

/*
 * True while the SQL API itself writes catalog rows: the restore trigger on
 * the catalog only acts on rows inserted any other way (pg_restore, psql).
 */
extern bool pgt_api_writing;

/* pg_trickle.source_ddl */
typedef enum PgtSourceDdl
{
	PGT_SOURCE_DDL_REFUSE,
	PGT_SOURCE_DDL_REBOOTSTRAP
} PgtSourceDdl;
extern int	pgt_source_ddl;

/* api_alter.c: re-plans stream table `id` with `query` (new generation). SPI connected. */
extern void pgt_replan_stream_table(int64 id, const char *query);

/*
 * ddl_triggers.c: re-plans stream table `id` if it is RESTORING and its query
 * compiles now (else it stays RESTORING); id 0 = every RESTORING row. SPI connected.
 */
extern void pgt_replan_restored(int64 id);

/*
 * ddl_renames.c: renames of sources / storage tables / their schemas keep the
 * stored query text valid (temporary views made at ddl_command_start, read
 * back at ddl_command_end). SPI connected.
 */
extern void pgt_renames_at_start(Node *parsetree);
extern void pgt_renames_at_end(void);

/* backpressure.c */
extern int	pgt_backpressure_timeout_ms;
extern void pgt_backpressure_init(void);

#endif							/* PGT_DDL_H */
