/*
 * libFuzzer target: the stream checker of common/stream.c over one buffer,
 * and the message helpers that read what it accepted (values_text,
 * values_key_text, the attrs getters). Built by make fuzz when clang has
 * libFuzzer; seeds in tests/fuzz/corpus/stream/.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../../common/stream.h"
#include "../../../common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dms_stream st;
	struct dms_record rec;
	size_t off = 0;
	char text[512];

	stream_init(&st);
	while (off < size && stream_check(&st, data + off, size - off, &rec) == CHECK_OK) {
		if (rec.values != NULL) {
			values_text(rec.table, rec.values, rec.values_len, text, sizeof(text));
			values_key_text(rec.table, rec.values, rec.values_len, text, sizeof(text));
		}
		if (rec.kind == K_TABLE) {
			int64_t n;
			char *s = attrs_str(rec.table->attrs, rec.table->attrs_len, "name");

			free(s);
			attrs_int(rec.table->attrs, rec.table->attrs_len, "estimated_rows", &n);
		}
		off += rec.len;
	}
	stream_release(&st);
	return 0;
}
