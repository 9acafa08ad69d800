/* node.h: the node face module (node.c), for modules.c and main.c. */
#ifndef HOPMAP_HTTPD_NODE_H
#define HOPMAP_HTTPD_NODE_H

#include "httpd/handler.h"

extern const struct hx_module hx_node_module;
/* --stale: seconds after which a metrics file makes the node not ready. */
extern double hx_node_stale;

#endif
