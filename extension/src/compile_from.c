/*-------------------------------------------------------------------------
 * compile_from.c
 *    The FROM clause → a tree of scan / subquery / join operators.
 *
 * Layout: every FROM item (base table, subquery in FROM, WITH query) gets a
 * contiguous range of columns in the "FROM row", in FROM order: a table's
 * columns are its attributes (attnum i at offset + i − 1), a subquery's its
 * output columns. A join's output row is its left input's row followed by its
 * right input's, so every join subtree covers a contiguous range too, and an
 * expression over the FROM row reads column offset(varno) + attno − 1.
 *
 * Joins: JOIN … ON (inner, LEFT, RIGHT, FULL; USING and NATURAL through the
 * analyzer's join quals) and comma-separated FROM items (inner joins,
 * left-deep in FROM order). Conjuncts `l = r` where l reads only the left
 * input and r only the right one (types compared by value: integers and
 * numeric, text and varchar, bool, date, timestamp) become the join's
 * equi-keys, looked up in arrangements; the other ON conjuncts are its
 * residual condition. For comma joins, WHERE equalities between the items
 * become keys and the rest of WHERE stays a filter above the joins. A join
 * without equality (CROSS JOIN) is maintained too, at the cost of visiting
 * the whole other side for every change: meant for small tables.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compiler_internal.h"

static bool reads_level(Node *node, int level);

/* Column span [lo, hi) of the FROM row covered by a FROM item or join. */
typedef struct Span
{
	int			lo;
	int			hi;
} Span;

static Query *
cte_query(PgtCompileCtx *ctx, RangeTblEntry *rte)
{
	Query	   *owner;
	ListCell   *lc;

	if ((int) rte->ctelevelsup >= list_length(ctx->plan->query_stack))
		elog(ERROR, "CTE level out of range");
	owner = list_nth(ctx->plan->query_stack, rte->ctelevelsup);
	foreach(lc, owner->cteList)
	{
		CommonTableExpr *cte = lfirst_node(CommonTableExpr, lc);

		if (strcmp(cte->ctename, rte->ctename) == 0)
		{
			if (cte->cterecursive)
				pgt_reject("query construct", "recursive WITH queries (\"%s\")", cte->ctename);
			if (!IsA(cte->ctequery, Query) || castNode(Query, cte->ctequery)->commandType != CMD_SELECT)
				pgt_reject("query construct", "data-modifying WITH queries (\"%s\")", cte->ctename);
			return castNode(Query, cte->ctequery);
		}
	}
	elog(ERROR, "CTE \"%s\" not found", rte->ctename);
}

static int
rte_width(PgtCompileCtx *ctx, RangeTblEntry *rte)
{
	if (rte->lateral)
		pgt_reject("query construct", "LATERAL");
	switch (rte->rtekind)
	{
		case RTE_RELATION:
			{
				int			i = pgt_add_source(ctx->plan, rte);

				return ((PgtSourceInfo *) list_nth(ctx->plan->sources, i))->natts;
			}
		case RTE_SUBQUERY:
			return pgt_query_width(rte->subquery);
		case RTE_CTE:
			return pgt_query_width(cte_query(ctx, rte));
		default:
			pgt_reject("query construct", "%s", pgt_rte_kind_name(rte));
	}
}

static Span
layout_node(PgtCompileCtx *ctx, Node *n, int offset)
{
	Span		s;

	if (IsA(n, RangeTblRef))
	{
		int			idx = ((RangeTblRef *) n)->rtindex;

		ctx->rt_offset[idx] = offset;
		ctx->rt_width[idx] = rte_width(ctx, rt_fetch(idx, ctx->query->rtable));
		s.lo = offset;
		s.hi = offset + ctx->rt_width[idx];
		return s;
	}
	if (IsA(n, JoinExpr))
	{
		JoinExpr   *j = (JoinExpr *) n;
		Span		l = layout_node(ctx, j->larg, offset);
		Span		r = layout_node(ctx, j->rarg, l.hi);

		ctx->rt_offset[j->rtindex] = offset;
		ctx->rt_width[j->rtindex] = r.hi - offset;
		s.lo = offset;
		s.hi = r.hi;
		return s;
	}
	elog(ERROR, "unexpected FROM item node %d", (int) nodeTag(n));
}

/* Assigns the FROM row's layout (rt_offset / rt_width). */
void
pgt_layout_from(PgtCompileCtx *ctx)
{
	FromExpr   *jt = ctx->query->jointree;
	int			offset = 0;
	ListCell   *lc;

	if (jt == NULL || jt->fromlist == NIL)
		pgt_reject("query construct", "queries without FROM");
	foreach(lc, jt->fromlist)
		offset = layout_node(ctx, lfirst(lc), offset).hi;
	ctx->items_width = offset;
	ctx->from_width = offset + list_length(ctx->scalars);
}

/* ---------------------------------------------------------------- scalar subqueries
 *
 * An uncorrelated scalar subquery that is an aggregate without GROUP BY / HAVING always yields
 * exactly one row: it is cross-joined to the FROM row as one more column (when its value
 * changes every row of the query is re-derived — exact, and meant for small results). Other
 * scalar subqueries (which may yield zero or several rows, or are correlated) are rejected.
 */
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
			pgt_reject("query construct", "correlated scalar subqueries");
		if (!list_member_ptr(ctx->scalars, sl))
			ctx->scalars = lappend(ctx->scalars, sl);
		return false;
	}
	if (IsA(node, SubLink))
		return false;			/* EXISTS / IN: semi joins, or rejected later */
	return expression_tree_walker(node, collect_scalars_walker, (void *) ctx);
}

/* Collects the scalar subqueries of WHERE and (ungrouped) target list; call before layout. */
void
pgt_collect_scalars(PgtCompileCtx *ctx)
{
	(void) collect_scalars_walker(ctx->query->jointree->quals, ctx);
	(void) collect_scalars_walker((Node *) ctx->query->targetList, ctx);
}

/* Column of a scalar subquery in the FROM row, or -1. */
int
pgt_scalar_column(PgtCompileCtx *ctx, SubLink *sl)
{
	int			i = 0;
	ListCell   *lc;

	foreach(lc, ctx->scalars)
	{
		if (lfirst(lc) == sl)
			return ctx->items_width + i;
		i++;
	}
	return -1;
}

static Span
span_of(PgtCompileCtx *ctx, Node *n)
{
	int			idx = IsA(n, RangeTblRef) ? ((RangeTblRef *) n)->rtindex : ((JoinExpr *) n)->rtindex;
	Span		s;

	s.lo = ctx->rt_offset[idx];
	s.hi = s.lo + ctx->rt_width[idx];
	return s;
}

typedef struct ColRange
{
	PgtCompileCtx *ctx;
	int			lo;
	int			hi;				/* lo > hi: no column read */
} ColRange;

static bool
col_range_walker(Node *node, ColRange *r)
{
	if (node == NULL || IsA(node, Query))
		return false;			/* a subquery's columns are not the FROM row's */
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *v = (Var *) node;
		int			col = r->ctx->rt_offset[v->varno] + v->varattno - 1;

		r->lo = Min(r->lo, col);
		r->hi = Max(r->hi, col + 1);
		return false;
	}
	return expression_tree_walker(node, col_range_walker, (void *) r);
}

static bool
within(PgtCompileCtx *ctx, Node *expr, Span s)
{
	ColRange	r = {ctx, INT_MAX, INT_MIN};

	(void) col_range_walker(expr, &r);
	return r.lo <= r.hi && r.lo >= s.lo && r.hi <= s.hi;
}

/* Types whose values the engine's join keys compare exactly as `=` does. */
static int
key_family(Oid typoid)
{
	switch (typoid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case NUMERICOID:
			return 1;
		case TEXTOID:
		case VARCHAROID:
			return 2;
		case BOOLOID:
			return 3;
		case DATEOID:
			return 4;
		case TIMESTAMPOID:
			return 5;
		case FLOAT8OID:
			return 6;
		default:
			return 0;
	}
}

/*
 * Whether a conjunct is `a = b` with a over `left` and b over `right` (or
 * swapped); sets *lexpr, *rexpr.
 */
static bool
equi_key(PgtCompileCtx *ctx, Node *conj, Span left, Span right, Node **lexpr, Node **rexpr)
{
	OpExpr	   *op;
	const PgtFnInfo *info;
	Node	   *a,
			   *b;

	if (!IsA(conj, OpExpr))
		return false;
	op = (OpExpr *) conj;
	if (list_length(op->args) != 2)
		return false;
	set_opfuncid(op);
	info = pgt_lookup_function(op->opfuncid);
	if (info == NULL || strcmp(info->fn, "eq") != 0)
		return false;
	a = linitial(op->args);
	b = lsecond(op->args);
	if (key_family(exprType(a)) == 0 || key_family(exprType(a)) != key_family(exprType(b)))
		return false;
	if (key_family(exprType(a)) == 2)
		pgt_check_equality_collation(op->inputcollid, "join condition");
	if (within(ctx, a, left) && within(ctx, b, right))
	{
		*lexpr = a;
		*rexpr = b;
		return true;
	}
	if (within(ctx, b, left) && within(ctx, a, right))
	{
		*lexpr = b;
		*rexpr = a;
		return true;
	}
	return false;
}

static void write_node(PgtCompileCtx *ctx, Node *n);
static void write_chain(PgtCompileCtx *ctx, List *items, int k, List **where);

/* What a join's left input is: a FROM node, or the first k comma items. */
typedef struct LeftInput
{
	Node	   *node;
	List	   *items;
	int			k;
	List	  **where;
} LeftInput;

static void
write_expr_at(PgtCompileCtx *ctx, Node *e, int base)
{
	int			save = ctx->base;

	ctx->base = base;
	pgt_compile_expr(ctx, e, PGT_EXPR_SCAN);
	ctx->base = save;
}

/*
 * {"op": "join", "kind", "left", "right", "left_keys", "right_keys",
 *  "residual"}; `conjuncts` are the join's conditions (ON, or the WHERE
 * conjuncts assigned to this level of a comma join).
 */
static void
write_join(PgtCompileCtx *ctx, const char *kind, LeftInput *larg, Node *rarg,
		   Span left, Span right, List *conjuncts)
{
	JsonWriter *w = ctx->w;
	List	   *lkeys = NIL,
			   *rkeys = NIL,
			   *residual = NIL;
	ListCell   *lc;

	foreach(lc, conjuncts)
	{
		Node	   *l,
				   *r;

		if (equi_key(ctx, lfirst(lc), left, right, &l, &r))
		{
			lkeys = lappend(lkeys, l);
			rkeys = lappend(rkeys, r);
		}
		else
			residual = lappend(residual, lfirst(lc));
	}
	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", kind);
	jw_key(w, "left");
	if (larg->node)
		write_node(ctx, larg->node);
	else
		write_chain(ctx, larg->items, larg->k, larg->where);
	jw_key(w, "right");
	write_node(ctx, rarg);
	jw_key(w, "left_keys");
	jw_begin_array(w);
	foreach(lc, lkeys)
		write_expr_at(ctx, lfirst(lc), left.lo);
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	foreach(lc, rkeys)
		write_expr_at(ctx, lfirst(lc), right.lo);
	jw_end_array(w);
	jw_key(w, "residual");
	if (residual == NIL)
		jw_null(w);
	else
		write_expr_at(ctx, (Node *) make_ands_explicit(residual), left.lo);
	jw_end_object(w);
}

static void
write_rte(PgtCompileCtx *ctx, int idx)
{
	RangeTblEntry *rte = rt_fetch(idx, ctx->query->rtable);

	if (rte->rtekind == RTE_RELATION)
	{
		jw_begin_object(ctx->w);
		jw_kv_string(ctx->w, "op", "scan");
		jw_kv_int(ctx->w, "source", pgt_add_source(ctx->plan, rte));
		jw_end_object(ctx->w);
	}
	else if (rte->rtekind == RTE_SUBQUERY)
		(void) pgt_write_query_op(ctx->plan, rte->subquery);
	else
		(void) pgt_write_query_op(ctx->plan, cte_query(ctx, rte));
}

static const char *
join_kind(JoinType t)
{
	switch (t)
	{
		case JOIN_INNER:
			return "inner";
		case JOIN_LEFT:
			return "left";
		case JOIN_RIGHT:
			return "right";
		case JOIN_FULL:
			return "full";
		default:
			pgt_reject("query construct", "join type %d", (int) t);
	}
}

static void
write_node(PgtCompileCtx *ctx, Node *n)
{
	JoinExpr   *j;
	LeftInput	l = {0};

	if (IsA(n, RangeTblRef))
	{
		write_rte(ctx, ((RangeTblRef *) n)->rtindex);
		return;
	}
	j = castNode(JoinExpr, n);
	l.node = j->larg;
	write_join(ctx, join_kind(j->jointype), &l, j->rarg,
			   span_of(ctx, j->larg), span_of(ctx, j->rarg),
			   make_ands_implicit((Expr *) j->quals));
}

/*
 * Comma-separated FROM items 0..k joined left-deep. WHERE equalities between
 * items 0..k-1 and item k become the conditions of the join with item k
 * (removed from *where); the rest of WHERE stays a filter above the joins.
 */
static void
write_chain(PgtCompileCtx *ctx, List *items, int k, List **where)
{
	Span		left,
				right;
	List	   *mine = NIL;
	List	   *rest = NIL;
	ListCell   *lc;
	LeftInput	l = {0};

	if (k == 0)
	{
		write_node(ctx, linitial(items));
		return;
	}
	left.lo = span_of(ctx, linitial(items)).lo;
	left.hi = span_of(ctx, list_nth(items, k - 1)).hi;
	right = span_of(ctx, list_nth(items, k));
	foreach(lc, *where)
	{
		Node	   *a,
				   *b;

		if (equi_key(ctx, lfirst(lc), left, right, &a, &b))
			mine = lappend(mine, lfirst(lc));
		else
			rest = lappend(rest, lfirst(lc));
	}
	*where = rest;
	l.items = items;
	l.k = k - 1;
	l.where = where;
	write_join(ctx, "inner", &l, list_nth(items, k), left, right, mine);
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
		 ((SubLink *) conj)->subLinkType == ANY_SUBLINK))
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

/* The left input of a semi join: the FROM tree (with its joins) or the semi joins below it. */
/* The FROM items' joins cross-joined with scalar subqueries 0..n-1. */
static void
write_scalars(PgtCompileCtx *ctx, int n, List **where)
{
	JsonWriter *w = ctx->w;
	SubLink    *sl;

	if (n == 0)
	{
		write_chain(ctx, ctx->query->jointree->fromlist,
					list_length(ctx->query->jointree->fromlist) - 1, where);
		return;
	}
	sl = list_nth(ctx->scalars, n - 1);
	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", "inner");
	jw_key(w, "left");
	write_scalars(ctx, n - 1, where);
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

static void
write_exists(PgtCompileCtx *ctx, Query *sq, bool negated, List *sublinks, int k, List **where)
{
	PgtCompileCtx sctx;
	JsonWriter *w = ctx->w;
	int			nrt = list_length(sq->rtable) + 1;
	List	   *inner = NIL,
			   *lkeys = NIL,
			   *rkeys = NIL,
			   *residual = NIL;
	List	   *conjs;
	ListCell   *lc;
	Span		left = {0, ctx->from_width};

	check_exists_subquery(sq);
	sq->jointree = (FromExpr *) flatten_join_alias_vars(sq, (Node *) sq->jointree);
	memset(&sctx, 0, sizeof(sctx));
	sctx.plan = ctx->plan;
	sctx.query = sq;
	sctx.w = w;
	sctx.rt_offset = palloc0(sizeof(int) * nrt);
	sctx.rt_width = palloc0(sizeof(int) * nrt);
	sctx.outer = ctx;
	ctx->plan->query_stack = lcons(sq, ctx->plan->query_stack);
	pgt_layout_from(&sctx);

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
				key_family(exprType(a)) != 0 && key_family(exprType(a)) == key_family(exprType(b)))
			{
				if (key_family(exprType(a)) == 2)
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

	jw_begin_object(w);
	jw_kv_string(w, "op", "join");
	jw_kv_string(w, "kind", negated ? "anti" : "semi");
	jw_key(w, "left");
	write_semi_left(ctx, sublinks, k - 1, where);
	jw_key(w, "right");
	pgt_write_from_where(&sctx, inner);
	jw_key(w, "left_keys");
	jw_begin_array(w);
	foreach(lc, lkeys)
		pgt_compile_expr(&sctx, lfirst(lc), PGT_EXPR_SCAN);	/* level-1 Vars: outer row */
	jw_end_array(w);
	jw_key(w, "right_keys");
	jw_begin_array(w);
	foreach(lc, rkeys)
		pgt_compile_expr(&sctx, lfirst(lc), PGT_EXPR_SCAN);
	jw_end_array(w);
	jw_key(w, "residual");
	if (residual == NIL)
		jw_null(w);
	else
	{
		sctx.base = -left.hi;	/* inner columns follow the outer row */
		pgt_compile_expr(&sctx, (Node *) make_ands_explicit(residual), PGT_EXPR_SCAN);
		sctx.base = 0;
	}
	jw_end_object(w);
	ctx->plan->query_stack = list_delete_first(ctx->plan->query_stack);
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
	if (info == NULL || strcmp(info->fn, "eq") != 0 ||
		key_family(exprType(x)) == 0 ||
		key_family(exprType(x)) != key_family(exprType(lsecond(op->args))))
		pgt_reject("query construct", "IN / NOT IN comparing %s with %s",
				   format_type_be(exprType(x)), format_type_be(exprType(lsecond(op->args))));
	if (key_family(exprType(x)) == 2)
		pgt_check_equality_collation(op->inputcollid, "IN subquery");
	if (reads_level((Node *) sq, 1))
		pgt_reject("query construct", "correlated IN / NOT IN subqueries (use EXISTS)");
	tle = linitial_node(TargetEntry, sq->targetList);

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
		write_exists(ctx, castNode(Query, sl->subselect), negated, sublinks, k, where);
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
