/*-------------------------------------------------------------------------
 * api_drop.c
 *    pgtrickle.drop_stream_table(name, cascade => false)
 *
 * cascade also drops the stream tables reading this one (a DAG of stream
 * tables, dependants first) and objects depending on the storage table
 * (views, ...); without it either makes the drop fail.
 *
 * Drops the storage table and the catalog rows (pgt_sources cascades) and
 * notifies the engine on channel pgtrickle_catalog.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "catalog.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_drop_stream_table);

typedef struct Dependant
{
	int64		id;
	Oid			relid;
	char	   *name;
} Dependant;

/* Stream tables whose query reads the storage table `relid`. */
static List *
dependants_of(Oid relid)
{
	Oid			argtype = OIDOID;
	Datum		arg = ObjectIdGetDatum(relid);
	List	   *out = NIL;
	int			rc;

	rc = SPI_execute_with_args("SELECT DISTINCT st.id, st.relid, st.name FROM " PGT_SCHEMA ".pgt_sources s "
							   "JOIN " PGT_SCHEMA ".pgt_stream_tables st ON st.id = s.stream_table_id "
							   "WHERE s.source_relid = $1 AND st.relid <> $1 ORDER BY st.id",
							   1, &argtype, &arg, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Dependant  *d = palloc(sizeof(Dependant));
		bool		isnull;

		d->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		d->relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		d->name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3);
		out = lappend(out, d);
	}
	return out;
}

/* Drops one stream table: its dependants first (cascade), then its storage and catalog rows. */
static void
drop_one(const char *name, int64 id, Oid relid, bool cascade)
{
	List	   *deps = OidIsValid(relid) ? dependants_of(relid) : NIL;
	ListCell   *lc;
	char	   *relname;

	if (deps != NIL && !cascade)
	{
		StringInfoData list;

		initStringInfo(&list);
		foreach(lc, deps)
			appendStringInfo(&list, "%s%s", list.len ? ", " : "", ((Dependant *) lfirst(lc))->name);
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop stream table \"%s\": stream tables read it: %s", name, list.data),
				 errhint("Drop those first, or use pgtrickle.drop_stream_table(name, cascade => true).")));
	}
	foreach(lc, deps)
	{
		Dependant  *d = lfirst(lc);

		drop_one(d->name, d->id, d->relid, cascade);
	}
	relname = get_rel_name(relid);
	if (relname != NULL)
	{
		char	   *qualified = quote_qualified_identifier(
														   get_namespace_name(get_rel_namespace(relid)), relname);
		pgt_api_execute_utility(psprintf("DROP TABLE %s%s", qualified, cascade ? " CASCADE" : ""));
	}
	pgt_catalog_delete(id);
	pgt_notify_catalog("drop", id);
}

Datum
pgt_drop_stream_table(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		id;
	Oid			relid;
	bool		cascade = PG_NARGS() > 1 && PG_GETARG_BOOL(1);

	pgt_spi_begin();

	if (!pgt_catalog_lookup(name, &id, &relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stream table \"%s\" does not exist", name)));

	drop_one(name, id, relid, cascade);

	pgt_spi_end();
	PG_RETURN_VOID();
}
