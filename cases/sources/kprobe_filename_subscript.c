// CASE: a char pointer member of a kprobe argument, then subscripted: two reads (the pointer, then the char)
// ATTACH: first_name_char kprobe do_filp_open
// XFAIL: bcc<=0.37,!patch=array-member-subscript a subscript of a pointer member reads the struct instead of the pointer's target (docs/findings/array-member-subscript.md)
#include <linux/fs.h>

int first_name_char(struct pt_regs *ctx, int dfd, struct filename *pathname)
{
    char c = pathname->name[0];  // expect-rewrite{{pathname->name}} expect-rewrite{{pathname->name[0]}}
    return c == '/';
}
