"""Files written whole: to a temporary name beside them, then renamed.

A reader sees the old file or the new one, never half of one. The temporary
file, made by mkstemp with mode 0600, is given the mode open() would give a
new file under the process's umask before the rename.
"""

import os
import tempfile

from tutorial_support import systems


def _umask_of_this_process():
  """The umask, read without changing it (Linux shows it since 4.7)."""
  try:
    with open('/proc/self/status') as f:
      for line in f:
        if line.startswith('Umask:'):
          return int(line.split()[1], 8)
  except (OSError, ValueError):
    pass
  # Elsewhere it can only be read by setting it: done once, at import,
  # before the programs start threads that could create files meanwhile.
  mask = os.umask(0o22)
  os.umask(mask)
  return mask


_FALLBACK_UMASK = None if os.path.exists('/proc/self/status') else (
    _umask_of_this_process())


def new_file_mode():
  """Returns 0o666 less the umask: the mode open() gives a new file."""
  mask = _umask_of_this_process() if _FALLBACK_UMASK is None else (
      _FALLBACK_UMASK)
  return 0o666 & ~mask


def write_atomically(path, data):
  """Writes bytes data to path whole, or leaves path as it was.

  Raises:
    OSError: If it cannot be written; nothing is left behind.
  """
  fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or '.',
                             prefix='.' + os.path.basename(path) + '.',
                             suffix='.part')
  try:
    systems.set_mode(fd, tmp, new_file_mode())
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
    systems.replace(tmp, path)
  except BaseException:
    try:
      os.remove(tmp)
    except OSError:
      pass
    raise
