"""Tests of tutorial_support.checkpoints, through the training script as a user
runs it: damaged, copied and oddly named checkpoints, one run per log dir,
exploded weights never saved, and resume that repeats nothing."""

import hashlib
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import needs_unix_permissions, needs_unix_signals
from conftest import ROOT, USER_ENV, run_main, without_read_access
import classify
import fully_connected_feed
from test_fully_connected_feed import restore_variables, run
from tutorial_support import checkpoints
from tutorial_support import errors
from tutorial_support import log_dirs

tf1 = tf.compat.v1

FAKE = ['--fake_data', '--seed', '1']


def digest(path):
  with open(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def damage(checkpoint):
  data = checkpoint + '.data-00000-of-00001'
  os.truncate(data, os.path.getsize(data) // 3)


def test_a_damaged_latest_checkpoint_is_skipped_and_set_aside(tmp_path,
                                                              capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 2000, '--log_dir', log_dir)[0] == 0
  damage(os.path.join(log_dir, 'model.ckpt-2000'))

  status, out, err = run(capsys, '--eval_only', '--fake_data',
                         '--log_dir', log_dir)
  assert status == 0
  assert err.startswith('warning: skipped checkpoint %s: '
                        % os.path.join(log_dir, 'model.ckpt-2000'))
  assert out.startswith('Evaluating %s (step 1000,'
                        % os.path.join(log_dir, 'model.ckpt-1000'))
  # Evaluation writes nothing, not even the renames.
  assert os.path.exists(os.path.join(log_dir, 'model.ckpt-2000.index'))

  status, out, err = run(capsys, *FAKE, '--max_steps', 2100,
                         '--log_dir', log_dir)
  assert status == 0
  assert len(err.splitlines()) == 1
  assert 'its files are set aside as' in err
  assert out.splitlines()[0] == 'Resuming from %s at step 1000' % (
      os.path.join(log_dir, 'model.ckpt-1000'))
  names = os.listdir(log_dir)
  assert 'model.ckpt-2000.index.damaged' in names
  assert 'model.ckpt-2000.data-00000-of-00001.damaged' in names
  # It went on from 1000 and saved its own 2000 and 2100.
  assert checkpoints.newest_on_disk(log_dir).endswith('model.ckpt-2100')
  assert checkpoints.why_unusable(os.path.join(log_dir,
                                               'model.ckpt-2000')) is None


def test_files_set_aside_are_not_set_aside_again(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 1100, '--log_dir', log_dir)[0] == 0
  for steps in (1200, 1300):
    damage(checkpoints.newest_on_disk(log_dir))
    status, _, err = run(capsys, *FAKE, '--max_steps', steps,
                         '--log_dir', log_dir)
    assert status == 0
    assert err.count('.damaged') == 4  # The damaged checkpoint's own files.
  names = os.listdir(log_dir)
  assert not [name for name in names if name.count('.damaged') > 1]
  assert len([name for name in names if '.damaged' in name]) == 8


def test_no_checkpoint_that_restores_is_one_line(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 100, '--log_dir', log_dir)[0] == 0
  damage(os.path.join(log_dir, 'model.ckpt-100'))
  for args in (['--eval_only', '--fake_data'], FAKE + ['--max_steps', 200]):
    status, _, err = run(capsys, *args, '--log_dir', log_dir)
    assert status == 1
    error = err.splitlines()[-1]
    assert error.startswith('fully_connected_feed.py: error: --log_dir %s: '
                            'none of its checkpoints restores' % log_dir)


def test_checkpoints_without_their_index_resume_and_stay_whole(tmp_path,
                                                               capsys):
  first = str(tmp_path / 'first')
  assert run(capsys, *FAKE, '--max_steps', 300, '--log_dir', first)[0] == 0
  copy = tmp_path / 'copy'
  copy.mkdir()
  sums = {}
  for name in os.listdir(first):
    if name.startswith('model.ckpt-300.'):
      with open(os.path.join(first, name), 'rb') as f:
        (copy / name).write_bytes(f.read())
      sums[name] = digest(str(copy / name))
  status, out, _ = run(capsys, *FAKE, '--max_steps', 400, '--log_dir', copy)
  assert status == 0
  assert out.splitlines()[0] == 'Resuming from %s at step 300' % (
      copy / 'model.ckpt-300')
  assert {name: digest(str(copy / name)) for name in sums} == sums


def test_a_damaged_index_file_loses_nothing(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 300, '--log_dir', log_dir)[0] == 0
  with open(os.path.join(log_dir, 'checkpoint'), 'w') as f:
    f.write('model_checkpoint_path: "nothing-here\n')
  status, out, _ = run(capsys, '--eval_only', '--fake_data',
                       '--log_dir', log_dir)
  assert status == 0
  assert 'model.ckpt-300 (step 300,' in out


@pytest.mark.parametrize('name', ['run [1]', '*', 'a?b'])
def test_a_log_dir_with_glob_characters_resumes(name, tmp_path, capsys):
  log_dir = str(tmp_path / name)
  (tmp_path / 'other').mkdir()  # What a pattern could wrongly match.
  assert run(capsys, *FAKE, '--max_steps', 300, '--log_dir', log_dir)[0] == 0
  status, out, err = run(capsys, *FAKE, '--max_steps', 400,
                         '--log_dir', log_dir)
  assert status == 0, err
  assert err == ''
  assert out.splitlines()[0] == 'Resuming from %s at step 300' % (
      os.path.join(log_dir, 'model.ckpt-300'))
  status, out, _ = run(capsys, '--eval_only', '--fake_data',
                       '--log_dir', log_dir)
  assert status == 0
  assert 'model.ckpt-400 (step 400,' in out
  assert os.listdir(tmp_path / 'other') == []


def test_weights_that_overflowed_are_never_saved(tmp_path):
  log_dir = str(tmp_path)
  with tf.Graph().as_default():
    model = fully_connected_feed.build_model(10, 8, 4, 0.1)
    saver = tf1.train.Saver()
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      for variable in tf1.trainable_variables():
        sess.run(variable.assign(tf.fill(variable.shape, 1e30)))
      data_sets = fully_connected_feed.input_data.read_data_sets(
          '', fake_data=True)
      the_run = fully_connected_feed.Run(sess, model, data_sets, saver,
                                         None, None, log_dir, 0)
      with pytest.raises(errors.DivergedError) as error:
        fully_connected_feed.save_checkpoint(the_run, 4)
  assert error.value.args[0] == 4
  assert 'after its update' in error.value.args[1]
  assert os.listdir(log_dir) == []


def test_a_second_run_on_a_held_log_dir_is_refused(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 100, '--log_dir', log_dir)[0] == 0
  with log_dirs.hold_log_dir(log_dir):
    status, out, err = run(capsys, *FAKE, '--max_steps', 200,
                           '--log_dir', log_dir)
    assert status == 1
    assert out == ''
    assert err == ('fully_connected_feed.py: error: --log_dir %s is in use '
                   'by another run (process %d); wait for it to end, or name '
                   'another --log_dir\n' % (log_dir, os.getpid()))
    # Evaluation only reads: never blocked.
    assert run(capsys, '--eval_only', '--fake_data',
               '--log_dir', log_dir)[0] == 0
  assert checkpoints.newest_on_disk(log_dir).endswith('model.ckpt-100')


@needs_unix_signals
def test_a_killed_run_leaves_no_stale_lock(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  process = subprocess.Popen(
      [sys.executable, os.path.join(ROOT, 'fully_connected_feed.py'),
       '--fake_data', '--max_steps', '1000000', '--log_dir', log_dir],
      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
      env=USER_ENV)
  try:
    assert process.stdout.readline().startswith('Step 0:')
    status, _, err = run(capsys, *FAKE, '--max_steps', 10,
                         '--log_dir', log_dir)
    assert status == 1
    assert '(process %d)' % process.pid in err
  finally:
    process.send_signal(signal.SIGKILL)
    process.wait()
  status, _, err = run(capsys, '--fake_data', '--max_steps', 10,
                       '--log_dir', log_dir)
  assert status == 0, err


def test_a_failed_run_leaves_no_empty_log_dir(tmp_path, capsys, no_sources):
  log_dir = tmp_path / 'logs'
  status, _, _ = run(capsys, '--input_data_dir', tmp_path / 'data',
                     '--log_dir', log_dir)
  assert status == 1
  assert not log_dir.exists()


def log_dir_contents(log_dir):
  return {path: digest(os.path.join(log_dir, path))
          for path in os.listdir(log_dir)
          if os.path.isfile(os.path.join(log_dir, path))}


def test_a_checkpoint_of_other_data_is_refused_either_way(
    small_data_dir, tmp_path, capsys, no_sources):
  files = ['--input_data_dir', small_data_dir, '--seed', '1']
  words = {'fake': "--fake_data's fake examples",
           'files': 'the files of --input_data_dir'}
  for trained_on, data, reads in (('fake', files, 'files'),
                                  ('files', FAKE, 'fake')):
    log_dir = str(tmp_path / trained_on)
    trained = FAKE if trained_on == 'fake' else files
    assert run(capsys, *trained, '--max_steps', 100, '--log_dir',
               log_dir)[0] == 0
    before = log_dir_contents(log_dir)
    for max_steps in 100, 200:  # Nothing to train, then more to train.
      status, out, err = run(capsys, *data, '--max_steps', max_steps,
                             '--log_dir', log_dir)
      assert status == 2
      assert out == ''  # Refused before any 'Resuming from' line.
      assert err == (
          'fully_connected_feed.py: error: %s was trained on %s, and this '
          'run reads %s (give --fake_data a --log_dir of its own)\n'
          % (os.path.join(log_dir, 'model.ckpt-100'), words[trained_on],
             words[reads]))
      assert log_dir_contents(log_dir) == before
    status, _, err = run(capsys, *data, '--eval_only', '--log_dir', log_dir)
    assert status == 2
    assert 'model.ckpt-100 was trained on %s' % words[trained_on] in err
    # The same data as the checkpoint's trains on.
    assert run(capsys, *trained, '--max_steps', 200, '--log_dir',
               log_dir)[0] == 0


def test_a_checkpoint_that_does_not_say_its_data_passes(tmp_path):
  checkpoint = str(tmp_path / 'model.ckpt-100')
  fake = fully_connected_feed.input_data.read_data_sets('', fake_data=True)
  for extra in ('{"train_batches": null}', '[]', 'not JSON'):
    with open(checkpoint + '.extra.json', 'w') as f:
      f.write(extra)
    checkpoints.check_trained_on(checkpoint, fake.train)
  checkpoints.check_trained_on(None, fake.train)
  with open(checkpoint + '.extra.json', 'w') as f:
    f.write('{"fake_data": false}')
  with pytest.raises(errors.UsageError):
    checkpoints.check_trained_on(checkpoint, fake.train)


def test_a_run_stopped_and_resumed_learns_what_an_unbroken_one_does(
    small_data_dir, tmp_path, capsys, no_sources):
  # 200 training examples in batches of 50: the stops fall mid-epoch.
  data = ['--input_data_dir', small_data_dir, '--seed', '3',
          '--batch_size', 50]
  unbroken = str(tmp_path / 'unbroken')
  status, expected, _ = run(capsys, *data, '--max_steps', 700,
                            '--log_dir', unbroken)
  assert status == 0
  broken = str(tmp_path / 'broken')
  for steps in (130, 421, 700):
    status, out, _ = run(capsys, *data, '--max_steps', steps,
                         '--log_dir', broken)
    assert status == 0
  # The evaluations at the end print the same counts.
  assert out.splitlines()[-6:] == expected.splitlines()[-6:]
  unbroken_weights = restore_variables(os.path.join(unbroken,
                                                    'model.ckpt-700'))
  broken_weights = restore_variables(os.path.join(broken, 'model.ckpt-700'))
  for name, value in unbroken_weights.items():
    np.testing.assert_array_equal(value, broken_weights[name], err_msg=name)


def test_tensorboard_keeps_the_evaluation_at_the_step_resumed(tmp_path,
                                                              capsys):
  from tensorboard.backend.event_processing import event_accumulator  # pylint: disable=import-outside-toplevel
  log_dir = str(tmp_path / 'logs')
  for steps in (1000, 1200):
    assert run(capsys, *FAKE, '--max_steps', steps,
               '--log_dir', log_dir)[0] == 0
  accumulator = event_accumulator.EventAccumulator(log_dir)
  accumulator.Reload()
  for split in ('train', 'validation', 'test'):
    split_run = event_accumulator.EventAccumulator(
        os.path.join(log_dir, 'precision', split))
    split_run.Reload()
    assert [event.step for event in split_run.Scalars('precision')] == [
        1000, 1200]
  assert [event.step for event in accumulator.Images(
      'test_predictions/image/0')] == [1000, 1200]


@needs_unix_permissions
@pytest.mark.parametrize('program, args', [
    ('fully_connected_feed.py', ['--max_steps', '300']),
    ('fully_connected_feed.py', ['--eval_only']),
    ('classify.py', [os.path.join(ROOT, 'docs', 'preprocessing.png')]),
])
def test_a_checkpoint_that_cannot_be_read_is_not_set_aside(program, args,
                                                           tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 200, '--log_dir', log_dir)[0] == 0
  data = os.path.join(log_dir, 'model.ckpt-200.data-00000-of-00001')
  os.chmod(data, 0)
  before = sorted(os.listdir(log_dir))
  result = subprocess.run(
      without_read_access([sys.executable, os.path.join(ROOT, program),
                           '--log_dir', log_dir] + FAKE[:1] * (
                               program != 'classify.py') + args),
      capture_output=True, text=True, env=USER_ENV, check=False)
  assert result.returncode == 1
  assert result.stderr == '%s: error: cannot read checkpoint file %s: ' \
      'Permission denied\n' % (program, data)
  assert sorted(os.listdir(log_dir)) == before


def test_a_failed_save_never_removes_files_set_aside(tmp_path):
  log_dir = str(tmp_path)
  set_aside = ['model.ckpt-5.index.damaged', 'model.ckpt-5.meta.damaged',
               'model.ckpt-5.data-00000-of-00001.damaged',
               'model.ckpt-5.extra.json.damaged', 'model.ckpt-50.index']
  for name in set_aside:
    (tmp_path / name).write_text('kept')

  class FailingSaver(object):
    """Writes part of a checkpoint, then fails as a full disk does."""

    def save(self, unused_sess, path, global_step):
      prefix = '%s-%d' % (path, global_step)
      for suffix in ('.index', '.data-00000-of-00001', '_temp'):
        with open(prefix + suffix, 'w') as f:
          f.write('partial')
      raise tf.errors.ResourceExhaustedError(None, None, 'No space left')

  with tf.Graph().as_default():
    global_step = tf1.train.get_or_create_global_step()
    with tf1.Session() as sess:
      sess.run(global_step.assign(5))
      with pytest.raises(OSError, match='cannot save checkpoint'):
        checkpoints.save_checkpoint(sess, FailingSaver(), log_dir,
                                    global_step, extra={'a': 1})
  assert sorted(os.listdir(log_dir)) == sorted(set_aside)


def test_five_checkpoints_are_kept_across_resumes(tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  for steps in (100, 200):
    assert run(capsys, *FAKE, '--max_steps', steps,
               '--log_dir', log_dir)[0] == 0
  damage(os.path.join(log_dir, 'model.ckpt-200'))
  for steps in range(300, 900, 100):
    assert run(capsys, *FAKE, '--max_steps', steps,
               '--log_dir', log_dir)[0] == 0
  assert [os.path.basename(path) for path in checkpoints.checkpoints_on_disk(
      log_dir)] == ['model.ckpt-%d' % step for step in (800, 700, 600, 500,
                                                        400)]
  assert os.path.exists(os.path.join(log_dir,
                                     'model.ckpt-200.index.damaged'))
  extras = [name for name in os.listdir(log_dir) if name.endswith(
      '.extra.json')]
  assert len(extras) == 5


def write_with_one_weight_not_finite(source, target, value):
  """Writes checkpoint target: source's variables, one weight set to value,
  as another program or a copy could leave it."""
  with tf.Graph().as_default():
    variables = {name: tf1.Variable(array, name=name) for name, array in
                 restore_variables(source).items()}
    weights = variables['hidden1/weights']
    with tf1.Session() as sess:
      sess.run(tf1.global_variables_initializer())
      sess.run(weights[3, 2].assign(value))
      tf1.train.Saver(list(variables.values())).save(sess, target)


@pytest.mark.parametrize('value', [np.inf, np.nan])
def test_a_checkpoint_on_disk_with_one_weight_not_finite_is_skipped(
    value, tmp_path, capsys):
  log_dir = str(tmp_path / 'logs')
  assert run(capsys, *FAKE, '--max_steps', 200, '--log_dir', log_dir)[0] == 0
  good = os.path.join(log_dir, 'model.ckpt-200')
  bad = os.path.join(log_dir, 'model.ckpt-300')
  write_with_one_weight_not_finite(good, bad, value)
  skipped = 'warning: skipped checkpoint %s: variable hidden1/weights is ' \
      'not finite' % bad

  status, out, err = run(capsys, '--fake_data', '--eval_only', '--log_dir',
                         log_dir, '--export_dir', tmp_path / 'export')
  assert status == 0 and err.startswith(skipped)
  assert out.startswith('Evaluating %s (step 200,' % good)
  assert 'Exported model.ckpt-200 as SavedModel' in out
  classified = run_main(classify.main, capsys, '--log_dir', log_dir,
                        os.path.join(ROOT, 'docs', 'preprocessing.png'))
  assert classified[2].startswith(skipped)
  status, out, err = run(capsys, *FAKE, '--max_steps', 400, '--log_dir',
                         log_dir)
  assert status == 0 and err.startswith(skipped)
  assert out.splitlines()[0] == 'Resuming from %s at step 200' % good
