"""The IDX file format, read strictly: what input_data's extract_images()
and extract_labels() stand on.

An IDX file is a big-endian header (a magic number that says what it holds,
then one count per dimension) and the bytes it promises, raw or gzip. These
readers refuse anything that is not what its header says, with a message
naming the file, and never allocate what a header merely claims.
"""

import gzip
import io
import os

import numpy as np

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049

_CHUNK = 1 << 20
_GZIP_MAGIC = b'\x1f\x8b'


def open_stream(f):
  """Returns a binary stream of f's IDX content, gzip decompressed."""
  head = f.read(2)
  if f.seekable():
    f.seek(0)
  else:
    f = io.BufferedReader(io.BytesIO(head + f.read()))
  return gzip.GzipFile(fileobj=f, mode='rb') if head == _GZIP_MAGIC else f


def stream_name(f):
  return os.path.basename(str(getattr(f, 'name', '<stream>')))


def read_header(stream, name, count, expected_magic, other_kind):
  """Reads `count` big-endian uint32 header fields; checks the magic first."""
  raw = stream.read(4 * count)
  if len(raw) >= 4:
    magic = int(np.frombuffer(raw[:4], dtype='>u4')[0])
    if magic != expected_magic:
      hint = ''
      if magic in (IMAGE_MAGIC, LABEL_MAGIC):
        hint = ' (is this %s file?)' % other_kind
      raise ValueError('%s: expected magic %d, found %d%s'
                       % (name, expected_magic, magic, hint))
  if len(raw) < 4 * count:
    raise ValueError('%s: file ends inside its %d-byte IDX header (%d bytes)'
                     % (name, 4 * count, len(raw)))
  return [int(x) for x in np.frombuffer(raw, dtype='>u4')[1:]]


def read_payload(stream, nbytes, name, what):
  """Reads exactly nbytes, growing the buffer only as data actually arrives.

  A header that claims more than the file holds thus fails without ever
  allocating what it claims.
  """
  buf = bytearray()
  while len(buf) < nbytes:
    chunk = stream.read(min(_CHUNK, nbytes - len(buf)))
    if not chunk:
      raise ValueError('%s: header promises %s (%d bytes), file holds %d'
                       % (name, what, nbytes, len(buf)))
    buf += chunk
  if stream.read(1):
    raise ValueError('%s: data continues past the %s the header promises'
                     % (name, what))
  return np.frombuffer(buf, dtype=np.uint8)
