/* The signaling roles, as node roles (src/node): the main node, which owns every room, and
 * the visitor node, which mirrors rooms for thousands of visitors. src/app picks one. */
#ifndef AMPHI_SIGNAL_SIGNAL_H
#define AMPHI_SIGNAL_SIGNAL_H

#include "node/node.h"

extern const node_role signal_role_main;
extern const node_role signal_role_visitor;

#endif
