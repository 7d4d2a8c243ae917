/*
 * web.h - the web page's files, compiled into the binary from web/ by
 * cmake/web_assets.cmake (the generated table), and the lookup the server
 * uses to serve them (web.c).
 */
#ifndef FR_SERVE_WEB_H
#define FR_SERVE_WEB_H

#include <stddef.h>

typedef struct srv_web_asset {
    const char *path;          /* "/web/app.js" */
    const char *type;          /* Content-Type */
    const unsigned char *data; /* len bytes (and a NUL after them) */
    size_t len;
    const char *etag;          /* quoted strong validator: a hash of the bytes */
} srv_web_asset;

/* Every file of web/, ended by an entry whose path is NULL (generated). */
extern const srv_web_asset srv_web_assets[];

/* The file a URL path names: "/" and "/index.html" are /web/index.html;
 * NULL when none (query strings are not part of url: MHD strips them). */
const srv_web_asset *srv_web_find(const char *url);

#endif
