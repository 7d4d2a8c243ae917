/*
 * constraint.c - the constraint handle (see frugal/constraint.h): a table
 * of operations and the implementation's state, so that the generation
 * loop and the sampler treat grammars, JSON Schemas and the citation
 * format alike.
 */
#include <frugal/constraint.h>

#include <stdlib.h>

struct fr_constraint {
    const fr_constraint_ops *ops;
    void *self;
};

fr_status fr_constraint_create(const fr_constraint_ops *ops, void *self, fr_constraint **out,
                               fr_err *err)
{
    *out = NULL;
    if (!ops || !ops->allows || !ops->mask || !ops->accept || !ops->complete) {
        if (ops && ops->free)
            ops->free(self);
        return fr_err_set(err, FR_E_INVALID, "fr_constraint_create: incomplete operation table");
    }
    fr_constraint *c = malloc(sizeof *c);
    if (!c) {
        if (ops->free)
            ops->free(self);
        return fr_err_set(err, FR_E_NOMEM, "constraint: out of memory");
    }
    c->ops = ops;
    c->self = self;
    *out = c;
    return FR_OK;
}

void fr_constraint_free(fr_constraint *c)
{
    if (!c)
        return;
    if (c->ops->free)
        c->ops->free(c->self);
    free(c);
}

const char *fr_constraint_name(const fr_constraint *c)
{
    return c->ops->name ? c->ops->name : "constraint";
}

bool fr_constraint_allows(fr_constraint *c, int32_t token)
{
    return c->ops->allows(c->self, token);
}

fr_status fr_constraint_mask(fr_constraint *c, uint64_t *allowed, fr_err *err)
{
    return c->ops->mask(c->self, allowed, err);
}

fr_status fr_constraint_accept(fr_constraint *c, int32_t token, fr_err *err)
{
    return c->ops->accept(c->self, token, err);
}

bool fr_constraint_complete(fr_constraint *c) { return c->ops->complete(c->self); }
