/* Which source answers a name: the C library's numeric parser, sockkit's own RFC 6761 rule for
 * "localhost", or the services named on /etc/nsswitch.conf's hosts line, asked in order (glibc
 * stops at the first that finds the name, unless an [ACTION] says otherwise). The hosts file is
 * read here to know whether "files" has the name; a DNS answer is not predicted, only named. */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NSSWITCH "/etc/nsswitch.conf"
#define HOSTS    "/etc/hosts"

/* glibc's built-in default when nsswitch.conf has no hosts line */
static const char default_hosts[] = "dns files";

int sk__nss_hosts_in(const char *nsswitch, char *buf, size_t len)
{
    if (!buf || !len)
        return SK_EARG;
    FILE *f = fopen(nsswitch, "re");
    char line[1024];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "#\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (strncmp(p, "hosts", 5) || p[5 + strspn(p + 5, " \t")] != ':')
            continue;
        found = true;
        p = strchr(p, ':') + 1;
        size_t at = 0;
        buf[0] = '\0';
        while (*p) {
            p += strspn(p, " \t");
            if (*p == '[') { /* an action such as [NOTFOUND=return]: not a service */
                char *close = strchr(p, ']');
                p = close ? close + 1 : p + strlen(p);
                continue;
            }
            size_t n = strcspn(p, " \t[");
            if (n && at + n + 2 < len) {
                at += (size_t)snprintf(buf + at, len - at, "%s%.*s", at ? " " : "", (int)n, p);
            }
            p += n;
        }
    }
    if (f)
        fclose(f);
    if (!found || !buf[0])
        return snprintf(buf, len, "%s", default_hosts);
    return (int)strlen(buf);
}

int sk_nss_hosts(char *buf, size_t len)
{
    return sk__nss_hosts_in(NSSWITCH, buf, len);
}

/* A name as written compared with a hosts-file name: case-insensitive, a final dot ignored. */
static bool same_name(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na && a[na - 1] == '.')
        na--;
    if (nb && b[nb - 1] == '.')
        nb--;
    return na == nb && !strncasecmp(a, b, na);
}

static int parse_ip(const char *text, unsigned char *bytes)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    snprintf(tmp, sizeof tmp, "%.*s", (int)strcspn(text, "%"), text);
    if (inet_pton(AF_INET, tmp, bytes) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, tmp, bytes) == 1)
        return AF_INET6;
    return 0;
}

/* Does the hosts file list `name` (for family), or the address `bytes` (family fam, name NULL)? */
static bool in_hosts(const char *hosts, const char *name, int family, const unsigned char *bytes)
{
    FILE *f = fopen(hosts, "re");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "#\n")] = '\0';
        char *save = NULL, *tok = strtok_r(line, " \t", &save);
        unsigned char addr[16];
        int fam = tok ? parse_ip(tok, addr) : 0;
        if (!fam || (family != AF_UNSPEC && fam != family))
            continue;
        if (!name) {
            found = bytes && !memcmp(addr, bytes, fam == AF_INET ? 4 : 16);
            continue;
        }
        while (!found && (tok = strtok_r(NULL, " \t", &save)))
            found = same_name(tok, name);
    }
    fclose(f);
    return found;
}

static bool ends_with(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (n && name[n - 1] == '.')
        n--;
    return n > s && name[n - s - 1] == '.' && !strncasecmp(name + n - s, suffix, s);
}

/* Would this nsswitch service answer the name? Returns the text to report, or NULL. */
static const char *service_answers(const char *svc, const char *hosts, const char *hostname,
                                   const char *name, int family, char *buf, size_t len)
{
    if (!strcmp(svc, "files")) {
        if (!in_hosts(hosts, name, family, NULL))
            return NULL;
        snprintf(buf, len, "files (%s)", hosts);
        return buf;
    }
    if (!strcmp(svc, "myhostname")) /* systemd's module: this host's name, _gateway, _outbound */
        return (hostname && same_name(name, hostname)) || same_name(name, "_gateway") ||
                       same_name(name, "_outbound")
                   ? "myhostname"
                   : NULL;
    if (!strncmp(svc, "mdns", 4) && strstr(svc, "_minimal")) /* only .local names */
        return ends_with(name, "local") ? svc : NULL;
    if (!strcmp(svc, "resolve"))
        return "resolve (systemd-resolved)";
    return svc; /* dns, and any other service: it is asked, and may answer */
}

int sk__name_source_in(const char *nsswitch, const char *hosts, const char *hostname,
                       const char *host, int family, char *buf, size_t len)
{
    if (!buf || !len)
        return SK_EARG;
    unsigned char bytes[16];
    struct in_addr a4;
    if (!host || !*host)
        return snprintf(buf, len, "no lookup (no name: the wildcard or loopback address)");
    if (parse_ip(host, bytes) || inet_aton(host, &a4))
        return snprintf(buf, len, "numeric (no lookup)");
    if (sk__is_localhost(host))
        return snprintf(buf, len, "built in (RFC 6761)");
    char services[512], tmp[256];
    sk__nss_hosts_in(nsswitch, services, sizeof services);
    char *save = NULL;
    for (char *svc = strtok_r(services, " ", &save); svc; svc = strtok_r(NULL, " ", &save)) {
        const char *who = service_answers(svc, hosts, hostname, host, family, tmp, sizeof tmp);
        if (who)
            return snprintf(buf, len, "%s", who);
    }
    return snprintf(buf, len, "none (no service on the hosts line of %s has it)", nsswitch);
}

int sk_name_source(const char *host, int family, char *buf, size_t len)
{
    char me[256];
    bool have = gethostname(me, sizeof me) == 0;
    me[sizeof me - 1] = '\0';
    return sk__name_source_in(NSSWITCH, HOSTS, have ? me : NULL, host, family, buf, len);
}

int sk__addr_source_in(const char *nsswitch, const char *hosts, const sk_addr *a, char *buf,
                       size_t len)
{
    if (!a || !buf || !len)
        return SK_EARG;
    int family = a->u.sa.sa_family;
    const unsigned char *bytes = family == AF_INET    ? (const unsigned char *)&a->u.in.sin_addr
                                 : family == AF_INET6 ? a->u.in6.sin6_addr.s6_addr
                                                      : NULL;
    if (!bytes)
        return snprintf(buf, len, "none (not an IP address)");
    char services[512];
    sk__nss_hosts_in(nsswitch, services, sizeof services);
    char *save = NULL;
    for (char *svc = strtok_r(services, " ", &save); svc; svc = strtok_r(NULL, " ", &save)) {
        if (!strcmp(svc, "files")) {
            if (in_hosts(hosts, NULL, family, bytes))
                return snprintf(buf, len, "files (%s)", hosts);
        } else if (!strcmp(svc, "resolve")) {
            return snprintf(buf, len, "resolve (systemd-resolved)");
        } else if (strcmp(svc, "myhostname") && !(strstr(svc, "mdns") && strstr(svc, "_minimal"))) {
            return snprintf(buf, len, "%s", svc); /* dns: a PTR query; or another service */
        }
    }
    return snprintf(buf, len, "none (no service on the hosts line of %s has it)", nsswitch);
}

int sk_addr_source(const sk_addr *a, char *buf, size_t len)
{
    return sk__addr_source_in(NSSWITCH, HOSTS, a, buf, len);
}
