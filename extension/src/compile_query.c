/*-------------------------------------------------------------------------
 * compile_query.c
 *    Statement and Query-level checks; plan assembly.
 *
 * The plan always has the shape
 *     project( [aggregate(] [filter(] scan [)] [)] )
 * where the project produces exactly the output columns. Query-level
 * constructs the engine cannot maintain are rejected here, before any
 * expression is looked at: WITH, set operations, subqueries, window
 * functions, set-returning functions, DISTINCT, grouping sets, HAVING,
 * ORDER BY, LIMIT/OFFSET, FOR UPDATE/SHARE.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "tcop/cmdtag.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "compiler_internal.h"
#include "pg_trickle.h"

static const char *
setop_name(SetOperationStmt *op)
{
	switch (op->op)
	{
		case SETOP_UNION:
			return op->all ? "UNION ALL" : "UNION";
		case SETOP_INTERSECT:
			return op->all ? "INTERSECT ALL" : "INTERSECT";
		case SETOP_EXCEPT:
			return op->all ? "EXCEPT ALL" : "EXCEPT";
		default:
			return "set operations";
	}
}

/*
 * Errors of the parser and analyzer point into the stream table's query, not
 * into the statement that called create_stream_table(): report them as
 * positions in an internal query (like SPI does).
 */
static void
query_error_callback(void *arg)
{
	const char *query_text = (const char *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(query_text);
	}
}

/* One statement, a plain SELECT; returns its analyzed Query. */
static Query *
parse_single_select(const char *query_text)
{
	ErrorContextCallback errcallback;
	List	   *raw;
	RawStmt    *rs;
	Query	   *q;

	errcallback.callback = query_error_callback;
	errcallback.arg = (void *) query_text;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	raw = pg_parse_query(query_text);

	if (list_length(raw) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the query of a stream table must be exactly one SELECT statement, got %d statements",
						list_length(raw))));
	rs = linitial_node(RawStmt, raw);
	if (!IsA(rs->stmt, SelectStmt))
		pgt_reject("statement", "%s (only SELECT)",
				   GetCommandTagName(CreateCommandTag(rs->stmt)));
	if (((SelectStmt *) rs->stmt)->intoClause != NULL)
		pgt_reject("query construct", "SELECT INTO");

	q = parse_analyze_fixedparams(rs, query_text, NULL, 0, NULL);

	error_context_stack = errcallback.previous;
	return q;
}

static void
check_query_level(Query *q)
{
	if (q->commandType != CMD_SELECT || q->utilityStmt != NULL)
		pgt_reject("statement", "only SELECT is supported");
	if (q->cteList != NIL)
		pgt_reject("query construct", "WITH (common table expressions)");
	if (q->setOperations != NULL)
		pgt_reject("query construct", "%s",
				   setop_name(castNode(SetOperationStmt, q->setOperations)));
	if (q->hasSubLinks)
		pgt_reject("query construct", "subqueries");
	if (q->hasWindowFuncs)
		pgt_reject("query construct", "window functions");
	if (q->hasTargetSRFs)
		pgt_reject("query construct", "set-returning functions");
	if (q->distinctClause != NIL)
		pgt_reject("query construct", "%s",
				   q->hasDistinctOn ? "DISTINCT ON" : "DISTINCT");
	if (q->groupingSets != NIL)
		pgt_reject("query construct", "GROUPING SETS, ROLLUP and CUBE");
	if (q->groupDistinct)
		pgt_reject("query construct", "GROUP BY DISTINCT");
	if (q->havingQual != NULL)
		pgt_reject("query construct", "HAVING");
	if (q->sortClause != NIL)
		pgt_reject("query construct", "ORDER BY");
	if (q->limitCount != NULL)
		pgt_reject("query construct", "LIMIT / FETCH FIRST");
	if (q->limitOffset != NULL)
		pgt_reject("query construct", "OFFSET");
	if (q->rowMarks != NIL || q->hasForUpdate)
		pgt_reject("query construct", "FOR UPDATE / FOR SHARE");
}

/* Output columns: named, unique, not the hidden row id, supported types. */
static List *
output_columns(Query *q)
{
	List	   *cols = NIL;
	ListCell   *lc;

	foreach(lc, q->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		PgtOutputColumn *col;
		ListCell   *lc2;
		Oid			typcoll;

		if (tle->resjunk)
			continue;
		if (tle->resname == NULL)
			elog(ERROR, "unnamed output column");
		if (strcmp(tle->resname, PGT_ROW_ID_COLUMN) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_RESERVED_NAME),
					 errmsg("column name \"%s\" is reserved for the stream table's row identity",
							PGT_ROW_ID_COLUMN)));
		foreach(lc2, cols)
		{
			if (strcmp(((PgtOutputColumn *) lfirst(lc2))->name, tle->resname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_COLUMN),
						 errmsg("column \"%s\" appears more than once in the query's output",
								tle->resname),
						 errhint("Give the columns distinct names with AS.")));
		}

		col = palloc0(sizeof(PgtOutputColumn));
		col->name = pstrdup(tle->resname);
		col->typoid = exprType((Node *) tle->expr);
		col->typmod = exprTypmod((Node *) tle->expr);
		if (!pgt_type_supported(col->typoid))
			pgt_reject("type", "output column \"%s\" has type %s", col->name,
					   format_type_with_typemod(col->typoid, col->typmod));
		col->type_sql = format_type_with_typemod(col->typoid, col->typmod);
		col->collation = exprCollation((Node *) tle->expr);
		typcoll = get_typcollation(col->typoid);
		if (col->collation == typcoll)
			col->collation = InvalidOid;
		cols = lappend(cols, col);
	}
	if (cols == NIL)
		pgt_reject("query construct", "queries without output columns");
	return cols;
}

/* GROUP BY expressions (SCAN mode), text keys need deterministic collations. */
static List *
group_expressions(Query *q)
{
	List	   *exprs = NIL;
	ListCell   *lc;

	foreach(lc, q->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *tle = get_sortgroupclause_tle(sgc, q->targetList);
		Node	   *expr = (Node *) tle->expr;

		if (pgt_type_is_text(exprType(expr)))
			pgt_check_equality_collation(exprCollation(expr), "GROUP BY");
		exprs = lappend(exprs, expr);
	}
	return exprs;
}

static void
write_filter_or_scan(PgtCompileCtx *ctx)
{
	JsonWriter *w = ctx->w;
	Node	   *quals = ctx->query->jointree->quals;

	if (quals != NULL)
	{
		jw_begin_object(w);
		jw_kv_string(w, "op", "filter");
		jw_key(w, "input");
	}
	jw_begin_object(w);
	jw_kv_string(w, "op", "scan");
	jw_kv_int(w, "source", 0);
	jw_end_object(w);
	if (quals != NULL)
	{
		jw_key(w, "predicate");
		pgt_compile_expr(ctx, quals, PGT_EXPR_SCAN);
		jw_end_object(w);
	}
}

static void
write_aggregate(PgtCompileCtx *ctx)
{
	JsonWriter *w = ctx->w;
	ListCell   *lc;

	jw_begin_object(w);
	jw_kv_string(w, "op", "aggregate");
	jw_key(w, "input");
	write_filter_or_scan(ctx);
	jw_key(w, "group_by");
	jw_begin_array(w);
	foreach(lc, ctx->group_exprs)
		pgt_compile_expr(ctx, lfirst(lc), PGT_EXPR_SCAN);
	jw_end_array(w);
	jw_key(w, "aggs");
	jw_begin_array(w);
	foreach(lc, ctx->aggrefs)
		pgt_write_aggregate(ctx, lfirst_node(Aggref, lc));
	jw_end_array(w);
	jw_end_object(w);
}

static void
write_root(PgtCompileCtx *ctx)
{
	JsonWriter *w = ctx->w;
	ListCell   *lc;

	jw_begin_object(w);
	jw_kv_string(w, "op", "project");
	jw_key(w, "input");
	if (ctx->grouped)
		write_aggregate(ctx);
	else
		write_filter_or_scan(ctx);
	jw_key(w, "exprs");
	jw_begin_array(w);
	foreach(lc, ctx->query->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);

		if (tle->resjunk)
			continue;
		pgt_compile_expr(ctx, (Node *) tle->expr,
						 ctx->grouped ? PGT_EXPR_AGG_OUTPUT : PGT_EXPR_SCAN);
	}
	jw_end_array(w);
	jw_end_object(w);
}

static void
write_output(JsonWriter *w, List *columns)
{
	ListCell   *lc;

	jw_begin_array(w);
	foreach(lc, columns)
	{
		PgtOutputColumn *col = lfirst(lc);

		jw_begin_object(w);
		jw_kv_string(w, "name", col->name);
		jw_kv_int(w, "typoid", col->typoid);
		jw_kv_int(w, "typmod", col->typmod);
		jw_kv_string(w, "type_sql", col->type_sql);
		jw_end_object(w);
	}
	jw_end_array(w);
}

PgtCompiledQuery *
pgt_compile_query(const char *query_text)
{
	PgtCompiledQuery *result = palloc0(sizeof(PgtCompiledQuery));
	PgtCompileCtx ctx;
	StringInfoData buf;
	JsonWriter	w;
	Query	   *q;
	int			save_nestlevel;

	q = parse_single_select(query_text);
	check_query_level(q);

	memset(&ctx, 0, sizeof(ctx));
	ctx.query = q;
	ctx.w = &w;
	ctx.source = pgt_compile_from(q);
	ctx.grouped = q->hasAggs || q->groupClause != NIL;
	if (ctx.grouped)
	{
		ctx.group_exprs = group_expressions(q);
		ctx.aggrefs = pgt_collect_aggrefs((Node *) q->targetList, NIL);
	}

	/*
	 * Constants are printed by their output functions: pin the settings that
	 * change the text of supported types, so the engine reads one format.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	initStringInfo(&buf);
	jw_init(&w, &buf);
	jw_begin_object(&w);
	jw_kv_int(&w, "version", PGT_PLAN_VERSION);
	jw_key(&w, "sources");
	jw_begin_array(&w);
	pgt_write_source(&w, ctx.source);
	jw_end_array(&w);
	jw_key(&w, "root");
	write_root(&ctx);
	result->columns = output_columns(q);
	jw_key(&w, "output");
	write_output(&w, result->columns);
	jw_end_object(&w);
	result->plan_json = jw_finish(&w);

	AtEOXact_GUC(true, save_nestlevel);

	result->sources = list_make1(ctx.source);
	return result;
}
