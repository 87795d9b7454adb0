"""One run per log dir: the lock a training run holds, and its checks.

Nothing here needs TensorFlow, so that a second run on a busy log dir, or a
log dir that cannot be written, is refused before TensorFlow's import.
"""

import contextlib
import os
import tempfile

from tutorial_support import systems

LOCK_FILE = '.lock'


def prepare_log_dir(log_dir):
  """Creates log_dir if needed and checks, before any work, that it is writable.

  Raises:
    OSError: With a one-line message naming log_dir.
  """
  try:
    os.makedirs(log_dir, exist_ok=True)
    _check_writable(log_dir)
  except OSError as e:
    raise _not_writable(log_dir, e) from None


def _check_writable(log_dir):
  # A file made there is the one true test: root passes os.access() where
  # a read-only mount or an immutable directory still refuses.
  with tempfile.TemporaryFile(dir=log_dir):
    pass


def _not_writable(log_dir, error):
  return OSError('--log_dir %s is not writable: %s'
                 % (log_dir, error.strerror or error))


def _in_use(log_dir, lock):
  try:
    lock.seek(0)
    holder = ' (process %s)' % (lock.read().strip() or 'unknown')
  except OSError:
    holder = ''  # Windows: a locked file cannot be read by others.
  return OSError('--log_dir %s is in use by another run%s; wait for it to '
                 'end, or name another --log_dir' % (log_dir, holder))


def refuse_if_unusable(log_dir):
  """Raises what hold_log_dir would, now, without creating or holding anything.

  A check for the start of a program, before its slow imports: hold_log_dir
  still takes the log dir, and refuses then if another run took it meanwhile.

  Raises:
    OSError: If log_dir exists and cannot be written, or another process
      holds it; the one-line message is hold_log_dir's.
  """
  if not os.path.isdir(log_dir):
    return  # The flags' check said it can be made; nobody holds it yet.
  try:
    _check_writable(log_dir)
  except OSError as e:
    raise _not_writable(log_dir, e) from None
  try:
    lock = open(os.path.join(log_dir, LOCK_FILE), 'r')  # pylint: disable=consider-using-with
  except OSError:
    return  # No run has held it yet, or hold_log_dir will say what is wrong.
  with lock:
    try:
      systems.lock(lock, shared=True, wait=False)
    except systems.LockHeld:
      raise _in_use(log_dir, lock) from None


@contextlib.contextmanager
def hold_log_dir(log_dir):
  """Holds log_dir for this process, creating it if needed, for the duration.

  The hold is an OS file lock on log_dir/.lock: it ends with the process,
  however the process ends, so no stale lock is ever left. If the work fails
  in a log_dir this call created, the empty directory is removed again.

  Raises:
    OSError: If log_dir cannot be written, or another process holds it; the
      one-line message names log_dir (and that process).
  """
  created = not os.path.isdir(log_dir)
  lock = None
  try:
    prepare_log_dir(log_dir)
    lock = open(os.path.join(log_dir, LOCK_FILE), 'a+')  # pylint: disable=consider-using-with
    try:
      systems.lock(lock, wait=False)
    except systems.LockHeld:
      raise _in_use(log_dir, lock) from None
    lock.seek(0)
    lock.truncate()
    lock.write('%d\n' % os.getpid())
    lock.flush()
    yield
  except BaseException:
    if lock is not None:
      lock.close()  # First: Windows removes no file that is open.
    if created:
      _remove_if_only_ours(log_dir)
    raise
  finally:
    if lock is not None:
      lock.close()


def _remove_if_only_ours(log_dir):
  """Removes log_dir if it holds nothing but the lock this run made."""
  try:
    names = os.listdir(log_dir)
    if set(names) <= {LOCK_FILE}:
      for name in names:
        os.remove(os.path.join(log_dir, name))
      os.rmdir(log_dir)
  except OSError:
    pass
