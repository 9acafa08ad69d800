/*
 * probe_priv.c: privileges for the raw-socket programs.
 *
 * They need CAP_NET_RAW to open their sockets and nothing afterwards.  So:
 * keep only that capability from the start (a root start has them all),
 * open the sockets, then give up everything, optionally becoming an
 * ordinary user, before the first input line is read.  Every step is
 * checked: running on with more privilege than asked is worse than exiting.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "hopmap.h"
#include "probe.h"

static int
cap_permitted(cap_t caps, cap_value_t v)
{
	cap_flag_value_t f = CAP_CLEAR;

	if (cap_get_flag(caps, v, CAP_PERMITTED, &f) != 0)
		return 0;
	return f == CAP_SET;
}

int
probe_priv_begin(int switch_user)
{
	cap_value_t keep[3];
	int nkeep = 0, raw;
	cap_t caps;

	if ((caps = cap_get_proc()) == NULL)
		hm_err(HM_EXIT_FAIL, "cap_get_proc");
	raw = cap_permitted(caps, CAP_NET_RAW);
	if (raw)
		keep[nkeep++] = CAP_NET_RAW;
	/* setuid/setgid need these until the switch is done. */
	if (switch_user && cap_permitted(caps, CAP_SETUID) &&
	    cap_permitted(caps, CAP_SETGID)) {
		keep[nkeep++] = CAP_SETUID;
		keep[nkeep++] = CAP_SETGID;
	}
	/* Lowering the sets and raising a permitted capability to effective
	   are both allowed without further privilege. */
	if (cap_clear(caps) != 0 ||
	    (nkeep > 0 && (cap_set_flag(caps, CAP_PERMITTED, nkeep, keep,
	    CAP_SET) != 0 || cap_set_flag(caps, CAP_EFFECTIVE, nkeep, keep,
	    CAP_SET) != 0)) || cap_set_proc(caps) != 0)
		hm_err(HM_EXIT_FAIL, "cannot limit capabilities to CAP_NET_RAW");
	cap_free(caps);
	return raw;
}

static void
switch_user(const char *user)
{
	struct passwd *pw;
	uint64_t uid;
	const char *why;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL &&
	    hm_strtou64(user, 0, UINT32_MAX - 1, &uid, &why) == 0)
		pw = getpwuid((uid_t)uid);
	if (pw == NULL)
		hm_errx(HM_EXIT_FAIL, "--user: no such user: %s", user);
	if (pw->pw_uid == 0)
		hm_errx(HM_EXIT_FAIL, "--user: refusing to run as root");
	/* Groups first: after setuid we could no longer change them. */
	if (setgroups(1, &pw->pw_gid) != 0)
		hm_err(HM_EXIT_FAIL, "--user: setgroups");
	if (setgid(pw->pw_gid) != 0)
		hm_err(HM_EXIT_FAIL, "--user: setgid %lu",
		    (unsigned long)pw->pw_gid);
	if (setuid(pw->pw_uid) != 0)
		hm_err(HM_EXIT_FAIL, "--user: setuid %lu",
		    (unsigned long)pw->pw_uid);
	/* A switch that can be undone is no switch. */
	if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid ||
	    getgid() != pw->pw_gid || getegid() != pw->pw_gid ||
	    setuid(0) == 0)
		hm_errx(HM_EXIT_FAIL, "--user: could not drop to %s", user);
}

void
probe_priv_drop(const char *user)
{
	cap_t caps;

	if (user != NULL) {
		if ((caps = cap_get_proc()) == NULL)
			hm_err(HM_EXIT_FAIL, "cap_get_proc");
		if (!cap_permitted(caps, CAP_SETUID) ||
		    !cap_permitted(caps, CAP_SETGID))
			hm_errx(HM_EXIT_FAIL,
			    "--user needs to be started as root");
		cap_free(caps);
		switch_user(user);
	}
	if ((caps = cap_init()) == NULL || cap_set_proc(caps) != 0)
		hm_err(HM_EXIT_FAIL, "cannot drop capabilities");
	cap_free(caps);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		hm_err(HM_EXIT_FAIL, "prctl(PR_SET_NO_NEW_PRIVS)");
	/* Check the result rather than trust the calls. */
	if ((caps = cap_get_proc()) == NULL)
		hm_err(HM_EXIT_FAIL, "cap_get_proc");
	if (cap_permitted(caps, CAP_NET_RAW) || cap_permitted(caps, CAP_SETUID))
		hm_errx(HM_EXIT_FAIL, "capabilities survived the drop");
	cap_free(caps);
}
