"""What the programs do before and as TensorFlow loads: start quietly and fast.

Import this module before NumPy and TensorFlow, then call
import_tensorflow() for the `tf` module and begin() at the start of main().
"""

import contextlib
import gc
import importlib
import os
import signal
import sys

from tutorial_support import signals

# NumPy asks the kernel for huge pages for its large arrays. Where the kernel
# then compacts memory to find them, as on this project's machines, loading
# MNIST's 220 MB of float32 pixels stalls now and then for over half a second,
# against a steady 0.15 s without them. NUMPY_MADVISE_HUGEPAGE=1 restores them.
os.environ.setdefault('NUMPY_MADVISE_HUGEPAGE', '0')

# TensorFlow writes its C++ start-up messages to stderr before Python can
# configure any logging. Unless the user asked for them by setting
# TF_CPP_MIN_LOG_LEVEL, they are silenced while TensorFlow loads.
TF_LOGS_WANTED = 'TF_CPP_MIN_LOG_LEVEL' in os.environ
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


@contextlib.contextmanager
def _stderr_silenced(enabled):
  """Points file descriptor 2 at /dev/null for the duration, if enabled."""
  if not enabled:
    yield
    return
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)
  try:
    yield
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


@contextlib.contextmanager
def _collector_paused():
  """Pauses the cyclic garbage collector for the duration.

  Importing TensorFlow creates over 250,000 objects that live as long as the
  process, and a full collection every few thousand of them walks them all:
  without it the import takes 0.4 s less here.
  """
  was_enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    if was_enabled:
      gc.enable()


def _untraced(function):
  """Returns function() called with this thread's Python tracer paused.

  A tracer (coverage.py's, a debugger's) is called at every Python function
  call, and TensorFlow's import makes millions: under coverage.py it took
  7.6 s here against 5.8 s with the tracer paused. Code run after is traced
  as before.
  """
  tracer = sys.gettrace()
  sys.settrace(None)
  try:  # pragma: no cover (no tracer, coverage.py's included, sees it run)
    return function()
  finally:
    sys.settrace(tracer)  # pragma: no cover (the same)


def import_tensorflow():
  """Imports TensorFlow with its start-up noise off; returns the module.

  The import takes seconds: Ctrl-C or SIGTERM meanwhile ends the program
  with one line and 128 + the signal's number, not a page of traceback. The
  tutorial's own modules, which import TensorFlow too, should be imported
  after.
  """
  previous = signal.getsignal(signal.SIGTERM)
  if previous == signal.SIG_DFL:
    signal.signal(signal.SIGTERM, signals.interrupt)
  try:
    with _stderr_silenced(not TF_LOGS_WANTED), _collector_paused():
      tf = _untraced(lambda: importlib.import_module('tensorflow'))
  except KeyboardInterrupt as e:
    print('%s: interrupted while starting; nothing was written'
          % os.path.basename(sys.argv[0]), file=sys.stderr)
    sys.exit(128 + (e.args[0] if e.args else signal.SIGINT.value))
  finally:
    if previous == signal.SIG_DFL:
      signal.signal(signal.SIGTERM, previous)
  return tf


def begin(tf):
  """Settles the process for a graph-mode run, at the start of main().

  The objects of TensorFlow's modules live as long as the process; frozen,
  the collector no longer walks them at each full collection of the run and
  once more at exit (half a second of every run here).
  """
  gc.freeze()
  if not TF_LOGS_WANTED:
    tf.get_logger().setLevel('ERROR')
  tf.compat.v1.disable_eager_execution()
