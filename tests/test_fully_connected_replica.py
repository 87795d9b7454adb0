"""Tests of fully_connected_replica.py: a real cluster on 127.0.0.1.

Every test starts its parameter server and workers as separate processes
with --fake_data, and stops every one of them at the end, whatever happens.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from conftest import needs_proc, needs_unix_signals
from conftest import ROOT, USER_ENV, stop_process_group

import fully_connected_replica as replica  # pylint: disable=g-import-not-at-top
import input_data
from test_fully_connected_feed import run as run_feed
from tutorial_support import checkpoints
from tutorial_support import cluster_setup
from tutorial_support import errors
from tutorial_support import local_cluster
from tutorial_support import log_dirs
from tutorial_support import signals
from tutorial_support import systems

tf1 = tf.compat.v1
SCRIPT = os.path.join(ROOT, 'fully_connected_replica.py')
CHIEF_ALONE_RUNNER = os.path.join(ROOT, 'tests', 'chief_alone_runner.py')
TIMEOUT = 240


class Cluster(object):
  """Processes of one test's cluster, all killed by close()."""

  def __init__(self, tmp_path):
    self.tmp_path = tmp_path
    self.processes = []
    ps_port, *worker_ports = local_cluster.free_loopback_ports(3)
    self.ps_hosts = '127.0.0.1:%d' % ps_port
    self.worker_hosts = ','.join('127.0.0.1:%d' % p for p in worker_ports)

  def start(self, job_name, task_index, *args):
    out_path = self.tmp_path / ('%s%d-%d.out' % (job_name, task_index,
                                                 len(self.processes)))
    out = open(out_path, 'w')
    process = subprocess.Popen(
        [sys.executable, SCRIPT, '--ps_hosts', self.ps_hosts,
         '--worker_hosts', self.worker_hosts, '--job_name', job_name,
         '--task_index', str(task_index), '--fake_data', '--log_dir',
         str(self.tmp_path / 'logs')] + [str(a) for a in args],
        stdout=out, stderr=subprocess.STDOUT, env=USER_ENV)
    out.close()
    process.out_path = out_path
    self.processes.append(process)
    return process

  def start_ps_and_wait(self):
    """Starts the parameter server; returns once its port accepts.

    For tests whose short --cluster_timeout is about a task lost later:
    the workers' wait must not also cover the server's TensorFlow import,
    which takes over 3 s on a loaded machine.
    """
    process = self.start('ps', 0)
    host, _, port = self.ps_hosts.rpartition(':')
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
      assert process.poll() is None, output(process)
      try:
        socket.create_connection((host, int(port)), timeout=1).close()
        return process
      except OSError:
        time.sleep(0.2)
    raise AssertionError('parameter server not listening:\n' + output(process))

  def close(self):
    for process in self.processes:
      if process.poll() is None:
        process.kill()
      process.wait()


@pytest.fixture
def cluster(tmp_path):
  started = Cluster(tmp_path)
  yield started
  started.close()


def output(process):
  return process.out_path.read_text()


def wait_for_line(process, pattern, timeout=TIMEOUT):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if re.search(pattern, output(process), re.M):
      return
    assert process.poll() is None, output(process)
    time.sleep(0.2)
  raise AssertionError('no %r in:\n%s' % (pattern, output(process)))


def local_steps(text, task_index):
  found = re.findall(r'^Worker %d: done after (\d+) local steps$' % task_index,
                     text, re.M)
  assert len(found) == 1, text
  return int(found[0])


def checkpoint_step(log_dir):
  checkpoint = tf1.train.latest_checkpoint(str(log_dir))
  return int(checkpoint.rsplit('-', 1)[1])


def kill_group(launcher):
  """Kills the launcher's whole process group: any task left behind."""
  stop_process_group(launcher, force=True)
  launcher.wait()


def run_launcher(tmp_path, *args, log_dir=None, cwd=None):
  """Runs the launcher; kills its whole process group if it overruns."""
  launcher = subprocess.Popen(
      [sys.executable, SCRIPT, '--local_workers', '2', '--fake_data',
       '--log_dir', log_dir or str(tmp_path / 'logs')] + [
           str(a) for a in args],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENV,
      start_new_session=True, cwd=cwd)
  try:
    stdout, stderr = launcher.communicate(timeout=TIMEOUT)
  finally:
    kill_group(launcher)
  return subprocess.CompletedProcess(launcher.args, launcher.returncode,
                                     stdout, stderr)


def shared_launcher_run(tmp_path_factory, name, *args):
  """Runs the launcher with args once for every xdist worker, as `name`.

  Returns:
    The run's CompletedProcess, and its log dir: read only (copy_of).
  """
  base = tmp_path_factory.getbasetemp()
  # xdist's workers each have a base of their own under one shared parent.
  shared = base.parent if os.environ.get('PYTEST_XDIST_WORKER') else base
  home = shared / name
  with open(shared / (name + '.lock'), 'w') as lock:
    systems.lock(lock)
    result_file = home / 'result.json'
    if not result_file.exists():
      shutil.rmtree(home, ignore_errors=True)
      home.mkdir()
      result = run_launcher(home, *args)
      result_file.write_text(json.dumps(
          [result.args, result.returncode, result.stdout, result.stderr]))
  args, returncode, stdout, stderr = json.loads(result_file.read_text())
  return (subprocess.CompletedProcess(args, returncode, stdout, stderr),
          home / 'logs')


@pytest.fixture(scope='session')
def cluster_at_1100(tmp_path_factory):
  """One launcher run to --max_steps 1100, shared by the tests that start
  from a trained cluster's log dir."""
  return shared_launcher_run(tmp_path_factory, 'cluster-at-1100',
                             '--max_steps', 1100)


@pytest.fixture(scope='session')
def sync_cluster_at_100(tmp_path_factory):
  """One launcher run with --sync_replicas to --max_steps 100, shared."""
  return shared_launcher_run(tmp_path_factory, 'sync-cluster-at-100',
                             '--max_steps', 100, '--sync_replicas')


def copy_of(cluster_at_1100, destination):
  """Copies the shared log dir to destination; returns destination."""
  result, log_dir = cluster_at_1100
  assert result.returncode == 0, result.stderr
  shutil.copytree(log_dir, destination,
                  ignore=shutil.ignore_patterns('.lock'))
  return destination


def assert_port_free(host):
  sock = socket.socket()
  # Bindable though closed connections linger: fails only while listened on.
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    sock.bind(('127.0.0.1', int(host.rsplit(':', 1)[1])))
  finally:
    sock.close()


def flags(**values):
  defaults = dict(ps_hosts=None, worker_hosts=None, job_name=None,
                  task_index=None)
  defaults.update(values)
  return argparse.Namespace(**defaults)


def test_cluster_from_flags_or_tf_config():
  given = flags(ps_hosts='a:1', worker_hosts='b:2,c:3', job_name='worker',
                task_index=1)
  assert cluster_setup.cluster_from_flags(given, {}) == (
      {'ps': ['a:1'], 'worker': ['b:2', 'c:3']}, 'worker', 1)
  tf_config = json.dumps({'cluster': {'ps': ['a:1'], 'worker': ['b:2']},
                          'task': {'type': 'ps', 'index': 0}})
  assert cluster_setup.cluster_from_flags(
      flags(), {'TF_CONFIG': tf_config}) == (
          {'ps': ['a:1'], 'worker': ['b:2']}, 'ps', 0)


def test_a_task_index_given_wins_over_tf_config():
  tf_config = json.dumps({'cluster': {'ps': ['a:1'], 'worker': ['b:2', 'c:3']},
                          'task': {'type': 'worker', 'index': 1}})
  environ = {'TF_CONFIG': tf_config}
  assert cluster_setup.cluster_from_flags(flags(), environ)[2] == 1
  assert cluster_setup.cluster_from_flags(flags(task_index=0), environ)[2] == 0
  assert replica.parse_flags([]).task_index is None


@pytest.mark.parametrize('values, environ, message', [
    (dict(ps_hosts='a:1'), {}, '--worker_hosts is needed with --ps_hosts'),
    (dict(ps_hosts='a', worker_hosts='b:2', job_name='ps'), {},
     "--ps_hosts: expected host:port, got 'a'"),
    (dict(ps_hosts='a:1', worker_hosts='b:2', job_name='worker',
          task_index=1), {}, 'the worker job has tasks 0 to 0'),
    ({}, {}, 'or TF_CONFIG, or --local_workers N'),
    ({}, {'TF_CONFIG': '{"cluster": {}}'}, 'TF_CONFIG: expected'),
    ({}, {'TF_CONFIG': json.dumps({'cluster': {'ps': ['a:1'], 'worker': [
        'b:2']}, 'task': {'type': 'chief'}})}, "task type 'chief'"),
])
def test_bad_cluster_is_one_clear_error(values, environ, message):
  with pytest.raises(ValueError, match=re.escape(message)):
    cluster_setup.cluster_from_flags(flags(**values), environ)


class FailingSession(object):
  """A session whose first `failures` runs raise UnavailableError."""

  def __init__(self, session, failures):
    self._session = session
    self.failures = failures

  def run(self, *args, **kwargs):
    if self.failures:
      self.failures -= 1
      raise tf.errors.UnavailableError(None, None, 'Socket closed')
    return self._session.run(*args, **kwargs)


def evaluate_with_failures(failures, monkeypatch):
  """Runs the chief's evaluation on a session whose first runs fail."""
  monkeypatch.setattr(replica, 'EVAL_RETRY_SECS', 0)
  data_sets = input_data.read_data_sets('', fake_data=True)
  with tf.Graph().as_default():
    model = replica.feed.build_model(100, 8, 4, 0.1)
    run = replica.ChiefRun(model, data_sets, None, None, 0)
    hook = replica.ChiefHook(run, 1000, 2000, signals.StopRequest())
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      hook._evaluate(FailingSession(sess, failures), run)  # pylint: disable=protected-access


def test_chief_evaluates_again_once_after_an_rpc_error(monkeypatch, capsys):
  evaluate_with_failures(1, monkeypatch)
  out = capsys.readouterr().out
  assert out.count('Evaluation failed (UnavailableError: Socket closed); '
                   'evaluating again') == 1
  assert out.count('Num examples: 10000  Num correct: ') == 3, out


def test_chief_evaluation_fails_when_the_rpc_keeps_failing(monkeypatch):
  with pytest.raises(tf.errors.UnavailableError):
    evaluate_with_failures(10**6, monkeypatch)


def test_local_cluster_trains_asynchronously_to_max_steps(tmp_path, capsys):
  result = run_launcher(tmp_path, '--max_steps', 1000)
  assert result.returncode == 0, result.stdout + result.stderr
  steps = [local_steps(result.stdout, task) for task in (0, 1)]
  assert all(count > 0 for count in steps), steps
  # Asynchronous: every local step is one update of the shared variables.
  assert checkpoint_step(tmp_path / 'logs') == sum(steps) >= 1000
  assert 'Test Data Eval:' in result.stdout
  # Step 1000 is the last: evaluated once, not also as a 1000th step.
  assert result.stdout.count('Test Data Eval:') == 1
  assert 'I0000' not in result.stderr  # TensorFlow's start-up noise
  ps_host = re.search(r'parameter server (\S+), workers', result.stdout)
  assert_port_free(ps_host.group(1))  # the launcher stopped the server
  # The chief's checkpoint restores by name into the single-machine graph.
  status, out, err = run_feed(capsys, '--eval_only', '--fake_data',
                              '--log_dir', tmp_path / 'logs')
  assert status == 0, err
  assert 'Evaluating %s' % tf1.train.latest_checkpoint(
      str(tmp_path / 'logs')) in out


@needs_unix_signals
@pytest.mark.parametrize('signal_number, to_group', [
    (signal.SIGTERM, False),  # kill LAUNCHER_PID
    (signal.SIGINT, True),  # Ctrl-C in a terminal: the whole process group
])
def test_stopped_launcher_saves_and_stops_every_task(signal_number, to_group,
                                                     tmp_path):
  log_dir = tmp_path / 'logs'
  stderr_path = tmp_path / 'stderr'
  with open(stderr_path, 'w') as stderr:
    launcher = subprocess.Popen(
        [sys.executable, SCRIPT, '--local_workers', '2', '--fake_data',
         '--max_steps', str(10**6), '--log_dir', str(log_dir)],
        stdout=subprocess.PIPE, stderr=stderr, text=True, env=USER_ENV,
        start_new_session=True)
  try:
    first_line = launcher.stdout.readline()
    lines = []
    while not any(line.startswith('Worker 1: local step') for line in lines):
      lines.append(launcher.stdout.readline())
      assert lines[-1], ''.join(lines)
    if to_group:
      os.killpg(launcher.pid, signal_number)
    else:
      launcher.send_signal(signal_number)
    launcher.stdout.read()
    assert launcher.wait(30) == 128 + signal_number
    time.sleep(1)
    for host in re.findall(r'127\.0\.0\.1:\d+', first_line):
      assert_port_free(host)  # the server and both workers are gone
    errors = stderr_path.read_text()
    assert 'Traceback' not in errors, errors
    # The workers were stopped once, gracefully: the chief saved its step.
    # Each line names the signal the user sent, and the advice fits one
    # command.
    name = signal.Signals(signal_number).name
    saved = re.search(r'%s at global step (\d+): the chief saved '
                      r'checkpoint (\S+); run the same command to resume'
                      % name, errors)
    assert saved, errors
    assert re.search(r'%s at global step \d+: worker 1 stopped \(the chief '
                     r'saves the checkpoints\); run the same command to '
                     r'resume$' % name, errors, re.M), errors
    assert 'rejoin' not in errors
    assert saved.group(2) == tf1.train.latest_checkpoint(str(log_dir))
    assert checkpoint_step(log_dir) == int(saved.group(1)) > 0
    assert errors.strip().splitlines()[-1] == (
        'fully_connected_replica.py: stopped by %s'
        % signal.Signals(signal_number).name)
  finally:
    kill_group(launcher)


@needs_unix_signals
@pytest.mark.parametrize('signal_number', [signal.SIGINT, signal.SIGTERM])
def test_parameter_server_stops_on_a_signal(signal_number, cluster):
  server = cluster.start('ps', 0)
  wait_for_line(server, r'^Parameter server 0 serving on ')
  # Started by hand, it says who can reach it.
  port = cluster.ps_hosts.rsplit(':', 1)[1]
  wait_for_line(server, r'^warning: ps 0 accepts unauthenticated connections '
                r'on port %s of every interface' % port)
  server.send_signal(signal_number)
  assert server.wait(20) == 128 + signal_number
  assert output(server).splitlines()[-1] == (
      'Parameter server 0: stopped by %s' % signal.Signals(signal_number).name)
  assert_port_free(cluster.ps_hosts)


@needs_unix_signals
def test_chief_stopped_by_ctrl_c_saves_its_step_and_resumes(cluster):
  log_dir = cluster.tmp_path / 'logs'
  cluster.start('ps', 0)
  chief = cluster.start('worker', 0, '--max_steps', 10**6)
  wait_for_line(chief, r'^Worker 0: local step 100,')
  chief.send_signal(signal.SIGINT)
  assert chief.wait(30) == 128 + signal.SIGINT
  last = output(chief).strip().splitlines()[-1]
  saved = re.match(r'fully_connected_replica.py: SIGINT at global step '
                   r'(\d+): the chief saved checkpoint (\S+); run the same '
                   r'command to resume$', last)
  assert saved, output(chief)
  step = int(saved.group(1))
  assert saved.group(2) == tf1.train.latest_checkpoint(str(log_dir))
  assert checkpoint_step(log_dir) == step >= 100
  restarted = cluster.start('worker', 0, '--max_steps', step + 50)
  assert restarted.wait(TIMEOUT) == 0, output(restarted)
  assert local_steps(output(restarted), 0) == 50  # from the saved step on


def test_sync_replicas_take_one_update_per_round(sync_cluster_at_100):
  result, log_dir = sync_cluster_at_100
  assert result.returncode == 0, result.stdout + result.stderr
  steps = [local_steps(result.stdout, task) for task in (0, 1)]
  assert checkpoint_step(log_dir) == 100
  # Each update aggregates one gradient of each of the 2 workers; a few
  # gradients of the last round are dropped when training stops.
  assert 200 <= sum(steps) <= 210, steps
  assert 'Traceback' not in result.stderr


@pytest.mark.slow
def test_killed_worker_restarted_rejoins_and_finishes(cluster):
  cluster.start('ps', 0)
  chief = cluster.start('worker', 0, '--max_steps', 3000)
  worker = cluster.start('worker', 1, '--max_steps', 3000)
  wait_for_line(worker, r'^Worker 1: local step 100,')
  worker.kill()
  worker.wait()
  restarted = cluster.start('worker', 1, '--max_steps', 3000)
  assert restarted.wait(TIMEOUT) == 0, output(restarted)
  assert chief.wait(TIMEOUT) == 0, output(chief)
  assert local_steps(output(restarted), 1) > 0
  assert checkpoint_step(cluster.tmp_path / 'logs') >= 3000


@pytest.mark.slow
def test_sync_worker_killed_and_restarted_finishes_every_round(cluster):
  args = ('--max_steps', 600, '--sync_replicas')
  cluster.start('ps', 0)
  chief = cluster.start('worker', 0, *args)
  worker = cluster.start('worker', 1, *args)
  wait_for_line(worker, r'^Worker 1: local step 100,')
  worker.kill()
  worker.wait()
  restarted = cluster.start('worker', 1, *args)
  assert restarted.wait(TIMEOUT) == 0, output(restarted)
  assert chief.wait(TIMEOUT) == 0, output(chief)
  assert local_steps(output(restarted), 1) > 0
  assert checkpoint_step(cluster.tmp_path / 'logs') == 600


@pytest.mark.slow
def test_restarted_chief_resumes_from_its_last_checkpoint(cluster):
  log_dir = cluster.tmp_path / 'logs'
  cluster.start('ps', 0)
  chief = cluster.start('worker', 0, '--max_steps', 3000)
  worker = cluster.start('worker', 1, '--max_steps', 3000)
  deadline = time.monotonic() + TIMEOUT
  while not (tf1.train.latest_checkpoint(str(log_dir))
             and checkpoint_step(log_dir) >= 1000):
    assert time.monotonic() < deadline and chief.poll() is None, output(chief)
    time.sleep(0.2)
  chief.kill()
  chief.wait()
  saved = tf1.train.latest_checkpoint(str(log_dir))
  restarted = cluster.start('worker', 0, '--max_steps', 3000)
  assert restarted.wait(TIMEOUT) == 0, output(restarted)
  assert worker.wait(TIMEOUT) == 0, output(worker)
  assert ('Chief: restoring %s into the parameter servers' % saved
          in output(restarted).splitlines())
  assert checkpoint_step(log_dir) >= 3000


def last_line_after_losing(lost, survivor):
  """Kills lost; returns the one line survivor ends with, within 30 s."""
  lost.kill()
  start = time.monotonic()
  assert survivor.wait(60) == 1, output(survivor)
  assert time.monotonic() - start < 30
  return output(survivor).strip().splitlines()[-1]


@pytest.mark.slow
def test_lost_parameter_server_ends_workers_with_one_line(cluster):
  server = cluster.start_ps_and_wait()
  chief = cluster.start('worker', 0, '--max_steps', 10**6,
                        '--cluster_timeout', 3)
  wait_for_line(chief, r'^Worker 0: local step 100,')
  last = last_line_after_losing(server, chief)
  assert re.match(r'fully_connected_replica.py: error: worker 0: parameter '
                  r'server 127\.0\.0\.1:\d+ unreachable for 3 s', last), last


@pytest.mark.slow
def test_sync_worker_whose_chief_is_lost_stops_with_one_line(cluster):
  args = ('--max_steps', 10**6, '--sync_replicas', '--cluster_timeout', 3)
  cluster.start_ps_and_wait()
  chief = cluster.start('worker', 0, *args)
  worker = cluster.start('worker', 1, *args)
  wait_for_line(worker, r'^Worker 1: local step 100,')
  last = last_line_after_losing(chief, worker)
  assert last == (
      'fully_connected_replica.py: error: worker 1: a step waited over '
      '--cluster_timeout (Operation timed out.): with --sync_replicas, a '
      'worker or the chief has stopped and the round cannot fill; otherwise '
      'a parameter server is unreachable'), last


def test_chief_skips_a_damaged_checkpoint_and_says_when_nothing_is_left(
    tmp_path, cluster_at_1100):
  log_dir = copy_of(cluster_at_1100, tmp_path / 'logs')
  newest = checkpoints.newest_on_disk(str(log_dir))
  step = int(newest.rsplit('-', 1)[1])
  assert step > 1000
  data = newest + '.data-00000-of-00001'
  os.truncate(data, os.path.getsize(data) // 3)
  result = run_launcher(tmp_path, '--max_steps', step)
  assert result.returncode == 0, result.stderr
  assert 'warning: skipped checkpoint %s' % newest in result.stderr
  assert os.path.exists(data + '.damaged')
  # The files' names promised nothing to train: the chief, started alone,
  # found the newest damaged, and the cluster started to train.
  alone, short, cluster = (result.stdout.index(line) for line in (
      'the chief starts alone to evaluate it',
      'Chief: the newest checkpoint that restores is of step ',
      'Local cluster: parameter server '))
  assert alone < short < cluster, result.stdout
  restored = re.search(r'Chief: restoring (\S+)-(\d+) into', result.stdout)
  assert restored and restored.group(1) == os.path.join(str(log_dir),
                                                        'model.ckpt')
  assert 1000 <= int(restored.group(2)) < step
  assert checkpoints.why_unusable(checkpoints.newest_on_disk(str(log_dir))) \
      is None
  # Run again at the same --max_steps: nothing to train, as the script says.
  again = run_launcher(tmp_path, '--max_steps', step)
  assert again.returncode == 0, again.stderr
  assert re.search(r'Chief: global step \d+ reaches --max_steps %d: nothing '
                   r'to train' % step, again.stdout)
  assert 'Test Data Eval:' in again.stdout


def test_the_chief_holds_its_log_dir(tmp_path):
  log_dir = tmp_path / 'logs'
  with log_dirs.hold_log_dir(str(log_dir)):
    result = run_launcher(tmp_path, '--max_steps', 10)
  assert result.returncode == 1
  assert ('--log_dir %s is in use by another run (process %d)'
          % (log_dir, os.getpid())) in result.stderr


def log_dir_files(log_dir):
  """The bytes of every file of log_dir but TensorBoard's and the lock's."""
  return {path.name: path.read_bytes() for path in log_dir.iterdir()
          if not path.name.startswith(('events.', '.lock'))}


@pytest.mark.parametrize('log_dir', ['logs/relative', './dot', 'run [1]',
                                     '*?'])
def test_the_same_command_again_resumes_and_trains_nothing(
    tmp_path, log_dir, cluster_at_1100):
  # The log dir of a run to 1100, named as the parameter says.
  copy_of(cluster_at_1100, tmp_path / log_dir)
  first = log_dir_files(tmp_path / log_dir)
  events = len(list((tmp_path / log_dir).glob('events.*')))
  again = run_launcher(tmp_path, '--max_steps', 1100, log_dir=log_dir,
                       cwd=tmp_path)
  assert again.returncode == 0, again.stderr
  assert re.search(r'Chief: global step \d+ reaches --max_steps 1100: '
                   r'nothing to train', again.stdout), again.stdout
  # The chief alone: no other task was started for nothing to train.
  assert 'the chief starts alone to evaluate it' in again.stdout
  assert local_steps(again.stdout, 0) == 0
  assert not re.search(r'^(Worker [1-9]|Parameter server|Local cluster: '
                       r'parameter server)', again.stdout, re.M), again.stdout
  # No step, so no checkpoint, the index untouched, and no events file.
  assert log_dir_files(tmp_path / log_dir) == first
  assert len(list((tmp_path / log_dir).glob('events.*'))) == events
  assert again.stdout.count('Test Data Eval:') == 1
  # Trains on from the saved step when --max_steps is raised.
  on = run_launcher(tmp_path, '--max_steps', 1200, log_dir=log_dir,
                    cwd=tmp_path)
  assert on.returncode == 0, on.stderr
  assert 'Chief: restoring %s/model.ckpt-11' % log_dir in on.stdout
  assert 0 < local_steps(on.stdout, 0) + local_steps(on.stdout, 1) <= 110


def start_held_launcher(tmp_path, log_dir):
  """Starts the launcher through CHIEF_ALONE_RUNNER; returns it and the ID of
  its chief alone, once that chief is held in its evaluation."""
  hold_file = tmp_path / 'held'
  launcher = subprocess.Popen(
      [sys.executable, CHIEF_ALONE_RUNNER, '--local_workers', '2',
       '--fake_data', '--max_steps', '1100', '--log_dir', str(log_dir)],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
      env=dict(USER_ENV, HOLD_FILE=str(hold_file)), start_new_session=True)
  deadline = time.monotonic() + TIMEOUT
  while not hold_file.exists():
    assert launcher.poll() is None and time.monotonic() < deadline, (
        launcher.communicate(timeout=TIMEOUT))
    time.sleep(0.1)
  return launcher, int(hold_file.read_text())


def wait_for_state(pid, state):
  """Waits until process pid is in state ('T' stopped, 'Z' a zombie)."""
  deadline = time.monotonic() + TIMEOUT
  while True:
    with open('/proc/%d/stat' % pid, encoding='utf-8') as f:
      if f.read().rpartition(')')[2].split()[0] == state:
        return
    assert time.monotonic() < deadline, (pid, state)
    time.sleep(0.02)


@needs_unix_signals
def test_a_stop_while_the_chief_alone_evaluates_claims_no_save(
    tmp_path, cluster_at_1100):
  log_dir = copy_of(cluster_at_1100, tmp_path / 'logs')
  before = log_dir_files(log_dir)
  newest = checkpoints.newest_on_disk(str(log_dir))
  launcher, _ = start_held_launcher(tmp_path, log_dir)
  try:
    launcher.send_signal(signal.SIGTERM)
    printed, errors = launcher.communicate(timeout=TIMEOUT)
  finally:
    kill_group(launcher)
  assert launcher.returncode == 128 + signal.SIGTERM, errors
  assert 'Worker 0: stopped after 0 local steps' in printed
  assert [line for line in errors.splitlines() if ': the chief ' in line] == [
      'fully_connected_replica.py: SIGTERM at global step %d: the chief saved '
      'nothing in this run; its latest checkpoint is still %s; run the same '
      'command to resume' % (checkpoints.checkpoint_step(newest), newest)]
  assert errors.splitlines()[-1] == '%s: stopped by SIGTERM' % (
      os.path.basename(CHIEF_ALONE_RUNNER)), errors
  assert log_dir_files(log_dir) == before
  assert len(list(log_dir.glob('events.*'))) == 1


@needs_proc
@needs_unix_signals
def test_a_stop_after_the_chief_alone_ended_stops_nothing(tmp_path,
                                                          cluster_at_1100):
  log_dir = copy_of(cluster_at_1100, tmp_path / 'logs')
  before = log_dir_files(log_dir)
  launcher, chief = start_held_launcher(tmp_path, log_dir)
  try:
    # The launcher is stopped in its wait for the chief, which then ends
    # (a zombie that the stopped launcher cannot reap): the signal reaches
    # the launcher after its worker has finished, before it has seen so.
    launcher.send_signal(signal.SIGSTOP)
    wait_for_state(launcher.pid, 'T')
    (tmp_path / 'held.go').touch()
    wait_for_state(chief, 'Z')
    launcher.send_signal(signal.SIGTERM)
    launcher.send_signal(signal.SIGCONT)
    printed, errors = launcher.communicate(timeout=TIMEOUT)
  finally:
    kill_group(launcher)
  assert launcher.returncode == 0, errors
  assert 'Worker 0: done after 0 local steps' in printed
  assert printed.count('Test Data Eval:') == 1
  assert [line for line in errors.splitlines() if ': the chief ' in line] == []
  assert errors.splitlines()[-1] == (
      '%s: SIGTERM came after every worker had finished: nothing was stopped'
      % os.path.basename(CHIEF_ALONE_RUNNER)), errors
  assert log_dir_files(log_dir) == before
  assert len(list(log_dir.glob('events.*'))) == 1


def test_a_chief_alone_refuses_a_checkpoint_of_other_data(
    tmp_path, cluster_at_1100, small_data_dir, no_sources):
  log_dir = copy_of(cluster_at_1100, tmp_path / 'logs')
  before = log_dir_files(log_dir)
  newest = checkpoints.newest_on_disk(str(log_dir))
  with pytest.raises(errors.UsageError) as error:
    replica.evaluate_alone(replica.parse_flags(
        ['--input_data_dir', small_data_dir, '--max_steps', '1100',
         '--log_dir', str(log_dir)]))
  assert str(error.value) == (
      "%s was trained on --fake_data's fake examples, and this run reads the "
      'files of --input_data_dir (give --fake_data a --log_dir of its own)'
      % newest)
  assert log_dir_files(log_dir) == before


def test_a_checkpoint_of_other_sizes_is_refused_before_a_restore(
    tmp_path, cluster_at_1100):
  copy_of(cluster_at_1100, tmp_path / 'logs')
  result = run_launcher(tmp_path, '--max_steps', 1200, '--hidden1', 64)
  assert result.returncode == 2
  assert 'Chief: restoring' not in result.stdout
  assert 'Worker 0' not in result.stdout  # No worker trained.
  assert ('--log_dir %s holds a checkpoint of another network: '
          'hidden1/weights is [784, 128] there but [784, 64] with these '
          'flags' % (tmp_path / 'logs')) in result.stderr
  assert checkpoints.checkpoint_step(
      checkpoints.newest_on_disk(str(tmp_path / 'logs'))) >= 1100


def test_a_wrong_index_is_repaired_from_the_files_on_disk(tmp_path,
                                                          cluster_at_1100):
  copy_of(cluster_at_1100, tmp_path / 'logs')
  index = tmp_path / 'logs' / 'checkpoint'
  newest = os.path.basename(checkpoints.newest_on_disk(str(tmp_path / 'logs')))
  # What an earlier version left after a failed run.
  index.write_text('model_checkpoint_path: "../../%s"\\n' % newest)
  result = run_launcher(tmp_path, '--max_steps', 1200, log_dir='logs',
                        cwd=tmp_path)
  assert result.returncode == 0, result.stderr
  latest = tf1.train.latest_checkpoint(str(tmp_path / 'logs'))
  assert latest == checkpoints.newest_on_disk(str(tmp_path / 'logs'))
  assert checkpoint_step(tmp_path / 'logs') >= 1200


def test_sync_nothing_to_train_evaluates_the_checkpoint_itself(
    tmp_path, sync_cluster_at_100, capsys):
  copy_of(sync_cluster_at_100, tmp_path / 'logs')
  before = log_dir_files(tmp_path / 'logs')
  again = run_launcher(tmp_path, '--max_steps', 100, '--sync_replicas')
  assert again.returncode == 0, again.stderr
  assert log_dir_files(tmp_path / 'logs') == before
  status, out, err = run_feed(capsys, '--eval_only', '--fake_data',
                              '--log_dir', tmp_path / 'logs')
  assert status == 0, err
  counts = re.findall(r'Num correct: (\d+)', again.stdout)
  assert counts == re.findall(r'Num correct: (\d+)', out)[:3]


def test_a_clean_run_reads_as_a_success(cluster_at_1100):
  result, _ = cluster_at_1100
  assert result.returncode == 0, result.stderr
  assert 'SIG' not in result.stdout + result.stderr
  assert 'Parameter server 0: done' in result.stdout
  # Each evaluation block whole: no other worker's line inside it.
  for block in re.findall(r'^Global step \d+:\n((?:.*\n){6})', result.stdout,
                          re.M):
    assert not re.search(r'^Worker', block, re.M), result.stdout
  # An evaluation after a save is headed by the step saved, though the
  # other worker moves the global step on while the chief saves.
  pairs = re.findall(r'model\.ckpt-(\d+)\nGlobal step (\d+):', result.stdout)
  assert pairs and all(saved == headed for saved, headed in pairs), pairs


def test_the_chief_never_saves_weights_whose_loss_is_not_finite(tmp_path):
  data_sets = input_data.read_data_sets('', fake_data=True)
  with tf.Graph().as_default():
    model = replica.feed.build_model(100, 8, 4, 0.1)
    saver = tf1.train.Saver()
    run = replica.ChiefRun(model, data_sets, saver, str(tmp_path), 0)
    hook = replica.ChiefHook(run, 1000, 2000, signals.StopRequest())
    weights = [v for v in tf1.global_variables() if v.op.name ==
               'hidden1/weights'][0]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      hook.after_create_session(sess, None)
      sess.run([weights.assign(weights * 1e30 * 1e30),
                tf1.assign_add(model.global_step, 5)])
      with pytest.raises(replica.errors.DivergedError) as raised:
        hook.end(sess)
  # Which check fires first depends on the CPU's arithmetic: the loss of the
  # overflowed weights (NaN on some CPUs, finite on others, where ReLU turns
  # the NaN to 0) or the weights themselves. Either way one line says why,
  # and nothing is saved.
  step, reason = raised.value.args
  assert step == 5
  assert reason in ('loss is nan after its update',
                    'loss is inf after its update',
                    'variable hidden1/weights is not finite')
  assert checkpoints.newest_on_disk(str(tmp_path)) is None


@pytest.mark.parametrize('flag', [['--job_name', 'worker'],
                                  ['--ps_hosts', 'a:1'],
                                  ['--worker_hosts', 'a:1'],
                                  ['--task_index', '0']])
def test_flags_that_mean_nothing_with_local_workers_are_refused(flag):
  result = subprocess.run(
      [sys.executable, SCRIPT, '--local_workers', '2', '--fake_data'] + flag,
      capture_output=True, text=True, env=USER_ENV, check=False)
  assert result.returncode == 2
  assert result.stderr.strip() == (
      'fully_connected_replica.py: error: %s has no meaning with '
      '--local_workers, which starts its own cluster on this machine (leave '
      'out one of the two)' % flag[0])


def readme_cluster_commands():
  """The --local_workers commands of the cluster's page, docs/cluster.md."""
  with open(os.path.join(ROOT, 'docs', 'cluster.md')) as f:
    section = f.read()
  # Each once: the page gives the first twice, to show the resume.
  return list(dict.fromkeys(
      line for block in re.findall(r'```sh\n(.*?)```', section, re.S)
      for line in block.splitlines()
      if line.startswith('python fully_connected_replica.py --local_workers')))


def copy_of_the_programs(tmp_path):
  """A checkout's programs, in tmp_path/repo, as a user's clone has them."""
  repo = tmp_path / 'repo'
  repo.mkdir()
  for name in os.listdir(ROOT):
    if name.endswith('.py'):
      shutil.copy(os.path.join(ROOT, name), repo)
  shutil.copytree(os.path.join(ROOT, 'tutorial_support'),
                  repo / 'tutorial_support')
  return repo


def run_as_written(command, cwd):
  """Runs a README command, with fake data and fewer steps, in cwd."""
  result = subprocess.run(
      [sys.executable] + shlex.split(command)[1:] + [
          '--fake_data', '--max_steps', '300'], cwd=cwd,
      capture_output=True, text=True, env=USER_ENV, timeout=TIMEOUT,
      check=False)
  assert result.returncode == 0, command + '\n' + result.stdout + result.stderr
  assert 'SIG' not in result.stdout + result.stderr, result.stdout
  return result.stdout


@pytest.mark.slow
def test_readme_cluster_commands_run_twice_and_from_elsewhere(tmp_path):
  commands = readme_cluster_commands()
  assert len(commands) >= 2
  repo = copy_of_the_programs(tmp_path)
  for command in commands:
    assert 'Saved checkpoint' in run_as_written(command, repo)
    assert 'nothing to train' in run_as_written(command, repo)
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  for command in commands:
    out = run_as_written(command.replace(
        'python fully_connected_replica.py',
        'python ../repo/fully_connected_replica.py'), elsewhere)
    assert 'Saved checkpoint' in out
  assert os.path.isdir(elsewhere / 'logs')

