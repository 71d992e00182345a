#ifndef SLIM_SENSOR_COLLECT_H
#define SLIM_SENSOR_COLLECT_H
/* Copies every path listed in list (escaped, one per line) into dest, or with
 * dest "-" writes them as one tar stream on stdout; 0 on success. */
int collect_main(const char *list, const char *dest);
#endif
