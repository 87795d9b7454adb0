"""Errors a user can act on: each reported as one line, with an exit status.

Anything else is a bug, and keeps its traceback.
"""

import os
import signal
import sys

import tensorflow as tf

from tutorial_support import mnist_files
from tutorial_support import signals


class UsageError(Exception):
  """Flags that cannot work together with the log directory they name."""


class NoCheckpointError(Exception):
  """There is no checkpoint where one is needed."""


class DivergedError(Exception):
  """The loss or the weights became NaN or infinite: args are the step and
  what went wrong ('loss is nan')."""


# Errors a user can act on, and the exit status each gives; anything else is
# a bug, and keeps its traceback.
_EXIT_STATUS = ((UsageError, 2), (NoCheckpointError, 1), (DivergedError, 1),
                (mnist_files.DataUnavailableError, 1), (ValueError, 1),
                (OSError, 1), (tf.errors.OpError, 1))


# The header Session.run puts above the message of every error of a run.
_GRAPH_ERROR_HEADER = 'Graph execution error:'


def op_error_line(error):
  """The line of a TensorFlow error that says what went wrong.

  Graph execution errors wrap it in a header, node names and stack traces;
  it is the line just above the `[[{{node ...}}]]` marker, else the first
  line that has words.
  """
  lines = [line.strip() for line in error.message.splitlines()
           if any(c.isalnum() for c in line)
           and line.strip() != _GRAPH_ERROR_HEADER]
  for index, line in enumerate(lines):
    if line.startswith('[[') and index:
      return lines[index - 1]
  return lines[0] if lines else type(error).__name__


def _one_line(error):
  if isinstance(error, tf.errors.OpError):
    return op_error_line(error)
  return str(error)


def _exit_status(error):
  for error_type, status in _EXIT_STATUS:
    if isinstance(error, error_type):
      return status
  return None


def report_error(prog, error, debug, message=None):
  """Prints error as one line for the user; returns its exit status.

  Args:
    prog: The program's name, to start the line with.
    error: The exception caught.
    debug: Whether --debug asked for the traceback instead.
    message: What to say, if not the error's own one line.

  Raises:
    The error itself if it is a bug (not in _EXIT_STATUS), or under --debug.
  """
  status = _exit_status(error)
  if status is None or debug:
    raise error
  print('%s: error: %s' % (prog, message or _one_line(error)),
        file=sys.stderr)
  return status


def diverged_message(error, latest_checkpoint):
  """Says where a DivergedError stopped and what is left to resume from."""
  step, what = error.args
  kept = ('the last checkpoint is untouched: %s' % latest_checkpoint
          if latest_checkpoint else 'no checkpoint was saved')
  return ('step %d: %s: training diverged and was stopped (try a smaller '
          '--learning_rate); %s' % (step, what, kept))


class LossWatch(object):
  """Warns once, on stderr, when the loss grows far past where it started.

  A learning rate too large for the data can make the loss climb and stay
  high without ever becoming NaN, every split ending at chance.
  """

  FACTOR = 5

  def __init__(self, chance_loss):
    """Args:
      chance_loss: The loss of a model that guesses (ln 10 for 10 classes),
        the least a resumed run, whose first loss is already low, compares
        with.
    """
    self._chance_loss = chance_loss
    self._start = None
    self._warned = False

  def check(self, step, loss_value):
    """Takes the loss reported at step; warns the first time it is too high."""
    if self._start is None:
      self._start = max(loss_value, self._chance_loss)
    elif not self._warned and loss_value > self.FACTOR * self._start:
      self._warned = True
      print('warning: step %d: loss = %.2f, over %d times where training '
            'started (%.2f): it is not converging (try a smaller '
            '--learning_rate)' % (step, loss_value, self.FACTOR, self._start),
            file=sys.stderr)


def after_the_last_step(checkpoint, max_steps, rest=None):
  """Says what a run stopped after its last step did, or None if it was
  stopped before it (checkpoint: its newest; rest: what else to say)."""
  if not checkpoint or int(checkpoint.rsplit('-', 1)[1]) < max_steps:
    return None
  return 'stopped after the last step: training finished and saved %s%s' % (
      checkpoint, '; ' + rest if rest else '')


def _interrupted_line(error):
  name, step, path = error.args[:3]
  if len(error.args) > 3 and error.args[3]:
    return '%s: %s' % (name, error.args[3])
  if path is None:
    return '%s: stopped; nothing was written' % name
  return ('%s at step %d: saved checkpoint %s; run the same command to '
          'resume' % (name, step, path))


def exit_status(prog, work, log_dir, debug, latest_checkpoint,
                interrupted_line=None):
  """Runs work(); returns the exit status, a failure said in one line.

  Args:
    prog: The program's name, to start an error line with.
    work: The function that does the program's work.
    log_dir: The log directory, to say what is left in it.
    debug: Whether --debug asked for tracebacks.
    latest_checkpoint: A function of log_dir, its latest checkpoint or None.
    interrupted_line: What to say if stopped at once by a signal, if not
      which checkpoint is the latest.

  Raises:
    Whatever work() raises that is a bug, or anything under --debug.
  """
  try:
    with signals.sigterm_interrupts():
      work()
  except signals.Interrupted as e:
    print(_interrupted_line(e), file=sys.stderr)
    return 128 + signal.Signals[e.args[0]].value
  except BrokenPipeError:
    return signals.reader_gone()
  except Exception as e:  # pylint: disable=broad-except
    message = None
    if isinstance(e, DivergedError):
      message = diverged_message(e, latest_checkpoint(log_dir))
    return report_error(prog, e, debug, message)
  except KeyboardInterrupt as e:
    # Before training began, or a second signal: no checkpoint was made.
    print(interrupted_line or _stopped_at_once_line(log_dir, latest_checkpoint),
          file=sys.stderr)
    return signals.interrupted_status(e)
  return 0


def _stopped_at_once_line(log_dir, latest_checkpoint):
  """What is left after a stop at once, by what is on disk now."""
  if not os.path.isdir(log_dir):
    return ('Interrupted: stopped at once; nothing was saved (%s was not made)'
            % log_dir)
  latest = latest_checkpoint(log_dir)
  if latest is None:
    return ('Interrupted: stopped at once; no checkpoint was saved in %s'
            % log_dir)
  # Named, whoever saved it: the first Ctrl-C of two may have, just before.
  return ('Interrupted: stopped at once; the latest checkpoint is %s; run the '
          'same command to resume' % latest)

