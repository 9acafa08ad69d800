/*
 * jarena.c: a bump arena for jansson's allocations.
 *
 * Parsing a small record makes a few dozen small blocks, and malloc/free
 * of those was half the time of filters that only need a record's "ip".
 * Between hm_jarena_begin and hm_jarena_end, jansson allocates from the
 * caller's arena by bumping a pointer, and frees into it as a no-op; one
 * reset reclaims the lot.  Every block carries a header saying where it
 * came from, so blocks made outside an arena (another thread, or after
 * the arena filled up) stay ordinary heap blocks whenever they are freed.
 */
#include <stdlib.h>

#include "core.h"

#define JHDR 16		/* keeps blocks 16-aligned, as malloc's are */
enum { J_HEAP = 0x4a48, J_ARENA = 0x4a41 };

static __thread struct hm_jarena *current;

static void *
jalloc(size_t n)
{
	struct hm_jarena *a = current;
	size_t need = (n + JHDR + 15) & ~(size_t)15;
	char *p;

	if (a != NULL && a->cap - a->pos >= need) {
		p = a->base + a->pos;
		a->pos += need;
		*(int *)p = J_ARENA;
	} else {
		if ((p = malloc(n + JHDR)) == NULL)
			return NULL;
		*(int *)p = J_HEAP;
		if (a != NULL)
			a->spilled = 1;
	}
	return p + JHDR;
}

static void
jfree(void *ptr)
{
	char *p = (char *)ptr - JHDR;

	if (ptr != NULL && *(int *)p == J_HEAP)
		free(p);
}

/* Before main, so before any jansson value exists: a block made by the
   default allocator would lack our header. */
__attribute__((constructor)) static void
install(void)
{
	json_set_alloc_funcs(jalloc, jfree);
}

void
hm_jarena_begin(struct hm_jarena *a, void *base, size_t cap)
{
	char *b = base;
	size_t skip = (16 - (size_t)((uintptr_t)b & 15)) & 15;

	a->base = b + skip;
	a->cap = cap > skip ? cap - skip : 0;
	a->pos = 0;
	a->spilled = 0;
	current = a;
}

void
hm_jarena_end(void)
{
	current = NULL;
}
