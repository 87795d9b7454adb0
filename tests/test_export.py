"""Exports a trained model and runs it with TensorFlow's own tools."""

import os
import re
import signal
import subprocess
import sys
import textwrap

import numpy as np

import input_data
from conftest import needs_unix_signals
from conftest import foreign_env
from test_fully_connected_feed import run

BIN = os.path.dirname(sys.executable)

LOAD_AND_SCORE = textwrap.dedent('''\
    import sys
    import numpy as np
    import tensorflow as tf
    model = tf.saved_model.load(sys.argv[1])
    serve = model.signatures['serving_default']
    data = np.load(sys.argv[2])
    out = serve(images=tf.constant(data['images']))
    assert sorted(out) == ['classes', 'logits', 'probabilities'], sorted(out)
    assert out['probabilities'].shape == (len(data['labels']), 10)
    np.testing.assert_allclose(out['probabilities'].numpy().sum(axis=1), 1,
                               rtol=1e-5)
    print(int((out['classes'].numpy() == data['labels']).sum()))
    ''')


def test_export_loads_in_a_fresh_process_with_the_same_precision(
    small_data_dir, tmp_path, capsys, no_sources):
  export_dir = tmp_path / 'export'
  status, out, err = run(capsys, '--input_data_dir', small_data_dir,
                         '--log_dir', tmp_path / 'logs', '--max_steps', 20,
                         '--export_dir', export_dir)
  assert status == 0, err
  assert out.splitlines()[-1] == 'Exported model.ckpt-20 as SavedModel %s' % (
      export_dir / '1')
  correct = int(re.findall(r'Num correct: (\d+)', out)[-1])
  test = input_data.read_data_sets(small_data_dir).test
  np.savez(tmp_path / 'test.npz', images=test.images, labels=test.labels)
  scored = subprocess.run(
      [sys.executable, '-c', LOAD_AND_SCORE, str(export_dir / '1'),
       str(tmp_path / 'test.npz')],
      capture_output=True, text=True, env=foreign_env(), timeout=300,
      check=True)
  assert int(scored.stdout.split()[-1]) == correct


def test_saved_model_cli_shows_and_runs_the_signature(tmp_path, capsys):
  export_dir = tmp_path / 'export'
  status, out, err = run(capsys, '--fake_data', '--max_steps', 5, '--log_dir',
                         tmp_path / 'logs', '--export_dir', export_dir)
  assert status == 0, err
  cli = os.path.join(BIN, 'saved_model_cli')
  shown = subprocess.run(
      [cli, 'show', '--dir', str(export_dir / '1'), '--tag_set', 'serve',
       '--signature_def', 'serving_default'],
      capture_output=True, text=True, env=foreign_env(), timeout=300,
      check=True).stdout
  assert re.search(r"inputs\['images'\].*?dtype: DT_FLOAT.*?shape: \(-1, 784\)",
                   shown, re.S)
  for output in ('classes', 'logits', 'probabilities'):
    assert "outputs['%s']" % output in shown
  np.save(tmp_path / 'ones.npy', np.ones((3, 784), np.float32))
  ran = subprocess.run(
      [cli, 'run', '--dir', str(export_dir / '1'), '--tag_set', 'serve',
       '--signature_def', 'serving_default', '--inputs',
       'images=%s' % (tmp_path / 'ones.npy'),
       '--outdir', str(tmp_path / 'out')],
      capture_output=True, text=True, env=foreign_env(), timeout=300,
      check=True).stdout
  classes, logits, probabilities = (
      np.load(tmp_path / 'out' / (name + '.npy'))
      for name in ('classes', 'logits', 'probabilities'))
  assert re.search(r'Result for output key classes:\s*\[%s\]' % ' '.join(
      str(c) for c in classes), ran)
  assert logits.shape == probabilities.shape == (3, 10)
  np.testing.assert_array_equal(classes, logits.argmax(axis=1))
  np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))
  np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
  # Fake test data is 10,000 copies of this all-ones image labelled 0, so the
  # run's own last evaluation says whether the model answers 0 for it: all of
  # them correct or none. Five steps do not always get there.
  examples, correct = map(int, re.findall(
      r'Num examples: (\d+)\s+Num correct: (\d+)', out)[-1])
  assert correct in (0, examples)
  assert (classes == 0).all() == (correct == examples)


def test_exports_never_overwrite_each_other(tmp_path, capsys):
  export_dir = tmp_path / 'export'
  log_dir = tmp_path / 'logs'
  assert run(capsys, '--fake_data', '--max_steps', 2, '--log_dir', log_dir,
             '--export_dir', export_dir)[0] == 0
  first = os.stat(export_dir / '1' / 'saved_model.pb').st_mtime_ns
  (export_dir / '7').mkdir()  # A version made by hand, or by another run.
  # A newer checkpoint, so that there is something new to export.
  assert run(capsys, '--fake_data', '--max_steps', 4, '--log_dir',
             log_dir)[0] == 0
  assert run(capsys, '--fake_data', '--eval_only', '--log_dir', log_dir,
             '--export_dir', export_dir)[0] == 0
  assert sorted(os.listdir(export_dir)) == ['1', '7', '8']
  assert os.stat(export_dir / '1' / 'saved_model.pb').st_mtime_ns == first
  assert os.path.exists(export_dir / '8' / 'saved_model.pb')


def stop_during(monkeypatch, function_name, call_number=1):
  """Makes the call_number-th call of fully_connected_feed's function_name
  receive SIGTERM in the middle, as a user's kill would."""
  import fully_connected_feed  # pylint: disable=g-import-not-at-top
  original = getattr(fully_connected_feed, function_name)
  calls = []

  def interrupted(*args, **kwargs):
    calls.append(1)
    if len(calls) == call_number:
      os.kill(os.getpid(), signal.SIGTERM)
    return original(*args, **kwargs)
  monkeypatch.setattr(fully_connected_feed, function_name, interrupted)


@needs_unix_signals
def test_a_stop_during_eval_only_writes_nothing_and_says_so(
    tmp_path, capsys, monkeypatch):
  log_dir, export_dir = tmp_path / 'logs', tmp_path / 'export'
  assert run(capsys, '--fake_data', '--max_steps', 20, '--log_dir',
             log_dir)[0] == 0
  stop_during(monkeypatch, 'evaluate_all')
  status, out, err = run(capsys, '--fake_data', '--eval_only', '--log_dir',
                         log_dir, '--export_dir', export_dir)
  assert status == 128 + signal.SIGTERM
  assert err == 'SIGTERM: stopped; nothing was written\n'
  assert 'Confusion' not in out and not export_dir.exists()


@needs_unix_signals
def test_a_stop_after_the_last_step_says_so_and_the_export_is_done_once(
    tmp_path, capsys, monkeypatch):
  log_dir, export_dir = tmp_path / 'logs', tmp_path / 'export'
  args = ['--fake_data', '--max_steps', 20, '--log_dir', log_dir,
          '--export_dir', export_dir]
  with monkeypatch.context() as patch:
    stop_during(patch, 'evaluate_all')
    status, _, err = run(capsys, *args)
  assert status == 128 + signal.SIGTERM
  assert err == ('SIGTERM: stopped after the last step: training finished '
                 'and saved %s; not exported (run the same command to export '
                 'it)\n' % (log_dir / 'model.ckpt-20'))
  assert not export_dir.exists()
  status, out, _ = run(capsys, *args)
  assert status == 0
  assert 'Exported model.ckpt-20 as SavedModel %s' % (export_dir / '1') in out
  status, out, _ = run(capsys, *args)
  assert status == 0
  assert out.splitlines()[-1] == ('model.ckpt-20 is already exported as '
                                  'SavedModel %s: not exported again'
                                  % (export_dir / '1'))
  assert os.listdir(export_dir) == ['1']
