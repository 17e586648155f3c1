/*
 * dal/gcommit.h — inside dal/: the pool's group-commit batcher
 * (dal/batch.h bound to dal_order_insert_many; dal/gcommit.c).
 */
#ifndef DAL_GCOMMIT_H
#define DAL_GCOMMIT_H

#include "dal/batch.h"
#include "dal/dal.h"

/* The batcher of pool p (its options' gc_max_batch and gc_leaders). */
sk_batcher *dal_gc_new(dal_pool *p);
/* p's batcher, NULL when grouping is off. */
sk_batcher *dal_pool_batcher(dal_pool *p);

#endif
