/*-------------------------------------------------------------------------
 * guc.c
 *    Configuration parameters of pg_trickle.
 *
 * The engine reads the same settings (pg_trickle.max_parallel_workers,
 * backpressure_*, log_format) from the server; the extension uses
 * default_schedule when create_stream_table() gets no schedule.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "ddl.h"
#include "pg_trickle.h"

bool		pgt_enabled = true;
int			pgt_max_parallel_workers = 4;
bool		pgt_backpressure_enabled = false;
int			pgt_backpressure_max_lag_mb = 128;
char	   *pgt_default_schedule = NULL;
int			pgt_log_format = PGT_LOG_FORMAT_TEXT;

static const struct config_enum_entry log_format_options[] = {
	{"text", PGT_LOG_FORMAT_TEXT, false},
	{"json", PGT_LOG_FORMAT_JSON, false},
	{NULL, 0, false}
};

int			pgt_source_ddl = PGT_SOURCE_DDL_REFUSE;

static const struct config_enum_entry source_ddl_options[] = {
	{"refuse", PGT_SOURCE_DDL_REFUSE, false},
	{"rebootstrap", PGT_SOURCE_DDL_REBOOTSTRAP, false},
	{NULL, 0, false}
};

static bool
check_default_schedule(char **newval, void **extra, GucSource source)
{
	Interval	iv;

	if (*newval == NULL || !pgt_parse_interval(*newval, &iv))
	{
		GUC_check_errdetail("\"%s\" is not a valid interval.",
							*newval ? *newval : "");
		return false;
	}
	if (!pgt_interval_is_positive(&iv))
	{
		GUC_check_errdetail("The default schedule must be a positive interval.");
		return false;
	}
	return true;
}

void
pgt_define_gucs(void)
{
	static bool defined = false;

	if (defined)
		return;
	defined = true;

	DefineCustomBoolVariable("pg_trickle.enabled",
							 "Enables pg_trickle (the engine merges nothing while off).",
							 NULL,
							 &pgt_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_trickle.max_parallel_workers",
							"Maximum number of stream table merges running at once.",
							NULL,
							&pgt_max_parallel_workers,
							4, 1, 1024,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("pg_trickle.backpressure_enabled",
							 "Delays DML on source tables while the engine lags too far behind.",
							 NULL,
							 &pgt_backpressure_enabled,
							 false,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_trickle.backpressure_max_lag_mb",
							"Engine lag (megabytes of WAL) above which backpressure applies.",
							NULL,
							&pgt_backpressure_max_lag_mb,
							128, 1, INT_MAX,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("pg_trickle.default_schedule",
							   "Merge period of stream tables created without a schedule.",
							   "Any positive interval, e.g. '5 seconds'.",
							   &pgt_default_schedule,
							   "5 seconds",
							   PGC_USERSET,
							   0,
							   check_default_schedule, NULL, NULL);

	DefineCustomEnumVariable("pg_trickle.log_format",
							 "Log format of the pg_trickle engine (text or json).",
							 NULL,
							 &pgt_log_format,
							 PGT_LOG_FORMAT_TEXT,
							 log_format_options,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("pg_trickle.backpressure_timeout",
							"Longest delay of one statement by backpressure (0 = until the engine catches up).",
							"After it the statement proceeds (with a WARNING); statement_timeout also bounds the wait.",
							&pgt_backpressure_timeout_ms,
							0, 0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("pg_trickle.source_ddl",
							 "What DDL that drops or retypes a column used by a stream table does.",
							 "refuse: the DDL fails naming the stream tables; rebootstrap: it runs and the stream tables are re-planned and bootstrapped again.",
							 &pgt_source_ddl,
							 PGT_SOURCE_DDL_REFUSE,
							 source_ddl_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("pg_trickle");
}
