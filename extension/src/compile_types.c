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

#include <gnu/libc-version.h>

#include "catalog/pg_collation.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
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
 * glibc's C.UTF-8 locale (glibc 2.35 and later: this server process's
 * gnu_get_libc_version(); PostgreSQL records no collversion for C.* locales)
 * collates by code point, and PostgreSQL breaks strcoll ties with strcmp: for
 * valid UTF-8 (a UTF8 database) that is exactly byte order, which the engine
 * reproduces.
 */
static bool
libc_codepoint_collation(char provider, const char *collate)
{
	const char *version = gnu_get_libc_version();
	int			major = 0,
				minor = 0;

	if (provider != COLLPROVIDER_LIBC || collate == NULL || GetDatabaseEncoding() != PG_UTF8)
		return false;
	if (pg_strcasecmp(collate, "C.UTF-8") != 0 && pg_strcasecmp(collate, "C.utf8") != 0)
		return false;
	if (sscanf(version, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 2 || (major == 2 && minor >= 35);
}

static bool
collation_is_codepoint(Oid collid)
{
	HeapTuple	tup;
	bool		isnull;
	Datum		d;
	char	   *collate = NULL;
	char		provider;

	if (collid == DEFAULT_COLLATION_OID)
	{
		tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(MyDatabaseId));
		if (!HeapTupleIsValid(tup))
			return false;
		provider = ((Form_pg_database) GETSTRUCT(tup))->datlocprovider;
		d = SysCacheGetAttr(DATABASEOID, tup, Anum_pg_database_datcollate, &isnull);
		collate = isnull ? NULL : TextDatumGetCString(d);
	}
	else
	{
		tup = SearchSysCache1(COLLOID, ObjectIdGetDatum(collid));
		if (!HeapTupleIsValid(tup))
			return false;
		provider = ((Form_pg_collation) GETSTRUCT(tup))->collprovider;
		d = SysCacheGetAttr(COLLOID, tup, Anum_pg_collation_collcollate, &isnull);
		collate = isnull ? NULL : TextDatumGetCString(d);
	}
	ReleaseSysCache(tup);
	return libc_codepoint_collation(provider, collate);
}

/*
 * Ordering of text (<, <=, >, >=, MIN, MAX): byte order only, i.e. the "C"
 * collation, a database default collation that is C, or glibc's C.UTF-8
 * (code point order, see above). Other collations would need the server's
 * exact collation library, locale data and version in the engine: rejected.
 */
void
pgt_check_ordering_collation(Oid collid, const char *what)
{
	if (!OidIsValid(collid))
		return;					/* not a collatable comparison */
	if (lc_collate_is_c(collid) || collation_is_codepoint(collid))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("collation not supported in stream tables: %s uses collation %s",
					what, collation_display_name(collid)),
			 errdetail("Text ordering in stream tables is byte order (collation \"C\", or glibc 2.35+ \"C.utf8\"); "
					   "other collations are not reproduced by the engine."),
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
