/*-------------------------------------------------------------------------
 * compiler.h
 *    Query compiler front end: SQL text → plan JSON (docs/plan-format.md).
 *
 * PostgreSQL's own parser and analyzer produce the Query tree; the compiler
 * walks it, rejects everything the engine cannot maintain with
 * ERRCODE_FEATURE_NOT_SUPPORTED ("<category> not supported in stream tables:
 * <construct>") and writes the versioned plan. It never executes the query.
 *
 * Pipeline (one file per concern):
 *   compile_query.c   statement + Query-level checks, plan assembly
 *   compile_from.c    FROM clause: layout of FROM items, joins and their keys
 *   compile_source.c  source tables: validation, key, JSON
 *   compile_expr.c    expressions, one function per node type
 *   compile_funcs.c   allow-list of functions/operators → plan "fn"
 *   compile_agg.c     aggregates (COUNT/SUM/AVG/MIN/MAX)
 *   compile_types.c   supported types, collations, the rejection helper
 *   json_writer.c     the JSON string builder
 *-------------------------------------------------------------------------
 */
#ifndef PGT_COMPILER_H
#define PGT_COMPILER_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* One output column of the stream table (user columns, in order). */
typedef struct PgtOutputColumn
{
	char	   *name;
	Oid			typoid;
	int32		typmod;
	Oid			collation;		/* InvalidOid or the type's default: none */
	char	   *type_sql;		/* format_type_with_typemod() */
} PgtOutputColumn;

/* One source table of the query. */
typedef struct PgtSourceInfo
{
	Oid			relid;
	char	   *schema;
	char	   *relname;
	char	   *qualified_name; /* quoted schema.table */
	List	   *key_attnums;	/* integer list: primary key / replica identity */
	int			natts;			/* largest live attnum: width of its scan rows */
	int64		stream_table_id;	/* the source is this stream table's storage (0: none) */
} PgtSourceInfo;

typedef struct PgtCompiledQuery
{
	char	   *plan_json;		/* plan-format.md, version 2 */
	List	   *columns;		/* PgtOutputColumn * */
	List	   *sources;		/* PgtSourceInfo * */
} PgtCompiledQuery;

#define PGT_PLAN_VERSION 2

extern PgtCompiledQuery *pgt_compile_query(const char *query_text);

#endif							/* PGT_COMPILER_H */
