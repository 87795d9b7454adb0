"""The checkpoints of a log dir, found from their files' names alone.

The checkpoint of step N is the files model.ckpt-N.*, and it is there if
its .index file is. Nothing here needs TensorFlow, so that the launcher of
a local cluster can read a log dir before any task imports it.
"""

import os
import re

_INDEX_FILE = re.compile(r'^model\.ckpt-([0-9]+)\.index$')


def steps_on_disk(log_dir):
  """Returns the steps of the checkpoints in log_dir, the newest first.

  Args:
    log_dir: The directory to list.

  Returns:
    A list of ints, empty if log_dir holds no checkpoint or cannot be
    listed. Nothing is read but the directory.
  """
  try:
    names = os.listdir(log_dir)
  except OSError:
    return []
  return sorted((int(match.group(1)) for match in map(_INDEX_FILE.match, names)
                 if match), reverse=True)
