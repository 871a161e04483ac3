"""The train / val (/ test) parts of a dataset for `train` and `evaluate`.

Tried in this order (the first that applies wins):
  1. `--val-dataset PATH`: --dataset is the training part, PATH the validation part;
  2. split folders: `<dataset>/train/` and `<dataset>/val/` (or `validation/`),
     optionally `<dataset>/test/` (matterport's balloon layout);
  3. split files written by `mrcnn split`: `<name>_train.<ext>` and
     `<name>_val.<ext>` beside the annotation file (or in the dataset folder);
  4. image lists written by `mrcnn split` for folder formats: `train.txt` and
     `val.txt` in the dataset folder;
  5. otherwise a stratified split of the whole dataset: `--val-fraction` of
     the images (default 0.2) for validation, with a fixed `--seed` (default 0),
     so train and evaluate see the same parts.

Several `--dataset` flags train on their union: each dataset is read with its
own `--label-map` and `--source` (given once for all, or once per --dataset in
the same order) and split as above, then the train parts, the val parts (and
the test parts) are merged into one dataset each (mrcnn.data.merge), the
classes matched by name.
"""
import copy
import glob
import logging
import os

from mrcnn.config import ConfigError
from mrcnn.data.errors import DatasetError
from mrcnn.data.split import stratified_split

logger = logging.getLogger(__name__)

SPLIT_FOLDERS = {"train": ("train",), "val": ("val", "validation"), "test": ("test",)}
SPLIT_FILE_EXTENSIONS = (".json", ".csv")


def dataset_options(args):
    """The `read_dataset` keyword arguments of parsed dataset flags."""
    options = {}
    for flag in ("image_dir", "format", "label_map", "source", "class_attribute", "class_name",
                 "class_pattern"):
        value = getattr(args, flag, None)
        if value is not None:
            options[flag] = value
    if getattr(args, "classes", None):
        options["classes"] = [c.strip() for c in args.classes.split(",") if c.strip()]
    for item in getattr(args, "option", None) or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DatasetError(f"--option {item!r}: write it as KEY=VALUE")
        options[key.strip().replace("-", "_")] = value
    return options


def subset(dataset, indices):
    """A prepared copy of `dataset` holding the images at `indices` (internal
    ids), with the same classes and class ids."""
    part = copy.copy(dataset)
    part.image_info = [dataset.image_info[i] for i in indices]
    part.prepare()
    return part


def image_labels(dataset):
    """One list of class labels per image (for stratifying): from the
    readers' instance records when present, else from load_mask."""
    labels = []
    for image_id in dataset.image_ids:
        info = dataset.image_info[image_id]
        if isinstance(info.get("instances"), list):
            labels.append([str(r.get("class_id")) for r in info["instances"]])
        else:
            labels.append([str(c) for c in dataset.load_mask(image_id)[1]])
    return labels


def _split_folders(path):
    found = {}
    for part, names in SPLIT_FOLDERS.items():
        for name in names:
            candidate = os.path.join(path, name)
            if os.path.isdir(candidate):
                found[part] = candidate
                break
    return found if "train" in found and "val" in found else None


def _split_files(path):
    """{"train": file, "val": file} written by `mrcnn split`, or None."""
    if os.path.isfile(path):
        stem, ext = os.path.splitext(path)
        pairs = [(f"{stem}_train{ext}", f"{stem}_val{ext}")]
    elif os.path.isdir(path):
        pairs = []
        for ext in SPLIT_FILE_EXTENSIONS:
            for train in sorted(glob.glob(os.path.join(glob.escape(path), f"*_train{ext}"))):
                pairs.append((train, train[:-len(f"_train{ext}")] + f"_val{ext}"))
    else:
        return None
    pairs = [(t, v) for t, v in pairs if os.path.isfile(t) and os.path.isfile(v)]
    if len(pairs) > 1:
        raise ConfigError(f"{path}: several split file pairs {[os.path.basename(t) for t, _ in pairs]}; "
                          "point --dataset at one annotation file")
    return {"train": pairs[0][0], "val": pairs[0][1]} if pairs else None


def _image_lists(path):
    if not os.path.isdir(path):
        return None
    lists = {part: os.path.join(path, f"{part}.txt") for part in ("train", "val")}
    return lists if all(os.path.isfile(p) for p in lists.values()) else None


# Reader options that may be given once per --dataset.
PAIRED_OPTIONS = {"label_map": "--label-map", "source": "--source"}


def per_dataset_options(paths, options):
    """The reader options of each of several datasets: a PAIRED_OPTIONS value
    given once applies to all, given once per dataset pairs by position.

    paths: the --dataset values. options: dataset_options(), whose paired
    values may be lists. Returns: list of option dicts, one per path.
    """
    result = [dict(options) for _ in paths]
    for key, flag in PAIRED_OPTIONS.items():
        values = options.get(key)
        if not isinstance(values, (list, tuple)):
            continue
        if len(values) not in (1, len(paths)):
            raise ConfigError(f"{flag} is given {len(values)} times for {len(paths)} --dataset: "
                              f"give it once (for every dataset) or once per --dataset, in the "
                              "same order")
        for index, chosen in enumerate(result):
            chosen[key] = values[0] if len(values) == 1 else values[index]
    return result


def source_names(paths, options_list):
    """A short, unique name per dataset for tables: its --source, else the
    file or folder name without extension."""
    names = []
    for path, options in zip(paths, options_list):
        name = options.get("source") or os.path.splitext(os.path.basename(os.path.normpath(path)))[0]
        base, n = name, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def load_parts(loader, path, config, options=None, val_path=None, val_fraction=0.2, seed=0):
    """Read a dataset and split it (see the module docstring).

    loader: (path, config, **options) -> Dataset or {"train", "val", ["test"]}.
    path: the --dataset value (None for generated data), or a list of them
        (several datasets are merged, see load_merged_parts).
    Returns: (parts, how): parts {"train": Dataset, "val": Dataset or None,
    optionally "test": Dataset}, how a sentence saying where the split came from.
    """
    if isinstance(path, (list, tuple)):
        if len(path) > 1:
            return load_merged_parts(loader, path, config, options, val_path=val_path,
                                     val_fraction=val_fraction, seed=seed)
        path = path[0] if path else None
    # One dataset: a --label-map or --source given once per --dataset is given once.
    options = per_dataset_options([path], dict(options or {}))[0]
    if val_path:
        return ({"train": loader(path, config, **options), "val": loader(val_path, config, **options)},
                f"validation images from {val_path}")
    if path is not None:
        folders = _split_folders(path) if os.path.isdir(path) else None
        if folders:
            return ({part: loader(p, config, **options) for part, p in folders.items()},
                    f"split folders {', '.join(os.path.basename(p) + '/' for p in folders.values())}")
        files = _split_files(path)
        if files:
            return ({part: loader(p, config, **options) for part, p in files.items()},
                    f"split files {os.path.basename(files['train'])}, {os.path.basename(files['val'])}")
        lists = _image_lists(path)
        if lists and "image_list" not in options:
            return ({part: loader(path, config, image_list=p, **options) for part, p in lists.items()},
                    "image lists train.txt, val.txt")
    dataset = loader(path, config, **options)
    if isinstance(dataset, dict):
        if "train" not in dataset:
            raise ConfigError("the dataset loader returned parts without 'train'")
        return dict({"val": None}, **dataset), "the loader's own parts"
    if not val_fraction:
        return {"train": dataset, "val": None}, "all images for training (--val-fraction 0)"
    train_ids, val_ids = stratified_split(image_labels(dataset), val=val_fraction, seed=seed)
    if not train_ids or not val_ids:
        raise ConfigError(f"{path}: {len(dataset.image_ids)} image(s) cannot be split with "
                          f"--val-fraction {val_fraction}; add images or pass --val-fraction 0")
    return ({"train": subset(dataset, train_ids), "val": subset(dataset, val_ids)},
            f"stratified split, --val-fraction {val_fraction:g} --seed {seed}")


def load_merged_parts(loader, paths, config, options=None, val_path=None, val_fraction=0.2,
                      seed=0):
    """Several datasets read with their own options, each split by
    `load_parts`, their train / val / test parts merged. The class list is
    the union of the datasets' classes, in the order they first appear.

    Returns: (parts, how) as load_parts; each merged part has
    `source_names`, the dataset name of each of its `parts`.
    """
    from mrcnn.data.merge import merge_datasets

    if val_path:
        raise ConfigError(f"--val-dataset {val_path} with {len(paths)} --dataset: each dataset "
                          "is split on its own (split folders or files, or --val-fraction); "
                          "leave --val-dataset out")
    options_list = per_dataset_options(paths, dict(options or {}))
    names = source_names(paths, options_list)
    loaded, hows = [], []
    for name, path, opts in zip(names, paths, options_list):
        parts, how = load_parts(loader, path, config, opts, val_fraction=val_fraction, seed=seed)
        loaded.append(parts)
        hows.append(f"{name}: {how}")
    class_names = list(dict.fromkeys(
        n for parts in loaded for part in ("train", "val", "test")
        if parts.get(part) is not None for n in parts[part].class_names[1:]))
    merged = {}
    for part in ("train", "val", "test"):
        members = [(name, parts[part]) for name, parts in zip(names, loaded)
                   if parts.get(part) is not None]
        if not members:
            if part != "test":
                merged[part] = None
            continue
        merged[part] = merge_datasets([d for _, d in members], class_names=class_names)
        merged[part].source_names = [name for name, _ in members]
    return merged, "; ".join(hows)


def source_class_counts(parts):
    """Instances per class and per dataset of merged parts: (sources,
    {class name: {source: count}}) over every part, classes in the merged
    order; None when the parts are not merged or keep no instance records."""
    first = next((d for d in parts.values() if d is not None), None)
    if first is None or not hasattr(first, "source_names"):
        return None
    sources = list(dict.fromkeys(n for d in parts.values() if d is not None for n in d.source_names))
    table = {name: dict.fromkeys(sources, 0) for name in first.class_names[1:]}
    for dataset in parts.values():
        if dataset is None:
            continue
        for source, member in zip(dataset.source_names, dataset.parts):
            counts = instance_counts(member)
            if counts is None:
                return None
            for name, n in counts.items():
                if name in table:
                    table[name][source] += n
    return sources, table


def class_table_lines(parts):
    """The merged class list as a small table: class, total instances, one
    column per dataset (train, val and test parts together). [] for a
    single dataset."""
    found = source_class_counts(parts)
    if found is None:
        return []
    sources, table = found
    header = ["class", "total"] + sources
    rows = [[name, str(sum(per.values()))] + [str(per[s]) for s in sources]
            for name, per in table.items()]
    rows.append(["all", str(sum(sum(p.values()) for p in table.values()))] +
                [str(sum(p[s] for p in table.values())) for s in sources])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join([cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:])])

    return [f"merged classes ({len(table)}), instances per dataset:", line(header)] + [
        line(r) for r in rows]


def instance_counts(dataset):
    """{class name: instances} from the readers' records without drawing a
    mask, or None when the dataset keeps no records (generated data)."""
    counts = {}
    for info in dataset.image_info:
        instances = info.get("instances")
        if not isinstance(instances, list):
            return None
        for record in instances:
            class_id = dataset.map_source_class_id(f"{info['source']}.{record['class_id']}")
            name = dataset.class_names[class_id]
            counts[name] = counts.get(name, 0) + 1
    return counts


def describe_parts(parts):
    """Lines like "train: 64 images, 72 instances (gun 37, sword 35)"."""
    lines = []
    for name, dataset in parts.items():
        if dataset is None:
            continue
        line = f"{name}: {len(dataset.image_ids)} images"
        counts = instance_counts(dataset)
        if counts is not None:
            per_class = ", ".join(f"{c} {n}" for c, n in sorted(counts.items()))
            line += f", {sum(counts.values())} instances" + (f" ({per_class})" if per_class else "")
        lines.append(line)
    return lines + class_table_lines(parts)


def combined_problems(parts):
    """One ProblemLog of every part's reader log (each log counted once)."""
    from mrcnn.data.problems import ProblemLog

    seen, combined = set(), ProblemLog()
    for dataset in parts.values():
        # A merged part's log copies its members' logs, which the other
        # merged parts share: the members' are counted instead.
        for member in getattr(dataset, "parts", None) or [dataset]:
            problems = getattr(member, "problems", None)
            if problems is not None and id(problems) not in seen:
                seen.add(id(problems))
                combined.extend(problems)
    return combined


def check_training_data(parts, classes_chosen=False, ignore_errors=False):
    """Refuse to train on data that `mrcnn validate` calls wrong.

    - Instances of classes the config does not list would be trained as
      background: refused unless the classes were chosen on purpose
      (`classes_chosen`: --classes; a label map's drops are not counted here).
    - Error-level problems (validate's wording): refused unless
      `ignore_errors` (--ignore-data-errors).
    Raises DatasetError with one line saying what to do.
    """
    problems = combined_problems(parts)
    dropped = problems.by_key("not_selected")
    if dropped and not classes_chosen:
        listed = ", ".join(f"{name} {n}" for name, n in sorted(dropped.items()))
        raise DatasetError(
            f"the dataset has instances of classes the config does not list ({listed}); "
            "training would teach them as background. Add them to CLASS_NAMES (and "
            "NUM_CLASSES), or leave them out on purpose with --classes or a --label-map "
            "that drops them")
    errors = problems.summary_lines(("error",))
    if errors and not ignore_errors:
        raise DatasetError(
            f"the dataset has errors ({'; '.join(errors)}): `mrcnn validate` lists examples; "
            "fix them, or pass --ignore-data-errors to train on what can be read")


def problem_lines(parts):
    """The readers' summaries of what they skipped, once per problem log."""
    return combined_problems(parts).summary_lines(("error", "warning"))
