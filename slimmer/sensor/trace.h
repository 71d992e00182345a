#ifndef SLIM_SENSOR_TRACE_H
#define SLIM_SENSOR_TRACE_H
/* Runs argv traced, logging into log_dir; returns the app's exit status. */
int trace_main(const char *log_dir, char **argv, int run_mode);
#endif
