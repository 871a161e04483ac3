"""Synthetic shapes: squares, circles and triangles on plain backgrounds,
generated on the fly (matterport's "train_shapes" example). The embedded
default of the project: no download, trains from scratch on a CPU.

    python samples/shapes/shapes.py train            # train from scratch
    python samples/shapes/shapes.py evaluate         # COCO metrics and mAP@0.5 on held-out images
    python samples/shapes/shapes.py train --weights=last --epochs 12   # continue
    python samples/shapes/shapes.py predict --images=<folder> --out=<folder>

The commands and flags are the shared ones of `mrcnn` (mrcnn/cli.py);
`--dataset` is not needed (the images are generated), `--steps N` is short
for `--set STEPS_PER_EPOCH=N`.
"""
import math
import os
import sys

import numpy as np
import skimage.draw

ROOT_DIR = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
if ROOT_DIR not in sys.path:
    sys.path.insert(0, ROOT_DIR)

from mrcnn import cli, utils  # noqa: E402
from mrcnn.config import Config  # noqa: E402

DEFAULT_LOGS_DIR = os.path.join(ROOT_DIR, "logs")
# The held-out images `evaluate` measures: fixed, never trained on.
HELD_OUT_COUNT = 100
HELD_OUT_SEED = 12345
# random_shape() keeps shapes 20 pixels from the border with sides of 20 to
# H/4 pixels: smaller images cannot hold one, so they are generated at this
# size and resized by the model.
MIN_GENERATED_SIZE = 128


class ShapesConfig(Config):
    """Configuration for training on the toy shapes dataset.
    Derives from the base Config class and overrides values specific
    to the toy shapes dataset.
    """
    # Give the configuration a recognizable name
    NAME = "shapes"

    # Train on 1 GPU (or the CPU) and 2 images per batch.
    GPU_COUNT = 1
    IMAGES_PER_GPU = 2

    # ResNet-50 keeps a from-scratch CPU run within minutes.
    BACKBONE = "resnet50"

    # Number of classes (including background)
    NUM_CLASSES = 1 + 3  # background + 3 shapes

    # Use small images for faster training. Set the limits of the small side
    # the large side, and that determines the image shape.
    IMAGE_MIN_DIM = 128
    IMAGE_MAX_DIM = 128

    # Use smaller anchors because our image and objects are small
    RPN_ANCHOR_SCALES = (8, 16, 32, 64, 128)  # anchor side in pixels

    # Reduce training ROIs per image because the images are small and have
    # few objects. Half of them may be positive (matterport: 33%): the
    # classifier sees more shapes per step (mAP@0.5 after 400 steps 0.583,
    # against 0.513 at 33%).
    TRAIN_ROIS_PER_IMAGE = 32
    ROI_POSITIVE_RATIO = 0.5
    POST_NMS_ROIS_TRAINING = 500
    POST_NMS_ROIS_INFERENCE = 250
    DETECTION_MAX_INSTANCES = 20

    CLASS_NAMES = ["square", "circle", "triangle"]

    # Use a small epoch since the data is simple
    STEPS_PER_EPOCH = 100

    # use small validation steps since the epoch is small
    VALIDATION_STEPS = 5

    # Smaller FPN and classifier than matterport's (256 and 1024) for 128 px
    # images of three classes: the smaller classifier learns faster (0.557
    # after 400 steps, against 0.513).
    TOP_DOWN_PYRAMID_SIZE = 128
    FPN_CLASSIF_FC_LAYERS_SIZE = 256
    # The mask head's convolutions at 256 channels took half of a step on
    # 128 px images; 64 suffice for these outlines (a step: 0.49 s against
    # 0.92 s).
    MASK_HEAD_CONV_CHANNELS = 64
    # Twice the pyramid's width, as matterport's 512 is twice its 256.
    RPN_CONV_CHANNELS = 256

    # From scratch, Adam learns the second stage much faster than
    # matterport's SGD 0.001 (600 steps: 0.646 against 0.50). A larger Adam
    # step (1e-3) did worse (0.37 against 0.45 after 300 steps).
    OPTIMIZER = "Adam"
    LEARNING_RATE = 0.0003
    LEARNING_RATE_WARMUP_STEPS = 100

    # COCO mask mAP on 20 validation images after every epoch (val_mAP in
    # results.csv and TensorBoard): a small share of an epoch's time.
    EVAL_EVERY_EPOCHS = 1
    EVAL_LIMIT = 20
    # From scratch, all layers, then two epochs at a tenth of the learning
    # rate, which settle the classifier (measured mAP@0.5 on the held-out
    # images: 0.932 after 10 epochs, 0.948 after 12); on a 2-core CPU
    # 12.5-14.7 minutes in float32, 7.7-7.9 under DTYPE_POLICY "auto" where
    # it computes in bfloat16 (samples/shapes/README.md).
    TRAINING_SCHEDULE = [{"layers": "all", "epochs": 10},
                         {"layers": "all", "epochs": 2, "learning_rate_factor": 0.1}]


class InferenceConfig(ShapesConfig):
    IMAGES_PER_GPU = 1
    DETECTION_MIN_CONFIDENCE = 0.7


class ShapesDataset(utils.Dataset):
    """Generates the shapes synthetic dataset. The dataset consists of simple
    shapes (triangles, squares, circles) placed randomly on a blank surface.
    The images are generated on the fly. No file access required.
    """

    def load_shapes(self, count, height, width, seed=None):
        """Generate the requested number of synthetic images.
        count: number of images to generate.
        height, width: the size of the generated images.
        seed: makes the images reproducible (e.g. a fixed held-out set).
        """
        rng = np.random.default_rng(seed)
        # Add classes
        self.add_class("shapes", 1, "square")
        self.add_class("shapes", 2, "circle")
        self.add_class("shapes", 3, "triangle")

        # Add images
        # Generate random specifications of images (i.e. color and
        # list of shapes sizes and locations). This is more compact than
        # actual images. Images are generated on the fly in load_image().
        for i in range(count):
            bg_color, shapes = self.random_image(height, width, rng)
            self.add_image("shapes", image_id=i, path=None,
                           width=width, height=height,
                           bg_color=bg_color, shapes=shapes)

    def load_image(self, image_id):
        """Generate an image from the specs of the given image ID.

        Returns: uint8 [height, width, 3].
        """
        info = self.image_info[image_id]
        bg_color = np.array(info["bg_color"]).reshape([1, 1, 3])
        image = np.ones([info["height"], info["width"], 3], dtype=np.uint8)
        image = image * bg_color.astype(np.uint8)
        for shape, color, dims in info["shapes"]:
            rr, cc = self.draw_shape(shape, dims, image.shape[:2])
            image[rr, cc] = color
        return image

    def image_reference(self, image_id):
        """Return the shapes data of the image."""
        info = self.image_info[image_id]
        if info["source"] == "shapes":
            return f"shapes image {image_id}: {[s for s, _, _ in info['shapes']]}"
        return super().image_reference(image_id)

    def load_mask(self, image_id):
        """Generate instance masks for shapes of the given image ID.

        Returns: bool [height, width, instances], int32 [instances].
        """
        info = self.image_info[image_id]
        shapes = info["shapes"]
        count = len(shapes)
        mask = np.zeros([info["height"], info["width"], count], dtype=bool)
        for i, (shape, _, dims) in enumerate(shapes):
            rr, cc = self.draw_shape(shape, dims, mask.shape[:2])
            mask[rr, cc, i] = True
        # Handle occlusions: later shapes are drawn over earlier ones.
        occlusion = np.logical_not(mask[:, :, -1]) if count else None
        for i in range(count - 2, -1, -1):
            mask[:, :, i] = mask[:, :, i] * occlusion
            occlusion = np.logical_and(occlusion, np.logical_not(mask[:, :, i]))
        # Map class names to class IDs.
        class_ids = np.array([self.class_names.index(s[0]) for s in shapes], dtype=np.int32)
        return mask, class_ids

    @staticmethod
    def draw_shape(shape, dims, image_shape):
        """Pixel coordinates (rows, cols) of a filled shape."""
        # Get the center x, y and the size s
        x, y, s = dims
        if shape == "square":
            return skimage.draw.rectangle((y - s, x - s), (y + s, x + s), shape=image_shape)
        if shape == "circle":
            return skimage.draw.disk((y, x), s, shape=image_shape)
        if shape == "triangle":
            half = s / math.sin(math.radians(60))
            rows = np.array([y - s, y + s, y + s])
            cols = np.array([x, x - half, x + half])
            return skimage.draw.polygon(rows, cols, shape=image_shape)
        raise ValueError(f"Unknown shape {shape!r}")

    @staticmethod
    def random_shape(height, width, rng):
        """Generates specifications of a random shape that lies within
        the given height and width boundaries.
        Returns a tuple of three values:
        * The shape name (square, circle, ...)
        * Shape color: a tuple of 3 values, RGB.
        * Shape dimensions: A tuple of values that define the shape size
                            and location. Differs per shape type.
        """
        # Shape
        shape = ["square", "circle", "triangle"][int(rng.integers(0, 3))]
        # Color
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        # Center x, y
        buffer = 20
        y = int(rng.integers(buffer, height - buffer))
        x = int(rng.integers(buffer, width - buffer))
        # Size
        s = int(rng.integers(buffer, height // 4 + 1))
        return shape, color, (x, y, s)

    def random_image(self, height, width, rng):
        """Creates random specifications of an image with multiple shapes.
        Returns the background color of the image and a list of shape
        specifications that can be used to draw the image.
        """
        # Pick random background color
        bg_color = np.array([int(c) for c in rng.integers(0, 256, 3)])
        # Generate a few random shapes and record their
        # bounding boxes
        shapes = []
        boxes = []
        N = int(rng.integers(1, 5))
        for _ in range(N):
            shape, color, dims = self.random_shape(height, width, rng)
            shapes.append((shape, color, dims))
            x, y, s = dims
            boxes.append([y - s, x - s, y + s, x + s])
        # Apply non-max suppression wit 0.3 threshold to avoid
        # shapes covering each other
        keep_ixs = utils.non_max_suppression(np.array(boxes), np.arange(N), 0.3)
        shapes = [s for i, s in enumerate(shapes) if i in keep_ixs]
        return bg_color.tolist(), shapes


def generated_size(config):
    """(height, width) of generated images: the model's input size, at least
    MIN_GENERATED_SIZE."""
    return (max(int(config.IMAGE_SHAPE[0]), MIN_GENERATED_SIZE),
            max(int(config.IMAGE_SHAPE[1]), MIN_GENERATED_SIZE))


def make_datasets(config, train_count=500, val_count=50, seed=0):
    """Train and validation datasets of generated images (disjoint seeds)."""
    height, width = generated_size(config)
    train = ShapesDataset()
    train.load_shapes(train_count, height, width, seed=seed)
    train.prepare()
    val = ShapesDataset()
    val.load_shapes(val_count, height, width, seed=seed + 1)
    val.prepare()
    return train, val


def load_shapes(path, config, **options):
    """The CLI's dataset loader: generated images, already split into
    {"train": 500, "val": 50, "test": HELD_OUT_COUNT held-out images}.
    path and reader options do not apply (there are no files)."""
    train, val = make_datasets(config)
    test = ShapesDataset()
    test.load_shapes(HELD_OUT_COUNT, *generated_size(config), seed=HELD_OUT_SEED)
    test.prepare()
    return {"train": train, "val": val, "test": test}


def evaluate_map(model, dataset, config, limit=None, iou_threshold=0.5):
    """mean AP@iou_threshold of `model` (inference mode) over `dataset`."""
    from mrcnn import model as modellib

    aps = []
    image_ids = list(dataset.image_ids)[:limit] if limit else list(dataset.image_ids)
    for image_id in image_ids:
        image, _, gt_class_id, gt_bbox, gt_mask = modellib.load_image_gt(
            dataset, config, image_id)
        r = model.detect([image], verbose=0)[0]
        ap, _, _, _ = utils.compute_ap(gt_bbox, gt_class_id, gt_mask, r["rois"],
                                       r["class_ids"], r["scores"], r["masks"],
                                       iou_threshold=iou_threshold)
        aps.append(ap)
    return float(np.mean(aps)) if aps else float("nan")


def main(argv=None):
    """The shared CLI with the shapes Config and generated data. `--steps N`
    (the sample's older flag) is kept as `--set STEPS_PER_EPOCH=N`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    translated = []
    while argv:
        item = argv.pop(0)
        if item == "--steps" and argv:
            translated += ["--set", f"STEPS_PER_EPOCH={argv.pop(0)}"]
        elif item.startswith("--steps="):
            translated += ["--set", f"STEPS_PER_EPOCH={item.split('=', 1)[1]}"]
        else:
            translated.append(item)
    return cli.main(translated, config_class=ShapesConfig, inference_config_class=InferenceConfig,
                    dataset_loader=load_shapes, prog="shapes.py", logs_dir=DEFAULT_LOGS_DIR,
                    dataset_required=False)


if __name__ == "__main__":
    sys.exit(main())
