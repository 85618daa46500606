/*-------------------------------------------------------------------------
 * backpressure.c
 *    Delays DML on source tables while the engine lags (pg_trickle.
 *    backpressure_enabled / backpressure_max_lag_mb / backpressure_timeout).
 *
 * Needs shared_preload_libraries = 'pg_trickle' (otherwise none of this is
 * installed and backpressure is inert):
 *  - shared memory: the engine's decoded LSN (pgtrickle._report_engine_lsn(),
 *    called by the engine at each heartbeat) and a "throttle" flag;
 *  - a background worker (no database connection) that every 100 ms sets
 *    throttle = enabled AND engine LSN known AND insert LSN - engine LSN >
 *    max_lag_mb;
 *  - ExecutorStart and ProcessUtility (COPY FROM) hooks whose first test is
 *    one read of that flag: with backpressure off, or the engine close enough,
 *    the write path costs one shared-memory load. Only when the flag is set
 *    does the hook check whether the statement writes a source table (one
 *    catalog query) and then sleep in 50 ms steps until the flag clears,
 *    pg_trickle.backpressure_timeout passes (then it proceeds: delayed, never
 *    failed), or the statement is cancelled (statement_timeout).
 *  The engine's LSN survives a restart (or crash) of the primary: the worker
 *  writes it with the insert timeline to $PGDATA/pg_trickle.engine_lsn when
 *  it changed (at most once a second) and reads it back at start when the
 *  timeline is the same. On another timeline (a promoted standby: the file,
 *  if any, came with a base backup) it is unknown (0) until the engine's
 *  next heartbeat: no throttling then.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "ddl.h"
#include "pg_trickle.h"

PG_FUNCTION_INFO_V1(pgt_report_engine_lsn);
PGDLLEXPORT void pgt_backpressure_main(Datum arg);

int			pgt_backpressure_timeout_ms = 0;

typedef struct PgtShared
{
	pg_atomic_uint64 engine_lsn;	/* 0 = unknown */
	pg_atomic_uint32 throttle;
	pg_atomic_uint64 lag_bytes;
} PgtShared;

static PgtShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request = NULL;
static shmem_startup_hook_type prev_shmem_startup = NULL;
static ExecutorStart_hook_type prev_executor_start = NULL;
static ProcessUtility_hook_type prev_process_utility = NULL;
static bool in_check = false;

static void
shmem_request(void)
{
	if (prev_shmem_request)
		prev_shmem_request();
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgtShared)));
}

static void
shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup)
		prev_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("pg_trickle", sizeof(PgtShared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&shared->engine_lsn, 0);
		pg_atomic_init_u32(&shared->throttle, 0);
		pg_atomic_init_u64(&shared->lag_bytes, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

Datum
pgt_report_engine_lsn(PG_FUNCTION_ARGS)
{
	XLogRecPtr	lsn = PG_GETARG_LSN(0);

	if (shared != NULL)
		pg_atomic_write_u64(&shared->engine_lsn, lsn);
	PG_RETURN_VOID();
}

/* Does the statement write a base table some stream table reads? (SPI; flag set only) */
static bool
writes_source(List *relids)
{
	Oid			nsp = get_namespace_oid(PGT_SCHEMA, true);
	Datum	   *elems;
	ListCell   *lc;
	int			n = 0;
	bool		found;
	Oid			argtype = OIDARRAYOID;
	Datum		arg;

	if (relids == NIL || !OidIsValid(nsp) || !OidIsValid(get_relname_relid("pgt_sources", nsp)))
		return false;
	elems = palloc(sizeof(Datum) * list_length(relids));
	foreach(lc, relids)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	arg = PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	in_check = true;
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		/* Storage tables of stream tables (sources of their dependants) are written only by
		 * the engine's merges: never delayed, which would slow the engine down further. */
		if (SPI_execute_with_args("SELECT 1 FROM " PGT_SCHEMA ".pgt_sources s WHERE s.source_relid = ANY ($1) "
								  "AND NOT EXISTS (SELECT 1 FROM " PGT_SCHEMA ".pgt_stream_tables st "
								  "WHERE st.relid = s.source_relid)",
								  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "backpressure: catalog lookup failed");
		found = SPI_processed > 0;
		SPI_finish();
	}
	PG_FINALLY();
	{
		in_check = false;
	}
	PG_END_TRY();
	return found;
}

static void
wait_while_throttled(List *relids)
{
	TimestampTz start;

	if (in_check || !writes_source(relids))
		return;
	start = GetCurrentTimestamp();
	while (pg_atomic_read_u32(&shared->throttle))
	{
		if (pgt_backpressure_timeout_ms > 0 &&
			TimestampDifferenceExceeds(start, GetCurrentTimestamp(), pgt_backpressure_timeout_ms))
		{
			ereport(WARNING,
					(errmsg("pg_trickle backpressure: proceeding after waiting %d ms; the engine still lags "
							UINT64_FORMAT " bytes", pgt_backpressure_timeout_ms,
							pg_atomic_read_u64(&shared->lag_bytes))));
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 50,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

static void
executor_start(QueryDesc *queryDesc, int eflags)
{
	/* The whole cost when not throttled: this one load. */
	if (unlikely(pg_atomic_read_u32(&shared->throttle)) &&
		queryDesc->plannedstmt->resultRelations != NIL &&
		!(eflags & EXEC_FLAG_EXPLAIN_ONLY))
	{
		List	   *relids = NIL;
		ListCell   *lc;

		foreach(lc, queryDesc->plannedstmt->resultRelations)
			relids = lappend_oid(relids, rt_fetch(lfirst_int(lc), queryDesc->plannedstmt->rtable)->relid);
		wait_while_throttled(relids);
	}
	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
}

static void
process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				ProcessUtilityContext context, ParamListInfo params,
				QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (unlikely(pg_atomic_read_u32(&shared->throttle)) && IsA(pstmt->utilityStmt, CopyStmt))
	{
		CopyStmt   *copy = (CopyStmt *) pstmt->utilityStmt;

		if (copy->is_from && copy->relation != NULL)
		{
			Oid			relid = RangeVarGetRelid(copy->relation, NoLock, true);

			if (OidIsValid(relid))
				wait_while_throttled(list_make1_oid(relid));
		}
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

#define ENGINE_LSN_FILE "pg_trickle.engine_lsn"

/* The last reported engine LSN, kept across restarts of this server (same timeline only). */
static void
persist_engine_lsn(XLogRecPtr lsn)
{
	FILE	   *f = AllocateFile(ENGINE_LSN_FILE ".tmp", PG_BINARY_W);

	if (f == NULL)
		return;
	fprintf(f, "%u %X/%X\n", GetWALInsertionTimeLine(), LSN_FORMAT_ARGS(lsn));
	if (FreeFile(f) != 0)
		return;
	(void) durable_rename(ENGINE_LSN_FILE ".tmp", ENGINE_LSN_FILE, LOG);
}

static XLogRecPtr
load_engine_lsn(void)
{
	FILE	   *f = AllocateFile(ENGINE_LSN_FILE, PG_BINARY_R);
	unsigned int tli,
				hi,
				lo;
	int			n;

	if (f == NULL)
		return InvalidXLogRecPtr;
	n = fscanf(f, "%u %X/%X", &tli, &hi, &lo);
	FreeFile(f);
	if (n != 3 || tli != GetWALInsertionTimeLine())
		return InvalidXLogRecPtr;
	return ((uint64) hi << 32) | lo;
}

/* The background worker: recomputes the flag every 100 ms. */
void
pgt_backpressure_main(Datum arg)
{
	XLogRecPtr	persisted = InvalidXLogRecPtr;
	TimestampTz persisted_at = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	if (pg_atomic_read_u64(&shared->engine_lsn) == 0)
	{
		persisted = load_engine_lsn();
		pg_atomic_compare_exchange_u64(&shared->engine_lsn, &(uint64){0}, persisted);
	}
	while (!ShutdownRequestPending)
	{
		XLogRecPtr	engine = pg_atomic_read_u64(&shared->engine_lsn);
		XLogRecPtr	insert;
		uint64		lag = 0;

		if (engine != persisted &&
			TimestampDifferenceExceeds(persisted_at, GetCurrentTimestamp(), 1000))
		{
			persist_engine_lsn(engine);
			persisted = engine;
			persisted_at = GetCurrentTimestamp();
		}

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!RecoveryInProgress())
		{
			insert = GetXLogInsertRecPtr();
			lag = (engine != 0 && insert > engine) ? insert - engine : 0;
		}
		pg_atomic_write_u64(&shared->lag_bytes, lag);
		pg_atomic_write_u32(&shared->throttle,
							pgt_backpressure_enabled && engine != 0 &&
							lag > (uint64) pgt_backpressure_max_lag_mb * 1024 * 1024);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	pg_atomic_write_u32(&shared->throttle, 0);
	if (pg_atomic_read_u64(&shared->engine_lsn) != persisted)
		persist_engine_lsn(pg_atomic_read_u64(&shared->engine_lsn));
	proc_exit(0);
}

void
pgt_backpressure_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request = shmem_request_hook;
	shmem_request_hook = shmem_request;
	prev_shmem_startup = shmem_startup_hook;
	shmem_startup_hook = shmem_startup;
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = executor_start;
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = process_utility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "pg_trickle");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "pgt_backpressure_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "pg_trickle backpressure");
	snprintf(worker.bgw_type, BGW_MAXLEN, "pg_trickle backpressure");
	RegisterBackgroundWorker(&worker);
}
