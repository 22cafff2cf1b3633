/*
 * sig.c: signal flags: TERM and INT ask for a drain, QUIT for a stop; the
 * handlers only set the flags (see sig.h).
 */
#include <signal.h>
#include <string.h>

#include "sig.h"
#include "dms.h"

volatile sig_atomic_t sig_drain;
volatile sig_atomic_t sig_stop;

static void
on_drain(int signo)
{
	(void)signo;
	sig_drain = 1;
}

static void
on_stop(int signo)
{
	(void)signo;
	sig_stop = 1;
}

void
sig_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_drain;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_stop;
	sigaction(SIGQUIT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}
