/*-------------------------------------------------------------------------
 * pg_trickle.c
 *    Module entry point.
 *
 * The library works with and without shared_preload_libraries: when it is
 * loaded lazily (first call of an API function, or LOAD) _PG_init defines the
 * GUCs as well, picking up any placeholder values already set.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

#include "ddl.h"
#include "pg_trickle.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	pgt_define_gucs();
	pgt_backpressure_init();
}
