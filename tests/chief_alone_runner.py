"""Runs fully_connected_replica.py, its chief alone held in its evaluation.

  HOLD_FILE=PATH python tests/chief_alone_runner.py --local_workers N FLAGS...

The launcher started from here starts its tasks from here too. A chief the
launcher starts alone (its newest checkpoint reaches --max_steps) writes its
process ID to PATH as it enters its evaluation, and goes on once a stop
signal has reached it or PATH.go exists. So a test can send the signal while
the chief is surely evaluating, or surely after it has ended, where a timer
could hit either.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# pylint: disable=wrong-import-position
from tutorial_support import command_lines
from tutorial_support import local_cluster
# pylint: enable=wrong-import-position

HOLD_FILE_ENV = 'HOLD_FILE'


def hold_in_evaluation(replica, hold_file):
  """Holds the chief's first evaluation until a signal or hold_file.go."""
  requests = []
  real_enter = replica.signals.StopRequest.__enter__

  def enter(self):
    requests.append(self)
    return real_enter(self)
  replica.signals.StopRequest.__enter__ = enter

  real_evaluate_all = replica.feed.evaluate_all

  def evaluate_all(*args):
    with open(hold_file + '.tmp', 'w') as f:
      f.write(str(os.getpid()))
    os.rename(hold_file + '.tmp', hold_file)
    while (requests[-1].poll() is None
           and not os.path.exists(hold_file + '.go')):
      time.sleep(0.05)
    return real_evaluate_all(*args)
  replica.feed.evaluate_all = evaluate_all


def main():
  flags = command_lines.replica_flags()
  if flags.local_workers:
    return local_cluster.launch(os.path.abspath(__file__), sys.argv[1:],
                                command_lines.REPLICA_PROG, flags)
  import fully_connected_replica  # pylint: disable=import-outside-toplevel
  if local_cluster.started_alone(os.environ):
    hold_in_evaluation(fully_connected_replica, os.environ[HOLD_FILE_ENV])
  return fully_connected_replica.main()


if __name__ == '__main__':
  sys.exit(main())
