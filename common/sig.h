/*
 * sig.h: signal flags. Handlers only set these; loops look at them once a turn.
 *
 * TERM and INT ask for a drain: finish the transaction in hand, flush, exit 0.
 * QUIT asks to stop at once. SIGPIPE is ignored, so that a closed downstream
 * pipe shows up as EPIPE from write(2) and ends the program quietly.
 * The handlers are installed without SA_RESTART: a blocking read returns EINTR.
 */
#ifndef DMS_SIG_H
#define DMS_SIG_H

#include <signal.h>

extern volatile sig_atomic_t sig_drain;
extern volatile sig_atomic_t sig_stop;

void sig_init(void);

#endif
