/* assess.c: the premigration assessment (next commit). */
#include "validate.h"
#include "../common/dms.h"

int
assess_run(const struct aopts *o)
{
	(void)o;
	log_error("--assess: not in this build yet");
	return EXIT_USAGE;
}
