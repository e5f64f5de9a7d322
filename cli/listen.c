/* sockkit listen: the server side of netcat, with --exec per connection. */
#include "netcat.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void say_listening(int lfd, const struct nc_opts *o)
{
    if (!o->verbose)
        return;
    sk_addr a;
    sk_sock_get_local_addr(lfd, &a);
    char text[SK_ADDRSTRLEN];
    sk_addr_format(&a, text, sizeof text);
    if (sk_addr_port(&a) >= 0) {
        /* "listening on HOST PORT": the real port, also when the endpoint asked for port 0 */
        char *colon = strrchr(text, ':');
        *colon = '\0';
        const char *host = text;
        if (host[0] == '[') {
            host++;
            colon[-1] = '\0';
        }
        cli_say("listening on %s %d (%s)", host, sk_addr_port(&a), o->udp ? "udp" : "tcp");
    } else {
        cli_say("listening on %s", text);
    }
}

static void say_peer(const sk_addr *peer, const struct nc_opts *o)
{
    if (!o->verbose)
        return;
    char text[SK_ADDRSTRLEN];
    sk_addr_format(peer, text, sizeof text);
    cli_say("connection from %s", text);
}

static pid_t spawn(int fd, const char *cmd)
{
    pid_t pid = fork();
    if (pid == 0) {
        /* The child: the socket becomes stdin and stdout; stderr stays ours. */
        if (dup2(fd, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Reap finished children without blocking; returns how many. */
static int reap(void)
{
    int n = 0;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        n++;
    return n;
}

/* Wait for the next client. -w does not bound this wait (as nc: "-w has no effect on -l"); it
 * is the idle timeout of a session. Without -k the listening socket is closed once the one client
 * is in, so that a second client is refused rather than left hanging in the backlog. */
static int next_client(int lfd, const struct nc_opts *o, int poll_ms)
{
    sk_addr peer;
    int fd = sk_accept(lfd, &peer, poll_ms);
    if (fd == -ETIMEDOUT && poll_ms >= 0)
        return fd;
    if (fd < 0)
        cli_fail(fd, "%s", sk_errmsg());
    if (!o->keep)
        sk_close(lfd);
    say_peer(&peer, o);
    return fd;
}

static int serve_exec(int lfd, const struct nc_opts *o)
{
    int active = 0;
    for (;;) {
        active -= reap();
        /* --max-children: at the limit, leave new clients waiting in the backlog */
        if (o->max_children && active >= o->max_children) {
            poll(NULL, 0, 20);
            continue;
        }
        /* with -k, wake up now and then to reap children */
        int fd = next_client(lfd, o, o->keep ? 200 : -1);
        if (fd == -ETIMEDOUT)
            continue;
        pid_t pid = spawn(fd, o->exec);
        sk_close(fd);
        if (pid < 0)
            cli_die(EXIT_RUNTIME, "fork: %s", strerror(errno));
        active++;
        if (!o->keep) {
            int status = 0;
            waitpid(pid, &status, 0);
            return EXIT_OK;
        }
    }
}

/* One client: the TLS handshake first with --tls (a client that fails it ends only its session,
 * said in one line), then the pump. */
static int session(int fd, sk_tls_ctx *ctx, const struct nc_opts *o)
{
    sk_tls *tls = NULL;
    if (ctx) {
        int ms = o->timeout_ms > 0 ? o->timeout_ms : NC_TLS_HANDSHAKE_MS;
        if (!(tls = cli_tls_handshake(ctx, fd, NULL, &o->tls, ms, o->verbose)))
            return EXIT_RUNTIME;
    }
    int rc = nc_pump_stream(fd, tls, o);
    sk_tls_close(tls);
    return rc;
}

int cmd_listen(int argc, char **argv)
{
    struct nc_opts o;
    nc_parse(argc, argv, true, &o);
    signal(SIGPIPE, SIG_IGN);
    sk_listen_opts lo =
        SK_LISTEN_OPTS_INIT(.family = o.family, .type = o.udp ? SOCK_DGRAM : SOCK_STREAM,
                            .numeric = o.numeric);
    /* A Unix path the bind makes is removed at exit, as serve and socat's UNIX-LISTEN do. */
    if (o.ep.is_unix && !o.ep.abstract)
        cli_remove_at_exit(o.ep.path);
    /* The any-address with neither -4 nor -6: sk_listen makes one [::] socket for both. */
    int lfd = sk_listen_endpoint(&o.ep, &lo);
    if (lfd == -EADDRINUSE)
        cli_keep_at_exit(); /* the path appeared meanwhile: not ours to remove */
    if (lfd < 0) {
        struct cli_where w = nc_where(&o);
        cli_fail_at(lfd, &w);
    }
    say_listening(lfd, &o);
    if (o.udp) {
        int rc = nc_pump_dgram(lfd, &o);
        sk_close(lfd);
        return rc;
    }
    if (o.exec)
        return serve_exec(lfd, &o);
    sk_tls_ctx *ctx = o.tls.on ? cli_tls_context(&o.tls, o.verbose) : NULL;
    if (!o.keep) {
        int fd = next_client(lfd, &o, -1);
        int rc = session(fd, ctx, &o);
        sk_close(fd);
        sk_tls_ctx_free(ctx);
        return rc;
    }
    for (;;) { /* -k: a session that breaks (the client reset or vanished) ends only itself */
        int fd = next_client(lfd, &o, -1);
        session(fd, ctx, &o);
        sk_close(fd);
    }
}
