"""Tests of tutorial_support.flags: the command line the programs share."""

import os

import pytest

from conftest import run_program
import fully_connected_feed
import fully_connected_replica
from tutorial_support import mnist_files


def test_train_dir_sets_both_directories(tmp_path):
  flags = fully_connected_feed.parse_flags(['--train_dir', str(tmp_path)])
  assert flags.log_dir == str(tmp_path)
  assert flags.input_data_dir == str(tmp_path)


def test_an_explicit_directory_wins_over_train_dir(tmp_path):
  flags = fully_connected_feed.parse_flags(
      ['--log_dir', str(tmp_path / 'logs'), '--train_dir', str(tmp_path)])
  assert flags.log_dir == str(tmp_path / 'logs')
  assert flags.input_data_dir == str(tmp_path)
  flags = fully_connected_feed.parse_flags(
      ['--train_dir', str(tmp_path), '--input_data_dir', str(tmp_path / 'd')])
  assert flags.log_dir == str(tmp_path)
  assert flags.input_data_dir == str(tmp_path / 'd')


def test_without_train_dir_the_defaults_hold():
  flags = fully_connected_feed.parse_flags([])
  assert flags.log_dir == fully_connected_feed.DEFAULT_LOG_DIR
  assert flags.input_data_dir == os.path.expanduser(
      mnist_files.DEFAULT_DATA_DIR)
  replica_flags = fully_connected_replica.parse_flags([])
  assert replica_flags.log_dir == fully_connected_replica.DEFAULT_LOG_DIR


def test_train_dir_that_is_a_file_is_refused(tmp_path, capsys):
  path = tmp_path / 'file'
  path.write_text('')
  with pytest.raises(SystemExit) as exit_info:
    fully_connected_feed.parse_flags(['--train_dir', str(path)])
  assert exit_info.value.code == 2
  assert 'argument --train_dir: %s is a file' % path in capsys.readouterr().err


@pytest.mark.parametrize('parse, argv', [
    (fully_connected_feed.parse_flags, ['--max_st', '10']),
    (fully_connected_feed.parse_flags, ['--eval', '--fake_data']),
    (fully_connected_replica.parse_flags, ['--loc', '2', '--fake_data']),
    (fully_connected_replica.parse_flags, ['--local_w=2']),
])
def test_abbreviated_flags_are_refused(parse, argv, capsys):
  with pytest.raises(SystemExit) as exit_info:
    parse(argv)
  assert exit_info.value.code == 2
  err = capsys.readouterr().err
  assert len(err.splitlines()) == 1
  assert 'unrecognized arguments: ' + argv[0].split('=')[0] in err


def test_an_abbreviated_launcher_flag_starts_nothing(tmp_path):
  # Once, each task of `--loc 2` was a launcher again, without end.
  result = run_program('fully_connected_replica.py', '--loc', '2',
                       '--fake_data', '--log_dir', tmp_path, timeout=60)
  assert result.returncode == 2
  assert result.stdout == ''
  assert result.stderr.startswith('fully_connected_replica.py: error: '
                                  'unrecognized arguments: --loc')
  assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('flag', ['--export_dir', '--log_dir', '--train_dir'])
def test_a_directory_under_a_file_is_refused_before_any_work(flag, tmp_path,
                                                              capsys):
  (tmp_path / 'file').write_text('')
  with pytest.raises(SystemExit) as exit_info:
    fully_connected_feed.parse_flags([flag, str(tmp_path / 'file' / 'sub')])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err.endswith(
      'argument %s: %s cannot be created: %s is a file\n'
      % (flag, tmp_path / 'file' / 'sub', tmp_path / 'file'))


def test_a_directory_flag_that_is_not_utf8_is_named(capsys):
  with pytest.raises(SystemExit) as exit_info:
    fully_connected_feed.parse_flags(['--log_dir', os.fsdecode(b'logs/\xff')])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err.splitlines()[-1] == (
      "fully_connected_feed.py: error: argument --log_dir: b'logs/\\xff' is "
      'not valid UTF-8; expected a path of UTF-8 characters')
