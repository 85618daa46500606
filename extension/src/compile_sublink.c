/*-------------------------------------------------------------------------
 * compile_sublink.c
 *    Subqueries in expressions (SubLinks) → operators around the FROM tree:
 *    scalar subqueries cross-joined as extra FROM-row columns, EXISTS / IN
 *    conjuncts of WHERE as semi and anti joins (compile_from.c writes the
 *    FROM tree itself).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteManip.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"

#include "compiler_internal.h"

static bool reads_level(Node *node, int level);
static SubLink *semi_sublink(Node *conj, bool *negated);
static void check_exists_subquery(Query *sq);

/* ---------------------------------------------------------------- scalar subqueries
 *
 * An uncorrelated scalar subquery that is an aggregate without GROUP BY / HAVING always yields
 * exactly one row: it is cross-joined to the FROM row as one more column (when its value
 * changes every row of the query is re-derived — exact, and meant for small results).
 *
 * A scalar subquery whose select list is one aggregate call and which is correlated only by
 * equalities `outer_expr = inner_expr` in its WHERE is the aggregate grouped by the inner
 * expressions, LEFT JOINed on outer = inner: it adds its keys and the aggregate to the FROM row
 * (keys first). An outer row without a group (no matching row, or a NULL key: `=` matches
 * nothing) gets NULL — the aggregate of no rows — and COUNT reads COALESCE(value, 0), as
 * PostgreSQL's count over no rows. Other scalar subqueries (which may yield zero or several
 * rows, or correlate otherwise) are rejected.
 *
 * EXISTS (…) anywhere else than as a top-level WHERE conjunct (under OR, NOT of an OR, CASE, in
 * the select list) is the same construct with count(*): its value is COALESCE(count, 0) > 0,
 * which is EXISTS exactly (never NULL). Its subquery follows the EXISTS rules, and its
 * correlation must be equalities.
 *
 * `x IN (SELECT y …)` under AND/OR in WHERE (no NOT above it) is the same with one more key
 * pair x = y: WHERE keeps a row only when the whole condition is TRUE, and an AND/OR tree is
 * TRUE exactly when it is TRUE with each IN replaced by "IN is TRUE" (a NULL IN and a FALSE one
 * decide nothing differently there) — which is "a correlated row has y = x".
 */
typedef struct Correlation
{
	List	   *outer;			/* level-1 expressions (the outer row) */
	List	   *inner;			/* level-0 expressions, pairwise equal to `outer` */
	List	   *rest;			/* WHERE conjuncts that do not read the outer query */
} Correlation;

/* Splits the WHERE of a correlated scalar subquery; rejects what is not outer = inner. */
static void
scalar_correlation(Query *sq, Correlation *c)
{
	ListCell   *lc;

	memset(c, 0, sizeof(*c));
	foreach(lc, make_ands_implicit((Expr *) sq->jointree->quals))
	{
		Node	   *conj = lfirst(lc);
		OpExpr	   *op = IsA(conj, OpExpr) ? (OpExpr *) conj : NULL;
		const PgtFnInfo *info;
		Node	   *a,
				   *b;

		if (!reads_level(conj, 1))
		{
			c->rest = lappend(c->rest, conj);
			continue;
		}
		if (op == NULL || list_length(op->args) != 2)
			pgt_reject("query construct", "correlated subqueries in expressions (scalar, EXISTS outside a WHERE conjunct) other than by equalities ANDed into WHERE");
		set_opfuncid(op);
		info = pgt_lookup_function(op->opfuncid);
		a = linitial(op->args);
		b = lsecond(op->args);
		if (reads_level(b, 1))
		{
			Node	   *t = a;

			a = b;
			b = t;
		}
		if (info == NULL || strcmp(info->fn, "eq") != 0 || reads_level(a, 0) || reads_level(b, 1) ||
			pgt_key_family(exprType(a)) == 0 || pgt_key_family(exprType(a)) != pgt_key_family(exprType(b)))
			pgt_reject("query construct", "correlated subqueries in expressions (scalar, EXISTS outside a WHERE conjunct) other than by equalities ANDed into WHERE");
		if (pgt_key_family(exprType(a)) == 2)
			pgt_check_equality_collation(op->inputcollid, "scalar subquery correlation");
		c->outer = lappend(c->outer, a);
		c->inner = lappend(c->inner, b);
	}
}

static bool
scalar_correlated(SubLink *sl)
{
	return reads_level(sl->subselect, 1) || sl->subLinkType == ANY_SUBLINK;
}

/* EXISTS, or IN in a positive WHERE position: COALESCE(count, 0) > 0. */
static bool
scalar_is_exists(SubLink *sl)
{
	return sl->subLinkType == EXISTS_SUBLINK || sl->subLinkType == ANY_SUBLINK;
}

/* The keys of a subquery in an expression: its correlation, and x = y for an IN. */
static void
sublink_correlation(SubLink *sl, Correlation *c)
{
	Query	   *sq = castNode(Query, sl->subselect);
	Node	   *x;

	scalar_correlation(sq, c);
	if (sl->subLinkType != ANY_SUBLINK)
		return;
	x = copyObject(linitial(((OpExpr *) sl->testexpr)->args));
	IncrementVarSublevelsUp(x, 1, 0);	/* read from inside the subquery: the outer row */
	c->outer = lappend(c->outer, x);
	c->inner = lappend(c->inner, linitial_node(TargetEntry, sq->targetList)->expr);
}

/* The aggregate of a correlated scalar subquery (checked at collection). */
static Aggref *
scalar_aggref(SubLink *sl)
{
	return castNode(Aggref, linitial_node(TargetEntry, castNode(Query, sl->subselect)->targetList)->expr);
}

/* Columns the scalar subquery adds to the FROM row. */
static int
scalar_width(SubLink *sl)
{
	Correlation c;

	if (!scalar_correlated(sl) && !scalar_is_exists(sl))
		return 1;
	sublink_correlation(sl, &c);
	return list_length(c.outer) + 1;
}

static void
check_correlated_scalar(Query *sq)
{
	TargetEntry *tle = linitial_node(TargetEntry, sq->targetList);
	Correlation c;

	if (!IsA(tle->expr, Aggref) || sq->cteList || sq->hasSubLinks || sq->distinctClause)
		pgt_reject("query construct",
				   "correlated scalar subqueries other than one aggregate call (SELECT agg(...) FROM ... WHERE ...)");
	if (reads_level((Node *) sq->jointree->fromlist, 1) || reads_level((Node *) sq->targetList, 1))
		pgt_reject("query construct", "correlated references outside the WHERE clause of a scalar subquery");
	if (reads_level((Node *) sq, 2))
		pgt_reject("query construct", "outer references more than one query level up");
	scalar_correlation(sq, &c);
}

static bool
collect_scalars_walker(Node *node, PgtCompileCtx *ctx)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubLink) && ((SubLink *) node)->subLinkType == EXPR_SUBLINK)
	{
		SubLink    *sl = (SubLink *) node;
		Query	   *sq = castNode(Query, sl->subselect);

		if (!sq->hasAggs || sq->groupClause || sq->havingQual || sq->setOperations ||
			sq->limitCount || sq->limitOffset || sq->groupingSets || sq->hasTargetSRFs ||
			sq->hasWindowFuncs || pgt_query_width(sq) != 1)
			pgt_reject("query construct",
					   "scalar subqueries other than an aggregate without GROUP BY, HAVING or LIMIT");
		if (reads_level((Node *) sq, 1))
			check_correlated_scalar(sq);
		if (!list_member_ptr(ctx->scalars, sl))
			ctx->scalars = lappend(ctx->scalars, sl);
		return false;
	}
	if (IsA(node, SubLink) && ((SubLink *) node)->subLinkType == EXISTS_SUBLINK)
	{
		Correlation c;

		check_exists_subquery(castNode(Query, ((SubLink *) node)->subselect));
		scalar_correlation(castNode(Query, ((SubLink *) node)->subselect), &c);
		if (!list_member_ptr(ctx->scalars, node))
			ctx->scalars = lappend(ctx->scalars, node);
		return false;
	}
	if (IsA(node, SubLink))
		return false;			/* IN / ANY / ALL outside a WHERE conjunct: rejected later */
	return expression_tree_walker(node, collect_scalars_walker, (void *) ctx);
}

/* x IN (SELECT y …) maintainable as "a correlated row has y = x" (see above). */
static void
check_positive_in(SubLink *sl)
{
	Query	   *sq = castNode(Query, sl->subselect);
	OpExpr	   *op = IsA(sl->testexpr, OpExpr) ? (OpExpr *) sl->testexpr : NULL;
	const PgtFnInfo *info;
	Correlation c;

	if (op == NULL || list_length(op->args) != 2 || !IsA(lsecond(op->args), Param))
		pgt_reject("query construct", "IN subqueries over several columns or converted columns");
	set_opfuncid(op);
	info = pgt_lookup_function(op->opfuncid);
	if (info == NULL || strcmp(info->fn, "eq") != 0 ||
		pgt_key_family(exprType(linitial(op->args))) == 0 ||
		pgt_key_family(exprType(linitial(op->args))) != pgt_key_family(exprType(lsecond(op->args))))
		pgt_reject("query construct", "%s ANY (subquery) under OR (only = ANY / IN over comparable keys)",
				   format_operator(op->opno));
	if (pgt_key_family(exprType(linitial(op->args))) == 2)
		pgt_check_equality_collation(op->inputcollid, "IN subquery");
	check_exists_subquery(sq);
	if (reads_level((Node *) sq->targetList, 1))
		pgt_reject("query construct", "correlated references in the select list of an IN subquery");
	scalar_correlation(sq, &c);
}

/* WHERE under AND/OR only: IN subqueries there are collected too. */
static void
collect_positive(Node *node, PgtCompileCtx *ctx)
{
	ListCell   *lc;

	if (IsA(node, BoolExpr) && ((BoolExpr *) node)->boolop != NOT_EXPR)
	{
		foreach(lc, ((BoolExpr *) node)->args)
			collect_positive(lfirst(lc), ctx);
		return;
	}
	if (IsA(node, SubLink) && ((SubLink *) node)->subLinkType == ANY_SUBLINK)
	{
		check_positive_in((SubLink *) node);
		if (!list_member_ptr(ctx->scalars, node))
			ctx->scalars = lappend(ctx->scalars, node);
		return;
	}
	(void) collect_scalars_walker(node, ctx);
}

/* Collects the scalar subqueries of WHERE and (ungrouped) target list; call before layout. */
void
pgt_collect_scalars(PgtCompileCtx *ctx)
{
	ListCell   *lc;

	/* WHERE conjuncts that are [NOT] EXISTS / IN become semi / anti joins instead */
	foreach(lc, make_ands_implicit((Expr *) ctx->query->jointree->quals))
	{
		bool		negated;

		if (semi_sublink(lfirst(lc), &negated) == NULL)
			collect_positive(lfirst(lc), ctx);
	}
	(void) collect_scalars_walker((Node *) ctx->query->targetList, ctx);
}

/* Columns the scalar subqueries add to the FROM row, after its items. */
int
pgt_scalars_width(PgtCompileCtx *ctx)
{
	int			width = 0;
	ListCell   *lc;

	foreach(lc, ctx->scalars)
		width += scalar_width(lfirst(lc));
	return width;
}

/* Column of a scalar subquery's value in the FROM row, or -1. */
int
pgt_scalar_column(PgtCompileCtx *ctx, SubLink *sl)
{
	int			col = ctx->items_width;
	ListCell   *lc;

	foreach(lc, ctx->scalars)
	{
		col += scalar_width(lfirst(lc));
		if (lfirst(lc) == sl)
			return col - 1;
	}
	return -1;
}

static void
write_zero(JsonWriter *w)
{
	jw_begin_object(w);
	jw_kv_string(w, "kind", "const");
	jw_kv_int(w, "typoid", INT8OID);
	jw_kv_string(w, "value", "0");
	jw_end_object(w);
}

/* COALESCE(count column, 0): the count of no rows. */
static void
write_count_ref(PgtCompileCtx *ctx, int col)
{
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "coalesce");
	jw_key(ctx->w, "args");
	jw_begin_array(ctx->w);
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "col");
	jw_kv_int(ctx->w, "col", col - ctx->base);
	jw_kv_int(ctx->w, "typoid", INT8OID);
	jw_end_object(ctx->w);
	write_zero(ctx->w);
	jw_end_array(ctx->w);
	jw_kv_int(ctx->w, "typoid", INT8OID);
	jw_end_object(ctx->w);
}

/* The value of scalar subquery `sl` in the FROM row; false if `sl` is not one of them. */
bool
pgt_write_scalar_ref(PgtCompileCtx *ctx, SubLink *sl)
{
	int			col = pgt_scalar_column(ctx, sl);
	bool		count;
	Oid			typoid = scalar_is_exists(sl) ? BOOLOID : exprType((Node *) sl);

	if (col < 0)
		return false;
	if (scalar_is_exists(sl))
	{
		/* COALESCE(count, 0) > 0 */
		jw_begin_object(ctx->w);
		jw_kv_string(ctx->w, "kind", "op");
		jw_kv_string(ctx->w, "fn", "gt");
		jw_key(ctx->w, "args");
		jw_begin_array(ctx->w);
		write_count_ref(ctx, col);
		write_zero(ctx->w);
		jw_end_array(ctx->w);
		jw_kv_int(ctx->w, "typoid", BOOLOID);
		jw_kv_string(ctx->w, "pg_fn", "int8gt");
		jw_kv_int(ctx->w, "pg_oid", F_INT8GT);
		jw_end_object(ctx->w);
		return true;
	}
	count = scalar_correlated(sl) && strcmp(get_func_name(scalar_aggref(sl)->aggfnoid), "count") == 0;
	if (count)
	{
		write_count_ref(ctx, col);	/* count over no rows = 0; count's type is int8 */
		return true;
	}
	jw_begin_object(ctx->w);
	jw_kv_string(ctx->w, "kind", "col");
	jw_kv_int(ctx->w, "col", col - ctx->base);
	jw_kv_int(ctx->w, "typoid", typoid);
	jw_end_object(ctx->w);
	return true;
}

/* ---------------------------------------------------------------- semi / anti joins
 *
 * Top-level WHERE conjuncts [NOT] EXISTS (SELECT …) and x [NOT] IN (SELECT …) become semi and
 * anti joins wrapped around the joins of the FROM clause (their output is the FROM row, so
 * the rest of the query reads it unchanged):
 *   EXISTS      → semi, NOT EXISTS → anti: the subquery's FROM (filtered by its own WHERE
 *                 conjuncts) on the right; the conjuncts of its WHERE that read the outer
 *                 query become the join's keys (equalities) and residual condition.
 *   x IN (S)    → semi, x NOT IN (S) → anti_null_aware (NULLs exactly as PostgreSQL): S
 *                 uncorrelated, any supported query with one output column; key x = S's column.
 */
typedef struct LevelWalk
{
	int			level;
} LevelWalk;

static bool
reads_level_walker(Node *node, LevelWalk *lw)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var))
		return ((Var *) node)->varlevelsup == (Index) lw->level;
	if (IsA(node, Query))
	{
		bool		r;

		lw->level++;
		r = query_tree_walker((Query *) node, reads_level_walker, (void *) lw, 0);
		lw->level--;
		return r;
	}
	return expression_tree_walker(node, reads_level_walker, (void *) lw);
}

/* Whether `node` (inside a subquery) reads the query `level` levels up. */
static bool
reads_level(Node *node, int level)
{
	LevelWalk	lw = {level};

	if (node != NULL && IsA(node, Query))	/* its own Vars are level 0 */
		return query_tree_walker((Query *) node, reads_level_walker, (void *) &lw, 0);
	return reads_level_walker(node, &lw);
}

static SubLink *
semi_sublink(Node *conj, bool *negated)
{
	*negated = false;
	if (IsA(conj, BoolExpr) && ((BoolExpr *) conj)->boolop == NOT_EXPR)
	{
		*negated = true;
		conj = linitial(((BoolExpr *) conj)->args);
	}
	if (IsA(conj, SubLink) &&
		(((SubLink *) conj)->subLinkType == EXISTS_SUBLINK ||
		 ((SubLink *) conj)->subLinkType == ANY_SUBLINK ||
		 ((SubLink *) conj)->subLinkType == ALL_SUBLINK))
		return (SubLink *) conj;
	return NULL;
}

static void
check_exists_subquery(Query *sq)
{
	if (sq->setOperations || sq->hasAggs || sq->groupClause || sq->havingQual ||
		sq->hasWindowFuncs || sq->limitCount || sq->limitOffset || sq->cteList ||
		sq->hasTargetSRFs || sq->hasSubLinks || sq->groupingSets)
		pgt_reject("query construct",
				   "EXISTS subqueries with aggregates, grouping, set operations, LIMIT, WITH or nested subqueries");
	if (reads_level((Node *) sq->jointree->fromlist, 1))
		pgt_reject("query construct", "correlated references outside the WHERE clause of an EXISTS subquery");
	if (reads_level((Node *) sq, 2))
		pgt_reject("query construct", "outer references more than one query level up");
}

static void write_semis(PgtCompileCtx *ctx, List *sublinks, int k, List **where);

/* A compile context for subquery `sq` correlated with `ctx` (its Vars one level up read ctx's
 * FROM row); pushed on the query stack until the caller pops it. */
static void
open_subquery(PgtCompileCtx *ctx, Query *sq, PgtCompileCtx *sctx)
{
	int			nrt = list_length(sq->rtable) + 1;

	sq->jointree = (FromExpr *) flatten_join_alias_vars(sq, (Node *) sq->jointree);
	memset(sctx, 0, sizeof(*sctx));
	sctx->plan = ctx->plan;
	sctx->query = sq;
	sctx->w = ctx->w;
	sctx->rt_offset = palloc0(sizeof(int) * nrt);
	sctx->rt_width = palloc0(sizeof(int) * nrt);
	sctx->outer = ctx;
	ctx->plan->query_stack = lcons(sq, ctx->plan->query_stack);
	pgt_layout_from(sctx);
}

/* LEFT JOIN of the rows so far with a correlated scalar subquery's aggregate per key. */
static void
write_correlated_scalar(PgtCompileCtx *ctx, SubLink *sl)
{
	JsonWriter *w = ctx->w;
	Query	   *sq = castNode(Query, sl->subselect);
	PgtCompileCtx sctx;
	Correlation c;
	ListCell   *lc;
	int			i = 0;

	open_subquery(ctx, sq, &sctx);
	sublink_correlation(sl, &c);
	jw_key(w, "right");
	jw_begin_object(w);
	jw_kv_string(w, "op", "aggregate");
	jw_key(w, "input");
	pgt_write_from_where(&sctx, c.rest);
	jw_key(w, "group_by");
	jw_begin_array(w);
	foreach(lc, c.inner)
		pgt_compile_expr(&sctx, lfirst(lc), PGT_EXPR_SCAN);
	jw_end_array(w);
	jw_key(w, "aggs");
	jw_begin_array(w);
	if (scalar_is_exists(sl))
	{
		jw_begin_object(w);
		jw_kv_string(w, "fn", "count_star");
		jw_key(w, "arg");
		jw_null(w);
		jw_kv_int(w, "typoid", INT8OID);
		jw_end_object(w);
	}
	else
		pgt_write_aggregate(&sctx, scalar_aggref(sl));
	jw_end_array(w);
	jw_end_object(w);
	jw_key(w, "left_keys");
	jw_begin_array(w);
	foreach(lc, c.outer)
		pgt_compile_expr(&sctx, lfirst(lc), PGT_EXPR_SCAN);	/* level-1 Vars: the outer row */
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	foreach(lc, c.inner)
	{
		jw_begin_object(w);
		jw_kv_string(w, "kind", "col");
		jw_kv_int(w, "col", i++);
		jw_kv_int(w, "typoid", exprType(lfirst(lc)));
		jw_end_object(w);
	}
	jw_end_array(w);
	ctx->plan->query_stack = list_delete_first(ctx->plan->query_stack);
}

/* The FROM items' joins cross-joined (left-joined when correlated) with scalar subqueries 0..n-1. */
static void
write_scalars(PgtCompileCtx *ctx, int n, List **where)
{
	JsonWriter *w = ctx->w;
	SubLink    *sl;

	if (n == 0)
	{
		pgt_write_from_items(ctx, where);
		return;
	}
	sl = list_nth(ctx->scalars, n - 1);
	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", scalar_correlated(sl) ? "left" : "inner");
	jw_key(w, "left");
	write_scalars(ctx, n - 1, where);
	if (scalar_correlated(sl) || scalar_is_exists(sl))
	{
		write_correlated_scalar(ctx, sl);
		jw_key(w, "residual");
		jw_null(w);
		jw_end_object(w);
		return;
	}
	jw_key(w, "right");
	(void) pgt_write_query_op(ctx->plan, castNode(Query, sl->subselect));
	jw_key(w, "left_keys");
	jw_begin_array(w);
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	jw_end_array(w);
	jw_key(w, "residual");
	jw_null(w);
	jw_end_object(w);
}

static void
write_semi_left(PgtCompileCtx *ctx, List *sublinks, int k, List **where)
{
	if (k == 0)
		write_scalars(ctx, list_length(ctx->scalars), where);
	else
		write_semis(ctx, sublinks, k, where);
}

/*
 * [NOT] EXISTS (sq) as a semi / anti join. `in_x`/`in_y` (both or neither): a correlated
 * `in_x IN (SELECT in_y FROM … WHERE …)` — the same semi join with one more key pair, in_x over
 * the outer row and in_y over the subquery's FROM row (IN is true exactly when some row of the
 * correlated subquery equals in_x; as a WHERE conjunct NULL and false both drop the row).
 * `extra_residual` (a condition over the subquery's row and the outer row, outer Vars one level
 * up) is ANDed into the join's residual.
 */
static void
write_exists(PgtCompileCtx *ctx, Query *sq, bool negated, List *sublinks, int k, List **where,
			 Node *in_x, Node *in_y, Node *extra_residual)
{
	PgtCompileCtx sctx;
	JsonWriter *w = ctx->w;
	List	   *inner = NIL,
			   *lkeys = NIL,
			   *rkeys = NIL,
			   *residual = NIL;
	List	   *conjs;
	ListCell   *lc;
	int			outer_width = ctx->from_width;

	check_exists_subquery(sq);
	open_subquery(ctx, sq, &sctx);

	conjs = make_ands_implicit((Expr *) sq->jointree->quals);
	foreach(lc, conjs)
	{
		Node	   *c = lfirst(lc);
		Node	   *a,
				   *b;

		if (!reads_level(c, 1))
		{
			inner = lappend(inner, c);
			continue;
		}
		/* outer side = only level-1 Vars, inner side = only level-0 Vars */
		if (IsA(c, OpExpr) && list_length(((OpExpr *) c)->args) == 2)
		{
			a = linitial(((OpExpr *) c)->args);
			b = lsecond(((OpExpr *) c)->args);
			set_opfuncid((OpExpr *) c);
			if (pgt_lookup_function(((OpExpr *) c)->opfuncid) &&
				strcmp(pgt_lookup_function(((OpExpr *) c)->opfuncid)->fn, "eq") == 0 &&
				pgt_key_family(exprType(a)) != 0 && pgt_key_family(exprType(a)) == pgt_key_family(exprType(b)))
			{
				if (pgt_key_family(exprType(a)) == 2)
					pgt_check_equality_collation(((OpExpr *) c)->inputcollid, "EXISTS condition");
				if (reads_level(b, 1) && !reads_level(b, 0) && !reads_level(a, 1) && reads_level(a, 0))
				{
					Node	   *t = a;

					a = b;
					b = t;
				}
				if (reads_level(a, 1) && !reads_level(a, 0) && !reads_level(b, 1) && reads_level(b, 0))
				{
					lkeys = lappend(lkeys, a);
					rkeys = lappend(rkeys, b);
					continue;
				}
			}
		}
		residual = lappend(residual, c);
	}
	if (extra_residual != NULL)
		residual = lappend(residual, extra_residual);

	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", negated ? "anti" : "semi");
	jw_key(w, "left");
	write_semi_left(ctx, sublinks, k - 1, where);
	jw_key(w, "right");
	pgt_write_from_where(&sctx, inner);
	jw_key(w, "left_keys");
	jw_begin_array(w);
	if (in_x != NULL)
		pgt_compile_expr(ctx, in_x, PGT_EXPR_SCAN);	/* the outer query's own expression */
	foreach(lc, lkeys)
		pgt_compile_expr(&sctx, lfirst(lc), PGT_EXPR_SCAN);	/* level-1 Vars: outer row */
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	if (in_y != NULL)
		pgt_compile_expr(&sctx, in_y, PGT_EXPR_SCAN);
	foreach(lc, rkeys)
		pgt_compile_expr(&sctx, lfirst(lc), PGT_EXPR_SCAN);
	jw_end_array(w);
	jw_key(w, "residual");
	if (residual == NIL)
		jw_null(w);
	else
	{
		sctx.base = -outer_width;	/* inner columns follow the outer row */
		pgt_compile_expr(&sctx, (Node *) make_ands_explicit(residual), PGT_EXPR_SCAN);
		sctx.base = 0;
	}
	jw_end_object(w);
	ctx->plan->query_stack = list_delete_first(ctx->plan->query_stack);
}

/*
 * Correlated `x NOT IN (SELECT y … WHERE corr)`: per outer row it is TRUE iff the correlated
 * rows S are empty, or x is not NULL and no y in S equals x or is NULL; otherwise FALSE or NULL,
 * which both drop the row. That is exactly NOT EXISTS (a row of S with y = x OR y IS NULL OR
 * x IS NULL): an anti join on the correlation with this residual. x is re-leveled to read the
 * outer row from inside the subquery.
 */
static Node *
not_in_residual(OpExpr *op, Node *x, Node *y)
{
	Node	   *outer_x = copyObject(x);
	OpExpr	   *eq = copyObject(op);
	NullTest   *y_null = makeNode(NullTest);
	NullTest   *x_null = makeNode(NullTest);

	IncrementVarSublevelsUp(outer_x, 1, 0);
	eq->args = list_make2(outer_x, copyObject(y));
	y_null->arg = (Expr *) copyObject(y);
	y_null->nulltesttype = IS_NULL;
	y_null->location = -1;
	x_null->arg = (Expr *) copyObject(outer_x);
	x_null->nulltesttype = IS_NULL;
	x_null->location = -1;
	return (Node *) makeBoolExpr(OR_EXPR, list_make3(eq, y_null, x_null), -1);
}

static void
write_in(PgtCompileCtx *ctx, SubLink *sl, bool negated, List *sublinks, int k, List **where)
{
	Query	   *sq = castNode(Query, sl->subselect);
	JsonWriter *w = ctx->w;
	OpExpr	   *op;
	Node	   *x;
	const PgtFnInfo *info;
	TargetEntry *tle;

	if (!IsA(sl->testexpr, OpExpr) || list_length(((OpExpr *) sl->testexpr)->args) != 2)
		pgt_reject("query construct", "IN / NOT IN subqueries over several columns");
	op = (OpExpr *) sl->testexpr;
	if (!IsA(lsecond(op->args), Param))
		pgt_reject("query construct", "IN / NOT IN subqueries with a converted column");
	x = linitial(op->args);
	set_opfuncid(op);
	info = pgt_lookup_function(op->opfuncid);
	if (info != NULL && (strcmp(info->fn, "eq") == 0) != (sl->subLinkType == ANY_SUBLINK))
		pgt_reject("query construct", "%s %s (subquery) (only = ANY, which is IN, and <> ALL, which is NOT IN)",
				   format_operator(op->opno), sl->subLinkType == ANY_SUBLINK ? "ANY" : "ALL");
	/* x <> ALL (S) is NOT (x = ANY (S)), NULLs included: NOT IN. */
	if (sl->subLinkType == ALL_SUBLINK)
	{
		if (info == NULL || strcmp(info->fn, "ne") != 0)
			pgt_reject("query construct", "%s ALL (subquery) (only <> ALL, which is NOT IN)",
					   format_operator(op->opno));
		negated = !negated;
		op = copyObject(op);	/* the = it negates */
		op->opno = get_negator(op->opno);
		op->opfuncid = get_opcode(op->opno);
		info = pgt_lookup_function(op->opfuncid);
	}
	if (info == NULL || strcmp(info->fn, "eq") != 0 ||
		pgt_key_family(exprType(x)) == 0 ||
		pgt_key_family(exprType(x)) != pgt_key_family(exprType(lsecond(op->args))))
		pgt_reject("query construct", "IN / NOT IN comparing %s with %s",
				   format_type_be(exprType(x)), format_type_be(exprType(lsecond(op->args))));
	if (pgt_key_family(exprType(x)) == 2)
		pgt_check_equality_collation(op->inputcollid, "IN subquery");
	tle = linitial_node(TargetEntry, sq->targetList);
	if (reads_level((Node *) sq, 1))
	{
		if (reads_level((Node *) tle->expr, 1))
			pgt_reject("query construct", "correlated references in the select list of an IN subquery");
		if (negated)
		{
			write_exists(ctx, sq, true, sublinks, k, where, NULL, NULL,
						 not_in_residual(op, x, (Node *) tle->expr));
			return;
		}
		write_exists(ctx, sq, false, sublinks, k, where, x, (Node *) tle->expr, NULL);
		return;
	}

	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", negated ? "anti_null_aware" : "semi");
	jw_key(w, "left");
	write_semi_left(ctx, sublinks, k - 1, where);
	jw_key(w, "right");
	(void) pgt_write_query_op(ctx->plan, sq);
	jw_key(w, "left_keys");
	jw_begin_array(w);
	pgt_compile_expr(ctx, x, PGT_EXPR_SCAN);
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	jw_begin_object(w);
	jw_kv_string(w, "kind", "col");
	jw_kv_int(w, "col", 0);
	jw_kv_int(w, "typoid", exprType((Node *) tle->expr));
	jw_end_object(w);
	jw_end_array(w);
	jw_key(w, "residual");
	jw_null(w);
	jw_end_object(w);
}

/* Semi joins 0..k-1 wrapped around the FROM tree, the k-th outermost. */
static void
write_semis(PgtCompileCtx *ctx, List *sublinks, int k, List **where)
{
	bool		negated;
	SubLink    *sl = semi_sublink(list_nth(sublinks, k - 1), &negated);

	if (sl->subLinkType == EXISTS_SUBLINK)
		write_exists(ctx, castNode(Query, sl->subselect), negated, sublinks, k, where, NULL, NULL, NULL);
	else
		write_in(ctx, sl, negated, sublinks, k, where);
}

/*
 * Writes the FROM tree with the given WHERE conjuncts: filter(semi joins(joins)) where the
 * filter holds the conjuncts not used as join keys or semi joins (omitted when none).
 */
void
pgt_write_from_where(PgtCompileCtx *ctx, List *conjuncts)
{
	List	   *where = NIL;
	List	   *sublinks = NIL;
	JsonWriter *w = ctx->w;
	StringInfoData saved;
	JsonWriter	inner;
	JsonWriter *plan_w = ctx->plan->w;
	ListCell   *lc;

	foreach(lc, conjuncts)
	{
		bool		negated;

		if (semi_sublink(lfirst(lc), &negated))
			sublinks = lappend(sublinks, lfirst(lc));
		else
			where = lappend(where, lfirst(lc));
	}

	/*
	 * The filter wraps the joins but its predicate depends on which conjuncts
	 * the joins took: write the joins into a side buffer first.
	 */
	initStringInfo(&saved);
	jw_init(&inner, &saved);
	ctx->w = &inner;
	ctx->plan->w = &inner;		/* subqueries in FROM write through the plan */
	write_semi_left(ctx, sublinks, list_length(sublinks), &where);
	ctx->w = w;
	ctx->plan->w = plan_w;
	if (where == NIL)
	{
		jw_raw(w, saved.data);
		return;
	}
	jw_begin_object(w);
	jw_kv_string(w, "op", "filter");
	jw_key(w, "input");
	jw_raw(w, saved.data);
	jw_key(w, "predicate");
	pgt_compile_expr(ctx, (Node *) make_ands_explicit(where), PGT_EXPR_SCAN);
	jw_end_object(w);
}

/* The FROM tree with the query's WHERE clause. */
void
pgt_write_from(PgtCompileCtx *ctx)
{
	pgt_write_from_where(ctx, make_ands_implicit((Expr *) ctx->query->jointree->quals));
}
