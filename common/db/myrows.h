/*
 * myrows.h: the row images of a MySQL or MariaDB binary log, decoded by a
 * decoder of our own (common/db/myrows.c, for dms-capture): Connector/C's
 * row extraction gets CHAR, ENUM, SET, TIME and TIMESTAMP wrong (cdc-notes
 * B), so the library only carries the events. Every read is bounds-checked: corrupt or
 * truncated event bytes are an error, never a crash.
 */
#ifndef DMS_DB_MYROWS_H
#define DMS_DB_MYROWS_H

#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "catalog.h"

/* Binary log column type codes (MySQL's enum_field_types). */
enum {
	MYT_DECIMAL = 0, MYT_TINY = 1, MYT_SHORT = 2, MYT_LONG = 3, MYT_FLOAT = 4, MYT_DOUBLE = 5,
	MYT_NULL = 6, MYT_TIMESTAMP = 7, MYT_LONGLONG = 8, MYT_INT24 = 9, MYT_DATE = 10, MYT_TIME = 11,
	MYT_DATETIME = 12, MYT_YEAR = 13, MYT_NEWDATE = 14, MYT_VARCHAR = 15, MYT_BIT = 16,
	MYT_TIMESTAMP2 = 17, MYT_DATETIME2 = 18, MYT_TIME2 = 19, MYT_JSON = 245, MYT_NEWDECIMAL = 246,
	MYT_ENUM = 247, MYT_SET = 248, MYT_TINY_BLOB = 249, MYT_MEDIUM_BLOB = 250, MYT_LONG_BLOB = 251,
	MYT_BLOB = 252, MYT_VAR_STRING = 253, MYT_STRING = 254, MYT_GEOMETRY = 255,
};

/* A column of a TABLE_MAP event. */
struct mycol {
	uint8_t type;		/* its type code; a STRING's real type (ENUM, SET, STRING) */
	uint16_t meta;		/* its metadata, decoded per type */
	int col;		/* the catalog column it fills; -1: none */
	bool is_unsigned;
	bool binary;		/* BINARY, VARBINARY, BLOB: bytes, no character set */
	iconv_t cd;		/* text in a character set other than UTF-8; (iconv_t)-1: none */
	char **labels;		/* ENUM and SET: the values, in order */
	uint32_t nlabels;
};

/* A table of the binary log (TABLE_MAP) matched with the catalog's description. */
struct mymap {
	uint64_t table_id;
	uint32_t ncols;
	struct mycol *cols;
	const struct src_table *t;	/* NULL: not captured */
};

/*
 * Reads a TABLE_MAP's column types and their packed metadata into m->cols
 * (m->ncols of them), each column's col -1. False: malformed (err says how).
 */
bool myrows_map(struct mymap *m, const uint8_t *types, size_t ntypes, const uint8_t *meta, size_t metalen,
		char *err, size_t errsize);
void myrows_map_free(struct mymap *m);

/*
 * Decodes one row image at *p (moved past it), present: the bitmap of the
 * columns the event carries. Packs an array of the catalog table's columns:
 * a column the image lacks is UNCHANGED in an after image (after), else nil.
 * False: malformed or a value the catalog's type cannot take (err says which
 * column and why); what was packed is then to be thrown away.
 */
bool myrows_row(const struct mymap *m, const uint8_t *present, const uint8_t **p, const uint8_t *end, bool after,
		msgpack_packer *pk, struct strbuf *scratch, char *err, size_t errsize);

/*
 * PARTIAL_UPDATE_ROWS (MySQL 8, binlog_row_value_options=PARTIAL_JSON): the
 * "shared image" between a row's before and after images, at *p (moved past
 * it): value_options, and when its bit 1 is set one bit per JSON column of
 * the table, set for a column whose after image is a diff to apply to the
 * before image's document rather than the whole value. partial[i] (one per
 * column of m->cols) is set for each such column. False: malformed (err).
 */
bool myrows_shared_image(const struct mymap *m, const uint8_t **p, const uint8_t *end, bool *partial, char *err,
			 size_t errsize);

/*
 * myrows_row with MySQL 8's partial JSON updates: json (when not NULL, one
 * per column of m->cols) receives each JSON column's text in this image
 * (NULL for a null; the caller frees them); diff_of (when not NULL) gives,
 * for a column whose value in this image is a diff, the document it applies
 * to, and the value is that document updated.
 */
bool myrows_row_json(const struct mymap *m, const uint8_t *present, const uint8_t **p, const uint8_t *end,
		     bool after, char **json, const char *const *diff_of, msgpack_packer *pk, struct strbuf *scratch,
		     char *err, size_t errsize);

/*
 * A JSON diff vector at *p (MySQL's Json_diff_vector: a 4-byte length, then
 * REPLACE, INSERT and REMOVE operations at paths, values in binary JSON)
 * applied to the document doc (the text MySQL prints), the result's text in
 * out; *p moved past it. False: malformed, or a diff that does not apply to
 * doc (err says which path).
 */
bool myjson_apply_diffs(const char *doc, const uint8_t **p, const uint8_t *end, struct strbuf *out, char *err,
			size_t errsize);

/* A string as MySQL's JSON prints it, quoted, with \" \\ \b \f \n \r \t and \u00XX escapes. */
void myrows_json_string(const uint8_t *s, size_t n, struct strbuf *out);

/* MySQL 8's binary JSON value (a JSON column's bytes) as the text MySQL prints; false: malformed. */
bool myrows_json(const uint8_t *v, size_t len, struct strbuf *out);

/* The column values' text as MySQL prints it, for a test: type, meta, the value's bytes. */
bool myrows_text(const struct mycol *c, const uint8_t **p, const uint8_t *end, struct strbuf *out, char *err,
		 size_t errsize);

#endif
