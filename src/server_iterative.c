/* The iterative model (Python's plain TCPServer): one request at a time, in the serving thread. */
#include "server_core.h"

static int iterative_open(sk_server *s)
{
    return sk__blocking_open(s);
}

static void iterative_dispatch(sk_server *s, struct sk__job *j)
{
    sk__blocking_run(s, j, true);
}

/* The request runs inside serve_forever: its input ends now, or a client that sends nothing would
 * keep serve_forever (and so the drain) waiting forever. */
static void iterative_stop(sk_server *s)
{
    sk__blocking_halt(s);
}

const struct sk__server_model sk__model_iterative = {
    .name = "iterative",
    .blocking = true,
    .open = iterative_open,
    .serve = sk__blocking_serve,
    .handle_request = sk__blocking_handle_request,
    .stop = iterative_stop,
    .drain = sk__blocking_drain,
    .dispatch = iterative_dispatch,
};
