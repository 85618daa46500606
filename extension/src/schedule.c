/*-------------------------------------------------------------------------
 * schedule.c
 *    Schedules (intervals) and SLA tiers of stream tables.
 *
 * pgt_parse_interval() parses like interval_in() but reports failure instead
 * of raising an error, so that the GUC check hook can use it.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "pg_trickle.h"

bool
pgt_parse_interval(const char *str, Interval *result)
{
	struct pg_itm_in itm_in;
	int			dtype;
	int			nf;
	int			dterr;
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	char		workbuf[256];
	char	   *copy;

	memset(&itm_in, 0, sizeof(itm_in));
	if (strlen(str) >= sizeof(workbuf))
		return false;

	dterr = ParseDateTime(str, workbuf, sizeof(workbuf), field, ftype,
						  MAXDATEFIELDS, &nf);
	if (dterr == 0)
		dterr = DecodeInterval(field, ftype, nf, INTERVAL_FULL_RANGE,
							   &dtype, &itm_in);
	if (dterr == DTERR_BAD_FORMAT)
	{
		memset(&itm_in, 0, sizeof(itm_in));
		copy = pstrdup(str);
		dterr = DecodeISO8601Interval(copy, &dtype, &itm_in);
		pfree(copy);
	}
	if (dterr != 0 || dtype != DTK_DELTA)
		return false;
	return itmin2interval(&itm_in, result) == 0;
}

bool
pgt_interval_is_positive(const Interval *iv)
{
	Interval	zero;

	memset(&zero, 0, sizeof(zero));
	return DatumGetBool(DirectFunctionCall2(interval_gt,
											IntervalPGetDatum(iv),
											IntervalPGetDatum(&zero)));
}

/*
 * The schedule of a new stream table: the given one, or
 * pg_trickle.default_schedule when NULL. Must be positive.
 */
Interval *
pgt_resolve_schedule(Interval *given)
{
	Interval   *iv = given;

	if (iv == NULL)
	{
		iv = palloc(sizeof(Interval));
		if (pgt_default_schedule == NULL ||
			!pgt_parse_interval(pgt_default_schedule, iv))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid pg_trickle.default_schedule \"%s\"",
							pgt_default_schedule ? pgt_default_schedule : "")));
	}
	if (!pgt_interval_is_positive(iv))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schedule must be a positive interval, got \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out,
															IntervalPGetDatum(iv))))));
	return iv;
}

void
pgt_check_sla_tier(const char *tier)
{
	if (tier == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sla_tier must not be NULL"),
				 errhint("Valid tiers are critical, standard and batch.")));
	if ((strcmp(tier, "critical") != 0 &&
		 strcmp(tier, "standard") != 0 &&
		 strcmp(tier, "batch") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid sla_tier \"%s\"", tier),
				 errhint("Valid tiers are critical, standard and batch.")));
}
