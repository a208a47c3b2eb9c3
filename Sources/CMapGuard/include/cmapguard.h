#ifndef MASKSCOPE_CMAPGUARD_H
#define MASKSCOPE_CMAPGUARD_H
#include <stddef.h>

/* Survives a memory-mapped model file that shrinks while the engine reads it.
 *
 * A page of a shared file map that lies past the file's new end is a SIGBUS when touched (the file was
 * truncated, or rewritten in place, by someone else). The guard's SIGBUS handler looks at the faulting
 * address: inside a registered map, it maps an anonymous zero page over the faulting page, marks the map
 * as faulted and returns, so the load reads 0 and the pass goes on to its end; the engine then asks
 * ms_mapguard_faulted and throws an error that names the file instead of giving the answer. Any other
 * SIGBUS goes to the handler that was installed before the guard's (or the default action: death).
 * The handler calls only mmap and atomic operations (mmap is a system call with no user-space state). */

/* Registers [base, base + size) and returns its slot (>= 0), or -1 when all 256 slots are in use (the map
 * is then unguarded). Installs the handler (ms_mapguard_install) on first use. */
int ms_mapguard_register(const void *base, size_t size);

/* Forgets a slot (before the map is unmapped). */
void ms_mapguard_unregister(int slot);

/* 1 when a read inside the slot's map faulted since it was registered (it stays 1), 0 otherwise. */
int ms_mapguard_faulted(int slot);

/* Makes the guard's handler the one for SIGBUS, chaining to the current one, unless it already is;
 * returns 0, or -1 when sigaction failed. Cheap (one sigaction call): the engine calls it before each
 * forward pass, so a handler installed later (the workbench's crash handler) goes after the guard's. */
int ms_mapguard_install(void);

/* Files for the panel cache (Linux). ms_open_unnamed_file makes an unnamed regular file in `folder` (O_TMPFILE,
 * mode & ~umask), which vanishes with its last descriptor unless ms_link_unnamed_file gives it the name `path`
 * (which must not exist yet) through /proc/self/fd: a process that ends before its file is complete leaves
 * nothing behind. Both return -1 with errno set on failure (EOPNOTSUPP or EISDIR: the file system or the
 * kernel has no O_TMPFILE). */
int ms_open_unnamed_file(const char *folder, unsigned mode);
int ms_link_unnamed_file(int fd, const char *path);

#endif
