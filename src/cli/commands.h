/* commands.h — the subcommands main.c dispatches to. Each takes its own argv
 * (argv[0] is the subcommand name) and returns the process exit code. */
#ifndef FL_CLI_COMMANDS_H
#define FL_CLI_COMMANDS_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_similar(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_download(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_shard(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#endif
