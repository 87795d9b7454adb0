"""Tests of tutorial_support.checkpoint_names: checkpoints by file name."""

from tutorial_support import checkpoint_names


def test_steps_are_those_of_index_files_the_newest_first(tmp_path):
  for name in ('model.ckpt-900.index', 'model.ckpt-1000.index',
               'model.ckpt-20.index', 'model.ckpt-5000.index.damaged',
               'model.ckpt-7000.meta', 'model.ckpt-x.index',
               'other.ckpt-8000.index', 'checkpoint'):
    (tmp_path / name).write_text('')
  assert checkpoint_names.steps_on_disk(str(tmp_path)) == [1000, 900, 20]


def test_a_log_dir_that_cannot_be_listed_holds_no_checkpoint(tmp_path):
  assert checkpoint_names.steps_on_disk(str(tmp_path / 'none')) == []
  (tmp_path / 'file').write_text('')
  assert checkpoint_names.steps_on_disk(str(tmp_path / 'file')) == []
  assert checkpoint_names.steps_on_disk(str(tmp_path)) == []
