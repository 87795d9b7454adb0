"""The mode of a new file, as open() would make it, under the process's umask.

Files written to a temporary name and renamed into place are made by
mkstemp with mode 0600; they are given this mode before the rename.
"""

import os


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
