"""Class imbalance on the shapes: triangles in 5% of the training images.

Trains the same short run twice, with and without repeat-factor sampling
(Config.REPEAT_FACTOR_THRESHOLD), from the same seed, and prints the per-class
mask AP of each on the sample's balanced held-out images
(docs/class-imbalance.md):

    python samples/shapes/imbalance.py --threshold 0.8 --epochs 3 --steps 100 --image-size 64 --out imbalance.json
"""
import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

from shapes import (  # noqa: E402
    HELD_OUT_COUNT,
    HELD_OUT_SEED,
    MIN_GENERATED_SIZE,
    ShapesConfig,
    ShapesDataset,
)

RARE = "triangle"


class ImbalancedShapes(ShapesDataset):
    """`count` generated images of which `rare_share` contain a triangle
    (candidates drawn in order from one seeded generator: the images with
    a triangle are kept until the share is reached, the others always)."""

    def load_imbalanced(self, count, size, rare_share=0.05, seed=0):
        rng = np.random.default_rng(seed)
        for class_id, name in enumerate(["square", "circle", "triangle"], 1):
            self.add_class("shapes", class_id, name)
        rare_wanted = int(round(count * rare_share))
        rare = common = 0
        while rare + common < count:
            bg_color, shapes = self.random_image(size, size, rng)
            has_rare = any(s[0] == RARE for s in shapes)
            if has_rare and rare < rare_wanted:
                rare += 1
            elif not has_rare and common < count - rare_wanted:
                common += 1
            else:
                continue
            self.add_image("shapes", image_id=rare + common - 1, path=None, width=size,
                           height=size, bg_color=bg_color, shapes=shapes)
        self.prepare()
        return self


def run(threshold, args, train, test):
    import keras

    from mrcnn import model as modellib

    class TrainConfig(ShapesConfig):
        NAME = "imbalance"
        STEPS_PER_EPOCH = args.steps
        REPEAT_FACTOR_THRESHOLD = threshold
        IMAGE_MIN_DIM = IMAGE_MAX_DIM = args.image_size

    class TestConfig(TrainConfig):
        IMAGES_PER_GPU = 1
        DETECTION_MIN_CONFIDENCE = 0.0

    keras.utils.set_random_seed(args.seed)
    logs = os.path.join(args.logs, "rfs" if threshold else "plain")
    model = modellib.MaskRCNN("training", TrainConfig(), logs)
    model.data_seed = args.seed
    start = time.time()
    model.train(train, None, learning_rate=TrainConfig.LEARNING_RATE, epochs=args.epochs,
                layers="all", verbose=0)
    seconds = time.time() - start
    checkpoint = model.find_last()
    inference = modellib.MaskRCNN("inference", TestConfig(), logs)
    inference.load_weights(checkpoint, by_name=True)
    metrics = inference.evaluate(test, iou_type="segm", progress=False)["segm"]
    return {"threshold": threshold, "train_seconds": round(seconds, 1), "AP": metrics["AP"],
            "AP50": metrics["AP50"],
            "per_class": {row["name"]: {"AP": row["AP"], "AP50": row["AP50"], "num_gt": row["num_gt"]}
                          for row in metrics["per_class"]}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=0.8, help="REPEAT_FACTOR_THRESHOLD of the second run")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    parser.add_argument("--images", type=int, default=500, help="training images")
    parser.add_argument("--rare-share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--image-size", type=int, default=128,
                        help="the network's input side (images are drawn at 128 px and resized)")
    parser.add_argument("--logs", default=os.path.join(os.getcwd(), "logs", "imbalance"))
    parser.add_argument("--out", help="write the figures as JSON")
    parser.add_argument("--only", choices=["plain", "rfs"], help="run one of the two")
    args = parser.parse_args(argv)

    from mrcnn.data import sampling

    size = MIN_GENERATED_SIZE
    train = ImbalancedShapes().load_imbalanced(args.images, size, args.rare_share, args.seed)
    test = ShapesDataset()
    test.load_shapes(HELD_OUT_COUNT, size, size, seed=HELD_OUT_SEED)
    test.prepare()
    table = sampling.image_class_table(train)
    rare_id = train.class_names.index(RARE)
    has_rare = np.array([rare_id in ids for ids in table])
    factors = sampling.image_repeat_factors(table, args.threshold, train.num_classes)
    figures = {"train_images": len(table), "rare_images": int(has_rare.sum()),
               "class_repeat_factors": dict(zip(train.class_names[1:], sampling.class_repeat_factors(
                   table, args.threshold, train.num_classes)[1:].round(3).tolist())),
               "rare_share_plain": float(has_rare.mean()),
               "rare_share_expected_rfs": sampling.expected_share(factors, has_rare), "runs": []}
    print(json.dumps({k: v for k, v in figures.items() if k != "runs"}))
    for threshold in (None, args.threshold):
        if args.only and args.only != ("rfs" if threshold else "plain"):
            continue
        result = run(threshold, args, train, test)
        print(json.dumps(result), flush=True)
        figures["runs"].append(result)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(figures, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
