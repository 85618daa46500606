/*-------------------------------------------------------------------------
 * api_refresh.c
 *    pgtrickle.refresh_stream_table(name, wait => true, timeout => '60 s')
 *
 * The engine merges a requested table at once. Requests reach it without a
 * commit of the caller's transaction: while the call waits it holds a
 * session-level advisory lock (PGT_REFRESH_LOCK_KEY, id), which the engine
 * sees in pg_locks on the primary (it polls every 100 ms); the call returns
 * when the table's frontier has reached the WAL insert position taken at the
 * call, i.e. every transaction committed before the call is in the stream
 * table, or fails after `timeout` naming the frontier it waited for.
 * wait => false only records refresh_requested_at (seen at commit).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "catalog.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_refresh_stream_table);

/* First key of the refresh request advisory locks ("pgtr"); the engine uses the same. */
#define PGT_REFRESH_LOCK_KEY 0x70677472

typedef struct RefreshTarget
{
	int64		id;
	bool		paused;
	char	   *status;
	char	   *last_error;
	bool		has_frontier;
	XLogRecPtr	frontier;
} RefreshTarget;

/* Reads the catalog row without locking it (the engine's merge locks it). */
static bool
read_target(const char *name, int64 id, RefreshTarget *t)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2] = {CStringGetTextDatum(name ? name : ""), Int64GetDatum(id)};
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int			rc;

	rc = SPI_execute_with_args("SELECT id, paused, status, last_error, frontier FROM " PGT_SCHEMA ".pgt_stream_tables "
							   "WHERE CASE WHEN $2 <> 0 THEN id = $2 "
							   "ELSE relid = to_regclass($1) OR name = $1 END LIMIT 1",
							   2, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "catalog lookup failed: %s", SPI_result_code_string(rc));
	if (SPI_processed == 0)
		return false;
	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	t->id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
	t->paused = DatumGetBool(SPI_getbinval(row, desc, 2, &isnull));
	t->status = SPI_getvalue(row, desc, 3);
	t->last_error = SPI_getvalue(row, desc, 4);
	d = SPI_getbinval(row, desc, 5, &isnull);
	t->has_frontier = !isnull;
	t->frontier = isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
	return true;
}

static void
check_refreshable(const char *name, RefreshTarget *t)
{
	if (t->paused)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stream table \"%s\" is paused", name),
				 errhint("Resume it with pgtrickle.alter_stream_table(name, status => 'active').")));
	if (strcmp(t->status, "ERROR") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("stream table \"%s\" is in ERROR: %s", name,
						t->last_error ? t->last_error : "(no message)")));
}

static void
wait_for_frontier(const char *name, RefreshTarget *t, XLogRecPtr target, int64 timeout_ms)
{
	TimestampTz start = GetCurrentTimestamp();

	for (;;)
	{
		if (!read_target(NULL, t->id, t))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("stream table \"%s\" was dropped while waiting for its refresh", name)));
		check_refreshable(name, t);
		if (t->has_frontier && t->frontier >= target)
			return;
		if (TimestampDifferenceExceeds(start, GetCurrentTimestamp(), (int) Min(timeout_ms, INT_MAX)))
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("refresh of stream table \"%s\" timed out after " INT64_FORMAT " ms: "
							"its frontier is %s, waiting for %X/%X",
							name, timeout_ms,
							t->has_frontier ? psprintf("%X/%X", LSN_FORMAT_ARGS(t->frontier)) : "NULL",
							LSN_FORMAT_ARGS(target)),
					 errhint("Is the engine running and attached? See pgtrickle.engine_status().")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

Datum
pgt_refresh_stream_table(PG_FUNCTION_ARGS)
{
	char	   *name;
	bool		wait = PG_ARGISNULL(1) ? true : PG_GETARG_BOOL(1);
	int64		timeout_ms = 60000;
	RefreshTarget t;
	LOCKTAG		tag;
	XLogRecPtr	target;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("name must not be NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (!PG_ARGISNULL(2))
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(2);

		timeout_ms = (iv->time + (iv->day + (int64) iv->month * DAYS_PER_MONTH) * USECS_PER_DAY) / 1000;
		if (timeout_ms <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout of refresh_stream_table must be a positive interval")));
	}
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("refresh_stream_table() runs on the primary")));
	pgt_spi_begin();
	if (!read_target(name, 0, &t))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("stream table \"%s\" does not exist", name)));
	check_refreshable(name, &t);
	if (!wait)
	{
		Oid			argtype = INT8OID;
		Datum		arg = Int64GetDatum(t.id);

		if (SPI_execute_with_args("UPDATE " PGT_SCHEMA ".pgt_stream_tables SET refresh_requested_at = now() "
								  "WHERE id = $1", 1, &argtype, &arg, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "recording the refresh request failed");
		pgt_spi_end();
		PG_RETURN_VOID();
	}
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("refresh_stream_table(wait => true) cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("It must see the engine's merge commit while it waits."),
				 errhint("Use READ COMMITTED, or wait => false.")));
	target = GetXLogInsertRecPtr();
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, PGT_REFRESH_LOCK_KEY, (uint32) t.id, 2);
	(void) LockAcquire(&tag, ShareLock, true, false);
	PG_TRY();
	{
		wait_for_frontier(name, &t, target, timeout_ms);
	}
	PG_FINALLY();
	{
		LockRelease(&tag, ShareLock, true);
	}
	PG_END_TRY();
	pgt_spi_end();
	PG_RETURN_VOID();
}
