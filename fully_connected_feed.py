"""Trains and evaluates the MNIST network using a feed dictionary.

The tutorial's session loop: build the graph of mnist.py on placeholders, then
feed one batch of input_data's training split per step through feed_dict.
Every 100 steps it prints the loss and writes a summary for TensorBoard; every
1000 steps and at the last one it saves a checkpoint and evaluates the model
on the training, validation and test splits.

Where the tutorial fell short, each fix is where it happens: a run resumes
from its latest checkpoint, never wiping the log dir (run_training), every
example of a split is counted (do_eval), a NaN loss or Ctrl-C stops between
steps (train_loop), and --seed makes runs repeatable. The machinery behind
them lives in tutorial_support/.

  python fully_connected_feed.py --max_steps 2000 --log_dir logs/run1
"""

import collections
import concurrent.futures
import contextlib
import math
import signal
import sys
import time

# First: it settles the environment before NumPy and TensorFlow load.
from tutorial_support import startup
from tutorial_support import command_lines

# --help and a bad flag answer at once, not after TensorFlow's import.
if __name__ == '__main__':
  command_lines.feed_flags()
tf = startup.import_tensorflow()  # Ctrl-C meanwhile is one line.

# pylint: disable=g-import-not-at-top,wrong-import-position
import input_data
import mnist
from tutorial_support import checkpoints
from tutorial_support import confusion
from tutorial_support import errors
from tutorial_support import export
from tutorial_support import log_dirs
from tutorial_support import signals
from tutorial_support import speed
from tutorial_support import tensorboard_extras
# pylint: enable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1

PROG = command_lines.FEED_PROG
DEFAULT_LOG_DIR = command_lines.FEED_LOG_DIR
LOSS_EVERY = 100
CHECKPOINT_EVERY = 1000

Model = collections.namedtuple('Model', [
    'images_placeholder', 'labels_placeholder', 'logits', 'loss', 'train_op',
    'eval_correct', 'summary', 'global_step', 'eval_summary',
    'grid_placeholder'])


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


def do_eval(sess, eval_correct, images_placeholder, labels_placeholder,
            data_set):
  """Runs one evaluation against the full epoch of data, every example.

  The tutorial dropped the examples of the last partial batch; here it is
  padded instead (see DataSet.padded_batches), so the count is exact.

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
  # Batches run side by side, one thread per core (see speed.EVAL_THREADS);
  # the counts are integers, so their sum does not depend on the order.
  with concurrent.futures.ThreadPoolExecutor(speed.EVAL_THREADS) as pool:
    true_count = sum(pool.map(count_correct,
                              data_set.padded_batches(batch_size)))
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
  eval_summary, grid_placeholder = (
      tensorboard_extras.add_evaluation_summaries())
  return Model(images_placeholder, labels_placeholder, logits, loss, train_op,
               eval_correct, summary, tf1.train.get_global_step(),
               eval_summary, grid_placeholder)


def train_step(sess, model, data_set, with_summary=False, run_metadata=None):
  """Runs one step of gradient descent on the next batch of data_set.

  Args:
    sess: The session.
    model: The Model.
    data_set: The DataSet to take the batch from.
    with_summary: Whether to run the loss summary too.
    run_metadata: A RunMetadata to fill with the step's execution stats (a
      full trace: the time and memory of every op), or None.

  Returns:
    loss_value: The loss of the batch, before the step.
    summary_str: The serialized loss summary if with_summary, else None.
  """
  feed_dict = fill_feed_dict(data_set, model.images_placeholder,
                             model.labels_placeholder)
  options = (tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE)
             if run_metadata is not None else None)
  fetches = [model.train_op, model.loss]
  if with_summary:
    fetches.append(model.summary)
  results = sess.run(fetches, feed_dict=feed_dict, options=options,
                     run_metadata=run_metadata)
  return results[1], results[2] if with_summary else None


Run = collections.namedtuple('Run', [
    'sess', 'model', 'data_sets', 'saver', 'writer', 'precision_writers',
    'log_dir', 'trace_every'])


def save_checkpoint(run, step):
  """Saves <log_dir>/model.ckpt-<global step>; returns its path.

  Only weights whose loss is finite are saved (checkpoints.save_checked),
  with where the training batches are, for resume to take up the next ones.

  Raises:
    errors.DivergedError: If the weights' loss is not finite: the update of
      step overflowed, after a finite loss. Nothing is saved.
  """
  return checkpoints.save_checked(run.sess, run.saver, run.log_dir, run.model,
                                  run.data_sets.train, step)


def train_loop(run, first_step, max_steps, stop=None):
  """Runs training steps first_step..max_steps-1, as the tutorial's loop.

  Args:
    run: The Run to train.
    first_step: The global step to start from.
    max_steps: The global step to stop at.
    stop: A signals.StopRequest, taken between steps; None never stops early.

  Returns:
    The precisions of the last evaluation.

  Raises:
    errors.DivergedError: If the loss becomes NaN or infinite.
    signals.Interrupted: If stop was signalled; a checkpoint was saved first.
  """
  precisions = None
  loss_watch = errors.LossWatch(math.log(mnist.NUM_CLASSES))
  for step in range(first_step, max_steps):
    # Ctrl-C stops here, between two steps, after saving this one.
    if stop is not None and stop.poll() is not None:
      raise signals.Interrupted(signal.Signals(stop.signal_number).name, step,
                                save_checkpoint(run, step - 1))
    # Record execution stats now and then (as the tutorial's sibling,
    # mnist_with_summaries.py, does): by default the step before each save.
    traced = run.trace_every and ((step + 1) % run.trace_every == 0
                                  or step + 1 == max_steps)
    run_metadata = tf1.RunMetadata() if traced else None
    start_time = time.time()
    loss_value, summary_str = train_step(run.sess, run.model,
                                         run.data_sets.train,
                                         step % LOSS_EVERY == 0, run_metadata)
    duration = time.time() - start_time
    if traced:
      run.writer.add_run_metadata(run_metadata, 'step%d' % step, step)
    # A NaN loss would only spread into every weight: stop, keeping the last
    # good checkpoint the latest.
    if not math.isfinite(loss_value):
      raise errors.DivergedError(step, 'loss is %s' % loss_value)
    # Check the Status: print and write the loss now and then.
    if step % LOSS_EVERY == 0:
      print('Step %d: loss = %.2f (%.3f sec)' % (step, loss_value, duration))
      run.writer.add_summary(summary_str, step)
      run.writer.flush()
      loss_watch.check(step, loss_value)
    # Save a checkpoint and evaluate the model periodically.
    if (step + 1) % CHECKPOINT_EVERY == 0 or step + 1 == max_steps:
      print('Saved checkpoint %s' % save_checkpoint(run, step))
      precisions = evaluate_all(run.sess, run.model, run.data_sets)
      tensorboard_extras.write_evaluation_summaries(
          run.writer, run.precision_writers, run.sess, run.model,
          run.data_sets.test, precisions, step + 1)
  return precisions


def read_data(flags):
  """Returns the DataSets of the three splits, as the data flags say."""
  return input_data.read_data_sets(
      flags.input_data_dir, fake_data=flags.fake_data, seed=flags.seed,
      sources=flags.data_sources, timeout=flags.download_timeout)


def run_training(flags):
  """Trains MNIST for flags.max_steps global steps, resuming if it can.

  Args:
    flags: The parsed command line (see parse_flags).

  Returns:
    The precision @ 1 of each split at the end, keyed by split name.
  """
  # The log dir is never wiped, and held by one run at a time.
  with log_dirs.hold_log_dir(flags.log_dir):
    # Get the sets of images and labels for training, validation, and test.
    # Before the shield below: a fetch may start npm, which would inherit it.
    data_sets = read_data(flags)
    # The checkpoint to resume is checked before any line claims it: its
    # data, and its sizes, which the run takes unless others are given.
    flags.hidden1, flags.hidden2 = checkpoints.sizes_to_resume(
        flags, data_sets.train)
    # Signals are held off the threads that run ops, and taken between steps.
    with signals.StopRequest(shield_ops=True) as stop, \
        tf.Graph().as_default():
      # The Projector follows the newest checkpoint, however training ends.
      with tensorboard_extras.projector_follows(flags.log_dir, data_sets.test):
        precisions = _train_in_graph(flags, data_sets, stop)
      export.export_after_training(stop, flags.log_dir, flags.max_steps,
                                   flags.hidden1, flags.hidden2,
                                   flags.export_dir)
  return precisions


def _train_in_graph(flags, data_sets, stop):
  """Builds the graph into the default graph, then trains it in a session."""
  if flags.seed is not None:
    tf1.set_random_seed(flags.seed)
  model = build_model(flags.batch_size, flags.hidden1, flags.hidden2,
                      flags.learning_rate)
  saver = tf1.train.Saver(save_relative_paths=True)
  with tf1.Session(config=speed.session_config(
      flags.batch_size, flags.hidden1, flags.hidden2)) as sess:
    # Resume from the latest checkpoint in the log dir that restores, with
    # the batches where it left them, so that no batch is seen twice.
    checkpoint, first_step = checkpoints.restore_or_initialize(
        sess, saver, flags.log_dir, model.global_step)
    checkpoints.restore_batches(checkpoint, data_sets.train)
    sess.graph.finalize()
    if first_step >= flags.max_steps:
      print('Step %d reaches --max_steps %d: nothing to train (raise '
            '--max_steps to train on)' % (first_step, flags.max_steps))
      return evaluate_all(sess, model, data_sets)
    # The precision of each split goes to a run of its own: one chart.
    with contextlib.closing(
        tf1.summary.FileWriter(flags.log_dir, sess.graph)) as writer, \
        tensorboard_extras.precision_writers(flags.log_dir,
                                             first_step) as precision_writers:
      # Tells TensorBoard to drop what a killed run wrote past the step
      # resumed, but to keep that step's evaluation.
      writer.add_session_log(tf1.SessionLog(status=tf1.SessionLog.START),
                             first_step + 1)
      tensorboard_extras.write_hparams(writer, flags, first_step)
      run = Run(sess, model, data_sets, saver, writer, precision_writers,
                flags.log_dir, flags.trace_every)
      return train_loop(run, first_step, flags.max_steps, stop)


def run_evaluation(flags):
  """Evaluates the latest checkpoint in flags.log_dir, writing nothing there.

  The hidden layer sizes are read from the checkpoint, whatever the flags say.

  Returns:
    The precision @ 1 of each split, keyed by split name.
  """
  checkpoint = checkpoints.latest_checkpoint(flags.log_dir)
  if checkpoint is None:
    raise errors.NoCheckpointError(
        '--log_dir %s holds no checkpoint to evaluate (train first, or name '
        'the log dir of a run)' % flags.log_dir)
  hidden1, hidden2 = checkpoints.checkpoint_sizes(flags, checkpoint,
                                                  'evaluate')
  data_sets = read_data(flags)
  checkpoints.check_trained_on(checkpoint, data_sets.train)
  with signals.StopRequest(shield_ops=True) as stop, \
      tf.Graph().as_default():
    model = build_model(flags.batch_size, hidden1, hidden2, 0.01)
    saver = tf1.train.Saver()
    with tf1.Session(config=speed.session_config(
        flags.batch_size, hidden1, hidden2)) as sess:
      saver.restore(sess, checkpoints.tf_path(checkpoint))
      print('Evaluating %s (step %d, %d-%d hidden units)'
            % (checkpoint, sess.run(model.global_step), hidden1, hidden2))
      precisions = evaluate_all(sess, model, data_sets)
      stop.raise_if_stopped(None)
      # Which digits it confuses, below the tutorial's lines.
      print(confusion.report('Test', data_sets.test.labels, confusion.predict(
          sess, model.logits, model.images_placeholder,
          data_sets.test.padded_batches(flags.batch_size),
          data_sets.test.num_examples)))
    export.export_after_evaluation(stop, flags.log_dir, hidden1, hidden2,
                                   flags.export_dir)
  return precisions


def parse_flags(argv=None):
  """Parses the command line; a bad flag exits with status 2 and one line."""
  return command_lines.feed_flags(argv)


def main(argv=None):
  flags = parse_flags(argv)
  startup.begin(tf)
  work = run_evaluation if flags.eval_only else run_training
  return errors.exit_status(PROG, lambda: work(flags), flags.log_dir,
                            flags.debug, checkpoints.newest_that_restores)


if __name__ == '__main__':
  sys.exit(main())
