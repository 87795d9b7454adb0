"""Measures how fast the MNIST network trains and evaluates, side by side.

In one process it alternates, repetition after repetition, so that the
machine's drift hits every variant alike:
  - the project's training step (fully_connected_feed.train_step: a batch
    from input_data fed through feed_dict), without evaluation or summaries;
  - the same graph with the training images inside it, so no feed at all;
  - a hand-written NumPy forward/backward/update of the same network;
  - PyTorch's eager loop of the same network, if torch is installed;
  - the machine's float32 GEMM rate, to read each loop as a fraction of it;
  - read_data_sets on the cached, verified files;
  - one evaluation of the three splits (every one of the 70,000 examples).
Then it alternates whole default runs (`python fully_connected_feed.py`),
the same without execution stats (`--trace_every 0`, to measure what
tracing costs), and whole runs of the tutorial ported as directly as it
goes (benchmarks/tutorial_port.py), each split into start-up, data,
training, evaluation, the Projector's files (the project's) and exit.

Each figure is the median of --repeats repetitions, with the lowest and
highest; ratios are taken between medians of the same run.

  python benchmarks/bench.py --json bench.json
"""

import contextlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
# The child runs get the environment as the user gave it, so that they run
# as the user's own would: importing fully_connected_feed changes this one's.
CHILD_ENV = dict(os.environ)

import input_data  # pylint: disable=g-import-not-at-top,wrong-import-position
from tutorial_support import flags as flag_types  # pylint: disable=g-import-not-at-top,wrong-import-position


def parse_flags(argv=None):
  parser = flag_types.UsageParser(
      description='Measures training and evaluation speed of the MNIST '
      'network; see the module docstring.')
  parser.add_argument('--input_data_dir', default=input_data.DEFAULT_DATA_DIR,
                      help='Where MNIST is cached (fetched first if not).')
  parser.add_argument('--repeats', type=int, default=5,
                      help='Repetitions of each in-process figure.')
  parser.add_argument('--steps', type=int, default=2000,
                      help='Training steps per repetition of each loop.')
  parser.add_argument('--runs', type=int, default=5,
                      help='Whole default runs of the project and of the '
                      'port each (0 skips them).')
  parser.add_argument('--fake_data', action='store_true',
                      help='Use fake data (for a quick check of the script).')
  parser.add_argument('--json', metavar='FILE',
                      help='Also write every figure and sample to FILE.')
  flags = parser.parse_args(argv)
  # The child runs start in temporary directories of their own.
  flags.input_data_dir = os.path.abspath(os.path.expanduser(
      flags.input_data_dir))
  for name in ('repeats', 'steps'):
    if getattr(flags, name) < 1:
      parser.error('--%s must be at least 1' % name)
  if flags.runs < 0:
    parser.error('--runs must be at least 0')
  return flags


# --help and a bad flag answer before TensorFlow's import, which takes seconds.
if __name__ == '__main__':
  parse_flags()

import flops  # pylint: disable=g-import-not-at-top
import fully_connected_feed  # pylint: disable=g-import-not-at-top
import mnist  # pylint: disable=g-import-not-at-top
from tutorial_support import speed  # pylint: disable=g-import-not-at-top

tf = fully_connected_feed.tf
tf1 = tf.compat.v1

BATCH_SIZE = 100
HIDDEN1 = 128
HIDDEN2 = 32
LEARNING_RATE = 0.01
LAYERS = flops.layers(HIDDEN1, HIDDEN2)


def flops_per_step(batch_size=BATCH_SIZE):
  """FLOPs of one training step of the benchmarked network (flops.py)."""
  return flops.step_flops(batch_size, HIDDEN1, HIDDEN2)


# ------------------------------------------------------ training loops ----

def project_loop(data_sets):
  """Returns run(steps): the steps of fully_connected_feed's training loop.

  Also returns the session and the model, to evaluate and then close.
  """
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(0)
    model = fully_connected_feed.build_model(BATCH_SIZE, HIDDEN1, HIDDEN2,
                                             LEARNING_RATE)
    sess = tf1.Session(config=speed.session_config())
    sess.run(tf1.global_variables_initializer())

  def run(steps):
    for _ in range(steps):
      fully_connected_feed.train_step(sess, model, data_sets.train)
  return run, sess, model


def in_graph_loop(data_sets):
  """Returns run(steps) for the same graph with its batches drawn in-graph.

  Also returns the session, for the caller to close.
  """
  graph = tf.Graph()
  with graph.as_default():
    tf1.set_random_seed(0)
    train = data_sets.train
    all_images = tf1.placeholder(tf.float32, train.images.shape)
    images = tf1.Variable(all_images, trainable=False, name='all_images')
    labels = tf1.constant(train.labels.astype(np.int32))
    picked = tf1.random.uniform([BATCH_SIZE], 0, train.num_examples,
                                dtype=tf.int32)
    logits = mnist.inference(tf.gather(images, picked), HIDDEN1, HIDDEN2)
    loss = mnist.loss(logits, tf.gather(labels, picked))
    train_op = mnist.training(loss, LEARNING_RATE)
    sess = tf1.Session(config=speed.session_config())
    sess.run(tf1.global_variables_initializer(),
             feed_dict={all_images: train.images})

  def run(steps):
    for _ in range(steps):
      sess.run([train_op, loss])
  return run, sess


def numpy_parameters(seed=0, layers=LAYERS):
  """Returns [(weights, biases)] per layer, scaled as mnist.py's.

  The normal draws are clipped at 2 standard deviations where mnist.py's
  truncated normal draws again; for timing the difference does not matter.
  """
  rng = np.random.default_rng(seed)
  params = []
  for fan_in, fan_out in layers:
    weights = rng.standard_normal((fan_in, fan_out), dtype=np.float32)
    weights = np.clip(weights, -2, 2) / np.float32(np.sqrt(fan_in))
    params.append((weights, np.zeros(fan_out, np.float32)))
  return params


def numpy_step(params, images, labels, learning_rate):
  """One step of gradient descent on the mean cross entropy, in place.

  Args:
    params: [(weights, biases)] of each layer, updated in place.
    images: float32 [batch, 784].
    labels: integer [batch].
    learning_rate: The step size.

  Returns:
    The loss of the batch before the step.
  """
  rate = np.float32(learning_rate)
  activations = [images]
  for weights, biases in params[:-1]:
    activations.append(np.maximum(activations[-1] @ weights + biases, 0))
  logits = activations[-1] @ params[-1][0] + params[-1][1]
  logits -= logits.max(axis=1, keepdims=True)
  probabilities = np.exp(logits)
  probabilities /= probabilities.sum(axis=1, keepdims=True)
  rows = np.arange(len(labels))
  loss = -np.log(probabilities[rows, labels]).mean()
  grad = probabilities
  grad[rows, labels] -= 1
  grad /= len(labels)
  for layer in reversed(range(len(params))):
    weights, biases = params[layer]
    grad_weights = activations[layer].T @ grad
    grad_biases = grad.sum(axis=0)
    if layer:
      grad = (grad @ weights.T) * (activations[layer] > 0)
    weights -= rate * grad_weights
    biases -= rate * grad_biases
  return loss


def numpy_loop(data_sets):
  """Returns run(steps): numpy_step on batches from data_sets.train."""
  params = numpy_parameters()

  def run(steps):
    for _ in range(steps):
      images, labels = data_sets.train.next_batch(BATCH_SIZE)
      numpy_step(params, images, labels, LEARNING_RATE)
  return run


def torch_loop(data_sets):
  """Returns run(steps) for PyTorch's eager loop, or None without torch."""
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    print('PyTorch is not installed: its row is left out (pip install '
          'torch==2.13.0 to measure it)', file=sys.stderr)
    return None
  import torch_job  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  model = torch_job.network(HIDDEN1, HIDDEN2)
  optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)

  def run(steps):
    for _ in range(steps):
      images, labels = data_sets.train.next_batch(BATCH_SIZE)
      optimizer.zero_grad()
      loss = torch.nn.functional.cross_entropy(
          model(torch.from_numpy(images)),
          torch.from_numpy(labels.astype(np.int64)))
      loss.backward()
      optimizer.step()
      loss.item()  # as the project fetches the loss of every step
  return run, torch.__version__


# ----------------------------------------------------- whole processes ----

_LOAD = r'''
import sys, time
sys.path.insert(0, {path!r})
import fully_connected_feed  # for the settings it makes before numpy loads
import input_data
start = time.perf_counter()
input_data.read_data_sets({data_dir!r}, fake_data={fake_data!r})
print(time.perf_counter() - start)
'''


def load_time(data_dir, fake_data):
  """Times read_data_sets in a fresh process, as a training run calls it.

  Not in this process: it has imported NumPy with other settings than
  fully_connected_feed.py makes, and holds gigabytes that slow the kernel's
  page allocation.
  """
  code = _LOAD.format(path=ROOT, data_dir=data_dir, fake_data=fake_data)
  return float(_run_child('read_data_sets', [sys.executable, '-c', code],
                          stdout=subprocess.PIPE).stdout)


class ChildRunError(RuntimeError):
  """A measured child process failed; the message holds its stderr."""


def _run_child(what, args, **kwargs):
  """Runs a measured child; its stderr is shown only if it fails.

  The tutorial's port prints TensorFlow's start-up messages, as the tutorial
  does; they would bury the report.

  Raises:
    ChildRunError: If the child exits with a non-zero status.
  """
  result = subprocess.run(args, stderr=subprocess.PIPE, text=True,
                          env=CHILD_ENV, check=False, **kwargs)
  if result.returncode:
    raise ChildRunError('%s: the child process exited with status %d; its '
                        'stderr ends:\n%s' % (what, result.returncode,
                                               result.stderr[-3000:]))
  return result


_CHILD = r'''
import functools, json, sys, time
sys.path.insert(0, {path!r})
import {module} as m
imported = time.time()
phases = {{}}
last = {{}}
def timed(name, function):
  def wrapper(*args, **kwargs):
    start = time.time()
    try:
      last[name] = function(*args, **kwargs)
      return last[name]
    finally:
      phases[name] = phases.get(name, 0.0) + time.time() - start
  return wrapper
for name, dotted in {timed!r}:
  *owner, attribute = dotted.split('.')
  holder = functools.reduce(getattr, owner, m)
  setattr(holder, attribute, timed(name, getattr(holder, attribute)))
  phases[name] = 0.0
start = time.time()
status = m.main({argv!r})
done = time.time()
if status:
  sys.exit(status)
test = last['evaluation']
json.dump(dict(phases, imported=imported, run=done - start, done=done,
               test_precision=test['test'] if isinstance(test, dict) else test),
          open({out!r}, 'w'))
'''

_PROJECT_PHASES = [('data', 'read_data'), ('evaluation', 'evaluate_all'),
                   ('projector', 'tensorboard_extras.update_projector')]
PROGRAMS = {
    # name: (directory, module, [(phase, function timed)], extra flags)
    'project': (ROOT, 'fully_connected_feed', _PROJECT_PHASES, []),
    # What recording execution stats costs: the same run without it.
    'project untraced': (ROOT, 'fully_connected_feed', _PROJECT_PHASES,
                         ['--trace_every', '0']),
    'port': (os.path.join(ROOT, 'benchmarks'), 'tutorial_port',
             [('data', 'read_data'), ('evaluation', 'do_eval')], []),
}


def whole_run(program, data_dir, fake_data):
  """Runs one default training process; returns its phases in seconds."""
  path, module, phases, extra = PROGRAMS[program]
  with tempfile.TemporaryDirectory() as scratch:
    out = os.path.join(scratch, 'phases.json')
    argv = ['--log_dir', os.path.join(scratch, 'logs'),
            '--input_data_dir', data_dir] + (['--fake_data'] if fake_data
                                            else []) + extra
    code = _CHILD.format(path=path, module=module, timed=phases, argv=argv,
                         out=out)
    spawned = time.time()
    _run_child('%s run' % program, [sys.executable, '-c', code],
               stdout=subprocess.DEVNULL, cwd=scratch)
    ended = time.time()
    with open(out) as f:
      child = json.load(f)
  named = {name: child[name] for name, _ in phases}
  training = child['run'] - sum(named.values())
  return dict({'start-up': child['imported'] - spawned}, **named,
              training=training, exit=ended - child['done'],
              total=ended - spawned, test_precision=child['test_precision'])


# ------------------------------------------------------------- driver ----

class Figures(object):
  """Samples of each figure, in the order they were first measured."""

  def __init__(self):
    self.samples = {}
    self.units = {}

  def add(self, name, value, unit):
    self.samples.setdefault(name, []).append(float(value))
    self.units[name] = unit

  def median(self, name):
    return statistics.median(self.samples[name])

  def as_dict(self):
    return {name: {'median': self.median(name), 'min': min(values),
                   'max': max(values), 'unit': self.units[name],
                   'samples': values}
            for name, values in self.samples.items()}


def _steps_per_second(run, steps):
  start = time.perf_counter()
  run(steps)
  return steps / (time.perf_counter() - start)


def measure_in_process(figures, data_dir, fake_data, repeats, steps):
  """Alternates the in-process figures, repeats times each."""
  data_sets = input_data.read_data_sets(data_dir, fake_data=fake_data, seed=0)
  project, sess, model = project_loop(data_sets)
  in_graph, in_graph_sess = in_graph_loop(data_sets)
  loops = [('project loop (feed_dict)', project),
           ('same graph, no feed', in_graph),
           ('NumPy step', numpy_loop(data_sets))]
  torch_result = torch_loop(data_sets)
  if torch_result:
    loops.append(('PyTorch %s eager loop' % torch_result[1], torch_result[0]))
  try:
    for _, run in loops:
      run(steps // 10)  # warm-up: first runs allocate and pick kernels
    for _ in range(repeats):
      for name, run in loops:
        figures.add(name, _steps_per_second(run, steps), 'steps/s')
      figures.add('GEMM float32', flops.gemm_rate() / 1e9, 'GFLOP/s')
      figures.add('read_data_sets (cached)', load_time(data_dir, fake_data),
                  's')
      start = time.perf_counter()
      with contextlib.redirect_stdout(io.StringIO()):
        fully_connected_feed.evaluate_all(sess, model, data_sets)
      figures.add('evaluation of 3 splits', time.perf_counter() - start, 's')
  finally:
    # Frees their memory before the whole runs that follow.
    sess.close()
    in_graph_sess.close()
  return [name for name, _ in loops]


def measure_whole_runs(figures, data_dir, fake_data, runs):
  for _ in range(runs):
    for program in PROGRAMS:
      for phase, value in whole_run(program, data_dir, fake_data).items():
        unit = '' if phase == 'test_precision' else 's'
        figures.add('%s run: %s' % (program, phase), value, unit)


def ratios(figures, loop_names):
  """Returns the ratios the targets are stated in, between medians."""
  median = figures.median
  limit = median('GEMM float32') * 1e9 / flops_per_step()
  result = {'GEMM limit of the model (steps/s)': limit}
  for name in loop_names:
    result['%s / GEMM limit' % name] = median(name) / limit
    if name != loop_names[0]:
      result['project loop / %s' % name] = median(loop_names[0]) / median(name)
  if 'project run: total' in figures.samples:
    result['project run / port run (wall time)'] = (
        median('project run: total') / median('port run: total'))
    result['tracing: project run / untraced run (wall time)'] = (
        median('project run: total') / median('project untraced run: total'))
    result['projector: its share of the project run'] = (
        median('project run: projector') / median('project run: total'))
  return result


def print_table(figures, ratio_values, out=sys.stdout):
  print('%-40s %12s %25s' % ('figure', 'median', 'min .. max'), file=out)
  for name, figure in figures.as_dict().items():
    print('%-40s %12.4g %12.4g .. %-10.4g %s' % (
        name, figure['median'], figure['min'], figure['max'], figure['unit']),
          file=out)
  print(file=out)
  for name, value in ratio_values.items():
    print('%-58s %8.3f' % (name, value), file=out)


def main(argv=None):
  flags = parse_flags(argv)
  figures = Figures()
  try:
    loop_names = measure_in_process(figures, flags.input_data_dir,
                                    flags.fake_data, flags.repeats,
                                    flags.steps)
    measure_whole_runs(figures, flags.input_data_dir, flags.fake_data,
                       flags.runs)
  except ChildRunError as e:
    print('bench.py: error: %s' % e, file=sys.stderr)
    return 1
  ratio_values = ratios(figures, loop_names)
  print('%s, %d CPUs, Python %s, TensorFlow %s, batch %d, %s-%d-%d-%d, '
        '%.1f MFLOP per step' % (
            platform.machine(), os.cpu_count(), platform.python_version(),
            tf.__version__, BATCH_SIZE, mnist.IMAGE_PIXELS, HIDDEN1, HIDDEN2,
            mnist.NUM_CLASSES, flops_per_step() / 1e6))
  print_table(figures, ratio_values)
  if flags.json:
    report = {'figures': figures.as_dict(), 'ratios': ratio_values,
              'flops_per_step': flops_per_step(), 'flags': vars(flags),
              'tensorflow': tf.__version__, 'cpus': os.cpu_count()}
    partial = flags.json + '.part'
    with open(partial, 'w') as f:
      json.dump(report, f, indent=1)
    os.replace(partial, flags.json)
  return 0


if __name__ == '__main__':
  sys.exit(main())
