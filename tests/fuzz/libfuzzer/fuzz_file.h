/*
 * fuzz_file.h: the libFuzzer targets whose parser reads a file get their
 * input written to one temporary file per process, rewritten each run.
 */
#ifndef DMS_FUZZ_FILE_H
#define DMS_FUZZ_FILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline const char *
fuzz_file(const uint8_t *data, size_t size, const char *what)
{
	static char path[96];
	FILE *f;

	if (path[0] == '\0')
		snprintf(path, sizeof(path), "/tmp/dms-fuzz-%s.%d.json", what, (int)getpid());
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	fwrite(data, 1, size, f);
	if (fclose(f) != 0)
		abort();
	return path;
}

#endif
