/*-------------------------------------------------------------------------
 * compile_expr.c
 *    Expressions → plan expression JSON, one function per node type.
 *
 * Accepted nodes: Var (column of the FROM row), Const, OpExpr and FuncExpr
 * in the allow-list (compile_funcs.c), BoolExpr (AND/OR/NOT), NullTest,
 * CASE, COALESCE, NULLIF, GREATEST/LEAST, IN lists (as OR of =, NOT IN as
 * AND of <>),
 * RelabelType between text and varchar, CollateExpr (transparent: the
 * collation is checked where it matters, at comparisons), and, over the
 * output of an aggregate, group keys and Aggrefs. Every other node is
 * rejected naming the construct.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "mb/pg_wchar.h"
#include "catalog/pg_collation.h"
#include "utils/formatting.h"
#include "utils/pg_locale.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "pgtime.h"
#include "utils/timestamp.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "compiler_internal.h"

static const char *
node_construct_name(Node *node)
{
	switch (nodeTag(node))
	{
		case T_SubLink:
			return "subqueries in expressions (IN only in WHERE under AND/OR, NOT IN and <> ALL only ANDed into WHERE, EXISTS and aggregate scalar subqueries not in GROUP BY queries)";
		case T_WindowFunc:
			return "window functions";
		case T_CaseExpr:
			return "CASE expressions";
		case T_CoalesceExpr:
			return "COALESCE";
		case T_MinMaxExpr:
			return "GREATEST/LEAST";
		case T_NullIfExpr:
			return "NULLIF";
		case T_ScalarArrayOpExpr:
			return "IN lists and ANY/ALL";
		case T_DistinctExpr:
			return "IS DISTINCT FROM";
		case T_BooleanTest:
			return "IS [NOT] TRUE/FALSE/UNKNOWN";
		case T_ArrayExpr:
			return "ARRAY constructors";
		case T_RowExpr:
			return "ROW constructors";
		case T_RowCompareExpr:
			return "row comparisons";
		case T_ArrayCoerceExpr:
			return "array casts";
		case T_SQLValueFunction:
			return "SQL value functions (CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, ...)";
		case T_Param:
			return "parameters";
		case T_FieldSelect:
		case T_FieldStore:
			return "composite field access";
		case T_SubscriptingRef:
			return "subscripts";
		case T_XmlExpr:
			return "XML expressions";
		case T_GroupingFunc:
			return "GROUPING()";
		case T_NextValueExpr:
			return "sequence values";
		case T_CoerceToDomain:
			return "domains";
		case T_ConvertRowtypeExpr:
			return "row type conversions";
		case T_CurrentOfExpr:
			return "CURRENT OF";
		default:
			return psprintf("expression node type %d", (int) nodeTag(node));
	}
}

static void
write_typoid(JsonWriter *w, Oid typoid)
{
	jw_kv_int(w, "typoid", typoid);
}

/* Rejects a function or operator that is not in the allow-list. */
static void
reject_function(Oid funcid, Oid opno)
{
	char	   *fname = format_procedure(funcid);

	if (func_volatile(funcid) == PROVOLATILE_VOLATILE)
		pgt_reject("volatile function", "%s", fname);
	if (OidIsValid(opno))
		pgt_reject("operator", "%s (function %s)",
				   format_operator(opno), fname);
	pgt_reject("function", "%s", fname);
}

/* Name of column attno of range table entry rte, for messages. */
static char *
rte_column_name(RangeTblEntry *rte, AttrNumber attno)
{
	if (rte->rtekind == RTE_RELATION)
		return get_attname(rte->relid, attno, false);
	if (rte->eref && attno > 0 && attno <= list_length(rte->eref->colnames))
		return strVal(list_nth(rte->eref->colnames, attno - 1));
	return psprintf("%d", attno);
}

static void
compile_var(PgtCompileCtx *ctx, Var *var, PgtExprMode mode)
{
	RangeTblEntry *rte;
	char	   *colname;
	int			col;
	PgtCompileCtx *owner = ctx;

	/*
	 * An EXISTS subquery's reference to its outer query: a column of the
	 * outer FROM row, which comes first in the semi join's combined row.
	 */
	if (var->varlevelsup == 1 && ctx->outer != NULL)
		owner = ctx->outer;
	else if (var->varlevelsup != 0)
		pgt_reject("query construct", "outer references (correlated subqueries outside [NOT] EXISTS conditions)");
	rte = rt_fetch(var->varno, owner->query->rtable);
	if (var->varattno == 0)
		pgt_reject("query construct", "whole-row references (\"%s\")",
				   rte->eref ? rte->eref->aliasname : "?");
	if (var->varattno < 0)
		pgt_reject("query construct", "system column \"%s\"",
				   get_attname(rte->relid, var->varattno, false));
	colname = rte_column_name(rte, var->varattno);
	if (mode == PGT_EXPR_AGG_OUTPUT)
		pgt_reject("query construct",
				   "column \"%s\" outside GROUP BY and aggregates (functional dependency on the key)",
				   colname);
	if (!pgt_type_supported(var->vartype))
		pgt_reject("type", "column \"%s\" of %s has type %s",
				   colname, rte->rtekind == RTE_RELATION
				   ? quote_qualified_identifier(get_namespace_name(get_rel_namespace(rte->relid)),
												get_rel_name(rte->relid))
				   : (rte->eref ? rte->eref->aliasname : "?"),
				   format_type_with_typemod(var->vartype, var->vartypmod));
	if (rte->rtekind == RTE_JOIN)
		elog(ERROR, "join alias variable not flattened");
	col = owner == ctx ? ctx->rt_offset[var->varno] + var->varattno - 1 - ctx->base
		: owner->rt_offset[var->varno] + var->varattno - 1;

	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "col");
	jw_kv_int(ctx->w, "col", col);
	write_typoid(ctx->w, var->vartype);
	jw_end_object(ctx->w);
}

/* Value as the type's output function prints it (DateStyle ISO, see compile_query.c). */
static void
compile_const(PgtCompileCtx *ctx, Const *c)
{
	if (!pgt_type_supported(c->consttype))
		pgt_reject("type", "constant of type %s",
				   format_type_be(c->consttype));

	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "const");
	write_typoid(ctx->w, c->consttype);
	if (c->constisnull)
		jw_kv_bool(ctx->w, "null", true);
	else
	{
		Oid			outfunc;
		bool		isvarlena;

		getTypeOutputInfo(c->consttype, &outfunc, &isvarlena);
		if (c->consttype == TIMESTAMPTZOID && !TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(c->constvalue)))
		{
			/* the instant in UTC, whatever the session's TimeZone */
			jw_kv_string(ctx->w, "value",
						 psprintf("%s+00", OidOutputFunctionCall(F_TIMESTAMP_OUT, c->constvalue)));
		}
		else
			jw_kv_string(ctx->w, "value",
						 OidOutputFunctionCall(outfunc, c->constvalue));
	}
	jw_end_object(ctx->w);
}

/*
 * EXTRACT(field FROM x) / date_trunc(unit, x): the field must be a constant the
 * engine implements for x's type (lowercased, as PostgreSQL does).
 */
static List *
datetime_field_args(Oid funcid, const char *fn, List *args)
{
	Node	   *f = linitial(args);
	Oid			t = exprType(lsecond(args));
	char	   *field;
	static const char *const date_fields[] = {"year", "month", "day", "quarter", "dow", "isodow", "doy", NULL};
	static const char *const time_fields[] = {"hour", "minute", "second", NULL};
	static const char *const units[] = {"year", "quarter", "month", "week", "day", "hour", "minute", "second", NULL};
	bool		ok = false;

	while (IsA(f, RelabelType))
		f = (Node *) ((RelabelType *) f)->arg;
	if (!IsA(f, Const) || ((Const *) f)->constisnull || !pgt_type_is_text(((Const *) f)->consttype))
		pgt_reject("function", "%s with a field that is not a constant", format_procedure(funcid));
	field = asc_tolower(TextDatumGetCString(((Const *) f)->constvalue),
						strlen(TextDatumGetCString(((Const *) f)->constvalue)));
	if (strcmp(fn, "date_trunc") == 0)
	{
		for (int i = 0; units[i]; i++)
			ok |= strcmp(field, units[i]) == 0;
	}
	else
	{
		for (int i = 0; date_fields[i]; i++)
			ok |= strcmp(field, date_fields[i]) == 0;
		for (int i = 0; time_fields[i] && (t == TIMESTAMPOID || t == TIMESTAMPTZOID); i++)
			ok |= strcmp(field, time_fields[i]) == 0;
	}
	if (!ok)
		pgt_reject("function", "%s with field \"%s\"", format_procedure(funcid), field);
	return list_make2(makeConst(TEXTOID, -1, DEFAULT_COLLATION_OID, -1,
								CStringGetTextDatum(field), false, false),
					  lsecond(args));
}

/* Closes a call node opened with its "args" array: result type and the PostgreSQL function. */
static void
end_call(PgtCompileCtx *ctx, const PgtFnInfo *info, Oid resulttype, Oid funcid)
{
	jw_end_array(ctx->w);
	write_typoid(ctx->w, resulttype);
	jw_kv_string(ctx->w, "pg_fn", info->prosrc);
	jw_kv_int(ctx->w, "pg_oid", funcid);
	jw_end_object(ctx->w);
}

static bool
is_ilike(const PgtFnInfo *info)
{
	return strcmp(info->fn, "ilike") == 0 || strcmp(info->fn, "not_ilike") == 0;
}

/*
 * s [NOT] ILIKE p. PostgreSQL (texticlike in a UTF8 database) lowercases both with lower()
 * under the expression's collation and matches as LIKE does; under an LC_CTYPE C collation
 * (checked by the caller) lower() maps ASCII letters only, which the engine's "lower" does:
 * so the plan holds like(lower(s), lower(p)) — exactly the server's result.
 */
static void
write_ilike(PgtCompileCtx *ctx, const PgtFnInfo *info, List *args, Oid resulttype, Oid funcid,
			PgtExprMode mode)
{
	ListCell   *lc;

	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "func");
	jw_kv_string(ctx->w, "fn", strcmp(info->fn, "ilike") == 0 ? "like" : "not_like");
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	foreach(lc, args)
	{
		jw_begin_object(ctx->w);
		jw_kv_string(ctx->w, "kind", "func");
		jw_kv_string(ctx->w, "fn", "lower");
		jw_key(ctx->w, "args");
		jw_begin_array(ctx->w);
		pgt_compile_expr(ctx, lfirst(lc), mode);
		jw_end_array(ctx->w);
		write_typoid(ctx->w, TEXTOID);
		jw_kv_string(ctx->w, "pg_fn", "lower");
		jw_kv_int(ctx->w, "pg_oid", F_LOWER_TEXT);
		jw_end_object(ctx->w);
	}
	end_call(ctx, info, resulttype, funcid);
}

/*
 * A function of timestamptz that depends on the session TimeZone (EXTRACT, date_trunc,
 * ± interval): the engine evaluates it in UTC, which is exactly the server's result only when
 * the TimeZone in effect (at create, and at every re-plan) has the fixed offset 0.
 */
static void
check_timezone_free(Oid funcid, List *args)
{
	ListCell   *lc;
	long		gmtoff;

	foreach(lc, args)
	{
		if (exprType(lfirst(lc)) != TIMESTAMPTZOID)
			continue;
		if (!pg_get_timezone_offset(session_timezone, &gmtoff) || gmtoff != 0)
			pgt_reject("setting", "%s under TimeZone \"%s\" (time zone-dependent functions of timestamptz are "
					   "maintained only when TimeZone is UTC)",
					   format_procedure(funcid), pg_get_timezone_name(session_timezone));
		return;
	}
}

static void
write_int_const(JsonWriter *w, Oid typoid, int64 v)
{
	jw_begin_object(w);
	jw_kv_string(w, "kind", "const");
	jw_kv_int(w, "typoid", typoid);
	jw_kv_string(w, "value", psprintf(INT64_FORMAT, v));
	jw_end_object(w);
}

/*
 * timestamp|date ± interval with a constant interval: the engine has no interval type, so the
 * plan carries the interval's fields as integer arguments (months, days, microseconds; negated
 * for "-"), evaluated as PostgreSQL 15's timestamp_pl_interval.
 */
static void
write_interval_add(PgtCompileCtx *ctx, const PgtFnInfo *info, List *args, Oid funcid, Oid resulttype,
				   PgtExprMode mode)
{
	Node	   *span = lsecond(args);
	Interval   *iv;
	bool		minus = strstr(info->prosrc, "_mi_") != NULL;

	if (!IsA(span, Const) || exprType(span) != INTERVALOID)
		pgt_reject("expression", "%s with an interval that is not a constant (interval values are not maintained)",
				   format_procedure(funcid));
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "func");
	jw_kv_string(ctx->w, "fn", info->fn);
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	pgt_compile_expr(ctx, linitial(args), mode);
	if (((Const *) span)->constisnull)
	{
		for (int i = 0; i < 3; i++)
		{
			jw_begin_object(ctx->w);
			jw_kv_string(ctx->w, "kind", "const");
			jw_kv_int(ctx->w, "typoid", i < 2 ? INT4OID : INT8OID);
			jw_kv_bool(ctx->w, "null", true);
			jw_end_object(ctx->w);
		}
	}
	else
	{
		iv = DatumGetIntervalP(((Const *) span)->constvalue);
		if (minus && (iv->month == PG_INT32_MIN || iv->day == PG_INT32_MIN || iv->time == PG_INT64_MIN))
			pgt_reject("expression", "%s with an interval field at its minimum", format_procedure(funcid));
		write_int_const(ctx->w, INT4OID, minus ? -(int64) iv->month : iv->month);
		write_int_const(ctx->w, INT4OID, minus ? -(int64) iv->day : iv->day);
		write_int_const(ctx->w, INT8OID, minus ? -iv->time : iv->time);
	}
	end_call(ctx, info, resulttype, funcid);
}

/* Shared by OpExpr and FuncExpr: {"kind": "op", "fn", "args", ...} */
static void
compile_call(PgtCompileCtx *ctx, PgtExprMode mode, Oid funcid, Oid opno,
			 List *args, Oid resulttype, Oid inputcollid)
{
	const PgtFnInfo *info = pgt_lookup_function(funcid);
	ListCell   *lc;

	if (info == NULL || info->nargs != list_length(args))
		reject_function(funcid, opno);
	if (info->cls == PGT_FN_TEXT)
		check_timezone_free(funcid, args);
	if (strcmp(info->fn, "timestamp_add_interval") == 0)
	{
		write_interval_add(ctx, info, args, funcid, resulttype, mode);
		return;
	}
	if (!pgt_type_supported(resulttype))
		pgt_reject("type", "result of %s is %s",
				   format_procedure(funcid), format_type_be(resulttype));
	foreach(lc, args)
	{
		Oid			argtype = exprType(lfirst(lc));

		/* e.g. timestamptz shares prosrc timestamp_eq with timestamp */
		if (!pgt_type_supported(argtype))
			pgt_reject("type", "argument of %s is %s",
					   format_procedure(funcid), format_type_be(argtype));
	}

	if (info->cls == PGT_FN_TEXT &&
		(strcmp(info->fn, "extract") == 0 || strcmp(info->fn, "date_trunc") == 0))
		args = datetime_field_args(funcid, info->fn, args);
	else if (info->cls == PGT_FN_TEXT)
	{
		if (GetDatabaseEncoding() != PG_UTF8)
			pgt_reject("function", "%s (text functions need a UTF8 database)", format_procedure(funcid));
		if (strcmp(info->fn, "lower") == 0 || strcmp(info->fn, "upper") == 0 || is_ilike(info))
		{
			if (!lc_ctype_is_c(inputcollid))
				pgt_reject("collation", "%s under a collation whose LC_CTYPE is not C (case mapping)",
						   format_procedure(funcid));
		}
		else if (strcmp(info->fn, "like") == 0 || strcmp(info->fn, "not_like") == 0)
			pgt_check_equality_collation(inputcollid, "LIKE");
	}

	if (info->cls == PGT_FN_COMPARE && pgt_type_is_text(exprType(linitial(args))))
	{
		char	   *what = OidIsValid(opno)
			? psprintf("comparison %s", format_operator(opno))
			: psprintf("comparison %s", format_procedure(funcid));

		if (strcmp(info->fn, "eq") == 0 || strcmp(info->fn, "ne") == 0)
			pgt_check_equality_collation(inputcollid, what);
		else
			pgt_check_ordering_collation(inputcollid, what);
	}

	if (is_ilike(info))
	{
		write_ilike(ctx, info, args, resulttype, funcid, mode);
		return;
	}
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", info->cls == PGT_FN_TEXT ? "func" : "op");
	jw_kv_string(ctx->w, "fn", info->fn);
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	foreach(lc, args)
		pgt_compile_expr(ctx, lfirst(lc), mode);
	end_call(ctx, info, resulttype, funcid);
}

static void
compile_opexpr(PgtCompileCtx *ctx, OpExpr *op, PgtExprMode mode)
{
	set_opfuncid(op);
	compile_call(ctx, mode, op->opfuncid, op->opno, op->args,
				 op->opresulttype, op->inputcollid);
}

static void
compile_funcexpr(PgtCompileCtx *ctx, FuncExpr *fe, PgtExprMode mode)
{
	if (fe->funcretset)
		pgt_reject("query construct", "set-returning function %s",
				   format_procedure(fe->funcid));
	if (fe->funcvariadic)
		pgt_reject("function", "%s (VARIADIC)", format_procedure(fe->funcid));
	compile_call(ctx, mode, fe->funcid, InvalidOid, fe->args,
				 fe->funcresulttype, fe->inputcollid);
}

static void
compile_boolexpr(PgtCompileCtx *ctx, BoolExpr *be, PgtExprMode mode)
{
	const char *fn;
	ListCell   *lc;

	switch (be->boolop)
	{
		case AND_EXPR:
			fn = "and";
			break;
		case OR_EXPR:
			fn = "or";
			break;
		case NOT_EXPR:
			fn = "not";
			break;
		default:
			elog(ERROR, "unrecognized boolop %d", (int) be->boolop);
	}
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "bool");
	jw_kv_string(ctx->w, "fn", fn);
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	foreach(lc, be->args)
		pgt_compile_expr(ctx, lfirst(lc), mode);
	jw_end_array(ctx->w);
	write_typoid(ctx->w, BOOLOID);
	jw_end_object(ctx->w);
}

static void
compile_nulltest(PgtCompileCtx *ctx, NullTest *nt, PgtExprMode mode)
{
	if (nt->argisrow)
		pgt_reject("query construct", "IS [NOT] NULL on a row value");
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "nulltest");
	jw_kv_bool(ctx->w, "negated", nt->nulltesttype == IS_NOT_NULL);
	jw_key(ctx->w, "arg");
	pgt_compile_expr(ctx, (Node *) nt->arg, mode);
	write_typoid(ctx->w, BOOLOID);
	jw_end_object(ctx->w);
}

/*
 * Binary-compatible coercion. Same type (collation relabel): transparent.
 * text ↔ varchar: a "cast" op with pg_fn "relabel" and pg_oid 0.
 */
static void
compile_relabel(PgtCompileCtx *ctx, RelabelType *rt, PgtExprMode mode)
{
	Oid			from = exprType((Node *) rt->arg);

	if (from == rt->resulttype)
	{
		pgt_compile_expr(ctx, (Node *) rt->arg, mode);
		return;
	}
	if (!pgt_type_is_text(from) || !pgt_type_is_text(rt->resulttype))
		pgt_reject("cast", "%s to %s",
				   format_type_be(from), format_type_be(rt->resulttype));

	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "op");
	jw_kv_string(ctx->w, "fn", "cast");
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	pgt_compile_expr(ctx, (Node *) rt->arg, mode);
	jw_end_array(ctx->w);
	write_typoid(ctx->w, rt->resulttype);
	jw_kv_string(ctx->w, "pg_fn", "relabel");
	jw_kv_int(ctx->w, "pg_oid", 0);
	jw_end_object(ctx->w);
}

/* Over the aggregate's output: a column. */
static void
write_agg_output_col(PgtCompileCtx *ctx, int col, Oid typoid)
{
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "col");
	jw_kv_int(ctx->w, "col", col);
	write_typoid(ctx->w, typoid);
	jw_end_object(ctx->w);
}

/* AGG_OUTPUT mode: a group key or an aggregate → its column; else -1. */
static int
agg_output_column(PgtCompileCtx *ctx, Node *node)
{
	int			i = 0;
	ListCell   *lc;

	foreach(lc, ctx->group_exprs)
	{
		if (equal(node, lfirst(lc)))
			return i;
		i++;
	}
	if (IsA(node, Aggref))
	{
		foreach(lc, ctx->aggrefs)
		{
			if (equal(node, lfirst(lc)))
				return i;
			i++;
		}
		elog(ERROR, "aggregate not collected");
	}
	return -1;
}

/* {"kind": kind, "args": [...], "typoid"} */
static void
write_variadic(PgtCompileCtx *ctx, const char *kind, List *args, Oid typoid, PgtExprMode mode)
{
	ListCell   *lc;

	if (!pgt_type_supported(typoid))
		pgt_reject("type", "result of %s is %s", kind, format_type_be(typoid));
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", kind);
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	foreach(lc, args)
		pgt_compile_expr(ctx, lfirst(lc), mode);
	jw_end_array(ctx->w);
	write_typoid(ctx->w, typoid);
	jw_end_object(ctx->w);
}

/* GREATEST/LEAST order their arguments: text needs byte order (collation "C"). */
static void
compile_minmax(PgtCompileCtx *ctx, MinMaxExpr *mm, PgtExprMode mode)
{
	const char *kind = mm->op == IS_GREATEST ? "greatest" : "least";

	if (pgt_type_is_text(mm->minmaxtype))
		pgt_check_ordering_collation(mm->inputcollid, mm->op == IS_GREATEST ? "GREATEST" : "LEAST");
	write_variadic(ctx, kind, mm->args, mm->minmaxtype, mode);
}

/* NULLIF(a, b): its operator must be an allowed equality. */
static void
compile_nullif(PgtCompileCtx *ctx, NullIfExpr *ni, PgtExprMode mode)
{
	const PgtFnInfo *info;

	set_opfuncid((OpExpr *) ni);
	info = pgt_lookup_function(ni->opfuncid);
	if (info == NULL || strcmp(info->fn, "eq") != 0)
		reject_function(ni->opfuncid, ni->opno);
	if (pgt_type_is_text(exprType(linitial(ni->args))))
		pgt_check_equality_collation(ni->inputcollid, "NULLIF");
	write_variadic(ctx, "nullif", ni->args, ni->opresulttype, mode);
}

/*
 * CASE: {"kind": "case", "whens": [{"cond", "then"}...], "else"}. A simple
 * CASE x WHEN v … compares through the analyzer's CaseTestExpr, compiled as x.
 */
static void
compile_case(PgtCompileCtx *ctx, CaseExpr *ce, PgtExprMode mode)
{
	Node	   *save = ctx->case_test;
	ListCell   *lc;

	if (!pgt_type_supported(ce->casetype))
		pgt_reject("type", "result of CASE is %s", format_type_be(ce->casetype));
	ctx->case_test = (Node *) ce->arg;
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "case");
	jw_key(ctx->w, "whens");
	jw_begin_array(ctx->w);
	foreach(lc, ce->args)
	{
		CaseWhen   *cw = lfirst_node(CaseWhen, lc);

		jw_begin_object(ctx->w);
		jw_key(ctx->w, "cond");
		pgt_compile_expr(ctx, (Node *) cw->expr, mode);
		jw_key(ctx->w, "then");
		ctx->case_test = NULL;	/* THEN may hold another CASE */
		pgt_compile_expr(ctx, (Node *) cw->result, mode);
		ctx->case_test = (Node *) ce->arg;
		jw_end_object(ctx->w);
	}
	jw_end_array(ctx->w);
	ctx->case_test = save;
	jw_key(ctx->w, "else");
	if (ce->defresult)
		pgt_compile_expr(ctx, (Node *) ce->defresult, mode);
	else
		jw_null(ctx->w);
	write_typoid(ctx->w, ce->casetype);
	jw_end_object(ctx->w);
}

/*
 * x IN (a, b, …) / x = ANY (ARRAY[…]) → x = a OR x = b …; x NOT IN (…) /
 * x <> ALL (…) → x <> a AND x <> b …: the same three-valued result, NULLs
 * included. Only lists (ARRAY[...] or an array constant).
 */
static void
compile_saop(PgtCompileCtx *ctx, ScalarArrayOpExpr *sa, PgtExprMode mode)
{
	Node	   *x = linitial(sa->args);
	Node	   *arr = lsecond(sa->args);
	List	   *elems = NIL;
	ListCell   *lc;

	if (IsA(arr, ArrayExpr) && !((ArrayExpr *) arr)->multidims)
		elems = ((ArrayExpr *) arr)->elements;
	else if (IsA(arr, Const) && !((Const *) arr)->constisnull)
	{
		Const	   *c = (Const *) arr;
		ArrayType  *a = DatumGetArrayTypeP(c->constvalue);
		Oid			et = ARR_ELEMTYPE(a);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *values;
		bool	   *nulls;
		int			n;

		if (ARR_NDIM(a) > 1)
			pgt_reject("expression", "multi-dimensional arrays in IN / ANY / ALL");
		get_typlenbyvalalign(et, &typlen, &typbyval, &typalign);
		deconstruct_array(a, et, typlen, typbyval, typalign, &values, &nulls, &n);
		for (int i = 0; i < n; i++)
			elems = lappend(elems, makeConst(et, -1, c->constcollid, typlen, values[i], nulls[i], typbyval));
	}
	else
		pgt_reject("expression", "ANY/ALL over an array expression (only IN lists)");
	if (elems == NIL)
		pgt_reject("expression", "empty IN list");
	set_sa_opfuncid(sa);
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "bool");
	jw_kv_string(ctx->w, "fn", sa->useOr ? "or" : "and");
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	foreach(lc, elems)
		compile_call(ctx, mode, sa->opfuncid, sa->opno, list_make2(x, lfirst(lc)),
					 BOOLOID, sa->inputcollid);
	jw_end_array(ctx->w);
	write_typoid(ctx->w, BOOLOID);
	jw_end_object(ctx->w);
}

void
pgt_compile_expr(PgtCompileCtx *ctx, Node *node, PgtExprMode mode)
{
	check_stack_depth();
	if (node == NULL)
		elog(ERROR, "unexpected NULL expression");

	if (mode == PGT_EXPR_AGG_OUTPUT)
	{
		int			col = agg_output_column(ctx, node);

		if (col >= 0)
		{
			write_agg_output_col(ctx, col, exprType(node));
			return;
		}
	}

	if (IsA(node, SubLink) && mode == PGT_EXPR_SCAN && pgt_write_scalar_ref(ctx, (SubLink *) node))
		return;

	switch (nodeTag(node))
	{
		case T_Var:
			compile_var(ctx, (Var *) node, mode);
			break;
		case T_Const:
			compile_const(ctx, (Const *) node);
			break;
		case T_OpExpr:
			compile_opexpr(ctx, (OpExpr *) node, mode);
			break;
		case T_FuncExpr:
			compile_funcexpr(ctx, (FuncExpr *) node, mode);
			break;
		case T_BoolExpr:
			compile_boolexpr(ctx, (BoolExpr *) node, mode);
			break;
		case T_NullTest:
			compile_nulltest(ctx, (NullTest *) node, mode);
			break;
		case T_RelabelType:
			compile_relabel(ctx, (RelabelType *) node, mode);
			break;
		case T_CollateExpr:
			pgt_compile_expr(ctx, (Node *) ((CollateExpr *) node)->arg, mode);
			break;
		case T_CoalesceExpr:
			write_variadic(ctx, "coalesce", ((CoalesceExpr *) node)->args,
						   ((CoalesceExpr *) node)->coalescetype, mode);
			break;
		case T_MinMaxExpr:
			compile_minmax(ctx, (MinMaxExpr *) node, mode);
			break;
		case T_NullIfExpr:
			compile_nullif(ctx, (NullIfExpr *) node, mode);
			break;
		case T_CaseExpr:
			compile_case(ctx, (CaseExpr *) node, mode);
			break;
		case T_CaseTestExpr:
			if (ctx->case_test == NULL)
				elog(ERROR, "CaseTestExpr outside a simple CASE");
			pgt_compile_expr(ctx, ctx->case_test, mode);
			break;
		case T_ScalarArrayOpExpr:
			compile_saop(ctx, (ScalarArrayOpExpr *) node, mode);
			break;
		case T_Aggref:
			/* PostgreSQL rejects aggregates in WHERE and nested ones. */
			elog(ERROR, "aggregate outside the target list");
			break;
		case T_CoerceViaIO:
			pgt_reject("cast", "%s to %s (through text I/O)",
					   format_type_be(exprType((Node *) ((CoerceViaIO *) node)->arg)),
					   format_type_be(((CoerceViaIO *) node)->resulttype));
			break;
		default:
			pgt_reject("expression", "%s", node_construct_name(node));
	}
}
