/*-------------------------------------------------------------------------
 * compile_funcs.c
 *    The allow-list of PostgreSQL functions the engine evaluates.
 *
 * Operators and casts are resolved by the analyzer to a function OID; the
 * compiler looks up that function's internal name (pg_proc.prosrc of a
 * built-in, language internal function) in the table below and maps it to
 * the plan's "fn". A function that is not in the table is rejected, named.
 * Keying on prosrc (not proname) distinguishes overloads: the casts
 * int8(int4) and int8(numeric) are int48 and numeric_int8.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "compiler_internal.h"

#define A(src, fn)	{fn, PGT_FN_ARITH, 2, src}
#define N(src)		{"neg", PGT_FN_ARITH, 1, src}
#define C(src, fn)	{fn, PGT_FN_COMPARE, 2, src}
#define K(src)		{"cast", PGT_FN_CAST, 1, src}
#define TX(src, fn, n)	{fn, PGT_FN_TEXT, n, src}

/* + - * / over one integer pair, e.g. INT_ARITH("int48") */
#define INT_ARITH(p) \
	A(p "pl", "add"), A(p "mi", "sub"), A(p "mul", "mul"), A(p "div", "div")
/* = <> < <= > >= with the int-style names, e.g. int48eq */
#define CMP_PLAIN(p) \
	C(p "eq", "eq"), C(p "ne", "ne"), C(p "lt", "lt"), \
	C(p "le", "le"), C(p "gt", "gt"), C(p "ge", "ge")
/* = <> < <= > >= with underscore names, e.g. numeric_eq */
#define CMP_UNDERSCORE(p) \
	C(p "_eq", "eq"), C(p "_ne", "ne"), C(p "_lt", "lt"), \
	C(p "_le", "le"), C(p "_gt", "gt"), C(p "_ge", "ge")
/* cross-type date/timestamp comparisons, e.g. date_lt_timestamp */
#define CMP_CROSS(l, r) \
	C(l "_eq_" r, "eq"), C(l "_ne_" r, "ne"), C(l "_lt_" r, "lt"), \
	C(l "_le_" r, "le"), C(l "_gt_" r, "gt"), C(l "_ge_" r, "ge")

static const PgtFnInfo pgt_functions[] = {
	/* arithmetic over int2/int4/int8 (same and mixed widths) and numeric */
	INT_ARITH("int2"), INT_ARITH("int4"), INT_ARITH("int8"),
	INT_ARITH("int24"), INT_ARITH("int42"),
	INT_ARITH("int28"), INT_ARITH("int82"),
	INT_ARITH("int48"), INT_ARITH("int84"),
	A("int2mod", "mod"), A("int4mod", "mod"), A("int8mod", "mod"),
	A("numeric_add", "add"), A("numeric_sub", "sub"),
	A("numeric_mul", "mul"), A("numeric_div", "div"),
	A("numeric_mod", "mod"),
	N("int2um"), N("int4um"), N("int8um"), N("numeric_uminus"),
	/* float8 (PostgreSQL's overflow/underflow and division errors, shortest output) */
	A("float8pl", "add"), A("float8mi", "sub"), A("float8mul", "mul"), A("float8div", "div"),
	N("float8um"),

	/* comparisons: integers, numeric, text, bool, date, timestamp */
	CMP_PLAIN("int2"), CMP_PLAIN("int4"), CMP_PLAIN("int8"),
	CMP_PLAIN("int24"), CMP_PLAIN("int42"),
	CMP_PLAIN("int28"), CMP_PLAIN("int82"),
	CMP_PLAIN("int48"), CMP_PLAIN("int84"),
	CMP_UNDERSCORE("numeric"),
	CMP_PLAIN("float8"),
	C("texteq", "eq"), C("textne", "ne"),
	C("text_lt", "lt"), C("text_le", "le"),
	C("text_gt", "gt"), C("text_ge", "ge"),
	C("booleq", "eq"), C("boolne", "ne"), C("boollt", "lt"),
	C("boolle", "le"), C("boolgt", "gt"), C("boolge", "ge"),
	CMP_UNDERSCORE("date"),
	CMP_UNDERSCORE("timestamp"),
	CMP_CROSS("date", "timestamp"),
	CMP_CROSS("timestamp", "date"),

	/* casts between int2/int4/int8/numeric, date → timestamp */
	K("i2toi4"), K("i4toi2"), K("int28"), K("int82"), K("int48"), K("int84"),
	K("int2_numeric"), K("int4_numeric"), K("int8_numeric"),
	K("numeric_int2"), K("numeric_int4"), K("numeric_int8"),
	K("date_timestamp"),
	K("i2tod"), K("i4tod"), K("i8tod"), K("dtoi2"), K("dtoi4"), K("dtoi8"),
	K("numeric_float8"), K("float8_numeric"),

	/* text functions (UTF8 database; lower/upper/ILIKE under ctype C) and LIKE */
	TX("textlen", "length", 1), TX("text_substr", "substr", 3),
	TX("text_substr_no_len", "substr", 2), TX("textcat", "concat", 2),
	TX("lower", "lower", 1), TX("upper", "upper", 1),
	TX("btrim1", "btrim", 1), TX("ltrim1", "ltrim", 1), TX("rtrim1", "rtrim", 1),
	TX("textlike", "like", 2), TX("textnlike", "not_like", 2),
	TX("texticlike", "ilike", 2), TX("texticnlike", "not_ilike", 2),

	/* date/time: EXTRACT from date/timestamp, date_trunc on timestamp, date ± integer */
	TX("extract_date", "extract", 2), TX("extract_timestamp", "extract", 2),
	TX("timestamp_trunc", "date_trunc", 2),
	TX("date_pli", "date_add_days", 2), TX("date_mii", "date_sub_days", 2),
	/* timestamp|date ± a constant interval (compile_expr.c: write_interval_add) */
	TX("timestamp_pl_interval", "timestamp_add_interval", 2),
	TX("timestamp_mi_interval", "timestamp_add_interval", 2),
	TX("date_pl_interval", "timestamp_add_interval", 2),
	TX("date_mi_interval", "timestamp_add_interval", 2),
	/* timestamptz: only under a session TimeZone that is UTC (compile_expr.c) */
	TX("extract_timestamptz", "extract", 2), TX("timestamptz_trunc", "date_trunc", 2),
	TX("timestamptz_pl_interval", "timestamp_add_interval", 2),
	TX("timestamptz_mi_interval", "timestamp_add_interval", 2),
};

/*
 * The allow-list entry of a function, or NULL. Only built-in functions in
 * language internal qualify (a user function cannot borrow a name).
 */
const PgtFnInfo *
pgt_lookup_function(Oid funcoid)
{
	HeapTuple	tup;
	Form_pg_proc proc;
	Datum		srcdatum;
	bool		isnull;
	char	   *prosrc;
	const PgtFnInfo *found = NULL;

	if (funcoid >= FirstGenbkiObjectId)
		return NULL;

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", funcoid);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prolang != INTERNALlanguageId)
	{
		ReleaseSysCache(tup);
		return NULL;
	}
	srcdatum = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
	if (isnull)
	{
		ReleaseSysCache(tup);
		return NULL;
	}
	prosrc = TextDatumGetCString(srcdatum);
	ReleaseSysCache(tup);

	for (size_t i = 0; i < lengthof(pgt_functions); i++)
	{
		if (strcmp(pgt_functions[i].prosrc, prosrc) == 0)
		{
			found = &pgt_functions[i];
			break;
		}
	}
	pfree(prosrc);
	return found;
}
