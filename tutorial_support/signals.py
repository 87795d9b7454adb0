"""Ctrl-C and SIGTERM: a clean stop between two steps, never inside an op.

StopRequest turns the first SIGINT or SIGTERM into a request that the
training loop takes between steps (saving a checkpoint first); a second one
stops at once. sigterm_interrupts() makes SIGTERM stop a program as Ctrl-C
does before its loop has begun.
"""

import contextlib
import os
import signal
import sys
import threading

from tutorial_support import systems


class Interrupted(Exception):  # noqa: N818 (a stop asked for, not an error)
  """Stopped by a signal: args are its name, the step and the checkpoint
  saved (None for both if the run saves none), and optionally what the run
  did and did not do, in words."""


def interrupt(signal_number, unused_frame):
  """A signal handler: stops at once, as Ctrl-C does, whichever the signal."""
  raise KeyboardInterrupt(signal_number)


@contextlib.contextmanager
def sigterm_interrupts():
  """Makes SIGTERM stop the program as Ctrl-C does, with its own exit status.

  Without it, SIGTERM before training began would end the process without a
  word; where the parent set it to be ignored, it stays ignored.
  """
  previous = signal.getsignal(signal.SIGTERM)
  if previous == signal.SIG_IGN or (
      threading.current_thread() is not threading.main_thread()):
    yield
    return
  signal.signal(signal.SIGTERM, interrupt)
  try:
    yield
  finally:
    signal.signal(signal.SIGTERM, previous)


def interrupted_status(error):
  """The exit status of a KeyboardInterrupt: 128 + the signal behind it."""
  return 128 + (error.args[0] if error.args else signal.SIGINT.value)


class StopRequest(object):
  """Turns SIGINT and SIGTERM into a request to stop after the current step.

  The loop calls poll() between steps, so a checkpoint is never cut in half
  by Ctrl-C. A second signal stops at once, as Ctrl-C usually does. A signal
  the parent process set to be ignored (as a shell does for SIGINT in a
  background job, or a launcher for its tasks) stays ignored.

  With shield_ops, the signals are also blocked in the calling thread, and in
  every thread it starts, until poll() takes them between steps. Sessions
  here run their ops in the calling thread (see speed.session_config), and a
  signal handled on a thread in the middle of an op corrupted memory: glibc
  aborted the process, or NaN reached the saved weights. Enter it before the
  session is made, so that TensorFlow's own threads inherit the block, and
  after anything that starts child processes, which would inherit it too.

  Where there is no signal mask (Windows), there is nothing to block, and
  nothing to block against: Ctrl-C and Ctrl-Break reach the process on a
  console thread of their own, which only sets a flag, and the handler
  runs on the main thread between two Python bytecodes, never inside the C
  call that runs a step's ops. The first signal is then taken by poll() as
  anywhere; a second one stops once the step's ops have returned.
  """

  # Ctrl-C, SIGTERM, and on Windows Ctrl-Break (SIGBREAK).
  SIGNALS = tuple(getattr(signal, name) for name in
                  ('SIGINT', 'SIGTERM', 'SIGBREAK') if hasattr(signal, name))

  def __init__(self, shield_ops=False):
    self.signal_number = None
    self._shield_ops = shield_ops
    self._previous = {}
    self._previous_mask = None

  def _handle(self, signal_number, frame):
    if self.signal_number is not None:
      interrupt(signal_number, frame)
    self.signal_number = signal_number

  def poll(self):
    """Takes any signal held back by the shield; returns signal_number."""
    if self._previous_mask is not None:
      systems.take_blocked(self.SIGNALS)
    return self.signal_number

  def raise_if_stopped(self, checkpoint, done=None):
    """Raises Interrupted for a signal that came after the last poll.

    Args:
      checkpoint: The checkpoint the run ends with, or None if it saves none.
      done: What the run did and did not do, if not that it saved
        checkpoint (or nothing), as the rest of the stop's one line.
    """
    if self.poll() is not None:
      step = int(checkpoint.rsplit('-', 1)[1]) if checkpoint else None
      raise Interrupted(signal.Signals(self.signal_number).name, step,
                        checkpoint, done)

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signal_number in self.SIGNALS:
        if signal.getsignal(signal_number) != signal.SIG_IGN:
          self._previous[signal_number] = signal.signal(signal_number,
                                                        self._handle)
    if self._shield_ops:
      self._previous_mask = systems.block_signals(self.SIGNALS)
    return self

  def __exit__(self, *unused_exc_info):
    try:
      if self._previous_mask is not None:
        # A signal held back meanwhile is handled here, by _handle.
        systems.restore_mask(self._previous_mask)
        self._previous_mask = None
    finally:
      for signal_number, handler in self._previous.items():
        signal.signal(signal_number, handler)


def reader_gone():
  """Stops quietly when whoever read stdout has gone (`| head`), as Unix
  tools do: call it on BrokenPipeError.

  Returns:
    The exit status, 128 + SIGPIPE's number (1 on Windows, which has no
    SIGPIPE). stdout then writes to
    /dev/null, so that Python's flush of it at exit does not complain.
  """
  os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
  return systems.reader_gone_status()
