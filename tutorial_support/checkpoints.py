"""Checkpoints: restore or initialise, the fit check, save with clean-up.

The Saver writes a checkpoint's files, then names them in the `checkpoint`
index, so a crash at any moment leaves the previous checkpoint the latest.
"""

import glob
import os
import shutil
import tempfile

import tensorflow as tf

from tutorial_support import errors

tf1 = tf.compat.v1


def prepare_log_dir(log_dir):
  """Creates log_dir if needed and checks, before any work, that it is writable.

  Raises:
    OSError: With a one-line message naming log_dir.
  """
  try:
    os.makedirs(log_dir, exist_ok=True)
    with tempfile.TemporaryFile(dir=log_dir):
      pass
  except OSError as e:
    raise OSError('--log_dir %s is not writable: %s'
                  % (log_dir, e.strerror or e)) from None


def check_checkpoint_fits(checkpoint, log_dir):
  """Checks that checkpoint holds every variable of the default graph.

  Raises:
    errors.UsageError: If a variable is missing from it or has another shape there.
  """
  saved = dict(tf.train.list_variables(checkpoint))
  for variable in tf1.global_variables():
    name = variable.op.name
    wanted = variable.shape.as_list()
    if name not in saved:
      raise errors.UsageError(
          '--log_dir %s: its checkpoint %s has no variable %s; it is not a '
          'checkpoint of this model (use another --log_dir)'
          % (log_dir, os.path.basename(checkpoint), name))
    if saved[name] != wanted:
      raise errors.UsageError(
          '--log_dir %s holds a checkpoint of another network: %s is %s there '
          'but %s with these flags (use the same --hidden1/--hidden2, or '
          'another --log_dir)' % (log_dir, name, saved[name], wanted))


def restore_or_initialize(sess, saver, log_dir, global_step):
  """Restores the latest checkpoint in log_dir, or initializes the variables.

  Returns:
    The global step to continue from: 0 for a fresh start.

  Raises:
    errors.UsageError: If the checkpoint does not fit the graph.
  """
  checkpoint = tf1.train.latest_checkpoint(log_dir)
  if checkpoint is None:
    sess.run(tf1.global_variables_initializer())
    return 0
  check_checkpoint_fits(checkpoint, log_dir)
  saver.restore(sess, checkpoint)
  step = int(sess.run(global_step))
  print('Resuming from %s at step %d' % (checkpoint, step))
  return step


def _remove_partial_checkpoint(path):
  """Removes what a failed save of checkpoint path left, unless it is in use."""
  if tf1.train.latest_checkpoint(os.path.dirname(path)) == path:
    return
  for leftover in glob.glob(glob.escape(path) + '.*') + glob.glob(
      glob.escape(path) + '_temp*'):
    if os.path.isdir(leftover):
      shutil.rmtree(leftover, ignore_errors=True)
    else:
      os.remove(leftover)


def save_checkpoint(sess, saver, log_dir, global_step):
  """Saves <log_dir>/model.ckpt-<global step>; returns its path.

  A save that fails (a full disk) removes its own half-written files before
  raising.

  Raises:
    OSError: With a one-line message naming the checkpoint.
  """
  path = os.path.join(log_dir, 'model.ckpt-%d' % sess.run(global_step))
  try:
    return saver.save(sess, os.path.join(log_dir, 'model.ckpt'),
                      global_step=global_step)
  except (tf.errors.OpError, OSError) as e:
    _remove_partial_checkpoint(path)
    reason = (errors.op_error_line(e) if isinstance(e, tf.errors.OpError)
              else e)
    raise OSError('cannot save checkpoint %s: %s' % (path, reason)) from None


def hidden_sizes(checkpoint):
  """Returns the sizes of the two hidden layers of a checkpoint of mnist.py."""
  shapes = dict(tf.train.list_variables(checkpoint))
  try:
    return shapes['hidden1/weights'][1], shapes['hidden2/weights'][1]
  except KeyError:
    raise errors.UsageError('%s is not a checkpoint of this model (it has no '
                     'hidden1/weights and hidden2/weights)' % checkpoint) from None
