"""Reads any picture Pillow opens as gray levels, in bounded time and memory.

A phone photo is 12 to 200 megapixels, but the digit in it ends as 20 x 20:
read_gray() never holds more of a picture than it needs. A JPEG is decoded
at a reduced scale (Pillow's draft mode: 1/2, 1/4 or 1/8 straight from the
compressed data), so Pillow's decompression-bomb limit is applied to what
is decoded, not to what the header claims; a picture that cannot be, and
whose header promises more than MAX_DECODED_PIXELS, is refused before any
of it is decoded, as is a progressive JPEG whose coefficients (which
libjpeg holds whole, at any scale) would take over MAX_COEFFICIENT_BYTES.
What is decoded is shrunk at once to at most WORKING_SIDE pixels on its
longer side, then turned upright as its EXIF says, transparency composited
onto white, and made gray levels in [0, 1]: 8-bit modes by 255; 16-bit,
32-bit and float modes by the range their values span, lowest to highest
(not clipped at 255; a float picture's NaN and infinite pixels are
background, and span nothing). read_frames() reads a picture of several
frames (an animated GIF, a multi-page TIFF, an MPO) frame by frame, at most
MAX_FRAMES and, past the first, within MAX_DECODED_PIXELS in all.

This module knows no digits and no TensorFlow: it reads pictures.
"""

import collections
import contextlib
import errno
import os
import stat
import warnings

import numpy as np

from tutorial_support import systems
from PIL import Image
from PIL import JpegImagePlugin

# Pillow refuses to decode images over this many pixels (its default, about
# 89 megapixels): a small file that claims hundreds of megapixels is a
# decompression bomb, refused before any of it is decoded.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
# The most pixels decoded at full scale: 25 megapixels of RGBA are 100 MB,
# and their gray copy another 25 MB, well within 300 MB and a second. A JPEG
# is held to it at its reduced scale, so up to 64 times as many are read.
MAX_DECODED_PIXELS = 25_000_000
# A progressive JPEG is decoded from all its DCT coefficients, 2 bytes per
# sample, held at once whatever the scale, in several passes over them: 100
# MB is a 33-megapixel colour photo (4:2:0) or a 50-megapixel gray one, read
# in under a second.
MAX_COEFFICIENT_BYTES = 100_000_000
# How every JPEG file starts (SOI, then a marker): such a file is opened as
# JPEG without Pillow's size check, which its reduced scale makes moot.
JPEG_SIGNATURE = b'\xff\xd8\xff'
# The longer side of the picture the digit is found in: a digit a tenth of
# it high is still 100 pixels, its ballpoint strokes still a few pixels wide.
WORKING_SIDE = 1024
# Modes whose values are not 0..255; they are scaled by the range they use.
WIDE_MODES = ('I', 'F', 'I;16', 'I;16L', 'I;16B', 'I;16N')
# A float picture needs at least this share of its pixels to be numbers (not
# NaN or infinite) to be read: the others are taken for background.
MIN_FINITE_SHARE = 0.5
# The most frames of a picture read (an animation's, a scan's pages) in
# looking for one that holds what the reader wants.
MAX_FRAMES = 10

class UnreadablePictureError(ValueError):
  """The file cannot be read, is no picture Pillow decodes, or is too large."""


def read_gray(path):
  """Reads a picture file as gray levels in [0, 1], transparency on white.

  Args:
    path: A file Pillow opens (PNG, JPEG, BMP, GIF, TIFF, WebP, ...).

  Returns:
    float32 [height, width] of its first frame, the longer side at most
    WORKING_SIDE.

  Raises:
    UnreadablePictureError: If the file cannot be opened (with the OS's
      reason), is no picture Pillow can read whole, or is too large to decode;
      the message says which, in one line.
  """
  with contextlib.closing(read_frames(path)) as frames:
    return next(frames).gray


def read_frames(path, max_frames=MAX_FRAMES):
  """Reads the frames of a picture file as gray levels, first to last.

  An animated GIF, a multi-page TIFF or an MPO holds several frames; other
  pictures one. The frames after the first are read only while all that is
  decoded stays within MAX_DECODED_PIXELS, and at most max_frames are; a
  later frame that cannot be read (damaged, too large) ends them.

  Args:
    path: A file Pillow opens.
    max_frames: The most frames read.

  Yields:
    Frame: gray (as read_gray returns it), index (0 for the first), count
    (how many frames the picture holds) and colour (colour_of() of it).

  Raises:
    UnreadablePictureError: As read_gray, for the frame being read.
  """
  try:
    # Not blocking: a FIFO opened for reading would wait for a writer.
    f = open(path, 'rb', opener=lambda name, flags: os.open(
        name, flags | systems.NO_WAIT))
  except OSError as e:
    raise UnreadablePictureError(_reason(path, e)) from None
  with f:
    kind = _not_regular(os.fstat(f.fileno()).st_mode)
    if kind:
      raise UnreadablePictureError(kind)
    with _pillow(_open_image, f) as image:
      count = _pillow(getattr, image, 'n_frames', 1)
      gray, colour, decoded = _pillow(_decode, image)
      yield Frame(gray, 0, count, colour)
      for index in range(1, min(count, max_frames)):
        try:
          _pillow(image.seek, index)
          if decoded + image.size[0] * image.size[1] > MAX_DECODED_PIXELS:
            return
          gray, colour, pixels = _pillow(_decode, image)
        except UnreadablePictureError:
          # The frames before it were read; what is said of them stands.
          return
        decoded += pixels
        yield Frame(gray, index, count, colour)


# What each kind of file that is no regular file is called.
_KINDS = ((stat.S_ISFIFO, 'a FIFO (named pipe)'),
          (stat.S_ISCHR, 'a character device'),
          (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'))

Frame = collections.namedtuple('Frame', ['gray', 'index', 'count', 'colour'])

Found = collections.namedtuple('Found', ['path', 'error', 'skipped'])


def walk(arguments, suffixes):
  """Expands paths into the pictures they name, in the order given.

  A directory stands for its regular files whose names end in one of
  suffixes (not recursing); nothing is opened.

  Args:
    arguments: Paths, as the user gave them.
    suffixes: Lower-case name endings of pictures ('.png', ...).

  Yields:
    Found: path, and error (what is wrong with it, or None if it is to be
    read) or skipped (why a directory's entry is passed over, or None).
  """
  for argument in map(os.fspath, arguments):
    mode, error = _mode(argument)
    if mode is not None and stat.S_ISDIR(mode):
      yield from _directory(argument, suffixes)
    else:
      yield Found(argument, error or _not_regular(mode), None)


def _directory(directory, suffixes):
  try:
    names = sorted(os.listdir(directory))
  except OSError as e:
    yield Found(directory, 'unreadable directory (%s)' % e.strerror, None)
    return
  pictures = 0
  for name in names:
    path = os.path.join(directory, name)
    mode, error = _mode(path)
    if mode is not None and stat.S_ISDIR(mode):
      yield Found(path, None, 'a directory, not searched')
    elif name.lower().endswith(suffixes):
      pictures += 1
      yield Found(path, error or _not_regular(mode), None)
  if not pictures:
    yield Found(directory, 'directory holds no images (%s)' % ', '.join(
        suffixes), None)


def _mode(path):
  """(st_mode, None) of what path names, or (None, why it cannot be had)."""
  try:
    return os.stat(path).st_mode, None
  except OSError as e:
    return None, _reason(path, e)


def _not_regular(mode):
  """What a file of mode is if it is no regular file, else None."""
  for test, kind in _KINDS:
    if test(mode):
      return '%s, not a regular file' % kind
  return None


def _reason(path, error):
  """What an OSError opening or finding path says, as its errno has it."""
  if error.errno == errno.ELOOP:
    return 'a symlink loop (%s)' % error.strerror
  if error.errno == errno.ENOENT:
    if os.path.islink(path):
      return 'a broken symlink (to %s)' % printable(os.readlink(path))
    return 'no such file'
  return 'unreadable (%s)' % (error.strerror or error)


def printable(name):
  """name, or its repr if it holds a newline or other control character
  (so that a line naming it stays one line)."""
  return name if name.isprintable() else repr(name)


def _pillow(function, *args):
  """Calls function(*args), Pillow's errors made UnreadablePictureError."""
  try:
    with warnings.catch_warnings():
      # Pillow only warns between its limit and twice it; refuse both.
      warnings.simplefilter('error', Image.DecompressionBombWarning)
      return function(*args)
  except UnreadablePictureError:
    raise
  except (Image.DecompressionBombError, Image.DecompressionBombWarning):
    raise UnreadablePictureError(
        'image is too large to decode (over %d pixels: a decompression '
        'bomb?)' % MAX_PIXELS) from None
  except Image.UnidentifiedImageError:
    raise UnreadablePictureError('not an image Pillow can read') from None
  except (OSError, EOFError, SyntaxError, ValueError) as e:
    # Pillow reports truncated or corrupt data as OSError or SyntaxError.
    raise UnreadablePictureError('damaged image (%s)' % e) from None


def _decode(image):
  """The current frame of image as upright gray levels, its colour (or
  None), and the pixels decoded for it."""
  full_size = image.size
  _check_affordable(image, full_size, _draft(image))
  # After the check: a PNG's EXIF may follow its pixels, so reading it
  # decodes them.
  orientation = image.getexif().get(0x0112, 1)
  image.load()
  pixels = image.size[0] * image.size[1]
  small = _small(image)
  colour = _colour_levels(small)
  return (_upright(_gray_levels(small), orientation),
          None if colour is None else _upright(colour, orientation), pixels)


def gray_of(image):
  """Returns a decoded Pillow image as float32 gray levels in [0, 1], its
  longer side at most WORKING_SIDE, transparency composited onto white.

  Raises:
    UnreadablePictureError: If most of a float image's pixels are NaN or
      infinite.
  """
  return _gray_levels(_small(image))


def colour_of(image):
  """Returns a decoded Pillow image as float32 RGB [h, w, 3] in [0, 1], as
  gray_of() sizes it: None for a picture that has no colour (gray, 1-bit,
  16-bit or float)."""
  return _colour_levels(_small(image))


def _small(image):
  """_shrink(image), non-finite pixels of a float image made background."""
  small = _shrink(image)
  if small.mode == 'F' and not np.isfinite(np.asarray(small)).all():
    # Shrinking spread each non-finite pixel over its cell: shrink again,
    # those pixels made background first.
    small = _shrink(_finite_only(image))
  return small


def _finite_only(image):
  """A float image with its NaN and infinite pixels set to the others' median
  (most of a picture is background), so that they decide no range."""
  values = np.array(image, np.float32)
  finite = np.isfinite(values)
  share = float(finite.mean())
  if share < MIN_FINITE_SHARE:
    raise UnreadablePictureError(
        'most of its pixels (%.0f%%) are NaN or infinite, not levels of '
        'gray' % (100 * (1 - share)))
  # The median of a sample of a million: of all, it would copy them twice.
  step = max(1, int(np.sqrt(values.size / 1e6)))
  sample = values[::step, ::step]
  sample = sample[np.isfinite(sample)]
  values[~finite] = np.median(sample if sample.size else values[finite])
  return Image.fromarray(values, 'F')


def _open_image(f):
  """Opens f with Pillow; a JPEG without the decompression-bomb check, which
  _check_affordable() makes on the size it will be decoded at."""
  if f.read(len(JPEG_SIGNATURE)) == JPEG_SIGNATURE:
    f.seek(0)
    return JpegImagePlugin.jpeg_factory(f)
  f.seek(0)
  return Image.open(f)


def _draft(image):
  """Asks a JPEG decoder for the smallest scale still over WORKING_SIDE.

  Returns:
    The scale's divisor: 1, 2, 4 or 8 (1 for any other format).
  """
  width, height = image.size
  factor = WORKING_SIDE / float(max(width, height))
  # Phones write MPO (a JPEG and its depth map or preview) as often as JPEG.
  if image.format not in ('JPEG', 'MPO') or factor >= 1:
    return 1
  drafted = image.draft(image.mode if image.mode in ('L', 'RGB') else None,
                        (int(width * factor) + 1, int(height * factor) + 1))
  # Its box is the full picture in drafted pixels: width / box's width.
  return int(round(width / drafted[1][2])) if drafted else 1


def _check_affordable(image, full_size, scale):
  """Refuses a picture that would take more than it is worth to decode.

  Args:
    image: An opened Pillow image, drafted if it can be.
    full_size: Its (width, height) before it was drafted.
    scale: The divisor _draft() returned.

  Raises:
    UnreadablePictureError: If image, at the scale it will be decoded at,
      has over MAX_DECODED_PIXELS or no pixels, or is a progressive JPEG
      whose coefficients take over MAX_COEFFICIENT_BYTES.
  """
  width, height = image.size
  megapixels = full_size[0] * full_size[1] / 1e6
  if width * height > MAX_DECODED_PIXELS:
    if scale > 1:
      raise UnreadablePictureError(
          'image is %d x %d pixels (%.1f megapixels): even at 1/%d scale, '
          'over the %g megapixels classify.py decodes (shrink it first)' % (
              full_size + (megapixels, scale, MAX_DECODED_PIXELS / 1e6)))
    raise UnreadablePictureError(
        'image is %d x %d pixels (%.1f megapixels), over the %g megapixels '
        'classify.py decodes at full scale (only JPEG is read at reduced '
        'scale; shrink it first)' % (width, height, megapixels,
                                     MAX_DECODED_PIXELS / 1e6))
  if width * height == 0:
    raise UnreadablePictureError('image has no pixels')
  coefficients = _coefficient_bytes(image, full_size)
  if coefficients > MAX_COEFFICIENT_BYTES:
    raise UnreadablePictureError(
        'image is a progressive JPEG of %.1f megapixels: its coefficients, '
        'which libjpeg holds whole at any scale, take %.0f MB, over the %g MB '
        'classify.py allows (save it as a baseline JPEG, or shrink it '
        'first)' % (megapixels, coefficients / 1e6,
                    MAX_COEFFICIENT_BYTES / 1e6))


def _coefficient_bytes(image, full_size):
  """What libjpeg holds of a progressive JPEG's coefficients (0 for others):
  2 bytes for each sample of each component, as its sampling has them."""
  if not image.info.get('progressive') or not getattr(image, 'layer', None):
    return 0
  # Each layer is (component id, horizontal sampling, vertical sampling, ...).
  widest = max(layer[1] for layer in image.layer)
  tallest = max(layer[2] for layer in image.layer)
  samples = sum(layer[1] * layer[2] for layer in image.layer) / float(
      widest * tallest)
  return int(2 * samples * full_size[0] * full_size[1])


def _shrink(image):
  """Brings a decoded image to at most WORKING_SIDE, in a mode that resizes.

  Palette and 1-bit images become gray or RGBA first (a palette's indices
  cannot be averaged); transparency is kept until the picture is small.
  """
  if image.mode in WIDE_MODES:
    # 32-bit integers shrink as 16-bit ones cannot; scaled once small.
    image = image if image.mode in ('I', 'F') else image.convert('I')
  elif _has_transparency(image):
    image = image.convert('RGBA')
  elif image.mode not in ('L', 'RGB'):
    image = image.convert('RGB' if image.mode in ('P', 'CMYK', 'YCbCr')
                          else 'L')
  factor = max(image.size) / float(WORKING_SIDE)
  if factor > 1:
    # reduce() averages whole blocks at once, then resize() the rest.
    if factor >= 2:
      image = image.reduce(int(factor))
    size = tuple(max(1, int(round(side * WORKING_SIDE / max(image.size))))
                 for side in image.size)
    image = image.resize(size, Image.Resampling.BOX)
  return image


def _has_transparency(image):
  return image.mode in ('RGBA', 'LA', 'PA', 'La', 'RGBa') or (
      'transparency' in image.info)


def _scaled_to_unit(image):
  """Returns a 32-bit or float image as float32 gray levels in [0, 1].

  Such values have no fixed range (a 12-bit camera fills 0..4095 of 16 bits;
  a float picture may be 0..1, 0..255 or anything), so their own lowest and
  highest are taken as black and white.
  """
  values = np.asarray(image, dtype=np.float32)
  low, high = float(values.min()), float(values.max())
  return (values - low) / max(high - low, 1e-12)


def _gray_levels(image):
  """Returns a small image (L, RGB, RGBA, I or F) as float32 gray in [0, 1]."""
  if image.mode in ('I', 'F'):
    return _scaled_to_unit(image)
  if image.mode == 'RGBA':
    white = Image.new('RGBA', image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, image)
  return np.asarray(image.convert('L'), dtype=np.float32) / 255.0


def _colour_levels(image):
  """Returns a small RGB or RGBA image as float32 RGB in [0, 1] (RGBA on
  white), None for one of another mode."""
  if image.mode == 'RGBA':
    white = Image.new('RGBA', image.size, (255, 255, 255, 255))
    image = Image.alpha_composite(white, image).convert('RGB')
  if image.mode != 'RGB':
    return None
  return np.asarray(image, dtype=np.float32) / 255.0


def _upright(levels, orientation):
  """Turns levels ([h, w], or [h, w, channels]) as EXIF orientation (1 to 8)
  says the camera was held."""
  if orientation not in _TRANSPOSES:
    return levels
  if levels.ndim == 3:
    return np.stack([_upright(levels[..., channel], orientation)
                     for channel in range(levels.shape[2])], axis=2)
  image = Image.fromarray(levels, mode='F').transpose(
      _TRANSPOSES[orientation])
  return np.asarray(image, dtype=np.float32)


# What each EXIF orientation asks for, as ImageOps.exif_transpose does it.
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
