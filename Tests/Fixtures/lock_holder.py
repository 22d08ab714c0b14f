#!/usr/bin/env python3
"""Holds an OFD lock on byte 0 of a lock file the way DemoForge's FileLocks do, for cross-process tests.

usage: lock_holder.py LOCKFILE (shared|exclusive)
Prints "locked <pid>" once it holds the lock, then waits; a line on stdin (or EOF) makes it release and
print "released", exiting 0.
"""
import fcntl, os, struct, sys

path, mode = sys.argv[1], sys.argv[2]
kind = fcntl.F_RDLCK if mode == "shared" else fcntl.F_WRLCK
fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
flock = struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 1, 0)
fcntl.fcntl(fd, fcntl.F_OFD_SETLKW, flock)
print(f"locked {os.getpid()}", flush=True)
sys.stdin.readline()
os.close(fd)
print("released", flush=True)
