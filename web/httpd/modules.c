/* modules.c: the modules hopmap-httpd serves, in the order they open; a
   module's index here is its slot in hx_ctx.mod.  One line each. */
#include <stddef.h>

#include "httpd/handler.h"
#include "httpd/node.h"

const struct hx_module *const hx_modules[] = {
	&hx_node_module,
	NULL
};
