/*-------------------------------------------------------------------------
 * compile_query.c
 *    Statement and Query-level checks; plan assembly.
 *
 * Every Query (the statement, a subquery in FROM, a WITH query, a branch of
 * UNION) becomes an operator producing its output columns:
 *     [distinct(] project( [filter_having(] [aggregate(] FROM [)] [)] ) [)]
 * where FROM is filter(joins of scans and subqueries) (compile_from.c), and a
 * UNION [ALL] tree becomes union_all (under distinct for UNION), INTERSECT
 * [ALL] / EXCEPT [ALL] a setop. Query-level
 * constructs the engine cannot maintain are rejected here, before any
 * expression is looked at: recursive WITH, INTERSECT/EXCEPT, subqueries in
 * expressions, window functions, set-returning functions, DISTINCT ON,
 * grouping sets, ORDER BY, LIMIT/OFFSET, FOR UPDATE/SHARE.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_collation.h"
#include "miscadmin.h"
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
	if (q->hasRecursive)
		pgt_reject("query construct", "WITH RECURSIVE");
	if (q->hasModifyingCTE)
		pgt_reject("query construct", "data-modifying WITH queries");
	if (q->hasWindowFuncs)
		pgt_reject("query construct", "window functions");
	if (q->hasTargetSRFs)
		pgt_reject("query construct", "set-returning functions");
	if (q->hasDistinctOn)
		pgt_reject("query construct", "DISTINCT ON");
	if (q->groupingSets != NIL)
		pgt_reject("query construct", "GROUPING SETS, ROLLUP and CUBE");
	if (q->groupDistinct)
		pgt_reject("query construct", "GROUP BY DISTINCT");
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

/* Number of output columns of a (sub)query: its non-junk target entries. */
int
pgt_query_width(Query *q)
{
	int			n = 0;
	ListCell   *lc;

	foreach(lc, q->targetList)
		if (!lfirst_node(TargetEntry, lc)->resjunk)
			n++;
	return n;
}

static void
write_aggregate(PgtCompileCtx *ctx)
{
	JsonWriter *w = ctx->w;
	ListCell   *lc;

	jw_begin_object(w);
	jw_kv_string(w, "op", "aggregate");
	jw_key(w, "input");
	pgt_write_from(ctx);
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

/* aggregate, under a filter for HAVING */
static void
write_grouped(PgtCompileCtx *ctx)
{
	JsonWriter *w = ctx->w;

	if (ctx->query->havingQual == NULL)
	{
		write_aggregate(ctx);
		return;
	}
	jw_begin_object(w);
	jw_kv_string(w, "op", "filter");
	jw_key(w, "input");
	write_aggregate(ctx);
	jw_key(w, "predicate");
	pgt_compile_expr(ctx, ctx->query->havingQual, PGT_EXPR_AGG_OUTPUT);
	jw_end_object(w);
}

static void
write_project(PgtCompileCtx *ctx)
{
	JsonWriter *w = ctx->w;
	ListCell   *lc;

	jw_begin_object(w);
	jw_kv_string(w, "op", "project");
	jw_key(w, "input");
	if (ctx->grouped)
		write_grouped(ctx);
	else
		pgt_write_from(ctx);
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

/* The branches of a UNION must produce the set operation's column types. */
static void
check_setop_branch(Query *branch, List *col_types)
{
	ListCell   *lc,
			   *lt = list_head(col_types);

	foreach(lc, branch->targetList)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Oid			t = exprType((Node *) tle->expr);

		if (tle->resjunk)
			continue;
		if (lt == NULL || lfirst_oid(lt) != t)
			pgt_reject("query construct", "set operation over columns of different types (%s and %s)",
					   format_type_be(t), lt ? format_type_be(lfirst_oid(lt)) : "none");
		lt = lnext(col_types, lt);
	}
}

/*
 * UNION ALL → union_all of the branches; UNION → distinct(union_all);
 * INTERSECT [ALL] / EXCEPT [ALL] → setop. Branches must have the set
 * operation's column types (no implicit coercion is inserted).
 */
static void
write_setop(PgtPlanCtx *plan, Query *q, Node *n, List *col_types)
{
	JsonWriter *w = plan->w;
	SetOperationStmt *op;

	if (IsA(n, RangeTblRef))
	{
		RangeTblEntry *rte = rt_fetch(((RangeTblRef *) n)->rtindex, q->rtable);

		check_setop_branch(rte->subquery, col_types);
		(void) pgt_write_query_op(plan, rte->subquery);
		return;
	}
	op = castNode(SetOperationStmt, n);
	if (op->op == SETOP_INTERSECT || op->op == SETOP_EXCEPT)
	{
		const char *kind = op->op == SETOP_INTERSECT
			? (op->all ? "intersect_all" : "intersect")
			: (op->all ? "except_all" : "except");

		jw_begin_object(w);
		jw_kv_string(w, "op", "setop");
		jw_kv_string(w, "kind", kind);
		jw_key(w, "inputs");
		jw_begin_array(w);
		write_setop(plan, q, op->larg, col_types);
		write_setop(plan, q, op->rarg, col_types);
		jw_end_array(w);
		jw_end_object(w);
		return;
	}
	if (op->op != SETOP_UNION)
		pgt_reject("query construct", "%s", setop_name(op));
	if (!op->all)
	{
		jw_begin_object(w);
		jw_kv_string(w, "op", "distinct");
		jw_key(w, "input");
	}
	jw_begin_object(w);
	jw_kv_string(w, "op", "union_all");
	jw_key(w, "inputs");
	jw_begin_array(w);
	write_setop(plan, q, op->larg, col_types);
	write_setop(plan, q, op->rarg, col_types);
	jw_end_array(w);
	jw_end_object(w);
	if (!op->all)
		jw_end_object(w);
}

/* Writes the operator producing q's output columns; returns their number. */
int
pgt_write_query_op(PgtPlanCtx *plan, Query *q)
{
	PgtCompileCtx ctx;
	int			nrt = list_length(q->rtable) + 1;

	check_stack_depth();
	check_query_level(q);
	plan->query_stack = lcons(q, plan->query_stack);
	if (q->setOperations != NULL)
	{
		SetOperationStmt *top = castNode(SetOperationStmt, q->setOperations);

		write_setop(plan, q, (Node *) top, top->colTypes);
		plan->query_stack = list_delete_first(plan->query_stack);
		return pgt_query_width(q);
	}

	/* Columns of JOIN … USING / NATURAL read through the join: to base columns. */
	q->targetList = (List *) flatten_join_alias_vars(q, (Node *) q->targetList);
	q->jointree = (FromExpr *) flatten_join_alias_vars(q, (Node *) q->jointree);
	q->havingQual = flatten_join_alias_vars(q, q->havingQual);

	memset(&ctx, 0, sizeof(ctx));
	ctx.plan = plan;
	ctx.query = q;
	ctx.w = plan->w;
	ctx.rt_offset = palloc0(sizeof(int) * nrt);
	ctx.rt_width = palloc0(sizeof(int) * nrt);
	ctx.grouped = q->hasAggs || q->groupClause != NIL || q->havingQual != NULL;
	pgt_collect_scalars(&ctx);
	pgt_layout_from(&ctx);
	if (ctx.grouped)
	{
		ctx.group_exprs = group_expressions(q);
		ctx.aggrefs = pgt_collect_aggrefs((Node *) q->targetList, NIL);
		ctx.aggrefs = pgt_collect_aggrefs(q->havingQual, ctx.aggrefs);
	}

	if (q->distinctClause != NIL)
	{
		jw_begin_object(ctx.w);
		jw_kv_string(ctx.w, "op", "distinct");
		jw_key(ctx.w, "input");
	}
	write_project(&ctx);
	if (q->distinctClause != NIL)
		jw_end_object(ctx.w);
	plan->query_stack = list_delete_first(plan->query_stack);
	return pgt_query_width(q);
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
	PgtPlanCtx	plan;
	StringInfoData buf,
				root;
	JsonWriter	w,
				rw;
	Query	   *q;
	int			save_nestlevel;
	ListCell   *lc;

	q = parse_single_select(query_text);
	check_query_level(q);

	/*
	 * Constants are printed by their output functions: pin the settings that
	 * change the text of supported types, so the engine reads one format.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("datestyle", "ISO, YMD", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);

	/* The operator tree first: it discovers the sources. */
	memset(&plan, 0, sizeof(plan));
	initStringInfo(&root);
	jw_init(&rw, &root);
	plan.w = &rw;
	(void) pgt_write_query_op(&plan, q);
	(void) jw_finish(&rw);
	result->columns = output_columns(q);

	initStringInfo(&buf);
	jw_init(&w, &buf);
	jw_begin_object(&w);
	jw_kv_int(&w, "version", PGT_PLAN_VERSION);
	jw_key(&w, "sources");
	jw_begin_array(&w);
	foreach(lc, plan.sources)
		pgt_write_source(&w, lfirst(lc));
	jw_end_array(&w);
	jw_key(&w, "root");
	jw_raw(&w, root.data);
	jw_key(&w, "output");
	write_output(&w, result->columns);
	jw_end_object(&w);
	result->plan_json = jw_finish(&w);

	AtEOXact_GUC(true, save_nestlevel);

	result->sources = plan.sources;
	return result;
}
