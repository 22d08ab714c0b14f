#ifndef CDEMOFORGE_SHIMS_H
#define CDEMOFORGE_SHIMS_H

#include <sys/types.h>
#include <spawn.h>

/// fcntl commands for open-file-description locks (GNU-only names).
int df_f_ofd_getlk(void);
int df_f_ofd_setlk(void);
int df_f_ofd_setlkw(void);

/// fcntl(fd, cmd, &flock) over bytes [start, start+len) (len 0 = to EOF); returns fcntl's result, errno set.
/// type: F_RDLCK / F_WRLCK / F_UNLCK. For F_OFD_GETLK, *out_type and *out_pid receive the conflict.
int df_ofd_lock(int fd, int cmd, short type, long start, long len, short *out_type, pid_t *out_pid);

/// The lock type constants, for Swift.
short df_f_rdlck(void);
short df_f_wrlck(void);
short df_f_unlck(void);

/// POSIX_SPAWN_SETSID flag value.
short df_posix_spawn_setsid(void);

/// posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34).
int df_spawn_addclosefrom(posix_spawn_file_actions_t *actions, int from);

/// inotify
int df_inotify_init1_cloexec_nonblock(void);
int df_inotify_add_watch(int fd, const char *path, unsigned int mask);
unsigned int df_in_create(void);
unsigned int df_in_modify(void);
unsigned int df_in_moved_to(void);
unsigned int df_in_close_write(void);
unsigned int df_in_delete(void);
unsigned int df_in_onlydir(void);

/// pipe2 with O_CLOEXEC (and optionally O_NONBLOCK).
int df_pipe2_cloexec(int fds[2], int nonblock);

/// Test-only fault points: returns 1 when env DEMOFORGE_FAULT equals name.
int df_fault_enabled(const char *name);

/// posix_spawn_file_actions_addchdir_np (glibc >= 2.29): the child changes to path before exec.
int df_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

/// pidfd_open(pid, 0) through syscall(2); a descriptor that polls readable once the process exits.
int df_pidfd_open(pid_t pid);

/// waitid(P_PID, pid, WEXITED | WNOHANG | WNOWAIT): 1 when the child has exited (not reaped), 0 when it
/// still runs, -1 with errno on error (ECHILD: not our child or already reaped).
int df_child_exited_nowait(pid_t pid);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants are re-parented to this process.
int df_set_child_subreaper(void);

#endif
