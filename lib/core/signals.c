/* signals.c: handlers only set flags; the loops look at them. */
#include <signal.h>
#include <string.h>

#include "core.h"

volatile sig_atomic_t hm_stop;
volatile sig_atomic_t hm_hup;

static void
on_stop(int sig)
{
	(void)sig;
	hm_stop = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	hm_hup = 1;
}

void
hm_signals_init(int want_hup)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a read() blocked on a quiet pipe must return EINTR
	   so the program can finish its output and its metrics. */
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (want_hup) {
		sa.sa_handler = on_hup;
		sigaction(SIGHUP, &sa, NULL);
	}
}
