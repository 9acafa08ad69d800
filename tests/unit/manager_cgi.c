/* manager_cgi.c: manager.cgi's request parsing and its answers
   (web/manager/cgireq.c, cgi.c), a request built in memory. */
#include <stdlib.h>
#include <string.h>

#include <liboath/oath.h>

#include "manager/manager.h"
#include "tap.h"

static char dir[] = "/tmp/hopmap-mgr-cgi.XXXXXX";
static struct mg_config cf;
static char answer[65536];
static int https;	/* the next requests came over TLS */

static void
rmrf(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static const char *
form(const char *text, const char *name)
{
	static char buf[16];

	return mg_form_get(text, strlen(text), name, buf, sizeof buf);
}

/* One request; its answer in answer[]. */
static const char *
ask(const char *method, const char *path, const char *body,
    const char *cookies, time_t now)
{
	struct mg_req req = { .method = method, .script = "/m", .path = path,
	    .query = "", .cookies = cookies, .remote = "192.0.2.7",
	    .content_type = "application/x-www-form-urlencoded",
	    .body = body, .body_len = strlen(body), .https = https };
	FILE *f = fmemopen(answer, sizeof answer - 1, "w");

	memset(answer, 0, sizeof answer);
	mg_cgi_handle(&cf, &req, now, f);
	fclose(f);
	return answer;
}

/* The value of cookie name set by the last answer. */
static const char *
set_cookie(const char *name, char *buf)
{
	char pat[64];
	const char *p;
	size_t n;

	snprintf(pat, sizeof pat, "Set-Cookie: %s=", name);
	if ((p = strstr(answer, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	n = strcspn(p, ";");
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static int
logged(const char *line)
{
	char text[8192] = "";
	FILE *f = fopen(cf.log, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(text, 1, sizeof text - 1, f);
	text[n] = '\0';
	fclose(f);
	return strstr(text, line) != NULL;
}

int
main(void)
{
	char buf[128], tok[80], sid[80], csrf[80], body[512], code[7], b32[128];
	char logpath[128], fixed[256], *raw;
	const char *v;
	struct mg_store st;
	time_t t0 = 1780000000;
	size_t len;

	CHECK((v = form("user=al%69ce&code=1", "user")) && strcmp(v, "alice") == 0,
	    "form: %%-escapes decoded");
	CHECK((v = form("a=1&user=x+y", "user")) && strcmp(v, "x y") == 0,
	    "form: '+' is a space, the field found after another");
	CHECK(form("users=1", "user") == NULL, "form: a name matched whole");
	CHECK(form("user=%0a", "user") == NULL, "form: a control byte is refused");
	CHECK(form("user=%4", "user") == NULL, "form: a cut escape is refused");
	CHECK(form("user=0123456789abcdef", "user") == NULL,
	    "form: a value longer than the buffer is refused");
	CHECK((v = form("user", "user")) && *v == '\0', "form: a bare name is empty");
	CHECK((v = mg_cookie_get("a=1; hm_session=abc;b=2", "hm_session", buf,
	    sizeof buf)) && strcmp(v, "abc") == 0, "cookie: among others");
	CHECK((v = mg_cookie_get("x_hm_session=1; hm_session=\"q\"", "hm_session",
	    buf, sizeof buf)) && strcmp(v, "q") == 0,
	    "cookie: a name matched whole, quotes taken off");
	CHECK(mg_cookie_get("hm=1", "hm_session", buf, sizeof buf) == NULL,
	    "cookie: absent");

	if (mkdtemp(dir) == NULL)
		return 1;
	atexit(rmrf);
	unsetenv("HOPMAP_MANAGER_KEY");
	snprintf(logpath, sizeof logpath, "%s/auth.log", dir);
	cf.dir = dir;
	cf.log = logpath;
	if (mg_store_open(&st, dir, NULL, body, sizeof body) != 0 ||
	    mg_user_add(&st, "alice", b32, sizeof b32) != 0)
		return 1;
	mg_store_close(&st);
	oath_base32_decode(b32, strlen(b32), &raw, &len);
	oath_totp_generate(raw, len, t0, MG_TOTP_STEP, 0, 6, code);
	free(raw);

	ask("GET", "", "", "", t0);
	CHECK(strncmp(answer, "Status: 200", 11) == 0 &&
	    strstr(answer, "action=\"/m/login\"") != NULL,
	    "GET without a session: the login form");
	CHECK(set_cookie("hm_login", tok) != NULL && strlen(tok) == 64 &&
	    strstr(answer, tok) != NULL && strstr(answer, "HttpOnly; Secure; "
	    "SameSite=Strict") != NULL,
	    "its token in the form and in a strict cookie");
	CHECK(strstr(answer, "id=\"insecure\"") != NULL,
	    "over plain HTTP, it says that Secure cookies need HTTPS");
	https = 1;
	ask("GET", "", "", "", t0);
	CHECK(strstr(answer, "id=\"insecure\"") == NULL &&
	    set_cookie("hm_login", tok) != NULL, "over HTTPS it does not");

	snprintf(body, sizeof body, "user=alice&code=%s", code);
	snprintf(buf, sizeof buf, "hm_login=%s", tok);
	ask("POST", "/login", body, buf, t0);
	CHECK(strncmp(answer, "Status: 403", 11) == 0 &&
	    logged("AUTH_FAILURE user=alice ip=192.0.2.7 reason=missing_csrf"),
	    "login without the token: 403, logged missing_csrf");
	snprintf(body, sizeof body, "user=alice&code=%s&csrf=%s", code, tok);
	ask("POST", "/login", body, "", t0);
	CHECK(strncmp(answer, "Status: 403", 11) == 0 &&
	    logged("reason=bad_csrf"), "login without the cookie: 403, bad_csrf");
	/* Session fixation: a session id planted before the login. */
	snprintf(fixed, sizeof fixed, "hm_login=%s; hm_session=%064d", tok, 7);
	ask("POST", "/login", body, fixed, t0);
	CHECK(strncmp(answer, "Status: 303", 11) == 0 &&
	    strstr(answer, "Location: /m/\r\n") != NULL &&
	    set_cookie("hm_session", sid) != NULL && strlen(sid) == 64,
	    "login with the token and a good code: 303 to the dashboard, a session");
	CHECK(strstr(fixed, sid) == NULL,
	    "... a new id, not the one planted before");
	snprintf(fixed, sizeof fixed, "hm_session=%064d", 7);
	ask("GET", "/", "", fixed, t0 + 1);
	CHECK(strstr(answer, "action=\"/m/login\"") != NULL,
	    "... and the planted id opens nothing");
	https = 0;
	snprintf(buf, sizeof buf, "hm_login=%s", tok);
	CHECK(logged("LOGIN user=alice ip=192.0.2.7 reason=ok"), "the login is logged");
	ask("POST", "/login", body, buf, t0 + 1);
	CHECK(strncmp(answer, "Status: 403", 11) == 0 &&
	    logged("reason=replayed_code"), "the same code again: 403, replayed_code");

	snprintf(buf, sizeof buf, "hm_session=%s", sid);
	ask("GET", "/", "", buf, t0 + 2);
	CHECK(strncmp(answer, "Status: 200", 11) == 0 &&
	    strstr(answer, "Dashboard") != NULL &&
	    strstr(answer, "No hub database is configured") != NULL,
	    "GET with the session: the dashboard");
	static const char lf[] = "/m/logout\"><input type=\"hidden\" "
	    "name=\"csrf\" value=\"";
	v = strstr(answer, lf);
	CHECK(v != NULL, "the dashboard has the logout form");
	snprintf(csrf, sizeof csrf, "%.64s", v != NULL ? v + sizeof lf - 1 : "");
	/* Every form after login, the ones added later too: none acts
	   without the session's token. */
	for (const struct mg_action *a = mg_actions; a->path != NULL; a++) {
		int refused = 1;

		ask("POST", a->path, "id=1&node=w1", buf, t0 + 2);
		refused &= strncmp(answer, "Status: 403", 11) == 0;
		snprintf(fixed, sizeof fixed, "csrf=%064d&id=1&node=w1", 5);
		ask("POST", a->path, fixed, buf, t0 + 2);
		refused &= strncmp(answer, "Status: 403", 11) == 0;
		CHECK(refused, "POST %s without the token or with another: 403",
		    a->path);
	}
	/* The one Location made from input: the map's filter. */
	snprintf(fixed, sizeof fixed, "csrf=%s&node=%%2F%%2Fevil.example", csrf);
	ask("POST", "/map/filter", fixed, buf, t0 + 2);
	CHECK(strncmp(answer, "Status: 400", 11) == 0 &&
	    strstr(answer, "Location:") == NULL,
	    "the map's filter with node //evil.example: 400, no Location");
	snprintf(fixed, sizeof fixed, "csrf=%s&node=w1%%0D%%0ASet-Cookie:+x=1",
	    csrf);
	ask("POST", "/map/filter", fixed, buf, t0 + 2);
	CHECK(strstr(answer, "Set-Cookie: x=1") == NULL &&
	    strstr(answer, "Location: /m/map\r\n") != NULL,
	    "... with a CR LF in it: no header of its own (the field is refused)");
	ask("GET", "/nope", "", buf, t0 + 2);
	CHECK(strncmp(answer, "Status: 404", 11) == 0, "an unknown page: 404");
	ask("POST", "/logout", "csrf=00", buf, t0 + 3);
	CHECK(strncmp(answer, "Status: 403", 11) == 0 &&
	    logged("AUTH_FAILURE user=alice ip=192.0.2.7 reason=bad_csrf"),
	    "logout with a wrong token: 403, bad_csrf");
	snprintf(body, sizeof body, "csrf=%s", csrf);
	ask("POST", "/logout", body, buf, t0 + 3);
	CHECK(strncmp(answer, "Status: 303", 11) == 0 &&
	    strstr(answer, "hm_session=; Path=/m; Max-Age=0") != NULL &&
	    logged("LOGOUT user=alice"), "logout: 303, the cookie deleted");
	ask("GET", "/", "", buf, t0 + 4);
	CHECK(strstr(answer, "action=\"/m/login\"") != NULL &&
	    logged("reason=bad_session"),
	    "after logout the old cookie gets the login form, logged bad_session");

	ask("POST", "/login", "user=x%20ip%3D1.2.3.4&code=1&csrf=1", "", t0);
	CHECK(logged("AUTH_FAILURE user=x%20ip%3D1.2.3.4 ip=192.0.2.7"),
	    "a forged name reaches the log escaped");
	ask("PUT", "/", "", "", t0);
	CHECK(strncmp(answer, "Status: 405", 11) == 0, "PUT: 405");
	return tap_failed != 0;
}
