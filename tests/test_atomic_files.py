"""Tests of tutorial_support.atomic_files: the umask read, never changed."""

import os

from tutorial_support import atomic_files


def test_new_files_get_the_mode_open_gives_them(tmp_path):
  previous = os.umask(0o027)
  try:
    assert atomic_files.new_file_mode() == 0o640
    assert os.umask(0o027) == 0o027  # not changed by reading it
    with open(tmp_path / 'plain', 'w'):
      pass
    assert os.stat(tmp_path / 'plain').st_mode & 0o777 == (
        atomic_files.new_file_mode())
  finally:
    os.umask(previous)
