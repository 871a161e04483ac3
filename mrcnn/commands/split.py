"""`mrcnn split`: a deterministic train/val split of an annotation file,
stratified by class (files beside it, or image lists for folder formats)."""
import logging

from mrcnn.commands.datasets import dataset_options
from mrcnn.data.errors import DatasetError
from mrcnn.data.split import split_annotations


def run_split(args):
    """`mrcnn split`: writes the parts and prints what it wrote; returns 0."""
    logging.getLogger("mrcnn.data.builder").setLevel(logging.ERROR)
    if not 0 <= args.val < 1:
        raise DatasetError(f"--val must be in [0, 1), got {args.val}")
    result = split_annotations(args.annotations, val=args.val, seed=args.seed, out_dir=args.out_dir,
                               **dataset_options(args))
    print(result.to_text())
    return 0
