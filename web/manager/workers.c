/* workers.c: the registered nodes in the store: each by its URL, with
   the name and type its /service-info gave (a manual type overriding),
   its poll key sealed to the URL, and what the last poll saw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "manager/manager.h"

static int
word_ok(const char *s, size_t max, int upper_dot)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || (upper_dot && ((c >= 'A' &&
		    c <= 'Z') || c == '.'))))
			return 0;
	}
	return 1;
}

int
mg_wname_ok(const char *name)
{
	return word_ok(name, MG_WNAME_MAX, 1);
}

int
mg_type_ok(const char *type)
{
	return word_ok(type, MG_TYPE_MAX, 0);
}

static void
ad_of(const char *url, char *ad, size_t cap)
{
	snprintf(ad, cap, "worker-key:%s", url);
}

int
mg_worker_register(struct mg_store *st, const char *url, const char *type,
    const char *key, time_t now, int64_t *id, char *err, size_t errlen)
{
	const char *name, *detected;
	char ad[MG_URL_MAX + 16];
	unsigned char *box = NULL;
	size_t boxlen = 0;
	sqlite3_stmt *q;
	json_t *info;
	int rc;

	if (!mg_url_ok(url)) {
		snprintf(err, errlen, "not a URL the manager takes (http:// or "
		    "https://, at most %d bytes, no spaces or quotes)",
		    MG_URL_MAX);
		return -1;
	}
	if (type != NULL && *type != '\0' && !mg_type_ok(type)) {
		snprintf(err, errlen, "bad type (1 to %d of a-z 0-9 _ -)",
		    MG_TYPE_MAX);
		return -1;
	}
	if (key != NULL && *key != '\0' && !mg_key_text_ok(key)) {
		snprintf(err, errlen, "not an API key (base64url)");
		return -1;
	}
	if (mg_fetch_json(url, "/service-info", key, MG_FETCH_TIMEOUT, &info,
	    err, errlen) != 0)
		return -1;
	name = json_string_value(json_object_get(info, "name"));
	detected = json_string_value(json_object_get(info, "service_type"));
	if (name == NULL || !mg_wname_ok(name)) {
		snprintf(err, errlen, "its /service-info has no usable name");
		json_decref(info);
		return -1;
	}
	if (detected != NULL && !mg_type_ok(detected))
		detected = NULL;
	if ((type == NULL || *type == '\0') && detected == NULL) {
		snprintf(err, errlen, "its /service-info has no service_type: "
		    "give the type");
		json_decref(info);
		return -1;
	}
	if (key != NULL && *key != '\0') {
		ad_of(url, ad, sizeof ad);
		if ((box = mg_seal(st, key, strlen(key), ad, &boxlen)) == NULL) {
			snprintf(err, errlen, "out of memory");
			json_decref(info);
			return -1;
		}
	}
	rc = sqlite3_prepare_v2(st->db, "INSERT INTO workers (url, name, type,"
	    " detected, manual, key, added, version) VALUES (?, ?, ?, ?, ?, ?,"
	    " ?, ?)", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		int manual = type != NULL && *type != '\0';

		sqlite3_bind_text(q, 1, url, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, manual ? type : detected, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(q, 4, detected != NULL ? detected : "", -1,
		    SQLITE_STATIC);
		sqlite3_bind_int(q, 5, manual);
		if (box != NULL)
			sqlite3_bind_blob(q, 6, box, (int)boxlen, SQLITE_STATIC);
		sqlite3_bind_int64(q, 7, (sqlite3_int64)now);
		sqlite3_bind_text(q, 8, json_string_value(json_object_get(info,
		    "version")), -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
	}
	json_decref(info);
	free(box);
	if (rc == SQLITE_CONSTRAINT) {
		snprintf(err, errlen, "that URL is registered already");
		return -1;
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "store: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	*id = (int64_t)sqlite3_last_insert_rowid(st->db);
	return 0;
}

#define COLS "id, url, name, type, detected, manual, key IS NOT NULL, up," \
    " added, polled, last_seen, uptime, version, counters, error"

static void
text(sqlite3_stmt *q, int col, char *buf, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(buf, cap, "%s", t != NULL ? (const char *)t : "");
}

static void
row(sqlite3_stmt *q, struct mg_worker *w)
{
	memset(w, 0, sizeof *w);
	w->id = sqlite3_column_int64(q, 0);
	text(q, 1, w->url, sizeof w->url);
	text(q, 2, w->name, sizeof w->name);
	text(q, 3, w->type, sizeof w->type);
	text(q, 4, w->detected, sizeof w->detected);
	w->manual = sqlite3_column_int(q, 5);
	w->has_key = sqlite3_column_int(q, 6);
	w->up = sqlite3_column_int(q, 7);
	w->added = sqlite3_column_int64(q, 8);
	w->polled = sqlite3_column_int64(q, 9);
	w->last_seen = sqlite3_column_int64(q, 10);
	w->uptime = sqlite3_column_int64(q, 11);
	text(q, 12, w->version, sizeof w->version);
	text(q, 13, w->counters, sizeof w->counters);
	text(q, 14, w->error, sizeof w->error);
}

int
mg_worker_get(struct mg_store *st, int64_t id, struct mg_worker *w)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " COLS " FROM workers WHERE"
	    " id = ?", -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		row(q, w);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int
mg_worker_list(struct mg_store *st,
    void (*fn)(void *arg, const struct mg_worker *w), void *arg)
{
	struct mg_worker w;
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " COLS " FROM workers ORDER BY"
	    " name, id", -1, &q, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		row(q, &w);
		fn(arg, &w);
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
mg_worker_del(struct mg_store *st, int64_t id)
{
	sqlite3_stmt *q;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM workers WHERE id = ?", -1,
	    &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 0 : 1;
}

int
mg_worker_key(struct mg_store *st, const struct mg_worker *w, char *buf,
    size_t cap)
{
	char ad[MG_URL_MAX + 16];
	unsigned char *plain;
	sqlite3_stmt *q;
	size_t plen;
	int rc = -1;

	*buf = '\0';
	if (!w->has_key)
		return 0;
	if (sqlite3_prepare_v2(st->db, "SELECT key FROM workers WHERE id = ?",
	    -1, &q, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(q, 1, (sqlite3_int64)w->id);
	ad_of(w->url, ad, sizeof ad);
	if (sqlite3_step(q) == SQLITE_ROW && (plain = mg_open(st,
	    sqlite3_column_blob(q, 0), (size_t)sqlite3_column_bytes(q, 0), ad,
	    &plen)) != NULL) {
		if (plen < cap) {
			memcpy(buf, plain, plen + 1);
			rc = 0;
		}
		sodium_free(plain);
	}
	sqlite3_finalize(q);
	return rc;
}
