/* manager_store.c: the manager's store, key, users, TOTP, sessions, rate
   limits and log escaping (web/manager/), without a web server. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <liboath/oath.h>
#include <sodium.h>

#include "manager/manager.h"
#include "tap.h"

static char dir[] = "/tmp/hopmap-mgr-unit.XXXXXX";

static void
rmrf(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* The code liboath makes for secret (base32) at t. */
static void
code_at(const char *b32, time_t t, char out[7])
{
	char *raw;
	size_t len;

	oath_base32_decode(b32, strlen(b32), &raw, &len);
	oath_totp_generate(raw, len, t, MG_TOTP_STEP, 0, 6, out);
	free(raw);
}

static void
count_user(void *arg, const char *name, int64_t created, int64_t last)
{
	(void)name, (void)created, (void)last;
	++*(int *)arg;
}

int
main(void)
{
	struct mg_store st, st2;
	char err[MG_ERRLEN], b32[128], b32b[128], code[7], uri[512], path[256];
	char id[MG_TOKEN_HEX + 1], tok[MG_TOKEN_HEX + 1], esc[256];
	struct mg_session s;
	struct stat sb;
	time_t t0 = 1780000000;	/* a step boundary is not near: 1780000000 % 30 = 10 */
	unsigned char *box, *plain;
	size_t blen, plen;
	int n = 0;

	err[0] = '\0';
	if (mkdtemp(dir) == NULL)
		return 1;
	atexit(rmrf);
	unsetenv("HOPMAP_MANAGER_KEY");

	umask(022);	/* a web server's */
	CHECK(mg_store_open(&st, dir, NULL, err, sizeof err) == 0,
	    "a new store opens and makes its key%s", err);
	snprintf(path, sizeof path, "%s/%s", dir, MG_DB_NAME);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "the store is made 0600 under umask 022 (%o)",
	    (unsigned)(sb.st_mode & 0777));
	snprintf(path, sizeof path, "%s/%s", dir, MG_KEY_NAME);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "the key file is made 0600");
	box = mg_seal(&st, "secret", 6, "alice", &blen);
	plain = mg_open(&st, box, blen, "alice", &plen);
	CHECK(plain != NULL && plen == 6 && strcmp((char *)plain, "secret") == 0,
	    "seal and open under the same name");
	if (plain != NULL)
		sodium_free(plain);
	CHECK(mg_open(&st, box, blen, "bob", &plen) == NULL,
	    "a sealed value moved to another name does not open");
	box[blen - 1] ^= 1;
	CHECK(mg_open(&st, box, blen, "alice", &plen) == NULL,
	    "a changed sealed value does not open");
	free(box);

	CHECK(mg_user_add(&st, "alice", b32, sizeof b32) == 0 &&
	    strlen(b32) == 32, "add-user: a 20-byte secret, 32 base32 digits");
	CHECK(mg_user_add(&st, "alice", b32b, sizeof b32b) == 1,
	    "add-user: an existing user is refused");
	CHECK(mg_otpauth_uri("alice", b32, uri, sizeof uri) == 0 &&
	    strncmp(uri, "otpauth://totp/hopmap:alice?secret=", 35) == 0,
	    "the otpauth URI (%s)", uri);
	CHECK(!mg_name_ok("a b") && !mg_name_ok("") && !mg_name_ok("-x") &&
	    !mg_name_ok("x\n") && mg_name_ok("ops.admin_1"),
	    "user names: a word of letters, digits, . _ -");

	code_at(b32, t0, code);
	CHECK(mg_totp_check(&st, "alice", code, t0) == MG_TOTP_OK,
	    "a fresh code is accepted");
	CHECK(mg_totp_check(&st, "alice", code, t0) == MG_TOTP_REPLAYED,
	    "the same code again is refused as replayed");
	CHECK(mg_totp_check(&st, "alice", code, t0 + 25) == MG_TOTP_REPLAYED,
	    "... also in the next step, while still within the window");
	code_at(b32, t0 + 30, code);
	CHECK(mg_totp_check(&st, "alice", code, t0 + 30) == MG_TOTP_OK,
	    "the next step's code is accepted");
	code_at(b32, t0 + 60, code);
	CHECK(mg_totp_check(&st, "alice", code, t0 + 90) == MG_TOTP_OK,
	    "a code one step old is accepted (window +-1)");
	code_at(b32, t0 + 120, code);
	CHECK(mg_totp_check(&st, "alice", code, t0 + 180) == MG_TOTP_BAD_CODE,
	    "a code two steps old is refused");
	code_at(b32, t0 + 210, code);
	CHECK(mg_totp_check(&st, "alice", code, t0 + 180) == MG_TOTP_OK,
	    "a code one step ahead is accepted");
	code_at(b32, t0 + 180, code);
	CHECK(mg_totp_check(&st, "alice", code, t0 + 180) == MG_TOTP_REPLAYED,
	    "an earlier step's code after a later one is refused");
	{
		/* A second manager instance on the same store. */
		struct mg_store peer;
		char c2[7];

		code_at(b32, t0 + 240, c2);
		CHECK(mg_store_open(&peer, dir, NULL, err, sizeof err) == 0 &&
		    mg_totp_check(&peer, "alice", c2, t0 + 240) == MG_TOTP_OK &&
		    mg_totp_check(&st, "alice", c2, t0 + 240) ==
		    MG_TOTP_REPLAYED, "a code taken by one instance is "
		    "refused as replayed by another on the same store");
		mg_store_close(&peer);
	}
	CHECK(mg_totp_check(&st, "alice", "12345", t0) == MG_TOTP_MALFORMED &&
	    mg_totp_check(&st, "alice", "12345a", t0) == MG_TOTP_MALFORMED &&
	    mg_totp_check(&st, "alice", "1234567", t0) == MG_TOTP_MALFORMED,
	    "codes that are not six digits are malformed");
	CHECK(mg_totp_check(&st, "nobody", "123456", t0) == MG_TOTP_UNKNOWN_USER,
	    "an unknown user");

	CHECK(mg_session_new(&st, "alice", t0, id, &s) == 0 &&
	    strlen(id) == MG_TOKEN_HEX, "a session is made");
	CHECK(mg_store_open(&st2, dir, NULL, err, sizeof err) == 0,
	    "a second instance opens the same store");
	CHECK(mg_session_get(&st2, id, t0 + 10, &s) == MG_SESSION_LIVE &&
	    strcmp(s.user, "alice") == 0, "... and sees the session");
	CHECK(mg_session_get(&st, id, t0 + MG_SESSION_LIFETIME, &s) ==
	    MG_SESSION_EXPIRED && strcmp(s.user, "alice") == 0,
	    "the session expires after its fixed lifetime");
	CHECK(mg_session_get(&st, id, t0, &s) == MG_SESSION_NONE,
	    "an expired session is gone");
	mg_session_new(&st, "alice", t0, id, &s);
	mg_session_end(&st2, id);
	CHECK(mg_session_get(&st, id, t0, &s) == MG_SESSION_NONE,
	    "logout in one instance ends the session in the other");
	mg_store_close(&st2);

	mg_login_token(&st, t0, tok);
	CHECK(mg_login_token_ok(&st, tok, t0 + MG_LOGIN_FORM_LIFETIME - 1),
	    "a login token made here is good for the form's lifetime");
	CHECK(!mg_login_token_ok(&st, tok, t0 + MG_LOGIN_FORM_LIFETIME),
	    "... and no longer");
	CHECK(!mg_login_token_ok(&st, tok, t0 - 3600),
	    "a token from the future is refused");
	tok[20] = tok[20] == '0' ? '1' : '0';
	CHECK(!mg_login_token_ok(&st, tok, t0), "a changed login token is refused");
	CHECK(!mg_login_token_ok(&st, "00", t0) && !mg_login_token_ok(&st, "", t0),
	    "a short login token is refused");

	for (int i = 0; i < MG_FAIL_USER_MAX; i++) {
		CHECK(mg_rate_check(&st, "bob", "10.0.0.1", t0) == NULL,
		    "failure %d of bob: may try", i + 1);
		mg_rate_fail(&st, "bob", "10.0.0.1", t0);
	}
	CHECK(mg_rate_check(&st, "bob", "10.0.0.2", t0) != NULL &&
	    strcmp(mg_rate_check(&st, "bob", "10.0.0.2", t0), "locked_user") == 0,
	    "%d failures lock the user, from any address", MG_FAIL_USER_MAX);
	CHECK(mg_rate_check(&st, "bob", "10.0.0.2", t0 + MG_FAIL_WINDOW) == NULL,
	    "the lock lifts after the window");
	for (int i = 0; i < MG_FAIL_IP_MAX; i++) {
		snprintf(esc, sizeof esc, "u%d", i);
		mg_rate_fail(&st, esc, "10.0.0.9", t0);
	}
	CHECK(mg_rate_check(&st, "carol", "10.0.0.9", t0) != NULL &&
	    strcmp(mg_rate_check(&st, "carol", "10.0.0.9", t0), "locked_ip") == 0,
	    "%d failures lock the address, for any user", MG_FAIL_IP_MAX);
	mg_rate_fail(&st, "alice", "10.0.0.3", t0);
	mg_rate_clear(&st, "alice", "10.0.0.3", t0);
	CHECK(mg_rate_check(&st, "alice", "10.0.0.3", t0) == NULL,
	    "a login forgives the user's failures");
	for (int i = 0; i < MG_FAIL_USER_MAX; i++)
		mg_rate_fail(&st, "alice", "10.0.0.66", t0 + 1);
	CHECK(mg_rate_check(&st, "alice", "10.0.0.66", t0 + 1) != NULL,
	    "alice's failures from elsewhere lock her there");
	CHECK(mg_rate_check(&st, "alice", "10.0.0.3", t0 + 1) == NULL,
	    "... but not at the address she logged in from");

	mg_log_escape("x ip=1.2.3.4", esc, sizeof esc);
	CHECK(strcmp(esc, "x%20ip%3D1.2.3.4") == 0, "log escaping: %s", esc);
	mg_log_escape("a\"b\n\x1b", esc, sizeof esc);
	CHECK(strcmp(esc, "a%22b%0A%1B") == 0, "log escaping: %s", esc);
	mg_log_escape("", esc, sizeof esc);
	CHECK(strcmp(esc, "-") == 0, "log escaping: an empty name is -");
	memset(uri, 'y', 200);
	uri[200] = '\0';
	mg_log_escape(uri, esc, sizeof esc);
	CHECK(strlen(esc) == 65 && esc[64] == '~', "log escaping: a long name is cut, with ~");

	CHECK(mg_user_del(&st, "alice") == 0 && mg_user_del(&st, "alice") == 1,
	    "del-user, then no such user");
	mg_user_list(&st, count_user, &n);
	CHECK(n == 0, "list-users: none left");
	mg_store_close(&st);

	setenv("HOPMAP_MANAGER_KEY", "000000000000000000000000000000000000"
	    "0000000000000000000000000000", 1);
	CHECK(mg_store_open(&st, dir, NULL, err, sizeof err) != 0 &&
	    strstr(err, "wrong server key") != NULL,
	    "another key is refused: %s", err);
	unsetenv("HOPMAP_MANAGER_KEY");
	unlink(path);
	CHECK(mg_store_open(&st, dir, NULL, err, sizeof err) != 0 &&
	    strstr(err, "no server key") != NULL && access(path, F_OK) != 0,
	    "without its key the store does not open, and no new key is made: %s",
	    err);
	return tap_failed != 0;
}
