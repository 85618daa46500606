/*-------------------------------------------------------------------------
 * pg_trickle.h
 *    Shared declarations of the pg_trickle extension (primary side).
 *
 * The extension owns the catalog (schema pgtrickle), the SQL API and the
 * query compiler front end. It does no refresh work: the standby-side engine
 * bootstraps and merges stream tables. Invariants kept by every file here:
 *   - no triggers are ever created on source tables;
 *   - the REPLICA IDENTITY of source tables is never changed;
 *   - stream tables are never populated by the extension.
 *-------------------------------------------------------------------------
 */
#ifndef PG_TRICKLE_H
#define PG_TRICKLE_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* Schema of the catalog and of the API functions. */
#define PGT_SCHEMA "pgtrickle"
/* Channel notified whenever stream tables are created or dropped. */
#define PGT_NOTIFY_CHANNEL "pgtrickle_catalog"
/* Hidden identity column of every storage table. */
#define PGT_ROW_ID_COLUMN "__pgt_row_id"

/* guc.c */
typedef enum PgtLogFormat
{
	PGT_LOG_FORMAT_TEXT,
	PGT_LOG_FORMAT_JSON
} PgtLogFormat;

extern bool pgt_enabled;
extern int	pgt_max_parallel_workers;
extern bool pgt_backpressure_enabled;
extern int	pgt_backpressure_max_lag_mb;
extern char *pgt_default_schedule;
extern int	pgt_log_format;

extern void pgt_define_gucs(void);

/* schedule.c */
extern bool pgt_parse_interval(const char *str, Interval *result);
extern bool pgt_interval_is_positive(const Interval *iv);
extern Interval *pgt_resolve_schedule(Interval *given);
extern void pgt_check_sla_tier(const char *tier);

#endif							/* PG_TRICKLE_H */
