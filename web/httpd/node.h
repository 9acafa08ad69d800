/* node.h: the node face module (node.c), for modules.c. */
#ifndef HOPMAP_HTTPD_NODE_H
#define HOPMAP_HTTPD_NODE_H

#include "httpd/handler.h"

extern const struct hx_module hx_node_module;

#endif
