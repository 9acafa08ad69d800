/*
 * server_watch.c: the deadline for a request's headers.
 *
 * libmicrohttpd's --timeout is an idle time: a client that sends a byte of
 * its headers every few seconds is never idle and holds its thread for as
 * long as it likes (slowloris).  The body has its own deadline in
 * server.c, but until the headers are complete no callback runs.  So each
 * connection is watched from its start, and again from the end of each of
 * its requests: when the next request's headers are not complete within
 * --timeout, a thread that looks every 200 ms shuts the socket down and
 * libmicrohttpd closes the connection as the client's.  The watch keeps a
 * duplicate of the socket, so the socket it shuts is never another's.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "httpd/server.h"

struct hs_watched {
	struct hs_watched *prev, *next;
	int fd;			/* our duplicate of the connection's socket */
	uint64_t since;		/* start of the wait for headers, ms */
	int busy;		/* headers in; the request is the body's and
				   the handler's (server.c bounds those) */
	int cut;		/* shut already */
};

struct hs_watch {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	struct hs_watched head;	/* circular list */
	uint64_t limit_ms;
	int stop;
};

static void *
watch_loop(void *arg)
{
	struct hs_watch *w = arg;
	struct hs_watched *e;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec ts;
		uint64_t now = hm_mono_ms();

		for (e = w->head.next; e != &w->head; e = e->next) {
			if (e->busy || e->cut || now - e->since <= w->limit_ms)
				continue;
			shutdown(e->fd, SHUT_RDWR);
			e->cut = 1;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000 * 1000 * 1000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_cond_timedwait(&w->wake, &w->lock, &ts);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct hs_watch *
hs_watch_start(unsigned timeout_s)
{
	struct hs_watch *w = calloc(1, sizeof *w);

	if (w == NULL)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	w->head.next = w->head.prev = &w->head;
	w->limit_ms = (uint64_t)timeout_s * 1000;
	if (pthread_create(&w->thread, NULL, watch_loop, w) != 0) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return NULL;
	}
	return w;
}

void
hs_watch_stop(struct hs_watch *w)
{
	struct hs_watched *e, *next;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	for (e = w->head.next; e != &w->head; e = next) {
		next = e->next;
		close(e->fd);
		free(e);
	}
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

struct hs_watched *
hs_watch_add(struct hs_watch *w, int fd)
{
	struct hs_watched *e;

	if (w == NULL || fd < 0 || (e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	if ((e->fd = dup(fd)) < 0) {
		free(e);
		return NULL;
	}
	e->since = hm_mono_ms();
	pthread_mutex_lock(&w->lock);
	e->next = &w->head;
	e->prev = w->head.prev;
	w->head.prev->next = e;
	w->head.prev = e;
	pthread_mutex_unlock(&w->lock);
	return e;
}

void
hs_watch_busy(struct hs_watch *w, struct hs_watched *e, int busy)
{
	if (w == NULL || e == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	e->busy = busy;
	if (!busy)
		e->since = hm_mono_ms();
	pthread_mutex_unlock(&w->lock);
}

void
hs_watch_remove(struct hs_watch *w, struct hs_watched *e)
{
	if (w == NULL || e == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	e->prev->next = e->next;
	e->next->prev = e->prev;
	pthread_mutex_unlock(&w->lock);
	close(e->fd);
	free(e);
}

int
hs_watch_was_cut(struct hs_watch *w, struct hs_watched *e)
{
	int cut;

	if (w == NULL || e == NULL)
		return 0;
	pthread_mutex_lock(&w->lock);
	cut = e->cut;
	pthread_mutex_unlock(&w->lock);
	return cut;
}
