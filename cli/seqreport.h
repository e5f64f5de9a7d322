/* One stream of sequence-numbered packets (seqpkt.h) as text and as JSON: what `bench udp --recv`
 * and `mcast recv` report per sender, in the same words and fields. */
#ifndef SOCKKIT_CLI_SEQREPORT_H
#define SOCKKIT_CLI_SEQREPORT_H

#include "json.h"
#include "seqpkt.h"

#include <stdio.h>

/* The stream's fields into the open JSON object: received, bytes, lost (and its parts
 * lost_before_first, lost_after_last), reordered, duplicated, first_seq, lowest_seq,
 * highest_seq, sender_count (null until known), seconds (first to last arrival),
 * packets_per_second and bits_per_second (null over less than 10 ms), jitter_us. `expected`: a
 * count the receiver was told (0: none). */
void seqreport_json(struct json *j, const seqstats *s, uint64_t expected);
/* The same as three text lines, each starting with `indent`, within 80 columns. */
void seqreport_text(FILE *out, const seqstats *s, uint64_t expected, const char *indent);

#endif
