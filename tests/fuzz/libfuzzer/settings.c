/*
 * libFuzzer target: the AWS DMS task-settings parser (settings_load) of
 * common/settings.c, on a document written to a temporary file.
 * Seeds in tests/fuzz/corpus/settings/.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../../common/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	struct task_settings s;
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/dms-fuzz-settings.%d.json", (int)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	fclose(f);
	settings_defaults(&s);
	if (settings_load(path, &s))
		settings_free(&s);
	return 0;
}
