/*
 * types.c: the value types of the stream: names, checks of a value against
 * its type (see types.h).
 */
#include <stdint.h>
#include <string.h>

#include "types.h"
#include "dms.h"

static const char *const type_names[DT_COUNT] = {
	[DT_UNKNOWN] = "unknown",
	[DT_BOOLEAN] = "boolean",
	[DT_INT1] = "int1", [DT_INT2] = "int2", [DT_INT4] = "int4", [DT_INT8] = "int8",
	[DT_UINT1] = "uint1", [DT_UINT2] = "uint2", [DT_UINT4] = "uint4", [DT_UINT8] = "uint8",
	[DT_REAL4] = "real4", [DT_REAL8] = "real8",
	[DT_NUMERIC] = "numeric",
	[DT_STRING] = "string", [DT_WSTRING] = "wstring", [DT_CLOB] = "clob", [DT_NCLOB] = "nclob",
	[DT_BYTES] = "bytes", [DT_BLOB] = "blob",
	[DT_DATE] = "date", [DT_TIME] = "time", [DT_DATETIME] = "datetime",
	[DT_DATETIMETZ] = "datetimetz",
	[DT_JSON] = "json", [DT_UUID] = "uuid", [DT_INTERVAL] = "interval",
};

enum dms_type
dms_type_from_name(const char *name, size_t len)
{
	for (int t = 1; t < DT_COUNT; t++)
		if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
			return (enum dms_type)t;
	return DT_UNKNOWN;
}

const char *
dms_type_name(enum dms_type t)
{
	return (unsigned)t < DT_COUNT ? type_names[t] : "unknown";
}

bool
dms_type_is_text(enum dms_type t)
{
	return t == DT_NUMERIC || (t >= DT_STRING && t <= DT_NCLOB) ||
	       (t >= DT_DATE && t <= DT_INTERVAL);
}

bool
dms_type_is_lob(enum dms_type t)
{
	return t == DT_CLOB || t == DT_NCLOB || t == DT_BLOB;
}

static bool
int_in(const struct mp_item *it, int64_t lo, int64_t hi)
{
	if (it->type == MP_INT)
		return it->v.i >= lo;
	return it->v.u <= (uint64_t)hi;
}

bool
dms_type_check(enum dms_type t, const struct mp_item *it, const char **why)
{
	switch (t) {
	case DT_UNKNOWN:
		return true;
	case DT_BOOLEAN:
		*why = "a bool";
		return it->type == MP_BOOL;
	case DT_INT1:
	case DT_INT2:
	case DT_INT4:
	case DT_INT8:
	case DT_UINT1:
	case DT_UINT2:
	case DT_UINT4:
	case DT_UINT8: {
		static const int64_t lo[] = { INT8_MIN, INT16_MIN, INT32_MIN, INT64_MIN, 0, 0, 0, 0 };
		static const int64_t hi[] = { INT8_MAX, INT16_MAX, INT32_MAX, INT64_MAX,
					      UINT8_MAX, UINT16_MAX, UINT32_MAX, INT64_MAX };
		int k = t - DT_INT1;

		if (it->type != MP_INT && it->type != MP_UINT) {
			*why = "an integer";
			return false;
		}
		*why = "an integer in the type's range";
		if (t == DT_UINT8)
			return it->type == MP_UINT;
		return int_in(it, lo[k], hi[k]);
	}
	case DT_REAL4:
	case DT_REAL8:
		*why = "a float";
		return it->type == MP_FLOAT32 || it->type == MP_FLOAT64;
	case DT_BYTES:
	case DT_BLOB:
		*why = "a bin";
		return it->type == MP_BIN;
	default:
		*why = "a str";
		return it->type == MP_STR;
	}
}

/* Days since 1970-01-01 <-> civil dates (Howard Hinnant's algorithms), for any int64 day. */
void
dms_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int64_t
dms_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}
