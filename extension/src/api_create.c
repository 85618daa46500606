/*-------------------------------------------------------------------------
 * api_create.c
 *    pgtrickle.create_stream_table(name, query, schedule, sla_tier)
 *
 * Compiles the query (compiler.h), creates the empty storage table, writes
 * the catalog rows (status INITIALIZING, frontier NULL) and notifies the
 * engine on channel pgtrickle_catalog. It never populates the table (the
 * engine bootstraps it from a standby snapshot), never adds triggers to the
 * sources and never changes their replica identity.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "catalog.h"
#include "compiler.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_create_stream_table);

static char *
required_text_arg(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

Datum
pgt_create_stream_table(PG_FUNCTION_ARGS)
{
	char	   *name = required_text_arg(fcinfo, 0, "name");
	char	   *query = required_text_arg(fcinfo, 1, "query");
	Interval   *schedule = PG_ARGISNULL(2) ? NULL : PG_GETARG_INTERVAL_P(2);
	char	   *sla_tier = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));
	RangeVar   *rv;
	Oid			nspid;
	Oid			existing;
	char	   *qualified;
	PgtCompiledQuery *compiled;
	ListCell   *lc;
	Oid			relid;
	int64		id;

	pgt_check_sla_tier(sla_tier);
	schedule = pgt_resolve_schedule(schedule);

	rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	nspid = RangeVarGetCreationNamespace(rv);
	if (isAnyTempNamespace(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("stream tables cannot be temporary"),
				 errdetail("The engine reads the stream table's catalog and WAL from a standby.")));
	qualified = quote_qualified_identifier(get_namespace_name(nspid), rv->relname);

	pgt_spi_begin();

	existing = get_relname_relid(rv->relname, nspid);
	if (OidIsValid(existing))
	{
		if (pgt_catalog_is_stream_table(existing))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("stream table \"%s\" already exists", qualified)));
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_TABLE),
				 errmsg("relation \"%s\" already exists", qualified),
				 errhint("A stream table creates its own storage table; choose another name.")));
	}

	compiled = pgt_compile_query(query);

	relid = pgt_create_storage_table(qualified, nspid, rv->relname,
									 compiled->columns);
	id = pgt_catalog_insert(qualified, relid, query, compiled->plan_json,
							schedule, sla_tier);
	foreach(lc, compiled->sources)
		pgt_catalog_insert_source(id, lfirst(lc), query);

	pgt_spi_end();

	pgt_notify_catalog("create", id);
	PG_RETURN_VOID();
}
