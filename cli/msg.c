/* Messages that say what to do. The library names what failed ("bind 0.0.0.0:80: Permission
 * denied"); here the command adds, on the same line, the next step where one is known: a
 * privileged port, a link-local address without its interface, a port someone holds (and who), a
 * name without an address of the family asked for, an endpoint without a port. Every command
 * builds its failure messages here, so the same failure reads the same everywhere. */
#include "cli.h"
#include "opts.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <netdb.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cli_plural(unsigned long long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

bool cli_rate(double count, double seconds, double *rate)
{
    *rate = 0;
    if (!(seconds >= CLI_RATE_MIN_SECONDS))
        return false;
    *rate = count / seconds;
    return true;
}

/* ---- who holds a port ------------------------------------------------------------------------ */

enum { MAX_INODES = 16 };

struct inodes {
    unsigned long v[MAX_INODES];
    size_t n;
};

static void add_inode(struct inodes *in, unsigned long ino)
{
    if (ino && in->n < MAX_INODES)
        in->v[in->n++] = ino;
}

/* /proc/net/tcp and friends: "sl local_address rem_address st ... uid timeout inode". Each row
 * whose local port is `port`: its state and inode to row(). */
static void proc_net_rows(const char *file, int port,
                          void (*row)(unsigned st, unsigned long ino, void *ctx), void *ctx)
{
    FILE *f = fopen(file, "re");
    if (!f)
        return;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* the heading */
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        char local[80];
        unsigned st;
        unsigned long ino;
        if (sscanf(line, " %*s %79s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &ino) != 3)
            continue;
        const char *colon = strrchr(local, ':');
        if (colon && strtol(colon + 1, NULL, 16) == port)
            row(st, ino, ctx);
    }
    fclose(f);
}

/* A TCP port is held by a listener (0A) or a socket bound but not listening (07); a UDP port by
 * any. */
struct holders {
    int type;
    struct inodes *in;
};

static void holder_row(unsigned st, unsigned long ino, void *ctx)
{
    struct holders *h = ctx;
    if (h->type == SOCK_DGRAM || st == 0x0A || st == 0x07)
        add_inode(h->in, ino);
}

static void inet_inodes(const char *file, int port, int type, struct inodes *in)
{
    struct holders h = {type, in};
    proc_net_rows(file, port, holder_row, &h);
}

/* The first process with one of the inodes among its fds: "pid N (comm)". */
static bool inode_pid(const struct inodes *in, char *out, size_t cap)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return false;
    bool found = false;
    struct dirent *d;
    while (!found && (d = readdir(proc))) {
        if (!isdigit((unsigned char)d->d_name[0]))
            continue;
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%.20s/fd", d->d_name);
        DIR *fds = opendir(dir);
        if (!fds)
            continue; /* gone, or another user's */
        struct dirent *e;
        while (!found && (e = readdir(fds))) {
            char link[128], target[64];
            snprintf(link, sizeof link, "%s/%.32s", dir, e->d_name);
            ssize_t n = readlink(link, target, sizeof target - 1);
            unsigned long ino;
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (sscanf(target, "socket:[%lu]", &ino) != 1)
                continue;
            for (size_t i = 0; i < in->n && !found; i++)
                found = in->v[i] == ino;
        }
        closedir(fds);
        if (found) {
            char path[64], comm[64] = "?";
            snprintf(path, sizeof path, "/proc/%.20s/comm", d->d_name);
            FILE *f = fopen(path, "re");
            if (f && fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            if (f)
                fclose(f);
            snprintf(out, cap, "pid %.20s (%s)", d->d_name, comm);
        }
    }
    closedir(proc);
    return found;
}

/* No listener holds a TCP port, but connections use it as their local port: the state of one
 * ("TIME-WAIT" before the others, the usual case), or NULL. A port in TIME-WAIT refuses a bind
 * unless the closed socket had set SO_REUSEADDR too, as most clients do not. */
static void connection_row(unsigned st, unsigned long ino, void *ctx)
{
    static const char *const names[] = {[1] = "ESTABLISHED", [2] = "SYN-SENT",   [3] = "SYN-RECV",
                                        [4] = "FIN-WAIT-1",  [5] = "FIN-WAIT-2", [6] = "TIME-WAIT",
                                        [8] = "CLOSE-WAIT",  [9] = "LAST-ACK",   [11] = "CLOSING"};
    const char **found = ctx;
    (void)ino;
    if (st < sizeof names / sizeof names[0] && names[st] && (!*found || st == 6))
        *found = names[st];
}

static const char *tcp_port_in_connections(int port)
{
    const char *found = NULL;
    proc_net_rows("/proc/net/tcp", port, connection_row, &found);
    proc_net_rows("/proc/net/tcp6", port, connection_row, &found);
    return found;
}

int cli_port_owner(int port, int type, char *out, size_t cap)
{
    struct inodes in = {.n = 0};
    bool udp = type == SOCK_DGRAM;
    inet_inodes(udp ? "/proc/net/udp" : "/proc/net/tcp", port, type, &in);
    inet_inodes(udp ? "/proc/net/udp6" : "/proc/net/tcp6", port, type, &in);
    if (!in.n)
        return -1;
    return inode_pid(&in, out, cap) ? 1 : 0;
}

/* /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path", abstract names as "@name". */
int cli_unix_owner(const char *name, char *out, size_t cap)
{
    struct inodes in = {.n = 0};
    FILE *f = fopen("/proc/net/unix", "re");
    if (!f)
        return -1;
    char line[4200];
    while (fgets(line, sizeof line, f)) {
        unsigned long ino;
        int at = 0;
        if (sscanf(line, " %*s %*s %*s %*s %*s %*s %lu %n", &ino, &at) != 1 || !at)
            continue;
        char *path = line + at;
        path[strcspn(path, "\n")] = '\0';
        if (!strcmp(path, name))
            add_inode(&in, ino);
    }
    fclose(f);
    if (!in.n)
        return -1;
    return inode_pid(&in, out, cap) ? 1 : 0;
}

/* ---- hints ----------------------------------------------------------------------------------- */

/* snprintf at the end of what out holds already. */
static void append(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void append(char *out, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(out);
    if (n + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, cap - n, fmt, ap);
    va_end(ap);
}

/* The port an endpoint names (a service name looked up), or -1. */
static int endpoint_port(const struct cli_where *w)
{
    sk_endpoint ep;
    if (sk_endpoint_parse(w->endpoint, &ep) < 0 || ep.is_unix)
        return -1;
    char *end;
    long port = strtol(ep.service, &end, 10);
    if (ep.service[0] && !*end)
        return (int)port;
    struct servent *s = getservbyname(ep.service, w->type == SOCK_DGRAM ? "udp" : "tcp");
    return s ? ntohs((uint16_t)s->s_port) : -1;
}

static int unprivileged_start(void)
{
    int start = 1024;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
    if (f) {
        if (fscanf(f, "%d", &start) != 1)
            start = 1024;
        fclose(f);
    }
    return start;
}

static void hint_privileged(const struct cli_where *w, char *out, size_t cap)
{
    int port = endpoint_port(w);
    int start = unprivileged_start();
    if (port > 0 && port < start)
        append(out, cap,
               ": ports below %d need root or the CAP_NET_BIND_SERVICE capability: run as root "
               "(or setcap cap_net_bind_service=+ep on the program), or choose a port from %d up",
               start, start);
}

static void hint_in_use(const struct cli_where *w, char *out, size_t cap)
{
    sk_endpoint ep;
    if (sk_endpoint_parse(w->endpoint, &ep) < 0)
        return;
    char who[128] = "";
    if (!w->bind) {
        if (w->has_source)
            append(out, cap, ": the local address or port (-s, -p) is taken; choose another");
        return;
    }
    if (ep.is_unix) {
        char name[120];
        snprintf(name, sizeof name, "%s%s", ep.abstract ? "@" : "", ep.path);
        int r = cli_unix_owner(name, who, sizeof who);
        if (r == 1)
            append(out, cap, ": %s listens there; stop it, or choose another name", who);
        else if (r == 0)
            append(out, cap, ": another user's process has it; choose another name");
        else if (!ep.abstract)
            append(out, cap,
                   ": no socket is open there (a file left behind?): remove %s if nothing "
                   "serves on it, or choose another path",
                   ep.path);
        return;
    }
    int port = endpoint_port(w);
    if (port <= 0)
        return;
    bool udp = w->type == SOCK_DGRAM;
    int r = cli_port_owner(port, w->type, who, sizeof who);
    const char *conn = r < 0 && !udp ? tcp_port_in_connections(port) : NULL;
    if (conn && !strcmp(conn, "TIME-WAIT"))
        append(out, cap,
               ": no server holds TCP port %d, but a connection that used it closed lately and "
               "waits out TIME-WAIT (up to 60 s; its socket had no SO_REUSEADDR): wait, or choose "
               "another port (0 picks a free one)",
               port);
    else if (conn)
        append(out, cap,
               ": no server holds TCP port %d, but a connection uses it as its local port (%s; "
               "\"ss -tnp 'sport = :%d'\" shows it): choose another port (0 picks a free one)",
               port, conn, port);
    else if (r == 1)
        append(out, cap,
               ": %s port %d is held by %s; stop it, or choose another port (0 picks a "
               "free one)",
               udp ? "UDP" : "TCP", port, who);
    else
        append(out, cap,
               ": %s port %d is taken (\"ss -l%cnp 'sport = :%d'\" shows by whom); choose another "
               "port (0 picks a free one)",
               udp ? "UDP" : "TCP", port, udp ? 'u' : 't', port);
    if (w->keep && !conn && (r != 1 || strstr(who, "(sockkit)")))
        append(out, cap, "; with %s one listener serves client after client", w->keep);
}

/* Is host a numeric address of one of this host's interfaces? (sk_iface_index finds the
 * interface an address belongs to; a name would be taken for an interface's.) */
static bool local_address(const char *host)
{
    unsigned char a[sizeof(struct in6_addr)];
    bool numeric = inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
    return numeric && sk_iface_index(host) > 0;
}

/* Binding a Unix path in a directory that is not there. */
static void hint_no_dir(const struct cli_where *w, char *out, size_t cap)
{
    sk_endpoint ep;
    if (!w->bind || sk_endpoint_parse(w->endpoint, &ep) < 0 || !ep.is_unix || ep.abstract)
        return;
    char dir[sizeof ep.path];
    snprintf(dir, sizeof dir, "%s", ep.path);
    char *slash = strrchr(dir, '/');
    struct stat st;
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    if (stat(dir, &st) < 0)
        append(out, cap,
               ": there is no directory %s: create it (mkdir -p %s), or choose another path", dir,
               dir);
}

/* Connecting, refused (or a Unix socket that is not there): nobody serves at that address. A
 * refusal from another host may also be a firewall's (iptables REJECT answers with a reset or an
 * ICMP port unreachable as a closed port does). */
static void hint_refused(int code, const struct cli_where *w, char *out, size_t cap)
{
    sk_endpoint ep;
    if (w->bind || sk_endpoint_parse(w->endpoint, &ep) < 0)
        return;
    if (ep.is_unix) {
        if (code == -ENOENT && !ep.abstract)
            append(out, cap, ": no socket at %s: start the server first, or check the path",
                   ep.path);
        else if (code == -ECONNREFUSED && ep.abstract)
            append(out, cap, ": no server listens on @%s: start it first, or check the name",
                   ep.path);
        else if (code == -ECONNREFUSED)
            append(out, cap,
                   ": the socket file is there but no server listens on it (one that ended and "
                   "left it behind?): start the server, or check the path");
        return;
    }
    int port = endpoint_port(w);
    if (code != -ECONNREFUSED || port <= 0)
        return;
    if (w->type == SOCK_DGRAM)
        append(out, cap,
               " (an ICMP port unreachable came back): nothing receives on UDP port %d there; "
               "start the receiver first, or check the address and port",
               port);
    else
        append(out, cap,
               ": nothing accepts connections on TCP port %d there (no server running, or a "
               "firewall rejecting): start the server first, or check the address and port",
               port);
}

/* An IPv6 link-local address (fe80::/10) without a scope: the kernel cannot know which link. */
static bool unscoped_link_local(const sk_endpoint *ep)
{
    struct in6_addr a;
    return !ep->is_unix && !ep->scope[0] && inet_pton(AF_INET6, ep->host, &a) == 1 &&
           IN6_IS_ADDR_LINKLOCAL(&a);
}

/* An interface name for the example: the first with a link-local IPv6 address, or "eth0". */
static void example_iface(char *out, size_t cap)
{
    snprintf(out, cap, "eth0");
    struct ifaddrs *all;
    if (getifaddrs(&all) < 0)
        return;
    for (struct ifaddrs *i = all; i; i = i->ifa_next) {
        const struct sockaddr_in6 *a = (const void *)i->ifa_addr;
        if (a && a->sin6_family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr)) {
            snprintf(out, cap, "%s", i->ifa_name);
            break;
        }
    }
    freeifaddrs(all);
}

static const char *family_word(int family)
{
    return family == AF_INET ? "IPv4" : "IPv6";
}

/* -4/-6 and a name or address with none of that family: say what it has instead. Returns true
 * when out was replaced. */
static bool explain_family(const struct cli_where *w, char *out, size_t cap)
{
    sk_endpoint ep;
    if (!w->family || sk_endpoint_parse(w->endpoint, &ep) < 0 || ep.is_unix || ep.any_host)
        return false;
    sk_addr_list l;
    int flags = w->numeric ? SK_RESOLVE_NUMERIC : 0;
    if (sk_resolve(w->endpoint, AF_UNSPEC, w->type, flags, &l) < 0)
        return false;
    char first[INET6_ADDRSTRLEN] = "?";
    if (l.v[0].u.sa.sa_family == AF_INET)
        inet_ntop(AF_INET, &l.v[0].u.in.sin_addr, first, sizeof first);
    else
        inet_ntop(AF_INET6, &l.v[0].u.in6.sin6_addr, first, sizeof first);
    size_t n = l.n;
    sk_addr_list_free(&l);
    int other = w->family == AF_INET ? AF_INET6 : AF_INET;
    char flag = w->family == AF_INET ? '4' : '6';
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, ep.host, &a4) == 1 || inet_pton(AF_INET6, ep.host, &a6) == 1)
        snprintf(out, cap, "%s is an %s address, and -%c asks for %s: leave out -%c", ep.host,
                 family_word(other), flag, family_word(w->family), flag);
    else
        snprintf(out, cap, "%s has no %s address (it resolves to %s%s): leave out -%c", ep.host,
                 family_word(w->family), first, n > 1 ? " and others" : " only", flag);
    return true;
}

int cli_explain(int code, const struct cli_where *w, char *out, size_t cap)
{
    snprintf(out, cap, "%s", sk_errmsg());
    sk_endpoint ep;
    switch (code) {
    case -EACCES:
        if (w->bind)
            hint_privileged(w, out, cap);
        break;
    case -EADDRINUSE:
        hint_in_use(w, out, cap);
        break;
    case -ECONNREFUSED:
    case -ENOENT:
        hint_refused(code, w, out, cap);
        if (code == -ENOENT)
            hint_no_dir(w, out, cap);
        break;
    case -EADDRNOTAVAIL:
        if (w->bind && sk_endpoint_parse(w->endpoint, &ep) == 0 && !ep.is_unix) {
            if (!local_address(ep.host))
                append(out, cap,
                       ": %s is not an address of this host ('sockkit ifaces' lists them; :%s "
                       "listens on every address)",
                       ep.host, ep.service);
            else
                append(out, cap,
                       ": %s is this host's but not usable yet (IPv6: still in duplicate address "
                       "detection, 'ip -6 addr' says tentative); wait a moment",
                       ep.host);
        } else if (!w->bind && w->has_source) {
            append(
                out, cap,
                ": the source (-s) is not an address of this host ('sockkit ifaces' lists them)");
        } else if (!w->bind) {
            append(out, cap,
                   ": no local port was free to connect from (the range in "
                   "net.ipv4.ip_local_port_range is in use, often by connections in TIME-WAIT)");
        }
        break;
    case -EINVAL:
        if (sk_endpoint_parse(w->endpoint, &ep) == 0 && unscoped_link_local(&ep)) {
            char ifname[IF_NAMESIZE + 1];
            example_iface(ifname, sizeof ifname);
            snprintf(out, cap,
                     "%s: a link-local address needs its interface: add it, as in [%s%%%s]:%s "
                     "('sockkit ifaces' lists them)",
                     w->endpoint, ep.host, ifname, ep.service);
            return SK_EIFACE;
        }
        break;
    case SK_ENONAME:
    case SK_ENOADDR:
        explain_family(w, out, cap);
        break;
    case SK_ESERVICE:
        if (sk_endpoint_parse(w->endpoint, &ep) == 0 && !ep.is_unix)
            append(out, cap,
                   ": no %s service '%s' in /etc/services ('getent services' lists them): give "
                   "the port number",
                   w->type == SOCK_DGRAM ? "udp" : "tcp", ep.service);
        break;
    case SK_EPARSE:
        if (w->numeric)
            append(out, cap, " (-n: numeric addresses only, no DNS)");
        break;
    }
    return code;
}

noreturn void cli_fail_at(int code, const struct cli_where *w)
{
    char msg[2048];
    code = cli_explain(code, w, msg, sizeof msg);
    cli_fail(code, "%s", msg);
}

/* ---- endpoints ------------------------------------------------------------------------------- */

/* Where the port should be and is not: "host", "[::1]", "host:" ("" when there is a port). */
static bool lacks_port(const char *text)
{
    if (!strncmp(text, "unix:", 5))
        return false;
    size_t n = strlen(text);
    if (n && text[n - 1] == ':')
        return true;
    if (text[0] == '[')
        return text[n - 1] == ']';
    return !strchr(text, ':');
}

/* A number with a leading 0 in a dotted address is octal to inet_aton, and so to getaddrinfo:
 * 010.0.0.1 is 8.0.0.1, not 10.0.0.1, a slip that reaches another host. Refused, naming both
 * readings (as Python's ipaddress and Go's net refuse leading zeros), unless they agree
 * (127.000.000.001). a4: inet_aton's reading. */
static void refuse_octal_quad(const char *text, const char *host, struct in_addr a4)
{
    char dec[64] = ""; /* the decimal reading: each number without its leading zeros */
    size_t len = 0;
    bool zero = false;
    for (const char *p = host; *p && len < sizeof dec;) {
        char *end;
        zero |= p[0] == '0' && p[1] >= '0' && p[1] <= '9';
        unsigned long v = strtoul(p, &end, 10);
        len += (size_t)snprintf(dec + len, sizeof dec - len, "%s%lu", p == host ? "" : ".", v);
        p = *end ? end + 1 : end;
    }
    struct in_addr d4;
    if (zero && !(inet_aton(dec, &d4) && d4.s_addr == a4.s_addr)) /* the same either way: fine */
        cli_usage_error("'%s': a number with a leading 0 is octal in an IPv4 address, so %s is "
                        "%s: write %s, or %s if that is the host meant",
                        text, host, inet_ntoa(a4), dec, inet_ntoa(a4));
}

void cli_check_endpoint(const char *text, unsigned flags, sk_endpoint *ep)
{
    bool passive = flags & CLI_EP_PASSIVE;
    if (*text && lacks_port(text)) {
        /* the host as typed, without a trailing ':' */
        int n = (int)strlen(text) - (text[strlen(text) - 1] == ':');
        if (n == 0 || (n == 1 && text[0] == '*'))
            cli_usage_error("'%s' has no port: give %s", text,
                            passive ? ":PORT" : "HOST:PORT (as in 127.0.0.1:80)");
        const char *alt = passive                    ? ", or :PORT for every address"
                          : flags & CLI_EP_HOST_PORT ? ", or HOST PORT"
                                                     : "";
        if (n > 64) /* a long text is quoted once */
            cli_usage_error("'%s' has no port: give HOST:PORT (as in 127.0.0.1:80)%s", text, alt);
        cli_usage_error("'%s' has no port: give %.*s:PORT (as in %.*s:80)%s", text, n, text, n,
                        text, alt);
    }
    int rc = sk_endpoint_parse(text, ep);
    if (rc < 0)
        cli_usage_error("%s", sk_errmsg());
    if (!passive && ep->any_host)
        cli_usage_error("'%s' has no host: give HOST:PORT (as in 127.0.0.1%s)", text,
                        text[0] == '*' ? text + 1 : text);
    /* Digits and dots that make no IPv4 address (256.1.1.1, 1.2.3.4.5) were meant as one: as a
     * name it would go to DNS (no top-level domain is all digits) and come back "does not
     * resolve". inet_aton, not inet_pton: getaddrinfo takes its short forms (127.1). */
    struct in_addr a4;
    if (!ep->is_unix && strchr(ep->host, '.') &&
        strspn(ep->host, "0123456789.") == strlen(ep->host)) {
        if (!inet_aton(ep->host, &a4))
            cli_usage_error("'%s': %s is not an IPv4 address: give four numbers from 0 to 255 "
                            "(as in 192.0.2.1)",
                            text, ep->host);
        refuse_octal_quad(text, ep->host, a4);
    }
    /* Port 0 asks for any free port when binding; as a destination it is nobody's (connect(2)
     * is refused, sendto(2) fails with EINVAL), so it is a slip for the server's port. */
    if (!passive && !ep->is_unix && ep->service[0] &&
        strspn(ep->service, "0") == strlen(ep->service))
        cli_usage_error("'%s': port 0 cannot be a destination (0 means any free port, when "
                        "binding): give %s",
                        text,
                        flags & CLI_EP_GROUP
                            ? "the group's port, the one its senders send to and its receivers bind"
                            : "the port the other side listens on");
}
