/*-------------------------------------------------------------------------
 * ddl_renames.c
 *    Keeps the stored query text and name of stream tables valid across
 *    renames of their sources and storage tables.
 *
 *  The engine follows renames by relation OID, but the catalog keeps each
 *  stream table's query as text (re-planned by alter_stream_table, a
 *  source_ddl = 'rebootstrap' change and pg_restore). Text written with the
 *  old names would no longer compile after
 *      ALTER TABLE ... RENAME [COLUMN] / SET SCHEMA,  ALTER SCHEMA ... RENAME
 *  so at ddl_command_start (names still valid) every affected query is bound
 *  to OIDs and attribute numbers by creating a temporary view of it, which
 *  PostgreSQL keeps pointing at the renamed objects; at ddl_command_end the
 *  query text is read back with pg_get_viewdef (under the stream table's
 *  stored search_path, so names stay as unqualified as they can) and stored,
 *  and the view is dropped. A renamed column keeps its output name (the view
 *  deparses it as "new AS old"), so the storage table's columns do not
 *  change and nothing is re-planned or re-bootstrapped.
 *
 *  No state is kept between the two triggers: the views themselves, in the
 *  session's temporary schema, are the list (a rename that fails takes its
 *  views with it when its (sub)transaction aborts).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "catalog.h"
#include "ddl.h"
#include "pg_trickle.h"

#define DEF_VIEW_PREFIX "pgt_def_"

/* The relation (or schema) a rename statement changes; false if it is none of ours. */
static bool
renamed_object(Node *parsetree, Oid *relid, Oid *nspid)
{
	*relid = InvalidOid;
	*nspid = InvalidOid;
	if (IsA(parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) parsetree;

		if (stmt->renameType == OBJECT_SCHEMA)
			*nspid = get_namespace_oid(stmt->subname, true);
		else if (stmt->renameType == OBJECT_TABLE ||
				 (stmt->renameType == OBJECT_COLUMN && stmt->relationType == OBJECT_TABLE))
			*relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	}
	else if (IsA(parsetree, AlterObjectSchemaStmt))
	{
		AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

		if (stmt->objectType == OBJECT_TABLE)
			*relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	}
	return OidIsValid(*relid) || OidIsValid(*nspid);
}

/*
 * Set when ddl_command_start made a view: ddl_command_end looks for views only then (a stale
 * true after a rolled-back command costs one catalog query).
 */
static bool views_made = false;

static void
execute_sql(void *sql)
{
	int			rc = SPI_execute((const char *) sql, false, 0);

	if (rc < 0)
		elog(ERROR, "%s", SPI_result_code_string(rc));
}

/* ddl_command_start: a temporary view of each affected stream table's query. SPI connected. */
void
pgt_renames_at_start(Node *parsetree)
{
	Oid			relid,
				nspid;
	Oid			types[2] = {OIDOID, OIDOID};
	Datum		vals[2];
	List	   *rows = NIL;
	ListCell   *lc;
	uint64		i;

	if (!renamed_object(parsetree, &relid, &nspid))
		return;
	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = ObjectIdGetDatum(nspid);
	if (SPI_execute_with_args("SELECT DISTINCT st.id, st.name, st.query, st.search_path "
							  "FROM " PGT_SCHEMA ".pgt_stream_tables st "
							  "LEFT JOIN " PGT_SCHEMA ".pgt_sources s ON s.stream_table_id = st.id "
							  "WHERE s.source_relid = $1 OR st.relid = $1 OR "
							  "s.source_relid IN (SELECT oid FROM pg_class WHERE relnamespace = $2) OR "
							  "st.relid IN (SELECT oid FROM pg_class WHERE relnamespace = $2) ORDER BY st.id",
							  2, types, vals, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed");
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		rows = lappend(rows, list_make4(SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2),
										SPI_getvalue(tup, desc, 3), SPI_getvalue(tup, desc, 4)));
	}
	foreach(lc, rows)
	{
		List	   *row = lfirst(lc);
		const char *view = psprintf("pg_temp." DEF_VIEW_PREFIX "%s", (char *) linitial(row));
		int			level = pgt_use_search_path(list_nth(row, 3));
		char	   *failure;

		failure = pgt_try_in_subxact(execute_sql,
									 psprintf("CREATE TEMPORARY VIEW %s AS %s", view, (char *) list_nth(row, 2)));
		pgt_restore_search_path(level);
		if (!failure)
			views_made = true;
		else
			ereport(WARNING,
					(errmsg("the stored query of stream table %s is not updated by this rename: %s",
							(char *) lsecond(row), failure),
					 errhint("After the rename, set it again with pgtrickle.alter_stream_table(name, query => ...).")));
	}
}

/* ddl_command_end: stores the queries of the views made at the start, and current names. */
void
pgt_renames_at_end(void)
{
	List	   *rows = NIL;
	ListCell   *lc;
	uint64		i;

	if (!views_made)
		return;
	views_made = false;
	if (!OidIsValid(LookupExplicitNamespace("pg_temp", true)) ||
		SPI_execute("SELECT c.oid::text, substr(c.relname, length('" DEF_VIEW_PREFIX "') + 1), st.search_path "
					"FROM pg_class c JOIN " PGT_SCHEMA ".pgt_stream_tables st "
					"ON st.id::text = substr(c.relname, length('" DEF_VIEW_PREFIX "') + 1) "
					"WHERE c.relnamespace = pg_my_temp_schema() AND c.relkind = 'v' "
					"AND c.relname ~ '^" DEF_VIEW_PREFIX "[0-9]+$'",
					false /* a fresh snapshot: the views are newer than this command's */ , 0) != SPI_OK_SELECT)
		return;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		rows = lappend(rows, list_make3(SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2),
										SPI_getvalue(tup, desc, 3)));
	}
	foreach(lc, rows)
	{
		List	   *row = lfirst(lc);
		Oid			view = (Oid) strtoul(linitial(row), NULL, 10);
		int64		id = strtoi64(lsecond(row), NULL, 10);
		int			level = pgt_use_search_path(lthird(row));
		Oid			types[2] = {INT8OID, TEXTOID};
		Datum		vals[2];
		char	   *def;
		size_t		len;

		/* Through SPI (not a direct call): a fresh snapshot that sees the view's rule. */
		vals[0] = ObjectIdGetDatum(view);
		types[0] = OIDOID;
		if (SPI_execute_with_args("SELECT pg_get_viewdef($1, true)", 1, types, vals, NULL, false, 1) != SPI_OK_SELECT ||
			SPI_processed != 1 || (def = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)) == NULL)
			elog(ERROR, "could not read back the query of stream table " INT64_FORMAT " after a rename", id);
		types[0] = INT8OID;
		pgt_restore_search_path(level);
		/* pg_get_viewdef: " SELECT ...;" — trim the statement terminator and blanks. */
		while (*def == ' ' || *def == '\n')
			def++;
		len = strlen(def);
		while (len > 0 && (def[len - 1] == ';' || def[len - 1] == ' ' || def[len - 1] == '\n'))
			def[--len] = '\0';
		vals[0] = Int64GetDatum(id);
		vals[1] = CStringGetTextDatum(def);
		/* The name follows a renamed storage table (it is how users address the stream table). */
		if (pgt_api_execute_with_args("UPDATE " PGT_SCHEMA ".pgt_stream_tables SET query = $2, "
									  "name = coalesce((SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
									  "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
									  "WHERE c.oid = relid), name) WHERE id = $1",
									  2, types, vals, 0) != SPI_OK_UPDATE)
			elog(ERROR, "could not store the renamed query of stream table " INT64_FORMAT, id);
		pgt_api_execute_utility(psprintf("DROP VIEW pg_temp." DEF_VIEW_PREFIX INT64_FORMAT, id));
	}
}
