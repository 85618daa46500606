/*-------------------------------------------------------------------------
 * api_alter.c
 *    pgtrickle.alter_stream_table(name, schedule, sla_tier, status, query)
 *    and re-planning (also used by source DDL in rebootstrap mode).
 *
 * A new query re-plans the table: new plan, generation + 1, frontier NULL,
 * status INITIALIZING. The storage table is kept when the output columns are
 * unchanged (the engine's first merge after its new bootstrap replaces the
 * contents), and created again otherwise. The engine notices the generation,
 * drops that table's state and bootstraps it; other tables are untouched.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#include "utils/varlena.h"
#include "access/relation.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compiler.h"
#include "ddl.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_alter_stream_table);

/* Do the storage table's user columns equal the compiled output (names, types, collations)? */
static bool
same_columns(Oid relid, List *columns)
{
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	ListCell   *lc = list_head(columns);
	bool		same = true;
	int			i;

	for (i = 0; i < desc->natts && same; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		PgtOutputColumn *col;

		if (att->attisdropped || strcmp(NameStr(att->attname), PGT_ROW_ID_COLUMN) == 0)
			continue;
		if (lc == NULL)
		{
			same = false;
			break;
		}
		col = lfirst(lc);
		same = strcmp(NameStr(att->attname), col->name) == 0 &&
			att->atttypid == col->typoid && att->atttypmod == col->typmod &&
			(!OidIsValid(col->collation) || att->attcollation == col->collation);
		lc = lnext(columns, lc);
	}
	relation_close(rel, AccessShareLock);
	return same && lc == NULL;
}

void
pgt_replan_stream_table(int64 id, const char *query)
{
	PgtCompiledQuery *compiled = pgt_compile_query(query);
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, OIDOID};
	Datum		values[4];
	Oid			relid;
	char	   *name;
	bool		isnull;
	ListCell   *lc;
	int			rc;

	foreach(lc, compiled->sources)
	{
		PgtSourceInfo *src = lfirst(lc);

		/* A new query may not read the table itself, directly or through others. */
		if (src->stream_table_id == id ||
			(src->stream_table_id != 0 && pgt_catalog_reads_transitively(src->stream_table_id, id)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("cycle of stream tables: stream table \"%s\" %s",
							src->qualified_name, src->stream_table_id == id ? "would read itself" : "reads this stream table"),
					 errdetail("Stream tables reading stream tables must form a DAG.")));
	}
	values[0] = Int64GetDatum(id);
	rc = SPI_execute_with_args("SELECT relid, name FROM " PGT_SCHEMA ".pgt_stream_tables WHERE id = $1 FOR UPDATE",
							   1, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "stream table id " INT64_FORMAT " vanished", id);
	relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	if (get_rel_name(relid) == NULL || !same_columns(relid, compiled->columns))
	{
		/* Another shape: a new storage table under the same name. */
		List	   *names = stringToQualifiedNameList(name);
		RangeVar   *rv = makeRangeVarFromNameList(names);
		Oid			nspid;

		if (get_rel_name(relid) != NULL)
		{
			pgt_api_execute_utility(psprintf("DROP TABLE %s", quote_qualified_identifier(
						get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid))));
		}
		nspid = RangeVarGetCreationNamespace(rv);
		relid = pgt_create_storage_table(name, nspid, rv->relname, compiled->columns);
	}
	values[1] = CStringGetTextDatum(query);
	values[2] = CStringGetTextDatum(compiled->plan_json);
	values[3] = ObjectIdGetDatum(relid);
	rc = pgt_api_execute_with_args("UPDATE " PGT_SCHEMA ".pgt_stream_tables SET query = $2, plan = $3::jsonb, "
								   "relid = $4, generation = generation + 1, frontier = NULL, "
								   "status = 'INITIALIZING', engine_epoch = NULL, last_error = NULL, "
								   "last_refresh_at = NULL, rows_changed_last_cycle = 0, avg_refresh_ms = NULL, "
								   "refresh_count = 0, pending_change_rows = 0 WHERE id = $1",
								   4, argtypes, values, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "updating the catalog row failed: %s", SPI_result_code_string(rc));
	rc = pgt_api_execute_with_args("DELETE FROM " PGT_SCHEMA ".pgt_sources WHERE stream_table_id = $1",
								   1, argtypes, values, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "updating the source rows failed: %s", SPI_result_code_string(rc));
	foreach(lc, compiled->sources)
		pgt_catalog_insert_source(id, lfirst(lc), query);
	pgt_notify_catalog("alter", id);
}

static void
update_column(int64 id, const char *set, Oid type, Datum value)
{
	Oid			argtypes[2] = {INT8OID, type};
	Datum		values[2] = {Int64GetDatum(id), value};
	int			rc;

	rc = pgt_api_execute_with_args(psprintf("UPDATE " PGT_SCHEMA ".pgt_stream_tables SET %s WHERE id = $1", set),
								   2, argtypes, values, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "updating the catalog row failed: %s", SPI_result_code_string(rc));
}

Datum
pgt_alter_stream_table(PG_FUNCTION_ARGS)
{
	char	   *name;
	int64		id;
	Oid			relid;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	pgt_spi_begin();
	if (!pgt_catalog_lookup(name, &id, &relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stream table \"%s\" does not exist", name)));
	if (!PG_ARGISNULL(1))
	{
		Interval   *schedule = PG_GETARG_INTERVAL_P(1);

		if (!pgt_interval_is_positive(schedule))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("schedule of stream table \"%s\" must be a positive interval", name)));
		update_column(id, "schedule = $2", INTERVALOID, IntervalPGetDatum(schedule));
	}
	if (!PG_ARGISNULL(2))
	{
		char	   *tier = text_to_cstring(PG_GETARG_TEXT_PP(2));

		pgt_check_sla_tier(tier);
		update_column(id, "sla_tier = $2", TEXTOID, CStringGetTextDatum(tier));
	}
	if (!PG_ARGISNULL(3))
	{
		char	   *status = text_to_cstring(PG_GETARG_TEXT_PP(3));
		bool		paused;

		if (pg_strcasecmp(status, "paused") == 0)
			paused = true;
		else if (pg_strcasecmp(status, "active") == 0)
			paused = false;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid status \"%s\" for stream table \"%s\"", status, name),
					 errhint("Use 'paused' or 'active'.")));
		update_column(id, "paused = $2", BOOLOID, BoolGetDatum(paused));
	}
	if (!PG_ARGISNULL(4))
	{
		pgt_replan_stream_table(id, text_to_cstring(PG_GETARG_TEXT_PP(4)));
		pgt_catalog_save_search_path(id);
	}
	pgt_spi_end();
	pgt_notify_catalog("alter", id);
	PG_RETURN_VOID();
}
