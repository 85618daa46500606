/*-------------------------------------------------------------------------
 * api_drop.c
 *    pgtrickle.drop_stream_table(name, cascade => false)
 *
 * cascade also drops objects depending on the storage table (views, ...);
 * without it such objects make the drop fail (PostgreSQL's own error).
 *
 * Drops the storage table and the catalog rows (pgt_sources cascades) and
 * notifies the engine on channel pgtrickle_catalog.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "catalog.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_drop_stream_table);

Datum
pgt_drop_stream_table(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		id;
	Oid			relid;
	char	   *relname;
	bool		cascade = PG_NARGS() > 1 && PG_GETARG_BOOL(1);

	pgt_spi_begin();

	if (!pgt_catalog_lookup(name, &id, &relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stream table \"%s\" does not exist", name)));

	relname = get_rel_name(relid);
	if (relname != NULL)
	{
		char	   *qualified = quote_qualified_identifier(
														   get_namespace_name(get_rel_namespace(relid)), relname);
		pgt_api_execute_utility(psprintf("DROP TABLE %s%s", qualified, cascade ? " CASCADE" : ""));
	}
	pgt_catalog_delete(id);

	pgt_spi_end();

	pgt_notify_catalog("drop", id);
	PG_RETURN_VOID();
}
