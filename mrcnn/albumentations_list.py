"""Albumentations transforms written as data: the ``AUGMENTATION`` list of a
config YAML file.

    AUGMENTATION:
      - HorizontalFlip: {p: 0.5}
      - RandomBrightnessContrast: {brightness_limit: 0.2, p: 0.5}
      - Affine: {rotate: [-15, 15], p: 0.3}
      - OneOf: {transforms: [{GaussianBlur: {}}, {GaussNoise: {}}], p: 0.2}

Each entry is a one-key mapping ``{TransformName: {argument: value, ...}}``
(or just the name, for the transform's defaults). The names are the classes of
albumentations' namespace (``albumentations.HorizontalFlip``, ...); a
composition (OneOf, SomeOf, Sequential) takes its ``transforms`` as such a
list. YAML lists stand for albumentations' tuples (``rotate: [-15, 15]``).

`build_transforms` turns a list into transform objects and raises
`AugmentationListError` (a ValueError) with one line naming the entry, the
transform and what it accepts. It sits in the bottom layer so that
mrcnn.config checks a YAML file's list when it is read; the Compose itself is
made by mrcnn.data.augmentation.
"""
import difflib
import inspect
import os
import re
import warnings

# albumentations checks for a newer version online at every import.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

_ENTRY_FORM = ("write each entry as {TransformName: {argument: value}} or a transform name, "
               "e.g. - HorizontalFlip: {p: 0.5}")


class AugmentationListError(ValueError):
    """An AUGMENTATION list entry names no transform or gives it bad arguments."""


def transform_classes():
    """{name: class} of albumentations' transforms and compositions (its
    top-level namespace)."""
    import albumentations as A

    # Base classes and the 3D (volume) transforms are no image augmentation.
    bases = (A.BasicTransform, A.BaseCompose, A.DualTransform, A.ImageOnlyTransform)
    found = {}
    for name in dir(A):
        obj = getattr(A, name)
        if (inspect.isclass(obj) and not name.startswith("_") and obj not in bases
                and issubclass(obj, (A.BasicTransform, A.BaseCompose))
                and not issubclass(obj, A.Transform3D)):
            found[name] = obj
    return found


def _is_composition(cls):
    import albumentations as A

    return issubclass(cls, A.BaseCompose)


def accepted_arguments(cls):
    """The keyword arguments `cls.__init__` names, in order."""
    params = inspect.signature(cls.__init__).parameters
    named = [n for n, p in params.items() if n != "self" and p.kind in (
        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return named


def _entry(item, where):
    """(name, arguments dict) of one list entry."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, dict) and len(item) == 1:
        name, args = next(iter(item.items()))
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise AugmentationListError(
                f"{where} {name}: the arguments are {args!r}, not a mapping; "
                f"write {name}: {{argument: value}}, e.g. {name}: {{p: 0.5}}")
        return str(name), dict(args)
    raise AugmentationListError(f"{where}: {item!r} is not a transform entry; {_ENTRY_FORM}")


def _one_line(error):
    """A pydantic (or other) error message on one line: "loc: message; ..."
    without pydantic's type tags and links."""
    parts, loc = [], None
    for line in str(error).splitlines():
        text = re.sub(r"\s*\[type=.*\]$", "", line.strip())
        if not text or text.startswith("For further information") or re.match(
                r"^\d+ validation errors? for", text):
            continue
        if line[:1].isspace():
            parts.append(f"{loc}: {text}" if loc else text)
            loc = None
        else:
            if loc:
                parts.append(loc)
            loc = text
    if loc:
        parts.append(loc)
    return "; ".join(parts) or type(error).__name__


def _as_tuples(value):
    """YAML lists as tuples (albumentations' ranges are tuples), recursively."""
    if isinstance(value, list):
        return tuple(_as_tuples(v) for v in value)
    return value


def build_transforms(spec, where="AUGMENTATION"):
    """The albumentations transforms of an AUGMENTATION list.

    spec: list of entries (see the module docstring).
    where: the setting's name for messages ("AUGMENTATION", or
        "configs/x.yaml: AUGMENTATION").
    Returns: list of albumentations transform objects, in order.
    Raises AugmentationListError (one line) for an unknown name, an unknown
    argument or a value the transform refuses.
    """
    if not isinstance(spec, (list, tuple)):
        raise AugmentationListError(f"{where}: expected a list of transforms, got "
                                    f"{type(spec).__name__}; {_ENTRY_FORM}")
    classes = transform_classes()
    transforms = []
    for index, item in enumerate(spec):
        at = f"{where}[{index}]"
        name, args = _entry(item, at)
        cls = classes.get(name)
        if cls is None:
            close = difflib.get_close_matches(name, classes, n=3, cutoff=0.6)
            hint = (f"did you mean {', '.join(close)}?" if close else
                    f"the names are albumentations' transforms: {', '.join(sorted(classes))}")
            raise AugmentationListError(f"{at}: {name!r} is not an albumentations transform; {hint}")
        accepted = accepted_arguments(cls)
        unknown = [a for a in args if a not in accepted]
        if unknown:
            close = difflib.get_close_matches(unknown[0], accepted, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise AugmentationListError(
                f"{at} {name}: unknown argument(s) {', '.join(map(repr, unknown))}{hint}; "
                f"{name} takes {', '.join(accepted)}")
        if _is_composition(cls):
            if "transforms" not in args:
                raise AugmentationListError(f"{at} {name}: give its transforms as a list, e.g. "
                                            f"{name}: {{transforms: [HorizontalFlip, VerticalFlip]}}")
            args["transforms"] = build_transforms(args["transforms"], f"{at} {name}.transforms")
        kwargs = {k: (v if k == "transforms" else _as_tuples(v)) for k, v in args.items()}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                transforms.append(cls(**kwargs))
        except (ValueError, TypeError) as e:
            shown = ", ".join(f"{k}={v!r}" for k, v in args.items() if k != "transforms")
            raise AugmentationListError(f"{at} {name}({shown}): {_one_line(e)}") from e
    return transforms
