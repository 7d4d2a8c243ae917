/*
 * web.c - the web page at / (GET /, GET /web/FILE): the files of web/,
 * compiled into the binary (cmake/web_assets.cmake), served from memory.
 *
 * The page is public (it holds no secret: a browser cannot send a key when
 * it navigates); everything it does goes through the API, under the API's
 * key rules. The page asks for the key and keeps it in the tab
 * (sessionStorage).
 *
 * Every file goes out with a strict Content-Security-Policy: scripts,
 * styles and requests only from this origin, no inline script or style
 * attribute, no frames, no forms posting elsewhere. The page builds its DOM
 * with textContent only, so a document containing <script> shows as text;
 * the policy is the second wall, should that ever slip. nosniff keeps a
 * browser from reading a file as another type; an ETag (a hash of the
 * bytes, from the build) lets it revalidate with a 304 instead of a
 * download. --no-web (fr_server_params.no_web) turns all of this off: the
 * paths then answer 404 like any unknown URL.
 */
#include "serve/web.h"
#include "serve/server_impl.h"

#include <string.h>

#define SRV_WEB_CSP                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "        \
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const srv_web_asset *srv_web_find(const char *url)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
        url = "/web/index.html";
    for (const srv_web_asset *a = srv_web_assets; a->path; a++)
        if (strcmp(a->path, url) == 0)
            return a;
    return NULL;
}

enum MHD_Result srv_handle_web(srv_conn *c)
{
    const srv_web_asset *a = srv_web_find(c->url);
    if (!a) {
        srv_error e = {0};
        srv_fail(&e, 404, NULL, "unknown_url", NULL,
                 "Invalid URL (%s): the web page has no such file", c->path);
        return srv_reply_error(c, &e);
    }
    const char *inm =
        MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    /* the client's copy is this one: its ETag in the list, or "*" */
    bool fresh = inm && (strstr(inm, a->etag) != NULL || strcmp(inm, "*") == 0);
    struct MHD_Response *r = MHD_create_response_from_buffer(
        fresh ? 0 : a->len, fresh ? NULL : (void *)a->data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    if (!fresh)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->etag);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "Content-Security-Policy", SRV_WEB_CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    return srv_reply_response(c, fresh ? 304 : 200, r);
}
