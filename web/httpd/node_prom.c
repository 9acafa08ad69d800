/* node_prom.c: the programs' metrics files merged (node_prom.h).  A
   sample line is checked enough that what we pass on parses: a metric
   name, labels in braces with quoted values, a number. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "httpd/node_prom.h"

#define NP_MAX_FILES 256
#define NP_MAX_BYTES (4u << 20)

struct sample {
	const char *name;	/* the line; the name is [0, nlen) */
	size_t nlen;
	const char *labels;	/* inside the braces, [0, llen); or NULL */
	size_t llen;
	const char *value;	/* the rest: value [timestamp] */
	size_t vlen;
};

static int
name_char(int c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	    c == ':' || (!first && c >= '0' && c <= '9');
}

/* LINE[0, LEN) as a sample: 0, or -1 when it is not one. */
static int
parse_sample(const char *line, size_t len, struct sample *s)
{
	size_t i = 0;

	memset(s, 0, sizeof *s);
	s->name = line;
	while (i < len && name_char((unsigned char)line[i], i == 0))
		i++;
	if (i == 0)
		return -1;
	s->nlen = i;
	if (i < len && line[i] == '{') {
		int inq = 0;

		s->labels = line + ++i;
		for (; i < len; i++) {
			if (inq && line[i] == '\\') {
				if (++i == len)
					return -1;	/* a cut escape */
				continue;
			}
			if (line[i] == '"')
				inq = !inq;
			else if (!inq && line[i] == '}')
				break;
			else if (!inq && !(name_char((unsigned char)line[i], 0) ||
			    line[i] == '=' || line[i] == ',' || line[i] == ' '))
				return -1;
		}
		if (i == len)
			return -1;
		s->llen = (size_t)(line + i - s->labels);
		i++;
	}
	if (i == len || line[i] != ' ')
		return -1;
	while (i < len && line[i] == ' ')
		i++;
	s->value = line + i;
	s->vlen = len - i;
	{
		char num[64], *end;
		size_t k = 0;

		while (k < s->vlen && s->value[k] != ' ' && k < sizeof num - 1) {
			num[k] = s->value[k];
			k++;
		}
		num[k] = '\0';
		if (k == 0)
			return -1;
		errno = 0;
		(void)strtod(num, &end);
		if (*end != '\0')
			return -1;
		/* A timestamp after it: an integer. */
		for (k++; k < s->vlen; k++)
			if (!((s->value[k] >= '0' && s->value[k] <= '9') ||
			    s->value[k] == '-'))
				return -1;
	}
	return 0;
}

/* The family of sample name N[0, L): the name less a histogram's or
   summary's suffix when the file declared that family. */
static size_t
family_len(const char *n, size_t l, const char *text)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count",
	    NULL };
	int i;

	for (i = 0; suffixes[i] != NULL; i++) {
		size_t sl = strlen(suffixes[i]);
		char pat[256];

		if (l <= sl || memcmp(n + l - sl, suffixes[i], sl) != 0 ||
		    l - sl + 8 > sizeof pat)
			continue;
		snprintf(pat, sizeof pat, "# TYPE %.*s ", (int)(l - sl), n);
		if (strstr(text, pat) != NULL)
			return l - sl;
	}
	return l;
}

/* The next line at *CUR (its length in *LEN, without the newline), and
   *CUR past it; NULL at the end. */
static const char *
next_line(const char **cur, size_t *len)
{
	const char *p = *cur, *nl;

	if (*p == '\0')
		return NULL;
	nl = strchrnul(p, '\n');
	*len = (size_t)(nl - p);
	*cur = *nl != '\0' ? nl + 1 : nl;
	return p;
}

/* "# HELP fam ..." or "# TYPE fam ...": KIND and the family's [0, *FL). */
static const char *
comment_family(const char *p, size_t len, const char *kind, size_t *fl)
{
	size_t kl = strlen(kind), i;

	if (len < kl + 3 || memcmp(p, "# ", 2) != 0 ||
	    memcmp(p + 2, kind, kl) != 0 || p[2 + kl] != ' ')
		return NULL;
	p += 3 + kl;
	len -= 3 + kl;
	for (i = 0; i < len && name_char((unsigned char)p[i], i == 0); i++)
		;
	if (i == 0 || (i < len && p[i] != ' '))
		return NULL;
	*fl = i;
	return p;
}

/* The families seen so far: a list of "name\n" pieces in a string. */
struct famlist {
	char *s;
	size_t len, cap;
};

static int
fam_has(const struct famlist *f, const char *n, size_t l)
{
	const char *p = f->s;

	if (p == NULL)
		return 0;
	while ((p = memmem(p, (size_t)(f->s + f->len - p), n, l)) != NULL) {
		if ((p == f->s || p[-1] == '\n') && p[l] == '\n')
			return 1;
		p++;
	}
	return 0;
}

static void
fam_add(struct famlist *f, const char *n, size_t l)
{
	if (f->len + l + 2 > f->cap) {
		size_t cap = (f->cap + l + 2) * 2;
		char *s = realloc(f->s, cap);

		if (s == NULL)
			return;
		f->s = s;
		f->cap = cap;
	}
	memcpy(f->s + f->len, n, l);
	f->len += l;
	f->s[f->len++] = '\n';
	f->s[f->len] = '\0';
}

/* Does file I declare or use family FAM[0, L)? */
static int
file_has_family(const struct np_file *file, const char *fam, size_t l)
{
	size_t len;

	for (const char *cur_p = file->text, *p;
	    (p = next_line(&cur_p, &len)) != NULL;) {
		struct sample s;

		if (len == 0 || p[0] == '#' || parse_sample(p, len, &s) != 0)
			continue;
		if (family_len(s.name, s.nlen, file->text) == l &&
		    memcmp(s.name, fam, l) == 0)
			return 1;
	}
	return 0;
}

static int
shared_family(const struct np_set *set, size_t self, const char *fam,
    size_t l)
{
	size_t i;

	for (i = 0; i < set->n; i++)
		if (i != self && file_has_family(&set->v[i], fam, l))
			return 1;
	return 0;
}

static int
has_label(const struct sample *s, const char *name)
{
	size_t nl = strlen(name);
	const char *p = s->labels, *e;

	if (p == NULL)
		return 0;
	e = p + s->llen;
	/* Labels start after '{' or ','; values are quoted. */
	while (p != NULL && p < e) {
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 &&
		    p[nl] == '=')
			return 1;
		/* To the next label: past the quoted value. */
		p = memchr(p, '"', (size_t)(e - p));
		if (p == NULL)
			break;
		for (p++; p < e && *p != '"'; p++)
			if (*p == '\\')
				p++;
		p++;
		while (p < e && (*p == ',' || *p == ' '))
			p++;
	}
	return 0;
}

/* Write the sample with the labels it gains. */
static void
put_sample(FILE *out, const struct sample *s, const char *add1,
    const char *add2)
{
	int any = s->labels != NULL && s->llen > 0;

	fprintf(out, "%.*s", (int)s->nlen, s->name);
	if (any || add1 != NULL || add2 != NULL) {
		fputc('{', out);
		if (any)
			fprintf(out, "%.*s", (int)s->llen, s->labels);
		if (add1 != NULL)
			fprintf(out, "%s%s", any ? "," : "", add1);
		if (add2 != NULL)
			fprintf(out, "%s%s", any || add1 ? "," : "", add2);
		fputc('}', out);
	}
	fprintf(out, " %.*s\n", (int)s->vlen, s->value);
}

/* The family's comments from the first file that has them. */
static void
put_comments(const struct np_set *set, const char *fam, size_t l, FILE *out)
{
	const char *kinds[] = { "HELP", "TYPE" };
	size_t i, k, len, fl;

	for (k = 0; k < 2; k++)
		for (i = 0; i < set->n; i++) {
			int done = 0;

			for (const char *cur_p = set->v[i].text, *p;
			    (p = next_line(&cur_p, &len)) != NULL;) {
				const char *f = comment_family(p, len, kinds[k],
				    &fl);

				if (f != NULL && fl == l && memcmp(f, fam, l) == 0) {
					fprintf(out, "%.*s\n", (int)len, p);
					done = 1;
					break;
				}
			}
			if (done)
				break;
		}
}

/* The stem as a label value: the names are file names, so only a quote,
   a backslash or a newline needs a word. */
static void
stem_label(char *buf, size_t cap, const char *key, const char *stem)
{
	size_t n = (size_t)snprintf(buf, cap, "%s=\"", key);

	for (; *stem != '\0' && n + 4 < cap; stem++) {
		if (*stem == '"' || *stem == '\\' || *stem == '\n')
			buf[n++] = '\\';
		buf[n++] = *stem == '\n' ? 'n' : *stem;
	}
	buf[n++] = '"';
	buf[n] = '\0';
}

size_t
np_merge(const struct np_set *set, FILE *out)
{
	struct famlist done = { 0 }, series = { 0 };
	size_t i, j, len, dropped = 0;

	for (i = 0; i < set->n; i++) {
		for (const char *cur_p = set->v[i].text, *p;
		    (p = next_line(&cur_p, &len)) != NULL;) {
			struct sample s;
			size_t fl;

			if (len == 0 || p[0] == '#')
				continue;
			if (parse_sample(p, len, &s) != 0) {
				dropped++;
				continue;
			}
			fl = family_len(s.name, s.nlen, set->v[i].text);
			if (fam_has(&done, s.name, fl))
				continue;
			fam_add(&done, s.name, fl);
			put_comments(set, s.name, fl, out);
			/* Every file's samples of this family, in order. */
			for (j = i; j < set->n; j++) {
				int shared = shared_family(set, j, s.name, fl);
				size_t l2;

				for (const char *cur_q = set->v[j].text, *q;
				    (q = next_line(&cur_q, &l2)) != NULL;) {
					struct sample t;
					char prog[300], file[300], key[1024];
					const char *a1 = NULL, *a2 = NULL;

					if (l2 == 0 || q[0] == '#' ||
					    parse_sample(q, l2, &t) != 0 ||
					    family_len(t.name, t.nlen,
					    set->v[j].text) != fl ||
					    memcmp(t.name, s.name, fl) != 0)
						continue;
					if (shared && !has_label(&t, "program")) {
						stem_label(prog, sizeof prog,
						    "program", set->v[j].stem);
						a1 = prog;
					}
					snprintf(key, sizeof key, "%.*s{%.*s,%s}",
					    (int)t.nlen, t.name, (int)t.llen,
					    t.labels ? t.labels : "", a1 ? a1 : "");
					if (fam_has(&series, key, strlen(key))) {
						stem_label(file, sizeof file,
						    "file", set->v[j].stem);
						a2 = file;
					} else {
						fam_add(&series, key, strlen(key));
					}
					put_sample(out, &t, a1, a2);
				}
			}
		}
	}
	free(done.s);
	free(series.s);
	return dropped;
}

/* The value of label NAME in S, unescaped into BUF; NULL when absent. */
static const char *
label_value(const struct sample *s, const char *name, char *buf, size_t cap)
{
	const char *p = s->labels, *e;
	size_t nl = strlen(name), n = 0;

	if (p == NULL)
		return NULL;
	e = p + s->llen;
	while (p < e) {
		int match = (size_t)(e - p) > nl + 1 &&
		    memcmp(p, name, nl) == 0 && p[nl] == '=';

		if ((p = memchr(p, '"', (size_t)(e - p))) == NULL)
			return NULL;
		for (p++; p < e && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < e)
				p++;
			if (match && n + 1 < cap)
				buf[n++] = *p;
		}
		if (match) {
			buf[n] = '\0';
			return buf;
		}
		p++;
		while (p < e && (*p == ',' || *p == ' '))
			p++;
	}
	return NULL;
}

/* Sample S's key in the summary: its name without "hopmap_", with its
   labels other than "program" in braces. */
static void
summary_key(const struct sample *s, char *key, size_t cap)
{
	const char *name = s->name;
	size_t nl = s->nlen;

	if (nl > 7 && memcmp(name, "hopmap_", 7) == 0) {
		name += 7;
		nl -= 7;
	}
	if (s->llen > 0 && !(has_label(s, "program") &&
	    memchr(s->labels, ',', s->llen) == NULL))
		snprintf(key, cap, "%.*s{%.*s}", (int)nl, name, (int)s->llen,
		    s->labels);
	else
		snprintf(key, cap, "%.*s", (int)nl, name);
}

/* Text jansson takes as a string (UTF-8, no NUL). */
static int
utf8_ok(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

static json_t *
number(const char *text)
{
	double v = strtod(text, NULL);

	/* In range first: casting a double beyond it is undefined. */
	if (v < 9e15 && v > -9e15 && v == (double)(json_int_t)v)
		return json_integer((json_int_t)v);
	return json_real(v);	/* NULL for NaN and infinities: left out */
}

json_t *
np_summary(const struct np_set *set)
{
	json_t *all = json_object();
	size_t i, len;

	for (i = 0; i < set->n && all != NULL; i++) {
		json_t *m = json_object(), *file;
		char prog[256] = "";

		for (const char *cur_p = set->v[i].text, *p;
		    (p = next_line(&cur_p, &len)) != NULL;) {
			struct sample s;
			char key[512];

			if (len == 0 || p[0] == '#' || parse_sample(p, len, &s))
				continue;
			if (prog[0] == '\0')
				label_value(&s, "program", prog, sizeof prog);
			summary_key(&s, key, sizeof key);
			/* Keys are JSON strings: text that is not UTF-8 is
			   left out. */
			if (utf8_ok(key))
				json_object_set_new(m, key, number(s.value));
		}
		file = json_pack("{s:s?,s:I,s:o}", "program",
		    utf8_ok(prog) && prog[0] != '\0' ? prog : NULL,
		    "age", (json_int_t)set->v[i].age,
		    "metrics", m);
		if (utf8_ok(set->v[i].stem))
			json_object_set_new(all, set->v[i].stem, file);
		else
			json_decref(file);
	}
	return all;
}

static int
by_stem(const void *a, const void *b)
{
	return strcmp(((const struct np_file *)a)->stem,
	    ((const struct np_file *)b)->stem);
}

static char *
read_text(int dfd, const char *name, struct stat *sb)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char *buf = NULL;
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return NULL;
	if (fstat(fd, sb) != 0 || !S_ISREG(sb->st_mode) ||
	    sb->st_size > NP_MAX_BYTES ||
	    (buf = malloc((size_t)sb->st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (n < (size_t)sb->st_size &&
	    (r = read(fd, buf + n, (size_t)sb->st_size - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	/* A NUL inside would cut the text short: so be it. */
	return buf;
}

int
np_load(const char *dir, struct np_set *set)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct timespec now;

	set->v = NULL;
	set->n = 0;
	if (d == NULL)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	while ((e = readdir(d)) != NULL && set->n < NP_MAX_FILES) {
		size_t l = strlen(e->d_name);
		struct np_file *v, *f;
		struct stat sb;
		char *text;

		if (l <= 5 || strcmp(e->d_name + l - 5, ".prom") != 0 ||
		    e->d_name[0] == '.')
			continue;
		if ((text = read_text(dirfd(d), e->d_name, &sb)) == NULL)
			continue;
		if ((v = realloc(set->v, (set->n + 1) * sizeof *v)) == NULL) {
			free(text);
			break;
		}
		set->v = v;
		f = &v[set->n++];
		f->text = text;
		f->stem = strndup(e->d_name, l - 5);
		f->age = (double)(now.tv_sec - sb.st_mtim.tv_sec) +
		    (double)(now.tv_nsec - sb.st_mtim.tv_nsec) / 1e9;
		if (f->stem == NULL) {
			free(text);
			set->n--;
		}
	}
	closedir(d);
	if (set->n > 1)
		qsort(set->v, set->n, sizeof *set->v, by_stem);
	return 0;
}

void
np_free(struct np_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->v[i].stem);
		free(set->v[i].text);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
