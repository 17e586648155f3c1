/*
 * config/cref.h — the live config, swapped in one step on reload (RCU-style
 * pointer swap with refcount). Readers take a reference for the duration of
 * one request or loop iteration; the old config is freed when its last
 * reader lets go.
 */
#ifndef CREF_H
#define CREF_H

#include "config/conf.h"

typedef struct cref cref;
typedef struct cref_hold cref_hold;   /* one reference to one config */

cref *cref_create(conf *c);            /* takes ownership of c */
void cref_destroy(cref *r);

/* Take a reference to the current config. Never NULL. */
cref_hold *cref_get(cref *r);
const conf *cref_conf(const cref_hold *h);
void cref_put(cref_hold *h);

/* Install c (takes ownership); the previous config is released. */
void cref_swap(cref *r, conf *c);

#endif
