"""Trains the MNIST network on a TensorFlow cluster: between-graph replication.

The path past fully_connected_feed.py, on TensorFlow's own distributed
runtime: parameter servers (`--job_name ps`) hold the variables; every worker
(`--job_name worker`) builds the same graph of mnist.py with
`replica_device_setter`, feeds its own batches through feed_dict and updates
the shared variables, asynchronously by default or in synchronous rounds with
`--sync_replicas`. Worker 0 is the chief: it initializes the variables (or
restores them from the latest checkpoint in --log_dir), writes summaries and
checkpoints there, and evaluates the three splits every 1000 global steps and
at the end, as the tutorial does. Training stops at --max_steps global steps.

One process per task, started by hand on each machine:

  python fully_connected_replica.py --ps_hosts h0:2222 \\
      --worker_hosts h1:2222,h2:2222 --job_name worker --task_index 0

or with the cluster in the TF_CONFIG environment variable instead of the four
flags, or all on this machine, 1 parameter server and N workers on free
loopback ports:

  python fully_connected_replica.py --local_workers 2
"""

import argparse
import collections
import contextlib
import io
import math
import os
import signal
import sys
import threading
import time

# First: it settles the environment before NumPy and TensorFlow load.
from tutorial_support import startup
from tutorial_support import command_lines
from tutorial_support import local_cluster

# --help and a bad flag answer at once, not after TensorFlow's import, and
# --local_workers' launcher needs none: only the tasks it starts import it.
if __name__ == '__main__':
  _FLAGS = command_lines.replica_flags()
  if _FLAGS.local_workers:
    sys.exit(local_cluster.launch(os.path.abspath(__file__), sys.argv[1:],
                                  command_lines.REPLICA_PROG, _FLAGS))
tf = startup.import_tensorflow()

# pylint: disable=g-import-not-at-top,wrong-import-position
# The tutorial's own functions (placeholders, feeding, evaluation), reused.
import fully_connected_feed as feed
import mnist
from tutorial_support import checkpoints
from tutorial_support import cluster_setup
from tutorial_support import errors
from tutorial_support import log_dirs
from tutorial_support import signals
from tutorial_support import speed
# pylint: enable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1

PROG = command_lines.REPLICA_PROG
DEFAULT_LOG_DIR = command_lines.REPLICA_LOG_DIR
# With --sync_replicas the chief's token thread ends blocked on a round that
# the stopped workers will never fill; closing the session cancels it, so
# waiting longer for it (the default is 120 s) only delays the exit.
STOP_GRACE_SECS = 2
# How long the chief waits before it runs again an evaluation whose RPC failed.
EVAL_RETRY_SECS = 1


def session_config(flags, task_index):
  """The ConfigProto of a worker's sessions.

  Device filters keep a worker from waiting on the other workers; the
  operation timeout ends any one run that waits longer (a synchronous round
  that never fills). A lost parameter server is the watchdog's
  (cluster_setup.ParameterServerWatchdog):
  the session would retry it without end.
  """
  config = speed.session_config(flags.batch_size, flags.hidden1, flags.hidden2)
  config.device_filters.extend(['/job:ps', '/job:worker/task:%d'
                                % task_index])
  config.operation_timeout_in_ms = int(flags.cluster_timeout * 1000)
  return config


# ---------------------------------------------------------------- graph ----

def _sync_training(loss, learning_rate, replicas):
  """mnist.training(), with the optimizer wrapped to aggregate replicas.

  The same summary, global step and variable names as mnist.training(), so
  the checkpoint restores into fully_connected_feed.py's graph.

  Returns:
    train_op, and the SyncReplicasOptimizer.
  """
  tf1.summary.scalar('loss', loss)
  global_step = tf1.Variable(0, name='global_step', trainable=False,
                             collections=[tf1.GraphKeys.GLOBAL_VARIABLES,
                                          tf1.GraphKeys.GLOBAL_STEP])
  optimizer = tf1.train.SyncReplicasOptimizer(
      tf1.train.GradientDescentOptimizer(learning_rate),
      replicas_to_aggregate=replicas, total_num_replicas=replicas)
  return optimizer.minimize(loss, global_step=global_step), optimizer


def build_replica_model(flags, cluster, task_index):
  """Builds the tutorial's graph with its variables on the parameter servers.

  Returns:
    A fully_connected_feed.Model (without the evaluation summaries), and the
    SyncReplicasOptimizer if --sync_replicas, else None.
  """
  setter = tf1.train.replica_device_setter(
      worker_device='/job:worker/task:%d' % task_index, cluster=cluster)
  with tf1.device(setter):
    images, labels = feed.placeholder_inputs(flags.batch_size)
    logits = mnist.inference(images, flags.hidden1, flags.hidden2)
    loss = mnist.loss(logits, labels)
    if flags.sync_replicas:
      train_op, optimizer = _sync_training(
          loss, flags.learning_rate, len(cluster['worker']))
    else:
      train_op, optimizer = mnist.training(loss, flags.learning_rate), None
    eval_correct = mnist.evaluation(logits, labels)
  model = feed.Model(images, labels, logits, loss, train_op, eval_correct,
                     tf1.summary.merge_all(), tf1.train.get_global_step(),
                     None, None)
  return model, optimizer


# What the chief's hook works with; the session is given to its methods.
ChiefRun = collections.namedtuple('ChiefRun', [
    'model', 'data_sets', 'saver', 'log_dir', 'trace_every'])


@contextlib.contextmanager
def printed_whole():
  """Holds what the block prints to stdout, then writes it in one write.

  The tasks of a cluster share a terminal: written whole, a block of the
  chief's (a save and its evaluation) has no other task's line inside it.
  """
  block = io.StringIO()
  with contextlib.redirect_stdout(block):
    yield
  sys.stdout.write(block.getvalue())
  sys.stdout.flush()


class ChiefHook(tf1.train.SessionRunHook):
  """The chief's part of the tutorial's loop: save, then evaluate.

  Every `every` global steps and at the end, as train_loop does: the
  checkpoint is saved by checkpoints.save_checked (so weights
  whose loss is not finite are never saved), then the three splits are
  evaluated, the block printed whole. At the end, nothing is saved if
  no step was run since the last save, and the evaluation is skipped when
  `stop` (a StopRequest) was signalled: the user asked to stop, not to wait.
  """

  def __init__(self, run, every, last_step, stop):
    """Args:
      run: A ChiefRun of the chief's model.
      every: Global steps between two saves.
      last_step: --max_steps.
      stop: The worker's StopRequest.
    """
    self._run = run
    self._every = every
    self._last_step = last_step
    self._stop = stop
    self._last_saved = None
    self._last_evaluated = None
    self._last_traced = None
    self._trace_due = False

  def after_create_session(self, session, coord):
    step = int(session.run(self._run.model.global_step))
    # What the session starts from is on disk already (or is step 0).
    self._last_saved = self._last_evaluated = self._last_traced = step
    if step >= self._last_step:
      print('Chief: global step %d reaches --max_steps %d: nothing to train '
            '(raise --max_steps to train on)' % (step, self._last_step))
      self._last_evaluated = None  # So that end() evaluates what there is.

  def before_run(self, run_context):
    # Execution stats of the chief's first step in each --trace_every.
    options = (tf1.RunOptions(trace_level=tf1.RunOptions.FULL_TRACE)
               if self._trace_due else None)
    return tf1.train.SessionRunArgs(self._run.model.global_step,
                                    options=options)

  def after_run(self, run_context, run_values):
    # The step read in the same run as the update; the last is left to end().
    step = int(run_values.results) + 1
    if self._trace_due:
      tf1.summary.FileWriterCache.get(self._run.log_dir).add_run_metadata(
          run_values.run_metadata, 'step%d' % (step - 1), step - 1)
      self._last_traced = step
    every = self._run.trace_every
    self._trace_due = bool(every) and step // every > self._last_traced // every
    if step < self._last_step and (
        step // self._every > self._last_saved // self._every):
      self._save_and_evaluate(run_context.session, evaluate=True)

  def end(self, session):
    step = int(session.run(self._run.model.global_step))
    # Evaluated unless it just was, or the user asked to stop.
    self._save_and_evaluate(session, evaluate=(
        step != self._last_evaluated and self._stop.poll() is None))

  def _save_and_evaluate(self, session, evaluate):
    run = self._run
    step = int(session.run(run.model.global_step))
    with printed_whole():
      if step != self._last_saved:
        path = checkpoints.save_checked(session, run.saver, run.log_dir,
                                        run.model, run.data_sets.train, step)
        print('Saved checkpoint %s' % path)
        # The save reads the global step again, which the other workers may
        # have moved on: the evaluation is headed by the step it saved.
        step = self._last_saved = checkpoints.checkpoint_step(path)
      if evaluate:
        print('Global step %d:' % step)
        self._evaluate(session, run)
        self._last_evaluated = step

  def _evaluate(self, session, run):
    """Evaluates the three splits, once more if an RPC of it failed.

    MonitoredSession recovers from these errors in training steps; a hook's
    runs go to the raw session, which does not. Evaluation only reads the
    variables, so running it again is harmless; a cluster that is really
    lost fails it again.
    """
    try:
      feed.evaluate_all(session, run.model, run.data_sets)
    except (tf.errors.UnavailableError, tf.errors.AbortedError) as e:
      print('Evaluation failed (%s: %s); evaluating again'
            % (type(e).__name__, errors.op_error_line(e)))
      time.sleep(EVAL_RETRY_SECS)
      feed.evaluate_all(session, run.model, run.data_sets)


# --------------------------------------------------------------- tasks ----

def run_parameter_server(cluster, task_index):
  """Serves variables until SIGINT or SIGTERM, or until the launcher of
  --local_workers says the workers are done.

  Returns:
    The exit status: 0 if the launcher ended it, else 128 + the number of
    the signal that stopped it.
  """
  finished = local_cluster.when_launcher_finishes(os.environ)
  # Shielded: the server's threads, which run the workers' ops, inherit it.
  with signals.StopRequest(shield_ops=True) as stop:
    # Serves while it lives: kept until the with block ends.
    _server = tf1.train.Server(tf1.train.ClusterSpec(cluster), job_name='ps',
                               task_index=task_index)
    print('Parameter server %d serving on %s' % (task_index,
                                                cluster['ps'][task_index]))
    cluster_setup.warn_of_exposure('ps', task_index, cluster)
    sys.stdout.flush()
    # Not server.join(): it waits in C++, where Python never gets to handle
    # Ctrl-C, so the server could only be killed.
    while stop.poll() is None and not (finished and finished.is_set()):
      time.sleep(0.2)
  if stop.signal_number is None:
    print('Parameter server %d: done' % task_index)
    return 0
  print('Parameter server %d: stopped by %s' % (
      task_index, signal.Signals(stop.signal_number).name))
  return 128 + stop.signal_number


def _chief_checkpoint(flags):
  """Returns the latest checkpoint in --log_dir that restores, or None.

  Damaged newer ones are set aside, and the `checkpoint` index is repaired
  if it names another one, so that what restores is what it names.

  Raises:
    errors.UsageError: If it is a checkpoint of other hidden sizes: said
      before the cluster starts, not after it waited for it.
  """
  checkpoint = checkpoints.latest_checkpoint(flags.log_dir,
                                             set_aside_damaged=True)
  if checkpoint:
    with tf.Graph().as_default():
      mnist.inference(tf1.placeholder(tf.float32, (None, mnist.IMAGE_PIXELS)),
                      flags.hidden1, flags.hidden2)
      checkpoints.check_checkpoint_fits(checkpoint, flags.log_dir)
    checkpoints.point_index_at(checkpoint)
    print('Chief: restoring %s into the parameter servers' % checkpoint)
  return checkpoint


def _train_steps(sess, model, data_set, task_index, last_step, stop):
  """Runs training steps until the session or stop says to stop.

  Returns:
    The number of steps run, and the global step read by the last one (None
    if none ran).

  Raises:
    errors.DivergedError: If a loss is NaN or infinite.
  """
  # Read without the hooks: a step would run even with nothing to train.
  step = sess.run_step_fn(
      lambda step_context: step_context.session.run(model.global_step))
  if step >= last_step:
    return 0, None
  local_steps, step = 0, None
  while not sess.should_stop() and stop.poll() is None:
    feed_dict = feed.fill_feed_dict(data_set, model.images_placeholder,
                                    model.labels_placeholder)
    try:
      _, loss_value, step = sess.run(
          [model.train_op, model.loss, model.global_step], feed_dict)
    except tf.errors.OutOfRangeError:
      break  # --sync_replicas: the chief has ended, closing the round's queue.
    local_steps += 1
    if not math.isfinite(loss_value):
      raise errors.DivergedError(step, 'loss is %s' % loss_value)
    if local_steps % feed.LOSS_EVERY == 0:
      print('Worker %d: local step %d, global step %d: loss = %.2f'
            % (task_index, local_steps, step, loss_value))
      sys.stdout.flush()
  return local_steps, step


def run_worker(flags, cluster, task_index):
  """Trains as worker task_index until the global step reaches max_steps.

  SIGINT or SIGTERM stops it between two steps; the chief then saves a
  checkpoint of the global step as its session closes.

  Returns:
    The number of training steps this worker ran.

  Raises:
    signals.Interrupted: If stopped by a signal, with the
      signal's name, the global step and the chief's checkpoint of it (None
      for the other workers).
  """
  if task_index != 0:
    return _work(flags, cluster, task_index)
  # The chief holds the log dir, as a training run does.
  with log_dirs.hold_log_dir(flags.log_dir):
    return _work(flags, cluster, task_index)


def _work(flags, cluster, task_index):
  """run_worker's work, the log dir held if this is the chief."""
  cluster_setup.ParameterServerWatchdog(PROG, cluster['ps'],
                                        flags.cluster_timeout,
                                        task_index).start()
  checkpoint = _chief_checkpoint(flags) if task_index == 0 else None
  if flags.seed is not None:
    tf1.set_random_seed(flags.seed)
    # Each worker its own batch order: the same one would repeat the updates.
    flags = argparse.Namespace(**dict(vars(flags),
                                      seed=flags.seed + task_index))
  # Before the shield: a fetch may start npm, which would inherit the block.
  data_sets = feed.read_data(flags)
  checkpoints.restore_batches(checkpoint, data_sets.train)
  # Shielded before the server starts, so that its threads inherit the block.
  with signals.StopRequest(shield_ops=True) as stop:
    server = tf1.train.Server(tf1.train.ClusterSpec(cluster),
                              job_name='worker', task_index=task_index)
    cluster_setup.warn_of_exposure('worker', task_index, cluster)
    model, optimizer = build_replica_model(flags, cluster, task_index)
    closing = threading.Event()
    cluster_setup.hide_cancelled_queue_threads(closing)
    with _monitored_session(flags, server, task_index, checkpoint, model,
                            optimizer, data_sets, stop) as sess:
      local_steps, step = _train_steps(sess, model, data_sets.train,
                                       task_index, flags.max_steps, stop)
      closing.set()
  stopped = stop.signal_number is not None
  print('Worker %d: %s after %d local steps'
        % (task_index, 'stopped' if stopped else 'done', local_steps))
  if stopped:
    newest = (checkpoints.newest_on_disk(flags.log_dir) if task_index == 0
              else None)
    step = checkpoints.checkpoint_step(newest) if newest else step
    # Saved by this run only if it is not the one the run began from.
    saved = newest if newest != checkpoint else None
    raise signals.Interrupted(signal.Signals(stop.signal_number).name, step,
                              saved, newest)
  return local_steps


def evaluate_alone(flags):
  """A launcher's chief with nothing to train: evaluates the checkpoint.

  The newest checkpoint on disk reaches --max_steps, so the launcher started
  no other task: the chief restores the checkpoint that restores into a
  session of its own and evaluates it, as it would at the end of a run, and
  writes nothing.

  Returns:
    0, or local_cluster.CLUSTER_NEEDED if that checkpoint is short of
    --max_steps (newer ones were damaged and set aside): the launcher then
    starts the cluster to train.

  Raises:
    signals.Interrupted: If stopped by a signal, with the checkpoint, which
      is still the latest.
  """
  with log_dirs.hold_log_dir(flags.log_dir):
    checkpoint = checkpoints.latest_checkpoint(flags.log_dir,
                                               set_aside_damaged=True)
    step = checkpoints.checkpoint_step(checkpoint) if checkpoint else 0
    if step < flags.max_steps:
      print('Chief: %s: the cluster starts to train' % (
          'no checkpoint restores' if checkpoint is None else
          'the newest checkpoint that restores is of step %d' % step))
      return local_cluster.CLUSTER_NEEDED
    data_sets = feed.read_data(flags)
    with tf.Graph().as_default():
      model = feed.build_model(flags.batch_size, flags.hidden1, flags.hidden2,
                               flags.learning_rate)
      checkpoints.check_checkpoint_fits(checkpoint, flags.log_dir)
      checkpoints.check_trained_on(checkpoint, data_sets.train)
      checkpoints.point_index_at(checkpoint)
      print('Chief: global step %d reaches --max_steps %d: nothing to train '
            '(raise --max_steps to train on)' % (step, flags.max_steps))
      sys.stdout.flush()
      with signals.StopRequest(shield_ops=True) as stop, tf1.Session(
          config=speed.session_config(flags.batch_size, flags.hidden1,
                                      flags.hidden2)) as sess:
        tf1.train.Saver().restore(sess, checkpoints.tf_path(checkpoint))
        if stop.poll() is None:
          with printed_whole():
            print('Global step %d:' % step)
            feed.evaluate_all(sess, model, data_sets)
  stopped = stop.poll() is not None
  print('Worker 0: %s after 0 local steps' % ('stopped' if stopped else 'done'))
  if stopped:
    raise signals.Interrupted(signal.Signals(stop.signal_number).name, step,
                              None, checkpoint)
  return 0


def _monitored_session(flags, server, task_index, checkpoint, model,
                       optimizer, data_sets, stop):
  """Returns the worker's MonitoredSession, the chief's with its hooks.

  Not MonitoredTrainingSession: its checkpoint hook saves again the step
  it restored (rewriting a checkpoint of a run with nothing to train), keeps
  five checkpoints per process instead of five in the log dir, and saves
  weights whose loss is not finite. The chief restores the checkpoint
  found on disk, by its path, and saves with fully_connected_feed's checks.
  """
  config = session_config(flags, task_index)
  hooks = [tf1.train.StopAtStepHook(last_step=flags.max_steps)]
  if optimizer is not None:
    hooks.append(optimizer.make_session_run_hook(task_index == 0))
  if task_index != 0:
    cluster_setup.wait_until_initialized(server.target, config,
                                         flags.cluster_timeout)
    creator = tf1.train.WorkerSessionCreator(
        master=server.target, config=config,
        max_wait_secs=flags.cluster_timeout)
    return tf1.train.MonitoredSession(
        session_creator=creator, hooks=hooks,
        stop_grace_period_secs=STOP_GRACE_SECS)
  if checkpoint:
    checkpoints.check_checkpoint_fits(checkpoint, flags.log_dir)
  saver = tf1.train.Saver(sharded=True, save_relative_paths=True)
  checkpoints.keep_those_on_disk(saver, flags.log_dir)
  scaffold = tf1.train.Scaffold(saver=saver)
  run = ChiefRun(model, data_sets, saver, flags.log_dir, flags.trace_every)
  # A run with nothing to train writes nothing: no events file either.
  if not (checkpoint and
          checkpoints.checkpoint_step(checkpoint) >= flags.max_steps):
    hooks.append(tf1.train.SummarySaverHook(
        save_steps=feed.LOSS_EVERY, output_dir=flags.log_dir,
        scaffold=scaffold))
  hooks.append(ChiefHook(run, feed.CHECKPOINT_EVERY, flags.max_steps, stop))
  creator = tf1.train.ChiefSessionCreator(
      scaffold=scaffold, master=server.target, config=config,
      checkpoint_filename_with_path=(checkpoints.tf_path(checkpoint)
                                     if checkpoint else None))
  return tf1.train.MonitoredSession(session_creator=creator, hooks=hooks,
                                    stop_grace_period_secs=STOP_GRACE_SECS)


# --------------------------------------------------------------- flags ----

def parse_flags(argv):
  """Parses the command line; a bad flag exits with status 2 and one line."""
  return command_lines.replica_flags(argv)


def _interrupted_line(task_index, signal_name, step, saved, newest,
                      by_launcher):
  """What a task stopped by a signal says: what the chief saved, if any."""
  where = ('before its first step' if step is None
           else 'at global step %d' % step)
  # A launcher's tasks are one command; a task started by hand, one of many.
  again = 'resume' if by_launcher else 'rejoin'
  if saved:
    return ('%s %s: the chief saved checkpoint %s; run the same command to '
            'resume' % (signal_name, where, saved))
  if task_index == 0 and newest:
    return ('%s %s: the chief saved nothing in this run; its latest '
            'checkpoint is still %s; run the same command to resume'
            % (signal_name, where, newest))
  if task_index == 0:
    return ('%s %s: the chief stopped before saving any checkpoint; run the '
            'same command to start again' % (signal_name, where))
  return ('%s %s: worker %d stopped (the chief saves the checkpoints); run '
          'the same command to %s' % (signal_name, where, task_index, again))


def run_task(flags, environ):
  """Runs this process's task of the cluster the flags or TF_CONFIG name.

  Returns:
    The exit status.
  """
  try:
    cluster, job_name, task_index = cluster_setup.cluster_from_flags(
        flags, environ)
  except ValueError as e:
    print('%s: error: %s' % (PROG, e), file=sys.stderr)
    return 2
  try:
    if job_name == 'ps':
      return run_parameter_server(cluster, task_index)
    if local_cluster.started_alone(environ):
      return evaluate_alone(flags)
    run_worker(flags, cluster, task_index)
  except signals.Interrupted as e:
    received, step, saved, newest = e.args
    print('%s: %s' % (PROG, _interrupted_line(
        task_index, local_cluster.signal_the_user_sent(environ, received),
        step, saved, newest, local_cluster.started_by_launcher(environ))),
          file=sys.stderr)
    return 128 + signal.Signals[received].value
  except Exception as e:  # pylint: disable=broad-except
    message = None
    if isinstance(e, (tf.errors.UnavailableError,
                      tf.errors.DeadlineExceededError,
                      tf.errors.AbortedError)):
      message = 'worker %d: %s' % (task_index,
                                   cluster_setup.cluster_error_line(e))
    return errors.report_error(PROG, e, flags.debug, message)
  return 0


def main(argv=None):
  argv = sys.argv[1:] if argv is None else list(argv)
  flags = parse_flags(argv)
  if flags.local_workers:
    # The launcher takes its signals itself (local_cluster.launch).
    return local_cluster.launch(os.path.abspath(__file__), argv, PROG, flags)
  startup.begin(tf)
  try:
    with signals.sigterm_interrupts():
      local_cluster.end_with_launcher(os.environ, flags.job_name)
      return run_task(flags, os.environ)
  except KeyboardInterrupt as e:
    # Before training began, or a second signal: stopped where it was.
    print('%s: interrupted: stopped at once' % PROG, file=sys.stderr)
    return signals.interrupted_status(e)


if __name__ == '__main__':
  sys.exit(main())
