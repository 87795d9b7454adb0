"""What differs between Linux, macOS and Windows, each with a portable path.

The rest of the project asks here for a file lock, a new file's mode, a
file replaced, a directory linked, a task that ends with its launcher, and
never names fcntl, a signal mask or /proc itself. Each function tests for
the feature it needs (an attribute, an import, a file), not for the name of
the system; where the feature is missing, it keeps the promise another way,
or says less, truthfully.

Locks come from portalocker: flock(2) on Linux and macOS, LockFileEx on
Windows, shared or exclusive, released by the system when the process ends
however it ends. On Windows such a lock is mandatory: a file locked by one
process cannot be read by another, so a lock file here is never read by
anyone but its holder, except for log_dirs' process ID, read where it can
be.
"""

import errno
import os
import signal
import socket
import struct
import subprocess
import threading
import time


class LockHeld(OSError):  # noqa: N818 (a state, as BlockingIOError)
  """Another process holds the lock asked for without waiting."""


def lock(file, shared=False, wait=True):
  """Locks an open file, shared or alone, until unlock() or its close.

  Args:
    file: An open file object or file descriptor.
    shared: Whether others may hold it shared meanwhile.
    wait: Whether to wait while another process holds it in a way that
      excludes this lock; if not, LockHeld is raised at once.

  Raises:
    LockHeld: If not wait, and another process holds it.
    OSError: If the system refuses the lock for another reason.
  """
  import portalocker  # pylint: disable=g-import-not-at-top (35 ms: not at --help)
  flags = (portalocker.LockFlags.SHARED if shared
           else portalocker.LockFlags.EXCLUSIVE)
  if not wait:
    flags |= portalocker.LockFlags.NON_BLOCKING
  try:
    portalocker.lock(file, flags)
  except portalocker.AlreadyLocked:
    raise LockHeld(errno.EWOULDBLOCK, 'held by another process') from None
  except portalocker.LockException as e:
    raise OSError(errno.ENOLCK, 'cannot lock: %s' % (e.strerror or e)) from None


def unlock(file):
  """Releases a lock taken by lock(), keeping the file open."""
  import portalocker  # pylint: disable=g-import-not-at-top (as in lock())
  portalocker.unlock(file)


def lock_holder(fd):
  """Names the process that holds the lock on fd's file, in words.

  Linux lists every flock in /proc/locks, with its process; elsewhere there
  is no such list, and the answer is 'another process'.
  """
  try:
    st = os.fstat(fd)
    device = '%02x:%02x:%d' % (os.major(st.st_dev), os.minor(st.st_dev),
                               st.st_ino)
    with open('/proc/locks') as f:
      for line in f:
        fields = line.split()
        if 'FLOCK' in fields and device in fields:
          return 'process %s' % fields[fields.index(device) - 1]
  except (OSError, AttributeError):
    pass  # No /proc/locks (macOS, Windows), or no os.major (Windows).
  return 'another process'


# Flags for os.open that exist only on some systems, as 0 where they do not.
# Windows has neither symbolic links to refuse to follow, nor FIFOs at
# ordinary paths that an open could wait on.
NO_FOLLOW = getattr(os, 'O_NOFOLLOW', 0)
NO_WAIT = getattr(os, 'O_NONBLOCK', 0)


def set_mode(fd, path, mode):
  """Gives the file open at fd, at path, the permission bits mode.

  os.fchmod is missing on Windows before Python 3.13; os.chmod by path does
  there what Windows can (it keeps only the read-only bit).
  """
  if hasattr(os, 'fchmod'):
    os.fchmod(fd, mode)
  else:
    os.chmod(path, mode)


# How long replace() retries a rename that the system refused.
REPLACE_RETRY_SECS = 1.0
_REPLACE_PAUSE_SECS = 0.05


def replace(source, destination, rename=os.replace):
  """Renames source over destination, retrying a refusal for a bounded time.

  On Windows a file that another process holds open (TensorBoard reading
  an event or checkpoint index, an antivirus scan) cannot be replaced: the
  rename fails with a permission error until that process lets go, which
  it does within moments. Elsewhere such an error is real, and the retries
  only delay it by REPLACE_RETRY_SECS.

  Raises:
    OSError: The rename's error, if it still fails at the end.
  """
  deadline = time.monotonic() + REPLACE_RETRY_SECS
  while True:
    try:
      rename(source, destination)
      return
    except PermissionError:
      if time.monotonic() >= deadline:
        raise
    time.sleep(_REPLACE_PAUSE_SECS)


def rename_onto_empty_directory(source, target):
  """Renames directory source to target, an empty directory it replaces.

  Linux and macOS replace an empty directory in one rename. Windows
  replaces no directory: there the empty one is removed first, and should
  another process claim the name in that moment, FileExistsError says so.

  Raises:
    FileExistsError: If target was claimed by another process meanwhile.
    OSError: If the rename fails otherwise.
  """
  try:
    os.rename(source, target)
    return
  except OSError as e:
    error = e
  if os.listdir(target):
    raise FileExistsError(errno.EEXIST, 'not empty', target) from None
  if not isinstance(error, (FileExistsError, PermissionError,
                            IsADirectoryError)):
    raise error
  os.rmdir(target)
  os.rename(source, target)


def link_directory(target, link):
  """Makes link name directory target, without privileges.

  A symbolic link where the system allows one (on Windows it needs a
  privilege most users lack); else a Windows junction, which needs none.

  Raises:
    OSError: If neither can be made.
  """
  try:
    os.symlink(target, link, target_is_directory=True)
    return
  except (OSError, NotImplementedError, AttributeError) as e:
    error = e
  try:
    import _winapi  # pylint: disable=g-import-not-at-top (Windows only)
    _winapi.CreateJunction(target, link)
  except (ImportError, AttributeError, OSError):
    raise OSError(errno.EPERM, 'cannot link to %s: %s' % (
        target, getattr(error, 'strerror', None) or error)) from None


def unlink_directory(link):
  """Removes a link made by link_directory (a junction is removed as a
  directory on Windows)."""
  try:
    os.unlink(link)
  except OSError:
    os.rmdir(link)


def reader_gone_status():
  """The exit status of a program whose stdout's reader has gone (`| head`):
  128 + SIGPIPE's number, as Unix tools exit; 1 where there is no SIGPIPE."""
  sigpipe = getattr(signal, 'SIGPIPE', None)
  return 128 + sigpipe.value if sigpipe is not None else 1


def is_reader_gone(error):
  """Whether an error writing stdout says its reader has gone: a broken
  pipe, which Windows reports as EINVAL on a pipe's flush."""
  return isinstance(error, BrokenPipeError) or (
      isinstance(error, OSError) and error.errno == errno.EINVAL)


# ------------------------------------------------------------ signal mask ----

def block_signals(signal_numbers):
  """Blocks signal_numbers in this thread and the threads it starts.

  Returns:
    The mask before, for restore_mask(); None where there is no signal mask
    (Windows, where Ctrl-C reaches Python on a console thread of its own
    and the handler runs on the main thread between bytecodes: see
    signals.StopRequest).
  """
  if not hasattr(signal, 'pthread_sigmask'):
    return None
  return signal.pthread_sigmask(signal.SIG_BLOCK, signal_numbers)


def take_blocked(signal_numbers):
  """Lets any of signal_numbers held back by block_signals() be handled
  now, its handler running before this returns, and blocks them again."""
  if not signal.sigpending().isdisjoint(signal_numbers):
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signal_numbers)
    signal.pthread_sigmask(signal.SIG_BLOCK, signal_numbers)


def restore_mask(previous):
  """Sets the mask block_signals() returned; a signal held meanwhile is
  handled here."""
  signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# ---------------------------------------------------- a network namespace ----

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1


def bring_loopback_up():
  """Brings up the loopback interface, down in a new network namespace.

  Network namespaces are Linux's, and so is this ioctl; elsewhere there is
  no namespace to be in (local_cluster warns instead), and this raises.

  Raises:
    OSError: Where the system has no such ioctl.
  """
  try:
    import fcntl  # pylint: disable=g-import-not-at-top (Linux and macOS)
  except ImportError:
    raise OSError(errno.ENOSYS, 'no network namespaces here') from None
  with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    request = struct.pack('16sH14s', b'lo', 0, b'')
    flags = struct.unpack('16sH', fcntl.ioctl(sock, _SIOCGIFFLAGS,
                                              request)[:18])[1]
    fcntl.ioctl(sock, _SIOCSIFFLAGS,
                struct.pack('16sH14s', b'lo', flags | _IFF_UP, b''))


# --------------------------------------------- a launcher and its tasks ----

# Popen's creationflags for a task: on Windows a new process group, which
# the console's Ctrl-C does not reach (the launcher stops its tasks itself);
# elsewhere 0, as the tasks ignore SIGINT instead.
TASK_CREATION_FLAGS = getattr(subprocess, 'CREATE_NEW_PROCESS_GROUP', 0)

_PR_SET_PDEATHSIG = 1


def _prctl():
  """Linux's prctl(2) through libc, or None where there is none (macOS, and
  Windows, where ctypes.CDLL(None) names no library)."""
  try:
    import ctypes  # pylint: disable=g-import-not-at-top
    return ctypes.CDLL(None, use_errno=True).prctl
  except (OSError, TypeError, AttributeError, ImportError):
    return None


def kernel_ends_tasks():
  """Whether the kernel ends a task when its launcher ends (Linux's
  PR_SET_PDEATHSIG); where it does not, tasks watch their standard input."""
  return _prctl() is not None


def end_with_parent(parent_pid, watch_stdin):
  """Makes this process stop as if sent SIGTERM when its parent ends.

  Where the kernel can do it (Linux), it does, however the parent ends.
  Elsewhere, if watch_stdin, a thread waits for the end of standard input,
  a pipe from the parent that closes when the parent ends or asks this
  process to stop, and then raises SIGTERM here.

  Args:
    parent_pid: The parent's process ID, to see if it ended already.
    watch_stdin: Whether standard input is the parent's pipe, for nobody
      else to read.
  """
  prctl = _prctl()
  if prctl is not None and prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0,
                                 0) == 0:
    if os.getppid() != parent_pid:
      signal.raise_signal(signal.SIGTERM)  # It ended before the request.
    return
  if watch_stdin:
    threading.Thread(target=_raise_sigterm_at_end_of_input, daemon=True,
                     name='ParentGone').start()


def _raise_sigterm_at_end_of_input():
  """Waits for the end of stdin, then stops the main thread as SIGTERM does.

  Sent to the main thread where threads can be signalled (macOS), so that
  it wakes from a wait; else raised here (Windows), where the main thread
  takes it at its next bytecode.
  """
  stdin = os.fdopen(os.dup(0), 'rb', buffering=0)
  try:
    while stdin.read(4096):
      pass
  except (OSError, ValueError):
    pass
  finally:
    stdin.close()
  if hasattr(signal, 'pthread_kill'):
    signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
  else:
    signal.raise_signal(signal.SIGTERM)


def ask_task_to_stop(process):
  """Asks a task (a Popen with stdin a pipe) to stop, after a checkpoint.

  By SIGTERM where the kernel ends tasks with their launcher (Linux); else
  by closing the task's stdin, which the task then watches (see
  end_with_parent), and which works alike on every system: on Windows,
  Popen.terminate() would end the task at once, before any checkpoint.
  """
  if kernel_ends_tasks() or process.stdin is None:
    process.terminate()
    return
  try:
    process.stdin.close()
  except OSError:
    pass  # The task has gone already.
