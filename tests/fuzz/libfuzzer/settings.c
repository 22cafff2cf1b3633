/*
 * libFuzzer target: the AWS DMS task-settings parser (settings_load) of
 * common/settings.c, on a document written to a temporary file.
 * Seeds in tests/fuzz/corpus/settings/.
 */
#include "fuzz_file.h"
#include "../../../common/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct task_settings s;

	settings_defaults(&s);
	if (settings_load(fuzz_file(data, size, "settings"), &s))
		settings_free(&s);
	return 0;
}
