/*-------------------------------------------------------------------------
 * compile_types.c
 *    Supported types and collations; the rejection helper.
 *
 * Supported value types (the engine evaluates these with PostgreSQL
 * semantics): bool, int2, int4, int8, numeric, float8, text, varchar,
 * date, timestamp. Text ordering is byte order: comparisons other than = / <>
 * (and MIN/MAX over text) need collation "C" (or POSIX, or a database whose
 * default collation is C); = / <> and GROUP BY need a deterministic one.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"

#include "compiler_internal.h"

void
pgt_reject(const char *category, const char *fmt,...)
{
	StringInfoData what;

	initStringInfo(&what);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&what, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&what, needed);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s not supported in stream tables: %s", category, what.data)));
	pg_unreachable();
}

bool
pgt_type_supported(Oid typoid)
{
	switch (typoid)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
		case FLOAT8OID:
		case TEXTOID:
		case VARCHAROID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return true;
		default:
			return false;
	}
}

bool
pgt_type_is_text(Oid typoid)
{
	return typoid == TEXTOID || typoid == VARCHAROID;
}

/* The database's LC_COLLATE (pg_database.datcollate). */
static char *
database_collate(void)
{
	HeapTuple	tup;
	Datum		datum;
	bool		isnull;
	char	   *result = "?";

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
	if (HeapTupleIsValid(tup))
	{
		datum = SysCacheGetAttr(DATABASEOID, tup, Anum_pg_database_datcollate, &isnull);
		if (!isnull)
			result = TextDatumGetCString(datum);
		ReleaseSysCache(tup);
	}
	return result;
}

static char *
collation_display_name(Oid collid)
{
	char	   *name;

	if (collid == DEFAULT_COLLATION_OID)
		return psprintf("default (LC_COLLATE %s)", database_collate());
	name = get_collation_name(collid);
	return psprintf("\"%s\"", name ? name : psprintf("%u", collid));
}

/*
 * Ordering of text (<, <=, >, >=, MIN, MAX): byte order only, i.e. the "C"
 * collation or a database default collation that is C.
 */
void
pgt_check_ordering_collation(Oid collid, const char *what)
{
	if (!OidIsValid(collid))
		return;					/* not a collatable comparison */
	if (lc_collate_is_c(collid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("collation not supported in stream tables: %s uses collation %s",
					what, collation_display_name(collid)),
			 errdetail("Text ordering in stream tables is byte order (collation \"C\")."),
			 errhint("Add COLLATE \"C\" to the comparison, or use a database whose default collation is C.")));
}

/* Equality of text (=, <>, GROUP BY): any deterministic collation. */
void
pgt_check_equality_collation(Oid collid, const char *what)
{
	if (!OidIsValid(collid) || collid == DEFAULT_COLLATION_OID ||
		lc_collate_is_c(collid))
		return;
	if (get_collation_isdeterministic(collid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("collation not supported in stream tables: %s uses nondeterministic collation %s",
					what, collation_display_name(collid)),
			 errhint("Add COLLATE \"C\" to the expression.")));
}
