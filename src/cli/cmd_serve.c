/* cmd_serve.c — `factorlens serve MODEL`: parses the options and hands over
 * to the HTTP server (src/serve), which runs until SIGINT or SIGTERM. */
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/messages.h"
#include "serve/server.h"

#include <stdio.h>
#include <unistd.h>

static void print_help(void) {
    printf("Usage: factorlens serve MODEL [options]\n"
           "\n"
           "Serves the model over HTTP (JSON, UTF-8) until SIGINT or SIGTERM; SIGHUP, or\n"
           "POST /v1/reload, loads MODEL again and swaps it in (a corrupt file is refused\n"
           "and the old model keeps serving). The first log line on stderr names the\n"
           "address, with the port chosen when --port is 0; the next says how much memory\n"
           "the compact scan index of the items takes (top-n lists read it instead of\n"
           "the float factors; built at load for 1024 items or more).\n"
           "\n"
           "  --port N             TCP port, 0 for any free one (default 8080)\n"
           "  --bind ADDR          numeric IPv4 or IPv6 address to listen on\n"
           "                       (default 127.0.0.1: this machine only)\n"
           "  --items FILE         u.item or movies.csv, for titles and search (default: none)\n"
           "  --threads N          request threads (default: the number of cores); a\n"
           "                       recommend or fold-in request alone on the server also\n"
           "                       splits its scan of the catalogue between all cores\n"
           "  --web DIR            the page's files (default: web/ beside the build folder of\n"
           "                       this binary, or PREFIX/share/factorlens/web when installed)\n"
           "  -h, --help           this help\n"
           "\n"
           "Endpoints:\n"
           "  GET  /v1/predict?user=ID&item=ID        {\"user\",\"item\",\"rating\"}\n"
           "  GET  /v1/recommend?user=ID&n=10&exclude_seen=1\n"
           "                                          {\"user\",\"items\":[{\"item\",\"score\",\"title\"}]}\n"
           "  GET  /v1/similar?item=ID&n=10           {\"item\",\"items\":[...]}\n"
           "  POST /v1/foldin  {\"ratings\":[{\"item\":\"50\",\"rating\":5}],\"n\":10}\n"
           "                                          {\"bias\",\"n_used\",\"items\":[...]}\n"
           "  GET  /v1/items?q=TEXT&n=10              title search, most rated first\n"
           "  GET  /v1/items/ID                       {\"item\",\"title\",\"bias\",\"count\",\"mean\"}\n"
           "  GET  /healthz   GET /metrics (Prometheus)   POST /v1/reload   GET / (the page)\n"
           "Errors: {\"error\": \"...\"} with 400 (bad parameter or JSON), 404 (unknown id or\n"
           "path), 405 (wrong method), 413 (body over 1 MiB), 500 (refused reload).\n");
    cli_print_exit_codes(stdout);
}

int cmd_serve(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) return print_help(), 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    serve_options o = {NULL, NULL, "127.0.0.1", 8080, cores > 0 ? (int)cores : 1, NULL};
    cli_args a;
    cli_args_init(&a, "serve", argc, argv);
    while (cli_next(&a)) {
        if (a.positional) {
            if (o.model_path) cli_unknown(&a);
            o.model_path = a.arg;
            continue;
        }
        (void)(cli_int(&a, "--port", 0, 65535, &o.port) || cli_str(&a, "--bind", &o.bind) ||
               cli_str(&a, "--items", &o.items_path) || cli_int(&a, "--threads", 1, 256, &o.threads) ||
               cli_str(&a, "--web", &o.web_dir));
    }
    if (a.failed) return cli_usage_fail(&a);
    if (!o.model_path) return cli_error(2, "serve needs a MODEL file (see factorlens serve --help)");
    return serve_run(&o);
}
