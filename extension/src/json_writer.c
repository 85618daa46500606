/*-------------------------------------------------------------------------
 * json_writer.c
 *    A small streaming JSON writer over a StringInfo (see json_writer.h).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/json.h"

#include "json_writer.h"

void
jw_init(JsonWriter *w, StringInfo buf)
{
	w->buf = buf;
	w->depth = 0;
	w->after_key = false;
	w->need_comma[0] = false;
}

/* Called before every value: separators and sanity checks. */
static void
jw_before_value(JsonWriter *w)
{
	if (w->after_key)
	{
		w->after_key = false;
		return;
	}
	if (w->depth > 0 && w->closer[w->depth - 1] == '}')
		elog(ERROR, "json writer: value without a key inside an object");
	if (w->depth == 0 && w->need_comma[0])
		elog(ERROR, "json writer: more than one top-level value");
	if (w->need_comma[w->depth])
		appendStringInfoChar(w->buf, ',');
	w->need_comma[w->depth] = true;
}

static void
jw_open(JsonWriter *w, char opener, char closer)
{
	jw_before_value(w);
	if (w->depth + 1 >= JW_MAX_DEPTH)
		elog(ERROR, "json writer: nesting too deep");
	appendStringInfoChar(w->buf, opener);
	w->closer[w->depth] = closer;
	w->depth++;
	w->need_comma[w->depth] = false;
}

static void
jw_close(JsonWriter *w, char closer)
{
	if (w->depth == 0 || w->closer[w->depth - 1] != closer || w->after_key)
		elog(ERROR, "json writer: unbalanced '%c'", closer);
	w->depth--;
	appendStringInfoChar(w->buf, closer);
}

void
jw_begin_object(JsonWriter *w)
{
	jw_open(w, '{', '}');
}

void
jw_end_object(JsonWriter *w)
{
	jw_close(w, '}');
}

void
jw_begin_array(JsonWriter *w)
{
	jw_open(w, '[', ']');
}

void
jw_end_array(JsonWriter *w)
{
	jw_close(w, ']');
}

void
jw_key(JsonWriter *w, const char *key)
{
	if (w->depth == 0 || w->closer[w->depth - 1] != '}' || w->after_key)
		elog(ERROR, "json writer: key \"%s\" outside an object", key);
	if (w->need_comma[w->depth])
		appendStringInfoChar(w->buf, ',');
	w->need_comma[w->depth] = true;
	escape_json(w->buf, key);
	appendStringInfoChar(w->buf, ':');
	w->after_key = true;
}

void
jw_string(JsonWriter *w, const char *value)
{
	jw_before_value(w);
	escape_json(w->buf, value);
}

void
jw_int(JsonWriter *w, int64 value)
{
	jw_before_value(w);
	appendStringInfo(w->buf, INT64_FORMAT, value);
}

void
jw_bool(JsonWriter *w, bool value)
{
	jw_before_value(w);
	appendStringInfoString(w->buf, value ? "true" : "false");
}

void
jw_null(JsonWriter *w)
{
	jw_before_value(w);
	appendStringInfoString(w->buf, "null");
}

void
jw_kv_string(JsonWriter *w, const char *key, const char *value)
{
	jw_key(w, key);
	if (value)
		jw_string(w, value);
	else
		jw_null(w);
}

void
jw_kv_int(JsonWriter *w, const char *key, int64 value)
{
	jw_key(w, key);
	jw_int(w, value);
}

void
jw_kv_bool(JsonWriter *w, const char *key, bool value)
{
	jw_key(w, key);
	jw_bool(w, value);
}

char *
jw_finish(JsonWriter *w)
{
	if (w->depth != 0 || w->after_key)
		elog(ERROR, "json writer: document not closed");
	return w->buf->data;
}

/* A value already serialized as JSON (e.g. written into another buffer). */
void
jw_raw(JsonWriter *w, const char *json)
{
	jw_before_value(w);
	appendStringInfoString(w->buf, json);
}
