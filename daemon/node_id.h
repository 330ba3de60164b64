/*
 * The daemon's node id: 128 random bits in hex, new for every run, naming this daemon in
 * WELCOME, in logs and (with the engine) in job leases.
 */
#ifndef RESEOLIOD_NODE_ID_H
#define RESEOLIOD_NODE_ID_H

/* Hex digits of a node id, plus the terminating NUL. */
#define NODE_ID_SIZE 33

/* Fill out with a fresh random id from getrandom(). Returns 0, or -1 (errno set). */
int node_id_generate(char out[NODE_ID_SIZE]) __attribute__((warn_unused_result));

#endif
