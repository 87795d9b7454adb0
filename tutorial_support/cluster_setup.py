"""A task of fully_connected_replica.py's cluster: what it needs around TF.

The cluster from the flags or TF_CONFIG, a worker's wait for the chief, the
watch on the parameter servers, what a task's server exposes, and one-line
errors of a lost cluster. The training itself stays in the program.
"""

import json
import os
import socket
import sys
import threading
import time

import tensorflow as tf

from tutorial_support import errors
from tutorial_support import local_cluster

tf1 = tf.compat.v1

# How often a worker looks whether the chief has initialized the variables.
READY_POLL_SECS = 0.5


class ClusterError(ConnectionError):
  """The cluster cannot be reached, or was lost; the message says which.

  An OSError, so it ends the program with one line and exit status 1.
  """


def _host_list(text):
  hosts = [host.strip() for host in text.split(',') if host.strip()]
  for host in hosts:
    name, _, port = host.rpartition(':')
    if not name or not port.isdigit() or not 0 < int(port) < 65536:
      raise ValueError('expected host:port, got %r' % host)
  if not hosts:
    raise ValueError('expected a comma-separated list of host:port')
  return hosts


def cluster_from_flags(flags, environ):
  """Returns (cluster dict, job name, task index) from the flags or TF_CONFIG.

  Raises:
    ValueError: With a one-line message naming the flag or TF_CONFIG.
  """
  given = [name for name in ('ps_hosts', 'worker_hosts', 'job_name')
           if getattr(flags, name) is not None]
  if given:
    missing = [name for name in ('ps_hosts', 'worker_hosts', 'job_name')
               if name not in given]
    if missing:
      raise ValueError('--%s is needed with --%s' % (missing[0], given[0]))
    hosts = {}
    for job in ('ps', 'worker'):
      try:
        hosts[job] = _host_list(getattr(flags, job + '_hosts'))
      except ValueError as e:
        raise ValueError('--%s_hosts: %s' % (job, e)) from None
    job_name = flags.job_name
    task_index = 0 if flags.task_index is None else flags.task_index
  elif environ.get('TF_CONFIG'):
    hosts, job_name, task_index = _cluster_from_tf_config(environ['TF_CONFIG'])
    if flags.task_index is not None:
      task_index = flags.task_index  # A flag given wins over TF_CONFIG.
  else:
    raise ValueError('give --ps_hosts, --worker_hosts, --job_name and '
                     '--task_index, or TF_CONFIG, or --local_workers N')
  if not 0 <= task_index < len(hosts[job_name]):
    raise ValueError('task index %d: the %s job has tasks 0 to %d'
                     % (task_index, job_name, len(hosts[job_name]) - 1))
  return hosts, job_name, task_index


def _cluster_from_tf_config(text):
  try:
    config = json.loads(text)
    cluster, task = config['cluster'], config['task']
    hosts = {job: _host_list(','.join(cluster[job]))
             for job in ('ps', 'worker')}
    job_name, task_index = task['type'], int(task.get('index', 0))
  except (ValueError, KeyError, TypeError) as e:
    raise ValueError('TF_CONFIG: expected {"cluster": {"ps": [...], '
                     '"worker": [...]}, "task": {"type": "ps" or "worker", '
                     '"index": N}} (%s)' % e) from None
  if job_name not in ('ps', 'worker'):
    raise ValueError('TF_CONFIG: task type %r: expected "ps" or "worker"'
                     % job_name)
  return hosts, job_name, task_index


def warn_of_exposure(job_name, task_index, cluster):
  """Says, on stderr, who can reach the server this task just started.

  Said only for a task started by hand: the tasks of --local_workers are in
  a network of their own, or the launcher has said what is exposed.
  """
  if os.environ.get(local_cluster.LAUNCHER_ENV):
    return
  port = cluster[job_name][task_index].rpartition(':')[2]
  print('warning: %s %d accepts unauthenticated connections on port %s of '
        'every interface, from which any op can run with your rights: keep '
        'the cluster on a trusted network (see the README\'s Security '
        'section)' % (job_name, task_index, port), file=sys.stderr)


def wait_until_initialized(target, config, timeout_secs):
  """Waits until the chief has initialized (or restored) every variable.

  MonitoredTrainingSession's own wait polls every 30 s; this one, every
  READY_POLL_SECS, so a worker starts as soon as the chief is ready.

  Raises:
    ClusterError: If the variables are not ready within timeout_secs.
  """
  uninitialized = tf1.report_uninitialized_variables(tf1.global_variables())
  deadline = time.monotonic() + timeout_secs
  while True:
    try:
      with tf1.Session(target, config=config) as sess:
        if not len(sess.run(uninitialized)):  # pylint: disable=g-explicit-length-test
          return
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError):
      pass
    if time.monotonic() > deadline:
      raise ClusterError('the chief (worker 0) did not initialize the '
                         'variables within --cluster_timeout %g s'
                         % timeout_secs)
    time.sleep(READY_POLL_SECS)


class ParameterServerWatchdog(threading.Thread):
  """Ends the worker when a parameter server stays unreachable too long.

  A MonitoredTrainingSession that loses a parameter server tries to create
  its session again, and waits for the server forever. This thread connects
  to every parameter server each second; when one has refused or timed out
  for timeout_secs in a row, it prints one line and exits the process with
  status 1. The chief's checkpoints are already on disk by then.
  """

  def __init__(self, prog, ps_hosts, timeout_secs, task_index):
    super().__init__(name='ParameterServerWatchdog', daemon=True)
    self._prog = prog
    self._ps_hosts = ps_hosts
    self._timeout_secs = timeout_secs
    self._task_index = task_index

  def _unreachable(self):
    for host in self._ps_hosts:
      name, _, port = host.rpartition(':')
      try:
        socket.create_connection((name.strip('[]'), int(port)),
                                 timeout=min(2.0, self._timeout_secs)).close()
      except OSError:
        return host
    return None

  def run(self):
    last_reached = time.monotonic()
    while True:
      host = self._unreachable()
      now = time.monotonic()
      if host is None:
        last_reached = now
      elif now - last_reached > self._timeout_secs:
        print('%s: error: worker %d: parameter server %s unreachable for '
              '%g s (--cluster_timeout); stopping' % (
                  self._prog, self._task_index, host, self._timeout_secs),
              file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(1)  # pylint: disable=protected-access
      time.sleep(min(1.0, self._timeout_secs / 4))


def hide_cancelled_queue_threads(closing):
  """Keeps the errors of queue threads cancelled by closing off stderr.

  With --sync_replicas, closing the session cancels the chief's token thread
  (fully_connected_replica.STOP_GRACE_SECS): its error then says nothing a
  user needs to know.
  Any error of any thread before `closing` is set is printed as usual.
  """
  previous_hook = threading.excepthook

  def hook(args):
    if not (closing.is_set()
            and args.thread.name.startswith('QueueRunnerThread-')):
      previous_hook(args)
  threading.excepthook = hook


def cluster_error_line(error):
  """Says what a cluster error of a worker's run means, in one line."""
  if isinstance(error, tf.errors.DeadlineExceededError):
    return ('a step waited over --cluster_timeout (%s): with --sync_replicas, '
            'a worker or the chief has stopped and the round cannot fill; '
            'otherwise a parameter server is unreachable'
            % errors.op_error_line(error))
  return ('lost the cluster: %s: %s (are the parameter servers running? a '
          'worker gives up after --cluster_timeout)'
          % (type(error).__name__, errors.op_error_line(error)))
