"""`mrcnn validate`: every image and annotation of a dataset checked before
training, with counts, examples and class statistics."""
import json
import logging

from mrcnn.commands.datasets import dataset_options
from mrcnn.data.validate import validate_dataset


def run_validate(args):
    """`mrcnn validate`: prints the report; returns its exit code (1 when
    something would break training)."""
    # The report lists what the reader would log; say it once.
    logging.getLogger("mrcnn.data.builder").setLevel(logging.ERROR)
    options = dataset_options(args)
    report = validate_dataset(args.dataset, check_images=not args.no_images,
                              check_masks=not args.no_masks, max_examples=args.examples,
                              progress=True, **options)
    print(report.to_text())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report.to_dict(), f, indent=2)
    if args.plot and report.statistics is not None:
        print(f"Histograms: {report.plot(args.plot)}")
    return report.exit_code
