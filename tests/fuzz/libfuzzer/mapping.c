/*
 * libFuzzer target: the AWS DMS table-mappings parser (mapping_load) of
 * common/mapping.c, on a document written to a temporary file.
 * Seeds in tests/fuzz/corpus/mapping/.
 */
#include "fuzz_file.h"
#include "../../../common/mapping.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mapping m;

	if (mapping_load(fuzz_file(data, size, "mapping"), &m))
		mapping_free(&m);
	return 0;
}
