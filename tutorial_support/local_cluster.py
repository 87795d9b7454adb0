"""fully_connected_replica.py --local_workers N: a cluster on this machine.

Starts 1 parameter server and N workers as processes of the replica program
on free loopback ports, waits for the workers, and stops every task when one
fails or when it is asked to stop. Where the newest checkpoint in --log_dir
reaches --max_steps already, it starts the chief alone to evaluate it. The
launcher itself needs no TensorFlow: only its tasks import it.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from tutorial_support import checkpoint_names
from tutorial_support import mnist_files
from tutorial_support import signals
from tutorial_support import startup
from tutorial_support import systems

# How long the launcher, asked to stop, gives its workers to end by
# themselves (the chief saving a checkpoint) before it kills them. A worker
# waiting on a synchronous round that will never fill does not end by itself.
WORKER_STOP_SECS = 10


# Set in the environment of a launcher that runs in a namespace of its own.
CONFINED_ENV = 'MNIST_CLUSTER_CONFINED'
_UNSHARE = ('--user', '--map-root-user', '--net')


def launch(script, argv, prog, flags):
  """Runs the launcher of --local_workers: data, confinement, the cluster.

  Args:
    script: The replica program, which each task runs.
    argv: Its arguments, --local_workers among them.
    prog: Its name, to start an error line with.
    flags: The parsed arguments.

  Returns:
    The exit status (see run_local_cluster); 1 if the data cannot be had.
  """
  def fetch():
    # Before the namespace, where the network is; the tasks read the files.
    if not flags.fake_data:
      mnist_files.fetch_verified_files(
          flags.input_data_dir, flags.data_sources, flags.download_timeout)
  try:
    with signals.sigterm_interrupts():
      confine_to_this_run(script, argv, fetch)
      return run_local_cluster(script, flags.local_workers, argv,
                               flags.log_dir, flags.max_steps)
  except KeyboardInterrupt as e:
    # Before the tasks started, or a second signal: stopped where it was.
    print('%s: interrupted: stopped at once' % prog, file=sys.stderr)
    return signals.interrupted_status(e)
  except (mnist_files.DataUnavailableError, ValueError, OSError) as e:
    print('%s: error: %s' % (prog, e), file=sys.stderr)
    return 1


def confine_to_this_run(script, argv, prepare):
  """Runs the launcher again in a network namespace of its own, or warns.

  TensorFlow's servers listen on every interface, and take any op from
  whoever connects, without authentication. In a network namespace with
  only a loopback interface, the tasks reach each other and nothing else
  reaches them. Linux gives an unprivileged user one inside a user
  namespace of its own (`unshare --user --map-root-user --net`). The
  process is replaced, keeping its ID; where the system allows no such
  namespace, one line on stderr says what is exposed, and the run goes on.
  Does nothing in a launcher already confined.

  Args:
    script: The launcher's program.
    argv: Its arguments.
    prepare: Called first, outside the namespace, where the network is (the
      data is fetched there).
  """
  if os.environ.get(CONFINED_ENV):
    systems.bring_loopback_up()
    return
  prepare()
  unshare = shutil.which('unshare')
  why = 'no unshare command'
  if unshare:
    probe = subprocess.run([unshare, *_UNSHARE, 'true'], capture_output=True,
                           text=True, check=False)
    if probe.returncode == 0:
      sys.stdout.flush()
      env = _task_environment()
      env[CONFINED_ENV] = '1'
      os.execve(unshare, [unshare, *_UNSHARE, '--', sys.executable, script]
                + list(argv), env)
    why = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else (
        'exit status %d' % probe.returncode)
  print('warning: cannot give the local cluster a network of its own (%s): '
        'its tasks accept unauthenticated connections, which can run any '
        'op with your rights, on every interface of this machine until the '
        'run ends; run it on a trusted network only, or where user '
        'namespaces are enabled' % why, file=sys.stderr)


def _task_environment():
  """This process's environment as the user gave it, for a new process."""
  env = dict(os.environ)
  if not startup.TF_LOGS_WANTED:
    # Importing tutorial_support.startup set it here; unset, the new process
    # hides TensorFlow's start-up messages as this one did.
    del env['TF_CPP_MIN_LOG_LEVEL']
  return env


def free_loopback_ports(count):
  """Returns count distinct TCP ports free on 127.0.0.1 at this moment."""
  sockets = []
  try:
    for _ in range(count):
      sock = socket.socket()
      sock.bind(('127.0.0.1', 0))
      sockets.append(sock)
    return [sock.getsockname()[1] for sock in sockets]
  finally:
    for sock in sockets:
      sock.close()


def _without_local_workers(argv):
  args = []
  skip = False
  for arg in argv:
    if skip:
      skip = False
    elif arg == '--local_workers':
      skip = True
    elif not arg.startswith('--local_workers='):
      args.append(arg)
  return args


def _finish_parameter_server(process, grace_secs=5.0):
  """Tells the parameter server the workers are done: its stdin ends."""
  try:
    process.stdin.close()
    process.wait(grace_secs)
  except (OSError, subprocess.TimeoutExpired):
    pass  # _stop_all stops it.


def when_launcher_finishes(environ):
  """In a task the launcher started, returns an Event set when it says the
  workers are done (by closing the task's stdin); elsewhere None."""
  if not environ.get(LAUNCHER_ENV):
    return None
  finished = threading.Event()

  def wait_for_end_of_input():
    try:
      while sys.stdin.buffer.read(4096):
        pass
    except (OSError, ValueError):
      pass
    finished.set()
  threading.Thread(target=wait_for_end_of_input, daemon=True,
                   name='LauncherFinished').start()
  return finished


def _stop_all(processes, grace_secs=5.0):
  for process in processes:
    if process.poll() is None:
      systems.ask_task_to_stop(process)
  deadline = time.monotonic() + grace_secs
  for process in processes:
    try:
      process.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


@contextlib.contextmanager
def _sigint_ignored():
  """Ignores SIGINT for the duration; processes started meanwhile inherit it.

  A terminal's Ctrl-C goes to every process of the foreground group. Tasks
  that ignore it leave the launcher alone to stop them, with one SIGTERM
  each: had they taken the Ctrl-C too, the launcher's SIGTERM would be their
  second signal, which stops at once instead of after a checkpoint.
  """
  previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
  try:
    yield
  finally:
    signal.signal(signal.SIGINT, previous)


def _wait_for_workers(workers, stop):
  """Waits until the workers end, one fails, or stop is signalled.

  Returns:
    0 if every worker finished, the exit status of the first that failed,
    or None if stop was signalled first.
  """
  while stop.signal_number is None:
    statuses = [worker.poll() for worker in workers]
    failed = [status for status in statuses if status not in (None, 0)]
    if failed:
      return failed[0]
    if None not in statuses:
      return 0
    time.sleep(0.2)
  return None


# Set in each task's environment to the launcher's process ID.
LAUNCHER_ENV = 'MNIST_CLUSTER_LAUNCHER_PID'
# Set in each task's environment to a file where the launcher writes the
# name of the signal the user sent it, before it stops the tasks with
# SIGTERM: a task's line then names what the user did.
STOP_SIGNAL_ENV = 'MNIST_CLUSTER_STOP_SIGNAL_FILE'


def started_by_launcher(environ):
  """Whether this task was started by --local_workers' launcher."""
  return bool(environ.get(LAUNCHER_ENV))


def started_alone(environ):
  """Whether this task is a chief the launcher started without a cluster,
  to evaluate a checkpoint that leaves nothing to train."""
  return started_by_launcher(environ) and bool(environ.get(CHIEF_ALONE_ENV))


def signal_the_user_sent(environ, received):
  """The name of the signal that stopped this task, as the user sent it.

  Args:
    environ: The task's environment.
    received: The name of the signal this task received.

  Returns:
    In a task of the launcher that stopped it, the signal the launcher was
    sent (SIGINT for Ctrl-C); else received.
  """
  path = environ.get(STOP_SIGNAL_ENV)
  if not path:
    return received
  try:
    with open(path) as f:
      name = f.read().strip()
  except OSError:
    return received
  return name if name in signal.Signals.__members__ else received
def end_with_launcher(environ, job_name):
  """In a task the launcher started, makes the task end when it dies.

  The task then stops as if the launcher had stopped it, instead of running
  on alone, however the launcher ended (SIGKILL, the OOM killer, a closed
  console window): on Linux by the kernel's SIGTERM, elsewhere when the
  pipe of its stdin closes (systems.end_with_parent). Does nothing in a
  task started by hand.

  Args:
    environ: The task's environment.
    job_name: 'ps' or 'worker'; a parameter server watches its stdin itself
      (when_launcher_finishes).
  """
  launcher = environ.get(LAUNCHER_ENV)
  if launcher:
    systems.end_with_parent(int(launcher), watch_stdin=job_name != 'ps')


# Set in the environment of a chief the launcher starts alone, where the log
# dir's newest checkpoint reaches --max_steps: it evaluates that checkpoint
# in a session of its own and no other task starts.
CHIEF_ALONE_ENV = 'MNIST_CLUSTER_CHIEF_ALONE'
# The exit status of a chief started alone whose checkpoint that restores is
# short of --max_steps (newer ones were damaged): the cluster is needed.
CLUSTER_NEEDED = 3


def newest_step_on_disk(log_dir):
  """The step of the newest checkpoint in log_dir by its files' names (no
  TensorFlow, nothing read); None if there is none."""
  steps = checkpoint_names.steps_on_disk(log_dir)
  return steps[0] if steps else None


def run_local_cluster(script, num_workers, argv, log_dir, max_steps):
  """Runs 1 parameter server and num_workers workers here, on loopback.

  SIGINT (Ctrl-C) or SIGTERM stops the workers with SIGTERM, so that the
  chief saves a checkpoint, then the parameter server; a second one stops
  everything at once. Where the newest checkpoint in log_dir reaches
  max_steps already, there is nothing to train: the chief starts alone and
  evaluates it, and the others start only if it turns out damaged.

  Returns:
    0 if every worker finished, the exit status of the first that failed,
    or 128 + the number of the signal that stopped the cluster.
  """
  # Picked even for a chief that starts alone and opens no port: its command
  # line is a worker's, checked as such, and should its checkpoint turn out
  # short of max_steps, the cluster that starts after it uses these hosts.
  ports = free_loopback_ports(1 + num_workers)
  hosts = ['127.0.0.1:%d' % port for port in ports]
  common = [sys.executable, script] + _without_local_workers(
      argv) + ['--ps_hosts', hosts[0], '--worker_hosts', ','.join(hosts[1:])]
  newest = newest_step_on_disk(log_dir)
  if newest is not None and newest >= max_steps:
    print('Local cluster: the newest checkpoint in --log_dir is of step %d, '
          'which reaches --max_steps %d: the chief starts alone to evaluate it'
          % (newest, max_steps))
    status = _run_tasks(script, common, [('worker', 0)], {CHIEF_ALONE_ENV: '1'})
    if status != CLUSTER_NEEDED:
      return status
  print('Local cluster: parameter server %s, workers %s'
        % (hosts[0], ', '.join(hosts[1:])))
  return _run_tasks(script, common, [('ps', 0)] + [
      ('worker', index) for index in range(num_workers)], {})


def _run_tasks(script, common, tasks, extra_env):
  """Starts a process of command line common for each (job, index) of tasks,
  and waits for the workers; run_local_cluster's stops and exit status."""
  sys.stdout.flush()
  stop_file = os.path.join(tempfile.mkdtemp(prefix='mnist-cluster-'),
                           'stop-signal')
  env = dict(_task_environment(), **{LAUNCHER_ENV: str(os.getpid()),
                                     STOP_SIGNAL_ENV: stop_file}, **extra_env)
  processes, workers, servers = [], [], []
  with signals.StopRequest() as stop:
    try:
      with _sigint_ignored():
        for job_name, task_index in tasks:
          # Each task's stdin is a pipe from here, whose end a task
          # watches where the kernel does not end it with this process.
          process = subprocess.Popen(
              common + ['--job_name', job_name, '--task_index',
                        str(task_index)], env=env, stdin=subprocess.PIPE,
              creationflags=systems.TASK_CREATION_FLAGS)
          processes.append(process)
          (servers if job_name == 'ps' else workers).append(process)
      status = _wait_for_workers(workers, stop)
      if status is None:
        with open(stop_file, 'w') as f:
          f.write(signal.Signals(stop.signal_number).name)
        _stop_all(workers, WORKER_STOP_SECS)
        name = signal.Signals(stop.signal_number).name
        if all(worker.returncode == 0 for worker in workers):
          # Each had ended by itself (a stopped one exits 128 + the signal).
          print('%s: %s came after every worker had finished: nothing was '
                'stopped' % (os.path.basename(script), name), file=sys.stderr)
          status = 0
        else:
          print('%s: stopped by %s' % (os.path.basename(script), name),
                file=sys.stderr)
          status = 128 + stop.signal_number
      for server in servers:
        _finish_parameter_server(server)
      return status
    finally:
      _stop_all(processes)
      for process in processes:
        process.stdin.close()
      shutil.rmtree(os.path.dirname(stop_file), ignore_errors=True)
