"""Speed at the sizes users pick: the project, PyTorch and the GEMM limit.

For each point of a grid of layer and batch sizes (by default hidden 128-32,
512-128 and 1024-512, each at batch 100 and 1000) it measures, each in a
fresh process as a user runs it:
  - the whole job: `fully_connected_feed.py` with those flags, and the same
    job in PyTorch eager (benchmarks/torch_job.py: same data, split, network,
    SGD, loss lines, a checkpoint and an evaluation of all 70,000 examples
    every 1000 steps), alternated, --repeats times each; wall time, median;
  - the training loop's steps per second (fully_connected_feed.train_step)
    under the session settings the project picks for that size, and under
    each intra-op thread count, 1 and every core, to show the choice;
  - the session floor: the job's steps at the rate of the session's own
    work (one batch fed again and again, no batches drawn), a time under
    which no whole job of the project can go; `f/pt` is it over PyTorch's
    whole job;
  - one evaluation of the three splits, against its GEMM floor (the
    forward pass of 70,000 examples at the machine's float32 GEMM rate).
PyTorch's columns show -, and stderr says why, when torch is not installed.

  python benchmarks/sweep.py --json sweep.json
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

from flops import forward_flops, gemm_rate, step_flops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
import input_data  # pylint: disable=g-import-not-at-top,wrong-import-position
from tutorial_support.flags import MAX_UNITS  # pylint: disable=g-import-not-at-top,wrong-import-position
GRID = [(128, 32, 100), (128, 32, 1000), (512, 128, 100), (512, 128, 1000),
        (1024, 512, 100), (1024, 512, 1000)]


def _child(args, cwd=None):
  result = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, cwd=cwd, check=False)
  if result.returncode:
    raise RuntimeError('%s failed (exit %d): %s' % (
        ' '.join(args[:3]), result.returncode, result.stderr[-2000:]))
  return result.stdout


def whole_job(program, hidden1, hidden2, batch_size, steps, data_dir):
  """Wall time of one whole job, from spawn to exit, in a fresh log dir."""
  with tempfile.TemporaryDirectory() as scratch:
    script = {'project': os.path.join(ROOT, 'fully_connected_feed.py'),
              'pytorch': os.path.join(ROOT, 'benchmarks', 'torch_job.py')}
    args = [sys.executable, script[program], '--hidden1', str(hidden1),
            '--hidden2', str(hidden2), '--batch_size', str(batch_size),
            '--max_steps', str(steps), '--input_data_dir', data_dir,
            '--log_dir', os.path.join(scratch, 'logs')]
    start = time.perf_counter()
    _child(args, cwd=scratch)
    return time.perf_counter() - start


_LOOP = r'''
import contextlib, io, json, sys, time
sys.path.insert(0, {root!r})
import fully_connected_feed as feed
from tutorial_support import speed
tf1 = feed.tf1
threads = {threads!r}
config = (speed.session_config({batch}, {hidden1}, {hidden2}) if threads is None
          else tf1.ConfigProto(intra_op_parallelism_threads=threads,
                               inter_op_parallelism_threads=-1))
data_sets = feed.input_data.read_data_sets({data_dir!r}, seed=0)
with feed.tf.Graph().as_default():
  model = feed.build_model({batch}, {hidden1}, {hidden2}, 0.01)
  with tf1.Session(config=config) as sess:
    sess.run(tf1.global_variables_initializer())
    for _ in range(20):
      feed.train_step(sess, model, data_sets.train)
    start = time.perf_counter()
    for _ in range({steps}):
      feed.train_step(sess, model, data_sets.train)
    rate = {steps} / (time.perf_counter() - start)
    # The session's own work: one batch fed again and again (aligned, so
    # not copied), which no loop that draws batches can beat.
    feed_dict = feed.fill_feed_dict(data_sets.train, model.images_placeholder,
                                    model.labels_placeholder)
    start = time.perf_counter()
    for _ in range({steps}):
      sess.run([model.train_op, model.loss], feed_dict=feed_dict)
    kernels_rate = {steps} / (time.perf_counter() - start)
    with contextlib.redirect_stdout(io.StringIO()):
      feed.evaluate_all(sess, model, data_sets)
      start = time.perf_counter()
      feed.evaluate_all(sess, model, data_sets)
    evaluation = time.perf_counter() - start
print(json.dumps({{'steps_per_second': rate, 'evaluation': evaluation,
                  'kernels_steps_per_second': kernels_rate,
                  'intra_op_threads': config.intra_op_parallelism_threads}}))
'''


def loop_rate(hidden1, hidden2, batch_size, data_dir, threads=None):
  """Steps/s of the training loop and one evaluation's seconds, in a fresh
  process (a process keeps the thread pools of its first session)."""
  steps = max(50, min(2000, int(2e10 / step_flops(batch_size, hidden1,
                                                  hidden2))))
  code = _LOOP.format(root=ROOT, threads=threads, batch=batch_size,
                      hidden1=hidden1, hidden2=hidden2, data_dir=data_dir,
                      steps=steps)
  return json.loads(_child([sys.executable, '-c', code]).splitlines()[-1])


def torch_installed():
  try:
    _child([sys.executable, '-c', 'import torch'])
    return True
  except RuntimeError:
    return False


def steps_for(hidden1, batch_size, flags):
  """The job's steps: --max_steps, or by default 2000 (the tutorial's), 4000
  for hidden1 1024 at batch 100, and 1000 for the larger layers at batch
  1000, so that the sweep ends in about a quarter of an hour."""
  if flags.max_steps:
    return flags.max_steps
  if batch_size >= 1000 and hidden1 > 128:
    return 1000
  return 4000 if hidden1 >= 1024 else 2000


def measure_point(point, flags, with_torch, gemm):
  hidden1, hidden2, batch_size = point
  steps = steps_for(hidden1, batch_size, flags)
  times = {'project': [], 'pytorch': []}
  for _ in range(flags.repeats):
    for program in ('project', 'pytorch') if with_torch else ('project',):
      times[program].append(whole_job(program, hidden1, hidden2, batch_size,
                                      steps, flags.input_data_dir))
  chosen = loop_rate(hidden1, hidden2, batch_size, flags.input_data_dir)
  by_threads = {n: loop_rate(hidden1, hidden2, batch_size,
                             flags.input_data_dir, n)['steps_per_second']
                for n in sorted({1, os.cpu_count() or 1})}
  result = {
      'hidden1': hidden1, 'hidden2': hidden2, 'batch_size': batch_size,
      'max_steps': steps, 'project_job_s': statistics.median(times['project']),
      'project_job_samples': times['project'],
      'loop_steps_per_second': chosen['steps_per_second'],
      'loop_intra_op_threads': chosen['intra_op_threads'],
      # The job's training steps at the session's own rate: a floor under
      # the whole job, which has also its start-up, data and evaluations.
      'session_floor_s': steps / chosen['kernels_steps_per_second'],
      'loop_steps_per_second_by_threads': by_threads,
      'gemm_limit_steps_per_second': gemm / step_flops(batch_size, hidden1,
                                                       hidden2),
      'evaluation_s': chosen['evaluation'],
      'evaluation_gemm_floor_s': 70000 / batch_size * forward_flops(
          batch_size, hidden1, hidden2) / gemm}
  if with_torch:
    result['pytorch_job_s'] = statistics.median(times['pytorch'])
    result['pytorch_job_samples'] = times['pytorch']
    result['ratio'] = result['project_job_s'] / result['pytorch_job_s']
    result['floor_ratio'] = (result['session_floor_s']
                             / result['pytorch_job_s'])
  return result


def print_table(results, with_torch, out=sys.stdout):
  header = ('%-10s %5s %6s %9s %9s %6s %7s %6s %9s %8s %13s %8s %8s'
            % ('hidden', 'batch', 'steps', 'project', 'pytorch', 'ratio',
               'floor', 'f/pt', 'loop/s', 'threads', '1 vs all /s',
               'GEMM/s', 'eval s'))
  print(header, file=out)
  for r in results:
    by_threads = r['loop_steps_per_second_by_threads']
    print('%-10s %5d %6d %8.1fs %9s %6s %6.1fs %6s %9.0f %8d %13s %8.0f '
          '%5.2f/%.2f' % (
        '%d-%d' % (r['hidden1'], r['hidden2']), r['batch_size'],
        r['max_steps'], r['project_job_s'],
        '%.1fs' % r['pytorch_job_s'] if with_torch else '-',
        '%.2fx' % r['ratio'] if with_torch else '-',
        r['session_floor_s'],
        '%.2fx' % r['floor_ratio'] if with_torch else '-',
        r['loop_steps_per_second'], r['loop_intra_op_threads'],
        '/'.join('%.0f' % v for v in by_threads.values()),
        r['gemm_limit_steps_per_second'], r['evaluation_s'],
        r['evaluation_gemm_floor_s']), file=out)


def parse_grid(text):
  points = []
  for item in text.split(','):
    try:
      hidden1, hidden2, batch_size = (int(v) for v in item.split('x'))
    except ValueError:
      raise argparse.ArgumentTypeError(
          'expected HIDDEN1xHIDDEN2xBATCH,..., got %r' % item) from None
    # What fully_connected_feed.py accepts on MNIST.
    max_batch = input_data.smallest_split(fake_data=False)
    if not (1 <= hidden1 <= MAX_UNITS and 1 <= hidden2 <= MAX_UNITS
            and 1 <= batch_size <= max_batch):
      raise argparse.ArgumentTypeError(
          'expected layers of 1 to %d units and a batch of 1 to %d, got %r'
          % (MAX_UNITS, max_batch, item))
    points.append((hidden1, hidden2, batch_size))
  return points


def parse_flags(argv=None):
  parser = argparse.ArgumentParser(
      description='Times the project against PyTorch eager and the GEMM '
      'limit over a grid of layer and batch sizes (see the module '
      'docstring).')
  parser.add_argument('--grid', type=parse_grid, default=GRID,
                      help='Points HIDDEN1xHIDDEN2xBATCH, comma-separated. '
                      '(default: 128x32x100,128x32x1000,512x128x100,'
                      '512x128x1000,1024x512x100,1024x512x1000)')
  parser.add_argument('--max_steps', type=int, default=0,
                      help='Steps of each whole job; 0 takes 2000, 4000 for '
                      'hidden1 1024 at batch 100, 1000 for hidden1 over 128 '
                      'at batch 1000. (default: 0)')
  parser.add_argument('--repeats', type=int, default=3,
                      help='Whole jobs of each program per point, '
                      'alternated; the median is shown. (default: 3)')
  parser.add_argument('--input_data_dir', default=os.path.join(
      os.path.expanduser('~'), '.cache', 'mnist'),
                      help='Where MNIST is cached (python input_data.py '
                      'fetches it). (default: %(default)s)')
  parser.add_argument('--json', metavar='FILE',
                      help='Also write every figure to FILE. (default: none)')
  flags = parser.parse_args(argv)
  flags.input_data_dir = os.path.abspath(flags.input_data_dir)
  if flags.repeats < 1 or flags.max_steps < 0:
    parser.error('--repeats must be at least 1 and --max_steps at least 0')
  # Checked before the sweep's minutes, not after them.
  if flags.json and not os.access(
      os.path.dirname(os.path.abspath(flags.json)), os.W_OK):
    parser.error('--json: %s is not in a directory this user can write to'
                 % flags.json)
  return flags


def main(argv=None):
  flags = parse_flags(argv)
  with_torch = torch_installed()
  if not with_torch:
    print('PyTorch is not installed: its columns show - (pip install '
          'torch==2.13.0 to measure them)', file=sys.stderr)
  gemm = gemm_rate()
  results = [measure_point(point, flags, with_torch, gemm)
             for point in flags.grid]
  print('%s, %d CPUs, Python %s, float32 GEMM %.0f GFLOP/s; whole jobs are '
        'medians of %d, alternated' % (platform.machine(), os.cpu_count(),
                                       platform.python_version(), gemm / 1e9,
                                       flags.repeats))
  print_table(results, with_torch)
  if flags.json:
    with open(flags.json + '.part', 'w') as f:
      json.dump({'gemm_flops_per_second': gemm, 'cpus': os.cpu_count(),
                 'points': results}, f, indent=1)
    os.replace(flags.json + '.part', flags.json)
  return 0


if __name__ == '__main__':
  sys.exit(main())
