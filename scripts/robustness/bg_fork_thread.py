# HAKMEM_BACKGROUND=1 hang (session 20, robust20; not fixed): a worker thread forks; the child starts a
# thread that joins the (stopped) main thread and exits. glibc and the default mode: prints two lines,
# exit 0; HAKMEM_BACKGROUND=1: both lines printed, then hangs (20 of 20 runs). CPython test_threading
# test_3_join_in_forked_from_thread. Run: LD_PRELOAD=... HAKMEM_BACKGROUND=1 PYTHONMALLOC=malloc python3 THIS
import sys, os, time, threading
def joiningfunc(mainthread):
    mainthread.join()
    print('end of thread')
    sys.stdout.flush()
main_thread = threading.current_thread()
def worker():
    childpid = os.fork()
    if childpid != 0:
        os.waitpid(childpid, 0)
        sys.exit(0)
    t = threading.Thread(target=joiningfunc, args=(main_thread,))
    print('end of main')
    t.start()
    t.join()
w = threading.Thread(target=worker)
w.start()
