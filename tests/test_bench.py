"""Tests of benchmarks/bench.py: its reference step, its counts, its report."""

import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT, USER_ENV

sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))

import bench  # pylint: disable=g-import-not-at-top,wrong-import-position
import mnist  # pylint: disable=g-import-not-at-top,wrong-import-position

tf1 = tf.compat.v1


def test_flops_per_step_counts_forward_and_backward():
  # Forward 784x128 + 128x32 + 32x10 multiply-adds per example; backward
  # twice that, less the input gradient of the first layer.
  forward = 100 * (784 * 128 + 128 * 32 + 32 * 10)
  backward = 2 * forward - 100 * 784 * 128
  assert bench.flops_per_step() == 2 * (forward + backward) == 42790400


def test_sweep_counts_as_bench_does():
  import flops  # pylint: disable=g-import-not-at-top
  assert flops.step_flops(100, 128, 32) == bench.flops_per_step()
  # 1024-512 at batch 1000: forward 1000 x (784x1024 + 1024x512 + 512x10).
  forward = 2 * 1000 * (784 * 1024 + 1024 * 512 + 512 * 10)
  assert flops.forward_flops(1000, 1024, 512) == forward
  assert (flops.step_flops(1000, 1024, 512)
          == 3 * forward - 2 * 1000 * 784 * 1024)


def test_numpy_step_matches_tensorflow_gradient_descent():
  params = bench.numpy_parameters(seed=5)
  rng = np.random.default_rng(6)
  images = rng.random((100, 784), dtype=np.float32)
  labels = rng.integers(0, 10, 100)
  with tf.Graph().as_default():
    images_pl = tf1.placeholder(tf.float32, (100, 784))
    labels_pl = tf1.placeholder(tf.int32, (100,))
    loss = mnist.loss(mnist.inference(images_pl, 128, 32), labels_pl)
    train_op = mnist.training(loss, 0.5)
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      variables = tf1.trainable_variables()
      for variable, value in zip(variables, [v for p in params for v in p]):
        variable.load(value, sess)
      _, tf_loss = sess.run([train_op, loss],
                            {images_pl: images, labels_pl: labels})
      updated = sess.run(variables)
  numpy_loss = bench.numpy_step(params, images, labels, 0.5)
  np.testing.assert_allclose(numpy_loss, tf_loss, rtol=1e-5)
  for tf_value, numpy_value in zip(updated, [v for p in params for v in p]):
    np.testing.assert_allclose(numpy_value, tf_value, rtol=1e-4, atol=1e-5)


def test_bad_flag_is_one_line_and_exit_2():
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', 'bench.py'),
       '--repeats', '0'], capture_output=True, text=True, env=USER_ENV,
      check=False)
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].endswith(
      '--repeats must be at least 1')


def test_child_noise_is_hidden_unless_the_child_fails(capfd):
  quiet = bench._run_child('noisy', [sys.executable, '-c', (
      'import sys; print(7); sys.stderr.write("start-up noise")')],
                           stdout=subprocess.PIPE)
  assert quiet.stdout.strip() == '7'
  assert 'start-up noise' not in capfd.readouterr().err
  with pytest.raises(bench.ChildRunError,
                     match=r'(?s)port run: .*status 3.*what went wrong'):
    bench._run_child('port run', [sys.executable, '-c', (
        'import sys; sys.stderr.write("what went wrong"); sys.exit(3)')])


@pytest.mark.slow
def test_bench_reports_every_figure_with_its_spread(tmp_path):
  report_path = tmp_path / 'bench.json'
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', 'bench.py'),
       '--fake_data', '--repeats', '2', '--steps', '40', '--runs', '2',
       '--input_data_dir', str(tmp_path / 'data'), '--json',
       str(report_path)],
      capture_output=True, text=True, env=USER_ENV, check=False,
      timeout=600)
  assert result.returncode == 0, result.stderr
  assert 'I0000' not in result.stderr  # TensorFlow's start-up messages
  report = json.loads(report_path.read_text())
  figures = report['figures']
  for name in ('project loop (feed_dict)', 'same graph, no feed',
               'NumPy step', 'GEMM float32', 'read_data_sets (cached)',
               'evaluation of 3 splits'):
    assert len(figures[name]['samples']) == 2, name
  for program in ('project', 'port'):
    for phase in ('start-up', 'data', 'training', 'evaluation', 'exit',
                  'total'):
      figure = figures['%s run: %s' % (program, phase)]
      assert len(figure['samples']) == 2
      assert figure['min'] <= figure['median'] <= figure['max']
      assert figure['min'] >= 0
    total = figures['%s run: total' % program]['samples']
    # Every phase the program reports (the project's Projector too).
    phases = [name.split(': ', 1)[1] for name in figures
              if name.startswith('%s run: ' % program)
              and name.split(': ', 1)[1] not in ('total', 'test_precision')]
    parts = [sum(figures['%s run: %s' % (program, phase)]['samples'][run]
                 for phase in phases) for run in range(2)]
    np.testing.assert_allclose(parts, total, atol=1e-3)
    # Fake data: every image alike, every label 0, so training learns it.
    assert figures['%s run: test_precision' % program]['median'] == 1.0
  ratios = report['ratios']
  assert ratios['project run / port run (wall time)'] == pytest.approx(
      figures['project run: total']['median']
      / figures['port run: total']['median'])
  assert ratios['project loop / NumPy step'] == pytest.approx(
      figures['project loop (feed_dict)']['median']
      / figures['NumPy step']['median'])
  assert 'project loop (feed_dict)' in result.stdout
  assert 'project run / port run (wall time)' in result.stdout


def described_options(help_text):
  """{option: its description} of an argparse --help text."""
  listed = re.split(r'^(?:positional arguments|options|optional arguments):$',
                    help_text, maxsplit=1, flags=re.MULTILINE)[1]
  entries = re.split(r'\n(?=  \S)', listed)
  options = {}
  for entry in entries:
    spec, _, description = entry.strip().partition('  ')
    if spec and not spec.endswith(':'):
      options[spec.split(',')[-1].split()[0]] = description.strip()
  return options


def is_program(path):
  with open(path) as f:
    return "if __name__ == '__main__':" in f.read()


@pytest.mark.parametrize('script', sorted(
    os.path.basename(path)
    for path in glob.glob(os.path.join(ROOT, 'benchmarks', '*.py'))
    if is_program(path)))
def test_every_benchmark_answers_help_describing_each_flag(script):
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', script), '--help'],
      capture_output=True, text=True, env=USER_ENV, timeout=120, check=False)
  assert result.returncode == 0, result.stderr
  options = described_options(result.stdout)
  assert '--help' in options
  for option, description in options.items():
    assert description, '%s %s has no description' % (script, option)


def test_bench_says_when_pytorch_is_left_out(monkeypatch, capsys):
  monkeypatch.setitem(sys.modules, 'torch', None)  # import torch fails
  assert bench.torch_loop(None) is None
  assert 'PyTorch is not installed: its row is left out' in (
      capsys.readouterr().err)


def test_sweep_table_shows_a_dash_where_pytorch_was_not_measured():
  import io  # pylint: disable=g-import-not-at-top
  import sweep  # pylint: disable=g-import-not-at-top
  point = {'hidden1': 1024, 'hidden2': 512, 'batch_size': 100,
           'max_steps': 4000, 'project_job_s': 23.2, 'session_floor_s': 15.6,
           'loop_steps_per_second': 252.0, 'loop_intra_op_threads': 2,
           'loop_steps_per_second_by_threads': {'1': 190.0, '2': 242.0},
           'gemm_limit_steps_per_second': 495.0, 'evaluation_s': 0.92,
           'evaluation_gemm_floor_s': 0.59}
  without = io.StringIO()
  sweep.print_table([point], with_torch=False, out=without)
  row = without.getvalue().splitlines()[1].split()
  assert row[:8] == ['1024-512', '100', '4000', '23.2s', '-', '-', '15.6s',
                     '-'], row
  point.update(pytorch_job_s=19.8, ratio=23.2 / 19.8, floor_ratio=15.6 / 19.8)
  with_torch = io.StringIO()
  sweep.print_table([point], with_torch=True, out=with_torch)
  row = with_torch.getvalue().splitlines()[1].split()
  assert row[4:8] == ['19.8s', '1.17x', '15.6s', '0.79x'], row


@pytest.mark.parametrize('flags, message', [
    (['--grid', '128x32x6000'], 'a batch of 1 to 5000, got '),
    (['--grid', '0x32x100'], 'layers of 1 to 100000 units'),
    (['--json', '/nonexistent/dir/sweep.json'],
     '--json: /nonexistent/dir/sweep.json is not in a directory'),
])
def test_sweep_refuses_what_would_fail_later_in_one_line(flags, message):
  # Before it spends minutes on jobs: a job's error or a lost JSON after.
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'benchmarks', 'sweep.py')] + flags,
      capture_output=True, text=True, env=USER_ENV, timeout=60, check=False)
  assert result.returncode == 2, result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('sweep.py: error: ') and message in last, last
