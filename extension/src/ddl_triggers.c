/*-------------------------------------------------------------------------
 * ddl_triggers.c
 *    DDL on source tables (event triggers created by the install script).
 *
 *  - ALTER TABLE ... DROP COLUMN / ALTER COLUMN TYPE of a column a stream
 *    table reads (pgt_sources.columns: referenced columns and the key) is
 *    refused naming the stream tables (ddl_command_start, before any work),
 *    unless pg_trickle.source_ddl = 'rebootstrap': then the DDL runs and the
 *    dependants are re-planned at ddl_command_end (new generation: the engine
 *    bootstraps them again), or set to ERROR if their query no longer
 *    compiles.
 *  - ALTER TABLE ... SET UNLOGGED of a source is always refused: its changes
 *    would no longer be in the WAL the engine decodes.
 *  - Dropping a source (DROP TABLE, DROP SCHEMA ... CASCADE, DROP OWNED, or a
 *    column by any route) is refused in sql_drop, unless the stream tables
 *    reading it are dropped by the same command. A storage table dropped
 *    without drop_stream_table() takes its catalog row with it.
 *  - Renames of sources, storage tables and their schemas rewrite the stored
 *    query text and names (ddl_renames.c).
 *  Everything else (ADD COLUMN, renames, indexes, VACUUM FULL, CLUSTER,
 *  TRUNCATE) is allowed: the engine follows it from the WAL.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "catalog.h"
#include "ddl.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_on_ddl_command_start);
PG_FUNCTION_INFO_V1(pgt_on_ddl_command_end);
PG_FUNCTION_INFO_V1(pgt_on_sql_drop);

/*
 * Sources altered with source_ddl = rebootstrap, re-planned at ddl_command_end
 * of the same command. Allocated in TopTransactionContext: forgotten when a
 * (sub)transaction aborts, as the failed command never reaches its end.
 */
static List *replan_relids = NIL;
static bool callbacks_registered = false;

static void
forget_on_abort(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PREPARE)
		replan_relids = NIL;
}

static void
forget_on_subabort(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		replan_relids = NIL;
}

static void
remember_replan(Oid relid)
{
	MemoryContext old;

	if (!callbacks_registered)
	{
		RegisterXactCallback(forget_on_abort, NULL);
		RegisterSubXactCallback(forget_on_subabort, NULL);
		callbacks_registered = true;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	replan_relids = list_append_unique_oid(replan_relids, relid);
	MemoryContextSwitchTo(old);
}

/* Comma-separated names of the stream tables reading (relid, attnum); attnum 0 = any. */
static char *
dependants(Oid relid, int attnum, List **ids)
{
	Oid			argtypes[2] = {OIDOID, INT2OID};
	Datum		values[2] = {ObjectIdGetDatum(relid), Int16GetDatum(attnum)};
	StringInfoData names;
	uint64		i;
	int			rc;

	rc = SPI_execute_with_args("SELECT st.id, st.name FROM " PGT_SCHEMA ".pgt_sources s "
							   "JOIN " PGT_SCHEMA ".pgt_stream_tables st ON st.id = s.stream_table_id "
							   "WHERE s.source_relid = $1 AND ($2 = 0 OR $2 = ANY (s.columns)) "
							   "ORDER BY st.name",
							   2, argtypes, values, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return NULL;
	initStringInfo(&names);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		if (ids)
		{
			MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

			*ids = lappend(*ids, psprintf(INT64_FORMAT, DatumGetInt64(
					SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull))));
			MemoryContextSwitchTo(old);
		}
		appendStringInfo(&names, "%s%s", i ? ", " : "",
						 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
	}
	return names.data;
}

static bool
catalog_exists(void)
{
	return OidIsValid(get_namespace_oid(PGT_SCHEMA, true)) &&
		OidIsValid(get_relname_relid("pgt_sources", get_namespace_oid(PGT_SCHEMA, true)));
}

static void
check_alter_cmd(Oid relid, const char *relname, AlterTableCmd *cmd)
{
	const char *what;
	AttrNumber	attnum;
	char	   *names;

	if (cmd->subtype == AT_SetUnLogged)
	{
		names = dependants(relid, 0, NULL);
		if (names)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot make table %s unlogged: stream tables read it: %s",
							relname, names),
					 errdetail("Changes of an unlogged table are not in the WAL the engine decodes."),
					 errhint("Drop those stream tables first (pgtrickle.drop_stream_table).")));
		return;
	}
	if (cmd->subtype == AT_DropColumn)
		what = "drop";
	else if (cmd->subtype == AT_AlterColumnType)
		what = "change the type of";
	else
		return;
	attnum = get_attnum(relid, cmd->name);
	if (attnum == InvalidAttrNumber)
		return;					/* PostgreSQL reports it */
	names = dependants(relid, attnum, NULL);
	if (names == NULL)
		return;
	if (pgt_source_ddl == PGT_SOURCE_DDL_REBOOTSTRAP)
	{
		remember_replan(relid);
		return;
	}
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot %s column \"%s\" of table %s: stream tables use it: %s",
					what, cmd->name, relname, names),
			 errhint("Drop or re-define those stream tables first (pgtrickle.alter_stream_table(name, query => ...)), "
					 "or SET pg_trickle.source_ddl = 'rebootstrap' to re-plan them after the change.")));
}

Datum
pgt_on_ddl_command_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trig;
	AlterTableStmt *stmt;
	Oid			relid;
	char	   *relname;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by an event trigger");
	trig = (EventTriggerData *) fcinfo->context;
	if ((IsA(trig->parsetree, RenameStmt) || IsA(trig->parsetree, AlterObjectSchemaStmt)) && catalog_exists())
	{
		pgt_spi_begin();
		pgt_renames_at_start(trig->parsetree);	/* ddl_renames.c */
		pgt_spi_end();
		PG_RETURN_VOID();
	}
	if (!IsA(trig->parsetree, AlterTableStmt))
		PG_RETURN_VOID();
	stmt = (AlterTableStmt *) trig->parsetree;
	if (stmt->objtype != OBJECT_TABLE || !catalog_exists())
		PG_RETURN_VOID();
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		PG_RETURN_VOID();
	relname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
										 get_rel_name(relid));
	pgt_spi_begin();
	foreach(lc, stmt->cmds)
		check_alter_cmd(relid, relname, lfirst_node(AlterTableCmd, lc));
	pgt_spi_end();
	PG_RETURN_VOID();
}

typedef struct ReplanArgs
{
	int64		id;
	const char *query;
	const char *search_path;
} ReplanArgs;

static void
replan_in_path(void *arg)
{
	ReplanArgs *a = arg;
	int			level = pgt_use_search_path(a->search_path);

	pgt_replan_stream_table(a->id, a->query);
	pgt_restore_search_path(level);
}

/* Re-plans one stream table; a query that no longer compiles sets it to ERROR. */
static void
replan_or_fail(int64 id, bool restoring)
{
	Oid			argtype = INT8OID;
	Datum		arg = Int64GetDatum(id);
	ReplanArgs	a;
	char	   *name;
	char	   *failure;
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		vals[2];

	if (SPI_execute_with_args("SELECT query, name, search_path FROM " PGT_SCHEMA ".pgt_stream_tables WHERE id = $1",
							  1, &argtype, &arg, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		return;
	a.id = id;
	a.query = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	a.search_path = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	failure = pgt_try_in_subxact(replan_in_path, &a);
	if (failure == NULL || restoring)
		return;					/* restoring: e.g. the key is not restored yet: retried later */
	vals[0] = Int64GetDatum(id);
	vals[1] = CStringGetTextDatum(psprintf("source DDL: the query no longer compiles: %s", failure));
	SPI_execute_with_args("UPDATE " PGT_SCHEMA ".pgt_stream_tables SET status = 'ERROR', "
						  "last_error = $2 WHERE id = $1", 2, types, vals, NULL, false, 0);
	ereport(WARNING, (errmsg("stream table %s is in ERROR after the DDL: %s", name, failure)));
	pgt_notify_catalog("alter", id);
}

Datum
pgt_on_ddl_command_end(PG_FUNCTION_ARGS)
{
	List	   *relids = replan_relids;
	List	   *ids = NIL;
	ListCell   *lc;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by an event trigger");
	replan_relids = NIL;
	if (!catalog_exists())
		PG_RETURN_VOID();
	pgt_spi_begin();
	pgt_renames_at_end();		/* ddl_renames.c: query text and names after a rename */
	pgt_replan_restored(0);		/* restored rows whose sources just got their keys */
	foreach(lc, relids)
		(void) dependants(lfirst_oid(lc), 0, &ids);
	foreach(lc, ids)
		replan_or_fail(strtoi64(lfirst(lc), NULL, 10), false);
	pgt_spi_end();
	PG_RETURN_VOID();
}

void
pgt_replan_restored(int64 id)
{
	Oid			argtype = INT8OID;
	Datum		arg = Int64GetDatum(id);
	List	   *ids = NIL;
	ListCell   *lc;
	uint64		i;

	if (SPI_execute_with_args("SELECT id FROM " PGT_SCHEMA ".pgt_stream_tables "
							  "WHERE status = 'RESTORING' AND ($1 = 0 OR id = $1) ORDER BY id",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;

		ids = lappend(ids, psprintf(INT64_FORMAT, DatumGetInt64(
				SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull))));
	}
	foreach(lc, ids)
		replan_or_fail(strtoi64(lfirst(lc), NULL, 10), true);
}

/*
 * After any drop: dropped storage tables take their catalog rows; dropped
 * sources (or used columns) of surviving stream tables abort the command.
 */
Datum
pgt_on_sql_drop(PG_FUNCTION_ARGS)
{
	int			rc;
	uint64		i;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "not fired by an event trigger");
	if (!catalog_exists())
		PG_RETURN_VOID();
	pgt_spi_begin();
	rc = SPI_execute("WITH d AS (SELECT objid, objsubid, object_identity FROM pg_event_trigger_dropped_objects() "
					 "WHERE classid = 'pg_catalog.pg_class'::regclass AND object_type IN ('table', 'table column')) "
					 "SELECT d.object_identity, string_agg(st.name, ', ' ORDER BY st.name), bool_or(d.objsubid = 0) "
					 "FROM d JOIN " PGT_SCHEMA ".pgt_sources s ON s.source_relid = d.objid "
					 "JOIN " PGT_SCHEMA ".pgt_stream_tables st ON st.id = s.stream_table_id "
					 "WHERE (d.objsubid = 0 OR d.objsubid = ANY (s.columns)) "
					 "AND st.relid NOT IN (SELECT objid FROM d WHERE objsubid = 0) "
					 "GROUP BY d.object_identity ORDER BY 1",
					 true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog check after DROP failed: %s", SPI_result_code_string(rc));
	if (SPI_processed > 0)
	{
		StringInfoData msg;
		bool		columns_only = true;

		initStringInfo(&msg);
		for (i = 0; i < SPI_processed; i++)
		{
			bool		t = strcmp(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3), "t") == 0;

			columns_only &= !t;
			appendStringInfo(&msg, "%s%s %s (used by %s)", i ? "; " : "",
							 t ? "table" : "column",
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
							 SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2));
		}
		/* Column drops in rebootstrap mode: re-planned at ddl_command_end. */
		if (!(columns_only && pgt_source_ddl == PGT_SOURCE_DDL_REBOOTSTRAP))
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop %s: stream tables depend on it", msg.data),
					 errhint("Drop those stream tables first with pgtrickle.drop_stream_table().")));
	}
	/* Storage tables dropped without drop_stream_table(): their catalog rows go too. */
	if (pgt_api_writing)
	{
		pgt_spi_end();
		PG_RETURN_VOID();
	}
	rc = SPI_execute("DELETE FROM " PGT_SCHEMA ".pgt_stream_tables st "
					 "USING pg_event_trigger_dropped_objects() d "
					 "WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0 "
					 "AND d.object_type = 'table' AND st.relid = d.objid RETURNING st.id",
					 false, 0);
	if (rc != SPI_OK_DELETE_RETURNING)
		elog(ERROR, "catalog clean-up after DROP failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
		pgt_notify_catalog("drop", strtoi64(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1), NULL, 10));
	pgt_spi_end();
	PG_RETURN_VOID();
}
