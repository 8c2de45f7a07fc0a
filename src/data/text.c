/* text.c — line splitting, field splitting and Latin-1/UTF-8 handling for the
 * metadata readers. Old GroupLens files are Latin-1 and some copies have CRLF
 * or bare CR endings, so every ending and both encodings are accepted. */
#include "data/text.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int fl_next_line(const char *buf, size_t len, size_t *pos, fl_span *line) {
    size_t k = *pos;
    if (k >= len) return 0;
    size_t e = k;
    while (e < len && buf[e] != '\n' && buf[e] != '\r') e++;
    line->s = buf + k;
    line->len = e - k;
    if (e < len && buf[e] == '\r' && e + 1 < len && buf[e + 1] == '\n')
        e += 2;
    else if (e < len)
        e++;
    *pos = e;
    return 1;
}

size_t fl_split_fields(fl_span line, const char *sep, fl_span *f, size_t max) {
    size_t sep_len = strlen(sep), n = 0, k = 0;
    for (;;) {
        size_t e = k;
        while (e + sep_len <= line.len && memcmp(line.s + e, sep, sep_len) != 0) e++;
        if (e + sep_len > line.len) e = line.len;
        if (n < max) f[n] = (fl_span){line.s + k, e - k};
        n++;
        if (e >= line.len) return n;
        k = e + sep_len;
    }
}

fl_span fl_trim(fl_span s) {
    while (s.len && (s.s[0] == ' ' || s.s[0] == '\t')) s.s++, s.len--;
    while (s.len && (s.s[s.len - 1] == ' ' || s.s[s.len - 1] == '\t')) s.len--;
    return s;
}

int fl_span_eq(fl_span s, const char *lit) {
    return s.len == strlen(lit) && memcmp(s.s, lit, s.len) == 0;
}

int fl_span_ieq(fl_span s, const char *lit) {
    if (s.len != strlen(lit)) return 0;
    for (size_t k = 0; k < s.len; k++)
        if (tolower((unsigned char)s.s[k]) != tolower((unsigned char)lit[k])) return 0;
    return 1;
}

int fl_is_utf8(const char *buf, size_t len) {
    const unsigned char *s = (const unsigned char *)buf;
    size_t k = 0;
    while (k < len) {
        unsigned c = s[k];
        if (c < 0x80) {
            k++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0)
            n = 1, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            n = 2, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            n = 3, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (len - k <= n) return 0;
        for (size_t j = 1; j <= n; j++) {
            if ((s[k + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[k + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        k += n + 1;
    }
    return 1;
}

char *fl_utf8_dup(fl_span s, int latin1) {
    size_t extra = 0;
    if (latin1)
        for (size_t k = 0; k < s.len; k++) extra += (unsigned char)s.s[k] >= 0x80;
    char *out = malloc(s.len + extra + 1);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t k = 0; k < s.len; k++) {
        unsigned char c = (unsigned char)s.s[k];
        if (latin1 && c >= 0x80) {
            /* ISO-8859-1 is the first 256 code points: two-byte UTF-8. */
            out[n++] = (char)(0xC0 | (c >> 6));
            out[n++] = (char)(0x80 | (c & 0x3F));
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return out;
}

int fl_title_year(fl_span title) {
    title = fl_trim(title);
    if (title.len < 6) return 0;
    const char *t = title.s + title.len - 6;
    if (t[0] != '(' || t[5] != ')') return 0;
    int y = 0;
    for (int k = 1; k <= 4; k++) {
        if (t[k] < '0' || t[k] > '9') return 0;
        y = y * 10 + (t[k] - '0');
    }
    return y;
}
