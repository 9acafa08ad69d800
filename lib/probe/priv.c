/*
 * probe/priv.c: privileges for the raw-socket programs.
 *
 * They need CAP_NET_RAW to open their sockets and nothing afterwards.  So:
 * keep only that capability from the start (a root start has them all),
 * open the sockets, then give up everything before the first input line is
 * read.  Every step is checked: running on with more privilege than asked
 * is worse than exiting.
 *
 * Who they run as afterwards:
 * - started by root: an ordinary user, --user USER or PROBE_DEFAULT_USER
 *   ("nobody"), as OpenBSD's traceroute and scamper do, so no input is
 *   ever parsed as root.  --user root is refused: nothing after the
 *   sockets needs root.
 * - installed setuid root (or setgid) and started by a user: the real user
 *   and group again at once, in probe_priv_begin, keeping CAP_NET_RAW
 *   alone across the change (PR_SET_KEEPCAPS), exactly as if the program
 *   had the file capability.  So the sockets are opened with the
 *   capability, but not a file is opened as root.
 * - with the file capability: the user who started it.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "core/core.h"
#include "probe.h"

static int
cap_permitted(cap_t caps, cap_value_t v)
{
	cap_flag_value_t f = CAP_CLEAR;

	if (cap_get_flag(caps, v, CAP_PERMITTED, &f) != 0)
		return 0;
	return f == CAP_SET;
}

/* Lower the permitted and effective sets to keep[0..n). */
static void
caps_limit(const cap_value_t *keep, int n)
{
	cap_t caps;

	if ((caps = cap_init()) == NULL ||
	    (n > 0 && (cap_set_flag(caps, CAP_PERMITTED, n, keep,
	    CAP_SET) != 0 || cap_set_flag(caps, CAP_EFFECTIVE, n, keep,
	    CAP_SET) != 0)) || cap_set_proc(caps) != 0)
		hm_err(HM_EXIT_FAIL, "cannot limit capabilities to CAP_NET_RAW");
	cap_free(caps);
}

/* A setuid or setgid start: back to the real ids, CAP_NET_RAW kept. */
static void
reset_setid(int raw)
{
	uid_t ruid = getuid(), r, e, s;
	gid_t rgid = getgid(), rg, eg, sg;
	cap_value_t keep = CAP_NET_RAW;

	/* Changing to ids we already hold as real ones needs no privilege. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
		hm_err(HM_EXIT_FAIL, "prctl(PR_SET_KEEPCAPS)");
	if (setresgid(rgid, rgid, rgid) != 0)
		hm_err(HM_EXIT_FAIL, "setresgid %lu", (unsigned long)rgid);
	if (setresuid(ruid, ruid, ruid) != 0)
		hm_err(HM_EXIT_FAIL, "setresuid %lu", (unsigned long)ruid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0)
		hm_err(HM_EXIT_FAIL, "prctl(PR_SET_KEEPCAPS)");
	if (getresuid(&r, &e, &s) != 0 || r != ruid || e != ruid ||
	    s != ruid || getresgid(&rg, &eg, &sg) != 0 || rg != rgid ||
	    eg != rgid || sg != rgid)
		hm_errx(HM_EXIT_FAIL, "could not return to the real user");
	/* The uid change emptied the effective set: raise it again. */
	caps_limit(&keep, raw);
}

int
probe_priv_begin(void)
{
	cap_value_t keep[3];
	int nkeep = 0, raw;
	cap_t caps;

	if ((caps = cap_get_proc()) == NULL)
		hm_err(HM_EXIT_FAIL, "cap_get_proc");
	raw = cap_permitted(caps, CAP_NET_RAW);
	if (raw)
		keep[nkeep++] = CAP_NET_RAW;
	/* A root start switches user in probe_priv_drop: setuid and setgid
	   need these until then. */
	if (getuid() == 0 && cap_permitted(caps, CAP_SETUID) &&
	    cap_permitted(caps, CAP_SETGID)) {
		keep[nkeep++] = CAP_SETUID;
		keep[nkeep++] = CAP_SETGID;
	}
	cap_free(caps);
	/* Lowering the sets and raising a permitted capability to effective
	   are both allowed without further privilege. */
	caps_limit(keep, nkeep);
	/* (A root start gets its groups from the user it switches to.) */
	if (getuid() != 0 && (geteuid() != getuid() || getegid() != getgid()))
		reset_setid(raw);
	return raw;
}

int
probe_priv_limited(void)
{
	return getuid() != 0;
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

	if (getuid() == 0) {
		if ((caps = cap_get_proc()) == NULL)
			hm_err(HM_EXIT_FAIL, "cap_get_proc");
		if (!cap_permitted(caps, CAP_SETUID) ||
		    !cap_permitted(caps, CAP_SETGID))
			hm_errx(HM_EXIT_FAIL, "started as root without "
			    "CAP_SETUID and CAP_SETGID: cannot switch to %s",
			    user != NULL ? user : PROBE_DEFAULT_USER);
		cap_free(caps);
		switch_user(user != NULL ? user : PROBE_DEFAULT_USER);
	} else if (user != NULL) {
		hm_errx(HM_EXIT_FAIL, "--user needs to be started as root");
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
	if (getuid() == 0 || geteuid() == 0)
		hm_errx(HM_EXIT_FAIL, "still root after the drop");
}
