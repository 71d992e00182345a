/*
 * server: a tiny single-threaded HTTP/1.0 server for the static-scratch sample.
 *
 *   server [PORT]          serve on PORT (default 8080)
 *   server health [PORT]   client mode for HEALTHCHECK and exec probes (the image has
 *                          no shell and no curl): GET /health on 127.0.0.1:PORT,
 *                          print the body, exit 0 on "200 OK", 1 otherwise
 *
 * GET /        -> "hello from static-scratch\n" followed by /etc/app/message.txt
 * GET /health  -> "ok\n"
 * anything else-> 404
 * The message file is read on every request, so only a request proves it is there.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>

#define MESSAGE_FILE "/etc/app/message.txt"

static void on_term(int sig) {
    (void)sig;
    _exit(0);
}

static void respond(int fd, const char *status, const char *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, len);
    if (write(fd, head, (size_t)n) < 0 || write(fd, body, len) < 0) {
        perror("write");
    }
}

static void serve(int fd) {
    char request[2048];
    ssize_t got = read(fd, request, sizeof request - 1);
    if (got <= 0) {
        return;
    }
    request[got] = '\0';
    char method[8] = "", path[256] = "";
    if (sscanf(request, "%7s %255s", method, path) != 2 || strcmp(method, "GET") != 0) {
        respond(fd, "405 Method Not Allowed", "method not allowed\n", 19);
        return;
    }
    char *query = strchr(path, '?');
    if (query) {
        *query = '\0';
    }
    if (strcmp(path, "/health") == 0) {
        respond(fd, "200 OK", "ok\n", 3);
    } else if (strcmp(path, "/") == 0) {
        char body[4096];
        size_t len = (size_t)snprintf(body, sizeof body, "hello from static-scratch\n");
        int msg = open(MESSAGE_FILE, O_RDONLY);
        if (msg < 0) {
            respond(fd, "500 Internal Server Error", "cannot open " MESSAGE_FILE "\n",
                    sizeof("cannot open " MESSAGE_FILE "\n") - 1);
            return;
        }
        ssize_t n = read(msg, body + len, sizeof body - len);
        close(msg);
        if (n > 0) {
            len += (size_t)n;
        }
        respond(fd, "200 OK", body, len);
    } else {
        respond(fd, "404 Not Found", "not found\n", 10);
    }
}

static int health(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("health: connect");
        return 1;
    }
    const char request[] = "GET /health HTTP/1.0\r\n\r\n";
    if (write(fd, request, sizeof request - 1) < 0) {
        perror("health: write");
        return 1;
    }
    char reply[1024];
    size_t len = 0;
    ssize_t n;
    while (len < sizeof reply - 1 && (n = read(fd, reply + len, sizeof reply - 1 - len)) > 0) {
        len += (size_t)n;
    }
    reply[len] = '\0';
    close(fd);
    char *body = strstr(reply, "\r\n\r\n");
    fputs(body ? body + 4 : reply, stdout);
    return strncmp(reply, "HTTP/1.0 200 OK", 15) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "health") == 0) {
        return health(argc > 2 ? atoi(argv[2]) : 8080);
    }
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    signal(SIGPIPE, SIG_IGN);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                               .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listener, 16) < 0) {
        perror("listen");
        return 1;
    }
    fprintf(stderr, "static-scratch listening on %d\n", port);
    for (;;) {
        int fd = accept(listener, NULL, NULL);
        if (fd < 0) {
            continue;
        }
        serve(fd);
        close(fd);
    }
}
