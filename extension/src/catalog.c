/*-------------------------------------------------------------------------
 * catalog.c
 *    SPI access to the pgtrickle catalog and creation of storage tables.
 *
 * Statements run with the caller's privileges: creating a stream table
 * needs CREATE on the target schema and write access to the catalog.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "catalog.h"
#include "ddl.h"
#include "pg_trickle.h"

void
pgt_spi_begin(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
pgt_spi_end(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

bool
pgt_catalog_is_stream_table(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int			rc;

	rc = SPI_execute_with_args("SELECT 1 FROM " PGT_SCHEMA ".pgt_stream_tables WHERE relid = $1",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	return SPI_processed > 0;
}

int64
pgt_catalog_stream_table_id(Oid relid)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	bool		isnull;
	int			rc;

	rc = SPI_execute_with_args("SELECT id FROM " PGT_SCHEMA ".pgt_stream_tables WHERE relid = $1",
							   1, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

bool
pgt_catalog_reads_transitively(int64 id, int64 upstream)
{
	Oid			argtypes[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(id), Int64GetDatum(upstream)};
	int			rc;

	/* Walk upstream from `id` through sources that are storage tables. */
	rc = SPI_execute_with_args("WITH RECURSIVE up(id) AS (SELECT $1::bigint UNION "
							   "SELECT st.id FROM up JOIN " PGT_SCHEMA ".pgt_sources s ON s.stream_table_id = up.id "
							   "JOIN " PGT_SCHEMA ".pgt_stream_tables st ON st.relid = s.source_relid) "
							   "SELECT 1 FROM up WHERE id = $2",
							   2, argtypes, values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	return SPI_processed > 0;
}

Oid
pgt_create_storage_table(const char *qualified_name, Oid nspid,
						 const char *relname, List *columns)
{
	StringInfoData sql;
	ListCell   *lc;
	Oid			relid;
	int			rc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE TABLE %s (", qualified_name);
	foreach(lc, columns)
	{
		PgtOutputColumn *col = lfirst(lc);

		appendStringInfo(&sql, "%s %s", quote_identifier(col->name), col->type_sql);
		if (OidIsValid(col->collation))
			appendStringInfo(&sql, " COLLATE %s",
							 generate_collation_name(col->collation));
		appendStringInfoString(&sql, ", ");
	}
	appendStringInfo(&sql, "%s uuid PRIMARY KEY)", PGT_ROW_ID_COLUMN);

	rc = SPI_execute(sql.data, false, 0);
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "creating the storage table failed: %s",
			 SPI_result_code_string(rc));

	relid = get_relname_relid(relname, nspid);
	if (!OidIsValid(relid))
		elog(ERROR, "storage table %s not found after creation", qualified_name);
	return relid;
}

int64
pgt_catalog_insert(const char *name, Oid relid, const char *query,
				   const char *plan_json, Interval *schedule, const char *sla_tier)
{
	Oid			argtypes[6] = {TEXTOID, OIDOID, TEXTOID, TEXTOID, INTERVALOID, TEXTOID};
	Datum		values[6];
	bool		isnull;
	Datum		id;
	int			rc;

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = CStringGetTextDatum(query);
	values[3] = CStringGetTextDatum(plan_json);
	values[4] = IntervalPGetDatum(schedule);
	values[5] = CStringGetTextDatum(sla_tier);

	rc = pgt_api_execute_with_args("INSERT INTO " PGT_SCHEMA ".pgt_stream_tables "
							   "(name, relid, query, plan, schedule, sla_tier, status) "
							   "VALUES ($1, $2, $3, $4::jsonb, $5, $6, 'INITIALIZING') "
							   "RETURNING id",
							   6, argtypes, values, 1);
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "inserting the catalog row failed: %s",
			 SPI_result_code_string(rc));
	id = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (pgt_catalog_is_v2())
		pgt_catalog_save_search_path(DatumGetInt64(id));
	return DatumGetInt64(id);
}

void
pgt_catalog_insert_source(int64 id, PgtSourceInfo *src, const char *query)
{
	Oid			argtypes[4] = {INT8OID, OIDOID, TEXTOID, INT2ARRAYOID};
	Datum		values[4];
	int			rc;

	values[0] = Int64GetDatum(id);
	values[1] = ObjectIdGetDatum(src->relid);
	values[2] = CStringGetTextDatum(src->qualified_name);
	/*
	 * The 0.2.0 library may run against the 0.1.0 catalog until ALTER
	 * EXTENSION ... UPDATE: pgt_sources.columns exists from 0.2.0 on.
	 */
	if (pgt_catalog_is_v2())
	{
		values[3] = PointerGetDatum(pgt_attnum_array(pgt_source_columns(query, src->relid)));
		rc = pgt_api_execute_with_args("INSERT INTO " PGT_SCHEMA ".pgt_sources "
									   "(stream_table_id, source_relid, source_name, columns) "
									   "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
									   4, argtypes, values, 0);
	}
	else
		rc = pgt_api_execute_with_args("INSERT INTO " PGT_SCHEMA ".pgt_sources "
									   "(stream_table_id, source_relid, source_name) "
									   "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
									   3, argtypes, values, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "inserting the source row failed: %s",
			 SPI_result_code_string(rc));
}

/* Records the current search_path: the query is analyzed with it again later. */
void
pgt_catalog_save_search_path(int64 id)
{
	Oid			argtype = INT8OID;
	Datum		arg = Int64GetDatum(id);

	if (pgt_api_execute_with_args("UPDATE " PGT_SCHEMA ".pgt_stream_tables "
								  "SET search_path = current_setting('search_path') WHERE id = $1",
								  1, &argtype, &arg, 0) != SPI_OK_UPDATE)
		elog(ERROR, "recording the search_path failed");
}

/*
 * Sets search_path for the current GUC nest level (undone by
 * pgt_restore_search_path, or by transaction abort); NULL (a row from a
 * 0.1.0 dump) means PostgreSQL's default.
 */
int
pgt_use_search_path(const char *path)
{
	int			level = NewGUCNestLevel();

	(void) set_config_option("search_path", path ? path : "\"$user\", public",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return level;
}

void
pgt_restore_search_path(int level)
{
	AtEOXact_GUC(true, level);
}

char *
pgt_try_in_subxact(void (*fn) (void *), void *arg)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	char	   *failure = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *err;

		MemoryContextSwitchTo(oldcxt);
		err = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		failure = err->message;
	}
	PG_END_TRY();
	return failure;
}

/* Is the installed catalog 0.2.0 or later (pgt_sources.columns exists)? */
bool
pgt_catalog_is_v2(void)
{
	Oid			nsp = get_namespace_oid(PGT_SCHEMA, true);
	Oid			rel = OidIsValid(nsp) ? get_relname_relid("pgt_sources", nsp) : InvalidOid;

	return OidIsValid(rel) && get_attnum(rel, "columns") != InvalidAttrNumber;
}

/* A utility statement (DROP TABLE of a storage table) run as the API's own. */
void
pgt_api_execute_utility(const char *sql)
{
	bool		saved = pgt_api_writing;
	int			rc;

	pgt_api_writing = true;
	PG_TRY();
	{
		rc = SPI_execute(sql, false, 0);
	}
	PG_FINALLY();
	{
		pgt_api_writing = saved;
	}
	PG_END_TRY();
	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "\"%s\" failed: %s", sql, SPI_result_code_string(rc));
}

/*
 * SPI_execute_with_args with pgt_api_writing set, so the catalog's restore
 * trigger leaves the row alone (reset on error too).
 */
int
pgt_api_execute_with_args(const char *sql, int nargs, Oid *argtypes,
						  Datum *values, long count)
{
	bool		saved = pgt_api_writing;
	int			rc;

	pgt_api_writing = true;
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, count);
	}
	PG_FINALLY();
	{
		pgt_api_writing = saved;
	}
	PG_END_TRY();
	return rc;
}

/* Runs a one-parameter catalog SELECT returning (id, relid) FOR UPDATE. */
static bool
lookup_by(const char *where, Oid argtype, Datum arg, int64 *id, Oid *relid)
{
	char	   *sql = psprintf("SELECT id, relid FROM " PGT_SCHEMA ".pgt_stream_tables "
							   "WHERE %s FOR UPDATE", where);
	bool		isnull;
	int			rc;

	rc = SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return true;
}

bool
pgt_catalog_lookup(const char *name, int64 *id, Oid *relid)
{
	List	   *names = stringToQualifiedNameList(name);
	RangeVar   *rv = makeRangeVarFromNameList(names);
	Oid			found = RangeVarGetRelid(rv, NoLock, true);

	if (OidIsValid(found) &&
		lookup_by("relid = $1", OIDOID, ObjectIdGetDatum(found), id, relid))
		return true;
	/*
	 * The storage table may be gone (dropped by hand): the stored name, as
	 * given or as create_stream_table would have qualified it.
	 */
	if (lookup_by("name = $1", TEXTOID, CStringGetTextDatum(name), id, relid))
		return true;
	if (rv->schemaname == NULL)
	{
		Oid			nspid = RangeVarGetCreationNamespace(rv);

		rv->schemaname = get_namespace_name(nspid);
	}
	return lookup_by("name = $1", TEXTOID,
					 CStringGetTextDatum(quote_qualified_identifier(rv->schemaname,
																	rv->relname)),
					 id, relid);
}

void
pgt_catalog_delete(int64 id)
{
	Oid			argtype = INT8OID;
	Datum		arg = Int64GetDatum(id);
	int			rc;

	rc = SPI_execute_with_args("DELETE FROM " PGT_SCHEMA ".pgt_stream_tables WHERE id = $1",
							   1, &argtype, &arg, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "deleting the catalog row failed: %s",
			 SPI_result_code_string(rc));
}

/* NOTIFY pgtrickle_catalog, '<action> <id>' (delivered at commit). */
void
pgt_notify_catalog(const char *action, int64 id)
{
	Async_Notify(PGT_NOTIFY_CHANNEL, psprintf("%s " INT64_FORMAT, action, id));
}
