/* Interfaces for sockkit mcast's messages (see mcast_where.h). */
#include "mcast_where.h"
#include "cli.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Every interface that is up and can do multicast — lo included, which has no MULTICAST flag but
 * carries multicast between the programs of one host. */
static void capable(const sk_iface_list *l, char *out, size_t len)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        const sk_iface *f = &l->v[i];
        if (!(f->flags & IFF_UP) || !(f->flags & (IFF_MULTICAST | IFF_LOOPBACK)))
            continue;
        n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", f->name);
    }
    if (!out[0])
        snprintf(out, len, "none is up");
}

void mcast_host_text(const sk_addr *a, char *buf, size_t len)
{
    char text[SK_ADDRSTRLEN];
    sk_addr_format(a, text, sizeof text);
    char *colon = strrchr(text, ':'); /* "127.0.0.1:0", "[::1]:0": the port goes */
    if (colon && colon != text && (sk_addr_family(a) == AF_INET || colon[-1] == ']'))
        *colon = '\0';
    snprintf(buf, len, "%s", text);
}

static void first_addr(const sk_iface *f, int family, char *out, size_t len)
{
    for (size_t i = 0; i < f->naddrs; i++) {
        if (sk_addr_family(&f->addrs[i].addr) == family) {
            mcast_host_text(&f->addrs[i].addr, out, len);
            return;
        }
    }
}

void mcast_where(const sk_addr *group, const char *iface, struct mcast_where *out)
{
    *out = (struct mcast_where){.by_route = !iface};
    sk_iface_list l = {0};
    bool listed = sk_ifaces_list(&l) == 0;
    if (iface) {
        int idx = sk_iface_index(iface);
        if (idx < 0) {
            char names[512] = "unknown";
            if (listed)
                capable(&l, names, sizeof names);
            sk_ifaces_free(&l);
            cli_usage_error("--iface '%s': no such interface (interfaces that can do multicast: "
                            "%s)",
                            iface, names);
        }
        out->index = (unsigned)idx;
    } else if (sk_addr_family(group) == AF_INET6 && group->u.in6.sin6_scope_id) {
        out->index = group->u.in6.sin6_scope_id; /* [ff02::1%eth0]: the zone names it */
        out->by_route = false;
    } else {
        sk_route rt;
        if (sk_route_get(group, &rt) == 0)
            out->index = rt.ifindex;
    }
    char index[16];
    snprintf(index, sizeof index, "%u", out->index);
    const sk_iface *f = listed && out->index ? sk_ifaces_find(&l, index) : NULL;
    if (f) {
        snprintf(out->name, sizeof out->name, "%s", f->name);
        first_addr(f, sk_addr_family(group), out->addr, sizeof out->addr);
    }
    sk_ifaces_free(&l);
}

void mcast_where_text(const struct mcast_where *w, char *buf, size_t len)
{
    if (!w->index) {
        snprintf(buf, len, "the interface the kernel chooses (no route found to name it)");
        return;
    }
    snprintf(buf, len, "%s (index %u, address %s)", w->name[0] ? w->name : "?", w->index,
             w->addr[0] ? w->addr : "none");
}

/* "0100007F:1F90" or the IPv6 form: an address and port as /proc/net/udp writes them. */
static void proc_form(const sk_addr *a, char *out, size_t len)
{
    unsigned port = (unsigned)sk_addr_port(a);
    if (sk_addr_family(a) == AF_INET) {
        snprintf(out, len, "%08X:%04X", a->u.in.sin_addr.s_addr, port);
        return;
    }
    uint32_t w[4];
    memcpy(w, &a->u.in6.sin6_addr, sizeof w);
    snprintf(out, len, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], port);
}

bool mcast_local_sender(const sk_addr *group)
{
    char want[64], local[128], remote[128];
    proc_form(group, want, sizeof want);
    FILE *f = fopen(sk_addr_family(group) == AF_INET ? "/proc/net/udp" : "/proc/net/udp6", "r");
    if (!f)
        return false;
    bool found = false;
    char line[512];
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "%*s %127s %127s", local, remote) == 2 && !strcmp(remote, want);
    fclose(f);
    return found;
}
