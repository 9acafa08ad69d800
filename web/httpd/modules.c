/* modules.c: the modules hopmap-httpd serves, in the order they open; a
   module's index here is its slot in hx_ctx.mod.  One line each. */
#include <stddef.h>

#include "httpd/handler.h"
#include "httpd/gate_in.h"
#include "httpd/node.h"
#include "httpd/gate_out.h"

const struct hx_module *const hx_modules[] = {
	&hx_node_module,
	&hx_gate_out,
	&hx_gate_in_module,
	NULL
};
