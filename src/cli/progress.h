/* progress.h — a one-line progress bar on stderr (percentage, rate, ETA),
 * drawn only when stderr is a terminal and at most ~10 times a second. */
#ifndef FL_CLI_PROGRESS_H
#define FL_CLI_PROGRESS_H

typedef struct cli_progress {
    int enabled;
    int drawn; /* a bar is on screen and must be cleared */
    double start; /* when the current phase began (monotonic seconds) */
    double last_draw;
    char label[64];
    const char *unit; /* "ratings", "B"; NULL: units of work, no rate shown */
} cli_progress;

double cli_now(void);
int cli_stderr_is_tty(void);
void cli_progress_init(cli_progress *p, int enabled);
/* Begins a phase (an epoch, a download). */
void cli_progress_start(cli_progress *p, const char *label, const char *unit);
/* total <= 0: unknown, shows only the count and rate. */
void cli_progress_update(cli_progress *p, double done, double total);
/* Shows text alone at once (a step with nothing to count, like saving). */
void cli_progress_show(cli_progress *p, const char *text);
/* Erases the bar so a normal line can follow. */
void cli_progress_clear(cli_progress *p);

#endif
