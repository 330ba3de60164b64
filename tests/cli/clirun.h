/*
 * Runs the real `reseolio` binary ($RESEOLIO_CLI) for a test, the way a shell would, and
 * keeps its exit status, stdout and stderr; plus the checks every CLI test makes of them.
 */
#ifndef RESEOLIO_TEST_CLIRUN_H
#define RESEOLIO_TEST_CLIRUN_H

#include <jansson.h>
#include <stdbool.h>

/* One run. Owner: the test; release with clirun_free. */
struct clirun {
    int status; /* exit status, or 128 + signal when it was killed */
    char *out;  /* stdout, NUL-terminated */
    char *err;  /* stderr, NUL-terminated */
};

/*
 * Run reseolio with argv (NULL-terminated, without the program name) and env (extra
 * NAME=VALUE entries, NULL-terminated, may be NULL; RESEOLIO_SOCKET is removed from the
 * inherited environment so that only what a test passes counts). Fails the test when the
 * binary cannot be run or does not end within 60 s.
 */
void clirun_argv(struct clirun *r, const char *const *argv, const char *const *env);

/* clirun_argv with the arguments inline: CLIRUN(&r, "jobs", "list"). */
#define CLIRUN(r, ...) clirun_argv((r), (const char *const[]){__VA_ARGS__, NULL}, NULL)

/* Free the captured output. */
void clirun_free(struct clirun *r);

/* stdout as JSON (fails the test when it is not exactly one JSON document). Caller decrefs. */
json_t *clirun_json(const struct clirun *r);

/* Expect exit status 0, nothing on stderr. */
void clirun_expect_ok(const struct clirun *r);

/*
 * Expect exit status, nothing on stdout, and on stderr exactly one line "reseolio: ..."
 * that contains needle.
 */
void clirun_expect_error(const struct clirun *r, int status, const char *needle);

/* True when stderr is exactly one line that starts with "reseolio: " and contains needle. */
bool clirun_err_line(const struct clirun *r, const char *needle);

#endif
