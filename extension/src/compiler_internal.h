/*-------------------------------------------------------------------------
 * compiler_internal.h
 *    Declarations shared by the compile_*.c files (see compiler.h).
 *-------------------------------------------------------------------------
 */
#ifndef PGT_COMPILER_INTERNAL_H
#define PGT_COMPILER_INTERNAL_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"

#include "compiler.h"
#include "json_writer.h"

/*
 * Where an expression is evaluated:
 *   SCAN        over rows of the FROM clause (every FROM item's columns, in
 *               FROM order; see compile_from.c): WHERE, join conditions,
 *               projections, GROUP BY keys, aggregate arguments;
 *   AGG_OUTPUT  over rows of the aggregate operator (group keys, then
 *               aggregates): the target list of a grouped query.
 */
typedef enum PgtExprMode
{
	PGT_EXPR_SCAN,
	PGT_EXPR_AGG_OUTPUT
} PgtExprMode;

/* One per stream table: the sources found so far (plan "sources"). */
typedef struct PgtPlanCtx
{
	JsonWriter *w;
	List	   *sources;		/* PgtSourceInfo *, unique relids, plan order */
	List	   *query_stack;	/* Query *, innermost first (CTE lookup) */
} PgtPlanCtx;

/* One per Query level being compiled. */
typedef struct PgtCompileCtx
{
	PgtPlanCtx *plan;
	Query	   *query;
	JsonWriter *w;
	int		   *rt_offset;		/* per rtindex: first column in the FROM row */
	int		   *rt_width;		/* per rtindex: number of columns */
	int			base;			/* column positions are relative to this */
	bool		grouped;		/* aggregate operator present */
	List	   *group_exprs;	/* Expr *, aggregate output columns 0..n-1 */
	List	   *aggrefs;		/* Aggref *, aggregate output columns n.. */
	Node	   *case_test;		/* the operand of the simple CASE being compiled */
	int			from_width;		/* columns of the FROM row (scalar subqueries last) */
	int			items_width;	/* columns of the FROM items alone */
	List	   *scalars;		/* SubLink *: scalar subqueries, FROM row columns items_width.. */
	struct PgtCompileCtx *outer;	/* EXISTS subquery: the query it is correlated with */
} PgtCompileCtx;

/* compile_types.c */
extern void pgt_reject(const char *category, const char *fmt,...)
			pg_attribute_printf(2, 3) pg_attribute_noreturn();
extern bool pgt_type_supported(Oid typoid);
extern bool pgt_type_is_text(Oid typoid);
extern void pgt_check_ordering_collation(Oid collid, const char *what);
extern void pgt_check_equality_collation(Oid collid, const char *what);

/* compile_source.c */
extern int	pgt_add_source(PgtPlanCtx *plan, RangeTblEntry *rte);
extern void pgt_write_source(JsonWriter *w, PgtSourceInfo *src);
extern const char *pgt_rte_kind_name(RangeTblEntry *rte);

/* compile_query.c */
extern int	pgt_write_query_op(PgtPlanCtx *plan, Query *q);
extern int	pgt_query_width(Query *q);

/* compile_from.c */
extern void pgt_layout_from(PgtCompileCtx *ctx);
extern void pgt_write_from_items(PgtCompileCtx *ctx, List **where);
extern int	pgt_key_family(Oid typoid);

/* compile_sublink.c */
extern void pgt_write_from(PgtCompileCtx *ctx);
extern void pgt_collect_scalars(PgtCompileCtx *ctx);
extern int	pgt_scalar_column(PgtCompileCtx *ctx, SubLink *sl);
extern int	pgt_scalars_width(PgtCompileCtx *ctx);
extern bool pgt_write_scalar_ref(PgtCompileCtx *ctx, SubLink *sl);
extern void pgt_write_from_where(PgtCompileCtx *ctx, List *conjuncts);

/* compile_expr.c */
extern void pgt_compile_expr(PgtCompileCtx *ctx, Node *node, PgtExprMode mode);

/* compile_funcs.c */
typedef enum PgtFnClass
{
	PGT_FN_ARITH,
	PGT_FN_COMPARE,
	PGT_FN_CAST,
	PGT_FN_TEXT					/* {"kind": "func"}: text functions, LIKE */
} PgtFnClass;

typedef struct PgtFnInfo
{
	const char *fn;				/* plan "fn" */
	PgtFnClass	cls;
	int			nargs;			/* -1: checked by the engine (substr 2 or 3) */
	const char *prosrc;			/* plan "pg_fn" */
} PgtFnInfo;

extern const PgtFnInfo *pgt_lookup_function(Oid funcoid);

/* compile_agg.c */
extern List *pgt_collect_aggrefs(Node *node, List *found);
extern void pgt_write_aggregate(PgtCompileCtx *ctx, Aggref *agg);

#endif							/* PGT_COMPILER_INTERNAL_H */
