/* glibc's own malloc statistics and tuning calls (which see glibc's empty heap), and libc
 * functions that allocate internally (regex, glob, getaddrinfo, getpwuid, getline,
 * open_memstream, tzset, asprintf, realpath), their blocks freed by the program. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <errno.h>
#include <wchar.h>
#include <locale.h>
#include <regex.h>
#include <glob.h>
#include <netdb.h>
#include <pwd.h>
#include <time.h>
#include <unistd.h>
int main(void) {
    printf("usable(NULL)=%zu\n", malloc_usable_size(NULL));
    void *p = malloc(100);
    mallopt(M_ARENA_MAX, 1); mallopt(M_MMAP_THRESHOLD, 1 << 20); mallopt(M_TRIM_THRESHOLD, 0);
    struct mallinfo2 mi = mallinfo2(); (void)mi;
    malloc_stats();
    FILE *devnull = fopen("/dev/null", "w"); malloc_info(0, devnull); fclose(devnull);
    printf("trim=%d\n", malloc_trim(0) >= 0);
    free(p);
    setlocale(LC_ALL, "C.UTF-8");
    regex_t re; regcomp(&re, "(a|b)+c[0-9]{2,5}", REG_EXTENDED); printf("re=%d\n", regexec(&re, "ababc123", 0, 0, 0)); regfree(&re);
    glob_t g; glob("/usr/lib/*", 0, 0, &g); printf("glob>0=%d\n", g.gl_pathc > 0); globfree(&g);
    struct addrinfo *ai; int r = getaddrinfo("localhost", "80", 0, &ai); if (!r) freeaddrinfo(ai); printf("gai=%d\n", r);
    struct passwd *pw = getpwuid(0); printf("pw=%s\n", pw ? pw->pw_name : "?");
    char *s = NULL; size_t n = 0; FILE *f = fopen("/etc/passwd", "r"); while (getline(&s, &n, f) > 0); free(s); fclose(f);
    char *ms; size_t ml; FILE *mf = open_memstream(&ms, &ml); for (int i = 0; i < 10000; i++) fprintf(mf, "%d,", i); fclose(mf); printf("memstream=%zu\n", ml); free(ms);
    wchar_t *w = wcsdup(L"hello"); free(w);
    char *tz = strdup("TZ=Europe/Paris"); putenv(tz); tzset(); time_t t = 0; struct tm tm; localtime_r(&t, &tm); printf("tz=%d\n", tm.tm_hour);
    char *a; asprintf(&a, "%0*d", 100000, 7); printf("asprintf=%zu\n", strlen(a)); free(a);
    char *rp = realpath("/usr/bin/../lib", NULL); printf("rp=%s\n", rp); free(rp);
    char *cwd = getcwd(NULL, 0); free(cwd);
    return 0;
}
