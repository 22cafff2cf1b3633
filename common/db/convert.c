/*
 * convert.c: a column's text, as the source's client library gives it, into
 * the stream's canonical value (dms-stream(5)).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "convert.h"
#include "../dms.h"

bool
convert_value(msgpack_packer *pk, const struct src_table *t, uint32_t col, char *text, size_t len)
{
	const struct dms_column *c = &t->d.cols[col];
	enum conv conv = t->read[col].conv;
	char *end;

	switch (conv) {
	case CONV_TEXT:
		pk_strn(pk, text, len);
		return true;
	case CONV_BOOL:
		if (len == 1 && (text[0] == 't' || text[0] == '1'))
			msgpack_pack_true(pk);
		else if (len == 1 && (text[0] == 'f' || text[0] == '0'))
			msgpack_pack_false(pk);
		else
			break;
		return true;
	case CONV_INT: {
		long long v;

		errno = 0;
		v = strtoll(text, &end, 10);
		if (errno || end != text + len || len == 0)
			break;
		msgpack_pack_int64(pk, v);
		return true;
	}
	case CONV_UINT: {
		unsigned long long v;

		errno = 0;
		v = strtoull(text, &end, 10);
		if (errno || end != text + len || len == 0 || text[0] == '-')
			break;
		msgpack_pack_uint64(pk, v);
		return true;
	}
	case CONV_FLOAT4:
	case CONV_FLOAT8: {
		double v;

		errno = 0;
		v = strtod(text, &end);
		if (end != text + len || len == 0)
			break;
		if (conv == CONV_FLOAT4)
			msgpack_pack_float(pk, (float)v);
		else
			msgpack_pack_double(pk, v);
		return true;
	}
	case CONV_BYTEA_HEX: {
		size_t n = (len - 2) / 2;

		if (len < 2 || text[0] != '\\' || text[1] != 'x' || len % 2 != 0)
			break;
		for (size_t i = 0; i < n; i++) {
			int h = hex_digit(text[2 + 2 * i]), l = hex_digit(text[3 + 2 * i]);

			if (h < 0 || l < 0)
				goto bad;
			text[i] = (char)(h << 4 | l);
		}
		msgpack_pack_bin(pk, n);
		msgpack_pack_bin_body(pk, text, n);
		return true;
	}
	case CONV_BINARY:
		msgpack_pack_bin(pk, len);
		msgpack_pack_bin_body(pk, text, len);
		return true;
	case CONV_TIMESTAMP_UTC:
		msgpack_pack_str(pk, len + 3);
		msgpack_pack_str_body(pk, text, len);
		msgpack_pack_str_body(pk, "+00", 3);
		return true;
	}
bad:
	log_error("%s.%s column %s (%s): cannot read the value '%.*s'", t->d.schema, t->d.name, c->name,
		  c->native ? c->native : dms_type_name(c->type), (int)(len > 60 ? 60 : len), text);
	return false;
}
