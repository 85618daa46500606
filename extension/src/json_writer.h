/*-------------------------------------------------------------------------
 * json_writer.h
 *    A small streaming JSON writer over a StringInfo.
 *
 * The caller opens and closes objects/arrays in order; the writer inserts
 * commas and escapes strings (escape_json). Nesting errors are programming
 * errors (elog). Memory: everything is palloc'd in the current context.
 *-------------------------------------------------------------------------
 */
#ifndef PGT_JSON_WRITER_H
#define PGT_JSON_WRITER_H

#include "postgres.h"

#include "lib/stringinfo.h"

#define JW_MAX_DEPTH 128

typedef struct JsonWriter
{
	StringInfo	buf;
	int			depth;
	bool		after_key;		/* a key was written, its value comes next */
	bool		need_comma[JW_MAX_DEPTH];
	char		closer[JW_MAX_DEPTH];
} JsonWriter;

extern void jw_init(JsonWriter *w, StringInfo buf);
extern void jw_begin_object(JsonWriter *w);
extern void jw_end_object(JsonWriter *w);
extern void jw_begin_array(JsonWriter *w);
extern void jw_end_array(JsonWriter *w);
extern void jw_key(JsonWriter *w, const char *key);
extern void jw_string(JsonWriter *w, const char *value);
extern void jw_int(JsonWriter *w, int64 value);
extern void jw_bool(JsonWriter *w, bool value);
extern void jw_null(JsonWriter *w);
extern void jw_raw(JsonWriter *w, const char *json);

/* key + value shorthands */
extern void jw_kv_string(JsonWriter *w, const char *key, const char *value);
extern void jw_kv_int(JsonWriter *w, const char *key, int64 value);
extern void jw_kv_bool(JsonWriter *w, const char *key, bool value);

/* Checks that every object/array was closed; returns the text. */
extern char *jw_finish(JsonWriter *w);

#endif							/* PGT_JSON_WRITER_H */
