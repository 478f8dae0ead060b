// Client and backend of the node-agent benchmark (compiled by the benchmark with the system cc).
//   server ADDR PORT NAME   accept loop (PORT 0: any free port): prints "listening PORT", then sends each connection the one-byte NAME and closes it
//   rate ADDR PORT N        N x (socket, connect, close with RST); prints "ok errors elapsed_ns" then one latency (ns) per line
//   watch ADDR PORT         connect, read the backend's byte, close, forever; prints "BYTE monotonic_ns failures" when the byte
//                           changes ('x': connect failed, '!': no byte), failures = connects so far that reached no backend
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct sockaddr_in address(const char *ip, const char *port) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)atoi(port));
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", ip); exit(2); }
    return a;
}

static void close_rst(int fd) {
    // An abortive close leaves no TIME_WAIT behind, so long runs do not run out of ports.
    struct linger l = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: server|rate|watch ADDR PORT ...\n"); return 2; }
    struct sockaddr_in a = address(argv[2], argv[3]);
    if (strcmp(argv[1], "server") == 0 && argc == 5) {
        int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4096)) { perror("bind/listen"); return 1; }
        socklen_t len = sizeof a;
        getsockname(s, (struct sockaddr *)&a, &len);
        printf("listening %d\n", ntohs(a.sin_port));
        fflush(stdout);
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0) continue;
            (void)!write(c, argv[4], 1);
            close(c);
        }
    }
    if (strcmp(argv[1], "rate") == 0 && argc == 5) {
        int n = atoi(argv[4]), ok = 0, errors = 0;
        long long *lat = calloc((size_t)n, sizeof *lat);
        long long start = now_ns();
        for (int i = 0; i < n; i++) {
            long long t = now_ns();
            int s = socket(AF_INET, SOCK_STREAM, 0);
            int rc = connect(s, (struct sockaddr *)&a, sizeof a);
            close_rst(s);
            lat[i] = now_ns() - t;
            if (rc == 0) ok++; else errors++;
        }
        long long elapsed = now_ns() - start;
        printf("%d %d %lld\n", ok, errors, elapsed);
        for (int i = 0; i < n; i++) printf("%lld\n", lat[i]);
        return 0;
    }
    if (strcmp(argv[1], "watch") == 0) {
        char last = 0;
        long long failures = 0;
        for (;;) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            char b = '?';
            if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
                if (read(s, &b, 1) != 1) b = '!';
            } else {
                b = 'x';
            }
            close_rst(s);
            if (b == 'x' || b == '!') failures++;
            if (b != last) {
                printf("%c %lld %lld\n", b, now_ns(), failures);
                fflush(stdout);
                last = b;
            }
        }
    }
    fprintf(stderr, "bad arguments\n");
    return 2;
}
