/*
 * loadgen.c - N idle processes with a little private anonymous memory each,
 * the load of research/perf-baseline.md ("each child touches 1-4 MiB of
 * private anon memory and has about 3 MiB RSS and 25 VMAs").
 *
 * usage: loadgen N [SEED]
 *
 * Forks N children.  Child i maps 1-4 MiB (deterministic pseudo-random from
 * SEED and i, in 4 KiB pages, so smaps_rollup walks real page tables),
 * writes every page, reports on a pipe and sleeps in pause().  When all N
 * have reported, the parent prints "ready N KiB" on stdout and waits.
 *
 * Clean-up is bounded and does not depend on the caller: each child has
 * PR_SET_PDEATHSIG=SIGKILL, so it dies with the parent; the parent kills
 * its children on SIGTERM, SIGINT, SIGHUP or when its stdin reaches EOF
 * (the bench keeps a pipe open to it), then reaps them and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <poll.h>

static pid_t *kids;
static int nkids;
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static void kill_all(void)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGKILL);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s N [SEED]\n", argv[0]);
        return 2;
    }
    int n = atoi(argv[1]);
    unsigned seed = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
    kids = calloc((size_t)n + 1, sizeof *kids);
    int fds[2];
    if (!kids || pipe(fds) < 0) {
        perror("loadgen");
        return 1;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    pid_t parent = getpid();
    long total_kib = 0;

    for (int i = 0; i < n && !stop; i++) {
        unsigned x = seed * 2654435761u + (unsigned)i * 40503u;
        x ^= x >> 13;
        x *= 0x5bd1e995u;
        x ^= x >> 15;
        size_t mib = 1 + x % 4;
        total_kib += (long)mib * 1024;
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            stop = 1;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(0);
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_IGN); /* the parent decides; Ctrl-C reaches it too */
            signal(SIGHUP, SIG_DFL);
            close(fds[0]);
            size_t len = mib << 20;
            char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED)
                _exit(1);
            madvise(p, len, MADV_NOHUGEPAGE);
            for (size_t off = 0; off < len; off += 4096)
                p[off] = (char)(off >> 12);
            if (write(fds[1], "x", 1) != 1)
                _exit(1);
            close(fds[1]);
            close(0);
            for (;;)
                pause();
        }
        kids[nkids++] = pid;
    }
    close(fds[1]);
    int got = 0;
    char b[256];
    while (got < nkids && !stop) {
        ssize_t r = read(fds[0], b, sizeof b);
        if (r > 0)
            got += (int)r;
        else if (r == 0 || errno != EINTR)
            break;
    }
    close(fds[0]);
    if (stop || got < n) {
        fprintf(stderr, "loadgen: only %d of %d children ready\n", got, n);
        kill_all();
        return 1;
    }
    printf("ready %d %ld\n", nkids, total_kib);
    fflush(stdout);

    /* wait for a signal or for EOF on stdin (the bench went away) */
    struct pollfd pfd = {.fd = 0, .events = POLLIN};
    while (!stop) {
        int r = poll(&pfd, 1, 1000);
        if (r > 0) {
            ssize_t k = read(0, b, sizeof b);
            if (k <= 0)
                break;
        }
    }
    kill_all();
    return 0;
}
