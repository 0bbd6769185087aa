/* The web client's files, served from a folder (web_root): only plain names, no "..", no
 * hidden files. */
#ifndef AMPHI_NODE_STATIC_FILES_H
#define AMPHI_NODE_STATIC_FILES_H

#include "node/ws.h"

/* Fills res to serve root + path when that is a regular file with a safe name: 1, else 0. */
int static_file(const char *root, const char *path, ws_http_res *res);
/* The Content-Type of a file name, by its extension. */
const char *static_content_type(const char *path);

#endif
