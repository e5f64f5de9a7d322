/* Test helper: run a program with io_uring refused, as a sandbox or a container's seccomp profile
 * refuses it, without touching the machine (the sysctl kernel.io_uring_disabled is machine-wide).
 *
 *   no_uring [-e] PROGRAM [ARG...]
 *
 * Installs a seccomp filter that makes io_uring_setup fail with EPERM (with -e: io_uring_enter
 * instead, so rings are made but cannot be used), then execs PROGRAM. Exit 127 if the exec fails,
 * 77 if seccomp is not available here. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "no_uring: add this architecture's AUDIT_ARCH"
#endif

int main(int argc, char **argv)
{
    int a = 1;
    unsigned nr = __NR_io_uring_setup;
    if (a < argc && !strcmp(argv[a], "-e")) {
        nr = __NR_io_uring_enter;
        a++;
    }
    if (a >= argc) {
        fprintf(stderr, "usage: no_uring [-e] PROGRAM [ARG...]\n");
        return 2;
    }
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW), /* another ABI: not ours to judge */
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof *f, .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
        fprintf(stderr, "no_uring: seccomp: %s\n", strerror(errno));
        return 77;
    }
    execvp(argv[a], argv + a);
    fprintf(stderr, "no_uring: %s: %s\n", argv[a], strerror(errno));
    return 127;
}
