"""imgaug 0.4.0 on NumPy 2, whatever the user imports first.

imgaug 0.4.0 (2020, its last release; no fork on the package registry runs
on NumPy 2 either) reads ``np.sctypes`` at import and ``np.complex`` and
``np.bool`` when some augmenters run. NumPy 2 removed the first two and
NumPy 1.24-1.26 lack all three. `define_numpy_aliases()` sets the missing
ones on numpy; an attribute numpy has is never replaced.

`install()` puts `ImgaugNumpy2Finder` first on ``sys.meta_path``. The first
import of imgaug reaches it before any other finder: it removes itself,
defines the aliases and returns None, so the usual finders load imgaug.
The mrcnn distribution calls `install()` at interpreter start from its
``mrcnn-imgaug-numpy2.pth``, so ``from imgaug import augmenters as iaa`` at
the top of a script works before (or without) any mrcnn import.

The .pth file runs in every interpreter of the environment, so this module
imports nothing but `sys` until imgaug is imported, and nothing of mrcnn:
the .pth loads it by path, without running ``mrcnn/__init__.py`` (which
sets TensorFlow's log level).
"""
import sys

PTH_FILE = "mrcnn-imgaug-numpy2.pth"


def missing_numpy_aliases(np):
    """{name: value} of what imgaug 0.4.0 reads from numpy and `np` lacks."""
    aliases = {
        "sctypes": lambda: {
            "int": [np.int8, np.int16, np.int32, np.int64],
            "uint": [np.uint8, np.uint16, np.uint32, np.uint64],
            "float": [np.float16, np.float32, np.float64, np.longdouble],
            "complex": [np.complex64, np.complex128, np.clongdouble],
            "others": [bool, object, bytes, str, np.void]},
        "bool": lambda: bool,
        "complex": lambda: complex,
    }
    return {name: make() for name, make in aliases.items() if not hasattr(np, name)}


def define_numpy_aliases():
    """Import numpy and set on it the names imgaug 0.4.0 needs that it lacks.

    Returns the names defined (none on a NumPy that still has them).
    """
    import numpy as np

    missing = missing_numpy_aliases(np)
    for name, value in missing.items():
        setattr(np, name, value)
    return sorted(missing)


class ImgaugNumpy2Finder:
    """A `sys.meta_path` finder that prepares numpy for imgaug's first import
    and then leaves the import to the usual finders."""

    # Found by this marker, not by class: the .pth loads this file under
    # another module name than mrcnn.imgaug_numpy2.
    MRCNN_IMGAUG_NUMPY2 = True

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "imgaug":
            return None
        uninstall()
        if _findable("imgaug"):
            try:
                define_numpy_aliases()
            except ImportError:
                pass  # without numpy, imgaug's own import error says what is missing
        return None


def _findable(name):
    # A probe for an imgaug that is not installed (optional-dependency
    # checks do that) leaves numpy as it is.
    from importlib.util import find_spec

    try:
        return find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def installed():
    """True when the finder is on sys.meta_path (from the .pth or `install()`)."""
    return any(getattr(finder, "MRCNN_IMGAUG_NUMPY2", False) for finder in sys.meta_path)


def install():
    """Make the next first import of imgaug define the numpy aliases first.

    Idempotent. When imgaug is already imported the aliases are defined now:
    augmenters read some of them when they run.
    """
    if "imgaug" in sys.modules:
        define_numpy_aliases()
    elif not installed():
        sys.meta_path.insert(0, ImgaugNumpy2Finder())


def uninstall():
    """Remove the finder from sys.meta_path (every copy of it)."""
    # A new list, not an edit in place: the import that called the finder
    # is iterating over the old one, and would skip the next finder.
    sys.meta_path = [f for f in sys.meta_path if not getattr(f, "MRCNN_IMGAUG_NUMPY2", False)]
