/* progress.c — the progress bar. It rewrites one stderr line with "\r" and
 * erase-to-end-of-line, so it only makes sense on a terminal; callers pass
 * enabled = cli_stderr_is_tty() and nothing is drawn otherwise. */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 28
#define REDRAW_SECONDS 0.1

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cli_stderr_is_tty(void) { return isatty(STDERR_FILENO); }

void cli_progress_init(cli_progress *p, int enabled) {
    memset(p, 0, sizeof *p);
    p->enabled = enabled;
    p->unit = "";
}

void cli_progress_start(cli_progress *p, const char *label, const char *unit) {
    snprintf(p->label, sizeof p->label, "%s", label);
    p->unit = unit;
    p->start = p->last_draw = cli_now();
}

/* 1234567 -> "1.23M" */
static void human(char *buf, size_t len, double x) {
    static const char *suffix[] = {"", "k", "M", "G", "T"};
    int s = 0;
    while (x >= 1000.0 && s < 4) x /= 1000.0, s++;
    snprintf(buf, len, s ? "%.2f%s" : "%.0f%s", x, suffix[s]);
}

void cli_progress_update(cli_progress *p, double done, double total) {
    if (!p->enabled) return;
    double now = cli_now();
    if (now - p->last_draw < REDRAW_SECONDS) return;
    p->last_draw = now;
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? done / elapsed : 0;
    char rate_s[32], line[256];
    human(rate_s, sizeof rate_s, rate);
    if (total > 0) {
        double frac = done / total;
        if (frac > 1) frac = 1;
        char bar[BAR_WIDTH + 1];
        int fill = (int)(frac * BAR_WIDTH);
        for (int k = 0; k < BAR_WIDTH; k++) bar[k] = k < fill ? '#' : '.';
        bar[BAR_WIDTH] = '\0';
        double eta = rate > 0 ? (total - done) / rate : 0;
        if (p->unit)
            snprintf(line, sizeof line, "%s [%s] %3.0f%%  %s %s/s  ETA %.1fs", p->label, bar,
                     100 * frac, rate_s, p->unit, eta);
        else
            snprintf(line, sizeof line, "%s [%s] %3.0f%%  ETA %.1fs", p->label, bar, 100 * frac,
                     eta);
    } else {
        char done_s[32];
        human(done_s, sizeof done_s, done);
        const char *unit = p->unit ? p->unit : "";
        snprintf(line, sizeof line, "%s  %s %s  %s %s/s", p->label, done_s, unit, rate_s, unit);
    }
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_show(cli_progress *p, const char *text) {
    if (!p->enabled) return;
    fprintf(stderr, "\r%s\033[K", text);
    fflush(stderr);
    p->drawn = 1;
}

void cli_progress_clear(cli_progress *p) {
    if (!p->drawn) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
}
