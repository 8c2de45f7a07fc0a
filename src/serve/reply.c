/* reply.c — building replies: every error is {"error": "<sentence>"}. */
#include "serve/request.h"

#include <stdarg.h>
#include <stdio.h>

int serve_error(serve_reply *out, int status, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *text = json_string(msg);
    if (!text) {
        /* Not UTF-8 (a byte from the client, or a cut in the middle of a
         * character): the sentence still reaches the client, in ASCII. */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80) *p = '?';
        text = json_string(msg);
    }
    json_decref(out->body);
    out->status = status;
    out->body = text ? json_pack("{s:o}", "error", text) : NULL;
    return 0;
}

int serve_ok(serve_reply *out, json_t *body) {
    json_decref(out->body);
    out->status = 200;
    out->body = body;
    return 0;
}
