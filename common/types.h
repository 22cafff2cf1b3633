/*
 * types.h: the value types of the stream (dms-stream(5), "Values, by type").
 * They are AWS DMS's data types plus datetimetz, json, uuid and interval.
 */
#ifndef DMS_TYPES_H
#define DMS_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp.h"

enum dms_type {
	DT_UNKNOWN = 0,		/* a name this version does not know: values unchecked */
	DT_BOOLEAN,
	DT_INT1, DT_INT2, DT_INT4, DT_INT8,
	DT_UINT1, DT_UINT2, DT_UINT4, DT_UINT8,
	DT_REAL4, DT_REAL8,
	DT_NUMERIC,
	DT_STRING, DT_WSTRING, DT_CLOB, DT_NCLOB,
	DT_BYTES, DT_BLOB,
	DT_DATE, DT_TIME, DT_DATETIME, DT_DATETIMETZ,
	DT_JSON, DT_UUID, DT_INTERVAL,
	DT_COUNT
};

enum dms_type dms_type_from_name(const char *name, size_t len);
const char *dms_type_name(enum dms_type t);
/* True for the types whose values are str (numeric, text, dates, json, ...). */
bool dms_type_is_text(enum dms_type t);
/* True for the LOB types: clob, nclob, blob. */
bool dms_type_is_lob(enum dms_type t);
/*
 * Checks that a non-nil value suits the type; *why says what was expected.
 * The item must come from mp_next (arrays and maps are never values).
 */
bool dms_type_check(enum dms_type t, const struct mp_item *it, const char **why);
/* Days since 1970-01-01 from a civil date, and back (proleptic Gregorian). */
int64_t dms_days_from_civil(int64_t y, unsigned m, unsigned d);
void dms_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
