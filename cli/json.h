/* A small JSON writer for --json outputs: strings escaped (RFC 8259), commas placed by the
 * writer, objects and arrays nested up to JSON_DEPTH. Keys are NULL inside arrays and at the top.
 */
#ifndef SOCKKIT_CLI_JSON_H
#define SOCKKIT_CLI_JSON_H

#include <stdbool.h>
#include <stdio.h>

#define JSON_DEPTH 16

struct json {
    FILE *out;
    int depth;
    bool more[JSON_DEPTH]; /* an element was written at this level: the next needs a comma */
};

void json_init(struct json *j, FILE *out);
void json_object(struct json *j, const char *key);
void json_array(struct json *j, const char *key);
void json_end(struct json *j, char close); /* '}' or ']'; a newline after the outermost */
void json_str(struct json *j, const char *key, const char *value); /* NULL writes null */
void json_int(struct json *j, const char *key, long long value);
void json_num(struct json *j, const char *key, double value);
void json_bool(struct json *j, const char *key, bool value);
void json_null(struct json *j, const char *key);

#endif
