/* free() of a pointer hakmem never returned (a stack address): the process must abort with
 * hakmem's one-line message, not carry on with a corrupted heap. */
#include "common.h"

int main(void) {
    expect_allocator();
    char on_stack[64];
    void *volatile p = on_stack;
    fprintf(stderr, "freeing a stack address\n");
    free(p);
    printf("still alive\n");
    return 0;
}
