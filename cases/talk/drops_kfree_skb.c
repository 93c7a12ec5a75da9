// CASE: talk first slide: counting kfree_skb drops by location reads only the tracepoint args and a map value
#include <linux/sched.h>

struct key_t {
    u64 location;
};
BPF_HASH(drops, struct key_t);

TRACEPOINT_PROBE(skb, kfree_skb)
{
    u64 zero = 0, *count;
    struct key_t key = {};
    key.location = (u64)args->location;
    count = drops.lookup_or_try_init(&key, &zero);
    if (count)
        (*count)++;
    return 0;
}
