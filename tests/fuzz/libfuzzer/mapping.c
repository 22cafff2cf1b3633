/*
 * libFuzzer target: the AWS DMS table-mappings parser (mapping_load) of
 * common/mapping.c, on a document written to a temporary file.
 * Seeds in tests/fuzz/corpus/mapping/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../../common/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct mapping m;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/dms-fuzz-mapping.%d.json", (int)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	if (mapping_load(path, &m))
		mapping_free(&m);
	return 0;
}
