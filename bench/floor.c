#define _GNU_SOURCE
/* The floor: a single-threaded epoll HTTP/1.1 server that parses and counts nothing. It answers every "\r\n\r\n" it
 * sees with the same 1x1 GIF response pixel-ping sends, all answers of one read in one write, and closes after the
 * answer when the request said "Connection: close". No server that does the work can beat it; bench/run.sh builds it
 * with gcc and measures it as a peer. Usage: floor PORT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00\x21\xf9\x04\x01\x00\x00\x00\x00"
                          "\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b";
static char answer[512];
static int answer_length;

int main(int argc, char **argv) {
    answer_length = snprintf(answer, sizeof answer - 43,
        "HTTP/1.1 200 OK\r\nCache-Control: private, no-cache, proxy-revalidate, max-age=0\r\nContent-Type: image/gif\r\n"
        "Content-Disposition: inline\r\nContent-Length: 43\r\nDate: Tue, 01 Dec 2026 12:00:00 GMT\r\n"
        "Connection: keep-alive\r\n\r\n");
    memcpy(answer + answer_length, gif, 43);
    answer_length += 43;
    int one = 1, listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(listener, (struct sockaddr *)&address, sizeof address) || listen(listener, 4096)) { perror("floor"); return 1; }
    int epoll = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = listener }, events[256];
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev);
    static char in[16384], out[16384 / 16 * 512];
    for (;;) {
        int n = epoll_wait(epoll, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    ev.events = EPOLLIN; ev.data.fd = client;
                    epoll_ctl(epoll, EPOLL_CTL_ADD, client, &ev);
                }
                continue;
            }
            ssize_t got = read(fd, in, sizeof in - 1);
            if (got <= 0) { close(fd); continue; }
            in[got] = 0;
            int length = 0, close_after = strstr(in, "Connection: close") != NULL;
            for (char *p = in; length + answer_length <= (int)sizeof out && (p = strstr(p, "\r\n\r\n")) != NULL; p += 4) {
                memcpy(out + length, answer, answer_length);
                length += answer_length;
            }
            if (length > 0 && write(fd, out, length) < 0) close_after = 1;
            if (close_after) close(fd);
        }
    }
}
