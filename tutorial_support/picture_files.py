"""Reads any picture Pillow opens as gray levels, in bounded time and memory.

A phone photo is 12 to 48 megapixels, but the digit in it ends as 20 x 20:
read_gray() never holds more of a picture than it needs. A JPEG is decoded
at a reduced scale (Pillow's draft mode: 1/2, 1/4 or 1/8 straight from the
compressed data); a picture that cannot be, and whose header promises more
than MAX_DECODED_PIXELS, is refused before any of it is decoded. What is
decoded is shrunk at once to at most WORKING_SIDE pixels on its longer side,
then turned upright as its EXIF says, transparency composited onto white,
and made gray levels in [0, 1]: 8-bit modes by 255; 16-bit, 32-bit and float
modes by the range their values span, lowest to highest (not clipped at 255).

This module knows no digits and no TensorFlow: it reads pictures.
"""

import warnings

import numpy as np
from PIL import Image

# Pillow refuses to decode images over this many pixels (its default, about
# 89 megapixels): a small file that claims hundreds of megapixels is a
# decompression bomb, refused before any of it is decoded.
MAX_PIXELS = Image.MAX_IMAGE_PIXELS
# The most pixels decoded at full scale: 25 megapixels of RGBA are 100 MB,
# and their gray copy another 25 MB, well within 300 MB and a second.
MAX_DECODED_PIXELS = 25_000_000
# The longer side of the picture the digit is found in: a digit a tenth of
# it high is still 100 pixels, its ballpoint strokes still a few pixels wide.
WORKING_SIDE = 1024
# Modes whose values are not 0..255; they are scaled by the range they use.
WIDE_MODES = ('I', 'F', 'I;16', 'I;16L', 'I;16B', 'I;16N')

class UnreadablePictureError(ValueError):
  """The file cannot be read, is no picture Pillow decodes, or is too large."""


def read_gray(path):
  """Reads a picture file as gray levels in [0, 1], transparency on white.

  Args:
    path: A file Pillow opens (PNG, JPEG, BMP, GIF, TIFF, WebP, ...).

  Returns:
    float32 [height, width], the longer side at most WORKING_SIDE.

  Raises:
    UnreadablePictureError: If the file cannot be opened (with the OS's
      reason), is no picture Pillow can read whole, or is too large to decode;
      the message says which, in one line.
  """
  try:
    f = open(path, 'rb')
  except OSError as e:
    raise UnreadablePictureError('unreadable (%s)' % (e.strerror or e)
                                 ) from None
  with f:
    return _decode(f)


def _decode(f):
  try:
    with warnings.catch_warnings():
      # Pillow only warns between its limit and twice it; refuse both.
      warnings.simplefilter('error', Image.DecompressionBombWarning)
      with Image.open(f) as image:
        _draft(image)
        _check_affordable(image)
        # After the check: a PNG's EXIF may follow its pixels, so reading it
        # decodes them.
        orientation = image.getexif().get(0x0112, 1)
        image.load()
        gray = gray_of(image)
  except UnreadablePictureError:
    raise
  except (Image.DecompressionBombError, Image.DecompressionBombWarning):
    raise UnreadablePictureError(
        'image is too large to decode (over %d pixels: a decompression '
        'bomb?)' % MAX_PIXELS) from None
  except Image.UnidentifiedImageError:
    raise UnreadablePictureError('not an image Pillow can read') from None
  except (OSError, SyntaxError, ValueError) as e:
    # Pillow reports truncated or corrupt data as OSError or SyntaxError.
    raise UnreadablePictureError('damaged image (%s)' % e) from None
  return _upright(gray, orientation)


def gray_of(image):
  """Returns a decoded Pillow image as float32 gray levels in [0, 1], its
  longer side at most WORKING_SIDE, transparency composited onto white."""
  return _gray_levels(_shrink(image))


def _draft(image):
  """Asks a JPEG decoder for the smallest scale still over WORKING_SIDE."""
  if image.format != 'JPEG':
    return
  width, height = image.size
  factor = WORKING_SIDE / float(max(width, height))
  if factor < 1:
    image.draft(image.mode if image.mode in ('L', 'RGB') else None,
                (int(width * factor) + 1, int(height * factor) + 1))


def _check_affordable(image):
  width, height = image.size
  if width * height > MAX_DECODED_PIXELS:
    raise UnreadablePictureError(
        'image is %d x %d pixels (%.1f megapixels), over the %d megapixels '
        'classify.py decodes at full scale (only JPEG is read at reduced '
        'scale; shrink it first)' % (width, height, width * height / 1e6,
                                     MAX_DECODED_PIXELS // 1_000_000))
  if width * height == 0:
    raise UnreadablePictureError('image has no pixels')


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


def _upright(gray, orientation):
  """Turns gray as EXIF orientation (1 to 8) says the camera was held."""
  if orientation not in _TRANSPOSES:
    return gray
  image = Image.fromarray(gray, mode='F').transpose(_TRANSPOSES[orientation])
  return np.asarray(image, dtype=np.float32)


# What each EXIF orientation asks for, as ImageOps.exif_transpose does it.
_TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
