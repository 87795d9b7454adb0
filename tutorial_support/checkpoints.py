"""Checkpoints: the latest that restores, the fit check, save with clean-up.

The Saver writes a checkpoint's files, then names them in the `checkpoint`
index, so a crash at any moment leaves the previous checkpoint the latest.
Checkpoints are found from the files on disk, not from that index alone, so
a missing or damaged index loses nothing, and a damaged checkpoint (a copy
cut short, a full disk) is skipped for the newest one that restores.

TensorFlow matches the paths its checkpoint functions take as glob
patterns, so a log dir named `run [1]` or `*` is given to it through a
symbolic link of a plain name (tf_path).
"""

import atexit
import glob
import json
import math
import os
import re
import shutil
import sys
import tempfile

import numpy as np

import tensorflow as tf

from tutorial_support import atomic_files
from tutorial_support import checkpoint_names
from tutorial_support import errors
from tutorial_support import systems

tf1 = tf.compat.v1


def check_checkpoint_fits(checkpoint, log_dir):
  """Checks that checkpoint holds every variable of the default graph.

  Raises:
    errors.UsageError: If a variable is missing from it or has another shape
      there.
  """
  saved = dict(tf.train.list_variables(tf_path(checkpoint)))
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


# What save_checkpoint(extra=...) writes beside a checkpoint's own files.
_EXTRA_SUFFIX = '.extra.json'
_GLOB_CHARACTERS = frozenset('*?[]\\')
_aliases = {}


def checkpoint_step(checkpoint):
  """Returns the global step in a checkpoint's path, .../model.ckpt-<step>."""
  return int(checkpoint.rsplit('-', 1)[1])


def tf_path(path):
  """Returns a path that names path for TensorFlow's checkpoint functions.

  Paths free of glob characters are returned as they are; for others, the
  directory is reached through a link in a private temporary directory
  (systems.link_directory: a symbolic link, or a junction on Windows),
  removed at exit. Windows's own separator, the backslash, is no glob
  character there.
  """
  directory = os.path.abspath(os.path.dirname(path) or '.')
  if not (_GLOB_CHARACTERS - {os.sep}) & set(directory):
    return path
  if directory not in _aliases:
    holder = tempfile.mkdtemp(prefix='mnist-checkpoints-')
    alias = os.path.join(holder, 'log_dir')
    systems.link_directory(directory, alias)
    atexit.register(_remove_alias, holder, alias)
    _aliases[directory] = alias
  return os.path.join(_aliases[directory], os.path.basename(path))


def _remove_alias(holder, alias):
  systems.unlink_directory(alias)
  os.rmdir(holder)


def checkpoints_on_disk(log_dir):
  """Returns the paths of the checkpoints in log_dir, the newest first.

  A checkpoint is there if its .index file is, whatever the `checkpoint`
  index file says (it may be missing, damaged, or name fewer).
  """
  return [os.path.join(log_dir, 'model.ckpt-%d' % step)
          for step in checkpoint_names.steps_on_disk(log_dir)]


def newest_on_disk(log_dir):
  """Returns the newest checkpoint in log_dir, unchecked, or None."""
  found = checkpoints_on_disk(log_dir)
  return found[0] if found else None


class UnreadableError(OSError):
  """A file of a checkpoint cannot be read now (permissions, the file
  system): no proof that the checkpoint is damaged."""


# Errors of TensorFlow's reader that say nothing of the file's content.
_ACCESS_ERRORS = (tf.errors.PermissionDeniedError, tf.errors.UnavailableError,
                  tf.errors.ResourceExhaustedError, tf.errors.AbortedError)


def _read_through(checkpoint):
  """Reads every file a restore of checkpoint reads, with the OS's errors.

  Raises:
    UnreadableError: Naming the file and the error.
  """
  paths = [checkpoint + '.index'] + sorted(glob.glob(
      glob.escape(checkpoint) + '.data-[0-9][0-9][0-9][0-9][0-9]-of-'
      '[0-9][0-9][0-9][0-9][0-9]'))
  for path in paths:
    try:
      with open(path, 'rb') as f:
        while f.read(1 << 20):
          pass
    except OSError as e:
      raise UnreadableError('cannot read checkpoint file %s: %s'
                            % (path, e.strerror or e)) from None


def newest_that_restores(log_dir):
  """Returns the newest checkpoint in log_dir that restores, or None; it
  says nothing of the others and sets nothing aside."""
  for checkpoint in checkpoints_on_disk(log_dir):
    try:
      if why_unusable(checkpoint) is None:
        return checkpoint
    except UnreadableError:
      pass
  return None


def why_unusable(checkpoint):
  """Reads every variable of checkpoint; returns why it cannot be used, or
  None if it restores with finite values.

  Only a checkpoint whose content is proven bad has a reason: truncated, a
  wrong checksum, a variable that is not finite.

  Raises:
    UnreadableError: If a file of it cannot be read now.
  """
  _read_through(checkpoint)
  try:
    reader = tf.train.load_checkpoint(tf_path(checkpoint))
    for name, _ in tf.train.list_variables(tf_path(checkpoint)):
      value = reader.get_tensor(name)
      if (np.issubdtype(np.asarray(value).dtype, np.floating)
          and not np.all(np.isfinite(value))):
        return 'variable %s is not finite' % name
  # The reader turns a damaged file into any of several Python errors
  # (IndexError for "Read less bytes than requested", among others).
  except Exception as e:  # pylint: disable=broad-except
    if isinstance(e, _ACCESS_ERRORS):
      raise UnreadableError('cannot read checkpoint %s: %s' % (
          checkpoint, errors.op_error_line(e))) from None
    if isinstance(e, tf.errors.OpError):
      return errors.op_error_line(e)
    return str(e) or type(e).__name__
  return None


def set_aside(checkpoint):
  """Renames every file of checkpoint to NAME.damaged; returns the names."""
  prefix = os.path.basename(checkpoint) + '.'
  directory = os.path.dirname(checkpoint) or '.'
  renamed = []
  for name in sorted(os.listdir(directory)):
    if not name.startswith(prefix) or '.damaged' in name[len(prefix) - 1:]:
      continue
    target = name + '.damaged'
    suffix = 1
    while os.path.exists(os.path.join(directory, target)):
      target = '%s.damaged.%d' % (name, suffix)
      suffix += 1
    systems.replace(os.path.join(directory, name),
                    os.path.join(directory, target), rename=os.rename)
    renamed.append(target)
  return renamed


def latest_checkpoint(log_dir, set_aside_damaged=False):
  """Returns the newest checkpoint in log_dir that restores, or None.

  Each newer one that does not is named on stderr with the reason, and with
  set_aside_damaged its files are renamed NAME.damaged (never deleted).

  Raises:
    errors.NoCheckpointError: If there are checkpoints and none restores.
  """
  skipped = []
  for checkpoint in checkpoints_on_disk(log_dir):
    reason = why_unusable(checkpoint)
    if reason is None:
      return checkpoint
    aside = ''
    if set_aside_damaged:
      aside = '; its files are set aside as %s' % ', '.join(
          set_aside(checkpoint))
    print('warning: skipped checkpoint %s: %s%s' % (checkpoint, reason, aside),
          file=sys.stderr)
    skipped.append(os.path.basename(checkpoint))
  if skipped:
    aside = (': their files are set aside, so the next run starts afresh'
             if set_aside_damaged else '')
    raise errors.NoCheckpointError(
        '--log_dir %s: none of its checkpoints restores (%s)%s'
        % (log_dir, ', '.join(skipped), aside))
  return None


def sizes_to_resume(flags, train_set):
  """Checks the checkpoint a training run will resume, before it says so.

  It must have been trained on data of train_set's kind; its hidden sizes
  are the run's, unless --hidden1 or --hidden2 are given, and then they
  must be its own. Damaged newer checkpoints are set aside.

  Args:
    flags: The parsed command line: log_dir, hidden1, hidden2, and given,
      the names of the flags given.
    train_set: The training DataSet of this run.

  Returns:
    The (hidden1, hidden2) sizes to train with.

  Raises:
    errors.UsageError: If the checkpoint was trained on the other kind of
      data, or has other sizes than those given.
    errors.NoCheckpointError: If there are checkpoints and none restores.
  """
  checkpoint = latest_checkpoint(flags.log_dir, set_aside_damaged=True)
  if checkpoint is None:
    return flags.hidden1, flags.hidden2
  check_trained_on(checkpoint, train_set)
  return checkpoint_sizes(flags, checkpoint, 'resume')


def checkpoint_sizes(flags, checkpoint, verb):
  """The hidden sizes of checkpoint, which --hidden1 and --hidden2, where
  given, must be.

  Raises:
    errors.UsageError: If a size given is not the checkpoint's; the line
      says to leave them out to `verb` it.
  """
  saved = hidden_sizes(checkpoint)
  for name, saved_size in zip(('hidden1', 'hidden2'), saved):
    if name in getattr(flags, 'given', ()) and (
        getattr(flags, name) != saved_size):
      raise errors.UsageError(
          '--log_dir %s holds a checkpoint of %d-%d hidden units (%s), and '
          '--%s is %d (leave --hidden1 and --hidden2 out to %s it, or '
          'name another --log_dir)' % (
              flags.log_dir, saved[0], saved[1], os.path.basename(checkpoint),
              name, getattr(flags, name), verb))
  return saved


def restore_or_initialize(sess, saver, log_dir, global_step):
  """Restores the latest checkpoint in log_dir, or initializes the variables.

  Damaged checkpoints newer than the one restored are set aside.

  Returns:
    The checkpoint restored (None for a fresh start), and the global step to
    continue from (0 for a fresh start).

  Raises:
    errors.UsageError: If the checkpoint does not fit the graph.
    errors.NoCheckpointError: If there are checkpoints and none restores.
  """
  checkpoint = latest_checkpoint(log_dir, set_aside_damaged=True)
  keep_those_on_disk(saver, log_dir)
  if checkpoint is None:
    sess.run(tf1.global_variables_initializer())
    return None, 0
  check_checkpoint_fits(checkpoint, log_dir)
  saver.restore(sess, tf_path(checkpoint))
  step = int(sess.run(global_step))
  print('Resuming from %s at step %d' % (checkpoint, step))
  return checkpoint, step


def _remove_partial_checkpoint(path):
  """Removes what a failed save of checkpoint path wrote, unless it is in use.

  Only the names a save writes are removed: never a set-aside file
  (NAME.damaged), nor anything else beside them.
  """
  try:
    if path in checkpoints_on_disk(os.path.dirname(path)) and (
        why_unusable(path) is None):
      return
  except UnreadableError:
    return  # Not proven partial: left as it is.
  own_name = re.compile(re.escape(os.path.basename(path)) + r'(\.index|\.meta|'
                        r'\.data-[0-9]{5}-of-[0-9]{5}|' + re.escape(
                            _EXTRA_SUFFIX) + r')(\.tempstate[0-9]+)?$|'
                        + re.escape(os.path.basename(path)) + r'_temp')
  directory = os.path.dirname(path) or '.'
  for name in os.listdir(directory):
    if own_name.match(name):
      leftover = os.path.join(directory, name)
      if os.path.isdir(leftover):
        shutil.rmtree(leftover, ignore_errors=True)
      else:
        os.remove(leftover)


def save_checkpoint(sess, saver, log_dir, global_step, extra=None):
  """Saves <log_dir>/model.ckpt-<global step>; returns its path.

  A save that fails (a full disk) removes its own half-written files before
  raising.

  Args:
    sess: The session holding the variables.
    saver: The Saver.
    log_dir: The log directory.
    global_step: The global step variable.
    extra: A JSON-able value to save beside the checkpoint (see
      read_extra), written before the checkpoint is named in the index.

  Raises:
    errors.DivergedError: If a variable is not finite; nothing is saved.
    OSError: With a one-line message naming the checkpoint.
  """
  # Read once: on a cluster, other workers move the global step meanwhile.
  step = int(sess.run(global_step))
  _check_finite(sess, step)
  path = os.path.join(log_dir, 'model.ckpt-%d' % step)
  try:
    if extra is not None:
      atomic_files.write_atomically(path + _EXTRA_SUFFIX,
                                   json.dumps(extra).encode())
    saver.save(sess, tf_path(os.path.join(log_dir, 'model.ckpt')),
               global_step=step)
  except (tf.errors.OpError, OSError) as e:
    _remove_partial_checkpoint(path)
    reason = (errors.op_error_line(e) if isinstance(e, tf.errors.OpError)
              else e)
    raise OSError('cannot save checkpoint %s: %s' % (path, reason)) from None
  _remove_orphan_extras(log_dir)
  return path


def save_checked(sess, saver, log_dir, model, train, step):
  """Saves <log_dir>/model.ckpt-<global step> if its weights are sound.

  The weights' loss, on the first batch of train in file order, must be
  finite, and so must every variable; where the training batches are is
  saved beside it, for a resume to take up the very next ones.

  Args:
    sess: The session holding the weights.
    saver: The Saver.
    log_dir: The log directory.
    model: The fully_connected_feed.Model of the graph.
    train: The training DataSet.
    step: The step just run, to name in an error.

  Returns:
    The checkpoint's path.

  Raises:
    errors.DivergedError: If the loss or a variable is not finite: the
      update of step overflowed, after a finite loss. Nothing is saved.
  """
  batch_size = model.images_placeholder.shape[0]
  loss_now = sess.run(model.loss, {
      model.images_placeholder: train.images[:batch_size],
      model.labels_placeholder: train.labels[:batch_size]})
  if not math.isfinite(loss_now):
    raise errors.DivergedError(step, 'loss is %s after its update' % loss_now)
  return save_checkpoint(sess, saver, log_dir, model.global_step,
                         extra={'train_batches': train.state(),
                                'fake_data': bool(train.fake_data)})


def _check_finite(sess, step):
  """Raises errors.DivergedError if a variable of the graph is not finite.

  A loss can stay finite over weights that are not (ReLU turns NaN to 0):
  the loss check alone would save them.
  """
  variables = tf1.global_variables()
  for variable, value in zip(variables, sess.run(variables)):
    if (np.issubdtype(np.asarray(value).dtype, np.floating)
        and not np.all(np.isfinite(value))):
      raise errors.DivergedError(step, 'variable %s is not finite'
                                 % variable.op.name)


def _remove_orphan_extras(log_dir):
  """Removes the extras of checkpoints the Saver has since removed."""
  for name in os.listdir(log_dir):
    if name.endswith(_EXTRA_SUFFIX) and not os.path.exists(os.path.join(
        log_dir, name[:-len(_EXTRA_SUFFIX)] + '.index')):
      os.remove(os.path.join(log_dir, name))


def check_trained_on(checkpoint, data_set):
  """Checks that checkpoint was trained on data of data_set's kind.

  A checkpoint saved without saying (by an older version) passes.

  Raises:
    errors.UsageError: If checkpoint was trained on the files of
      --input_data_dir where data_set is --fake_data's, or the other way
      round: trained on or evaluated, its weights would fit neither.
  """
  extra = read_extra(checkpoint) if checkpoint else None
  if not isinstance(extra, dict):
    return
  trained_on_fake = extra.get('fake_data', data_set.fake_data)
  if trained_on_fake != data_set.fake_data:
    data = {True: "--fake_data's fake examples",
            False: 'the files of --input_data_dir'}
    raise errors.UsageError(
        '%s was trained on %s, and this run reads %s (give --fake_data a '
        '--log_dir of its own)' % (checkpoint, data[trained_on_fake],
                                   data[data_set.fake_data]))


def restore_batches(checkpoint, data_set):
  """Takes data_set's batches up where they were when checkpoint was saved.

  A checkpoint saved without them (by an older version, or of other data)
  leaves data_set as it is: its batches start a new order.

  Raises:
    errors.UsageError: If checkpoint was trained on data of another kind
      (check_trained_on).
  """
  check_trained_on(checkpoint, data_set)
  extra = read_extra(checkpoint) if checkpoint else None
  if isinstance(extra, dict) and 'train_batches' in extra:
    try:
      data_set.restore_state(extra['train_batches'])
    except ValueError:
      pass


def point_index_at(checkpoint):
  """Makes the `checkpoint` index name checkpoint as the latest, if it does not.

  The index written names the checkpoints on disk up to checkpoint by file
  name, so that it stays true wherever the log dir is moved or reached from.
  """
  directory = os.path.dirname(checkpoint) or '.'
  try:
    state = tf1.train.get_checkpoint_state(directory)
  except (tf.errors.OpError, ValueError):  # A damaged index: rewrite it.
    state = None
  if state and os.path.abspath(state.model_checkpoint_path) == (
      os.path.abspath(checkpoint)):
    return
  on_disk = [os.path.basename(path) for path in
             reversed(checkpoints_on_disk(directory))]
  kept = on_disk[:on_disk.index(os.path.basename(checkpoint)) + 1]
  # A directory given as it is: TensorFlow rewrites the index's entries
  # relative to a relative one, as if they were relative to the working
  # directory.
  tf1.train.update_checkpoint_state(os.path.abspath(directory), kept[-1],
                                    all_model_checkpoint_paths=kept)


def keep_those_on_disk(saver, log_dir):
  """Makes saver count the checkpoints already in log_dir as its own.

  A Saver keeps its max_to_keep latest checkpoints, of those it saved
  itself: told of the ones on disk, it keeps that many in the log dir however
  often the run was stopped and resumed. Set-aside files are not counted,
  and never removed.
  """
  saver.recover_last_checkpoints([tf_path(path) for path in
                                  reversed(checkpoints_on_disk(log_dir))])


def read_extra(checkpoint):
  """Returns what save_checkpoint saved beside checkpoint, or None."""
  try:
    with open(checkpoint + _EXTRA_SUFFIX) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def hidden_sizes(checkpoint):
  """Returns the sizes of the two hidden layers of a checkpoint of mnist.py."""
  shapes = dict(tf.train.list_variables(tf_path(checkpoint)))
  try:
    return shapes['hidden1/weights'][1], shapes['hidden2/weights'][1]
  except KeyError:
    raise errors.UsageError(
        '%s is not a checkpoint of this model (it has no hidden1/weights and '
        'hidden2/weights)' % checkpoint) from None
