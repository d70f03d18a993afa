/*
 * floor.c - the physical floor for a memsleuth snapshot.
 *
 * Does the same kernel work as memsleuth.snapshot.capture.capture(Host.open())
 * with no parsing and no allocation per file: the same files, opened with
 * the same flags, read with the same 64 KiB read() loop until EOF, closed.
 *
 *   - the reads Host.open() does for its metadata (spec lines "H");
 *   - every SYSTEM_FILES entry (spec lines "S"), or with flag 32 only the
 *     "E" lines instead (the four files node_exporter's meminfo, vmstat,
 *     slabinfo and buddyinfo collectors read, for the like-for-like row);
 *   - sys/devices/system/node listing, NODE_FILES for each nodeN ("N");
 *   - sys/kernel/slab listing, readlink() of every symlink entry, and
 *     SLAB_FILES for every real cache ("L");
 *   - the /proc listing, then per PID: stat; unless a kernel thread
 *     (PF_KTHREAD in stat field 9) also status; unless a kernel thread or a
 *     zombie also the "needs an mm" files (smaps_rollup, cmdline ...).  The
 *     per-process names come from the spec ("P"), in capture's order;
 *   - memory cgroups: the same root detection (readlink of
 *     memory/memory.stat, memory/memory.usage_in_bytes, then the v2
 *     cgroup.controllers files), the same directory walk, and every
 *     CGROUP_FILES name in every directory ("C"), absent ones included.
 *
 * The spec file is written by bench/snapshot_bench.py from memsleuth's own
 * constants, so the lists cannot drift.
 *
 * Built twice by the bench: as a command (bench/out/floor) and as a shared
 * library (bench/out/libfloor.so, -DFLOOR_LIB) that the bench calls through
 * ctypes between memsleuth passes, so the in-process floor is interleaved
 * with the in-process Python tools under the same load.
 *
 * usage: floor SPEC [-f FLAGS] [-n PASSES]
 *   FLAGS: bit mask, 1 meta+system files, 2 numa, 4 slab sysfs,
 *          8 processes, 16 cgroups (default 31 = a full capture),
 *          32 read the "E" files instead of the "S" files (like-for-like
 *          system row; "H" files are read either way).
 *   With -n, prints the wall time of each pass in microseconds.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define MAXNAMES 128
#define PF_KTHREAD 0x00200000UL

enum { F_SYS = 1, F_NUMA = 2, F_SLAB = 4, F_PROCS = 8, F_CGROUPS = 16, F_SUBSET = 32 };

static char buf[CHUNK];
static char *metafiles[MAXNAMES], *sysfiles[MAXNAMES], *subfiles[MAXNAMES];
static char *nodefiles[MAXNAMES], *slabfiles[MAXNAMES];
static char *procfiles[MAXNAMES], *cgfiles[MAXNAMES];
static int nmeta, nsys, nsub, nnode, nslab, nproc, ncg;
static int needs_mm[MAXNAMES];
static long nread; /* files read successfully in the last pass */

/* One file, exactly as host._DirBackend.read does it. Returns bytes or -1. */
static long slurp(const char *path, char *keep, size_t keepsz)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    long total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, CHUNK);
        if (n < 0) {
            total = -1;
            break;
        }
        if (n == 0)
            break;
        if (keep && total == 0) {
            size_t c = (size_t)n < keepsz - 1 ? (size_t)n : keepsz - 1;
            memcpy(keep, buf, c);
            keep[c] = 0;
        }
        total += n;
    }
    close(fd);
    if (total >= 0)
        nread++;
    return total;
}

static int is_mm_name(const char *s)
{
    static const char *mm[] = {"smaps_rollup", "smaps", "statm", "maps", "numa_maps", "cmdline"};
    for (size_t i = 0; i < sizeof mm / sizeof *mm; i++)
        if (!strcmp(s, mm[i]))
            return 1;
    return 0;
}

int floor_init(const char *spec)
{
    FILE *f = fopen(spec, "r");
    if (!f)
        return -1;
    char line[4096];
    nmeta = nsys = nsub = nnode = nslab = nproc = ncg = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (strlen(line) < 3 || line[1] != ' ')
            continue;
        char *v = strdup(line + 2);
        switch (line[0]) {
        case 'H': /* Host.open() metadata reads: read like system files */
            if (nmeta < MAXNAMES) metafiles[nmeta++] = v;
            break;
        case 'S':
            if (nsys < MAXNAMES) sysfiles[nsys++] = v;
            break;
        case 'E':
            if (nsub < MAXNAMES) subfiles[nsub++] = v;
            break;
        case 'N':
            if (nnode < MAXNAMES) nodefiles[nnode++] = v;
            break;
        case 'L':
            if (nslab < MAXNAMES) slabfiles[nslab++] = v;
            break;
        case 'P':
            if (!strcmp(v, "stat"))
                break; /* always read first */
            if (nproc < MAXNAMES) {
                needs_mm[nproc] = is_mm_name(v);
                procfiles[nproc++] = v;
            }
            break;
        case 'C':
            if (ncg < MAXNAMES) cgfiles[ncg++] = v;
            break;
        default:
            free(v);
        }
    }
    fclose(f);
    return nmeta + nsys;
}

static void do_numa(void)
{
    DIR *d = opendir("/sys/devices/system/node");
    if (!d)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strncmp(n, "node", 4) || !n[4])
            continue;
        int digits = 1;
        for (const char *p = n + 4; *p; p++)
            digits &= (*p >= '0' && *p <= '9');
        if (!digits)
            continue;
        for (int i = 0; i < nnode; i++) {
            snprintf(path, sizeof path, "/sys/devices/system/node/%s/%s", n, nodefiles[i]);
            slurp(path, NULL, 0);
        }
    }
    closedir(d);
}

static void do_slab(void)
{
    DIR *d = opendir("/sys/kernel/slab");
    if (!d)
        return;
    struct dirent *e;
    char path[512], target[512];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        snprintf(path, sizeof path, "/sys/kernel/slab/%s", e->d_name);
        if (e->d_type == DT_LNK) {
            (void)readlink(path, target, sizeof target); /* capture records the alias */
            continue;
        }
        for (int i = 0; i < nslab; i++) {
            snprintf(path, sizeof path, "/sys/kernel/slab/%s/%s", e->d_name, slabfiles[i]);
            slurp(path, NULL, 0);
        }
    }
    closedir(d);
}

static void do_procs(void)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    char path[512], stat[1024];
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (*n < '0' || *n > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", n);
        if (slurp(path, stat, sizeof stat) <= 0)
            continue;
        /* fields after the last ") ": state ppid pgrp session tty tpgid flags */
        char *p = strrchr(stat, ')');
        if (!p || p[1] != ' ')
            continue;
        char state = p[2];
        unsigned long flags = 0;
        int field = 0;
        for (char *q = p + 2; *q; q++) {
            if (*q == ' ' && ++field == 6) {
                flags = strtoul(q + 1, NULL, 10);
                break;
            }
        }
        int kthread = (flags & PF_KTHREAD) != 0;
        for (int i = 0; i < nproc; i++) {
            if (needs_mm[i] && (kthread || state == 'Z'))
                continue;
            if (kthread && !strcmp(procfiles[i], "status"))
                continue;
            snprintf(path, sizeof path, "/proc/%s/%s", n, procfiles[i]);
            if (slurp(path, NULL, 0) < 0 && errno != EACCES && errno != EPERM)
                break; /* gone (ENOENT/ESRCH): capture drops the process */
        }
    }
    closedir(d);
}

static int exists(const char *path)
{
    char t[8];
    return readlink(path, t, sizeof t) >= 0 || errno == EINVAL || errno == EACCES;
}

static void cg_walk(const char *dir)
{
    char path[4096];
    for (int i = 0; i < ncg; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, cgfiles[i]);
        slurp(path, NULL, 0);
    }
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue; /* scandir + is_dir(follow_symlinks=False) */
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        cg_walk(path);
    }
    closedir(d);
}

static void do_cgroups(void)
{
    if (exists("/sys/fs/cgroup/memory/memory.stat") ||
        exists("/sys/fs/cgroup/memory/memory.usage_in_bytes"))
        cg_walk("/sys/fs/cgroup/memory");
    static const char *v2[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
    char path[256], ctl[4096];
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/cgroup.controllers", v2[i]);
        ctl[0] = 0;
        if (slurp(path, ctl, sizeof ctl) < 0)
            continue;
        nread--; /* read_optional: capture does not keep it */
        int found = 0;
        for (char *tok = strtok(ctl, " \n"); tok; tok = strtok(NULL, " \n"))
            found |= !strcmp(tok, "memory");
        if (found) {
            cg_walk(v2[i]);
            break;
        }
    }
}

/* One snapshot pass; returns the number of files read. */
long floor_pass(int flags)
{
    nread = 0;
    char path[512];
    if (flags & F_SYS) {
        char **list = (flags & F_SUBSET) ? subfiles : sysfiles;
        int n = (flags & F_SUBSET) ? nsub : nsys;
        for (int i = 0; i < nmeta; i++) {
            snprintf(path, sizeof path, "/%s", metafiles[i]);
            slurp(path, NULL, 0);
        }
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "/%s", list[i]);
            slurp(path, NULL, 0);
        }
    }
    if (flags & F_NUMA)
        do_numa();
    if (flags & F_SLAB)
        do_slab();
    if (flags & F_PROCS)
        do_procs();
    if (flags & F_CGROUPS)
        do_cgroups();
    return nread;
}

#ifndef FLOOR_LIB
int main(int argc, char **argv)
{
    int flags = F_SYS | F_NUMA | F_SLAB | F_PROCS | F_CGROUPS, passes = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s SPEC [-f FLAGS] [-n PASSES]\n", argv[0]);
        return 2;
    }
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-f"))
            flags = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-n"))
            passes = atoi(argv[i + 1]);
    }
    if (floor_init(argv[1]) < 0) {
        perror(argv[1]);
        return 2;
    }
    if (!passes) {
        floor_pass(flags);
        return 0;
    }
    for (int i = 0; i < passes; i++) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        long n = floor_pass(flags);
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f %ld\n", (b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3, n);
    }
    return 0;
}
#endif
