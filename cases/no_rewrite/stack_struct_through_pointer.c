// CASE: a pointer to a struct on the BPF stack is not kernel memory: qp->len stays a plain load
#include <linux/dcache.h>

int stack_qstr(struct pt_regs *ctx)
{
    struct qstr q = {};
    struct qstr *qp = &q;
    q.len = 7;
    return qp->len;
}
