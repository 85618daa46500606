/*-------------------------------------------------------------------------
 * restore.c
 *    The catalog's insert trigger: restores of a pg_dump.
 *
 * pg_dump dumps the catalog (pg_extension_config_dump) and the storage
 * tables, but the OIDs in a catalog row (storage relid, source relids inside
 * the plan) are those of the dumped cluster, and its frontier belongs to an
 * engine that never saw the restored database. A row inserted other than by
 * the SQL API is therefore re-planned from its query against the restored
 * tables and starts over: frontier NULL, status INITIALIZING, statistics
 * reset, so the engine bootstraps it (its first merge replaces whatever rows
 * the storage table was restored with). Dumped pgt_sources rows are skipped:
 * re-planning writes fresh ones.
 *
 * pg_restore loads data before it creates constraints, so a source may
 * have no primary key yet when the row arrives: the row then waits in status
 * RESTORING (the engine ignores such rows) and is re-planned by the
 * ddl_command_end trigger after the ALTER TABLE that adds the key (or by
 * alter_stream_table(name, query => ...)).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/regproc.h"

#include "catalog.h"
#include "compiler.h"
#include "ddl.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_catalog_insert_trigger);

bool		pgt_api_writing = false;

static char *
text_col(TriggerData *td, HeapTuple tup, const char *col)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	int			fn = SPI_fnumber(desc, col);
	char	   *v = fn > 0 ? SPI_getvalue(tup, desc, fn) : NULL;

	if (v == NULL)
		elog(ERROR, "restored catalog row has no %s", col);
	return v;
}

/* BEFORE INSERT on pgt_stream_tables: the row re-planned against this database. */
static HeapTuple
replan_row(TriggerData *td)
{
	HeapTuple	tup = td->tg_trigtuple;
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	char	   *name = text_col(td, tup, "name");
	RangeVar   *rv = makeRangeVarFromNameList(stringToQualifiedNameList(name));
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	const char *reset[] = {"frontier", "engine_epoch", "last_refresh_at", "avg_refresh_ms",
	"last_error", "refresh_requested_at"};
	const char *zero[] = {"rows_changed_last_cycle", "refresh_count", "pending_change_rows"};
	int			ncols = 2 + lengthof(reset) + lengthof(zero);
	int		   *cols = palloc(sizeof(int) * ncols);
	Datum	   *vals = palloc0(sizeof(Datum) * ncols);
	bool	   *nulls = palloc0(sizeof(bool) * ncols);
	int			n = 0;
	int			i;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("storage table %s of restored stream table %s does not exist", name, name),
				 errhint("Restore the storage table before the pg_trickle catalog, or re-create the stream table.")));
	cols[n] = SPI_fnumber(desc, "relid");
	vals[n++] = ObjectIdGetDatum(relid);
	cols[n] = SPI_fnumber(desc, "status");
	vals[n++] = CStringGetTextDatum("RESTORING");
	for (i = 0; i < (int) lengthof(reset); i++)
	{
		cols[n] = SPI_fnumber(desc, reset[i]);
		nulls[n++] = true;
	}
	for (i = 0; i < (int) lengthof(zero); i++)
	{
		cols[n] = SPI_fnumber(desc, zero[i]);
		vals[n++] = Int64GetDatum(0);
	}
	return heap_modify_tuple_by_cols(tup, desc, n, cols, vals, nulls);
}

/* AFTER INSERT on pgt_stream_tables: re-plan at once if the sources allow it already. */
static void
try_replan(TriggerData *td)
{
	pgt_spi_begin();
	pgt_replan_restored(strtoi64(text_col(td, td->tg_trigtuple, "id"), NULL, 10));
	pgt_spi_end();
}

Datum
pgt_catalog_insert_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td;
	const char *table;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "not fired by a trigger");
	td = (TriggerData *) fcinfo->context;
	if (!TRIGGER_FIRED_BY_INSERT(td->tg_event) || !TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "pg_trickle's catalog trigger fires for INSERT rows only");
	if (pgt_api_writing)
		return PointerGetDatum(TRIGGER_FIRED_BEFORE(td->tg_event) ? td->tg_trigtuple : NULL);
	table = RelationGetRelationName(td->tg_relation);
	if (strcmp(table, "pgt_sources") == 0)
		return PointerGetDatum(NULL);	/* re-derived from the stream table's row */
	if (TRIGGER_FIRED_BEFORE(td->tg_event))
		return PointerGetDatum(replan_row(td));
	try_replan(td);
	return PointerGetDatum(NULL);
}
