"""Tests of tutorial_support.idx: headers read strictly, payloads as given."""

import gzip
import io

import numpy as np
import pytest

from conftest import idx_labels_bytes
from tutorial_support import idx


def named(data, name='x-idx1-ubyte'):
  stream = io.BytesIO(data)
  stream.name = '/some/dir/' + name
  return stream


def test_a_gzip_stream_is_read_as_its_content():
  data = idx_labels_bytes(np.array([1, 2, 3]))
  stream = idx.open_stream(named(gzip.compress(data)))
  assert stream.read() == data


def test_the_magic_is_checked_first_with_a_hint():
  data = idx_labels_bytes(np.array([1]))
  with pytest.raises(ValueError, match=r'l: expected magic 2051, found 2049 '
                     r'\(is this a label file\?\)'):
    idx.read_header(io.BytesIO(data), 'l', 4, idx.IMAGE_MAGIC, 'a label')


def test_a_payload_shorter_than_promised_is_refused():
  with pytest.raises(ValueError, match='header promises 3 labels'):
    idx.read_payload(io.BytesIO(b'\x01'), 3, 'l', '3 labels')


def test_a_payload_longer_than_promised_is_refused():
  with pytest.raises(ValueError, match='continues past'):
    idx.read_payload(io.BytesIO(b'\x01\x02'), 1, 'l', '1 label')


def test_stream_name_is_the_base_name():
  assert idx.stream_name(named(b'')) == 'x-idx1-ubyte'
