#define _GNU_SOURCE
#include "CDemoForgeShims.h"
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/inotify.h>

int df_f_ofd_getlk(void) { return F_OFD_GETLK; }
int df_f_ofd_setlk(void) { return F_OFD_SETLK; }
int df_f_ofd_setlkw(void) { return F_OFD_SETLKW; }

int df_ofd_lock(int fd, int cmd, short type, long start, long len, short *out_type, pid_t *out_pid) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    fl.l_pid = 0;
    int r = fcntl(fd, cmd, &fl);
    if (out_type) *out_type = fl.l_type;
    if (out_pid) *out_pid = fl.l_pid;
    return r;
}

short df_f_rdlck(void) { return F_RDLCK; }
short df_f_wrlck(void) { return F_WRLCK; }
short df_f_unlck(void) { return F_UNLCK; }

short df_posix_spawn_setsid(void) { return POSIX_SPAWN_SETSID; }

int df_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

int df_inotify_init1_cloexec_nonblock(void) { return inotify_init1(IN_CLOEXEC | IN_NONBLOCK); }
int df_inotify_add_watch(int fd, const char *path, unsigned int mask) { return inotify_add_watch(fd, path, mask); }
unsigned int df_in_create(void) { return IN_CREATE; }
unsigned int df_in_modify(void) { return IN_MODIFY; }
unsigned int df_in_moved_to(void) { return IN_MOVED_TO; }
unsigned int df_in_close_write(void) { return IN_CLOSE_WRITE; }
unsigned int df_in_delete(void) { return IN_DELETE; }
unsigned int df_in_onlydir(void) { return IN_ONLYDIR; }

int df_pipe2_cloexec(int fds[2], int nonblock) {
    return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
}

int df_fault_enabled(const char *name) {
    const char *v = getenv("DEMOFORGE_FAULT");
    return v != NULL && strcmp(v, name) == 0;
}

#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

int df_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

int df_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int df_child_exited_nowait(pid_t pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == -1) return -1;
    return info.si_pid == pid ? 1 : 0;
}

int df_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); }
